"""``HTTPConnectionPool`` / ``HTTPSConnectionPool``: urllib3's pool API on
fastpool's free list and HTTP/1.1 exchange.

One request: ``urlopen`` checks a connection out of the free list (or is told
to open one), sends the request head (the pool's default header fields are
serialized once and reused) and body, waits for the response head (on the
compiled path without the GIL), hands the head to ``HTTPResponse._from_wire``,
and the response gives the connection back through the pool's release
callback when its body is complete. Retries, redirects and timeouts follow
urllib3 2.x, driving the caller's ``Retry`` / ``Timeout`` objects through their
public methods; on success no ``Retry`` or ``Timeout`` object is created.
"""

from __future__ import annotations

import errno
import http.client
import itertools
import logging
import re
import ssl
import sys
import time
import typing
import warnings
from collections.abc import Mapping
from types import TracebackType

from urllib3._collections import HTTPHeaderDict
from urllib3.exceptions import (
    ClosedPoolError,
    EmptyPoolError,
    HostChangedError,
    InsecureRequestWarning,
    LocationValueError,
    MaxRetryError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as U3TimeoutError
from urllib3.util.request import SKIP_HEADER, SKIPPABLE_HEADERS, set_file_position
from urllib3.util.retry import Retry
from urllib3.util.ssl_match_hostname import CertificateError
from urllib3.util.timeout import _DEFAULT_TIMEOUT, _TYPE_DEFAULT, Timeout
from urllib3.util.url import Url, _encode_target, parse_url
from urllib3.util.url import _normalize_host as _url_normalize_host

from . import _http11
from ._freelist import FreeList
from ._proxy import connection_requires_http_tunnel, wrap_proxy_error
from ._request_methods import RequestMethods
from ._tls import TLSClient
from ._version import __version__
from .connection import HTTPConnection, HTTPSConnection, port_by_scheme
from .response import BaseHTTPResponse, HTTPResponse

if typing.TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "ConnectionPool",
    "HTTPConnectionPool",
    "HTTPSConnectionPool",
    "connection_from_url",
    "port_by_scheme",
]

log = logging.getLogger(__name__)

_TYPE_TIMEOUT: typing.TypeAlias = "Timeout | float | _TYPE_DEFAULT | None"

#: The ``User-Agent`` sent unless the caller gives one (or SKIP_HEADER).
DEFAULT_USER_AGENT = f"python-fastpool/{__version__}"

_METHODS_NOT_EXPECTING_BODY = frozenset({"GET", "HEAD", "DELETE", "TRACE", "OPTIONS", "CONNECT"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# RFC 9110 section 9.2.2: a client may resend these after a connection failure.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
_CONTENT_SPECIFIC_HEADERS = (
    "Content-Encoding",
    "Content-Language",
    "Content-Location",
    "Content-Type",
    "Content-Length",
    "Digest",
    "Last-Modified",
)
# An origin-form target that urllib3's percent-encoding would leave unchanged:
# path and query characters it allows, and %XX escapes already in upper case.
_plain_target = re.compile(
    r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*"
    r"(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-F]{2})*)?"
).fullmatch
_BLOCKING_ERRNOS = {errno.EAGAIN, errno.EWOULDBLOCK}
# A reused connection failed like this before any response byte: the server
# closed it while we were sending (it was idle-closed between our check and the
# send). Idempotent requests are then sent again on a new connection.
_STALE_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
_MAX_STALE_REPLAYS = 3
_BLOCK_CACHE_MAX = 256
# (method, target, header block, Host, Content-Length) -> serialized request head
_HEAD_CACHE_MAX = 256
# origin-form url -> encoded target (urllib3's _encode_target is costly)
_target_cache: dict[str, str] = {}
_TARGET_CACHE_MAX = 4096

_monotonic = time.monotonic
_encode_request_head = _http11.encode_request_head
_HeaderBlock = _http11.HeaderBlock
_from_wire = HTTPResponse._from_wire
_DEBUG = logging.DEBUG
# The logger's own cache of isEnabledFor() answers (cleared by setLevel,
# logging.disable, ...): a cached False skips the call; anything else asks
# isEnabledFor(), so the answer is always the logger's.
_log_cache: dict[int, bool] = (
    _cache if isinstance(_cache := getattr(log, "_cache", None), dict) else {}
)


def _normalize_host(host: str, scheme: str | None) -> str:
    host = _url_normalize_host(host, scheme)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def _count_value(counter: itertools.count[int]) -> int:
    # itertools.count is advanced atomically by next(); its repr is the value.
    return int(repr(counter)[6:-1])


def _build_header_block(headers: Mapping[typing.Any, typing.Any]) -> tuple[typing.Any, bool, bool]:
    """Serialize ``headers`` plus fastpool's defaults (``Accept-Encoding:
    identity`` and ``User-Agent``, as urllib3 sends them unless given) into a
    ``HeaderBlock``. SKIP_HEADER drops Host, Accept-Encoding or User-Agent.
    Returns ``(block, send_host, te_framed)``: ``te_framed`` when the caller
    set Transfer-Encoding without Content-Length, so the body must be sent
    chunked (as urllib3 does), never raw."""
    names: set[str] = set()
    pairs: list[tuple[typing.Any, typing.Any]] = []
    for name, value in headers.items():
        lname = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
        if isinstance(value, str) and value == SKIP_HEADER:
            if lname not in SKIPPABLE_HEADERS:
                skippable = "', '".join(sorted(h.title() for h in SKIPPABLE_HEADERS))
                raise ValueError(f"urllib3.util.SKIP_HEADER only supports '{skippable}'")
            names.add(lname)
            continue
        names.add(lname)
        pairs.append((name, value))
    defaults: list[tuple[typing.Any, typing.Any]] = []
    if "accept-encoding" not in names:
        defaults.append(("Accept-Encoding", "identity"))
    if "user-agent" not in names:
        defaults.append(("User-Agent", DEFAULT_USER_AGENT))
    te_framed = "transfer-encoding" in names and "content-length" not in names
    return _HeaderBlock(defaults + pairs), "host" not in names, te_framed


_DEFAULT_BLOCK = _build_header_block({})


def _prepare_for_method_change(headers: Mapping[str, str]) -> HTTPHeaderDict:
    new = HTTPHeaderDict(headers)
    for name in _CONTENT_SPECIFIC_HEADERS:
        new.discard(name)
    return new


def _strip_headers(headers: Mapping[str, str], remove: typing.Collection[str]) -> Mapping[str, str]:
    new = HTTPHeaderDict(headers)
    for name in list(headers):
        if name.lower() in remove:
            new.discard(name)
    return new


class ConnectionPool:
    """Base class of the pools: host, port, context manager, ``close``."""

    scheme: str | None = None

    def __init__(self, host: str, port: int | None = None) -> None:
        if not host:
            raise LocationValueError("No host specified.")
        self.host = _normalize_host(host, scheme=self.scheme)
        self.port = port
        self._tunnel_host = _url_normalize_host(host, scheme=self.scheme).lower()

    def __str__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r}, port={self.port!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> typing.Literal[False]:
        self.close()
        return False

    def close(self) -> None:
        """Close all pooled connections and disable the pool."""


class HTTPConnectionPool(ConnectionPool, RequestMethods):
    """Thread-safe pool of keep-alive connections to one host (urllib3's API).

    :param maxsize: connections kept for reuse; with ``block=True`` also the
        most that are ever open at once (callers wait up to ``pool_timeout``).
    :param headers: default request headers (replaced, not merged, by a
        request's own ``headers``).
    :param retries: default ``Retry`` (or int / False) for requests.
    :param idle_timeout: beyond urllib3: close a connection that has been idle
        longer than this many seconds instead of reusing it.
    :param max_lifetime: beyond urllib3: close connections older than this.
    :param max_requests_per_connection: beyond urllib3: close a connection
        after it has served this many requests.
    :param conn_kw: urllib3's connection keywords (``socket_options``,
        ``source_address``, ``blocksize``) for new connections.
    """

    scheme = "http"
    ConnectionCls: type[HTTPConnection] = HTTPConnection

    def __init__(
        self,
        host: str,
        port: int | None = None,
        timeout: _TYPE_TIMEOUT | None = _DEFAULT_TIMEOUT,
        maxsize: int = 1,
        block: bool = False,
        headers: Mapping[str, str] | None = None,
        retries: Retry | bool | int | None = None,
        _proxy: Url | None = None,
        _proxy_headers: Mapping[str, str] | None = None,
        _proxy_config: typing.Any = None,
        *,
        idle_timeout: float | None = None,
        max_lifetime: float | None = None,
        max_requests_per_connection: int | None = None,
        **conn_kw: typing.Any,
    ) -> None:
        ConnectionPool.__init__(self, host, port)
        RequestMethods.__init__(self, headers)
        self.timeout = timeout  # property: always stored as a Timeout
        self.retries = retries
        self.block = block
        self.maxsize = maxsize
        self.proxy = _proxy
        self.proxy_headers = _proxy_headers or {}
        self.proxy_config = _proxy_config
        self.conn_kw = conn_kw
        if self.proxy:
            # Nagle stays on for proxies, as in urllib3.
            self.conn_kw.setdefault("socket_options", [])
            self.conn_kw["proxy"] = self.proxy
            self.conn_kw["proxy_config"] = self.proxy_config
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.max_requests_per_connection = max_requests_per_connection
        self._freelist = FreeList(maxsize, block, self)
        self.pool: FreeList | None = self._freelist
        self._request_counter = itertools.count()
        self._conn_counter = itertools.count(1)
        self._dropped = 0
        self._expired = 0
        self._replayed = 0
        self._block_cache: dict[tuple[typing.Any, ...], tuple[typing.Any, bool, bool]] = {}
        self._head_cache: dict[tuple[typing.Any, ...], bytes] = {}
        default_port = port_by_scheme.get(self.scheme or "http", 80)
        host_value = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None and self.port != default_port:
            host_value = f"{host_value}:{self.port}"
        self._host_header = host_value
        self._is_https = False
        self._forward_proxy_headers = bool(self.proxy) and bool(self.proxy_headers)
        # [retired]: shared with the release callback (which holds no pool reference)
        self._retired = [False]
        self._release = _make_release(
            self._freelist, self.host, max_requests_per_connection, self._retired
        )

    # -- configuration kept pre-digested for the hot path ---------------------

    @property
    def timeout(self) -> Timeout:
        return self._timeout

    @timeout.setter
    def timeout(self, value: _TYPE_TIMEOUT | None) -> None:
        if not isinstance(value, Timeout):
            value = Timeout.from_float(value)
        self._timeout = value
        # (connect, read) when they do not depend on a running clock.
        self._timeout_pair = (
            (value.connect_timeout, value.read_timeout) if value.total is None else None
        )

    @property
    def retries(self) -> Retry | bool | int | None:
        return self._retries

    @retries.setter
    def retries(self, value: Retry | bool | int | None) -> None:
        if value is None:
            value = Retry.DEFAULT
        self._retries = value
        self._default_retry = value if isinstance(value, Retry) else Retry.from_int(value)

    @property
    def num_requests(self) -> int:
        """Requests sent by this pool (each attempt counts)."""
        return _count_value(self._request_counter)

    @property
    def num_connections(self) -> int:
        """Connections this pool has opened."""
        return _count_value(self._conn_counter) - 1

    @property
    def closed(self) -> bool:
        """Closed, or retired by a PoolManager (still usable by requests that
        already hold it, but no longer keeping connections)."""
        return self._retired[0] or bool(self._freelist.closed)

    def _retire(self) -> None:
        """A PoolManager dropped this pool (LRU eviction, ``clear()``). Unlike
        :meth:`close`, callers that already hold the pool (waiting for a
        connection, or about to ask for one) still get served: their
        connections are closed when released instead of kept. Idle
        connections are closed now."""
        self._retired[0] = True
        self.pool = None
        _drain_idle(self._freelist)

    def stats(self) -> dict[str, typing.Any]:
        """One snapshot of the pool.

        The free list's counters (see docs/internals.md): ``maxsize``,
        ``open`` (= ``idle`` + ``in_use``), ``idle``, ``in_use``, ``waiting``
        (threads blocked in checkout), ``created`` (slots granted for a new
        connection), ``reused``, ``discarded``, ``refused`` (idle stack full,
        ``block=False``), ``timeouts`` (``EmptyPoolError``), ``waits``,
        ``wait_time_total``, ``wait_time_max`` (seconds); plus the pool's own:
        ``requests`` (requests sent, retries included), ``connections_opened``
        (= ``created`` + ``dropped`` + ``expired``), ``dropped`` (idle
        connections found closed by the peer and replaced), ``expired``
        (replaced for ``idle_timeout`` / ``max_lifetime``), ``replayed``
        (requests resent after a reused connection failed before any
        response byte, without spending the Retry budget).
        """
        s: dict[str, typing.Any] = dict(self._freelist.stats())
        s["requests"] = self.num_requests
        s["connections_opened"] = self.num_connections
        s["dropped"] = self._dropped
        s["expired"] = self._expired
        s["replayed"] = self._replayed
        return s

    # -- connections ---------------------------------------------------------

    def _new_conn(self, connect_timeout: typing.Any = _DEFAULT_TIMEOUT) -> HTTPConnection:
        """A new, unconnected connection object."""
        n = next(self._conn_counter)
        log.debug("Starting new HTTP connection (%d): %s:%s", n, self.host, self.port or "80")
        if connect_timeout is _DEFAULT_TIMEOUT:
            connect_timeout = self._timeout.connect_timeout
        return self.ConnectionCls(
            host=self.host, port=self.port, timeout=connect_timeout, **self.conn_kw
        )

    def _expired_conn(self, conn: HTTPConnection) -> bool:
        now = _monotonic()
        if self.idle_timeout is not None and now - conn.last_used > self.idle_timeout:
            return True
        return self.max_lifetime is not None and now - conn.connected_at > self.max_lifetime

    def _validate_conn(self, conn: HTTPConnection) -> None:
        """Called before each request on a connected connection."""

    def close(self) -> None:
        """Close the idle connections and refuse new checkouts. Connections in
        use are closed when their responses release them."""
        self.pool = None
        for conn in self._freelist.close():
            conn.close()

    def __del__(self) -> None:
        try:
            freelist = self._freelist
        except AttributeError:
            return
        try:
            for conn in freelist.close():
                conn.close()
        except Exception:
            pass

    def is_same_host(self, url: str) -> bool:
        """Whether ``url`` (relative, or absolute) points at this pool's origin."""
        if url.startswith("/"):
            return True
        scheme, _, host, port, *_ = parse_url(url)
        scheme = scheme or "http"
        if host is not None:
            host = _normalize_host(host, scheme=scheme)
        if self.port and not port:
            port = port_by_scheme.get(scheme)
        elif not self.port and port == port_by_scheme.get(scheme):
            port = None
        return (scheme, host, port) == (self.scheme, self.host, self.port)

    def _header_block(
        self, headers: Mapping[typing.Any, typing.Any]
    ) -> tuple[typing.Any, bool, bool]:
        cache = self._block_cache
        try:
            key = tuple(headers.items())
            hit = cache.get(key)
        except TypeError:  # unhashable values: no caching
            return _build_header_block(headers)
        if hit is None:
            hit = _build_header_block(headers)
            if len(cache) >= _BLOCK_CACHE_MAX:
                cache.clear()
            cache[key] = hit
        return hit

    # -- the request -----------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        body: typing.Any = None,
        fields: typing.Any = None,
        headers: Mapping[str, str] | None = None,
        json: typing.Any = None,
        **urlopen_kw: typing.Any,
    ) -> BaseHTTPResponse:
        """:meth:`RequestMethods.request`; without ``fields``, ``json`` or
        other keywords it calls ``urlopen`` directly (same call, fewer steps)."""
        if fields is None and json is None and not urlopen_kw:
            if headers is None:
                headers = self.headers
            if body is None:
                return self.urlopen(method.upper(), url, headers=headers)
            return self.urlopen(method.upper(), url, body=body, headers=headers)
        return RequestMethods.request(self, method, url, body, fields, headers, json, **urlopen_kw)

    def urlopen(  # type: ignore[override]
        self,
        method: str,
        url: str,
        body: typing.Any = None,
        headers: Mapping[str, str] | None = None,
        retries: Retry | bool | int | None = None,
        redirect: bool = True,
        assert_same_host: bool = True,
        timeout: _TYPE_TIMEOUT = _DEFAULT_TIMEOUT,
        pool_timeout: float | None = None,
        release_conn: bool | None = None,
        chunked: bool = False,
        body_pos: typing.Any = None,
        preload_content: bool = True,
        decode_content: bool = True,
        **response_kw: typing.Any,
    ) -> BaseHTTPResponse:
        """Send one request and return the response (urllib3's semantics).

        Connection errors, read errors (for the Retry's allowed methods) and
        statuses in ``status_forcelist`` / with ``Retry-After`` are retried as
        the Retry says; same-host redirects are followed; the final response
        carries ``retries`` with the history. ``release_conn`` is accepted for
        compatibility: a response always keeps its connection until its body
        is complete (or it is closed / drained), then returns it to the pool.
        """
        if headers is None:
            headers = self.headers
        if self._forward_proxy_headers:
            # forwarded through a proxy: its headers go with every request
            # (a tunnel sends them on the CONNECT only)
            headers = HTTPHeaderDict(headers)
            headers.update(self.proxy_headers)
        if retries is None and (redirect or self._retries is self._default_retry):
            retries = self._default_retry  # what Retry.from_int would return
        elif not isinstance(retries, Retry):
            retries = Retry.from_int(retries, redirect=redirect, default=self._retries)
        enforce_content_length = True
        if response_kw:
            enforce_content_length = response_kw.pop("enforce_content_length", True)
            if response_kw:
                raise TypeError(f"urlopen() got unexpected keyword arguments {sorted(response_kw)}")

        stale_replays = 0
        first = True
        host_header: str | None
        read_timeout: typing.Any
        connect_timeout: typing.Any
        response: BaseHTTPResponse
        freelist = self._freelist
        head_cache = self._head_cache
        while True:
            # ---- target ----------------------------------------------------
            target = _target_cache.get(url)  # only origin-form urls are cached
            if target is not None:
                host_header = self._host_header
            elif url.startswith("/"):
                target = url if _plain_target(url) is not None else _encode_target(url)
                if len(_target_cache) >= _TARGET_CACHE_MAX:
                    _target_cache.clear()
                _target_cache[url] = target
                host_header = self._host_header
            else:
                parsed = parse_url(url)
                target = parsed.url
                host_header = self._absolute_host_header(parsed)
            if assert_same_host and target[0] != "/" and not self.is_same_host(target):
                raise HostChangedError(self, target, retries)  # type: ignore[arg-type]
            if headers:
                block, send_host, te_framed = self._header_block(headers)
            else:
                block, send_host, te_framed = _DEFAULT_BLOCK
            if not send_host:
                host_header = None
            if body is not None and not isinstance(body, (bytes, str)):
                if first:
                    body_pos = set_file_position(body, body_pos)
                elif body_pos is not None:
                    set_file_position(body, body_pos)
            first = False

            # ---- timeouts (no Timeout object made unless total is set) -----
            if timeout is _DEFAULT_TIMEOUT and self._timeout_pair is not None:
                connect_timeout, read_timeout = self._timeout_pair
                timeout_obj = None
            elif not isinstance(timeout, Timeout) and timeout is not _DEFAULT_TIMEOUT:
                connect_timeout = read_timeout = timeout  # a float or None
                timeout_obj = None
            else:
                t = self._timeout if timeout is _DEFAULT_TIMEOUT else timeout
                if t.total is None:
                    connect_timeout, read_timeout = t.connect_timeout, t.read_timeout
                    timeout_obj = None
                else:
                    timeout_obj = t.clone()
                    timeout_obj.start_connect()
                    connect_timeout = timeout_obj.connect_timeout
                    read_timeout = None

            # ---- connection ------------------------------------------------
            conn = freelist.checkout(pool_timeout)  # EmptyPoolError / ClosedPoolError
            fresh = conn is None
            if not fresh:
                if (
                    self.idle_timeout is not None or self.max_lifetime is not None
                ) and self._expired_conn(conn):
                    log.debug("Closing expired connection: %s", self.host)
                    self._expired += 1
                    conn.close()
                    fresh = True
                elif conn._wire_dropped() if conn._wire_dropped is not None else conn.is_dropped():
                    log.debug("Resetting dropped connection: %s", self.host)
                    self._dropped += 1
                    conn.close()
                    fresh = True
            if fresh:
                if connect_timeout is _DEFAULT_TIMEOUT:
                    connect_timeout = Timeout.resolve_default_timeout(connect_timeout)
                try:
                    conn = self._new_conn(connect_timeout)
                except BaseException:
                    freelist.discard()
                    raise
            conn._out = True
            reused = conn.requests > 0
            next(self._request_counter)
            is_head = method == "HEAD"
            head = None

            try:
                try:
                    if fresh:
                        conn.timeout = connect_timeout
                        conn.connect()
                    if self._is_https:
                        self._validate_conn(conn)
                    if timeout_obj is not None:
                        read_timeout = timeout_obj.read_timeout
                        if read_timeout is _DEFAULT_TIMEOUT:
                            read_timeout = Timeout.resolve_default_timeout(read_timeout)
                    elif read_timeout is _DEFAULT_TIMEOUT:
                        read_timeout = Timeout.resolve_default_timeout(read_timeout)
                    if read_timeout == 0:
                        raise self._read_timeout_error(url, read_timeout)
                    conn.requests += 1
                    wire = conn.wire
                    if (body is None or type(body) is bytes) and not (chunked or te_framed):
                        if body is None:
                            cl = None if method in _METHODS_NOT_EXPECTING_BODY else 0
                        else:
                            cl = len(body)
                        key = (method, target, block, host_header, cl)
                        request_head = head_cache.get(key)
                        if request_head is None:
                            request_head = _encode_request_head(
                                method, target, block, host=host_header, content_length=cl
                            )
                            if len(head_cache) >= _HEAD_CACHE_MAX:
                                head_cache.clear()
                            head_cache[key] = request_head
                        try:
                            head = wire.request(request_head, body, read_timeout, is_head)
                        except (BrokenPipeError, ConnectionResetError):
                            # The server may have answered early (e.g. 413)
                            # and closed: read what it said, as urllib3 does.
                            head = wire.read_head(read_timeout, is_head)
                    else:
                        head = self._send_body(
                            conn,
                            method,
                            target,
                            block,
                            host_header,
                            body,
                            chunked,
                            read_timeout,
                            is_head,
                        )
                except OSError as e:
                    # The builtin TimeoutError (a socket wait ran out) is a
                    # read timeout; connect errors arrive already wrapped.
                    if isinstance(e, ssl.SSLError):
                        raise SSLError(e) from e
                    if isinstance(e, TimeoutError) or e.errno in _BLOCKING_ERRNOS:
                        raise self._read_timeout_error(url, read_timeout) from e
                    raise
                except CertificateError as e:
                    raise SSLError(e) from e
                if fresh and self._is_https:
                    conn.tls_first_response()

                if _log_cache.get(_DEBUG) is not False and log.isEnabledFor(_DEBUG):
                    log.debug(
                        '%s://%s:%s "%s %s %s" %s %s',
                        self.scheme,
                        self.host,
                        self.port,
                        method,
                        target,
                        "HTTP/1.1" if head.version == 11 else "HTTP/1.0",
                        head.status,
                        head.content_length,
                    )
                response = _from_wire(  # by position: cheaper than keywords
                    head,
                    conn,
                    wire,
                    self._release,
                    self,
                    method,
                    target,
                    retries,
                    preload_content,
                    decode_content,
                    enforce_content_length,
                    read_timeout,
                )
            except (
                U3TimeoutError,
                http.client.HTTPException,
                OSError,
                ProtocolError,
                SSLError,
                ProxyError,
            ) as e:
                # before close(): urllib3's ProxyError cases. The connection to
                # the proxy (TCP, TLS to it) failed or the proxy refused the
                # tunnel; or the peer closed or reset the connection before a
                # response head, on which http.client closes it and urllib3
                # then counts it as not connected to the proxy.
                proxy_failed = conn.proxy is not None and (
                    not conn.has_connected_to_proxy
                    or (head is None and conn.wire is not None and isinstance(e, ConnectionError))
                )
                if conn._out:
                    conn._out = False
                    conn.close()
                    freelist.discard()
                if (
                    reused
                    and head is None
                    and isinstance(e, _STALE_ERRORS)
                    and stale_replays < _MAX_STALE_REPLAYS
                    and method in _IDEMPOTENT_METHODS
                    and (body is None or isinstance(body, (bytes, str)) or body_pos is not None)
                ):
                    stale_replays += 1
                    self._replayed += 1
                    log.debug("Resetting dropped connection: %s", self.host)
                    continue
                new_e: Exception = e
                if proxy_failed and not isinstance(e, ProxyError):
                    new_e = wrap_proxy_error(e, conn.proxy.scheme)
                elif isinstance(e, (OSError, http.client.HTTPException)) and not isinstance(
                    e, (U3TimeoutError, ProtocolError, SSLError)
                ):
                    new_e = ProtocolError("Connection aborted.", e)
                retries = retries.increment(
                    method,
                    url,
                    error=new_e,
                    _pool=self,  # type: ignore[arg-type]
                    _stacktrace=sys.exc_info()[2],
                )
                retries.sleep()
                log.warning("Retrying (%r) after connection broken by '%r': %s", retries, e, url)
                continue
            except BaseException:
                if conn._out:
                    conn._out = False
                    conn.close()
                    freelist.discard()
                raise

            # ---- redirects -------------------------------------------------
            status = response.status
            if redirect and status in _REDIRECT_STATUSES:
                redirect_location = response.get_redirect_location()
                if redirect_location:
                    if status == 303:
                        method = "GET"
                        body = None
                        headers = _prepare_for_method_change(headers)
                    if retries.remove_headers_on_redirect and not self.is_same_host(
                        redirect_location
                    ):
                        headers = _strip_headers(headers, retries.remove_headers_on_redirect)
                    try:
                        retries = retries.increment(method, url, response=response, _pool=self)  # type: ignore[arg-type]
                    except MaxRetryError:
                        if retries.raise_on_redirect:
                            response.drain_conn()
                            raise
                        return response
                    response.drain_conn()
                    retries.sleep_for_retry(response)
                    log.debug("Redirecting %s -> %s", url, redirect_location)
                    url = redirect_location
                    continue

            # ---- status retries --------------------------------------------
            if (
                type(retries) is not Retry
                or (retries.status_forcelist and status in retries.status_forcelist)
                or status in Retry.RETRY_AFTER_STATUS_CODES
            ):
                has_retry_after = bool(response.headers.get("Retry-After"))
                if retries.is_retry(method, status, has_retry_after):
                    try:
                        retries = retries.increment(method, url, response=response, _pool=self)  # type: ignore[arg-type]
                    except MaxRetryError:
                        if retries.raise_on_status:
                            response.drain_conn()
                            raise
                        return response
                    response.drain_conn()
                    retries.sleep(response)
                    log.debug("Retry: %s", url)
                    continue
            return response

    def _read_timeout_error(self, url: str, value: object) -> ReadTimeoutError:
        return ReadTimeoutError(self, url, f"Read timed out. (read timeout={value})")  # type: ignore[arg-type]

    def _absolute_host_header(self, parsed: Url) -> str | None:
        host = parsed.host
        if not host:
            return self._host_header
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{parsed.port}" if parsed.port else host

    def _send_body(
        self,
        conn: HTTPConnection,
        method: str,
        target: str,
        block: typing.Any,
        host_header: str | None,
        body: typing.Any,
        chunked: bool,
        read_timeout: float | None,
        is_head: bool,
    ) -> typing.Any:
        """Send a request whose body is not plain bytes (str, buffer, file,
        iterable, or ``chunked=True``), then read the response head."""
        names = block.names
        chunks: typing.Iterable[typing.Any] | None
        content_length: int | None
        if body is None:
            chunks = None
            content_length = None if method in _METHODS_NOT_EXPECTING_BODY else 0
        elif isinstance(body, (str, bytes)):
            data = body.encode("utf-8") if isinstance(body, str) else body
            chunks = (data,)
            content_length = len(data)
        elif hasattr(body, "read"):
            chunks = _read_blocks(body, conn.blocksize)
            content_length = None
        else:
            try:
                mv = memoryview(body)
            except TypeError:
                try:
                    chunks = iter(body)
                except TypeError:
                    raise TypeError(
                        "'body' must be a bytes-like object, file-like object, or "
                        f"iterable. Instead was {body!r}"
                    ) from None
                content_length = None
            else:
                chunks = (mv,)
                content_length = mv.nbytes
        if not chunked:
            if "content-length" in names:
                pass
            elif "transfer-encoding" in names or (content_length is None and chunks is not None):
                chunked = True
        head = _encode_request_head(
            method,
            target,
            block,
            host=host_header,
            content_length=None if chunked else content_length,
            chunked=chunked,
        )
        wire = conn.wire
        try:
            if not chunked and chunks is not None and content_length is not None:
                # A single known-length body: let the exchange send it with the head.
                payload = b"".join(bytes(c) for c in chunks)
                return wire.request(head, payload, read_timeout, is_head)
            wire.sendall(head, read_timeout)
            if chunks is not None:
                for chunk in chunks:
                    if not chunk:
                        continue
                    if isinstance(chunk, str):
                        chunk = chunk.encode("utf-8")
                    elif not isinstance(chunk, bytes):
                        chunk = bytes(chunk)
                    wire.sendall(_http11.encode_chunk(chunk) if chunked else chunk, read_timeout)
            if chunked:
                wire.sendall(_http11.LAST_CHUNK, read_timeout)
        except (BrokenPipeError, ConnectionResetError):
            # The server may have answered early (e.g. 413) and closed: read
            # what it said, as urllib3 does.
            pass
        return wire.read_head(read_timeout, is_head)


def _read_blocks(body: typing.Any, blocksize: int) -> typing.Iterator[bytes]:
    import io

    encode = isinstance(body, io.TextIOBase)
    while True:
        block = body.read(blocksize)
        if not block:
            return
        yield block.encode("utf-8") if encode else block


def _drain_idle(freelist: FreeList) -> None:
    """Close the idle connections of a retired pool (bounded by maxsize)."""
    for _ in range(freelist.maxsize):
        try:
            conn = freelist.checkout(0)
        except (EmptyPoolError, ClosedPoolError):
            return
        if conn is not None:
            conn.close()
        freelist.discard()
        if conn is None:
            return


def _make_release(
    freelist: FreeList, host: str, max_requests: int | None, retired: list[bool]
) -> typing.Callable[[HTTPConnection, bool], None]:
    """The callback a response calls exactly once to give its connection back.
    Holds no reference to the pool (so pools are freed without the GC)."""
    monotonic = _monotonic
    checkin = freelist.checkin
    discard = freelist.discard
    warn = log.warning

    def release(conn: HTTPConnection, reusable: bool) -> None:
        if not conn._out:
            return  # already released
        conn._out = False
        if reusable and not retired[0] and (not max_requests or conn.requests < max_requests):
            conn.last_used = monotonic()
            if checkin(conn):
                if True in retired:  # retired meanwhile: do not leave it idle
                    _drain_idle(freelist)
                return
            if not freelist.closed:
                warn(
                    "Connection pool is full, discarding connection: %s. Connection pool size: %s",
                    host,
                    freelist.maxsize,
                )
            conn.close()
            return
        conn.close()
        discard()

    return release


class HTTPSConnectionPool(HTTPConnectionPool):
    """:class:`HTTPConnectionPool` over TLS. The TLS settings are plain
    attributes, read each time a connection is opened (so they may be changed
    after construction, as requests does)."""

    scheme = "https"
    ConnectionCls: type[HTTPConnection] = HTTPSConnection

    def __init__(
        self,
        host: str,
        port: int | None = None,
        timeout: _TYPE_TIMEOUT | None = _DEFAULT_TIMEOUT,
        maxsize: int = 1,
        block: bool = False,
        headers: Mapping[str, str] | None = None,
        retries: Retry | bool | int | None = None,
        _proxy: Url | None = None,
        _proxy_headers: Mapping[str, str] | None = None,
        key_file: str | None = None,
        cert_file: str | None = None,
        cert_reqs: int | str | None = None,
        key_password: str | None = None,
        ca_certs: str | None = None,
        ssl_version: int | str | None = None,
        ssl_minimum_version: ssl.TLSVersion | None = None,
        ssl_maximum_version: ssl.TLSVersion | None = None,
        assert_hostname: str | typing.Literal[False] | None = None,
        assert_fingerprint: str | None = None,
        ca_cert_dir: str | None = None,
        **conn_kw: typing.Any,
    ) -> None:
        super().__init__(
            host,
            port,
            timeout,
            maxsize,
            block,
            headers,
            retries,
            _proxy,
            _proxy_headers,
            **conn_kw,
        )
        self.key_file = key_file
        self.cert_file = cert_file
        self.cert_reqs = cert_reqs
        self.key_password = key_password
        self.ca_certs = ca_certs
        self.ca_cert_dir = ca_cert_dir
        self.ssl_version = ssl_version
        self.ssl_minimum_version = ssl_minimum_version
        self.ssl_maximum_version = ssl_maximum_version
        self.assert_hostname = assert_hostname
        self.assert_fingerprint = assert_fingerprint
        # urllib3 takes these as connection keywords; here they are plain
        # attributes too, read like the others when a connection opens.
        self.ca_cert_data = self.conn_kw.pop("ca_cert_data", None)
        self.ssl_context = self.conn_kw.pop("ssl_context", None)
        self.server_hostname = self.conn_kw.pop("server_hostname", None)
        self._tls = TLSClient()
        self._proxy_tls = TLSClient()
        # CONNECT to the destination, except in the proxy's own pool (the
        # one requests are forwarded through to an HTTPS proxy).
        self._tunnel = connection_requires_http_tunnel(
            self.proxy, self.proxy_config, "https"
        ) and not (
            self.proxy is not None and (self.proxy.host, self.proxy.port) == (self.host, self.port)
        )
        self._forward_proxy_headers = self._forward_proxy_headers and not self._tunnel
        self._is_https = True

    def stats(self) -> dict[str, typing.Any]:
        """:meth:`HTTPConnectionPool.stats` plus ``tls_handshakes`` (TLS
        handshakes with the origin) and ``tls_resumed`` (of which resumed the
        pool's stored session: full handshakes saved); behind an HTTPS proxy
        also ``proxy_tls_handshakes`` and ``proxy_tls_resumed``."""
        s = super().stats()
        s.update(self._tls.stats())
        if self.proxy is not None and self.proxy.scheme == "https":
            p = self._proxy_tls.stats()
            s["proxy_tls_handshakes"] = p["tls_handshakes"]
            s["proxy_tls_resumed"] = p["tls_resumed"]
        return s

    def _new_conn(self, connect_timeout: typing.Any = _DEFAULT_TIMEOUT) -> HTTPConnection:
        n = next(self._conn_counter)
        log.debug("Starting new HTTPS connection (%d): %s:%s", n, self.host, self.port or "443")
        if connect_timeout is _DEFAULT_TIMEOUT:
            connect_timeout = self._timeout.connect_timeout
        cls: typing.Any = self.ConnectionCls
        actual_host, actual_port = self.host, self.port
        if self.proxy is not None and self.proxy.host is not None:
            actual_host, actual_port = self.proxy.host, self.proxy.port
        conn = cls(
            host=actual_host,
            port=actual_port,
            timeout=connect_timeout,
            cert_file=self.cert_file,
            key_file=self.key_file,
            key_password=self.key_password,
            cert_reqs=self.cert_reqs,
            ca_certs=self.ca_certs,
            ca_cert_dir=self.ca_cert_dir,
            assert_hostname=self.assert_hostname,
            assert_fingerprint=self.assert_fingerprint,
            ssl_version=self.ssl_version,
            ssl_minimum_version=self.ssl_minimum_version,
            ssl_maximum_version=self.ssl_maximum_version,
            ca_cert_data=self.ca_cert_data,
            ssl_context=self.ssl_context,
            server_hostname=self.server_hostname,
            **self.conn_kw,
        )
        conn.tls = self._tls
        conn.proxy_tls = self._proxy_tls
        if self._tunnel and self.proxy is not None:
            conn.set_tunnel(
                self.host, self.port, self.proxy_headers, scheme=self.proxy.scheme or "http"
            )
        return conn  # type: ignore[no-any-return]

    def _validate_conn(self, conn: HTTPConnection) -> None:
        if not conn.is_verified and not conn.proxy_is_verified:
            warnings.warn(
                f"Unverified HTTPS request is being made to host '{conn.host}'. "
                "Adding certificate verification is strongly advised. See: "
                "https://urllib3.readthedocs.io/en/latest/advanced-usage.html"
                "#tls-warnings",
                InsecureRequestWarning,
                stacklevel=4,
            )


def connection_from_url(url: str, **kw: typing.Any) -> HTTPConnectionPool:
    """A pool for the scheme, host and port of ``url`` (``kw`` go to the pool)."""
    scheme, _, host, port, *_ = parse_url(url)
    scheme = scheme or "http"
    port = port or port_by_scheme.get(scheme, 80)
    if scheme == "https":
        return HTTPSConnectionPool(host, port=port, **kw)  # type: ignore[arg-type]
    return HTTPConnectionPool(host, port=port, **kw)  # type: ignore[arg-type]


# Kept importable for code that reaches for them next to the pool.
__all__ += ["ClosedPoolError", "EmptyPoolError"]
