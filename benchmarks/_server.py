"""The benchmark's HTTP/1.1 servers: an embedded asyncio one, and nginx.

Both serve the same fixed bodies (see ``BODIES``) on 127.0.0.1, keep-alive, and
run as a separate process so their CPU time is never counted as the client's.

* ``EmbeddedServer``: this file run as a script; an asyncio raw ``Protocol``
  (uvloop's loop when uvloop is installed) with every response prebuilt. It
  prints ``PORT <n>`` once it listens and stops when its standard input closes,
  so it cannot outlive the runner even if the runner is killed.
* ``NginxServer``: nginx (``apt-get install nginx-light``) as a child process
  with a generated config in a temporary directory, on a free port.

Both are stopped by PID (``stop()``), never by name.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"

SMALL = b"Hello, world!"  # 13 bytes


def _pattern(n: int) -> bytes:
    # Not all one byte, so a client that garbles the body is likely to get the
    # length wrong too; cheap to build once.
    block = bytes(range(256)) * 64  # 16 KiB
    return (block * (n // len(block) + 1))[:n]


#: size label -> (path, body bytes, chunked?)
BODIES: dict[str, tuple[str, bytes, bool]] = {
    "13B": ("/13", SMALL, False),
    "16KiB": ("/16k", _pattern(16 * 1024), False),
    "1MiB": ("/1m", _pattern(1024 * 1024), False),
    "16KiB-chunked": ("/16k-chunked", _pattern(16 * 1024), True),
}
SIZES = list(BODIES)

CHUNK = 4096  # chunk size of the embedded server's chunked body


def _response(body: bytes, chunked: bool, close: bool, date: bytes) -> bytes:
    # The same header fields, in the same order, as nginx sends for a static file, so
    # clients parse as much with either server (header parsing is a good part of
    # a small request's cost).
    head = [
        b"HTTP/1.1 200 OK",
        b"Server: fastpool-bench",
        b"Date: " + date,
        b"Content-Type: application/octet-stream",
    ]
    if chunked:
        head.append(b"Transfer-Encoding: chunked")
        payload = (
            b"".join(
                b"%x\r\n%s\r\n" % (len(body[i : i + CHUNK]), body[i : i + CHUNK])
                for i in range(0, len(body), CHUNK)
            )
            + b"0\r\n\r\n"
        )
    else:
        head.append(b"Content-Length: %d" % len(body))
        head.append(b"Last-Modified: " + STARTED)
        payload = body
    head.append(b"Connection: close" if close else b"Connection: keep-alive")
    if not chunked:
        head.append(b"Accept-Ranges: bytes")
    return b"\r\n".join(head) + b"\r\n\r\n" + payload


def _http_date() -> bytes:
    return email.utils.formatdate(usegmt=True).encode()


STARTED = _http_date()


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
MAX_HEAD = 65536


# ----------------------------------------------------------------------------------------------
# The embedded server (runs in its own process: ``python _server.py``)


def _serve(host: str, port: int) -> None:
    import asyncio

    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        uvloop = None

    keep: dict[str, bytes] = {}
    close: dict[str, bytes] = {}

    def refresh() -> None:  # the Date field, once a second, as nginx does
        date = _http_date()
        for path, body, chunked in BODIES.values():
            keep[path] = _response(body, chunked, False, date)
            close[path] = _response(body, chunked, True, date)

    refresh()

    class Http(asyncio.Protocol):
        __slots__ = ("buf", "transport")

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]
            self.buf = b""
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def data_received(self, data: bytes) -> None:
            buf = self.buf + data if self.buf else data
            write = self.transport.write
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        write(BAD_REQUEST)
                        self.transport.close()
                        buf = b""
                    break
                head = buf[:end]
                buf = buf[end + 4 :]
                sp1 = head.find(b" ")
                sp2 = head.find(b" ", sp1 + 1)
                target = head[sp1 + 1 : sp2].split(b"?", 1)[0].decode("latin-1")
                lower = head.lower()
                # GET bodies are not expected; skip one if a length is announced.
                cl = lower.find(b"\ncontent-length:")
                if cl >= 0:
                    line_end = lower.find(b"\r\n", cl + 1)
                    n = int(lower[cl + 16 : line_end if line_end >= 0 else None])
                    buf = buf[n:]
                if b"connection: close" in lower:
                    write(close.get(target, NOT_FOUND))
                    self.transport.close()
                    buf = b""
                    break
                write(keep.get(target, NOT_FOUND))
            self.buf = buf

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def tick() -> None:
            refresh()
            loop.call_later(1.0, tick)

        loop.call_later(1.0, tick)
        server = await loop.create_server(Http, host, port, backlog=1024, reuse_address=True)
        bound = server.sockets[0].getsockname()[1]
        done = loop.create_future()
        # Stop when the parent closes our stdin (or dies).
        stdin = sys.stdin.fileno()
        os.set_blocking(stdin, False)

        def on_stdin() -> None:
            try:
                data = os.read(stdin, 4096)
            except BlockingIOError:
                return
            if not data and not done.done():
                done.set_result(None)

        loop.add_reader(stdin, on_stdin)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: done.done() or done.set_result(None))
        loop_name = "uvloop" if uvloop is not None else "asyncio"
        sys.stdout.write(f"PORT {bound} {loop_name}\n")
        sys.stdout.flush()
        await done
        server.close()

    if uvloop is not None:
        uvloop.run(main())
    else:
        asyncio.run(main())


# ----------------------------------------------------------------------------------------------
# Process control (used by run.py and the pytest-benchmark fixtures)


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _tids(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [pid]


def set_affinity(pid: int, cpus: set[int]) -> None:
    """Pin every thread of process ``pid`` to ``cpus`` (Linux)."""
    for tid in _tids(pid):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(tid, cpus)


def _wait_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server did not listen on {host}:{port} within {timeout}s"
                ) from None
            time.sleep(0.02)


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


class EmbeddedServer:
    """This file as a child process. ``start()`` returns once it listens."""

    kind = "embedded"

    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.description = "embedded asyncio server"

    def start(self, timeout: float = 15.0) -> EmbeddedServer:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--host", self.host, "--port", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=_set_pdeathsig,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"embedded server did not start (said {line!r})")
        _, port, loop_name = line.split()
        self.port = int(port)
        self.description = f"embedded asyncio server ({loop_name} loop, 1 process)"
        return self

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc is not None and self.proc.poll() is None else []

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()  # the server's signal to stop
        try:
            proc.wait(2.0)
        except subprocess.TimeoutExpired:
            _stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


NGINX_CONF = """\
# Generated by benchmarks/_server.py for one benchmark run.
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile off;  # header and a small body in one write: one segment, one wake-up
    open_file_cache max=16;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    default_type application/octet-stream;
    etag off;
    server {{
        listen {host}:{port} backlog=1024;
        root {tmp}/www;
        location = /13 {{ try_files /13 =404; }}
        location = /16k {{ try_files /16k =404; }}
        location = /1m {{ try_files /1m =404; }}
        # SSI drops Content-Length, so nginx frames the body with chunked encoding.
        location = /16k-chunked {{ ssi on; ssi_types *; try_files /16k-chunked =404; }}
    }}
}}
"""


class NginxServer:
    """nginx as a child process: ``apt-get install nginx-light``."""

    kind = "nginx"

    def __init__(self, host: str = HOST, binary: str | None = None) -> None:
        self.host = host
        self.port = 0
        self.binary = (
            binary
            or shutil.which("nginx")
            or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp: str | None = None
        self.description = "nginx"

    def start(self, timeout: float = 10.0) -> NginxServer:
        if self.binary is None:
            raise RuntimeError(
                "nginx is not installed (Debian/Ubuntu: apt-get install nginx-light)"
            )
        version = subprocess.run(
            [self.binary, "-v"], capture_output=True, text=True, timeout=10
        ).stderr.strip()
        self.description = f"{version.replace('nginx version: ', '')}, 1 worker process"
        self.tmp = tempfile.mkdtemp(prefix="fastpool-bench-nginx-")
        os.chmod(self.tmp, 0o755)  # the worker runs as an unprivileged user when we are root
        www = os.path.join(self.tmp, "www")
        os.mkdir(www)
        os.chmod(www, 0o755)
        for path, body, _chunked in BODIES.values():
            with open(os.path.join(www, path.lstrip("/")), "wb") as f:
                f.write(body)
            os.chmod(os.path.join(www, path.lstrip("/")), 0o644)
        last: Exception | None = None
        for _attempt in range(3):  # the free port can be taken between probe and bind
            self.port = _free_port(self.host)
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=self.tmp, host=self.host, port=self.port))
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "-p",
                    self.tmp,
                    "-c",
                    conf,
                    "-e",
                    os.path.join(self.tmp, "error.log"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                preexec_fn=_set_pdeathsig,
            )
            try:
                _wait_port(self.host, self.port, self.proc, timeout)
                return self
            except RuntimeError as e:
                err = b""
                if self.proc.stderr is not None and self.proc.poll() is not None:
                    err = self.proc.stderr.read()
                last = RuntimeError(f"{e}: {err.decode(errors='replace').strip()}")
                _stop(self.proc)
        self.stop()
        raise RuntimeError(f"nginx did not start: {last}")

    @property
    def pids(self) -> list[int]:
        """The master and its workers (children of the master we started)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        master = self.proc.pid
        pids = [master]
        try:
            entries = os.listdir("/proc")
        except OSError:  # no procfs: the master only
            entries = []
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master:
                pids.append(int(entry))
        return pids

    def stop(self) -> None:
        _stop(self.proc)  # SIGTERM to the master we started: it stops its workers
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self) -> NginxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_server(kind: str, host: str = HOST) -> EmbeddedServer | NginxServer:
    if kind == "nginx":
        return NginxServer(host)
    if kind == "embedded":
        return EmbeddedServer(host)
    raise ValueError(f"unknown server kind {kind!r} (embedded or nginx)")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description="fastpool benchmark server (stops when stdin closes)"
    )
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    _serve(args.host, args.port)
