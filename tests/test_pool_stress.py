"""Thread storms on a shared pool and a shared PoolManager (bounded)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

import pytest

from fastpool.connectionpool import HTTPConnectionPool
from fastpool.poolmanager import PoolManager

from _server import Request, ScriptedServer, serve_http

# thread_unsafe: these storms check process-wide invariants (open descriptors,
# connections accepted by the server), so pytest-run-parallel must run each
# once, not in several threads at the same time; they start their own threads.
pytestmark = [pytest.mark.stress, pytest.mark.thread_unsafe]

THREADS = 32
PER_THREAD = 25


def echo_id(req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("X-Id", req.header("x-id") or "")], (req.header("x-id") or "").encode() * 3


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def storm(work: Callable[[int, int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(t: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(PER_THREAD):
                work(t, i)
        except BaseException as e:  # reported by the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
        assert not th.is_alive(), "storm thread hung"
    return errors


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")
@pytest.mark.parametrize("block", [True, False])
def test_shared_pool_storm(block: bool) -> None:
    fds_before = open_fds()
    with ScriptedServer(serve_http(echo_id)) as srv:
        pool = HTTPConnectionPool("127.0.0.1", srv.port, maxsize=8, block=block)

        def work(t: int, i: int) -> None:
            rid = f"{t}-{i}"
            r = pool.request("GET", f"/{rid}", headers={"X-Id": rid})
            assert r.status == 200 and r.data == rid.encode() * 3
            assert r.headers["x-id"] == rid

        errors = storm(work)
        assert not errors, errors[:3]
        s = pool.stats()
        assert s["open"] == s["idle"] + s["in_use"] == s["created"] - s["discarded"] - s["refused"]
        assert s["in_use"] == 0 and s["waiting"] == 0
        assert s["requests"] == THREADS * PER_THREAD
        assert s["created"] + s["reused"] == THREADS * PER_THREAD
        if block:
            assert srv.accepted <= 8 and s["created"] <= 8
        else:
            assert s["idle"] <= 8
        pool.close()
    assert open_fds() <= fds_before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")
def test_shared_poolmanager_storm() -> None:
    fds_before = open_fds()
    with ScriptedServer(serve_http(echo_id)) as a, ScriptedServer(serve_http(echo_id)) as b:
        # two origins, room for one pool: constant eviction under load
        created: list[HTTPConnectionPool] = []

        class RecordingManager(PoolManager):
            def _new_pool(self, *args: object, **kw: object) -> HTTPConnectionPool:
                pool = super()._new_pool(*args, **kw)  # type: ignore[arg-type]
                created.append(pool)
                return pool

        pm = RecordingManager(num_pools=1, maxsize=4, block=True)

        def work(t: int, i: int) -> None:
            rid = f"{t}-{i}"
            base = a.url if (t + i) % 2 else b.url
            r = pm.request("GET", f"{base}/{rid}", headers={"X-Id": rid})
            assert r.status == 200 and r.data == rid.encode() * 3

        errors = storm(work)
        assert not errors, errors[:3]
        pm.clear()
        assert len(created) >= 2
        total = 0
        for p in created:
            s = p.stats()
            assert s["open"] == 0 and s["in_use"] == 0 and s["waiting"] == 0
            assert s["created"] == s["discarded"] + s["refused"]
            total += s["requests"]
        assert total >= THREADS * PER_THREAD
    assert open_fds() <= fds_before
