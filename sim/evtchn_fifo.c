/*
 * The FIFO event channel ABI, as Xen 4.17's event_fifo.c behaves: an
 * event word per port in pages the guest adds (EVTCHNOP_expand_array),
 * per-vCPU queues of 16 priorities whose heads and READY bitmap live in a
 * control block the guest gives each vCPU (EVTCHNOP_init_control), tails
 * in the hypervisor. Owns struct evtchn_fifo_domain and the FIFO fields
 * of struct evtchn; calls vcpu_mark_events_pending() and
 * vcpu_wake_pollers() (event.h).
 *
 * Locks: init_control, expand_array and destroy run under the domain's
 * event_lock. A queue's tail is changed only under its lock; linking an
 * event takes the lock of the queue it goes on and of the one it was
 * last on (lower address first), below any channel or domain lock.
 *
 * Guest memory is never trusted: words, heads and READY are read and
 * written with atomics, the only ports used as indexes are the event's
 * own and the tail the hypervisor set, and every loop is bounded (3
 * tries to lock the queues, 1 + 4 to link onto a tail), as in Xen.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "event.h"

#define WORDS_PER_PAGE (XEN_PAGE_SIZE / sizeof(event_word_t))
#define MAX_ARRAY_PAGES (EVTCHN_FIFO_NR_CHANNELS / WORDS_PER_PAGE)

#define BIT(b) ((event_word_t)1 << (b))
#define W_PENDING BIT(EVTCHN_FIFO_PENDING)
#define W_MASKED BIT(EVTCHN_FIFO_MASKED)
#define W_LINKED BIT(EVTCHN_FIFO_LINKED)
#define W_BUSY BIT(EVTCHN_FIFO_BUSY)

/* The queue an event was last linked on, in evtchn.fifo_lastq: 16 bits
 * hold it, vCPUs being fewer than 256 (XENSIM_MAX_VCPUS). */
_Static_assert(XENSIM_MAX_VCPUS <= 256, "fifo_lastq holds a vCPU in 8 bits");
#define LASTQ(vcpu, prio) ((uint16_t)(((uint32_t)(vcpu) << 8) | (prio)))
#define LASTQ_VCPU(l) ((l) >> 8)
#define LASTQ_PRIO(l) ((l) & 0xff)

/* A host consumer's own bits in evtchn.host_bits. */
#define HOST_PENDING 1u
#define HOST_MASKED 2u

struct fifo_queue {
    uint32_t *head;                     /* in the control block; set before it */
    evtchn_port_t tail;                 /* 0 = none; under lock */
    uint8_t priority;
    pthread_mutex_t lock;
};

struct fifo_vcpu {
    /* The guest's block (ready, head[]), NULL until its init_control. */
    struct evtchn_fifo_control_block *_Atomic control_block;
    struct fifo_queue queue[EVTCHN_FIFO_MAX_QUEUES];
};

/* Made at the domain's first init_control and kept until the domain is
 * freed: a reset back to 2-level empties it (active false) but a send
 * that raced the reset may still be looking at it. */
struct evtchn_fifo_domain {
    bool active;                        /* under event_lock */
    /* Pages 0..num_evtchns/1024 - 1; each set before num_evtchns grows. */
    event_word_t *_Atomic event_array[MAX_ARRAY_PAGES];
    _Atomic unsigned int num_evtchns;
    unsigned int nr_vcpus;
    struct fifo_vcpu vcpu[];
};

static struct evtchn_fifo_domain *fifo_of(const struct domain *d)
{
    return atomic_load(&d->evtchn_fifo);
}

/* The port's event word, NULL while its page has not been added. */
static event_word_t *word_from_port(const struct evtchn_fifo_domain *f, evtchn_port_t port)
{
    if (!f || port >= atomic_load_explicit(&f->num_evtchns, memory_order_acquire))
        return NULL;
    event_word_t *page = atomic_load(&f->event_array[port / WORDS_PER_PAGE]);
    return page + port % WORDS_PER_PAGE;
}

static bool word_test(const event_word_t *w, event_word_t bit)
{
    return __atomic_load_n(w, __ATOMIC_SEQ_CST) & bit;
}

static bool word_test_and_set(event_word_t *w, event_word_t bit)
{
    return __atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST) & bit;
}

static void word_clear(event_word_t *w, event_word_t bit)
{
    __atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST);
}

/* A page of the domain's RAM to map for the guest, or NULL: Xen's
 * map_guest_page gives -EINVAL for a frame it cannot take as a writable
 * page; for xensim that is any frame that is not guest RAM (shared_info
 * and grant frames included). */
static void *guest_page(struct domain *d, uint64_t gfn)
{
    return gfn < d->nr_pages ? d->mem + gfn * XEN_PAGE_SIZE : NULL;
}

static void lock_queues(struct fifo_queue *q, struct fifo_queue *old_q)
{
    if (q == old_q) {
        sim_mutex_lock(&q->lock);
    } else if (q < old_q) {
        sim_mutex_lock(&q->lock);
        sim_mutex_lock(&old_q->lock);
    } else {
        sim_mutex_lock(&old_q->lock);
        sim_mutex_lock(&q->lock);
    }
}

static void unlock_queues(struct fifo_queue *q, struct fifo_queue *old_q)
{
    if (q != old_q)
        sim_mutex_unlock(&old_q->lock);
    sim_mutex_unlock(&q->lock);
}

/* One attempt to point a linked tail at link: 0 if the tail is no longer
 * LINKED (the guest consumed it: the queue is empty), 1 if linked, and
 * -EAGAIN with *w reloaded if the word changed under us. Setting the
 * link also clears BUSY. */
static int try_set_link(event_word_t *word, event_word_t *w, evtchn_port_t link)
{
    if (!(*w & W_LINKED))
        return 0;
    event_word_t new = (*w & ~(W_BUSY | EVTCHN_FIFO_LINK_MASK)) | link;
    if (__atomic_compare_exchange_n(word, w, new, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return 1;
    return -EAGAIN;
}

/* Xen's evtchn_fifo_set_link: a guest may only mask, unmask, clear
 * PENDING or unlink a LINKED word, and BUSY stops a well-behaved one
 * from unmasking, so 4 more tries are enough; a hostile guest loses the
 * event (it stays LINKED with nothing pointing at it). */
static bool set_link(event_word_t *word, evtchn_port_t link)
{
    if (!word)
        return false;
    event_word_t w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    int r = try_set_link(word, &w, link);
    if (r >= 0)
        return r;
    word_test_and_set(word, W_BUSY);
    w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    for (unsigned int try = 0; try < 4; try++) {
        r = try_set_link(word, &w, link);
        if (r >= 0) {
            if (r == 0)
                word_clear(word, W_BUSY);
            return r;
        }
    }
    word_clear(word, W_BUSY);
    return true;
}

/*
 * Xen's evtchn_fifo_set_pending, step by step: no word yet keeps the
 * event for when its page comes; lock the event's new and old queues (3
 * tries, as binding it elsewhere or changing its priority races us); no
 * control block on v drops it; PENDING; if unmasked and not yet LINKED,
 * link it at q's tail (forgetting the old queue's tail if it was this
 * event), or make it the head of an empty queue; only a new head whose
 * READY bit was clear raises the upcall; pollers only if it became
 * pending.
 */
static void fifo_set_pending(struct vcpu *v, struct evtchn *chn)
{
    struct domain *d = v->d;
    struct evtchn_fifo_domain *f = fifo_of(d);
    evtchn_port_t port = chn->port;
    event_word_t *word = word_from_port(f, port);

    if (!word) {
        atomic_store(&chn->fifo_pending, true);
        return;
    }
    struct fifo_vcpu *fv = &f->vcpu[v->id];
    struct fifo_queue *q = NULL, *old_q = NULL;
    bool locked = false;
    for (unsigned int try = 0; try < 3 && !locked; try++) {
        uint32_t lastq = atomic_load(&chn->fifo_lastq);
        q = &fv->queue[atomic_load(&chn->priority)];
        old_q = &f->vcpu[LASTQ_VCPU(lastq)].queue[LASTQ_PRIO(lastq)];
        lock_queues(q, old_q);
        lastq = atomic_load(&chn->fifo_lastq);
        locked = q == &fv->queue[atomic_load(&chn->priority)] &&
                 old_q == &f->vcpu[LASTQ_VCPU(lastq)].queue[LASTQ_PRIO(lastq)];
        if (!locked)
            unlock_queues(q, old_q);
    }
    if (!locked) {
        if (!d->sim->quiet)
            fprintf(stderr, "xensim: dom%u port %u lost event (too many queue changes)\n",
                    d->domid, port);
        return;
    }
    struct evtchn_fifo_control_block *cb = atomic_load(&fv->control_block);
    bool linked = true, check_pollers = false;
    if (cb) {
        check_pollers = !word_test_and_set(word, W_PENDING);
        if (!word_test(word, W_MASKED) && !word_test_and_set(word, W_LINKED)) {
            if (old_q->tail == port)
                old_q->tail = 0;
            if (old_q != q) {
                atomic_store(&chn->fifo_lastq, LASTQ(v->id, q->priority));
                sim_mutex_unlock(&old_q->lock);
                old_q = q;
            }
            linked = q->tail && set_link(word_from_port(f, q->tail), port);
            if (!linked)
                __atomic_store_n(q->head, port, __ATOMIC_SEQ_CST);
            q->tail = port;
        }
    }
    unlock_queues(q, old_q);
    if (!linked && !(__atomic_fetch_or(&cb->ready, 1u << q->priority, __ATOMIC_SEQ_CST) &
                     (1u << q->priority)))
        vcpu_mark_events_pending(v, port);
    if (check_pollers)
        vcpu_wake_pollers(d, port);
}

static void fifo_init(struct domain *d, struct evtchn *chn)
{
    (void)d;
    atomic_store(&chn->priority, EVTCHN_FIFO_PRIORITY_DEFAULT);
}

/* PENDING only: the guest unlinks and skips a linked event that is no
 * longer pending, so Xen does not unlink it. */
static void fifo_clear_pending(struct domain *d, struct evtchn *chn)
{
    event_word_t *word = word_from_port(fifo_of(d), chn->port);
    if (word)
        word_clear(word, W_PENDING);
}

/* Unmask re-raises a pending event, linked or masked before or not. */
static void fifo_unmask(struct domain *d, struct evtchn *chn)
{
    event_word_t *word = word_from_port(fifo_of(d), chn->port);
    if (!word)
        return;
    word_clear(word, W_MASKED);
    if (word_test(word, W_PENDING))
        fifo_set_pending(d->vcpus[chn->notify_vcpu], chn);
}

static bool fifo_is_pending(const struct domain *d, const struct evtchn *chn)
{
    const event_word_t *word = word_from_port(fifo_of(d), chn->port);
    return word && word_test(word, W_PENDING);
}

static bool fifo_is_masked(const struct domain *d, const struct evtchn *chn)
{
    const event_word_t *word = word_from_port(fifo_of(d), chn->port);
    return !word || word_test(word, W_MASKED);
}

/* A closed port still on a queue is not handed out again until the
 * guest unlinks it. */
static bool fifo_is_busy(const struct domain *d, const struct evtchn *chn)
{
    const event_word_t *word = word_from_port(fifo_of(d), chn->port);
    return word && word_test(word, W_LINKED);
}

/* Future links only: an event already LINKED stays on its old queue. */
static int fifo_set_priority(struct domain *d, struct evtchn *chn, unsigned int priority)
{
    (void)d;
    if (priority > EVTCHN_FIFO_PRIORITY_MIN)
        return -EINVAL;
    atomic_store(&chn->priority, (uint8_t)priority);
    return 0;
}

static bool host_test_and_set_pending(struct domain *d, struct evtchn *chn)
{
    (void)d;
    return atomic_fetch_or(&chn->host_bits, HOST_PENDING) & HOST_PENDING;
}

static void host_clear_pending(struct domain *d, struct evtchn *chn)
{
    (void)d;
    atomic_fetch_and(&chn->host_bits, (uint8_t)~HOST_PENDING);
}

static bool host_is_pending(struct domain *d, struct evtchn *chn)
{
    (void)d;
    return atomic_load(&chn->host_bits) & HOST_PENDING;
}

static void host_mask(struct domain *d, struct evtchn *chn)
{
    (void)d;
    atomic_fetch_or(&chn->host_bits, HOST_MASKED);
}

static bool host_test_and_clear_mask(struct domain *d, struct evtchn *chn)
{
    (void)d;
    return atomic_fetch_and(&chn->host_bits, (uint8_t)~HOST_MASKED) & HOST_MASKED;
}

static bool host_is_masked(struct domain *d, struct evtchn *chn)
{
    (void)d;
    return atomic_load(&chn->host_bits) & HOST_MASKED;
}

static const struct evtchn_host_bits fifo_host = {
    .test_and_set_pending = host_test_and_set_pending,
    .clear_pending = host_clear_pending,
    .is_pending = host_is_pending,
    .mask = host_mask,
    .test_and_clear_mask = host_test_and_clear_mask,
    .is_masked = host_is_masked,
};

/* Called from a send's trace point, under the RCU read side only: the
 * channel's priority is an atomic. */
static void fifo_describe(const struct domain *d, evtchn_port_t port, char *buf, size_t len)
{
    unsigned int prio = evtchn_port_valid(d, port)
                            ? atomic_load(&evtchn_from_port(d, port)->priority)
                            : EVTCHN_FIFO_PRIORITY_DEFAULT;
    snprintf(buf, len, "PENDING in its event word, for the queue of priority %u", prio);
}

const struct evtchn_port_ops evtchn_fifo_ops = {
    .name = "FIFO",
    .abi = XENSIM_EVTCHN_FIFO,
    .nr_ports = EVTCHN_FIFO_NR_CHANNELS,
    .init = fifo_init,
    .set_pending = fifo_set_pending,
    .clear_pending = fifo_clear_pending,
    .unmask = fifo_unmask,
    .is_pending = fifo_is_pending,
    .is_masked = fifo_is_masked,
    .is_busy = fifo_is_busy,
    .set_priority = fifo_set_priority,
    .host = &fifo_host,
    .describe_pending = fifo_describe,
    .raise_sets = "READY bit set",
};

static struct evtchn_fifo_domain *fifo_alloc(struct domain *d)
{
    struct evtchn_fifo_domain *f =
        calloc(1, sizeof(*f) + d->nr_vcpus * sizeof(struct fifo_vcpu));
    if (!f)
        return NULL;
    f->nr_vcpus = d->nr_vcpus;
    for (unsigned int v = 0; v < d->nr_vcpus; v++)
        for (unsigned int p = 0; p < EVTCHN_FIFO_MAX_QUEUES; p++) {
            XENSIM_CHECK(pthread_mutex_init(&f->vcpu[v].queue[p].lock, NULL));
            f->vcpu[v].queue[p].priority = (uint8_t)p;
        }
    return f;
}

/* Back to "no control block, no array page" (Xen's evtchn_fifo_destroy
 * frees them; here they are kept, empty). */
static void fifo_empty(struct evtchn_fifo_domain *f)
{
    for (unsigned int v = 0; v < f->nr_vcpus; v++) {
        atomic_store(&f->vcpu[v].control_block, NULL);
        for (unsigned int p = 0; p < EVTCHN_FIFO_MAX_QUEUES; p++) {
            struct fifo_queue *q = &f->vcpu[v].queue[p];
            sim_mutex_lock(&q->lock);
            q->tail = 0;
            q->head = NULL;
            sim_mutex_unlock(&q->lock);
        }
    }
    atomic_store_explicit(&f->num_evtchns, 0, memory_order_release);
    for (unsigned int i = 0; i < MAX_ARRAY_PAGES; i++)
        atomic_store(&f->event_array[i], NULL);
}

/* Xen's map_control_block: one block per vCPU, heads set before the
 * block is published. */
static long map_control_block(struct domain *d, struct evtchn_fifo_domain *f,
                              unsigned int vcpu, uint64_t gfn, uint32_t offset)
{
    struct fifo_vcpu *fv = &f->vcpu[vcpu];
    if (atomic_load(&fv->control_block))
        return -EINVAL;
    uint8_t *page = guest_page(d, gfn);
    if (!page)
        return -EINVAL;
    struct evtchn_fifo_control_block *cb = (void *)(page + offset);
    for (unsigned int p = 0; p < EVTCHN_FIFO_MAX_QUEUES; p++)
        fv->queue[p].head = &cb->head[p];
    atomic_store(&fv->control_block, cb);
    return 0;
}

/* Xen's setup_ports: each port of the old ABI keeps its pending state
 * (raised when its event array page is added) and gets the default
 * priority. A host consumer's port keeps its own bits instead. */
static void setup_ports(struct domain *d, const struct evtchn_port_ops *prev)
{
    for (evtchn_port_t port = 1; port < prev->nr_ports && evtchn_port_valid(d, port); port++) {
        struct evtchn *chn = evtchn_from_port(d, port);
        if (chn->dev) {
            uint8_t bits = (prev->host->is_pending(d, chn) ? HOST_PENDING : 0) |
                           (prev->host->is_masked(d, chn) ? HOST_MASKED : 0);
            atomic_store(&chn->host_bits, bits);
        } else if (prev->is_pending(d, chn)) {
            atomic_store(&chn->fifo_pending, true);
        }
        atomic_store(&chn->priority, EVTCHN_FIFO_PRIORITY_DEFAULT);
    }
}

/*
 * EVTCHNOP_init_control in Xen's order: link_bits (seen by the guest only
 * on success), the vCPU (-ENOENT), the offset within the page and its
 * alignment (-EINVAL); then the first call of a domain makes the queues
 * of every vCPU and an empty event array, maps this vCPU's block, and
 * only if that worked switches the domain to FIFO. A vCPU that already
 * has a block gets -EINVAL (there is no -EEXIST).
 */
long evtchn_fifo_init_control(struct domain *d, struct evtchn_init_control *op)
{
    op->link_bits = EVTCHN_FIFO_LINK_BITS;
    if (op->vcpu >= d->nr_vcpus)
        return -ENOENT;
    if (op->offset > XEN_PAGE_SIZE - sizeof(struct evtchn_fifo_control_block))
        return -EINVAL;
    if (op->offset & 7)
        return -EINVAL;

    struct evtchn_fifo_domain *f = fifo_of(d);
    if (f && f->active)
        return map_control_block(d, f, op->vcpu, op->control_gfn, op->offset);

    const struct evtchn_port_ops *prev = d->evtchn_ops;
    if (!f) {
        f = fifo_alloc(d);
        if (!f)
            return -ENOMEM;
        atomic_store(&d->evtchn_fifo, f);
    }
    fifo_empty(f);
    long rc = map_control_block(d, f, op->vcpu, op->control_gfn, op->offset);
    if (rc) {
        fifo_empty(f);
        return rc;
    }
    f->active = true;
    atomic_store(&d->evtchn_ops, &evtchn_fifo_ops);
    setup_ports(d, prev);
    return 0;
}

/*
 * EVTCHNOP_expand_array: one page per call, appended (-ENOSPC past 128),
 * -EOPNOTSUPP before init_control, -EINVAL for a frame that cannot be
 * mapped. The words are the guest's (Linux masks them all first). Events
 * raised while their page was missing are raised now.
 */
long evtchn_fifo_expand_array(struct domain *d, const struct evtchn_expand_array *op)
{
    struct evtchn_fifo_domain *f = fifo_of(d);
    if (!f || !f->active)
        return -EOPNOTSUPP;
    unsigned int first = atomic_load(&f->num_evtchns);
    unsigned int slot = first / WORDS_PER_PAGE;
    if (slot >= MAX_ARRAY_PAGES)
        return -ENOSPC;
    event_word_t *page = guest_page(d, op->array_gfn);
    if (!page)
        return -EINVAL;
    atomic_store(&f->event_array[slot], page);
    atomic_store_explicit(&f->num_evtchns, first + WORDS_PER_PAGE, memory_order_release);
    for (evtchn_port_t port = first; port < first + WORDS_PER_PAGE && evtchn_port_valid(d, port);
         port++) {
        struct evtchn *chn = evtchn_from_port(d, port);
        if (atomic_load(&chn->fifo_pending))
            fifo_set_pending(d->vcpus[chn->notify_vcpu], chn);
    }
    return 0;
}

/* Reset's switch back to 2-level, under event_lock. */
void evtchn_fifo_destroy(struct domain *d)
{
    struct evtchn_fifo_domain *f = fifo_of(d);
    if (!f || !f->active)
        return;
    f->active = false;
    atomic_store(&d->evtchn_ops, d->evtchn_2l_ops);
    fifo_empty(f);
}

static bool page_seen(uint8_t *const *pages, unsigned int n, const uint8_t *page)
{
    for (unsigned int i = 0; i < n; i++)
        if (pages[i] == page)
            return true;
    return false;
}

/* Pages a guest put in more than one place (two vCPUs' blocks on one
 * page, one frame added twice) count once: they are one page of its
 * RAM. Under event_lock, so a concurrent init or expand is not half seen. */
unsigned int evtchn_fifo_pages_held(struct domain *d)
{
    struct evtchn_fifo_domain *f = fifo_of(d);
    if (!f)
        return 0;
    uint8_t **pages = calloc(MAX_ARRAY_PAGES + f->nr_vcpus, sizeof(*pages));
    if (!pages)
        return 0;
    unsigned int n = 0;
    sim_mutex_lock(&d->event_lock);
    for (unsigned int v = 0; v < f->nr_vcpus; v++) {
        struct evtchn_fifo_control_block *cb = atomic_load(&f->vcpu[v].control_block);
        if (!cb)
            continue;
        uint8_t *page = d->mem + ((uint8_t *)cb - d->mem) / XEN_PAGE_SIZE * XEN_PAGE_SIZE;
        if (!page_seen(pages, n, page))
            pages[n++] = page;
    }
    unsigned int nr_array = atomic_load(&f->num_evtchns) / WORDS_PER_PAGE;
    for (unsigned int i = 0; i < nr_array; i++) {
        uint8_t *page = (uint8_t *)atomic_load(&f->event_array[i]);
        if (page && !page_seen(pages, n, page))
            pages[n++] = page;
    }
    sim_mutex_unlock(&d->event_lock);
    free(pages);
    return n;
}

/* Under event_lock, for the same reason. Frames, not pointers: a
 * reader peeks the guest's pages without Xen's locks. */
int evtchn_fifo_layout(struct domain *d, struct xensim_evtchn_fifo_layout *out)
{
    struct evtchn_fifo_domain *f = fifo_of(d);
    int rc = -ENOENT;

    memset(out, 0, sizeof(*out));
    sim_mutex_lock(&d->event_lock);
    if (f && f->active) {
        out->nr_vcpus = f->nr_vcpus < XENSIM_MAX_VCPUS ? f->nr_vcpus : XENSIM_MAX_VCPUS;
        for (unsigned int v = 0; v < out->nr_vcpus; v++) {
            const uint8_t *cb = (const uint8_t *)atomic_load(&f->vcpu[v].control_block);
            if (!cb)
                continue;
            size_t at = (size_t)(cb - d->mem);
            out->control[v].mapped = true;
            out->control[v].frame = at / XEN_PAGE_SIZE;
            out->control[v].offset = (unsigned int)(at % XEN_PAGE_SIZE);
        }
        out->nr_array_pages = atomic_load(&f->num_evtchns) / WORDS_PER_PAGE;
        for (unsigned int i = 0; i < out->nr_array_pages; i++)
            out->array_frame[i] =
                (xen_pfn_t)((const uint8_t *)atomic_load(&f->event_array[i]) - d->mem) /
                XEN_PAGE_SIZE;
        rc = 0;
    }
    sim_mutex_unlock(&d->event_lock);
    return rc;
}

void evtchn_fifo_free(struct domain *d)
{
    struct evtchn_fifo_domain *f = fifo_of(d);
    if (!f)
        return;
    for (unsigned int v = 0; v < f->nr_vcpus; v++)
        for (unsigned int p = 0; p < EVTCHN_FIFO_MAX_QUEUES; p++)
            pthread_mutex_destroy(&f->vcpu[v].queue[p].lock);
    free(f);
    atomic_store(&d->evtchn_fifo, NULL);
}
