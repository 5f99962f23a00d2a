/*
 * Trace points: the hypervisor reports each step of interest (hypercalls,
 * event channel sends, upcalls, blocking, grant maps and copies, XenStore
 * messages) as one struct xensim_trace_event, handed to every subscriber.
 * The Chrome trace writer (xensim_trace_start) and the "[xen]" narrator
 * (xensim_set_narrator) are subscribers too. With none, a point costs one
 * predictable branch.
 *
 * Subscribers are called synchronously, at the point, on the thread where
 * it happens (a vCPU, the timer thread, a host thread using hostdev.h or
 * xenstored), one after the other in the order they subscribed; events
 * from several threads arrive at once, so a subscriber does its own
 * locking. A point may hold a simulator lock (a channel's, in a send), so
 * a subscriber must return soon and must not
 *   - make hypercalls or call any xensim_* function but the names below
 *     (xensim_trace_kind_name, xensim_trace_op_name, xensim_trace_note),
 *     xensim_strerror and xensim_domain_peek,
 *   - block or wait for another thread,
 *   - subscribe, unsubscribe, or start or stop the Chrome trace.
 * Pointers in an event are valid only during the call.
 */
#ifndef XENSIM_TRACE_H
#define XENSIM_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/xs_wire.h>
#include <xensim/xensim.h>

#ifdef __cplusplus
extern "C" {
#endif

enum xensim_trace_kind {
    /* A vCPU enters or leaves a hypercall: hypercall, subop; rc on exit. */
    XENSIM_TRACE_HYPERCALL_ENTER = 1,
    XENSIM_TRACE_HYPERCALL_EXIT,
    /* EVTCHNOP_send (or a host process's send): port, to remote_dom's
     * remote_port; seq numbers it. An IPI names its own domain and port. */
    XENSIM_TRACE_SEND,
    /* A vCPU's evtchn_upcall_pending went from 0 to 1 for port, and the
     * vCPU is kicked: who is the raised vCPU, seq the last send to it. */
    XENSIM_TRACE_RAISE,
    /* The vCPU enters or leaves its event callback; on enter, seq is the
     * last send to it since its previous upcall (0: none, or untraced). */
    XENSIM_TRACE_UPCALL_ENTER,
    XENSIM_TRACE_UPCALL_EXIT,
    /* The vCPU blocks (SCHEDOP_block or poll, paused, idle) and wakes. */
    XENSIM_TRACE_BLOCK,
    XENSIM_TRACE_WAKE,
    /* One element of a map, unmap or copy batch, after it is done: rc is
     * its GNTST_* status. who is the mapper (a host process has no vCPU);
     * remote_dom the granter, ref its grant, handle the mapping, frame the
     * granter's frame. A copy names its granted side (the source's if it
     * is a grant, else the destination's) there, both sides in u.copy. */
    XENSIM_TRACE_MAP,
    XENSIM_TRACE_UNMAP,
    XENSIM_TRACE_COPY,
    /* A XenStore message to or from domid's connection (reported by the
     * daemon through xensim_trace_xenstore_msg). */
    XENSIM_TRACE_XENSTORE_MSG,
    /* A narration line (xensim_set_narrator), as the narrator got it: who
     * speaks and what it says, in u.narrate; seq numbers the lines from 1.
     * domid and vcpu are the vCPU that spoke (a host thread: vcpu is
     * XENSIM_TRACE_NO_VCPU). */
    XENSIM_TRACE_NARRATE,
    /* A program's own note (xensim_trace_note): a name and a JSON object,
     * in u.note, for what the hypervisor cannot see (a driver's ring). */
    XENSIM_TRACE_NOTE,
};
#define XENSIM_TRACE_NR_KINDS (XENSIM_TRACE_NOTE + 1)

/* vcpu of an event that no vCPU caused: a host thread's send or map. */
#define XENSIM_TRACE_NO_VCPU 0xffffffffu

struct xensim_trace_event {
    enum xensim_trace_kind kind;
    uint64_t ts_ns;                 /* simulator time */
    /* Who: the domain and vCPU the point is about. */
    domid_t domid;
    uint32_t vcpu;                  /* or XENSIM_TRACE_NO_VCPU */
    /* What; a field a kind does not name is 0. */
    uint64_t seq;
    evtchn_port_t port;
    domid_t remote_dom;
    evtchn_port_t remote_port;
    grant_ref_t ref;
    grant_handle_t handle;
    xen_pfn_t frame;
    uint32_t hypercall;             /* __HYPERVISOR_* */
    uint32_t subop;                 /* its cmd: EVTCHNOP_*, GNTTABOP_*, SCHEDOP_* */
    long rc;
    union {
        struct {
            uint32_t remote_vcpu;   /* the vCPU the remote port notifies */
            bool to_host;           /* a host process consumes the remote port */
            bool was_pending;       /* the remote port was already pending */
        } send;
        struct {
            uint64_t deadline;      /* sim ns, 0: none */
        } block;
        struct {
            bool woken;             /* false: the deadline passed */
        } wake;
        struct {
            uint32_t flags;         /* GNTMAP_*; for an unmap, the kinds removed */
            uint64_t host_addr;
        } map;
        struct {
            domid_t src_dom, dst_dom;
            uint64_t src, dst;      /* a grant ref, or a frame (GNTCOPY_*_gref in flags) */
            uint16_t src_offset, dst_offset, len;
            uint16_t flags;         /* GNTCOPY_* */
        } copy;
        struct {
            uint32_t type;          /* XS_* */
            uint32_t req_id, tx_id, len;
            bool reply;             /* daemon to client */
            const void *payload;    /* len bytes, not NUL-terminated */
        } xenstore;
        struct {
            const char *who;        /* "[xen]", "[dom1 vcpu0]", "[toolstack]" */
            const char *text;       /* the line after who */
        } narrate;
        struct {
            const char *name;
            const char *args;       /* a JSON object, as text */
        } note;
    } u;
};

typedef void (*xensim_trace_fn)(struct xensim *sim, const struct xensim_trace_event *ev,
                                void *arg);

/* Adds a subscriber: 0, -EEXIST if (fn, arg) already is one, -ENOMEM. */
int xensim_trace_subscribe(struct xensim *sim, xensim_trace_fn fn, void *arg);
/* Removes it: 0, or -ENOENT. Once it returns, fn is not running and is
 * not called again, so arg may be freed. xensim_destroy() removes all. */
int xensim_trace_unsubscribe(struct xensim *sim, xensim_trace_fn fn, void *arg);

/* The point for a XenStore daemon: one message of domid's connection,
 * its header and payload as on the wire. Costs a branch with no
 * subscriber. */
void xensim_trace_xenstore_msg(struct xensim *sim, domid_t domid, const struct xsd_sockmsg *msg,
                               const void *payload, bool reply);

/* A program adds an event of its own to the trace: name and args (the
 * text of one JSON object, "{...}"; NULL for none) reach every
 * subscriber as XENSIM_TRACE_NOTE, and the Chrome trace writes them as
 * an instant event with those args. domid is whom it is about. 0, or
 * -EINVAL for args that do not start as an object. Costs a branch with no
 * subscriber. A subscriber may note, but must not note again on the
 * notes it is handed. */
int xensim_trace_note(struct xensim *sim, domid_t domid, const char *name, const char *args);

/* The Chrome trace's events as text, to a function rather than a file
 * (a live view streams them): fn receives each event object, one at a
 * time, under the rules of a subscriber, starting with the names of the
 * domains that exist. Several may run, beside xensim_trace_start's file.
 * 0 and the handle in *out, or -ENOMEM. */
struct xensim_trace_json;
typedef void (*xensim_trace_json_fn)(const char *json, size_t len, void *arg);
int xensim_trace_json_start(struct xensim *sim, xensim_trace_json_fn fn, void *arg,
                            struct xensim_trace_json **out);
/* Once it returns, fn is not running and is not called again. Call it
 * before xensim_destroy(). */
void xensim_trace_json_stop(struct xensim *sim, struct xensim_trace_json *t);

/* "send", "upcall_enter", ...; "unknown" for anything else. */
const char *xensim_trace_kind_name(enum xensim_trace_kind kind);
/* Xen's name of a hypercall and sub-op: "EVTCHNOP_send", "set_timer_op",
 * the hypercall's own name for an unknown sub-op, "hypercall" for an
 * unknown hypercall. */
const char *xensim_trace_op_name(uint32_t hypercall, uint32_t subop);

#ifdef __cplusplus
}
#endif
#endif
