"""netmon: SNMP link-utilisation monitor.

The flow runs one way, and the folders show it:

    YAML (netmon.config) -> scheduler (netmon.daemon) -> collectors/ -> samples
    (netmon.model) -> rates (netmon.rates) -> storage sinks (netmon.sinks) and
    alert engine (alerts/) -> notifiers (alerts/notifiers).
"""

__version__ = "0.1.0"
