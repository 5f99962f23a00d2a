/*
 * The run as Chrome trace-event JSON (chrome://tracing and Perfetto open
 * it): a process per domain, a thread per vCPU, hypercalls and upcalls as
 * slices, and a flow arrow from each EVTCHNOP_send to the upcall it caused.
 * Owns sim->trace; every hook is a no-op while tracing is off.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include "sim.h"

struct trace {
    pthread_mutex_t lock;
    FILE *f;
    bool first;
    _Atomic uint64_t next_flow;
};

/* Host threads (xenstored, a vchan program) get a track of their own. */
#define TRACE_HOST_TID 1000

static double trace_us(const struct xensim *sim)
{
    return (double)sim_now(sim) / 1000.0;
}

static void trace_emit(struct xensim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void trace_emit(struct xensim *sim, const char *fmt, ...)
{
    struct trace *t = sim->trace;
    va_list ap;
    va_start(ap, fmt);
    xensim_mutex_lock(&t->lock);
    if (t->f) {
        fputs(t->first ? "\n" : ",\n", t->f);
        t->first = false;
        vfprintf(t->f, fmt, ap);
    }
    xensim_mutex_unlock(&t->lock);
    va_end(ap);
}

static void trace_name_domain(struct xensim *sim, struct domain *d)
{
    trace_emit(sim, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"args\":{\"name\":\"dom%u %s\"}}",
               d->domid, d->domid, d->name);
    for (unsigned int i = 0; i < d->nr_vcpus; i++)
        trace_emit(sim, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":\"vcpu%u\"}}",
                   d->domid, i, i);
}

int xensim_trace_start(struct xensim *sim, const char *path)
{
    if (sim->trace)
        return -EEXIST;
    struct trace *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->f = fopen(path, "w");
    if (!t->f) {
        int err = errno;
        free(t);
        return -err;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->first = true;
    fputs("[", t->f);
    sim->trace = t;
    sim_rcu_ensure();
    rcu_read_lock();
    for (unsigned int id = 0; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *d = domain_lookup(sim, (domid_t)id);
        if (d)
            trace_name_domain(sim, d);
    }
    rcu_read_unlock();
    return 0;
}

void xensim_trace_stop(struct xensim *sim)
{
    struct trace *t = sim->trace;
    if (!t)
        return;
    xensim_mutex_lock(&t->lock);
    if (t->f) {
        fputs("\n]\n", t->f);
        fclose(t->f);
        t->f = NULL;
    }
    xensim_mutex_unlock(&t->lock);
    /* Hooks may still hold the pointer; the struct lives until destroy. */
}

void trace_free(struct xensim *sim)
{
    xensim_trace_stop(sim);
    if (sim->trace) {
        pthread_mutex_destroy(&sim->trace->lock);
        free(sim->trace);
        sim->trace = NULL;
    }
}

void trace_domain_built(struct domain *d)
{
    if (d->sim->trace)
        trace_name_domain(d->sim, d);
}

void trace_hypercall(struct vcpu *v, const char *name, bool begin)
{
    struct xensim *sim = v->d->sim;
    if (!sim->trace)
        return;
    trace_emit(sim, "{\"ph\":\"%c\",\"name\":\"%s\",\"cat\":\"hypercall\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
               begin ? 'B' : 'E', name, v->d->domid, v->id, trace_us(sim));
}

/* A send: an arrow starts on the sender's track and is remembered on the
 * vCPU it raised, to end at that vCPU's next upcall. */
void trace_send(struct domain *from, evtchn_port_t port, struct vcpu *to, evtchn_port_t to_port)
{
    struct xensim *sim = from->sim;
    if (!sim->trace)
        return;
    uint64_t id = atomic_fetch_add(&sim->trace->next_flow, 1) + 1;
    struct vcpu *cur = current_vcpu;
    unsigned int tid = cur && cur->d == from ? cur->id : TRACE_HOST_TID;
    double ts = trace_us(sim);
    trace_emit(sim, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"send port %u -> dom%u port %u\",\"cat\":\"evtchn\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
               port, to->d->domid, to_port, from->domid, tid, ts);
    trace_emit(sim, "{\"ph\":\"s\",\"id\":%" PRIu64 ",\"name\":\"event\",\"cat\":\"evtchn\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
               id, from->domid, tid, ts);
    atomic_store(&to->trace_flow, id);
}

void trace_upcall(struct vcpu *v, bool begin)
{
    struct xensim *sim = v->d->sim;
    if (!sim->trace)
        return;
    double ts = trace_us(sim);
    trace_emit(sim, "{\"ph\":\"%c\",\"name\":\"upcall\",\"cat\":\"evtchn\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
               begin ? 'B' : 'E', v->d->domid, v->id, ts);
    /* The arrow ends inside the upcall slice that it caused. */
    uint64_t flow = begin ? atomic_exchange(&v->trace_flow, 0) : 0;
    if (flow)
        trace_emit(sim, "{\"ph\":\"f\",\"bp\":\"e\",\"id\":%" PRIu64 ",\"name\":\"event\",\"cat\":\"evtchn\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
                   flow, v->d->domid, v->id, ts);
}
