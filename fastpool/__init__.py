"""fastpool: a thread-safe HTTP/1.1 connection pool with a compiled core that
speaks the urllib3 2.x API.

This module only re-exports the public names; see the README for the tour.
"""

from __future__ import annotations

from ._collections import HTTPHeaderDict
from ._version import __version__
from .filepost import encode_multipart_formdata
from .util.request import make_headers
from .util.retry import Retry
from .util.timeout import Timeout

__all__ = [
    "HTTPHeaderDict",
    "Retry",
    "Timeout",
    "__version__",
    "encode_multipart_formdata",
    "make_headers",
]
