# cython: language_level=3, freethreading_compatible=True, embedsignature=True
"""Compiled twin of :mod:`fastpool._http11_py`: the HTTP/1.1 codec.

Same public API and behaviour as the pure twin (see ``docs/internals.md``,
section ``_http11``).  Everything that looks at bytes runs on C buffers:

* request heads are validated and written into one C buffer, then copied
  once into the resulting ``bytes``;
* the response parser keeps one growable C buffer; the end of a head is found
  incrementally (the scan resumes where it stopped, so byte-at-a-time input
  stays linear), the head is validated in one pass and the header list is
  built from offsets;
* chunked bodies are decoded in place (payload bytes are moved down over the
  framing they replace);
* ``Wire`` drives a plain ``socket.socket`` through its descriptor without
  the GIL (non-blocking ``send``/``recv`` flags plus ``poll`` for the
  timeout); any other socket object goes through its Python methods and
  feeds the same parser.

Objects here are owned by one thread at a time: nothing is locked.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_RawFree, PyMem_RawMalloc, PyMem_RawRealloc
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.errno cimport EINTR, errno
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memchr, memcmp, memcpy, memmove

from ._includes.fp_net cimport (
    FP_HAVE_FD_PATH,
    FP_POLLIN,
    FP_POLLPRI,
    FP_POLLOUT,
    fp_monotonic,
    fp_poll,
    fp_recv,
    fp_send,
    fp_send2,
    fp_would_block,
)

import http.client as _http_client
import os as _os
import select as _select_mod
import socket as _socket

from urllib3.exceptions import IncompleteRead, ProtocolError

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
    int PyUnicode_KIND(object u)
    void* PyUnicode_DATA(object u)
    Py_ssize_t PyUnicode_GET_LENGTH(object u)
    int PyUnicode_1BYTE_KIND
    object PyMemoryView_FromMemory(char *mem, Py_ssize_t size, int flags)
    int PyBUF_WRITE

# Python names captured once.
cdef object _ProtocolError = ProtocolError
cdef object _IncompleteRead = IncompleteRead
cdef object _RemoteDisconnected = _http_client.RemoteDisconnected
cdef object _socket_type = _socket.socket
# ``socket.socket`` inherits ``fileno`` from ``_socket.socket``: calling the C
# method descriptor skips the attribute lookup on every check.
cdef object _socket_fileno = _socket.socket.fileno
cdef object _select = _select_mod.select
cdef object _poll_type = getattr(_select_mod, "poll", None)
cdef int _POLL_READABLE = (getattr(_select_mod, "POLLIN", 1) | getattr(_select_mod, "POLLPRI", 2)
                           | getattr(_select_mod, "POLLERR", 8) | getattr(_select_mod, "POLLHUP", 16))
cdef object _strerror = _os.strerror
cdef object _frozenset = frozenset

FRAMING_NONE = 0
FRAMING_LENGTH = 1
FRAMING_CHUNKED = 2
FRAMING_CLOSE = 3
LAST_CHUNK = b"0\r\n\r\n"

DEFAULT_MAX_HEAD_SIZE = 65536
DEFAULT_MAX_HEADERS = 100
DEFAULT_MAX_TRAILER_SIZE = 16384
DEFAULT_MAX_CHUNK_LINE = 4096
DEFAULT_MAX_INTERIM = 10

cdef enum:
    F_NONE = 0
    F_LENGTH = 1
    F_CHUNKED = 2
    F_CLOSE = 3

# Parser states.
cdef enum:
    S_HEAD = 0      # waiting for (the rest of) a head
    S_BODY = 1      # final head parsed, body in progress
    S_DONE = 2      # message complete (body delivered; only leftover bytes remain)

# Chunked decoder states.
cdef enum:
    C_SIZE = 0      # at a chunk-size line
    C_DATA = 1      # inside chunk data
    C_CRLF = 2      # the CRLF after chunk data
    C_TRAILER = 3   # trailer section
    C_END = 4       # last chunk and trailers consumed

# Error codes (positive; functions return their negation).
cdef enum:
    E_STATUS_LINE = 1
    E_VERSION
    E_STATUS_CODE
    E_BARE_CR
    E_NUL
    E_OBS_FOLD
    E_NO_COLON
    E_WS_BEFORE_COLON
    E_BAD_NAME
    E_HEAD_TOO_BIG
    E_TOO_MANY_HEADERS
    E_SWITCHING
    E_CL_INVALID
    E_CL_CONFLICT
    E_TE_AND_CL
    E_CHUNK_SIZE
    E_CHUNK_LINE_TOO_LONG
    E_CHUNK_CRLF
    E_TRAILER_TOO_BIG
    E_INCOMPLETE_HEAD
    E_INCOMPLETE_BODY
    E_NO_RESPONSE
    E_AFTER_EOF
    E_TOO_MANY_INTERIM

# Results of the I/O pumps (Wire).
cdef enum:
    R_DONE = 0
    R_WANT_READ = 1     # Python-socket path: the driver must recv_into (rd_ptr, rd_len)
    R_EINTR = 2         # a system call was interrupted: check signals, then resume
    R_TIMEOUT = 3
    R_OSERROR = 4       # errno in self.os_errno
    R_PROTO = 5         # parser error in self.p.err
    R_TRAILERS = 6      # trailer fields located: build them with the GIL, then resume
    R_NEED_IO = 7       # (no_io set) a system call is needed: release the GIL and resume

cdef dict _MESSAGES = {
    E_STATUS_LINE: "Invalid status line",
    E_VERSION: "Unsupported HTTP version in status line",
    E_STATUS_CODE: "Invalid status code in status line",
    E_BARE_CR: "Bare CR in response head",
    E_NUL: "NUL byte in response head",
    E_OBS_FOLD: "Obsolete line folding (obs-fold) in header field",
    E_NO_COLON: "Header line without a colon",
    E_WS_BEFORE_COLON: "Whitespace between header name and colon",
    E_BAD_NAME: "Invalid header name",
    E_HEAD_TOO_BIG: "Response head too large",
    E_TOO_MANY_HEADERS: "Too many header fields",
    E_SWITCHING: "Unexpected 101 Switching Protocols (no upgrade was requested)",
    E_CL_INVALID: "Invalid Content-Length",
    E_CL_CONFLICT: "Conflicting Content-Length values",
    E_TE_AND_CL: "Both Transfer-Encoding and Content-Length in response",
    E_CHUNK_SIZE: "Invalid chunk size line",
    E_CHUNK_LINE_TOO_LONG: "Chunk size line too long",
    E_CHUNK_CRLF: "Missing CRLF after chunk data",
    E_TRAILER_TOO_BIG: "Trailer section too large",
    E_INCOMPLETE_HEAD: "Connection closed in the middle of the response head",
    E_NO_RESPONSE: "Remote end closed connection without response",
    E_AFTER_EOF: "Data fed after end of stream",
    E_TOO_MANY_INTERIM: "Too many interim (1xx) responses",
}

ctypedef struct Span:
    Py_ssize_t name_off
    Py_ssize_t name_len
    Py_ssize_t val_off
    Py_ssize_t val_len

# --------------------------------------------------------------------------
# Character classes

cdef unsigned char _TCHAR[256]
cdef unsigned char _LOWER[256]


cdef inline void _init_tables() noexcept:
    cdef int c
    cdef bytes extra = b"!#$%&'*+-.^_`|~"
    for c in range(256):
        _TCHAR[c] = 0
        _LOWER[c] = <unsigned char>c
    for c in range(ord("0"), ord("9") + 1):
        _TCHAR[c] = 1
    for c in range(ord("a"), ord("z") + 1):
        _TCHAR[c] = 1
    for c in range(ord("A"), ord("Z") + 1):
        _TCHAR[c] = 1
        _LOWER[c] = <unsigned char>(c + 32)
    for c in extra:
        _TCHAR[c] = 1


_init_tables()


cdef inline bint _is_token(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if n <= 0:
        return False
    for i in range(n):
        if not _TCHAR[p[i]]:
            return False
    return True


cdef inline bint _ieq(const char* p, Py_ssize_t n, const char* lower, Py_ssize_t ln) noexcept nogil:
    """``p[:n]`` equals the lower-case ASCII ``lower`` ignoring case."""
    cdef Py_ssize_t i
    if n != ln:
        return False
    for i in range(n):
        if _LOWER[<unsigned char>p[i]] != <unsigned char>lower[i]:
            return False
    return True


cdef inline bint _is_ows(char c) noexcept nogil:
    return c == b' ' or c == b'\t'


cdef inline void _trim_ows(const char* p, Py_ssize_t* s, Py_ssize_t* e) noexcept nogil:
    """Shrink ``p[s:e]`` past optional whitespace on both sides (one list element)."""
    while s[0] < e[0] and _is_ows(p[s[0]]):
        s[0] += 1
    while e[0] > s[0] and _is_ows(p[e[0] - 1]):
        e[0] -= 1


# --------------------------------------------------------------------------
# Interned strings for the names and values seen in most responses: a head
# full of well-known fields costs a lookup instead of a decode per string.

cdef tuple _KNOWN = (
    "Date", "Server", "Content-Type", "Content-Length", "Connection", "Cache-Control",
    "Vary", "Transfer-Encoding", "Content-Encoding", "Keep-Alive", "ETag", "Last-Modified",
    "Expires", "Location", "Set-Cookie", "Accept-Ranges", "Age", "Pragma", "Via",
    "Access-Control-Allow-Origin", "Strict-Transport-Security", "X-Content-Type-Options",
    "X-Frame-Options", "X-XSS-Protection", "Content-Security-Policy", "Referrer-Policy",
    "X-Request-Id", "X-Powered-By", "WWW-Authenticate", "Retry-After", "Alt-Svc", "Link",
    "date", "server", "content-type", "content-length", "connection", "cache-control",
    "vary", "transfer-encoding", "content-encoding", "keep-alive", "etag", "last-modified",
    "expires", "location", "set-cookie", "accept-ranges", "age", "x-request-id",
    "OK", "Created", "Accepted", "No Content", "Moved Permanently", "Found", "Not Modified",
    "Bad Request", "Unauthorized", "Forbidden", "Not Found", "Internal Server Error",
    "Bad Gateway", "Service Unavailable", "Continue",
    "close", "chunked", "gzip", "br", "deflate", "identity", "bytes", "no-cache", "no-store",
    "nosniff", "DENY", "SAMEORIGIN", "Accept-Encoding", "Origin", "*", "0", "nginx",
    "application/json", "application/json; charset=utf-8", "text/html",
    "text/html; charset=utf-8", "text/plain", "text/plain; charset=utf-8",
    "application/octet-stream",
)
DEF _KNOWN_MAX = 128
DEF _KNOWN_MAXLEN = 48
cdef tuple _KNOWN_BYTES = tuple([s.encode("latin-1") for s in _KNOWN])
cdef const char* _known_ptr[_KNOWN_MAX]
cdef Py_ssize_t _known_len[_KNOWN_MAX]
cdef int _known_first[_KNOWN_MAXLEN + 1]   # by length: first index in sorted order, -1 if none
cdef int _known_count[_KNOWN_MAXLEN + 1]
cdef int _known_index[_KNOWN_MAX]          # sorted position -> index into _KNOWN


cdef inline void _init_known() except *:
    cdef int i, j, n = len(_KNOWN)
    cdef Py_ssize_t ln
    assert n <= _KNOWN_MAX
    order = sorted(range(n), key=lambda k: len(_KNOWN_BYTES[k]))
    for i in range(_KNOWN_MAXLEN + 1):
        _known_first[i] = -1
        _known_count[i] = 0
    for j in range(n):
        i = order[j]
        ln = len(_KNOWN_BYTES[i])
        assert ln <= _KNOWN_MAXLEN
        _known_ptr[j] = PyBytes_AS_STRING(_KNOWN_BYTES[i])
        _known_len[j] = ln
        _known_index[j] = i
        if _known_first[ln] < 0:
            _known_first[ln] = j
        _known_count[ln] += 1


_init_known()


cdef inline str _latin1(const char* p, Py_ssize_t n):
    cdef int j, stop
    if n <= _KNOWN_MAXLEN:
        j = _known_first[n]
        if j >= 0:
            stop = j + _known_count[n]
            while j < stop:
                if _known_ptr[j][0] == p[0] and memcmp(_known_ptr[j], p, n) == 0:
                    return <str>_KNOWN[_known_index[j]]
                j += 1
    return PyUnicode_DecodeLatin1(p, n, NULL)


# --------------------------------------------------------------------------
# A small growable C buffer for serializing request heads.

DEF _STACK_BUF = 1024
cdef const char* _HEX = "0123456789abcdef"

cdef struct _Out:
    char* p
    Py_ssize_t n
    Py_ssize_t cap
    bint heap


cdef inline int _out_reserve(_Out* o, Py_ssize_t extra) except -1:
    cdef Py_ssize_t need = o.n + extra
    cdef Py_ssize_t cap
    cdef char* q
    if need <= o.cap:
        return 0
    cap = o.cap * 2
    while cap < need:
        cap *= 2
    q = <char*>PyMem_Malloc(cap)
    if q == NULL:
        raise MemoryError()
    memcpy(q, o.p, o.n)
    if o.heap:
        PyMem_Free(o.p)
    o.p = q
    o.cap = cap
    o.heap = True
    return 0


cdef inline int _out_write(_Out* o, const char* p, Py_ssize_t n) except -1:
    if o.n + n > o.cap:
        _out_reserve(o, n)
    memcpy(o.p + o.n, p, n)
    o.n += n
    return 0


cdef inline int _out_uint(_Out* o, uint64_t v) except -1:
    cdef char tmp[24]
    cdef int i = 24
    if v == 0:
        return _out_write(o, "0", 1)
    while v:
        i -= 1
        tmp[i] = <char>(48 + v % 10)
        v //= 10
    return _out_write(o, tmp + i, 24 - i)


cdef inline void _out_free(_Out* o) noexcept:
    if o.heap:
        PyMem_Free(o.p)
        o.heap = False


# --------------------------------------------------------------------------
# Request side

cdef inline const char* _as_bytes_ptr(object s, Py_ssize_t* n) except? NULL:
    """Pointer and length of the ISO-8859-1 bytes of ``s`` (``str`` or ``bytes``).

    Returns NULL (no exception) when ``s`` is neither; raises ValueError when a
    ``str`` has characters beyond U+00FF."""
    if type(s) is str or isinstance(s, str):
        if PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND:
            n[0] = PyUnicode_GET_LENGTH(s)
            return <const char*>PyUnicode_DATA(s)
        raise ValueError("%r is not ISO-8859-1" % (s,))
    if type(s) is bytes or isinstance(s, bytes):
        n[0] = PyBytes_GET_SIZE(s)
        return PyBytes_AS_STRING(s)
    return NULL


cdef inline const char* _value_ptr(object value, Py_ssize_t* n, list keep) except NULL:
    """Pointer and length of a field value: ``str`` (ISO-8859-1), ``bytes``,
    ``bytearray`` (copied) or ``int`` (formatted); TypeError otherwise."""
    cdef const char* vp = _as_bytes_ptr(value, n)
    if vp != NULL:
        return vp
    if isinstance(value, bytearray):
        value = bytes(value)
    elif isinstance(value, int):
        value = str(value)
    else:
        raise TypeError("value must be str, bytes or int, not %s" % type(value).__name__)
    keep.append(value)
    return _as_bytes_ptr(value, n)


cdef inline int _check_value(const char* p, Py_ssize_t n) noexcept nogil:
    """0 when the field value has no CR, LF or NUL."""
    cdef Py_ssize_t i
    cdef unsigned char c
    for i in range(n):
        c = <unsigned char>p[i]
        if c <= 13 and (c == 13 or c == 10 or c == 0):
            return -1
    return 0


cdef enum:
    HB_HOST = 1
    HB_CL = 2
    HB_TE = 4


cdef inline int _name_flag(const char* p, Py_ssize_t n) noexcept nogil:
    if n == 4 and _ieq(p, n, "host", 4):
        return HB_HOST
    if n == 14 and _ieq(p, n, "content-length", 14):
        return HB_CL
    if n == 17 and _ieq(p, n, "transfer-encoding", 17):
        return HB_TE
    return 0


cdef inline int _write_field(_Out* o, object name, object value, set names) except -1:
    """Validate one field and write ``Name: value\\r\\n``; return its HB_* flag."""
    cdef const char* np
    cdef const char* vp
    cdef Py_ssize_t nn = 0, vn = 0
    cdef list keep
    np = _as_bytes_ptr(name, &nn)
    if np == NULL:
        raise TypeError("Header name must be str or bytes, not %s" % type(name).__name__)
    if not _is_token(<const unsigned char*>np, nn):
        raise ValueError("Header name %r is not a token (RFC 9110 section 5.6.2)" % (name,))
    vp = _as_bytes_ptr(value, &vn)
    if vp == NULL:
        if isinstance(value, (int, bytearray)):
            keep = []
            vp = _value_ptr(value, &vn, keep)
        else:
            raise TypeError(
                "Value for header %r must be str, bytes or int, not %s"
                % (name, type(value).__name__)
            )
    if _check_value(vp, vn):
        raise ValueError("Invalid value for header %r: %r contains CR, LF or NUL" % (name, value))
    if names is not None:
        if isinstance(name, bytes):
            names.add((<bytes>name).decode("latin-1").lower())
        else:
            names.add((<str>name).lower())
    if o.n + nn + vn + 4 > o.cap:
        _out_reserve(o, nn + vn + 4)
    memcpy(o.p + o.n, np, nn)
    o.n += nn
    o.p[o.n] = b':'
    o.p[o.n + 1] = b' '
    o.n += 2
    memcpy(o.p + o.n, vp, vn)
    o.n += vn
    o.p[o.n] = b'\r'
    o.p[o.n + 1] = b'\n'
    o.n += 2
    return _name_flag(np, nn)


cdef int _write_fields(_Out* o, object headers, set names) except -1:
    """Validate and write every field of ``headers`` (a mapping with
    ``.items()`` or an iterable of pairs); return the HB_* flags seen.
    ``names`` (may be None) receives the lower-cased names."""
    cdef int flags = 0
    cdef object name, value
    if type(headers) is dict:
        for name, value in (<dict>headers).items():
            flags |= _write_field(o, name, value, names)
    elif hasattr(headers, "items"):
        for name, value in headers.items():
            flags |= _write_field(o, name, value, names)
    else:
        for name, value in headers:
            flags |= _write_field(o, name, value, names)
    return flags


@cython.final
cdef class HeaderBlock:
    """Validated, pre-serialized header fields (reusable for every request).

    ``data`` holds ``b"Name: value\\r\\n"`` per field (order and case kept);
    ``names`` the lower-cased field names.
    """

    cdef readonly bytes data
    cdef readonly object names
    cdef int _flags

    def __init__(self, headers=None):
        cdef char stack[_STACK_BUF]
        cdef _Out o
        cdef set names = set()
        if headers is None:
            self.data = b""
            self.names = _frozenset()
            self._flags = 0
            return
        if isinstance(headers, HeaderBlock):
            self.data = (<HeaderBlock>headers).data
            self.names = (<HeaderBlock>headers).names
            self._flags = (<HeaderBlock>headers)._flags
            return
        o.p = stack
        o.n = 0
        o.cap = _STACK_BUF
        o.heap = False
        try:
            self._flags = _write_fields(&o, headers, names)
            self.data = PyBytes_FromStringAndSize(o.p, o.n)
        finally:
            _out_free(&o)
        self.names = _frozenset(names)

    def __repr__(self):
        return "HeaderBlock(%r)" % (self.data,)


def encode_request_head(method, target, headers=None, *, host=None, content_length=None,
                        chunked=False):
    """Serialize a request head: request line, Host, fields, framing, blank line.

    Raises ValueError for an invalid method, target, header name or value, and
    when both ``content_length`` and ``chunked`` are given (checks in the same
    order as the pure twin, so the same exception type wins).
    """
    cdef char stack[_STACK_BUF]
    cdef _Out o
    cdef const char* mp
    cdef const char* tp
    cdef const char* hp = NULL
    cdef Py_ssize_t mn = 0, tn = 0, hn = 0, i, line_end
    cdef int flags = 0
    cdef bint is_chunked = chunked
    cdef uint64_t clen = 0
    cdef list keepalive = None

    mp = _as_bytes_ptr(method, &mn)
    if mp == NULL:
        raise TypeError("Method must be str or bytes, not %s" % type(method).__name__)
    if not _is_token(<const unsigned char*>mp, mn):
        raise ValueError("Method %r is not a token (RFC 9110 section 5.6.2)" % (method,))
    tp = _as_bytes_ptr(target, &tn)
    if tp == NULL:
        raise TypeError("Request target must be str or bytes, not %s" % type(target).__name__)
    if tn == 0:
        raise ValueError("Request target must not be empty")
    for i in range(tn):
        if <unsigned char>tp[i] < 0x21 or <unsigned char>tp[i] > 0x7E:
            raise ValueError(
                "Request target %r contains a space, a control character, DEL or a "
                "non-ASCII byte" % (target,)
            )

    o.p = stack
    o.n = 0
    o.cap = _STACK_BUF
    o.heap = False
    try:
        _out_reserve(&o, mn + tn + 11)
        memcpy(o.p, mp, mn)
        o.n = mn
        o.p[o.n] = b' '
        memcpy(o.p + o.n + 1, tp, tn)
        o.n += tn + 1
        memcpy(o.p + o.n, b" HTTP/1.1\r\n", 11)
        o.n += 11
        line_end = o.n
        if headers is None:
            pass
        elif type(headers) is HeaderBlock:
            flags = (<HeaderBlock>headers)._flags
            _out_write(&o, PyBytes_AS_STRING((<HeaderBlock>headers).data),
                       PyBytes_GET_SIZE((<HeaderBlock>headers).data))
        else:
            flags = _write_fields(&o, headers, None)
        if is_chunked and content_length is not None:
            raise ValueError("content_length and chunked are mutually exclusive")
        if host is not None and not (flags & HB_HOST):
            hp = _as_bytes_ptr(host, &hn)
            if hp == NULL:
                keepalive = []
                hp = _value_ptr(host, &hn, keepalive)
            if _check_value(hp, hn):
                raise ValueError(
                    "Invalid value for header 'Host': %r contains CR, LF or NUL" % (host,)
                )
            # Host goes first: open a gap after the request line
            _out_reserve(&o, hn + 8)
            memmove(o.p + line_end + hn + 8, o.p + line_end, o.n - line_end)
            memcpy(o.p + line_end, b"Host: ", 6)
            memcpy(o.p + line_end + 6, hp, hn)
            o.p[line_end + 6 + hn] = b'\r'
            o.p[line_end + 7 + hn] = b'\n'
            o.n += hn + 8
        if is_chunked:
            if not (flags & HB_TE):
                _out_write(&o, b"Transfer-Encoding: chunked\r\n", 28)
        elif content_length is not None:
            if isinstance(content_length, bool) or not isinstance(content_length, int):
                raise TypeError("content_length must be an int")
            if content_length < 0:
                raise ValueError("content_length must be >= 0, not %r" % (content_length,))
            if not (flags & (HB_CL | HB_TE)):
                _out_write(&o, b"Content-Length: ", 16)
                if content_length <= 0xFFFFFFFFFFFFFFFF:
                    clen = content_length
                    _out_uint(&o, clen)
                else:
                    keepalive = [str(content_length).encode("ascii")]
                    _out_write(&o, PyBytes_AS_STRING(keepalive[0]),
                               PyBytes_GET_SIZE(keepalive[0]))
                _out_write(&o, b"\r\n", 2)
        _out_write(&o, b"\r\n", 2)
        return PyBytes_FromStringAndSize(o.p, o.n)
    finally:
        _out_free(&o)


def encode_chunk(data):
    """One chunk of a chunked body: ``b"%x\\r\\n" % len(data) + data + b"\\r\\n"``."""
    cdef Py_buffer view
    cdef char head[20]
    cdef int hl = 0, i
    cdef Py_ssize_t n
    cdef uint64_t v
    cdef bytes out
    cdef char* q
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        n = view.len
        if n == 0:
            return b""
        v = <uint64_t>n
        i = 18
        while v:
            i -= 1
            head[i] = _HEX[v & 15]
            v >>= 4
        hl = 18 - i
        out = PyBytes_FromStringAndSize(NULL, hl + 2 + n + 2)
        q = PyBytes_AS_STRING(out)
        memcpy(q, head + i, hl)
        q[hl] = b'\r'
        q[hl + 1] = b'\n'
        memcpy(q + hl + 2, view.buf, n)
        q[hl + 2 + n] = b'\r'
        q[hl + 3 + n] = b'\n'
        return out
    finally:
        PyBuffer_Release(&view)


# --------------------------------------------------------------------------
# Response side

cdef object _FROM_HEADERS = object()   # ResponseHead(): derive content_encoding from headers


cdef object _content_encoding_of(list headers):
    """The combined Content-Encoding value of ``(name, value)`` pairs, or None."""
    cdef list found = [v for k, v in headers if k.lower() == "content-encoding"]
    return ", ".join(found) if found else None


@cython.freelist(64)
@cython.final
cdef class ResponseHead:
    """A parsed final response head (read-only).

    A head made by the parser keeps its field lines as bytes and builds the
    ``headers`` list on first access (most responses never ask for it).
    """

    cdef readonly int status
    cdef readonly str reason
    cdef readonly int version
    cdef list _headers          # None until built (parser-made heads)
    cdef bytes _raw             # parser-made: the field lines (each ends with LF)
    cdef Py_ssize_t _nfields
    cdef readonly int framing
    cdef readonly object content_length
    cdef readonly bint keep_alive
    cdef readonly object content_encoding

    def __init__(self, int status, str reason, int version, list headers, int framing,
                 content_length, bint keep_alive, content_encoding=_FROM_HEADERS):
        self.status = status
        self.reason = reason
        self.version = version
        self._headers = headers
        self._raw = None
        self._nfields = 0
        self.framing = framing
        self.content_length = content_length
        self.keep_alive = keep_alive
        if content_encoding is _FROM_HEADERS:
            content_encoding = _content_encoding_of(headers)
        elif content_encoding is not None and not isinstance(content_encoding, str):
            raise TypeError("content_encoding must be a str or None")
        self.content_encoding = content_encoding

    @property
    def headers(self):
        """The ``(name, value)`` pairs, in order (built on first access)."""
        cdef list h = self._headers
        if h is None:
            with cython.critical_section(self):   # a shared head builds its list once
                h = self._headers
                if h is None:
                    h = _build_fields(self._raw, self._nfields)
                    self._headers = h
        return h

    def __repr__(self):
        return (
            "ResponseHead(status=%r, reason=%r, version=%r, headers=%r, framing=%r, "
            "content_length=%r, keep_alive=%r, content_encoding=%r)"
            % (self.status, self.reason, self.version, self.headers, self.framing,
               self.content_length, self.keep_alive, self.content_encoding)
        )


cdef inline int _check_block(const char* base, Py_ssize_t n) noexcept nogil:
    """Every CR in ``base[:n]`` is followed by LF, and there is no NUL."""
    cdef const char* p = base
    cdef const char* stop = base + n
    cdef const char* q
    if memchr(base, 0, n) != NULL:
        return -E_NUL
    while p < stop:
        q = <const char*>memchr(p, b'\r', stop - p)
        if q == NULL:
            break
        if q + 1 >= stop or q[1] != b'\n':
            return -E_BARE_CR
        p = q + 2
    return 0


cdef int _parse_fields(const char* base, Py_ssize_t start, Py_ssize_t stop, Span** spans,
                       Py_ssize_t* cap, Py_ssize_t maxn, Py_ssize_t* count,
                       Py_ssize_t* eoff) noexcept nogil:
    """Parse the field lines in ``base[start:stop]`` (each ends with LF; CR and
    NUL already checked) into ``spans``. ``maxn`` < 0: no count limit (the
    array grows). Returns 0 or a negative error code (``eoff``: the line)."""
    cdef Py_ssize_t i = start, le, ce, j, vs, ve, n = 0
    cdef const char* q
    cdef Span* s
    cdef Span* grown
    cdef char c
    while i < stop:
        q = <const char*>memchr(base + i, b'\n', stop - i)
        le = q - base
        ce = le
        if ce > i and base[ce - 1] == b'\r':
            ce -= 1
        eoff[0] = i
        c = base[i]
        if c == b' ' or c == b'\t':
            return -E_OBS_FOLD
        j = i
        while j < ce and _TCHAR[<unsigned char>base[j]]:
            j += 1
        if j == ce:
            return -E_NO_COLON
        if base[j] != b':':
            if _is_ows(base[j]):
                vs = j
                while vs < ce and _is_ows(base[vs]):
                    vs += 1
                if vs < ce and base[vs] == b':' and j > i:
                    return -E_WS_BEFORE_COLON
            if memchr(base + j, b':', ce - j) == NULL:
                return -E_NO_COLON
            return -E_BAD_NAME
        if j == i:
            return -E_BAD_NAME
        vs = j + 1
        while vs < ce and _is_ows(base[vs]):
            vs += 1
        ve = ce
        while ve > vs and _is_ows(base[ve - 1]):
            ve -= 1
        if maxn >= 0 and n >= maxn:
            return -E_TOO_MANY_HEADERS
        if n >= cap[0]:
            grown = <Span*>PyMem_RawRealloc(spans[0], sizeof(Span) * (cap[0] * 2 + 8))
            if grown == NULL:
                return -E_TRAILER_TOO_BIG
            spans[0] = grown
            cap[0] = cap[0] * 2 + 8
        s = spans[0] + n
        s.name_off = i
        s.name_len = j - i
        s.val_off = vs
        s.val_len = ve - vs
        n += 1
        i = le + 1
    count[0] = n
    return 0


cdef list _build_fields(bytes raw, Py_ssize_t nfields):
    """The ``(name, value)`` list of field lines already validated by the parser."""
    cdef list out = []
    cdef const char* base
    cdef Span* spans
    cdef Span* s
    cdef Py_ssize_t cap = nfields, count = 0, eoff = 0, k
    cdef int rc
    if nfields <= 0 or raw is None:
        return out
    base = PyBytes_AS_STRING(raw)
    spans = <Span*>PyMem_RawMalloc(sizeof(Span) * nfields)
    if spans == NULL:
        raise MemoryError()
    try:
        rc = _parse_fields(base, 0, PyBytes_GET_SIZE(raw), &spans, &cap, -1, &count, &eoff)
        if rc:
            raise MemoryError() if rc == -E_TRAILER_TOO_BIG else AssertionError(rc)
        for k in range(count):
            s = spans + k
            out.append((_latin1(base + s.name_off, s.name_len),
                        _latin1(base + s.val_off, s.val_len)))
    finally:
        PyMem_RawFree(spans)
    return out


cdef inline bint _has_token(const char* p, Py_ssize_t n, const char* tok, Py_ssize_t tn) noexcept nogil:
    """The comma-separated list ``p[:n]`` has the (lower-case) token ``tok``."""
    cdef Py_ssize_t i = 0, s, e
    while i <= n:
        s = i
        while i < n and p[i] != b',':
            i += 1
        e = i
        _trim_ows(p, &s, &e)
        if _ieq(p + s, e - s, tok, tn):
            return True
        i += 1
    return False


cdef inline int _last_coding_chunked(const char* p, Py_ssize_t n) noexcept nogil:
    """1 if the last non-empty element of the list is ``chunked``, 0 if it is
    something else, -1 if the list has no non-empty element."""
    cdef Py_ssize_t i = n, s, e
    while i >= 0:
        e = i
        s = i
        while s > 0 and p[s - 1] != b',':
            s -= 1
        i = s - 1
        _trim_ows(p, &s, &e)
        if e > s:
            return 1 if _ieq(p + s, e - s, "chunked", 7) else 0
    return -1


cdef inline int _parse_cl(const char* p, Py_ssize_t n, int64_t* value) noexcept nogil:
    """Parse a Content-Length field value (a list of equal decimal numbers) into
    ``value`` (-1 when not seen yet). Returns 0 or a negative error code."""
    cdef Py_ssize_t i = 0, s, e
    cdef int64_t v
    cdef int d
    while i <= n:
        s = i
        while i < n and p[i] != b',':
            i += 1
        e = i
        _trim_ows(p, &s, &e)
        if e == s:
            return -E_CL_INVALID
        v = 0
        while s < e:
            d = <unsigned char>p[s] - 48
            if d < 0 or d > 9:
                return -E_CL_INVALID
            if v > (<int64_t>0x7FFFFFFFFFFFFFFF - d) // 10:
                return -E_CL_INVALID
            v = v * 10 + d
            s += 1
        if value[0] >= 0 and value[0] != v:
            return -E_CL_CONFLICT
        value[0] = v
        i += 1
    return 0


cdef inline Py_ssize_t _check_limit(str name, object value) except -1:
    if type(value) is int and 1 <= value <= 1099511627776:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("%s must be a positive int, not %r" % (name, value))
    if value > <object>PY_SSIZE_T_MAX // 64:
        value = PY_SSIZE_T_MAX // 64
    return value


@cython.final
cdef class ResponseParser:
    """Incremental HTTP/1.1 response parser (sans-IO, owned by one thread).

    ``feed()`` bytes, ``next_head()`` until it returns the final head, then
    ``read_body()`` until ``body_done``. Limits are keyword arguments.
    """

    # buffer: live bytes are buf[pos:end]
    cdef char* buf
    cdef Py_ssize_t cap
    cdef Py_ssize_t pos
    cdef Py_ssize_t end
    # limits
    cdef readonly Py_ssize_t max_head_size
    cdef readonly Py_ssize_t max_headers
    cdef readonly Py_ssize_t max_trailer_size
    cdef readonly Py_ssize_t max_chunk_line
    cdef readonly Py_ssize_t max_interim
    # state
    cdef int state
    cdef bint is_head_request
    cdef bint eof
    cdef bint got_bytes      # a byte was received since start() (RemoteDisconnected or not)
    cdef Py_ssize_t interim  # interim (1xx) heads consumed since start()
    cdef int err             # sticky error code (0: none)
    cdef Py_ssize_t err_off  # offset of the offending line (relative to hstart)
    # head scan (offsets relative to pos)
    cdef Py_ssize_t scan
    cdef Py_ssize_t line_start
    cdef Py_ssize_t nlines
    # parsed head (offsets relative to buf + hstart; valid until the next feed)
    cdef Py_ssize_t hstart
    cdef Py_ssize_t head_len
    cdef int status
    cdef int version
    cdef Py_ssize_t reason_off
    cdef Py_ssize_t reason_len
    cdef Span* fields
    cdef Py_ssize_t fields_cap
    cdef Py_ssize_t nfields
    cdef int framing
    cdef int64_t content_length
    cdef bint head_keep_alive
    cdef Py_ssize_t fields_start     # the field lines: buf[hstart+fields_start:hstart+fields_stop]
    cdef Py_ssize_t fields_stop
    cdef Py_ssize_t ce_first         # first Content-Encoding field (index into fields)
    cdef Py_ssize_t ce_count
    # body
    cdef uint64_t remaining      # LENGTH: payload still expected; CHUNKED: rest of this chunk
    cdef int cstate
    cdef Py_ssize_t dec          # CHUNKED: decoded payload bytes at buf[pos:pos+dec]
    cdef Py_ssize_t rawoff       # CHUNKED: undecoded bytes start at buf[pos+rawoff]
    cdef Py_ssize_t lscan        # CHUNKED: size line / trailer scan offset (relative to rawoff)
    cdef Py_ssize_t tline        # CHUNKED: start of the current trailer line (relative to rawoff)
    cdef Span* tspans
    cdef Py_ssize_t tspans_cap
    cdef Py_ssize_t ntspans
    cdef Py_ssize_t tlen
    cdef int64_t received        # payload bytes delivered
    cdef object head             # ResponseHead or None
    cdef list _trailers

    def __cinit__(self):
        self.buf = NULL
        self.fields = NULL
        self.tspans = NULL

    def __init__(self, *, max_head_size=65536, max_headers=100, max_trailer_size=16384,
                 max_chunk_line=4096, max_interim=10):
        self.max_head_size = _check_limit("max_head_size", max_head_size)
        self.max_headers = _check_limit("max_headers", max_headers)
        self.max_trailer_size = _check_limit("max_trailer_size", max_trailer_size)
        self.max_chunk_line = _check_limit("max_chunk_line", max_chunk_line)
        self.max_interim = _check_limit("max_interim", max_interim)
        PyMem_RawFree(self.fields)
        self.fields_cap = self.max_headers if self.max_headers < 32 else 32
        self.fields = <Span*>PyMem_RawMalloc(sizeof(Span) * (self.fields_cap + 1))
        if self.fields == NULL:
            raise MemoryError()
        self.pos = 0
        self.end = 0
        self.eof = False
        self._reset(False)

    def __dealloc__(self):
        PyMem_RawFree(self.buf)
        PyMem_RawFree(self.fields)
        PyMem_RawFree(self.tspans)

    cdef inline int _reset(self, bint is_head_request) except -1:
        self.state = S_HEAD
        self.is_head_request = is_head_request
        self.err = 0
        self.scan = 0
        self.line_start = 0
        self.nlines = 0
        self.head_len = 0
        self.framing = F_NONE
        self.content_length = -1
        self.remaining = 0
        self.cstate = C_SIZE
        self.dec = 0
        self.rawoff = 0
        self.lscan = 0
        self.tline = 0
        self.ntspans = 0
        self.tlen = 0
        self.received = 0
        self.interim = 0
        self.head = None
        self._trailers = None
        self.got_bytes = self.end > self.pos
        return 0

    # -- buffer management (no GIL needed) --------------------------------

    cdef int _reserve(self, Py_ssize_t extra) noexcept nogil:
        """Make room for ``extra`` more bytes after ``end``; 0 or -1 (no memory)."""
        cdef Py_ssize_t live = self.end - self.pos
        cdef Py_ssize_t cap
        cdef char* q
        if self.cap - self.end >= extra:
            return 0
        if self.pos > 0 and self.cap - live >= extra:
            # Compact. (Head and trailer spans are turned into objects right
            # after parsing, before any further feed or I/O, so moving is safe.)
            memmove(self.buf, self.buf + self.pos, live)
            self.hstart -= self.pos
            self.end = live
            self.pos = 0
            return 0
        cap = self.cap if self.cap > 0 else 1024
        while cap - live < extra:
            cap *= 2
        q = <char*>PyMem_RawMalloc(cap)
        if q == NULL:
            return -1
        if live:
            memcpy(q, self.buf + self.pos, live)
        PyMem_RawFree(self.buf)
        self.buf = q
        self.cap = cap
        self.hstart -= self.pos
        self.end = live
        self.pos = 0
        return 0

    cdef int _append(self, const char* p, Py_ssize_t n) except -1:
        if self._reserve(n) < 0:
            raise MemoryError()
        memcpy(self.buf + self.end, p, n)
        self.end += n
        self.got_bytes = True
        return 0

    # -- head -------------------------------------------------------------

    cdef int _scan_head(self) noexcept nogil:
        """Find the end of the head at buf[pos:]: 1 found (head_len set), 0 need
        more, or a negative error code."""
        cdef const char* base = self.buf + self.pos
        cdef Py_ssize_t avail = self.end - self.pos
        cdef Py_ssize_t limit = avail if avail < self.max_head_size else self.max_head_size
        cdef Py_ssize_t i, ls
        cdef const char* q
        if self.scan < 7 and avail > 0:
            # bytes that cannot begin "HTTP/1." are refused at once
            if memcmp(base, b"HTTP/1.", avail if avail < 7 else 7) != 0:
                self.hstart = self.pos
                self.err_off = 0
                return -E_STATUS_LINE
        while self.scan < limit:
            q = <const char*>memchr(base + self.scan, b'\n', limit - self.scan)
            if q == NULL:
                self.scan = limit
                break
            i = q - base
            ls = self.line_start
            if i == ls or (i == ls + 1 and base[ls] == b'\r'):
                self.head_len = i + 1
                return 1
            self.nlines += 1
            if self.nlines > self.max_headers + 1:
                return -E_TOO_MANY_HEADERS
            self.line_start = i + 1
            self.scan = i + 1
        if avail >= self.max_head_size:
            return -E_HEAD_TOO_BIG
        return 0

    cdef int _parse_head(self) noexcept nogil:
        """Validate the head at buf[pos:pos+head_len] and decide its framing."""
        cdef const char* base = self.buf + self.pos
        cdef Py_ssize_t n = self.head_len
        cdef Py_ssize_t e, le, k
        cdef const char* q
        cdef int rc, te = -2, c
        cdef bint has_te = False, has_cl = False, conn_close = False, conn_ka = False
        cdef int64_t cl = -1
        cdef Span* s
        self.hstart = self.pos
        rc = _check_block(base, n)
        if rc:
            self.err_off = 0
            return rc
        # status line
        q = <const char*>memchr(base, b'\n', n)
        le = q - base
        e = le
        if e > 0 and base[e - 1] == b'\r':
            e -= 1
        self.err_off = 0
        if e < 12 or memcmp(base, b"HTTP/1.", 7) != 0:
            return -E_STATUS_LINE if (e < 7 or memcmp(base, b"HTTP/", 5) != 0) else -E_VERSION
        if base[7] == b'1':
            self.version = 11
        elif base[7] == b'0':
            self.version = 10
        else:
            return -E_VERSION
        if base[8] != b' ':
            return -E_STATUS_LINE
        self.status = 0
        for k in range(9, 12):
            c = <unsigned char>base[k] - 48
            if c < 0 or c > 9:
                return -E_STATUS_CODE
            self.status = self.status * 10 + c
        if e == 12:
            self.reason_off = 12
            self.reason_len = 0
        elif base[12] == b' ':
            self.reason_off = 13
            self.reason_len = e - 13
        else:
            return -E_STATUS_CODE
        if self.status < 100:
            return -E_STATUS_CODE
        if self.status == 101:
            return -E_SWITCHING
        # fields: between the status line and the empty line
        k = n - 1
        if k > 0 and base[k - 1] == b'\r':
            k -= 1
        self.fields_start = le + 1
        self.fields_stop = k
        self.ce_count = 0
        rc = _parse_fields(base, le + 1, k, &self.fields, &self.fields_cap, self.max_headers,
                           &self.nfields, &self.err_off)
        if rc:
            return rc
        for k in range(self.nfields):
            s = self.fields + k
            if s.name_len == 14 and _ieq(base + s.name_off, 14, "content-length", 14):
                has_cl = True
            elif s.name_len == 17 and _ieq(base + s.name_off, 17, "transfer-encoding", 17):
                has_te = True
                c = _last_coding_chunked(base + s.val_off, s.val_len)
                if c >= 0:
                    te = c
            elif s.name_len == 10 and _ieq(base + s.name_off, 10, "connection", 10):
                if _has_token(base + s.val_off, s.val_len, "close", 5):
                    conn_close = True
                if _has_token(base + s.val_off, s.val_len, "keep-alive", 10):
                    conn_ka = True
            elif s.name_len == 16 and _ieq(base + s.name_off, 16, "content-encoding", 16):
                if self.ce_count == 0:
                    self.ce_first = k
                self.ce_count += 1
        # framing
        self.content_length = -1
        if self.status < 200:
            self.framing = F_NONE
            self.head_keep_alive = False
            return 0
        if self.is_head_request or self.status < 200 or self.status == 204 or self.status == 304:
            self.framing = F_NONE
        elif has_te:
            if has_cl:
                self.err_off = 0
                return -E_TE_AND_CL
            self.framing = F_CHUNKED if te == 1 else F_CLOSE
        elif has_cl:
            for k in range(self.nfields):
                s = self.fields + k
                if s.name_len == 14 and _ieq(base + s.name_off, 14, "content-length", 14):
                    rc = _parse_cl(base + s.val_off, s.val_len, &cl)
                    if rc:
                        self.err_off = s.name_off
                        return rc
            self.framing = F_LENGTH
            self.content_length = cl
        else:
            self.framing = F_CLOSE
        if self.framing == F_CLOSE:
            self.head_keep_alive = False
        elif self.version == 11:
            self.head_keep_alive = not conn_close
        else:
            self.head_keep_alive = conn_ka and not conn_close
        return 0

    cdef int _next_head_c(self) noexcept nogil:
        """Parse heads from the buffer, consuming 1xx: 1 final head parsed
        (state S_BODY or S_DONE), 0 need more bytes, or a negative error."""
        cdef int rc
        while True:
            rc = self._scan_head()
            if rc <= 0:
                if rc == 0 and self.eof:
                    if not self.got_bytes:
                        return -E_NO_RESPONSE
                    return -E_INCOMPLETE_HEAD
                return rc
            rc = self._parse_head()
            if rc:
                return rc
            self.pos += self.head_len
            self.scan = 0
            self.line_start = 0
            self.nlines = 0
            if 100 <= self.status < 200:
                # interim response consumed; a server must not send them forever
                self.interim += 1
                if self.interim > self.max_interim:
                    return -E_TOO_MANY_INTERIM
                continue
            break
        self.received = 0
        if self.framing == F_LENGTH:
            self.remaining = <uint64_t>self.content_length
            self.state = S_DONE if self.remaining == 0 else S_BODY
        elif self.framing == F_NONE:
            self.state = S_DONE
        else:
            self.state = S_BODY
            self.cstate = C_SIZE
            self.dec = 0
            self.rawoff = 0
            self.lscan = 0
        return 1

    cdef ResponseHead _build_head(self):
        cdef const char* base = self.buf + self.hstart
        cdef ResponseHead h = ResponseHead.__new__(ResponseHead)
        cdef Span* s
        cdef Py_ssize_t k
        cdef list found
        h.status = self.status
        h.reason = _latin1(base + self.reason_off, self.reason_len) if self.reason_len else ""
        h.version = self.version
        # the header list is built on first access, from a copy of the field lines
        h._headers = None
        h._nfields = self.nfields
        h._raw = PyBytes_FromStringAndSize(base + self.fields_start,
                                           self.fields_stop - self.fields_start)
        h.framing = self.framing
        h.content_length = self.content_length if self.framing == F_LENGTH else None
        h.keep_alive = self.head_keep_alive
        if self.ce_count == 0:
            h.content_encoding = None
        elif self.ce_count == 1:
            s = self.fields + self.ce_first
            h.content_encoding = _latin1(base + s.val_off, s.val_len)
        else:
            found = []
            for k in range(self.ce_first, self.nfields):
                s = self.fields + k
                if s.name_len == 16 and _ieq(base + s.name_off, 16, "content-encoding", 16):
                    found.append(_latin1(base + s.val_off, s.val_len))
            h.content_encoding = ", ".join(found)
        self.head = h
        return h

    cdef int _raise(self, int code) except -1:
        """Raise the exception for error ``code`` (positive) and make it sticky."""
        cdef str msg
        cdef object line
        if code == E_INCOMPLETE_BODY:
            return self._raise_incomplete()
        self.err = code
        msg = _MESSAGES.get(code, "Malformed response")
        if code == E_NO_RESPONSE:
            raise _RemoteDisconnected(msg)
        if (self.state == S_HEAD and self.pos <= self.hstart <= self.end
                and code not in (E_HEAD_TOO_BIG, E_TOO_MANY_HEADERS, E_INCOMPLETE_HEAD,
                                 E_AFTER_EOF, E_TOO_MANY_INTERIM)):
            line = self._line_at(self.buf + self.hstart, self.end - self.hstart, self.err_off)
            raise _ProtocolError("%s: %r" % (msg, line))
        raise _ProtocolError(msg)

    cdef bytes _line_at(self, const char* base, Py_ssize_t n, Py_ssize_t off):
        cdef const char* q
        cdef Py_ssize_t e
        if off < 0 or off >= n:
            return b""
        q = <const char*>memchr(base + off, b'\n', n - off)
        e = (q - base) if q != NULL else n
        if e - off > 80:
            e = off + 80
        return PyBytes_FromStringAndSize(base + off, e - off)

    cdef int _raise_incomplete(self) except -1:
        cdef uint64_t missing = 0
        self.err = E_INCOMPLETE_BODY
        if self.framing == F_LENGTH:
            missing = self.remaining
        elif self.framing == F_CHUNKED and self.cstate == C_DATA:
            missing = self.remaining
        partial = self.received
        raise _ProtocolError(
            "Connection broken: IncompleteRead(%d bytes read, %d more expected)"
            % (partial, missing),
            _IncompleteRead(partial, missing),
        )

    # -- body -------------------------------------------------------------

    cdef int _decode(self, Py_ssize_t want) noexcept nogil:
        """Advance the chunked decoder over the raw bytes buffered, stopping
        payload at ``want`` decoded bytes (< 0: no bound; framing without
        payload is always parsed): 0 (need more bytes, or done), R_TRAILERS,
        or a negative error code."""
        cdef char* base = self.buf + self.pos
        cdef Py_ssize_t avail = self.end - self.pos - self.rawoff
        cdef Py_ssize_t n, i, k, lim, e
        cdef const char* q
        cdef const char* r
        cdef uint64_t size
        cdef int d, rc
        cdef char c
        while True:
            if self.cstate == C_DATA:
                n = avail
                if <uint64_t>n > self.remaining:
                    n = <Py_ssize_t>self.remaining
                if want >= 0 and n > want - self.dec:
                    n = want - self.dec
                if n <= 0:
                    return 0
                if self.rawoff != self.dec:
                    memmove(base + self.dec, base + self.rawoff, n)
                self.dec += n
                self.rawoff += n
                avail -= n
                self.remaining -= <uint64_t>n
                if self.remaining == 0:
                    self.cstate = C_CRLF
            elif self.cstate == C_CRLF:
                if avail < 1:
                    return 0
                if base[self.rawoff] != b'\r':
                    return -E_CHUNK_CRLF
                if avail < 2:
                    return 0
                if base[self.rawoff + 1] != b'\n':
                    return -E_CHUNK_CRLF
                self.rawoff += 2
                avail -= 2
                self.cstate = C_SIZE
                self.lscan = 0
            elif self.cstate == C_SIZE:
                r = base + self.rawoff
                # the line (CRLF excluded) is at most max_chunk_line bytes
                lim = self.max_chunk_line
                if lim > avail:
                    lim = avail
                q = NULL
                if self.lscan < lim:
                    q = <const char*>memchr(r + self.lscan, b'\n', lim - self.lscan)
                if q == NULL:
                    self.lscan = lim
                    if avail >= self.max_chunk_line:
                        return -E_CHUNK_LINE_TOO_LONG
                    return 0
                e = q - r
                if e == 0 or r[e - 1] != b'\r':
                    return -E_CHUNK_SIZE
                e -= 1      # r[:e] is the line without CRLF
                size = 0
                i = 0
                while i < e:
                    c = r[i]
                    if b'0' <= c <= b'9':
                        d = c - 48
                    elif b'a' <= c <= b'f':
                        d = c - 87
                    elif b'A' <= c <= b'F':
                        d = c - 55
                    else:
                        break
                    size = (size << 4) | <uint64_t>d
                    i += 1
                if i == 0 or i > 16:
                    return -E_CHUNK_SIZE
                while i < e and (r[i] == b' ' or r[i] == b'\t'):
                    i += 1
                if i < e:
                    if r[i] != b';':
                        return -E_CHUNK_SIZE
                    for k in range(i + 1, e):
                        c = r[k]
                        if c == b'\r' or c == 0:
                            return -E_CHUNK_SIZE
                self.rawoff += e + 2
                avail -= e + 2
                self.lscan = 0
                if size == 0:
                    self.cstate = C_TRAILER
                    self.tline = 0
                else:
                    self.cstate = C_DATA
                    self.remaining = size
            elif self.cstate == C_TRAILER:
                r = base + self.rawoff
                lim = avail if avail < self.max_trailer_size else self.max_trailer_size
                while self.lscan < lim:
                    q = <const char*>memchr(r + self.lscan, b'\n', lim - self.lscan)
                    if q == NULL:
                        self.lscan = lim
                        break
                    i = q - r
                    k = self.tline
                    if i == k or (i == k + 1 and r[k] == b'\r'):
                        # end of the trailer section: r[:i+1]
                        rc = _check_block(r, i + 1)
                        if rc:
                            return rc
                        e = k
                        rc = _parse_fields(r, 0, e, &self.tspans, &self.tspans_cap, -1,
                                           &self.ntspans, &self.err_off)
                        if rc:
                            return rc
                        self.tlen = i + 1
                        self.cstate = C_END
                        return R_TRAILERS
                    self.tline = i + 1
                    self.lscan = i + 1
                if avail >= self.max_trailer_size:
                    return -E_TRAILER_TOO_BIG
                return 0
            else:
                return 0

    cdef int _finish_trailers(self) except -1:
        """Build the trailer list (spans at buf[pos+rawoff:]) and step over it."""
        cdef const char* base = self.buf + self.pos + self.rawoff
        cdef Span* s
        cdef Py_ssize_t k
        if self._trailers is None:
            self._trailers = []
        for k in range(self.ntspans):
            s = self.tspans + k
            self._trailers.append((_latin1(base + s.name_off, s.name_len),
                                   _latin1(base + s.val_off, s.val_len)))
        self.rawoff += self.tlen
        self.ntspans = 0
        # the raw bytes after the message are leftover: drop the gap between
        # the decoded payload and them
        if self.rawoff != self.dec:
            memmove(self.buf + self.pos + self.dec, self.buf + self.pos + self.rawoff,
                    self.end - self.pos - self.rawoff)
            self.end -= self.rawoff - self.dec
            self.rawoff = self.dec
        return 0

    cdef inline Py_ssize_t _body_available(self) noexcept nogil:
        """Payload bytes ready at buf[pos:] (chunked: after _decode)."""
        cdef Py_ssize_t avail = self.end - self.pos
        if self.state != S_BODY:
            return 0
        if self.framing == F_LENGTH:
            if <uint64_t>avail > self.remaining:
                return <Py_ssize_t>self.remaining
            return avail
        if self.framing == F_CHUNKED:
            return self.dec
        return avail

    cdef inline void _consume(self, Py_ssize_t n) noexcept nogil:
        """Mark ``n`` payload bytes at buf[pos:] as delivered."""
        self.pos += n
        self.received += n
        if self.framing == F_LENGTH:
            self.remaining -= <uint64_t>n
            if self.remaining == 0:
                self.state = S_DONE
        elif self.framing == F_CHUNKED:
            self.dec -= n
            self.rawoff -= n
            if self.dec == 0 and self.cstate == C_END:
                self.rawoff = 0
                self.state = S_DONE
        else:
            if self.eof and self.pos == self.end:
                self.state = S_DONE

    cdef inline void _settle(self) noexcept nogil:
        """Update the done state when nothing is pending."""
        if self.state != S_BODY:
            return
        if self.framing == F_CHUNKED:
            if self.dec == 0 and self.cstate == C_END:
                self.rawoff = 0
                self.state = S_DONE
        elif self.framing == F_CLOSE:
            if self.eof and self.pos == self.end:
                self.state = S_DONE

    cdef int _prepare_body(self, Py_ssize_t want) except -1:
        """Decode what is buffered; raise on errors (and on an early end)."""
        cdef int rc
        if self.err:
            self._raise(self.err)
        if self.state != S_BODY:
            return 0
        if self.framing == F_CHUNKED:
            while True:
                rc = self._decode(want)
                if rc == R_TRAILERS:
                    self._finish_trailers()
                    continue
                if rc < 0:
                    self._raise(-rc)
                break
        self._settle()
        if (self.state == S_BODY and self.eof and want != 0
                and self._body_available() == 0):
            self._raise_incomplete()
        return 0

    # -- Python API -------------------------------------------------------

    def start(self, bint is_head_request=False):
        """Get ready for a new response; bytes still buffered are kept (they
        belong to the next message)."""
        self._start(is_head_request)

    cdef int _start(self, bint is_head_request) except -1:
        if self.state == S_BODY and self.framing == F_CHUNKED:
            # drop decoded payload nobody read; keep the raw bytes
            self.pos += self.dec
            self.rawoff -= self.dec
            self.dec = 0
            self.pos += self.rawoff
            self.rawoff = 0
        return self._reset(is_head_request)

    def feed(self, data):
        """Append received bytes."""
        cdef Py_buffer view
        if type(data) is bytes:
            if PyBytes_GET_SIZE(data):
                self._append(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
            return
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if view.len:
                self._append(<const char*>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    def feed_eof(self):
        """The peer closed the connection. Completes a read-until-close body;
        an incomplete message makes the next ``next_head()`` or
        ``read_body()`` that needs more bytes raise."""
        self.eof = True

    def next_head(self):
        """The final response head, or None while more bytes are needed."""
        cdef int rc
        if self.err:
            self._raise(self.err)
        if self.state != S_HEAD:
            return self.head
        rc = self._next_head_c()
        if rc == 0:
            return None
        if rc < 0:
            self._raise(-rc)
        return self._build_head()

    def read_body(self, Py_ssize_t max_bytes=-1):
        """Decoded payload bytes available now (at most ``max_bytes`` if >= 0)."""
        cdef Py_ssize_t n
        cdef bytes out
        if self.state == S_HEAD:
            if self.err:
                self._raise(self.err)
            return b""
        self._prepare_body(max_bytes)
        n = self._body_available()
        if max_bytes >= 0 and n > max_bytes:
            n = max_bytes
        if n == 0:
            return b""
        out = PyBytes_FromStringAndSize(self.buf + self.pos, n)
        self._consume(n)
        self._settle()
        return out

    @property
    def body_done(self):
        """The whole payload was delivered (and the end of the message seen)."""
        return self.state == S_DONE

    @property
    def body_received(self):
        """Payload bytes delivered so far."""
        return self.received

    @property
    def trailers(self):
        """Trailer fields of a chunked body (after it is complete)."""
        return self._trailers if self._trailers is not None else []

    def leftover(self):
        """Buffered bytes beyond the end of the current message."""
        return self._leftover()

    cdef bytes _leftover(self):
        if self.state != S_DONE:
            return b""
        return PyBytes_FromStringAndSize(self.buf + self.pos, self.end - self.pos)


# --------------------------------------------------------------------------
# The exchange on a socket

DEF _RECV_CHUNK = 65536
DEF _DIRECT_MIN = 16384
DEF _HOLD_MAX = 16384       # at most this many buffered bytes are decoded with the GIL held
# A LENGTH body read whole is preallocated only up to this size; a larger one
# grows as its bytes arrive (a Content-Length alone, up to 2**63 - 1, must not
# make us allocate).
DEF _PREALLOC_MAX = 16777216


cdef inline int _timeout_ms(object timeout) except? -2:
    cdef double t
    if timeout is None:
        return -1
    t = timeout
    if t != t:
        raise ValueError("timeout must be a number")
    if t <= 0:
        return 0
    if t >= 2147483.0:
        return 2147483647
    return <int>(t * 1000.0 + 0.999)


cdef bint _readable_now(object sock) except -1:
    """A socket object (Python path): readable, in error or closed right now."""
    cdef object poller
    try:
        if _poll_type is not None:
            if sock.fileno() < 0:
                return True
            poller = _poll_type()
            poller.register(sock, _POLL_READABLE)
            return bool(poller.poll(0))
        return bool(_select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


@cython.final
cdef class Wire:
    """One connection's exchange: send a request, read the response.

    A plain ``socket.socket`` is driven through its descriptor without the GIL;
    any other socket object through ``sendall``/``recv_into``/``settimeout``.
    Not thread-safe: a connection belongs to one thread at a time.
    """

    cdef object sock
    cdef int fd                 # -1: Python-socket path
    cdef ResponseParser p
    cdef int os_errno
    # the current wait (EINTR resumes it with the time left)
    cdef bint in_wait
    cdef double deadline
    # Python path: where the driver must recv_into
    cdef char* rd_ptr
    cdef Py_ssize_t rd_len
    cdef bint rd_direct
    # body pump: stop with R_NEED_IO instead of making a system call
    cdef bint no_io

    def __init__(self, sock, *, max_head_size=65536, max_headers=100, max_trailer_size=16384,
                 max_chunk_line=4096, max_interim=10):
        self.sock = sock
        self.fd = -1
        if FP_HAVE_FD_PATH and type(sock) is _socket_type:
            self.fd = sock.fileno()
        self.p = ResponseParser(max_head_size=max_head_size, max_headers=max_headers,
                                max_trailer_size=max_trailer_size,
                                max_chunk_line=max_chunk_line, max_interim=max_interim)
        self.in_wait = False

    @property
    def fd_path(self):
        """True when the descriptor path (GIL released) is used."""
        return self.fd >= 0

    # -- low-level I/O (descriptor path, no GIL) --------------------------

    cdef int _wait(self, int events, int tmo) noexcept nogil:
        """Wait until the descriptor is ready: R_DONE, R_TIMEOUT, R_EINTR, R_OSERROR."""
        cdef int r, left
        cdef double now
        if tmo < 0:
            left = -1
        elif not self.in_wait:
            self.in_wait = True
            self.deadline = fp_monotonic() + tmo / 1000.0
            left = tmo
        else:
            now = fp_monotonic()
            left = <int>((self.deadline - now) * 1000.0 + 0.999)
            if left < 0:
                left = 0
        r = fp_poll(self.fd, events, left)
        if r > 0:
            self.in_wait = False
            return R_DONE
        if r == 0:
            self.in_wait = False
            return R_TIMEOUT
        if errno == EINTR:
            if tmo < 0:
                self.in_wait = False
            return R_EINTR
        self.in_wait = False
        self.os_errno = errno
        return R_OSERROR

    cdef int _send_c(self, const char* p1, Py_ssize_t n1, const char* p2, Py_ssize_t n2,
                     Py_ssize_t* sent, int tmo) noexcept nogil:
        """Send p1[:n1] + p2[:n2] from offset ``sent``."""
        cdef Py_ssize_t r, off
        cdef int rc
        while sent[0] < n1 + n2:
            off = sent[0]
            if off < n1:
                if n2 > 0:
                    r = fp_send2(self.fd, p1 + off, n1 - off, p2, n2)
                else:
                    r = fp_send(self.fd, p1 + off, n1 - off)
            else:
                r = fp_send(self.fd, p2 + (off - n1), n2 - (off - n1))
            if r >= 0:
                sent[0] += r
                continue
            if fp_would_block(errno):
                rc = self._wait(FP_POLLOUT, tmo)
                if rc != R_DONE:
                    return rc
                continue
            if errno == EINTR:
                return R_EINTR
            self.os_errno = errno
            return R_OSERROR
        return R_DONE

    cdef int _recv_c(self, char* dst, Py_ssize_t n, Py_ssize_t* got, int tmo,
                     bint wait_first) noexcept nogil:
        """One successful recv into dst[:n] (0 bytes = EOF): R_DONE and ``got``."""
        cdef Py_ssize_t r
        cdef int rc
        if wait_first:
            rc = self._wait(FP_POLLIN, tmo)
            if rc != R_DONE:
                return rc
        while True:
            r = fp_recv(self.fd, dst, n)
            if r >= 0:
                got[0] = r
                return R_DONE
            if fp_would_block(errno):
                rc = self._wait(FP_POLLIN, tmo)
                if rc != R_DONE:
                    return rc
                continue
            if errno == EINTR:
                return R_EINTR
            self.os_errno = errno
            return R_OSERROR

    # -- reading into the parser buffer ------------------------------------

    cdef int _read_more(self, int tmo, bint wait_first, Py_ssize_t limit) noexcept nogil:
        """Receive into the parser buffer (at most ``limit`` bytes if > 0).
        Sets the parser's eof on EOF. Python path: R_WANT_READ."""
        cdef Py_ssize_t want = _RECV_CHUNK, got = 0
        cdef int rc
        if self.p.state == S_HEAD:
            # never hold more than one head's worth of unparsed head bytes
            want = self.p.max_head_size - (self.p.end - self.p.pos)
            if want > _RECV_CHUNK:
                want = _RECV_CHUNK
            if want < 1:
                want = 1
        if limit > 0 and want > limit:
            want = limit
        if self.p.cap - self.p.end < want:
            if self.p._reserve(want) < 0:
                self.os_errno = 12  # ENOMEM
                return R_OSERROR
        # use all the room there is (but never beyond a head's bound)
        if self.p.state != S_HEAD and limit <= 0:
            want = self.p.cap - self.p.end
        if self.fd < 0:
            self.rd_ptr = self.p.buf + self.p.end
            self.rd_len = want
            self.rd_direct = False
            return R_WANT_READ
        rc = self._recv_c(self.p.buf + self.p.end, want, &got, tmo, wait_first)
        if rc != R_DONE:
            return rc
        if got == 0:
            self.p.eof = True
        else:
            self.p.got_bytes = True
        self.p.end += got
        return R_DONE

    cdef int _pump_head(self, int tmo, bint wait_first) noexcept nogil:
        """Until the final head is parsed: R_DONE, R_PROTO, or an I/O result."""
        cdef int rc
        while True:
            rc = self.p._next_head_c()
            if rc == 1:
                return R_DONE
            if rc < 0:
                self.p.err = -rc
                return R_PROTO
            rc = self._read_more(tmo, wait_first, 0)
            if rc != R_DONE:
                return rc
            wait_first = False

    cdef int _pump_body(self, char* dst, Py_ssize_t n, Py_ssize_t* got, int tmo,
                        bint partial) noexcept nogil:
        """Receive and decode the body.

        ``dst`` given: copy payload into dst[:n] until it is full (``partial``:
        until at least one byte was copied) or the body is done. ``dst`` NULL:
        until payload is ready in the parser buffer (``n`` bounds the chunked
        payload decoded) or the body is done."""
        cdef Py_ssize_t k, want, r = 0
        cdef int rc
        while True:
            if partial and got[0] > 0:
                return R_DONE
            if dst != NULL and got[0] >= n:
                return R_DONE
            if self.p.state != S_BODY:
                return R_DONE
            if self.p.framing == F_CHUNKED:
                rc = self.p._decode(n - got[0])
                if rc == R_TRAILERS:
                    return R_TRAILERS
                if rc < 0:
                    self.p.err = -rc
                    return R_PROTO
            k = self.p._body_available()
            if k > 0:
                if dst == NULL:
                    return R_DONE
                if k > n - got[0]:
                    k = n - got[0]
                memcpy(dst + got[0], self.p.buf + self.p.pos, k)
                got[0] += k
                self.p._consume(k)
                self.p._settle()
                continue
            self.p._settle()
            if self.p.state != S_BODY:
                return R_DONE
            if self.p.eof:
                self.p.err = E_INCOMPLETE_BODY
                return R_PROTO
            want = n - got[0]
            if self.no_io:
                return R_NEED_IO
            if (dst != NULL and self.p.framing != F_CHUNKED and want >= _DIRECT_MIN
                    and self.p.end == self.p.pos):
                # straight into the destination, never past the message end
                if self.p.framing == F_LENGTH and <uint64_t>want > self.p.remaining:
                    want = <Py_ssize_t>self.p.remaining
                if self.fd < 0:
                    self.rd_ptr = dst + got[0]
                    self.rd_len = want
                    self.rd_direct = True
                    return R_WANT_READ
                rc = self._recv_c(dst + got[0], want, &r, tmo, False)
                if rc != R_DONE:
                    return rc
                self._account_direct(r)
                got[0] += r
                continue
            rc = self._read_more(tmo, False, 0)
            if rc != R_DONE:
                return rc

    cdef inline void _account_direct(self, Py_ssize_t r) noexcept nogil:
        """``r`` payload bytes were received straight into the caller's buffer."""
        if r == 0:
            self.p.eof = True
            return
        self.p.got_bytes = True
        self.p.received += r
        if self.p.framing == F_LENGTH:
            self.p.remaining -= <uint64_t>r
            if self.p.remaining == 0:
                self.p.state = S_DONE

    # -- drivers (with the GIL) ---------------------------------------------

    cdef int _py_settimeout(self, object timeout) except -1:
        # every call: the socket's timeout may have been changed by its owner
        self.sock.settimeout(timeout)
        return 0

    cdef int _py_sendall(self, object data) except -1:
        try:
            self.sock.sendall(data)
        except BlockingIOError:  # timeout 0 and the send buffer full
            raise TimeoutError("timed out") from None
        return 0

    cdef int _py_recv(self, object timeout) except -1:
        """Python path: recv_into the region the pump asked for."""
        cdef Py_ssize_t r
        cdef ResponseParser p = self.p
        self._py_settimeout(timeout)
        mv = PyMemoryView_FromMemory(self.rd_ptr, self.rd_len, PyBUF_WRITE)
        try:
            r = self.sock.recv_into(mv, self.rd_len)
        except BlockingIOError:  # timeout 0 and nothing ready
            raise TimeoutError("timed out") from None
        finally:
            mv.release()
        if r < 0 or r > self.rd_len:
            raise OSError("recv_into returned %r" % (r,))
        if self.rd_direct:
            return r
        if r == 0:
            p.eof = True
        else:
            p.got_bytes = True
        p.end += r
        return r

    cdef int _check_fd(self) except -1:
        cdef long cur
        self.in_wait = False
        if self.fd >= 0:
            cur = _socket_fileno(self.sock)   # compared as C ints
            if cur != self.fd:
                raise OSError(9, "Bad file descriptor: the socket was closed")
        return 0

    def is_dropped(self):
        """True when the idle connection is unusable: the socket is readable
        (the peer closed it or sent something unasked), reports an error or
        hang-up, or is closed. One zero-timeout poll; never reads."""
        cdef int r, e = 0, fd = self.fd
        if fd >= 0:
            with nogil:
                r = fp_poll(fd, FP_POLLIN | FP_POLLPRI, 0)
                if r < 0:
                    e = errno
            if r == 0:
                return False
            if r > 0 or e != EINTR:
                return True
            # interrupted: resume once the signal handlers ran
            PyErr_CheckSignals()
            with nogil:
                r = fp_poll(fd, FP_POLLIN | FP_POLLPRI, 0)
            return r != 0
        return _readable_now(self.sock)

    cdef int _io_error(self, int rc) except -1:
        self.in_wait = False
        if rc == R_TIMEOUT:
            raise TimeoutError("timed out")
        if rc == R_OSERROR:
            raise OSError(self.os_errno, _strerror(self.os_errno))
        if rc == R_PROTO:
            self.p._raise(self.p.err)
        raise AssertionError("unexpected pump result %d" % rc)

    cdef ResponseHead _head_loop(self, object timeout, bint wait_first):
        cdef int tmo = _timeout_ms(timeout)
        cdef int rc
        cdef ResponseParser p = self.p
        if p.err:
            p._raise(p.err)
        while True:
            if self.fd >= 0:
                with nogil:
                    rc = self._pump_head(tmo, wait_first)
            else:
                rc = self._pump_head(tmo, wait_first)
            if rc == R_DONE:
                break
            if rc == R_EINTR:
                PyErr_CheckSignals()
                continue
            if rc == R_WANT_READ:
                self._py_recv(timeout)
                wait_first = False
                continue
            self._io_error(rc)
        return p._build_head()

    cdef int _sendall(self, object data, object timeout) except -1:
        cdef Py_buffer view
        cdef Py_ssize_t sent = 0
        cdef int tmo, rc
        if self.fd < 0:
            self._py_settimeout(timeout)
            self._py_sendall(data)
            return 0
        tmo = _timeout_ms(timeout)
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            while True:
                with nogil:
                    rc = self._send_c(<const char*>view.buf, view.len, NULL, 0, &sent, tmo)
                if rc == R_DONE:
                    return 0
                if rc == R_EINTR:
                    PyErr_CheckSignals()
                    continue
                self._io_error(rc)
        finally:
            PyBuffer_Release(&view)

    def sendall(self, data, timeout):
        """Send all of ``data`` (``timeout`` applies to each wait)."""
        self._check_fd()
        self._sendall(data, timeout)

    def request(self, head, body, timeout, bint is_head_request=False):
        """Send ``head`` (and ``body``), then wait for and parse the response head."""
        cdef Py_buffer hv, bv
        cdef Py_ssize_t sent = 0
        cdef int tmo, rc = R_DONE
        cdef bint sending = True
        cdef bint have_body = False
        cdef ResponseParser p = self.p
        self._check_fd()
        p._start(is_head_request)
        if self.fd < 0:
            self._py_settimeout(timeout)
            self._py_sendall(head)
            if body is not None and len(body):
                self._py_sendall(body)
            return self._head_loop(timeout, True)
        tmo = _timeout_ms(timeout)
        PyObject_GetBuffer(head, &hv, PyBUF_SIMPLE)
        bv.buf = NULL
        bv.len = 0
        try:
            if body is not None:
                PyObject_GetBuffer(body, &bv, PyBUF_SIMPLE)
                have_body = True
            while True:
                with nogil:
                    if sending:
                        rc = self._send_c(<const char*>hv.buf, hv.len, <const char*>bv.buf,
                                          bv.len, &sent, tmo)
                        if rc == R_DONE:
                            sending = False
                    if not sending:
                        rc = self._pump_head(tmo, True)
                if rc == R_DONE:
                    break
                if rc == R_EINTR:
                    PyErr_CheckSignals()
                    continue
                self._io_error(rc)
        finally:
            PyBuffer_Release(&hv)
            if have_body:
                PyBuffer_Release(&bv)
        return p._build_head()

    def read_head(self, timeout, bint is_head_request=False):
        """Wait for and parse the response head of a request sent with ``sendall``."""
        self._check_fd()
        self.p._start(is_head_request)
        return self._head_loop(timeout, False)

    cdef Py_ssize_t _fill(self, char* dst, Py_ssize_t n, object timeout,
                          bint partial) except -1:
        """Run _pump_body to completion (GIL released on the descriptor path)."""
        cdef Py_ssize_t got = 0, r
        cdef int tmo = _timeout_ms(timeout)
        cdef int rc
        cdef ResponseParser p = self.p
        while True:
            if self.fd >= 0:
                rc = R_NEED_IO
                if 0 < p.end - p.pos <= _HOLD_MAX:
                    # a few buffered bytes (often the whole body, which came
                    # with the head) need no system call: no GIL round trip
                    self.no_io = True
                    rc = self._pump_body(dst, n, &got, tmo, partial)
                    self.no_io = False
                if rc == R_NEED_IO:
                    with nogil:
                        rc = self._pump_body(dst, n, &got, tmo, partial)
            else:
                rc = self._pump_body(dst, n, &got, tmo, partial)
            if rc == R_DONE:
                return got
            if rc == R_TRAILERS:
                p._finish_trailers()
                continue
            if rc == R_EINTR:
                PyErr_CheckSignals()
                continue
            if rc == R_WANT_READ:
                r = self._py_recv(timeout)
                if self.rd_direct:
                    self._account_direct(r)
                    got += r
                continue
            self._io_error(rc)

    cdef int _body_ready(self) except -1:
        cdef ResponseParser p = self.p
        if p.err:
            p._raise(p.err)
        if p.state == S_HEAD:
            raise _ProtocolError("No response head has been read")
        return 0

    def read(self, amt=None, timeout=None):
        """Decoded body bytes: at most ``amt`` (all when None), returning as
        soon as some are available; b"" once the body is complete."""
        cdef ResponseParser p = self.p
        cdef Py_ssize_t n, got, cap, limit = -1
        cdef bytes out
        cdef char* buf
        cdef char* grown
        if amt is not None:
            limit = amt
            if limit < 0:
                raise ValueError("amt must be >= 0 or None")
        self._body_ready()
        if p.state != S_BODY:
            return b""
        self._check_fd()
        if amt is not None:
            if limit == 0:
                return b""
            # wait for some payload in the parser buffer, then one copy out
            self._fill(NULL, limit, timeout, True)
            n = p._body_available()
            if n > limit:
                n = limit
            if n == 0:
                return b""
            out = PyBytes_FromStringAndSize(p.buf + p.pos, n)
            p._consume(n)
            p._settle()
            return out
        if p.framing == F_LENGTH and p.remaining <= _PREALLOC_MAX:
            # one preallocated bytes object, filled in place (and not shared
            # before it is complete)
            n = <Py_ssize_t>p.remaining
            out = PyBytes_FromStringAndSize(NULL, n)
            got = self._fill(PyBytes_AS_STRING(out), n, timeout, False)
            if got != n:  # pragma: no cover - _fill raises on a short body
                return out[:got]
            return out
        # unknown length (or a LENGTH too big to trust): a growing C buffer,
        # one copy at the end
        cap = _PREALLOC_MAX if p.framing == F_LENGTH else _RECV_CHUNK
        got = 0
        buf = <char*>PyMem_Malloc(cap)
        if buf == NULL:
            raise MemoryError()
        try:
            while True:
                got += self._fill(buf + got, cap - got, timeout, False)
                if p.state != S_BODY:
                    break
                if got == cap:
                    grown = <char*>PyMem_Malloc(cap * 2)
                    if grown == NULL:
                        raise MemoryError()
                    memcpy(grown, buf, got)
                    PyMem_Free(buf)
                    buf = grown
                    cap *= 2
            return PyBytes_FromStringAndSize(buf, got)
        finally:
            PyMem_Free(buf)

    def readinto(self, buffer, timeout=None):
        """Read decoded body bytes into ``buffer`` (returning as soon as some
        are available); 0 once the body is complete."""
        cdef Py_buffer view
        cdef ResponseParser p = self.p
        self._body_ready()
        PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
        try:
            if p.state != S_BODY or view.len == 0:
                return 0
            self._check_fd()
            return self._fill(<char*>view.buf, view.len, timeout, True)
        finally:
            PyBuffer_Release(&view)

    @property
    def body_done(self):
        return self.p.state == S_DONE

    @property
    def body_received(self):
        return self.p.received

    @property
    def keep_alive(self):
        """The head allowed reuse, the body is complete, nothing is left over."""
        cdef ResponseParser p = self.p
        return (p.head is not None and (<ResponseHead>p.head).keep_alive
                and p.state == S_DONE and p.end == p.pos and not p.err and not p.eof)

    @property
    def trailers(self):
        return self.p._trailers if self.p._trailers is not None else []

    @property
    def head(self):
        return self.p.head

    def leftover(self):
        return self.p._leftover()
