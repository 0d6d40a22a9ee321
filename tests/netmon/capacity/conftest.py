"""Fixtures for the capacity tests (helpers in caphelpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from caphelpers import History


@pytest.fixture
def history(tmp_path: Path) -> History:
    """A roll-up store under tmp_path/state whose "today" is UTC day 20,500."""
    return History(tmp_path / "state", today=20_500)
