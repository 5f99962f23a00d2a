/*
 * The teaching narrator: when a simulator has one, guest code
 * (xensim_narrate), host programs (xensim_narrate_host) and the
 * hypervisor (narrate_xen.c, a trace subscriber) describe each step in one
 * line, prefixed with who speaks. Each line is also a trace point
 * (XENSIM_TRACE_NARRATE), so a recording or a live view has the story
 * beside the events. Off by default: guest narration costs one load and
 * a branch (xensim_narrate, a macro, computes no argument unless some
 * simulator narrates its guests), the hypervisor's nothing but its trace
 * points' branch.
 */
#include <stdarg.h>
#include "narrate.h"
#include "tracepoint.h"

unsigned int xensim_narrating_guests;

/* Keeps xensim_narrating_guests the number of simulators whose guests
 * narrate (trace_lock held). */
static void guests_narrating(struct xensim *sim, unsigned int what)
{
    bool was = sim->narrate_what & XENSIM_NARRATE_GUEST, now = what & XENSIM_NARRATE_GUEST;
    if (now && !was)
        __atomic_fetch_add(&xensim_narrating_guests, 1, __ATOMIC_RELAXED);
    else if (was && !now)
        __atomic_fetch_sub(&xensim_narrating_guests, 1, __ATOMIC_RELAXED);
}

void xensim_set_narrator(struct xensim *sim, xensim_narrator_t fn, void *arg, unsigned int what)
{
    sim_mutex_lock(&sim->trace_lock);
    sim->narrator_arg = arg;
    guests_narrating(sim, fn ? what : 0);
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
    char text[480], line[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    snprintf(line, sizeof(line), "%-12s %s", who, text);
    fn(line, sim->narrator_arg);
    if (trace_on(sim)) {
        const struct vcpu *v = current_vcpu;
        struct xensim_trace_event ev;
        trace_event_init(&ev, XENSIM_TRACE_NARRATE, sim, v && v->d->sim == sim ? v->d->domid : 0,
                         v && v->d->sim == sim ? v->id : XENSIM_TRACE_NO_VCPU);
        ev.seq = atomic_fetch_add(&sim->narrate_seq, 1) + 1;
        ev.u.narrate.who = who;
        ev.u.narrate.text = text;
        trace_emit(sim, &ev);
    }
}

void xensim_narrate_host(struct xensim *sim, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    narrate_vline(sim, who, fmt, ap);
    va_end(ap);
}

void narrate_sim_free(struct xensim *sim)
{
    sim_mutex_lock(&sim->trace_lock);
    guests_narrating(sim, 0);
    sim->narrate_what = 0;
    sim_mutex_unlock(&sim->trace_lock);
}

static void guest_vline(const char *fmt, va_list ap)
{
    struct vcpu *v = current_vcpu;
    if (!v || !(__atomic_load_n(&v->d->sim->narrate_what, __ATOMIC_ACQUIRE) &
                XENSIM_NARRATE_GUEST))
        return;
    /* The narrator is host code with its own locks, not guest code. */
    sim_hv_enter();
    char who[32];
    snprintf(who, sizeof(who), "[dom%u vcpu%u]", v->d->domid, v->id);
    narrate_vline(v->d->sim, who, fmt, ap);
    sim_hv_leave();
}

void xensim_narrate_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guest_vline(fmt, ap);
    va_end(ap);
}

/* The function behind the macro's name, for programs built before it
 * became one (and for a caller that takes its address). */
void (xensim_narrate)(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guest_vline(fmt, ap);
    va_end(ap);
}
