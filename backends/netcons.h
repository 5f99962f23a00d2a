/*
 * Private helpers shared by the console and network drivers (frontends/
 * console*.c, frontends/netfront*.c, backends/console*.c, netback*.c,
 * vswitch*.c, pcap*.c): the barriers <xen/io/ring.h> wants from its
 * includer, and the lock guest driver code takes. Relies on guest.h only.
 */
#ifndef XENSIM_NETCONS_H
#define XENSIM_NETCONS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <xensim/guest.h>

#include <xensim/io/ring.h>
/* These drivers say mb/rmb/wmb whatever the interface version. */
#ifndef mb
#define mb()  xen_mb()
#define rmb() xen_rmb()
#define wmb() xen_wmb()
#endif

/* Ring protocols use 4 KiB pages whatever the host's (XEN_PAGE_SHIFT). */
#define NC_PAGE_SIZE (1u << XEN_PAGE_SHIFT)

/* A peer may rewrite shared memory at any time: read it exactly once. */
#define NC_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define NC_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#define NC_DIE(what, err) do { \
    fprintf(stderr, "%s:%d: %s: error %d\n", __FILE__, __LINE__, (what), (err)); \
    abort(); \
} while (0)

/*
 * spin_lock_irqsave for guest drivers. A vCPU thread can re-enter driver
 * code on its own stack: an upcall arrives at a hypercall exit, and so does
 * a queued xensim_domain_call(), even inside an upcall. Masking events
 * stops the first; the owner field detects the second, which must then
 * defer its work (nc_lock returns false) rather than deadlock.
 */
struct nc_lock {
    pthread_mutex_t m;
    _Atomic uintptr_t owner;     /* pthread_self() of the holder, or 0 */
};

static inline void nc_lock_init(struct nc_lock *l)
{
    int err = pthread_mutex_init(&l->m, NULL);
    if (err)
        NC_DIE("pthread_mutex_init", err);
    atomic_init(&l->owner, 0);
}

static inline void nc_lock_destroy(struct nc_lock *l)
{
    pthread_mutex_destroy(&l->m);
}

static inline bool nc_lock_held_by_me(struct nc_lock *l)
{
    return atomic_load(&l->owner) == (uintptr_t)pthread_self();
}

/* False, without locking, if this thread holds it already. */
static inline bool nc_lock(struct nc_lock *l, bool *irqs_were_off)
{
    if (nc_lock_held_by_me(l))
        return false;
    *irqs_were_off = xensim_guest_irq_disabled();
    xensim_guest_irq_disable();
    int err = pthread_mutex_lock(&l->m);
    if (err)
        NC_DIE("pthread_mutex_lock", err);
    atomic_store(&l->owner, (uintptr_t)pthread_self());
    return true;
}

static inline void nc_unlock(struct nc_lock *l, bool irqs_were_off)
{
    atomic_store(&l->owner, 0);
    int err = pthread_mutex_unlock(&l->m);
    if (err)
        NC_DIE("pthread_mutex_unlock", err);
    if (!irqs_were_off)
        xensim_guest_irq_enable();
}

#endif
