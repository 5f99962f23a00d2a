/*
 * Domain listeners: what the toolstack and dom0's services learn of
 * domains from the hypervisor side, without the hypervisor knowing who
 * they are (the toolstack introduces a new domain to xenstored; a dom0
 * service stops when dom0 goes). Owns sim->listeners under
 * sim->listener_lock, which is also held while a listener runs.
 */
#include <errno.h>
#include "sim.h"

struct sim_listener {
    const struct xensim_domain_listener *ops;
    void *arg;
    struct sim_listener *next;
};

int xensim_listener_add(struct xensim *sim, const struct xensim_domain_listener *ops,
                        void *arg)
{
    struct sim_listener *l = calloc(1, sizeof(*l));

    if (!l)
        return -ENOMEM;
    l->ops = ops;
    l->arg = arg;
    sim_mutex_lock(&sim->listener_lock);
    /* At the tail: listeners hear of each domain in the order they came. */
    struct sim_listener **pp = &sim->listeners;
    while (*pp)
        pp = &(*pp)->next;
    *pp = l;
    sim_mutex_unlock(&sim->listener_lock);
    return 0;
}

int xensim_listener_remove(struct xensim *sim, const struct xensim_domain_listener *ops,
                           void *arg)
{
    struct sim_listener *found = NULL;

    sim_mutex_lock(&sim->listener_lock);
    for (struct sim_listener **pp = &sim->listeners; *pp; pp = &(*pp)->next)
        if ((*pp)->ops == ops && (*pp)->arg == arg) {
            found = *pp;
            *pp = found->next;
            break;
        }
    sim_mutex_unlock(&sim->listener_lock);
    free(found);
    return found ? 0 : -ENOENT;
}

void domain_listeners_built(struct xensim *sim, domid_t domid)
{
    sim_mutex_lock(&sim->listener_lock);
    for (struct sim_listener *l = sim->listeners; l; l = l->next)
        if (l->ops->built)
            l->ops->built(sim, domid, l->arg);
    sim_mutex_unlock(&sim->listener_lock);
}

void domain_listeners_destroying(struct xensim *sim, domid_t domid)
{
    sim_mutex_lock(&sim->listener_lock);
    for (struct sim_listener *l = sim->listeners; l; l = l->next)
        if (l->ops->destroying)
            l->ops->destroying(sim, domid, l->arg);
    sim_mutex_unlock(&sim->listener_lock);
}

void domain_listeners_free(struct xensim *sim)
{
    struct sim_listener *l = sim->listeners;

    while (l) {
        struct sim_listener *next = l->next;
        free(l);
        l = next;
    }
    sim->listeners = NULL;
}
