"""TLS for fastpool connections.

* :class:`TLSParams`: a snapshot of urllib3 2.x's TLS parameters, read from a
  pool's (or connection's) plain attributes each time a connection is opened.
* :class:`TLSClient`: one per pool. Builds the ``SSLContext`` for a set of
  parameters (and builds it again only when they change), performs the
  handshake, verifies the peer exactly as urllib3 2.x does, and keeps the TLS
  session of a completed handshake so that the pool's next connection can
  resume it instead of doing a full handshake.

Verification rules (urllib3 2.x semantics):

* ``cert_reqs`` defaults to ``CERT_REQUIRED``, or to ``ssl_context.verify_mode``
  when an ``ssl_context`` is given; strings such as ``"CERT_NONE"`` or
  ``"NONE"`` are accepted.
* Host names are checked by OpenSSL during the handshake, except when
  ``assert_fingerprint`` or ``assert_hostname`` is set (or ``assert_hostname``
  is ``False``): then the check happens here after the handshake — the
  fingerprint of the leaf certificate, or its names against
  ``assert_hostname``; ``assert_hostname=False`` turns the name check off.
* A context built here trusts the system store unless ``ca_certs``,
  ``ca_cert_dir`` or ``ca_cert_data`` is given; TLS 1.2 is the default minimum;
  ALPN offers ``http/1.1``; SNI carries the host name (not IP addresses).

Failures raise ``urllib3.exceptions.SSLError`` (the ``ssl`` error is its first
argument and ``__cause__``), which the pool turns into ``MaxRetryError`` through
the caller's ``Retry`` like any other connection error.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
import threading
import warnings
from collections import OrderedDict
from typing import Any, Literal

from urllib3.exceptions import InsecureRequestWarning, SSLError
from urllib3.util.ssl_ import (
    HAS_NEVER_CHECK_COMMON_NAME,
    IS_PYOPENSSL,
    assert_fingerprint,
    create_urllib3_context,
    is_ipaddress,
    resolve_cert_reqs,
    resolve_ssl_version,
)
from urllib3.util.ssl_match_hostname import CertificateError, match_hostname
from urllib3.util.ssltransport import SSLTransport

__all__ = [
    "ALPN_PROTOCOLS",
    "TLS_ATTRIBUTES",
    "TLSClient",
    "TLSParams",
    "TLSSocket",
    "WrappedSocket",
    "proxy_params",
    "warn_unverified",
]

log = logging.getLogger("fastpool.connection")

#: fastpool speaks HTTP/1.1 only, whatever ``urllib3.util.ssl_.ALPN_PROTOCOLS``
#: was changed to (urllib3's HTTP/2 support adds ``h2`` there).
ALPN_PROTOCOLS = ("http/1.1",)

#: The TLS settings a pool (or a connection) carries as plain attributes, in
#: the order of :class:`TLSParams`' fields.
TLS_ATTRIBUTES = (
    "cert_reqs",
    "ca_certs",
    "ca_cert_dir",
    "ca_cert_data",
    "cert_file",
    "key_file",
    "key_password",
    "ssl_context",
    "ssl_version",
    "ssl_minimum_version",
    "ssl_maximum_version",
    "server_hostname",
    "assert_hostname",
    "assert_fingerprint",
)

#: What a handshake produces: a socket object the exchange drives through its
#: Python methods (``SSLTransport`` for TLS inside a TLS tunnel).
TLSSocket = ssl.SSLSocket | SSLTransport

# Sessions kept per pool: one per server name; a pool talks to one origin, so
# this only bounds the odd pool whose ``server_hostname`` keeps changing.
_MAX_SESSIONS = 16


@dataclasses.dataclass(frozen=True)
class TLSParams:
    """urllib3 2.x's TLS parameters, as given (unresolved). Hashable: equal
    parameters build equal contexts, so a pool rebuilds its context only when
    this value changes."""

    cert_reqs: int | str | None = None
    ca_certs: str | None = None
    ca_cert_dir: str | None = None
    ca_cert_data: str | bytes | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    ssl_version: int | str | None = None
    ssl_minimum_version: int | None = None
    ssl_maximum_version: int | None = None
    server_hostname: str | None = None
    assert_hostname: str | Literal[False] | None = None
    assert_fingerprint: str | None = None

    @classmethod
    def from_attributes(cls, obj: object) -> TLSParams:
        """Read every TLS attribute of ``obj`` (missing ones are None). Pools
        call this when they open a connection, so attributes assigned after the
        pool was created (as requests does) are honoured."""
        return cls(*(getattr(obj, name, None) for name in TLS_ATTRIBUTES))

    def _context_key(self) -> tuple[object, ...]:
        # Everything that shapes the SSLContext; the server name does not.
        return (
            self.cert_reqs,
            self.ca_certs,
            self.ca_cert_dir,
            self.ca_cert_data,
            self.cert_file,
            self.key_file,
            self.key_password,
            # identity: two equal-looking contexts are still different objects
            id(self.ssl_context) if self.ssl_context is not None else None,
            self.ssl_version,
            self.ssl_minimum_version,
            self.ssl_maximum_version,
            bool(self.assert_hostname) or self.assert_hostname is False,
            bool(self.assert_fingerprint),
        )


@dataclasses.dataclass(frozen=True)
class WrappedSocket:
    """The outcome of :meth:`TLSClient.wrap`."""

    sock: TLSSocket
    #: the peer was authenticated: certificate verified, or fingerprint pinned
    is_verified: bool
    #: the handshake resumed a stored session
    resumed: bool
    #: the name sent as SNI and checked (``server_hostname`` or the host)
    server_name: str


class _Context:
    # ``params`` keeps the caller's ssl_context alive, so its id() in ``key``
    # cannot be reused by another object while this entry exists.
    __slots__ = ("context", "default", "key", "params")

    def __init__(
        self, key: tuple[object, ...], params: TLSParams, context: ssl.SSLContext, default: bool
    ) -> None:
        self.key = key
        self.params = params
        self.context = context
        self.default = default


def _expand(path: str | None) -> str | None:
    return os.path.expanduser(path) if path else path


def _key_file_is_encrypted(key_file: str) -> bool:
    with open(key_file, encoding="latin-1") as f:
        return any("ENCRYPTED" in line for line in f)


def build_context(params: TLSParams) -> tuple[ssl.SSLContext, bool]:
    """The SSLContext for ``params``, and whether fastpool made it (True) or
    it is the caller's ``ssl_context`` configured in place, as urllib3 does
    with the context it is given."""
    user_context = params.ssl_context
    cert_reqs = params.cert_reqs
    if cert_reqs is None and user_context is not None:
        cert_reqs = user_context.verify_mode
    verify_mode = resolve_cert_reqs(cert_reqs)
    if user_context is None:
        context = create_urllib3_context(
            ssl_version=resolve_ssl_version(params.ssl_version),
            ssl_minimum_version=params.ssl_minimum_version,
            ssl_maximum_version=params.ssl_maximum_version,
            cert_reqs=verify_mode,
        )
    else:
        context = user_context

    # check_hostname must be off before verify_mode may become CERT_NONE.
    if verify_mode == ssl.CERT_NONE:
        context.check_hostname = False
    context.verify_mode = verify_mode
    if (
        params.assert_fingerprint
        or params.assert_hostname
        or params.assert_hostname is False
        or IS_PYOPENSSL
        or not HAS_NEVER_CHECK_COMMON_NAME
    ):
        # verified after the handshake by TLSClient._verify
        context.check_hostname = False

    ca_certs = _expand(params.ca_certs)
    ca_cert_dir = _expand(params.ca_cert_dir)
    try:
        if ca_certs or ca_cert_dir or params.ca_cert_data:
            context.load_verify_locations(ca_certs, ca_cert_dir, params.ca_cert_data)
        elif user_context is None:
            context.load_default_certs()
        if params.cert_file:
            if (
                params.key_file
                and params.key_password is None
                and _key_file_is_encrypted(params.key_file)
            ):
                raise SSLError("Client private key is encrypted, password is required")
            context.load_cert_chain(params.cert_file, params.key_file, params.key_password)
    except (OSError, ssl.SSLError) as e:  # ssl.SSLError is an OSError; both for clarity
        raise SSLError(e) from e
    context.set_alpn_protocols(list(ALPN_PROTOCOLS))
    return context, user_context is None


def _sni_name(hostname: str) -> str:
    # A trailing dot would defeat certificate matching; IP literals lose their
    # brackets and zone id (the ssl module would take them for DNS names).
    name = hostname.rstrip(".")
    bare = name.strip("[]")
    if "%" in bare:
        bare = bare[: bare.rfind("%")]
    return bare if is_ipaddress(bare) else name


def warn_unverified(host: str) -> None:
    """urllib3's per-request ``InsecureRequestWarning`` for an unverified
    HTTPS connection (silenced by ``fastpool.disable_warnings()``)."""
    warnings.warn(
        f"Unverified HTTPS request is being made to host '{host}'. "
        "Adding certificate verification is strongly advised. See: "
        "https://urllib3.readthedocs.io/en/latest/advanced-usage.html#tls-warnings",
        InsecureRequestWarning,
        stacklevel=3,
    )


def proxy_params(
    pool: TLSParams,
    proxy_ssl_context: ssl.SSLContext | None,
    proxy_assert_hostname: str | Literal[False] | None = None,
    proxy_assert_fingerprint: str | None = None,
) -> TLSParams:
    """The parameters of the TLS leg to an HTTPS proxy.

    With a ``proxy_ssl_context`` that context is used as it is: its own
    ``verify_mode`` and trust store, never changed by the destination's
    ``cert_reqs`` or CA settings. Without one, the leg gets a context of its
    own built from the destination's ``cert_reqs``, CA and version settings
    (what urllib3 does, and what requests relies on for ``verify=`` and CA
    bundles) — never its client certificate, ``ssl_context``,
    ``server_hostname`` or host/fingerprint assertions, which are the proxy's.
    """
    if proxy_ssl_context is not None:
        return TLSParams(
            ssl_context=proxy_ssl_context,
            assert_hostname=proxy_assert_hostname,
            assert_fingerprint=proxy_assert_fingerprint,
        )
    cert_reqs = pool.cert_reqs
    if cert_reqs is None and pool.ssl_context is not None:
        cert_reqs = pool.ssl_context.verify_mode
    return TLSParams(
        cert_reqs=cert_reqs,
        ca_certs=pool.ca_certs,
        ca_cert_dir=pool.ca_cert_dir,
        ca_cert_data=pool.ca_cert_data,
        ssl_version=pool.ssl_version,
        ssl_minimum_version=pool.ssl_minimum_version,
        ssl_maximum_version=pool.ssl_maximum_version,
        assert_hostname=proxy_assert_hostname,
        assert_fingerprint=proxy_assert_fingerprint,
    )


class TLSClient:
    """The TLS side of one pool: its current SSLContext, its stored TLS
    sessions and its handshake counters. Thread-safe; the lock is held only
    for dictionary work, never during a handshake."""

    def __init__(self, *, resume_sessions: bool = True) -> None:
        self.resume_sessions = resume_sessions
        self._lock = threading.Lock()
        self._current: _Context | None = None
        self._sessions: OrderedDict[str, ssl.SSLSession] = OrderedDict()
        self._handshakes = 0
        self._resumed = 0

    # -- context ---------------------------------------------------------

    def context(self, params: TLSParams) -> ssl.SSLContext:
        """The SSLContext for ``params`` (built on first use or after a change)."""
        return self._context(params).context

    def _context(self, params: TLSParams) -> _Context:
        key = params._context_key()
        current = self._current
        if current is not None and current.key == key:
            return current
        # Built outside the lock (loading a trust store takes milliseconds);
        # two threads racing here build two contexts and the last one wins.
        context, default = build_context(params)
        entry = _Context(key, params, context, default)
        with self._lock:
            # Sessions belong to the context that made them.
            self._sessions.clear()
            self._current = entry
        return entry

    # -- handshake -------------------------------------------------------

    def wrap(
        self,
        sock: Any,
        params: TLSParams,
        hostname: str,
        *,
        tls_in_tls: bool = False,
    ) -> WrappedSocket:
        """Handshake over the connected ``sock`` for ``hostname`` (the origin,
        or the proxy for the TLS leg to an HTTPS proxy), then verify the peer.

        ``params.server_hostname`` overrides ``hostname`` for SNI and the name
        check. ``tls_in_tls``: ``sock`` is itself a TLS socket (a tunnel
        through an HTTPS proxy). On failure ``sock`` is closed and
        ``urllib3.exceptions.SSLError`` is raised.
        """
        try:
            entry = self._context(params)
            ctx = entry.context
            name = _sni_name(params.server_hostname or hostname)
            session = None
            if self.resume_sessions and not tls_in_tls:
                with self._lock:
                    session = self._sessions.get(name)
            try:
                if tls_in_tls:
                    ssock: TLSSocket = SSLTransport(sock, ctx, server_hostname=name)
                else:
                    ssock = ctx.wrap_socket(sock, server_hostname=name, session=session)
            except (ssl.SSLError, ssl.CertificateError, CertificateError) as e:
                raise SSLError(e) from e
            try:
                self._verify(ssock, ctx, params, name, default=entry.default)
            except BaseException:
                ssock.close()
                raise
        except BaseException:
            sock.close()
            raise
        resumed = bool(getattr(ssock, "session_reused", False))
        with self._lock:
            self._handshakes += 1
            if resumed:
                self._resumed += 1
        is_verified = ctx.verify_mode == ssl.CERT_REQUIRED or bool(params.assert_fingerprint)
        return WrappedSocket(ssock, is_verified, resumed, name)

    @staticmethod
    def _verify(
        ssock: TLSSocket,
        ctx: ssl.SSLContext,
        params: TLSParams,
        name: str,
        *,
        default: bool,
    ) -> None:
        if params.assert_fingerprint:
            assert_fingerprint(ssock.getpeercert(binary_form=True), params.assert_fingerprint)
            return
        if (
            ctx.verify_mode == ssl.CERT_NONE
            or ctx.check_hostname
            or params.assert_hostname is False
        ):
            return  # nothing to check, or OpenSSL already checked it
        cert = ssock.getpeercert()
        # A context made here never accepts a commonName; the caller's follows
        # its own hostname_checks_common_name.
        common_name = False if default else bool(getattr(ctx, "hostname_checks_common_name", False))
        expected = params.assert_hostname or name
        bare = expected.strip("[]")
        if is_ipaddress(bare):
            expected = bare
        try:
            match_hostname(cert, expected, common_name)  # type: ignore[arg-type]
        except CertificateError as e:
            log.warning(
                "Certificate did not match expected hostname: %s. Certificate: %s", expected, cert
            )
            e._peer_cert = cert  # type: ignore[attr-defined]
            raise SSLError(e) from e

    # -- sessions --------------------------------------------------------

    def offer_session(self, ssock: object, server_name: str) -> bool:
        """Keep the TLS session of ``ssock`` for the pool's next handshake.

        ``server_name`` is :attr:`WrappedSocket.server_name` of the handshake.
        Call it once the first response has been read on a new connection:
        TLS 1.3 servers send their session tickets after the handshake, and
        the ssl module sees them only when it reads application data. Returns
        True when a resumable session was stored.
        """
        if not self.resume_sessions or not isinstance(ssock, ssl.SSLSocket):
            return False
        try:
            session = ssock.session
            version = ssock.version()
        except (OSError, ValueError):  # closed meanwhile
            return False
        if session is None:
            return False
        if version == "TLSv1.3" and not session.has_ticket:
            return False
        name = _sni_name(server_name)
        with self._lock:
            current = self._current
            if current is None or ssock.context is not current.context:
                return False  # made under settings that have changed since
            self._sessions[name] = session
            self._sessions.move_to_end(name)
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return True

    def forget_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    # -- stats -----------------------------------------------------------

    @property
    def handshakes(self) -> int:
        return self._handshakes

    @property
    def resumed(self) -> int:
        return self._resumed

    def stats(self) -> dict[str, int]:
        """``tls_handshakes`` (completed), ``tls_resumed`` (of which resumed a
        stored session: the full handshakes saved)."""
        with self._lock:
            return {"tls_handshakes": self._handshakes, "tls_resumed": self._resumed}
