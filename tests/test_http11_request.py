"""Request side of the ``_http11`` codec: the exact bytes of request heads,
every refusal, ``HeaderBlock`` and ``encode_chunk``. Runs on both twins."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from urllib3 import HTTPHeaderDict

# --------------------------------------------------------------------------- request line


def test_minimal_head(impl: Any) -> None:
    h = impl.http11
    assert h.encode_request_head("GET", "/") == b"GET / HTTP/1.1\r\n\r\n"
    assert h.encode_request_head(b"GET", b"/") == b"GET / HTTP/1.1\r\n\r\n"


@pytest.mark.parametrize(
    "method",
    ["GET", "POST", "PATCH", "M-SEARCH", "x!#$%&'*+-.^_`|~9", "get", "PROPFIND"],
)
def test_token_methods_kept_as_is(impl: Any, method: str) -> None:
    out = impl.http11.encode_request_head(method, "/")
    assert out == method.encode() + b" / HTTP/1.1\r\n\r\n"


@pytest.mark.parametrize(
    "method",
    [
        "",
        "GET ",
        " GET",
        "G ET",
        "GET\r\n",
        "GET\n",
        "GET\x00",
        "GE\tT",
        "GET/",
        "GET:",
        "(GET)",
        "GÉT",
        "GET\x7f",
        b"GET\r",
        b"G\xe9T",
        b"",
        'GE"T',
    ],
)
def test_bad_method(impl: Any, method: str | bytes) -> None:
    with pytest.raises(ValueError):
        impl.http11.encode_request_head(method, "/")


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "*",
        "/a/b?c=d&e=%20f#x",
        "http://example.com:8080/path?q",
        "example.com:443",
        "/~!$&'()*+,;=:@[]",
        "/" + "a" * 10000,
    ],
    ids=["slash", "star", "query", "absolute", "authority", "subdelims", "long"],
)
def test_targets_accepted_verbatim(impl: Any, target: str) -> None:
    out = impl.http11.encode_request_head("GET", target)
    assert out == b"GET " + target.encode() + b" HTTP/1.1\r\n\r\n"
    assert impl.http11.encode_request_head("GET", target.encode()) == out


@pytest.mark.parametrize(
    "target",
    [
        "",
        b"",
        "/a b",
        " /",
        "/ ",
        "/a\rb",
        "/a\nb",
        "/a\r\nHost: evil",
        "/a\x00",
        "/a\x7f",
        "/a\tb",
        "/a\x01",
        "/a\x1f",
        "/é",
        "/日本",
        b"/a b",
        b"/\x80",
        b"/\xff",
        b"/\x00",
        b"/\r\n",
    ],
)
def test_bad_target(impl: Any, target: str | bytes) -> None:
    with pytest.raises(ValueError):
        impl.http11.encode_request_head("GET", target)


@pytest.mark.parametrize("byte", [*range(0, 0x21), 0x7F, *range(0x80, 0x100)])
def test_every_forbidden_target_byte(impl: Any, byte: int) -> None:
    with pytest.raises(ValueError):
        impl.http11.encode_request_head("GET", b"/a" + bytes([byte]) + b"b")


def test_every_allowed_target_byte(impl: Any) -> None:
    target = bytes(range(0x21, 0x7F))
    assert impl.http11.encode_request_head("GET", target) == (
        b"GET " + target + b" HTTP/1.1\r\n\r\n"
    )


# --------------------------------------------------------------------------- Host


def test_host_first(impl: Any) -> None:
    out = impl.http11.encode_request_head(
        "GET", "/", [("Accept", "*/*"), ("X-A", "1")], host="example.com:8080"
    )
    assert out == (b"GET / HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nX-A: 1\r\n\r\n")


@pytest.mark.parametrize("name", ["Host", "host", "HOST", b"hOsT"])
def test_explicit_host_not_doubled(impl: Any, name: str | bytes) -> None:
    out = impl.http11.encode_request_head(
        "GET", "/", [("Accept", "*/*"), (name, "other")], host="example.com"
    )
    n = name.encode() if isinstance(name, str) else name
    assert out == b"GET / HTTP/1.1\r\nAccept: */*\r\n" + n + b": other\r\n\r\n"


def test_no_host_unless_given(impl: Any) -> None:
    out = impl.http11.encode_request_head("GET", "/", {"A": "b"})
    assert b"Host" not in out


def test_host_bytes_and_empty(impl: Any) -> None:
    h = impl.http11
    assert h.encode_request_head("GET", "/", host=b"h") == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    assert h.encode_request_head("GET", "/", host="") == b"GET / HTTP/1.1\r\nHost: \r\n\r\n"


@pytest.mark.parametrize("host", ["a\r\nX: y", "a\nb", "a\rb", "a\x00b", b"a\r\n"])
def test_bad_host(impl: Any, host: str | bytes) -> None:
    with pytest.raises(ValueError):
        impl.http11.encode_request_head("GET", "/", host=host)


# --------------------------------------------------------------------------- framing


def test_content_length_added(impl: Any) -> None:
    h = impl.http11
    assert h.encode_request_head("POST", "/", content_length=0) == (
        b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    )
    assert h.encode_request_head("POST", "/", {"A": "b"}, host="h", content_length=12345) == (
        b"POST / HTTP/1.1\r\nHost: h\r\nA: b\r\nContent-Length: 12345\r\n\r\n"
    )
    big = 2**40
    assert h.encode_request_head("PUT", "/", content_length=big) == (
        b"PUT / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % big
    )


def test_chunked_added(impl: Any) -> None:
    assert impl.http11.encode_request_head("POST", "/", {"A": "b"}, chunked=True) == (
        b"POST / HTTP/1.1\r\nA: b\r\nTransfer-Encoding: chunked\r\n\r\n"
    )


@pytest.mark.parametrize("name", ["Content-Length", "content-length", "CONTENT-LENGTH"])
def test_explicit_content_length_never_overridden(impl: Any, name: str) -> None:
    out = impl.http11.encode_request_head("POST", "/", [(name, "7")], content_length=99)
    assert out == b"POST / HTTP/1.1\r\n" + name.encode() + b": 7\r\n\r\n"


def test_transfer_encoding_given_suppresses_content_length(impl: Any) -> None:
    out = impl.http11.encode_request_head(
        "POST", "/", [("Transfer-Encoding", "chunked")], content_length=5
    )
    assert out == b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("value", ["chunked", "gzip, chunked", "CHUNKED"])
def test_never_a_second_transfer_encoding(impl: Any, value: str) -> None:
    out = impl.http11.encode_request_head("POST", "/", [("transfer-encoding", value)], chunked=True)
    assert out == b"POST / HTTP/1.1\r\ntransfer-encoding: " + value.encode() + b"\r\n\r\n"
    assert out.lower().count(b"transfer-encoding") == 1


def test_chunked_with_explicit_content_length_follows_contract(impl: Any) -> None:
    # The contract (like urllib3) only looks for a Transfer-Encoding field when
    # chunked=True: the caller's explicit Content-Length is kept as is.
    out = impl.http11.encode_request_head("POST", "/", [("Content-Length", "3")], chunked=True)
    assert out == b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_content_length_and_chunked_both(impl: Any) -> None:
    with pytest.raises(ValueError):
        impl.http11.encode_request_head("POST", "/", content_length=3, chunked=True)
    with pytest.raises(ValueError):
        impl.http11.encode_request_head(
            "POST", "/", [("Transfer-Encoding", "chunked")], content_length=0, chunked=True
        )


def test_negative_content_length(impl: Any) -> None:
    with pytest.raises(ValueError):
        impl.http11.encode_request_head("POST", "/", content_length=-1)


def test_no_framing_by_default(impl: Any) -> None:
    out = impl.http11.encode_request_head("POST", "/", {"A": "b"})
    assert out == b"POST / HTTP/1.1\r\nA: b\r\n\r\n"


# --------------------------------------------------------------------------- headers


def test_pairs_order_and_case_kept(impl: Any) -> None:
    pairs = [("X-b", "2"), ("x-A", "1"), ("X-b", "3"), ("ACCEPT", "text/html")]
    out = impl.http11.encode_request_head("GET", "/", pairs)
    assert out == b"GET / HTTP/1.1\r\nX-b: 2\r\nx-A: 1\r\nX-b: 3\r\nACCEPT: text/html\r\n\r\n"


def test_mapping(impl: Any) -> None:
    m = OrderedDict([("B", "1"), ("A", "2")])
    assert impl.http11.HeaderBlock(m).data == b"B: 1\r\nA: 2\r\n"
    assert impl.http11.HeaderBlock({"C": "3"}).data == b"C: 3\r\n"


def test_httpheaderdict_one_field_per_value(impl: Any) -> None:
    d = HTTPHeaderDict()
    d.add("Cookie", "a=1")
    d.add("Accept", "*/*")
    d.add("cookie", "b=2")
    block = impl.http11.HeaderBlock(d)
    assert block.data == b"Cookie: a=1\r\nCookie: b=2\r\nAccept: */*\r\n"
    assert block.names == frozenset({"cookie", "accept"})


def test_bytes_and_int_values(impl: Any) -> None:
    block = impl.http11.HeaderBlock(
        [(b"X-Bytes", b"\xe9t\xe9"), ("X-Int", 42), ("X-Zero", 0), ("X-Str", "caf\xe9")]
    )
    assert block.data == b"X-Bytes: \xe9t\xe9\r\nX-Int: 42\r\nX-Zero: 0\r\nX-Str: caf\xe9\r\n"
    assert block.names == frozenset({"x-bytes", "x-int", "x-zero", "x-str"})


def test_values_kept_byte_exact(impl: Any) -> None:
    block = impl.http11.HeaderBlock([("A", ""), ("B", "x\ty  z"), ("C", b"\x01\x7f\xff")])
    assert block.data == b"A: \r\nB: x\ty  z\r\nC: \x01\x7f\xff\r\n"


def test_empty_block(impl: Any) -> None:
    for arg in (None, [], {}, ()):
        block = impl.http11.HeaderBlock(arg)
        assert block.data == b""
        assert block.names == frozenset()
    assert impl.http11.HeaderBlock().data == b""


def test_generator_of_pairs(impl: Any) -> None:
    block = impl.http11.HeaderBlock((k, v) for k, v in [("A", "1"), ("B", "2")])
    assert block.data == b"A: 1\r\nB: 2\r\n"


@pytest.mark.parametrize(
    "name",
    [
        "",
        b"",
        "X Y",
        "X-Y ",
        " X",
        "X:Y",
        "X\r",
        "X\n",
        "X\x00",
        "X\t",
        "(X)",
        "X/Y",
        "Xé",
        b"X\xe9",
        "X@",
        "X,Y",
        "X=Y",
        'X"',
    ],
)
def test_bad_header_name(impl: Any, name: str | bytes) -> None:
    with pytest.raises(ValueError):
        impl.http11.HeaderBlock([(name, "v")])
    with pytest.raises(ValueError):
        impl.http11.encode_request_head("GET", "/", [(name, "v")])


@pytest.mark.parametrize(
    "value",
    [
        "a\rb",
        "a\nb",
        "a\r\nX-Injected: 1",
        "a\x00b",
        "\r",
        "\n",
        "\x00",
        b"a\r\nb",
        b"\n",
        b"\x00",
        "end\r\n",
    ],
)
def test_bad_header_value(impl: Any, value: str | bytes) -> None:
    with pytest.raises(ValueError, match="X-Name"):
        impl.http11.HeaderBlock([("X-Name", value)])
    with pytest.raises(ValueError):
        impl.http11.encode_request_head("GET", "/", {"X-Name": value})


def test_non_latin1_value(impl: Any) -> None:
    with pytest.raises(ValueError):
        impl.http11.HeaderBlock([("X", "日本")])


def test_unsupported_value_type(impl: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        impl.http11.HeaderBlock([("X", 1.5)])
    with pytest.raises((TypeError, ValueError)):
        impl.http11.HeaderBlock([("X", None)])


def test_header_block_reuse(impl: Any) -> None:
    h = impl.http11
    block = h.HeaderBlock([("User-Agent", "fastpool"), ("Accept", "*/*")])
    data = block.data
    a = h.encode_request_head("GET", "/a", block, host="h1")
    b = h.encode_request_head("POST", "/b", block, host="h2", content_length=3)
    c = h.encode_request_head("GET", "/c", block)
    assert a == b"GET /a HTTP/1.1\r\nHost: h1\r\nUser-Agent: fastpool\r\nAccept: */*\r\n\r\n"
    assert b == (
        b"POST /b HTTP/1.1\r\nHost: h2\r\nUser-Agent: fastpool\r\nAccept: */*\r\n"
        b"Content-Length: 3\r\n\r\n"
    )
    assert c == b"GET /c HTTP/1.1\r\nUser-Agent: fastpool\r\nAccept: */*\r\n\r\n"
    assert block.data == data  # never modified by use
    assert isinstance(block.data, bytes)
    assert isinstance(block.names, frozenset)


def test_header_block_names_and_framing(impl: Any) -> None:
    h = impl.http11
    block = h.HeaderBlock([("HOST", "x"), ("Content-LENGTH", "1")])
    assert block.names == frozenset({"host", "content-length"})
    out = h.encode_request_head("POST", "/", block, host="y", content_length=5)
    assert out == b"POST / HTTP/1.1\r\nHOST: x\r\nContent-LENGTH: 1\r\n\r\n"


def test_header_block_read_only(impl: Any) -> None:
    block = impl.http11.HeaderBlock([("A", "b")])
    with pytest.raises(AttributeError):
        block.data = b"X: y\r\n"
    with pytest.raises(AttributeError):
        block.names = frozenset()


def test_refused_before_anything_is_built(impl: Any) -> None:
    # One bad field anywhere refuses the whole block.
    with pytest.raises(ValueError):
        impl.http11.HeaderBlock([("A", "1"), ("B", "2"), ("C", "3\r\n")])


# --------------------------------------------------------------------------- chunks


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", b""),
        (b"a", b"1\r\na\r\n"),
        (b"hello", b"5\r\nhello\r\n"),
        (b"x" * 10, b"a\r\n" + b"x" * 10 + b"\r\n"),
        (b"x" * 255, b"ff\r\n" + b"x" * 255 + b"\r\n"),
        (b"\r\n" * 8, b"10\r\n" + b"\r\n" * 8 + b"\r\n"),
        (b"y" * 65536, b"10000\r\n" + b"y" * 65536 + b"\r\n"),
    ],
    ids=["empty", "1", "5", "10", "255", "crlf-data", "64k"],
)
def test_encode_chunk(impl: Any, data: bytes, expected: bytes) -> None:
    assert impl.http11.encode_chunk(data) == expected


def test_last_chunk(impl: Any) -> None:
    assert impl.http11.LAST_CHUNK == b"0\r\n\r\n"


def test_constants(impl: Any) -> None:
    h = impl.http11
    assert (h.FRAMING_NONE, h.FRAMING_LENGTH, h.FRAMING_CHUNKED, h.FRAMING_CLOSE) == (0, 1, 2, 3)
    assert h.DEFAULT_MAX_HEAD_SIZE == 65536
    assert h.DEFAULT_MAX_HEADERS == 100
    assert h.DEFAULT_MAX_TRAILER_SIZE == 16384
    assert h.DEFAULT_MAX_CHUNK_LINE == 4096


def test_dispatcher_exports_everything() -> None:
    from fastpool import _http11, _http11_py

    for name in _http11_py.__all__:
        assert hasattr(_http11, name), name
    assert set(_http11.__all__) == set(_http11_py.__all__)
