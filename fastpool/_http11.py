"""Dispatcher for the HTTP/1.1 codec: the compiled twin unless
``FASTPOOL_NO_EXTENSIONS`` is set or it cannot be imported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._compat import NO_EXTENSIONS

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._http11_py import (
        DEFAULT_MAX_CHUNK_LINE,
        DEFAULT_MAX_HEAD_SIZE,
        DEFAULT_MAX_HEADERS,
        DEFAULT_MAX_INTERIM,
        DEFAULT_MAX_TRAILER_SIZE,
        FRAMING_CHUNKED,
        FRAMING_CLOSE,
        FRAMING_LENGTH,
        FRAMING_NONE,
        LAST_CHUNK,
        HeaderBlock,
        ResponseHead,
        ResponseParser,
        Wire,
        encode_chunk,
        encode_request_head,
    )
else:
    try:
        from ._http11_c import (
            DEFAULT_MAX_CHUNK_LINE,
            DEFAULT_MAX_HEAD_SIZE,
            DEFAULT_MAX_HEADERS,
            DEFAULT_MAX_INTERIM,
            DEFAULT_MAX_TRAILER_SIZE,
            FRAMING_CHUNKED,
            FRAMING_CLOSE,
            FRAMING_LENGTH,
            FRAMING_NONE,
            LAST_CHUNK,
            HeaderBlock,
            ResponseHead,
            ResponseParser,
            Wire,
            encode_chunk,
            encode_request_head,
        )
    except ImportError:  # no wheel fits and no compiler was available
        from ._http11_py import (
            DEFAULT_MAX_CHUNK_LINE,
            DEFAULT_MAX_HEAD_SIZE,
            DEFAULT_MAX_HEADERS,
            DEFAULT_MAX_INTERIM,
            DEFAULT_MAX_TRAILER_SIZE,
            FRAMING_CHUNKED,
            FRAMING_CLOSE,
            FRAMING_LENGTH,
            FRAMING_NONE,
            LAST_CHUNK,
            HeaderBlock,
            ResponseHead,
            ResponseParser,
            Wire,
            encode_chunk,
            encode_request_head,
        )

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
