"""The idle-connection stack of one pool, in pure Python (the twin of ``_freelist_c``).

Thread-safe. One ``threading.Lock`` guards all state and is held only for O(1)
work: no I/O and no waiting while it is held. Idle connections are a list used
as a LIFO stack. A caller that must wait (``block=True`` and the pool is full)
queues a private, already-acquired ``threading.Lock`` in a FIFO deque and blocks
on it outside the pool lock; ``checkin`` / ``discard`` / ``close`` pop the
oldest waiter, write the grant into it and release its private lock. A grant
that races with a timeout is accepted, never lost.

The wait is interruptible (like ``threading.Lock.acquire``): if a signal
handler raises (``KeyboardInterrupt``) while a thread waits, the checkout is
cancelled cleanly (a connection or slot granted meanwhile is passed on to the
next waiter or put back) and the exception propagates.
"""

from __future__ import annotations

import contextlib
import math
import operator
import threading
import time
from collections import deque
from typing import Any, Final

from .exceptions import ClosedPoolError, EmptyPoolError

__all__ = ["FreeList"]

_EMPTY_MSG: Final = "Pool is empty and a new connection can't be opened due to blocking mode."
_CLOSED_MSG: Final = "Pool is closed."

# Waiter states.
_W_WAITING: Final = 0
_W_GRANTED_CONN: Final = 1
_W_GRANTED_NEW: Final = 2
_W_CLOSED: Final = 3

# Outcomes of the locked helpers.
_OUT_CONN: Final = 1
_OUT_NEW: Final = 2
_OUT_CLOSED: Final = 3
_OUT_FULL: Final = 4


class _Waiter:
    """One waiting ``checkout``: its private lock and the grant it receives."""

    __slots__ = ("conn", "lock", "state")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()  # held: the waiter blocks on it until a grant
        self.state = _W_WAITING
        self.conn: object = None


class FreeList:
    """Thread-safe idle-connection stack of one pool (pure-Python twin).

    ``checkout`` returns the most recently checked-in idle connection, or None
    when the caller may open a new one (while fewer than ``maxsize`` are open,
    or always when ``block`` is false). A full blocking pool makes callers wait,
    in FIFO order, for a ``checkin`` or ``discard``. ``owner`` is passed as the
    ``pool`` of the ``EmptyPoolError`` / ``ClosedPoolError`` raised.
    """

    __slots__ = (
        "_block",
        "_closed",
        "_created",
        "_discarded",
        "_idle",
        "_lock",
        "_maxsize",
        "_open",
        "_owner",
        "_refused",
        "_reused",
        "_timeouts",
        "_wait_max",
        "_wait_total",
        "_waiters",
        "_waits",
    )

    def __init__(self, maxsize: int, block: bool = False, owner: object = None) -> None:
        maxsize = operator.index(maxsize)
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._maxsize: int = maxsize
        self._block: bool = bool(block)
        self._owner: object = owner
        self._lock = threading.Lock()
        self._closed = False
        self._idle: list[object] = []
        self._waiters: deque[_Waiter] = deque()
        self._open = 0
        self._created = 0
        self._reused = 0
        self._discarded = 0
        self._refused = 0
        self._timeouts = 0
        self._waits = 0
        self._wait_total = 0.0
        self._wait_max = 0.0

    @property
    def maxsize(self) -> int:
        """The most connections the pool keeps (and, when blocking, opens)."""
        return self._maxsize

    @property
    def block(self) -> bool:
        """Whether a full pool makes ``checkout`` wait."""
        return self._block

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    # ------------------------------------------------------------------ #
    # Helpers that run with ``self._lock`` held: O(1), no waiting.

    def _grant(self, state: int, conn: object) -> None:
        waiter = self._waiters.popleft()
        waiter.state = state
        waiter.conn = conn
        waiter.lock.release()

    def _checkout_locked(self) -> tuple[int, object]:
        if self._closed:
            return _OUT_CLOSED, None
        if self._idle:
            self._reused += 1
            return _OUT_CONN, self._idle.pop()
        if self._open < self._maxsize or not self._block:
            self._open += 1
            self._created += 1
            return _OUT_NEW, None
        return _OUT_FULL, None

    def _checkin_locked(self, conn: object) -> bool:
        if self._open - len(self._idle) <= 0:
            # Nothing is checked out: adopt ``conn`` as a newly opened
            # connection so the counters keep adding up.
            self._open += 1
            self._created += 1
        if self._closed:
            self._open -= 1
            self._discarded += 1
            return False
        if self._waiters:
            self._reused += 1
            self._grant(_W_GRANTED_CONN, conn)
            return True
        if len(self._idle) >= self._maxsize:
            self._open -= 1
            self._refused += 1
            return False
        self._idle.append(conn)
        return True

    def _discard_locked(self) -> None:
        if self._open - len(self._idle) <= 0:
            return  # nothing is checked out: nothing to free
        self._open -= 1
        self._discarded += 1
        if self._waiters and not self._closed:
            self._open += 1
            self._created += 1
            self._grant(_W_GRANTED_NEW, None)

    # ------------------------------------------------------------------ #
    # Public API

    def checkout(self, timeout: float | None = None) -> Any:
        """Take the most recently checked-in idle connection, or None when the
        caller must open a new one (and later ``checkin`` or ``discard`` it).

        A full blocking pool waits (FIFO) up to ``timeout`` seconds (None:
        forever; <= 0: not at all), then raises ``EmptyPoolError``. A closed
        pool raises ``ClosedPoolError``.
        """
        with self._lock:
            out, conn = self._checkout_locked()
        if out == _OUT_CLOSED:
            raise ClosedPoolError(self._owner, _CLOSED_MSG)  # type: ignore[arg-type]
        if out == _OUT_FULL:
            return self._wait(timeout)
        return conn

    def _wait(self, timeout: float | None) -> Any:
        forever = timeout is None
        seconds = 0.0
        if timeout is not None:
            seconds = float(timeout)
            if math.isnan(seconds):
                raise ValueError("timeout must be a number or None, not nan")
            if seconds == math.inf:
                forever = True
            elif seconds <= 0.0:
                with self._lock:
                    self._timeouts += 1
                raise EmptyPoolError(self._owner, _EMPTY_MSG)  # type: ignore[arg-type]

        waiter = _Waiter()
        start = time.monotonic()
        deadline = start + seconds
        timed_out = False
        linked = False
        try:
            with self._lock:
                out, conn = self._checkout_locked()  # things may have changed meanwhile
                if out == _OUT_FULL:
                    linked = True
                    self._waiters.append(waiter)
            if out == _OUT_CLOSED:
                raise ClosedPoolError(self._owner, _CLOSED_MSG)  # type: ignore[arg-type]
            if out != _OUT_FULL:
                return conn
            while True:
                if forever:
                    wait = -1.0
                else:
                    wait = deadline - time.monotonic()
                    if wait <= 0.0:
                        timed_out = True
                        break
                    wait = min(wait, threading.TIMEOUT_MAX)
                if waiter.lock.acquire(timeout=wait):
                    break
        except BaseException:
            if not linked:
                raise
            state, conn = self._end_wait(waiter, start, False)
            # Cancelled: pass on whatever was granted meanwhile.
            if state == _W_GRANTED_CONN:
                self.checkin(conn)
            elif state == _W_GRANTED_NEW:
                self.discard()
            raise

        state, conn = self._end_wait(waiter, start, timed_out)
        if state == _W_CLOSED:
            raise ClosedPoolError(self._owner, _CLOSED_MSG)  # type: ignore[arg-type]
        if state != _W_WAITING:
            return conn
        raise EmptyPoolError(self._owner, _EMPTY_MSG)  # type: ignore[arg-type]

    def _end_wait(self, waiter: _Waiter, start: float, timed_out: bool) -> tuple[int, object]:
        """Unlink the waiter (unless granted meanwhile) and account the wait."""
        elapsed = max(time.monotonic() - start, 0.0)
        with self._lock:
            state = waiter.state
            if state == _W_WAITING:
                with contextlib.suppress(ValueError):  # not linked if interrupted early
                    self._waiters.remove(waiter)
                if timed_out:
                    self._timeouts += 1
            self._waits += 1
            self._wait_total += elapsed
            self._wait_max = max(self._wait_max, elapsed)
            conn, waiter.conn = waiter.conn, None
        return state, conn

    def checkin(self, conn: object) -> bool:
        """Give back a checked-out connection: handed straight to the longest
        waiter if there is one, else pushed on the idle stack. Returns False
        when refused (a non-blocking pool already holding ``maxsize`` idle
        connections, or a closed pool): the slot is released and the caller
        closes ``conn``.
        """
        if conn is None:
            raise TypeError("checkin() needs a connection; use discard() to free a slot")
        with self._lock:
            return self._checkin_locked(conn)

    def discard(self) -> None:
        """A checked-out connection died or was closed: free its slot and tell
        the longest waiter, if any, to open a new one.
        """
        with self._lock:
            self._discard_locked()

    def close(self) -> list[Any]:
        """Mark the pool closed and return the idle connections for the caller
        to close (each counts as discarded). Every waiter gets
        ``ClosedPoolError``, and so does every later checkout. Idempotent.
        """
        with self._lock:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._discarded += len(idle)
            self._closed = True
        # Wake the waiters one per lock hold; being closed, the pool links no
        # new ones.
        while True:
            with self._lock:
                if not self._waiters:
                    break
                self._grant(_W_CLOSED, None)
        return idle

    def stats(self) -> dict[str, Any]:
        """One consistent snapshot: ``maxsize, open, idle, in_use, waiting,
        created, reused, discarded, refused, timeouts, waits, wait_time_total,
        wait_time_max`` (times in seconds). ``open == idle + in_use ==
        created - discarded - refused`` always holds.
        """
        with self._lock:
            idle = len(self._idle)
            return {
                "maxsize": self._maxsize,
                "open": self._open,
                "idle": idle,
                "in_use": self._open - idle,
                "waiting": len(self._waiters),
                "created": self._created,
                "reused": self._reused,
                "discarded": self._discarded,
                "refused": self._refused,
                "timeouts": self._timeouts,
                "waits": self._waits,
                "wait_time_total": self._wait_total,
                "wait_time_max": self._wait_max,
            }

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"<FreeList maxsize={s['maxsize']} block={self._block} "
            f"closed={self._closed} open={s['open']} idle={s['idle']} "
            f"in_use={s['in_use']} waiting={s['waiting']} created={s['created']} "
            f"reused={s['reused']} discarded={s['discarded']} refused={s['refused']} "
            f"timeouts={s['timeouts']} waits={s['waits']} "
            f"wait_time_total={s['wait_time_total']:.6f} "
            f"wait_time_max={s['wait_time_max']:.6f}>"
        )

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("FreeList cannot be pickled")
