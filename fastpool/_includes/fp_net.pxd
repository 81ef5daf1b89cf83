# C declarations for the descriptor path of fastpool._http11_c (see fp_net.h).
# Everything here is callable without the GIL; on Windows FP_HAVE_FD_PATH is 0
# and the functions are stubs that fail with ENOSYS.

cdef extern from "_includes/fp_net.h" nogil:
    const int FP_HAVE_FD_PATH
    const int FP_POLLIN
    const int FP_POLLPRI
    const int FP_POLLOUT
    Py_ssize_t fp_send(int fd, const char *p, Py_ssize_t n)
    Py_ssize_t fp_send2(int fd, const char *p1, Py_ssize_t n1, const char *p2, Py_ssize_t n2)
    Py_ssize_t fp_recv(int fd, char *p, Py_ssize_t n)
    int fp_poll(int fd, int events, int timeout_ms)
    double fp_monotonic()
    bint fp_would_block(int e)
