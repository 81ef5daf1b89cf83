"""One request end to end, fastpool against urllib3: ``pool.request("GET", path)``
on a warm keep-alive connection to the local embedded server, body read and checked.

    python -P -m pytest benchmarks/test_bench_e2e.py --benchmark-only

The runner (``benchmarks/run.py``) is the full comparison; this is the quick
regression check for the one-thread hot path, grouped so each fastpool figure
sits next to urllib3's.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

BODIES = {"13B": ("/13", 13), "16KiB": ("/16k", 16384), "16KiB-chunked": ("/16k-chunked", 16384)}
LIBS = ["fastpool", "urllib3"]


def _lib(name: str) -> Any:
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        pytest.skip(f"{name} is not importable: {e}")
    if not hasattr(module, "HTTPConnectionPool"):
        pytest.skip(f"{name} has no HTTPConnectionPool yet")
    return module


@pytest.mark.parametrize("size", list(BODIES))
@pytest.mark.parametrize("lib", LIBS)
def test_pool_request(benchmark: Any, bench_server: Any, pinned: None, lib: str, size: str) -> None:
    module = _lib(lib)
    path, expected = BODIES[size]
    benchmark.group = f"HTTPConnectionPool.request, {size} body"
    pool = module.HTTPConnectionPool(
        bench_server.host, bench_server.port, maxsize=1, block=True, timeout=10.0
    )

    def one() -> None:
        r = pool.request("GET", path)
        assert r.status == 200
        assert len(r.data) == expected

    try:
        for _ in range(50):  # connection open, code paths warm
            one()
        benchmark(one)
    finally:
        pool.close()


@pytest.mark.parametrize("lib", LIBS)
def test_poolmanager_request(benchmark: Any, bench_server: Any, pinned: None, lib: str) -> None:
    module = _lib(lib)
    if not hasattr(module, "PoolManager"):
        pytest.skip(f"{lib} has no PoolManager yet")
    benchmark.group = "PoolManager.request, 13B body"
    url = f"http://{bench_server.host}:{bench_server.port}/13"
    pm = module.PoolManager(num_pools=4, maxsize=1, block=True, timeout=10.0)

    def one() -> None:
        r = pm.request("GET", url)
        assert r.status == 200
        assert len(r.data) == 13

    try:
        for _ in range(50):
            one()
        benchmark(one)
    finally:
        pm.clear()
