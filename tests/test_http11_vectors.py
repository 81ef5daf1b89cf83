"""Response side of the ``_http11`` codec: a table of valid and invalid
response vectors, each run whole, split in two at every byte boundary, byte by
byte, and with a small ``read_body(max_bytes)``; every way must give the same
outcome. Runs on both twins.

Rules pinned here beyond RFC 9112's letter (see docs/internals.md):

* a bare LF ends a line in the head and in trailers; a bare CR anywhere in them
  is an error; chunk framing needs exact CRLF;
* after a chunk size, BWS (SP / HT) is accepted before ``;`` and before CRLF;
  whitespace before or inside the digits is not;
* status codes are 100..999; Content-Length values compare numerically.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from _http11_vectors import V, bad, check, msg, ok
from urllib3.exceptions import IncompleteRead, ProtocolError

NONE, LENGTH, CHUNKED, CLOSE = 0, 1, 2, 3

S200 = "HTTP/1.1 200 OK"


def chunked(*lines: str, body: bytes) -> bytes:
    return msg(S200, "Transfer-Encoding: chunked", *lines, body=body)


def cl(n: int | str, body: bytes = b"", status: str = S200) -> bytes:
    return msg(status, f"Content-Length: {n}", body=body)


def head_of_size(size: int, *, nl: str = "\r\n") -> bytes:
    """A complete head of exactly ``size`` bytes (status line to empty line)."""
    base = msg(S200, "Content-Length: 0", "X-Pad: ", nl=nl)
    pad = size - len(base)
    assert pad >= 0
    return msg(S200, "Content-Length: 0", "X-Pad: " + "p" * pad, nl=nl)


def many_headers(n: int) -> bytes:
    return msg(S200, *[f"X-H{i}: {i}" for i in range(n - 1)], "Content-Length: 0")


def trailer_block_of_size(size: int) -> bytes:
    """A trailer section (fields + empty line) of exactly ``size`` bytes."""
    base = b"X-T: \r\n\r\n"
    return b"X-T: " + b"t" * (size - len(base)) + b"\r\n\r\n"


def chunk_line_of_size(size: int) -> bytes:
    """A chunk-size line for a 5-byte chunk, CRLF included, of exactly ``size`` bytes."""
    return b"5;x=" + b"e" * (size - 6) + b"\r\n"


VECTORS: list[V] = [
    # ------------------------------------------------------------ status lines
    ok(
        "http11",
        cl(5, b"hello"),
        status=200,
        reason="OK",
        version=11,
        headers=[("Content-Length", "5")],
        framing=LENGTH,
        content_length=5,
        keep_alive=True,
        body=b"hello",
    ),
    ok(
        "http10",
        msg("HTTP/1.0 200 OK", "Content-Length: 2", body=b"hi"),
        version=10,
        keep_alive=False,
        framing=LENGTH,
        body=b"hi",
    ),
    ok(
        "reason-missing",
        b"HTTP/1.1 204\r\n\r\n",
        status=204,
        reason="",
        framing=NONE,
        content_length=None,
        headers=[],
        body=b"",
    ),
    ok("reason-empty", b"HTTP/1.1 204 \r\n\r\n", status=204, reason=""),
    ok(
        "reason-spaces-kept",
        b"HTTP/1.1 404 Not  Found \r\nContent-Length: 0\r\n\r\n",
        status=404,
        reason="Not  Found ",
    ),
    ok(
        "reason-obs-text-and-tab",
        b"HTTP/1.1 200 Caf\xe9\tOK\r\nContent-Length: 0\r\n\r\n",
        reason="Caf\xe9\tOK",
    ),
    ok("status-999", cl(0, status="HTTP/1.1 999 Odd"), status=999, framing=LENGTH),
    ok("status-599", cl(1, b"x", status="HTTP/1.1 599 X"), status=599, body=b"x"),
    ok("status-100s-final-after-interim", msg("HTTP/1.1 100 Continue") + cl(0), status=200),
    bad("status-2-digits", b"HTTP/1.1 20 OK\r\n\r\n"),
    bad("status-4-digits", b"HTTP/1.1 2000 OK\r\n\r\n"),
    bad("status-4-digits-no-reason", b"HTTP/1.1 2000\r\n\r\n"),
    bad("status-letter", b"HTTP/1.1 20a OK\r\n\r\n"),
    bad("status-099", b"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n"),
    bad("status-000", b"HTTP/1.1 000 Zero\r\n\r\n"),
    bad("status-sign", b"HTTP/1.1 +20 OK\r\n\r\n"),
    bad("status-negative", b"HTTP/1.1 -20 OK\r\n\r\n"),
    bad("status-superscript", b"HTTP/1.1 \xb200 OK\r\n\r\n"),
    bad("status-missing", b"HTTP/1.1 \r\n\r\n"),
    bad("status-line-only-version", b"HTTP/1.1\r\n\r\n"),
    bad("http2", b"HTTP/2 200 OK\r\n\r\n"),
    bad("http20", b"HTTP/2.0 200 OK\r\n\r\n"),
    bad("http12", b"HTTP/1.2 200 OK\r\n\r\n"),
    bad("http09", b"HTTP/0.9 200 OK\r\n\r\n"),
    bad("http110", b"HTTP/1.10 200 OK\r\n\r\n"),
    bad("lowercase-http", b"http/1.1 200 OK\r\n\r\n"),
    bad("two-spaces", b"HTTP/1.1  200 OK\r\n\r\n"),
    bad("tab-before-status", b"HTTP/1.1\t200 OK\r\n\r\n"),
    bad("tab-after-status", b"HTTP/1.1 200\tOK\r\n\r\n"),
    bad("no-space-before-reason", b"HTTP/1.1 200OK\r\n\r\n"),
    bad("leading-space", b" HTTP/1.1 200 OK\r\n\r\n"),
    bad("leading-empty-line", b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    bad("leading-bare-lf", b"\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    bad("garbage", b"garbage\r\n\r\n"),
    bad("html", b"<html><body>hello</body></html>"),
    bad("garbage-no-newline-ever", b"SSH-2.0-OpenSSH_9.6"),
    bad("nul-in-reason", b"HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n"),
    bad("cr-in-reason", b"HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n"),
    # ------------------------------------------------------------ incomplete heads / EOF
    ok(
        "head-incomplete",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
        head=False,
        body_done=...,
        leftover=...,
        trailers=...,
    ),
    ok("nothing-yet", b"", head=False, body_done=..., leftover=..., trailers=...),
    bad("eof-before-any-byte", b"", eof=True, error="RemoteDisconnected"),
    bad("eof-mid-status-line", b"HTTP/1.1 20", eof=True),
    bad("eof-mid-head", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", eof=True),
    bad("eof-after-interim", msg("HTTP/1.1 100 Continue"), eof=True),
    # ------------------------------------------------------------ header fields
    ok(
        "ows-trimmed",
        msg(S200, "A:   b  \t", "B:b", "C:\t b c \t", "Content-Length: 0"),
        headers=[("A", "b"), ("B", "b"), ("C", "b c"), ("Content-Length", "0")],
    ),
    ok(
        "empty-values",
        msg(S200, "A:", "B:    ", "C:\t", "Content-Length: 0"),
        headers=[("A", ""), ("B", ""), ("C", ""), ("Content-Length", "0")],
    ),
    ok(
        "name-case-and-order-kept",
        msg(S200, "X-MiXeD: 1", "x-mixed: 2", "content-LENGTH: 0", "X-MiXeD: 3"),
        headers=[("X-MiXeD", "1"), ("x-mixed", "2"), ("content-LENGTH", "0"), ("X-MiXeD", "3")],
        framing=LENGTH,
        content_length=0,
    ),
    ok(
        "value-with-colons",
        msg(S200, "Location: http://a:80/b", "Content-Length: 0"),
        headers=[("Location", "http://a:80/b"), ("Content-Length", "0")],
    ),
    ok(
        "value-controls-kept",
        b"HTTP/1.1 200 OK\r\nA: x\x01y\x7fz\xff\r\nContent-Length: 0\r\n\r\n",
        headers=[("A", "x\x01y\x7fz\xff"), ("Content-Length", "0")],
    ),
    ok(
        "token-name-chars",
        msg(S200, "!#$%&'*+-.^_`|~09azAZ: v", "Content-Length: 0"),
        headers=[("!#$%&'*+-.^_`|~09azAZ", "v"), ("Content-Length", "0")],
    ),
    ok(
        "bare-lf-everywhere",
        msg(S200, "A: b", "Content-Length: 3", body=b"abc", nl="\n"),
        headers=[("A", "b"), ("Content-Length", "3")],
        body=b"abc",
    ),
    ok(
        "bare-lf-mixed",
        b"HTTP/1.1 200 OK\nA: b\r\nC: d\nContent-Length: 1\r\n\nx",
        headers=[("A", "b"), ("C", "d"), ("Content-Length", "1")],
        body=b"x",
    ),
    ok("bare-lf-then-crlf-end", b"HTTP/1.1 200 OK\nContent-Length: 1\n\r\nx", body=b"x"),
    ok("crlf-then-bare-lf-end", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\nx", body=b"x"),
    bad("obs-fold-space", msg(S200, "A: b", " c", "Content-Length: 0")),
    bad("obs-fold-tab", msg(S200, "A: b", "\tc", "Content-Length: 0")),
    bad("obs-fold-first-line", msg(S200, " A: b", "Content-Length: 0")),
    bad("no-colon", msg(S200, "Abc", "Content-Length: 0")),
    bad("space-before-colon", msg(S200, "A : b", "Content-Length: 0")),
    bad("tab-before-colon", msg(S200, "A\t: b", "Content-Length: 0")),
    bad("space-before-colon-content-length", msg(S200, "Content-Length : 5", body=b"hello")),
    bad("empty-name", msg(S200, ": b", "Content-Length: 0")),
    bad("name-with-space", msg(S200, "A b: c", "Content-Length: 0")),
    bad("name-with-paren", msg(S200, "A(b): c", "Content-Length: 0")),
    bad("name-non-ascii", msg(S200, "\xc4: b", "Content-Length: 0")),
    bad("name-del", msg(S200, "A\x7f: b", "Content-Length: 0")),
    bad("name-slash", msg(S200, "A/b: c", "Content-Length: 0")),
    bad("nul-in-value", b"HTTP/1.1 200 OK\r\nA: b\x00c\r\nContent-Length: 0\r\n\r\n"),
    bad("nul-in-name", b"HTTP/1.1 200 OK\r\nA\x00: b\r\nContent-Length: 0\r\n\r\n"),
    bad("bare-cr-in-value", b"HTTP/1.1 200 OK\r\nA: b\rc\r\nContent-Length: 0\r\n\r\n"),
    bad("bare-cr-end-of-value", b"HTTP/1.1 200 OK\r\nA: b\r\r\nContent-Length: 0\r\n\r\n"),
    bad("bare-cr-line-ending", b"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n"),
    bad("bare-cr-empty-line", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\r\n\r\n"),
    bad("cr-cr-lf-status", b"HTTP/1.1 200 OK\r\r\nContent-Length: 0\r\n\r\n"),
    # ------------------------------------------------------------ limits
    ok("100-headers", many_headers(100), framing=LENGTH, content_length=0),
    bad("101-headers", many_headers(101)),
    ok("custom-max-headers-ok", many_headers(3), limits={"max_headers": 3}),
    bad("custom-max-headers-over", many_headers(4), limits={"max_headers": 3}),
    ok("head-exactly-64k", head_of_size(65536), framing=LENGTH),
    ok("head-exactly-64k-bare-lf", head_of_size(65536, nl="\n"), framing=LENGTH),
    bad("head-64k-plus-1", head_of_size(65537)),
    bad("head-never-ends", b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 70000),
    bad("head-never-ends-many-lines", b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 12000),
    ok("custom-head-size-ok", head_of_size(200), limits={"max_head_size": 200}),
    bad("custom-head-size-over", head_of_size(201), limits={"max_head_size": 200}),
    bad(
        "custom-head-size-never-ends",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 300,
        limits={"max_head_size": 200},
    ),
    ok(
        "interim-heads-limited-each",
        head_of_size(200).replace(b"200 OK", b"103 EH").replace(b"Content-Length: 0\r\n", b"")
        + head_of_size(200),
        limits={"max_head_size": 200},
        status=200,
    ),
    # ------------------------------------------------------------ interim 1xx
    ok(
        "100-then-200",
        msg("HTTP/1.1 100 Continue") + cl(2, b"ok"),
        status=200,
        reason="OK",
        headers=[("Content-Length", "2")],
        body=b"ok",
    ),
    ok(
        "102-103-then-200",
        msg("HTTP/1.1 102 Processing")
        + msg("HTTP/1.1 103 Early Hints", "Link: </s.css>; rel=preload", "Link: </a.js>")
        + msg("HTTP/1.1 200 OK", "Content-Length: 1", body=b"x"),
        status=200,
        headers=[("Content-Length", "1")],
        body=b"x",
    ),
    ok(
        "interim-with-content-length-ignored",
        msg("HTTP/1.1 100 Continue", "Content-Length: 5") + cl(2, b"ok"),
        body=b"ok",
    ),
    ok("interim-http10-and-no-reason", b"HTTP/1.0 100\r\n\r\n" + cl(0), status=200),
    ok("199-interim", msg("HTTP/1.1 199 Whatever") + cl(0), status=200),
    ok(
        "interim-then-head-request",
        msg("HTTP/1.1 100 Continue") + cl(5),
        head_request=True,
        framing=NONE,
        body=b"",
    ),
    bad(
        "101", msg("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: upgrade")
    ),
    bad("101-after-100", msg("HTTP/1.1 100 Continue") + msg("HTTP/1.1 101 Switching")),
    bad("interim-bad-header", msg("HTTP/1.1 103 EH", "Bad Name: x") + cl(0)),
    bad("interim-then-garbage", msg("HTTP/1.1 100 Continue") + b"garbage\r\n\r\n"),
    # ------------------------------------------------------------ no body
    ok(
        "head-request",
        cl(5),
        head_request=True,
        framing=NONE,
        content_length=None,
        keep_alive=True,
        body=b"",
    ),
    ok(
        "head-request-chunked",
        msg(S200, "Transfer-Encoding: chunked"),
        head_request=True,
        framing=NONE,
        body=b"",
    ),
    ok("head-request-bad-cl-not-looked-at", cl("abc"), head_request=True, framing=NONE),
    ok(
        "head-request-te-and-cl-not-looked-at",
        msg(S200, "Transfer-Encoding: chunked", "Content-Length: 5"),
        head_request=True,
        framing=NONE,
    ),
    ok(
        "head-request-leftover",
        cl(5) + b"HTTP/1.1 200",
        head_request=True,
        leftover=b"HTTP/1.1 200",
    ),
    ok(
        "204-with-cl",
        msg("HTTP/1.1 204 No Content", "Content-Length: 5"),
        status=204,
        framing=NONE,
        content_length=None,
        body=b"",
    ),
    ok(
        "204-extra-bytes-are-leftover",
        msg("HTTP/1.1 204 No Content") + b"hello",
        body=b"",
        leftover=b"hello",
    ),
    ok(
        "304-te-and-cl-not-looked-at",
        msg("HTTP/1.1 304 Not Modified", "Transfer-Encoding: chunked", "Content-Length: 5"),
        framing=NONE,
        keep_alive=True,
    ),
    ok("304-http10", msg("HTTP/1.0 304 Not Modified"), framing=NONE, keep_alive=False),
    ok(
        "204-http10-keep-alive",
        msg("HTTP/1.0 204 X", "Connection: keep-alive"),
        framing=NONE,
        keep_alive=True,
    ),
    # ------------------------------------------------------------ Content-Length
    ok("cl-0", cl(0), framing=LENGTH, content_length=0, body=b""),
    ok(
        "cl-ows", msg(S200, "Content-Length:  5 \t", body=b"hello"), content_length=5, body=b"hello"
    ),
    ok("cl-leading-zeros", cl("0005", b"hello"), content_length=5, body=b"hello"),
    ok("cl-many-leading-zeros", cl("0" * 40 + "3", b"abc"), content_length=3, body=b"abc"),
    ok("cl-list-equal", cl("5, 5", b"hello"), content_length=5, body=b"hello"),
    ok("cl-list-equal-no-space", cl("5,5,5", b"hello"), content_length=5),
    ok("cl-list-ows", cl("5 , 5", b"hello"), content_length=5),
    ok("cl-list-numerically-equal", cl("5, 05", b"hello"), content_length=5),
    ok(
        "cl-repeated-agreeing",
        msg(S200, "Content-Length: 5", "X: y", "content-length: 5", body=b"hello"),
        content_length=5,
        body=b"hello",
    ),
    ok(
        "cl-repeated-list-agreeing",
        msg(S200, "Content-Length: 5, 5", "Content-Length: 5", body=b"hello"),
        body=b"hello",
    ),
    ok(
        "cl-max",
        cl(2**63 - 1, b"abc"),
        content_length=2**63 - 1,
        body=b"abc",
        body_done=False,
        leftover=...,
    ),
    ok(
        "cl-extra-bytes-leftover",
        cl(5, b"helloHTTP/1.1 200 OK\r\n"),
        body=b"hello",
        leftover=b"HTTP/1.1 200 OK\r\n",
    ),
    ok("cl-incomplete", cl(10, b"hello"), body=b"hello", body_done=False, leftover=...),
    bad("cl-incomplete-eof", cl(10, b"hello"), eof=True),
    bad("cl-plus", cl("+5", b"hello")),
    bad("cl-minus", cl("-1")),
    bad("cl-inner-space", cl("5 5", b"hello")),
    bad("cl-underscore", cl("5_0")),
    bad("cl-hex", cl("0x10")),
    bad("cl-float", cl("5.0")),
    bad("cl-exp", cl("1e3")),
    bad("cl-empty", cl("")),
    bad("cl-letters", cl("five")),
    bad("cl-superscript", b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n"),
    bad("cl-fullwidth", "HTTP/1.1 200 OK\r\nContent-Length: \uff15\r\n\r\n".encode()),
    bad("cl-2-63", cl(2**63)),
    bad("cl-huge", cl("9" * 100)),
    bad("cl-list-conflict", cl("5, 6", b"hello!")),
    bad("cl-list-empty-element", cl("5,", b"hello")),
    bad("cl-list-leading-comma", cl(",5", b"hello")),
    bad(
        "cl-repeated-conflict", msg(S200, "Content-Length: 5", "Content-Length: 6", body=b"hello!")
    ),
    bad("cl-repeated-one-bad", msg(S200, "Content-Length: 5", "Content-Length: x", body=b"hello")),
    # ------------------------------------------------------------ Transfer-Encoding
    ok(
        "te-chunked",
        chunked(body=b"5\r\nhello\r\n0\r\n\r\n"),
        framing=CHUNKED,
        content_length=None,
        keep_alive=True,
        body=b"hello",
        headers=[("Transfer-Encoding", "chunked")],
    ),
    ok(
        "te-case",
        msg(S200, "transfer-encoding: ChUnKeD", body=b"1\r\nx\r\n0\r\n\r\n"),
        framing=CHUNKED,
        body=b"x",
    ),
    ok(
        "te-gzip-chunked",
        msg(S200, "Transfer-Encoding: gzip, chunked", body=b"3\r\nabc\r\n0\r\n\r\n"),
        framing=CHUNKED,
        body=b"abc",
    ),
    ok(
        "te-two-fields-chunked-last",
        msg(
            S200,
            "Transfer-Encoding: gzip",
            "Transfer-Encoding: chunked",
            body=b"3\r\nabc\r\n0\r\n\r\n",
        ),
        framing=CHUNKED,
        body=b"abc",
    ),
    ok(
        "te-trailing-empty-element",
        msg(S200, "Transfer-Encoding: chunked, ", body=b"1\r\nx\r\n0\r\n\r\n"),
        framing=CHUNKED,
    ),
    ok(
        "te-chunked-gzip-is-close",
        msg(S200, "Transfer-Encoding: chunked, gzip", body=b"raw bytes"),
        eof=True,
        framing=CLOSE,
        keep_alive=False,
        body=b"raw bytes",
    ),
    ok(
        "te-two-fields-chunked-first",
        msg(S200, "Transfer-Encoding: chunked", "Transfer-Encoding: gzip", body=b"zz"),
        eof=True,
        framing=CLOSE,
        body=b"zz",
    ),
    ok(
        "te-identity-is-close",
        msg(S200, "Transfer-Encoding: identity", body=b"abc"),
        eof=True,
        framing=CLOSE,
        keep_alive=False,
        body=b"abc",
    ),
    ok(
        "te-chunked-with-params-is-close",
        msg(S200, "Transfer-Encoding: chunked;x=1", body=b"a"),
        eof=True,
        framing=CLOSE,
    ),
    bad(
        "te-and-cl",
        msg(
            S200, "Transfer-Encoding: chunked", "Content-Length: 5", body=b"5\r\nhello\r\n0\r\n\r\n"
        ),
    ),
    bad(
        "cl-and-te",
        msg(
            S200, "Content-Length: 5", "Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n"
        ),
    ),
    bad(
        "te-identity-and-cl",
        msg(S200, "Transfer-Encoding: identity", "Content-Length: 3", body=b"abc"),
    ),
    # ------------------------------------------------------------ chunked bodies
    ok("chunk-upper-hex", chunked(body=b"A\r\n0123456789\r\n0\r\n\r\n"), body=b"0123456789"),
    ok("chunk-lower-hex", chunked(body=b"a\r\n0123456789\r\n0\r\n\r\n"), body=b"0123456789"),
    ok("chunk-mixed-hex", chunked(body=b"1F\r\n" + b"x" * 31 + b"\r\n0\r\n\r\n"), body=b"x" * 31),
    ok("chunk-leading-zeros", chunked(body=b"0005\r\nhello\r\n000\r\n\r\n"), body=b"hello"),
    ok("chunk-16-digits", chunked(body=b"0000000000000005\r\nhello\r\n0\r\n\r\n"), body=b"hello"),
    ok("chunk-many", chunked(body=b"1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n"), body=b"abcdef"),
    ok("chunk-data-with-crlf", chunked(body=b"4\r\n\r\n\r\n\r\n0\r\n\r\n"), body=b"\r\n\r\n"),
    ok("chunk-extension", chunked(body=b"5;name=value\r\nhello\r\n0\r\n\r\n"), body=b"hello"),
    ok("chunk-empty-extension", chunked(body=b"5;\r\nhello\r\n0\r\n\r\n"), body=b"hello"),
    ok(
        "chunk-quoted-extension",
        chunked(body=b'5;a="b c";d\r\nhello\r\n0;last=1\r\n\r\n'),
        body=b"hello",
    ),
    ok(
        "chunk-extension-obs-text",
        chunked(body=b"5;\xff\x01\t\r\nhello\r\n0\r\n\r\n"),
        body=b"hello",
    ),
    ok("chunk-bws-before-crlf", chunked(body=b"5 \r\nhello\r\n0\t\r\n\r\n"), body=b"hello"),
    ok(
        "chunk-bws-before-semicolon",
        chunked(body=b"5 \t;x=y\r\nhello\r\n0 ;z\r\n\r\n"),
        body=b"hello",
    ),
    ok(
        "chunk-huge-size-incomplete",
        chunked(body=b"ffffffffffffffff\r\nabc"),
        body=b"abc",
        body_done=False,
        leftover=...,
    ),
    ok(
        "chunk-incomplete-data",
        chunked(body=b"a\r\n01234"),
        body=b"01234",
        body_done=False,
        leftover=...,
    ),
    ok(
        "chunk-missing-final-crlf",
        chunked(body=b"5\r\nhello\r\n0\r\n"),
        body=b"hello",
        body_done=False,
        leftover=...,
    ),
    ok(
        "chunk-leftover",
        chunked(body=b"1\r\nx\r\n0\r\n\r\nHTTP/1.1 204 X\r\n\r\n"),
        body=b"x",
        leftover=b"HTTP/1.1 204 X\r\n\r\n",
    ),
    ok("chunk-only-last", chunked(body=b"0\r\n\r\n"), body=b""),
    bad("chunk-missing-final-crlf-eof", chunked(body=b"5\r\nhello\r\n0\r\n"), eof=True),
    bad("chunk-eof-mid-data", chunked(body=b"a\r\n01234"), eof=True),
    bad("chunk-eof-mid-size", chunked(body=b"5\r\nhello\r\n1"), eof=True),
    bad("chunk-eof-before-size", chunked(body=b""), eof=True),
    bad("chunk-17-digits", chunked(body=b"00000000000000005\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-17-digits-value", chunked(body=b"10000000000000000\r\n")),
    bad("chunk-plus", chunked(body=b"+5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-minus", chunked(body=b"-5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-0x", chunked(body=b"0x5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-leading-space", chunked(body=b" 5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-leading-tab", chunked(body=b"\t5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-inner-space", chunked(body=b"5 5\r\n" + b"x" * 85 + b"\r\n0\r\n\r\n")),
    bad("chunk-underscore", chunked(body=b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n")),
    bad("chunk-empty-size", chunked(body=b"\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-only-semicolon", chunked(body=b";x\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-not-hex", chunked(body=b"g\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-bare-lf", chunked(body=b"5\nhello\r\n0\r\n\r\n")),
    bad("chunk-last-bare-lf", chunked(body=b"5\r\nhello\r\n0\n\r\n")),
    bad("chunk-size-cr-cr-lf", chunked(body=b"5\r\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-data-too-long", chunked(body=b"5\r\nhelloX\r\n0\r\n\r\n")),
    bad("chunk-data-bare-lf", chunked(body=b"5\r\nhello\n0\r\n\r\n")),
    bad("chunk-data-cr-only", chunked(body=b"5\r\nhello\r0\r\n\r\n")),
    bad("chunk-data-no-crlf", chunked(body=b"5\r\nhello0\r\n\r\n")),
    bad("chunk-ext-nul", chunked(body=b"5;a\x00b\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-ext-bare-cr", chunked(body=b"5;a\rb\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-nul", chunked(body=b"5\x00\r\nhello\r\n0\r\n\r\n")),
    ok(
        "chunk-line-exactly-4096",
        chunked(body=chunk_line_of_size(4096) + b"hello\r\n0\r\n\r\n"),
        body=b"hello",
    ),
    bad("chunk-line-4097", chunked(body=chunk_line_of_size(4097) + b"hello\r\n0\r\n\r\n")),
    bad("chunk-line-never-ends", chunked(body=b"5;" + b"e" * 5000)),
    ok(
        "chunk-line-custom-ok",
        chunked(body=chunk_line_of_size(20) + b"hello\r\n0\r\n\r\n"),
        limits={"max_chunk_line": 20},
        body=b"hello",
    ),
    bad(
        "chunk-line-custom-over",
        chunked(body=chunk_line_of_size(21) + b"hello\r\n0\r\n\r\n"),
        limits={"max_chunk_line": 20},
    ),
    # ------------------------------------------------------------ trailers
    ok(
        "trailers",
        chunked(body=b"5\r\nhello\r\n0\r\nX-T: 1\r\nY:  two \r\n\r\n"),
        body=b"hello",
        trailers=[("X-T", "1"), ("Y", "two")],
    ),
    ok(
        "trailers-bare-lf",
        chunked(body=b"1\r\nx\r\n0\r\nX-T: 1\nY: 2\n\n"),
        body=b"x",
        trailers=[("X-T", "1"), ("Y", "2")],
    ),
    ok("trailers-none-bare-lf", chunked(body=b"1\r\nx\r\n0\r\n\n"), body=b"x", trailers=[]),
    ok(
        "trailers-leftover",
        chunked(body=b"0\r\nA: b\r\n\r\nNEXT"),
        trailers=[("A", "b")],
        leftover=b"NEXT",
    ),
    ok(
        "trailers-exactly-16k",
        chunked(body=b"0\r\n" + trailer_block_of_size(16384)),
        trailers=[("X-T", "t" * (16384 - 9))],
    ),
    bad("trailers-16k-plus-1", chunked(body=b"0\r\n" + trailer_block_of_size(16385))),
    bad("trailers-never-end", chunked(body=b"0\r\n" + b"X-T: y\r\n" * 3000)),
    ok(
        "trailers-custom-ok",
        chunked(body=b"0\r\n" + trailer_block_of_size(50)),
        limits={"max_trailer_size": 50},
        trailers=[("X-T", "t" * 41)],
    ),
    bad(
        "trailers-custom-over",
        chunked(body=b"0\r\n" + trailer_block_of_size(51)),
        limits={"max_trailer_size": 50},
    ),
    bad("trailers-obs-fold", chunked(body=b"0\r\nA: b\r\n c\r\n\r\n")),
    bad("trailers-no-colon", chunked(body=b"0\r\nAbc\r\n\r\n")),
    bad("trailers-bad-name", chunked(body=b"0\r\nA b: c\r\n\r\n")),
    bad("trailers-space-before-colon", chunked(body=b"0\r\nA : c\r\n\r\n")),
    bad("trailers-nul", chunked(body=b"0\r\nA: b\x00\r\n\r\n")),
    bad("trailers-bare-cr", chunked(body=b"0\r\nA: b\rc\r\n\r\n")),
    bad("trailers-bare-cr-start", chunked(body=b"0\r\n\rX: y\r\n\r\n")),
    bad("trailers-eof", chunked(body=b"0\r\nA: b\r\n"), eof=True),
    # ------------------------------------------------------------ keep-alive
    ok("ka-11-default", cl(0), keep_alive=True),
    ok("ka-11-close", msg(S200, "Connection: close", "Content-Length: 0"), keep_alive=False),
    ok("ka-11-Close", msg(S200, "Connection: Close", "Content-Length: 0"), keep_alive=False),
    ok(
        "ka-11-close-foo",
        msg(S200, "Connection: close, foo", "Content-Length: 0"),
        keep_alive=False,
    ),
    ok(
        "ka-11-foo-CLOSE", msg(S200, "Connection: foo,CLOSE", "Content-Length: 0"), keep_alive=False
    ),
    ok(
        "ka-11-second-field-close",
        msg(S200, "Connection: foo", "connection: close", "Content-Length: 0"),
        keep_alive=False,
    ),
    ok("ka-11-upgrade", msg(S200, "Connection: upgrade", "Content-Length: 0"), keep_alive=True),
    ok(
        "ka-11-keep-alive",
        msg(S200, "Connection: Keep-Alive", "Content-Length: 0"),
        keep_alive=True,
    ),
    ok(
        "ka-11-closed-is-not-close",
        msg(S200, "Connection: closed", "Content-Length: 0"),
        keep_alive=True,
    ),
    ok("ka-11-chunked", chunked(body=b"0\r\n\r\n"), keep_alive=True),
    ok(
        "ka-11-close-framing",
        msg(S200, "Connection: keep-alive", body=b"x"),
        eof=True,
        framing=CLOSE,
        keep_alive=False,
        body=b"x",
    ),
    ok("ka-10-default", msg("HTTP/1.0 200 OK", "Content-Length: 0"), keep_alive=False),
    ok(
        "ka-10-keep-alive",
        msg("HTTP/1.0 200 OK", "Connection: keep-alive", "Content-Length: 0"),
        keep_alive=True,
    ),
    ok(
        "ka-10-Keep-Alive",
        msg("HTTP/1.0 200 OK", "Connection: Keep-Alive", "Content-Length: 0"),
        keep_alive=True,
    ),
    ok(
        "ka-10-foo-keep-alive",
        msg("HTTP/1.0 200 OK", "Connection: foo, keep-alive", "Content-Length: 0"),
        keep_alive=True,
    ),
    ok(
        "ka-10-keep-alive-and-close",
        msg("HTTP/1.0 200 OK", "Connection: keep-alive, close", "Content-Length: 0"),
        keep_alive=False,
    ),
    ok(
        "ka-10-keep-alive-until-close",
        msg("HTTP/1.0 200 OK", "Connection: keep-alive", body=b"x"),
        eof=True,
        framing=CLOSE,
        keep_alive=False,
    ),
    ok(
        "ka-10-keep-alive-chunked",
        msg(
            "HTTP/1.0 200 OK",
            "Connection: keep-alive",
            "Transfer-Encoding: chunked",
            body=b"0\r\n\r\n",
        ),
        framing=CHUNKED,
        keep_alive=True,
    ),
    ok(
        "ka-10-keep-alive-head",
        msg("HTTP/1.0 200 OK", "Connection: keep-alive"),
        head_request=True,
        framing=NONE,
        keep_alive=True,
    ),
    ok(
        "ka-10-keep-alive-header-not-connection",
        msg("HTTP/1.0 200 OK", "Keep-Alive: timeout=5", "Content-Length: 0"),
        keep_alive=False,
    ),
    # ------------------------------------------------------------ until close
    ok(
        "close-body",
        msg(S200, body=b"abc"),
        eof=True,
        framing=CLOSE,
        content_length=None,
        keep_alive=False,
        body=b"abc",
    ),
    ok("close-body-no-eof", msg(S200, body=b"abc"), body=b"abc", body_done=False, leftover=...),
    ok("close-body-empty", msg(S200), eof=True, framing=CLOSE, body=b""),
    ok(
        "close-body-http10",
        msg("HTTP/1.0 200 OK", body=b"old"),
        eof=True,
        framing=CLOSE,
        body=b"old",
    ),
    ok(
        "close-body-looks-like-http",
        msg(S200, body=b"HTTP/1.1 200 OK\r\n\r\n"),
        eof=True,
        body=b"HTTP/1.1 200 OK\r\n\r\n",
    ),
    # ------------------------------------------------------------ pipelined leftovers
    ok("pipelined-two", cl(2, b"ab") + cl(3, b"cde"), body=b"ab", leftover=cl(3, b"cde")),
    ok(
        "pipelined-three-chunked",
        chunked(body=b"1\r\na\r\n0\r\n\r\n") + cl(0) + cl(0),
        body=b"a",
        leftover=cl(0) + cl(0),
    ),
]


_IDS = [v.id for v in VECTORS]
assert len(_IDS) == len(set(_IDS)), "duplicate vector ids"


@pytest.mark.parametrize("v", VECTORS, ids=_IDS)
def test_vector(impl: Any, v: V) -> None:
    check(impl.http11, v)


# --------------------------------------------------------------------------- beyond the table


def _parse_all(h: Any, data: bytes, *, eof: bool = False, **limits: int) -> Any:
    p = h.ResponseParser(**limits)
    p.start()
    p.feed(data)
    if eof:
        try:
            p.feed_eof()
        except ProtocolError:
            return p, None
    return p, p.next_head()


def _incomplete(h: Any, data: bytes) -> IncompleteRead:
    p = h.ResponseParser()
    p.start()
    p.feed(data)
    head = p.next_head()
    got = bytearray()
    with pytest.raises(ProtocolError) as info:
        if head is not None:
            got += p.read_body()
        p.feed_eof()
        if head is None:
            p.next_head()
        for _ in range(100):
            got += p.read_body()
    err = info.value
    assert len(err.args) == 2
    ir = err.args[1]
    assert isinstance(ir, IncompleteRead)
    assert (
        err.args[0] == f"Connection broken: IncompleteRead({ir.partial} bytes read, "
        f"{ir.expected} more expected)"
    )
    assert ir.partial == len(got) == p.body_received
    return ir


@pytest.mark.parametrize(
    ("data", "partial", "expected"),
    [
        (cl(10, b"hello"), 5, 5),
        (cl(10), 0, 10),
        (cl(2**63 - 1, b"ab"), 2, 2**63 - 3),
        (chunked(body=b"a\r\n0123"), 4, 6),
        (chunked(body=b"5\r\nhello\r\n"), 5, 0),
        (chunked(body=b"5\r\nhello\r\n3"), 5, 0),
        (chunked(body=b"5\r\nhello\r\n0\r\nX: y\r\n"), 5, 0),
        (chunked(body=b"5\r\nhel"), 3, 2),
        (chunked(body=b""), 0, 0),
        (chunked(body=b"ffffffffffffffff\r\nabc"), 3, 2**64 - 4),
    ],
    ids=[
        "cl",
        "cl-nothing",
        "cl-huge",
        "chunk-mid",
        "chunk-between",
        "chunk-mid-size",
        "chunk-trailers",
        "chunk-short",
        "chunk-empty",
        "chunk-huge",
    ],
)
def test_incomplete_read_counts(impl: Any, data: bytes, partial: int, expected: int) -> None:
    ir = _incomplete(impl.http11, data)
    assert (ir.partial, ir.expected) == (partial, expected)


def test_remote_disconnected(impl: Any) -> None:
    from http.client import RemoteDisconnected

    p = impl.http11.ResponseParser()
    p.start()
    with pytest.raises(RemoteDisconnected, match="Remote end closed connection without response"):
        p.feed_eof()
        p.next_head()


def test_eof_mid_head_is_protocol_error_not_remote_disconnected(impl: Any) -> None:
    p = impl.http11.ResponseParser()
    p.start()
    p.feed(b"H")
    with pytest.raises(ProtocolError):
        p.feed_eof()
        p.next_head()


def test_eof_with_complete_buffered_body_delivers_it(impl: Any) -> None:
    h = impl.http11
    for data in (cl(5, b"hello"), chunked(body=b"5\r\nhello\r\n0\r\n\r\n")):
        p = h.ResponseParser()
        p.start()
        p.feed(data)
        p.feed_eof()
        assert p.next_head() is not None
        assert p.read_body() == b"hello"
        assert p.body_done


def test_incomplete_body_returns_buffered_bytes_before_raising(impl: Any) -> None:
    p = impl.http11.ResponseParser()
    p.start()
    p.feed(cl(10, b"hello"))
    assert p.next_head() is not None
    p.feed_eof()
    assert p.read_body(3) == b"hel"
    assert p.read_body() == b"lo"
    assert p.read_body(0) == b""
    with pytest.raises(ProtocolError):
        p.read_body()


def test_read_body_max_bytes(impl: Any) -> None:
    h = impl.http11
    p = h.ResponseParser()
    p.start()
    p.feed(cl(10, b"0123456789"))
    assert p.next_head().content_length == 10
    assert p.read_body(0) == b""
    assert p.read_body(4) == b"0123"
    assert p.body_received == 4
    assert not p.body_done
    assert p.read_body(100) == b"456789"
    assert p.body_done
    assert p.read_body() == b""

    p = h.ResponseParser()
    p.start()
    p.feed(chunked(body=b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"))
    assert p.next_head() is not None
    got = b""
    for _ in range(20):
        piece = p.read_body(2)
        assert len(piece) <= 2
        got += piece
        if p.body_done:
            break
    assert got == b"abcdefg"
    assert p.body_done
    assert p.body_received == 7


def test_body_done_as_soon_as_end_is_buffered(impl: Any) -> None:
    p = impl.http11.ResponseParser()
    p.start()
    p.feed(chunked(body=b"5\r\nhello\r\n0\r\n\r\n"))
    assert p.next_head() is not None
    assert p.read_body(5) == b"hello"
    assert p.body_done  # the framing after the payload was parsed in the same call


def test_parser_reuse_keep_alive_sequence(impl: Any) -> None:
    h = impl.http11
    p = h.ResponseParser()
    stream = (
        cl(2, b"ab")
        + msg("HTTP/1.1 100 Continue")
        + chunked(body=b"3\r\ncde\r\n0\r\nT: 1\r\n\r\n")
        + cl(4)  # response to a HEAD request
        + msg("HTTP/1.1 204 No Content")
        + cl(1, b"z")
    )
    p.feed(stream)
    results = []
    for is_head in (False, False, True, False, False):
        p.start(is_head)
        head = p.next_head()
        assert head is not None
        body = b""
        for _ in range(10):
            body += p.read_body()
            if p.body_done:
                break
        results.append((head.status, head.framing, body, list(p.trailers)))
    assert results == [
        (200, LENGTH, b"ab", []),
        (200, CHUNKED, b"cde", [("T", "1")]),
        (200, NONE, b"", []),
        (204, NONE, b"", []),
        (200, LENGTH, b"z", []),
    ]
    assert p.leftover() == b""
    p.start()
    assert p.next_head() is None


def test_fresh_parser_is_started(impl: Any) -> None:
    p = impl.http11.ResponseParser()
    p.feed(cl(1, b"x"))
    head = p.next_head()
    assert head is not None and head.status == 200
    assert p.read_body() == b"x"


def test_head_is_read_only(impl: Any) -> None:
    _, head = _parse_all(impl.http11, cl(0))
    for name in (
        "status",
        "reason",
        "version",
        "headers",
        "framing",
        "content_length",
        "keep_alive",
    ):
        with pytest.raises(AttributeError):
            setattr(head, name, None)
    assert isinstance(head.headers, list)
    assert all(type(k) is str and type(v) is str for k, v in head.headers)


@pytest.mark.parametrize(
    "limit", ["max_head_size", "max_headers", "max_trailer_size", "max_chunk_line"]
)
@pytest.mark.parametrize("value", [0, -1])
def test_bad_limits(impl: Any, limit: str, value: int) -> None:
    with pytest.raises(ValueError):
        impl.http11.ResponseParser(**{limit: value})


def test_byte_by_byte_head_is_linear(impl: Any) -> None:
    """A peer trickling a 64 KiB head one byte at a time must not cost O(n^2)."""
    h = impl.http11
    data = head_of_size(65536)
    p = h.ResponseParser()
    p.start()
    t0 = time.perf_counter()
    head = None
    for i in range(len(data)):
        p.feed(data[i : i + 1])
        head = p.next_head()
    elapsed = time.perf_counter() - t0
    assert head is not None
    assert elapsed < 5.0, f"{elapsed:.2f}s for a 64 KiB head fed byte by byte"


def test_byte_by_byte_trailers_and_chunk_line_are_linear(impl: Any) -> None:
    h = impl.http11
    data = chunked(body=chunk_line_of_size(4096) + b"hello\r\n0\r\n" + trailer_block_of_size(16384))
    p = h.ResponseParser()
    p.start()
    t0 = time.perf_counter()
    for i in range(len(data)):
        p.feed(data[i : i + 1])
        if p.next_head() is not None:
            p.read_body()
    assert p.body_done
    assert time.perf_counter() - t0 < 5.0


def test_never_ending_head_is_rejected_while_bounded(impl: Any) -> None:
    """Fed in 1 KiB pieces, a head that never ends fails by the time 64 KiB
    (plus one piece) has arrived; buffering stops there."""
    p = impl.http11.ResponseParser()
    p.start()
    p.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ProtocolError):
        for _ in range(1000):
            p.feed(b"X-Long: " + b"a" * 1014 + b"\r\n")
            p.next_head()
        raise AssertionError("never rejected")


def test_huge_chunk_does_not_allocate(impl: Any) -> None:
    p = impl.http11.ResponseParser()
    p.start()
    p.feed(chunked(body=b"7fffffffffffffff\r\nabc"))
    assert p.next_head() is not None
    assert p.read_body() == b"abc"
    assert not p.body_done
