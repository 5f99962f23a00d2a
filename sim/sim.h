/*
 * Internal model of the fake hypervisor: the simulator, its domains and
 * their vCPUs. Every sim/ module includes this; nothing here is installed.
 *
 * Lifetimes: domains are published in sim->domains[] with rcu_assign_pointer
 * and looked up under rcu_read_lock (urcu-memb); a destroyed domain stays in
 * the table, dying, while other domains still map its pages, and is freed
 * after a grace period once the last foreign mapping goes.
 *
 * Lock order (outermost first):
 *   sim->lock (domain table writers)
 *   d->event_lock of the lower domid, then of the higher
 *   chn->lock of the channel at the lower address, then the higher
 *   grant table locks (gnttab.c)
 *   v->call_lock, sim->timer_lock (leaves)
 */
#ifndef XENSIM_SIM_H
#define XENSIM_SIM_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#ifndef RCU_MEMB
#define RCU_MEMB
#endif
#include <urcu.h>
#include <urcu/list.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/sched.h>
#include <xen/foreign/x86_32.h>

#include <xensim/xensim.h>
#include <xensim/guest.h>

#include "util.h"

struct domain;
struct vcpu;
struct grant_table;
struct xensim_evtchn_dev;


/* Scheduler interface: every block, wake and hypercall boundary goes
 * through one of these, so a deterministic scheduler can replace the
 * free-running one without touching event channel or grant code. */
struct sched_ops {
    const char *name;
    void (*hypercall_enter)(struct vcpu *v);
    void (*hypercall_exit)(struct vcpu *v);
    /* Blocks until wake(v) is true or deadline (absolute sim ns, 0 = none)
     * passes. Returns true if woken by the condition. */
    bool (*block)(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline);
    /* Makes a blocked vCPU re-check its condition; costs no system call
     * when the vCPU is running. */
    void (*kick)(struct vcpu *v);
    void (*yield)(struct vcpu *v);
};
extern const struct sched_ops sched_free_running;

/* Event channel port ABI (2-level with 32- or 64-bit words; FIFO later). */
struct evtchn_port_ops {
    unsigned int word_bits;
    unsigned int nr_ports;          /* word_bits * word_bits */
    /* Xen's order: test-and-set pending, mask, selector, upcall, kick. */
    void (*set_pending)(struct vcpu *v, evtchn_port_t port);
    void (*clear_pending)(struct domain *d, evtchn_port_t port);
    /* Clears mask; re-raises on v if it was masked and is pending. */
    void (*unmask)(struct domain *d, struct vcpu *v, evtchn_port_t port);
    bool (*is_pending)(const struct domain *d, evtchn_port_t port);
    bool (*is_masked)(const struct domain *d, evtchn_port_t port);
    void (*set_mask)(struct domain *d, evtchn_port_t port);
    /* For a host consumer (hostdev_evtchn.c), which does its own routing. */
    bool (*test_and_set_pending)(struct domain *d, evtchn_port_t port);
    bool (*test_and_clear_mask)(struct domain *d, evtchn_port_t port);
    /* For the guest's upcall loop: take this vCPU's selector (xchg 0),
     * and read word i of pending & ~mask. */
    uint64_t (*take_selector)(struct vcpu *v);
    uint64_t (*pending_unmasked_word)(const struct domain *d, unsigned int i);
};
extern const struct evtchn_port_ops evtchn_2l_32_ops, evtchn_2l_64_ops;

/* Internal port states, Xen's ECS_* (values as in xen/sched.h). */
enum evtchn_state {
    ECS_FREE = 0, ECS_RESERVED, ECS_UNBOUND, ECS_INTERDOMAIN, ECS_PIRQ,
    ECS_VIRQ, ECS_IPI,
};

/* One port. state/u change only with chn->lock and the domain's
 * event_lock held; send reads them under chn->lock alone. */
struct evtchn {
    pthread_mutex_t lock;
    _Atomic uint8_t state;
    uint16_t notify_vcpu;
    union {
        domid_t unbound_remote;
        struct { domid_t dom; evtchn_port_t port; } interdomain;
        uint32_t virq;
        uint32_t ipi_vcpu;
    } u;
    /* Non-NULL when a host "process" (hostdev.h) consumes this port. */
    struct xensim_evtchn_dev *dev;
};

enum vcpu_run_state { VCPU_RUNNING = 0, VCPU_BLOCKED };

/* A queued xensim_domain_call(). */
struct vcpu_call {
    void (*fn)(void *);
    void *arg;
    uint32_t done;                      /* futex word, set last */
    int result;                         /* 0, or -ESHUTDOWN if the vCPU left */
    struct vcpu_call *next;
};

struct vcpu {
    struct domain *d;
    unsigned int id;
    pthread_t thread;
    bool thread_started;
    /* Guest-visible, written by guest and hypervisor: in shared_info. */
    void *vcpu_info;
    volatile uint8_t *upcall_pending;   /* &vcpu_info->evtchn_upcall_pending */
    volatile uint8_t *upcall_mask;      /* &vcpu_info->evtchn_upcall_mask */
    void *pending_sel;                  /* xen_ulong_t of word_bits */

    _Atomic int run_state;              /* enum vcpu_run_state */
    uint32_t wake_seq;                  /* futex word, atomics only */
    xensim_upcall_t callback;
    bool in_upcall;
    /* While traced: seq of the last send to this vCPU since its last
     * upcall, for the upcall's event (trace.c). */
    _Atomic uint64_t trace_cause;
    bool down;                          /* entry returned or domain stopped */

    /* Per-vCPU VIRQ table (global VIRQs use vCPU 0's), 0 = unbound. */
    evtchn_port_t virq_to_evtchn[NR_VIRQS];

    /* Timers: deadline in sim ns, 0 = off; protected by sim->timer_lock. */
    uint64_t timer_deadline;
    struct vcpu *timer_next;
    /* SCHEDOP_poll: ports being polled while blocked. */
    const evtchn_port_t *poll_ports;
    unsigned int poll_nr;
    _Atomic bool poll_woken;

    pthread_mutex_t call_lock;
    struct vcpu_call *calls;            /* queued, under call_lock */
    struct vcpu_call *running;          /* taken by the vCPU, not yet done */
    _Atomic bool call_pending;
    bool in_call;
    unsigned int calls_held;            /* xensim_guest_calls_hold() depth */

    sigjmp_buf exit_jmp;                /* leaves guest code on shutdown/crash */
};

struct domain {
    struct xensim *sim;
    domid_t domid;
    char name[64];
    bool privileged;
    _Atomic int state;                  /* enum xensim_domain_state */
    _Atomic bool is_dying;              /* destroyed: no new ports, no new maps */
    _Atomic bool is_shutting_down;      /* vCPUs leave at their next boundary */
    unsigned int shutdown_reason;
    _Atomic bool paused;

    unsigned int nr_vcpus;
    struct vcpu *vcpus[XENSIM_MAX_VCPUS];
    xensim_vcpu_entry_t entry;
    void *entry_arg;
    _Atomic unsigned int vcpus_up;

    /* Memory: one memfd, mapped once at mem. pfn layout:
     *   [0, nr_pages)                      guest RAM
     *   nr_pages                           shared_info (Xen's page)
     *   nr_pages + 1 + i, i < max_grant_frames   grant table frame i */
    int memfd;
    uint8_t *mem;
    unsigned long nr_pages;
    unsigned long nr_frames;            /* all pages of the memfd */
    pthread_mutex_t page_lock;
    uint64_t *page_used;                /* bitmap over guest RAM */
    unsigned long pages_in_use;         /* bits set in page_used */
    unsigned long build_pages;          /* of those, the builder's */
    start_info_t *start_info;           /* in guest RAM (pfn 0; dom0's: 1) */

    /* Event channels. */
    void *shared_info;
    const struct evtchn_port_ops *evtchn_ops;
    unsigned int max_port;              /* highest usable port number */
    struct evtchn *chn;                 /* [evtchn_ops->nr_ports] */
    pthread_mutex_t event_lock;         /* allocation, bind, close */
    uint64_t *port_used;                /* bitmap, under event_lock */
    unsigned int ports_in_use;
    unsigned int valid_ports;           /* grows a bucket at a time */
    _Atomic bool evtchn_resetting;
    _Atomic unsigned int pollers;       /* vCPUs in SCHEDOP_poll */

    /* Grant tables (gnttab.c). */
    struct grant_table *gt;
    enum xensim_gnttab_mode gnttab_mode;
    unsigned int max_grant_frames;
    unsigned int max_maptrack_frames;
    /* Pins other domains hold on this domain's pages, plus one reference
     * of its own until destroy is done; the domain is freed at zero. */
    _Atomic unsigned int foreign_maps;

    /* The guest kernel's per-domain memory (platform.c): set once by the
     * guest, released after the vCPUs stop at destroy. */
    void *_Atomic guest_anchor;
    void (*guest_anchor_release)(void *data);

    /* Guest-side interrupt layer (guest_irq.c): a handler per port. */
    struct guest_irq *irq;              /* [evtchn_ops->nr_ports], lazily */

    /* Guest-side helper state (guest_gnttab.c). */
    pthread_mutex_t guest_lock;
    uint32_t *guest_ref_free;           /* free-ref stack for xensim_gnttab_alloc_ref */
    unsigned int guest_ref_nr, guest_ref_cap;
    unsigned int guest_gt_frames;       /* frames set up through setup_table */

    _Atomic bool destroyed;             /* destroy's teardown is done */
    _Atomic bool finalized;
    /* What the builder made (§1.6); 0 for dom0. */
    xen_pfn_t store_pfn, console_pfn;
    evtchn_port_t store_port, console_port;
    struct rcu_head rcu;
};

struct xensim {
    pthread_mutex_t lock;
    pthread_cond_t cond;                /* any domain state change */
    struct domain *domains[DOMID_FIRST_RESERVED];
    unsigned int nr_domains;
    domid_t next_domid;
    const struct sched_ops *sched;
    bool quiet;
    uint64_t epoch_ns;                  /* CLOCK_MONOTONIC at creation */

    /* Timers (timer.c). */
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_cond;
    pthread_t timer_thread;
    bool timer_stop;
    struct vcpu *timer_armed;

    /* Faults (fault.c). */
    pthread_mutex_t fault_lock;
    xensim_fault_hook_t fault_hook;
    void *fault_hook_arg;
    bool have_fault;
    struct xensim_fault last_fault;

    /* Domain listeners (domain_listen.c): the list and the calls into
     * them are serialised by listener_lock. */
    pthread_mutex_t listener_lock;
    struct sim_listener *listeners;

    /* Trace points (trace.c): trace_subs is an RCU list of subscribers,
     * trace_nsubs its length, the one thing a point reads when nobody
     * listens; trace_lock serialises every change to them and to the
     * built-in subscribers' state below. */
    pthread_mutex_t trace_lock;
    struct cds_list_head trace_subs;
    _Atomic unsigned int trace_nsubs;
    _Atomic uint64_t trace_seq;         /* numbers the sends seen traced */
    struct trace_chrome *chrome;        /* trace_chrome.c, while recording */
    struct narrate_xen *narrate_xen;    /* narrate_xen.c, while it narrates */
    xensim_narrator_t narrator;         /* narrate.c; NULL: silent */
    unsigned int narrate_what;          /* XENSIM_NARRATE_* */
    void *narrator_arg;
};

/* futex.c: the one place that sleeps and wakes threads. */
void sim_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *rel);
void sim_futex_wake(uint32_t *word);

/* The vCPU this thread runs, or NULL for host threads. */
extern __thread struct vcpu *current_vcpu __attribute__((tls_model("initial-exec")));

/* XSM's default (dummy) policy, XSM_TARGET: a domain may act on itself,
 * a privileged domain on any. Event channel and grant ops both use it. */
static inline bool xsm_target(const struct domain *caller, const struct domain *target)
{
    return caller == target || caller->privileged;
}

/* domain.c */
void sim_rcu_ensure(void);          /* registers a host thread as an RCU reader */
void sim_rcu_unregister(void);
struct domain *domain_lookup(struct xensim *sim, domid_t domid); /* caller holds rcu_read_lock */
/* Resolves DOMID_SELF to the caller's domain. */
struct domain *domain_lookup_self(struct xensim *sim, struct domain *self, domid_t domid);
/* The lookup entry points start with: enters an RCU read-side section
 * (registering a host thread first) and finds domid there, DOMID_SELF
 * meaning self when self is given. NULL if there is no such domain, the
 * section already left; otherwise the caller leaves it, rcu_read_unlock(). */
struct domain *domain_rcu_get(struct xensim *sim, struct domain *self, domid_t domid);
void *domain_pfn_to_virt(struct domain *d, xen_pfn_t pfn);   /* NULL if out of range */
void domain_crash(struct domain *d, const char *why);
void domain_shutdown(struct domain *d, unsigned int reason);
/* Called by whoever took foreign_maps to zero: frees the domain. */
void domain_put_foreign(struct domain *d);
uint64_t sim_now(const struct xensim *sim);

/* domain_listen.c: tell every listener. */
void domain_listeners_built(struct xensim *sim, domid_t domid);
void domain_listeners_destroying(struct xensim *sim, domid_t domid);
void domain_listeners_free(struct xensim *sim);

/* platform.c: runs the guest kernel's release of its per-domain memory,
 * once the domain's vCPUs have stopped. */
void domain_release_guest_anchor(struct domain *d);

/* domain_memory.c */
int domain_memory_init(struct domain *d, unsigned long nr_pages, unsigned int max_grant_frames);
void domain_memory_free(struct domain *d);
xen_pfn_t domain_page_alloc(struct domain *d);   /* ~0 when full */
void domain_page_free(struct domain *d, xen_pfn_t pfn);

/* vcpu.c */
struct vcpu *vcpu_alloc(struct domain *d, unsigned int id);
int vcpu_start(struct vcpu *v);
/* Makes the vCPU leave guest code and joins its thread. */
void vcpu_stop(struct vcpu *v);
void vcpu_free(struct vcpu *v);
/* Runs queued calls and upcalls; leaves guest code if the domain stopped. */
void vcpu_hypercall_exit(struct vcpu *v);
bool vcpu_has_work(struct vcpu *v);
bool vcpu_upcall_deliverable(const struct vcpu *v);
/* Sets evtchn_upcall_pending for port's event and kicks the vCPU. */
void vcpu_mark_events_pending(struct vcpu *v, evtchn_port_t port);
/* sim->sched->block between the BLOCK and WAKE trace points. */
bool vcpu_block(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline);
/* Wakes vCPUs of d blocked in SCHEDOP_poll on port. */
void vcpu_wake_pollers(struct domain *d, evtchn_port_t port);

/* evtchn.c */
int evtchn_domain_init(struct domain *d, const struct xensim_domain_config *cfg);
void evtchn_domain_destroy(struct domain *d);   /* closes every port, highest first */
void evtchn_domain_free(struct domain *d);
long do_event_channel_op(struct domain *d, int cmd, void *arg);
/* The ops behind the hypercalls, for hostdev and the domain builder. dev,
 * when not NULL, makes a host process the consumer of the new port. */
long evtchn_alloc_unbound_for(struct domain *caller, domid_t dom, domid_t remote,
                              evtchn_port_t *port, struct xensim_evtchn_dev *dev);
long evtchn_bind_interdomain_for(struct domain *caller, domid_t rdom, evtchn_port_t rport,
                                 evtchn_port_t *lport, struct xensim_evtchn_dev *dev);
long evtchn_bind_virq_for(struct domain *d, uint32_t virq, uint32_t vcpu,
                          evtchn_port_t *port, struct xensim_evtchn_dev *dev);
long evtchn_close_port(struct domain *d, evtchn_port_t port);
long evtchn_send_port(struct domain *d, evtchn_port_t port);
long evtchn_unmask_port(struct domain *d, evtchn_port_t port);
void evtchn_send_virq(struct vcpu *v, uint32_t virq);       /* per-vCPU VIRQ */
void evtchn_send_global_virq(struct xensim *sim, uint32_t virq);
bool evtchn_port_pending(struct domain *d, evtchn_port_t port);
bool evtchn_port_valid(const struct domain *d, evtchn_port_t port);

/* gnttab.c */
int gnttab_domain_init(struct domain *d);
/* Drops every mapping d holds of other domains' pages. */
void gnttab_release_mappings(struct domain *d);
void gnttab_domain_free(struct domain *d);
long do_grant_table_op(struct domain *d, unsigned int cmd, void *uop, unsigned int count);
unsigned int gnttab_maptrack_in_use(struct domain *d);
/* Own entries with flags set, beyond the reserved refs. */
unsigned int gnttab_entries_in_use(struct domain *d);
/* The builder's entries 0 (console) and 1 (xenstore), v1 permit_access. */
void gnttab_seed_reserved(struct domain *d, grant_ref_t ref, domid_t backend, xen_pfn_t pfn);
/* If addr is in d's strict mapping window, fills what it knows. */
bool gnttab_describe_fault(struct domain *d, uintptr_t addr, struct xensim_fault *f);

/* guest_copy.c: copies that turn a bad guest pointer into -EFAULT. */
extern __thread sigjmp_buf *guest_copy_jmp;
int copy_from_guest(void *dst, const void *guest_src, size_t n);
int copy_to_guest(void *guest_dst, const void *src, size_t n);
/* Elements [i, i+n) of a guest array of size-byte elements, to or from
 * buf[0..n): returns how many were copied before the first bad one, so that
 * a batch still does the elements before a fault, as Xen does. */
unsigned int copy_from_guest_elems(void *buf, const void *guest_array, size_t size,
                                   unsigned int i, unsigned int n);
unsigned int copy_to_guest_elems(void *guest_array, const void *buf, size_t size,
                                 unsigned int i, unsigned int n);

/* fault.c */
void fault_handler_install(void);
void fault_report(struct xensim *sim, const struct xensim_fault *f);

/* timer.c */
int timer_start(struct xensim *sim);
void timer_stop(struct xensim *sim);
void timer_set(struct vcpu *v, uint64_t deadline);
void timer_cancel_domain(struct domain *d);


/* trace.c: the points themselves are in tracepoint.h. At destroy, drops
 * every subscriber, the Chrome writer's and the narrator's too. */
void trace_init(struct xensim *sim);
void trace_free(struct xensim *sim);

/* guest_irq.c */
void guest_irq_free(struct domain *d);

/* hostdev_evtchn.c: delivery to a host consumer instead of a vCPU. */
void evtchn_dev_deliver(struct xensim_evtchn_dev *dev, struct domain *d, evtchn_port_t port);

#endif
