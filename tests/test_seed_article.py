"""Every code sample of ``../shared/seeds/requests-connection-pooling-article.txt``
(the way people configure pooling in requests today), run against a local
server with fastpool's adapter.

The samples below are the article's code, re-indented (the article's text lost
its indentation) and otherwise verbatim: ``test_samples_are_the_articles``
checks every line against the article. ``adapt()`` makes the only changes
allowed, and nothing else:

* ``requests.adapters`` -> ``fastpool.contrib.requests`` (``HTTPAdapter``),
* ``urllib3.util.retry`` -> ``fastpool.util.retry`` (``Retry``),
* ``https://api.example.com`` and ``https://httpbin.org`` -> the local server,
  whose ``/delay/N`` sleeps N * 10 ms instead of N seconds.

Two samples do not run as published, with stock requests either:

* ``PooledSession`` passes ``method_whitelist`` to ``Retry``, a name urllib3 2
  removed (``allowed_methods`` since 1.26). ``fastpool.util.retry.Retry`` is
  urllib3's own class, so it raises the same ``TypeError`` (the reasons are in
  ``tests/test_requests_adapter.py``'s docstring). The test pins that, then runs
  the sample with the one documented migration, ``method_whitelist`` ->
  ``allowed_methods``.
* ``AdvancedPooledSession``'s ``CustomHTTPAdapter.init_poolmanager`` sets
  ``kwargs['maxsize']`` and calls ``super().init_poolmanager(*args, **kwargs)``;
  requests' adapter calls the hook positionally, so that raises ``TypeError:
  got multiple values for argument 'maxsize'``. fastpool's adapter calls it
  with keywords, so the sample runs unchanged, with the pool settings it asks
  for (``block=True``, ``maxsize=25``, ``num_pools=10``).

Some samples leave sessions open (``MonitoredSession``, the best-practice
snippets); the test closes whatever sessions a sample left behind, which is
harness work, not a change to the sample.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.adapters

from _server import Request, ScriptedServer, serve_http

ARTICLE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "seeds"
    / ("requests-connection-pooling-article.txt")
)

# --------------------------------------------------------------------------- the samples

BASIC = """\
import requests
# Create a session object for connection pooling
session = requests.Session()
# Make multiple requests to the same host
for i in range(10):
    response = session.get('https://api.example.com/data')
    print(f"Request {i}: {response.status_code}")
# Close the session when done
session.close()
"""

POOLED_SESSION = '''\
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
class PooledSession:
    def __init__(self, pool_connections=10, pool_maxsize=20, max_retries=3):
        """
        Initialize a session with custom connection pooling
        Args:
        pool_connections: Number of connection pools to cache
        pool_maxsize: Maximum number of connections in each pool
        max_retries: Number of retry attempts
        """
        self.session = requests.Session()
        # Configure retry strategy
        retry_strategy = Retry(
            total=max_retries,
            status_forcelist=[429, 500, 502, 503, 504],
            method_whitelist=["HEAD", "GET", "OPTIONS"],
            backoff_factor=1
        )
        # Create HTTP adapter with custom pool settings
        adapter = HTTPAdapter(
            pool_connections=pool_connections,
            pool_maxsize=pool_maxsize,
            max_retries=retry_strategy
        )
        # Mount adapter for both HTTP and HTTPS
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
    def get(self, url, **kwargs):
        return self.session.get(url, **kwargs)
    def post(self, url, **kwargs):
        return self.session.post(url, **kwargs)
    def close(self):
        self.session.close()
# Usage example
pooled_session = PooledSession(pool_connections=5, pool_maxsize=15)
try:
    # Make multiple requests efficiently
    urls = [
        'https://api.example.com/users/1',
        'https://api.example.com/users/2',
        'https://api.example.com/posts/1',
        'https://api.example.com/posts/2'
    ]
    for url in urls:
        response = pooled_session.get(url)
        print(f"Status: {response.status_code}, URL: {url}")
finally:
    pooled_session.close()
'''

ADVANCED = '''\
import requests
from requests.adapters import HTTPAdapter
from urllib3.poolmanager import PoolManager
import threading
import time
class AdvancedPooledSession:
    def __init__(self, pool_connections=20, pool_maxsize=50,
        max_retries=3, timeout=30):
        """
        Advanced session with optimized connection pooling
        """
        self.session = requests.Session()
        self.timeout = timeout
        # Custom pool manager for better control
        class CustomHTTPAdapter(HTTPAdapter):
            def init_poolmanager(self, *args, **kwargs):
                kwargs['block'] = True # Block when pool is full
                kwargs['maxsize'] = pool_maxsize
                kwargs['num_pools'] = pool_connections
                return super().init_poolmanager(*args, **kwargs)
        adapter = CustomHTTPAdapter(
            pool_connections=pool_connections,
            pool_maxsize=pool_maxsize,
            max_retries=max_retries
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # Set common headers to avoid connection resets
        self.session.headers.update({
            'User-Agent': 'Python-Requests-Pool/1.0',
            'Connection': 'keep-alive',
            'Accept-Encoding': 'gzip, deflate'
        })
    def request(self, method, url, **kwargs):
        """Make a request with default timeout"""
        kwargs.setdefault('timeout', self.timeout)
        return self.session.request(method, url, **kwargs)
    def get(self, url, **kwargs):
        return self.request('GET', url, **kwargs)
    def post(self, url, **kwargs):
        return self.request('POST', url, **kwargs)
    def close(self):
        self.session.close()
# Example: Concurrent requests with connection pooling
import concurrent.futures
def fetch_url(session, url):
    """Fetch a single URL using the pooled session"""
    try:
        response = session.get(url)
        return {
            'url': url,
            'status_code': response.status_code,
            'response_time': response.elapsed.total_seconds()
        }
    except requests.RequestException as e:
        return {'url': url, 'error': str(e)}
# Initialize advanced pooled session
advanced_session = AdvancedPooledSession(
    pool_connections=10,
    pool_maxsize=25,
    timeout=15
)
# URLs to scrape
urls = [f'https://httpbin.org/delay/{i%3}' for i in range(20)]
try:
    # Use ThreadPoolExecutor for concurrent requests
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as executor:
        futures = [executor.submit(fetch_url, advanced_session, url) for url in urls]
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            if 'error' in result:
                print(f"Error fetching {result['url']}: {result['error']}")
            else:
                print(f"Success: {result['url']} - {result['status_code']} "
                    f"({result['response_time']:.2f}s)")
finally:
    advanced_session.close()
'''

MONITORED = '''\
import requests
from requests.adapters import HTTPAdapter
class MonitoredSession:
    def __init__(self):
        self.session = requests.Session()
        self.adapter = HTTPAdapter(pool_connections=5, pool_maxsize=10)
        self.session.mount("http://", self.adapter)
        self.session.mount("https://", self.adapter)
    def get_pool_stats(self):
        """Get connection pool statistics"""
        stats = {}
        for prefix, adapter in self.session.adapters.items():
            if hasattr(adapter, 'poolmanager'):
                pm = adapter.poolmanager
                stats[prefix] = {
                    'num_pools': getattr(pm, 'num_pools', 'N/A'),
                    'pools': len(pm.pools) if hasattr(pm, 'pools') else 'N/A'
                }
        return stats
    def request(self, method, url, **kwargs):
        response = self.session.request(method, url, **kwargs)
        # Print pool stats after each request
        stats = self.get_pool_stats()
        print(f"Pool stats after {method} {url}: {stats}")
        return response
# Usage
monitored_session = MonitoredSession()
response = monitored_session.request('GET', 'https://httpbin.org/json')
'''

ALWAYS_SESSIONS = """\
# Good: Uses connection pooling
session = requests.Session()
for url in urls:
    response = session.get(url)
# Bad: Creates new connection each time
for url in urls:
    response = requests.get(url) # No pooling
"""

POOL_SIZES = """\
# For high-throughput applications
adapter = HTTPAdapter(
    pool_connections=20, # Number of hosts to cache connections for
    pool_maxsize=50 # Max connections per host
)
"""

TIMEOUTS = """\
session = requests.Session()
session.get(url, timeout=(5, 30)) # (connect_timeout, read_timeout)
"""

POOL_EXHAUSTION = """\
try:
    response = session.get(url, timeout=30)
except requests.exceptions.ConnectionError as e:
    if "pool is full" in str(e).lower():
        print("Connection pool is exhausted, consider increasing pool_maxsize")
        time.sleep(1) # Brief delay before retry
    raise
"""

SCRAPING = """\
class WebScrapingSession:
    def __init__(self, base_url, max_workers=5):
        self.base_url = base_url
        self.max_workers = max_workers
        self.session = self._create_session()
    def _create_session(self):
        session = requests.Session()
        adapter = HTTPAdapter(
            pool_connections=self.max_workers,
            pool_maxsize=self.max_workers * 2
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session
    def scrape_pages(self, page_urls):
        \"\"\"Scrape multiple pages efficiently\"\"\"
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.max_workers) as executor:
            futures = [executor.submit(self._scrape_page, url) for url in page_urls]
            return [future.result() for future in concurrent.futures.as_completed(futures)]
    def _scrape_page(self, url):
        full_url = f"{self.base_url.rstrip('/')}/{url.lstrip('/')}"
        response = self.session.get(full_url)
        return {
            'url': full_url,
            'status': response.status_code,
            'content_length': len(response.content)
        }
    def close(self):
        self.session.close()
"""

MEMORY_LEAKS = """\
try:
    # Your requests here
    pass
finally:
    session.close()
"""

SAMPLES = {
    "basic": BASIC,
    "pooled_session": POOLED_SESSION,
    "advanced": ADVANCED,
    "monitored": MONITORED,
    "always_sessions": ALWAYS_SESSIONS,
    "pool_sizes": POOL_SIZES,
    "timeouts": TIMEOUTS,
    "pool_exhaustion": POOL_EXHAUSTION,
    "scraping": SCRAPING,
    "memory_leaks": MEMORY_LEAKS,
}

# --------------------------------------------------------------------------- the allowed changes


def adapt(code: str, base: str) -> str:
    """The article's code with only the allowed changes made."""
    code = code.replace(
        "from requests.adapters import HTTPAdapter",
        "from fastpool.contrib.requests import HTTPAdapter",
    )
    code = code.replace(
        "from urllib3.util.retry import Retry", "from fastpool.util.retry import Retry"
    )
    code = code.replace("https://api.example.com", base)
    code = code.replace("https://httpbin.org", base)
    return code


def context(base: str) -> dict[str, Any]:
    """Names the snippets use without defining them (the article's surrounding
    code): what an adapted program would have imported or set earlier."""
    import concurrent.futures

    from fastpool.contrib.requests import HTTPAdapter

    return {
        "requests": requests,
        "HTTPAdapter": HTTPAdapter,
        "concurrent": concurrent,
        "time": time,
        "url": base + "/data",
        "urls": [base + "/users/1", base + "/users/2", base + "/posts/1"],
    }


# --------------------------------------------------------------------------- the server


def api(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    path = req.target.split("?")[0]
    m = re.fullmatch(r"/delay/(\d+)", path)
    if m:
        time.sleep(int(m.group(1)) / 100)  # N * 10 ms, where httpbin sleeps N seconds
    body = json.dumps({"path": path, "conn": req.extra.get("connection_index")}).encode()
    return 200, [("Content-Type", "application/json")], body


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(serve_http(api)) as srv:
        yield srv
    assert not srv.errors


@pytest.fixture
def run(server: ScriptedServer) -> Iterator[Callable[..., dict[str, Any]]]:
    namespaces: list[dict[str, Any]] = []

    def run_sample(
        name: str,
        *,
        extra: Callable[[str], str] = lambda c: c,
        names: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        ns = context(server.url)
        ns.update(names or {})
        ns["__name__"] = f"article_{name}"
        namespaces.append(ns)
        code = extra(adapt(SAMPLES[name], server.url))
        exec(compile(code, f"<article sample {name}>", "exec"), ns)
        return ns

    yield run_sample
    for ns in namespaces:  # close what a sample left open
        for v in list(ns.values()):
            for obj in (v, getattr(v, "session", None)):
                if isinstance(obj, requests.Session):
                    obj.close()


def fastpool_adapter(s: requests.Session, url: str) -> requests.adapters.HTTPAdapter:
    import fastpool
    from fastpool.contrib.requests import HTTPAdapter

    a = s.get_adapter(url)
    assert isinstance(a, HTTPAdapter) and isinstance(a.poolmanager, fastpool.PoolManager)
    return a


# --------------------------------------------------------------------------- tests


def _norm(line: str) -> str:
    return " ".join(line.split())


def test_samples_are_the_articles() -> None:
    """Each sample is a contiguous run of the article's lines (whitespace aside)."""
    if not ARTICLE.is_file():
        pytest.skip(f"the article is not part of the repository ({ARTICLE} is absent)")
    article = [_norm(x) for x in ARTICLE.read_text(encoding="utf-8").splitlines()]
    article = [x for x in article if x]
    for name, code in SAMPLES.items():
        lines = [_norm(x) for x in code.splitlines() if x.strip()]
        starts = [i for i, x in enumerate(article) if x == lines[0]]
        assert any(article[i : i + len(lines)] == lines for i in starts), name


def test_adapt_changes_only_what_is_allowed() -> None:
    base = "http://127.0.0.1:1"
    for name, code in SAMPLES.items():
        before, after = code.splitlines(), adapt(code, base).splitlines()
        for a, b in zip(before, after, strict=True):
            if a != b:
                assert (
                    "from requests.adapters import HTTPAdapter" in a
                    or "from urllib3.util.retry import Retry" in a
                    or "https://api.example.com" in a
                    or "https://httpbin.org" in a
                ), (name, a, b)


def test_basic_session(
    run: Callable[..., dict[str, Any]], server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    run("basic")  # no adapter in this one: requests' own pooling, as the article says
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Request {i}: 200" for i in range(10)]
    assert server.accepted == 1


def test_pooled_session_method_whitelist_is_a_type_error(
    run: Callable[..., dict[str, Any]],
) -> None:
    # As with urllib3 2 and stock requests: Retry() has no method_whitelist.
    with pytest.raises(TypeError, match="method_whitelist"):
        run("pooled_session")


def test_pooled_session_with_allowed_methods(
    run: Callable[..., dict[str, Any]],
    server: ScriptedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ns = run("pooled_session", extra=lambda c: c.replace("method_whitelist=", "allowed_methods="))
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"Status: 200, URL: {server.url}{p}"
        for p in ("/users/1", "/users/2", "/posts/1", "/posts/2")
    ]
    a = fastpool_adapter(ns["pooled_session"].session, server.url)
    assert (a._pool_connections, a._pool_maxsize) == (5, 15)
    assert a.max_retries.total == 3 and a.max_retries.allowed_methods == ["HEAD", "GET", "OPTIONS"]
    assert server.accepted == 1


def test_pooled_session_stock_fails_the_same_way() -> None:
    code = POOLED_SESSION.replace("https://api.example.com", "http://127.0.0.1:1")
    with pytest.raises(TypeError, match="method_whitelist"):
        exec(compile(code, "<article pooled_session, stock>", "exec"), {"__name__": "stock"})


def test_advanced_pooled_session(
    run: Callable[..., dict[str, Any]],
    server: ScriptedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ns = run("advanced")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 20 and all(x.startswith(f"Success: {server.url}/delay/") for x in out), out
    assert all(" - 200 (" in x for x in out)
    a = fastpool_adapter(ns["advanced_session"].session, server.url)
    # What the override asked for.
    assert (a._pool_connections, a._pool_maxsize, a._pool_block) == (10, 25, True)
    assert a.max_retries.total == 3
    assert server.accepted <= 5  # five workers, one pool


def test_advanced_pooled_session_stock_raises() -> None:
    # With requests' own adapter the published sample cannot even build its adapter.
    code = ADVANCED.replace("https://httpbin.org", "http://127.0.0.1:1")
    with pytest.raises(TypeError, match="multiple values for argument 'maxsize'"):
        exec(compile(code, "<article advanced, stock>", "exec"), {"__name__": "stock"})


def test_monitored_session(
    run: Callable[..., dict[str, Any]],
    server: ScriptedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ns = run("monitored")
    assert ns["response"].json()["path"] == "/json"
    out = capsys.readouterr().out
    assert out.startswith(f"Pool stats after GET {server.url}/json: ")
    assert "'http://': {'num_pools': " in out and "'pools': 1}" in out
    fastpool_adapter(ns["monitored_session"].session, server.url)


def test_best_practices(
    run: Callable[..., dict[str, Any]],
    server: ScriptedServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ns = run("always_sessions")
    assert ns["response"].status_code == 200
    ns = run("pool_sizes")
    a = ns["adapter"]
    assert (a._pool_connections, a._pool_maxsize) == (20, 50)
    a.close()
    ns = run("timeouts")
    assert isinstance(ns["session"], requests.Session)
    # The remaining snippets use a "session" from the article's earlier code:
    # here, one with fastpool's adapter mounted.
    from fastpool.contrib.requests import HTTPAdapter

    s = requests.Session()
    s.mount("http://", HTTPAdapter(pool_maxsize=4))
    ns = run("pool_exhaustion", names={"session": s})
    assert ns["response"].status_code == 200
    run("memory_leaks", names={"session": s})
    assert capsys.readouterr().out == ""


def test_web_scraping_session(run: Callable[..., dict[str, Any]], server: ScriptedServer) -> None:
    ns = run("scraping")
    scraper = ns["WebScrapingSession"](server.url + "/", max_workers=3)
    try:
        fastpool_adapter(scraper.session, server.url)
        pages = [f"/page/{i}" for i in range(12)]
        results = scraper.scrape_pages(pages)
        assert sorted(r["url"] for r in results) == sorted(server.url + p for p in pages)
        assert all(r["status"] == 200 and r["content_length"] > 0 for r in results)
    finally:
        scraper.close()
    assert server.accepted <= 3
