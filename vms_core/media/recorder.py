"""CameraRecorder: one camera's Ingest -> StreamHub -> SegmentWriter, in this process."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from vms_core.media.catalog import SegmentCatalog
from vms_core.media.hub import StreamHub, Subscription
from vms_core.media.ingest import Ingest, IngestOptions, StateCallback
from vms_core.media.segment_writer import SegmentPolicy, SegmentWriter

log = logging.getLogger(__name__)


class CameraRecorder:
    """Records one camera stream until ``stop()``. The hub is public so that live viewers
    and frame samplers can subscribe next to the recorder."""

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
        queue_packets: int = 512,
    ) -> None:
        self.camera_id = camera_id
        self.hub = StreamHub(camera_id)
        self.writer = SegmentWriter(camera_id, recordings, catalog, policy)
        self.ingest = Ingest(camera_id, url, self.hub, options=ingest_options, on_state=on_state)
        self._subscription: Subscription = self.hub.subscribe("recorder", queue_packets)
        self._thread = threading.Thread(
            target=self._record, name=f"record-{camera_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        self.ingest.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.ingest.stop(timeout)
        self._subscription.close()
        self._thread.join(timeout)

    @property
    def dropped_packets(self) -> int:
        return self._subscription.dropped

    def _record(self) -> None:
        get = self._subscription.get
        write = self.writer.write
        try:
            while True:
                packet = get(1.0)
                if packet is None:
                    if self._subscription.closed:
                        break
                    continue
                write(packet)
        except Exception:
            log.exception("recorder %s failed", self.camera_id)
        finally:
            self.writer.close()
