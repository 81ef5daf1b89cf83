"""Servers for the tests: real sockets on 127.0.0.1, one thread per connection.

``ScriptedServer(handler)`` hands every accepted connection to
``handler(sock, index)``: a handler writes exactly the bytes a scenario needs,
including malformed or truncated ones. ``serve_http(app)`` turns a function of
a parsed :class:`Request` into a keep-alive HTTP/1.1 handler.

Every server stops itself on ``__exit__``: it closes its listening socket,
shuts down the connections it accepted and joins its threads (bounded).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

Handler = Callable[[socket.socket, int], None]


class ScriptedServer:
    def __init__(
        self,
        handler: Handler,
        *,
        tls_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.handler = handler
        self.tls_context = tls_context
        self.host = host
        self.port = 0
        self.accepted = 0
        self.errors: list[BaseException] = []
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def __enter__(self) -> ScriptedServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(256)
        # Blocking accept: __exit__ wakes it at once with shutdown(), so stopping
        # costs no polling interval.
        self._listener = listener
        self.port = listener.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name="scripted-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if self._stopping.is_set():
                sock.close()
                return
            sock.settimeout(10)
            with self._lock:
                index = self.accepted
                self.accepted += 1
                self._conns.append(sock)
            t = threading.Thread(
                target=self._run, args=(sock, index), name=f"scripted-{index}", daemon=True
            )
            with self._lock:
                self._threads.append(t)
            t.start()

    def _run(self, sock: socket.socket, index: int) -> None:
        try:
            if self.tls_context is not None:
                sock = self.tls_context.wrap_socket(sock, server_side=True)
                with self._lock:
                    self._conns.append(sock)
            self.handler(sock, index)
        except (OSError, ssl.SSLError, ConnectionError):
            pass  # the client went away: part of many scenarios
        except BaseException as e:  # a broken handler must fail the test, not vanish
            self.errors.append(e)
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            except OSError:
                pass
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
            threads = list(self._threads)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in threads:
            t.join(timeout=5)


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    raw_head: bytes = b""
    extra: dict[str, object] = field(default_factory=dict)

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]


def read_request(rfile: BinaryIO) -> Request | None:
    """Read one request (head and body) from a buffered reader; None on EOF."""
    lines: list[bytes] = []
    while True:
        line = rfile.readline(65537)
        if not line:
            if lines:
                raise ConnectionError("client closed mid-head")
            return None
        if line in (b"\r\n", b"\n"):
            if not lines:
                continue
            break
        lines.append(line)
    raw_head = b"".join(lines)
    method, target, version = lines[0].decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    for raw in lines[1:]:
        name, _, value = raw.decode("latin-1").rstrip("\r\n").partition(":")
        headers.append((name, value.strip()))
    req = Request(method, target, version, headers, raw_head=raw_head)
    te = (req.header("transfer-encoding") or "").lower()
    if te.endswith("chunked"):
        body = bytearray()
        while True:
            size_line = rfile.readline(1024)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += rfile.read(size)
            rfile.readline(3)
        req.body = bytes(body)
    elif req.header("content-length") is not None:
        req.body = rfile.read(int(req.header("content-length") or 0))
    return req


def response_bytes(
    status: int = 200,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    reason: str = "OK",
    *,
    content_length: bool = True,
) -> bytes:
    head = [f"HTTP/1.1 {status} {reason}"]
    hs = list(headers)
    if content_length and not any(
        k.lower() in ("content-length", "transfer-encoding") for k, _ in hs
    ):
        hs.append(("Content-Length", str(len(body))))
    head += [f"{k}: {v}" for k, v in hs]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


App = Callable[[Request], "bytes | tuple[int, list[tuple[str, str]], bytes]"]


def serve_http(app: App) -> Handler:
    """A keep-alive handler: ``app(request)`` returns raw response bytes, or a
    ``(status, headers, body)`` triple. The connection closes when the request
    or the response says ``Connection: close``, or when the client does."""

    def handler(sock: socket.socket, index: int) -> None:
        rfile = sock.makefile("rb")
        try:
            while True:
                req = read_request(rfile)
                if req is None:
                    return
                req.extra["connection_index"] = index
                out = app(req)
                if isinstance(out, tuple):
                    status, hs, body = out
                    if req.method == "HEAD":
                        data = response_bytes(
                            status, b"", [*hs, ("Content-Length", str(len(body)))]
                        )
                    else:
                        data = response_bytes(status, body, hs)
                else:
                    data = out
                sock.sendall(data)
                head = data.split(b"\r\n\r\n", 1)[0].lower()
                if (
                    b"connection: close" in head
                    or (req.header("connection") or "").lower() == "close"
                ):
                    return
        finally:
            rfile.close()

    return handler
