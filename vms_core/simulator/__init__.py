"""Simulated ONVIF cameras, for tests, demos and development without hardware.

Each camera serves ONVIF (device, media, PTZ, events) on its own HTTP port at
``/onvif/device_service``, a JPEG snapshot behind Digest/Basic auth, and RTSP main/sub
streams (H.264/H.265 + AAC/PCMU) on one shared RTSP server; one WS-Discovery target
announces them all.

    from vms_core.simulator.config import SimulatorConfig, default_cameras
    from vms_core.simulator.simulator import Simulator

    sim = Simulator(SimulatorConfig(cameras=default_cameras(3)))
    await sim.start()
    for camera in sim.cameras:      # SimulatedCameraInfo: URLs, credentials, ...
        print(camera.onvif_url, camera.rtsp_main_url)
    await sim.stop()

Command line: ``vms simulate --cameras N`` (``python -m vms_core.simulator``).
Nothing is imported here, so reading the configuration does not load PyAV.
"""
