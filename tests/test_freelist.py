"""Behaviour of the free list, both twins (``impl`` fixture), with real threads.

Every wait in here has a timeout and every thread is joined with one, so a
broken free list fails a test instead of hanging the run.
"""

from __future__ import annotations

import gc
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from urllib3.exceptions import ClosedPoolError, EmptyPoolError

EMPTY_MSG = "Pool is empty and a new connection can't be opened due to blocking mode."
CLOSED_MSG = "Pool is closed."
STATS_KEYS = {
    "maxsize",
    "open",
    "idle",
    "in_use",
    "waiting",
    "created",
    "reused",
    "discarded",
    "refused",
    "timeouts",
    "waits",
    "wait_time_total",
    "wait_time_max",
}
JOIN = 10.0  # seconds: upper bound for any thread in this file


class Conn:
    """A stand-in connection."""

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Conn({self.name!r})"


def check(fl: Any, **expected: Any) -> dict[str, Any]:
    """Assert the stats invariants, and any expected values given."""
    s: dict[str, Any] = fl.stats()
    assert set(s) == STATS_KEYS
    assert s["open"] == s["idle"] + s["in_use"], s
    assert s["open"] == s["created"] - s["discarded"] - s["refused"], s
    assert 0 <= s["idle"] <= s["maxsize"], s
    assert s["in_use"] >= 0 and s["waiting"] >= 0, s
    if fl.block:
        assert s["open"] <= s["maxsize"], s
    assert s["waits"] >= 0 and s["wait_time_total"] >= s["wait_time_max"] >= 0.0, s
    for key, value in expected.items():
        assert s[key] == value, (key, s)
    return s


def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


class Worker:
    """A thread running ``fn``; keeps its result or exception."""

    def __init__(self, fn: Callable[[], Any], name: str = "") -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.result = fn()
        except BaseException as e:
            self.error = e
        finally:
            self.done.set()

    def join(self) -> Worker:
        self.thread.join(JOIN)
        assert not self.thread.is_alive(), "worker did not finish"
        return self


@pytest.fixture
def FreeList(impl: Any) -> Iterator[Any]:
    yield impl.freelist.FreeList


# --------------------------------------------------------------------------- #
# construction and attributes


@pytest.mark.parametrize("maxsize", [0, -1, -(2**40)])
def test_maxsize_below_one_is_refused(FreeList: Any, maxsize: int) -> None:
    with pytest.raises(ValueError):
        FreeList(maxsize)


def test_maxsize_must_be_an_integer(FreeList: Any) -> None:
    with pytest.raises(TypeError):
        FreeList(2.5)


def test_attributes_are_read_only(FreeList: Any) -> None:
    fl = FreeList(3, block=True, owner="pool")
    assert (fl.maxsize, fl.block, fl.closed) == (3, True, False)
    assert FreeList(1).block is False
    for name in ("maxsize", "block", "closed"):
        with pytest.raises(AttributeError):
            setattr(fl, name, 1)
    check(fl, maxsize=3, open=0, idle=0, in_use=0, waiting=0, created=0, reused=0)
    assert fl.stats()["wait_time_total"] == 0.0


def test_docstring_and_repr(FreeList: Any) -> None:
    assert "thread-safe" in (FreeList.__doc__ or "").lower()
    fl = FreeList(4, block=True)
    fl.checkout()
    r = repr(fl)
    assert "FreeList" in r and "maxsize=4" in r and "open=1" in r and "in_use=1" in r


def test_huge_maxsize_is_cheap(FreeList: Any) -> None:
    fl = FreeList(sys.maxsize)
    conns = [Conn(str(i)) for i in range(100)]
    for _ in conns:
        assert fl.checkout() is None
    assert all(fl.checkin(c) for c in conns)
    check(fl, idle=100, open=100)
    assert [fl.checkout() for _ in conns] == conns[::-1]


# --------------------------------------------------------------------------- #
# checkout / checkin without waiting


def test_lifo_order(FreeList: Any) -> None:
    fl = FreeList(3)
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    assert [fl.checkout() for _ in range(3)] == [None, None, None]
    check(fl, open=3, in_use=3, created=3)
    assert fl.checkin(a) and fl.checkin(b) and fl.checkin(c)
    check(fl, open=3, idle=3, in_use=0)
    assert fl.checkout() is c
    assert fl.checkin(c)
    assert [fl.checkout() for _ in range(3)] == [c, b, a]
    check(fl, open=3, idle=0, in_use=3, created=3, reused=4)


@pytest.mark.parametrize("block", [True, False])
def test_idle_stack_grows_past_initial_capacity(FreeList: Any, block: bool) -> None:
    n = 5000
    fl = FreeList(n, block=block)
    conns = [Conn(str(i)) for i in range(n)]
    for _ in conns:
        assert fl.checkout() is None
    for c in conns:
        assert fl.checkin(c)
    check(fl, idle=n, open=n)
    assert [fl.checkout() for _ in conns] == conns[::-1]
    check(fl, idle=0, in_use=n, reused=n)
    for c in conns[:3000]:
        assert fl.checkin(c)
    assert fl.close() == conns[:3000]  # bottom to top
    check(fl, open=n - 3000, discarded=3000)


def test_new_slot_while_below_maxsize(FreeList: Any) -> None:
    fl = FreeList(2, block=True)
    assert fl.checkout() is None
    a = Conn("a")
    assert fl.checkin(a)
    # an idle connection is preferred over a new slot
    assert fl.checkout() is a
    assert fl.checkout() is None
    check(fl, open=2, in_use=2, created=2, reused=1)
    with pytest.raises(EmptyPoolError):
        fl.checkout(timeout=0)
    check(fl, open=2, timeouts=1, waits=0)


def test_non_blocking_grows_past_maxsize_and_refuses_at_checkin(FreeList: Any) -> None:
    fl = FreeList(2, block=False)
    assert [fl.checkout(timeout=0) for _ in range(5)] == [None] * 5
    check(fl, open=5, in_use=5, created=5)
    conns = [Conn(str(i)) for i in range(5)]
    assert [fl.checkin(c) for c in conns] == [True, True, False, False, False]
    check(fl, open=2, idle=2, in_use=0, refused=3, created=5)
    assert fl.checkout() is conns[1]


def test_checkin_none_is_a_type_error(FreeList: Any) -> None:
    fl = FreeList(1)
    fl.checkout()
    with pytest.raises(TypeError):
        fl.checkin(None)
    check(fl, open=1, in_use=1)


def test_discard_frees_the_slot(FreeList: Any) -> None:
    fl = FreeList(1, block=True)
    assert fl.checkout() is None
    fl.discard()
    check(fl, open=0, discarded=1)
    assert fl.checkout(timeout=0) is None
    check(fl, open=1, created=2, discarded=1)


def test_discard_with_nothing_checked_out_is_a_no_op(FreeList: Any) -> None:
    fl = FreeList(2, block=True)
    fl.discard()
    check(fl, open=0, discarded=0)
    fl.checkout()
    fl.checkin(Conn())
    fl.discard()  # the only open connection is idle, not checked out
    check(fl, open=1, idle=1, discarded=0)


def test_checkin_without_checkout_is_adopted(FreeList: Any) -> None:
    fl = FreeList(1, block=True)
    a, b = Conn("a"), Conn("b")
    assert fl.checkin(a) is True
    check(fl, open=1, idle=1, created=1)
    assert fl.checkin(b) is False  # full: refused, counters still add up
    check(fl, open=1, idle=1, created=2, refused=1)
    assert fl.checkout() is a


@pytest.mark.parametrize("timeout", [0, 0.0, -1, -0.5])
def test_zero_or_negative_timeout_does_not_wait(FreeList: Any, timeout: float) -> None:
    owner = object()
    fl = FreeList(1, block=True, owner=owner)
    fl.checkout()
    t0 = time.monotonic()
    with pytest.raises(EmptyPoolError) as ei:
        fl.checkout(timeout=timeout)
    assert time.monotonic() - t0 < 0.5
    assert ei.value.pool is owner
    assert str(ei.value).endswith(EMPTY_MSG)
    check(fl, timeouts=1, waits=0, waiting=0)


def test_nan_timeout_is_refused(FreeList: Any) -> None:
    fl = FreeList(1, block=True)
    fl.checkout()
    with pytest.raises(ValueError):
        fl.checkout(timeout=math.nan)
    check(fl, waiting=0)


def test_timeout_is_ignored_when_not_waiting(FreeList: Any) -> None:
    fl = FreeList(1, block=False)
    assert fl.checkout(timeout=0) is None
    assert fl.checkout(timeout=-1) is None
    check(fl, open=2, timeouts=0)


# --------------------------------------------------------------------------- #
# waiting


def test_wait_times_out_with_empty_pool_error(FreeList: Any) -> None:
    owner = object()
    fl = FreeList(1, block=True, owner=owner)
    fl.checkout()
    t0 = time.monotonic()
    with pytest.raises(EmptyPoolError) as ei:
        fl.checkout(timeout=0.1)
    elapsed = time.monotonic() - t0
    assert 0.09 <= elapsed < 2.0
    assert ei.value.pool is owner
    assert str(ei.value) == f"{owner}: {EMPTY_MSG}"
    s = check(fl, timeouts=1, waits=1, waiting=0, open=1, in_use=1)
    assert 0.09 <= s["wait_time_total"] == s["wait_time_max"] < 2.0


def test_wait_in_a_thread_times_out(FreeList: Any) -> None:
    owner = object()
    fl = FreeList(1, block=True, owner=owner)
    fl.checkout()
    workers = [Worker(lambda: fl.checkout(timeout=0.05)) for _ in range(4)]
    for w in workers:
        w.join()
        assert isinstance(w.error, EmptyPoolError)
        assert w.error.pool is owner
    check(fl, timeouts=4, waits=4, waiting=0)


@pytest.mark.parametrize("timeout", [None, math.inf, 30.0, 1e300])
def test_checkin_hands_over_to_a_waiter(FreeList: Any, timeout: float | None) -> None:
    fl = FreeList(1, block=True)
    assert fl.checkout() is None
    w = Worker(lambda: fl.checkout(timeout=timeout))
    wait_until(lambda: fl.stats()["waiting"] == 1)
    assert not w.done.is_set()
    a = Conn("a")
    assert fl.checkin(a) is True
    w.join()
    assert w.error is None and w.result is a
    s = check(fl, open=1, idle=0, in_use=1, waiting=0, reused=1, waits=1, timeouts=0)
    assert s["wait_time_max"] > 0.0


def test_discard_tells_a_waiter_to_open(FreeList: Any) -> None:
    fl = FreeList(1, block=True)
    fl.checkout()
    w = Worker(lambda: fl.checkout(timeout=JOIN))
    wait_until(lambda: fl.stats()["waiting"] == 1)
    fl.discard()
    w.join()
    assert w.error is None and w.result is None
    check(fl, open=1, in_use=1, created=2, discarded=1, waiting=0)


def test_waiters_are_served_in_fifo_order(FreeList: Any) -> None:
    n = 6
    fl = FreeList(1, block=True)
    fl.checkout()
    workers = []
    for i in range(n):
        workers.append(Worker(lambda: fl.checkout(timeout=JOIN), name=f"w{i}"))
        wait_until(lambda i=i: fl.stats()["waiting"] == i + 1)  # type: ignore[misc]
    conns = [Conn(str(i)) for i in range(n)]
    for i, c in enumerate(conns):
        if i == 2:
            fl.discard()  # a slot instead of a connection, still in order
        else:
            assert fl.checkin(c)
        workers[i].join()
        assert all(not w.done.is_set() for w in workers[i + 1 :])
        check(fl, waiting=n - 1 - i)
    for i, w in enumerate(workers):
        assert w.error is None
        assert w.result is (None if i == 2 else conns[i])
    check(fl, open=1, in_use=1, waits=n, reused=n - 1, created=2, discarded=1)


def test_new_arrivals_do_not_overtake_waiters(FreeList: Any) -> None:
    fl = FreeList(1, block=True)
    fl.checkout()
    w = Worker(lambda: fl.checkout(timeout=JOIN))
    wait_until(lambda: fl.stats()["waiting"] == 1)
    assert fl.checkin(Conn("a"))
    # the connection went to the waiter, not to the idle stack
    with pytest.raises(EmptyPoolError):
        fl.checkout(timeout=0)
    w.join()
    assert isinstance(w.result, Conn)


def test_close_wakes_every_waiter(FreeList: Any) -> None:
    owner = object()
    fl = FreeList(2, block=True, owner=owner)
    fl.checkout()
    fl.checkout()
    workers = [Worker(lambda: fl.checkout(timeout=JOIN)) for _ in range(5)]
    wait_until(lambda: fl.stats()["waiting"] == 5)
    assert fl.close() == []
    for w in workers:
        w.join()
        assert isinstance(w.error, ClosedPoolError)
        assert w.error.pool is owner
        assert str(w.error).endswith(CLOSED_MSG)
    assert fl.closed
    check(fl, waiting=0, waits=5, timeouts=0, open=2, in_use=2)


def test_close_returns_idle_and_refuses_everything_after(FreeList: Any) -> None:
    owner = object()
    fl = FreeList(3, block=True, owner=owner)
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    for _ in range(3):
        fl.checkout()
    fl.checkin(a)
    fl.checkin(b)
    idle = fl.close()
    assert sorted(idle, key=id) == sorted([a, b], key=id)
    assert all(x is a or x is b for x in idle)
    check(fl, open=1, idle=0, in_use=1, discarded=2)
    with pytest.raises(ClosedPoolError) as ei:
        fl.checkout()
    assert ei.value.pool is owner and str(ei.value).endswith(CLOSED_MSG)
    with pytest.raises(ClosedPoolError):
        fl.checkout(timeout=0)
    assert fl.checkin(c) is False
    check(fl, open=0, discarded=3)
    assert fl.close() == []  # idempotent
    assert fl.closed
    fl.discard()  # nothing checked out: no-op
    check(fl, open=0, discarded=3, created=3)


def test_discard_after_close(FreeList: Any) -> None:
    fl = FreeList(2)
    fl.checkout()
    fl.close()
    fl.discard()
    check(fl, open=0, discarded=1)


def test_timeout_racing_with_grants_loses_nothing(FreeList: Any) -> None:
    """Waiters time out while connections are handed over: every connection
    ends up with exactly one waiter or back in the stack."""
    fl = FreeList(2, block=True)
    conns = [Conn("a"), Conn("b")]
    assert fl.checkout() is None and fl.checkout() is None
    got: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def waiter() -> None:
        for _ in range(30):
            try:
                c = fl.checkout(timeout=0.002)
            except EmptyPoolError:
                continue
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
                return
            with lock:
                got.append(c)
            if c is None:
                fl.discard()
            else:
                assert fl.checkin(c)

    workers = [Worker(waiter) for _ in range(6)]
    stop = time.monotonic() + 0.3
    held = list(conns)
    while time.monotonic() < stop and held:
        c = held.pop()
        fl.checkin(c)
        time.sleep(0.001)
        try:
            held.append(fl.checkout(timeout=0.05) or Conn("new"))
        except EmptyPoolError:
            pass
    for w in workers:
        w.join()
    assert not errors
    s = check(fl, waiting=0)
    assert s["open"] <= 2
    assert s["waits"] >= s["timeouts"]  # every timeout here did wait


class Interrupted(Exception):
    pass


@pytest.fixture
def sigusr1() -> Iterator[Callable[[Callable[[], None]], None]]:
    """Install a SIGUSR1 handler (``action`` then raise ``Interrupted``)."""
    if not hasattr(signal, "pthread_kill"):
        pytest.skip("needs pthread_kill")
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled in the main thread only")
    old = signal.getsignal(signal.SIGUSR1)

    def install(action: Callable[[], None]) -> None:
        def handler(signum: int, frame: object) -> None:
            action()
            raise Interrupted

        signal.signal(signal.SIGUSR1, handler)

    yield install
    signal.signal(signal.SIGUSR1, old)


def poke_main_when(pred: Callable[[], bool], before: Callable[[], None] | None = None) -> Worker:
    main = threading.main_thread().ident
    assert main is not None

    def run() -> None:
        wait_until(pred)
        if before is not None:
            before()
        signal.pthread_kill(main, signal.SIGUSR1)

    return Worker(run)


def test_signal_handler_exception_cancels_the_wait(FreeList: Any, sigusr1: Any) -> None:
    sigusr1(lambda: None)
    fl = FreeList(1, block=True)
    fl.checkout()
    poker = poke_main_when(lambda: fl.stats()["waiting"] == 1)
    with pytest.raises(Interrupted):
        fl.checkout(timeout=JOIN)
    assert poker.join().error is None
    check(fl, waiting=0, open=1, in_use=1, timeouts=0, waits=1)
    # the pool still works
    a = Conn("a")
    assert fl.checkin(a)
    assert fl.checkout(timeout=0) is a


@pytest.mark.parametrize("grant", ["conn", "slot"])
def test_interrupted_waiter_passes_its_grant_on(FreeList: Any, sigusr1: Any, grant: str) -> None:
    """The signal handler grants the waiting main thread a connection (or a
    slot) and then raises: the grant goes on to the next waiter."""
    fl = FreeList(1, block=True)
    fl.checkout()
    a = Conn("a")
    sigusr1(lambda: fl.checkin(a) if grant == "conn" else fl.discard())
    second: list[Worker] = []

    def start_second() -> None:
        second.append(Worker(lambda: fl.checkout(timeout=JOIN)))
        wait_until(lambda: fl.stats()["waiting"] == 2)

    poker = poke_main_when(lambda: fl.stats()["waiting"] == 1, start_second)
    with pytest.raises(Interrupted):
        fl.checkout(timeout=JOIN)
    assert poker.join().error is None
    w = second[0].join()
    assert w.error is None
    assert w.result is (a if grant == "conn" else None)
    check(fl, waiting=0, open=1, in_use=1, idle=0, waits=2)


def test_interrupted_waiter_puts_a_granted_connection_back(FreeList: Any, sigusr1: Any) -> None:
    fl = FreeList(1, block=True)
    fl.checkout()
    a = Conn("a")
    sigusr1(lambda: fl.checkin(a) and None)
    poker = poke_main_when(lambda: fl.stats()["waiting"] == 1)
    with pytest.raises(Interrupted):
        fl.checkout(timeout=JOIN)
    poker.join()
    check(fl, waiting=0, open=1, idle=1, in_use=0)
    assert fl.checkout(timeout=0) is a


# --------------------------------------------------------------------------- #
# references


def test_no_reference_leaks(FreeList: Any) -> None:
    a = Conn("a")
    base = sys.getrefcount(a)
    fl = FreeList(2, block=True)
    fl.checkout()
    assert fl.checkin(a)
    assert sys.getrefcount(a) == base + 1
    x = fl.checkout()
    assert x is a
    del x
    assert sys.getrefcount(a) == base
    # hand-off to a waiter
    fl.checkout()
    w = Worker(lambda: fl.checkout(timeout=JOIN))
    wait_until(lambda: fl.stats()["waiting"] == 1)
    assert fl.checkin(a)
    w.join()
    assert w.result is a
    w.result = None
    assert sys.getrefcount(a) == base
    # refused (closed pool) and closed-with-idle
    fl2 = FreeList(1)
    fl2.checkout()
    fl2.checkout()
    assert fl2.checkin(a) is True
    b = Conn("b")
    base_b = sys.getrefcount(b)
    assert fl2.checkin(b) is False
    assert sys.getrefcount(b) == base_b
    idle = fl2.close()
    assert idle == [a]
    assert sys.getrefcount(a) == base + 1
    del idle
    assert sys.getrefcount(a) == base
    assert fl2.checkin(b) is False
    assert sys.getrefcount(b) == base_b
    with pytest.raises(TypeError):
        fl2.checkin(None)
    # a pool dropped while holding idle connections releases them
    fl3 = FreeList(4)
    for _ in range(3):
        fl3.checkout()
    for _ in range(3):
        fl3.checkin(a)
    assert sys.getrefcount(a) == base + 3
    del fl3
    gc.collect()
    assert sys.getrefcount(a) == base


def test_owner_is_not_leaked(FreeList: Any) -> None:
    owner = Conn("owner")
    base = sys.getrefcount(owner)
    fl = FreeList(1, block=True, owner=owner)
    fl.checkout()
    for _ in range(3):
        with pytest.raises(EmptyPoolError):
            fl.checkout(timeout=0)
    del fl
    gc.collect()
    assert sys.getrefcount(owner) == base


def test_cannot_be_pickled(FreeList: Any) -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(FreeList(1))
