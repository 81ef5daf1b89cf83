"""TLS material and servers for the HTTPS and proxy tests.

``TLSMaterial`` holds trustme certificates written to a directory:

* ``ca``: the test CA; ``ca_file`` its PEM;
* ``server``: a leaf for ``localhost``, ``127.0.0.1`` and ``::1``;
* ``server_localhost_only``: a leaf for ``localhost`` only (connecting to
  127.0.0.1 with it is a host-name mismatch);
* ``other_ca``: a CA nobody trusts, and ``other_server``, a leaf from it for
  the same names;
* ``client``: a client certificate from ``ca`` (``client_cert_file`` and
  ``client_key_file``, unencrypted; ``client_key_encrypted_file`` with the
  password ``client_key_password``).

``TLSServer`` is a ``ScriptedServer`` that speaks TLS and records, for each
connection, what the handshake showed the server: ALPN, SNI, TLS version,
whether the session was resumed, and the client certificate.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

from _server import App, ScriptedServer, serve_http

CLIENT_KEY_PASSWORD = "s3cret"


@dataclass
class TLSMaterial:
    ca: trustme.CA
    server: trustme.LeafCert
    server_localhost_only: trustme.LeafCert
    other_ca: trustme.CA
    other_server: trustme.LeafCert
    client: trustme.LeafCert
    ca_file: str
    other_ca_file: str
    client_cert_file: str
    client_key_file: str
    client_key_encrypted_file: str
    client_key_password: str = CLIENT_KEY_PASSWORD

    @classmethod
    def create(cls, directory: Path) -> TLSMaterial:
        ca = trustme.CA()
        other_ca = trustme.CA()
        server = ca.issue_cert("localhost", "127.0.0.1", "::1")
        only = ca.issue_cert("localhost")
        other_server = other_ca.issue_cert("localhost", "127.0.0.1", "::1")
        client = ca.issue_cert("client@example.org", common_name="fastpool test client")
        ca_file = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        other_ca_file = directory / "other-ca.pem"
        other_ca.cert_pem.write_to_path(str(other_ca_file))
        cert_file = directory / "client.pem"
        client.cert_chain_pems[0].write_to_path(str(cert_file))
        key_file = directory / "client.key"
        client.private_key_pem.write_to_path(str(key_file))
        key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.BestAvailableEncryption(CLIENT_KEY_PASSWORD.encode()),
        )
        enc_file = directory / "client-encrypted.key"
        enc_file.write_bytes(encrypted)
        return cls(
            ca=ca,
            server=server,
            server_localhost_only=only,
            other_ca=other_ca,
            other_server=other_server,
            client=client,
            ca_file=str(ca_file),
            other_ca_file=str(other_ca_file),
            client_cert_file=str(cert_file),
            client_key_file=str(key_file),
            client_key_encrypted_file=str(enc_file),
        )

    def server_context(
        self,
        cert: trustme.LeafCert | None = None,
        *,
        require_client_cert: bool = False,
        maximum_version: ssl.TLSVersion | None = None,
        alpn: list[str] | None = None,
    ) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        (cert or self.server).configure_cert(ctx)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(ctx)
        if maximum_version is not None:
            ctx.maximum_version = maximum_version
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting the test CA (for proxies' upstream legs)."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def fingerprint(self, cert: trustme.LeafCert | None = None, algo: str = "sha256") -> str:
        pem = (cert or self.server).cert_chain_pems[0].bytes()
        der = ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))
        return hashlib.new(algo, der).hexdigest()


@dataclass
class Handshake:
    """What the server saw of one TLS connection."""

    index: int
    alpn: str | None
    version: str | None
    resumed: bool
    sni: str | None
    client_cert: dict[str, object] | None


class TLSServer(ScriptedServer):
    """A keep-alive HTTPS server for ``app`` that records each handshake in
    ``handshakes`` (in connection order)."""

    def __init__(
        self,
        app: App,
        context: ssl.SSLContext,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        self.handshakes: list[Handshake] = []
        self._sni: dict[int, str | None] = {}
        self._hs_lock = threading.Lock()
        context.sni_callback = self._on_sni
        http = serve_http(app)

        def handler(sock: socket.socket, index: int) -> None:
            assert isinstance(sock, ssl.SSLSocket)
            with self._hs_lock:
                self.handshakes.append(
                    Handshake(
                        index=index,
                        alpn=sock.selected_alpn_protocol(),
                        version=sock.version(),
                        resumed=sock.session_reused,
                        sni=self._sni.pop(id(sock), None),
                        client_cert=sock.getpeercert() or None,  # type: ignore[arg-type]
                    )
                )
            http(sock, index)
            # close_notify, as real servers send it: OpenSSL forgets the
            # session (no resumption by session id) of a connection that
            # ends without one.
            try:
                sock.unwrap()
            except (OSError, ValueError):
                pass

        super().__init__(handler, tls_context=context, host=host)

    def _on_sni(self, sock: ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
        # called with the server-side SSLSocket during its handshake
        with self._hs_lock:
            self._sni[id(sock)] = name

    @property
    def resumed_count(self) -> int:
        with self._hs_lock:
            return sum(1 for h in self.handshakes if h.resumed)


def hello_app(req: object) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Type", "text/plain")], b"hello over tls"
