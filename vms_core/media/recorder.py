"""CameraRecorder: one camera's Ingest -> StreamHub -> SegmentWriter, in this process.

One thread per camera: the writer runs inline on the ingest thread as a hub sink (see
``PacketSink`` for why). Live viewers and samplers subscribe to ``hub`` with their own
bounded queues and cannot slow the recording.
"""

from __future__ import annotations

from pathlib import Path

from vms_core.media.catalog import SegmentCatalog
from vms_core.media.hub import StreamHub
from vms_core.media.ingest import IngestOptions, StateCallback
from vms_core.media.segment_writer import HealthCallback, SegmentPolicy, SegmentWriter
from vms_core.media.sources import make_ingest


class CameraRecorder:
    """Records one camera stream until ``stop()``."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        recordings: Path,
        catalog: SegmentCatalog,
        *,
        policy: SegmentPolicy | None = None,
        ingest_options: IngestOptions | None = None,
        on_state: StateCallback | None = None,
        on_write_health: HealthCallback | None = None,
    ) -> None:
        self.camera_id = camera_id
        # No GOP kept: the writer is a sink and sees every packet; a late subscriber (a
        # test, a tool) starts at the next keyframe. Saves a GOP of memory per camera.
        self.hub = StreamHub(camera_id, keep_gop=False)
        self.writer = SegmentWriter(camera_id, recordings, catalog, policy, on_write_health)
        self.hub.add_sink(self.writer)
        self.ingest = make_ingest(
            camera_id, url, self.hub, options=ingest_options, on_state=on_state
        )

    def start(self) -> None:
        self.ingest.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the ingest; its thread closes the open segment on the way out."""
        self.ingest.stop(timeout)
        if not self.ingest.running:
            self.writer.close()  # no-op when the ingest thread already closed it
