/*
 * The guest kernel's side of FIFO events, the protocol Linux's
 * events_fifo.c follows: at boot a control block per vCPU
 * (EVTCHNOP_init_control) and event array pages as ports need them
 * (EVTCHNOP_expand_array, every word MASKED first); the upcall takes the
 * READY bitmap and consumes one event at a time from the highest ready
 * priority, unlinking it before its handler runs. Owns struct
 * guest_fifo. Relies on guest.h only.
 *
 * The hypervisor writes heads, links and READY; everything read from the
 * control block or a word is checked before it is used as a port, so a
 * garbled queue ends a scan early instead of leaving the array.
 */
#include <errno.h>
#include <stdlib.h>
#include "evtchn.h"
#include "util.h"

#define WORDS_PER_PAGE (XEN_PAGE_SIZE / sizeof(event_word_t))
#define MAX_PAGES (EVTCHN_FIFO_NR_CHANNELS / WORDS_PER_PAGE)

#define BIT(b) ((event_word_t)1 << (b))
#define W_PENDING BIT(EVTCHN_FIFO_PENDING)
#define W_MASKED BIT(EVTCHN_FIFO_MASKED)
#define W_LINKED BIT(EVTCHN_FIFO_LINKED)
/* The READY bits there are queues for; others are the guest's garbage. */
#define READY_QUEUES ((1u << EVTCHN_FIFO_MAX_QUEUES) - 1)

struct guest_fifo_vcpu {
    struct evtchn_fifo_control_block *cb;   /* NULL if its init_control failed */
    /* The consumer's own head of each queue: where it stopped, 0 = read
     * the control block's. This vCPU's upcall only. */
    evtchn_port_t head[EVTCHN_FIFO_MAX_QUEUES];
};

struct guest_fifo {
    /* Array pages added so far; a page is set before nr_pages counts it. */
    event_word_t *_Atomic pages[MAX_PAGES];
    _Atomic unsigned int nr_pages;
    unsigned int nr_vcpus;
    struct guest_fifo_vcpu vcpu[];
};

static event_word_t *fifo_word(const struct guest_fifo *f, evtchn_port_t port)
{
    unsigned int page = port / WORDS_PER_PAGE;

    if (port >= EVTCHN_FIFO_NR_CHANNELS ||
        page >= atomic_load_explicit(&f->nr_pages, memory_order_acquire))
        return NULL;
    return atomic_load(&f->pages[page]) + port % WORDS_PER_PAGE;
}

/* One more array page, every word masked, as Linux's init_array_page:
 * a port nobody has unmasked must not be linked. ge->lock held. */
static int add_page(struct guest_fifo *f)
{
    unsigned int n = atomic_load(&f->nr_pages);
    if (n >= MAX_PAGES)
        return -ENOSPC;
    xen_pfn_t pfn;
    if (xensim_guest_page_alloc(&pfn))
        return -ENOMEM;
    event_word_t *words = xensim_guest_pfn_to_virt(pfn);
    for (unsigned int i = 0; i < WORDS_PER_PAGE; i++)
        __atomic_store_n(&words[i], W_MASKED, __ATOMIC_RELAXED);
    struct evtchn_expand_array op = { .array_gfn = pfn };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_expand_array, &op);
    if (rc) {
        xensim_guest_page_free(pfn);
        return (int)rc;
    }
    atomic_store(&f->pages[n], words);
    atomic_store_explicit(&f->nr_pages, n + 1, memory_order_release);
    return 0;
}

int guest_fifo_boot(struct guest_evtchn *ge)
{
    unsigned int nr = xensim_guest_nr_vcpus();
    struct guest_fifo *f = calloc(1, sizeof(*f) + nr * sizeof(f->vcpu[0]));
    if (!f)
        return -ENOMEM;
    f->nr_vcpus = nr;
    /* Held by ge from the start (the caller holds ge's lock and picks the
     * ops after): a domain destroyed during a hypercall below leaves at
     * its exit, and ge's destroy frees f then. */
    ge->fifo = f;
    for (unsigned int v = 0; v < nr; v++) {
        xen_pfn_t pfn;
        long rc = xensim_guest_page_alloc(&pfn);
        if (!rc) {
            struct evtchn_init_control op = { .control_gfn = pfn, .offset = 0, .vcpu = v };
            rc = HYPERVISOR_event_channel_op(EVTCHNOP_init_control, &op);
            if (rc)
                xensim_guest_page_free(pfn);
        }
        /* vCPU 0's call is the switch: if it fails (a Xen without FIFO
         * says -ENOSYS) the kernel stays 2-level. A later vCPU without a
         * block only loses its own events, as Xen drops them. */
        if (rc && v == 0) {
            ge->fifo = NULL;
            free(f);
            return (int)rc;
        }
        if (!rc)
            f->vcpu[v].cb = xensim_guest_pfn_to_virt(pfn);
    }
    /* Ports 0..1023 at once: the builder's store and console ports are
     * there, and whatever was pending before the switch is raised now. */
    add_page(f);
    return 0;
}

void guest_fifo_free(struct guest_fifo *f)
{
    free(f);
}

static unsigned int fifo_nr_ports(const struct guest_evtchn *ge)
{
    (void)ge;
    return EVTCHN_FIFO_NR_CHANNELS;
}

/* Adds pages until the port has its word, as Linux does before it binds
 * a port past the array. */
static int fifo_setup(struct guest_evtchn *ge, evtchn_port_t port)
{
    struct guest_fifo *f = ge->fifo;

    if (port >= EVTCHN_FIFO_NR_CHANNELS)
        return -EINVAL;
    if (fifo_word(f, port))
        return 0;
    int rc = 0;
    bool was = xensim_irqlock_lock(&ge->lock);
    while (!rc && !fifo_word(f, port))
        rc = add_page(f);
    xensim_irqlock_unlock(&ge->lock, was);
    return rc;
}

static void fifo_mask(struct guest_evtchn *ge, evtchn_port_t port)
{
    event_word_t *w = fifo_word(ge->fifo, port);
    if (w)
        __atomic_fetch_or(w, W_MASKED, __ATOMIC_SEQ_CST);
}

static void fifo_clear_pending(struct guest_evtchn *ge, evtchn_port_t port)
{
    event_word_t *w = fifo_word(ge->fifo, port);
    if (w)
        __atomic_fetch_and(w, ~W_PENDING, __ATOMIC_SEQ_CST);
}

static bool fifo_is_pending(struct guest_evtchn *ge, evtchn_port_t port)
{
    event_word_t *w = fifo_word(ge->fifo, port);
    return w && (__atomic_load_n(w, __ATOMIC_SEQ_CST) & W_PENDING);
}

/* A port without a word cannot be raised: masked, as Xen answers. */
static bool fifo_is_masked(struct guest_evtchn *ge, evtchn_port_t port)
{
    event_word_t *w = fifo_word(ge->fifo, port);
    return !w || (__atomic_load_n(w, __ATOMIC_SEQ_CST) & W_MASKED);
}

/* Clears LINKED and LINK in one step and returns the old word: the next
 * event is its LINK. Cleared before the handler runs, so that a send
 * meanwhile links the event again rather than being lost. */
static event_word_t unlink_word(event_word_t *w)
{
    event_word_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
    while (!__atomic_compare_exchange_n(w, &old, old & ~(W_LINKED | EVTCHN_FIFO_LINK_MASK),
                                        false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
    return old;
}

/* Consumes the event at the head of queue p; clears p from *ready when
 * the queue is empty after it. */
static void consume_one(struct guest_fifo *f, struct guest_fifo_vcpu *fv, unsigned int p,
                        uint32_t *ready, guest_evtchn_handler_t handler, void *arg,
                        unsigned int *handled)
{
    evtchn_port_t port = fv->head[p];
    if (!port)
        port = __atomic_load_n(&fv->cb->head[p], __ATOMIC_ACQUIRE);
    event_word_t *w = port ? fifo_word(f, port) : NULL;
    if (!w) {
        /* READY with no usable head (a guest that wrote its own block):
         * nothing to consume on this queue. */
        *ready &= ~(1u << p);
        fv->head[p] = 0;
        return;
    }
    evtchn_port_t next = unlink_word(w) & EVTCHN_FIFO_LINK_MASK;
    if (!next)
        *ready &= ~(1u << p);
    event_word_t now = __atomic_load_n(w, __ATOMIC_SEQ_CST);
    if ((now & W_PENDING) && !(now & W_MASKED)) {
        handler(port, arg);
        (*handled)++;
    }
    fv->head[p] = next;
}

/* The upcall's loop: take READY whole, then one event at a time from the
 * lowest set bit (the highest priority), taking READY again after each,
 * so that a newly ready higher priority goes first. */
static unsigned int fifo_scan(struct guest_evtchn *ge, guest_evtchn_handler_t handler, void *arg)
{
    struct guest_fifo *f = ge->fifo;
    uint8_t *upcall = guest_upcall_pending();
    unsigned int vcpu = xensim_guest_vcpu_id(), handled = 0;

    if (!upcall)
        return 0;
    if (vcpu >= f->nr_vcpus || !f->vcpu[vcpu].cb) {
        __atomic_store_n(upcall, 0, __ATOMIC_SEQ_CST);
        return 0;
    }
    struct guest_fifo_vcpu *fv = &f->vcpu[vcpu];
    do {
        __atomic_store_n(upcall, 0, __ATOMIC_SEQ_CST);
        uint32_t ready = __atomic_exchange_n(&fv->cb->ready, 0, __ATOMIC_SEQ_CST) & READY_QUEUES;
        while (ready) {
            unsigned int p = (unsigned int)__builtin_ctz(ready);
            consume_one(f, fv, p, &ready, handler, arg, &handled);
            ready |= __atomic_exchange_n(&fv->cb->ready, 0, __ATOMIC_SEQ_CST) & READY_QUEUES;
        }
    } while (__atomic_load_n(upcall, __ATOMIC_SEQ_CST));
    return handled;
}

/* This ABI's upcall: the scan, each event to its handler (irq.c). */
static void fifo_upcall(void)
{
    struct guest_upcall u;

    if (guest_upcall_enter(&u)) {
        fifo_scan(u.ge, guest_irq_dispatch, &u);
        guest_upcall_leave();
    }
}

const struct guest_evtchn_ops guest_evtchn_fifo_ops = {
    .name = "FIFO",
    .nr_ports = fifo_nr_ports,
    .setup = fifo_setup,
    .mask = fifo_mask,
    .clear_pending = fifo_clear_pending,
    .is_pending = fifo_is_pending,
    .is_masked = fifo_is_masked,
    .scan = fifo_scan,
    .upcall = fifo_upcall,
};
