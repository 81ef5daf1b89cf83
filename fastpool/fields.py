"""``fastpool.fields``: urllib3's multipart field helpers, re-exported."""

from __future__ import annotations

from urllib3.fields import (
    RequestField,
    format_header_param,
    format_header_param_html5,
    format_header_param_rfc2231,
    format_multipart_header_param,
    guess_content_type,
)

__all__ = [
    "RequestField",
    "format_header_param",
    "format_header_param_html5",
    "format_header_param_rfc2231",
    "format_multipart_header_param",
    "guess_content_type",
]
