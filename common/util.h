/*
 * The few helpers every folder needs, written once: aborting on an
 * impossible host failure, Xen's page size, array sizes, container_of,
 * and reading memory a peer may rewrite at any time. Header only; relies
 * on libc.
 */
#ifndef XENSIM_UTIL_H
#define XENSIM_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Impossible host failures (a mutex call failing) abort loudly with file
 * and line, like liburcu's urcu_die. err is an errno value. */
#define XENSIM_DIE(what, err)                                                 \
    do {                                                                      \
        fprintf(stderr, "xensim: %s:%d: %s: %s\n", __FILE__, __LINE__, (what), \
                strerror(err));                                               \
        abort();                                                              \
    } while (0)
/* Runs a pthread-style call (0 or an errno) and dies if it fails. */
#define XENSIM_CHECK(call)                                                    \
    do {                                                                      \
        int e_ = (call);                                                      \
        if (e_)                                                               \
            XENSIM_DIE(#call, e_);                                            \
    } while (0)
/* Dies when cond holds: a host failure that sets errno (an allocation,
 * a system call that cannot fail here). */
#define XENSIM_DIE_IF(cond)                                                   \
    do {                                                                      \
        if (cond)                                                             \
            XENSIM_DIE(#cond, errno);                                         \
    } while (0)
#define xensim_mutex_lock(m)   XENSIM_CHECK(pthread_mutex_lock(m))
#define xensim_mutex_unlock(m) XENSIM_CHECK(pthread_mutex_unlock(m))

/* Xen's pages are 4 KiB whatever the host's. */
#ifndef XEN_PAGE_SHIFT
#define XEN_PAGE_SHIFT 12
#endif
#ifndef XEN_PAGE_SIZE
#define XEN_PAGE_SIZE (1UL << XEN_PAGE_SHIFT)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef container_of
#define container_of(ptr, type, member)                                       \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

/* A peer may rewrite shared memory at any time: read it exactly once. */
#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#endif
