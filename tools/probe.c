/*
 * The probe (probe.h): its trace subscriber, which answers each narration
 * line with a "state" note read from shared memory and marks the picture
 * dirty on any change, and the thread that writes "snapshot" notes
 * (snapshot.c builds them). Owns the process's one probe.
 *
 * Lock rule: probe.lock guards the view and the flags and is never held
 * across a call into the simulator but xensim_domain_peek() (lockless),
 * because the subscriber takes it inside trace points that may hold
 * simulator locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xensim/trace.h>
/* After xen.h, which says whether vcpu_info has the upcall mask. */
#include <xen/foreign/x86_32.h>
#include "probe.h"
#include "probe_view.h"

struct probe {
    struct xensim *sim;
    unsigned int users;          /* under users_lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;         /* the thread's work, and syncs */
    struct probe_view *view;
    bool dirty, stop, running;
    uint64_t requested, done;    /* snapshot generations asked for and written */
    char *last;                  /* the last snapshot written, before its state */
    pthread_t thread;
};

static struct probe probe = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
};
static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;

/* Snapshots are wanted often while a device connects; one every
 * THROTTLE_MS at most keeps a recording small and the page quick. */
#define THROTTLE_MS 20
#define SYNC_WAIT_S 10
/* Not every change is a trace point (a guest writes its grant entries,
 * a host program writes XenStore through the socket), so while it runs
 * the probe also looks this often, and writes a snapshot only if it
 * differs from the last. */
#define LOOK_MS 500

void probe_view_free(struct probe_view *v)
{
    if (!v)
        return;
    free(v->doms);
    free(v->rings);
    free(v);
}

void probe_words(struct jbuf *b, const char *name, const void *w, unsigned int bits,
                 unsigned int n)
{
    jbuf_printf(b, "\"%s\":[", name);
    bool first = true;
    for (unsigned int i = 0; i < n; i++) {
        uint64_t v = bits == 32 ? ((const uint32_t *)w)[i] : ((const uint64_t *)w)[i];
        if (!v)
            continue;
        jbuf_printf(b, "%s[%u,\"%0*" PRIx64 "\"]", first ? "" : ",", i, (int)bits / 4, v);
        first = false;
    }
    jbuf_printf(b, "]");
}

/* Where the 2-level ABI keeps its bits, in each layout of shared_info. */
struct l2_layout {
    unsigned int bits;
    size_t pending, mask, vcpu_info, vcpu_size, upcall_pending, upcall_mask, pending_sel;
};

static const struct l2_layout l2_32 = {
    32, offsetof(struct shared_info_x86_32, evtchn_pending),
    offsetof(struct shared_info_x86_32, evtchn_mask),
    offsetof(struct shared_info_x86_32, vcpu_info), sizeof(struct vcpu_info_x86_32),
    offsetof(struct vcpu_info_x86_32, evtchn_upcall_pending),
    offsetof(struct vcpu_info_x86_32, evtchn_upcall_mask),
    offsetof(struct vcpu_info_x86_32, evtchn_pending_sel),
};
static const struct l2_layout l2_64 = {
    64, offsetof(struct shared_info, evtchn_pending), offsetof(struct shared_info, evtchn_mask),
    offsetof(struct shared_info, vcpu_info), sizeof(struct vcpu_info),
    offsetof(struct vcpu_info, evtchn_upcall_pending),
    offsetof(struct vcpu_info, evtchn_upcall_mask),
    offsetof(struct vcpu_info, evtchn_pending_sel),
};

/* One domain's 2-level bitmaps and its vCPUs' selector and flags:
 * "D":{"bits":..,"pending":[[word,"hex"]..],"mask":[..],"vcpus":[..]}. */
static bool l2_read(struct xensim *sim, const struct probe_dom *d, const struct l2_layout *l,
                    struct jbuf *b)
{
    uint64_t pend[64], mask[64];
    size_t bytes = l->bits * l->bits / 8;
    xen_pfn_t si = d->shared_info_frame;
    if (xensim_domain_peek(sim, d->domid, si, (unsigned int)l->pending, pend, bytes) ||
        xensim_domain_peek(sim, d->domid, si, (unsigned int)l->mask, mask, bytes))
        return false;
    jbuf_printf(b, "\"%u\":{\"abi\":\"2l\",\"bits\":%u,", d->domid, l->bits);
    probe_words(b, "pending", pend, l->bits, l->bits);
    jbuf_printf(b, ",");
    probe_words(b, "mask", mask, l->bits, l->bits);
    jbuf_printf(b, ",\"vcpus\":[");
    for (unsigned int i = 0; i < d->nr_vcpus && i < XENSIM_MAX_VCPUS; i++) {
        size_t base = l->vcpu_info + i * l->vcpu_size;
        uint8_t up = 0, um = 0;
        uint64_t sel = 0;    /* little-endian: a 32-bit selector fills the low half */
        xensim_domain_peek(sim, d->domid, si, (unsigned int)(base + l->upcall_pending), &up, 1);
        xensim_domain_peek(sim, d->domid, si, (unsigned int)(base + l->upcall_mask), &um, 1);
        xensim_domain_peek(sim, d->domid, si, (unsigned int)(base + l->pending_sel), &sel,
                           l->bits / 8);
        jbuf_printf(b, "%s{\"sel\":\"%0*" PRIx64 "\",\"up\":%u,\"um\":%u}", i ? "," : "",
                    (int)l->bits / 4, sel, up, um);
    }
    jbuf_printf(b, "]}");
    return true;
}

static bool read_2l_32(struct xensim *sim, const struct probe_dom *d, struct jbuf *b)
{
    return l2_read(sim, d, &l2_32, b);
}

static bool read_2l_64(struct xensim *sim, const struct probe_dom *d, struct jbuf *b)
{
    return l2_read(sim, d, &l2_64, b);
}

/* How each event channel ABI's pending state is read from the guest's
 * pages; a domain that cannot be read is left out of the state notes, and
 * the page falls back to the snapshot's per-port pending and masked. */
typedef bool (*evtchn_reader)(struct xensim *sim, const struct probe_dom *d, struct jbuf *b);
static const evtchn_reader evtchn_readers[] = {
    [XENSIM_EVTCHN_2L_32] = read_2l_32,
    [XENSIM_EVTCHN_2L_64] = read_2l_64,
    [XENSIM_EVTCHN_FIFO] = probe_read_fifo,
};

static bool fast_evtchn(struct xensim *sim, const struct probe_dom *d, struct jbuf *b)
{
    unsigned int abi = (unsigned int)d->abi;
    if (abi >= sizeof(evtchn_readers) / sizeof(evtchn_readers[0]) || !evtchn_readers[abi])
        return false;
    return evtchn_readers[abi](sim, d, b);
}

void probe_fast_state(struct xensim *sim, const struct probe_view *v, struct jbuf *b)
{
    jbuf_printf(b, "\"evtchn\":{");
    bool first = true;
    for (int i = 0; v && i < v->ndoms; i++) {
        size_t mark = b->len;
        if (!first)
            jbuf_printf(b, ",");
        if (fast_evtchn(sim, &v->doms[i], b))
            first = false;
        else if (!b->broken)
            b->len = mark;    /* the domain went meanwhile: leave it out */
    }
    jbuf_printf(b, "},\"rings\":{");
    first = true;
    for (int i = 0; v && i < v->nrings; i++) {
        size_t before = b->len;
        rings_read(sim, &v->rings[i], b, !first);
        if (b->len != before)
            first = false;
    }
    jbuf_printf(b, "}");
    if (!b->broken && b->s)
        b->s[b->len] = '\0';
}

static void probe_mark(void)
{
    pthread_mutex_lock(&probe.lock);
    probe.dirty = true;
    pthread_cond_broadcast(&probe.cond);
    pthread_mutex_unlock(&probe.lock);
}

/* XenStore requests that change what a snapshot shows. */
static bool xs_changes(uint32_t type)
{
    switch (type) {
    case XS_WRITE: case XS_MKDIR: case XS_RM: case XS_SET_PERMS: case XS_TRANSACTION_END:
    case XS_WATCH: case XS_UNWATCH: case XS_INTRODUCE: case XS_RELEASE:
    case XS_RESET_WATCHES:
        return true;
    default:
        return false;
    }
}

static void probe_step(struct xensim *sim, const struct xensim_trace_event *ev)
{
    struct jbuf b = { 0 };
    jbuf_printf(&b, "{\"step\":%" PRIu64 ",", ev->seq);
    pthread_mutex_lock(&probe.lock);
    probe_fast_state(sim, probe.view, &b);
    pthread_mutex_unlock(&probe.lock);
    jbuf_printf(&b, "}");
    const char *text = jbuf_text(&b);
    if (text)
        xensim_trace_note(sim, ev->domid, "state", text);
    jbuf_free(&b);
}

static void probe_event(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    (void)arg;
    switch (ev->kind) {
    case XENSIM_TRACE_NARRATE:
        probe_step(sim, ev);
        probe_mark();       /* a guest may have written a grant entry */
        break;
    case XENSIM_TRACE_HYPERCALL_EXIT:
        if (ev->subop != EVTCHNOP_send || ev->hypercall != __HYPERVISOR_event_channel_op)
            probe_mark();
        break;
    case XENSIM_TRACE_MAP:
    case XENSIM_TRACE_UNMAP:
        probe_mark();
        break;
    case XENSIM_TRACE_XENSTORE_MSG:
        if (ev->u.xenstore.reply && xs_changes(ev->u.xenstore.type))
            probe_mark();
        break;
    default:
        break;
    }
}

static void probe_domain_changed(struct xensim *sim, domid_t domid, void *arg)
{
    (void)sim, (void)domid, (void)arg;
    probe_mark();
}

static const struct xensim_domain_listener probe_listener = {
    .built = probe_domain_changed, .destroying = probe_domain_changed,
};

static void *probe_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&probe.lock);
    while (!probe.stop) {
        if (!probe.dirty) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += LOOK_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&probe.cond, &probe.lock, &until) != ETIMEDOUT)
                continue;
        }
        bool asked = probe.dirty;
        probe.dirty = false;
        uint64_t gen = probe.requested;
        pthread_mutex_unlock(&probe.lock);

        struct jbuf b = { 0 };
        struct probe_view *v = calloc(1, sizeof(*v));
        if (v && snapshot_build(probe.sim, &b, v) == 0) {
            pthread_mutex_lock(&probe.lock);
            struct probe_view *old = probe.view;
            probe.view = v;
            pthread_mutex_unlock(&probe.lock);
            probe_view_free(old);
            const char *body = jbuf_text(&b);
            bool same = body && probe.last && !strcmp(body, probe.last);
            if (body && !same) {
                free(probe.last);
                probe.last = strdup(body);
            }
            /* Only this thread frees views, so v stays ours to read. */
            jbuf_printf(&b, ",");
            probe_fast_state(probe.sim, v, &b);
            jbuf_printf(&b, "}");
            const char *text = jbuf_text(&b);
            if (text && (asked || !same))
                xensim_trace_note(probe.sim, 0, "snapshot", text);
        } else {
            probe_view_free(v);
        }
        jbuf_free(&b);

        pthread_mutex_lock(&probe.lock);
        probe.done = gen;
        pthread_cond_broadcast(&probe.cond);
        pthread_mutex_unlock(&probe.lock);
        struct timespec pause = { 0, THROTTLE_MS * 1000000L };
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&probe.lock);
    }
    pthread_mutex_unlock(&probe.lock);
    return NULL;
}

int probe_get(struct xensim *sim)
{
    int rc = 0;
    pthread_mutex_lock(&users_lock);
    if (probe.users) {
        rc = probe.sim == sim ? 0 : -EBUSY;
        if (!rc)
            probe.users++;
        goto out;
    }
    probe.sim = sim;
    probe.stop = false;
    probe.dirty = true;
    probe.requested = probe.done = 0;
    rc = xensim_listener_add(sim, &probe_listener, NULL);
    if (rc)
        goto out;
    rc = xensim_trace_subscribe(sim, probe_event, NULL);
    if (rc) {
        xensim_listener_remove(sim, &probe_listener, NULL);
        goto out;
    }
    rc = -pthread_create(&probe.thread, NULL, probe_main, NULL);
    if (rc) {
        xensim_trace_unsubscribe(sim, probe_event, NULL);
        xensim_listener_remove(sim, &probe_listener, NULL);
        goto out;
    }
    pthread_mutex_lock(&probe.lock);
    probe.running = true;
    pthread_mutex_unlock(&probe.lock);
    probe.users = 1;
out:
    pthread_mutex_unlock(&users_lock);
    return rc;
}

void probe_put(void)
{
    pthread_mutex_lock(&users_lock);
    if (!probe.users || --probe.users) {
        pthread_mutex_unlock(&users_lock);
        return;
    }
    xensim_trace_unsubscribe(probe.sim, probe_event, NULL);
    xensim_listener_remove(probe.sim, &probe_listener, NULL);
    pthread_mutex_lock(&probe.lock);
    probe.stop = true;
    pthread_cond_broadcast(&probe.cond);
    pthread_mutex_unlock(&probe.lock);
    pthread_join(probe.thread, NULL);
    pthread_mutex_lock(&probe.lock);
    probe.running = false;
    probe_view_free(probe.view);
    probe.view = NULL;
    free(probe.last);
    probe.last = NULL;
    pthread_mutex_unlock(&probe.lock);
    probe.sim = NULL;
    pthread_mutex_unlock(&users_lock);
}

void probe_sync(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SYNC_WAIT_S;
    pthread_mutex_lock(&probe.lock);
    uint64_t want = ++probe.requested;
    probe.dirty = true;
    pthread_cond_broadcast(&probe.cond);
    while (probe.running && !probe.stop && probe.done < want)
        if (pthread_cond_timedwait(&probe.cond, &probe.lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&probe.lock);
}
