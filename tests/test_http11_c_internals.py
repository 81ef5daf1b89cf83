"""Compiled-twin-only checks of ``Wire``'s descriptor path.

What the shared codec tests cannot see from outside: the path taken, the GIL
released while waiting, EINTR handled (signal handlers run, the wait goes on
with the time left, an exception from a handler propagates), bounded reads of
an oversized head, partial writes, and a socket closed behind the Wire's back.
The peer is the other end of a ``socket.socketpair()`` driven by a thread.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from urllib3.exceptions import ProtocolError

from conftest import c_extensions_enabled  # type: ignore[attr-defined,unused-ignore]

pytestmark = pytest.mark.skipif(
    not c_extensions_enabled(), reason="compiled core disabled (FASTPOOL_NO_EXTENSIONS)"
)

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
POSIX = hasattr(socket, "socketpair") and os.name == "posix"


@pytest.fixture
def h() -> Any:
    import fastpool._http11_c as mod  # type: ignore[import-not-found]

    return mod


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    b.settimeout(10)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def peer(b: socket.socket, script: Callable[[socket.socket], object]) -> threading.Thread:
    def run() -> None:
        try:
            script(b)
        except OSError:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _stop_alarm(old: Any) -> None:
    """Disarm the interval timer and restore the old SIGALRM handler, first
    swallowing a signal that may still be pending (under valgrind delivery
    lags; a SIGALRM arriving after SIG_DFL is back would kill the run)."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        if signal.SIGALRM in signal.sigpending():
            signal.sigwait({signal.SIGALRM})
        signal.signal(signal.SIGALRM, old)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


def _read_head(b: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = b.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class Wrapper:
    def __init__(self, sock: socket.socket) -> None:
        self._s = sock

    def settimeout(self, t: float | None) -> None:
        self._s.settimeout(t)

    def sendall(self, d: Any) -> None:
        self._s.sendall(d)

    def recv_into(self, buf: Any, n: int = 0) -> int:
        return self._s.recv_into(buf, n)


def test_path_selection(h: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    assert h.Wire(a).fd_path is POSIX
    assert h.Wire(Wrapper(a)).fd_path is False


@pytest.mark.skipif(not POSIX, reason="descriptor path is POSIX-only")
def test_gil_released_while_waiting(h: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    spins = 0
    stop = threading.Event()

    def spinner() -> None:
        nonlocal spins
        while not stop.is_set():
            spins += 1

    def script(s: socket.socket) -> None:
        _read_head(s)
        time.sleep(0.3)
        s.sendall(OK)

    t = threading.Thread(target=spinner, daemon=True)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)  # a thread holding the GIL would starve the spinner
    try:
        t.start()
        peer(b, script)
        time.sleep(0.02)
        before = spins
        head = h.Wire(a).request(HEAD, None, 5.0)
        during = spins - before
    finally:
        stop.set()
        sys.setswitchinterval(old)
        t.join(5)
    assert head.status == 200
    assert during > 1000, during


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
@pytest.mark.parametrize("fd", [True, False], ids=["fd", "pyobj"])
def test_eintr_resumes_with_time_left(
    h: Any, pair: tuple[socket.socket, socket.socket], fd: bool
) -> None:
    a, b = pair
    fired = 0

    def handler(signum: int, frame: Any) -> None:
        nonlocal fired
        fired += 1

    def script(s: socket.socket) -> None:
        _read_head(s)
        time.sleep(0.4)
        s.sendall(OK)

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    try:
        peer(b, script)
        wire = h.Wire(a if fd else Wrapper(a))
        t0 = time.monotonic()
        head = wire.request(HEAD, None, 5.0)
        elapsed = time.monotonic() - t0
    finally:
        _stop_alarm(old)
    assert head.status == 200
    assert wire.read(None, 5.0) == b"ok"
    assert fired >= 5
    assert elapsed >= 0.35


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_timeout_is_per_wait_despite_signals(
    h: Any, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair

    def handler(signum: int, frame: Any) -> None:
        pass

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.03, 0.03)
    try:
        peer(b, _read_head)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            h.Wire(a).request(HEAD, None, 0.3)
        elapsed = time.monotonic() - t0
    finally:
        _stop_alarm(old)
    assert 0.28 <= elapsed < 2.0, elapsed


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_signal_handler_exception_propagates(
    h: Any, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair

    class Stop(Exception):
        pass

    def handler(signum: int, frame: Any) -> None:
        raise Stop

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    try:
        peer(b, _read_head)
        with pytest.raises(Stop):
            h.Wire(a).request(HEAD, None, None)  # would wait forever
    finally:
        _stop_alarm(old)


def test_oversized_head_is_not_read_whole(
    h: Any, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    junk = b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"y" * (200 * 1024) + b"\r\n\r\n"

    def script(s: socket.socket) -> None:
        _read_head(s)
        s.sendall(junk)

    t = peer(b, script)
    wire = h.Wire(a, max_head_size=1024)
    with pytest.raises(ProtocolError, match="too large"):
        wire.request(HEAD, None, 5.0)
    t.join(5)
    # everything past the limit is still unread in the socket
    a.setblocking(False)
    rest = 0
    while True:
        try:
            chunk = a.recv(1 << 20)
        except BlockingIOError:
            break
        if not chunk:
            break
        rest += len(chunk)
    assert rest >= len(junk) - 1024


@pytest.mark.parametrize("fd", [True, False], ids=["fd", "pyobj"])
def test_large_body_both_ways(h: Any, pair: tuple[socket.socket, socket.socket], fd: bool) -> None:
    """A body far bigger than the socket buffers: partial sends wait for
    POLLOUT; the response body is read whole into one bytes object."""
    a, b = pair
    body = os.urandom(3 * 1024 * 1024)

    def script(s: socket.socket) -> None:
        got = b""
        while len(got) < len(HEAD) + len(body):
            chunk = s.recv(1 << 16)
            if not chunk:
                return
            got += chunk
            time.sleep(0.001)
        assert got[len(HEAD) :] == body
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    t = peer(b, script)
    wire = h.Wire(a if fd else Wrapper(a))
    head = wire.request(HEAD, body, 10.0)
    assert head.content_length == len(body)
    data = wire.read(None, 10.0)
    assert type(data) is bytes
    assert data == body
    assert wire.body_done and wire.keep_alive
    t.join(5)


@pytest.mark.parametrize("fd", [True, False], ids=["fd", "pyobj"])
def test_chunked_and_close_bodies(
    h: Any, pair: tuple[socket.socket, socket.socket], fd: bool
) -> None:
    a, b = pair
    payload = os.urandom(300_000)
    chunks = b"".join(h.encode_chunk(payload[i : i + 7000]) for i in range(0, len(payload), 7000))

    def script(s: socket.socket) -> None:
        _read_head(s)
        s.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks
            + b"0\r\nX-Sum: 1\r\n\r\n"
        )
        _read_head(s)
        s.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + payload)
        s.shutdown(socket.SHUT_WR)

    t = peer(b, script)
    wire = h.Wire(a if fd else Wrapper(a))
    wire.request(HEAD, None, 5.0)
    assert wire.read(None, 5.0) == payload
    assert wire.trailers == [("X-Sum", "1")]
    assert wire.keep_alive
    head = wire.request(HEAD, None, 5.0)
    assert head.framing == h.FRAMING_CLOSE
    got = bytearray()
    buf = bytearray(50_000)
    while True:
        n = wire.readinto(buf, 5.0)
        if not n:
            break
        got += buf[:n]
    assert got == payload
    assert wire.body_done and not wire.keep_alive
    t.join(5)


def test_socket_closed_behind_the_wire(h: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    wire = h.Wire(a)
    a.close()
    with pytest.raises(OSError):
        wire.request(HEAD, None, 1.0)


def test_parser_byte_at_a_time_is_linear(h: Any) -> None:
    """The end-of-head scan resumes where it stopped: feeding a 60 KB head one
    byte at a time stays fast (a rescan per byte would be ~1.8e9 steps)."""
    head = (
        b"HTTP/1.1 200 OK\r\n"
        + b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 600) for i in range(95))
        + b"Content-Length: 0\r\n\r\n"
    )
    assert len(head) < 65536
    p = h.ResponseParser()
    t0 = time.process_time()
    for i in range(len(head)):
        p.feed(head[i : i + 1])
        if i < len(head) - 1:
            assert p.next_head() is None
    got = p.next_head()
    assert got is not None and len(got.headers) == 96
    assert time.process_time() - t0 < 5.0


def test_response_head_is_read_only(h: Any) -> None:
    p = h.ResponseParser()
    p.feed(OK)
    head = p.next_head()
    with pytest.raises(AttributeError):
        head.status = 500
    assert head.headers == [("Content-Length", "2")]
    assert p.read_body() == b"ok" and p.body_done


def test_error_context_after_interim_and_compaction(h: Any) -> None:
    """A 1xx head consumed, the buffer compacted by a later feed, then bytes
    that are not a status line: the error message must not look at the
    (moved) interim head. Meaningful under valgrind / AddressSanitizer."""
    p = h.ResponseParser()
    p.feed(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert p.next_head() is None
    p.feed(b"J" * 5000)  # forces compaction / growth of the buffer
    with pytest.raises(ProtocolError):
        p.next_head()


@pytest.mark.parametrize("fd", [True, False], ids=["fd", "pyobj"])
def test_zero_timeout_is_timeout_error(
    h: Any, pair: tuple[socket.socket, socket.socket], fd: bool
) -> None:
    """timeout=0 never blocks: nothing ready -> TimeoutError on both paths
    (a non-blocking Python socket raises BlockingIOError, mapped as the pure twin does)."""
    a, _ = pair
    wire = h.Wire(a if fd else Wrapper(a))
    with pytest.raises(TimeoutError):
        wire.request(HEAD, None, 0)
