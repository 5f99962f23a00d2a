/*
 * The run as Chrome trace-event JSON (chrome://tracing and Perfetto open
 * it): a process per domain, a thread per vCPU, hypercalls and upcalls as
 * slices, grant operations, narration lines and programs' notes as
 * instants, and a flow arrow from each EVTCHNOP_send to the upcall it
 * caused. A trace subscriber: it sees only events, plus a domain listener
 * to name each new domain's tracks. Writes to a file (sim->chrome, which
 * changes under sim->trace_lock) or hands each event's text to a
 * function (xensim_trace_json_start, for a live view).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include "tracepoint.h"

struct trace_chrome {
    pthread_mutex_t lock;           /* the file or sink, between threads */
    FILE *f;                        /* or: */
    xensim_trace_json_fn sink;
    void *sink_arg;
    bool first;
};

/* Host threads (xenstored, a vchan program) get a track of their own. */
#define CHROME_HOST_TID 1000

static void chrome_write(struct trace_chrome *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void chrome_write(struct trace_chrome *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (t->f) {
        sim_mutex_lock(&t->lock);
        fputs(t->first ? "\n" : ",\n", t->f);
        t->first = false;
        vfprintf(t->f, fmt, ap);
        sim_mutex_unlock(&t->lock);
        va_end(ap);
        return;
    }
    /* A sink takes whole events: most fit the stack, a note may not. */
    char small[1024], *text = small;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n >= (int)sizeof(small)) {
        text = malloc((size_t)n + 1);
        if (text)
            vsnprintf(text, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    va_end(ap);
    if (n < 0 || !text)
        return;
    sim_mutex_lock(&t->lock);
    t->sink(text, (size_t)n, t->sink_arg);
    sim_mutex_unlock(&t->lock);
    if (text != small)
        free(text);
}

/* s as the inside of a JSON string, cut to fit out (size > 0). */
static const char *chrome_escape(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; s && *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

static double chrome_us(const struct xensim_trace_event *ev)
{
    return (double)ev->ts_ns / 1000.0;
}

static unsigned int chrome_tid(const struct xensim_trace_event *ev)
{
    return ev->vcpu == XENSIM_TRACE_NO_VCPU ? CHROME_HOST_TID : ev->vcpu;
}

static void chrome_name_domain(struct trace_chrome *t, const struct xensim_domain_info *info)
{
    char name[sizeof(info->name) * 6];
    chrome_write(t, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"args\":{\"name\":\"dom%u %s\"}}",
                 info->domid, info->domid, chrome_escape(info->name, name, sizeof(name)));
    for (unsigned int i = 0; i < info->nr_vcpus; i++)
        chrome_write(t, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":\"vcpu%u\"}}",
                     info->domid, i, i);
}

static void chrome_domain_built(struct xensim *sim, domid_t domid, void *arg)
{
    struct xensim_domain_info info;
    if (xensim_domain_info(sim, domid, &info) == 0)
        chrome_name_domain(arg, &info);
}

static const struct xensim_domain_listener chrome_listener = {
    .built = chrome_domain_built,
};

/* The domains that exist already; later ones come through the listener. */
static void chrome_name_all(struct xensim *sim, struct trace_chrome *t)
{
    int n = xensim_domain_list(sim, NULL, 0);
    struct xensim_domain_info *infos = n > 0 ? calloc((size_t)n, sizeof(*infos)) : NULL;
    if (!infos)
        return;
    int got = xensim_domain_list(sim, infos, n);
    for (int i = 0; i < got && i < n; i++)
        chrome_name_domain(t, &infos[i]);
    free(infos);
}

static void chrome_hypercall(struct trace_chrome *t, const struct xensim_trace_event *ev)
{
    chrome_write(t, "{\"ph\":\"%c\",\"name\":\"%s\",\"cat\":\"hypercall\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
                 ev->kind == XENSIM_TRACE_HYPERCALL_ENTER ? 'B' : 'E',
                 xensim_trace_op_name(ev->hypercall, ev->subop), ev->domid, ev->vcpu,
                 chrome_us(ev));
}

/* The arrow starts on the sender's track; its id is the send's number,
 * which the upcall it causes carries (ev->seq) to end it there. */
static void chrome_send(struct trace_chrome *t, const struct xensim_trace_event *ev)
{
    if (ev->u.send.to_host)
        return;
    unsigned int tid = chrome_tid(ev);
    double ts = chrome_us(ev);
    chrome_write(t, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"send port %u -> dom%u port %u\",\"cat\":\"evtchn\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"args\":{\"seq\":%" PRIu64 ",\"port\":%u,\"remote_dom\":%u,\"remote_port\":%u,\"remote_vcpu\":%u,\"was_pending\":%s}}",
                 ev->port, ev->remote_dom, ev->remote_port, ev->domid, tid, ts, ev->seq,
                 ev->port, ev->remote_dom, ev->remote_port, ev->u.send.remote_vcpu,
                 ev->u.send.was_pending ? "true" : "false");
    chrome_write(t, "{\"ph\":\"s\",\"id\":%" PRIu64 ",\"name\":\"event\",\"cat\":\"evtchn\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
                 ev->seq, ev->domid, tid, ts);
}

static void chrome_upcall(struct trace_chrome *t, const struct xensim_trace_event *ev)
{
    bool enter = ev->kind == XENSIM_TRACE_UPCALL_ENTER;
    double ts = chrome_us(ev);
    chrome_write(t, "{\"ph\":\"%c\",\"name\":\"upcall\",\"cat\":\"evtchn\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
                 enter ? 'B' : 'E', ev->domid, ev->vcpu, ts);
    /* The arrow ends inside the upcall slice that it caused. */
    if (enter && ev->seq)
        chrome_write(t, "{\"ph\":\"f\",\"bp\":\"e\",\"id\":%" PRIu64 ",\"name\":\"event\",\"cat\":\"evtchn\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f}",
                     ev->seq, ev->domid, ev->vcpu, ts);
}

static void chrome_grant(struct trace_chrome *t, const struct xensim_trace_event *ev)
{
    chrome_write(t, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s dom%u ref %u\",\"cat\":\"gnttab\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"args\":{\"handle\":%u,\"status\":%ld}}",
                 xensim_trace_kind_name(ev->kind), ev->remote_dom, ev->ref, ev->domid,
                 chrome_tid(ev), chrome_us(ev), ev->handle, ev->rc);
}

static void chrome_xenstore(struct trace_chrome *t, const struct xensim_trace_event *ev)
{
    chrome_write(t, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"xenstore %s type %u\",\"cat\":\"xenstore\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"args\":{\"req_id\":%u,\"tx_id\":%u,\"len\":%u}}",
                 ev->u.xenstore.reply ? "reply" : "request", ev->u.xenstore.type, ev->domid,
                 chrome_tid(ev), chrome_us(ev), ev->u.xenstore.req_id, ev->u.xenstore.tx_id,
                 ev->u.xenstore.len);
}

static void chrome_narrate(struct trace_chrome *t, const struct xensim_trace_event *ev)
{
    char who[64], text[1024];
    chrome_write(t, "{\"ph\":\"i\",\"s\":\"g\",\"name\":\"narrate\",\"cat\":\"narration\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"args\":{\"step\":%" PRIu64 ",\"who\":\"%s\",\"text\":\"%s\"}}",
                 ev->domid, chrome_tid(ev), chrome_us(ev), ev->seq,
                 chrome_escape(ev->u.narrate.who, who, sizeof(who)),
                 chrome_escape(ev->u.narrate.text, text, sizeof(text)));
}

static void chrome_note(struct trace_chrome *t, const struct xensim_trace_event *ev)
{
    char name[128];
    chrome_write(t, "{\"ph\":\"i\",\"s\":\"g\",\"name\":\"%s\",\"cat\":\"note\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"args\":%s}",
                 chrome_escape(ev->u.note.name, name, sizeof(name)), ev->domid, chrome_tid(ev),
                 chrome_us(ev), ev->u.note.args ? ev->u.note.args : "{}");
}

typedef void (*chrome_writer)(struct trace_chrome *t, const struct xensim_trace_event *ev);
static const chrome_writer chrome_writers[XENSIM_TRACE_NR_KINDS] = {
    [XENSIM_TRACE_HYPERCALL_ENTER] = chrome_hypercall,
    [XENSIM_TRACE_HYPERCALL_EXIT] = chrome_hypercall,
    [XENSIM_TRACE_SEND] = chrome_send,
    [XENSIM_TRACE_UPCALL_ENTER] = chrome_upcall,
    [XENSIM_TRACE_UPCALL_EXIT] = chrome_upcall,
    [XENSIM_TRACE_MAP] = chrome_grant,
    [XENSIM_TRACE_UNMAP] = chrome_grant,
    [XENSIM_TRACE_COPY] = chrome_grant,
    [XENSIM_TRACE_XENSTORE_MSG] = chrome_xenstore,
    [XENSIM_TRACE_NARRATE] = chrome_narrate,
    [XENSIM_TRACE_NOTE] = chrome_note,
};

static void chrome_event(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    (void)sim;
    unsigned int k = (unsigned int)ev->kind;
    if (k < ARRAY_SIZE(chrome_writers) && chrome_writers[k])
        chrome_writers[k](arg, ev);
}

static void chrome_free(struct trace_chrome *t)
{
    if (t->f) {
        fputs("\n]\n", t->f);
        fclose(t->f);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int xensim_trace_start(struct xensim *sim, const char *path)
{
    int rc = 0;
    sim_mutex_lock(&sim->trace_lock);
    if (sim->chrome) {
        rc = -EEXIST;
        goto out;
    }
    struct trace_chrome *t = calloc(1, sizeof(*t));
    if (!t) {
        rc = -ENOMEM;
        goto out;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->first = true;
    t->f = fopen(path, "w");
    if (!t->f) {
        rc = -errno;
        chrome_free(t);
        goto out;
    }
    fputs("[", t->f);
    rc = xensim_listener_add(sim, &chrome_listener, t);
    if (!rc) {
        rc = trace_subscribe_locked(sim, chrome_event, t);
        if (rc)
            xensim_listener_remove(sim, &chrome_listener, t);
    }
    if (rc) {
        chrome_free(t);
        goto out;
    }
    chrome_name_all(sim, t);
    sim->chrome = t;
out:
    sim_mutex_unlock(&sim->trace_lock);
    return rc;
}

void trace_chrome_stop_locked(struct xensim *sim)
{
    struct trace_chrome *t = sim->chrome;
    if (!t)
        return;
    /* Once both return, no event and no listener call reaches t. */
    trace_unsubscribe_locked(sim, chrome_event, t);
    xensim_listener_remove(sim, &chrome_listener, t);
    sim->chrome = NULL;
    chrome_free(t);
}

void xensim_trace_stop(struct xensim *sim)
{
    sim_mutex_lock(&sim->trace_lock);
    trace_chrome_stop_locked(sim);
    sim_mutex_unlock(&sim->trace_lock);
}

int xensim_trace_json_start(struct xensim *sim, xensim_trace_json_fn fn, void *arg,
                            struct xensim_trace_json **out)
{
    if (!fn || !out)
        return -EINVAL;
    struct trace_chrome *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    pthread_mutex_init(&t->lock, NULL);
    t->sink = fn;
    t->sink_arg = arg;
    sim_mutex_lock(&sim->trace_lock);
    int rc = xensim_listener_add(sim, &chrome_listener, t);
    if (!rc) {
        rc = trace_subscribe_locked(sim, chrome_event, t);
        if (rc)
            xensim_listener_remove(sim, &chrome_listener, t);
    }
    if (!rc)
        chrome_name_all(sim, t);
    sim_mutex_unlock(&sim->trace_lock);
    if (rc) {
        chrome_free(t);
        return rc;
    }
    *out = (struct xensim_trace_json *)t;
    return 0;
}

void xensim_trace_json_stop(struct xensim *sim, struct xensim_trace_json *json)
{
    struct trace_chrome *t = (struct trace_chrome *)json;
    if (!t)
        return;
    sim_mutex_lock(&sim->trace_lock);
    trace_unsubscribe_locked(sim, chrome_event, t);
    xensim_listener_remove(sim, &chrome_listener, t);
    sim_mutex_unlock(&sim->trace_lock);
    chrome_free(t);
}
