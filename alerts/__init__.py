"""Alert rules and notifiers.

Step: rates -> **alert engine** -> notifiers. Rules read derived samples
(netmon.model.Sample) and never import collectors/.

Importing this package registers every built-in rule, the ``notifications``
section and each receiver kind (alerts.dispatch), and, last, the ``alerts:``
settings section, whose ``rules:`` holds one key per registered rule: a rule
module must be imported above that line.
"""

from alerts import dispatch as _dispatch  # noqa: F401  ("notifications", the receivers)
from alerts.rules import devices as _devices  # noqa: F401  (registers the device rules)
from alerts.rules import environment as _environment  # noqa: F401  (data-centre sensors)
from alerts.rules import ipv6 as _ipv6  # noqa: F401  (registers ipv6_readiness_regressed)
from alerts.rules import links as _links  # noqa: F401  (registers the link rules)
from alerts.rules import planes as _planes  # noqa: F401  (registers the plane-pair rules)
from alerts.rules import servers as _servers  # noqa: F401  (data-centre servers)
from alerts.rules import ups as _ups  # noqa: F401  (data-centre UPSes)
from alerts.settings import alerts_section as _alerts_section
from netmon.plugins import register_section as _register_section

_register_section("alerts", _alerts_section())
