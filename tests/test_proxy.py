"""Proxies: forwarding for http://, CONNECT tunnels for https://, HTTPS proxies,
and the error paths. The proxy (``tests/_proxy.py``) and the origins run on
127.0.0.1 and record what they saw."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
import urllib3
from _proxy import TestProxy
from _tls import TLSMaterial, TLSServer

import fastpool
from fastpool.exceptions import (
    InsecureRequestWarning,
    MaxRetryError,
    ProxyError,
    ProxySchemeUnknown,
    SSLError,
)
from fastpool.poolmanager import ProxyManager, proxy_from_url
from fastpool.util.request import make_headers

from _server import Request, ScriptedServer, serve_http

TIMEOUT = fastpool.Timeout(connect=5, read=5)
AUTH = make_headers(proxy_basic_auth="user:pass")  # {"proxy-authorization": "Basic ..."}
AUTH_VALUE = AUTH["proxy-authorization"]


class Origin:
    """An origin (plain or TLS) that records every request it served."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def app(self, req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        self.requests.append(req)
        return 200, [("Content-Type", "text/plain")], f"origin saw {req.target}".encode()

    def saw_header(self, name: str) -> bool:
        return any(r.header(name) is not None for r in self.requests)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return TLSMaterial.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def http_origin() -> Iterator[tuple[ScriptedServer, Origin]]:
    origin = Origin()
    with ScriptedServer(serve_http(origin.app)) as srv:
        yield srv, origin


@pytest.fixture
def https_origin(tls: TLSMaterial) -> Iterator[tuple[TLSServer, Origin]]:
    origin = Origin()
    with TLSServer(origin.app, tls.server_context()) as srv:
        yield srv, origin


@pytest.fixture
def proxy() -> Iterator[TestProxy]:
    with TestProxy() as p:
        yield p


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


# -- plain HTTP proxy ------------------------------------------------------------


def test_http_forwarded_in_absolute_form(
    proxy: TestProxy, http_origin: tuple[ScriptedServer, Origin]
) -> None:
    srv, origin = http_origin
    url = f"http://127.0.0.1:{srv.port}/a/b?q=1"
    with ProxyManager(proxy.url, proxy_headers=AUTH, timeout=TIMEOUT, retries=0) as pm:
        r = pm.request("GET", url)
        assert r.status == 200
        assert r.data == b"origin saw /a/b?q=1"
        r = pm.request("GET", url)
        assert r.status == 200
        assert len(pm.pools) == 1  # one pool: the proxy's
    seen = proxy.forwarded()
    assert [rec.target for rec in seen] == [url, url]
    assert all(rec.header("Proxy-Authorization") == AUTH_VALUE for rec in seen)
    assert seen[0].connection_index == seen[1].connection_index  # kept alive
    assert not origin.saw_header("Proxy-Authorization")


def test_http_two_origins_share_the_proxy_pool(proxy: TestProxy) -> None:
    origins = [Origin(), Origin()]
    with (
        ScriptedServer(serve_http(origins[0].app)) as a,
        ScriptedServer(serve_http(origins[1].app)) as b,
    ):
        with proxy_from_url(proxy.url, timeout=TIMEOUT, retries=0) as pm:
            assert pm.request("GET", f"{a.url}/x").status == 200
            assert pm.request("GET", f"{b.url}/y").status == 200
            assert len(pm.pools) == 1
    assert [rec.target for rec in proxy.forwarded()] == [f"{a.url}/x", f"{b.url}/y"]


def test_forwarding_proxy_407_is_a_response(http_origin: tuple[ScriptedServer, Origin]) -> None:
    srv, _ = http_origin
    with TestProxy(require_auth=AUTH_VALUE) as p:
        with ProxyManager(p.url, timeout=TIMEOUT, retries=0) as pm:
            r = pm.request("GET", f"{srv.url}/")
            assert r.status == 407
        with ProxyManager(p.url, proxy_headers=AUTH, timeout=TIMEOUT, retries=0) as pm:
            assert pm.request("GET", f"{srv.url}/").status == 200


# -- CONNECT tunnels -------------------------------------------------------------


def test_https_through_connect_tunnel(
    tls: TLSMaterial, proxy: TestProxy, https_origin: tuple[TLSServer, Origin]
) -> None:
    srv, origin = https_origin
    with ProxyManager(
        proxy.url, proxy_headers=AUTH, ca_certs=tls.ca_file, timeout=TIMEOUT, retries=0
    ) as pm:
        for _ in range(3):
            r = pm.request("GET", f"https://127.0.0.1:{srv.port}/secret")
            assert r.status == 200
            assert r.data == b"origin saw /secret"
    connects = proxy.connects()
    assert [c.target for c in connects] == [f"127.0.0.1:{srv.port}"]
    assert connects[0].header("Proxy-Authorization") == AUTH_VALUE
    assert connects[0].header("Host") == f"127.0.0.1:{srv.port}"
    assert proxy.forwarded() == []  # the proxy never saw the request itself
    assert proxy.tunnels == 1  # one tunnel, kept alive for three requests
    assert [r.target for r in origin.requests] == ["/secret"] * 3  # origin-form inside
    assert not origin.saw_header("Proxy-Authorization")


def test_one_pool_per_https_destination(tls: TLSMaterial, proxy: TestProxy) -> None:
    with (
        TLSServer(Origin().app, tls.server_context()) as a,
        TLSServer(Origin().app, tls.server_context()) as b,
    ):
        with ProxyManager(proxy.url, ca_certs=tls.ca_file, timeout=TIMEOUT, retries=0) as pm:
            assert pm.request("GET", f"{a.url}/").status == 200
            assert pm.request("GET", f"{b.url}/").status == 200
            assert len(pm.pools) == 2
    assert proxy.tunnels == 2


def test_tunnel_verifies_the_origin(tls: TLSMaterial, proxy: TestProxy) -> None:
    with TLSServer(Origin().app, tls.server_context(tls.other_server)) as srv:
        with ProxyManager(proxy.url, ca_certs=tls.ca_file, timeout=TIMEOUT, retries=0) as pm:
            with pytest.raises(MaxRetryError) as ei:
                pm.request("GET", f"{srv.url}/")
            # the proxy was fine; the origin's certificate was not
            assert isinstance(ei.value.reason, SSLError), repr(ei.value.reason)
        with ProxyManager(proxy.url, cert_reqs="CERT_NONE", timeout=TIMEOUT, retries=0) as pm:
            with pytest.warns(InsecureRequestWarning):
                assert pm.request("GET", f"{srv.url}/").status == 200


def test_tunnel_session_resumption(tls: TLSMaterial, proxy: TestProxy) -> None:
    def closing(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        return 200, [("Connection", "close")], b"bye"

    with TLSServer(closing, tls.server_context()) as srv:
        with ProxyManager(proxy.url, ca_certs=tls.ca_file, timeout=TIMEOUT, retries=0) as pm:
            for _ in range(5):
                assert pm.request("GET", f"{srv.url}/").data == b"bye"
            stats = pm.connection_from_url(srv.url, pool_kwargs=None).stats()
        assert stats["tls_resumed"] == 4
        assert srv.resumed_count == 4
    assert proxy.tunnels == 5


@pytest.mark.parametrize("status", [407, 403])
def test_connect_refused_is_proxy_error(
    status: int, tls: TLSMaterial, https_origin: tuple[TLSServer, Origin]
) -> None:
    srv, origin = https_origin
    kw = {"require_auth": AUTH_VALUE} if status == 407 else {"refuse_connect": 403}
    with TestProxy(**kw) as p:  # type: ignore[arg-type]
        with ProxyManager(p.url, ca_certs=tls.ca_file, timeout=TIMEOUT, retries=1) as pm:
            with pytest.raises(MaxRetryError) as ei:
                pm.request("GET", f"{srv.url}/")
        reason = ei.value.reason
        assert isinstance(reason, ProxyError), repr(reason)
        assert isinstance(reason, urllib3.exceptions.ProxyError)
        assert f"Tunnel connection failed: {status}" in str(reason)
        assert len(p.connects()) == 2  # retried once
    assert origin.requests == []


def test_proxy_down_is_proxy_error(tls: TLSMaterial) -> None:
    port = closed_port()
    with ProxyManager(f"http://127.0.0.1:{port}", timeout=TIMEOUT, retries=0) as pm:
        for url in ("http://127.0.0.1:1/", "https://127.0.0.1:1/"):
            with pytest.raises(MaxRetryError) as ei:
                pm.request("GET", url)
            assert isinstance(ei.value.reason, ProxyError), (url, repr(ei.value.reason))
            assert "Unable to connect to proxy" in str(ei.value.reason)


def test_proxy_scheme_unknown() -> None:
    with pytest.raises(ProxySchemeUnknown):
        ProxyManager("ftp://127.0.0.1:21")


# -- HTTPS proxies ------------------------------------------------------------------


@pytest.fixture
def https_proxy(tls: TLSMaterial) -> Iterator[TestProxy]:
    with TestProxy(
        tls_context=tls.server_context(), upstream_tls_context=tls.client_context()
    ) as p:
        yield p


def test_https_proxy_forwarding_http(
    tls: TLSMaterial, https_proxy: TestProxy, http_origin: tuple[ScriptedServer, Origin]
) -> None:
    srv, origin = http_origin
    ctx = ssl.create_default_context(cafile=tls.ca_file)
    with ProxyManager(
        https_proxy.url, proxy_ssl_context=ctx, proxy_headers=AUTH, timeout=TIMEOUT, retries=0
    ) as pm:
        r = pm.request("GET", f"{srv.url}/over-tls")
        assert r.status == 200
    assert [rec.target for rec in https_proxy.forwarded()] == [f"{srv.url}/over-tls"]
    assert https_proxy.forwarded()[0].header("Proxy-Authorization") == AUTH_VALUE
    assert not origin.saw_header("Proxy-Authorization")


def test_https_proxy_tls_in_tls(
    tls: TLSMaterial, https_proxy: TestProxy, https_origin: tuple[TLSServer, Origin]
) -> None:
    srv, origin = https_origin
    ctx = ssl.create_default_context(cafile=tls.ca_file)
    with ProxyManager(
        https_proxy.url,
        proxy_ssl_context=ctx,
        proxy_headers=AUTH,
        ca_certs=tls.ca_file,
        timeout=TIMEOUT,
        retries=0,
    ) as pm:
        for _ in range(2):
            r = pm.request("GET", f"{srv.url}/deep")
            assert r.status == 200
            assert r.data == b"origin saw /deep"
    assert https_proxy.tunnels == 1
    assert https_proxy.connects()[0].header("Proxy-Authorization") == AUTH_VALUE
    assert not origin.saw_header("Proxy-Authorization")


def test_https_proxy_context_not_overridden_by_destination(
    tls: TLSMaterial, https_origin: tuple[TLSServer, Origin]
) -> None:
    srv, _ = https_origin
    # the proxy's certificate comes from a CA only the destination settings trust
    with TestProxy(tls_context=tls.server_context(tls.other_server)) as p:
        proxy_ctx = ssl.create_default_context(cafile=tls.ca_file)
        with ProxyManager(
            p.url,
            proxy_ssl_context=proxy_ctx,
            cert_reqs="CERT_NONE",  # the destination's choice, not the proxy's
            ca_certs=tls.other_ca_file,
            timeout=TIMEOUT,
            retries=0,
        ) as pm:
            with pytest.raises(MaxRetryError) as ei:
                pm.request("GET", f"{srv.url}/")
            assert isinstance(ei.value.reason, ProxyError), repr(ei.value.reason)
        assert p.records == []  # refused before any request reached the proxy
    assert proxy_ctx.verify_mode == ssl.CERT_REQUIRED
    assert proxy_ctx.check_hostname


def test_https_proxy_without_context_uses_destination_ca_settings(
    tls: TLSMaterial, https_proxy: TestProxy, https_origin: tuple[TLSServer, Origin]
) -> None:
    # what requests does with verify=<bundle>: the bundle is also trusted for the proxy
    srv, _ = https_origin
    with ProxyManager(https_proxy.url, ca_certs=tls.ca_file, timeout=TIMEOUT, retries=0) as pm:
        assert pm.request("GET", f"{srv.url}/").status == 200


def test_https_proxy_fingerprint_and_hostname(
    tls: TLSMaterial, https_proxy: TestProxy, http_origin: tuple[ScriptedServer, Origin]
) -> None:
    srv, _ = http_origin
    ctx = ssl.create_default_context(cafile=tls.ca_file)
    ok = ProxyManager(
        https_proxy.url,
        proxy_ssl_context=ctx,
        proxy_assert_fingerprint=tls.fingerprint(),
        timeout=TIMEOUT,
        retries=0,
    )
    with ok:
        assert ok.request("GET", f"{srv.url}/").status == 200
    bad = ProxyManager(
        https_proxy.url,
        proxy_ssl_context=ssl.create_default_context(cafile=tls.ca_file),
        proxy_assert_hostname="proxy.example",
        timeout=TIMEOUT,
        retries=0,
    )
    with bad, pytest.raises(MaxRetryError) as ei:
        bad.request("GET", f"{srv.url}/")
    assert isinstance(ei.value.reason, ProxyError), repr(ei.value.reason)


def test_https_proxy_forwarding_for_https(
    tls: TLSMaterial, https_proxy: TestProxy, https_origin: tuple[TLSServer, Origin]
) -> None:
    srv, _ = https_origin
    with ProxyManager(
        https_proxy.url,
        proxy_ssl_context=ssl.create_default_context(cafile=tls.ca_file),
        use_forwarding_for_https=True,
        timeout=TIMEOUT,
        retries=0,
    ) as pm:
        assert pm.request("GET", f"{srv.url}/fwd").status == 200
    assert https_proxy.tunnels == 0
    assert [rec.target for rec in https_proxy.forwarded()] == [f"{srv.url}/fwd"]


def test_https_proxy_url_for_a_plain_http_proxy_says_so(tls: TLSMaterial) -> None:
    # an https:// proxy URL for a proxy that only speaks plain HTTP: it answers
    # the ClientHello with an HTTP error
    def plain(sock: socket.socket, index: int) -> None:
        sock.recv(65536)
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with (
        ScriptedServer(plain) as srv,
        ProxyManager(
            f"https://127.0.0.1:{srv.port}", ca_certs=tls.ca_file, timeout=TIMEOUT, retries=0
        ) as pm,
    ):
        with pytest.raises(MaxRetryError) as ei:
            pm.request("GET", "http://127.0.0.1:1/")
    assert isinstance(ei.value.reason, ProxyError)
    assert "Your proxy appears to only use HTTP and not HTTPS" in str(ei.value.reason)


def test_requests_through_proxy(
    tls: TLSMaterial, proxy: TestProxy, https_origin: tuple[TLSServer, Origin]
) -> None:
    requests = pytest.importorskip("requests")
    from fastpool.contrib.requests import HTTPAdapter

    srv, origin = https_origin
    proxy_url = f"http://user:pass@127.0.0.1:{proxy.port}"
    with requests.Session() as s:
        s.mount("https://", HTTPAdapter())
        s.trust_env = False
        r = s.get(
            f"{srv.url}/via-requests",
            proxies={"https": proxy_url},
            verify=tls.ca_file,
            timeout=5,
        )
        assert r.status_code == 200
    assert proxy.connects()[0].header("Proxy-Authorization") == AUTH_VALUE
    assert not origin.saw_header("Proxy-Authorization")
