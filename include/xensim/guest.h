/*
 * What guest code calls from a vCPU thread: Xen's hypercalls with Xen's
 * numbers and structs, and the helpers a PV kernel has built in (its
 * shared_info, its 2-level event bitmaps, its grant entries, its pages).
 * Calls made from a thread that is not a vCPU return -EPERM.
 */
#ifndef XENSIM_GUEST_H
#define XENSIM_GUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/sched.h>
#include <xen/callback.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Hypercalls. Each returns 0 or a negative Xen errno, as Xen does. */
long HYPERVISOR_event_channel_op(int cmd, void *arg);
long HYPERVISOR_grant_table_op(unsigned int cmd, void *uop, unsigned int count);
long HYPERVISOR_sched_op(int cmd, void *arg);
/* Absolute system time in ns (xensim_guest_system_time()); 0 cancels. */
long HYPERVISOR_set_timer_op(uint64_t timeout);
/* CALLBACKOP_register with CALLBACKTYPE_event: address is a
 * xensim_upcall_t cast to xen_callback_t. CALLBACKOP_unregister too. */
long HYPERVISOR_callback_op(int cmd, const void *arg);
/* XENVER_version: Xen's version, (major << 16) | minor (4.17). Other
 * subcommands are not simulated (-ENOSYS). A guest also uses it as the
 * cheapest hypercall, to take a pending upcall on the way back. */
long HYPERVISOR_xen_version(int cmd, void *arg);

/* Xen's EVTCHNOP_reset_cont, 14: the continuation of a pre-empted
 * EVTCHNOP_reset, which <xen/event_channel.h> defines only under __XEN__
 * as guests are not meant to issue it. One that does gets Xen's answer
 * (-EBUSY unless a reset of that domain is under way). */
#define XENSIM_EVTCHNOP_reset_cont 14

/* The event upcall: runs on the vCPU thread with its upcall mask set. */
typedef void (*xensim_upcall_t)(void);

/*
 * GNTTABOP_map_grant_ref: with GNTMAP_host_map, xensim writes the address
 * at which this domain sees the page back into host_addr (an xensim
 * extension: a hosted simulator cannot let guests choose host addresses).
 * Pass that host_addr to GNTTABOP_unmap_grant_ref, as a PV guest does.
 */

/* Tells the simulator's narrator (if one is set) what this guest is
 * doing, one line per step. A macro, so that driver hot paths pay one
 * load and a predictable branch when nobody listens: the arguments are
 * computed only when some simulator narrates its guests
 * (xensim_narrating_guests counts them; xensim_narrate_line checks this
 * guest's own). */
extern unsigned int xensim_narrating_guests;
void xensim_narrate_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same as a function, for a caller that takes its address: */
void (xensim_narrate)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define xensim_narrate(...)                                                         \
    do {                                                                            \
        if (__builtin_expect(__atomic_load_n(&xensim_narrating_guests,              \
                                             __ATOMIC_RELAXED) != 0, 0))            \
            xensim_narrate_line(__VA_ARGS__);                                       \
    } while (0)

/* Who am I. */
domid_t xensim_guest_domid(void);
unsigned int xensim_guest_vcpu_id(void);
unsigned int xensim_guest_nr_vcpus(void);
/* Xen's start_info for this domain (store/console pfn and ports...). */
const start_info_t *xensim_guest_start_info(void);
/* Xen system time: ns since the simulator started. */
uint64_t xensim_guest_system_time(void);

/* Pages of this domain's memory (pfn = guest frame number). */
void *xensim_guest_pfn_to_virt(xen_pfn_t pfn);
/* No frame: what a translation of an address outside this domain's
 * memory answers, as Xen's lookups answer INVALID_GFN. */
#define XENSIM_INVALID_PFN (~(xen_pfn_t)0)
xen_pfn_t xensim_guest_virt_to_pfn(const void *va);
/* A zeroed free page of guest RAM in *pfn: 0, or -ENOMEM when none is
 * left (-EPERM off a vCPU), with *pfn = XENSIM_INVALID_PFN. */
int xensim_guest_page_alloc(xen_pfn_t *pfn);
void xensim_guest_page_free(xen_pfn_t pfn);

/*
 * Event delivery helpers, as a PV kernel has them. They work on the real
 * shared_info and vcpu_info of this domain, whichever 2-level word size it
 * uses, or on the FIFO event words and control blocks the kernel gave Xen
 * if it switched. The "irq" pair is the PV interrupt flag (vcpu_info
 * upcall mask): enabling delivers any pending upcall before returning.
 */
void *xensim_guest_shared_info(void);   /* struct shared_info(_x86_32) */
void *xensim_guest_vcpu_info(void);     /* this vCPU's vcpu_info(_x86_32) */
unsigned int xensim_guest_evtchn_word_bits(void);  /* 32 or 64 */
/* Whether the domain's configuration asks its kernel to use the FIFO ABI
 * (XENSIM_EVTCHN_FIFO), like a kernel command-line option: the event
 * layer below switches at its first use; the hypervisor's ABI changes
 * only with EVTCHNOP_init_control. */
bool xensim_guest_evtchn_fifo(void);
/* The grant table version this domain's kernel asks for at its first use
 * of grants (its config's kernel_grant_version: 1 or 2). */
unsigned int xensim_guest_grant_version(void);
void xensim_guest_irq_disable(void);
void xensim_guest_irq_enable(void);
bool xensim_guest_irq_disabled(void);

void xensim_evtchn_mask(evtchn_port_t port);
/* Clears the mask bit; if the port is pending, re-raises it as Xen would. */
void xensim_evtchn_unmask(evtchn_port_t port);
void xensim_evtchn_clear_pending(evtchn_port_t port);
bool xensim_evtchn_is_pending(evtchn_port_t port);
bool xensim_evtchn_is_masked(evtchn_port_t port);
/* The upcall handler loop of a PV kernel: clear upcall_pending, then call
 * handler(port) for each pending unmasked port of this vCPU (2-level: take
 * the selector and walk its words, lowest port first; FIFO: take READY and
 * consume the queues one event at a time, highest priority first, each
 * unlinked before its handler runs); repeats while upcall_pending is set
 * again. The handler acks (clears pending) itself. Returns ports handled.
 * The bind wrappers below also make the new port's bits (FIFO: its event
 * word, masked until the port is unmasked). */
unsigned int xensim_evtchn_scan(void (*handler)(evtchn_port_t port, void *arg), void *arg);
/*
 * The PV kernel's interrupt layer (Linux's bind_evtchn_to_irqhandler):
 * one upcall per vCPU runs xensim_evtchn_scan and calls each port's handler, in
 * upcall context (events masked). xensim_irq_bind registers that upcall on
 * the calling vCPU, enables its events and unmasks the port; events are
 * delivered to the port's notify vCPU (0 unless moved with
 * EVTCHNOP_bind_vcpu), so bind from the vCPU that should take them.
 * The handler acks: the layer clears the pending bit before calling it.
 */
typedef void (*xensim_irq_handler_t)(evtchn_port_t port, void *arg);
int xensim_irq_bind(evtchn_port_t port, xensim_irq_handler_t handler, void *arg);
/* Masks the port and forgets its handler (it does not close the port). */
void xensim_irq_unbind(evtchn_port_t port);

/*
 * The guest kernel's own memory. Many guest kernels share this process, so
 * what a kernel keeps in globals is kept per domain. guest/ builds data
 * keys on this anchor; other code uses the keys (below).
 * xensim_guest_anchor_set() sets the anchor once, from NULL, with the
 * function the simulator calls on it when the domain is destroyed, after
 * its vCPUs have stopped; it returns what the anchor holds afterwards.
 */
void *xensim_guest_anchor(void);
void *xensim_guest_anchor_set(void *data, void (*release)(void *data));

/*
 * Per-domain data of a guest kernel subsystem: each domain holds one
 * value per key, NULL until set. When a domain is destroyed, once its
 * vCPUs have stopped (so hypercalls are no longer possible), each key's
 * destroy runs on the domain's non-NULL value, keys in the reverse order
 * of their first use. A key is a static object:
 *   static struct xensim_guest_key my_key = { .destroy = my_free };
 */
struct xensim_guest_key {
    void (*destroy)(void *value);
    unsigned int id_;             /* private: 1 + index, given at first use */
};
/* This domain's value, or NULL (also from a thread that is not a vCPU). */
void *xensim_guest_data(struct xensim_guest_key *key);
/* Sets the value if none is set yet and returns the value now held, so of
 * several vCPUs racing to set up the first wins; NULL from a non-vCPU
 * thread or when no memory is left. */
void *xensim_guest_data_init(struct xensim_guest_key *key, void *value);

/* Keeps xensim_domain_call()s off this vCPU until the matching release
 * (they nest): a kernel's critical sections, like its upcall, are not
 * entered by them. Calls that came meanwhile run at the next hypercall
 * exit after the last release. */
void xensim_guest_calls_hold(void);
void xensim_guest_calls_release(void);

/*
 * spin_lock_irqsave for guest code: while held, events are masked on this
 * vCPU (its upcall cannot run) and calls are held off, so nothing else on
 * this vCPU's thread can enter code that takes the same lock. Other vCPUs
 * and host threads wait for it. Not recursive.
 */
struct xensim_irqlock {
    pthread_mutex_t m;
};
#define XENSIM_IRQLOCK_INIT { PTHREAD_MUTEX_INITIALIZER }
void xensim_irqlock_init(struct xensim_irqlock *l);
void xensim_irqlock_destroy(struct xensim_irqlock *l);
/* Returns whether events were masked before: pass it to unlock. */
bool xensim_irqlock_lock(struct xensim_irqlock *l);
void xensim_irqlock_unlock(struct xensim_irqlock *l, bool were_masked);

/* Convenience wrappers over HYPERVISOR_event_channel_op. They return the
 * port (>0) or a negative errno. */
long xensim_evtchn_alloc_unbound(domid_t remote);
long xensim_evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port);
long xensim_evtchn_bind_virq(uint32_t virq, uint32_t vcpu);
long xensim_evtchn_bind_ipi(uint32_t vcpu);
long xensim_evtchn_close(evtchn_port_t port);

/* The notify on every request's path, inline as Linux's
 * notify_remote_via_evtchn(): the guest goes straight to the hypercall. */
static inline long xensim_evtchn_send(evtchn_port_t port)
{
    struct evtchn_send op = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

/*
 * Granter side of grant tables, as a PV kernel has it. The first call
 * sets up the table (GNTTABOP_setup_table) and maps its frames, in the
 * version the table has then (every table starts at v1). Refs 0-7 are
 * reserved (console, xenstore); the allocator hands out 8 and up.
 */
/* The v1 entries, or NULL if the table is v2 (then use the _v2 pair). */
grant_entry_v1_t *xensim_gnttab_entries(unsigned int *nr_entries);
/* The v2 entries and their status words (GTF_reading / GTF_writing,
 * written by Xen only), or NULL if the table is v1. */
grant_entry_v2_t *xensim_gnttab_entries_v2(unsigned int *nr_entries);
grant_status_t *xensim_gnttab_status(unsigned int *nr_entries);
/* 1 or 2; 0 from a thread that is not a vCPU. */
unsigned int xensim_gnttab_version(void);
/*
 * Switches the table with GNTTABOP_set_version and the helpers with it,
 * as a kernel does at boot (Linux's gnttab_request_version): Xen keeps
 * only the reserved entries across a switch, so with refs handed out the
 * helpers refuse (-EBUSY) before asking Xen. Otherwise Xen's answer:
 * 0, -EINVAL, -ENOSYS (the domain's max_grant_version is 1), -EBUSY (a
 * grant of this domain is in use)... Switch with this call, not with the
 * bare hypercall, once the helpers have been used.
 */
long xensim_gnttab_set_version(unsigned int version);
/* A free ref (growing the table up to max_grant_frames) or -ENOSPC. */
long xensim_gnttab_alloc_ref(void);
void xensim_gnttab_free_ref(grant_ref_t ref);
/* Writes domid, frame, a write barrier, then the flags, like Linux, in
 * the table's layout (v2: a full_page entry). */
void xensim_gnttab_grant_access_ref(grant_ref_t ref, domid_t domid,
                                    xen_pfn_t frame, bool readonly);
/* alloc_ref + grant_access_ref; returns the ref or a negative errno. */
long xensim_gnttab_grant_access(domid_t domid, xen_pfn_t frame, bool readonly);
/* v2 only (-ENOSYS in v1, -EINVAL for a ref the table does not have), and
 * for GNTTABOP_copy only: bytes [offset, offset + length) of frame, or
 * domid may use trans_domid's grant trans_gref (granted to this domain)
 * as if it were this one. */
int xensim_gnttab_grant_subpage_ref(grant_ref_t ref, domid_t domid, xen_pfn_t frame,
                                    uint16_t offset, uint16_t length, bool readonly);
int xensim_gnttab_grant_transitive_ref(grant_ref_t ref, domid_t domid, domid_t trans_domid,
                                       grant_ref_t trans_gref);
/* Revokes: -EBUSY while GTF_reading/GTF_writing is set, else 0. In v1
 * a busy entry stays granted. In v2 (as in Linux) its flags are cleared
 * at once: once the pins Xen holds are gone nothing can map or copy it
 * again, and the ref is free only once a later call returns 0. */
int xensim_gnttab_end_access(grant_ref_t ref);

/* Names a shared ring this domain has mapped or made: a <xen/io/ring.h>
 * sring, whose page begins with req_prod, req_event, rsp_prod and
 * rsp_event, and whose entries g describes (XENSIM_RING_GEOMETRY). A
 * deterministic run that deadlocks prints each named ring's indices, and
 * calls a ring whose event index its producer has reached with no event
 * on the way a lost wake-up: the consumer asked to be told and nobody
 * will tell it. With check_double_fetch (xensim_config) a ring that a
 * strict grant mapping maps is also watched for double fetches. Watch
 * before the ring is used, unwatch before it is unmapped; a domain's
 * watches go when it dies. 0, -EINVAL (no sring, no entries, or more
 * than 16 pages hold), -ENOMEM, or -EEXIST (sring named already);
 * unwatch: 0 or -ENOENT; either -ESRCH off a vCPU. Only the first page
 * is watched for double fetches. */
struct xensim_ring_geometry {
    size_t entries_offset;      /* where ring[0] begins in the page */
    size_t entry_size;          /* sizeof(ring[0]): a request/response union */
    unsigned int nr_entries;    /* RING_SIZE */
    /* The requests' consumer takes them when it has work of its own, not
     * on an event (netback's receive buffers): requests waiting past
     * req_event are then no lost wake-up. */
    bool requests_wait_for_work;
};
/* A front or back ring's geometry, from <xensim/io/ring.h>'s macros. */
#define XENSIM_RING_GEOMETRY(r)                                                  \
    ((struct xensim_ring_geometry){                                              \
        (size_t)((const char *)&(r)->sring->ring[0] - (const char *)(r)->sring), \
        sizeof((r)->sring->ring[0]), RING_SIZE(r), false })
int xensim_ring_watch(const void *sring, const struct xensim_ring_geometry *g,
                      const char *name);
int xensim_ring_unwatch(const void *sring);

/* Guest code that caught its peer breaking a protocol (a response for an
 * id never requested, ring indices no honest peer makes) tells the
 * simulator, which counts it, keeps the last and prints it (unless
 * quiet): the simulator says what broke (xensim_protocol_violations). A
 * deterministic run also checks each named ring at every hypercall of
 * its domain, and reports indices no honest pair makes. */
void xensim_protocol_violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif
#endif
