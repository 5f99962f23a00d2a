/*
 * The teaching narrator: when a simulator has one, guest code
 * (xensim_narrate) and the hypervisor (narrate_xen.c, a trace subscriber)
 * describe each step in one line, prefixed with who speaks. Off by
 * default: guest narration costs one load, the hypervisor's nothing but
 * its trace points' branch.
 */
#include <stdarg.h>
#include "narrate.h"
#include "tracepoint.h"

void xensim_set_narrator(struct xensim *sim, xensim_narrator_t fn, void *arg, unsigned int what)
{
    sim_mutex_lock(&sim->trace_lock);
    sim->narrator_arg = arg;
    __atomic_store_n(&sim->narrate_what, fn ? what : 0, __ATOMIC_RELEASE);
    __atomic_store_n(&sim->narrator, fn, __ATOMIC_RELEASE);
    /* Without memory for its state the hypervisor stays silent; guest
     * narration goes on. */
    (void)narrate_xen_set_locked(sim, fn && (what & XENSIM_NARRATE_XEN));
    sim_mutex_unlock(&sim->trace_lock);
}

void narrate_vline(struct xensim *sim, const char *who, const char *fmt, va_list ap)
{
    xensim_narrator_t fn = __atomic_load_n(&sim->narrator, __ATOMIC_ACQUIRE);
    if (!fn)
        return;
    char line[512];
    int n = snprintf(line, sizeof(line), "%-12s ", who);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    fn(line, sim->narrator_arg);
}

void xensim_narrate(const char *fmt, ...)
{
    struct vcpu *v = current_vcpu;
    if (!v || !(__atomic_load_n(&v->d->sim->narrate_what, __ATOMIC_ACQUIRE) &
                XENSIM_NARRATE_GUEST))
        return;
    /* The narrator is host code with its own locks, not guest code. */
    sim_hv_enter();
    char who[32];
    snprintf(who, sizeof(who), "[dom%u vcpu%u]", v->d->domid, v->id);
    va_list ap;
    va_start(ap, fmt);
    narrate_vline(v->d->sim, who, fmt, ap);
    va_end(ap);
    sim_hv_leave();
}
