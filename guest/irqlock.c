/*
 * The guest's spin_lock_irqsave (guest.h): mask events, hold off calls,
 * then take the mutex; undo in reverse. Relies on guest.h only.
 */
#include <errno.h>
#include <xensim/guest.h>
#include "util.h"

void xensim_irqlock_init(struct xensim_irqlock *l)
{
    XENSIM_CHECK(pthread_mutex_init(&l->m, NULL));
}

void xensim_irqlock_destroy(struct xensim_irqlock *l)
{
    pthread_mutex_destroy(&l->m);
}

/* A vCPU waits as a kernel spins, passing through Xen on every turn: its
 * holder may make hypercalls under the lock, and a domain that shuts down
 * meanwhile takes each vCPU out of guest code at its next return from
 * Xen, the holder with the lock still held. A waiter asleep on the mutex
 * would never get there. Host threads have no Xen to pass through. */
static void lock_spinning(struct xensim_irqlock *l)
{
    int e;

    while ((e = pthread_mutex_trylock(&l->m)) == EBUSY)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    if (e)
        XENSIM_DIE("pthread_mutex_trylock", e);
}

bool xensim_irqlock_lock(struct xensim_irqlock *l)
{
    bool were_masked = xensim_guest_irq_disabled();

    xensim_guest_irq_disable();
    xensim_guest_calls_hold();
    if (xensim_guest_vcpu_info())
        lock_spinning(l);
    else
        xensim_mutex_lock(&l->m);
    return were_masked;
}

void xensim_irqlock_unlock(struct xensim_irqlock *l, bool were_masked)
{
    xensim_mutex_unlock(&l->m);
    xensim_guest_calls_release();
    if (!were_masked)
        xensim_guest_irq_enable();
}
