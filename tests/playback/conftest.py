from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.playback.recorded import RecordingSite, SiteCamera


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingSite]:
    """Two steady cameras and one that drops its stream for 3 s every 10 s, recorded for
    20 s (and still recording while the tests run)."""
    recording = RecordingSite(
        tmp_path_factory.mktemp("site"),
        [SiteCamera("cam-a"), SiteCamera("cam-b"), SiteCamera("cam-drop", 10.0, 3.0)],
    )
    recording.start()
    try:
        recording.wait_recorded(20.0)
        yield recording
    finally:
        recording.stop()
