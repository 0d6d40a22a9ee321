"""Storage sinks: the step after rates. They receive only what netmon computed
(rates, utilisation, states, events), never raw counters."""

from netmon.sinks import options as _options  # noqa: F401  (registers "storage")
