"""A transport adapter that runs :mod:`requests` on fastpool's connection pools.

Usage::

    import requests
    from fastpool.contrib.requests import HTTPAdapter

    s = requests.Session()
    s.mount("http://", HTTPAdapter(pool_maxsize=16, pool_block=True))
    s.mount("https://", HTTPAdapter(pool_maxsize=16, pool_block=True))

:class:`HTTPAdapter` *is* a :class:`requests.adapters.HTTPAdapter`: it keeps
requests' constructor, defaults, hooks and ``send()``, and replaces only the
urllib3 machinery underneath (``PoolManager``, ``ProxyManager``,
``proxy_from_url``) with fastpool's. Everything else comes from requests itself:

* ``send()`` turns a float or ``(connect, read)`` timeout into a ``Timeout``,
  applies ``verify`` / ``cert`` through ``cert_verify`` and
  ``build_connection_pool_key_attributes``, sends chunked bodies, and maps
  urllib3's exceptions to requests' (``ConnectTimeout``, ``ReadTimeout``,
  ``ConnectionError``, ``SSLError``, ``ProxyError``, ``RetryError``,
  ``InvalidHeader``...). fastpool raises urllib3's own exception classes and
  uses urllib3's ``Timeout`` and ``Retry``, so that mapping is unchanged.
* ``build_response()`` wraps a :class:`fastpool.HTTPResponse` (an
  ``urllib3.BaseHTTPResponse``): streaming, cookies, ``raw.release_conn()``.

SOCKS proxies keep requests' stock behaviour (urllib3's ``SOCKSProxyManager``
when PySocks is installed, ``InvalidSchema`` otherwise): fastpool has no SOCKS
connector.

One deliberate difference: the adapter calls :meth:`init_poolmanager` with
keyword arguments (``connections=``, ``maxsize=``, ``block=``) when the
method's signature accepts them, and ``num_pools`` / ``maxsize`` set by an
override win over the constructor's values. Overrides that set
``kwargs["maxsize"]`` before calling ``super().init_poolmanager(*args,
**kwargs)`` therefore work (with requests' own adapter they raise ``TypeError:
got multiple values for argument 'maxsize'``); overrides written for requests'
positional call keep working unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

try:
    import requests.adapters as _requests_adapters
except ImportError as e:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "fastpool.contrib.requests needs the 'requests' package: pip install fastpool[requests]"
    ) from e

from fastpool.poolmanager import PoolManager, proxy_from_url
from fastpool.util.retry import Retry

__all__ = ["HTTPAdapter"]

_DEFAULT_POOLBLOCK: bool = _requests_adapters.DEFAULT_POOLBLOCK
_DEFAULT_POOLSIZE: int = _requests_adapters.DEFAULT_POOLSIZE
_DEFAULT_RETRIES: int = _requests_adapters.DEFAULT_RETRIES


class HTTPAdapter(_requests_adapters.HTTPAdapter):
    """requests' ``HTTPAdapter`` backed by fastpool's pools.

    :param pool_connections: how many connection pools (one per scheme, host,
        port and TLS settings) the pool manager keeps (``num_pools``).
    :param pool_maxsize: the most connections each pool keeps open for reuse;
        with ``pool_block=True``, the most it opens at all.
    :param max_retries: an ``int`` (retries of failed connections only, as in
        requests) or a :class:`fastpool.util.retry.Retry` (urllib3's class).
    :param pool_block: wait for a free connection (fair, first come first
        served) instead of opening one more than ``pool_maxsize``.

    ``adapter.poolmanager`` is a :class:`fastpool.PoolManager`;
    ``adapter.poolmanager.connection_from_url(url).stats()`` reports a pool's
    counters.
    """

    poolmanager: PoolManager  # type: ignore[assignment]

    def __init__(
        self,
        pool_connections: int = _DEFAULT_POOLSIZE,
        pool_maxsize: int = _DEFAULT_POOLSIZE,
        max_retries: int | Retry = _DEFAULT_RETRIES,
        pool_block: bool = _DEFAULT_POOLBLOCK,
    ) -> None:
        # requests.adapters.HTTPAdapter.__init__, except for how the
        # init_poolmanager hook is called (see _call_init_poolmanager).
        if max_retries == _DEFAULT_RETRIES:
            self.max_retries = Retry(0, read=False)
        else:
            self.max_retries = Retry.from_int(max_retries)
        self.config = {}
        self.proxy_manager = {}
        _requests_adapters.BaseAdapter.__init__(self)
        self._pool_connections = pool_connections
        self._pool_maxsize = pool_maxsize
        self._pool_block = pool_block
        self._call_init_poolmanager(pool_connections, pool_maxsize, pool_block)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # The pool manager is not pickled (neither is requests'): make a new one.
        self.proxy_manager = {}
        self.config = {}
        for attr, value in state.items():
            setattr(self, attr, value)
        self._call_init_poolmanager(self._pool_connections, self._pool_maxsize, self._pool_block)

    def _call_init_poolmanager(self, connections: int, maxsize: int, block: bool) -> None:
        hook = self.init_poolmanager
        try:
            inspect.signature(hook).bind(connections=connections, maxsize=maxsize, block=block)
        except (TypeError, ValueError):
            # An override with its own parameter names: call it as requests does.
            hook(connections, maxsize, block=block)
        else:
            hook(connections=connections, maxsize=maxsize, block=block)

    def init_poolmanager(
        self,
        connections: int,
        maxsize: int,
        block: bool = _DEFAULT_POOLBLOCK,
        **pool_kwargs: Any,
    ) -> None:
        """Make ``self.poolmanager``, a :class:`fastpool.PoolManager`.

        Subclasses override this to pass more keyword arguments to the pool
        manager (``ssl_context``, ``socket_options``, ``retries``, ...), as
        with requests' adapter. ``num_pools`` in ``pool_kwargs`` takes
        precedence over ``connections``.
        """
        num_pools = pool_kwargs.pop("num_pools", connections)
        # fastpool's pools need room for one connection; urllib3 takes
        # maxsize=0 (requests' tests mount HTTPAdapter(pool_maxsize=0)) and then
        # never refuses a connection back, so one is the closest working size.
        maxsize = max(maxsize, 1)
        # Saved for pickling and for the proxy managers made later.
        self._pool_connections = num_pools
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = PoolManager(
            num_pools=num_pools, maxsize=maxsize, block=block, **pool_kwargs
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The :class:`fastpool.ProxyManager` for ``proxy`` (one per proxy URL),
        made by :func:`fastpool.proxy_from_url` with :meth:`proxy_headers`.

        ``socks*`` proxies are handed to requests' stock implementation.
        """
        manager: Any = self.proxy_manager.get(proxy)
        if manager is not None:
            return manager
        if proxy.lower().startswith("socks"):
            return super().proxy_manager_for(proxy, **proxy_kwargs)
        manager = proxy_from_url(
            proxy,
            proxy_headers=self.proxy_headers(proxy),
            num_pools=self._pool_connections,
            maxsize=self._pool_maxsize,
            block=self._pool_block,
            **proxy_kwargs,
        )
        # Two threads may race here (as in requests): keep the first manager.
        return self.proxy_manager.setdefault(proxy, manager)
