/* fastpool: the few POSIX calls the compiled codec makes on a socket's file
 * descriptor, behind one portable face.
 *
 * FP_HAVE_FD_PATH is 1 where poll/send/recv on a descriptor are available;
 * elsewhere (Windows) every function below is a stub that fails with ENOSYS
 * and the Wire never takes the descriptor path: it drives the Python socket
 * object instead. All functions are safe to call without the GIL.
 */
#ifndef FASTPOOL_FP_NET_H
#define FASTPOOL_FP_NET_H

#include <errno.h>
#include <stddef.h>

#ifdef _WIN32

#define FP_HAVE_FD_PATH 0
#define FP_POLLIN 1
#define FP_POLLPRI 2
#define FP_POLLOUT 4
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef EWOULDBLOCK
#define EWOULDBLOCK EAGAIN
#endif
#ifndef EINTR
#define EINTR 4
#endif
#ifndef ENOSYS
#define ENOSYS 40
#endif

static Py_ssize_t fp_send(int fd, const char *p, Py_ssize_t n)
{ (void)fd; (void)p; (void)n; errno = ENOSYS; return -1; }
static Py_ssize_t fp_send2(int fd, const char *p1, Py_ssize_t n1, const char *p2, Py_ssize_t n2)
{ (void)fd; (void)p1; (void)n1; (void)p2; (void)n2; errno = ENOSYS; return -1; }
static Py_ssize_t fp_recv(int fd, char *p, Py_ssize_t n)
{ (void)fd; (void)p; (void)n; errno = ENOSYS; return -1; }
static int fp_poll(int fd, int events, int timeout_ms)
{ (void)fd; (void)events; (void)timeout_ms; errno = ENOSYS; return -1; }
static double fp_monotonic(void) { return 0.0; }

#else /* POSIX */

#include <poll.h>
#include <time.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define FP_HAVE_FD_PATH 1
#define FP_POLLIN POLLIN
#define FP_POLLPRI POLLPRI
#define FP_POLLOUT POLLOUT

/* macOS has no MSG_NOSIGNAL; CPython ignores SIGPIPE at start-up anyway. */
#ifdef MSG_NOSIGNAL
#define FP_SEND_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)
#else
#define FP_SEND_FLAGS MSG_DONTWAIT
#endif

static Py_ssize_t fp_send(int fd, const char *p, Py_ssize_t n)
{
    return (Py_ssize_t)send(fd, p, (size_t)n, FP_SEND_FLAGS);
}

/* Two buffers in one system call (head + body). */
static Py_ssize_t fp_send2(int fd, const char *p1, Py_ssize_t n1, const char *p2, Py_ssize_t n2)
{
    struct msghdr msg;
    struct iovec iov[2];
    iov[0].iov_base = (void *)p1;
    iov[0].iov_len = (size_t)n1;
    iov[1].iov_base = (void *)p2;
    iov[1].iov_len = (size_t)n2;
    msg.msg_name = NULL;
    msg.msg_namelen = 0;
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = NULL;
    msg.msg_controllen = 0;
    msg.msg_flags = 0;
    return (Py_ssize_t)sendmsg(fd, &msg, FP_SEND_FLAGS);
}

static Py_ssize_t fp_recv(int fd, char *p, Py_ssize_t n)
{
    return (Py_ssize_t)recv(fd, p, (size_t)n, MSG_DONTWAIT);
}

/* poll one descriptor: >0 ready (any revents, errors included: the next
 * send/recv reports them), 0 timed out, -1 with errno set. */
static int fp_poll(int fd, int events, int timeout_ms)
{
    struct pollfd pfd;
    pfd.fd = fd;
    pfd.events = (short)events;
    pfd.revents = 0;
    return poll(&pfd, 1, timeout_ms);
}

static double fp_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif /* _WIN32 */

static int fp_would_block(int e)
{
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    return e == EAGAIN || e == EWOULDBLOCK;
#else
    return e == EAGAIN;
#endif
}

#endif /* FASTPOOL_FP_NET_H */
