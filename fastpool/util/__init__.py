"""``fastpool.util``: the helpers urllib3 user code imports from ``urllib3.util``."""

from __future__ import annotations

from urllib3.util import (
    ALPN_PROTOCOLS,
    IS_PYOPENSSL,
    SKIP_HEADER,
    SKIPPABLE_HEADERS,
    SSLContext,
    assert_fingerprint,
    create_urllib3_context,
    is_connection_dropped,
    is_fp_closed,
    resolve_cert_reqs,
    resolve_ssl_version,
    ssl_wrap_socket,
    wait_for_read,
    wait_for_write,
)

from .request import make_headers
from .retry import Retry
from .timeout import Timeout
from .url import Url, parse_url

__all__ = [
    "ALPN_PROTOCOLS",
    "IS_PYOPENSSL",
    "SKIPPABLE_HEADERS",
    "SKIP_HEADER",
    "Retry",
    "SSLContext",
    "Timeout",
    "Url",
    "assert_fingerprint",
    "create_urllib3_context",
    "is_connection_dropped",
    "is_fp_closed",
    "make_headers",
    "parse_url",
    "resolve_cert_reqs",
    "resolve_ssl_version",
    "ssl_wrap_socket",
    "wait_for_read",
    "wait_for_write",
]
