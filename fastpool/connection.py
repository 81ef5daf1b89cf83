"""One TCP (or TLS) connection: a socket plus the ``_http11.Wire`` that speaks
HTTP/1.1 on it.

A connection is owned by one thread at a time (the pool hands it out through
the free list); nothing here is locked. The pool drives the exchange through
``conn.wire`` directly; this module opens sockets, maps connect failures to
urllib3's exceptions, and answers "did the peer close this idle connection?"
cheaply.
"""

from __future__ import annotations

import socket
import ssl
import time
import typing
from collections.abc import Sequence

from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util.timeout import _DEFAULT_TIMEOUT, _TYPE_TIMEOUT, Timeout

from . import _http11
from ._proxy import TunnelError, open_tunnel
from ._tls import TLSClient, TLSParams, TLSSocket, proxy_params

__all__ = [
    "HTTPConnection",
    "HTTPSConnection",
    "VerifiedHTTPSConnection",
    "create_connection",
    "port_by_scheme",
]

port_by_scheme: dict[str, int] = {"http": 80, "https": 443}

_TYPE_SOCKET_OPTIONS = Sequence[tuple[int, int, int | bytes]]


def _gai_family() -> socket.AddressFamily:
    return socket.AF_UNSPEC if socket.has_ipv6 else socket.AF_INET


def create_connection(
    address: tuple[str, int],
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
    socket_options: _TYPE_SOCKET_OPTIONS | None = None,
) -> socket.socket:
    """Connect to ``address`` trying every resolved address in turn.

    ``timeout`` bounds each connect attempt. Socket options are applied before
    connecting. Raises ``socket.gaierror`` when the name does not resolve, and
    the last connect error otherwise (like :func:`socket.create_connection`).
    """
    host, port = address
    if host.startswith("["):
        host = host.strip("[]")
    try:
        host.encode("idna")
    except UnicodeError:
        raise LocationParseError(f"'{host}', label empty or too long") from None
    last_error: OSError | None = None
    for family, socktype, proto, _, sockaddr in socket.getaddrinfo(
        host, port, _gai_family(), socket.SOCK_STREAM
    ):
        sock = None
        try:
            sock = socket.socket(family, socktype, proto)
            if socket_options:
                for opt in socket_options:
                    sock.setsockopt(*opt)
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as e:
            last_error = e
            if sock is not None:
                sock.close()
    if last_error is not None:
        raise last_error
    raise OSError("getaddrinfo returns an empty list")


class HTTPConnection:
    """A plain-TCP HTTP/1.1 connection to ``host:port``.

    Keyword arguments are urllib3's connection keywords: ``timeout`` (the
    connect timeout), ``source_address``, ``blocksize`` (bytes per read of a
    file-like request body) and ``socket_options`` (``None`` or ``[]`` for
    none; default :attr:`default_socket_options`). Not thread-safe.
    """

    default_port: typing.ClassVar[int] = port_by_scheme["http"]

    #: Disable Nagle's algorithm by default (as urllib3). Append to this list
    #: (e.g. TCP keep-alive options) to change what new connections get.
    default_socket_options: typing.ClassVar[list[tuple[int, int, int | bytes]]] = [
        (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ]

    is_verified: bool = False
    proxy_is_verified: bool | None = None

    sock: socket.socket | None
    wire: typing.Any

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        timeout: _TYPE_TIMEOUT = _DEFAULT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
        blocksize: int = 16384,
        socket_options: _TYPE_SOCKET_OPTIONS | None = default_socket_options,
        proxy: typing.Any = None,
        proxy_config: typing.Any = None,
        wire_limits: dict[str, int] | None = None,
    ) -> None:
        self._dns_host = host
        self.port = port if port is not None else self.default_port
        self.timeout = Timeout.resolve_default_timeout(timeout)
        self.source_address = source_address
        self.blocksize = blocksize
        self.socket_options = socket_options
        self.proxy = proxy
        self.proxy_config = proxy_config
        self.wire_limits = wire_limits or {}
        self.sock = None
        self.wire = None
        #: Requests sent on this connection (the pool counts them).
        self.requests = 0
        #: ``time.monotonic()`` when connected / when last checked back in.
        self.connected_at = 0.0
        self.last_used = 0.0
        #: ``wire.is_dropped`` when that is the whole drop check (not TLS):
        #: the pool calls it directly.
        self._wire_dropped: typing.Callable[[], bool] | None = None
        #: True while a request or response owns the connection (the pool's
        #: guard against releasing it twice).
        self._out = False
        # CONNECT tunnel (set by an HTTPS pool behind a proxy) and proxy state.
        self._tunnel_host: str | None = None
        self._tunnel_port: int | None = None
        self._tunnel_headers: typing.Mapping[str, str] = {}
        self._has_connected_to_proxy = False

    @property
    def host(self) -> str:
        """The host name without a trailing dot (the DNS name keeps it)."""
        return self._dns_host.rstrip(".")

    @host.setter
    def host(self, value: str) -> None:
        self._dns_host = value

    def __str__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r}, port={self.port!r})"

    def __repr__(self) -> str:
        return f"<{self} at {id(self):#x}>"

    # -- opening -------------------------------------------------------------

    def _new_conn(self) -> socket.socket:
        try:
            return create_connection(
                (self._dns_host, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e  # type: ignore[arg-type]
        except TimeoutError as e:
            raise ConnectTimeoutError(
                self,
                f"Connection to {self.host} timed out. (connect timeout={self.timeout})",
            ) from e
        except OSError as e:
            raise NewConnectionError(
                self,  # type: ignore[arg-type]
                f"Failed to establish a new connection: {e}",
            ) from e

    def connect(self) -> None:
        """Open the socket (and, for HTTPS, the TLS session) and its Wire."""
        self._attach(self._new_conn())
        self._has_connected_to_proxy = bool(self.proxy)

    def set_tunnel(
        self,
        host: str,
        port: int | None = None,
        headers: typing.Mapping[str, str] | None = None,
        scheme: str = "http",
    ) -> None:
        """Reach ``host:port`` through a ``CONNECT`` tunnel opened by the
        proxy this connection connects to; ``headers`` go on the ``CONNECT``
        only. ``scheme`` is the proxy's (``https``: TLS to the proxy first)."""
        if scheme not in ("http", "https"):
            raise ValueError(f"Invalid proxy scheme for tunneling: {scheme!r}")
        self._tunnel_host = host
        self._tunnel_port = port
        self._tunnel_headers = headers or {}

    def _attach(self, sock: socket.socket) -> None:
        self.sock = sock
        wire = self.wire = _http11.Wire(sock, **self.wire_limits)
        self.connected_at = self.last_used = time.monotonic()
        if not isinstance(sock, ssl.SSLSocket):
            self._wire_dropped = wire.is_dropped

    # -- state ---------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self.sock is None

    @property
    def is_connected(self) -> bool:
        return self.sock is not None and not self.is_dropped()

    @property
    def has_connected_to_proxy(self) -> bool:
        """The connection to the proxy is up (TCP, and TLS to an HTTPS proxy),
        as in urllib3: set before the ``CONNECT`` reply is read, and cleared
        again when the proxy refuses the tunnel. The pool wraps errors that
        happen while it is False as ``ProxyError``."""
        return self._has_connected_to_proxy

    @property
    def proxy_is_forwarding(self) -> bool:
        return bool(self.proxy) and self._tunnel_host is None

    @property
    def proxy_is_tunneling(self) -> bool:
        return self._tunnel_host is not None

    def is_dropped(self) -> bool:
        """True when the idle connection is unusable: the peer closed it, sent
        something unasked, or it is already closed. One zero-timeout poll
        (``Wire.is_dropped``); a readable TLS socket is then asked whether it
        holds application data or only a session ticket."""
        wire = self.wire
        sock = self.sock
        if wire is None or sock is None:
            return True
        if not wire.is_dropped():
            return False
        if isinstance(sock, ssl.SSLSocket):
            # A readable TLS socket may only hold a session ticket; ask TLS.
            try:
                sock.setblocking(False)
                try:
                    # Data or EOF: unusable either way (a byte read here is
                    # gone, so never report the connection alive after it).
                    sock.recv(1)
                    return True
                finally:
                    sock.setblocking(True)
            except (ssl.SSLWantReadError, BlockingIOError):
                return False
            except OSError:
                return True
        return True

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self.wire = None
        self._has_connected_to_proxy = False
        self._wire_dropped = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class HTTPSConnection(HTTPConnection):
    """TLS on top of :class:`HTTPConnection`.

    The TLS settings are plain attributes read when :meth:`connect` runs, so a
    pool (or requests) may assign them after construction. Defaults: system
    trust store, certificate and host name verified, SNI, ALPN ``http/1.1``.
    """

    default_port: typing.ClassVar[int] = port_by_scheme["https"]

    cert_reqs: int | str | None = None
    ca_certs: str | None = None
    ca_cert_dir: str | None = None
    ca_cert_data: str | bytes | None = None
    ssl_version: int | str | None = None
    ssl_minimum_version: int | None = None
    ssl_maximum_version: int | None = None
    assert_fingerprint: str | None = None

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        timeout: _TYPE_TIMEOUT = _DEFAULT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
        blocksize: int = 16384,
        socket_options: _TYPE_SOCKET_OPTIONS | None = HTTPConnection.default_socket_options,
        proxy: typing.Any = None,
        proxy_config: typing.Any = None,
        wire_limits: dict[str, int] | None = None,
        cert_reqs: int | str | None = None,
        assert_hostname: str | typing.Literal[False] | None = None,
        assert_fingerprint: str | None = None,
        server_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ca_certs: str | None = None,
        ca_cert_dir: str | None = None,
        ca_cert_data: str | bytes | None = None,
        ssl_minimum_version: int | None = None,
        ssl_maximum_version: int | None = None,
        ssl_version: int | str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        key_password: str | None = None,
    ) -> None:
        super().__init__(
            host,
            port,
            timeout=timeout,
            source_address=source_address,
            blocksize=blocksize,
            socket_options=socket_options,
            proxy=proxy,
            proxy_config=proxy_config,
            wire_limits=wire_limits,
        )
        self.key_file = key_file
        self.cert_file = cert_file
        self.key_password = key_password
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.assert_hostname = assert_hostname
        self.assert_fingerprint = assert_fingerprint
        self.ssl_version = ssl_version
        self.ssl_minimum_version = ssl_minimum_version
        self.ssl_maximum_version = ssl_maximum_version
        self.ca_certs = ca_certs
        self.ca_cert_dir = ca_cert_dir
        self.ca_cert_data = ca_cert_data
        if cert_reqs is None:
            cert_reqs = ssl_context.verify_mode if ssl_context is not None else ssl.CERT_REQUIRED
        self.cert_reqs = cert_reqs

    #: The pool's TLS state for the origin leg and for the leg to an HTTPS
    #: proxy (contexts, sessions, counters); a connection made outside a pool
    #: gets its own on first connect.
    tls: TLSClient | None = None
    proxy_tls: TLSClient | None = None

    def connect(self) -> None:
        """TCP, then (behind a proxy) TLS to an HTTPS proxy and/or the
        ``CONNECT`` tunnel, then TLS to the origin; the TLS settings are read
        from this object's attributes now."""
        sock: typing.Any = self._new_conn()
        params = TLSParams.from_attributes(self)
        if self.tls is None:
            self.tls = TLSClient()
        self._session_offer: tuple[TLSClient, str] | None = None
        proxy = self.proxy
        if proxy is not None and proxy.scheme == "https":
            sock = self._connect_tls_proxy(sock, params)
        if self._tunnel_host is not None:
            # Connected to the proxy from here on, as in urllib3: an error
            # reading the CONNECT reply (timeout, close, garbage) is not a
            # ProxyError, except a refusal (non-2xx), after which http.client
            # closes the connection and urllib3 reports it as one.
            self._has_connected_to_proxy = True
            try:
                open_tunnel(
                    sock,
                    self._tunnel_host,
                    self._tunnel_port or self.default_port,
                    self._tunnel_headers,
                    self.timeout,
                )
            except BaseException as e:
                if isinstance(e, TunnelError):
                    self._has_connected_to_proxy = False
                sock.close()
                raise
            if proxy is not None and proxy.scheme == "https" and self.proxy_tls is not None:
                # the CONNECT reply was read: TLS 1.3 tickets have arrived
                self.proxy_tls.offer_session(sock, proxy.host or self.host)
            else:
                self.proxy_is_verified = False
            wrapped = self.tls.wrap(
                sock, params, self._tunnel_host, tls_in_tls=isinstance(sock, TLSSocket)
            )
        elif proxy is not None:
            # Forwarding: the only TLS leg is the proxy's, made above. The
            # origin is never verified by us (the proxy talks to it).
            self._has_connected_to_proxy = True
            self.is_verified = False
            self._attach(sock)
            return
        else:
            wrapped = self.tls.wrap(sock, params, self.host)
        self.is_verified = wrapped.is_verified
        self._session_offer = (self.tls, wrapped.server_name)
        self._attach(wrapped.sock)  # type: ignore[arg-type]

    def _connect_tls_proxy(self, sock: typing.Any, params: TLSParams) -> TLSSocket:
        """TLS to the HTTPS proxy with the proxy's own settings (see
        :func:`fastpool._tls.proxy_params`)."""
        config = self.proxy_config
        leg = proxy_params(
            params,
            getattr(config, "ssl_context", None),
            getattr(config, "assert_hostname", None),
            getattr(config, "assert_fingerprint", None),
        )
        if self.proxy_tls is None:
            self.proxy_tls = TLSClient()
        assert self.proxy is not None
        wrapped = self.proxy_tls.wrap(sock, leg, self.proxy.host or self.host)
        self.proxy_is_verified = wrapped.is_verified
        if self._tunnel_host is None:
            self._session_offer = (self.proxy_tls, wrapped.server_name)
        return wrapped.sock

    def tls_first_response(self) -> None:
        """Called by the pool when the first response head arrived on this
        new connection: store its TLS session for the pool's next handshake
        (TLS 1.3 tickets come after the handshake, with the first data)."""
        offer, self._session_offer = getattr(self, "_session_offer", None), None
        if offer is not None and self.sock is not None:
            offer[0].offer_session(self.sock, offer[1])


# urllib3 keeps this name for code written against 1.x (botocore imports it).
VerifiedHTTPSConnection = HTTPSConnection
