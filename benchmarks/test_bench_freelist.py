"""Micro-benchmarks of the free list (pytest-benchmark; not part of the test run).

    python -m pytest benchmarks/test_bench_freelist.py -p no:cacheprovider \
        --benchmark-columns=min,median,mean,ops --benchmark-group-by=group

* uncontended: one checkout + checkin pair of the compiled twin, the pure twin
  and ``queue.LifoQueue`` get + put (what urllib3's pool does). Each round runs
  ``PAIRS`` pairs in a loop, so divide the time by ``PAIRS`` for one pair (the
  ``ns/pair`` value in ``extra_info``).
* contended: ``THREADS`` threads each run ``PER_THREAD`` pairs against one pool
  (maxsize ``THREADS // 2``, blocking, so threads also wait and hand over); the
  time is the wall time of the whole storm.
"""

from __future__ import annotations

import importlib
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest

PAIRS = 10_000
THREADS = 8
PER_THREAD = 20_000


def _impls() -> list[Any]:
    out = []
    for kind in ("c", "py"):
        try:
            mod = importlib.import_module(f"fastpool._freelist_{kind}")
        except ImportError:
            out.append(pytest.param(kind, marks=pytest.mark.skip(reason="not compiled")))
        else:
            out.append(pytest.param(mod, id=kind))
    return out


def _freelist_loop(mod: Any) -> Callable[[], None]:
    fl = mod.FreeList(10, block=True)
    conn = object()
    assert fl.checkout() is None
    fl.checkin(conn)
    checkout, checkin = fl.checkout, fl.checkin

    def run() -> None:
        for _ in range(PAIRS):
            checkin(checkout())

    return run


def _lifoqueue_loop() -> Callable[[], None]:
    # urllib3: self.pool = LifoQueue(maxsize); _get_conn: pool.get(block=self.block,
    # timeout=timeout); _put_conn: pool.put(conn, block=False)
    q: queue.LifoQueue[object] = queue.LifoQueue(10)
    q.put(object())
    get, put = q.get, q.put

    def run() -> None:
        for _ in range(PAIRS):
            put(get(True, None), False)

    return run


def _empty_loop() -> Callable[[], None]:
    def run() -> None:
        for _ in range(PAIRS):
            pass

    return run


def _record(benchmark: Any) -> None:
    stats = benchmark.stats.stats
    benchmark.extra_info["ns/pair (min)"] = round(stats.min / PAIRS * 1e9, 1)
    benchmark.extra_info["ns/pair (median)"] = round(stats.median / PAIRS * 1e9, 1)


@pytest.mark.benchmark(group="uncontended pair")
@pytest.mark.parametrize("mod", _impls())
def test_uncontended_freelist(benchmark: Any, mod: Any) -> None:
    benchmark(_freelist_loop(mod))
    _record(benchmark)


@pytest.mark.benchmark(group="uncontended pair")
def test_uncontended_lifoqueue(benchmark: Any) -> None:
    benchmark(_lifoqueue_loop())
    _record(benchmark)


@pytest.mark.benchmark(group="uncontended pair")
def test_uncontended_loop_overhead(benchmark: Any) -> None:
    """The bare ``for`` loop, to subtract from the numbers above."""
    benchmark(_empty_loop())
    _record(benchmark)


def _storm(make_pair: Callable[[], Callable[[], None]]) -> Callable[[], None]:
    def run() -> None:
        work = make_pair()
        start = threading.Barrier(THREADS + 1)

        def thread() -> None:
            start.wait(30)
            work()

        ts = [threading.Thread(target=thread, daemon=True) for _ in range(THREADS)]
        for t in ts:
            t.start()
        start.wait(30)
        for t in ts:
            t.join(60)
        assert not any(t.is_alive() for t in ts)

    return run


def _contended_freelist(mod: Any) -> Callable[[], Callable[[], None]]:
    def make() -> Callable[[], None]:
        fl = mod.FreeList(THREADS // 2, block=True)
        checkout, checkin = fl.checkout, fl.checkin

        def work() -> None:
            for _ in range(PER_THREAD):
                conn = checkout(10.0)
                checkin(object() if conn is None else conn)

        return work

    return make


def _contended_lifoqueue() -> Callable[[], None]:
    q: queue.LifoQueue[object | None] = queue.LifoQueue(THREADS // 2)
    for _ in range(THREADS // 2):
        q.put(None)  # urllib3 pre-fills the queue with None slots
    get, put = q.get, q.put

    def work() -> None:
        for _ in range(PER_THREAD):
            conn = get(True, 10.0)
            put(object() if conn is None else conn, False)

    return work


@pytest.mark.benchmark(group=f"contended: {THREADS} threads x {PER_THREAD} pairs, wall time")
@pytest.mark.parametrize("mod", _impls())
def test_contended_freelist(benchmark: Any, mod: Any) -> None:
    benchmark.pedantic(_storm(_contended_freelist(mod)), rounds=5, iterations=1)
    benchmark.extra_info["ns/pair (median, wall)"] = round(
        benchmark.stats.stats.median / (THREADS * PER_THREAD) * 1e9, 1
    )


@pytest.mark.benchmark(group=f"contended: {THREADS} threads x {PER_THREAD} pairs, wall time")
def test_contended_lifoqueue(benchmark: Any) -> None:
    benchmark.pedantic(_storm(_contended_lifoqueue), rounds=5, iterations=1)
    benchmark.extra_info["ns/pair (median, wall)"] = round(
        benchmark.stats.stats.median / (THREADS * PER_THREAD) * 1e9, 1
    )
