"""HTTPConnectionPool against real servers on 127.0.0.1: features and error paths."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    EmptyPoolError,
    HostChangedError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    UnrewindableBodyError,
)
from urllib3.util import SKIP_HEADER

from fastpool import connectionpool as cp
from fastpool.connection import HTTPConnection
from fastpool.connectionpool import HTTPConnectionPool
from fastpool.util.retry import Retry
from fastpool.util.timeout import Timeout

from _server import Request, ScriptedServer, read_request, response_bytes, serve_http


def echo(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    out = {
        "method": req.method,
        "target": req.target,
        "headers": req.headers,
        "body": req.body.decode("latin-1"),
        "conn": req.extra["connection_index"],
    }
    return 200, [("Content-Type", "application/json")], json.dumps(out).encode()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(serve_http(echo)) as srv:
        yield srv


@pytest.fixture
def pool(server: ScriptedServer) -> Iterator[HTTPConnectionPool]:
    with HTTPConnectionPool("127.0.0.1", server.port, retries=Retry(0, read=False)) as p:
        yield p


def hdr(seen: dict, name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_stats(pool: HTTPConnectionPool) -> dict:
    s = pool.stats()
    assert s["open"] == s["idle"] + s["in_use"] == s["created"] - s["discarded"] - s["refused"]
    assert s["connections_opened"] == s["created"] + s["dropped"] + s["expired"]
    return s


# -- basics -------------------------------------------------------------------


def test_get_default_headers_and_reuse(pool: HTTPConnectionPool, server: ScriptedServer) -> None:
    seen = [pool.request("GET", "/a?b=1").json() for _ in range(3)]
    assert [s["target"] for s in seen] == ["/a?b=1"] * 3
    assert {s["conn"] for s in seen} == {0}
    first = seen[0]
    assert hdr(first, "Host") == [f"127.0.0.1:{server.port}"]
    assert hdr(first, "Accept-Encoding") == ["identity"]
    assert hdr(first, "User-Agent") == [cp.DEFAULT_USER_AGENT]
    assert hdr(first, "Content-Length") == []
    s = check_stats(pool)
    assert (s["created"], s["reused"], s["requests"], s["idle"]) == (1, 2, 3, 1)
    assert pool.num_requests == 3 and pool.num_connections == 1


def test_response_attributes(pool: HTTPConnectionPool) -> None:
    r = pool.request("GET", "/x")
    assert r.status == 200 and r.reason == "OK" and r.version == 11
    assert r.headers["content-type"] == "application/json"
    assert r.retries is not None and r.retries.history == ()


def test_pool_headers_replaced_not_merged(server: ScriptedServer) -> None:
    with HTTPConnectionPool("127.0.0.1", server.port, headers={"X-Pool": "1"}) as p:
        assert hdr(p.request("GET", "/").json(), "X-Pool") == ["1"]
        seen = p.request("GET", "/", headers={"X-Req": "2"}).json()
        assert hdr(seen, "X-Pool") == [] and hdr(seen, "X-Req") == ["2"]
        p.headers["X-Later"] = "3"  # the pool's headers are read per request
        assert hdr(p.request("GET", "/").json(), "X-Later") == ["3"]


def test_skip_header(pool: HTTPConnectionPool) -> None:
    seen = pool.request(
        "GET",
        "/",
        headers={"User-Agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER, "Host": SKIP_HEADER},
    ).json()
    assert hdr(seen, "User-Agent") == hdr(seen, "Accept-Encoding") == hdr(seen, "Host") == []
    seen = pool.request("GET", "/", headers={"User-Agent": "me", "host": "example"}).json()
    assert hdr(seen, "User-Agent") == ["me"] and hdr(seen, "host") == ["example"]
    with pytest.raises(ValueError, match="SKIP_HEADER only supports"):
        pool.request("GET", "/", headers={"X-Other": SKIP_HEADER})


def test_invalid_header_refused_before_sending(pool: HTTPConnectionPool) -> None:
    with pytest.raises(ValueError):
        pool.request("GET", "/", headers={"X-Bad": "a\r\nInjected: 1"})
    with pytest.raises(ValueError):
        pool.request("GET\r\nX: y", "/")
    assert pool.request("GET", "/a\r\nX: y").json()["target"] == "/a%0D%0AX:%20y"
    assert pool.request("GET", "/ok").status == 200
    check_stats(pool)


def test_target_encoding_matches_urllib3(pool: HTTPConnectionPool) -> None:
    assert pool.request("GET", "/a b?c d#frag").json()["target"] == "/a%20b?c%20d"
    assert pool.request("GET", "/%2f?q=%7e").json()["target"] == "/%2F?q=%7E"
    assert pool.request("GET", "/%2F?q=%7E").json()["target"] == "/%2F?q=%7E"


def test_absolute_url_same_host(pool: HTTPConnectionPool, server: ScriptedServer) -> None:
    url = f"http://127.0.0.1:{server.port}/abs"
    seen = pool.request("GET", url).json()
    assert seen["target"] == url
    with pytest.raises(HostChangedError):
        pool.request("GET", "http://example.invalid/")
    assert pool.is_same_host("/x") and pool.is_same_host(url)
    assert not pool.is_same_host(f"https://127.0.0.1:{server.port}/")


def test_head_request(pool: HTTPConnectionPool) -> None:
    r = pool.request("HEAD", "/h")
    assert r.status == 200 and r.data == b""
    assert pool.request("GET", "/after").json()["conn"] == 0


# -- bodies -------------------------------------------------------------------


def test_bodies(pool: HTTPConnectionPool) -> None:
    seen = pool.request("POST", "/", body=b"bytes").json()
    assert seen["body"] == "bytes" and hdr(seen, "Content-Length") == ["5"]
    seen = pool.request("POST", "/", body="h\u00e9").json()
    assert seen["body"] == "h\u00e9".encode().decode("latin-1")
    assert hdr(seen, "Content-Length") == ["3"]
    seen = pool.request("POST", "/", body=bytearray(b"buf")).json()
    assert seen["body"] == "buf" and hdr(seen, "Content-Length") == ["3"]
    seen = pool.request("POST", "/", body=io.BytesIO(b"file" * 10000)).json()
    assert seen["body"] == "file" * 10000 and hdr(seen, "Transfer-Encoding") == ["chunked"]
    seen = pool.request("POST", "/", body=io.StringIO("text")).json()
    assert seen["body"] == "text"
    seen = pool.request("PUT", "/", body=iter([b"a", b"", "b", b"c"])).json()
    assert seen["body"] == "abc" and hdr(seen, "Transfer-Encoding") == ["chunked"]
    seen = pool.urlopen("POST", "/", body=b"xyz", chunked=True).json()
    assert seen["body"] == "xyz" and hdr(seen, "Transfer-Encoding") == ["chunked"]
    seen = pool.request("POST", "/").json()
    assert seen["body"] == "" and hdr(seen, "Content-Length") == ["0"]
    seen = pool.request("POST", "/", body=io.BytesIO(b"12345"), headers={"Content-Length": "5"})
    assert seen.json()["body"] == "12345"
    with pytest.raises(TypeError):
        pool.request("POST", "/", body=object())
    check_stats(pool)


def test_fields_json_multipart(pool: HTTPConnectionPool) -> None:
    seen = pool.request("GET", "/q", fields={"a": "1", "b": "x y"}).json()
    assert seen["target"] == "/q?a=1&b=x+y"
    seen = pool.request("POST", "/", json={"k": [1, "\u00e9"]}).json()
    assert hdr(seen, "Content-Type") == ["application/json"]
    assert json.loads(seen["body"].encode("latin-1")) == {"k": [1, "\u00e9"]}
    seen = pool.request("POST", "/", fields={"f": ("n.txt", b"data", "text/plain")}).json()
    assert hdr(seen, "Content-Type")[0].startswith("multipart/form-data; boundary=")
    assert 'filename="n.txt"' in seen["body"] and "data" in seen["body"]
    seen = pool.request_encode_body("POST", "/", fields={"a": "b"}, encode_multipart=False)
    seen = seen.json()
    assert seen["body"] == "a=b"
    assert hdr(seen, "Content-Type") == ["application/x-www-form-urlencoded"]
    with pytest.raises(TypeError):
        pool.request("POST", "/", body=b"x", json={})


# -- connection errors --------------------------------------------------------


def test_new_connection_error() -> None:
    with HTTPConnectionPool("127.0.0.1", closed_port(), retries=2) as p:
        with pytest.raises(MaxRetryError) as ei:
            p.request("GET", "/")
        assert isinstance(ei.value.reason, NewConnectionError)
        assert "Failed to establish a new connection" in str(ei.value.reason)
        with pytest.raises(NewConnectionError):
            p.request("GET", "/", retries=False)
        s = check_stats(p)
        assert s["open"] == 0 and s["discarded"] == s["created"] == 4


def test_name_resolution_error() -> None:
    start = time.monotonic()
    with HTTPConnectionPool("name.invalid", 80, retries=False) as p:
        with pytest.raises(NameResolutionError) as ei:
            p.request("GET", "/")
    assert "name.invalid" in str(ei.value)
    assert time.monotonic() - start < 10


def test_connect_timeout() -> None:
    # A listener whose accept backlog is full drops further SYNs on Linux, so
    # the connect never completes: a loopback-only connect timeout.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        time.sleep(0.05)
        with HTTPConnectionPool("127.0.0.1", port, timeout=Timeout(connect=0.2)) as p:
            start = time.monotonic()
            with pytest.raises((ConnectTimeoutError, MaxRetryError)) as ei:
                p.request("GET", "/", retries=Retry(connect=1, read=False))
            err = ei.value.reason if isinstance(ei.value, MaxRetryError) else ei.value
            if not isinstance(err, ConnectTimeoutError) or isinstance(err, NewConnectionError):
                pytest.skip(f"backlog trick did not stall the connect here: {err!r}")
            assert "timed out. (connect timeout=0.2)" in str(err)
            assert time.monotonic() - start < 3
    finally:
        for s in fillers:
            s.close()
        listener.close()


def stalling_server(delay_first: int = 1) -> ScriptedServer:
    """Reads requests; stays silent for the first ``delay_first`` connections."""

    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            while (req := read_request(rfile)) is not None:
                if index < delay_first:
                    time.sleep(1.5)
                    return
                sock.sendall(response_bytes(200, req.method.encode()))
        finally:
            rfile.close()

    return ScriptedServer(handler)


def test_read_timeout_retried_for_get_not_post() -> None:
    with (
        stalling_server(1) as srv,
        HTTPConnectionPool("127.0.0.1", srv.port, timeout=Timeout(read=0.2)) as p,
    ):
        r = p.request("GET", "/", retries=Retry(total=1))
        assert r.data == b"GET" and len(r.retries.history) == 1
        assert isinstance(r.retries.history[0].error, ReadTimeoutError)
        check_stats(p)
    with stalling_server(1) as srv, HTTPConnectionPool("127.0.0.1", srv.port, timeout=0.2) as p:
        with pytest.raises(ReadTimeoutError, match=r"read timeout=0\.2"):
            p.request("POST", "/", body=b"x", retries=Retry(total=3))
        check_stats(p)
    with (
        stalling_server(5) as srv,
        HTTPConnectionPool("127.0.0.1", srv.port, timeout=Timeout(connect=1, read=0.1)) as p,
    ):
        with pytest.raises(MaxRetryError) as ei:
            p.request("GET", "/", retries=Retry(read=1))
        assert isinstance(ei.value.reason, ReadTimeoutError)
        s = check_stats(p)
        assert s["open"] == 0


def test_timeout_total_and_per_request_float() -> None:
    with stalling_server(5) as srv, HTTPConnectionPool("127.0.0.1", srv.port) as p:
        start = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            p.request("GET", "/", timeout=Timeout(total=0.3), retries=False)
        with pytest.raises(ReadTimeoutError):
            p.request("GET", "/", timeout=0.1, retries=False)
        assert time.monotonic() - start < 2


def scripted(*responses: bytes, close_after: bool = False) -> ScriptedServer:
    """Answers the n-th request (over all connections) with responses[n]."""
    counter = iter(range(10**6))
    lock = threading.Lock()
    bodies: list[bytes] = []

    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            while (req := read_request(rfile)) is not None:
                with lock:
                    n = next(counter)
                    bodies.append(req.body)
                sock.sendall(responses[min(n, len(responses) - 1)])
                if close_after:
                    return
        finally:
            rfile.close()

    srv = ScriptedServer(handler)
    srv.bodies = bodies  # type: ignore[attr-defined]
    return srv


def test_malformed_response_protocol_error() -> None:
    with scripted(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n") as srv:
        with HTTPConnectionPool("127.0.0.1", srv.port) as p:
            with pytest.raises(ProtocolError):
                p.request("POST", "/", retries=Retry(3))
            with pytest.raises(MaxRetryError) as ei:
                p.request("GET", "/", retries=Retry(1))
            assert isinstance(ei.value.reason, ProtocolError)
            s = check_stats(p)
            assert s["open"] == 0


def test_connection_aborted_wraps_remote_disconnected() -> None:
    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        read_request(rfile)
        rfile.close()  # closes without answering

    with ScriptedServer(handler) as srv, HTTPConnectionPool("127.0.0.1", srv.port) as p:
        with pytest.raises(ProtocolError) as ei:
            p.request("POST", "/", retries=False)
        assert ei.value.args[0] == "Connection aborted."
        assert type(ei.value.args[1]).__name__ == "RemoteDisconnected"


# -- stale connections --------------------------------------------------------


def test_idle_closed_connection_replaced_silently() -> None:
    ok = response_bytes(200, b"ok")
    with (
        scripted(ok, close_after=True) as srv,
        HTTPConnectionPool("127.0.0.1", srv.port, retries=Retry(0)) as p,
    ):
        assert p.request("GET", "/").data == b"ok"
        time.sleep(0.1)  # the server has closed the idle connection
        r = p.request("POST", "/", body=b"x")
        assert r.data == b"ok" and r.retries.history == ()
        s = check_stats(p)
        assert s["dropped"] == 1 and s["connections_opened"] == 2


def test_reused_connection_closed_during_send_is_replayed() -> None:
    # Connection 0 answers once, then reads the next request and closes without
    # a response: the race of an idle close with our send.
    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            n = 0
            while (req := read_request(rfile)) is not None:
                if index == 0 and n == 1:
                    return
                n += 1
                sock.sendall(response_bytes(200, f"{index}:{req.method}".encode()))
        finally:
            rfile.close()

    with (
        ScriptedServer(handler) as srv,
        HTTPConnectionPool("127.0.0.1", srv.port, retries=Retry(0, read=False)) as p,
    ):
        assert p.request("GET", "/").data == b"0:GET"
        r = p.request("GET", "/")
        assert r.data == b"1:GET" and r.retries.history == ()
        assert check_stats(p)["replayed"] == 1
    with (
        ScriptedServer(handler) as srv,
        HTTPConnectionPool("127.0.0.1", srv.port, retries=False) as p,
    ):
        assert p.request("POST", "/").data == b"0:POST"
        with pytest.raises(ProtocolError):  # not idempotent: never resent silently
            p.request("POST", "/")


# -- status retries, Retry-After, backoff ---------------------------------------


class RecordingRetry(Retry):
    sleeps: list[object]

    def sleep(self, response: object = None) -> None:
        RecordingRetry.sleeps.append(response)


def test_status_forcelist_and_history() -> None:
    bad = response_bytes(503, b"busy", reason="Service Unavailable")
    with (
        scripted(bad, bad, response_bytes(200, b"ok")) as srv,
        HTTPConnectionPool("127.0.0.1", srv.port) as p,
    ):
        RecordingRetry.sleeps = []
        r = p.request("GET", "/", retries=RecordingRetry(total=5, status_forcelist=[503]))
        assert r.data == b"ok"
        assert [h.status for h in r.retries.history] == [503, 503]
        assert len(RecordingRetry.sleeps) == 2
        assert all(s is not None for s in RecordingRetry.sleeps)
    with scripted(bad) as srv, HTTPConnectionPool("127.0.0.1", srv.port) as p:
        with pytest.raises(MaxRetryError) as ei:
            p.request("GET", "/", retries=Retry(total=1, status_forcelist=[503]))
        assert isinstance(ei.value.reason, ResponseError)
        assert "too many 503 error responses" in str(ei.value.reason)
        r = p.request(
            "GET", "/", retries=Retry(total=1, status_forcelist=[503], raise_on_status=False)
        )
        assert r.status == 503 and r.data == b"busy"
        # POST is not in the default allowed methods: no status retry
        assert p.request("POST", "/", retries=Retry(2, status_forcelist=[503])).status == 503
        check_stats(p)


def test_retry_after_honoured_without_forcelist() -> None:
    busy = response_bytes(429, b"", [("Retry-After", "1")], reason="Too Many Requests")
    with (
        scripted(busy, response_bytes(200, b"ok")) as srv,
        HTTPConnectionPool("127.0.0.1", srv.port) as p,
    ):
        slept: list[float] = []

        class R(Retry):
            def sleep_for_retry(self, response: object) -> bool:
                slept.append(self.get_retry_after(response))  # type: ignore[arg-type]
                return True

        r = p.request("GET", "/", retries=R(total=2))
        assert r.data == b"ok" and slept == [1]
        assert r.retries.history[0].status == 429


def test_backoff_on_connection_errors() -> None:
    RecordingRetry.sleeps = []
    with HTTPConnectionPool("127.0.0.1", closed_port()) as p:
        with pytest.raises(MaxRetryError):
            p.request("GET", "/", retries=RecordingRetry(total=2, backoff_factor=0.1))
    assert RecordingRetry.sleeps == [None, None]


def test_body_rewound_on_retry_and_unrewindable() -> None:
    bad = response_bytes(503, b"", reason="Service Unavailable")
    srv = scripted(bad, response_bytes(200, b"ok"))
    with srv, HTTPConnectionPool("127.0.0.1", srv.port) as p:
        body = io.BytesIO(b"payload")
        r = p.request(
            "PUT",
            "/",
            body=body,
            retries=Retry(2, status_forcelist=[503]),
        )
        assert r.data == b"ok"
        assert srv.bodies == [b"payload", b"payload"]  # type: ignore[attr-defined]

    class NoTell(io.BytesIO):
        def tell(self) -> int:
            raise OSError("no tell")

    with scripted(bad) as srv, HTTPConnectionPool("127.0.0.1", srv.port) as p:
        with pytest.raises(UnrewindableBodyError):
            p.request("PUT", "/", body=NoTell(b"x"), retries=Retry(2, status_forcelist=[503]))
        check_stats(p)


# -- redirects ------------------------------------------------------------------


def redirecting_app(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    if req.target.startswith("/r/"):
        status, _, rest = req.target[3:].partition("/")
        return int(status), [("Location", "/" + rest)], b"moved"
    if req.target == "/loop":
        return 302, [("Location", "/loop")], b""
    return echo(req)


def test_same_host_redirects() -> None:
    with (
        ScriptedServer(serve_http(redirecting_app)) as srv,
        HTTPConnectionPool("127.0.0.1", srv.port) as p,
    ):
        r = p.request("GET", "/r/302/final")
        assert r.status == 200 and r.json()["target"] == "/final"
        assert [h.redirect_location for h in r.retries.history] == ["/final"]
        seen = p.request("POST", "/r/303/x", body=b"secret", headers={"Content-Type": "a/b"})
        seen = seen.json()
        assert seen["method"] == "GET" and seen["body"] == ""
        assert hdr(seen, "Content-Type") == []
        seen = p.request("POST", "/r/307/x", body=b"keep").json()
        assert seen["method"] == "POST" and seen["body"] == "keep"
        r = p.request("GET", "/r/301/x", redirect=False)
        assert r.status == 301 and r.get_redirect_location() == "/x"
        with pytest.raises(MaxRetryError) as ei:
            p.request("GET", "/loop", retries=Retry(redirect=2))
        assert "too many redirects" in str(ei.value.reason)
        r = p.request("GET", "/loop", retries=Retry(redirect=2, raise_on_redirect=False))
        assert r.status == 302
        r = p.request("GET", "/r/302/x", retries=False)
        assert r.status == 302
        check_stats(p)


def test_redirect_to_other_host_raises_host_changed() -> None:
    def app(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        return 302, [("Location", "http://other.invalid/x")], b""

    with ScriptedServer(serve_http(app)) as srv, HTTPConnectionPool("127.0.0.1", srv.port) as p:
        with pytest.raises(HostChangedError):
            p.request("GET", "/")
        r = p.request("GET", "/", assert_same_host=False, redirect=False)
        assert r.status == 302
        check_stats(p)


# -- pool behaviour -------------------------------------------------------------


def test_block_pool_timeout_and_streaming(server: ScriptedServer) -> None:
    with HTTPConnectionPool("127.0.0.1", server.port, maxsize=1, block=True) as p:
        r = p.request("GET", "/", preload_content=False)
        assert p.stats()["in_use"] == 1
        with pytest.raises(EmptyPoolError):
            p.request("GET", "/", pool_timeout=0.05)
        assert json.loads(b"".join(r.stream(7)))["target"] == "/"
        s = check_stats(p)
        assert s["idle"] == 1 and s["timeouts"] == 1
        assert p.request("GET", "/").status == 200


def test_full_pool_warning(server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    with HTTPConnectionPool("127.0.0.1", server.port, maxsize=1) as p:
        r1 = p.request("GET", "/", preload_content=False)
        r2 = p.request("GET", "/", preload_content=False)
        with caplog.at_level(logging.WARNING, logger="fastpool.connectionpool"):
            r1.data, r2.data  # noqa: B018
        assert "Connection pool is full, discarding connection: 127.0.0.1. " in caplog.text
        assert "Connection pool size: 1" in caplog.text
        s = check_stats(p)
        assert s["refused"] == 1 and s["idle"] == 1


def test_closed_pool(server: ScriptedServer) -> None:
    p = HTTPConnectionPool("127.0.0.1", server.port)
    r = p.request("GET", "/", preload_content=False)
    p.close()
    with pytest.raises(ClosedPoolError):
        p.request("GET", "/")
    assert r.data  # a response in flight finishes; its connection is then closed
    s = p.stats()
    assert s["open"] == 0
    p.close()  # idempotent


def test_idle_timeout_max_lifetime_max_requests(server: ScriptedServer) -> None:
    with HTTPConnectionPool("127.0.0.1", server.port, idle_timeout=0.05) as p:
        assert p.request("GET", "/").json()["conn"] == 0
        assert p.request("GET", "/").json()["conn"] == 0
        time.sleep(0.1)
        assert p.request("GET", "/").json()["conn"] == 1
        assert check_stats(p)["expired"] == 1
    with HTTPConnectionPool("127.0.0.1", server.port, max_lifetime=0.05) as p:
        c0 = p.request("GET", "/").json()["conn"]
        time.sleep(0.1)
        assert p.request("GET", "/").json()["conn"] != c0
        assert check_stats(p)["expired"] == 1
    with HTTPConnectionPool("127.0.0.1", server.port, max_requests_per_connection=2) as p:
        conns = [p.request("GET", "/").json()["conn"] for _ in range(5)]
        assert conns[0] == conns[1] != conns[2] == conns[3] != conns[4]
        s = check_stats(p)
        assert s["discarded"] == 2 and s["created"] == 3


def test_connection_keywords(server: ScriptedServer) -> None:
    assert HTTPConnection.default_socket_options == [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    opts = [*HTTPConnection.default_socket_options, (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    with HTTPConnectionPool(
        "127.0.0.1",
        server.port,
        socket_options=opts,
        source_address=("127.0.0.1", 0),
        blocksize=1024,
    ) as p:
        r = p.request("GET", "/", preload_content=False)
        sock = r.connection.sock
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert r.connection.blocksize == 1024
        r.data  # noqa: B018


def test_log_messages(
    pool: HTTPConnectionPool, server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="fastpool"):
        pool.request("GET", "/log")
    msgs = [(r.name, r.getMessage()) for r in caplog.records]
    port = server.port
    assert (
        "fastpool.connectionpool",
        f"Starting new HTTP connection (1): 127.0.0.1:{port}",
    ) in msgs
    line = f'http://127.0.0.1:{port} "GET /log HTTP/1.1" 200 '
    assert any(m.startswith(line) for _, m in msgs), msgs
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fastpool"):
        with HTTPConnectionPool("127.0.0.1", closed_port()) as p:
            with pytest.raises(MaxRetryError):
                p.request("GET", "/x", retries=1)
    assert (
        "Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) "
        "after connection broken by 'NewConnectionError(" in caplog.text
    )


def test_https_pool_exists_and_verifies_by_default() -> None:
    pool = cp.HTTPSConnectionPool("localhost", 443)
    assert pool.scheme == "https" and pool.cert_reqs is None
    pool.close()
    conn = cp.HTTPSConnectionPool.ConnectionCls("localhost", 443)
    import ssl

    assert conn.cert_reqs == ssl.CERT_REQUIRED and conn.default_port == 443
