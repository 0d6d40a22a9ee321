"""Capacity planning: daily roll-ups, trend forecasts, upgrade advice, plane headroom, coverage.

Step: beside the storage sinks. rates -> (sinks, alerts) **and the roll-up
recorder** (``recorder.py``, fed by the daemon after rates); ``netmon report``
reads what it keeps (``store.py``) and never the raw series.
"""

from netmon.capacity import commands as _commands  # noqa: F401  (registers the reports)
from netmon.capacity import options as _options  # noqa: F401  (registers "capacity")
