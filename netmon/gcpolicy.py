"""The daemon's garbage-collection policy (the process under every step of the flow).

Step: none of its own; the daemon applies it once started and after each reload,
so that polling, rates and the alert engine do not pay for rescanning the heap.

Why. A poll cycle of 100,000 links makes about 100,000 ``Sample`` objects that live
for a whole cycle (the alert engine's buffer, the sinks' batches), so CPython
promotes them to its oldest generation. By default it then runs a *full*
collection, a scan of every tracked object, each time the objects promoted since
the last one exceed 25% of the heap's long-lived ones: at 100,000 links that is
one or two full collections per poll cycle, 75-130 ms each, landing in whatever
runs at that moment, often the alert evaluation (``bench/alert_eval.py``). They
find next to nothing: samples, rates and alert states hold no reference cycles and
are freed by reference counting.

What. ``configure`` raises the oldest generation's threshold from 10 to
``FULL_EVERY`` younger collections: the young generations are collected as
before (cyclic garbage that dies young still goes at once), but a full
collection runs at most every ~700,000 net allocations instead of at each 25%
growth. ``settle`` runs one full collection, then ``gc.freeze()``s what
survives (modules, the config, the plugins' models, the restored alert state):
later full collections no longer rescan it. Freezing alone does not help: the
25% rule would then be measured against the smaller heap and full collections
would come more often for the same total work; the threshold is what spaces them.
A frozen object that later becomes part of a garbage cycle is not freed (the old
config after a reload), so ``settle`` unfreezes and collects before freezing again.
"""

from __future__ import annotations

import gc
import logging

__all__ = ["FULL_EVERY", "configure", "settle"]

log = logging.getLogger(__name__)

FULL_EVERY = 100
"""Collections of the middle generation between two full ones (CPython's default: 10)."""


def configure() -> None:
    """Space out full collections (see the module docstring); idempotent."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_EVERY)


def settle() -> None:
    """After start-up or a big load (a reload): collect once, then freeze the survivors."""
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    log.debug("gc: %d unreachable objects collected, %d frozen", found, gc.get_freeze_count())
