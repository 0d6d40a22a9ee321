"""Storage sinks: the step after rates. They receive only what netmon computed
(rates, utilisation, states, events), never raw counters."""
