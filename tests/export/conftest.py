from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def site(recorded_site: Any) -> Any:
    """The run's recorded site (tests/conftest.py): the north and south cameras."""
    return recorded_site
