"""fastpool.response.HTTPResponse over real loopback sockets and the codec's
Wire (both twins), plus the public constructor; the release callback must be
called exactly once, with the right reusable flag, in every scenario."""

from __future__ import annotations

import gc
import gzip
import io
import json
import os
import socket
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from urllib3.exceptions import (
    BodyNotHttplibCompatible,
    DecodeError,
    IncompleteRead,
    ProtocolError,
    ReadTimeoutError,
    ResponseNotChunked,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import RequestHistory, Retry

from fastpool import _decoders
from fastpool._collections import HTTPHeaderDict
from fastpool.response import DRAIN_LIMIT, HTTPResponse

from _server import ScriptedServer, response_bytes

MiB = 1 << 20

# -- the scripted server side ---------------------------------------------------------

REQ = "REQ"  # read one request head


@dataclass
class Sleep:
    seconds: float


@dataclass
class Wait:
    event: threading.Event


RESET = "RESET"  # close with SO_LINGER 0: the client sees a connection reset


Step = Any


def read_request_head(sock: socket.socket) -> bytes:
    buf = b""
    for _ in range(10_000):
        if b"\r\n\r\n" in buf:
            return buf
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("client went away")
        buf += data
    raise AssertionError("request head too long")


def script(*steps: Step) -> Callable[[socket.socket, int], None]:
    """A handler: ``REQ`` reads a request head, bytes are sent, ``Sleep`` and
    ``Wait`` pause; the connection closes after the last step."""

    def handler(sock: socket.socket, index: int) -> None:
        for step in steps:
            if step == REQ:
                read_request_head(sock)
            elif isinstance(step, bytes):
                sock.sendall(step)
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
            elif isinstance(step, Wait):
                step.event.wait(10)
            elif step == RESET:
                time.sleep(0.1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # let the client read everything before the socket closes
        sock.settimeout(2)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    return handler


def chunked(*pieces: bytes, trailers: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n" + trailers + b"\r\n"


def head(
    status: int = 200, headers: list[tuple[str, str]] | None = None, reason: str = "OK"
) -> bytes:
    return response_bytes(status, b"", headers or [], reason, content_length=False)


# -- the client side: Wire + _from_wire with a recording release ----------------------


class Conn:
    """Stands for the pool's connection object (opaque to the response)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def __call__(self, conn: Conn, reusable: bool) -> None:
        self.calls.append(reusable)
        if not reusable:
            conn.close()  # what the pool does


class Client:
    def __init__(self, impl: Any, server: ScriptedServer) -> None:
        self.h = impl.http11
        self.server = server
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.conn = Conn(self.sock)
        self.wire = self.h.Wire(self.sock)
        self.rec = Recorder()

    def get(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        preload: bool = False,
        decode: bool = True,
        enforce: bool = True,
        timeout: float = 5.0,
        retries: Retry | None = None,
        pool: Any = None,
    ) -> HTTPResponse:
        self.rec = Recorder()
        data = self.h.encode_request_head(method, path, host="127.0.0.1")
        head = self.wire.request(data, None, timeout, method == "HEAD")
        return HTTPResponse._from_wire(
            head,
            self.conn,
            wire=self.wire,
            release=self.rec,
            pool=pool,
            request_method=method,
            request_url=path,
            retries=retries,
            preload_content=preload,
            decode_content=decode,
            enforce_content_length=enforce,
            read_timeout=timeout,
        )

    @property
    def calls(self) -> list[bool]:
        return self.rec.calls


@pytest.fixture
def serve(impl: Any) -> Iterator[Callable[..., Client]]:
    servers: list[ScriptedServer] = []
    clients: list[Client] = []

    def start(*steps: Step) -> Client:
        server = ScriptedServer(script(*steps)).__enter__()
        servers.append(server)
        client = Client(impl, server)
        clients.append(client)
        return client

    yield start
    for c in clients:
        c.sock.close()
    for s in servers:
        s.__exit__(None, None, None)
    for s in servers:
        assert not s.errors, s.errors


def ok(body: bytes, headers: list[tuple[str, str]] | None = None, status: int = 200) -> bytes:
    return response_bytes(status, body, headers or [])


BODY = b"hello, fastpool! " * 1000


# -- release: exactly once, right flag -------------------------------------------------------


def test_preload_releases_reusable_once_and_connection_is_reusable(serve: Any) -> None:
    c = serve(REQ, ok(BODY), REQ, ok(b"second"))
    r = c.get(preload=True)
    assert c.calls == [True]
    assert r.data == BODY
    assert r.connection is None
    assert r.closed and r.isclosed()
    assert r.length_remaining == 0
    assert r.tell() == len(BODY)
    r.close()
    r.release_conn()
    r.drain_conn()
    assert c.calls == [True]
    r2 = c.get(preload=True)  # the same wire: nothing was left over
    assert r2.data == b"second"
    assert c.calls == [True]


def test_streamed_full_read_releases_at_the_end(serve: Any) -> None:
    c = serve(REQ, ok(BODY), REQ, ok(b"again"))
    r = c.get()
    assert c.calls == []
    assert r.connection is c.conn
    assert not r.closed
    assert r.read(5) == b"hello"
    assert r.tell() == 5 and r.length_remaining == len(BODY) - 5
    assert c.calls == []
    assert r.read() == BODY[5:]
    assert c.calls == [True]
    assert r.connection is None and r.closed
    assert r.read() == b"" and r.read(10) == b""
    r.close()
    assert c.calls == [True]
    assert c.get(preload=True).data == b"again"


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_partial_read_then_close_releases_not_reusable(serve: Any, framing: str) -> None:
    if framing == "length":
        c = serve(REQ, ok(BODY))
    else:
        c = serve(REQ, head(200, [("Transfer-Encoding", "chunked")]), chunked(BODY, BODY))
    r = c.get()
    assert r.read(100) == BODY[:100]
    r.close()
    assert c.calls == [False]
    assert c.conn.closed
    assert r.closed
    assert r.read() == b""
    r.close()
    assert c.calls == [False]


def test_release_conn_before_the_end_is_not_reusable(serve: Any) -> None:
    c = serve(REQ, ok(BODY))
    r = c.get()
    assert r.read(10) == BODY[:10]
    r.release_conn()
    assert c.calls == [False]
    assert r.connection is None
    assert r.read() == b""
    r.release_conn()
    r.close()
    assert c.calls == [False]


def test_release_conn_after_the_end_changes_nothing(serve: Any) -> None:
    c = serve(REQ, ok(b"abc"))
    r = c.get()
    assert r.read() == b"abc"
    r.release_conn()
    assert c.calls == [True]


def test_drain_conn_reads_the_rest_and_releases_for_reuse(serve: Any) -> None:
    c = serve(REQ, ok(BODY), REQ, ok(b"next"))
    r = c.get()
    r.read(3)
    r.drain_conn()
    assert c.calls == [True]
    assert r.read() == b""
    assert c.get(preload=True).data == b"next"


def test_drain_conn_on_a_chunked_body(serve: Any) -> None:
    c = serve(REQ, head(200, [("Transfer-Encoding", "chunked")]), chunked(b"a" * 5000, b"b" * 7))
    r = c.get()
    r.drain_conn()
    assert c.calls == [True]


def test_drain_conn_does_not_read_a_long_body(serve: Any) -> None:
    size = DRAIN_LIMIT + 1
    c = serve(REQ, head(200, [("Content-Length", str(size))]), b"x" * 1000)
    r = c.get()
    r.drain_conn()
    assert c.calls == [False]
    assert r.tell() == 0


def test_drain_conn_gives_up_past_the_limit(serve: Any) -> None:
    piece = b"z" * 65536
    c = serve(
        REQ,
        head(200, [("Transfer-Encoding", "chunked")]),
        chunked(*([piece] * (DRAIN_LIMIT // len(piece) + 4))),
    )
    r = c.get()
    r.drain_conn()
    assert c.calls == [False]
    assert DRAIN_LIMIT <= r.tell() < DRAIN_LIMIT + 2 * len(piece)


def test_drain_conn_swallows_errors(serve: Any) -> None:
    c = serve(REQ, head(200, [("Content-Length", "100")]), b"short")
    r = c.get()
    r.drain_conn()
    assert c.calls == [False]


def test_garbage_collected_unread_response_releases_not_reusable(serve: Any) -> None:
    c = serve(REQ, ok(BODY))
    r = c.get()
    r.read(1)
    del r
    gc.collect()
    assert c.calls == [False]


def test_auto_close_false_keeps_closed_for_close(serve: Any) -> None:
    c = serve(REQ, ok(b"abc"))
    r = c.get()
    r.auto_close = False
    assert r.read() == b"abc"
    assert not r.closed
    r.close()
    assert r.closed
    assert c.calls == [True]


# -- bodies without payload, and framings ------------------------------------------------


def test_head_response_releases_at_once(serve: Any) -> None:
    c = serve(REQ, head(200, [("Content-Length", "1234")]), REQ, ok(b"after"))
    r = c.get(method="HEAD")
    assert c.calls == [True]
    assert r.length_remaining == 0
    assert r.headers["Content-Length"] == "1234"
    assert r.read() == b""
    assert r.data == b""
    assert list(r.stream()) == []
    assert c.get(preload=True).data == b"after"


def test_head_of_a_chunked_resource(serve: Any) -> None:
    c = serve(REQ, head(200, [("Transfer-Encoding", "chunked")]))
    r = c.get(method="HEAD")
    assert c.calls == [True]
    assert r.chunked
    assert list(r.read_chunked()) == []


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_statuses(serve: Any, status: int) -> None:
    c = serve(REQ, head(status, [("ETag", '"x"')]))
    r = c.get(preload=True)
    assert c.calls == [True]
    assert r.status == status
    assert r.data == b""
    assert r.length_remaining == 0


def test_content_length_zero(serve: Any) -> None:
    c = serve(REQ, ok(b""))
    r = c.get()
    assert c.calls == [True]
    assert r.read() == b""
    assert r.data == b""


def test_chunked_body(serve: Any) -> None:
    c = serve(
        REQ,
        head(200, [("Transfer-Encoding", "chunked")]),
        chunked(b"abc", b"defgh", b"i" * 3000, trailers=b"X-T: 1\r\n"),
        REQ,
        ok(b"after"),
    )
    r = c.get()
    assert r.chunked
    assert r.length_remaining is None
    pieces = list(r.read_chunked(1000))
    assert b"".join(pieces) == b"abcdefgh" + b"i" * 3000
    assert all(0 < len(p) <= 1000 for p in pieces)
    assert c.calls == [True]
    assert c.get(preload=True).data == b"after"


def test_chunked_stream_yields_data_as_it_arrives(serve: Any) -> None:
    sent_first = threading.Event()
    got_first = threading.Event()
    c = serve(
        REQ,
        head(200, [("Transfer-Encoding", "chunked")]),
        b"5\r\nfirst\r\n",
        Wait(got_first),
        chunked(b"second"),
    )
    r = c.get()
    it = r.stream(1024)
    assert next(it) == b"first"  # not held back until 1024 bytes came
    got_first.set()
    sent_first.set()
    assert b"".join(it) == b"second"
    assert c.calls == [True]


def test_until_close_body_is_never_reused(serve: Any) -> None:
    c = serve(REQ, head(200, [("Content-Type", "text/plain")]), BODY)
    r = c.get()
    assert r.length_remaining is None
    assert not r.chunked
    assert r.read() == BODY
    assert c.calls == [False]


def test_connection_close_is_not_reused(serve: Any) -> None:
    c = serve(REQ, ok(b"abc", [("Connection", "close")]))
    r = c.get(preload=True)
    assert r.data == b"abc"
    assert c.calls == [False]


def test_http10_response(serve: Any) -> None:
    c = serve(REQ, b"HTTP/1.0 200 Fine\r\nContent-Length: 2\r\n\r\nok")
    r = c.get(preload=True)
    assert (r.version, r.version_string, r.reason, r.status) == (10, "HTTP/1.0", "Fine", 200)
    assert r.data == b"ok"
    assert c.calls == [False]  # HTTP/1.0 without keep-alive


def test_status_reason_version(serve: Any) -> None:
    c = serve(REQ, ok(b"{}", status=201))
    r = c.get(preload=True)
    assert (r.status, r.reason, r.version, r.version_string) == (201, "OK", 11, "HTTP/1.1")
    assert isinstance(r, BaseHTTPResponse) and isinstance(r, io.IOBase)
    assert r.readable()
    assert r.supports_chunked_reads()


# -- errors mid-body -------------------------------------------------------------------------


def test_short_body_preload_is_protocol_error(serve: Any) -> None:
    c = serve(REQ, head(200, [("Content-Length", "100")]), b"0123456789")
    with pytest.raises(ProtocolError) as ei:
        c.get(preload=True)
    assert isinstance(ei.value.args[1], IncompleteRead)
    assert "IncompleteRead(10 bytes read, 90 more expected)" in str(ei.value)
    assert c.calls == [False]


def test_short_body_streamed_gives_the_data_then_fails(serve: Any) -> None:
    c = serve(REQ, head(200, [("Content-Length", "100")]), b"0123456789")
    r = c.get()
    got = b""
    with pytest.raises(ProtocolError) as ei:
        for _ in range(100):
            got += r.read(4)
    assert got == b"0123456789"
    assert isinstance(ei.value.args[1], IncompleteRead)
    assert c.calls == [False]


def test_short_body_with_a_big_read_returns_what_came_then_fails(serve: Any) -> None:
    c = serve(REQ, head(200, [("Content-Length", "100")]), b"0123456789")
    r = c.get()
    assert r.read(50) == b"0123456789"
    with pytest.raises(ProtocolError):
        r.read(50)
    assert c.calls == [False]


def test_short_body_not_enforced_ends_quietly_when_streamed(serve: Any) -> None:
    c = serve(REQ, head(200, [("Content-Length", "100")]), b"0123456789")
    r = c.get(enforce=False)
    assert not r.enforce_content_length
    assert b"".join(r.stream(3)) == b"0123456789"
    assert c.calls == [False]


def test_short_chunked_body_is_protocol_error(serve: Any) -> None:
    c = serve(REQ, head(200, [("Transfer-Encoding", "chunked")]), b"a\r\n01234")
    r = c.get()
    with pytest.raises(ProtocolError):
        list(r.stream(4))
    assert c.calls == [False]


def test_bad_chunk_framing_is_protocol_error(serve: Any) -> None:
    c = serve(REQ, head(200, [("Transfer-Encoding", "chunked")]), b"zz\r\nxx\r\n0\r\n\r\n")
    with pytest.raises(ProtocolError):
        c.get(preload=True)
    assert c.calls == [False]


def test_read_timeout_mid_body(serve: Any) -> None:
    go = threading.Event()
    c = serve(REQ, head(200, [("Content-Length", "100")]), b"0123456789", Wait(go))
    try:
        r = c.get(timeout=5)
        r._read_timeout = 0.2  # the pool passes its read timeout; make it short here
        sentinel_pool = object()
        r._pool = sentinel_pool
        assert r.read(10) == b"0123456789"
        with pytest.raises(ReadTimeoutError) as ei:
            r.read(10)
        assert ei.value.pool is sentinel_pool
        assert ei.value.url == "/"
        assert "Read timed out." in str(ei.value)
        assert c.calls == [False]
    finally:
        go.set()


def test_read_timeout_during_preload(serve: Any) -> None:
    go = threading.Event()
    c = serve(REQ, head(200, [("Content-Length", "100")]), b"01234", Wait(go))
    try:
        with pytest.raises(ReadTimeoutError):
            c.get(preload=True, timeout=0.2)
        assert c.calls == [False]
    finally:
        go.set()


def test_shutdown_from_another_thread_unblocks_a_read(serve: Any) -> None:
    go = threading.Event()
    c = serve(REQ, head(200, [("Content-Length", "100")]), b"01234", Wait(go))
    try:
        r = c.get()
        assert r.read(5) == b"01234"
        threading.Timer(0.2, r.shutdown).start()
        t0 = time.monotonic()
        with pytest.raises(ProtocolError):
            r.read(10)
        assert time.monotonic() - t0 < 4
        assert c.calls == [False]
        with pytest.raises(RuntimeError):
            r.shutdown()  # released
    finally:
        go.set()


def test_fileno_is_the_connection_socket(serve: Any) -> None:
    c = serve(REQ, ok(b"abc"))
    r = c.get()
    assert r.fileno() == c.sock.fileno()
    r.read()
    with pytest.raises(OSError):
        r.fileno()


# -- reading APIs --------------------------------------------------------------------------------


def test_read_amt_boundaries(serve: Any) -> None:
    c = serve(REQ, ok(BODY))
    r = c.get()
    out = []
    for _ in range(1000):
        piece = r.read(333)
        if not piece:
            break
        out.append(piece)
    assert b"".join(out) == BODY
    assert all(len(p) == 333 for p in out[:-1])
    assert c.calls == [True]


def test_read_zero_and_negative(serve: Any) -> None:
    c = serve(REQ, ok(b"abcdef"))
    r = c.get()
    assert r.read(0) == b""
    assert r.read(-1) == b"abcdef"


def test_read1_readinto_and_lines(serve: Any) -> None:
    c = serve(REQ, ok(b"line one\nline two\n\nlast"))
    r = c.get()
    first = r.read1(4)
    assert 0 < len(first) <= 4
    buf = bytearray(6)
    n = r.readinto(buf)
    assert n == 6
    rest = list(r)
    text = first + bytes(buf) + b"".join(rest)
    assert text == b"line one\nline two\n\nlast"
    assert r.read1() == b""


def test_iter_lines(serve: Any) -> None:
    c = serve(REQ, ok(b"a\nbb\n\nccc"))
    r = c.get()
    assert list(r) == [b"a\n", b"bb\n", b"\n", b"ccc"]


def test_readinto_memoryview_and_io_wrappers(serve: Any) -> None:
    c = serve(REQ, ok(b"first\nsecond\n"))
    r = c.get()
    r.auto_close = False  # urllib3's advice for io wrappers: closed only by close()
    text = io.TextIOWrapper(io.BufferedReader(r), encoding="utf-8")  # type: ignore[arg-type]
    assert text.readlines() == ["first\n", "second\n"]
    assert c.calls == [True]
    text.close()
    assert r.closed


def test_stream_sizes(serve: Any) -> None:
    c = serve(REQ, ok(BODY))
    r = c.get()
    pieces = list(r.stream(1000))
    assert b"".join(pieces) == BODY
    assert all(len(p) == 1000 for p in pieces[:-1])
    assert list(r.stream(1000)) == []


def test_stream_none_and_zero(serve: Any) -> None:
    c = serve(REQ, ok(BODY))
    r = c.get()
    assert list(r.stream(0)) == []
    assert list(r.stream(None)) == [BODY]


def test_read_chunked_on_a_length_body(serve: Any) -> None:
    c = serve(REQ, ok(b"abc"))
    r = c.get()
    with pytest.raises(ResponseNotChunked):
        next(r.read_chunked())


def test_json_and_bad_json(serve: Any) -> None:
    c = serve(REQ, ok(b'{"a": [1, 2]}'), REQ, ok(b"{nope"), REQ, ok(b"\xff\xfe"))
    assert c.get().json() == {"a": [1, 2]}
    with pytest.raises(json.JSONDecodeError):
        c.get().json()
    with pytest.raises(UnicodeDecodeError):
        c.get().json()


def test_data_after_streaming_is_empty(serve: Any) -> None:
    c = serve(REQ, ok(b"abc"))
    r = c.get()
    assert r.read() == b"abc"
    assert r.data == b""


def test_data_caches(serve: Any) -> None:
    c = serve(REQ, ok(b"abc"))
    r = c.get()
    assert r.data == b"abc"
    assert r.data == b"abc"


def test_retries_url_and_redirect_location(serve: Any) -> None:
    c = serve(REQ, ok(b"", [("Location", "/there")], status=302))
    retries = Retry(history=(RequestHistory("GET", "/a", None, 301, "/b"),))
    r = c.get(preload=True, retries=retries)
    assert r.retries is retries
    assert r.url == "/b" and r.geturl() == "/b"
    assert r.get_redirect_location() == "/there"
    r.url = "/c"
    assert r.geturl() == "/c"


# -- headers, msg, cookies, requests -----------------------------------------------------------

COOKIE_HEADERS = [
    ("Content-Type", "application/json"),
    ("Set-Cookie", "a=1"),
    ("X-Dup", "one"),
    ("Set-Cookie", "b=2; Path=/"),
    ("x-dup", "two"),
]


def test_headers_are_lazy_and_mutable(serve: Any) -> None:
    c = serve(REQ, ok(b"{}", COOKIE_HEADERS))
    r = c.get(preload=True)
    assert r._headers is None  # not built until asked for
    h = r.headers
    assert isinstance(h, HTTPHeaderDict)
    assert r.headers is h
    assert h["x-dup"] == "one, two"
    assert h.getlist("Set-Cookie") == ["a=1", "b=2; Path=/"]
    h["X-New"] = "yes"
    del h["Content-Type"]
    assert r.headers["x-new"] == "yes"
    assert "content-type" not in r.headers
    assert r.getheader("X-NEW") == "yes"
    assert r.getheaders() is h
    assert r.info() is h
    r.headers = HTTPHeaderDict({"z": "1"})
    assert dict(r.headers) == {"z": "1"}


def test_msg_and_original_response(serve: Any) -> None:
    c = serve(REQ, ok(b"{}", COOKIE_HEADERS))
    r = c.get(preload=True)
    orig = r._original_response
    assert orig
    assert orig.msg.get_all("Set-Cookie") == ["a=1", "b=2; Path=/"]
    assert orig.msg.get_all("X-Missing", ["dflt"]) == ["dflt"]
    assert orig.msg.get_all("X-Missing") is None
    assert r.msg.get("content-type") == "application/json"
    assert "SET-COOKIE" in r.msg
    assert r.msg.get_all("x-dup") == ["one", "two"]
    assert ("Set-Cookie", "a=1") in r.msg.items()
    assert "X-Dup" in list(r.msg.keys())
    assert orig.status == 200 and orig.isclosed()


def test_requests_can_wrap_it(serve: Any) -> None:
    requests = pytest.importorskip("requests")
    from requests.cookies import extract_cookies_to_jar

    body = gzip.compress(b'{"k": "v"}' * 100)
    c = serve(REQ, ok(body, [*COOKIE_HEADERS, ("Content-Encoding", "gzip")]))
    r = c.get()
    req = requests.Request("GET", f"http://127.0.0.1:{c.server.port}/").prepare()
    jar = requests.cookies.RequestsCookieJar()
    extract_cookies_to_jar(jar, req, r)
    assert jar.get("a") == "1" and jar.get("b") == "2"
    resp = requests.adapters.HTTPAdapter().build_response(req, r)
    assert resp.status_code == 200
    assert resp.cookies.get("a") == "1"
    assert resp.headers["content-type"] == "application/json"
    assert b"".join(resp.iter_content(7)) == b'{"k": "v"}' * 100
    assert c.calls == [True]
    resp.close()
    assert c.calls == [True]


# -- content decoding through the wire ---------------------------------------------------------


def encoders() -> dict[str, Callable[[bytes], bytes]]:
    out: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
    }
    if "br" in _decoders.SUPPORTED_ENCODINGS:
        brotli = pytest.importorskip("brotli")
        out["br"] = brotli.compress
    if "zstd" in _decoders.SUPPORTED_ENCODINGS:
        zstandard = pytest.importorskip("zstandard")
        out["zstd"] = zstandard.ZstdCompressor().compress
    return out


CODINGS = ["gzip", "deflate", "br", "zstd", "gzip, br", "deflate, zstd, gzip"]


def encode(coding: str, data: bytes) -> bytes:
    table = encoders()
    for name in (c.strip() for c in coding.split(",")):
        if name not in table:
            pytest.skip(f"{name} not available")
        data = table[name](data)
    return data


@pytest.mark.parametrize("coding", CODINGS)
def test_decoded_preload(serve: Any, coding: str) -> None:
    payload = encode(coding, BODY)
    c = serve(REQ, ok(payload, [("Content-Encoding", coding)]))
    r = c.get(preload=True)
    assert r.data == BODY
    assert r.tell() == len(payload)
    assert c.calls == [True]


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_decoded_stream_bounded(serve: Any, coding: str, framing: str) -> None:
    payload = encode(coding, BODY)
    if framing == "length":
        c = serve(REQ, ok(payload, [("Content-Encoding", coding)]))
    else:
        c = serve(
            REQ,
            head(200, [("Content-Encoding", coding), ("Transfer-Encoding", "chunked")]),
            chunked(payload[:10], payload[10:]),
        )
    r = c.get()
    pieces = list(r.stream(1000))
    assert b"".join(pieces) == BODY
    assert all(0 < len(p) <= 1000 for p in pieces)
    assert c.calls == [True]


@pytest.mark.parametrize("coding", CODINGS)
def test_decoded_read_amt_is_exact(serve: Any, coding: str) -> None:
    payload = encode(coding, BODY)
    c = serve(REQ, ok(payload, [("Content-Encoding", coding)]))
    r = c.get()
    out = [r.read(1234) for _ in range(len(BODY) // 1234)]
    assert all(len(p) == 1234 for p in out)
    out.append(r.read())
    assert b"".join(out) == BODY
    assert r.read(10) == b""
    assert c.calls == [True]


def test_decode_content_false_returns_raw(serve: Any) -> None:
    payload = gzip.compress(BODY)
    c = serve(
        REQ,
        ok(payload, [("Content-Encoding", "gzip")]),
        REQ,
        ok(payload, [("Content-Encoding", "gzip")]),
    )
    assert c.get(preload=True, decode=False).data == payload
    r = c.get()
    assert r.read(decode_content=False) == payload


def test_mixing_decoded_then_raw_reads_is_refused(serve: Any) -> None:
    c = serve(REQ, ok(gzip.compress(BODY), [("Content-Encoding", "gzip")]))
    r = c.get()
    r.read(10)
    with pytest.raises(RuntimeError):
        r.read(10, decode_content=False)


def test_encoding_is_read_from_the_headers_when_reading_starts(serve: Any) -> None:
    payload = gzip.compress(BODY)
    c = serve(REQ, ok(payload, [("Content-Encoding", "gzip")]))
    r = c.get()
    del r.headers["Content-Encoding"]
    assert r.read() == payload


def test_unknown_coding_is_left_alone(serve: Any) -> None:
    c = serve(REQ, ok(b"raw bytes", [("Content-Encoding", "compress")]))
    assert c.get(preload=True).data == b"raw bytes"


def test_corrupt_body_preload_is_decode_error_after_release(serve: Any) -> None:
    c = serve(REQ, ok(b"definitely not gzip", [("Content-Encoding", "gzip")]))
    with pytest.raises(DecodeError, match="content-encoding: gzip, but failed to decode it"):
        c.get(preload=True)
    assert c.calls == [True]  # the body was complete: the connection is fine


def test_corrupt_body_streamed_releases_not_reusable(serve: Any) -> None:
    c = serve(REQ, ok(b"not gzip" * 10000, [("Content-Encoding", "gzip")]))
    r = c.get()
    with pytest.raises(DecodeError):
        r.read(10)
    assert c.calls == [False]


def test_too_many_codings_is_decode_error(serve: Any) -> None:
    c = serve(REQ, ok(b"x", [("Content-Encoding", "gzip, gzip, gzip, gzip, gzip, gzip")]))
    r = c.get()
    with pytest.raises(DecodeError, match="Too many content encodings"):
        r.read()
    assert r.read(decode_content=False) == b"x"


def gzip_zero_bomb(size: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = c.compress(b"\0" * MiB) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(b"\0" * MiB, crc)
    return (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        + segment * (size // MiB)
        + end
        + (crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little"))
    )


def test_gzip_bomb_streams_in_bounded_chunks(serve: Any) -> None:
    size = 100 * MiB
    payload = gzip_zero_bomb(size)
    assert len(payload) < MiB
    c = serve(REQ, ok(payload, [("Content-Encoding", "gzip")]))
    r = c.get()
    total = biggest = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for piece in r.stream(65536):
            total += len(piece)
            biggest = max(biggest, len(piece))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == size
    assert biggest <= 65536
    assert peak < 8 * MiB, peak
    assert c.calls == [True]


def test_gzip_bomb_read_amt_is_bounded(serve: Any) -> None:
    payload = gzip_zero_bomb(1024 * MiB)
    c = serve(REQ, ok(payload, [("Content-Encoding", "gzip")]))
    r = c.get()
    for _ in range(16):
        assert r.read(MiB) == b"\0" * MiB
    r.close()
    assert c.calls == [False]


# -- the public constructor (bytes / file bodies), as people and requests' tests use it --------


def test_constructor_defaults() -> None:
    r = HTTPResponse()
    assert r.status == 0 and r.version == 0 and r.version_string == "HTTP/?"
    assert r.reason is None
    assert r.data is None
    assert r.closed
    assert r.msg is None and r._original_response is None
    assert r.connection is None
    assert isinstance(r.headers, HTTPHeaderDict)
    with pytest.raises(ValueError, match="_sock_shutdown is not set"):
        r.shutdown()


def test_constructor_with_bytes_and_str() -> None:
    assert HTTPResponse(body=b"abc").data == b"abc"
    assert HTTPResponse(body="abc").data == "abc"  # type: ignore[comparison-overlap]
    assert HTTPResponse(body=b"abc").read() == b""  # urllib3: None


def test_constructor_with_file_body() -> None:
    r = HTTPResponse(
        body=io.BytesIO(b"hello world"),
        headers={"Content-Length": "11", "Set-Cookie": "a=1"},
        status=200,
        preload_content=False,
    )
    assert r.read(5) == b"hello"
    assert r.tell() == 5 and r.length_remaining == 6
    assert not r.closed
    assert r.read() == b" world"
    assert r.data == b""
    assert r.headers["set-cookie"] == "a=1"


def test_constructor_gzip_file_body_and_stream() -> None:
    payload = gzip.compress(BODY)
    r = HTTPResponse(
        body=io.BytesIO(payload), headers={"content-encoding": "gzip"}, preload_content=False
    )
    pieces = list(r.stream(4096))
    assert b"".join(pieces) == BODY
    assert all(len(p) <= 4096 for p in pieces)
    r = HTTPResponse(body=io.BytesIO(payload), headers={"content-encoding": "gzip"})
    assert r.data == BODY


def test_constructor_short_file_body_enforced() -> None:
    r = HTTPResponse(
        body=io.BytesIO(b"hello"), headers={"content-length": "11"}, preload_content=False
    )
    with pytest.raises(ProtocolError) as ei:
        for _ in range(10):
            r.read(3)
    assert isinstance(ei.value.args[1], IncompleteRead)
    r = HTTPResponse(
        body=io.BytesIO(b"hello"),
        headers={"content-length": "11"},
        preload_content=False,
        enforce_content_length=False,
    )
    assert [r.read(3), r.read(3), r.read(3)] == [b"hel", b"lo", b""]


def test_constructor_read_chunked_needs_a_chunked_http_body() -> None:
    r = HTTPResponse(body=io.BytesIO(b"abc"), preload_content=False)
    with pytest.raises(ResponseNotChunked):
        next(r.read_chunked())
    r = HTTPResponse(
        body=io.BytesIO(b"abc"), headers={"transfer-encoding": "chunked"}, preload_content=False
    )
    with pytest.raises(BodyNotHttplibCompatible):
        next(r.read_chunked())
    assert list(r.stream()) == [b"abc"]


def test_constructor_release_conn_uses_the_pool() -> None:
    put: list[object] = []

    class Pool:
        def _put_conn(self, conn: object) -> None:
            put.append(conn)

    conn = object()
    r = HTTPResponse(body=io.BytesIO(b"x"), pool=Pool(), connection=conn, preload_content=False)
    assert r.connection is conn
    r.release_conn()
    assert put == [conn] and r.connection is None


def test_constructor_msg_and_original_response_are_kept() -> None:
    msg = object()
    orig = object()
    r = HTTPResponse(body=b"", msg=msg, original_response=orig)
    assert r.msg is msg
    assert r._original_response is orig


def test_constructor_content_length_rules() -> None:
    from urllib3.exceptions import InvalidHeader

    assert HTTPResponse(headers={"content-length": "10, 10"}).length_remaining == 10
    assert HTTPResponse(headers={"content-length": "x"}).length_remaining is None
    assert HTTPResponse(headers={"content-length": "10"}, status=204).length_remaining == 0
    assert (
        HTTPResponse(headers={"content-length": "10"}, request_method="HEAD").length_remaining == 0
    )
    with pytest.raises(InvalidHeader):
        HTTPResponse(headers={"content-length": "10, 11"})


def test_constructor_lines_and_readinto() -> None:
    r = HTTPResponse(body=io.BytesIO(b"a\nb\n\nc"), preload_content=False)
    assert list(r) == [b"a\n", b"b\n", b"\n", b"c"]
    r = HTTPResponse(body=io.BytesIO(b"abcdef"), preload_content=False)
    buf = bytearray(4)
    assert r.readinto(buf) == 4 and buf == b"abcd"
    assert r.read1() == b"ef"


def test_constructor_json() -> None:
    assert HTTPResponse(body=io.BytesIO(b'{"a": 1}')).json() == {"a": 1}
    with pytest.raises(json.JSONDecodeError):
        HTTPResponse(body=io.BytesIO(b"{bad")).json()


def test_connection_reset_mid_body_is_protocol_error(serve: Any) -> None:
    c = serve(REQ, head(200, [("Content-Length", "100000")]), b"x" * 10, RESET)
    r = c.get()
    with pytest.raises(ProtocolError, match="Connection broken"):
        for _ in range(100):
            time.sleep(0.05)
            r.read(5)
    assert c.calls == [False]


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_reads_after_release_conn_are_empty_even_mid_stream(serve: Any, coding: str) -> None:
    body = os.urandom(300_000)  # bigger on the wire than one read
    payload = encode(coding, body)
    c = serve(REQ, ok(payload, [("Content-Encoding", coding)]))
    r = c.get()
    assert r.read(10) == body[:10]
    r.release_conn()
    assert r.read() == b"" and r.read(10) == b"" and list(r.stream(10)) == []
    assert c.calls == [False]


def test_read_chunked_without_amt(serve: Any) -> None:
    c = serve(REQ, head(200, [("Transfer-Encoding", "chunked")]), chunked(b"a" * 70000, b"b"))
    r = c.get()
    pieces = list(r.read_chunked())
    assert b"".join(pieces) == b"a" * 70000 + b"b"
    assert all(0 < len(p) <= 65536 for p in pieces)
    assert c.calls == [True]
