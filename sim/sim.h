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
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#ifndef RCU_MEMB
#define RCU_MEMB
#endif
#include <urcu.h>
#include "rcu_publish.h"
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
struct guest_gnttab_ops;

/* How deep this thread is inside the simulator: hypercalls and other
 * simulator code a vCPU runs, plus every sim lock held. A vCPU at depth 0
 * runs guest code and may be unwound by destroy (vcpu_preempt.c); the
 * count goes up before a lock is taken and down after it is released, so
 * no lock is ever held at depth 0. A stop signal that finds the vCPU
 * deeper sets sim_hv_stop instead, and the vCPU leaves when it comes back
 * out to depth 0: a loop that is mostly simulator calls is still caught. */
extern __thread unsigned int sim_hv_depth __attribute__((tls_model("initial-exec")));
extern __thread volatile sig_atomic_t sim_hv_stop __attribute__((tls_model("initial-exec")));
void vcpu_preempt_boundary(void);
static inline void sim_hv_enter(void)
{
    sim_hv_depth++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
static inline void sim_hv_leave(void)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (--sim_hv_depth == 0 && sim_hv_stop)
        vcpu_preempt_boundary();
}
/* Around guest code the simulator calls (entry, upcall, queued calls). */
static inline unsigned int sim_guest_enter(void)
{
    unsigned int depth = sim_hv_depth;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    sim_hv_depth = 0;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return depth;
}
static inline void sim_guest_leave(unsigned int depth)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    sim_hv_depth = depth;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Every lock of the simulator's own, so that sim_hv_depth counts it;
 * common/util.h's xensim_mutex_lock is for code outside sim/. */
#define sim_mutex_lock(m)                                                     \
    do {                                                                      \
        sim_hv_enter();                                                       \
        xensim_mutex_lock(m);                                                 \
    } while (0)
#define sim_mutex_unlock(m)                                                   \
    do {                                                                      \
        xensim_mutex_unlock(m);                                               \
        sim_hv_leave();                                                       \
    } while (0)

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

    /* The simulator's clock, ns since creation (sim_now). */
    uint64_t (*now)(const struct xensim *sim);
    /* Set-up at xensim_create (the creating thread becomes the first
     * task) and tear-down at the end of xensim_destroy. */
    int (*init)(struct xensim *sim, const struct xensim_config *cfg);
    void (*fini)(struct xensim *sim);
    /* A thread of the simulation: task_new, called by its creator before
     * pthread_create so that tasks are numbered in a repeatable order,
     * returns what the thread passes to thread_begin, its first call;
     * thread_end is its last touch of sim. */
    void *(*task_new)(struct xensim *sim, const char *name);
    /* A task whose pthread_create failed: it will never begin. */
    void (*task_cancel)(struct xensim *sim, void *task);
    void (*thread_begin)(struct xensim *sim, void *task);
    void (*thread_end)(struct xensim *sim);
    /* A host thread (toolstack, timer) waits on cond, with m held on
     * entry and on return, for at most one signal or until deadline
     * (absolute sim ns, 0 = none; cond then uses CLOCK_MONOTONIC).
     * Callers loop on their condition, done(arg), which a scheduler that
     * decides who runs evaluates itself. */
    void (*host_wait)(struct xensim *sim, pthread_cond_t *cond, pthread_mutex_t *m,
                      bool (*done)(void *arg), void *arg, uint64_t deadline);
    /* Waits until *word is non-zero (a futex word set with release). */
    void (*word_wait)(struct xensim *sim, uint32_t *word);
    /* Returns once fd may have events (free-running: at once, the
     * caller's blocking call waits instead). */
    void (*fd_wait)(struct xensim *sim, int fd, short events);
    /* pthread_join of the thread that began as task. */
    void (*join)(struct xensim *sim, void *task, pthread_t thread);
    /* join, but giving up at deadline (CLOCK_REALTIME): false if the thread
     * has not left by then. A deterministic run waits as join does. */
    bool (*join_by)(struct xensim *sim, void *task, pthread_t thread,
                    const struct timespec *deadline);
    /* A host thread sleeps ns on the simulation's clock. */
    void (*sleep)(struct xensim *sim, uint64_t ns);
};
/* The simulation whose deterministic task this thread is, or NULL (any
 * thread of a free-running one): for calls that name no simulator. */
extern __thread struct xensim *sched_task_sim;
extern const struct sched_ops sched_free_running, sched_deterministic;

/* One draw of a splitmix64 stream kept in *state (Steele, Lea and Flood,
 * 2014): small, full-period, every output a bijective mix of the state,
 * so nearby seeds diverge at once. The deterministic scheduler's picks
 * and priorities, the schedule search's change points. */
static inline uint64_t sim_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ring_watch.c: the rings a domain named, and their indices; with every
 * task stuck, also which show a lost wake-up (how many: the return). */
struct ring_watch;
struct domain;
void ring_watch_domain_free(struct domain *d);
/* At a hypercall of d's in a deterministic run: d's named rings checked
 * for indices no honest pair makes (each reported once). */
void ring_watch_check(struct domain *d);
/* protocol.c: a violation d's code saw, or a checker saw in d. */
void protocol_violation(struct domain *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fetch_watch.c, the double-fetch checker: arms a named ring (if a strict
 * grant mapping of d maps it), disarms it (nothing if it is not armed),
 * and, from the SIGSEGV handler, takes a fault on an armed ring (true). */
struct xensim_ring_geometry;
void fetch_watch_arm(struct domain *d, const volatile void *sring,
                     const struct xensim_ring_geometry *g, const char *name);
void fetch_watch_disarm(const volatile void *sring);
bool fetch_watch_fault(siginfo_t *si, void *uc);
unsigned int ring_watch_report(struct domain *d, FILE *out, bool stuck);

/* Internal port states, Xen's ECS_* (values as in xen/sched.h). */
enum evtchn_state {
    ECS_FREE = 0, ECS_RESERVED, ECS_UNBOUND, ECS_INTERDOMAIN, ECS_PIRQ,
    ECS_VIRQ, ECS_IPI,
};

/* A mutex in 4 bytes (futex.c), for locks there are thousands of per
 * domain: a pthread mutex is 40. All zeroes is unlocked; nothing to
 * destroy. Counted in sim_hv_depth as sim_mutex_lock is, so a vCPU is
 * never unwound holding one. */
struct sim_lock {
    uint32_t word;
};
void sim_lock_slow(struct sim_lock *l, uint32_t seen);
void sim_unlock_slow(struct sim_lock *l);
static inline void sim_lock(struct sim_lock *l)
{
    uint32_t seen = 0;
    sim_hv_enter();
    if (!__atomic_compare_exchange_n(&l->word, &seen, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        sim_lock_slow(l, seen);
}
static inline void sim_unlock(struct sim_lock *l)
{
    if (__atomic_exchange_n(&l->word, 0, __ATOMIC_RELEASE) == 2)
        sim_unlock_slow(l);
    sim_hv_leave();
}

/* One port. state/u change only with chn->lock and the domain's
 * event_lock held; send reads them under chn->lock alone. The FIFO
 * fields belong to evtchn_fifo.c (its own rules there). With every port
 * of 10,000 domains bound these are most of their memory: 32 bytes, the
 * pointer last so that the small fields fill no padding. */
struct evtchn {
    struct sim_lock lock;
    _Atomic uint8_t state;
    _Atomic uint8_t priority;           /* FIFO: 0 (highest) .. 15 */
    /* Changed under chn->lock, but a send to this port reads it holding
     * only the sender's channel lock (as Xen's read_atomic does). */
    _Atomic uint16_t notify_vcpu;
    evtchn_port_t port;                 /* its own number, set once */
    union {
        domid_t unbound_remote;
        struct { domid_t dom; evtchn_port_t port; } interdomain;
        uint32_t virq;
        uint32_t ipi_vcpu;
    } u;
    _Atomic uint16_t fifo_lastq;        /* FIFO: queue last linked on */
    _Atomic bool fifo_pending;          /* FIFO: raised while it had no word */
    _Atomic uint8_t host_bits;          /* FIFO: a host consumer's bits */
    /* Non-NULL when a host "process" (hostdev.h) consumes this port. */
    struct xensim_evtchn_dev *dev;
};
_Static_assert(sizeof(struct evtchn) <= 32, "struct evtchn grew past 32 bytes");

/* Ports become valid a bucket at a time, as in Xen: 64 ports (a 4 KiB
 * bucket of 64-byte struct evtchn there), made as the range grows. used
 * has a bit per port that is not free, under the domain's event_lock.
 * Buckets hang off groups of 64, made with their first bucket, so that a
 * domain pays for the ports it has and not for the 2^17 FIFO allows. */
#define EVTCHNS_PER_BUCKET 64
#define BUCKETS_PER_GROUP 64
#define EVTCHNS_PER_GROUP (EVTCHNS_PER_BUCKET * BUCKETS_PER_GROUP)
/* The most any ABI names: FIFO's 2^17. */
#define EVTCHN_MAX_PORTS EVTCHN_FIFO_NR_CHANNELS
#define NR_EVTCHN_GROUPS (EVTCHN_MAX_PORTS / EVTCHNS_PER_GROUP)
struct evtchn_bucket {
    uint64_t used;
    struct evtchn chn[EVTCHNS_PER_BUCKET];
};
struct evtchn_group {
    struct evtchn_bucket *_Atomic bucket[BUCKETS_PER_GROUP];
};

/*
 * Event channel port ABI, Xen's evtchn_port_ops with what xensim needs
 * of it: 2-level with 32- or 64-bit words (evtchn_2l.c), FIFO
 * (evtchn_fifo.c). Each domain has one at a time; a guest switches to
 * FIFO with EVTCHNOP_init_control and back with EVTCHNOP_reset. Nothing
 * outside the ABI files branches on which it is.
 */
struct evtchn_host_bits;
struct evtchn_port_ops {
    const char *name;
    enum xensim_evtchn_abi abi;         /* what xensim_domain_info() says */
    unsigned int nr_ports;              /* Xen's max_evtchns(d) */
    /* A port was just bound (FIFO: back to the default priority). */
    void (*init)(struct domain *d, struct evtchn *chn);
    /* Raises chn on v; wakes pollers (vcpu_wake_pollers) only when the
     * port became pending. */
    void (*set_pending)(struct vcpu *v, struct evtchn *chn);
    void (*clear_pending)(struct domain *d, struct evtchn *chn);
    /* Clears the mask and re-raises a pending port on its notify vCPU. */
    void (*unmask)(struct domain *d, struct evtchn *chn);
    bool (*is_pending)(const struct domain *d, const struct evtchn *chn);
    bool (*is_masked)(const struct domain *d, const struct evtchn *chn);
    /* A free port still queued for the guest (FIFO: LINKED) is not
     * handed out again. NULL: never. */
    bool (*is_busy)(const struct domain *d, const struct evtchn *chn);
    /* NULL: the ABI has no priorities (-ENOSYS). */
    int (*set_priority)(struct domain *d, struct evtchn *chn, unsigned int priority);
    /* Not Xen's: see struct evtchn_host_bits. */
    const struct evtchn_host_bits *host;
    /* For the narrator (narrate_xen.c): where a port's pending bit is
     * ("evtchn_pending[0] bit 6"), and what raising a vCPU sets besides
     * evtchn_upcall_pending. */
    void (*describe_pending)(const struct domain *d, evtchn_port_t port, char *buf, size_t len);
    const char *raise_sets;
};
extern const struct evtchn_port_ops evtchn_2l_32_ops, evtchn_2l_64_ops, evtchn_fifo_ops;

/* What dom0's evtchn driver does to the bits of a port it gives to a
 * process (mask, ack, latch), done inline by hostdev_evtchn.c for a host
 * consumer. 2-level: the shared_info bits, as Linux's driver leaves them;
 * FIFO: bits of the channel's own, since a host consumer's port has no
 * business on a vCPU's queue. */
struct evtchn_host_bits {
    bool (*test_and_set_pending)(struct domain *d, struct evtchn *chn);
    void (*clear_pending)(struct domain *d, struct evtchn *chn);
    bool (*is_pending)(struct domain *d, struct evtchn *chn);
    void (*mask)(struct domain *d, struct evtchn *chn);
    bool (*test_and_clear_mask)(struct domain *d, struct evtchn *chn);
    bool (*is_masked)(struct domain *d, struct evtchn *chn);
};

/* evtchn_fifo.c's per-domain state, NULL until the first init_control. */
struct evtchn_fifo_domain;

/* POLLING: blocked, but spinning on its condition (sched_free.c), so a
 * kick needs no system call. */
enum vcpu_run_state { VCPU_RUNNING = 0, VCPU_BLOCKED, VCPU_POLLING };

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
    void *task;                         /* sched->task_new's */
    bool thread_started;
    /* Guest-visible, written by guest and hypervisor: in shared_info. */
    void *vcpu_info;
    volatile uint8_t *upcall_pending;   /* &vcpu_info->evtchn_upcall_pending */
    volatile uint8_t *upcall_mask;      /* &vcpu_info->evtchn_upcall_mask */
    void *pending_sel;                  /* xen_ulong_t of the 2-level layout */

    _Atomic int run_state;              /* enum vcpu_run_state */
    uint32_t wake_seq;                  /* futex word, atomics only */
    uint32_t poll_ns;                   /* halt-poll window; the vCPU's own */
    int kick_cpu;                       /* host CPU of the last kick (atomic) */
    xensim_upcall_t callback;
    bool in_upcall;
    /* Upcalls delivered and blocks returned from: between two of either
     * is fetch_watch.c's "one handling" of a ring. */
    uint64_t upcalls, wakes;
    /* While traced: seq of the last send to this vCPU since its last
     * upcall, for the upcall's event (trace.c). */
    _Atomic uint64_t trace_cause;
    /* While traced: raises between setting evtchn_upcall_pending and
     * their trace point; the upcall waits for them (event.h). */
    atomic_uint raises_untraced;
    bool down;                          /* entry returned or domain stopped */

    /* Per-vCPU VIRQ table (global VIRQs use vCPU 0's), 0 = unbound. */
    evtchn_port_t virq_to_evtchn[NR_VIRQS];

    /* Timers: deadline in sim ns, 0 = off; protected by sim->timer_lock. */
    uint64_t timer_deadline;
    struct vcpu *timer_next;
    /* SCHEDOP_poll, as Xen's poll_mask bit and poll_evtchn: polling is
     * set while the vCPU is in the poll; poll_evtchn is the one port it
     * waits for, or -1 for any port of the domain (several, or while the
     * ports are still being read), which sets poll_woken. poll_upcall
     * says upcall_pending was clear when the poll began, so that its
     * 0-to-1 edge (Xen's kick) ends the poll. */
    _Atomic bool polling;
    _Atomic long poll_evtchn;
    _Atomic bool poll_woken;
    bool poll_upcall;

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
    unsigned int shutdown_reason;       /* set under sim->lock, read with atomics */
    _Atomic bool paused;

    unsigned int nr_vcpus;
    struct vcpu *vcpus[XENSIM_MAX_VCPUS];
    xensim_vcpu_entry_t entry;
    void *entry_arg;
    _Atomic unsigned int vcpus_up;

    /* Memory: one memfd, mapped once at mem. pfn layout:
     *   [0, nr_pages)                      guest RAM
     *   nr_pages                           shared_info (Xen's page)
     *   nr_pages + 1 + i, i < max_grant_frames   grant table frame i
     *   nr_pages + 1 + max_grant_frames + j,
     *     j < domain_status_frames(max_grant_frames)  v2 status frame j */
    int memfd;
    uint8_t *mem;
    unsigned long nr_pages;
    unsigned long nr_frames;            /* all pages of the memfd */
    pthread_mutex_t page_lock;
    uint64_t *page_used;                /* bitmap over guest RAM */
    unsigned long pages_in_use;         /* bits set in page_used */
    unsigned long build_pages;          /* of those, the builder's */
    start_info_t *start_info;           /* in guest RAM (pfn 0; dom0's: 1) */

    /* Event channels (evtchn.c). The ABI changes under event_lock;
     * readers without it load it once per operation. */
    void *shared_info;
    unsigned int evtchn_word_bits;      /* shared_info's layout: 32 or 64 */
    bool evtchn_fifo_boot;              /* its kernel is to switch to FIFO */
    unsigned int kernel_grant_version;  /* what its kernel asks at first use: 1 or 2 */
    const struct evtchn_port_ops *_Atomic evtchn_ops;
    const struct evtchn_port_ops *evtchn_2l_ops;   /* the one reset returns to */
    struct evtchn_fifo_domain *_Atomic evtchn_fifo;   /* evtchn_fifo.c; set once */
    unsigned int max_port;              /* the configured cap (max_evtchn_port) */
    /* Buckets, made as valid_ports grows past them (see above). */
    struct evtchn_group *_Atomic evtchn_groups[NR_EVTCHN_GROUPS];
    pthread_mutex_t event_lock;         /* allocation, bind, close, ABI */
    unsigned int ports_in_use;
    unsigned int valid_ports;           /* grows a bucket at a time */
    /* Every bucket below this one has no free port: where get_free_port
     * starts looking. Under event_lock. */
    unsigned int evtchn_full_below;
    unsigned int next_evtchn;           /* Xen's: reset's progress, 0 = none */
    _Atomic unsigned int pollers;       /* vCPUs in SCHEDOP_poll */

    /* Grant tables (gnttab.c). */
    struct grant_table *gt;
    enum xensim_gnttab_mode gnttab_mode;
    unsigned int max_grant_frames;
    unsigned int max_maptrack_frames;
    unsigned int max_grant_version;     /* 1 or 2 */
    /* Pins other domains hold on this domain's pages, plus one reference
     * of its own until destroy is done; the domain is freed at zero. */
    _Atomic unsigned int foreign_maps;

    /* The guest kernel's per-domain memory (platform.c): set once by the
     * guest, released after the vCPUs stop at destroy. */
    void *_Atomic guest_anchor;
    void (*guest_anchor_release)(void *data);

    /* Shared rings the domain's code named (ring_watch.c), for a stuck
     * deterministic run's report. */
    struct ring_watch *ring_watches;
    struct sim_lock ring_watch_lock;

    _Atomic bool destroyed;             /* destroy's teardown is done */
    _Atomic bool finalized;
    /* What the builder made (§1.6); 0 for dom0. */
    xen_pfn_t store_pfn, console_pfn;
    evtchn_port_t store_port, console_port;   /* these four: atomics, set by the builder */
    struct rcu_head rcu;
};

struct xensim {
    pthread_mutex_t lock;
    pthread_cond_t cond;                /* any domain state change */
    struct domain *domains[DOMID_FIRST_RESERVED];
    unsigned int nr_domains;
    domid_t next_domid;
    const struct sched_ops *sched;
    /* vCPU threads not asleep in the scheduler (running or polling), and
     * the CPUs this process may use: a vCPU polls only while the first
     * fits in the second (sched_free.c). */
    _Atomic unsigned int vcpus_awake;
    unsigned int host_cpus;
    void *sched_priv;                   /* the scheduler's own state */
    uint64_t seed;                      /* 0: free-running */
    bool quiet;
    bool no_halt_polling;               /* sched_free.c: block sleeps at once */
    uint64_t epoch_ns;                  /* CLOCK_MONOTONIC at creation */

    /* Timers (timer.c). */
    pthread_mutex_t timer_lock;
    pthread_cond_t timer_cond;
    pthread_t timer_thread;
    void *timer_task;                   /* sched->task_new's, for the timer */
    bool timer_stop;
    struct vcpu *timer_armed;

    /* Faults (fault.c). */
    pthread_mutex_t fault_lock;
    xensim_fault_hook_t fault_hook;
    void *fault_hook_arg;
    bool have_fault;
    struct xensim_fault last_fault;
    bool check_double_fetch;            /* fetch_watch.c arms named rings */
    _Atomic uint64_t double_fetches;    /* and counts what it saw, */
    struct xensim_double_fetch last_double_fetch;   /* the last under fault_lock */
    _Atomic uint64_t protocol_violations;           /* protocol.c, */
    struct xensim_protocol_violation last_violation;    /* the last under fault_lock */

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
    _Atomic uint64_t narrate_seq;       /* numbers the narration lines traced */
    struct trace_chrome *chrome;        /* trace_chrome.c, while recording */
    struct narrate_xen *narrate_xen;    /* narrate_xen.c, while it narrates */
    xensim_narrator_t narrator;         /* narrate.c; NULL: silent */
    unsigned int narrate_what;          /* XENSIM_NARRATE_* */
    void *narrator_arg;
};

/* futex.c: the one place that sleeps and wakes threads. */
void sim_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *rel);
void sim_futex_wake(uint32_t *word);
/* vCPU threads come (delta > 0) and go: sizes the kernel's futex hash. */
void sim_futex_threads(long delta);

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
/* The v2 status frames a table of max_grant_frames shared frames may need
 * (Xen's grant_to_status_frames of the maximum): 2-byte status words for
 * 16-byte entries, so one status frame serves eight shared frames. */
static inline unsigned int domain_status_frames(unsigned int max_grant_frames)
{
    unsigned int per_shared = XEN_PAGE_SIZE / sizeof(grant_entry_v2_t);
    unsigned int per_status = XEN_PAGE_SIZE / sizeof(grant_status_t);
    return (max_grant_frames * per_shared + per_status - 1) / per_status;
}
int domain_memory_init(struct domain *d, unsigned long nr_pages, unsigned int max_grant_frames);
void domain_memory_free(struct domain *d);
xen_pfn_t domain_page_alloc(struct domain *d);   /* ~0 when full */
void domain_page_free(struct domain *d, xen_pfn_t pfn);

/* vcpu.c */
struct vcpu *vcpu_alloc(struct domain *d, unsigned int id);
int vcpu_start(struct vcpu *v);
/* Makes every vCPU of d leave guest code and joins their threads; the
 * domain is shutting down. */
void vcpu_stop_all(struct domain *d);
void vcpu_free(struct vcpu *v);
/* Xen's entry to hypercall nr from the guest: the scheduler's entry and
 * the enter trace point. NULL when the caller is no vCPU (the hypercall
 * then answers -EPERM). */
struct vcpu *vcpu_hypercall_enter(uint32_t nr, int cmd);
/* Xen's return to the guest from hypercall nr: the exit trace point and
 * the scheduler's exit, then queued calls and upcalls; leaves guest code
 * if the domain stopped. Returns rc. */
long vcpu_hypercall_exit(struct vcpu *v, uint32_t nr, int cmd, long rc);
bool vcpu_has_work(struct vcpu *v);
bool vcpu_upcall_deliverable(const struct vcpu *v);
/* sim->sched->block between the BLOCK and WAKE trace points. */
bool vcpu_block(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline);
/* vcpu_mark_events_pending, vcpu_wake_pollers: event.h. */

/* vcpu_preempt.c: interrupts a vCPU that loops in guest code. */
void vcpu_preempt_install(void);
void vcpu_preempt(struct vcpu *v);

/* evtchn.c */
int evtchn_domain_init(struct domain *d, const struct xensim_domain_config *cfg);
void evtchn_domain_destroy(struct domain *d);   /* closes every port, highest first */
void evtchn_domain_free(struct domain *d);
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
/* A port's channel; the port must be valid (evtchn_port_valid). */
struct evtchn *evtchn_from_port(const struct domain *d, evtchn_port_t port);
/* Xen's evtchn_usable: bound in any state (host consumers' ports too). */
bool evtchn_usable(const struct evtchn *chn);
/* The highest port this domain may use under its current ABI. */
unsigned int evtchn_max_port(const struct domain *d);
void evtchn_send_virq(struct vcpu *v, uint32_t virq);       /* per-vCPU VIRQ */
void evtchn_send_global_virq(struct xensim *sim, uint32_t virq);
bool evtchn_port_pending(struct domain *d, evtchn_port_t port);
bool evtchn_port_valid(const struct domain *d, evtchn_port_t port);

/* gnttab.c */
int gnttab_domain_init(struct domain *d);
/* Drops every mapping d holds of other domains' pages. */
void gnttab_release_mappings(struct domain *d);
void gnttab_domain_free(struct domain *d);
unsigned int gnttab_maptrack_in_use(struct domain *d);
/* Own entries with flags set, beyond the reserved refs. */
unsigned int gnttab_entries_in_use(struct domain *d);
/* The builder's entries 0 (console) and 1 (xenstore), v1 permit_access. */
void gnttab_seed_reserved(struct domain *d, grant_ref_t ref, domid_t backend, xen_pfn_t pfn);
/* If addr is in d's strict mapping window, fills what it knows. */
bool gnttab_describe_fault(struct domain *d, uintptr_t addr, struct xensim_fault *f);

/* guest_copy.c: copies that turn a bad guest pointer into -EFAULT. */
/* initial-exec: every guest copy reads it, and libxensim is a shared
 * library, where the default model costs a __tls_get_addr call. */
extern __thread sigjmp_buf *guest_copy_jmp __attribute__((tls_model("initial-exec")));
/* Where byte off of a guest argument is. A guest pointer may be
 * misaligned for its type or near the top of the address space, and C
 * allows neither member access nor overflowing arithmetic on such a
 * pointer (UBSan aborts on both), so the address is computed as an
 * integer and only ever handed to the copy functions below. */
static inline void *guest_at(const void *guest, size_t off)
{
    return (void *)((uintptr_t)guest + off);
}
#define guest_field(guest, type, member) guest_at(guest, offsetof(type, member))

int copy_from_guest(void *dst, const void *guest_src, size_t n);
int copy_to_guest(void *guest_dst, const void *src, size_t n);
/* Elements [i, i+n) of a guest array of size-byte elements, to or from
 * buf[0..n): returns how many were copied before the first bad one, so that
 * a batch still does the elements before a fault, as Xen does. */
unsigned int copy_from_guest_elems(void *buf, const void *guest_array, size_t size,
                                   unsigned int i, unsigned int n);
unsigned int copy_to_guest_elems(void *guest_array, const void *buf, size_t size,
                                 unsigned int i, unsigned int n);
/* Xen's guest_handle_okay(h, nr): a range check only, no access. */
bool guest_handle_okay(const void *guest_ptr, size_t nr, size_t size);
/* Writes one field of each of n array elements (stride bytes apart in
 * both src and the guest's array, size bytes each) as Xen's
 * __copy_field_to_guest per element does; returns how many were written
 * before the first fault. */
unsigned int copy_fields_to_guest(void *guest_dst, const void *src, size_t stride, size_t size,
                                  unsigned int n);
/* How many leading elements of a guest array (stride bytes apart) have a
 * field [off, off + size) the hypervisor could write: the element whose
 * copy back would fault is the next. Each page is probed once by
 * rewriting one of its bytes with its own value. */
unsigned int guest_fields_writable(void *guest_base, size_t stride, size_t off, size_t size,
                                   unsigned int n);

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

/* evtchn_fifo.c: the FIFO ABI's hypercalls, under the domain's
 * event_lock; destroy switches a domain back to 2-level, free releases
 * what init_control made (at domain free). */
long evtchn_fifo_init_control(struct domain *d, struct evtchn_init_control *op);
long evtchn_fifo_expand_array(struct domain *d, const struct evtchn_expand_array *op);
void evtchn_fifo_destroy(struct domain *d);
void evtchn_fifo_free(struct domain *d);
unsigned int evtchn_fifo_pages_held(struct domain *d);
int evtchn_fifo_layout(struct domain *d, struct xensim_evtchn_fifo_layout *out);

/* hostdev_evtchn.c: delivery to a host consumer instead of a vCPU. */
void evtchn_dev_deliver(struct xensim_evtchn_dev *dev, struct domain *d, struct evtchn *chn);

#endif
