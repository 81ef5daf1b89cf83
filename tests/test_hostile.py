"""Hostile servers, end to end through the public API.

Every scenario goes through ``HTTPConnectionPool.request`` / ``urlopen`` (and
some through ``PoolManager``) against a raw-socket server on 127.0.0.1 that
misbehaves on ``/evil`` targets and serves well otherwise (``_hostile.py``).
For each one the test checks:

* the exact urllib3 exception class (directly with ``retries=False``, as
  ``MaxRetryError.reason`` with ``Retry(0)`` and with the default retries);
* that nothing hangs: every wait is bounded by the pool's own timeouts and
  every server loop by a count and a deadline (the faulthandler guard below
  is only a safety net, never an assertion of speed);
* ``pool.stats()`` adds up afterwards, with nothing left checked out;
* the next request on the same pool gets its *own* response (never bytes
  left over from the broken one), on a connection the hostile response did
  not leave behind;
* no file descriptor is leaked (Linux).

The file runs on whichever twin the dispatcher picks: CI runs it twice, once
with ``FASTPOOL_NO_EXTENSIONS=1``.
"""

from __future__ import annotations

import faulthandler
import gzip
import os
import socket
import threading
import time
import tracemalloc
import typing
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _hostile import (
    Evil,
    MixedServer,
    check_stats,
    good_body,
    no_fd_leak,
    reset,
    send_then_close,
    send_then_hold,
    send_then_reset,
    send_then_serve,
    stream_forever,
    wait_for_close,
)
from urllib3.exceptions import (
    DecodeError,
    IncompleteRead,
    MaxRetryError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from fastpool import HTTPConnectionPool, HTTPSConnectionPool, PoolManager, Retry, Timeout

from _server import Request, ScriptedServer

# Generous where the server is expected to answer (a loaded machine must not
# turn a ProtocolError into a ReadTimeoutError); short where the scenario is a
# server that stalls, so that the read timeout is what ends it.
TIMEOUT = Timeout(connect=5.0, read=5.0)
STALL_TIMEOUT = Timeout(connect=5.0, read=0.5)

# retries=False: the error itself; Retry(0) and the default Retry(3):
# MaxRetryError with the error as its reason.
RETRIES: dict[str, typing.Any] = {"noretry": False, "retry0": Retry(0), "default": None}


@pytest.fixture(autouse=True)
def hang_guard() -> Iterator[None]:
    """Safety net only: dump the stacks and stop the run if a test hangs."""
    faulthandler.dump_traceback_later(60, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def pool_for(
    srv: ScriptedServer, retries: typing.Any = False, **kw: typing.Any
) -> HTTPConnectionPool:
    kw.setdefault("timeout", TIMEOUT)
    kw.setdefault("maxsize", 2)
    return HTTPConnectionPool("127.0.0.1", srv.port, retries=retries, **kw)


def expect(
    retries: typing.Any, exc_type: type[BaseException], call: Callable[[], object]
) -> BaseException:
    """Run ``call``; it must raise ``exc_type`` (exactly), wrapped in
    ``MaxRetryError`` unless retries are off. Returns the inner error."""
    with pytest.raises(Exception) as excinfo:
        call()
    err = excinfo.value
    if retries is False:
        assert type(err) is exc_type, repr(err)
        return err
    assert type(err) is MaxRetryError, repr(err)
    assert type(err.reason) is exc_type, repr(err.reason)
    return err.reason


def follow_up(pool: HTTPConnectionPool, srv: MixedServer, *, reuse_ok: bool = False) -> None:
    """After a hostile response: the books add up, and the next requests
    each get their own response, not on a connection the hostile response
    left behind (unless that connection ended cleanly: ``reuse_ok``)."""
    check_stats(pool)
    for i in range(2):
        r = pool.request("GET", f"/good/{i}", retries=False, timeout=TIMEOUT)
        assert r.status == 200
        assert r.data == good_body(f"/good/{i}")
        if not reuse_ok:
            assert int(r.headers["X-Conn"]) not in srv.evil_conns
    check_stats(pool)


def run_scenario(
    evil: Evil,
    exc_type: type[BaseException],
    retries: typing.Any,
    method: str = "GET",
    **pool_kw: typing.Any,
) -> BaseException:
    if exc_type is ReadTimeoutError:
        pool_kw.setdefault("timeout", STALL_TIMEOUT)
    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv, retries, **pool_kw) as pool:
        err = expect(retries, exc_type, lambda: pool.request(method, "/evil"))
        follow_up(pool, srv)
        attempts = 1 if retries is False or isinstance(retries, Retry) else 4
        assert pool.stats()["requests"] == attempts + 2
        return err


def head(*lines: str, body: bytes = b"") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---------------------------------------------------------------------------
# Malformed heads: ProtocolError at once (the server keeps the connection
# open and silent, so waiting for more would time out instead).

BAD_HEADS: dict[str, bytes] = {
    "garbage": b"GARBAGE GARBAGE GARBAGE\r\n\r\n",
    "http09-body-only": b"<html><body>hello</body></html>\n",
    "empty-line-first": b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "lowercase-version": head("http/1.1 200 OK", "Content-Length: 0"),
    "http-1.2": head("HTTP/1.2 200 OK", "Content-Length: 0"),
    "http-2.0": head("HTTP/2.0 200 OK", "Content-Length: 0"),
    "status-2-digits": head("HTTP/1.1 20 OK", "Content-Length: 0"),
    "status-4-digits": head("HTTP/1.1 2000 OK", "Content-Length: 0"),
    "status-letters": head("HTTP/1.1 2x0 OK", "Content-Length: 0"),
    "status-leading-zero": head("HTTP/1.1 099 OK", "Content-Length: 0"),
    "no-space-after-status": head("HTTP/1.1 200OK", "Content-Length: 0"),
    "header-without-colon": head("HTTP/1.1 200 OK", "X-Broken", "Content-Length: 0"),
    "obs-fold": head("HTTP/1.1 200 OK", "X-A: a", " folded", "Content-Length: 0"),
    "obs-fold-tab": head("HTTP/1.1 200 OK", "X-A: a", "\tfolded", "Content-Length: 0"),
    "space-before-colon": head("HTTP/1.1 200 OK", "Content-Length : 5", body=b"hello"),
    "tab-before-colon": head("HTTP/1.1 200 OK", "X-A\t: b", "Content-Length: 0"),
    "nul-in-value": head("HTTP/1.1 200 OK", "X-A: a\x00b", "Content-Length: 0"),
    "nul-in-name": head("HTTP/1.1 200 OK", "X\x00A: b", "Content-Length: 0"),
    "bare-cr-in-value": head("HTTP/1.1 200 OK", "X-A: a\rb", "Content-Length: 0"),
    "bare-cr-line-end": b"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n",
    "bad-name-token": head("HTTP/1.1 200 OK", "X(A): b", "Content-Length: 0"),
    "empty-name": head("HTTP/1.1 200 OK", ": b", "Content-Length: 0"),
    "101-switching": head(
        "HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"
    ),
    "100-then-101": head("HTTP/1.1 100 Continue")
    + head("HTTP/1.1 101 Switching Protocols", "Upgrade: h2c"),
    "cl-and-te": head(
        "HTTP/1.1 200 OK",
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
        body=b"5\r\nhello\r\n0\r\n\r\n",
    ),
    "te-and-cl": head(
        "HTTP/1.1 200 OK",
        "Transfer-Encoding: chunked",
        "Content-Length: 5",
        body=b"5\r\nhello\r\n0\r\n\r\n",
    ),
    "two-content-lengths": head(
        "HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6", body=b"hello!"
    ),
    "cl-list-conflict": head("HTTP/1.1 200 OK", "Content-Length: 5, 6", body=b"hello!"),
    "cl-negative": head("HTTP/1.1 200 OK", "Content-Length: -5", body=b"hello"),
    "cl-plus": head("HTTP/1.1 200 OK", "Content-Length: +5", body=b"hello"),
    "cl-hex": head("HTTP/1.1 200 OK", "Content-Length: 0x5", body=b"hello"),
    "cl-huge": head("HTTP/1.1 200 OK", "Content-Length: 99999999999999999999999", body=b"x"),
    "cl-2**63": head("HTTP/1.1 200 OK", "Content-Length: 9223372036854775808", body=b"x"),
    "cl-2**64": head("HTTP/1.1 200 OK", "Content-Length: 18446744073709551616", body=b"x"),
    "cl-space-inside": head("HTTP/1.1 200 OK", "Content-Length: 1 0", body=b"x"),
    "cl-underscore": head("HTTP/1.1 200 OK", "Content-Length: 1_0", body=b"x"),
    "cl-empty": head("HTTP/1.1 200 OK", "Content-Length:", body=b"x"),
    "cl-float": head("HTTP/1.1 200 OK", "Content-Length: 5.0", body=b"hello"),
    "cl-unicode-digit": "HTTP/1.1 200 OK\r\nContent-Length: \u00b2\r\n\r\nxx".encode("latin-1"),
}


@pytest.mark.parametrize("data", BAD_HEADS.values(), ids=BAD_HEADS.keys())
def test_malformed_head(data: bytes) -> None:
    run_scenario(send_then_serve(data), ProtocolError, False)


@pytest.mark.parametrize("retries", [Retry(0), None], ids=["retry0", "default"])
@pytest.mark.parametrize(
    "name",
    [
        "garbage",
        "status-4-digits",
        "obs-fold",
        "nul-in-value",
        "101-switching",
        "cl-and-te",
        "two-content-lengths",
        "cl-negative",
    ],
)
def test_malformed_head_with_retries(name: str, retries: typing.Any) -> None:
    """Every attempt gets the same bad head: MaxRetryError, its reason the
    ProtocolError, after 1 (Retry(0)) or 4 (default Retry(3)) attempts."""
    run_scenario(send_then_serve(BAD_HEADS[name]), ProtocolError, retries)


@pytest.mark.parametrize(
    "data",
    [BAD_HEADS["garbage"], BAD_HEADS["http09-body-only"], BAD_HEADS["obs-fold"]],
    ids=["garbage", "http09", "obs-fold"],
)
def test_malformed_head_then_close(data: bytes) -> None:
    run_scenario(send_then_close(data), ProtocolError, False)


def test_http09_reply_is_never_a_body() -> None:
    """An HTTP/0.9-style reply (body only, then close) is an error, not a
    200 with that body."""
    err = run_scenario(send_then_close(b"hello world, no status line\n"), ProtocolError, False)
    assert "status line" in str(err).lower()


# ---------------------------------------------------------------------------
# Heads that never end: bounded by the head size, the header count, the read
# timeout (per wait), and for interim responses by their count.


@pytest.mark.parametrize("retries", RETRIES.values(), ids=RETRIES.keys())
def test_endless_header_lines(retries: typing.Any) -> None:
    evil = stream_forever(b"HTTP/1.1 200 OK\r\n", b"X-Spam: y\r\n" * 8)
    err = run_scenario(evil, ProtocolError, retries)
    assert "header" in str(err).lower()


@pytest.mark.parametrize("retries", RETRIES.values(), ids=RETRIES.keys())
def test_endless_header_value(retries: typing.Any) -> None:
    evil = stream_forever(b"HTTP/1.1 200 OK\r\nX-Big: ", b"a" * 4096)
    err = run_scenario(evil, ProtocolError, retries)
    assert "too large" in str(err)


def test_endless_reason_phrase() -> None:
    run_scenario(stream_forever(b"HTTP/1.1 200 ", b"O" * 4096), ProtocolError, False)


def test_endless_lf_lines() -> None:
    """Header lines ended by bare LF count like any other."""
    run_scenario(stream_forever(b"HTTP/1.1 200 OK\n", b"X: y\n" * 16), ProtocolError, False)


def test_head_size_limit_is_configurable() -> None:
    data = head("HTTP/1.1 200 OK", "X-Pad: " + "p" * 300, "Content-Length: 0")
    run_scenario(send_then_serve(data), ProtocolError, False, wire_limits={"max_head_size": 256})


def test_header_count_limit_is_configurable() -> None:
    data = head("HTTP/1.1 200 OK", *(f"X-{i}: v" for i in range(11)), "Content-Length: 0")
    run_scenario(send_then_serve(data), ProtocolError, False, wire_limits={"max_headers": 10})


def test_slowloris_head_hits_the_read_timeout() -> None:
    """One byte per 50 ms: a read timeout shorter than the gap fires."""

    def trickle(sock: socket.socket, req: Request, index: int) -> bool:
        for b in b"HTTP/1.1 200 OK\r\nX-Slow: ":
            sock.sendall(bytes([b]))
            time.sleep(0.05)
        wait_for_close(sock, 3.0)
        return False

    run_scenario(trickle, ReadTimeoutError, False, timeout=Timeout(connect=2, read=0.03))


def test_stalled_head_hits_the_read_timeout() -> None:
    run_scenario(
        send_then_hold(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"), ReadTimeoutError, False
    )


def test_trickle_under_the_read_timeout_is_bounded_by_the_head_size() -> None:
    """The read timeout is per wait: a byte well within it never trips it.
    What bounds such a head is the head size limit (worst case: about
    max_head_size waits of up to the read timeout each; see
    docs/internals.md). The interval leaves a wide margin for a loaded
    machine."""
    read_timeout = 0.5

    def trickle(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"s" * 40)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            sock.sendall(b"s")
            time.sleep(read_timeout / 10)
        return False

    err = run_scenario(
        trickle,
        ProtocolError,
        False,
        timeout=Timeout(connect=2, read=read_timeout),
        wire_limits={"max_head_size": 80},
    )
    assert "too large" in str(err)


# -- interim (1xx) responses ----------------------------------------------------


def test_a_few_interim_responses_are_skipped() -> None:
    final = head("HTTP/1.1 200 OK", "Content-Length: 5", body=b"hello")
    interim = (
        head("HTTP/1.1 100 Continue")
        + head("HTTP/1.1 102 Processing")
        + head("HTTP/1.1 103 Early Hints", "Link: </style.css>; rel=preload")
    )
    with no_fd_leak(), MixedServer(send_then_serve(interim + final)) as srv, pool_for(srv) as pool:
        r = pool.request("GET", "/evil")
        assert (r.status, r.data) == (200, b"hello")
        assert "Link" not in r.headers
        follow_up(pool, srv, reuse_ok=True)


@pytest.mark.parametrize("retries", RETRIES.values(), ids=RETRIES.keys())
def test_endless_100_continue_is_bounded(retries: typing.Any) -> None:
    """A server that sends interim responses forever (here: as fast as it can
    for up to 2 s, then a final 200) must not keep the client busy: the
    number of interim responses is capped."""

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        one = head("HTTP/1.1 100 Continue") * 64
        deadline = time.monotonic() + 2.0
        sock.settimeout(1.0)
        while time.monotonic() < deadline:
            sock.sendall(one)
        sock.sendall(head("HTTP/1.1 200 OK", "Content-Length: 4", body=b"late"))
        return False

    err = run_scenario(evil, ProtocolError, retries)
    assert "interim" in str(err).lower()


def test_slow_102_processing_stream_is_bounded() -> None:
    """One ``102 Processing`` every read_timeout/10 never trips the read
    timeout; the interim response cap ends it (after 11)."""
    read_timeout = 1.0

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            sock.sendall(head("HTTP/1.1 102 Processing"))
            time.sleep(read_timeout / 10)
        sock.sendall(head("HTTP/1.1 200 OK", "Content-Length: 4", body=b"late"))
        return False

    err = run_scenario(evil, ProtocolError, False, timeout=Timeout(connect=2, read=read_timeout))
    assert "interim" in str(err).lower()


def test_interim_heads_are_limited_each() -> None:
    """Each interim head has the head size limit of its own (memory stays
    bounded: a consumed interim head is dropped), and their number is capped."""
    big = head("HTTP/1.1 103 Early Hints", "Link: <" + "x" * 200 + ">")
    final = head("HTTP/1.1 200 OK", "Content-Length: 2", body=b"ok")
    limits = {"max_head_size": 256}
    with no_fd_leak(), MixedServer(send_then_serve(big * 3 + final)) as srv:
        with pool_for(srv, wire_limits=limits) as pool:
            assert pool.request("GET", "/evil").data == b"ok"
            follow_up(pool, srv, reuse_ok=True)
    too_big = head("HTTP/1.1 103 Early Hints", "Link: <" + "x" * 300 + ">")
    run_scenario(send_then_serve(too_big + final), ProtocolError, False, wire_limits=limits)


@pytest.mark.parametrize("count", [10, 11])
def test_interim_response_cap(count: int) -> None:
    """Up to DEFAULT_MAX_INTERIM (10) interim responses are skipped; one
    more is a ProtocolError (configurable: ``wire_limits={"max_interim": n}``)."""
    data = head("HTTP/1.1 100 Continue") * count + head(
        "HTTP/1.1 200 OK", "Content-Length: 2", body=b"ok"
    )
    if count <= 10:
        with no_fd_leak(), MixedServer(send_then_serve(data)) as srv, pool_for(srv) as pool:
            assert pool.request("GET", "/evil").data == b"ok"
            follow_up(pool, srv, reuse_ok=True)
        run_scenario(
            send_then_serve(data), ProtocolError, False, wire_limits={"max_interim": count - 1}
        )
    else:
        run_scenario(send_then_serve(data), ProtocolError, False)


# ---------------------------------------------------------------------------
# Bodies


def short_body(status_line: str = "HTTP/1.1 200 OK") -> bytes:
    return head(status_line, "Content-Length: 100", body=b"only ten!!")


@pytest.mark.parametrize("retries", RETRIES.values(), ids=RETRIES.keys())
def test_short_body_then_close(retries: typing.Any) -> None:
    err = run_scenario(send_then_close(short_body()), ProtocolError, retries)
    assert isinstance(err.args[1], IncompleteRead)
    assert (err.args[1].partial, err.args[1].expected) == (10, 90)


def test_short_body_then_close_streamed() -> None:
    with no_fd_leak(), MixedServer(send_then_close(short_body())) as srv, pool_for(srv) as pool:
        r = pool.urlopen("GET", "/evil", preload_content=False, retries=False)
        got = b""
        with pytest.raises(ProtocolError) as excinfo:
            for piece in r.stream(4):
                assert len(piece) <= 4
                got += piece
        assert got == b"only ten!!"  # what arrived, uncorrupted, before the error
        assert isinstance(excinfo.value.args[1], IncompleteRead)
        r.close()
        follow_up(pool, srv)


@pytest.mark.parametrize("length", [2**63 - 1, 4_000_000_000, 100_000_000])
@pytest.mark.parametrize("preload", [True, False])
def test_huge_content_length_allocates_nothing_on_its_word(length: int, preload: bool) -> None:
    """A Content-Length claiming up to 2**63 - 1 bytes, then 10 bytes and a
    close: IncompleteRead, without allocating what the header claims."""

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(head("HTTP/1.1 200 OK", f"Content-Length: {length}"))
        time.sleep(0.05)  # the body is not in the buffer with the head
        sock.sendall(b"x" * 10)
        return False

    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv) as pool:
        tracemalloc.start()
        try:
            with pytest.raises(ProtocolError) as excinfo:
                r = pool.urlopen("GET", "/evil", retries=False, preload_content=preload)
                assert r.length_remaining == length
                r.read()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        err = excinfo.value.args[1]
        assert isinstance(err, IncompleteRead)
        assert (err.partial, err.expected) == (10, length - 10)
        assert peak < 48 << 20, peak
        follow_up(pool, srv)


def test_short_body_then_stall_hits_the_read_timeout() -> None:
    run_scenario(send_then_hold(short_body()), ReadTimeoutError, False)


def test_short_body_then_stall_streamed() -> None:
    evil = send_then_hold(short_body())
    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv, timeout=STALL_TIMEOUT) as pool:
        r = pool.urlopen("GET", "/evil", preload_content=False, retries=False)
        assert r.read(10) == b"only ten!!"
        with pytest.raises(ReadTimeoutError):
            r.read(10)
        r.close()
        follow_up(pool, srv)


def test_enforce_content_length_off_returns_what_arrived() -> None:
    with no_fd_leak(), MixedServer(send_then_close(short_body())) as srv, pool_for(srv) as pool:
        r = pool.urlopen(
            "GET", "/evil", preload_content=False, retries=False, enforce_content_length=False
        )
        assert b"".join(r.stream(4)) == b"only ten!!"
        follow_up(pool, srv)


SMUGGLED = head("HTTP/1.1 200 OK", "Content-Length: 8", "X-Conn: 999", body=b"SMUGGLED")


@pytest.mark.parametrize(
    ("method", "data", "status", "body"),
    [
        (
            "GET",
            head("HTTP/1.1 200 OK", "Content-Length: 5", body=b"hello") + SMUGGLED,
            200,
            b"hello",
        ),
        ("GET", head("HTTP/1.1 200 OK", "Content-Length: 5", body=b"helloEXTRA"), 200, b"hello"),
        ("GET", head("HTTP/1.1 204 No Content") + SMUGGLED, 204, b""),
        ("GET", head("HTTP/1.1 204 No Content", "Content-Length: 5", body=b"hello"), 204, b""),
        ("GET", head("HTTP/1.1 304 Not Modified", "Content-Length: 8") + SMUGGLED, 304, b""),
        ("HEAD", head("HTTP/1.1 200 OK", "Content-Length: 5", body=b"hello") + SMUGGLED, 200, b""),
        (
            "GET",
            head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n")
            + SMUGGLED,
            200,
            b"hello",
        ),
        (
            "GET",
            head("HTTP/1.1 100 Continue") + head("HTTP/1.1 204 No Content") + SMUGGLED,
            204,
            b"",
        ),
    ],
    ids=[
        "extra-response",
        "extra-bytes",
        "204-with-body",
        "204-with-cl-and-body",
        "304-with-body",
        "head-with-body",
        "chunked-then-extra",
        "100-204-then-extra",
    ],
)
def test_bytes_beyond_the_response_are_never_the_next_response(
    method: str, data: bytes, status: int, body: bytes
) -> None:
    """Bytes after the end of a response (a second response nobody asked
    for, a body on a no-body status): the response itself is correct, the
    connection is not reused, and the next request gets its own answer."""
    with no_fd_leak(), MixedServer(send_then_serve(data)) as srv, pool_for(srv) as pool:
        r = pool.request(method, "/evil")
        assert (r.status, r.data) == (status, body)
        follow_up(pool, srv)


@pytest.mark.parametrize("delay", [0.0, 0.05])
def test_extra_bytes_arriving_late_are_never_the_next_response(delay: float) -> None:
    """The extra bytes come in a separate segment after the response."""
    sent = threading.Event()

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(head("HTTP/1.1 200 OK", "Content-Length: 5", body=b"hello"))
        time.sleep(delay)
        sock.sendall(SMUGGLED)
        sent.set()
        return True

    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv) as pool:
        r = pool.request("GET", "/evil")
        assert r.data == b"hello"
        # (A response arriving while the next request is already on its way
        # cannot be told from the answer to it: HTTP/1.1 has no ids.)
        assert sent.wait(5)
        time.sleep(0.05)
        follow_up(pool, srv)


def test_unsolicited_response_on_idle_connection_is_discarded() -> None:
    """A response the server sends on an idle keep-alive connection is never
    delivered as the answer to the next request."""

    sent = threading.Event()

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(head("HTTP/1.1 200 OK", "Content-Length: 2", body=b"ok"))
        time.sleep(0.1)
        sock.sendall(SMUGGLED)
        sent.set()
        return True

    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv) as pool:
        assert pool.request("GET", "/evil").data == b"ok"
        assert sent.wait(5)
        time.sleep(0.05)
        follow_up(pool, srv)
        assert pool.stats()["dropped"] == 1


def test_head_response_with_content_length_and_no_body() -> None:
    data = head("HTTP/1.1 200 OK", "Content-Length: 1000")
    with no_fd_leak(), MixedServer(send_then_serve(data)) as srv, pool_for(srv) as pool:
        r = pool.request("HEAD", "/evil")
        assert (r.status, r.data, r.headers["Content-Length"]) == (200, b"", "1000")
        r = pool.urlopen("HEAD", "/evil", preload_content=False)
        assert r.read() == b"" and list(r.stream(10)) == []
        follow_up(pool, srv, reuse_ok=True)
        assert pool.stats()["created"] == 1  # a clean HEAD exchange keeps its connection


def test_head_response_chunked_and_no_body() -> None:
    data = head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked")
    with no_fd_leak(), MixedServer(send_then_serve(data)) as srv, pool_for(srv) as pool:
        r = pool.request("HEAD", "/evil")
        assert (r.status, r.data) == (200, b"")
        follow_up(pool, srv, reuse_ok=True)


# -- chunked framing ---------------------------------------------------------------

CHUNKED = "Transfer-Encoding: chunked"

BAD_CHUNKED: dict[str, bytes] = {
    "size-not-hex": b"zz\r\nhello\r\n0\r\n\r\n",
    "size-negative": b"-5\r\nhello\r\n0\r\n\r\n",
    "size-0x-prefix": b"0x5\r\nhello\r\n0\r\n\r\n",
    "size-plus": b"+5\r\nhello\r\n0\r\n\r\n",
    "size-leading-space": b" 5\r\nhello\r\n0\r\n\r\n",
    "size-space-inside": b"5 5\r\nhello\r\n0\r\n\r\n",
    "size-empty": b"\r\nhello\r\n0\r\n\r\n",
    "size-17-digits": b"00000000000000005\r\nhello\r\n0\r\n\r\n",
    "size-bare-lf": b"5\nhello\r\n0\r\n\r\n",
    "size-bare-cr": b"5\rhello\r\n0\r\n\r\n",
    "missing-crlf-after-data": b"5\r\nhelloXX0\r\n\r\n",
    "lf-only-after-data": b"5\r\nhello\n0\r\n\r\n",
    "data-longer-than-size": b"3\r\nhello\r\n0\r\n\r\n",
    "nul-in-extension": b"5;a=\x00\r\nhello\r\n0\r\n\r\n",
    "trailer-no-colon": b"5\r\nhello\r\n0\r\nbroken trailer\r\n\r\n",
    "trailer-obs-fold": b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n",
}


@pytest.mark.parametrize("retries", [False, Retry(0)], ids=["noretry", "retry0"])
@pytest.mark.parametrize("body", BAD_CHUNKED.values(), ids=BAD_CHUNKED.keys())
def test_bad_chunked_framing(body: bytes, retries: typing.Any) -> None:
    data = head("HTTP/1.1 200 OK", CHUNKED, body=body)
    run_scenario(send_then_serve(data), ProtocolError, retries)


@pytest.mark.parametrize("body", BAD_CHUNKED.values(), ids=BAD_CHUNKED.keys())
def test_bad_chunked_framing_streamed(body: bytes) -> None:
    data = head("HTTP/1.1 200 OK", CHUNKED, body=body)
    with no_fd_leak(), MixedServer(send_then_serve(data)) as srv, pool_for(srv) as pool:
        r = pool.urlopen("GET", "/evil", preload_content=False, retries=False)
        got = b""
        with pytest.raises(ProtocolError):
            for piece in r.stream(2):
                got += piece
        assert b"hello".startswith(got)  # never bytes that are not payload
        r.close()
        follow_up(pool, srv)


@pytest.mark.parametrize("retries", RETRIES.values(), ids=RETRIES.keys())
def test_huge_chunk_size_then_close(retries: typing.Any) -> None:
    data = head("HTTP/1.1 200 OK", CHUNKED, body=b"ffffffffffffffff\r\n" + b"x" * 1000)
    err = run_scenario(send_then_close(data), ProtocolError, retries)
    assert isinstance(err.args[1], IncompleteRead)
    assert err.args[1].partial == 1000


def test_huge_chunk_size_streamed_is_bounded_per_read() -> None:
    evil = stream_forever(
        head("HTTP/1.1 200 OK", CHUNKED, body=b"ffffffffffffffff\r\n"), b"x" * 65536, limit=3.0
    )
    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv) as pool:
        r = pool.urlopen("GET", "/evil", preload_content=False, retries=False)
        for _ in range(64):
            piece = r.read(4096)
            assert piece == b"x" * len(piece) and 0 < len(piece) <= 4096
        r.close()
        follow_up(pool, srv)


def test_truncated_chunked_body_then_close() -> None:
    data = head("HTTP/1.1 200 OK", CHUNKED, body=b"5\r\nhello\r\n5\r\nwor")
    err = run_scenario(send_then_close(data), ProtocolError, False)
    assert isinstance(err.args[1], IncompleteRead)


def test_chunked_without_last_chunk_then_stall() -> None:
    data = head("HTTP/1.1 200 OK", CHUNKED, body=b"5\r\nhello\r\n")
    run_scenario(send_then_hold(data), ReadTimeoutError, False)


@pytest.mark.parametrize("retries", [False, None], ids=["noretry", "default"])
def test_endless_chunk_extension(retries: typing.Any) -> None:
    evil = stream_forever(head("HTTP/1.1 200 OK", CHUNKED, body=b"5;ext="), b"e" * 1024)
    err = run_scenario(evil, ProtocolError, retries)
    assert "too long" in str(err)


def test_endless_chunk_extension_after_data() -> None:
    evil = stream_forever(head("HTTP/1.1 200 OK", CHUNKED, body=b"5\r\nhello\r\n5;x="), b"e" * 1024)
    run_scenario(evil, ProtocolError, False)


@pytest.mark.parametrize("retries", [False, None], ids=["noretry", "default"])
def test_endless_trailers(retries: typing.Any) -> None:
    evil = stream_forever(
        head("HTTP/1.1 200 OK", CHUNKED, body=b"5\r\nhello\r\n0\r\n"), b"X-T: y\r\n" * 32
    )
    err = run_scenario(evil, ProtocolError, retries)
    assert "too large" in str(err)


def test_endless_trailer_line() -> None:
    evil = stream_forever(head("HTTP/1.1 200 OK", CHUNKED, body=b"0\r\nX-T: "), b"t" * 1024)
    run_scenario(evil, ProtocolError, False)


def test_endless_zero_size_chunks_are_one_body() -> None:
    """``0`` ends the body: what follows is trailers, not more chunks."""
    data = head("HTTP/1.1 200 OK", CHUNKED, body=b"0\r\n0\r\n0\r\n\r\n")
    run_scenario(send_then_serve(data), ProtocolError, False)


# -- read-until-close bodies ------------------------------------------------------


def test_read_until_close_body() -> None:
    data = head("HTTP/1.1 200 OK", body=b"all of it until close")
    with no_fd_leak(), MixedServer(send_then_close(data)) as srv, pool_for(srv) as pool:
        r = pool.request("GET", "/evil")
        assert r.data == b"all of it until close"
        follow_up(pool, srv)


def test_read_until_close_body_that_never_closes() -> None:
    data = head("HTTP/1.1 200 OK", body=b"partial")
    run_scenario(send_then_hold(data), ReadTimeoutError, False)


def test_unknown_transfer_coding_reads_until_close() -> None:
    """A Transfer-Encoding whose last coding is not chunked: read until close,
    and the connection is never reused."""
    data = head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, identity", body=b"raw")
    with no_fd_leak(), MixedServer(send_then_close(data)) as srv, pool_for(srv) as pool:
        r = pool.request("GET", "/evil", decode_content=False)
        assert r.data == b"raw"
        follow_up(pool, srv)


# ---------------------------------------------------------------------------
# Content codings: bombs stream in bounded pieces, corrupt data is DecodeError

BOMB_SIZE = 64 << 20  # decompressed; a few tens of KiB on the wire


def _zeros_compressed(wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1 << 20)
    parts = [c.compress(block) for _ in range(BOMB_SIZE >> 20)]
    parts.append(c.flush())
    return b"".join(parts)


_BOMBS: dict[str, bytes] = {}


def bomb(encoding: str) -> bytes:
    if encoding not in _BOMBS:
        if encoding == "gzip":
            _BOMBS[encoding] = _zeros_compressed(31)
        elif encoding == "deflate":
            _BOMBS[encoding] = _zeros_compressed(15)
        elif encoding == "br":
            brotli = pytest.importorskip("brotli")
            _BOMBS[encoding] = brotli.compress(bytes(BOMB_SIZE), quality=5)
        elif encoding == "gzip, gzip":
            _BOMBS[encoding] = gzip.compress(bomb("gzip"), 9)
    return _BOMBS[encoding]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, gzip"])
def test_decompression_bomb_is_bounded_per_read(encoding: str) -> None:
    payload = bomb(encoding)
    data = head(
        "HTTP/1.1 200 OK",
        f"Content-Encoding: {encoding}",
        f"Content-Length: {len(payload)}",
        body=payload,
    )
    amt = 65536
    with no_fd_leak(), MixedServer(send_then_serve(data)) as srv, pool_for(srv) as pool:
        r = pool.urlopen("GET", "/evil", preload_content=False, retries=False)
        tracemalloc.start()
        try:
            for _ in range(32):
                piece = r.read(amt)
                assert len(piece) == amt and not piece.strip(b"\0")
            stream = r.stream(amt)
            for _ in range(32):
                assert len(next(stream)) == amt
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 16 << 20, f"peak {peak} bytes while reading {amt}-byte pieces"
        r.close()
        # The compressed body may well have been received whole (the decoder
        # holds the rest): then the connection is clean and may be reused.
        follow_up(pool, srv, reuse_ok=True)


def test_decompression_bomb_streams_to_the_end() -> None:
    payload = bomb("gzip")
    data = head("HTTP/1.1 200 OK", "Content-Encoding: gzip", f"Content-Length: {len(payload)}")
    with no_fd_leak(), MixedServer(send_then_serve(data + payload)) as srv, pool_for(srv) as pool:
        r = pool.urlopen("GET", "/evil", preload_content=False, retries=False)
        total = biggest = 0
        for piece in r.stream(1 << 20):
            total += len(piece)
            biggest = max(biggest, len(piece))
        assert (total, biggest) == (BOMB_SIZE, 1 << 20)
        follow_up(pool, srv, reuse_ok=True)


CORRUPT: dict[str, tuple[str, bytes]] = {
    "gzip-garbage": ("gzip", b"this is not gzip at all"),
    "gzip-bad-crc": ("gzip", gzip.compress(b"hello world")[:-8] + b"\0" * 8),
    "deflate-garbage": ("deflate", b"\xff\xfe\xfd not deflate"),
    "br-garbage": ("br", b"\xff\xff\xff\xff not brotli"),
    "gzip-bad-header": ("gzip", b"\x1f\x8b\x08\xff" + b"junk" * 8),
}


@pytest.mark.parametrize("retries", [False, Retry(0)], ids=["noretry", "retry0"])
@pytest.mark.parametrize(("encoding", "payload"), CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_content_coding(encoding: str, payload: bytes, retries: typing.Any) -> None:
    if encoding == "br":
        pytest.importorskip("brotli")
    data = head(
        "HTTP/1.1 200 OK",
        f"Content-Encoding: {encoding}",
        f"Content-Length: {len(payload)}",
        body=payload,
    )
    with no_fd_leak(), MixedServer(send_then_serve(data)) as srv, pool_for(srv, retries) as pool:
        with pytest.raises(DecodeError):  # never retried, never wrapped
            pool.request("GET", "/evil")
        r = pool.urlopen("GET", "/evil", preload_content=False)
        with pytest.raises(DecodeError):
            for _ in r.stream(1024):
                pass
        r.close()
        # The framing was sound: the connection may be reused.
        follow_up(pool, srv, reuse_ok=True)


# ---------------------------------------------------------------------------
# Resets and closes


@pytest.mark.parametrize("retries", RETRIES.values(), ids=RETRIES.keys())
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-",
        head("HTTP/1.1 200 OK", "Content-Length: 100", body=b"x" * 10),
    ],
    ids=["before-head", "mid-head", "mid-body"],
)
def test_server_reset(data: bytes, retries: typing.Any) -> None:
    run_scenario(send_then_reset(data), ProtocolError, retries)


def test_server_reset_mid_body_streamed() -> None:
    data = head("HTTP/1.1 200 OK", "Content-Length: 100000", body=b"x" * 10)

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(data)
        time.sleep(0.3)  # the client has returned the response by now
        reset(sock)
        return False

    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv) as pool:
        r = pool.urlopen("GET", "/evil", preload_content=False, retries=False)
        assert r.read(10) == b"x" * 10
        with pytest.raises(ProtocolError):
            r.read(10)
        r.close()
        follow_up(pool, srv)


def test_server_closes_before_any_byte() -> None:
    run_scenario(send_then_close(b""), ProtocolError, False)


@pytest.mark.parametrize("pause", [0.0, 0.1])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_server_closes_keepalive_after_response(method: str, pause: float) -> None:
    """The server closes a keep-alive connection right after a complete
    response (no ``Connection: close``): the next request reconnects
    without the caller seeing an error, and without spending its retries."""
    data = head("HTTP/1.1 200 OK", "Content-Length: 2", body=b"ok")
    if method == "POST" and not pause:
        pytest.skip("a POST racing the close may legitimately fail (not idempotent)")
    closed = threading.Semaphore(0)

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(data)
        sock.close()
        closed.release()
        return False

    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv) as pool:
        for _ in range(3):
            body = b"x" if method == "POST" else None
            assert pool.request(method, "/evil", body=body).data == b"ok"
            if pause:  # the close has happened (and its FIN arrived) before the next request
                assert closed.acquire(timeout=5)
                time.sleep(pause)
        check_stats(pool)
        follow_up(pool, srv)


def test_early_response_to_large_post_then_close() -> None:
    """The server answers 413 before reading a large body, then closes. The
    client gets the 413 (as urllib3 does) or a ProtocolError, never a hang,
    and the pool keeps working."""

    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            first = rfile.readline(65537)
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            if first.startswith(b"POST"):
                sock.sendall(
                    head(
                        "HTTP/1.1 413 Payload Too Large",
                        "Content-Length: 3",
                        "Connection: close",
                        body=b"big",
                    )
                )
                time.sleep(0.2)
                sock.shutdown(socket.SHUT_WR)
                wait_for_close(sock, 2.0)  # no RST: the client reads the 413
                return
            target = first.split()[1].decode()
            sock.sendall(
                head(
                    "HTTP/1.1 200 OK",
                    f"Content-Length: {len(good_body(target))}",
                    body=good_body(target),
                )
            )
        finally:
            rfile.close()

    big = b"b" * (32 << 20)
    with no_fd_leak(), ScriptedServer(handler) as srv, pool_for(srv) as pool:
        r = pool.request("POST", "/upload", body=big)
        assert (r.status, r.data) == (413, b"big")
        check_stats(pool)
        assert pool.request("GET", "/good").data == good_body("/good")
        check_stats(pool)


def test_early_response_to_large_post_then_reset() -> None:
    """As above, but the server closes with unread data (an RST): the
    client stops sending and still reads the 413 (urllib3 does the same)."""

    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            first = rfile.readline(65537)
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            if first.startswith(b"POST"):
                sock.sendall(
                    head(
                        "HTTP/1.1 413 Payload Too Large",
                        "Content-Length: 3",
                        "Connection: close",
                        body=b"big",
                    )
                )
                time.sleep(0.05)
                reset(sock)
                return
            target = first.split()[1].decode()
            sock.sendall(
                head(
                    "HTTP/1.1 200 OK",
                    f"Content-Length: {len(good_body(target))}",
                    body=good_body(target),
                )
            )
        finally:
            rfile.close()

    big = b"b" * (32 << 20)
    with no_fd_leak(), ScriptedServer(handler) as srv, pool_for(srv) as pool:
        r = pool.request("POST", "/upload", body=big)
        assert (r.status, r.data) == (413, b"big")
        check_stats(pool)
        assert pool.request("GET", "/good").data == good_body("/good")
        check_stats(pool)


@pytest.mark.parametrize("body_kind", ["bytes", "iterable", "file"])
def test_early_response_to_streamed_post(body_kind: str, tmp_path: Path) -> None:
    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            first = rfile.readline(65537)
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            if first.startswith(b"POST"):
                sock.sendall(
                    head(
                        "HTTP/1.1 413 Payload Too Large",
                        "Content-Length: 3",
                        "Connection: close",
                        body=b"big",
                    )
                )
                sock.shutdown(socket.SHUT_WR)
                wait_for_close(sock, 3.0)
                return
            target = first.split()[1].decode()
            sock.sendall(
                head(
                    "HTTP/1.1 200 OK",
                    f"Content-Length: {len(good_body(target))}",
                    body=good_body(target),
                )
            )
        finally:
            rfile.close()

    size = 16 << 20
    body: typing.Any
    if body_kind == "bytes":
        body = b"b" * size
    elif body_kind == "iterable":
        body = (b"b" * 65536 for _ in range(size // 65536))
    else:
        f = tmp_path / "upload"
        f.write_bytes(b"b" * size)
        body = f.open("rb")
    try:
        with no_fd_leak(), ScriptedServer(handler) as srv, pool_for(srv) as pool:
            try:
                r = pool.request("POST", "/upload", body=body)
            except ProtocolError:
                pass  # the server may stop reading before we are done sending
            else:
                assert (r.status, r.data) == (413, b"big")
            check_stats(pool)
            assert pool.request("GET", "/good").data == good_body("/good")
    finally:
        if body_kind == "file":
            body.close()


# ---------------------------------------------------------------------------
# Redirects and status retries whose bodies are hostile (the pool drains them)


HOSTILE_BODIES = {
    "short": ("Content-Length: 100", b"short", "close", ProtocolError),
    "bad-chunk": ("Transfer-Encoding: chunked", b"zz\r\n", "serve", ProtocolError),
    "extra-bytes": ("Content-Length: 5", b"helloSMUGGLED", "serve", None),
    "stall": ("Content-Length: 5000000", b"x" * 1000, "hold", ReadTimeoutError),
}


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "stream"])
@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
@pytest.mark.parametrize("status", [302, 503])
def test_redirect_or_retry_with_hostile_body(
    status: int, body: tuple[str, bytes, str, typing.Any], preload: bool
) -> None:
    """A redirect or a retried 503 whose body is broken. Preloaded, the body
    is read with the response, so its error is a read error retried like any
    other (as urllib3). Streamed, the pool drains the body (and swallows its
    error, as urllib3's drain_conn does) and follows the redirect / retries."""
    framing, payload, then, preload_error = body
    lines = [f"HTTP/1.1 {status} Whatever", framing]
    lines.append("Location: /good/after" if status == 302 else "Retry-After: 0")
    data = head(*lines, body=payload)
    evil = {"close": send_then_close, "serve": send_then_serve, "hold": send_then_hold}[then](data)
    retries = Retry(total=2, status_forcelist=[503], backoff_factor=0)
    timeout = STALL_TIMEOUT if then == "hold" else TIMEOUT
    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv, retries, timeout=timeout) as pool:
        if preload and preload_error is not None:
            expect(retries, preload_error, lambda: pool.request("GET", "/evil"))
        elif status == 302:
            r = pool.urlopen("GET", "/evil", preload_content=preload)
            assert (r.status, r.data) == (200, good_body("/good/after"))
            assert int(r.headers["X-Conn"]) not in srv.evil_conns
        else:
            with pytest.raises(MaxRetryError) as excinfo:
                pool.urlopen("GET", "/evil", preload_content=preload)
            assert "too many 503" in str(excinfo.value.reason)
        follow_up(pool, srv)


def test_redirect_loop_is_bounded() -> None:
    data = head("HTTP/1.1 302 Found", "Location: /evil", "Content-Length: 0")
    with (
        no_fd_leak(),
        MixedServer(send_then_serve(data)) as srv,
        pool_for(srv, Retry(redirect=5)) as pool,
    ):
        with pytest.raises(MaxRetryError):
            pool.request("GET", "/evil")
        follow_up(pool, srv, reuse_ok=True)


def test_too_many_content_codings() -> None:
    payload = b"hello"
    for _ in range(6):
        payload = gzip.compress(payload)
    data = head(
        "HTTP/1.1 200 OK",
        "Content-Encoding: " + ", ".join(["gzip"] * 6),
        f"Content-Length: {len(payload)}",
        body=payload,
    )
    with no_fd_leak(), MixedServer(send_then_serve(data)) as srv, pool_for(srv) as pool:
        with pytest.raises(DecodeError):
            pool.request("GET", "/evil")
        follow_up(pool, srv, reuse_ok=True)


@pytest.mark.parametrize("body_kind", ["bytes", "str", "iterable"])
@pytest.mark.parametrize("retries", [False, Retry(0)], ids=["noretry", "retry0"])
def test_server_never_reads_the_request_body(body_kind: str, retries: typing.Any) -> None:
    """Sending waits use the read timeout: a server that neither reads nor
    answers cannot hold a large upload forever. (POST is not retried on a
    read error: the ReadTimeoutError comes unwrapped, as in urllib3.)"""
    stop = threading.Event()

    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            first = rfile.readline(65537)
            if first.startswith(b"POST"):
                stop.wait(5)  # read nothing more, answer nothing
                return
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            sock.sendall(head("HTTP/1.1 200 OK", "Content-Length: 2", body=b"ok"))
        finally:
            rfile.close()

    size = 32 << 20
    body: typing.Any = {
        "bytes": lambda: b"b" * size,
        "str": lambda: "s" * size,
        "iterable": lambda: iter([b"b" * size]),
    }[body_kind]()
    with no_fd_leak(), ScriptedServer(handler) as srv:
        with pool_for(srv, retries, timeout=STALL_TIMEOUT) as pool:
            with pytest.raises(ReadTimeoutError):
                pool.request("POST", "/upload", body=body)
            stop.set()
            check_stats(pool)
            assert pool.request("GET", "/", timeout=TIMEOUT).data == b"ok"
            check_stats(pool)


# ---------------------------------------------------------------------------
# PoolManager


@pytest.mark.parametrize(
    ("data", "exc_type"),
    [
        (BAD_HEADS["garbage"], ProtocolError),
        (BAD_HEADS["two-content-lengths"], ProtocolError),
        (BAD_HEADS["cl-and-te"], ProtocolError),
        (short_body(), ProtocolError),
    ],
    ids=["garbage", "two-cl", "cl-te", "short-body"],
)
@pytest.mark.parametrize("retries", RETRIES.values(), ids=RETRIES.keys())
def test_pool_manager(data: bytes, exc_type: type[BaseException], retries: typing.Any) -> None:
    with (
        no_fd_leak(),
        MixedServer(send_then_close(data)) as srv,
        PoolManager(timeout=TIMEOUT, retries=retries) as pm,
    ):
        expect(retries, exc_type, lambda: pm.request("GET", srv.url + "/evil"))
        pool = pm.connection_from_url(srv.url)
        check_stats(pool)
        for i in range(2):
            r = pm.request("GET", f"{srv.url}/good/{i}")
            assert r.data == good_body(f"/good/{i}")
        check_stats(pool)


def test_pool_manager_smuggled_response() -> None:
    data = head("HTTP/1.1 200 OK", "Content-Length: 5", body=b"hello") + SMUGGLED
    with (
        no_fd_leak(),
        MixedServer(send_then_serve(data)) as srv,
        PoolManager(timeout=TIMEOUT) as pm,
    ):
        assert pm.request("GET", srv.url + "/evil").data == b"hello"
        for i in range(3):
            assert pm.request("GET", f"{srv.url}/good/{i}").data == good_body(f"/good/{i}")
        check_stats(pm.connection_from_url(srv.url))


# ---------------------------------------------------------------------------
# A storm of hostile and well-behaved requests on one pool


def test_mixed_storm_keeps_the_books() -> None:
    evils = [
        BAD_HEADS["garbage"],
        BAD_HEADS["two-content-lengths"],
        head("HTTP/1.1 200 OK", "Content-Length: 5", body=b"hello") + SMUGGLED,
        short_body(),
        head("HTTP/1.1 204 No Content") + SMUGGLED,
    ]

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        data = evils[int(req.target.rsplit("/", 1)[1]) % len(evils)]
        sock.sendall(data)
        return data is not evils[3]  # the short body: close, not stall

    errors: list[BaseException] = []
    with no_fd_leak(), MixedServer(evil) as srv, pool_for(srv, maxsize=4, block=True) as pool:

        def work(t: int) -> None:
            try:
                for i in range(20):
                    if (t + i) % 2:
                        try:
                            pool.request("GET", f"/evil/{t}/{i}")
                        except ProtocolError:
                            pass
                    else:
                        target = f"/good/{t}/{i}"
                        assert pool.request("GET", target).data == good_body(target)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
            assert not th.is_alive()
        assert not errors, errors
        s = check_stats(pool)
        assert s["open"] <= 4


# ---------------------------------------------------------------------------
# TLS


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> typing.Any:
    _tls = pytest.importorskip("_tls")
    return _tls.TLSMaterial.create(tmp_path_factory.mktemp("tls"))


def https_pool(
    srv: ScriptedServer, tls: typing.Any, retries: typing.Any = False, timeout: Timeout = TIMEOUT
) -> HTTPSConnectionPool:
    return HTTPSConnectionPool(
        "127.0.0.1", srv.port, timeout=timeout, retries=retries, ca_certs=tls.ca_file, maxsize=2
    )


@pytest.mark.parametrize("retries", [False, Retry(0)], ids=["noretry", "retry0"])
def test_tls_server_sends_garbage_instead_of_a_handshake(
    tls: typing.Any, retries: typing.Any
) -> None:
    def handler(sock: socket.socket, index: int) -> None:
        sock.recv(4096)
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + b"\x00garbage" * 64)
        wait_for_close(sock, 2.0)

    with no_fd_leak(), ScriptedServer(handler) as srv, https_pool(srv, tls, retries) as pool:
        expect(retries, SSLError, lambda: pool.request("GET", "/"))
        check_stats(pool)


@pytest.mark.parametrize(
    ("data", "exc_type"),
    [
        (BAD_HEADS["garbage"], ProtocolError),
        (BAD_HEADS["obs-fold"], ProtocolError),
        (BAD_HEADS["cl-and-te"], ProtocolError),
        (head("HTTP/1.1 200 OK", CHUNKED, body=b"zz\r\n"), ProtocolError),
    ],
    ids=["garbage", "obs-fold", "cl-te", "bad-chunk"],
)
def test_tls_malformed_response(
    tls: typing.Any, data: bytes, exc_type: type[BaseException]
) -> None:
    with no_fd_leak(), MixedServer(send_then_serve(data), tls_context=tls.server_context()) as srv:
        with https_pool(srv, tls) as pool:
            expect(False, exc_type, lambda: pool.request("GET", "/evil"))
            follow_up(pool, srv)


def test_tls_short_body_then_close(tls: typing.Any) -> None:
    with (
        no_fd_leak(),
        MixedServer(send_then_close(short_body()), tls_context=tls.server_context()) as srv,
    ):
        with https_pool(srv, tls) as pool:
            err = expect(False, ProtocolError, lambda: pool.request("GET", "/evil"))
            assert isinstance(err.args[1], IncompleteRead)
            follow_up(pool, srv)


def test_tls_stalled_head(tls: typing.Any) -> None:
    evil = send_then_hold(b"HTTP/1.1 200 OK\r\n")
    with no_fd_leak(), MixedServer(evil, tls_context=tls.server_context()) as srv:
        with https_pool(srv, tls, timeout=STALL_TIMEOUT) as pool:
            expect(False, ReadTimeoutError, lambda: pool.request("GET", "/evil"))
            follow_up(pool, srv)


def test_tls_endless_interim(tls: typing.Any) -> None:
    evil = stream_forever(b"", head("HTTP/1.1 100 Continue") * 64, limit=2.0)
    with no_fd_leak(), MixedServer(evil, tls_context=tls.server_context()) as srv:
        with https_pool(srv, tls) as pool:
            err = expect(False, ProtocolError, lambda: pool.request("GET", "/evil"))
            assert "interim" in str(err).lower()
            follow_up(pool, srv)


@pytest.mark.parametrize("where", ["before-head", "mid-head", "mid-body"])
def test_tls_record_garbage(tls: typing.Any, where: str) -> None:
    """Bytes that are not a valid TLS record, injected under the TLS layer:
    SSLError (urllib3's), the connection dropped, the pool fine."""
    prefix = {
        "before-head": b"",
        "mid-head": b"HTTP/1.1 200 OK\r\n",
        "mid-body": head("HTTP/1.1 200 OK", "Content-Length: 1000", body=b"x" * 10),
    }[where]

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        if prefix:
            sock.sendall(prefix)
            time.sleep(0.05)
        with socket.socket(fileno=os.dup(sock.fileno())) as raw:
            raw.sendall(b"\x17\x03\x03\x00\x20" + b"G" * 32 + b"garbage" * 10)
        wait_for_close(sock, 3.0)
        return False

    with no_fd_leak(), MixedServer(evil, tls_context=tls.server_context()) as srv:
        with https_pool(srv, tls) as pool:
            if where == "mid-body":
                r = pool.urlopen("GET", "/evil", preload_content=False)
                assert r.read(10) == b"x" * 10
                with pytest.raises(SSLError):
                    r.read(10)
                r.close()
            else:
                expect(False, SSLError, lambda: pool.request("GET", "/evil"))
            follow_up(pool, srv)


def test_tls_unsolicited_response_on_idle_connection(tls: typing.Any) -> None:
    sent = threading.Event()

    def evil(sock: socket.socket, req: Request, index: int) -> bool:
        sock.sendall(head("HTTP/1.1 200 OK", "Content-Length: 2", body=b"ok"))
        time.sleep(0.1)
        sock.sendall(SMUGGLED)
        sent.set()
        return True

    with no_fd_leak(), MixedServer(evil, tls_context=tls.server_context()) as srv:
        with https_pool(srv, tls) as pool:
            assert pool.request("GET", "/evil").data == b"ok"
            assert sent.wait(5)
            time.sleep(0.05)
            follow_up(pool, srv)
            assert pool.stats()["dropped"] == 1


def test_tls_smuggled_response(tls: typing.Any) -> None:
    data = head("HTTP/1.1 200 OK", "Content-Length: 5", body=b"hello") + SMUGGLED
    with no_fd_leak(), MixedServer(send_then_serve(data), tls_context=tls.server_context()) as srv:
        with https_pool(srv, tls) as pool:
            assert pool.request("GET", "/evil").data == b"hello"
            follow_up(pool, srv)


# ---------------------------------------------------------------------------
# The codec limits behind the scenarios above, on both twins in one run


def test_codec_interim_cap(impl: typing.Any) -> None:
    h = impl.http11
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert h.DEFAULT_MAX_INTERIM == 10
    p = h.ResponseParser()
    p.feed(interim * 10 + final)
    assert p.next_head().status == 200
    p.start()  # the count is per response
    p.feed(interim * 10 + final)
    assert p.next_head().status == 200
    p = h.ResponseParser()
    p.feed(interim * 11)  # refused without waiting for a final head
    with pytest.raises(ProtocolError, match="interim"):
        p.next_head()
    p = h.ResponseParser(max_interim=2)
    for _ in range(3):
        p.feed(interim)
    with pytest.raises(ProtocolError, match="interim"):
        p.next_head()
    with pytest.raises(ValueError):
        h.ResponseParser(max_interim=0)


def test_codec_too_many_header_lines_refused_before_the_head_ends(impl: typing.Any) -> None:
    p = impl.http11.ResponseParser()
    p.feed(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101)
    with pytest.raises(ProtocolError, match="header fields"):
        p.next_head()
    p = impl.http11.ResponseParser()  # the limit itself is fine
    p.feed(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 100)
    assert p.next_head() is None


@pytest.mark.parametrize("length", [2**63 - 1, 1 << 40])
def test_codec_huge_content_length_read_whole(impl: typing.Any, length: int) -> None:
    a, b = socket.socketpair()
    with a, b:
        w = impl.http11.Wire(a)
        b.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length)
        head = w.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None, 5)
        assert head.content_length == length
        b.sendall(b"x" * 10)
        b.shutdown(socket.SHUT_WR)
        with pytest.raises(ProtocolError) as excinfo:
            w.read(None, 5)
        err = excinfo.value.args[1]
        assert isinstance(err, IncompleteRead) and err.partial == 10
