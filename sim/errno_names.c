/*
 * xensim_strerror: the public errno list (include/xensim/errno.h) as
 * "-ENOSPC (no free port or slot)" strings for logs. A switch, so that two
 * rows with one value fail to compile.
 */
#include <xensim/errno.h>
#include <xensim/xensim.h>

const char *xensim_strerror(int negative_errno)
{
    switch (-negative_errno) {
    case 0:
        return "0 (success)";
#define XENSIM_ERRNO_CASE(name, text) case name: return "-" #name " (" text ")";
        XENSIM_ERRNO_LIST(XENSIM_ERRNO_CASE)
#undef XENSIM_ERRNO_CASE
    default:
        return "unknown error";
    }
}
