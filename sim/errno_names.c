/*
 * Names for Xen's errno values, so logs say "-ENOSPC (no free port)"
 * rather than -28. One X-macro table; values are Xen's (xen/errno.h).
 */
#include <errno.h>
#include <stdio.h>
#include <xensim/xensim.h>

#define XENSIM_ERRNOS(X)                                                      \
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
    X(EINVAL, "invalid argument")                                             \
    X(ENOSPC, "no free port or slot")                                         \
    X(EROFS, "read-only")                                                     \
    X(ERANGE, "out of range")                                                 \
    X(ENOSYS, "not implemented")                                              \
    X(ENOTEMPTY, "not empty")                                                 \
    X(EOPNOTSUPP, "not supported")                                            \
    X(EISCONN, "already connected")                                           \
    X(ESHUTDOWN, "domain shut down")

const char *xensim_strerror(int negative_errno)
{
    switch (-negative_errno) {
    case 0:
        return "0 (success)";
#define XENSIM_ERRNO_CASE(name, text) case name: return "-" #name " (" text ")";
        XENSIM_ERRNOS(XENSIM_ERRNO_CASE)
#undef XENSIM_ERRNO_CASE
    default:
        return "unknown error";
    }
}
