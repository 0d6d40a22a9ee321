"""What is polled: one module per kind of thing read from devices.

Step: scheduler -> **collectors** -> samples. Collectors depend on netmon's
model and SNMP session only, never on alerts/.
"""

# Importing a collector module registers it (netmon.plugins); list each one here.
from collectors import (
    interfaces,  # noqa: F401
    ipv6,  # noqa: F401
)
