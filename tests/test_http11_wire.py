"""``Wire``: the exchange over real loopback sockets against ``ScriptedServer``.

Every case runs on both twins and through both paths of the compiled twin:
``fd`` hands the Wire a plain ``socket.socket`` (the compiled twin drives its
descriptor without the GIL), ``pyobj`` hands it an object that is not a
``socket.socket`` and only forwards the socket methods (the Python-method path).
A few cases also run over real TLS (``ssl.SSLSocket``, trustme certificates).
Every server handler and every wait is bounded.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.client import RemoteDisconnected
from typing import Any

import pytest
from urllib3.exceptions import IncompleteRead, ProtocolError

from _server import ScriptedServer, read_request, response_bytes, serve_http

T = 5.0  # the read timeout of cases that are not about timeouts


class SockWrapper:
    """A socket-like object that is not a ``socket.socket``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def sendall(self, data: Any) -> None:
        self._sock.sendall(data)

    def send(self, data: Any) -> int:
        return self._sock.send(data)

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        return self._sock.recv_into(buffer, nbytes)

    def recv(self, n: int) -> bytes:
        return self._sock.recv(n)

    def settimeout(self, value: float | None) -> None:
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._sock.gettimeout()

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture(params=["fd", "pyobj"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


Connect = Callable[[ScriptedServer], Any]


@pytest.fixture
def connect(transport: str) -> Iterator[Connect]:
    opened: list[socket.socket] = []

    def _connect(server: ScriptedServer) -> Any:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=T)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        opened.append(s)
        return s if transport == "fd" else SockWrapper(s)

    yield _connect
    for s in opened:
        s.close()


def get(h: Any, target: str = "/", **kw: Any) -> bytes:
    return h.encode_request_head("GET", target, host="127.0.0.1", **kw)


def once(data: bytes | Callable[[socket.socket], None]) -> Callable[[socket.socket, int], None]:
    """A handler that reads one request, then sends ``data`` (or runs it)."""

    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            if read_request(rfile) is None:
                return
            if callable(data):
                data(sock)
            else:
                sock.sendall(data)
        finally:
            rfile.close()

    return handler


def trickle(data: bytes, step: int, pause: float) -> Callable[[socket.socket], None]:
    def send(sock: socket.socket) -> None:
        for i in range(0, len(data), step):
            sock.sendall(data[i : i + step])
            time.sleep(pause)

    return send


def check_server(server: ScriptedServer) -> None:
    assert not server.errors, server.errors


# --------------------------------------------------------------------------- normal exchanges


def test_keep_alive_two_requests_one_wire(impl: Any, connect: Connect) -> None:
    h = impl.http11

    def app(req: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        return 200, [("X-Target", req.target)], b"body of " + req.target.encode()

    with ScriptedServer(serve_http(app)) as server:
        wire = h.Wire(connect(server))
        for target in ("/one", "/two", "/three"):
            head = wire.request(get(h, target), None, T)
            assert head.status == 200
            assert ("X-Target", target) in head.headers
            assert head.framing == h.FRAMING_LENGTH
            assert wire.read(None, T) == b"body of " + target.encode()
            assert wire.body_done
            assert wire.keep_alive
            assert wire.leftover() == b""
            assert wire.read(None, T) == b""
            assert wire.read(10, T) == b""
        assert server.accepted == 1
    check_server(server)


def test_request_with_body(impl: Any, connect: Connect) -> None:
    h = impl.http11
    seen: list[bytes] = []

    def app(req: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        seen.append(req.body)
        return 201, [], b"%d" % len(req.body)

    with ScriptedServer(serve_http(app)) as server:
        wire = h.Wire(connect(server))
        for body in (b"small body", b"x" * 300_000):
            head_bytes = h.encode_request_head("POST", "/", host="h", content_length=len(body))
            head = wire.request(head_bytes, body, T)
            assert head.status == 201
            assert wire.read(None, T) == b"%d" % len(body)
        assert seen == [b"small body", b"x" * 300_000]
    check_server(server)


def test_streamed_chunked_request_then_read_head(impl: Any, connect: Connect) -> None:
    h = impl.http11

    def app(req: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        return 200, [], req.body[::-1]

    with ScriptedServer(serve_http(app)) as server:
        wire = h.Wire(connect(server))
        wire.sendall(h.encode_request_head("POST", "/", host="h", chunked=True), T)
        for piece in (b"abc", b"", b"defg"):
            wire.sendall(h.encode_chunk(piece), T)
        wire.sendall(h.LAST_CHUNK, T)
        head = wire.read_head(T)
        assert head.status == 200
        assert wire.read(None, T) == b"gfedcba"
        assert wire.keep_alive
    check_server(server)


def test_content_length_in_pieces_and_readinto(impl: Any, connect: Connect) -> None:
    h = impl.http11
    body = bytes(range(256)) * 40
    with ScriptedServer(serve_http(lambda req: (200, [], body))) as server:
        wire = h.Wire(connect(server))
        # read(amt)
        wire.request(get(h), None, T)
        got = b""
        for _ in range(10_000):
            piece = wire.read(1000, T)
            assert len(piece) <= 1000
            if not piece:
                break
            got += piece
        assert got == body
        assert wire.body_done and wire.keep_alive
        assert wire.body_received == len(body)
        # readinto
        wire.request(get(h), None, T)
        buf = bytearray(777)
        out = bytearray()
        for _ in range(10_000):
            n = wire.readinto(buf, T)
            if not n:
                break
            out += buf[:n]
        assert out == body
        assert wire.keep_alive
        # readinto a memoryview of another type, then read the rest whole
        wire.request(get(h), None, T)
        arr = memoryview(bytearray(16))
        n = wire.readinto(arr, T)
        assert 0 < n <= 16
        assert bytes(arr[:n]) + wire.read(None, T) == body
        assert wire.keep_alive
        assert wire.readinto(bytearray(4), T) == 0
    check_server(server)


def test_chunked_body(impl: Any, connect: Connect) -> None:
    h = impl.http11
    chunks = [b"hello ", b"chunked ", b"x" * 70000, b"world"]
    payload = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks)
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + payload
        + b"0\r\nX-Checksum: abc\r\n\r\n"
    )
    for mode in ("whole", "pieces"):
        with ScriptedServer(once(trickle(data, 997, 0.0005))) as server:
            wire = h.Wire(connect(server))
            head = wire.request(get(h), None, T)
            assert head.framing == h.FRAMING_CHUNKED
            if mode == "whole":
                body = wire.read(None, T)
            else:
                body = b""
                for _ in range(100_000):
                    piece = wire.read(1024, T)
                    if not piece:
                        break
                    body += piece
            assert body == b"".join(chunks)
            assert wire.trailers == [("X-Checksum", "abc")]
            assert wire.body_done and wire.keep_alive
        check_server(server)


def test_until_close_body(impl: Any, connect: Connect) -> None:
    h = impl.http11
    data = b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n" + b"z" * 100_000
    with ScriptedServer(once(data)) as server:
        wire = h.Wire(connect(server))
        head = wire.request(get(h), None, T)
        assert head.framing == h.FRAMING_CLOSE
        assert not head.keep_alive
        assert wire.read(None, T) == b"z" * 100_000
        assert wire.body_done
        assert not wire.keep_alive
    check_server(server)


def test_head_request_and_interim(impl: Any, connect: Connect) -> None:
    h = impl.http11
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    )
    with ScriptedServer(once(trickle(data, 7, 0.001))) as server:
        wire = h.Wire(connect(server))
        head = wire.request(h.encode_request_head("HEAD", "/"), None, T, True)
        assert head.status == 200
        assert head.framing == h.FRAMING_NONE
        assert wire.body_done
        assert wire.read(None, T) == b""
        assert wire.keep_alive
    check_server(server)


def test_head_split_into_tiny_segments(impl: Any, connect: Connect) -> None:
    h = impl.http11
    data = response_bytes(200, b"payload", [(f"X-{i}", "v" * i) for i in range(30)])
    with ScriptedServer(once(trickle(data, 1, 0.0005))) as server:
        wire = h.Wire(connect(server))
        head = wire.request(get(h), None, T)
        assert len(head.headers) == 31
        assert wire.read(None, T) == b"payload"
        assert wire.keep_alive
    check_server(server)


def test_pipelined_leftover(impl: Any, connect: Connect) -> None:
    h = impl.http11
    first = response_bytes(200, b"first")
    second = response_bytes(404, b"second", reason="Not Found")
    with ScriptedServer(once(first + second)) as server:
        wire = h.Wire(connect(server))
        head = wire.request(get(h), None, T)
        assert head.status == 200
        assert wire.read(None, T) == b"first"
        assert wire.body_done
        # the second response may arrive in a later segment: wait for it, bounded
        deadline = time.monotonic() + T
        while wire.leftover() != second and time.monotonic() < deadline:
            time.sleep(0.01)
            if len(wire.leftover()) < len(second):
                break
        assert head.keep_alive
        if wire.leftover():
            assert second.startswith(wire.leftover())
            assert not wire.keep_alive
    check_server(server)


def test_pipelined_leftover_same_segment(impl: Any, connect: Connect) -> None:
    """Both responses in one send: the first recv normally gets both."""
    h = impl.http11
    first = response_bytes(200, b"first")
    second = response_bytes(204, b"")

    def send(sock: socket.socket) -> None:
        sock.sendall(first + second)

    with ScriptedServer(once(send)) as server:
        for _ in range(5):  # a recv may split them; retry a few times, bounded
            wire = h.Wire(connect(server))
            wire.request(get(h), None, T)
            assert wire.read(None, T) == b"first"
            if wire.leftover() == second:
                assert not wire.keep_alive
                return
    pytest.skip("the kernel split the two responses every time")


# --------------------------------------------------------------------------- timeouts


def test_slow_but_steady_server_succeeds(impl: Any, connect: Connect) -> None:
    """The timeout is per wait: 0.6 s of trickling with a 0.2 s timeout works."""
    h = impl.http11
    data = response_bytes(200, b"b" * 50, [("X-Slow", "yes")])
    step = max(1, len(data) // 25)
    with ScriptedServer(once(trickle(data, step, 0.025))) as server:
        wire = h.Wire(connect(server))
        t0 = time.monotonic()
        wire.request(get(h), None, 0.2)
        assert wire.read(None, 0.2) == b"b" * 50
        assert time.monotonic() - t0 > 0.3
    check_server(server)


@pytest.mark.parametrize("where", ["before-head", "mid-head", "mid-body"])
def test_stalled_server_times_out(impl: Any, connect: Connect, where: str) -> None:
    h = impl.http11
    release = threading.Event()
    partial = {
        "before-head": b"",
        "mid-head": b"HTTP/1.1 200 OK\r\nContent-",
        "mid-body": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123",
    }[where]

    def stall(sock: socket.socket) -> None:
        sock.sendall(partial)
        release.wait(10)

    with ScriptedServer(once(stall)) as server:
        try:
            wire = h.Wire(connect(server))
            t0 = time.monotonic()
            with pytest.raises(TimeoutError):
                wire.request(get(h), None, 0.2)
                wire.read(None, 0.2)
            elapsed = time.monotonic() - t0
            assert 0.15 < elapsed < 2.0
        finally:
            release.set()
    check_server(server)


# --------------------------------------------------------------------------- peer closes


def test_close_before_any_byte(impl: Any, connect: Connect) -> None:
    h = impl.http11
    with ScriptedServer(once(b"")) as server:
        wire = h.Wire(connect(server))
        with pytest.raises(RemoteDisconnected, match="without response"):
            wire.request(get(h), None, T)
    check_server(server)


def test_close_mid_head(impl: Any, connect: Connect) -> None:
    h = impl.http11
    with ScriptedServer(once(b"HTTP/1.1 200 OK\r\nContent-Le")) as server:
        wire = h.Wire(connect(server))
        with pytest.raises(ProtocolError):
            wire.request(get(h), None, T)
    check_server(server)


@pytest.mark.parametrize(
    ("data", "partial", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123", 4, 6),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"a" * 70000, 70000, 30000),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 0, 10),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123", 4, 6),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", 3, 0),
    ],
    ids=["length", "length-big", "length-none", "chunked-mid", "chunked-between"],
)
def test_close_mid_body(
    impl: Any, connect: Connect, data: bytes, partial: int, expected: int
) -> None:
    with ScriptedServer(once(data)) as server:
        for how in ("whole", "amt", "readinto"):
            _close_mid_body(impl.http11, connect(server), how, partial, expected)
    check_server(server)


def _close_mid_body(h: Any, sock: Any, how: str, partial: int, expected: int) -> None:
    wire = h.Wire(sock)
    wire.request(get(h), None, T)
    got = bytearray()
    with pytest.raises(ProtocolError) as info:
        if how == "whole":
            wire.read(None, T)
        else:
            buf = bytearray(1000)
            for _ in range(10_000):
                n = wire.readinto(buf, T) if how == "readinto" else -1
                piece = bytes(buf[:n]) if n >= 0 else wire.read(1000, T)
                assert piece, "b'' before the body was complete"
                got += piece
    err = info.value
    ir = err.args[1]
    assert isinstance(ir, IncompleteRead)
    assert (ir.partial, ir.expected) == (partial, expected)
    assert err.args[0] == (
        f"Connection broken: IncompleteRead({partial} bytes read, {expected} more expected)"
    )
    if how != "whole":
        assert len(got) == partial
    assert wire.body_received == partial
    assert not wire.body_done
    assert not wire.keep_alive


def test_huge_head_rejected(impl: Any, connect: Connect) -> None:
    """A server streaming header lines forever: ProtocolError once the head
    passes the limit, without reading (much) further."""
    h = impl.http11
    stop = threading.Event()

    def endless(sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\n")
        line = b"X-Endless: " + b"e" * 1000 + b"\r\n"
        for _ in range(10_000):  # at most ~10 MB
            if stop.is_set():
                return
            sock.sendall(line)

    with ScriptedServer(once(endless)) as server:
        wire = h.Wire(connect(server))
        try:
            with pytest.raises(ProtocolError):
                wire.request(get(h), None, T)
        finally:
            stop.set()
    check_server(server)


def test_huge_head_custom_limit(impl: Any, connect: Connect) -> None:
    h = impl.http11
    with ScriptedServer(once(response_bytes(200, b"", [("X", "y" * 500)]))) as server:
        wire = h.Wire(connect(server), max_head_size=256)
        with pytest.raises(ProtocolError):
            wire.request(get(h), None, T)
    check_server(server)


def test_malformed_response_is_protocol_error(impl: Any, connect: Connect) -> None:
    h = impl.http11
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
    with ScriptedServer(once(data)) as server:
        wire = h.Wire(connect(server))
        with pytest.raises(ProtocolError):
            wire.request(get(h), None, T)
    check_server(server)


def test_bad_chunk_framing_over_the_wire(impl: Any, connect: Connect) -> None:
    h = impl.http11
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
    with ScriptedServer(once(data)) as server:
        wire = h.Wire(connect(server))
        wire.request(get(h), None, T)
        with pytest.raises(ProtocolError):
            wire.read(None, T)
    check_server(server)


def test_connection_refused_passes_through(impl: Any) -> None:
    h = impl.http11
    # a connected socket whose peer resets: OSError subclasses pass through
    a, b = socket.socketpair()
    try:
        wire = h.Wire(a)
        b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        b.close()
        with pytest.raises((OSError, RemoteDisconnected)):
            wire.request(get(h), None, T)
    finally:
        a.close()


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


def _tls_connect(server: ScriptedServer, client_ctx: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=T)
    return client_ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_tls_keep_alive_and_chunked(impl: Any, tls_contexts: Any) -> None:
    h = impl.http11
    server_ctx, client_ctx = tls_contexts

    def app(req: Any) -> bytes:
        if req.target == "/chunked":
            return (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
            )
        return response_bytes(200, b"x" * 50_000)

    with ScriptedServer(serve_http(app), tls_context=server_ctx) as server:
        sock = _tls_connect(server, client_ctx)
        try:
            wire = h.Wire(sock)
            wire.request(get(h, "/plain"), None, T)
            assert wire.read(None, T) == b"x" * 50_000
            assert wire.keep_alive
            wire.request(get(h, "/chunked"), None, T)
            assert wire.read(None, T) == b"abcdefg"
            assert wire.keep_alive
        finally:
            sock.close()
    check_server(server)


def test_tls_stalled_times_out_and_close_mid_body(impl: Any, tls_contexts: Any) -> None:
    h = impl.http11
    server_ctx, client_ctx = tls_contexts
    release = threading.Event()

    def stall(sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01")
        release.wait(10)

    with ScriptedServer(once(stall), tls_context=server_ctx) as server:
        sock = _tls_connect(server, client_ctx)
        try:
            wire = h.Wire(sock)
            wire.request(get(h), None, T)
            t0 = time.monotonic()
            with pytest.raises(TimeoutError):
                wire.read(None, 0.2)
            assert time.monotonic() - t0 < 2.0
        finally:
            release.set()
            sock.close()
    check_server(server)

    with ScriptedServer(
        once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123"), tls_context=server_ctx
    ) as server:
        sock = _tls_connect(server, client_ctx)
        try:
            wire = h.Wire(sock)
            wire.request(get(h), None, T)
            with pytest.raises((ProtocolError, ssl.SSLError)) as info:
                wire.read(None, T)
            if isinstance(info.value, ProtocolError):
                assert info.value.args[1].partial == 4
        finally:
            sock.close()
    check_server(server)
