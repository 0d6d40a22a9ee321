"""Alert rules, one module per rule (or family of rules); each registers itself.

Step: rates -> **alert engine (rules)** -> notifiers. Importing a module here
registers its rules (netmon.plugins.register_rule); alerts/__init__.py imports
this package.
"""

from alerts.rules import ipv6  # noqa: F401
