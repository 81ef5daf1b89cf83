"""atheris harness for the compiled HTTP/1.1 codec, with the pure twin as oracle.

Each input drives one of:

* the response parser: arbitrary bytes, split at arbitrary points, fed to
  ``ResponseParser`` (HEAD or not, small or default limits, arbitrary
  ``read_body`` sizes), then EOF. Only ``ProtocolError`` and
  ``http.client.RemoteDisconnected`` may escape. The compiled and the pure
  twin must agree: both accept with the same head, body, trailers and
  leftover, or both reject with the same exception type;
* the request side: ``encode_request_head`` / ``HeaderBlock`` on arbitrary
  methods, targets, header pairs (str, bytes, int, other types), host and
  framing arguments. Only ``ValueError`` and ``TypeError`` may escape, and
  both twins must return the same bytes or raise the same type.

Anything else (another exception, a mismatch, a crash or a sanitizer report)
is a finding. See fuzz/README.md for the commands.
"""

from __future__ import annotations

import os
import sys
from http.client import RemoteDisconnected
from typing import Any

import atheris
from urllib3.exceptions import ProtocolError

with atheris.instrument_imports(include=["fastpool._http11_py"]):
    import fastpool._http11_py as py

import fastpool._http11_c as c

if os.environ.get("FASTPOOL_FUZZ_SHOW_MODULE"):
    print("compiled twin:", c.__file__, file=sys.stderr)

_EOF = object()
_RESPONSE_ERRORS = (ProtocolError, RemoteDisconnected)
_REQUEST_ERRORS = (ValueError, TypeError)

# Prefixes that make the parser get past the status line often.
_PREFIXES = (
    b"",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: ",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 ",
    b"HTTP/1.1 204 No Content\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nX-A: b\r\n\r\n5;e=1\r\nhello\r\n",
)


def _drive_parser(
    mod: Any, chunks: list[Any], limits: dict[str, int], is_head: bool, sizes: list[int]
) -> tuple[Any, ...]:
    """Feed ``chunks`` (``_EOF`` = feed_eof) and read everything; the outcome."""
    p = mod.ResponseParser(**limits)
    p.start(is_head)
    head = None
    body: list[bytes] = []
    k = 0
    try:
        for chunk in chunks:
            if chunk is _EOF:
                p.feed_eof()
            else:
                p.feed(chunk)
            if head is None:
                head = p.next_head()
                if head is None:
                    continue
            # bounded: each call returns data or stops the loop
            for _ in range(10_000):
                if p.body_done:
                    break
                size = sizes[k % len(sizes)] if sizes else -1
                k += 1
                data = p.read_body(size)
                if data:
                    if size >= 0 and len(data) > size:
                        raise AssertionError("read_body returned more than max_bytes")
                    body.append(data)
                elif size != 0:
                    break
        if head is None:
            return ("incomplete-head",)
        for _ in range(10_000):  # after EOF: drain with no size bound
            if p.body_done:
                break
            data = p.read_body()
            if not data:
                break
            body.append(data)
        if not p.body_done:
            # after EOF an unfinished body must have raised
            raise AssertionError("body neither done nor failed after EOF")
        return (
            "ok",
            head.status,
            head.reason,
            head.version,
            head.headers,
            head.framing,
            head.content_length,
            head.keep_alive,
            b"".join(body),
            p.body_received,
            p.trailers,
            p.leftover(),
        )
    except _RESPONSE_ERRORS as e:
        return ("error", type(e).__name__)


def _split(data: bytes, cuts: list[int]) -> list[Any]:
    out: list[Any] = []
    pos = 0
    for cut in sorted(set(x % (len(data) + 1) for x in cuts)):
        if cut > pos:
            out.append(data[pos:cut])
            pos = cut
    if pos < len(data):
        out.append(data[pos:])
    out.append(_EOF)
    return out


def fuzz_response(fdp: atheris.FuzzedDataProvider) -> None:
    is_head = fdp.ConsumeBool()
    if fdp.ConsumeBool():
        limits = {
            "max_head_size": fdp.ConsumeIntInRange(1, 300),
            "max_headers": fdp.ConsumeIntInRange(1, 8),
            "max_trailer_size": fdp.ConsumeIntInRange(1, 64),
            "max_chunk_line": fdp.ConsumeIntInRange(1, 24),
        }
    else:
        limits = {}
    cuts = [fdp.ConsumeIntInRange(0, 4096) for _ in range(fdp.ConsumeIntInRange(0, 12))]
    sizes = [fdp.ConsumeIntInRange(-1, 40) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    as_view = fdp.ConsumeBool()
    prefix = _PREFIXES[fdp.ConsumeIntInRange(0, len(_PREFIXES) - 1)]
    data = prefix + fdp.ConsumeBytes(fdp.remaining_bytes())
    chunks = _split(data, cuts)
    if as_view:
        chunks = [ch if ch is _EOF else memoryview(bytearray(ch)) for ch in chunks]
    got_c = _drive_parser(c, chunks, limits, is_head, sizes)
    got_py = _drive_parser(py, chunks, limits, is_head, sizes)
    if got_c != got_py:
        raise AssertionError(
            f"twins disagree\n data={data!r}\n limits={limits!r} head={is_head!r} "
            f"sizes={sizes!r} cuts={cuts!r}\n c ={got_c!r}\n py={got_py!r}"
        )


def _value(fdp: atheris.FuzzedDataProvider) -> Any:
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind <= 3:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 24))
    if kind <= 6:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 24))
    if kind == 7:
        return fdp.ConsumeInt(4)
    if kind == 8:
        return bytearray(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8)))
    return [None, 1.5, True, object()][fdp.ConsumeIntInRange(0, 3)]


_NAMES = ("Host", "content-length", "Transfer-Encoding", "X-Ok", "Accept", b"HOST")


def _name(fdp: atheris.FuzzedDataProvider) -> Any:
    if fdp.ConsumeBool():
        return _NAMES[fdp.ConsumeIntInRange(0, len(_NAMES) - 1)]
    return _value(fdp)


def _outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    try:
        result = fn(*args, **kwargs)
    except _REQUEST_ERRORS as e:
        return ("error", type(e).__name__)
    if isinstance(result, (c.HeaderBlock, py.HeaderBlock)):
        return ("ok", result.data, result.names)
    return ("ok", result)


def fuzz_request(fdp: atheris.FuzzedDataProvider) -> None:
    method = _value(fdp) if fdp.ConsumeBool() else "GET"
    target = _value(fdp) if fdp.ConsumeBool() else "/"
    pairs = [(_name(fdp), _value(fdp)) for _ in range(fdp.ConsumeIntInRange(0, 6))]
    shape = fdp.ConsumeIntInRange(0, 3)
    host = _value(fdp) if fdp.ConsumeBool() else None
    content_length = None
    if fdp.ConsumeBool():
        content_length = fdp.ConsumeInt(8) if fdp.ConsumeBool() else _value(fdp)
    chunked = fdp.ConsumeBool()

    def headers_for(mod: Any) -> Any:
        if shape == 0:
            return pairs
        if shape == 1:
            try:
                return dict(pairs)
            except TypeError:  # unhashable name
                return pairs
        if shape == 2:
            return None
        return mod.HeaderBlock(pairs)

    results = []
    for mod in (c, py):
        block = _outcome(mod.HeaderBlock, pairs)
        try:
            headers = headers_for(mod)
        except _REQUEST_ERRORS as e:
            results.append((block, ("error", type(e).__name__)))
            continue
        head = _outcome(
            mod.encode_request_head,
            method,
            target,
            headers,
            host=host,
            content_length=content_length,
            chunked=chunked,
        )
        results.append((block, head))
    if results[0] != results[1]:
        raise AssertionError(
            "twins disagree on the request side\n"
            f" args={(method, target, pairs, shape, host, content_length, chunked)!r}\n"
            f" c ={results[0]!r}\n py={results[1]!r}"
        )
    data = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
    if c.encode_chunk(data) != py.encode_chunk(data):
        raise AssertionError(f"encode_chunk differs for {data!r}")


def fuzz_raw(data: bytes) -> None:
    """``data`` is a response as is (seeds from the test vectors start here):
    whole, split in two, and byte by byte near the start; GET and HEAD."""
    splits = [[], [len(data) // 2], list(range(min(len(data), 64)))]
    for is_head in (False, True):
        for cuts in splits:
            chunks = _split(data, cuts)
            got_c = _drive_parser(c, chunks, {}, is_head, [])
            got_py = _drive_parser(py, chunks, {}, is_head, [])
            if got_c != got_py:
                raise AssertionError(
                    f"twins disagree (raw)\n data={data!r} head={is_head!r} cuts={cuts!r}\n"
                    f" c ={got_c!r}\n py={got_py!r}"
                )


def TestOneInput(data: bytes) -> None:
    if data[:1] == b"\xff":
        fuzz_raw(data[1:])
        return
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeIntInRange(0, 3):
        fuzz_response(fdp)
    else:
        fuzz_request(fdp)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
