/*
 * Protocol violations: what guest code reports when its peer breaks a
 * protocol (xensim_protocol_violation) and what the simulator's own
 * checkers see (ring_watch.c), counted and the last kept per simulator,
 * so that a test, a fuzz run or a search says what broke. Owns nothing
 * but the simulator's counter and last report.
 */
#include <stdarg.h>
#include <string.h>
#include "sim.h"

static void violation_record(struct xensim *sim, domid_t domid, const char *fmt, va_list ap)
{
    struct xensim_protocol_violation pv = { .domid = domid };
    vsnprintf(pv.what, sizeof(pv.what), fmt, ap);
    atomic_fetch_add(&sim->protocol_violations, 1);
    sim_mutex_lock(&sim->fault_lock);
    sim->last_violation = pv;
    sim_mutex_unlock(&sim->fault_lock);
    if (!sim->quiet)
        fprintf(stderr, "xensim: protocol violation (dom%u): %s\n", pv.domid, pv.what);
}

void protocol_violation(struct domain *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    violation_record(d->sim, d->domid, fmt, ap);
    va_end(ap);
}

void xensim_report_protocol_violation(struct xensim *sim, domid_t domid, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    violation_record(sim, domid, fmt, ap);
    va_end(ap);
}

void xensim_protocol_violation(const char *fmt, ...)
{
    struct vcpu *v = current_vcpu;
    if (!v)
        return;   /* not guest code: no domain to say it of */
    va_list ap;
    va_start(ap, fmt);
    violation_record(v->d->sim, v->d->domid, fmt, ap);
    va_end(ap);
}

uint64_t xensim_protocol_violations(struct xensim *sim, struct xensim_protocol_violation *last)
{
    uint64_t n = atomic_load(&sim->protocol_violations);
    if (last) {
        sim_mutex_lock(&sim->fault_lock);
        *last = sim->last_violation;
        sim_mutex_unlock(&sim->fault_lock);
    }
    return n;
}
