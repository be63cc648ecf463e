from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def site(recorded_site: Any) -> Any:
    """The run's recorded site (tests/conftest.py): cam-a, cam-b, and cam-drop with gaps."""
    return recorded_site
