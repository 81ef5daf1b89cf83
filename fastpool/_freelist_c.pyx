# cython: language_level=3, freethreading_compatible=True, embedsignature=True
"""The idle-connection stack of one pool, compiled (the twin of ``_freelist_py``).

Thread-safe. One ``cython.pymutex`` guards all state and is held only for O(1)
C work: no I/O, no allocation, no Python calls, no reference count drops while
it is held (every ``cdef ... nogil`` helper below runs under it, so the compiler
checks that rule). The mutex is taken with the thread attached; when it is
contended the thread detaches (releases the GIL) while it waits for it.

Layout
------
* Idle connections: a C array of owned ``PyObject*`` used as a LIFO stack,
  allocated at creation for ``min(maxsize, 1024)`` entries. Only a pool with
  a larger ``maxsize`` that really holds more idle connections grows it
  (doubling): the larger array is allocated outside the mutex and swapped in
  under it (a copy of the pointers, amortised O(1)). A reference is taken
  (``Py_INCREF``) before the mutex is taken on check-in and handed over as is
  on check-out.
* Waiters (``block=True`` and the pool is full): each waiting call has a
  ``_Waiter`` struct on its own C stack with a private ``PyThread_type_lock``
  (allocated before the mutex is taken), linked into an intrusive FIFO list.
  The waiter drops the mutex and blocks on its private lock with the GIL
  released. ``checkin`` / ``discard`` / ``close`` unlink the oldest waiter,
  write the grant into its struct and release its lock, all under the mutex.
  After waking (grant, timeout or signal) the waiter always takes the mutex
  once more before it frees its lock, so no granter can still be touching it;
  a grant that races with a timeout is accepted, never lost.
* Signals: the wait is interruptible like ``threading.Lock.acquire``: signal
  handlers run while a thread waits, and if one raises (``KeyboardInterrupt``)
  the checkout is cancelled cleanly (a connection or slot granted meanwhile is
  passed on to the next waiter or put back) and the exception propagates.
"""

cimport cython
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pythread cimport (
    NOWAIT_LOCK,
    PY_LOCK_ACQUIRED,
    PY_LOCK_INTR,
    PyLockStatus,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_release_lock,
    PyThread_type_lock,
)
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.math cimport INFINITY
from libc.string cimport memcpy

from .exceptions import ClosedPoolError, EmptyPoolError

cdef extern from "pythread.h":
    ctypedef long long PY_TIMEOUT_T
    PyLockStatus PyThread_acquire_lock_timed(
        PyThread_type_lock lock, PY_TIMEOUT_T microseconds, int intr_flag) nogil
    # Freeing a lock needs no attached thread state.
    void _free_lock "PyThread_free_lock" (PyThread_type_lock lock) nogil

cdef extern from *:
    """
    /* Monotonic clock in seconds, callable without an attached thread and
       without raising. */
    #if PY_VERSION_HEX >= 0x030D0000
    static double __pyx_fastpool_monotonic(void) {
        PyTime_t t;
        (void)PyTime_MonotonicRaw(&t);  /* sets t to 0 on (impossible) failure */
        return PyTime_AsSecondsDouble(t);
    }
    #else
    static double __pyx_fastpool_monotonic(void) {
        return _PyTime_AsSecondsDouble(_PyTime_GetMonotonicClock());
    }
    #endif
    """
    double _monotonic "__pyx_fastpool_monotonic" () noexcept nogil

cdef str _EMPTY_MSG = "Pool is empty and a new connection can't be opened due to blocking mode."
cdef str _CLOSED_MSG = "Pool is closed."

# Outcomes of the locked helpers.
cdef enum:
    _OUT_CONN = 1      # got an idle connection / conn kept (pushed or handed over)
    _OUT_NEW = 2       # caller owns a new slot
    _OUT_CLOSED = 3    # pool closed
    _OUT_FULL = 4      # checkout: must wait (or time out); checkin: refused
    _OUT_GROW = 5      # checkin: the idle array must grow first

# Waiter states.
cdef enum:
    _W_WAITING = 0
    _W_GRANTED_CONN = 1
    _W_GRANTED_NEW = 2
    _W_CLOSED = 3

cdef enum:
    # Idle-array capacity at creation: all of ``maxsize`` up to this, so the
    # usual pool never grows its array (growth copies under the mutex).
    _INITIAL_CAPACITY = 1024

# The longest single sleep of a waiter (microseconds); it then re-reads the
# clock. Well below PY_TIMEOUT_MAX on every platform.
cdef PY_TIMEOUT_T _MAX_SLICE_US = 3600000000  # one hour

cdef struct _Waiter:
    PyThread_type_lock lock
    int state
    PyObject* conn
    _Waiter* prev
    _Waiter* next


cdef inline object _steal(PyObject* p):
    """Wrap an owned reference into an object without adding one."""
    cdef object o = <object>p
    Py_DECREF(o)  # never the last reference: ``o`` holds the one we owned
    return o


@cython.final
cdef class FreeList:
    """FreeList(maxsize, block=False, owner=None)

    Thread-safe idle-connection stack of one pool (compiled twin).

    ``checkout`` returns the most recently checked-in idle connection, or None
    when the caller may open a new one (while fewer than ``maxsize`` are open,
    or always when ``block`` is false). A full blocking pool makes callers wait,
    with the GIL released and in FIFO order, for a ``checkin`` or ``discard``.
    ``owner`` is passed as the ``pool`` of the ``EmptyPoolError`` /
    ``ClosedPoolError`` raised.
    """

    cdef cython.pymutex _lock
    cdef readonly Py_ssize_t maxsize
    cdef readonly bint block
    cdef object _owner
    cdef bint _closed
    # idle stack (owned references)
    cdef PyObject** _idle
    cdef Py_ssize_t _nidle
    cdef Py_ssize_t _cap
    # FIFO of waiters
    cdef _Waiter* _head
    cdef _Waiter* _tail
    cdef Py_ssize_t _waiting
    # counters
    cdef Py_ssize_t _open
    cdef unsigned long long _created
    cdef unsigned long long _reused
    cdef unsigned long long _discarded
    cdef unsigned long long _refused
    cdef unsigned long long _timeouts
    cdef unsigned long long _waits
    cdef double _wait_total
    cdef double _wait_max

    def __cinit__(self, Py_ssize_t maxsize, bint block=False, object owner=None):
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.block = block
        self._owner = owner
        self._cap = maxsize if maxsize < _INITIAL_CAPACITY else _INITIAL_CAPACITY
        self._idle = <PyObject**>PyMem_Malloc(<size_t>self._cap * sizeof(PyObject*))
        if self._idle == NULL:
            self._cap = 0
            raise MemoryError()

    def __dealloc__(self):
        # No other reference exists, so no thread can be inside a method
        # (a waiting call holds a reference to ``self``). Detach the array
        # before dropping references: a connection's finaliser runs Python code.
        cdef PyObject** idle = self._idle
        cdef Py_ssize_t n = self._nidle
        cdef Py_ssize_t i
        self._idle = NULL
        self._nidle = 0
        self._cap = 0
        if idle != NULL:
            for i in range(n):
                Py_DECREF(<object>idle[i])
            PyMem_Free(idle)

    # ------------------------------------------------------------------ #
    # Helpers that run with the mutex held: C only, O(1).

    cdef inline void _link(self, _Waiter* w) noexcept nogil:
        w.next = NULL
        w.prev = self._tail
        if self._tail != NULL:
            self._tail.next = w
        else:
            self._head = w
        self._tail = w
        self._waiting += 1

    cdef inline void _unlink(self, _Waiter* w) noexcept nogil:
        if w.prev != NULL:
            w.prev.next = w.next
        else:
            self._head = w.next
        if w.next != NULL:
            w.next.prev = w.prev
        else:
            self._tail = w.prev
        w.prev = NULL
        w.next = NULL
        self._waiting -= 1

    cdef inline void _grant(self, _Waiter* w, int state, PyObject* conn) noexcept nogil:
        # ``w`` is the head. After the release below the waiter may run, but it
        # frees its lock only after taking the mutex, which we still hold.
        self._unlink(w)
        w.state = state
        w.conn = conn
        PyThread_release_lock(w.lock)

    cdef inline int _checkout_locked(self, PyObject** out) noexcept nogil:
        if self._closed:
            return _OUT_CLOSED
        if self._nidle > 0:
            self._nidle -= 1
            out[0] = self._idle[self._nidle]
            self._idle[self._nidle] = NULL
            self._reused += 1
            return _OUT_CONN
        if self._open < self.maxsize or not self.block:
            self._open += 1
            self._created += 1
            return _OUT_NEW
        return _OUT_FULL

    cdef inline int _checkin_locked(self, PyObject* conn) noexcept nogil:
        # ``conn`` is an owned reference; on _OUT_CLOSED / _OUT_FULL the caller
        # drops it, on _OUT_GROW nothing changed.
        if (not self._closed and self._head == NULL
                and self._cap <= self._nidle < self.maxsize):
            return _OUT_GROW
        if self._open - self._nidle <= 0:
            # Nothing is checked out: adopt ``conn`` as a newly opened
            # connection so the counters keep adding up.
            self._open += 1
            self._created += 1
        if self._closed:
            self._open -= 1
            self._discarded += 1
            return _OUT_CLOSED
        if self._head != NULL:
            self._reused += 1
            self._grant(self._head, _W_GRANTED_CONN, conn)
            return _OUT_CONN
        if self._nidle >= self.maxsize:
            self._open -= 1
            self._refused += 1
            return _OUT_FULL
        self._idle[self._nidle] = conn
        self._nidle += 1
        return _OUT_CONN

    cdef inline void _discard_locked(self) noexcept nogil:
        if self._open - self._nidle <= 0:
            return  # nothing is checked out: nothing to free
        self._open -= 1
        self._discarded += 1
        if self._head != NULL and not self._closed:
            self._open += 1
            self._created += 1
            self._grant(self._head, _W_GRANTED_NEW, NULL)

    # ------------------------------------------------------------------ #
    # Public API

    def checkout(self, timeout=None):
        """Take the most recently checked-in idle connection, or None when the
        caller must open a new one (and later ``checkin`` or ``discard`` it).

        A full blocking pool waits (GIL released, FIFO) up to ``timeout``
        seconds (None: forever; <= 0: not at all), then raises
        ``EmptyPoolError``. A closed pool raises ``ClosedPoolError``.
        """
        cdef PyObject* conn = NULL
        cdef int out
        self._lock.acquire()
        out = self._checkout_locked(&conn)
        self._lock.release()
        if out == _OUT_CONN:
            return _steal(conn)
        if out == _OUT_NEW:
            return None
        if out == _OUT_CLOSED:
            raise ClosedPoolError(self._owner, _CLOSED_MSG)
        return self._wait(timeout)

    cdef object _wait(self, object timeout):
        cdef bint forever = timeout is None
        cdef double seconds = 0.0
        cdef double start, deadline, remaining, elapsed
        cdef PY_TIMEOUT_T us
        cdef PyLockStatus r = PY_LOCK_ACQUIRED
        cdef PyObject* conn = NULL
        cdef int out, state
        cdef bint timed_out = False
        cdef _Waiter w

        if not forever:
            seconds = float(timeout)
            if seconds != seconds:
                raise ValueError("timeout must be a number or None, not nan")
            if seconds == INFINITY:
                forever = True
            elif seconds <= 0.0:
                self._lock.acquire()
                self._timeouts += 1
                self._lock.release()
                raise EmptyPoolError(self._owner, _EMPTY_MSG)

        w.lock = PyThread_allocate_lock()
        if w.lock == NULL:
            raise MemoryError()
        PyThread_acquire_lock(w.lock, NOWAIT_LOCK)  # held: we block on it below
        w.state = _W_WAITING
        w.conn = NULL
        w.prev = NULL
        w.next = NULL
        start = _monotonic()
        deadline = start + seconds

        self._lock.acquire()
        out = self._checkout_locked(&conn)  # things may have changed meanwhile
        if out == _OUT_FULL:
            self._link(&w)
        self._lock.release()
        if out != _OUT_FULL:
            PyThread_release_lock(w.lock)
            _free_lock(w.lock)
            if out == _OUT_CONN:
                return _steal(conn)
            if out == _OUT_NEW:
                return None
            raise ClosedPoolError(self._owner, _CLOSED_MSG)

        # Linked: from here to _end_wait no exit but through it.
        try:
            while True:
                if forever:
                    us = -1  # no deadline
                else:
                    remaining = deadline - _monotonic()
                    if remaining <= 0.0:
                        timed_out = True
                        break
                    if remaining * 1e6 >= <double>_MAX_SLICE_US:
                        us = _MAX_SLICE_US
                    else:
                        us = <PY_TIMEOUT_T>(remaining * 1e6) + 1
                with nogil:
                    r = PyThread_acquire_lock_timed(w.lock, us, 1)
                if r == PY_LOCK_ACQUIRED:
                    break
                if r == PY_LOCK_INTR:
                    PyErr_CheckSignals()  # a handler may raise: cancel below
        except BaseException:
            state = self._end_wait(&w, start, False)
            # Cancelled: pass on whatever was granted meanwhile.
            if state == _W_GRANTED_CONN:
                self.checkin(_steal(w.conn))
            elif state == _W_GRANTED_NEW:
                self.discard()
            raise

        state = self._end_wait(&w, start, timed_out)
        if state == _W_GRANTED_CONN:
            return _steal(w.conn)
        if state == _W_GRANTED_NEW:
            return None
        if state == _W_CLOSED:
            raise ClosedPoolError(self._owner, _CLOSED_MSG)
        raise EmptyPoolError(self._owner, _EMPTY_MSG)

    cdef int _end_wait(self, _Waiter* w, double start, bint timed_out) noexcept nogil:
        """Unlink (if nobody granted us meanwhile), account the wait, free the lock."""
        cdef double elapsed = _monotonic() - start
        cdef int state
        if elapsed < 0.0:
            elapsed = 0.0
        self._lock.acquire()
        state = w.state
        if state == _W_WAITING:
            self._unlink(w)
            if timed_out:
                self._timeouts += 1
        self._waits += 1
        self._wait_total += elapsed
        if elapsed > self._wait_max:
            self._wait_max = elapsed
        self._lock.release()
        # Every granter released ``w.lock`` before dropping the mutex we just
        # held, so nobody touches it any more. Unlock it (if held) and free it.
        PyThread_acquire_lock(w.lock, NOWAIT_LOCK)
        PyThread_release_lock(w.lock)
        _free_lock(w.lock)
        w.lock = NULL
        return state

    def checkin(self, conn):
        """Give back a checked-out connection: handed straight to the longest
        waiter if there is one, else pushed on the idle stack. Returns False
        when refused (a non-blocking pool already holding ``maxsize`` idle
        connections, or a closed pool): the slot is released and the caller
        closes ``conn``.
        """
        cdef PyObject* p
        cdef PyObject** spare = NULL
        cdef PyObject** old
        cdef Py_ssize_t spare_cap = 0
        cdef Py_ssize_t want
        cdef int out
        if conn is None:
            raise TypeError("checkin() needs a connection; use discard() to free a slot")
        p = <PyObject*>conn
        Py_INCREF(conn)  # the reference the stack (or a waiter) will own
        while True:
            self._lock.acquire()
            if spare != NULL and spare_cap > self._cap and not self._closed:
                # swap in the larger array prepared outside the mutex
                memcpy(spare, self._idle, <size_t>self._nidle * sizeof(PyObject*))
                old = self._idle
                self._idle = spare
                self._cap = spare_cap
                spare = old
                spare_cap = 0
            out = self._checkin_locked(p)
            want = self._cap * 2
            self._lock.release()
            if out != _OUT_GROW:
                break
            if want > self.maxsize or want < 0:
                want = self.maxsize
            PyMem_Free(spare)
            spare = <PyObject**>PyMem_Malloc(<size_t>want * sizeof(PyObject*))
            if spare == NULL:
                # No memory to keep it idle: refuse, as a full pool would.
                self._lock.acquire()
                self._open -= 1
                self._refused += 1
                self._lock.release()
                out = _OUT_FULL
                break
            spare_cap = want
        PyMem_Free(spare)
        if out == _OUT_CONN:
            return True
        Py_DECREF(conn)  # the caller still holds a reference
        return False

    def discard(self):
        """A checked-out connection died or was closed: free its slot and tell
        the longest waiter, if any, to open a new one.
        """
        self._lock.acquire()
        self._discard_locked()
        self._lock.release()

    def close(self):
        """Mark the pool closed and return the idle connections for the caller
        to close (each counts as discarded). Every waiter gets
        ``ClosedPoolError``, and so does every later checkout. Idempotent.
        """
        cdef PyObject** idle
        cdef Py_ssize_t n, i
        cdef list result
        self._lock.acquire()
        idle = self._idle
        n = self._nidle
        self._idle = NULL
        self._nidle = 0
        self._cap = 0
        self._open -= n
        self._discarded += n
        self._closed = True
        self._lock.release()
        # Wake the waiters one per mutex hold (each hold stays O(1)); being
        # closed, the pool links no new ones.
        while True:
            self._lock.acquire()
            if self._head == NULL:
                self._lock.release()
                break
            self._grant(self._head, _W_CLOSED, NULL)
            self._lock.release()
        result = []
        if idle != NULL:
            for i in range(n):
                result.append(_steal(idle[i]))
            PyMem_Free(idle)
        return result

    @property
    def closed(self):
        """True once ``close()`` was called."""
        cdef bint c
        self._lock.acquire()
        c = self._closed
        self._lock.release()
        return c

    def stats(self):
        """One consistent snapshot: ``maxsize, open, idle, in_use, waiting,
        created, reused, discarded, refused, timeouts, waits, wait_time_total,
        wait_time_max`` (times in seconds). ``open == idle + in_use ==
        created - discarded - refused`` always holds.
        """
        cdef Py_ssize_t open_, idle, waiting
        cdef unsigned long long created, reused, discarded, refused, timeouts, waits
        cdef double total, wmax
        self._lock.acquire()
        open_ = self._open
        idle = self._nidle
        waiting = self._waiting
        created = self._created
        reused = self._reused
        discarded = self._discarded
        refused = self._refused
        timeouts = self._timeouts
        waits = self._waits
        total = self._wait_total
        wmax = self._wait_max
        self._lock.release()
        return {
            "maxsize": self.maxsize,
            "open": open_,
            "idle": idle,
            "in_use": open_ - idle,
            "waiting": waiting,
            "created": created,
            "reused": reused,
            "discarded": discarded,
            "refused": refused,
            "timeouts": timeouts,
            "waits": waits,
            "wait_time_total": total,
            "wait_time_max": wmax,
        }

    def __repr__(self):
        s = self.stats()
        return (
            f"<FreeList maxsize={s['maxsize']} block={bool(self.block)} "
            f"closed={self.closed} open={s['open']} idle={s['idle']} "
            f"in_use={s['in_use']} waiting={s['waiting']} created={s['created']} "
            f"reused={s['reused']} discarded={s['discarded']} refused={s['refused']} "
            f"timeouts={s['timeouts']} waits={s['waits']} "
            f"wait_time_total={s['wait_time_total']:.6f} "
            f"wait_time_max={s['wait_time_max']:.6f}>"
        )

    def __reduce__(self):
        raise TypeError("FreeList cannot be pickled")
