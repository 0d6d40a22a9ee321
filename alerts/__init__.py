"""Alert rules and notifiers.

Step: rates -> **alert engine** -> notifiers. Rules read derived samples
(netmon.model.Sample) and never import collectors/.
"""

# Importing the rule and notifier modules registers them (netmon.plugins).
from alerts import rules  # noqa: F401
