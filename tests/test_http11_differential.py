"""Differential tests of the response parser against h11 (a test-only dependency).

Hypothesis generates responses to a GET (valid ones, and mutated ones: a byte
deleted, inserted or replaced), feeds them whole and followed by EOF to h11 and
to the twin under test, and checks:

1. every response h11 parses completely is parsed by us to the same status,
   reason, headers (names compared case-insensitively, values equal), body,
   trailers and, for HTTP/1.1, keep-alive decision;
2. every response h11 rejects for a framing reason (bad or conflicting
   Content-Length, bad chunk header or chunk terminator, body cut short by
   EOF) is rejected by us too.

Deliberate differences (fastpool is the stricter client except where noted):

* obs-fold: h11 unfolds continuation lines, we reject them (RFC 9112 5.2 lets a
  client do either; folding is a smuggling vector).
* Transfer-Encoding with Content-Length: h11 lets chunked win, we reject.
* HTTP versions: h11 accepts any ``HTTP/x.y``; we accept only 1.0 and 1.1.
* 101 Switching Protocols: both reject, for different reasons (not compared).
* HTTP/1.0 with ``Connection: keep-alive``: h11 never keeps a 1.0 connection
  alive, we do when the length is known (keep-alive is compared for 1.1 only).
* Content-Length on 204/304/1xx: h11 validates it, we ignore it (no body).
* ``Content-Length: 5, 05`` (numerically equal): h11 says conflicting, we accept;
  more than 20 digits with leading zeros: h11 rejects, we accept below 2**63.
* Chunk sizes: BWS before ``;`` is accepted (RFC 9112 7.1.1), h11 rejects it.
  We allow 16 hex digits at most, h11 20.
* Transfer-Encoding other than exactly ``chunked``: h11 refuses it; we read
  ``gzip, chunked`` as chunked and anything else until close.
* NUL and bare CR: we reject them anywhere in the head, trailers and chunk
  lines; h11 lets some through (chunk extensions).
* Header values with control characters: h11 rejects them, we keep them.
"""

from __future__ import annotations

import re
from http.client import RemoteDisconnected
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from urllib3.exceptions import ProtocolError

h11 = pytest.importorskip("h11")

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FRAMING_REASONS = (
    "bad Content-Length",
    "conflicting Content-Length",
    "illegal chunk header",
    "malformed chunk footer",
    "peer closed connection without sending complete message body",
)


# --------------------------------------------------------------------------- the two parsers


def _comparable(headers: Any) -> list[tuple[str, str]]:
    """Names lower-cased; framing fields left out (h11 normalizes them: it keeps
    one Content-Length of ``5, 5`` and lower-cases Transfer-Encoding)."""
    return [
        (k.lower(), v)
        for k, v in headers
        if k.lower() not in ("content-length", "transfer-encoding")
    ]


def parse_h11(data: bytes) -> dict[str, Any]:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "example")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    conn.receive_data(b"")
    out: dict[str, Any] = {"body": b""}
    try:
        for _ in range(10_000):
            ev = conn.next_event()
            if isinstance(ev, h11.InformationalResponse):
                out.setdefault("interim_versions", []).append(ev.http_version.decode())
                continue
            if isinstance(ev, h11.Response):
                out["status"] = ev.status_code
                out["reason"] = ev.reason.decode("latin-1")
                out["version"] = ev.http_version.decode()
                out["headers"] = _comparable(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in ev.headers.raw_items()
                )
                out["raw_headers"] = list(ev.headers.raw_items())
            elif isinstance(ev, h11.Data):
                out["body"] += bytes(ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                out["trailers"] = [
                    (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in ev.headers
                ]
                out["keep_alive"] = conn.their_state is h11.DONE
                out["ok"] = True
                return out
            else:  # NEED_DATA, PAUSED, ConnectionClosed
                out["ok"] = False
                out["error"] = f"incomplete: {ev!r}"
                return out
    except h11.RemoteProtocolError as e:
        return {"ok": False, "error": str(e)}
    raise AssertionError("h11 never finished")


def parse_ours(http11: Any, data: bytes) -> dict[str, Any]:
    p = http11.ResponseParser()
    p.start()
    body = bytearray()
    try:
        p.feed(data)
        head = p.next_head()
        if head is not None:
            body += p.read_body()
        p.feed_eof()
        if head is None:
            head = p.next_head()
        for _ in range(100_000):
            piece = p.read_body()
            if not piece:
                break
            body += piece
    except ProtocolError as e:
        return {"ok": False, "error": f"ProtocolError: {e}"}
    except RemoteDisconnected as e:
        return {"ok": False, "error": f"RemoteDisconnected: {e}"}
    assert head is not None and p.body_done
    return {
        "ok": True,
        "status": head.status,
        "reason": head.reason,
        "version": "1.1" if head.version == 11 else "1.0",
        "headers": _comparable(head.headers),
        "raw_headers": head.headers,
        "body": bytes(body),
        "trailers": [(k.lower(), v) for k, v in p.trailers],
        "keep_alive": head.keep_alive,
        "framing": head.framing,
    }


# --------------------------------------------------------------------------- generation

TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~",
    min_size=1,
    max_size=12,
)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
NAMES = (
    st.sampled_from(
        [
            "Server",
            "Content-Type",
            "X-Request-Id",
            "Date",
            "Vary",
            "Set-Cookie",
            "Cache-Control",
            "ETag",
        ]
    )
    | TOKEN
)
CONNECTION = st.sampled_from(
    ["close", "keep-alive", "Keep-Alive", "close, foo", "upgrade", "foo", "CLOSE"]
)
EOL = st.sampled_from(["\r\n", "\r\n", "\r\n", "\n"])
INTERESTING = [b" ", b"\t", b"\r", b"\n", b":", b"\x00", b"0", b"a", b";", b",", b"\r\n", b"5"]


@st.composite
def chunks(draw: Any) -> tuple[bytes, bytes]:
    """(encoded chunked body, decoded payload)."""
    parts = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=4))
    out = bytearray()
    for part in parts:
        size = format(len(part), draw(st.sampled_from(["x", "X"])))
        size = "0" * draw(st.integers(0, 3)) + size
        ext = draw(st.sampled_from(["", "", ";a=b", ";x", '; q="s t"', " ", "\t"]))
        out += f"{size}{ext}\r\n".encode() + part + b"\r\n"
    out += b"0" * draw(st.integers(1, 2)) + b"\r\n"
    for _ in range(draw(st.integers(0, 2))):
        out += f"{draw(NAMES)}: {draw(VALUE)}\r\n".encode("latin-1")
    out += b"\r\n"
    return bytes(out), b"".join(parts)


@st.composite
def responses(draw: Any) -> bytes:
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]))
    status = draw(st.sampled_from([200, 200, 201, 204, 206, 301, 304, 404, 500, 599, 999]))
    reason = draw(st.sampled_from(["OK", "", "Whatever it is", "Not  Found "]))
    status_line = f"{version} {status}" + (
        "" if reason == "" and draw(st.booleans()) else f" {reason}"
    )
    headers = [(draw(NAMES), draw(VALUE)) for _ in range(draw(st.integers(0, 5)))]
    if draw(st.booleans()):
        headers.append(("Connection", draw(CONNECTION)))
    framing = draw(st.sampled_from(["length", "length", "chunked", "close"]))
    payload = draw(st.binary(max_size=60))
    body = payload
    if framing == "length":
        n = len(payload)
        headers.append(
            (
                "Content-Length",
                draw(st.sampled_from([str(n), str(n), f"{n}, {n}", f" {n} ", "0" * 3 + str(n)])),
            )
        )
        if draw(st.integers(0, 9)) == 0:
            headers.append(("content-length", str(n)))
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", draw(st.sampled_from(["chunked", "Chunked"]))))
        body, _ = draw(chunks())
    headers = draw(st.permutations(headers))
    eols = [draw(EOL) for _ in range(len(headers) + 2)]
    head = status_line + eols[0]
    for (k, v), eol in zip(headers, eols[1:-1], strict=True):
        head += f"{k}:{draw(st.sampled_from([' ', '', '  ', chr(9)]))}{v}{eol}"
    head += eols[-1]
    prefix = b""
    if draw(st.integers(0, 5)) == 0:
        prefix = b"HTTP/1.1 100 Continue\r\n\r\n"
    data = prefix + head.encode("latin-1") + body
    for _ in range(draw(st.integers(0, 2))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["del", "ins", "rep", "none"]))
        b = draw(st.sampled_from(INTERESTING))
        if op == "del":
            data = data[:i] + data[i + 1 :]
        elif op == "ins":
            data = data[:i] + b + data[i:]
        elif op == "rep":
            data = data[:i] + b + data[i + 1 :]
    return data


# --------------------------------------------------------------------------- documented differences


def _head_part(data: bytes) -> bytes:
    m = re.search(rb"\n\r?\n", data)
    return data[: m.end()] if m else data


def known_difference_when_h11_accepts(data: bytes, theirs: dict[str, Any]) -> bool:
    raw = theirs.get("raw_headers", [])
    names = {k.lower() for k, _ in raw}
    if b"transfer-encoding" in names and b"content-length" in names:
        return True
    if theirs.get("version") not in ("1.0", "1.1"):
        return True
    # the same rule for interim (1xx) heads: we refuse HTTP/x.y other than 1.0/1.1 there too
    if any(v not in ("1.0", "1.1") for v in theirs.get("interim_versions", ())):
        return True
    if theirs.get("status") == 101:
        return True
    if re.search(rb"\n[ \t]", data):  # obs-fold (or a chunk line starting with space)
        return True
    if b"\x00" in data or re.search(rb"\r[^\n]", data):
        return True
    # a chunk size over 16 hex digits
    return bool(re.search(rb"(?m)^[0-9A-Fa-f]{17,}", data))


def known_difference_when_h11_rejects(
    data: bytes, theirs: dict[str, Any], ours: dict[str, Any]
) -> bool:
    err = theirs["error"]
    if ours.get("status") in (204, 304) or (b" 1" in data[:12] and b"\n\r\nHTTP" in data):
        return True  # Content-Length of a response without body: not looked at
    if err.startswith("conflicting Content-Length") or err.startswith("bad Content-Length"):
        values = [v for k, v in ours["raw_headers"] if k.lower() == "content-length"]
        nums = {
            int(x.strip(" \t")) for v in values for x in v.split(",") if x.strip(" \t").isdigit()
        }
        return len(nums) == 1
    if err.startswith("illegal chunk header"):
        return bool(re.search(rb"(?m)^[0-9A-Fa-f]+[ \t]+[;\r]", data))
    return False


# --------------------------------------------------------------------------- the tests


def compare(http11: Any, data: bytes) -> None:
    theirs = parse_h11(data)
    ours = parse_ours(http11, data)
    if theirs["ok"]:
        if known_difference_when_h11_accepts(data, theirs):
            return
        assert ours["ok"], f"h11 accepts, we reject ({ours['error']}): {data!r}"
        for key in ("status", "reason", "version", "headers", "body", "trailers"):
            assert ours[key] == theirs[key], f"{key}: {ours[key]!r} != {theirs[key]!r} for {data!r}"
        # h11 judges keep-alive from the headers alone; a body read until close
        # ends the connection whatever they say.
        if theirs["version"] == "1.1" and ours["framing"] != 3:
            assert ours["keep_alive"] == theirs["keep_alive"], data
    elif theirs["error"].startswith(FRAMING_REASONS):
        if ours["ok"] and known_difference_when_h11_rejects(data, theirs, ours):
            return
        assert not ours["ok"], f"h11 rejects ({theirs['error']}), we accept: {data!r}"


@SETTINGS
@given(data=responses())
def test_against_h11(impl: Any, data: bytes) -> None:
    compare(impl.http11, data)


@SETTINGS
@given(data=st.binary(max_size=80).map(lambda b: b"HTTP/1.1 200 OK\r\n" + b))
def test_against_h11_random_tail(impl: Any, data: bytes) -> None:
    compare(impl.http11, data)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nA: b\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        # found by hypothesis: h11 takes any version on an interim head; we refuse it
        b"HTTP/5.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nuntil close",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
    ],
)
def test_against_h11_examples(impl: Any, data: bytes) -> None:
    compare(impl.http11, data)
