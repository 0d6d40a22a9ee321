"""The built-in alert rules, one module per family: links, devices, plane pairs, storage.

Step: rates -> **alert engine (rules)** -> notifiers. Each module registers
its rules with ``netmon.plugins.register_rule`` when imported (alerts/__init__).
"""
