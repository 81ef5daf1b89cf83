"""Behaviour found by running urllib3 2.7's own test suite against fastpool.

Each test pins one observable behaviour urllib3 has that fastpool lacked (or
got wrong), over real sockets on 127.0.0.1. The suite runs on both twins
(``FASTPOOL_NO_EXTENSIONS=1`` for the pure one).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from fastpool.connectionpool import HTTPConnectionPool
from fastpool.util.retry import Retry

from _server import Request, ScriptedServer, read_request, response_bytes, serve_http


def _recv_request(sock: socket.socket) -> Request:
    rfile = sock.makefile("rb")
    try:
        req = read_request(rfile)
    finally:
        rfile.close()
    assert req is not None
    return req


@pytest.fixture
def recorder() -> Iterator[tuple[ScriptedServer, list[Request]]]:
    seen: list[Request] = []

    def app(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        seen.append(req)
        return 200, [], b"ok"

    with ScriptedServer(serve_http(app)) as srv:
        yield srv, seen


# -- a Transfer-Encoding header set by the caller frames the body ---------------


@pytest.mark.parametrize("name", ["Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING"])
@pytest.mark.parametrize("body", [b"xxxxxxxx", "xxxxxxxx", bytearray(b"xxxxxxxx")])
def test_transfer_encoding_header_chunks_the_body(
    recorder: tuple[ScriptedServer, list[Request]], name: str, body: object
) -> None:
    # urllib3 chunk-encodes the body when the caller's headers say
    # "Transfer-Encoding: chunked"; sending it raw left the server waiting for
    # a chunk size (the request hung until the read timeout).
    srv, seen = recorder
    with HTTPConnectionPool("127.0.0.1", srv.port, timeout=5, retries=False) as pool:
        r = pool.request("POST", "/", body=body, headers={name: "chunked"})
        assert r.status == 200
        assert r.data == b"ok"
        # the connection is still in sync: a second request on it works
        r = pool.request("POST", "/", body=b"abc", headers={name: "chunked"})
        assert r.data == b"ok"
    assert [req.body for req in seen] == [b"xxxxxxxx", b"abc"]
    for req in seen:
        assert req.header_all("transfer-encoding") == ["chunked"]
        assert req.header("content-length") is None


def test_transfer_encoding_header_without_body_sends_last_chunk(
    recorder: tuple[ScriptedServer, list[Request]],
) -> None:
    srv, seen = recorder
    with HTTPConnectionPool("127.0.0.1", srv.port, timeout=5, retries=False) as pool:
        r = pool.request("POST", "/", headers={"Transfer-Encoding": "chunked"})
        assert r.status == 200
        r = pool.request("POST", "/", headers={"Transfer-Encoding": "chunked"})
        assert r.status == 200
    assert [req.body for req in seen] == [b"", b""]
    assert seen[1].extra["connection_index"] == 0  # kept alive, framing intact


def test_transfer_encoding_wire_bytes() -> None:
    got: list[bytes] = []
    done = threading.Event()

    def handler(sock: socket.socket, index: int) -> None:
        buf = b""
        while not buf.endswith(b"0\r\n\r\n"):
            data = sock.recv(65536)
            if not data:
                break
            buf += data
        got.append(buf)
        sock.sendall(response_bytes(200, b""))
        done.wait(5)

    with ScriptedServer(handler) as srv:
        with HTTPConnectionPool("127.0.0.1", srv.port, timeout=5, retries=False) as pool:
            r = pool.request("PUT", "/", body=b"xxxxxxxx", headers={"transfer-encoding": "chunked"})
            assert r.status == 200
        done.set()
    assert got[0].endswith(b"transfer-encoding: chunked\r\n\r\n8\r\nxxxxxxxx\r\n0\r\n\r\n")


def test_content_length_header_wins_over_transfer_encoding_detection(
    recorder: tuple[ScriptedServer, list[Request]],
) -> None:
    srv, seen = recorder
    with HTTPConnectionPool("127.0.0.1", srv.port, timeout=5, retries=False) as pool:
        r = pool.request("POST", "/", body=b"xxxxxxxx", headers={"Content-Length": "8"})
        assert r.status == 200
    assert seen[0].body == b"xxxxxxxx"
    assert seen[0].header("transfer-encoding") is None


# -- an early answer while the body is still being sent ---------------------------


@pytest.mark.parametrize(
    "kind",
    ["bytes", "str", "chunked"],
)
def test_early_response_and_close_during_upload_is_returned(kind: str) -> None:
    # A server may answer (413, 404, ...) before reading the whole upload and
    # close; the upload then fails with EPIPE / ECONNRESET. urllib3 swallows
    # that and returns the response that arrived.
    answered = threading.Event()

    def handler(sock: socket.socket, index: int) -> None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        sock.sendall(
            b"HTTP/1.1 413 Payload Too Large\r\n"
            b"Connection: close\r\n"
            b"Content-Length: 10\r\n"
            b"\r\n"
            b"xxxxxxxxxx"
        )
        sock.shutdown(socket.SHUT_RDWR)
        answered.set()

    payload = b"a" * (8 * 1024 * 1024)
    body: object = payload.decode() if kind == "str" else payload
    with ScriptedServer(handler) as srv:
        with HTTPConnectionPool("127.0.0.1", srv.port, timeout=10, retries=False) as pool:
            r = pool.request("POST", "/", body=body, chunked=kind == "chunked")
            assert r.status == 413
            assert r.headers["content-length"] == "10"
            assert r.data == b"xxxxxxxxxx"
            assert pool.stats()["in_use"] == 0
    assert answered.is_set()


def test_stale_reused_connection_still_replayed_after_send_error() -> None:
    # Swallowing EPIPE while sending must not hide a stale keep-alive
    # connection: with no answer at all, the idempotent request is sent again
    # on a new connection without spending the Retry budget.
    def handler(sock: socket.socket, index: int) -> None:
        req = _recv_request(sock) if index == 0 else None
        if index == 0:
            assert req is not None
            sock.sendall(response_bytes(200, b"first"))
            sock.shutdown(socket.SHUT_RDWR)  # closes while idle in the pool
            return
        rfile = sock.makefile("rb")
        try:
            while True:
                req2 = read_request(rfile)
                if req2 is None:
                    return
                sock.sendall(response_bytes(200, b"second"))
        finally:
            rfile.close()

    with ScriptedServer(handler) as srv:
        with HTTPConnectionPool("127.0.0.1", srv.port, timeout=5, retries=Retry(0)) as pool:
            assert pool.request("GET", "/").data == b"first"
            r = pool.request("PUT", "/", body=b"x" * (4 * 1024 * 1024))
            assert r.data == b"second"


# -- names and call shapes that code written for urllib3 relies on -------------


def test_verified_https_connection_alias() -> None:
    from fastpool.connection import HTTPSConnection, VerifiedHTTPSConnection

    assert VerifiedHTTPSConnection is HTTPSConnection


def test_connection_from_pool_key_gets_request_context_by_keyword(
    recorder: tuple[ScriptedServer, list[Request]],
) -> None:
    # urllib3 passes request_context by keyword; overrides written for it
    # (keyword-only, or reading kwargs["request_context"]) must keep working.
    from typing import Any

    from fastpool.poolmanager import PoolManager

    srv, _seen = recorder
    calls: list[dict[str, Any]] = []

    class Recording(PoolManager):
        def connection_from_pool_key(  # type: ignore[override]
            self, pool_key: Any, *, request_context: dict[str, Any]
        ) -> Any:
            calls.append(dict(request_context))
            return super().connection_from_pool_key(pool_key, request_context=request_context)

    with Recording() as pm:
        r = pm.request("GET", f"{srv.url}/x")
        assert r.status == 200
        pm.connection_from_context({"scheme": "http", "host": "127.0.0.1", "port": srv.port})
    assert calls
    assert all(c["host"] == "127.0.0.1" for c in calls)
