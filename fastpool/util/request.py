"""``fastpool.util.request``: urllib3's request helpers, re-exported."""

from __future__ import annotations

from urllib3.util.request import (
    ACCEPT_ENCODING,
    SKIP_HEADER,
    SKIPPABLE_HEADERS,
    body_to_chunks,
    make_headers,
    rewind_body,
    set_file_position,
)

__all__ = [
    "ACCEPT_ENCODING",
    "SKIPPABLE_HEADERS",
    "SKIP_HEADER",
    "body_to_chunks",
    "make_headers",
    "rewind_body",
    "set_file_position",
]
