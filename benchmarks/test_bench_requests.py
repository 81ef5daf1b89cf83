"""requests.Session with requests' own adapter (urllib3) against the same Session
with ``fastpool.contrib.requests.HTTPAdapter``: small GETs on a warm keep-alive
connection to the embedded local server (a separate process, so the client's
``time.process_time()`` is the client's CPU only).

pytest-benchmark, one thread::

    python -P -m pytest benchmarks/test_bench_requests.py --benchmark-only

The quick script: CPU per request and requests/s, 1 and 16 threads, then a
cProfile of what is left of a request once the adapter is fastpool's::

    python benchmarks/test_bench_requests.py [--requests 4000] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

import pytest

KINDS = ["stock", "fastpool"]
PATH, EXPECTED = "/13", 13


def make_session(kind: str, maxsize: int) -> Any:
    import requests
    import requests.adapters

    if kind == "stock":
        adapter_cls: Any = requests.adapters.HTTPAdapter
    else:
        from fastpool.contrib.requests import HTTPAdapter

        adapter_cls = HTTPAdapter
    s = requests.Session()
    s.trust_env = False  # keep environment proxy lookups out of both measurements
    s.mount("http://", adapter_cls(pool_maxsize=maxsize, pool_block=True))
    return s


@pytest.mark.parametrize("kind", KINDS)
def test_session_get(benchmark: Any, bench_server: Any, pinned: None, kind: str) -> None:
    pytest.importorskip("requests")
    benchmark.group = "requests.Session.get, 13B body"
    url = f"http://{bench_server.host}:{bench_server.port}{PATH}"
    s = make_session(kind, 1)

    def one() -> None:
        r = s.get(url)
        assert r.status_code == 200 and len(r.content) == EXPECTED

    try:
        for _ in range(50):
            one()
        benchmark(one)
    finally:
        s.close()


# --------------------------------------------------------------------------- the quick script


def measure(url: str, kind: str, threads: int, n: int) -> tuple[float, float]:
    """(CPU seconds per request, requests per second) for ``n`` GETs over ``threads``."""
    s = make_session(kind, max(threads, 1))
    per = n // threads
    deadline = time.monotonic() + 300

    def worker(count: int) -> int:
        done = 0
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            r = s.get(url)
            assert r.status_code == 200 and len(r.content) == EXPECTED
            done += 1
        return done

    try:
        worker(min(200, per))  # warm: connections open, caches filled
        with concurrent.futures.ThreadPoolExecutor(threads) as ex:
            if threads > 1:  # open the other connections before measuring
                list(ex.map(worker, [5] * threads))
            c0, w0 = time.process_time(), time.perf_counter()
            done = sum(ex.map(worker, [per] * threads))
            c1, w1 = time.process_time(), time.perf_counter()
    finally:
        s.close()
    return (c1 - c0) / done, done / (w1 - w0)


def bucket(filename: str) -> str:
    f = filename.replace("\\", "/")
    for key in ("requests", "urllib3", "fastpool", "http/cookiejar", "http/client", "email"):
        if f"/{key}/" in f or f.endswith(f"/{key}.py"):
            return key
    if f.startswith("~") or f.startswith("<"):
        return "builtins"
    return "other stdlib"


def profile(url: str, kind: str, n: int) -> None:
    s = make_session(kind, 1)
    try:
        for _ in range(200):
            assert len(s.get(url).content) == EXPECTED
        prof = cProfile.Profile(time.thread_time)  # CPU time, not waiting
        prof.enable()
        for _ in range(n):
            s.get(url).close()  # the body is already read (stream=False)
        prof.disable()
    finally:
        s.close()
    st = pstats.Stats(prof)
    by: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        by[bucket(filename)] += tt
        total += tt
    print(f"\ncProfile (thread CPU time), {kind} adapter, {n} GETs: own time by package")
    for k, v in sorted(by.items(), key=lambda kv: -kv[1]):
        print(f"  {k:14} {v / total * 100:5.1f}%  {v / n * 1e6:7.1f} us/req")
    print("\n  top functions by own time:")
    st.sort_stats("tottime").print_stats(25)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 16])
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fastpool

    import _server  # benchmarks/_server.py: the runner's embedded server

    print(
        f"fastpool {fastpool.__version__} from {os.path.dirname(fastpool.__file__)}, "
        f"FASTPOOL_NO_EXTENSIONS={os.environ.get('FASTPOOL_NO_EXTENSIONS', '')!r}"
    )
    with _server.EmbeddedServer() as srv:
        url = f"http://{srv.host}:{srv.port}{PATH}"
        rows = []
        for threads in args.threads:
            res: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
            for _ in range(args.repeat):
                for kind in KINDS:
                    res[kind].append(measure(url, kind, threads, args.requests))
            cpu = {k: statistics.median(c for c, _ in v) for k, v in res.items()}
            rps = {k: statistics.median(r for _, r in v) for k, v in res.items()}
            rows.append((threads, cpu, rps))
        print(
            f"\n{args.requests} GETs of a {EXPECTED}-byte body per measurement, "
            f"median of {args.repeat}"
        )
        print("| threads | adapter | CPU us/request | requests/s |")
        print("| --- | --- | --- | --- |")
        for threads, cpu, rps in rows:
            for k in KINDS:
                print(f"| {threads} | {k} | {cpu[k] * 1e6:.1f} | {rps[k]:.0f} |")
            saved = (cpu["stock"] - cpu["fastpool"]) / cpu["stock"] * 100
            print(
                f"| {threads} | share of CPU removed | {saved:.0f}% | "
                f"x{rps['fastpool'] / rps['stock']:.2f} |"
            )
        if args.profile:
            for kind in KINDS:
                profile(url, kind, min(args.requests, 3000))


if __name__ == "__main__":
    main()
