"""A live-camera stand-in: serves an MPEG-TS file over HTTP at its real-time rate.

Clients joining late get the stream from "now" (like a live camera), and the source
can disappear (listening socket closed, connections cut) and come back on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

TS_PACKET = 188
CHUNK = TS_PACKET * 7


class LiveTsSource:
    def __init__(self, ts_file: Path, seconds: float) -> None:
        self.data = ts_file.read_bytes()
        self.rate = len(self.data) / seconds  # bytes per second
        self.epoch = time.monotonic()
        self.port = 0
        self._listener: socket.socket | None = None
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.ts"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """The camera goes away: no listener, every connection cut."""
        with self._lock:
            listener, self._listener = self._listener, None
            clients, self._clients = self._clients, []
        if listener is not None:
            listener.close()
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
                self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _position(self) -> int:
        offset = int((time.monotonic() - self.epoch) * self.rate)
        return min(offset - offset % TS_PACKET, len(self.data))

    def _serve(self, client: socket.socket) -> None:
        try:
            client.recv(4096)  # the request; any path will do
            client.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nConnection: close\r\n\r\n"
            )
            position = self._position()
            while position < len(self.data):
                target = self._position()
                if target <= position:
                    time.sleep(0.01)
                    continue
                client.sendall(self.data[position:target])
                position = target
        except OSError:
            pass
        finally:
            client.close()
