"""The daemon's garbage-collection policy (netmon.gcpolicy)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from netmon import gcpolicy


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    """A garbage reference cycle (freed only by the cyclic collector); a weakref to it."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
def test_configure_spaces_out_full_collections_only() -> None:
    gc.set_threshold(700, 10, 10)
    gcpolicy.configure()
    assert gc.get_threshold() == (700, 10, gcpolicy.FULL_EVERY)
    gcpolicy.configure()  # idempotent
    assert gc.get_threshold() == (700, 10, gcpolicy.FULL_EVERY)


@pytest.mark.usefixtures("restored")
def test_settle_collects_garbage_then_freezes_the_survivors() -> None:
    gc.disable()  # no automatic collection may free the cycle behind the test's back
    try:
        dead = _cycle()
        kept = {"config": [1, 2, 3]}
        assert dead() is not None
        gcpolicy.settle()
        assert dead() is None  # collected, not frozen
        assert gc.get_freeze_count() > 0
        assert gc.is_tracked(kept)
        assert all(o is not kept for o in gc.get_objects())  # frozen: in no generation
    finally:
        gc.enable()


@pytest.mark.usefixtures("restored")
def test_a_cycle_frozen_by_one_settle_is_freed_by_the_next() -> None:
    """A reload: the old config, frozen at start-up, becomes garbage."""
    gc.disable()
    try:
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        old = weakref.ref(a)
        gcpolicy.settle()  # start-up: the live cycle is frozen
        del a, b
        gc.collect()
        assert old() is not None  # frozen: full collections no longer see it
        gcpolicy.settle()  # the reload
        assert old() is None
    finally:
        gc.enable()
