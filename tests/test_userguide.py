"""urllib3's user-guide idioms, run against fastpool with only the import changed
(``import fastpool as urllib3``). URLs point at a local server instead of httpbin."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

import fastpool as urllib3  # the only change from the user guide

from _server import Request, ScriptedServer, serve_http


def httpbin(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    path = req.target.split("?")[0]
    if path.startswith("/redirect-to"):
        return 302, [("Location", "/get")], b""
    if path == "/status/418":
        return 418, [], b"teapot"
    if path == "/bytes/1024":
        return 200, [("Content-Type", "application/octet-stream")], bytes(range(256)) * 4
    out = {
        "method": req.method,
        "url": req.target,
        "headers": dict(req.headers),
        "data": req.body.decode("latin-1"),
    }
    return 200, [("Content-Type", "application/json")], json.dumps(out).encode()


@pytest.fixture
def base() -> Iterator[str]:
    with ScriptedServer(serve_http(httpbin)) as srv:
        yield srv.url


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    with urllib3.PoolManager() as pm:
        yield pm


def test_making_requests(http: urllib3.PoolManager, base: str) -> None:
    resp = http.request("GET", f"{base}/robots.txt")
    assert resp.status == 200
    assert resp.data
    resp = urllib3.request("GET", f"{base}/get")
    assert resp.json()["method"] == "GET"


def test_response_content(http: urllib3.PoolManager, base: str) -> None:
    resp = http.request("GET", f"{base}/ip")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert json.loads(resp.data.decode("utf-8"))["url"] == "/ip"
    assert resp.json()["url"] == "/ip"
    resp = http.request("GET", f"{base}/bytes/1024")
    assert len(resp.data) == 1024


def test_query_parameters_and_form_data(http: urllib3.PoolManager, base: str) -> None:
    r = http.request("GET", f"{base}/get", fields={"arg": "value"})
    assert r.json()["url"] == "/get?arg=value"
    encoded_args = urlencode({"arg": "value"})
    r = http.request("POST", f"{base}/post?" + encoded_args)
    assert r.json()["url"] == "/post?arg=value"
    r = http.request("POST", f"{base}/post", fields={"field": "value"})
    assert 'name="field"' in r.json()["data"]


def test_json_and_files(http: urllib3.PoolManager, base: str) -> None:
    data = {"attribute": "value"}
    encoded_data = json.dumps(data).encode("utf-8")
    r = http.request(
        "POST", f"{base}/post", body=encoded_data, headers={"Content-Type": "application/json"}
    )
    assert json.loads(r.json()["data"]) == data
    r = http.request("POST", f"{base}/post", json={"attribute": "value"})
    assert json.loads(r.json()["data"]) == {"attribute": "value"}
    file_data = "contents"
    r = http.request(
        "POST", f"{base}/post", fields={"filefield": ("example.txt", file_data, "text/plain")}
    )
    assert 'filename="example.txt"' in r.json()["data"]
    binary_data = b"\x89PNG"
    r = http.request(
        "POST", f"{base}/post", body=binary_data, headers={"Content-Type": "image/jpeg"}
    )
    assert r.json()["data"] == binary_data.decode("latin-1")


def test_headers(http: urllib3.PoolManager, base: str) -> None:
    r = http.request("GET", f"{base}/headers", headers={"X-Something": "value"})
    assert r.json()["headers"]["X-Something"] == "value"
    headers = urllib3.make_headers(basic_auth="user:passwd", user_agent="my-agent/1.0")
    r = http.request("GET", f"{base}/headers", headers=headers)
    assert r.json()["headers"]["authorization"].startswith("Basic ")
    assert r.json()["headers"]["user-agent"] == "my-agent/1.0"
    h = urllib3.HTTPHeaderDict()
    h.add("Accept", "application/json")
    h.add("Accept", "text/plain")
    r = http.request("GET", f"{base}/headers", headers=h)
    assert r.status == 200


def test_streaming_and_io(http: urllib3.PoolManager, base: str) -> None:
    resp = http.request("GET", f"{base}/bytes/1024", preload_content=False)
    chunks = list(resp.stream(32))
    assert len(chunks) == 32 and b"".join(chunks) == bytes(range(256)) * 4
    resp.release_conn()
    resp = http.request("GET", f"{base}/bytes/1024", preload_content=False)
    assert resp.read(4) == b"\x00\x01\x02\x03"
    assert len(resp.read()) == 1020
    resp.release_conn()
    resp = http.request("GET", f"{base}/get", preload_content=False)
    resp.auto_close = False
    reader = io.TextIOWrapper(resp, encoding="utf-8")
    assert json.loads(reader.read())["url"] == "/get"
    reader.close()


def test_timeouts_retries_redirects(http: urllib3.PoolManager, base: str) -> None:
    assert http.request("GET", f"{base}/delay/0", timeout=4.0).status == 200
    t = urllib3.Timeout(connect=1.0, read=2.0)
    assert http.request("GET", f"{base}/delay/0", timeout=t).status == 200
    http2 = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1.0, read=2.0))
    assert http2.request("GET", f"{base}/get").status == 200
    http2.clear()
    assert http.request("GET", f"{base}/get", retries=10).status == 200
    r = http.request("GET", f"{base}/redirect-to?url=/get", redirect=False)
    assert r.status == 302
    r = http.request("GET", f"{base}/redirect-to?url=/get", retries=urllib3.Retry(3, redirect=2))
    assert r.status == 200 and r.json()["url"] == "/get"
    r = http.request("GET", f"{base}/redirect-to?url=/get", retries=False)
    assert r.status == 302
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        http.request("GET", "http://127.0.0.1:1/", retries=urllib3.Retry(1))
    retries = urllib3.Retry(total=2, status_forcelist=[418], raise_on_status=False)
    assert http.request("GET", f"{base}/status/418", retries=retries).status == 418


def test_connection_pools(base: str) -> None:
    pool = urllib3.connection_from_url(base)
    r = pool.request("GET", "/get")
    assert r.status == 200
    pool.close()
    port = int(base.rsplit(":", 1)[1])
    with urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=10, block=True) as pool:
        assert pool.request("GET", "/x").json()["url"] == "/x"
