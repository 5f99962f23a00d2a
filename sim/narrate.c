/*
 * The teaching narrator: when a simulator has one, guest code
 * (xensim_narrate) and the hypervisor (narrate_xen) describe each step in
 * one line, prefixed with who speaks. Off by default: one load per hook.
 */
#include <stdarg.h>
#include "sim.h"

void xensim_set_narrator(struct xensim *sim, xensim_narrator_t fn, void *arg, unsigned int what)
{
    xensim_mutex_lock(&sim->lock);
    sim->narrator_arg = arg;
    __atomic_store_n(&sim->narrate_what, fn ? what : 0, __ATOMIC_RELEASE);
    __atomic_store_n(&sim->narrator, fn, __ATOMIC_RELEASE);
    xensim_mutex_unlock(&sim->lock);
}

static bool narrating(const struct xensim *sim, unsigned int what)
{
    return __atomic_load_n(&sim->narrate_what, __ATOMIC_ACQUIRE) & what;
}

static void narrate_va(struct xensim *sim, const char *who, const char *fmt, va_list ap)
{
    xensim_narrator_t fn = __atomic_load_n(&sim->narrator, __ATOMIC_ACQUIRE);
    if (!fn)
        return;
    char line[512];
    int n = snprintf(line, sizeof(line), "%-12s ", who);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    fn(line, sim->narrator_arg);
}

void narrate_xen(struct xensim *sim, const char *fmt, ...)
{
    if (!narrating(sim, XENSIM_NARRATE_XEN))
        return;
    va_list ap;
    va_start(ap, fmt);
    narrate_va(sim, "[xen]", fmt, ap);
    va_end(ap);
}

bool narrate_on(const struct xensim *sim)
{
    return narrating(sim, XENSIM_NARRATE_XEN);
}

void xensim_narrate(const char *fmt, ...)
{
    struct vcpu *v = current_vcpu;
    if (!v || !narrating(v->d->sim, XENSIM_NARRATE_GUEST))
        return;
    char who[32];
    snprintf(who, sizeof(who), "[dom%u vcpu%u]", v->d->domid, v->id);
    va_list ap;
    va_start(ap, fmt);
    narrate_va(v->d->sim, who, fmt, ap);
    va_end(ap);
}
