"""Helpers for the hostile-server tests (``test_hostile.py``).

``mixed_server(evil)`` is a keep-alive HTTP/1.1 server on 127.0.0.1 that
answers every request normally, except requests whose target starts with
``/evil``: those are handed to ``evil(sock, request, index)``, which writes
whatever misbehaviour the scenario needs and returns True to go on serving
the connection (to catch a client that reuses it) or False to close it.

A normal answer is ``200`` with the body ``good:<target>`` and the header
``X-Conn: <connection index>``, so a test can tell that a response belongs to
its own request and on which connection it came.

Every loop here is bounded (by a count and/or a deadline), and every handler
gives up when the client goes away or the server stops.
"""

from __future__ import annotations

import gc
import os
import socket
import struct
import sys
import threading
import time
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from _server import Request, ScriptedServer, read_request, response_bytes

Evil = Callable[[socket.socket, Request, int], bool]

LINUX = sys.platform.startswith("linux")


def good_body(target: str) -> bytes:
    return f"good:{target}".encode()


class MixedServer(ScriptedServer):
    """A :class:`ScriptedServer` that serves well except on ``/evil...``
    targets (see the module docstring). ``evil_conns`` holds the indices of
    the connections that misbehaved; ``served`` counts normal answers."""

    def __init__(self, evil: Evil, **kw: typing.Any) -> None:
        self.evil = evil
        self.evil_conns: set[int] = set()
        self.served = 0
        self.stop = threading.Event()
        super().__init__(self._handle, **kw)

    def _handle(self, sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            for _ in range(1000):  # requests per connection: bounded
                req = read_request(rfile)
                if req is None:
                    return
                if req.target.startswith("/evil"):
                    with self._lock:
                        self.evil_conns.add(index)
                    if not self.evil(sock, req, index):
                        return
                    continue
                body = good_body(req.target)
                hs = [("X-Conn", str(index))]
                if req.method == "HEAD":
                    data = response_bytes(200, b"", [*hs, ("Content-Length", str(len(body)))])
                else:
                    data = response_bytes(200, body, hs)
                sock.sendall(data)
                with self._lock:
                    self.served += 1
        finally:
            rfile.close()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        super().__exit__(*exc)


def send_then_close(data: bytes) -> Evil:
    """Answer with ``data`` and close the connection."""

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(data)
        return False

    return evil


def send_then_serve(data: bytes) -> Evil:
    """Answer with ``data`` and keep serving the connection (a client that
    reuses it after a broken response would read garbage)."""

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(data)
        return True

    return evil


def send_then_hold(data: bytes, hold: float = 3.0) -> Evil:
    """Answer with ``data``, then keep the connection open, silent, for up
    to ``hold`` seconds (or until the client closes it)."""

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(data)
        wait_for_close(sock, hold)
        return False

    return evil


def wait_for_close(sock: socket.socket, limit: float) -> None:
    """Read and drop what the client sends until it closes or ``limit`` passes."""
    deadline = time.monotonic() + limit
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(min(left, 0.05))
        try:
            if not sock.recv(65536):
                return
        except TimeoutError:
            continue


def stream_forever(
    first: bytes,
    piece: bytes,
    *,
    interval: float = 0.0,
    limit: float = 5.0,
    max_bytes: int = 64 << 20,
) -> Evil:
    """Send ``first``, then ``piece`` again and again (every ``interval``
    seconds) until the client closes, ``limit`` seconds pass or ``max_bytes``
    were sent. Bounded, so a client that never gives up makes the test fail
    on its assertions instead of hanging."""

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(first)
        sent = len(first)
        deadline = time.monotonic() + limit
        sock.settimeout(1.0)
        while time.monotonic() < deadline and sent < max_bytes:
            sock.sendall(piece)
            sent += len(piece)
            if interval:
                time.sleep(interval)
        return False

    return evil


def reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def send_then_reset(data: bytes, delay: float = 0.05) -> Evil:
    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        if data:
            sock.sendall(data)
            time.sleep(delay)  # let the bytes leave before the RST
        reset(sock)
        return False

    return evil


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextmanager
def no_fd_leak() -> Iterator[None]:
    """Fail if the block leaves more file descriptors open than it found
    (Linux only; a no-op elsewhere). Waits briefly for server threads."""
    if not LINUX:
        yield
        return
    gc.collect()
    before = open_fds()
    yield
    deadline = time.monotonic() + 2.0
    while True:
        gc.collect()
        after = open_fds()
        if after <= before or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert after <= before, f"file descriptors leaked: {before} before, {after} after"


def check_stats(pool: typing.Any) -> dict[str, typing.Any]:
    """The pool's books add up and nothing is checked out."""
    s: dict[str, typing.Any] = pool.stats()
    assert s["open"] == s["idle"] + s["in_use"], s
    assert s["open"] == s["created"] - s["discarded"] - s["refused"], s
    assert s["in_use"] == 0, s
    assert s["idle"] <= s["maxsize"], s
    return s
