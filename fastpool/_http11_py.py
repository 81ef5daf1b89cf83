"""HTTP/1.1 codec, pure-Python twin: the typed reference and the fallback.

Request side: :class:`HeaderBlock`, :func:`encode_request_head`,
:func:`encode_chunk`. Response side: :class:`ResponseParser` (sans-IO,
incremental) producing :class:`ResponseHead`, and :class:`Wire`, one
connection's exchange over a socket object's Python methods.

The behaviour is specified in ``docs/internals.md`` (section ``_http11``);
``fastpool/_http11_c.pyx`` implements the same contract. Nothing here is
thread-safe: a parser or a wire belongs to the thread that checked its
connection out.
"""

from __future__ import annotations

import enum
import select
from collections.abc import Iterable, Mapping
from http.client import RemoteDisconnected
from typing import Any, Final, NoReturn, Protocol, TypeAlias

from .exceptions import IncompleteRead, ProtocolError

__all__ = [
    "DEFAULT_MAX_CHUNK_LINE",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEAD_SIZE",
    "DEFAULT_MAX_INTERIM",
    "DEFAULT_MAX_TRAILER_SIZE",
    "FRAMING_CHUNKED",
    "FRAMING_CLOSE",
    "FRAMING_LENGTH",
    "FRAMING_NONE",
    "LAST_CHUNK",
    "HeaderBlock",
    "ResponseHead",
    "ResponseParser",
    "Wire",
    "encode_chunk",
    "encode_request_head",
]

FRAMING_NONE: Final = 0
FRAMING_LENGTH: Final = 1
FRAMING_CHUNKED: Final = 2
FRAMING_CLOSE: Final = 3

DEFAULT_MAX_HEAD_SIZE: Final = 65536
DEFAULT_MAX_HEADERS: Final = 100
DEFAULT_MAX_TRAILER_SIZE: Final = 16384
DEFAULT_MAX_CHUNK_LINE: Final = 4096
DEFAULT_MAX_INTERIM: Final = 10

LAST_CHUNK: Final = b"0\r\n\r\n"

_HeadersArg: TypeAlias = "HeaderBlock | Mapping[Any, Any] | Iterable[Any] | None"
_Buffer: TypeAlias = "bytes | bytearray | memoryview"

# RFC 9110 section 5.6.2: tchar.
_TCHAR: Final = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Bytes allowed in a request target: 0x21..0x7E.
_VISIBLE: Final = bytes(range(0x21, 0x7F))
_HEXDIGITS: Final = b"0123456789abcdefABCDEF"
_MAX_CONTENT_LENGTH: Final = 2**63 - 1

_CRLF: Final = b"\r\n"
_NO_BODY_STATUS: Final = frozenset((204, 304))


# --------------------------------------------------------------------------- request side


def _token(value: str | bytes, what: str) -> bytes:
    """``value`` as bytes if it is an RFC 9110 token, else ValueError."""
    if isinstance(value, str):
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(f"{what} {value!r} is not a token (non-ASCII)") from None
    elif isinstance(value, bytes):
        raw = value
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if not raw:
        raise ValueError(f"{what} must not be empty")
    if raw.translate(None, _TCHAR):
        raise ValueError(f"{what} {value!r} is not a token (RFC 9110 section 5.6.2)")
    return raw


def _field_value(name: bytes, value: object) -> bytes:
    """A header value as bytes; refuses CR, LF and NUL."""
    if isinstance(value, str):
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"Invalid value for header {name.decode('latin-1')!r}: {value!r} is not ISO-8859-1"
            ) from None
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, int):
        raw = str(value).encode("ascii")
    else:
        raise TypeError(
            f"Value for header {name.decode('latin-1')!r} must be str, bytes or int, "
            f"not {type(value).__name__}"
        )
    if b"\r" in raw or b"\n" in raw or b"\x00" in raw:
        raise ValueError(
            f"Invalid value for header {name.decode('latin-1')!r}: {value!r} contains CR, LF or NUL"
        )
    return raw


class HeaderBlock:
    """Header fields validated and serialized once, reusable for many requests.

    ``headers`` is a mapping (``.items()``; an ``HTTPHeaderDict`` yields one
    pair per value), an iterable of ``(name, value)`` pairs, or None. Names
    must be tokens; values (``str`` as ISO-8859-1, ``bytes``, or ``int``) must
    not contain CR, LF or NUL. ``data`` holds ``b"Name: value\\r\\n"`` per
    field, order and case kept; ``names`` the lower-cased names.
    """

    __slots__ = ("_data", "_names")

    def __init__(self, headers: Mapping[Any, Any] | Iterable[Any] | None = None) -> None:
        items: Iterable[Any]
        if headers is None:
            items = ()
        elif isinstance(headers, Mapping) or hasattr(headers, "items"):
            items = headers.items()
        else:
            items = headers
        parts: list[bytes] = []
        names: set[str] = set()
        for name, value in items:
            raw_name = _token(name, "Header name")
            parts.append(raw_name)
            parts.append(b": ")
            parts.append(_field_value(raw_name, value))
            parts.append(_CRLF)
            names.add(raw_name.decode("ascii").lower())
        self._data = b"".join(parts)
        self._names = frozenset(names)

    @property
    def data(self) -> bytes:
        """The serialized fields: ``b"Name: value\\r\\n"`` each."""
        return self._data

    @property
    def names(self) -> frozenset[str]:
        """The lower-cased field names."""
        return self._names

    def __repr__(self) -> str:
        return f"<HeaderBlock {self._data!r}>"


_METHODS: dict[str | bytes, bytes] = {}


def _method(method: str | bytes) -> bytes:
    raw = _METHODS.get(method)
    if raw is None:
        raw = _token(method, "Method")
        if len(_METHODS) < 64:
            _METHODS[method] = raw
    return raw


def _target(target: str | bytes) -> bytes:
    if isinstance(target, str):
        try:
            raw = target.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError(f"Request target {target!r} contains non-ASCII characters") from None
    elif isinstance(target, bytes):
        raw = target
    else:
        raise TypeError(f"Request target must be str or bytes, not {type(target).__name__}")
    if not raw:
        raise ValueError("Request target must not be empty")
    if raw.translate(None, _VISIBLE):
        raise ValueError(
            f"Request target {target!r} contains a space, a control character, "
            "DEL or a non-ASCII byte"
        )
    return raw


def encode_request_head(
    method: str | bytes,
    target: str | bytes,
    headers: _HeadersArg = None,
    *,
    host: str | bytes | None = None,
    content_length: int | None = None,
    chunked: bool = False,
) -> bytes:
    """The exact bytes of a request head (request line, fields, empty line).

    ``Host`` comes first when ``host`` is given and ``headers`` has none; then
    ``headers`` (a :class:`HeaderBlock`, reused as is, or anything it takes);
    then the framing field: ``Transfer-Encoding: chunked`` for ``chunked``
    unless a Transfer-Encoding is given, ``Content-Length`` for
    ``content_length`` unless a Content-Length or Transfer-Encoding is given.
    Raises ValueError for bad arguments, before anything is sent.
    """
    raw_method = _method(method)
    raw_target = _target(target)
    block = headers if isinstance(headers, HeaderBlock) else HeaderBlock(headers)
    if chunked and content_length is not None:
        raise ValueError("content_length and chunked are mutually exclusive")
    names = block.names
    parts = [raw_method, b" ", raw_target, b" HTTP/1.1\r\n"]
    if host is not None and "host" not in names:
        parts.append(b"Host: ")
        parts.append(_field_value(b"Host", host))
        parts.append(_CRLF)
    parts.append(block.data)
    if chunked:
        if "transfer-encoding" not in names:
            parts.append(b"Transfer-Encoding: chunked\r\n")
    elif content_length is not None:
        if isinstance(content_length, bool) or not isinstance(content_length, int):
            raise TypeError("content_length must be an int")
        if content_length < 0:
            raise ValueError(f"content_length must be >= 0, not {content_length}")
        if "content-length" not in names and "transfer-encoding" not in names:
            parts.append(b"Content-Length: %d\r\n" % content_length)
    parts.append(_CRLF)
    return b"".join(parts)


def encode_chunk(data: _Buffer) -> bytes:
    """One chunk of a chunked body: size in hex, CRLF, data, CRLF (``b""`` for
    empty data, which would otherwise end the body; see ``LAST_CHUNK``)."""
    size = len(data) if isinstance(data, bytes) else memoryview(data).nbytes
    if not size:
        return b""
    return b"".join((b"%x\r\n" % size, data, _CRLF))


# --------------------------------------------------------------------------- response side


class _Unset(enum.Enum):
    FROM_HEADERS = 0


def _content_encoding_of(headers: list[tuple[str, str]]) -> str | None:
    """The combined Content-Encoding value of ``(name, value)`` pairs, or None."""
    found = [v for k, v in headers if k.lower() == "content-encoding"]
    return ", ".join(found) if found else None


class ResponseHead:
    """A parsed final response head (read-only).

    ``headers`` are ``(name, value)`` pairs, ISO-8859-1 decoded, names as sent,
    values with surrounding whitespace removed, in order. ``content_encoding``
    is the Content-Encoding value (several fields joined with ``", "``), None
    when the head has none; given to the constructor or derived from ``headers``.
    """

    __slots__ = (
        "_content_encoding",
        "_content_length",
        "_framing",
        "_headers",
        "_keep_alive",
        "_reason",
        "_status",
        "_version",
    )

    def __init__(
        self,
        status: int,
        reason: str,
        version: int,
        headers: list[tuple[str, str]],
        framing: int,
        content_length: int | None,
        keep_alive: bool,
        content_encoding: str | _Unset | None = _Unset.FROM_HEADERS,
    ) -> None:
        self._status = status
        self._reason = reason
        self._version = version
        self._headers = headers
        self._framing = framing
        self._content_length = content_length
        self._keep_alive = keep_alive
        if content_encoding is _Unset.FROM_HEADERS:
            content_encoding = _content_encoding_of(headers)
        elif content_encoding is not None and not isinstance(content_encoding, str):
            raise TypeError("content_encoding must be a str or None")
        self._content_encoding: str | None = content_encoding

    @property
    def status(self) -> int:
        """The status code, 100..999."""
        return self._status

    @property
    def reason(self) -> str:
        """The reason phrase as sent (may be empty)."""
        return self._reason

    @property
    def version(self) -> int:
        """10 for HTTP/1.0, 11 for HTTP/1.1."""
        return self._version

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The raw ``(name, value)`` pairs."""
        return self._headers

    @property
    def framing(self) -> int:
        """One of the ``FRAMING_*`` constants."""
        return self._framing

    @property
    def content_length(self) -> int | None:
        """The body length for ``FRAMING_LENGTH``, else None."""
        return self._content_length

    @property
    def keep_alive(self) -> bool:
        """Whether the head allows reusing the connection."""
        return self._keep_alive

    @property
    def content_encoding(self) -> str | None:
        """The Content-Encoding field value (several fields joined with
        ``", "``), or None when the head has none."""
        return self._content_encoding

    def __repr__(self) -> str:
        return (
            f"<ResponseHead HTTP/{self._version // 10}.{self._version % 10} "
            f"{self._status} {self._reason!r} framing={self._framing} "
            f"content_length={self._content_length} keep_alive={self._keep_alive}>"
        )


# Parser states.
_S_HEAD: Final = 0
_S_LENGTH: Final = 1
_S_CHUNK_SIZE: Final = 2
_S_CHUNK_DATA: Final = 3
_S_CHUNK_CRLF: Final = 4
_S_TRAILERS: Final = 5
_S_CLOSE: Final = 6
_S_DONE: Final = 7

# Field names the framing cares about.
_K_OTHER: Final = 0
_K_CONTENT_LENGTH: Final = 1
_K_TRANSFER_ENCODING: Final = 2
_K_CONNECTION: Final = 3
_K_CONTENT_ENCODING: Final = 4
_SPECIAL_NAMES: Final = {
    "content-length": _K_CONTENT_LENGTH,
    "transfer-encoding": _K_TRANSFER_ENCODING,
    "connection": _K_CONNECTION,
    "content-encoding": _K_CONTENT_ENCODING,
}
# Validated field names -> kind; bounded, shared (dict operations are atomic).
_NAME_KINDS: dict[str, int] = {}
_NAME_CACHE_MAX: Final = 512


def _name_kind(name: str) -> int:
    """The kind of a field name, validating it as a token on first sight."""
    kind = _NAME_KINDS.get(name)
    if kind is None:
        if not name:
            raise ProtocolError("Invalid header line: empty field name")
        if name[-1] in " \t":
            raise ProtocolError(
                f"Invalid header line: whitespace between field name {name!r} and colon"
            )
        if name.encode("latin-1").translate(None, _TCHAR):
            raise ProtocolError(f"Invalid header line: field name {name!r} is not a token")
        kind = _SPECIAL_NAMES.get(name.lower(), _K_OTHER)
        if len(_NAME_KINDS) >= _NAME_CACHE_MAX:
            _NAME_KINDS.clear()
        _NAME_KINDS[name] = kind
    return kind


def _split_lines(block: bytes, what: str) -> list[str]:
    """The lines of a head or trailer section ending with an empty line.

    CRLF or bare LF end a line; a bare CR or a NUL anywhere is an error.
    """
    text = block.decode("latin-1")
    if "\x00" in text:
        raise ProtocolError(f"NUL byte in {what}")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            raise ProtocolError(f"Bare CR (not followed by LF) in {what}")
    # ``text`` ends with the empty line: "...\n\n", or is just "\n".
    return text[:-2].split("\n") if len(text) > 1 else []


def _parse_fields(lines: list[str], what: str) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[0] in " \t":
            raise ProtocolError(f"Obsolete line folding (line starting with whitespace) in {what}")
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"Invalid header line in {what}: no colon in {line[:80]!r}")
        _name_kind(name)
        fields.append((name, value.strip(" \t")))
    return fields


def _parse_content_length(values: list[str]) -> int:
    result = -1
    for value in values:
        for element in value.split(","):
            element = element.strip(" \t")
            if not (element.isascii() and element.isdigit()):
                raise ProtocolError(f"Invalid Content-Length: {value!r}")
            digits = element.lstrip("0") or "0"
            if len(digits) > 19 or int(digits) > _MAX_CONTENT_LENGTH:
                raise ProtocolError(f"Content-Length too large: {value!r}")
            n = int(digits)
            if result >= 0 and n != result:
                raise ProtocolError(f"Conflicting Content-Length values: {values!r}")
            result = n
    return result


def _tokens(values: list[str]) -> list[str]:
    """Lower-cased non-empty elements of comma-separated list fields."""
    out: list[str] = []
    for value in values:
        for element in value.split(","):
            element = element.strip(" \t").lower()
            if element:
                out.append(element)
    return out


def _check_limit(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, not {value!r}")
    return value


class ResponseParser:
    """Incremental HTTP/1.1 response parser and body decoder (sans-IO).

    Feed received bytes with :meth:`feed` (and :meth:`feed_eof` when the peer
    closes), take the final head from :meth:`next_head`, then the decoded
    payload from :meth:`read_body` until :attr:`body_done`. Owned by one
    thread. A new parser is ready as if :meth:`start` had been called.
    """

    __slots__ = (
        "_body_received",
        "_buf",
        "_chunk_left",
        "_eof",
        "_got_bytes",
        "_head",
        "_interim",
        "_is_head_request",
        "_lines",
        "_lines_scan",
        "_max_chunk_line",
        "_max_head_size",
        "_max_headers",
        "_max_interim",
        "_max_trailer_size",
        "_remaining",
        "_scan",
        "_state",
        "_trailers",
    )

    def __init__(
        self,
        *,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_trailer_size: int = DEFAULT_MAX_TRAILER_SIZE,
        max_chunk_line: int = DEFAULT_MAX_CHUNK_LINE,
        max_interim: int = DEFAULT_MAX_INTERIM,
    ) -> None:
        self._max_head_size = _check_limit("max_head_size", max_head_size)
        self._max_headers = _check_limit("max_headers", max_headers)
        self._max_trailer_size = _check_limit("max_trailer_size", max_trailer_size)
        self._max_chunk_line = _check_limit("max_chunk_line", max_chunk_line)
        self._max_interim = _check_limit("max_interim", max_interim)
        self._buf = bytearray()
        self._eof = False
        self.start()

    # -- lifecycle

    def start(self, is_head_request: bool = False) -> None:
        """Get ready for a new response. Buffered bytes are kept: they belong
        to the next message."""
        self._is_head_request = bool(is_head_request)
        self._state = _S_HEAD
        self._head: ResponseHead | None = None
        self._scan = 0
        self._lines = 0  # line ends counted in the incomplete head at buf[:_lines_scan]
        self._lines_scan = 0
        self._interim = 0  # interim (1xx) heads consumed since start()
        self._remaining = 0
        self._chunk_left = 0
        self._body_received = 0
        self._trailers: list[tuple[str, str]] = []
        self._got_bytes = bool(self._buf)

    def feed(self, data: _Buffer) -> None:
        """Append received bytes (an empty ``data`` is a no-op, not EOF)."""
        if data:
            self._buf += data
            self._got_bytes = True

    def feed_eof(self) -> None:
        """The peer closed. Completes a read-until-close body; any other
        incomplete message makes the next :meth:`next_head` or
        :meth:`read_body` that needs more bytes raise."""
        self._eof = True

    # -- head

    def _block_end(self, limit: int, what: str) -> int:
        """End (exclusive) of a block of lines that ends with an empty line and
        starts at buffer offset 0 with a non-empty line; -1 if not complete.
        Searches only bytes it has not searched before."""
        buf = self._buf
        scan = self._scan
        j = buf.find(b"\n\r\n", scan)
        i = buf.find(b"\n\n", scan, len(buf) if j < 0 else j + 1)
        if i >= 0:
            end = i + 2
        elif j >= 0:
            end = j + 3
        else:
            if len(buf) >= limit:
                raise ProtocolError(f"{what} too large (more than {limit} bytes)")
            self._scan = max(len(buf) - 2, 0)
            return -1
        if end > limit:
            raise ProtocolError(f"{what} too large (more than {limit} bytes)")
        return end

    def next_head(self) -> ResponseHead | None:
        """The final response head, or None until more bytes are fed.

        Interim 1xx responses are consumed. Raises ProtocolError for a
        malformed or over-limit head, ``RemoteDisconnected`` if the peer closed
        before sending any byte of this response.
        """
        while self._state == _S_HEAD:
            buf = self._buf
            if buf:
                prefix = buf[:7]
                if not b"HTTP/1.".startswith(prefix):
                    raise ProtocolError(
                        f"Invalid status line: response starts with {bytes(buf[:40])!r}"
                    )
                try:
                    end = self._block_end(self._max_head_size, "Response head")
                except ProtocolError:
                    self._count_lines(self._max_head_size)  # the more telling error first
                    raise
                if end < 0:
                    self._count_lines(len(buf))
            else:
                end = -1
            if end < 0:
                if self._eof:
                    if not self._got_bytes:
                        raise RemoteDisconnected("Remote end closed connection without response")
                    raise ProtocolError(
                        "Connection closed before the end of the response head "
                        f"({len(buf)} bytes received)"
                    )
                return None
            block = bytes(buf[:end])
            del buf[:end]
            self._scan = self._lines = self._lines_scan = 0
            self._parse_head(block)
            if self._head is None:  # an interim response was consumed
                self._interim += 1
                if self._interim > self._max_interim:
                    raise ProtocolError(
                        f"Too many interim (1xx) responses (more than {self._max_interim})"
                    )
        return self._head

    def _count_lines(self, upto: int) -> None:
        """Count the line ends of an incomplete head up to buffer offset
        ``upto`` (each byte once): more lines than a head may have is an
        error as soon as they are there, not when the head size runs out."""
        buf = self._buf
        upto = min(upto, len(buf))
        if upto > self._lines_scan:
            self._lines += buf.count(b"\n", self._lines_scan, upto)
            self._lines_scan = upto
            if self._lines > self._max_headers + 1:
                raise ProtocolError(f"Too many header fields (more than {self._max_headers})")

    def _parse_head(self, block: bytes) -> None:
        lines = _split_lines(block, "response head")
        status_line = lines[0]
        if status_line.startswith("HTTP/1.1 "):
            version = 11
        elif status_line.startswith("HTTP/1.0 "):
            version = 10
        else:
            raise ProtocolError(f"Invalid status line {status_line[:80]!r}")
        code = status_line[9:12]
        if not (len(code) == 3 and code.isascii() and code.isdigit()) or code[0] == "0":
            raise ProtocolError(f"Invalid status code in status line {status_line[:80]!r}")
        if len(status_line) == 12:
            reason = ""
        elif status_line[12] == " ":
            reason = status_line[13:]
        else:
            raise ProtocolError(f"Invalid status line {status_line[:80]!r}")
        status = int(code)
        if len(lines) - 1 > self._max_headers:
            raise ProtocolError(
                f"Too many header fields ({len(lines) - 1}, limit {self._max_headers})"
            )

        headers: list[tuple[str, str]] = []
        cl_values: list[str] | None = None
        te_values: list[str] | None = None
        conn_values: list[str] | None = None
        ce_values: list[str] | None = None
        for index in range(1, len(lines)):
            line = lines[index]
            if line[0] in " \t":
                raise ProtocolError(
                    "Obsolete line folding (line starting with whitespace) in response head"
                )
            name, colon, value = line.partition(":")
            if not colon:
                raise ProtocolError(f"Invalid header line: no colon in {line[:80]!r}")
            value = value.strip(" \t")
            kind = _name_kind(name)
            if kind:
                if kind == _K_CONTENT_LENGTH:
                    cl_values = [value] if cl_values is None else [*cl_values, value]
                elif kind == _K_TRANSFER_ENCODING:
                    te_values = [value] if te_values is None else [*te_values, value]
                elif kind == _K_CONNECTION:
                    conn_values = [value] if conn_values is None else [*conn_values, value]
                else:
                    ce_values = [value] if ce_values is None else [*ce_values, value]
            headers.append((name, value))

        if status < 200:
            if status == 101:
                raise ProtocolError("Unexpected 101 Switching Protocols (no upgrade was requested)")
            return  # interim response: consumed, the final head follows

        content_length: int | None = None
        if self._is_head_request or status in _NO_BODY_STATUS:
            framing = FRAMING_NONE
        elif te_values is not None:
            if cl_values is not None:
                raise ProtocolError("Response has both Transfer-Encoding and Content-Length")
            codings = _tokens(te_values)
            framing = FRAMING_CHUNKED if codings and codings[-1] == "chunked" else FRAMING_CLOSE
        elif cl_values is not None:
            content_length = _parse_content_length(cl_values)
            framing = FRAMING_LENGTH
        else:
            framing = FRAMING_CLOSE

        if framing == FRAMING_CLOSE:
            keep_alive = False
        else:
            tokens = _tokens(conn_values) if conn_values is not None else ()
            if version == 11:
                keep_alive = "close" not in tokens
            else:
                keep_alive = "keep-alive" in tokens and "close" not in tokens

        self._head = ResponseHead(
            status,
            reason,
            version,
            headers,
            framing,
            content_length,
            keep_alive,
            None if ce_values is None else ", ".join(ce_values),
        )
        if framing == FRAMING_NONE:
            self._state = _S_DONE
        elif framing == FRAMING_LENGTH:
            assert content_length is not None
            self._remaining = content_length
            self._state = _S_LENGTH if content_length else _S_DONE
        elif framing == FRAMING_CHUNKED:
            self._state = _S_CHUNK_SIZE
        else:
            self._state = _S_CLOSE

    # -- body

    def read_body(self, max_bytes: int = -1) -> bytes:
        """Decoded payload bytes available now: at most ``max_bytes`` when it
        is >= 0, ``b""`` when none are buffered. Raises ProtocolError for bad
        chunk framing, and for a message cut short by :meth:`feed_eof` when
        nothing buffered remains to be returned."""
        state = self._state
        if state in (_S_DONE, _S_HEAD):
            return b""
        buf = self._buf
        budget = len(buf) if max_bytes < 0 else max_bytes
        if state == _S_LENGTH:
            n = min(len(buf), self._remaining, budget)
            if n:
                data = bytes(buf[:n])
                del buf[:n]
                self._remaining -= n
                self._body_received += n
                if not self._remaining:
                    self._state = _S_DONE
                return data
            if self._eof and not buf and max_bytes:
                self._incomplete(self._remaining)
            return b""
        if state == _S_CLOSE:
            n = min(len(buf), budget)
            data = b""
            if n:
                data = bytes(buf[:n])
                del buf[:n]
                self._body_received += n
            if self._eof and not buf:
                self._state = _S_DONE
            return data
        return self._read_chunked(budget, max_bytes != 0)

    def _incomplete(self, expected: int) -> NoReturn:
        err = IncompleteRead(self._body_received, expected)
        raise ProtocolError(f"Connection broken: {err!r}", err)

    def _read_chunked(self, budget: int, may_raise_eof: bool) -> bytes:
        buf = self._buf
        out: list[bytes] = []
        state = self._state
        while True:
            if state == _S_CHUNK_DATA:
                n = min(len(buf), self._chunk_left, budget)
                if not n:
                    break
                out.append(bytes(buf[:n]))
                del buf[:n]
                budget -= n
                self._body_received += n
                self._chunk_left -= n
                if self._chunk_left:
                    break
                state = _S_CHUNK_CRLF
            elif state == _S_CHUNK_CRLF:
                if len(buf) < 2:
                    if buf and buf[0] != 0x0D:
                        raise ProtocolError("Chunk data not followed by CRLF")
                    break
                if buf[0] != 0x0D or buf[1] != 0x0A:
                    raise ProtocolError(f"Chunk data not followed by CRLF (got {bytes(buf[:2])!r})")
                del buf[:2]
                state = _S_CHUNK_SIZE
            elif state == _S_CHUNK_SIZE:
                size = self._chunk_size_line()
                if size < 0:
                    break
                if size:
                    self._chunk_left = size
                    state = _S_CHUNK_DATA
                else:
                    state = _S_TRAILERS
            elif state == _S_TRAILERS:
                if not self._parse_trailers():
                    break
                state = _S_DONE
            else:  # _S_DONE
                break
        self._state = state
        if out:
            return out[0] if len(out) == 1 else b"".join(out)
        if state != _S_DONE and self._eof and may_raise_eof:
            self._incomplete(self._chunk_left if state == _S_CHUNK_DATA else 0)
        return b""

    def _chunk_size_line(self) -> int:
        """Parse one chunk-size line; the size, or -1 if the line is incomplete."""
        buf = self._buf
        limit = self._max_chunk_line
        nl = buf.find(b"\n", self._scan, limit)
        if nl < 0:
            if len(buf) >= limit:
                raise ProtocolError(f"Chunk size line too long (more than {limit} bytes)")
            self._scan = len(buf)
            return -1
        self._scan = 0
        line = bytes(buf[:nl])
        del buf[: nl + 1]
        if not line.endswith(b"\r"):
            raise ProtocolError(f"Chunk size line not terminated by CRLF: {line[:80]!r}")
        line = line[:-1]
        size_part, _, ext = line.partition(b";")
        if b"\r" in ext or b"\x00" in ext:
            raise ProtocolError(f"Invalid chunk extension: {line[:80]!r}")
        # BWS (SP / HT) may follow the size, before ";" or CRLF; nothing else.
        digits = size_part.rstrip(b" \t")
        if not 1 <= len(digits) <= 16 or digits.translate(None, _HEXDIGITS):
            raise ProtocolError(f"Invalid chunk size line: {line[:80]!r}")
        return int(digits, 16)

    def _parse_trailers(self) -> bool:
        """Parse the trailer section and its empty line; False if incomplete."""
        buf = self._buf
        if not buf:
            return False
        first = buf[0]
        if first == 0x0A:
            end = 1
        elif first == 0x0D:
            if len(buf) < 2:
                return False
            if buf[1] != 0x0A:
                raise ProtocolError("Bare CR (not followed by LF) in trailers")
            end = 2
        else:
            end = self._block_end(self._max_trailer_size, "Trailer section")
            if end < 0:
                return False
        if end > self._max_trailer_size:
            raise ProtocolError(
                f"Trailer section too large (more than {self._max_trailer_size} bytes)"
            )
        block = bytes(buf[:end])
        del buf[:end]
        self._scan = 0
        if end > 2:
            self._trailers = _parse_fields(_split_lines(block, "trailers"), "trailers")
        return True

    # -- state

    @property
    def body_done(self) -> bool:
        """True once the whole payload was delivered and the message ended."""
        return self._state == _S_DONE

    @property
    def body_received(self) -> int:
        """Payload bytes delivered by :meth:`read_body` so far."""
        return self._body_received

    @property
    def trailers(self) -> list[tuple[str, str]]:
        """Trailer fields of a chunked body, once it is done."""
        return self._trailers

    def leftover(self) -> bytes:
        """Buffered bytes beyond the end of the message (``b""`` until the
        body is done)."""
        return bytes(self._buf) if self._state == _S_DONE else b""

    # -- used by Wire for LENGTH bodies received outside the buffer

    def _length_remaining(self) -> int:
        """Body bytes still expected for a LENGTH body with nothing buffered, else 0."""
        if self._state == _S_LENGTH and not self._buf:
            return self._remaining
        return 0

    def _account(self, n: int) -> None:
        """``n`` body bytes of a LENGTH body were received directly by the caller."""
        self._remaining -= n
        self._body_received += n
        if not self._remaining:
            self._state = _S_DONE


_HAS_POLL: Final = hasattr(select, "poll")
_POLL_READABLE: Final = (
    (select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP) if _HAS_POLL else 0
)


def _readable_now(sock: Any) -> bool:
    """The socket is readable, in error or closed right now (zero-timeout poll)."""
    try:
        if _HAS_POLL:
            if sock.fileno() < 0:
                return True
            poller = select.poll()
            poller.register(sock, _POLL_READABLE)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class _SocketLike(Protocol):
    def settimeout(self, value: float | None, /) -> None: ...
    def sendall(self, data: Any, /) -> None: ...
    def recv_into(self, buffer: Any, nbytes: int = ..., /) -> int: ...


_RECV_SIZE: Final = 65536
# A LENGTH body read whole is received into buffers of at most this size, each
# allocated when the bytes for it start arriving: a Content-Length alone (a
# peer may claim 2**63 - 1) never makes us allocate more than this.
_PREALLOC_MAX: Final = 1 << 24


class Wire:
    """One connection's exchange over a socket object's Python methods
    (``settimeout``, ``sendall``, ``recv_into``); ``timeout`` applies to each call.
    Not thread-safe: a checked-out connection belongs to one thread."""

    __slots__ = ("_head", "_parser", "_rbuf", "_rview", "_sock")

    def __init__(
        self,
        sock: Any,
        *,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_trailer_size: int = DEFAULT_MAX_TRAILER_SIZE,
        max_chunk_line: int = DEFAULT_MAX_CHUNK_LINE,
        max_interim: int = DEFAULT_MAX_INTERIM,
    ) -> None:
        self._sock: _SocketLike = sock
        self._parser = ResponseParser(
            max_head_size=max_head_size,
            max_headers=max_headers,
            max_trailer_size=max_trailer_size,
            max_chunk_line=max_chunk_line,
            max_interim=max_interim,
        )
        self._rbuf = bytearray(_RECV_SIZE)
        self._rview = memoryview(self._rbuf)
        self._head: ResponseHead | None = None

    def _recv_into(self, view: memoryview) -> int:
        try:
            return self._sock.recv_into(view)
        except BlockingIOError:  # timeout 0 and nothing ready
            raise TimeoutError("timed out") from None

    def _fill(self) -> None:
        n = self._recv_into(self._rview)
        if n:
            self._parser.feed(self._rview[:n])
        else:
            self._parser.feed_eof()

    def _send(self, data: _Buffer) -> None:
        try:
            self._sock.sendall(data)
        except BlockingIOError:  # timeout 0 and the send buffer full
            raise TimeoutError("timed out") from None

    def sendall(self, data: _Buffer, timeout: float | None) -> None:
        """Send all of ``data``; ``timeout`` applies to each wait."""
        self._sock.settimeout(timeout)
        self._send(data)

    def request(
        self,
        head: bytes,
        body: bytes | None,
        timeout: float | None,
        is_head_request: bool = False,
    ) -> ResponseHead:
        """Send ``head`` and ``body``, then wait for and parse the response head."""
        self._sock.settimeout(timeout)
        if body and len(body) <= 16384:
            self._send(head + body)
        else:
            self._send(head)
            if body:
                self._send(body)
        return self._read_head(is_head_request)

    def read_head(self, timeout: float | None, is_head_request: bool = False) -> ResponseHead:
        """Wait for and parse the response head (the request was sent with
        :meth:`sendall`)."""
        self._sock.settimeout(timeout)
        return self._read_head(is_head_request)

    def _read_head(self, is_head_request: bool) -> ResponseHead:
        parser = self._parser
        parser.start(is_head_request)
        self._head = None
        while True:
            head = parser.next_head()
            if head is not None:
                self._head = head
                return head
            self._fill()

    def read(self, amt: int | None, timeout: float | None) -> bytes:
        """Decoded body bytes: at most ``amt`` (all when None); ``b""`` once
        the body is complete."""
        parser = self._parser
        self._sock.settimeout(timeout)
        if amt is None:
            remaining = parser._length_remaining()
            if remaining:
                return self._read_length_whole(remaining)
            parts: list[bytes] = []
            while not parser.body_done:
                data = parser.read_body()
                if data:
                    parts.append(data)
                elif not parser.body_done:
                    self._fill()
            return b"".join(parts)
        if amt < 0:
            raise ValueError("amt must be >= 0 or None")
        if not amt:
            return b""
        while True:
            data = parser.read_body(amt)
            if data or parser.body_done:
                return data
            self._fill()

    def _read_length_whole(self, remaining: int) -> bytes:
        """The rest of a LENGTH body (nothing buffered) received into one buffer
        (pieces of at most ``_PREALLOC_MAX`` bytes, joined, for a larger one)."""
        if remaining <= _PREALLOC_MAX:
            return self._recv_exactly(remaining)
        parts: list[bytes] = []
        while remaining:
            size = min(remaining, _PREALLOC_MAX)
            parts.append(self._recv_exactly(size))
            remaining -= size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _recv_exactly(self, size: int) -> bytes:
        parser = self._parser
        out = bytearray(size)
        view = memoryview(out)
        got = 0
        try:
            while got < size:
                n = self._recv_into(view[got:])
                if not n:
                    parser.feed_eof()
                    parser.read_body()  # raises the IncompleteRead ProtocolError
                    break  # pragma: no cover
                got += n
                parser._account(n)
        finally:
            view.release()
        return bytes(out)

    def readinto(self, buffer: Any, timeout: float | None) -> int:
        """Read decoded body bytes into ``buffer``; 0 once the body is complete."""
        parser = self._parser
        self._sock.settimeout(timeout)
        with memoryview(buffer) as raw, raw.cast("B") as view:
            size = len(view)
            if not size:
                return 0
            remaining = parser._length_remaining()
            if remaining:
                n = self._recv_into(view[: min(size, remaining)])
                if not n:
                    parser.feed_eof()
                    parser.read_body()  # raises the IncompleteRead ProtocolError
                parser._account(n)
                return n
            while True:
                data = parser.read_body(size)
                if data or parser.body_done:
                    view[: len(data)] = data
                    return len(data)
                self._fill()

    def is_dropped(self) -> bool:
        """True when the idle connection is unusable: the socket is readable
        (the peer closed it or sent something unasked), reports an error or
        hang-up, or is closed. One zero-timeout poll; never reads."""
        return _readable_now(self._sock)

    @property
    def body_done(self) -> bool:
        """True once the whole body was read."""
        return self._parser.body_done

    @property
    def body_received(self) -> int:
        """Payload bytes read so far."""
        return self._parser.body_received

    @property
    def keep_alive(self) -> bool:
        """The connection can be reused: the head allowed it, the body is
        complete and nothing was received beyond it."""
        head = self._head
        parser = self._parser
        return head is not None and head.keep_alive and parser.body_done and not parser._buf

    @property
    def trailers(self) -> list[tuple[str, str]]:
        """Trailer fields of a chunked body."""
        return self._parser.trailers

    def leftover(self) -> bytes:
        """Bytes received beyond the end of the response."""
        return self._parser.leftover()
