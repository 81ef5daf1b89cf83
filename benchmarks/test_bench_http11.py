"""Micro-benchmarks of the HTTP/1.1 codec (pytest-benchmark; not part of the test run).

    python -m pytest benchmarks/test_bench_http11.py -p no:cacheprovider \\
        --benchmark-columns=min,median,ops --benchmark-group-by=group \\
        --benchmark-timer=time.process_time

(times are per round of ``OPS`` = 1000 operations, so microseconds per round
read as nanoseconds per operation; ``process_time`` keeps other load on the
machine out of the numbers) or, for ns per operation and the ratios against
http.client in one table (also CPU time):

    PYTHONPATH=. python benchmarks/test_bench_http11.py

* ``parse``: a typical response head (status line + 8 fields) parsed into
  status, reason and the header list: the compiled twin and the pure twin
  (a fresh ``ResponseParser`` each time, ``feed`` + ``next_head``; the
  ``reused`` variant keeps one parser per connection, as ``Wire`` does)
  against ``http.client.HTTPResponse.begin()`` over an in-memory socket.
* ``serialize``: a typical request head (method, path, Host + 5 fields given
  as a dict) against ``HTTPConnection.putrequest`` / ``putheader`` /
  ``endheaders`` into a fake ``send`` (one connection object, reset between
  requests, as a pool reuses it). The ``block`` variant passes the 5 fields
  as a pre-serialized ``HeaderBlock`` (what a pool does with its defaults).

Each round runs ``OPS`` operations; ``extra_info["ns_per_op"]`` is one operation.
"""

from __future__ import annotations

import http.client
import importlib
import io
import time
import timeit
from collections.abc import Callable
from typing import Any

import pytest

OPS = 1000

HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    b"Server: nginx/1.25.3\r\n"
    b"Content-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: 0\r\n"
    b"Connection: keep-alive\r\n"
    b"Cache-Control: no-cache\r\n"
    b"X-Request-Id: 4f1c2a7e-9b3d-4c5e-8f6a-1b2c3d4e5f60\r\n"
    b"Vary: Accept-Encoding\r\n"
    b"\r\n"
)

METHOD = "GET"
PATH = "/api/v1/users/1"
HOST = "example.com"
HEADERS = {
    "User-Agent": "python-urllib3/2.2.1",
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "Authorization": "Bearer abcdef0123456789",
}


def _module(kind: str) -> Any:
    return importlib.import_module(f"fastpool._http11_{kind}")


# -- parse ------------------------------------------------------------------


def parse_fresh(mod: Any) -> Callable[[], Any]:
    parser_type = mod.ResponseParser
    head = HEAD

    def op() -> Any:
        p = parser_type()
        p.feed(head)
        h = p.next_head()
        return h.status, h.reason, h.headers

    return op


def parse_reused(mod: Any) -> Callable[[], Any]:
    p = mod.ResponseParser()
    head = HEAD

    def op() -> Any:
        p.start()
        p.feed(head)
        h = p.next_head()
        return h.status, h.reason, h.headers

    return op


class _FakeSock:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.data)


def parse_httpclient() -> Callable[[], Any]:
    sock = _FakeSock(HEAD)

    def op() -> Any:
        r = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
        r.begin()
        return r.status, r.reason, r.getheaders()

    return op


# -- serialize --------------------------------------------------------------


def serialize_dict(mod: Any) -> Callable[[], bytes]:
    encode = mod.encode_request_head
    headers = HEADERS

    def op() -> bytes:
        out: bytes = encode(METHOD, PATH, headers, host=HOST)
        return out

    return op


def serialize_block(mod: Any) -> Callable[[], bytes]:
    encode = mod.encode_request_head
    block = mod.HeaderBlock(HEADERS)

    def op() -> bytes:
        out: bytes = encode(METHOD, PATH, block, host=HOST)
        return out

    return op


class _BufferConnection(http.client.HTTPConnection):
    out: bytes = b""

    def send(self, data: Any) -> None:
        self.out = data


def serialize_httpclient() -> Callable[[], bytes]:
    conn = _BufferConnection(HOST)
    items = list(HEADERS.items())
    idle = http.client._CS_IDLE  # type: ignore[attr-defined]

    def op() -> bytes:
        conn._HTTPConnection__state = idle  # type: ignore[attr-defined]
        conn.putrequest(METHOD, PATH, skip_accept_encoding=True)
        for name, value in items:
            conn.putheader(name, value)
        conn.endheaders()
        return conn.out

    return op


def test_same_bytes() -> None:
    """The benchmarks compare the same work: identical request bytes."""
    expected = serialize_httpclient()()
    for kind in ("c", "py"):
        mod = _module(kind)
        assert serialize_dict(mod)() == expected
        assert serialize_block(mod)() == expected
    status, reason, headers = parse_httpclient()()
    for kind in ("c", "py"):
        assert parse_fresh(_module(kind))() == (status, reason, headers)


def _loop(op: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        for _ in range(OPS):
            op()

    return run


def _kinds() -> list[Any]:
    out: list[Any] = []
    for kind in ("c", "py"):
        try:
            _module(kind)
        except ImportError:
            out.append(pytest.param(kind, marks=pytest.mark.skip(reason="not compiled")))
        else:
            out.append(kind)
    return out


def _record(benchmark: Any, op: Callable[[], Any]) -> None:
    benchmark(_loop(op))
    benchmark.extra_info["ns_per_op"] = benchmark.stats.stats.min * 1e9 / OPS


@pytest.mark.benchmark(group="http11-parse")
@pytest.mark.parametrize("kind", _kinds())
def test_parse_fastpool(benchmark: Any, kind: str) -> None:
    _record(benchmark, parse_fresh(_module(kind)))


@pytest.mark.benchmark(group="http11-parse")
@pytest.mark.parametrize("kind", _kinds())
def test_parse_fastpool_reused(benchmark: Any, kind: str) -> None:
    _record(benchmark, parse_reused(_module(kind)))


@pytest.mark.benchmark(group="http11-parse")
def test_parse_httpclient(benchmark: Any) -> None:
    _record(benchmark, parse_httpclient())


@pytest.mark.benchmark(group="http11-serialize")
@pytest.mark.parametrize("kind", _kinds())
def test_serialize_fastpool(benchmark: Any, kind: str) -> None:
    _record(benchmark, serialize_dict(_module(kind)))


@pytest.mark.benchmark(group="http11-serialize")
@pytest.mark.parametrize("kind", _kinds())
def test_serialize_fastpool_block(benchmark: Any, kind: str) -> None:
    _record(benchmark, serialize_block(_module(kind)))


@pytest.mark.benchmark(group="http11-serialize")
def test_serialize_httpclient(benchmark: Any) -> None:
    _record(benchmark, serialize_httpclient())


def _best_ns(op: Callable[[], Any], number: int) -> float:
    # CPU time of this process: less disturbed by other load than wall time
    timer = timeit.Timer(op, timer=time.process_time)
    return min(timer.repeat(number=number, repeat=7)) * 1e9 / number


def main() -> None:
    rows = []
    base_parse = _best_ns(parse_httpclient(), 2000)
    base_ser = _best_ns(serialize_httpclient(), 5000)
    rows.append(("parse", "http.client begin()", base_parse, 1.0))
    for kind in ("c", "py"):
        mod = _module(kind)
        for label, factory in (("fresh parser", parse_fresh), ("reused parser", parse_reused)):
            ns = _best_ns(factory(mod), 20000)
            rows.append(("parse", f"_http11_{kind} {label}", ns, base_parse / ns))
    rows.append(("serialize", "http.client putrequest/...", base_ser, 1.0))
    for kind in ("c", "py"):
        mod = _module(kind)
        for label, factory in (("dict", serialize_dict), ("HeaderBlock", serialize_block)):
            ns = _best_ns(factory(mod), 20000)
            rows.append(("serialize", f"_http11_{kind} {label}", ns, base_ser / ns))
    print(f"{'group':<10} {'implementation':<32} {'ns/op':>10} {'x http.client':>14}")
    for group, name, ns, ratio in rows:
        print(f"{group:<10} {name:<32} {ns:>10.0f} {ratio:>13.1f}x")


if __name__ == "__main__":
    main()
