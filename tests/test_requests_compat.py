"""Regressions found by running requests' own test suite (2.34) through
``fastpool.contrib.requests.HTTPAdapter``, and the deliberate differences that
run showed up.

Each scenario runs on the stock adapter (urllib3 underneath: proves the
expectation) and on fastpool's (proves the fix), against real sockets on
127.0.0.1. A few tests drive the response objects directly, urllib3's and
fastpool's side by side.
"""

from __future__ import annotations

import gzip
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import requests.adapters
import urllib3
from requests import exceptions as rex

import fastpool

from _server import ScriptedServer, read_request, response_bytes

KINDS = ["stock", "fastpool"]

GZ_BODY = b"hello world, " * 40
GZ = gzip.compress(GZ_BODY)


def adapter_class(kind: str) -> type[requests.adapters.HTTPAdapter]:
    if kind == "stock":
        return requests.adapters.HTTPAdapter
    from fastpool.contrib.requests import HTTPAdapter

    return HTTPAdapter


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_session() -> Iterator[Callable[..., requests.Session]]:
    made: list[requests.Session] = []

    def make(kind: str, **adapter_kw: Any) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.mount("http://", adapter_class(kind)(**adapter_kw))
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


Route = Callable[[socket.socket], bool]


def routes(table: dict[str, Route]) -> Callable[[socket.socket, int], None]:
    """A keep-alive handler: ``table[path](sock)`` writes the response and
    returns whether the connection stays open; other paths get 200 ``ok``."""

    def handler(sock: socket.socket, index: int) -> None:
        with sock.makefile("rb") as rfile:
            for _ in range(50):
                req = read_request(rfile)
                if req is None:
                    return
                route = table.get(req.target)
                if route is None:
                    sock.sendall(response_bytes(200, b"ok"))
                elif not route(sock):
                    return

    return handler


def send(data: bytes, keep: bool = True) -> Route:
    def route(sock: socket.socket) -> bool:
        sock.sendall(data)
        return keep

    return route


def truncated_gzip(framing: str) -> bytes:
    """A gzip body cut 6 bytes short, then the connection closes."""
    cut = GZ[:-6]
    if framing == "length":
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(GZ)
        return head + cut
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + b"%x\r\n" % len(cut) + cut + b"\r\n"


# ------------------------------------------------- content decoding and redirects


def test_redirect_whose_body_does_not_decode_is_followed(
    kind: str, new_session: Callable[..., requests.Session]
) -> None:
    # requests reads a redirect's body, and when decoding fails, drains it with
    # raw.read(decode_content=False) (requests' test_redirect_with_wrong_gzipped_header).
    # fastpool raised RuntimeError there: it counted the failed attempt as decoding.
    bad = response_bytes(
        302, b"this is not gzip", [("Location", "/ok"), ("Content-Encoding", "gzip")]
    )
    with ScriptedServer(routes({"/r": send(bad)})) as srv:
        r = new_session(kind).get(srv.url + "/r")
    assert r.status_code == 200
    assert r.content == b"ok"
    assert [h.status_code for h in r.history] == [302]


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_redirect_whose_body_is_cut_short_is_followed(
    kind: str, new_session: Callable[..., requests.Session], framing: str
) -> None:
    # Decoding worked for a while, then the body broke: requests' drain with
    # decode_content=False must give b"" (nothing left), not RuntimeError.
    # urllib3 (2.7, 2.8) raises that RuntimeError out of requests for a cut
    # Content-Length body: the stock side may fail, fastpool's must not.
    cut = truncated_gzip(framing).replace(b"200 OK\r\n", b"302 Found\r\nLocation: /ok\r\n", 1)
    with ScriptedServer(routes({"/r": send(cut, keep=False)})) as srv:
        s = new_session(kind)
        try:
            r = s.get(srv.url + "/r")
        except RuntimeError:
            assert kind == "stock"
            return
    assert r.status_code == 200
    assert r.content == b"ok"
    assert [h.status_code for h in r.history] == [302]


@pytest.mark.parametrize("stream", [False, True], ids=["content", "iter_content"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_gzip_body_cut_short_is_chunked_encoding_error(
    kind: str, new_session: Callable[..., requests.Session], framing: str, stream: bool
) -> None:
    # fastpool returned the decodable prefix as a complete body (the error kept
    # for the next read was lost once the socket was gone).
    with ScriptedServer(routes({"/": send(truncated_gzip(framing), keep=False)})) as srv:
        s = new_session(kind)
        with pytest.raises(rex.ChunkedEncodingError):
            r = s.get(srv.url + "/", stream=stream)
            for _ in r.iter_content(7):
                pass


@pytest.mark.parametrize("lib", ["urllib3", "fastpool"])
@pytest.mark.parametrize("amt", [None, 7])
def test_read_raw_after_decoding_failed_or_finished(lib: str, amt: int | None) -> None:
    mod: Any = urllib3 if lib == "urllib3" else fastpool
    body = b"this is not gzip"
    bad = response_bytes(200, body, [("Content-Encoding", "gzip")])
    good = response_bytes(200, GZ, [("Content-Encoding", "gzip")])
    cut = truncated_gzip("length")
    table = {"/bad": send(bad), "/good": send(good), "/cut": send(cut, keep=False)}
    with ScriptedServer(routes(table)) as srv:
        pm = mod.PoolManager()
        try:
            # Decoding failed at once: nothing was decoded, raw reads are allowed.
            r = pm.request("GET", srv.url + "/bad", preload_content=False)
            with pytest.raises(urllib3.exceptions.DecodeError):
                r.read(amt, decode_content=True)
            r.read(decode_content=False)  # no RuntimeError (what is left is lib-specific)
            if lib == "urllib3":
                return  # urllib3 is not consistent about the rest (it depends on amt)

            # Decoded to the end: a raw read finds nothing, and says so with b"".
            r = pm.request("GET", srv.url + "/good", preload_content=False)
            assert b"".join(r.stream(amt, decode_content=True)) == GZ_BODY
            assert r.read(decode_content=False) == b""

            # Decoded, then cut short: the error first, then b"" (no RuntimeError).
            r = pm.request("GET", srv.url + "/cut", preload_content=False)
            with pytest.raises(urllib3.exceptions.ProtocolError):
                for _ in r.stream(amt, decode_content=True):
                    pass
            assert r.read(decode_content=False) == b""
        finally:
            pm.clear()


def test_raw_read_in_the_middle_of_decoding_is_refused() -> None:
    # The other side of the rule above: urllib3 refuses to mix raw and decoded
    # reads while there is body left, and so does fastpool.
    big = gzip.compress(bytes(range(256)) * 2000)
    resp = response_bytes(200, big, [("Content-Encoding", "gzip")])
    for mod in (urllib3, fastpool):
        with ScriptedServer(routes({"/": send(resp)})) as srv:
            pm: Any = mod.PoolManager()
            r = pm.request("GET", srv.url + "/", preload_content=False)
            assert r.read(10, decode_content=True) == bytes(range(10))
            with pytest.raises(RuntimeError):
                r.read(10, decode_content=False)
            r.release_conn()
            pm.clear()


# --------------------------------------------------------------------- pool sizes


def test_pool_maxsize_zero(kind: str, new_session: Callable[..., requests.Session]) -> None:
    # urllib3 takes maxsize=0; fastpool's pools need one slot, so the adapter
    # uses 1. fastpool raised ValueError on the first request.
    with ScriptedServer(routes({})) as srv:
        s = new_session(kind, pool_maxsize=0)
        assert [s.get(srv.url + "/").text for _ in range(3)] == ["ok"] * 3


def test_no_pools_and_no_pool_size(kind: str, new_session: Callable[..., requests.Session]) -> None:
    # requests' test_urllib3_pool_connection_closed: with urllib3 1.x this was
    # ConnectionError("Pool is closed."); urllib3 2.x and fastpool serve it.
    with ScriptedServer(routes({})) as srv:
        s = new_session(kind, pool_connections=0, pool_maxsize=0)
        assert [s.get(srv.url + "/").text for _ in range(2)] == ["ok"] * 2


# -------------------------------------------------- deliberate differences, pinned


@pytest.mark.parametrize(
    "head",
    [
        # requests' test_chunked_encoding_error:
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: b\r\n",
    ],
    ids=["chunked", "length", "unframed"],
)
def test_head_cut_off_by_close(
    kind: str, new_session: Callable[..., requests.Session], head: bytes
) -> None:
    # http.client takes the close as the end of the head: the response is
    # "complete", and the body then fails (ChunkedEncodingError) or, with no
    # framing, is empty and the request succeeds. fastpool refuses a head that
    # never ended (docs/differences.md): ConnectionError.
    with ScriptedServer(routes({"/": send(head, keep=False)})) as srv:
        s = new_session(kind)
        if kind == "fastpool":
            with pytest.raises(rex.ConnectionError) as ei:
                s.get(srv.url + "/")
            assert type(ei.value) is rex.ConnectionError
            assert "response head" in str(ei.value)
        elif b"X-A" in head:
            assert s.get(srv.url + "/").content == b""
        else:
            with pytest.raises(rex.ChunkedEncodingError):
                s.get(srv.url + "/")


def test_interim_103_is_skipped(kind: str, new_session: Callable[..., requests.Session]) -> None:
    # http.client only skips 100 Continue and hands a 103 Early Hints back as
    # the response; fastpool skips every interim 1xx but 101.
    data = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + response_bytes(
        200, b"final"
    )
    with ScriptedServer(routes({"/": send(data)})) as srv:
        r = new_session(kind).get(srv.url + "/")
    if kind == "stock":
        assert (r.status_code, r.content) == (103, b"")
    else:
        assert (r.status_code, r.content) == (200, b"final")


def test_unrequested_101_is_connection_error(
    kind: str, new_session: Callable[..., requests.Session]
) -> None:
    data = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    with ScriptedServer(routes({"/": send(data, keep=False)})) as srv:
        s = new_session(kind)
        if kind == "stock":
            assert s.get(srv.url + "/").status_code == 101
        else:
            with pytest.raises(rex.ConnectionError):
                s.get(srv.url + "/")


# ------------------------------------------------------------------------ proxies

PROXY_KINDS = ["stock", "fastpool"]


def _reply_then(data: bytes, stall: bool = False) -> Callable[[socket.socket, int], None]:
    def handler(sock: socket.socket, index: int) -> None:
        with sock.makefile("rb") as rfile:
            if read_request(rfile) is None:
                return
            sock.sendall(data)
            if stall:
                while sock.recv(4096):
                    pass

    return handler


def _exactly(exc_type: type[BaseException], fn: Callable[[], object]) -> None:
    with pytest.raises(BaseException) as ei:
        fn()
    assert type(ei.value) is exc_type, repr(ei.value)


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_connect_reply_never_comes_is_read_timeout(
    kind: str, new_session: Callable[..., requests.Session]
) -> None:
    # urllib3 counts the proxy as connected before it reads the CONNECT reply:
    # a timeout there is a ReadTimeoutError, not a ProxyError.
    with ScriptedServer(_reply_then(b"", stall=True)) as proxy:
        s = new_session(kind)
        s.mount("https://", adapter_class(kind)())
        url = "https://origin.invalid/"
        _exactly(rex.ReadTimeout, lambda: s.get(url, proxies={"https": proxy.url}, timeout=0.3))


@pytest.mark.parametrize("kind", PROXY_KINDS)
@pytest.mark.parametrize("reply", [b"", b"garbage\r\n\r\n"], ids=["close", "garbage"])
def test_connect_reply_broken_is_connection_error(
    kind: str, new_session: Callable[..., requests.Session], reply: bytes
) -> None:
    # ConnectionError("Connection aborted.", ...); a non-2xx reply is
    # ProxyError on both (test_requests_adapter covers it).
    with ScriptedServer(_reply_then(reply)) as proxy:
        s = new_session(kind)
        s.mount("https://", adapter_class(kind)())
        url = "https://origin.invalid/"
        _exactly(rex.ConnectionError, lambda: s.get(url, proxies={"https": proxy.url}, timeout=2))


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_forwarding_proxy_closing_without_reply_is_proxy_error(
    kind: str, new_session: Callable[..., requests.Session]
) -> None:
    # ProxyError("Unable to connect to proxy", RemoteDisconnected): http.client
    # closes the connection, and urllib3 then counts it as not connected.
    with ScriptedServer(_reply_then(b"")) as proxy:
        s = new_session(kind)
        url = "http://origin.invalid/"
        _exactly(rex.ProxyError, lambda: s.get(url, proxies={"http": proxy.url}, timeout=2))
