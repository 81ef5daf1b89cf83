"""``HTTPResponse``: urllib3 2.x's response API over fastpool's wire.

A response made by the pool (:meth:`HTTPResponse._from_wire`) reads its body
from the connection's :class:`~fastpool._http11.Wire` and gives the
connection back through the pool's ``release(conn, reusable)`` callback,
called exactly once: with ``wire.keep_alive`` as soon as the whole body has
been received, with False when the response is closed, released or fails
before that (the pool then closes the connection). Header objects are built
only when asked for. A response can also be built directly, as with urllib3
(``HTTPResponse(body=io.BytesIO(...), headers=..., status=200)``).

Content decoding (:mod:`fastpool._decoders`) starts when reading starts,
from the ``Content-Encoding`` header at that moment; decoded output is bounded
per call: ``read(amt)`` returns at most ``amt`` bytes, ``stream(amt)`` yields
pieces of at most ``amt`` bytes, also for decompression bombs and chains.

Deliberate differences from urllib3:

* ``release_conn()`` before the body was fully read gives the connection
  back to be *closed*, never reused (urllib3 puts it back in the pool with
  unread bytes on it); later reads return ``b""``.
* ``drain_conn()`` reads at most :data:`DRAIN_LIMIT` more body bytes; a
  longer body is not read, and its connection is closed instead.
* ``read()`` on a response built without a body file returns ``b""``
  (urllib3 returns None); ``stream()`` on it yields nothing (urllib3 raises
  ValueError, or loops forever on an ``io.BytesIO`` with ``amt=None``).
* a ``Content-Encoding`` naming a coding fastpool cannot decode, alone or in
  a chain, leaves the body undecoded (see :mod:`fastpool._decoders`).
* ``read_chunked()`` and ``stream()`` on a chunked body yield the data as it
  arrives (at most ``amt`` bytes a piece), not one piece per HTTP chunk;
  ``read_chunked(None)`` / ``read1(None)`` use pieces of at most 64 KiB.
* ``msg`` and ``_original_response.msg`` of a pool-made response are an
  ``http.client.HTTPMessage`` built on first access from the received header
  fields (what requests' cookie handling reads); ``_original_response`` is a
  small stand-in for ``http.client.HTTPResponse``, not the real thing.
"""

from __future__ import annotations

import http.client
import io
import json as _json
import logging
import socket
import typing
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from urllib3.exceptions import (
    BodyNotHttplibCompatible,
    DecodeError,
    HTTPError,
    IncompleteRead,
    InvalidHeader,
    ProtocolError,
    ReadTimeoutError,
    ResponseNotChunked,
    SSLError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.response import is_fp_closed

from ._collections import HTTPHeaderDict
from ._decoders import SUPPORTED_ENCODINGS, ContentDecoder, get_decoder

try:
    import ssl

    _BaseSSLError: type[BaseException] = ssl.SSLError
except ImportError:  # pragma: no cover - Python without ssl

    class _NoSSLError(Exception):
        pass

    _BaseSSLError = _NoSSLError

if typing.TYPE_CHECKING:
    from urllib3.util.retry import Retry

    from ._http11 import ResponseHead, Wire

__all__ = ["DRAIN_LIMIT", "BaseHTTPResponse", "HTTPResponse"]

log = logging.getLogger(__name__)

#: ``drain_conn()`` reads at most this many more body bytes to keep the
#: connection; a longer rest is not read and the connection is closed.
DRAIN_LIMIT = 1 << 20

# Piece size when a streaming call gives no size (read1(None), read_chunked(None)).
_PIECE = 65536
# Raw bytes read at a time to feed a decoder (the decoded output stays bounded).
_RAW_MIN = 16384

# Framing constants of the _http11 contract (module imported lazily by the pool).
_FRAMING_NONE = 0
_FRAMING_LENGTH = 1
_FRAMING_CHUNKED = 2

_Release = Callable[[Any, bool], None]


class _OriginalResponse:
    """What ``resp._original_response`` is for a pool-made response: a small
    stand-in for :class:`http.client.HTTPResponse` with the parts that code
    written for urllib3 reads (requests: ``.msg.get_all("Set-Cookie")``)."""

    __slots__ = ("__weakref__", "_resp")

    def __init__(self, resp: HTTPResponse) -> None:
        self._resp = weakref.ref(resp)

    def _get(self) -> HTTPResponse:
        resp = self._resp()
        if resp is None:  # pragma: no cover - only reachable through misuse
            raise ValueError("the response is gone")
        return resp

    @property
    def msg(self) -> http.client.HTTPMessage:
        msg: http.client.HTTPMessage = self._get().msg
        return msg

    headers = msg

    @property
    def status(self) -> int:
        return self._get().status

    @property
    def reason(self) -> str | None:
        return self._get().reason

    @property
    def version(self) -> int:
        return self._get().version

    def info(self) -> http.client.HTTPMessage:
        return self.msg

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.msg.get(name, default)

    def getheaders(self) -> list[tuple[str, str]]:
        return list(self.msg.items())

    def isclosed(self) -> bool:
        resp = self._resp()
        return resp is None or resp._source_done

    def close(self) -> None:
        resp = self._resp()
        if resp is not None:
            resp.close()


def _build_message(pairs: list[tuple[str, str]]) -> http.client.HTTPMessage:
    msg = http.client.HTTPMessage()
    for name, value in pairs:
        msg[name] = value  # appends: repeated fields are kept
    return msg


_new_object = BaseHTTPResponse.__new__


class HTTPResponse(BaseHTTPResponse):
    """An HTTP response with urllib3 2.x's ``HTTPResponse`` API (see the
    module docstring). Not thread-safe: one response belongs to one thread."""

    CONTENT_DECODERS = list(SUPPORTED_ENCODINGS)

    # The state every response touches lives in slots: ``io.IOBase`` gives
    # instances a ``__dict__`` that CPython cannot specialize attribute access
    # on, so a slot is several times cheaper to write and read. Both
    # constructors set every slot (an unset slot raises AttributeError).
    __slots__ = (
        "_body",
        "_conn",
        "_connection",
        "_fp_bytes_read",
        "_framing",
        "_head",
        "_headers",
        "_pool",
        "_read_timeout",
        "_release",
        "_request_url",
        "_retries",
        "_source_done",
        "_wire",
        "auto_close",
        "chunked",
        "decode_content",
        "enforce_content_length",
        "length_remaining",
        "reason",
        "status",
        "version",
        "version_string",
    )

    _body: bytes | str | None
    _pool: Any
    _connection: Any
    _headers: HTTPHeaderDict | None
    _head: ResponseHead | None  # pool-made: the parsed head (header fields built lazily)
    _fp_bytes_read: int
    _wire: Any
    _conn: Any
    _release: _Release | None
    _read_timeout: float | None
    _framing: int  # -1: not pool-made
    _source_done: bool  # no more raw body bytes will come
    length_remaining: int | None
    auto_close: bool
    enforce_content_length: bool
    chunked: bool

    # Defaults of the rarely changed state: written (into the instance
    # ``__dict__``) only on the paths that change it.
    _fp: Any = None
    _sock_shutdown: Callable[[int], None] | None = None
    _msg: Any = None
    _orig: Any = None
    _decoder: ContentDecoder | None = None  # type: ignore[assignment]
    _decoder_ready = False
    _has_decoded_content = False
    _uncached_read_occurred = False
    _original_set = False
    _close_called = False
    _cut = False  # the body was abandoned (release_conn, close, drain): reads give b""
    _deferred: BaseException | None = None  # an error to raise on the next read
    chunk_left: int | None = None

    def __init__(
        self,
        body: Any = "",
        headers: Mapping[str, str] | Mapping[bytes, bytes] | None = None,
        status: int = 0,
        version: int = 0,
        version_string: str = "HTTP/?",
        reason: str | None = None,
        preload_content: bool = True,
        decode_content: bool = True,
        original_response: Any = None,
        pool: Any = None,
        connection: Any = None,
        msg: Any = None,
        retries: Retry | None = None,
        enforce_content_length: bool = True,
        request_method: str | None = None,
        request_url: str | None = None,
        auto_close: bool = True,
        sock_shutdown: Callable[[int], None] | None = None,
    ) -> None:
        self.length_remaining = None
        self._body = None
        self._headers = None
        self._head = None
        self._fp_bytes_read = 0
        self._wire = None
        self._conn = None
        self._release = None
        self._read_timeout = None
        self._framing = -1  # -1: not pool-made
        self._source_done = False  # no more raw body bytes will come
        super().__init__(
            headers=headers,
            status=status,
            version=version,
            version_string=version_string,
            reason=reason,
            decode_content=decode_content,
            request_url=request_url,
            retries=retries,
        )
        self._decoder = None
        self.enforce_content_length = enforce_content_length
        self.auto_close = auto_close
        self._original_response = original_response
        self.msg = msg
        self._pool = pool
        self._connection = connection
        self._sock_shutdown = sock_shutdown
        if body and isinstance(body, (str, bytes)):
            self._body = body
        if hasattr(body, "read"):
            self._fp = body
        else:
            self._source_done = True
        self.length_remaining = self._init_length(request_method)
        if preload_content and not self._body:
            self._body = self.read(decode_content=decode_content)

    @classmethod
    def _from_wire(
        cls,
        head: ResponseHead,
        conn: Any,
        wire: Wire,
        release: _Release,
        pool: Any,
        request_method: str | None,
        request_url: str | None,
        retries: Retry | None,
        preload_content: bool,
        decode_content: bool,
        enforce_content_length: bool,
        read_timeout: float | None,
    ) -> HTTPResponse:
        """The pool's factory: a response whose head was parsed by ``wire``.
        ``release(conn, reusable)`` is called exactly once (see the module
        docstring); with ``preload_content`` the body is read here. (The
        pool passes the arguments by position: cheaper than keywords.)"""
        self = _new_object(cls)
        self.status = head.status
        self.reason = head.reason
        version = head.version
        self.version = version
        self.version_string = "HTTP/1.1" if version == 11 else "HTTP/1.0"
        self._head = head
        self._headers = None
        self.decode_content = decode_content
        if retries is not None and retries.history:
            request_url = retries.history[-1].redirect_location
        self._request_url = request_url
        self._retries = retries
        self.enforce_content_length = bool(enforce_content_length)
        self.auto_close = True
        self._pool = pool
        self._fp_bytes_read = 0
        self._read_timeout = read_timeout
        framing = head.framing
        self._framing = framing
        self.chunked = False
        if framing == _FRAMING_LENGTH:
            self.length_remaining = head.content_length
        elif framing == _FRAMING_NONE:
            self.length_remaining = 0
            for name, value in head.headers:  # HEAD of a chunked resource
                if name.lower() == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
        else:
            self.length_remaining = None
            if framing == _FRAMING_CHUNKED:
                self.chunked = True
        done: bool = wire.body_done
        if done:  # HEAD, 204, 304, Content-Length: 0
            self._source_done = True
            self._wire = self._conn = self._connection = self._release = None
            self._body = b"" if preload_content else None
            release(conn, wire.keep_alive)
            return self
        self._source_done = False
        self._wire = wire
        self._conn = conn
        self._connection = conn
        self._release = release
        if not preload_content:
            self._body = None
            return self
        # The whole body now: _wire_read(None) inlined (its error mapping is
        # shared through _wire_failed).
        try:
            data: bytes = wire.read(None, read_timeout)
        except BaseException as e:
            self._body = None
            data = self._wire_failed(e, None)
        if data:
            n = len(data)
            self._fp_bytes_read = n
            remaining = self.length_remaining
            if remaining is not None:
                self.length_remaining = remaining - n
        if self._wire is not None and wire.body_done:
            self._source_done = True
            self._wire = self._conn = self._connection = self._release = None
            release(conn, wire.keep_alive)
        if decode_content and data and self._has_content_encoding():
            decoder = self._decoder_for(True)
            if decoder is not None:
                data = self._decode_all(decoder, data)
        self._body = data
        return self

    # -- headers and http.client compatibility ------------------------------

    @property
    def headers(self) -> HTTPHeaderDict:
        h = self._headers
        if h is None:
            h = HTTPHeaderDict()
            head = self._head
            if head is not None:
                for name, value in head.headers:
                    h.add(name, value)
            self._headers = h
        return h

    @headers.setter
    def headers(self, value: HTTPHeaderDict) -> None:
        self._headers = value

    @property
    def msg(self) -> Any:
        """``http.client.HTTPMessage`` of the received header fields (for a
        response built directly: the ``msg`` it was given)."""
        msg = self._msg
        head = self._head
        if msg is None and head is not None:
            msg = self._msg = _build_message(head.headers)
        return msg

    @msg.setter
    def msg(self, value: Any) -> None:
        self._msg = value

    @property
    def _original_response(self) -> Any:
        orig = self._orig
        if orig is None and self._framing >= 0 and not self._original_set:
            orig = self._orig = _OriginalResponse(self)
        return orig

    @_original_response.setter
    def _original_response(self, value: Any) -> None:
        self._orig = value
        self._original_set = True

    def _content_encoding(self) -> str:
        h = self._headers
        if h is not None:
            return h.get("content-encoding", "")
        head = self._head
        if head is None:
            return ""
        return head.content_encoding or ""

    def _has_content_encoding(self) -> bool:
        """Whether the headers have a Content-Encoding field (the parser
        found it: no search through the fields)."""
        h = self._headers
        if h is not None:
            return "content-encoding" in h
        head = self._head
        return head is not None and head.content_encoding is not None

    # -- bookkeeping -----------------------------------------------------------

    def _init_length(self, request_method: str | None) -> int | None:
        length: int | None = None
        content_length = self.headers.get("content-length")
        if content_length is not None:
            if self.chunked:
                log.warning(
                    "Received response with both Content-Length and "
                    "Transfer-Encoding set. This is expressly forbidden "
                    "by RFC 7230 sec 3.3.2. Ignoring Content-Length and "
                    "attempting to process response as Transfer-Encoding: "
                    "chunked."
                )
                return None
            try:
                lengths = {int(v) for v in content_length.split(",")}
            except ValueError:
                lengths = set()
            if len(lengths) > 1:
                raise InvalidHeader(
                    f"Content-Length contained multiple unmatching values ({content_length})"
                )
            if lengths:
                length = lengths.pop()
                if length < 0:
                    length = None
        try:
            status = int(self.status)
        except ValueError:
            status = 0
        if status in (204, 304) or 100 <= status < 200 or request_method == "HEAD":
            length = 0
        return length

    def _init_decoder(self) -> None:
        if self._decoder_ready:
            return
        encoding = self._content_encoding()
        if encoding:
            self._decoder = get_decoder(encoding)
        self._decoder_ready = True

    def _give_back(self, reusable: bool) -> None:
        """Hand the connection back (once): stop reading from the wire."""
        release = self._release
        conn = self._conn
        self._release = None
        self._wire = None
        self._conn = None
        self._connection = None
        self._source_done = True
        if release is not None:
            release(conn, reusable)

    # -- raw body bytes --------------------------------------------------------

    def _wire_read(self, amt: int | None) -> bytes:
        wire = self._wire
        if wire is None:
            return b""
        try:
            data: bytes = wire.read(amt, self._read_timeout)
        except BaseException as e:
            return self._wire_failed(e, amt)
        if data:
            n = len(data)
            self._fp_bytes_read += n
            if self.length_remaining is not None:
                self.length_remaining -= n
        if wire.body_done:
            self._give_back(wire.keep_alive)
        return data

    def _wire_failed(self, e: BaseException, amt: int | None) -> bytes:
        """``wire.read`` raised ``e`` (being handled): give the connection
        back to be closed and raise urllib3's error for it (or return ``b""``
        for a short body that is not enforced)."""
        self._give_back(False)
        if isinstance(e, TimeoutError):
            raise ReadTimeoutError(self._pool, self._request_url, "Read timed out.") from e
        if isinstance(e, ProtocolError):
            if (
                not self.enforce_content_length
                and amt is not None
                and self._framing == _FRAMING_LENGTH
                and len(e.args) > 1
                and isinstance(e.args[1], IncompleteRead)
            ):
                return b""  # urllib3: a short body is only an error when enforced
            raise e
        if isinstance(e, _BaseSSLError):
            raise SSLError(e) from e
        if isinstance(e, (http.client.HTTPException, OSError)):
            raise ProtocolError(f"Connection broken: {e!r}", e) from e
        raise e

    def _fp_read(self, amt: int | None, read1: bool = False) -> bytes:
        """A read from a body file (a response built directly), with
        urllib3's error mapping and Content-Length enforcement."""
        fp = self._fp
        if fp is None or self._source_done:
            return b""
        clean = False
        try:
            try:
                if getattr(fp, "closed", False):
                    data = b""
                elif read1:
                    data = fp.read1(amt) if amt is not None else fp.read1()
                else:
                    data = fp.read(amt) if amt is not None else fp.read()
                if amt is not None and amt != 0 and not data:
                    fp.close()
                    if (
                        self.enforce_content_length
                        and self.length_remaining is not None
                        and self.length_remaining != 0
                    ):
                        raise IncompleteRead(self._fp_bytes_read, self.length_remaining)
            except TimeoutError as e:
                raise ReadTimeoutError(self._pool, None, "Read timed out.") from e
            except _BaseSSLError as e:
                raise SSLError(e) from e
            except IncompleteRead as e:
                if e.expected is not None and e.partial is not None and e.expected == -e.partial:
                    arg = "Response may not contain content."
                else:
                    arg = f"Connection broken: {e!r}"
                raise ProtocolError(arg, e) from e
            except (http.client.HTTPException, OSError) as e:
                raise ProtocolError(f"Connection broken: {e!r}", e) from e
            clean = True
        finally:
            orig = self._orig
            if not clean:
                if orig is not None and hasattr(orig, "close"):
                    orig.close()
                if self._connection is not None:
                    self._connection.close()
            if orig is not None and hasattr(orig, "isclosed") and orig.isclosed():
                self.release_conn()
        if data:
            self._fp_bytes_read += len(data)
            if self.length_remaining is not None:
                self.length_remaining -= len(data)
        return data

    def _raw_read(self, amt: int | None = None, *, read1: bool = False) -> bytes:
        err = self._deferred
        if err is not None:
            self._deferred = None
            raise err
        if self._framing >= 0:
            return self._wire_read(amt)
        return self._fp_read(amt, read1)

    def _source_open(self) -> bool:
        if self._framing >= 0:
            return self._wire is not None
        return self._fp is not None and not self._source_done and not self._fp_closed()

    def _fp_closed(self) -> bool:
        fp = self._fp
        if hasattr(fp, "isclosed"):
            return bool(fp.isclosed())
        if hasattr(fp, "closed"):
            return bool(fp.closed)
        return True

    # -- decoding ---------------------------------------------------------------

    def _decoder_for(self, decode_content: bool) -> ContentDecoder | None:
        if not decode_content:
            # As urllib3, only when there is more to read: at the end of the
            # body (or with a deferred error to raise) the raw read gives b"".
            if self._has_decoded_content and (
                (self._deferred is None and self._source_open())
                or (self._decoder is not None and self._decoder.has_pending())
            ):
                raise RuntimeError(
                    "Calling read(decode_content=False) is not supported after "
                    "read(decode_content=True) was called."
                )
            return None
        self._init_decoder()
        return self._decoder

    def _decode_failed(self) -> None:
        if self._release is not None:
            self._give_back(False)

    def _decode_all(self, decoder: ContentDecoder, data: bytes) -> bytes:
        try:
            out = decoder.decompress(data)
            rest = decoder.flush()
        except DecodeError:
            self._decode_failed()
            raise
        # As urllib3: set only once decoding worked, so a body that failed to
        # decode can still be drained with read(decode_content=False) (requests
        # does that before following a redirect).
        self._has_decoded_content = True
        return out + rest if rest else out

    def _decode_some(self, decoder: ContentDecoder, amt: int, read1: bool) -> bytes:
        """Up to ``amt`` decoded bytes: as many as the body gives up to ``amt``,
        or with ``read1`` the first non-empty piece; ``b""`` at the end."""
        parts: list[bytes] = []
        got = 0
        raw_amt = max(amt, _RAW_MIN)
        # A deferred error (a body cut short) is raised by the next raw read:
        # the closed source must not pass for the end of the body.
        eof = self._deferred is None and not self._source_open()
        try:
            while got < amt:
                want = amt - got
                out = decoder.decompress(b"", want) if decoder.has_pending() else b""
                if not out:
                    if eof:
                        out = decoder.flush(want)
                        if not out:
                            break
                    else:
                        raw = self._raw_read(raw_amt, read1=read1)
                        if not raw:
                            eof = True
                            continue
                        out = decoder.decompress(raw, want)
                        if not out:
                            continue
                parts.append(out)
                got += len(out)
                if read1:
                    break
        except DecodeError:
            self._decode_failed()
            raise
        except HTTPError as e:
            if not parts:
                raise
            self._deferred = e  # give what arrived first, fail on the next read
        self._has_decoded_content = True
        if not parts:
            return b""
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # -- reading ------------------------------------------------------------------

    def read(
        self,
        amt: int | None = None,
        decode_content: bool | None = None,
        cache_content: bool = False,
    ) -> bytes:
        """Read and return up to ``amt`` bytes of the body (all of it when
        None), decoded unless ``decode_content`` is False; ``b""`` at the end.
        ``cache_content`` keeps a whole-body read for :attr:`data`."""
        if decode_content is None:
            decode_content = self.decode_content
        if amt is not None and amt < 0:
            amt = None
        if self._cut:
            return b""
        decoder = self._decoder_for(decode_content)
        if amt is None:
            data = self._raw_read(None)
            if decoder is not None:
                data = self._decode_all(decoder, data)
            if cache_content and not self._uncached_read_occurred:
                self._body = data
            else:
                self._uncached_read_occurred = True
            return data
        self._uncached_read_occurred = True
        if amt == 0:
            return b""
        if decoder is not None:
            return self._decode_some(decoder, amt, False)
        first = self._raw_read(amt)
        if len(first) >= amt or not first:
            return first
        parts = [first]
        got = len(first)
        try:
            while got < amt and self._source_open():
                data = self._raw_read(amt - got)
                if not data:
                    break
                parts.append(data)
                got += len(data)
        except HTTPError as e:
            self._deferred = e  # give what arrived first, fail on the next read
        return b"".join(parts)

    def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        """Like :meth:`io.BufferedReader.read1`: what is available (at least
        one byte unless at the end), at most ``amt`` (64 KiB when None)."""
        if decode_content is None:
            decode_content = self.decode_content
        if amt is not None and amt < 0:
            amt = None
        if amt == 0 or self._cut:
            return b""
        decoder = self._decoder_for(decode_content)
        self._uncached_read_occurred = True
        if decoder is not None:
            return self._decode_some(decoder, amt or _PIECE, True)
        if self._framing >= 0:
            return self._raw_read(amt or _PIECE)
        return self._raw_read(amt, read1=hasattr(self._fp, "read1"))

    def readinto(self, b: Any) -> int:
        with memoryview(b) as view, view.cast("B") as flat:
            data = self.read(len(flat))
            n = len(data)
            flat[:n] = data
        return n

    def stream(
        self, amt: int | None = 2**16, decode_content: bool | None = None
    ) -> typing.Generator[bytes]:
        """Yield the body in pieces of at most ``amt`` bytes (decoded unless
        ``decode_content`` is False); never an empty piece."""
        if amt == 0:
            return
        if self.chunked and self.supports_chunked_reads():
            yield from self.read_chunked(amt, decode_content=decode_content)
            return
        if amt is None or amt < 0:
            data = self.read(decode_content=decode_content)
            if data:
                yield data
            return
        while True:
            data = self.read(amt=amt, decode_content=decode_content)
            if not data:
                return
            yield data

    def read_chunked(
        self, amt: int | None = None, decode_content: bool | None = None
    ) -> typing.Generator[bytes]:
        """Yield a chunked body as it arrives, in pieces of at most ``amt``
        bytes (64 KiB when None). ResponseNotChunked when it is not chunked."""
        if not self.chunked:
            raise ResponseNotChunked(
                "Response is not chunked. Header 'transfer-encoding: chunked' is missing."
            )
        if not self.supports_chunked_reads():
            raise BodyNotHttplibCompatible(
                "Body should be http.client.HTTPResponse like. "
                "It should have have an fp attribute which returns raw chunks."
            )
        if amt == 0:
            return
        if amt is None or amt < 0:
            amt = _PIECE
        if decode_content is None:
            decode_content = self.decode_content
        while True:
            data = self.read1(amt, decode_content=decode_content)
            if not data:
                return
            yield data

    def __iter__(self) -> Iterator[bytes]:
        pending: list[bytes] = []
        for chunk in self.stream(decode_content=True):
            start = 0
            while True:
                nl = chunk.find(b"\n", start)
                if nl < 0:
                    break
                pending.append(chunk[start : nl + 1])
                yield b"".join(pending)
                pending = []
                start = nl + 1
            if start < len(chunk):
                pending.append(chunk[start:])
        if pending:
            yield b"".join(pending)

    @property
    def data(self) -> bytes:
        if self._body:
            return self._body  # type: ignore[return-value]
        if self._framing >= 0 or self._fp is not None:
            return self.read(cache_content=True)
        return None  # type: ignore[return-value]

    def json(self) -> Any:
        """The body parsed as JSON (UTF-8): ``json.JSONDecodeError`` or
        ``UnicodeDecodeError`` as urllib3 raises them."""
        return _json.loads(self.data.decode("utf-8"))

    # -- connection ---------------------------------------------------------------

    @property
    def connection(self) -> Any:
        return self._connection

    @property
    def url(self) -> str | None:
        return self._request_url

    @url.setter
    def url(self, url: str | None) -> None:
        self._request_url = url

    def release_conn(self) -> None:
        """Give the connection back: for reuse if the body was fully read,
        else to be closed (see the module docstring)."""
        if self._framing >= 0:
            if self._release is not None:
                self._cut = True
                self._give_back(False)
            return
        if self._pool is None or self._connection is None:
            return
        self._pool._put_conn(self._connection)
        self._connection = None

    def drain_conn(self) -> None:
        """Read and discard the rest of the body (at most :data:`DRAIN_LIMIT`
        bytes) so the connection can be reused; close it otherwise."""
        if self._framing >= 0:
            if self._wire is not None:
                remaining = self.length_remaining
                if remaining is not None and remaining > DRAIN_LIMIT:
                    self._cut = True
                    self._give_back(False)
                else:
                    budget = DRAIN_LIMIT
                    try:
                        while self._wire is not None and budget > 0:
                            data = self._wire_read(min(budget, _PIECE))
                            budget -= len(data)
                            if not data:
                                break
                    except (HTTPError, OSError, http.client.HTTPException):
                        pass
                    if self._release is not None:
                        self._cut = True
                        self._give_back(False)
            self._deferred = None
        else:
            try:
                self._raw_read()
            except (HTTPError, OSError, _BaseSSLError, http.client.HTTPException):
                pass
        if self._has_decoded_content:
            self._decoder = None

    def isclosed(self) -> bool:
        if self._framing >= 0:
            return self._source_done
        return is_fp_closed(self._fp)

    def tell(self) -> int:
        """Body bytes received so far, as sent (before content decoding)."""
        return self._fp_bytes_read

    def close(self) -> None:
        self._sock_shutdown = None
        self._close_called = True
        if self._framing >= 0:
            if self._release is not None:
                self._cut = True
                self._give_back(False)
        else:
            if not self.closed and self._fp is not None:
                self._fp.close()
            if self._connection is not None:
                self._connection.close()
        if not self.auto_close:
            io.IOBase.close(self)

    @property
    def closed(self) -> bool:
        if not self.auto_close:
            return bool(io.IOBase.closed.__get__(self))
        if self._framing >= 0:
            return self._source_done
        if self._fp is None:
            return True
        return self._fp_closed()

    def fileno(self) -> int:
        if self._framing >= 0:
            sock = getattr(self._connection, "sock", None)
            if sock is None:
                raise OSError("HTTPResponse has no file to get a fileno from")
            return int(sock.fileno())
        if self._fp is None:
            raise OSError("HTTPResponse has no file to get a fileno from")
        if hasattr(self._fp, "fileno"):
            return int(self._fp.fileno())
        raise OSError(
            "The file-like object this HTTPResponse is wrapped around has no file descriptor"
        )

    def flush(self) -> None:
        fp = self._fp
        if fp is not None and hasattr(fp, "flush") and not getattr(fp, "closed", False):
            fp.flush()

    def readable(self) -> bool:
        return True

    def supports_chunked_reads(self) -> bool:
        if self._framing >= 0:
            return True
        return hasattr(self._fp, "fp")

    def shutdown(self) -> None:
        """Shut the socket down for reading (wakes a read blocked in another
        thread), as urllib3 does."""
        shutdown = self._sock_shutdown
        if shutdown is None and self._framing >= 0 and not self._close_called:
            if self._connection is None:
                raise RuntimeError(
                    "Cannot shutdown as connection has already been released to the pool"
                )
            shutdown = getattr(getattr(self._connection, "sock", None), "shutdown", None)
        if not shutdown:
            raise ValueError("Cannot shutdown socket as self._sock_shutdown is not set")
        if self._connection is None:
            raise RuntimeError(
                "Cannot shutdown as connection has already been released to the pool"
            )
        shutdown(socket.SHUT_RD)
