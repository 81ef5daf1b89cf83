"""Every public import path of urllib3 2.x user code exists under fastpool."""

from __future__ import annotations

import importlib

import pytest
import urllib3
import urllib3.exceptions

import fastpool
import fastpool.exceptions

TOP_LEVEL = [
    "HTTPConnectionPool",
    "HTTPSConnectionPool",
    "PoolManager",
    "ProxyManager",
    "HTTPResponse",
    "BaseHTTPResponse",
    "HTTPHeaderDict",
    "Retry",
    "Timeout",
    "request",
    "connection_from_url",
    "proxy_from_url",
    "encode_multipart_formdata",
    "make_headers",
    "disable_warnings",
    "add_stderr_logger",
    "__version__",
]

MODULES = {
    "exceptions": ["MaxRetryError", "ProtocolError", "NewConnectionError"],
    "util": ["Retry", "Timeout", "parse_url", "make_headers", "SKIP_HEADER", "Url"],
    "util.retry": ["Retry"],
    "util.timeout": ["Timeout"],
    "util.url": ["parse_url", "Url"],
    "util.request": ["make_headers", "SKIP_HEADER"],
    "connectionpool": ["HTTPConnectionPool", "HTTPSConnectionPool", "connection_from_url"],
    "poolmanager": ["PoolManager", "ProxyManager", "proxy_from_url"],
    "response": ["HTTPResponse", "BaseHTTPResponse"],
    "fields": ["RequestField"],
    "filepost": ["encode_multipart_formdata"],
    "connection": ["HTTPConnection", "HTTPSConnection"],
}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level(name: str) -> None:
    assert getattr(fastpool, name) is not None
    assert name in fastpool.__all__ or name == "__version__"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_paths(module: str) -> None:
    mod = importlib.import_module(f"fastpool.{module}")
    for name in MODULES[module]:
        assert hasattr(mod, name), f"fastpool.{module}.{name}"


def test_exceptions_are_urllib3s() -> None:
    for name in urllib3.exceptions.__dict__:
        obj = getattr(urllib3.exceptions, name)
        if (
            isinstance(obj, type)
            and issubclass(obj, BaseException)
            and obj.__module__ == ("urllib3.exceptions")
        ):
            assert getattr(fastpool.exceptions, name) is obj, name


def test_vocabulary_is_shared() -> None:
    assert fastpool.Retry is urllib3.Retry
    assert fastpool.Timeout is urllib3.Timeout
    assert fastpool.HTTPHeaderDict is urllib3.HTTPHeaderDict
    assert issubclass(fastpool.HTTPResponse, urllib3.BaseHTTPResponse)
    from fastpool.connection import HTTPConnection

    assert isinstance(HTTPConnection.default_socket_options, list)


def test_helpers() -> None:
    import logging
    import warnings

    handler = fastpool.add_stderr_logger()
    try:
        assert handler in logging.getLogger("fastpool").handlers
    finally:
        logging.getLogger("fastpool").removeHandler(handler)
        logging.getLogger("fastpool").setLevel(logging.NOTSET)
    with warnings.catch_warnings():
        fastpool.disable_warnings()
        warnings.warn("x", urllib3.exceptions.InsecureRequestWarning, stacklevel=1)
