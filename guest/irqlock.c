/*
 * The guest's spin_lock_irqsave (guest.h): mask events, hold off calls,
 * then take the mutex; undo in reverse. Relies on guest.h only.
 */
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

bool xensim_irqlock_lock(struct xensim_irqlock *l)
{
    bool were_masked = xensim_guest_irq_disabled();

    xensim_guest_irq_disable();
    xensim_guest_calls_hold();
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
