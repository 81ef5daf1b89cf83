"""Content decoding (``Content-Encoding``) with output bounded per call.

``get_decoder(content_encoding)`` returns a :class:`ContentDecoder` for a
``Content-Encoding`` field value, or None when nothing is to be decoded.
Every decoder follows one incremental contract:

* ``decompress(data, max_length=-1)`` appends ``data`` to the decoder's input
  and returns at most ``max_length`` decoded bytes (all that the input allows
  when ``max_length < 0``; nothing when it is 0). Input that could not be
  decoded yet, and output beyond ``max_length``, stay inside the decoder.
* ``has_pending()`` is True when more output may come without more input
  (call ``decompress(b"", n)`` again).
* ``flush(max_length=-1)`` says the input is over: it returns what is left
  (bounded the same way; call it again while ``has_pending()``) and raises
  :class:`~urllib3.exceptions.DecodeError` when a codec can tell that its
  data was cut short (zstd, as urllib3 does).

Bounds: gzip, deflate, brotli (>= 1.2, which has ``output_buffer_limit``) and
zstd through ``compression.zstd`` (3.14+) or ``backports.zstd`` decode exactly
as much as asked (brotli may decode up to ~96 KiB ahead and keeps the excess).
The ``zstandard`` package has no bounded streaming API: it is fed
``max(128, max_length >> 15)`` input bytes at a time, and as zstd expands one
input byte into at most ~32 KiB, the output held at once is at most about
``max(4 MiB, max_length)``. Chains (``gzip, br``) pull bounded pieces through
each stage, so every stage's buffers stay bounded too.

Codings: ``gzip`` / ``x-gzip`` (concatenated members; garbage after a complete
member is ignored, as urllib3 does), ``deflate`` (zlib-wrapped or raw,
detected from the first bytes), ``br`` when ``brotli`` or ``brotlicffi`` is
importable, ``zstd`` when ``compression.zstd``, ``backports.zstd`` or
``zstandard`` is, ``identity`` (ignored). A chain lists codings in the order
they were applied and is decoded in reverse; more than 5 codings raise
DecodeError. Deliberate difference from urllib3: a value naming a coding we
cannot decode (alone or anywhere in a chain) decodes nothing, so the body is
returned as received (urllib3 decodes an unknown coding inside a chain as
deflate, which fails or corrupts the data).
"""

from __future__ import annotations

import importlib
import sys
import warnings
import zlib
from typing import Any

from urllib3.exceptions import DecodeError, DependencyWarning

__all__ = [
    "MAX_DECODE_LINKS",
    "SUPPORTED_ENCODINGS",
    "ContentDecoder",
    "get_decoder",
]

#: Most codings accepted in one Content-Encoding value (urllib3's limit).
MAX_DECODE_LINKS = 5


def _optional(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_brotli: Any = _optional("brotli", "brotlicffi")
_BROTLI_BOUNDED = False
if _brotli is not None:
    try:
        _probe = _brotli.Decompressor()
        _process = getattr(_probe, "process", None) or _probe.decompress
        _process(b"", output_buffer_limit=1)
        _BROTLI_BOUNDED = hasattr(_probe, "can_accept_more_data")
    except TypeError:
        pass
    except Exception:  # a broken install: treat br as unsupported
        _brotli = None
    finally:
        _probe = _process = None

# Bounded zstd (PEP 784 API) first; the zstandard package as the fallback.
_zstd: Any = _optional("compression.zstd") if sys.version_info >= (3, 14) else None
if _zstd is None:
    _zstd = _optional("backports.zstd")
_zstandard: Any = _optional("zstandard") if _zstd is None else None

#: Codings this installation decodes (lower case), in urllib3's order.
SUPPORTED_ENCODINGS: tuple[str, ...] = (
    ("gzip", "x-gzip", "deflate")
    + (("br",) if _brotli is not None else ())
    + (("zstd",) if _zstd is not None or _zstandard is not None else ())
)


class ContentDecoder:
    """Incremental decoder with bounded output (see the module docstring)."""

    __slots__ = ("_label",)

    def __init__(self, label: str) -> None:
        #: the whole Content-Encoding value, for error messages
        self._label = label

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        raise NotImplementedError

    def has_pending(self) -> bool:
        raise NotImplementedError

    def flush(self, max_length: int = -1) -> bytes:
        return self.decompress(b"", max_length)

    @property
    def has_unconsumed_tail(self) -> bool:
        """urllib3's name for :meth:`has_pending`."""
        return self.has_pending()

    def _error(self, exc: BaseException) -> DecodeError:
        return DecodeError(
            f"Received response with content-encoding: {self._label}, but failed to decode it.",
            exc,
        )


class _ZlibDecoder(ContentDecoder):
    """gzip (``wbits=31``, members one after another) and deflate."""

    __slots__ = ("_members", "_more", "_obj", "_swallow", "_tail", "_wbits")

    def __init__(self, label: str, wbits: int) -> None:
        super().__init__(label)
        self._wbits = wbits
        self._obj: Any = zlib.decompressobj(wbits)
        self._tail = b""  # input not given to zlib yet, or its unconsumed_tail
        self._more = False  # the last call filled max_length: zlib may hold output
        self._members = 0  # gzip members completed
        self._swallow = False  # garbage after a complete member: ignore the rest

    def has_pending(self) -> bool:
        return bool(self._tail) or self._more

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._swallow:
            return b""
        buf = self._tail + data if self._tail else data
        if max_length == 0:
            self._tail = buf
            return b""
        self._tail = b""
        if not buf and not self._more:
            return b""
        self._more = False
        out: list[bytes] = []
        got = 0
        obj = self._obj
        while True:
            if obj.eof:
                if not buf:
                    break
                if self._wbits != 31:  # deflate: data after the stream is ignored
                    buf = b""
                    break
                obj = self._obj = zlib.decompressobj(self._wbits)
            want = 0 if max_length < 0 else max_length - got  # zlib: 0 = no limit
            try:
                chunk = obj.decompress(buf, want)
            except zlib.error as e:
                if self._members:  # trailing garbage after a complete member
                    self._swallow = True
                    buf = b""
                    break
                raise self._error(e) from e
            if chunk:
                out.append(chunk)
                got += len(chunk)
            if obj.eof:
                self._members += 1
                buf = obj.unused_data
            else:
                buf = obj.unconsumed_tail
            if max_length >= 0 and got >= max_length:
                self._more = not obj.eof
                break
            if not obj.eof:
                break  # all input consumed
        self._tail = buf
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)


class _DeflateDecoder(_ZlibDecoder):
    """``deflate``: RFC 1950 zlib-wrapped as the RFC says, or raw RFC 1951 as
    some servers send. Chosen from the first two bytes (a valid zlib header),
    with a fallback to raw if reading it as zlib fails before any output."""

    __slots__ = ("_fed", "_probe")

    def __init__(self, label: str) -> None:
        super().__init__(label, zlib.MAX_WBITS)
        self._probe: bytes | None = b""  # all input, kept until the format is settled
        self._fed = 0  # bytes of _probe already given to the zlib reading

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        probe = self._probe
        if probe is None:
            return super().decompress(data, max_length)
        probe += data
        if len(probe) < 2:
            self._probe = probe
            return b""
        if not self._fed:
            cmf, flg = probe[0], probe[1]
            if cmf & 0x0F != 8 or cmf >> 4 > 7 or (cmf << 8 | flg) % 31 or flg & 0x20:
                return self._raw(probe, max_length)
        new = probe[self._fed :]
        self._fed = len(probe)
        try:
            out = super().decompress(new, max_length)
        except DecodeError:
            return self._raw(probe, max_length)
        self._probe = None if out else probe
        return out

    def _raw(self, probe: bytes, max_length: int) -> bytes:
        self._probe = None
        self._wbits = -zlib.MAX_WBITS
        self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        self._tail = b""
        self._more = False
        return super().decompress(probe, max_length)


class _BrotliDecoder(ContentDecoder):
    """``br`` through ``brotli`` / ``brotlicffi``. ``output_buffer_limit`` is a
    soft limit (the library grows its buffer in blocks), so the excess is kept
    here and handed out on the next calls."""

    __slots__ = ("_in", "_more", "_obj", "_out", "_process")

    _BLOCK = 32768

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self._obj: Any = _brotli.Decompressor()
        self._process: Any = getattr(self._obj, "process", None) or self._obj.decompress
        self._in = b""  # input the decompressor cannot accept yet
        self._out = b""  # output decoded beyond what was asked
        self._more = False  # the last call hit the limit: more output may follow

    def has_pending(self) -> bool:
        return bool(self._out or self._in) or self._more

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if data:
            self._in = self._in + data if self._in else data
        if max_length == 0:
            return b""
        if not _BROTLI_BOUNDED:
            return self._unbounded()
        out: list[bytes] = []
        got = 0
        if self._out:
            piece = self._out if max_length < 0 else self._out[:max_length]
            self._out = self._out[len(piece) :]
            out.append(piece)
            got = len(piece)
        obj = self._obj
        limit = max(max_length, self._BLOCK) if max_length >= 0 else 1 << 20
        try:
            while max_length < 0 or got < max_length:
                if self._in and obj.can_accept_more_data():
                    feed, self._in = self._in, b""
                elif self._more or not obj.can_accept_more_data():
                    feed = b""
                else:
                    break
                chunk = self._process(feed, output_buffer_limit=limit)
                self._more = len(chunk) >= limit or not obj.can_accept_more_data()
                if not chunk:
                    if not feed:
                        self._more = False
                        break
                    continue
                if max_length >= 0 and got + len(chunk) > max_length:
                    keep = max_length - got
                    self._out = chunk[keep:]
                    chunk = chunk[:keep]
                out.append(chunk)
                got += len(chunk)
        except _brotli.error as e:
            self._in = self._out = b""
            self._more = False
            raise self._error(e) from e
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)

    def _unbounded(self) -> bytes:
        warnings.warn(
            "Brotli >= 1.2.0 is required to prevent decompression bombs.",
            DependencyWarning,
            stacklevel=4,
        )
        feed, self._in = self._in, b""
        try:
            return bytes(self._process(feed))
        except _brotli.error as e:
            raise self._error(e) from e

    def flush(self, max_length: int = -1) -> bytes:
        out = self.decompress(b"", max_length)
        if not self.has_pending():
            flush = getattr(self._obj, "flush", None)  # brotlipy
            if flush is not None:
                out += flush()
        return out


class _ZstdDecoder(ContentDecoder):
    """``zstd`` through the PEP 784 API (``compression.zstd`` or
    ``backports.zstd``): ``decompress(data, max_length)`` is bounded. Frames
    may follow one another."""

    __slots__ = ("_held", "_obj", "_open")

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self._obj: Any = _zstd.ZstdDecompressor()
        self._held = b""  # input not given to a decompressor yet
        self._open = False  # a frame was started and has not ended

    def has_pending(self) -> bool:
        obj = self._obj
        return (
            bool(self._held)
            or (self._open and not obj.needs_input)
            or bool(obj.eof and obj.unused_data)
        )

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        buf = self._held + data if self._held else data
        self._held = b""
        if max_length == 0:
            self._held = buf
            return b""
        out: list[bytes] = []
        got = 0
        obj = self._obj
        try:
            while True:
                if obj.eof:
                    buf = obj.unused_data + buf if obj.unused_data else buf
                    if not buf:
                        break
                    obj = self._obj = _zstd.ZstdDecompressor()
                if not buf and (obj.needs_input or not self._open):
                    break
                want = -1 if max_length < 0 else max_length - got
                chunk = obj.decompress(buf, want)
                buf = b""
                self._open = not obj.eof
                if chunk:
                    out.append(chunk)
                    got += len(chunk)
                if max_length >= 0 and got >= max_length:
                    break
                if not obj.eof and obj.needs_input:
                    break
        except (_zstd.ZstdError, EOFError) as e:
            self._held = b""
            raise self._error(e) from e
        self._held = buf
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)

    def flush(self, max_length: int = -1) -> bytes:
        out = self.decompress(b"", max_length)
        if not self.has_pending() and self._open:
            raise DecodeError("Zstandard data is incomplete")
        return out


class _ZstandardDecoder(ContentDecoder):
    """``zstd`` through the ``zstandard`` package, whose streaming decoder has
    no output limit: input is given in small slices and the output beyond
    ``max_length`` is kept here (see the module docstring for the bound)."""

    __slots__ = ("_in", "_obj", "_open", "_opos", "_out")

    _MIN_SLICE = 128

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self._obj: Any = _zstandard.ZstdDecompressor().decompressobj()
        self._in = b""
        self._out = b""  # output beyond what was asked, from offset _opos
        self._opos = 0
        self._open = False

    def has_pending(self) -> bool:
        return bool(self._in or self._out)

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if data:
            self._in = self._in + data if self._in else data
        if max_length == 0:
            return b""
        out: list[bytes] = []
        got = 0
        if self._out:
            start = self._opos
            end = len(self._out) if max_length < 0 else min(len(self._out), start + max_length)
            out.append(self._out[start:end])
            got = end - start
            if end == len(self._out):
                self._out = b""
                self._opos = 0
            else:
                self._opos = end
        step = len(self._in) if max_length < 0 else max(self._MIN_SLICE, max_length >> 15)
        pos = 0
        inp = self._in
        try:
            while pos < len(inp) and (max_length < 0 or got < max_length):
                obj = self._obj
                if getattr(obj, "eof", False):
                    obj = self._obj = _zstandard.ZstdDecompressor().decompressobj()
                piece_in = inp[pos : pos + step]
                chunk = obj.decompress(piece_in)
                pos += len(piece_in)
                if getattr(obj, "eof", False):
                    self._open = False
                    pos -= len(getattr(obj, "unused_data", b""))
                else:
                    self._open = True
                if not chunk:
                    continue
                if max_length >= 0 and got + len(chunk) > max_length:
                    keep = max_length - got
                    self._out = chunk
                    self._opos = keep
                    chunk = chunk[:keep]
                out.append(chunk)
                got += len(chunk)
        except _zstandard.ZstdError as e:
            self._in = self._out = b""
            self._opos = 0
            raise self._error(e) from e
        self._in = inp[pos:]
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)

    def flush(self, max_length: int = -1) -> bytes:
        out = self.decompress(b"", max_length)
        if not self.has_pending() and self._open:
            raise DecodeError("Zstandard data is incomplete")
        return out


class _ChainDecoder(ContentDecoder):
    """Several codings: ``stages`` in decoding order (the last coding applied
    comes first). Each stage is pulled for bounded pieces, so no stage ever
    holds more than about one piece of input or output."""

    __slots__ = ("_ended", "_stages")

    _PIECE = 65536

    def __init__(self, label: str, stages: list[ContentDecoder]) -> None:
        super().__init__(label)
        self._stages = stages
        self._ended = False

    def has_pending(self) -> bool:
        return any(s.has_pending() for s in self._stages)

    def _pull(self, i: int, max_length: int) -> bytes:
        stage = self._stages[i]
        ended = self._ended
        if i == 0:
            return stage.flush(max_length) if ended else stage.decompress(b"", max_length)
        if stage.has_pending():
            out = stage.decompress(b"", max_length)
            if out:
                return out
        piece = max(max_length, self._PIECE)
        while True:  # ends when the stage before runs dry
            feed = self._pull(i - 1, piece)
            if not feed:
                return stage.flush(max_length) if ended else b""
            out = stage.decompress(feed, max_length)
            if out:
                return out

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if data:
            self._stages[0].decompress(data, 0)
        if max_length == 0:
            return b""
        last = len(self._stages) - 1
        out: list[bytes] = []
        got = 0
        while max_length < 0 or got < max_length:
            piece = self._pull(last, self._PIECE if max_length < 0 else max_length - got)
            if not piece:
                break
            out.append(piece)
            got += len(piece)
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)

    def flush(self, max_length: int = -1) -> bytes:
        self._ended = True
        return self.decompress(b"", max_length)


def _single(coding: str, label: str) -> ContentDecoder:
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder(label, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _DeflateDecoder(label)
    if coding == "br":
        return _BrotliDecoder(label)
    if _zstd is not None:
        return _ZstdDecoder(label)
    return _ZstandardDecoder(label)


def get_decoder(content_encoding: str) -> ContentDecoder | None:
    """The decoder for a Content-Encoding value, or None when nothing is to be
    decoded (no coding, only ``identity``, or a coding not supported here).
    Raises DecodeError for more than :data:`MAX_DECODE_LINKS` codings."""
    label = content_encoding.lower()
    codings = [c.strip() for c in label.split(",")]
    codings = [c for c in codings if c]
    if not codings:
        return None
    known = [c for c in codings if c in SUPPORTED_ENCODINGS]
    if not known:
        return None
    if len(codings) > MAX_DECODE_LINKS:
        raise DecodeError(
            f"Too many content encodings in the chain: {len(codings)} > {MAX_DECODE_LINKS}"
        )
    codings = [c for c in codings if c != "identity"]
    if len(known) != len(codings):
        return None  # something we cannot decode: leave the body as it is
    if len(codings) == 1:
        return _single(codings[0], label)
    return _ChainDecoder(label, [_single(c, label) for c in reversed(codings)])
