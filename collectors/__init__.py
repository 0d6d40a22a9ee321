"""What is polled: one module per kind of thing read from devices.

Step: scheduler -> **collectors** -> samples. Collectors depend on netmon's
model and SNMP session only, never on alerts/.
"""

# Importing a collector module registers it (netmon.plugins); list each one here.
from collectors import (  # noqa: F401
    akcp,
    apc,
    entity_sensor,
    geist,
    host_resources,
    interfaces,
    ipv6,
    ups_mib,
)
