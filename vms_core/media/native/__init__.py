"""A native RTSP/TCP client for ingest: RTSP, interleaved RTP/RTCP and depacketizing in
Python, no libavformat demuxer. See ``vms_core/media/README.md`` for why."""
