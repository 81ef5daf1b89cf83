"""Thread storms on the free list, both twins.

64 threads run checkout -> (maybe open) -> hold -> checkin / discard pairs with
random hold times and random discards. At every step the test checks that no
connection is held by two threads and, for a blocking pool, that no more than
``maxsize`` are open; at the end the pool's counters must match the threads'
own tallies exactly. Bounded: a fixed number of pairs per thread, every wait
has a timeout, every join has a timeout.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from urllib3.exceptions import ClosedPoolError, EmptyPoolError

pytestmark = pytest.mark.stress


@pytest.fixture(autouse=True)
def _interleave() -> Any:
    """Switch threads often (GIL builds), so the storms really interleave."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


THREADS = 64
PAIRS_PER_THREAD = 1600  # 64 * 1600 = 102,400 pairs
WAIT = 10.0  # pool_timeout of each checkout; a healthy run never gets near it
JOIN = 60.0


class Conn:
    __slots__ = ("holder", "serial")

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.holder: int | None = None


@dataclass
class Tally:
    """One thread's own count of what the pool told it (no lock needed)."""

    new: int = 0  # checkout() returned None
    reused: int = 0  # checkout() returned a connection
    discards: int = 0
    checkin_true: int = 0
    checkin_false: int = 0
    timeouts: int = 0
    closed: int = 0
    errors: list[str] = field(default_factory=list)


class Board:
    """Test-side bookkeeping, shared by all threads under one lock."""

    def __init__(self, maxsize: int, block: bool) -> None:
        self.lock = threading.Lock()
        self.maxsize = maxsize
        self.block = block
        self.open = 0  # connections the test believes exist (idle or held)
        self.peak = 0
        self.serial = 0
        self.errors: list[str] = []

    def opened(self) -> Conn:
        with self.lock:
            self.open += 1
            self.peak = max(self.peak, self.open)
            if self.block and self.open > self.maxsize:
                self.errors.append(f"open {self.open} > maxsize {self.maxsize}")
            self.serial += 1
            return Conn(self.serial)

    def closed(self) -> None:
        with self.lock:
            self.open -= 1

    def take(self, conn: Conn, me: int) -> None:
        with self.lock:
            if conn.holder is not None:
                self.errors.append(f"{conn.serial} held by {conn.holder} and {me}")
            conn.holder = me

    def give(self, conn: Conn, me: int) -> None:
        with self.lock:
            if conn.holder != me:
                self.errors.append(f"{conn.serial} given back by {me}, held by {conn.holder}")
            conn.holder = None


def hold(rng: random.Random) -> None:
    r = rng.random()
    if r < 0.6:
        return
    if r < 0.9:
        time.sleep(0)  # lets another thread run while we hold the connection
    else:
        for _ in range(rng.randrange(20, 200)):  # a short spin
            pass


def worker(
    fl: Any,
    board: Board,
    tally: Tally,
    me: int,
    rng: random.Random,
    pairs: int,
    p_discard: float,
    start: threading.Barrier,
) -> None:
    try:
        start.wait(JOIN)
        for _ in range(pairs):
            try:
                conn = fl.checkout(timeout=WAIT)
            except EmptyPoolError:
                tally.timeouts += 1
                continue
            except ClosedPoolError:
                tally.closed += 1
                return
            if conn is None:
                tally.new += 1
                if rng.random() < p_discard / 4:  # opening failed
                    tally.discards += 1
                    fl.discard()
                    continue
                conn = board.opened()
            else:
                tally.reused += 1
            board.take(conn, me)
            hold(rng)
            board.give(conn, me)
            if rng.random() < p_discard:  # the connection died
                board.closed()  # before discard(): its slot may go at once
                tally.discards += 1
                fl.discard()
            elif fl.checkin(conn):
                tally.checkin_true += 1
            else:
                tally.checkin_false += 1
                board.closed()
    except BaseException as e:  # reported by the main thread
        tally.errors.append(repr(e))


def storm(
    fl: Any,
    *,
    threads: int = THREADS,
    pairs: int = PAIRS_PER_THREAD,
    p_discard: float = 0.03,
    close_after: float | None = None,
    seed: int | None = None,
) -> tuple[list[Tally], Board, list[Any]]:
    seed = random.randrange(2**32) if seed is None else seed
    board = Board(fl.maxsize, fl.block)
    tallies = [Tally() for _ in range(threads)]
    start = threading.Barrier(threads)
    ts = [
        threading.Thread(
            target=worker,
            args=(fl, board, tallies[i], i, random.Random(seed + i), pairs, p_discard, start),
            daemon=True,
        )
        for i in range(threads)
    ]
    for t in ts:
        t.start()
    idle: list[Any] = []
    if close_after is not None:
        time.sleep(close_after)
        idle = fl.close()
    deadline = time.monotonic() + JOIN
    for t in ts:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in ts), f"threads stuck (seed {seed}): {fl!r}"
    errors = [e for t in tallies for e in t.errors] + board.errors
    assert not errors, (seed, errors[:10])
    if close_after is None:
        idle = fl.close()
    return tallies, board, idle


def total(tallies: list[Tally], name: str) -> int:
    return sum(getattr(t, name) for t in tallies)


def check_final(fl: Any, tallies: list[Tally], board: Board, idle: list[Any]) -> dict[str, Any]:
    s: dict[str, Any] = fl.stats()
    assert s["open"] == s["idle"] + s["in_use"] == s["created"] - s["discarded"] - s["refused"]
    assert s["open"] == 0 and s["idle"] == 0 and s["in_use"] == 0 and s["waiting"] == 0, s
    assert s["created"] == total(tallies, "new"), s
    assert s["reused"] == total(tallies, "reused"), s
    assert s["timeouts"] == total(tallies, "timeouts"), s
    # the pool was closed only after every thread finished: every refused
    # checkin was a full stack (never with block), every discard is counted
    assert s["refused"] == total(tallies, "checkin_false"), s
    assert s["discarded"] == total(tallies, "discards") + len(idle), s
    if fl.block:
        assert s["refused"] == 0, s
    assert s["wait_time_total"] >= s["wait_time_max"] >= 0.0
    assert len({id(c) for c in idle}) == len(idle)
    assert all(isinstance(c, Conn) and c.holder is None for c in idle)
    with board.lock:
        assert board.open == len(idle), (board.open, len(idle))
    return s


@pytest.mark.parametrize("maxsize", [8, 32])
def test_storm_blocking(impl: Any, maxsize: int) -> None:
    fl = impl.freelist.FreeList(maxsize, block=True, owner="storm")
    t0 = time.monotonic()
    tallies, board, idle = storm(fl)
    elapsed = time.monotonic() - t0
    s = check_final(fl, tallies, board, idle)
    pairs = total(tallies, "new") + total(tallies, "reused")
    assert pairs >= 100_000
    assert board.peak <= maxsize
    assert s["waits"] > 0  # the storm did make threads wait
    assert elapsed < 60


def test_storm_non_blocking(impl: Any) -> None:
    fl = impl.freelist.FreeList(8, block=False, owner="storm")
    tallies, board, idle = storm(fl)
    s = check_final(fl, tallies, board, idle)
    assert total(tallies, "new") + total(tallies, "reused") >= 100_000
    assert s["waits"] == 0 and s["timeouts"] == 0
    assert s["refused"] == total(tallies, "checkin_false")


@pytest.mark.parametrize("block", [True, False])
def test_storm_with_close_midway(impl: Any, block: bool) -> None:
    """close() while 64 threads hammer the pool: everyone stops with
    ClosedPoolError or finishes, and the counters still add up."""
    fl = impl.freelist.FreeList(4, block=block, owner="storm")
    # far more pairs than 0.2 s allow: every thread is still busy at close()
    tallies, board, idle = storm(fl, pairs=1_000_000, close_after=0.2)
    s = fl.stats()
    assert total(tallies, "closed") == THREADS
    assert fl.closed
    assert s["open"] == s["idle"] + s["in_use"] == s["created"] - s["discarded"] - s["refused"]
    assert s["open"] == 0 and s["waiting"] == 0, s
    assert s["created"] == total(tallies, "new")
    assert s["reused"] == total(tallies, "reused")
    assert s["refused"] + s["discarded"] == (
        total(tallies, "discards") + len(idle) + total(tallies, "checkin_false")
    ), s
    with board.lock:
        assert board.open == len(idle)
    with pytest.raises(ClosedPoolError):
        fl.checkout()


def test_storm_short_timeouts(impl: Any) -> None:
    """Timeouts racing with hand-offs: no connection is lost or doubled."""
    fl = impl.freelist.FreeList(2, block=True, owner="storm")
    board = Board(2, True)
    tallies = [Tally() for _ in range(16)]
    errors: list[str] = []

    def run(me: int) -> None:
        rng = random.Random(me)
        t = tallies[me]
        try:
            for _ in range(300):
                try:
                    conn = fl.checkout(timeout=rng.choice([0, 0.0005, 0.001, 0.005]))
                except EmptyPoolError:
                    t.timeouts += 1
                    continue
                if conn is None:
                    t.new += 1
                    conn = board.opened()
                else:
                    t.reused += 1
                board.take(conn, me)
                if rng.random() < 0.3:
                    time.sleep(0.0002)
                board.give(conn, me)
                if rng.random() < 0.05:
                    board.closed()
                    t.discards += 1
                    fl.discard()
                else:
                    assert fl.checkin(conn)
                    t.checkin_true += 1
        except BaseException as e:
            errors.append(repr(e))

    ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(JOIN)
    assert not any(t.is_alive() for t in ts)
    assert not errors and not board.errors, (errors, board.errors)
    idle = fl.close()
    check_final(fl, tallies, board, idle)
    assert fl.stats()["timeouts"] > 0
