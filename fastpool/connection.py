"""One TCP (or TLS) connection: a socket plus the ``_http11.Wire`` that speaks
HTTP/1.1 on it.

A connection is owned by one thread at a time (the pool hands it out through
the free list); nothing here is locked. The pool drives the exchange through
``conn.wire`` directly; this module opens sockets, maps connect failures to
urllib3's exceptions, and answers "did the peer close this idle connection?"
cheaply.
"""

from __future__ import annotations

import select
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
from urllib3.util.ssl_ import (
    assert_fingerprint as _assert_fingerprint,
)
from urllib3.util.ssl_ import (
    create_urllib3_context,
    is_ipaddress,
    resolve_cert_reqs,
    resolve_ssl_version,
    ssl_wrap_socket,
)
from urllib3.util.ssl_match_hostname import match_hostname
from urllib3.util.timeout import _DEFAULT_TIMEOUT, _TYPE_TIMEOUT, Timeout

from . import _http11

__all__ = [
    "HTTPConnection",
    "HTTPSConnection",
    "create_connection",
    "port_by_scheme",
]

port_by_scheme: dict[str, int] = {"http": 80, "https": 443}

_TYPE_SOCKET_OPTIONS = Sequence[tuple[int, int, int | bytes]]

_HAS_POLL = hasattr(select, "poll")
_POLLIN_ANY = (select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP) if _HAS_POLL else 0


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
        self._poller: typing.Any = None
        #: True while a request or response owns the connection (the pool's
        #: guard against releasing it twice).
        self._out = False

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

    def _attach(self, sock: socket.socket) -> None:
        self.sock = sock
        self.wire = _http11.Wire(sock, **self.wire_limits)
        self.connected_at = self.last_used = time.monotonic()
        if _HAS_POLL and type(sock) is socket.socket:
            poller = select.poll()
            poller.register(sock, _POLLIN_ANY)
            self._poller = poller

    # -- state ---------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self.sock is None

    @property
    def is_connected(self) -> bool:
        return self.sock is not None and not self.is_dropped()

    @property
    def has_connected_to_proxy(self) -> bool:
        return bool(self.proxy) and self.sock is not None

    @property
    def proxy_is_forwarding(self) -> bool:
        return bool(self.proxy)

    @property
    def proxy_is_tunneling(self) -> bool:
        return False

    def is_dropped(self) -> bool:
        """True when the idle connection is unusable: the peer closed it, sent
        something unasked, or it is already closed. One zero-timeout poll."""
        poller = self._poller
        if poller is not None:
            try:
                return bool(poller.poll(0))
            except (OSError, ValueError):
                return True
        sock = self.sock
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        if isinstance(sock, ssl.SSLSocket):
            # A readable TLS socket may only hold a session ticket; ask TLS.
            try:
                sock.setblocking(False)
                try:
                    return not sock.recv(1)  # data or EOF: unusable either way
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
        self._poller = None
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

    def connect(self) -> None:
        sock = self._new_conn()
        try:
            tls = self._wrap(sock)
        except BaseException:
            sock.close()
            raise
        self._attach(tls)

    def _wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        default_context = self.ssl_context is None
        if self.ssl_context is None:
            context = create_urllib3_context(
                ssl_version=resolve_ssl_version(self.ssl_version),
                ssl_minimum_version=self.ssl_minimum_version,
                ssl_maximum_version=self.ssl_maximum_version,
                cert_reqs=resolve_cert_reqs(self.cert_reqs),
            )
        else:
            context = self.ssl_context
        context.verify_mode = resolve_cert_reqs(self.cert_reqs)
        if self.assert_fingerprint or self.assert_hostname or self.assert_hostname is False:
            context.check_hostname = False
        if default_context and not self.ca_certs and not self.ca_cert_dir and not self.ca_cert_data:
            context.load_default_certs()
        server_hostname = self.server_hostname or self.host
        normalized = server_hostname.strip("[]")
        if "%" in normalized:
            normalized = normalized[: normalized.rfind("%")]
        if is_ipaddress(normalized):
            server_hostname = normalized
        tls = ssl_wrap_socket(
            sock=sock,
            keyfile=self.key_file,
            certfile=self.cert_file,
            key_password=self.key_password,
            ca_certs=self.ca_certs,
            ca_cert_dir=self.ca_cert_dir,
            ca_cert_data=self.ca_cert_data,
            server_hostname=server_hostname,
            ssl_context=context,
        )
        assert isinstance(tls, ssl.SSLSocket)
        if self.assert_fingerprint:
            der = tls.getpeercert(binary_form=True)
            _assert_fingerprint(der, self.assert_fingerprint)
        elif (
            context.verify_mode != ssl.CERT_NONE
            and not context.check_hostname
            and self.assert_hostname is not False
        ):
            cert = tls.getpeercert()
            match_hostname(cert, self.assert_hostname or server_hostname)  # type: ignore[arg-type]
        self.is_verified = context.verify_mode == ssl.CERT_REQUIRED or bool(self.assert_fingerprint)
        return tls
