"""Alert rules and notifiers.

Step: rates -> **alert engine** -> notifiers. Rules read derived samples
(netmon.model.Sample) and never import collectors/.
"""
