"""``PoolManager`` / ``ProxyManager``: a pool per origin and connection
setting, in an LRU of ``num_pools``, with cross-host redirects (urllib3's API).

Pools are keyed by scheme, host, port and every connection keyword (frozen:
dicts become frozensets of items, lists tuples; objects such as an
``SSLContext`` count by identity), so different TLS settings get different
pools. An evicted pool is retired: its idle connections are closed at once,
the ones in flight when their responses release them, and requests that
already picked the pool (even ones waiting for a connection) are still served.
"""

from __future__ import annotations

import logging
import re
import threading
import typing
import warnings
from collections.abc import Mapping
from types import TracebackType
from urllib.parse import urljoin

from urllib3._collections import HTTPHeaderDict, RecentlyUsedContainer
from urllib3.exceptions import (
    ClosedPoolError,
    LocationValueError,
    MaxRetryError,
    ProxySchemeUnknown,
    URLSchemeUnknown,
)
from urllib3.util.retry import Retry
from urllib3.util.url import Url, parse_url

from ._proxy import ProxyConfig
from ._request_methods import RequestMethods
from .connection import port_by_scheme
from .connectionpool import (
    HTTPConnectionPool,
    HTTPSConnectionPool,
    _prepare_for_method_change,
    _strip_headers,
)

if typing.TYPE_CHECKING:
    from typing_extensions import Self

    from .response import BaseHTTPResponse

__all__ = ["PoolManager", "ProxyManager", "proxy_from_url", "request"]

log = logging.getLogger(__name__)

SSL_KEYWORDS = (
    "key_file",
    "cert_file",
    "cert_reqs",
    "ca_certs",
    "ca_cert_data",
    "ssl_version",
    "ssl_minimum_version",
    "ssl_maximum_version",
    "ca_cert_dir",
    "ssl_context",
    "key_password",
    "server_hostname",
    "assert_hostname",
    "assert_fingerprint",
)
_DEFAULT_BLOCKSIZE = 16384
_MAX_CLOSED_POOL_RETRIES = 3
_SPLIT_CACHE_MAX = 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

pool_classes_by_scheme: dict[str, type[HTTPConnectionPool]] = {
    "http": HTTPConnectionPool,
    "https": HTTPSConnectionPool,
}

# scheme://host[:port][/origin-form target], the shape of almost every URL;
# anything else goes through urllib3's parse_url.
_simple_url = re.compile(
    r"(https?)://([A-Za-z0-9.\-]+)(?::([0-9]{1,5}))?((?:/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*)?)",
    re.IGNORECASE,
).fullmatch


def _dispose_pool(pool: HTTPConnectionPool) -> None:
    retire = getattr(pool, "_retire", None)
    if retire is not None:
        retire()
    else:  # a custom pool class
        pool.close()


class _PoolLRU(RecentlyUsedContainer[typing.Any, HTTPConnectionPool]):
    """urllib3's LRU of pools (same behaviour), remembering its most recently
    used ``(key, pool)`` in ``mru``: a lookup of that key again (re-inserting
    the most recent key changes nothing) needs neither the lock nor the
    re-insertion. ``mru`` is only set under the lock by a lookup, and reset
    around every other change, so it never names a pool that was removed."""

    mru: tuple[typing.Any, HTTPConnectionPool] | None = None

    def __getitem__(self, key: typing.Any) -> HTTPConnectionPool:
        with self.lock:
            item = self._container.pop(key)
            self._container[key] = item
            self.mru = (key, item)
            return item

    def __setitem__(self, key: typing.Any, value: HTTPConnectionPool) -> None:
        self.mru = None
        try:
            super().__setitem__(key, value)
        finally:
            self.mru = None

    def __delitem__(self, key: typing.Any) -> None:
        self.mru = None
        try:
            super().__delitem__(key)
        finally:
            self.mru = None

    def clear(self) -> None:
        self.mru = None
        try:
            super().clear()
        finally:
            self.mru = None


class _Identity:
    """Hashes an unhashable key part by identity."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj


def _freeze(value: typing.Any) -> typing.Hashable:
    if isinstance(value, Mapping):
        return frozenset((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return _Identity(value)
    return typing.cast(typing.Hashable, value)


def _pool_key(request_context: Mapping[str, typing.Any]) -> tuple[typing.Any, ...]:
    """A hashable key for a request context: scheme, host (both lower-cased),
    port, then every other setting, frozen, in name order."""
    ctx = dict(request_context)
    scheme = ctx.pop("scheme").lower()
    host = ctx.pop("host").lower()
    port = ctx.pop("port", None)
    if ctx.get("blocksize") is None:
        ctx["blocksize"] = _DEFAULT_BLOCKSIZE
    if scheme == "http":
        for kw in SSL_KEYWORDS:
            ctx.pop(kw, None)
    settings = tuple(sorted(((k, _freeze(v)) for k, v in ctx.items()), key=lambda kv: kv[0]))
    return (scheme, host, port, settings)


key_fn_by_scheme: dict[str, typing.Callable[[Mapping[str, typing.Any]], typing.Hashable]] = {
    "http": _pool_key,
    "https": _pool_key,
}


class PoolManager(RequestMethods):
    """Requests to any host, through a pool per origin and setting.

    :param num_pools: pools kept (least recently used ones are closed).
    :param headers: default headers (replaced, not merged, by a request's).
    :param connection_pool_kw: keywords for every pool this manager makes.
    """

    proxy: Url | None = None
    proxy_config: typing.Any = None

    def __init__(
        self,
        num_pools: int = 10,
        headers: Mapping[str, str] | None = None,
        **connection_pool_kw: typing.Any,
    ) -> None:
        super().__init__(headers)
        if "retries" in connection_pool_kw:
            retries = connection_pool_kw["retries"]
            if not isinstance(retries, Retry):
                connection_pool_kw = dict(connection_pool_kw)
                connection_pool_kw["retries"] = Retry.from_int(retries)
        self.connection_pool_kw = connection_pool_kw
        self.pools: RecentlyUsedContainer[typing.Any, HTTPConnectionPool] = _PoolLRU(
            num_pools, dispose_func=_dispose_pool
        )
        self.pool_classes_by_scheme = pool_classes_by_scheme
        self.key_fn_by_scheme = key_fn_by_scheme.copy()
        # scheme -> (copy of the connection_pool_kw it was computed from, frozen settings)
        self._settings_cache: dict[str, tuple[dict[str, typing.Any], typing.Any]] = {}
        # url -> (scheme, host, port, request target); bounded
        self._key_cache: dict[tuple[typing.Any, ...], typing.Any] = {}
        self._split_cache: dict[str, tuple[str, str, int, str]] = {}
        # Pools found without building a request context, unless a subclass
        # customises how pools are looked up or keyed.
        cls = type(self)
        self._plain_lookup = (
            cls.connection_from_host is PoolManager.connection_from_host
            and cls.connection_from_pool_key is PoolManager.connection_from_pool_key
        )
        # Plain PoolManager: no URL is sent in absolute form (no call to ask).
        self._never_absolute = (
            cls._proxy_requires_url_absolute_form is PoolManager._proxy_requires_url_absolute_form
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> typing.Literal[False]:
        self.clear()
        return False

    def _new_pool(
        self,
        scheme: str,
        host: str,
        port: int,
        request_context: dict[str, typing.Any] | None = None,
    ) -> HTTPConnectionPool:
        """Make the pool for a key (override to customise pool creation)."""
        pool_cls = self.pool_classes_by_scheme[scheme]
        if request_context is None:
            request_context = dict(self.connection_pool_kw)
        else:
            request_context = dict(request_context)
        if request_context.get("blocksize") is None:
            request_context["blocksize"] = _DEFAULT_BLOCKSIZE
        for key in ("scheme", "host", "port"):
            request_context.pop(key, None)
        if scheme == "http":
            for kw in SSL_KEYWORDS:
                request_context.pop(kw, None)
        return pool_cls(host, port, **request_context)

    def clear(self) -> None:
        """Close and forget every pool (responses in flight finish normally;
        their connections are closed, not reused)."""
        self.pools.clear()

    def connection_from_host(
        self,
        host: str | None,
        port: int | None = None,
        scheme: str | None = "http",
        pool_kwargs: dict[str, typing.Any] | None = None,
    ) -> HTTPConnectionPool:
        """The pool for ``scheme://host:port`` (``pool_kwargs`` are merged over
        ``connection_pool_kw``; a ``None`` value removes a keyword)."""
        if not host:
            raise LocationValueError("No host specified.")
        scheme = (scheme or "http").lower()
        if not port:
            port = port_by_scheme.get(scheme, 80)
        if self.key_fn_by_scheme.get(scheme) is not _pool_key:
            request_context = self._merge_pool_kwargs(pool_kwargs)
            request_context["scheme"] = scheme
            request_context["port"] = port
            request_context["host"] = host
            return self.connection_from_context(request_context)
        if not pool_kwargs:
            return self._pool_fast(scheme, host.lower(), port)
        # requests passes the same pool_kwargs (TLS settings) on every request:
        # remember the key they make while connection_pool_kw is unchanged.
        memo: tuple[typing.Any, ...] | None = (
            scheme,
            host,
            port,
            tuple(pool_kwargs.items()),
            tuple(self.connection_pool_kw.items()),
        )
        try:
            key = self._key_cache.get(memo)  # type: ignore[arg-type]
        except TypeError:  # unhashable settings
            key = memo = None
        if key is not None:
            try:
                return self.pools[key]
            except KeyError:
                pass
        request_context = self._merge_pool_kwargs(pool_kwargs)
        request_context["scheme"] = scheme
        request_context["port"] = port
        request_context["host"] = host
        key = _pool_key(request_context)
        if memo is not None:
            if len(self._key_cache) >= _SPLIT_CACHE_MAX:
                self._key_cache.clear()
            self._key_cache[memo] = key
        return self.connection_from_pool_key(key, request_context=request_context)

    def _pool_fast(self, scheme: str, host: str, port: int) -> HTTPConnectionPool:
        # The default key without building a request context: the frozen
        # settings are cached per scheme while connection_pool_kw is unchanged.
        if self.key_fn_by_scheme.get(scheme) is not _pool_key:
            return self.connection_from_host(host, port=port, scheme=scheme)
        kw = self.connection_pool_kw
        cached = self._settings_cache.get(scheme)
        if cached is None or cached[0] != kw:
            probe = _pool_key({"scheme": scheme, "host": "", "port": None, **kw})
            cached = (dict(kw), probe[3])
            self._settings_cache[scheme] = cached
        key = (scheme, host, port, cached[1])
        pools = self.pools
        mru: tuple[typing.Any, HTTPConnectionPool] | None = getattr(pools, "mru", None)
        if mru is not None and mru[0] == key:
            return mru[1]  # already the most recently used: nothing to move
        try:
            return pools[key]
        except KeyError:
            pass
        request_context = dict(kw)
        request_context["scheme"] = scheme
        request_context["host"] = host
        request_context["port"] = port
        return self.connection_from_pool_key(key, request_context=request_context)

    def connection_from_context(self, request_context: dict[str, typing.Any]) -> HTTPConnectionPool:
        """The pool for a request context (``scheme``, ``host``, ``port`` and
        pool keywords)."""
        if "strict" in request_context:
            warnings.warn(
                "The 'strict' parameter is no longer needed on Python 3+. "
                "This will raise an error in urllib3 v3.0.",
                FutureWarning,
                stacklevel=2,
            )
            request_context.pop("strict")
        scheme = request_context["scheme"].lower()
        key_fn = self.key_fn_by_scheme.get(scheme)
        if not key_fn:
            raise URLSchemeUnknown(scheme)
        # by keyword, as urllib3 calls it (overrides may rely on the name)
        return self.connection_from_pool_key(
            key_fn(request_context), request_context=request_context
        )

    def connection_from_pool_key(
        self, pool_key: typing.Any, request_context: dict[str, typing.Any]
    ) -> HTTPConnectionPool:
        """The pool stored under ``pool_key``, made from ``request_context``
        if there is none (atomically: one pool per key even under threads)."""
        with self.pools.lock:
            pool = self.pools.get(pool_key)
            if pool is not None and not pool.closed:
                return pool
            scheme = request_context["scheme"].lower()
            host = request_context["host"]
            port = request_context["port"]
            pool = self._new_pool(scheme, host, port, request_context=request_context)
            self.pools[pool_key] = pool
        return pool

    def connection_from_url(
        self, url: str, pool_kwargs: dict[str, typing.Any] | None = None
    ) -> HTTPConnectionPool:
        """The pool for the origin of ``url``."""
        u = parse_url(url)
        return self.connection_from_host(
            u.host, port=u.port, scheme=u.scheme, pool_kwargs=pool_kwargs
        )

    def _merge_pool_kwargs(self, override: dict[str, typing.Any] | None) -> dict[str, typing.Any]:
        base = dict(self.connection_pool_kw)
        if override:
            for key, value in override.items():
                if value is None:
                    base.pop(key, None)
                else:
                    base[key] = value
        return base

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
        """:meth:`RequestMethods.request`; without ``body``, ``fields``,
        ``json`` or other keywords it calls ``urlopen`` directly (same call,
        fewer steps)."""
        if body is None and fields is None and json is None and not urlopen_kw:
            return self.urlopen(
                method.upper(), url, headers=self.headers if headers is None else headers
            )
        return RequestMethods.request(self, method, url, body, fields, headers, json, **urlopen_kw)

    def _proxy_requires_url_absolute_form(self, scheme: str | None) -> bool:
        return False

    def _split(self, url: str) -> tuple[str, str, int, str]:
        """(scheme, host, port, request target) of an absolute URL."""
        m = _simple_url(url)
        if m is not None:
            scheme, host, port, target = m.groups()
            scheme = scheme.lower()
            if target and "%" in target:
                target = parse_url(url).request_uri
            return (
                scheme,
                host.lower(),
                int(port) if port else port_by_scheme[scheme],
                target or "/",
            )
        u = parse_url(url)
        if u.scheme is None:
            warnings.warn(
                "URLs without a scheme (ie 'https://') are deprecated and will raise an error "
                "in urllib3 v3.0. To avoid this FutureWarning ensure all URLs "
                "start with 'https://' or 'http://'. Read more in this issue: "
                "https://github.com/urllib3/urllib3/issues/2920",
                category=FutureWarning,
                stacklevel=3,
            )
        if not u.host:
            raise LocationValueError("No host specified.")
        scheme = (u.scheme or "http").lower()
        return scheme, u.host, u.port or port_by_scheme.get(scheme, 80), u.request_uri

    def urlopen(  # type: ignore[override]
        self, method: str, url: str, redirect: bool = True, **kw: typing.Any
    ) -> BaseHTTPResponse:
        """Like :meth:`HTTPConnectionPool.urlopen` for an absolute ``url``, with
        redirects followed across hosts (Authorization, Cookie and
        Proxy-Authorization, or the Retry's ``remove_headers_on_redirect``,
        are dropped when the host changes; a 303 becomes a body-less GET)."""
        split_cache = self._split_cache
        kw["assert_same_host"] = False
        kw["redirect"] = False
        if "headers" not in kw:
            kw["headers"] = self.headers
        while True:
            parts = split_cache.get(url)
            if parts is None:
                parts = self._split(url)
                if len(split_cache) >= _SPLIT_CACHE_MAX:
                    split_cache.clear()
                split_cache[url] = parts
            scheme, host, port, request_uri = parts
            absolute = not self._never_absolute and self._proxy_requires_url_absolute_form(scheme)
            attempt = 0
            while True:  # at most _MAX_CLOSED_POOL_RETRIES + 1 times
                if self._plain_lookup:
                    conn = self._pool_fast(scheme, host, port)
                else:
                    conn = self.connection_from_host(host, port=port, scheme=scheme)
                try:
                    if absolute:
                        response = self._urlopen_proxied(conn, method, url, kw)
                    else:
                        response = conn.urlopen(method, request_uri, **kw)
                    break
                except ClosedPoolError:
                    # The pool was evicted (and closed) between our lookup and
                    # its checkout: nothing was sent; use its replacement.
                    if attempt == _MAX_CLOSED_POOL_RETRIES or not conn.closed:
                        raise
                    attempt += 1
            if not redirect or response.status not in _REDIRECT_STATUSES:
                return response
            redirect_location = response.get_redirect_location()
            if not redirect_location:
                return response
            redirect_location = urljoin(url, redirect_location)
            if response.status == 303:
                method = "GET"
                kw["body"] = None
                kw["headers"] = _prepare_for_method_change(kw["headers"])
            retries = kw.get("retries", response.retries)
            if not isinstance(retries, Retry):
                retries = Retry.from_int(retries, redirect=redirect)
            if retries.remove_headers_on_redirect and not conn.is_same_host(redirect_location):
                kw["headers"] = _strip_headers(kw["headers"], retries.remove_headers_on_redirect)
            try:
                retries = retries.increment(method, url, response=response, _pool=conn)  # type: ignore[arg-type]
            except MaxRetryError:
                if retries.raise_on_redirect:
                    response.drain_conn()
                    raise
                return response
            kw["retries"] = retries
            log.info("Redirecting %s -> %s", url, redirect_location)
            response.drain_conn()
            url = redirect_location

    def _urlopen_proxied(
        self, conn: HTTPConnectionPool, method: str, url: str, kw: dict[str, typing.Any]
    ) -> BaseHTTPResponse:
        return conn.urlopen(method, url, **kw)


class ProxyManager(PoolManager):
    """A :class:`PoolManager` that sends requests through an HTTP proxy.

    Plain ``http://`` requests are forwarded in absolute form with
    ``proxy_headers`` (one pool: the proxy's). ``https://`` requests go
    through a ``CONNECT`` tunnel (one pool per destination; ``proxy_headers``
    only on the ``CONNECT``) with TLS to the origin inside it, or are forwarded
    like ``http://`` to an HTTPS proxy with ``use_forwarding_for_https``. An
    ``https://`` proxy gets TLS with ``proxy_ssl_context`` and the
    ``proxy_assert_*`` checks, which the destination's TLS settings never
    change. Failures to reach the proxy raise ``ProxyError`` (as
    ``MaxRetryError.reason`` after retries). No SOCKS.
    """

    def __init__(
        self,
        proxy_url: str | Url | HTTPConnectionPool,
        num_pools: int = 10,
        headers: Mapping[str, str] | None = None,
        proxy_headers: Mapping[str, str] | None = None,
        proxy_ssl_context: typing.Any = None,
        use_forwarding_for_https: bool = False,
        proxy_assert_hostname: str | typing.Literal[False] | None = None,
        proxy_assert_fingerprint: str | None = None,
        **connection_pool_kw: typing.Any,
    ) -> None:
        if isinstance(proxy_url, HTTPConnectionPool):
            str_proxy_url = f"{proxy_url.scheme}://{proxy_url.host}:{proxy_url.port}"
        else:
            str_proxy_url = str(proxy_url)
        proxy = parse_url(str_proxy_url)
        if proxy.scheme not in ("http", "https"):
            raise ProxySchemeUnknown(proxy.scheme)
        if not proxy.port:
            proxy = proxy._replace(port=port_by_scheme.get(proxy.scheme, 80))
        self.proxy = proxy
        self.proxy_headers = proxy_headers or {}
        self.proxy_ssl_context = proxy_ssl_context
        self.use_forwarding_for_https = use_forwarding_for_https
        self.proxy_assert_hostname = proxy_assert_hostname
        self.proxy_assert_fingerprint = proxy_assert_fingerprint
        self.proxy_config = ProxyConfig(
            proxy_ssl_context,
            use_forwarding_for_https,
            proxy_assert_hostname,
            proxy_assert_fingerprint,
        )
        connection_pool_kw["_proxy"] = self.proxy
        connection_pool_kw["_proxy_headers"] = self.proxy_headers
        connection_pool_kw["_proxy_config"] = self.proxy_config
        super().__init__(num_pools, headers, **connection_pool_kw)

    def connection_from_host(
        self,
        host: str | None,
        port: int | None = None,
        scheme: str | None = "http",
        pool_kwargs: dict[str, typing.Any] | None = None,
    ) -> HTTPConnectionPool:
        assert self.proxy is not None
        if scheme == "https" and not self.use_forwarding_for_https:
            return super().connection_from_host(host, port, scheme, pool_kwargs=pool_kwargs)
        return super().connection_from_host(
            self.proxy.host, self.proxy.port, self.proxy.scheme, pool_kwargs=pool_kwargs
        )

    def _proxy_requires_url_absolute_form(self, scheme: str | None) -> bool:
        return scheme == "http" or (scheme == "https" and self.use_forwarding_for_https)

    def _set_proxy_headers(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> Mapping[str, str]:
        """Headers for a forwarded request: ``Accept: */*`` and the
        destination's ``Host`` unless given."""
        headers_ = HTTPHeaderDict({"Accept": "*/*"})
        netloc = parse_url(url).netloc
        if netloc:
            headers_["Host"] = netloc
        if headers:
            headers_.update(headers)
        return headers_

    def _urlopen_proxied(
        self, conn: HTTPConnectionPool, method: str, url: str, kw: dict[str, typing.Any]
    ) -> BaseHTTPResponse:
        kw = dict(kw)
        headers = HTTPHeaderDict(self._set_proxy_headers(url, kw.get("headers", self.headers)))
        headers.update(self.proxy_headers)  # sent to the proxy, which forwards the rest
        kw["headers"] = headers
        return conn.urlopen(method, url, **kw)


def proxy_from_url(url: str, **kw: typing.Any) -> ProxyManager:
    """A :class:`ProxyManager` for the proxy at ``url``."""
    return ProxyManager(proxy_url=url, **kw)


_DEFAULT_POOL: PoolManager | None = None
_DEFAULT_POOL_LOCK = threading.Lock()


def request(
    method: str,
    url: str,
    *,
    body: typing.Any = None,
    fields: typing.Any = None,
    headers: Mapping[str, str] | None = None,
    preload_content: bool | None = True,
    decode_content: bool | None = True,
    redirect: bool | None = True,
    retries: Retry | bool | int | None = None,
    timeout: typing.Any = 3,
    json: typing.Any = None,
) -> BaseHTTPResponse:
    """A request through a module-level :class:`PoolManager` (urllib3's
    ``urllib3.request``; shared by everything in the process that uses it)."""
    global _DEFAULT_POOL
    pm = _DEFAULT_POOL
    if pm is None:
        with _DEFAULT_POOL_LOCK:
            if _DEFAULT_POOL is None:
                _DEFAULT_POOL = PoolManager()
            pm = _DEFAULT_POOL
    return pm.request(
        method,
        url,
        body=body,
        fields=fields,
        headers=headers,
        preload_content=preload_content,
        decode_content=decode_content,
        redirect=redirect,
        retries=retries,
        timeout=timeout,
        json=json,
    )
