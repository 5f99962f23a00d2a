/*
 * Every errno xensim returns, as one X-macro: X(name, message) for each,
 * so a program can print "-ENOSPC (no free port or slot)" for -28 or
 * build its own table. The values are the host's <errno.h>, which on
 * Linux are Xen's (xen/errno.h) for every name Xen has; the last group
 * comes from the drivers and XenStore and has no Xen number.
 *
 * A new errno returned anywhere in the tree needs a row here:
 * tests/check_errno_names.sh fails the build's tests until it has one.
 */
#ifndef XENSIM_ERRNO_H
#define XENSIM_ERRNO_H

#include <errno.h>

#define XENSIM_ERRNO_LIST(X)                                                  \
    X(EPERM, "not permitted")                                                 \
    X(ENOENT, "no such entry")                                                \
    X(ESRCH, "no such domain")                                                \
    X(EIO, "I/O error")                                                       \
    X(E2BIG, "argument too big")                                              \
    X(EAGAIN, "try again")                                                    \
    X(ENOMEM, "out of memory")                                                \
    X(EACCES, "access denied")                                                \
    X(EFAULT, "bad guest address")                                            \
    X(EBUSY, "busy")                                                          \
    X(EEXIST, "already exists")                                               \
    X(ENODEV, "no such device")                                               \
    X(EINVAL, "invalid argument")                                             \
    X(ENOSPC, "no free port or slot")                                         \
    X(EROFS, "read-only")                                                     \
    X(ERANGE, "out of range")                                                 \
    X(ENAMETOOLONG, "name or path too long")                                  \
    X(ENOSYS, "not implemented")                                              \
    X(ENOTEMPTY, "not empty")                                                 \
    X(EILSEQ, "bad continuation")                                             \
    X(EMSGSIZE, "message too large")                                          \
    X(EOPNOTSUPP, "not supported")                                            \
    X(EISCONN, "already connected")                                           \
    X(ENOTCONN, "not connected")                                              \
    X(ETIMEDOUT, "timed out")                                                 \
    X(ESHUTDOWN, "domain shut down")                                          \
    X(EPIPE, "peer closed the connection")                                    \
    X(EPROTO, "protocol error")                                               \
    X(EPROTONOSUPPORT, "protocol not supported")                              \
    X(EHOSTUNREACH, "no route to host")                                       \
    X(EALREADY, "already in progress")                                        \
    X(ESTALE, "stale: torn down meanwhile")                                   \
    X(ECHILD, "the program exited")                                           \
    X(EFBIG, "file size limit reached")                                       \
    X(EMFILE, "too many open files")

#endif
