"""The parts of the ``_http11`` contract that exist for the hot path:
``ResponseHead.content_encoding`` (found by the parser, so the response layer
never searches the fields), ``ResponseHead.headers`` built on first access in
the compiled twin, and ``Wire.is_dropped()`` (the pool's idle-connection check).

Every case runs on both twins (``impl``); the ``Wire`` cases also through both
paths of the compiled twin (a plain ``socket.socket``: the descriptor path; a
wrapper object: the Python-method path). Sockets are local socket pairs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest


def _head(h: Any, data: bytes, *, is_head_request: bool = False) -> Any:
    p = h.ResponseParser()
    p.start(is_head_request)
    p.feed(data)
    head = p.next_head()
    assert head is not None
    return head


def _resp(*fields: bytes, status: bytes = b"200 OK", body: bytes = b"") -> bytes:
    lines = [b"HTTP/1.1 " + status, *fields]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# -- content_encoding ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ((b"Content-Length: 0",), None),
        ((b"Content-Encoding: gzip", b"Content-Length: 0"), "gzip"),
        ((b"content-encoding:gzip", b"Content-Length: 0"), "gzip"),
        ((b"CONTENT-ENCODING: \t br \t", b"Content-Length: 0"), "br"),
        ((b"Content-Encoding: gzip, br", b"Content-Length: 0"), "gzip, br"),
        ((b"Content-Encoding: gzip", b"X: 1", b"content-Encoding: br"), "gzip, br"),
        ((b"Content-Encoding:", b"Content-Length: 0"), ""),
        ((b"Content-Encoding: ", b"Content-Encoding: deflate"), ", deflate"),
        ((b"Content-Encodings: gzip", b"Content-Length: 0"), None),
        ((b"X-Content-Encoding: gzip", b"Content-Length: 0"), None),
        ((b"Content-Encoding: caf\xe9",), "caf\xe9"),
    ],
)
def test_content_encoding(impl: Any, fields: tuple[bytes, ...], expected: str | None) -> None:
    head = _head(impl.http11, _resp(*fields))
    assert head.content_encoding == expected
    found = [v for k, v in head.headers if k.lower() == "content-encoding"]
    assert head.content_encoding == (", ".join(found) if found else None)


def test_content_encoding_bare_lf(impl: Any) -> None:
    head = _head(impl.http11, b"HTTP/1.1 200 OK\nContent-Encoding: gzip\nContent-Length: 0\n\n")
    assert head.content_encoding == "gzip"


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
def test_content_encoding_without_body(impl: Any, status: bytes) -> None:
    head = _head(impl.http11, _resp(b"Content-Encoding: gzip", status=status))
    assert head.content_encoding == "gzip"


def test_content_encoding_of_head_request(impl: Any) -> None:
    data = _resp(b"Content-Encoding: br", b"Content-Length: 10")
    head = _head(impl.http11, data, is_head_request=True)
    assert head.content_encoding == "br"


def test_content_encoding_of_interim_head_is_not_kept(impl: Any) -> None:
    data = _resp(b"Content-Encoding: gzip", status=b"103 Early Hints") + _resp(b"Content-Length: 0")
    head = _head(impl.http11, data)
    assert head.status == 200
    assert head.content_encoding is None
    data = _resp(b"X: 1", status=b"100 Continue") + _resp(
        b"Content-Encoding: zstd", b"Content-Length: 0"
    )
    assert _head(impl.http11, data).content_encoding == "zstd"


def test_content_encoding_is_read_only(impl: Any) -> None:
    head = _head(impl.http11, _resp(b"Content-Encoding: gzip", b"Content-Length: 0"))
    with pytest.raises(AttributeError):
        head.content_encoding = "br"


def test_constructor_derives_content_encoding(impl: Any) -> None:
    h = impl.http11
    pairs = [("Content-Encoding", "gzip"), ("X", "1"), ("content-encoding", "br")]
    head = h.ResponseHead(200, "OK", 11, pairs, h.FRAMING_LENGTH, 0, True)
    assert head.content_encoding == "gzip, br"
    assert head.headers == pairs
    head = h.ResponseHead(200, "OK", 11, [("X", "1")], h.FRAMING_LENGTH, 0, True)
    assert head.content_encoding is None
    head = h.ResponseHead(200, "OK", 11, pairs, h.FRAMING_LENGTH, 0, True, "identity")
    assert head.content_encoding == "identity"
    head = h.ResponseHead(200, "OK", 11, pairs, h.FRAMING_LENGTH, 0, True, None)
    assert head.content_encoding is None
    with pytest.raises(TypeError):
        h.ResponseHead(200, "OK", 11, pairs, h.FRAMING_LENGTH, 0, True, b"gzip")


# -- headers (built on first access in the compiled twin) ----------------------


def test_headers_survive_the_next_message(impl: Any) -> None:
    """The head's fields do not depend on the parser buffer, which the next
    message reuses (and compacts)."""
    h = impl.http11
    first = _resp(b"Server: a", b"Date: x", b"X-Odd:  v  w \t", b"Empty:", body=b"0123456789")
    second = _resp(b"Server: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", b"Content-Length: 0")
    p = h.ResponseParser()
    p.start()
    p.feed(first + second)
    head1 = p.next_head()
    assert p.read_body() == b"0123456789"
    p.start()
    for _ in range(3):  # fill the buffer with other bytes
        head2 = p.next_head()
        assert head2 is not None and p.body_done
        p.start()
        p.feed(second)
    expected = [
        ("Server", "a"),
        ("Date", "x"),
        ("X-Odd", "v  w"),
        ("Empty", ""),
        ("Content-Length", "10"),
    ]
    assert head1.headers == expected
    assert head1.headers is head1.headers  # built once
    assert head2.headers == [("Server", "b" * 32), ("Content-Length", "0")]


def test_headers_many_fields_and_line_endings(impl: Any) -> None:
    h = impl.http11
    names = [f"X-Field-{i}" for i in range(99)]
    lines = [f"{n}:{' ' * (i % 3)}v{i}{chr(9) * (i % 2)}".encode() for i, n in enumerate(names)]
    data = b"HTTP/1.1 200 OK\n" + b"\r\n".join(lines) + b"\nContent-Length: 0\n\r\n"
    head = _head(h, data)
    assert head.headers == [(n, f"v{i}") for i, n in enumerate(names)] + [("Content-Length", "0")]


def test_headers_empty(impl: Any) -> None:
    head = _head(impl.http11, b"HTTP/1.1 204 No Content\r\n\r\n")
    assert head.headers == []
    assert head.content_encoding is None


def test_repr_shows_headers(impl: Any) -> None:
    head = _head(impl.http11, _resp(b"Server: s", b"Content-Length: 0"))
    assert "200" in repr(head)


def test_headers_first_access_from_threads(impl: Any) -> None:
    head = _head(impl.http11, _resp(*[b"X-%d: %d" % (i, i) for i in range(50)], body=b"x"))
    got: list[Any] = []
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait(5)
        got.append(head.headers)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 4
    assert all(g is got[0] for g in got)
    assert len(got[0]) == 51


# -- Wire.is_dropped ------------------------------------------------------------


class SockWrapper:
    """A socket-like object that is not a ``socket.socket``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def sendall(self, data: Any) -> None:
        self._sock.sendall(data)

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        return self._sock.recv_into(buffer, nbytes)

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture(params=["fd", "pyobj"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Any, socket.socket]]:
    a, b = socket.socketpair()
    ours: Any = a if request.param == "fd" else SockWrapper(a)
    try:
        yield ours, b
    finally:
        a.close()
        b.close()


def _wait_readable(wire: Any, expected: bool) -> bool:
    deadline = time.monotonic() + 5
    got = wire.is_dropped()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.01)
        got = wire.is_dropped()
    return bool(got)


def test_is_dropped_idle_connection_is_usable(impl: Any, pair: Any) -> None:
    ours, _peer = pair
    wire = impl.http11.Wire(ours)
    assert wire.is_dropped() is False
    assert wire.is_dropped() is False


def test_is_dropped_after_a_whole_exchange(impl: Any, pair: Any) -> None:
    ours, peer = pair
    wire = impl.http11.Wire(ours)
    peer.sendall(_resp(b"Server: s", body=b"hello"))
    head = wire.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None, 5.0)
    assert head.status == 200
    assert wire.read(None, 5.0) == b"hello"
    assert peer.recv(100).startswith(b"GET /")
    assert wire.keep_alive
    assert wire.is_dropped() is False


def test_is_dropped_when_peer_sends_unasked(impl: Any, pair: Any) -> None:
    ours, peer = pair
    wire = impl.http11.Wire(ours)
    peer.sendall(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
    assert _wait_readable(wire, True) is True
    assert wire.is_dropped() is True  # never reads: still readable


def test_is_dropped_when_peer_closed(impl: Any, pair: Any) -> None:
    ours, peer = pair
    wire = impl.http11.Wire(ours)
    peer.close()
    assert _wait_readable(wire, True) is True


def test_is_dropped_when_peer_shut_down_writing(impl: Any, pair: Any) -> None:
    ours, peer = pair
    wire = impl.http11.Wire(ours)
    peer.shutdown(socket.SHUT_WR)
    assert _wait_readable(wire, True) is True


def test_is_dropped_when_closed_locally(impl: Any, pair: Any) -> None:
    ours, _peer = pair
    wire = impl.http11.Wire(ours)
    ours.close()
    assert wire.is_dropped() is True
