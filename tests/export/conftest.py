from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.playback.recorded import RecordingSite, SiteCamera


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingSite]:
    """Two cameras recorded for 16 s (still recording while the tests run)."""
    recording = RecordingSite(
        tmp_path_factory.mktemp("site"), [SiteCamera("north"), SiteCamera("south")]
    )
    recording.start()
    try:
        recording.wait_recorded(16.0)
        yield recording
    finally:
        recording.stop()
