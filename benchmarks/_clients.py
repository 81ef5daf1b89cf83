"""The HTTP clients the benchmark compares, behind one small interface.

A client is built for one cell of the matrix (server, path, expected body
length, thread count) and then asked, possibly from several threads at once,
to ``run(wid, n, deadline)``: make up to ``n`` keep-alive GETs from worker
``wid`` (0 <= wid < threads), verify every response (status 200 and the exact
body length), and stop early once ``time.perf_counter()`` passes ``deadline``.
It returns how many requests it made. A failed check raises ``CheckFailed``.

Clients with a pool share ONE pool between all threads (``maxsize=threads,
block=True``); clients without one (http.client, raw socket, pycurl) get one
connection or handle per worker.

A client whose library is missing raises ``ImportError`` (or
``AttributeError`` for a fastpool that lacks the piece yet) when built; the
runner reports it as unavailable.
"""

from __future__ import annotations

import socket
import threading
from time import perf_counter
from typing import Any, ClassVar

TIMEOUT = 10.0  # seconds; a stuck server fails a request instead of hanging the run
CHECK_EVERY = 64  # requests between deadline checks (a clock read is not free at 6 us/request)


class CheckFailed(Exception):
    """A response did not match what the server sends."""


class Client:
    name: ClassVar[str]
    label: ClassVar[str]
    #: shares one pool between threads (else one connection per thread)
    pooled: ClassVar[bool] = True

    def __init__(self, host: str, port: int, path: str, expected: int, threads: int) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.url = f"http://{host}:{port}{path}"
        self.expected = expected
        self.threads = threads

    def run(self, wid: int, n: int, deadline: float) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def fail(self, status: object, length: object) -> CheckFailed:
        return CheckFailed(
            f"{self.name}: GET {self.url} returned status {status} with {length} body bytes; "
            f"expected status 200 with {self.expected} bytes"
        )


# ----------------------------------------------------------------------------------------------
# urllib3-API clients: fastpool and urllib3 share the code, only the module differs


def _public(module: str, submodule: str, name: str) -> Any:
    """``module.name``, else ``module.submodule.name`` (both are urllib3 2.x public paths)."""
    import importlib

    top = importlib.import_module(module)
    if hasattr(top, name):
        return getattr(top, name)
    return getattr(importlib.import_module(f"{module}.{submodule}"), name)


class _U3Pool(Client):
    module: ClassVar[str]

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.pool = _public(self.module, "connectionpool", "HTTPConnectionPool")(
            self.host, self.port, maxsize=self.threads, block=True, timeout=TIMEOUT
        )

    def run(self, wid: int, n: int, deadline: float) -> int:
        request = self.pool.request
        path = self.path
        expected = self.expected
        i = 0
        while i < n:
            r = request("GET", path)
            if r.status != 200 or len(r.data) != expected:
                raise self.fail(r.status, len(r.data))
            i += 1
            if not i % CHECK_EVERY and perf_counter() > deadline:
                break
        return i

    def close(self) -> None:
        self.pool.close()


class _U3Manager(Client):
    module: ClassVar[str]

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.pm = _public(self.module, "poolmanager", "PoolManager")(
            num_pools=10, maxsize=self.threads, block=True, timeout=TIMEOUT
        )

    def run(self, wid: int, n: int, deadline: float) -> int:
        request = self.pm.request
        url = self.url
        expected = self.expected
        i = 0
        while i < n:
            r = request("GET", url)
            if r.status != 200 or len(r.data) != expected:
                raise self.fail(r.status, len(r.data))
            i += 1
            if not i % CHECK_EVERY and perf_counter() > deadline:
                break
        return i

    def close(self) -> None:
        self.pm.clear()


class FastpoolPool(_U3Pool):
    name = "fastpool"
    label = "fastpool HTTPConnectionPool.request"
    module = "fastpool"


class FastpoolManager(_U3Manager):
    name = "fastpool-pm"
    label = "fastpool PoolManager.request"
    module = "fastpool"


class Urllib3Pool(_U3Pool):
    name = "urllib3"
    label = "urllib3 HTTPConnectionPool.request"
    module = "urllib3"


class Urllib3Manager(_U3Manager):
    name = "urllib3-pm"
    label = "urllib3 PoolManager.request"
    module = "urllib3"


# ----------------------------------------------------------------------------------------------
# requests.Session, with its stock adapter or fastpool's


class _RequestsSession(Client):
    def adapter(self) -> Any:
        raise NotImplementedError

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        import requests

        self.session = requests.Session()
        self.session.mount("http://", self.adapter())

    def run(self, wid: int, n: int, deadline: float) -> int:
        get = self.session.get
        url = self.url
        expected = self.expected
        i = 0
        while i < n:
            r = get(url, timeout=TIMEOUT)
            if r.status_code != 200 or len(r.content) != expected:
                raise self.fail(r.status_code, len(r.content))
            i += 1
            if not i % CHECK_EVERY and perf_counter() > deadline:
                break
        return i

    def close(self) -> None:
        self.session.close()


class RequestsStock(_RequestsSession):
    name = "requests"
    label = "requests.Session (stock adapter)"

    def adapter(self) -> Any:
        from requests.adapters import HTTPAdapter

        return HTTPAdapter(pool_connections=1, pool_maxsize=self.threads, pool_block=True)


class RequestsFastpool(_RequestsSession):
    name = "fastpool-requests"
    label = "requests.Session + fastpool adapter"

    def adapter(self) -> Any:
        from fastpool.contrib.requests import HTTPAdapter

        return HTTPAdapter(pool_connections=1, pool_maxsize=self.threads, pool_block=True)


# ----------------------------------------------------------------------------------------------
# Other libraries, when installed


class Httpx(Client):
    name = "httpx"
    label = "httpx.Client"

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        import httpx

        limits = httpx.Limits(max_connections=self.threads, max_keepalive_connections=self.threads)
        self.client = httpx.Client(limits=limits, timeout=TIMEOUT)

    def run(self, wid: int, n: int, deadline: float) -> int:
        get = self.client.get
        url = self.url
        expected = self.expected
        i = 0
        while i < n:
            r = get(url)
            if r.status_code != 200 or len(r.content) != expected:
                raise self.fail(r.status_code, len(r.content))
            i += 1
            if not i % CHECK_EVERY and perf_counter() > deadline:
                break
        return i

    def close(self) -> None:
        self.client.close()


class Pycurl(Client):
    name = "pycurl"
    label = "pycurl (libcurl), handle per thread"
    pooled = False

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        import io

        import pycurl  # type: ignore[import-not-found]

        self.pycurl = pycurl
        self.handles: list[tuple[Any, io.BytesIO]] = []
        for _ in range(self.threads):
            c = pycurl.Curl()
            buf = io.BytesIO()
            c.setopt(pycurl.URL, self.url)
            c.setopt(pycurl.WRITEDATA, buf)
            c.setopt(pycurl.NOSIGNAL, 1)
            c.setopt(pycurl.TIMEOUT_MS, int(TIMEOUT * 1000))
            c.setopt(pycurl.TCP_NODELAY, 1)
            self.handles.append((c, buf))

    def run(self, wid: int, n: int, deadline: float) -> int:
        c, buf = self.handles[wid]
        perform = c.perform
        getinfo = c.getinfo
        code = self.pycurl.RESPONSE_CODE
        expected = self.expected
        i = 0
        while i < n:
            buf.seek(0)
            buf.truncate()
            perform()
            status = getinfo(code)
            if status != 200 or buf.tell() != expected:
                raise self.fail(status, buf.tell())
            i += 1
            if not i % CHECK_EVERY and perf_counter() > deadline:
                break
        return i

    def close(self) -> None:
        for c, _ in self.handles:
            c.close()


# ----------------------------------------------------------------------------------------------
# The standard library, and the floor


class HttpClientKeepAlive(Client):
    name = "httpclient"
    label = "http.client, one kept-alive connection per thread"
    pooled = False

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        import http.client

        self.conns = [
            http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            for _ in range(self.threads)
        ]

    def run(self, wid: int, n: int, deadline: float) -> int:
        conn = self.conns[wid]
        path = self.path
        expected = self.expected
        i = 0
        while i < n:
            conn.request("GET", path)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200 or len(data) != expected:
                raise self.fail(r.status, len(data))
            i += 1
            if not i % CHECK_EVERY and perf_counter() > deadline:
                break
        return i

    def close(self) -> None:
        for c in self.conns:
            c.close()


class HttpClientNew(Client):
    name = "httpclient-new"
    label = "http.client, new connection per request (no pool)"
    pooled = False

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        import http.client

        self.cls = http.client.HTTPConnection

    def run(self, wid: int, n: int, deadline: float) -> int:
        cls = self.cls
        host, port, path, expected = self.host, self.port, self.path, self.expected
        headers = {"Connection": "close"}  # what urllib.request sends
        i = 0
        while i < n:
            conn = cls(host, port, timeout=TIMEOUT)
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                data = r.read()
            finally:
                conn.close()
            if r.status != 200 or len(data) != expected:
                raise self.fail(r.status, len(data))
            i += 1
            if not i % CHECK_EVERY and perf_counter() > deadline:
                break
        return i


class RawSocket(Client):
    """The floor: prebuilt request bytes, ``sendall``, ``recv`` until the body is in.

    Just enough parsing to find the end of the response (the head's end, then
    Content-Length or the chunked framing) and to check the status and length.
    """

    name = "raw-socket"
    label = "raw socket floor (sendall + recv), socket per thread"
    pooled = False

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.request = b"GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (
            self.path.encode(),
            self.host.encode(),
            self.port,
        )
        self.socks: list[socket.socket] = []
        self._lock = threading.Lock()
        for _ in range(self.threads):
            s = socket.create_connection((self.host, self.port), timeout=TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks.append(s)

    def run(self, wid: int, n: int, deadline: float) -> int:
        sock = self.socks[wid]
        sendall = sock.sendall
        recv = sock.recv
        recv_into = sock.recv_into
        req = self.request
        expected = self.expected
        i = 0
        while i < n:
            sendall(req)
            buf = recv(65536)
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                more = recv(65536)
                if not more:
                    raise self.fail("(connection closed)", 0)
                buf += more
                end = buf.find(b"\r\n\r\n")
            head = buf[:end].lower()
            status = head[9:12]
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                eol = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : eol if eol >= 0 else None])
                have = len(buf) - end - 4
                if have < length:
                    body = bytearray(length)
                    view = memoryview(body)
                    view[:have] = buf[end + 4 :]
                    while have < length:
                        got = recv_into(view[have:])
                        if not got:
                            raise self.fail(status, have)
                        have += got
                elif have > length:
                    raise self.fail(status, f"{have} (or more)")
            else:  # chunked: the message ends with the last chunk and an empty trailer
                rest = buf[end + 4 :]
                while not rest.endswith(b"\r\n0\r\n\r\n") and rest != b"0\r\n\r\n":
                    more = recv(65536)
                    if not more:
                        raise self.fail(status, "(connection closed)")
                    rest += more
                have = _dechunked_length(rest)
            if status != b"200" or have != expected:
                raise self.fail(status.decode(), have)
            i += 1
            if not i % CHECK_EVERY and perf_counter() > deadline:
                break
        return i

    def close(self) -> None:
        for s in self.socks:
            s.close()


def _dechunked_length(data: bytes) -> int:
    total = 0
    pos = 0
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";", 1)[0], 16)
        if size == 0:
            return total
        total += size
        pos = eol + 2 + size + 2


# ----------------------------------------------------------------------------------------------

#: every client, in table order
CLIENTS: dict[str, type[Client]] = {
    c.name: c
    for c in (
        FastpoolPool,
        FastpoolManager,
        RequestsFastpool,
        Urllib3Pool,
        Urllib3Manager,
        RequestsStock,
        Httpx,
        Pycurl,
        HttpClientKeepAlive,
        HttpClientNew,
        RawSocket,
    )
}
