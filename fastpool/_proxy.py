"""Proxies: the ``CONNECT`` tunnel and urllib3's proxy error shape.

How a request travels, for a proxy URL ``P`` and a destination ``D``:

* ``D`` is ``http://``: forwarded. The request goes to ``P`` in absolute form
  (``GET http://D/path HTTP/1.1``) with the proxy headers; over TLS to ``P``
  when ``P`` is ``https://``.
* ``D`` is ``https://``: tunnelled. The connection opens to ``P`` (TLS to ``P``
  first when ``P`` is ``https://``), sends ``CONNECT D:port`` with the proxy
  headers, then speaks TLS to ``D`` inside the tunnel — TLS inside TLS for an
  HTTPS proxy. The proxy headers (``Proxy-Authorization``) are sent once, on
  the ``CONNECT``, and never reach ``D``.
* ``D`` is ``https://``, ``P`` is ``https://`` and ``use_forwarding_for_https``:
  forwarded like ``http://`` (the proxy sees the request).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from urllib3.connection import ProxyConfig
from urllib3.exceptions import ProtocolError, ProxyError
from urllib3.util.proxy import connection_requires_http_tunnel

from . import _http11

__all__ = [
    "ProxyConfig",
    "TunnelError",
    "connection_requires_http_tunnel",
    "open_tunnel",
    "wrap_proxy_error",
]

_RECV_SIZE = 65536


class TunnelError(OSError):
    """The proxy answered the ``CONNECT`` with something else than 2xx.

    An ``OSError`` with http.client's message (``"Tunnel connection failed:
    407 Proxy Authentication Required"``), so the pool's error handling wraps it
    as urllib3 does: ``ProxyError("Unable to connect to proxy", TunnelError)``.
    """

    def __init__(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        super().__init__(f"Tunnel connection failed: {status} {reason}".rstrip())
        self.status = status
        self.reason = reason
        self.headers = headers


def _authority(host: str, port: int) -> str:
    host = host.strip("[]")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}"


def open_tunnel(
    sock: Any,
    host: str,
    port: int,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> None:
    """Ask the proxy at the other end of ``sock`` for a tunnel to ``host:port``.

    Sends ``CONNECT host:port HTTP/1.1`` with ``Host`` and ``headers`` (the
    proxy headers, validated like any request header), waits at most
    ``timeout`` per read for the reply head and returns once the proxy has
    answered 2xx: ``sock`` is then a byte pipe to ``host:port``. A non-2xx
    answer raises :class:`TunnelError`; a malformed one ``ProtocolError``;
    bytes after a 2xx head (the origin cannot have spoken yet) ``ProtocolError``;
    a timeout ``TimeoutError``. The caller closes ``sock`` on any error.
    """
    authority = _authority(host, port)
    head = _http11.encode_request_head("CONNECT", authority, headers, host=authority)
    sock.settimeout(timeout)
    sock.sendall(head)
    # A 2xx reply to CONNECT has no body (RFC 9110, 9.3.6); parsing it as the
    # reply to a HEAD gives exactly that framing and keeps extra bytes apart.
    parser = _http11.ResponseParser()
    parser.start(is_head_request=True)
    buf = bytearray(_RECV_SIZE)
    view = memoryview(buf)
    while True:
        reply = parser.next_head()
        if reply is not None:
            break
        n = sock.recv_into(view)
        if not n:
            parser.feed_eof()
            raise ProtocolError("Proxy closed the connection before answering CONNECT")
        parser.feed(bytes(view[:n]))
    if not 200 <= reply.status < 300:
        raise TunnelError(reply.status, reply.reason, list(reply.headers))
    if parser.leftover():
        raise ProtocolError("Proxy sent data after its reply to CONNECT")


_HTTP_ONLY_HINTS = ("wrong version number", "unknown protocol", "record layer failure")


def wrap_proxy_error(err: Exception, proxy_scheme: str | None) -> ProxyError:
    """``ProxyError("Unable to connect to proxy", err)`` with ``err`` as the
    cause — urllib3's shape for every failure before the proxy connection is
    established. When TLS to an ``https://`` proxy failed because the proxy
    answered in plain HTTP, the message says so."""
    message = "Unable to connect to proxy"
    if proxy_scheme == "https":
        words = " ".join(re.split("[^a-z]", str(err).lower()))
        if any(hint in words for hint in _HTTP_ONLY_HINTS):
            message += (
                ". Your proxy appears to only use HTTP and not HTTPS, "
                "try changing your proxy URL to be HTTP. See: "
                "https://urllib3.readthedocs.io/en/latest/advanced-usage.html"
                "#https-proxy-error-http-proxy"
            )
    new = ProxyError(message, err)
    new.__cause__ = err
    return new
