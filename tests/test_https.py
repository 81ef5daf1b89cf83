"""HTTPS: verification, client certificates, pinning, versions, session reuse.

A real TLS server on 127.0.0.1 with trustme certificates (``tests/_tls.py``).
Every test is bounded: short timeouts, no retries unless a test counts them.
"""

from __future__ import annotations

import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from _tls import TLSMaterial, TLSServer, hello_app

import fastpool
from fastpool._tls import TLSClient, TLSParams
from fastpool.connectionpool import HTTPSConnectionPool
from fastpool.exceptions import InsecureRequestWarning, MaxRetryError, SSLError
from fastpool.poolmanager import PoolManager

from _server import Request

TIMEOUT = fastpool.Timeout(connect=5, read=5)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return TLSMaterial.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(tls: TLSMaterial) -> Iterator[TLSServer]:
    with TLSServer(hello_app, tls.server_context(alpn=["http/1.1"])) as srv:
        yield srv


def pool_for(srv: TLSServer, host: str = "127.0.0.1", **kw: object) -> HTTPSConnectionPool:
    kw.setdefault("timeout", TIMEOUT)
    kw.setdefault("retries", 0)
    return HTTPSConnectionPool(host, srv.port, **kw)  # type: ignore[arg-type]


def ssl_error_of(excinfo: pytest.ExceptionInfo[BaseException]) -> SSLError:
    """The SSLError a failed request raised, directly or as MaxRetryError.reason."""
    err = excinfo.value
    if isinstance(err, MaxRetryError):
        err = err.reason  # type: ignore[assignment]
    assert isinstance(err, urllib3.exceptions.SSLError), repr(err)
    return err


# -- verification ---------------------------------------------------------------


def test_verified_request(tls: TLSMaterial, server: TLSServer) -> None:
    with pool_for(server, ca_certs=tls.ca_file) as pool:
        r = pool.request("GET", "/")
        assert r.status == 200
        assert r.data == b"hello over tls"
    assert len(server.handshakes) == 1
    hs = server.handshakes[0]
    assert hs.alpn == "http/1.1"  # ALPN offered by the client
    assert hs.version in ("TLSv1.2", "TLSv1.3")
    assert hs.client_cert is None


def test_ca_cert_data_and_dir(tls: TLSMaterial, server: TLSServer, tmp_path: Path) -> None:
    pem = Path(tls.ca_file).read_text()
    with pool_for(server, ca_cert_data=pem) as pool:
        assert pool.request("GET", "/").status == 200
    # ca_cert_dir: OpenSSL looks certificates up by subject hash
    ca_dir = tmp_path / "cadir"
    ca_dir.mkdir()
    subject_hash = _subject_hash(tls.ca_file)
    (ca_dir / f"{subject_hash}.0").write_text(pem)
    with pool_for(server, ca_cert_dir=str(ca_dir)) as pool:
        assert pool.request("GET", "/").status == 200


def _subject_hash(ca_file: str) -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", ca_file],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        pytest.skip("openssl command not available to hash the CA subject")
    return out.stdout.strip()


def test_system_trust_store_by_default_rejects_unknown_ca(server: TLSServer) -> None:
    with pool_for(server) as pool, pytest.raises(MaxRetryError) as ei:
        pool.request("GET", "/")
    err = ssl_error_of(ei)
    assert "CERTIFICATE_VERIFY_FAILED" in str(err)


def test_unknown_ca_is_ssl_error_inside_max_retry(tls: TLSMaterial, server: TLSServer) -> None:
    with pool_for(server, ca_certs=tls.other_ca_file, retries=2) as pool:
        with pytest.raises(MaxRetryError) as ei:
            pool.request("GET", "/")
        ssl_error_of(ei)
        assert pool.stats()["open"] == 0
    # every attempt reached the server and was refused by the client
    assert server.accepted == 3


def test_wrong_host_name(tls: TLSMaterial) -> None:
    ctx = tls.server_context(tls.server_localhost_only)
    with TLSServer(hello_app, ctx) as srv:
        # 127.0.0.1 is not a name in the certificate
        with pool_for(srv, ca_certs=tls.ca_file) as pool, pytest.raises(MaxRetryError) as ei:
            pool.request("GET", "/")
        assert "127.0.0.1" in str(ssl_error_of(ei))
        # ... unless the name to check is given
        with pool_for(srv, ca_certs=tls.ca_file, assert_hostname="localhost") as pool:
            assert pool.request("GET", "/").status == 200
        # ... or the name is sent and checked as such (SNI too)
        with pool_for(srv, ca_certs=tls.ca_file, server_hostname="localhost") as pool:
            assert pool.request("GET", "/").status == 200
        assert srv.handshakes[-1].sni == "localhost"
        # assert_hostname=False: chain verified, name not checked
        with pool_for(srv, ca_certs=tls.ca_file, assert_hostname=False) as pool:
            assert pool.request("GET", "/").status == 200
        # a wrong assert_hostname fails
        with pool_for(srv, ca_certs=tls.ca_file, assert_hostname="example.com") as pool:
            with pytest.raises(MaxRetryError) as ei:
                pool.request("GET", "/")
            assert "example.com" in str(ssl_error_of(ei))


def test_sni_sent_for_names_not_addresses(tls: TLSMaterial, server: TLSServer) -> None:
    with pool_for(server, host="localhost", ca_certs=tls.ca_file) as pool:
        assert pool.request("GET", "/").status == 200
    with pool_for(server, ca_certs=tls.ca_file) as pool:
        assert pool.request("GET", "/").status == 200
    assert [h.sni for h in server.handshakes] == ["localhost", None]


def test_cert_none_works_and_warns_per_request(tls: TLSMaterial) -> None:
    with TLSServer(hello_app, tls.server_context(tls.other_server)) as srv:
        with pool_for(srv, cert_reqs="CERT_NONE") as pool:
            for _ in range(2):
                with pytest.warns(InsecureRequestWarning, match="Unverified HTTPS request"):
                    assert pool.request("GET", "/").status == 200
            assert pool.stats()["reused"] >= 1


def test_disable_warnings_silences_insecure_request_warning(tls: TLSMaterial) -> None:
    with TLSServer(hello_app, tls.server_context(tls.other_server)) as srv:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("error")
            fastpool.disable_warnings()
            with pool_for(srv, cert_reqs=ssl.CERT_NONE) as pool:
                assert pool.request("GET", "/").status == 200
        assert seen == []


def test_user_ssl_context(tls: TLSMaterial, server: TLSServer) -> None:
    ctx = ssl.create_default_context(cafile=tls.ca_file)
    with pool_for(server, ssl_context=ctx) as pool:
        assert pool.request("GET", "/").status == 200
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    with pool_for(server, ssl_context=insecure) as pool:
        with pytest.warns(InsecureRequestWarning):
            assert pool.request("GET", "/").status == 200


# -- client certificates ---------------------------------------------------------


def test_client_certificate(tls: TLSMaterial) -> None:
    with TLSServer(hello_app, tls.server_context(require_client_cert=True)) as srv:
        with pool_for(
            srv,
            ca_certs=tls.ca_file,
            cert_file=tls.client_cert_file,
            key_file=tls.client_key_file,
        ) as pool:
            assert pool.request("GET", "/").status == 200
        cert = srv.handshakes[-1].client_cert
        assert cert is not None
        assert ("email", "client@example.org") in cert["subjectAltName"]  # type: ignore[operator]

        with pool_for(
            srv,
            ca_certs=tls.ca_file,
            cert_file=tls.client_cert_file,
            key_file=tls.client_key_encrypted_file,
            key_password=tls.client_key_password,
        ) as pool:
            assert pool.request("GET", "/").status == 200


def test_client_certificate_missing_or_locked(tls: TLSMaterial) -> None:
    with TLSServer(hello_app, tls.server_context(require_client_cert=True)) as srv:
        with pool_for(srv, ca_certs=tls.ca_file) as pool:
            # TLS 1.3 reports the server's refusal on the first read
            with pytest.raises(MaxRetryError) as ei:
                pool.request("GET", "/")
            assert isinstance(
                ei.value.reason, (urllib3.exceptions.SSLError, urllib3.exceptions.ProtocolError)
            )
        with pool_for(
            srv,
            ca_certs=tls.ca_file,
            cert_file=tls.client_cert_file,
            key_file=tls.client_key_encrypted_file,
        ) as pool:
            with pytest.raises(MaxRetryError) as ei:
                pool.request("GET", "/")
            assert "password is required" in str(ssl_error_of(ei))


# -- fingerprint pinning -----------------------------------------------------------


def test_fingerprint_match(tls: TLSMaterial, server: TLSServer) -> None:
    fp = tls.fingerprint()
    with pool_for(server, ca_certs=tls.ca_file, assert_fingerprint=fp) as pool:
        assert pool.request("GET", "/").status == 200
    sha1 = tls.fingerprint(algo="sha1")
    colons = ":".join(sha1[i : i + 2] for i in range(0, len(sha1), 2)).upper()
    with pool_for(server, ca_certs=tls.ca_file, assert_fingerprint=colons) as pool:
        assert pool.request("GET", "/").status == 200


def test_fingerprint_pins_an_untrusted_certificate_without_warning(tls: TLSMaterial) -> None:
    with TLSServer(hello_app, tls.server_context(tls.other_server)) as srv:
        fp = tls.fingerprint(tls.other_server)
        with pool_for(srv, cert_reqs="CERT_NONE", assert_fingerprint=fp) as pool:
            assert pool.request("GET", "/").status == 200  # no InsecureRequestWarning


def test_fingerprint_mismatch(tls: TLSMaterial, server: TLSServer) -> None:
    wrong = tls.fingerprint(tls.other_server)
    with pool_for(server, ca_certs=tls.ca_file, assert_fingerprint=wrong) as pool:
        with pytest.raises(MaxRetryError) as ei:
            pool.request("GET", "/")
        assert "Fingerprints did not match" in str(ssl_error_of(ei))
        assert pool.stats()["open"] == 0


# -- protocol versions ---------------------------------------------------------------


def test_minimum_version_refused(tls: TLSMaterial) -> None:
    ctx = tls.server_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    with TLSServer(hello_app, ctx) as srv:
        with pool_for(
            srv, ca_certs=tls.ca_file, ssl_minimum_version=ssl.TLSVersion.TLSv1_3
        ) as pool:
            with pytest.raises(MaxRetryError) as ei:
                pool.request("GET", "/")
            ssl_error_of(ei)
        with pool_for(srv, ca_certs=tls.ca_file) as pool:  # default minimum: TLS 1.2
            assert pool.request("GET", "/").status == 200
        assert srv.handshakes[-1].version == "TLSv1.2"


def test_maximum_version(tls: TLSMaterial, server: TLSServer) -> None:
    with pool_for(server, ca_certs=tls.ca_file, ssl_maximum_version=ssl.TLSVersion.TLSv1_2) as pool:
        assert pool.request("GET", "/").status == 200
    assert server.handshakes[-1].version == "TLSv1.2"


def test_default_minimum_is_tls12(tls: TLSMaterial) -> None:
    ctx = TLSClient().context(TLSParams(ca_certs=tls.ca_file))
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname


# -- attributes are read when a connection opens ---------------------------------------


def test_attributes_assigned_after_creation_are_honoured(
    tls: TLSMaterial, server: TLSServer
) -> None:
    with pool_for(server) as pool:
        # what requests' HTTPAdapter.cert_verify does
        pool.cert_reqs = "CERT_REQUIRED"
        pool.ca_certs = tls.ca_file
        pool.ca_cert_dir = None
        assert pool.request("GET", "/").status == 200


def test_changed_attributes_apply_to_the_next_connection(tls: TLSMaterial) -> None:
    app_ctx = tls.server_context(require_client_cert=True)
    with TLSServer(hello_app, app_ctx) as srv:
        with pool_for(srv, ca_certs=tls.other_ca_file) as pool:
            with pytest.raises(MaxRetryError):
                pool.request("GET", "/")
            pool.ca_certs = tls.ca_file
            pool.cert_file = tls.client_cert_file
            pool.key_file = tls.client_key_file
            assert pool.request("GET", "/").status == 200


# -- session resumption ----------------------------------------------------------------


def _closing_app(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Connection", "close")], b"one request per connection"


@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_session_resumption_saves_handshakes(
    tls: TLSMaterial, max_version: ssl.TLSVersion | None
) -> None:
    n = 20
    with TLSServer(_closing_app, tls.server_context(maximum_version=max_version)) as srv:
        with pool_for(srv, ca_certs=tls.ca_file) as pool:
            for _ in range(n):
                assert pool.request("GET", "/").data == b"one request per connection"
            stats = pool.stats()
        assert stats["tls_handshakes"] == n
        assert stats["tls_resumed"] == n - 1  # every connection after the first
        assert srv.resumed_count == n - 1  # ... as the server saw it
        assert srv.handshakes[0].resumed is False


def test_sessions_not_shared_across_changed_settings(tls: TLSMaterial) -> None:
    with TLSServer(_closing_app, tls.server_context()) as srv:
        with pool_for(srv, ca_certs=tls.ca_file) as pool:
            pool.request("GET", "/")
            pool.request("GET", "/")
            pool.ca_cert_data = Path(tls.ca_file).read_text()  # a new context
            pool.request("GET", "/")
            pool.request("GET", "/")
            assert pool.stats()["tls_resumed"] == 2
        assert [h.resumed for h in srv.handshakes] == [False, True, False, True]


def test_resumed_session_still_checks_fingerprint(tls: TLSMaterial) -> None:
    with TLSServer(_closing_app, tls.server_context()) as srv:
        with pool_for(srv, ca_certs=tls.ca_file, assert_fingerprint=tls.fingerprint()) as pool:
            pool.request("GET", "/")
            pool.request("GET", "/")
            assert pool.stats()["tls_resumed"] == 1
            pool.assert_fingerprint = tls.fingerprint(tls.other_server)
            with pytest.raises(MaxRetryError):
                pool.request("GET", "/")


def test_threads_share_an_https_pool(tls: TLSMaterial, server: TLSServer) -> None:
    errors: list[BaseException] = []
    with pool_for(server, ca_certs=tls.ca_file, maxsize=4, block=True) as pool:

        def worker() -> None:
            try:
                for _ in range(10):
                    assert pool.request("GET", "/").data == b"hello over tls"
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        stats = pool.stats()
    assert errors == []
    assert stats["open"] <= 4
    assert stats["tls_handshakes"] == stats["connections_opened"]


# -- PoolManager ------------------------------------------------------------------------


def test_pool_manager_keys_https_pools_by_tls_settings(tls: TLSMaterial, server: TLSServer) -> None:
    url = f"https://127.0.0.1:{server.port}/"
    with PoolManager(timeout=TIMEOUT, retries=0) as pm:
        a = pm.connection_from_url(url, pool_kwargs={"ca_certs": tls.ca_file})
        b = pm.connection_from_url(url, pool_kwargs={"ca_certs": tls.other_ca_file})
        c = pm.connection_from_url(url, pool_kwargs={"ca_certs": tls.ca_file})
        d = pm.connection_from_url(
            url, pool_kwargs={"ca_certs": tls.ca_file, "cert_reqs": "CERT_REQUIRED"}
        )
        ctx = ssl.create_default_context(cafile=tls.ca_file)
        e = pm.connection_from_url(url, pool_kwargs={"ssl_context": ctx})
        f = pm.connection_from_url(
            url, pool_kwargs={"ca_certs": tls.ca_file, "assert_fingerprint": tls.fingerprint()}
        )
        assert a is c
        assert len({id(p) for p in (a, b, d, e, f)}) == 5
        assert a.request("GET", "/").status == 200
        assert e.request("GET", "/").status == 200
        with pytest.raises(MaxRetryError):
            b.request("GET", "/")


def test_pool_manager_https_request(tls: TLSMaterial, server: TLSServer) -> None:
    with PoolManager(ca_certs=tls.ca_file, timeout=TIMEOUT, retries=0) as pm:
        r = pm.request("GET", f"https://127.0.0.1:{server.port}/")
        assert r.status == 200
        assert r.data == b"hello over tls"


def test_requests_adapter_verify_and_cert(tls: TLSMaterial) -> None:
    requests = pytest.importorskip("requests")
    from fastpool.contrib.requests import HTTPAdapter

    with TLSServer(hello_app, tls.server_context(require_client_cert=True)) as srv:
        with requests.Session() as s:
            s.mount("https://", HTTPAdapter())
            r = s.get(
                f"https://127.0.0.1:{srv.port}/",
                verify=tls.ca_file,
                cert=(tls.client_cert_file, tls.client_key_file),
                timeout=5,
            )
            assert r.status_code == 200
            with pytest.raises(requests.exceptions.SSLError):
                s.get(f"https://127.0.0.1:{srv.port}/", verify=tls.other_ca_file, timeout=5)


def test_handshake_time_is_bounded(tls: TLSMaterial) -> None:
    # a server that accepts TCP but never answers the ClientHello
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        pool = HTTPSConnectionPool(
            "127.0.0.1",
            port,
            ca_certs=tls.ca_file,
            timeout=fastpool.Timeout(connect=0.3, read=0.3),
            retries=False,
        )
        start = time.monotonic()
        with pool, pytest.raises((MaxRetryError, urllib3.exceptions.HTTPError)):
            pool.request("GET", "/")
        assert time.monotonic() - start < 5
    finally:
        listener.close()
