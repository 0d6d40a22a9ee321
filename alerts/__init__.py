"""Alert rules and notifiers.

Step: rates -> **alert engine** -> notifiers. Rules read derived samples
(netmon.model.Sample) and never import collectors/. Importing this package
registers the ``notifications`` section and each receiver kind.
"""

from alerts import dispatch as _dispatch  # noqa: F401  (registers "notifications" and the receivers)
