"""A small HTTP proxy for the tests: loopback only, bounded, recording.

``TestProxy`` serves, on one port (plain, or TLS with ``tls_context``):

* absolute-form requests (``GET http://127.0.0.1:PORT/path HTTP/1.1``): the
  request is forwarded to the origin in origin-form without the proxy's own
  headers (``Proxy-Authorization``, ``Proxy-Connection``) and the origin's
  response is relayed. ``https://`` targets are reached with
  ``upstream_tls_context`` (forwarding for HTTPS).
* ``CONNECT host:port``: answered ``200`` and then a byte pipe both ways.

``require_auth="Basic ..."`` answers 407 to anything without that exact
``Proxy-Authorization``; ``refuse_connect=403`` answers every CONNECT so.

Everything the proxy saw is in ``records`` (method, target, headers) and
``tunnels`` (CONNECTs that became pipes). Only 127.0.0.1 / localhost / ::1
upstreams are allowed.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from _server import Request, ScriptedServer, read_request, response_bytes

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_TUNNEL_MAX_SECONDS = 20.0


@dataclass
class ProxyRecord:
    method: str
    target: str
    headers: list[tuple[str, str]]
    connection_index: int

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class TestProxy(ScriptedServer):
    __test__ = False  # not a pytest class

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        require_auth: str | None = None,
        refuse_connect: int | None = None,
        upstream_tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.require_auth = require_auth
        self.refuse_connect = refuse_connect
        self.upstream_tls_context = upstream_tls_context
        self.records: list[ProxyRecord] = []
        self.tunnels = 0
        self._rec_lock = threading.Lock()
        super().__init__(self._handle, tls_context=tls_context)

    # -- helpers -----------------------------------------------------------

    def _record(self, req: Request, index: int) -> None:
        with self._rec_lock:
            self.records.append(ProxyRecord(req.method, req.target, list(req.headers), index))

    def connects(self) -> list[ProxyRecord]:
        with self._rec_lock:
            return [r for r in self.records if r.method == "CONNECT"]

    def forwarded(self) -> list[ProxyRecord]:
        with self._rec_lock:
            return [r for r in self.records if r.method != "CONNECT"]

    @staticmethod
    def _upstream(host: str, port: int) -> socket.socket:
        if host.strip("[]") not in _LOOPBACK:
            raise ConnectionError(f"test proxy refuses non-loopback upstream {host!r}")
        return socket.create_connection((host.strip("[]"), port), timeout=10)

    # -- the handler ---------------------------------------------------------

    def _handle(self, sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            while not self._stopping.is_set():
                req = read_request(rfile)
                if req is None:
                    return
                self._record(req, index)
                if self.require_auth is not None and (
                    req.header("proxy-authorization") != self.require_auth
                ):
                    sock.sendall(
                        response_bytes(
                            407,
                            b"auth please",
                            [("Proxy-Authenticate", 'Basic realm="test"')],
                            reason="Proxy Authentication Required",
                        )
                    )
                    continue
                if req.method == "CONNECT":
                    if self.refuse_connect is not None:
                        sock.sendall(
                            response_bytes(
                                self.refuse_connect,
                                b"no tunnels here",
                                [("Connection", "close")],
                                reason="Forbidden",
                            )
                        )
                        return
                    host, _, port = req.target.rpartition(":")
                    upstream = self._upstream(host, int(port))
                    try:
                        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        with self._rec_lock:
                            self.tunnels += 1
                        self._pipe(sock, upstream)
                    finally:
                        upstream.close()
                    return
                self._forward(sock, req)
                if (req.header("connection") or "").lower() == "close":
                    return
        finally:
            rfile.close()

    def _forward(self, client: socket.socket, req: Request) -> None:
        url = urlsplit(req.target)
        assert url.scheme in ("http", "https"), req.target
        port = url.port or (443 if url.scheme == "https" else 80)
        upstream = self._upstream(url.hostname or "", port)
        try:
            if url.scheme == "https":
                assert self.upstream_tls_context is not None
                upstream = self.upstream_tls_context.wrap_socket(
                    upstream, server_hostname=url.hostname
                )
            path = url.path or "/"
            if url.query:
                path += "?" + url.query
            head = [f"{req.method} {path} HTTP/1.1"]
            for k, v in req.headers:
                if k.lower() in (
                    "proxy-authorization",
                    "proxy-connection",
                    "connection",
                    "content-length",
                    "transfer-encoding",
                ):
                    continue
                head.append(f"{k}: {v}")
            head.append("Connection: close")
            if req.body or req.method in ("POST", "PUT", "PATCH"):
                head.append(f"Content-Length: {len(req.body)}")
            upstream.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + req.body)
            deadline = time.monotonic() + _TUNNEL_MAX_SECONDS
            while time.monotonic() < deadline:
                data = upstream.recv(65536)
                if not data:
                    break
                client.sendall(data)
        finally:
            upstream.close()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until one side closes (bounded in time)."""
        peers = {client: upstream, upstream: client}
        deadline = time.monotonic() + _TUNNEL_MAX_SECONDS
        while time.monotonic() < deadline and not self._stopping.is_set():
            ready = [s for s in peers if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select(list(peers), [], [], 0.2)
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                peers[s].sendall(data)
