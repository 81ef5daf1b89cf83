"""fastpool: a thread-safe HTTP/1.1 connection pool with a compiled core that
speaks the urllib3 2.x API.

This module re-exports the public names (the ones urllib3 user code imports
from ``urllib3``); see the README for the tour.
"""

from __future__ import annotations

import logging
import warnings

from . import exceptions
from ._collections import HTTPHeaderDict
from ._version import __version__
from .connectionpool import HTTPConnectionPool, HTTPSConnectionPool, connection_from_url
from .filepost import encode_multipart_formdata
from .poolmanager import PoolManager, ProxyManager, proxy_from_url, request
from .response import BaseHTTPResponse, HTTPResponse
from .util.request import make_headers
from .util.retry import Retry
from .util.timeout import Timeout

__all__ = [
    "BaseHTTPResponse",
    "HTTPConnectionPool",
    "HTTPHeaderDict",
    "HTTPResponse",
    "HTTPSConnectionPool",
    "PoolManager",
    "ProxyManager",
    "Retry",
    "Timeout",
    "__version__",
    "add_stderr_logger",
    "connection_from_url",
    "disable_warnings",
    "encode_multipart_formdata",
    "make_headers",
    "proxy_from_url",
    "request",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def add_stderr_logger(level: int = logging.DEBUG) -> logging.StreamHandler:  # type: ignore[type-arg]
    """Send fastpool's log records (logger ``fastpool``) to stderr; returns the handler."""
    logger = logging.getLogger(__name__)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.debug("Added a stderr logging handler to logger: %s", __name__)
    return handler


def disable_warnings(category: type[Warning] = exceptions.HTTPWarning) -> None:
    """Silence fastpool's (that is, urllib3's) warnings of ``category``."""
    warnings.simplefilter("ignore", category)
