"""PoolManager: keys, LRU eviction, cross-host redirects, module-level request."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator

import pytest
from urllib3.exceptions import LocationValueError, MaxRetryError, URLSchemeUnknown

from fastpool.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from fastpool.poolmanager import PoolManager, ProxyManager, proxy_from_url
from fastpool.util.retry import Retry

from _server import Request, ScriptedServer, serve_http


def echo(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    if req.target.startswith("/redirect?to="):
        return int(req.header("x-status") or 302), [("Location", req.target[13:])], b""
    out = {
        "method": req.method,
        "target": req.target,
        "headers": req.headers,
        "body": req.body.decode("latin-1"),
    }
    return 200, [], json.dumps(out).encode()


@pytest.fixture
def servers() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    with ScriptedServer(serve_http(echo)) as a, ScriptedServer(serve_http(echo)) as b:
        yield a, b


def names(seen: dict) -> set[str]:
    return {k.lower() for k, _ in seen["headers"]}


def test_pools_keyed_by_origin_and_settings() -> None:
    with PoolManager(num_pools=10, maxsize=3) as pm:
        p1 = pm.connection_from_url("http://Example.com/a")
        assert pm.connection_from_host("example.com", 80) is p1
        assert pm.connection_from_url("http://example.com:80/b") is p1
        assert p1.maxsize == 3 and isinstance(p1, HTTPConnectionPool)
        p2 = pm.connection_from_host("example.com", 80, pool_kwargs={"maxsize": 5})
        assert p2 is not p1 and p2.maxsize == 5
        p3 = pm.connection_from_url("https://example.com/")
        assert isinstance(p3, HTTPSConnectionPool) and p3.port == 443
        ctx1, ctx2 = ssl.create_default_context(), ssl.create_default_context()
        s1 = pm.connection_from_host("example.com", 443, "https", {"ssl_context": ctx1})
        s2 = pm.connection_from_host("example.com", 443, "https", {"ssl_context": ctx2})
        assert s1 is not s2
        assert pm.connection_from_host("example.com", 443, "https", {"ssl_context": ctx1}) is s1
        # TLS settings do not split plain-HTTP pools
        assert pm.connection_from_host("example.com", 80, "http", {"ca_certs": "/x"}) is p1
        sock_opts = pm.connection_from_host(
            "example.com", 80, pool_kwargs={"socket_options": [(1, 2, 3)]}
        )
        assert sock_opts is not p1
        assert len(pm.pools) == 6
        pm.connection_pool_kw["maxsize"] = 7  # read per request, as urllib3
        assert pm.connection_from_url("http://example.com/").maxsize == 7
        with pytest.raises(LocationValueError):
            pm.connection_from_host("")
        with pytest.raises(URLSchemeUnknown):
            pm.connection_from_host("x", 1, "ftp")


def test_lru_eviction_keeps_inflight_request_working(servers) -> None:
    a, b = servers
    with PoolManager(num_pools=1) as pm:
        r = pm.request("GET", f"{a.url}/one", preload_content=False)
        pool_a = pm.connection_from_url(a.url)
        assert pm.request("GET", f"{b.url}/two").status == 200  # evicts pool_a
        assert pool_a.closed and len(pm.pools) == 1
        assert json.loads(r.data)["target"] == "/one"  # still readable
        s = pool_a.stats()
        assert s["open"] == 0 and s["in_use"] == 0
        assert pm.request("GET", f"{a.url}/again").status == 200  # a fresh pool


def test_cross_host_redirect_strips_sensitive_headers(servers) -> None:
    a, b = servers
    hdrs = {"Authorization": "secret", "Cookie": "c=1", "X-Keep": "1"}
    with PoolManager() as pm:
        r = pm.request("GET", f"{a.url}/redirect?to={b.url}/dest", headers=hdrs)
        seen = r.json()
        assert seen["target"] == "/dest"
        assert "authorization" not in names(seen) and "cookie" not in names(seen)
        assert "x-keep" in names(seen)
        assert r.retries.history[0].redirect_location == f"{b.url}/dest"
        # same host: kept
        seen = pm.request("GET", f"{a.url}/redirect?to=/dest", headers=hdrs).json()
        assert "authorization" in names(seen)
        # custom remove_headers_on_redirect
        r = pm.request(
            "GET",
            f"{a.url}/redirect?to={b.url}/x",
            headers=hdrs,
            retries=Retry(remove_headers_on_redirect=["X-Keep"]),
        )
        assert names(r.json()) >= {"authorization", "cookie"}
        assert "x-keep" not in names(r.json())


def test_303_becomes_get_and_redirect_limits(servers) -> None:
    a, b = servers
    with PoolManager() as pm:
        seen = pm.request(
            "POST",
            f"{a.url}/redirect?to={b.url}/see",
            body=b"data",
            headers={"X-Status": "303", "Content-Type": "text/plain"},
        ).json()
        assert seen["method"] == "GET" and seen["body"] == ""
        assert "content-type" not in names(seen)
        seen = pm.request(
            "POST", f"{a.url}/redirect?to={b.url}/keep", body=b"data", headers={"X-Status": "307"}
        ).json()
        assert seen["method"] == "POST" and seen["body"] == "data"
        with pytest.raises(MaxRetryError):
            pm.request(
                "GET", f"{a.url}/redirect?to={a.url}/redirect?to=/x", retries=Retry(redirect=1)
            )
        r = pm.request("GET", f"{a.url}/redirect?to=/x", redirect=False)
        assert r.status == 302
        r = pm.request(
            "GET",
            f"{a.url}/redirect?to={a.url}/redirect?to=/x",
            retries=Retry(redirect=0, raise_on_redirect=False),
        )
        assert r.status == 302


def test_manager_headers_and_urlopen(servers) -> None:
    a, _ = servers
    with PoolManager(headers={"X-Default": "d"}) as pm:
        seen = pm.request("GET", f"{a.url}/p?q=1", fields=None).json()
        assert seen["target"] == "/p?q=1" and "x-default" in names(seen)
        seen = pm.urlopen("GET", f"{a.url}/u", headers={"X-Own": "o"}).json()
        assert "x-default" not in names(seen) and "x-own" in names(seen)
        seen = pm.request("GET", f"{a.url}/f", fields={"k": "v"}).json()
        assert seen["target"] == "/f?k=v"
        seen = pm.request("POST", f"{a.url}/j", json={"a": 1}).json()
        assert json.loads(seen["body"]) == {"a": 1}
        seen = pm.request("GET", f"{a.url}/a b").json()
        assert seen["target"] == "/a%20b"


def test_forwarding_proxy_plain_http() -> None:
    with (
        ScriptedServer(serve_http(echo)) as proxy,
        proxy_from_url(proxy.url, proxy_headers={"Proxy-Authorization": "Basic eA=="}) as pm,
    ):
        assert isinstance(pm, ProxyManager)
        seen = pm.request("GET", "http://origin.invalid:8080/path").json()
        assert seen["target"] == "http://origin.invalid:8080/path"
        hs = {k.lower(): v for k, v in seen["headers"]}
        assert hs["host"] == "origin.invalid:8080"
        assert hs["proxy-authorization"] == "Basic eA=="


def test_module_level_request(servers) -> None:
    import fastpool

    a, _ = servers
    r = fastpool.request("GET", f"{a.url}/top", headers={"X": "1"})
    assert r.json()["target"] == "/top"
    p = fastpool.connection_from_url(a.url)
    try:
        assert p.request("GET", "/c").status == 200
    finally:
        p.close()


def test_clear_closes_pools(servers) -> None:
    a, b = servers
    pm = PoolManager()
    pm.request("GET", a.url + "/")
    pools = [pm.connection_from_url(a.url)]
    pm.clear()
    assert len(pm.pools) == 0 and all(p.closed for p in pools)
    assert pm.request("GET", b.url + "/").status == 200
    pm.clear()


def test_closed_port_max_retry(servers) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with PoolManager() as pm, pytest.raises(MaxRetryError):
        pm.request("GET", f"http://127.0.0.1:{port}/", retries=1)
