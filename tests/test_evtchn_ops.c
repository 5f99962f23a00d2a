/*
 * Event channel operations against Xen's rules (spec §1.1-1.4, §1.7, §8):
 * each op's checks in Xen's order and errno, and the state it leaves.
 * Scripts of rows, plus bad-input cases.
 *
 * Every row names its post-state: the port it acted on and, where there
 * is one, the peer port, each as EVTCHNOP_status reports it to dom0 and as
 * its owner's shared_info holds its pending and mask bits. Around every
 * row the script also snapshots the first 128 ports of every domain, so a
 * port the row does not name must be exactly as it was.
 */
#include <signal.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include "evtchn_helpers.h"

#define SELF DOMID_SELF
#define X (-1)          /* "not applicable" in a row */
/* Xen leaves u untouched for closed and IPI ports, so they have no
 * remote or VIRQ to check. */
#define NA X
/* A PV vCPU's 100 Hz ticker (periodic_period = 10 ms) raises VIRQ_TIMER
 * whenever Xen likes, so the pending bit of a VIRQ_TIMER port is not
 * defined; it is the one wildcard a script may use. */
#define TICK X

/* Pseudo-ops a script uses between real hypercalls. */
enum {
    P_CHECK = -100,     /* more post-state for the row above */
    P_CLRPEND,          /* guest `who` clears the pending bit of port a */
    P_SETMASK,          /* guest `who` sets (b = 1) or clears the mask bit of port a */
    P_PAUSE,            /* the toolstack pauses domain a */
    P_UNPAUSE,
    P_NPORTS,           /* xensim_domain_info(a).ports_in_use == b (raw count) */
};

enum { CLOSED = EVTCHNSTAT_closed, UNB = EVTCHNSTAT_unbound, IDOM = EVTCHNSTAT_interdomain,
       VIRQ = EVTCHNSTAT_virq, IPI = EVTCHNSTAT_ipi };

/* What a row expects of one port afterwards. */
enum { PS_NONE, PS_STATUS, PS_INVALID };

/* PS_STATUS: (dom, port) has this status, notify vCPU and pending/mask
 * bits; r1 is the unbound port's remote domain, the interdomain port's
 * remote domain (r2 its port) or the VIRQ. PS_INVALID: the port is not
 * valid, EVTCHNOP_status says -EINVAL. */
struct exp_state {
    int kind;
    int64_t dom, port, status, r1, r2, vcpu, pend, mask;
};

struct row {
    int line;
    domid_t who;
    int op;
    int64_t a, b;
    long rc;
    int64_t out;        /* OUT port, or the status value for EVTCHNOP_status */
    struct exp_state st, peer;
};

#define ST(d, p, s, r1, r2, v, pend, mask) { PS_STATUS, d, p, s, r1, r2, v, pend, mask }
#define BAD(d, p) { PS_INVALID, d, p, X, X, X, X, X, X }
#define NOPEER { PS_NONE, 0, 0, 0, 0, 0, 0, 0, 0 }
#define R(who, op, a, b, rc, out, st, peer) { __LINE__, who, op, a, b, rc, out, st, peer }
#define CHK(st, peer) { __LINE__, 0, P_CHECK, 0, 0, 0, X, st, peer }

#define ALLOC EVTCHNOP_alloc_unbound
#define BIND EVTCHNOP_bind_interdomain
#define BVIRQ EVTCHNOP_bind_virq
#define BIPI EVTCHNOP_bind_ipi
#define CLOSE EVTCHNOP_close
#define SEND EVTCHNOP_send
#define STATUS EVTCHNOP_status
#define BVCPU EVTCHNOP_bind_vcpu
#define UNMASK EVTCHNOP_unmask
#define RESET EVTCHNOP_reset

static const char *op_name(int op)
{
    switch (op) {
    case ALLOC: return "alloc_unbound";
    case BIND: return "bind_interdomain";
    case BVIRQ: return "bind_virq";
    case BIPI: return "bind_ipi";
    case CLOSE: return "close";
    case SEND: return "send";
    case STATUS: return "status";
    case BVCPU: return "bind_vcpu";
    case UNMASK: return "unmask";
    case RESET: return "reset";
    case EVTCHNOP_bind_pirq: return "bind_pirq";
    case EVTCHNOP_init_control: return "init_control";
    case EVTCHNOP_expand_array: return "expand_array";
    case EVTCHNOP_set_priority: return "set_priority";
    default: return "unknown cmd";
    }
}

#define SENTINEL 0xA5A5A5A5u

static bool has_out(int op)
{
    return op == ALLOC || op == BIND || op == BVIRQ || op == BIPI || op == STATUS;
}

/* A row is checked before it runs: it names a post-state, with no
 * wildcard but those Xen leaves undefined, and an interdomain port comes
 * with its peer. */
static void check_spec_one(const struct row *r, const struct exp_state *e, const char *which)
{
    if (e->kind != PS_STATUS)
        return;
    bool virq_timer = e->status == VIRQ && e->r1 == VIRQ_TIMER;
    bool has_r1 = e->status == UNB || e->status == IDOM || e->status == VIRQ;
    ck_assert_msg(e->status != X && e->vcpu != X && e->mask != X &&
                  (e->pend != X || virq_timer) && (e->r1 != X) == has_r1 &&
                  (e->r2 != X) == (e->status == IDOM),
                  "line %d: the %s state has a wildcard Xen does not leave undefined", r->line, which);
}

static void check_spec(const struct row *r)
{
    ck_assert_msg(r->st.kind != PS_NONE, "line %d names no post-state", r->line);
    check_spec_one(r, &r->st, "port's");
    check_spec_one(r, &r->peer, "peer's");
    if (r->st.kind == PS_STATUS && r->st.status == IDOM)
        ck_assert_msg(r->peer.kind == PS_STATUS && r->peer.dom == r->st.r1 &&
                      r->peer.port == r->st.r2,
                      "line %d: an interdomain port's row must give its peer's state", r->line);
    if (r->op != P_CHECK && has_out(r->op) && r->rc == 0)
        ck_assert_msg(r->out != X, "line %d: a successful %s must give its OUT value", r->line,
                      op_name(r->op));
}

static void exec_op(struct xensim *sim, const struct row *r)
{
    union ev_arg a;
    uint32_t *outp = NULL;

    memset(&a, 0xA5, sizeof(a));
    switch (r->op) {
    case ALLOC:
        a.alloc_unbound.dom = (domid_t)r->a;
        a.alloc_unbound.remote_dom = (domid_t)r->b;
        outp = &a.alloc_unbound.port;
        break;
    case BIND:
        a.bind_interdomain.remote_dom = (domid_t)r->a;
        a.bind_interdomain.remote_port = (evtchn_port_t)r->b;
        outp = &a.bind_interdomain.local_port;
        break;
    case BVIRQ:
        a.bind_virq.virq = (uint32_t)r->a;
        a.bind_virq.vcpu = (uint32_t)r->b;
        outp = &a.bind_virq.port;
        break;
    case BIPI:
        a.bind_ipi.vcpu = (uint32_t)r->a;
        outp = &a.bind_ipi.port;
        break;
    case CLOSE:
        a.close.port = (evtchn_port_t)r->a;
        break;
    case SEND:
        a.send.port = (evtchn_port_t)r->a;
        break;
    case STATUS:
        a.status.dom = (domid_t)r->a;
        a.status.port = (evtchn_port_t)r->b;
        outp = &a.status.status;
        break;
    case BVCPU:
        a.bind_vcpu.port = (evtchn_port_t)r->a;
        a.bind_vcpu.vcpu = (uint32_t)r->b;
        break;
    case UNMASK:
        a.unmask.port = (evtchn_port_t)r->a;
        break;
    case RESET:
        a.reset.dom = (domid_t)r->a;
        break;
    case EVTCHNOP_bind_pirq:
        a.bind_pirq.pirq = (uint32_t)r->a;
        a.bind_pirq.flags = (uint32_t)r->b;
        outp = &a.bind_pirq.port;
        break;
    case EVTCHNOP_init_control:
        memset(&a, 0, sizeof(a));
        a.init_control.control_gfn = (uint64_t)r->a;
        a.init_control.offset = (uint32_t)r->b;
        break;
    case EVTCHNOP_expand_array:
        a.expand_array.array_gfn = (uint64_t)r->a;
        break;
    case EVTCHNOP_set_priority:
        a.set_priority.port = (evtchn_port_t)r->a;
        a.set_priority.priority = (uint32_t)r->b;
        break;
    default:
        memset(&a, 0, sizeof(a));
        break;
    }

    long rc = ev_hc(sim, r->who, r->op, &a);
    ck_assert_msg(rc == r->rc, "line %d: dom%u %s(%lld, %lld) returned %s, expected %s",
                  r->line, r->who, op_name(r->op), (long long)r->a, (long long)r->b,
                  xensim_strerror((int)rc), xensim_strerror((int)r->rc));
    if (!outp)
        return;
    if (rc == 0)
        ck_assert_msg(*outp == (uint32_t)r->out, "line %d: dom%u %s gave %u, expected %lld",
                      r->line, r->who, op_name(r->op), *outp, (long long)r->out);
    else
        ck_assert_msg(*outp == SENTINEL,
                      "line %d: %s failed but wrote its OUT field (0x%x); Xen copies back only on success",
                      r->line, op_name(r->op), *outp);
}

/* The first ports of every domain as their owners see them. */
#define SNAP_DOMS 3
#define SNAP_PORTS 128

struct port_snap {
    long rc;
    evtchn_status_t st;
    bool pending, masked;
};

struct dom_snap {
    struct port_snap p[SNAP_PORTS];
};

/* Status as dom0 sees it (a paused domain makes no hypercalls, even in a
 * xensim_domain_call), bits as the owner's shared_info holds them. */
static void snap_status_fn(void *arg)
{
    struct dom_snap *s = arg;
    for (domid_t d = 0; d < SNAP_DOMS; d++) {
        for (evtchn_port_t p = 0; p < SNAP_PORTS; p++) {
            struct port_snap *ps = &s[d].p[p];
            memset(&ps->st, 0, sizeof(ps->st));
            ps->st.dom = d;
            ps->st.port = p;
            ps->rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &ps->st);
        }
    }
}

static void snap_bits_fn(void *arg)
{
    struct dom_snap *s = arg;
    for (evtchn_port_t p = 0; p < SNAP_PORTS; p++) {
        s->p[p].pending = g_pending(p);
        s->p[p].masked = g_masked(p);
    }
}

static void snapshot(struct xensim *sim, struct dom_snap *s)
{
    th_call(sim, 0, 0, snap_status_fn, s);
    for (domid_t d = 0; d < SNAP_DOMS; d++)
        th_call(sim, d, 0, snap_bits_fn, &s[d]);
}

static bool snap_same(const struct port_snap *a, const struct port_snap *b)
{
    bool ticks = a->rc == 0 && a->st.status == VIRQ && a->st.u.virq == VIRQ_TIMER;
    return a->rc == b->rc && !memcmp(&a->st, &b->st, sizeof(a->st)) && a->masked == b->masked &&
           (ticks || a->pending == b->pending);
}

static bool names(const struct exp_state *e, domid_t d, evtchn_port_t p)
{
    return e->kind != PS_NONE && e->dom == d && e->port == p;
}

static void check_state(struct xensim *sim, const struct row *r, const struct exp_state *e)
{
    evtchn_status_t st;
    domid_t dom = (domid_t)e->dom;
    evtchn_port_t port = (evtchn_port_t)e->port;

    if (e->kind == PS_NONE)
        return;
    long rc = ev_status(sim, 0, dom, port, &st);
    if (e->kind == PS_INVALID) {
        ck_assert_msg(rc == -EINVAL, "line %d: dom%u port %u should not be valid, status gave %s",
                      r->line, dom, port, xensim_strerror((int)rc));
        return;
    }
    ck_assert_msg(rc == 0, "line %d: dom0 status(dom%u, %u) failed: %s", r->line, dom, port,
                  xensim_strerror((int)rc));
    ck_assert_msg(st.status == (uint32_t)e->status,
                  "line %d: dom%u port %u has status %u, expected %lld", r->line, dom, port,
                  st.status, (long long)e->status);
    ck_assert_msg(st.vcpu == (uint32_t)e->vcpu, "line %d: dom%u port %u notifies vcpu %u, expected %lld",
                  r->line, dom, port, st.vcpu, (long long)e->vcpu);
    if (e->r1 != X) {
        uint32_t got = st.status == UNB ? st.u.unbound.dom
                     : st.status == IDOM ? st.u.interdomain.dom
                     : st.u.virq;
        ck_assert_msg(got == (uint32_t)e->r1, "line %d: dom%u port %u: remote/virq %u, expected %lld",
                      r->line, dom, port, got, (long long)e->r1);
    }
    if (e->r2 != X)
        ck_assert_msg(st.u.interdomain.port == (uint32_t)e->r2,
                      "line %d: dom%u port %u: remote port %u, expected %lld", r->line, dom, port,
                      st.u.interdomain.port, (long long)e->r2);
    struct ev_bits_call c = { .port = port };
    th_call(sim, dom, 0, ev_bits_fn, &c);
    if (e->pend != X)
        ck_assert_msg(c.pending == (e->pend != 0), "line %d: dom%u port %u pending=%d, expected %lld",
                      r->line, dom, port, c.pending, (long long)e->pend);
    ck_assert_msg(c.masked == (e->mask != 0), "line %d: dom%u port %u masked=%d, expected %lld",
                  r->line, dom, port, c.masked, (long long)e->mask);
}

static void exec_row(struct xensim *sim, const struct row *r)
{
    struct xensim_domain_info info;

    switch (r->op) {
    case P_CLRPEND:
        ev_clear_pending(sim, r->who, (evtchn_port_t)r->a);
        break;
    case P_SETMASK:
        ev_set_mask(sim, r->who, (evtchn_port_t)r->a, r->b != 0);
        break;
    case P_PAUSE:
        ck_assert_int_eq(xensim_domain_pause(sim, (domid_t)r->a), 0);
        break;
    case P_UNPAUSE:
        ck_assert_int_eq(xensim_domain_unpause(sim, (domid_t)r->a), 0);
        break;
    case P_NPORTS:
        ck_assert_int_eq(xensim_domain_info(sim, (domid_t)r->a, &info), 0);
        ck_assert_msg(info.ports_in_use == (unsigned int)r->b,
                      "line %d: dom%lld has %u ports in use, expected %lld", r->line,
                      (long long)r->a, info.ports_in_use, (long long)r->b);
        break;
    default:
        exec_op(sim, r);
        break;
    }
}

/* A row and the P_CHECK rows after it: run it, check every state they
 * name, and that every port they do not name is unchanged. */
static void run_rows(struct xensim *sim, const struct row *rows, size_t n)
{
    static struct dom_snap before[SNAP_DOMS], after[SNAP_DOMS];

    for (size_t i = 0; i < n; i++)
        check_spec(&rows[i]);
    ck_assert_msg(rows[0].op != P_CHECK, "a script cannot start with a check");
    for (size_t i = 0; i < n;) {
        size_t end = i + 1;
        while (end < n && rows[end].op == P_CHECK)
            end++;
        snapshot(sim, before);
        exec_row(sim, &rows[i]);
        snapshot(sim, after);
        for (domid_t d = 0; d < SNAP_DOMS; d++) {
            for (evtchn_port_t p = 0; p < SNAP_PORTS; p++) {
                bool named = false;
                for (size_t k = i; k < end; k++)
                    named |= names(&rows[k].st, d, p) || names(&rows[k].peer, d, p);
                const struct port_snap *b = &before[d].p[p], *a = &after[d].p[p];
                ck_assert_msg(named || snap_same(b, a),
                              "line %d changed dom%u port %u, which it does not name: status %ld/%u -> "
                              "%ld/%u, vcpu %u -> %u, pending %d -> %d, masked %d -> %d",
                              rows[i].line, d, p, b->rc, b->st.status, a->rc, a->st.status,
                              b->st.vcpu, a->st.vcpu, b->pending, a->pending, b->masked, a->masked);
            }
        }
        for (size_t k = i; k < end; k++) {
            check_state(sim, &rows[k], &rows[k].st);
            check_state(sim, &rows[k], &rows[k].peer);
        }
        i = end;
    }
}

/* dom0 (privileged), dom1 (2 vCPUs) and dom2 (1 vCPU), both unprivileged.
 * The builder gave each guest store port 1 and console port 2 (§1.6). */
struct fix {
    struct xensim *sim;
    unsigned int base[3];
};

static void fix_setup(struct fix *f)
{
    f->sim = th_sim_new();
    struct xensim_domain_config c1 = { .name = "guest1", .nr_vcpus = 2 };
    ck_assert_int_eq(th_domain_cfg(f->sim, &c1), 1);
    ck_assert_int_eq(th_domain(f->sim, "guest2", false, XENSIM_GNTTAB_STRICT), 2);
    for (domid_t d = 0; d < 3; d++)
        f->base[d] = th_ports_in_use(f->sim, d);
}

static void fix_teardown(struct fix *f)
{
    for (domid_t d = 0; d < 3; d++)
        ck_assert_msg(th_ports_in_use(f->sim, d) == f->base[d], "dom%u leaks ports: %u in use, %u at start",
                      d, th_ports_in_use(f->sim, d), f->base[d]);
    th_sim_free_checked(f->sim);
}

#define RUN_SCRIPT(rows)                                       \
    do {                                                       \
        struct fix f;                                          \
        fix_setup(&f);                                         \
        run_rows(f.sim, rows, sizeof(rows) / sizeof(rows[0])); \
        fix_teardown(&f);                                      \
    } while (0)

/* Shorthands for the states that recur. */
#define FREE(d, p) ST(d, p, CLOSED, NA, NA, 0, 0, 0)

/* Port 0, the builder's ports, alloc/bind/send/close and their state. */
static const struct row lifecycle_rows[] = {
    /* who  op      a     b        rc       out     the port afterwards, and its peer */
    R(1, STATUS, SELF, 0,       0,       CLOSED, FREE(1, 0),                           NOPEER),
    R(1, CLOSE,  0,    0,       -EINVAL, X,      FREE(1, 0),                           NOPEER),
    R(1, SEND,   0,    0,       -EINVAL, X,      FREE(1, 0),                           NOPEER),
    R(1, UNMASK, 0,    0,       0,       X,      FREE(1, 0),                           NOPEER),
    R(1, STATUS, SELF, 1,       0,       UNB,    ST(1, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(1, STATUS, SELF, 2,       0,       UNB,    ST(1, 2, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(1, STATUS, 1,    1,       0,       UNB,    ST(1, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(1, ALLOC,  SELF, 0,       0,       3,      ST(1, 3, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(1, ALLOC,  SELF, 2,       0,       4,      ST(1, 4, UNB, 2, NA, 0, 0, 0),        NOPEER),
    /* remote DOMID_SELF means the caller */
    R(1, ALLOC,  SELF, SELF,    0,       5,      ST(1, 5, UNB, 1, NA, 0, 0, 0),        NOPEER),
    /* remote_dom is not checked for existence; own numeric domid is fine */
    R(1, ALLOC,  1,    0x1234,  0,       6,      ST(1, 6, UNB, 0x1234, NA, 0, 0, 0),   NOPEER),
    R(1, ALLOC,  SELF, DOMID_XEN, 0,     7,      ST(1, 7, UNB, DOMID_XEN, NA, 0, 0, 0), NOPEER),
    R(1, CLOSE,  7,    0,       0,       X,      FREE(1, 7),                           NOPEER),
    /* lowest free port first, reused after close */
    R(1, CLOSE,  4,    0,       0,       X,      FREE(1, 4),                           NOPEER),
    R(1, ALLOC,  SELF, 2,       0,       4,      ST(1, 4, UNB, 2, NA, 0, 0, 0),        NOPEER),
    /* bind marks the binder's new port pending, not the remote's */
    R(0, BIND,   1,    3,       0,       1,      ST(0, 1, IDOM, 1, 3, 0, 1, 0),        ST(1, 3, IDOM, 0, 1, 0, 0, 0)),
    R(2, BIND,   1,    4,       0,       3,      ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 0, 0)),
    /* bind failures: the local port allocated for it is released again,
     * the remote port is untouched */
    R(2, BIND,   1,    3,       -EINVAL, X,      FREE(2, 4),                           ST(1, 3, IDOM, 0, 1, 0, 0, 0)),
    R(2, BIND,   1,    5,       -EINVAL, X,      FREE(2, 4),                           ST(1, 5, UNB, 1, NA, 0, 0, 0)),
    R(2, BIND,   1,    6,       -EINVAL, X,      FREE(2, 4),                           ST(1, 6, UNB, 0x1234, NA, 0, 0, 0)),
    R(2, BIND,   1,    0,       -EINVAL, X,      FREE(2, 4),                           FREE(1, 0)),
    R(2, BIND,   1,    9,       -EINVAL, X,      FREE(2, 4),                           FREE(1, 9)),
    R(2, BIND,   1,    1024,    -EINVAL, X,      FREE(2, 4),                           BAD(1, 1024)),
    R(2, BIND,   1,    0xFFFFFFFF, -EINVAL, X,   FREE(2, 4),                           BAD(1, 0xFFFFFFFF)),
    R(2, BIND,   EV_NODOM, 1,   -ESRCH,  X,      FREE(2, 4),                           NOPEER),
    R(2, BIND,   1,    1,       -EINVAL, X,      FREE(2, 4),                           ST(1, 1, UNB, 0, NA, 0, 0, 0)),
    R(0, P_NPORTS, 2,  3,       0,       X,      ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 0, 0)),
    /* loopback through DOMID_SELF */
    R(1, BIND,   SELF, 5,       0,       7,      ST(1, 7, IDOM, 1, 5, 0, 1, 0),        ST(1, 5, IDOM, 1, 7, 0, 0, 0)),
    R(1, P_CLRPEND, 7, 0,       0,       X,      ST(1, 7, IDOM, 1, 5, 0, 0, 0),        ST(1, 5, IDOM, 1, 7, 0, 0, 0)),
    R(1, SEND,   5,    0,       0,       X,      ST(1, 7, IDOM, 1, 5, 0, 1, 0),        ST(1, 5, IDOM, 1, 7, 0, 0, 0)),
    R(1, SEND,   7,    0,       0,       X,      ST(1, 5, IDOM, 1, 7, 0, 1, 0),        ST(1, 7, IDOM, 1, 5, 0, 1, 0)),
    /* interdomain send raises the remote port; a second send merges */
    R(0, SEND,   1,    0,       0,       X,      ST(1, 3, IDOM, 0, 1, 0, 1, 0),        ST(0, 1, IDOM, 1, 3, 0, 1, 0)),
    R(0, SEND,   1,    0,       0,       X,      ST(1, 3, IDOM, 0, 1, 0, 1, 0),        ST(0, 1, IDOM, 1, 3, 0, 1, 0)),
    R(2, SEND,   3,    0,       0,       X,      ST(1, 4, IDOM, 2, 3, 0, 1, 0),        ST(2, 3, IDOM, 1, 4, 0, 1, 0)),
    /* send on unbound: dropped, 0 */
    R(1, SEND,   6,    0,       0,       X,      ST(1, 6, UNB, 0x1234, NA, 0, 0, 0),   NOPEER),
    R(1, SEND,   1,    0,       0,       X,      ST(1, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    /* send on free or out of range: -EINVAL */
    R(1, SEND,   9,    0,       -EINVAL, X,      FREE(1, 9),                           NOPEER),
    R(1, SEND,   1024, 0,       -EINVAL, X,      BAD(1, 1024),                         NOPEER),
    /* unmask: 0 on a free (valid) port, and it does nothing there, not
     * even clear the mask (Xen unmasks only usable ports); -EINVAL out
     * of range */
    R(1, UNMASK, 9,    0,       0,       X,      FREE(1, 9),                           NOPEER),
    R(1, P_SETMASK, 9, 1,       0,       X,      ST(1, 9, CLOSED, NA, NA, 0, 0, 1),    NOPEER),
    R(1, UNMASK, 9,    0,       0,       X,      ST(1, 9, CLOSED, NA, NA, 0, 0, 1),    NOPEER),
    R(1, P_SETMASK, 0, 1,       0,       X,      ST(1, 0, CLOSED, NA, NA, 0, 0, 1),    NOPEER),
    R(1, UNMASK, 0,    0,       0,       X,      ST(1, 0, CLOSED, NA, NA, 0, 0, 1),    NOPEER),
    R(1, P_SETMASK, 0, 0,       0,       X,      FREE(1, 0),                           NOPEER),
    R(1, P_SETMASK, 9, 0,       0,       X,      FREE(1, 9),                           NOPEER),
    R(1, UNMASK, 1024, 0,       -EINVAL, X,      BAD(1, 1024),                         NOPEER),
    R(1, UNMASK, 0xFFFFFFFF, 0, -EINVAL, X,      BAD(1, 0xFFFFFFFF),                   NOPEER),
    /* status: port range, then XSM; missing domain first */
    R(1, STATUS, SELF, 1024,    -EINVAL, X,      BAD(1, 1024),                         NOPEER),
    R(1, STATUS, 2,    1,       -EPERM,  X,      ST(2, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(1, STATUS, 2,    1024,    -EINVAL, X,      BAD(2, 1024),                         NOPEER),
    R(1, STATUS, EV_NODOM, 1,   -ESRCH,  X,      ST(1, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(1, STATUS, 0,    1,       -EPERM,  X,      ST(0, 1, IDOM, 1, 3, 0, 1, 0),        ST(1, 3, IDOM, 0, 1, 0, 1, 0)),
    R(0, STATUS, 2,    3,       0,       IDOM,   ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 1, 0)),
    /* closing an interdomain port: the peer goes unbound to the closer,
     * keeps its pending and mask bits, gets no event */
    R(1, P_SETMASK, 3, 1,       0,       X,      ST(1, 3, IDOM, 0, 1, 0, 1, 1),        ST(0, 1, IDOM, 1, 3, 0, 1, 0)),
    R(0, CLOSE,  1,    0,       0,       X,      FREE(0, 1),                           ST(1, 3, UNB, 0, NA, 0, 1, 1)),
    R(1, P_CLRPEND, 4, 0,       0,       X,      ST(1, 4, IDOM, 2, 3, 0, 0, 0),        ST(2, 3, IDOM, 1, 4, 0, 1, 0)),
    R(2, CLOSE,  3,    0,       0,       X,      FREE(2, 3),                           ST(1, 4, UNB, 2, NA, 0, 0, 0)),
    /* closing clears the pending bit but not the mask */
    R(1, CLOSE,  3,    0,       0,       X,      ST(1, 3, CLOSED, NA, NA, 0, 0, 1),    NOPEER),
    R(1, ALLOC,  SELF, 0,       0,       3,      ST(1, 3, UNB, 0, NA, 0, 0, 1),        NOPEER),
    R(1, P_SETMASK, 3, 0,       0,       X,      ST(1, 3, UNB, 0, NA, 0, 0, 0),        NOPEER),
    /* the reconnect path: the closer binds again to the same port */
    R(2, BIND,   1,    4,       0,       3,      ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 0, 0)),
    R(2, CLOSE,  3,    0,       0,       X,      FREE(2, 3),                           ST(1, 4, UNB, 2, NA, 0, 0, 0)),
    /* closing one end of a loopback pair; the other still pending */
    R(1, CLOSE,  5,    0,       0,       X,      FREE(1, 5),                           ST(1, 7, UNB, 1, NA, 0, 1, 0)),
    R(1, CLOSE,  7,    0,       0,       X,      FREE(1, 7),                           NOPEER),
    R(1, CLOSE,  7,    0,       -EINVAL, X,      FREE(1, 7),                           NOPEER),
    R(1, CLOSE,  3,    0,       0,       X,      FREE(1, 3),                           NOPEER),
    R(1, CLOSE,  4,    0,       0,       X,      FREE(1, 4),                           NOPEER),
    R(1, CLOSE,  6,    0,       0,       X,      FREE(1, 6),                           NOPEER),
    R(1, CLOSE,  1024, 0,       -EINVAL, X,      BAD(1, 1024),                         NOPEER),
    R(1, CLOSE,  0xFFFFFFFF, 0, -EINVAL, X,      BAD(1, 0xFFFFFFFF),                   NOPEER),
    R(1, CLOSE,  9,    0,       -EINVAL, X,      FREE(1, 9),                           NOPEER),
};

/* Default XSM: only a privileged domain acts for another; checks in order. */
static const struct row xsm_rows[] = {
    /* alloc_unbound: ESRCH, then allocation, then XSM (port released) */
    R(1, ALLOC,  2,    0,       -EPERM,  X,      FREE(2, 3),                           NOPEER),
    R(0, P_NPORTS, 2,  2,       0,       X,      FREE(2, 3),                           NOPEER),
    R(1, ALLOC,  EV_NODOM, 0,   -ESRCH,  X,      FREE(1, 3),                           NOPEER),
    R(0, ALLOC,  EV_NODOM, 0,   -ESRCH,  X,      FREE(0, 1),                           NOPEER),
    R(1, ALLOC,  0,    SELF,    -EPERM,  X,      FREE(0, 1),                           NOPEER),
    /* privileged caller: remote DOMID_SELF is the caller, not dom */
    R(0, ALLOC,  1,    SELF,    0,       3,      ST(1, 3, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(0, ALLOC,  1,    2,       0,       4,      ST(1, 4, UNB, 2, NA, 0, 0, 0),        NOPEER),
    R(2, BIND,   1,    4,       0,       3,      ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 0, 0)),
    R(0, ALLOC,  SELF, 1,       0,       1,      ST(0, 1, UNB, 1, NA, 0, 0, 0),        NOPEER),
    R(1, BIND,   0,    1,       0,       5,      ST(1, 5, IDOM, 0, 1, 0, 1, 0),        ST(0, 1, IDOM, 1, 5, 0, 0, 0)),
    /* status of another domain */
    R(1, STATUS, 2,    3,       -EPERM,  X,      ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 0, 0)),
    R(2, STATUS, 1,    4,       -EPERM,  X,      ST(1, 4, IDOM, 2, 3, 0, 0, 0),        ST(2, 3, IDOM, 1, 4, 0, 1, 0)),
    R(0, STATUS, 2,    3,       0,       IDOM,   ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 0, 0)),
    R(2, STATUS, 2,    3,       0,       IDOM,   ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 0, 0)),
    /* reset: ESRCH, then XSM, then "not paused by the toolstack" */
    R(1, RESET,  EV_NODOM, 0,   -ESRCH,  X,      ST(1, 3, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(0, RESET,  EV_NODOM, 0,   -ESRCH,  X,      ST(0, 1, IDOM, 1, 5, 0, 0, 0),        ST(1, 5, IDOM, 0, 1, 0, 1, 0)),
    R(1, RESET,  2,    0,       -EPERM,  X,      ST(2, 3, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 2, 3, 0, 0, 0)),
    R(1, RESET,  0,    0,       -EPERM,  X,      ST(0, 1, IDOM, 1, 5, 0, 0, 0),        ST(1, 5, IDOM, 0, 1, 0, 1, 0)),
    R(0, RESET,  1,    0,       -EINVAL, X,      ST(1, 3, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(0, P_NPORTS, 1,  5,       0,       X,      ST(1, 5, IDOM, 0, 1, 0, 1, 0),        ST(0, 1, IDOM, 1, 5, 0, 0, 0)),
    /* reset of oneself closes every port, the builder's too; port 0 stays
     * reserved; the peers go unbound to the domain reset */
    R(2, RESET,  SELF, 0,       0,       X,      FREE(2, 3),                           ST(1, 4, UNB, 2, NA, 0, 0, 0)),
    CHK(FREE(2, 1),                                                                    FREE(2, 2)),
    R(0, P_NPORTS, 2,  0,       0,       X,      FREE(2, 1),                           NOPEER),
    R(2, CLOSE,  0,    0,       -EINVAL, X,      FREE(2, 0),                           NOPEER),
    R(2, ALLOC,  SELF, 0,       0,       1,      ST(2, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(2, RESET,  2,    0,       0,       X,      FREE(2, 1),                           NOPEER),
    /* a paused domain may be reset by the toolstack */
    R(0, P_PAUSE, 1,   0,       0,       X,      ST(1, 5, IDOM, 0, 1, 0, 1, 0),        ST(0, 1, IDOM, 1, 5, 0, 0, 0)),
    R(0, RESET,  1,    0,       0,       X,      FREE(1, 5),                           ST(0, 1, UNB, 1, NA, 0, 0, 0)),
    CHK(FREE(1, 1),                                                                    FREE(1, 2)),
    CHK(FREE(1, 3),                                                                    FREE(1, 4)),
    R(0, P_NPORTS, 1,  0,       0,       X,      FREE(1, 3),                           NOPEER),
    R(0, P_UNPAUSE, 1, 0,       0,       X,      FREE(1, 1),                           NOPEER),
    R(0, CLOSE,  1,    0,       0,       X,      FREE(0, 1),                           NOPEER),
    /* give both guests their builder ports back for the leak check:
     * dom0 allocates for them, as the toolstack does, in the same order */
    R(0, ALLOC,  1,    0,       0,       1,      ST(1, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(0, ALLOC,  1,    0,       0,       2,      ST(1, 2, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(0, ALLOC,  2,    0,       0,       1,      ST(2, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(0, ALLOC,  2,    0,       0,       2,      ST(2, 2, UNB, 0, NA, 0, 0, 0),        NOPEER),
};

/* VIRQs: per-vCPU vs global, checks in Xen's order (§1.4, §1.7). */
#define VT VIRQ_TIMER
static const struct row virq_rows[] = {
    R(1, BVIRQ,  NR_VIRQS, 0,   -EINVAL, X,      FREE(1, 3),                           NOPEER),
    R(1, BVIRQ,  0xFFFFFFFF, 0, -EINVAL, X,      FREE(1, 3),                           NOPEER),
    R(1, BVIRQ,  VIRQ_CONSOLE, 1, -EINVAL, X,    FREE(1, 3),                           NOPEER),
    /* global with vcpu != 0 is refused before the vCPU is looked up */
    R(1, BVIRQ,  VIRQ_DOM_EXC, 5, -EINVAL, X,    FREE(1, 3),                           NOPEER),
    R(1, BVIRQ,  VIRQ_ENOMEM, 1, -EINVAL, X,     FREE(1, 3),                           NOPEER),
    R(1, BVIRQ,  VT,   2,       -ENOENT, X,      FREE(1, 3),                           NOPEER),
    R(1, BVIRQ,  VT,   0xFFFFFFFF, -ENOENT, X,   FREE(1, 3),                           NOPEER),
    R(2, BVIRQ,  VT,   1,       -ENOENT, X,      FREE(2, 3),                           NOPEER),
    R(1, BVIRQ,  VT,   0,       0,       3,      ST(1, 3, VIRQ, VT, NA, 0, TICK, 0),   NOPEER),
    R(1, BVIRQ,  VT,   1,       0,       4,      ST(1, 4, VIRQ, VT, NA, 1, TICK, 0),   NOPEER),
    R(1, BVIRQ,  VT,   0,       -EEXIST, X,      FREE(1, 5),                           ST(1, 3, VIRQ, VT, NA, 0, TICK, 0)),
    R(1, BVIRQ,  VT,   1,       -EEXIST, X,      FREE(1, 5),                           ST(1, 4, VIRQ, VT, NA, 1, TICK, 0)),
    R(1, BVIRQ,  VIRQ_DEBUG, 1, 0,       5,      ST(1, 5, VIRQ, VIRQ_DEBUG, NA, 1, 0, 0), NOPEER),
    R(1, BVIRQ,  VIRQ_XENOPROF, 1, 0,    6,      ST(1, 6, VIRQ, VIRQ_XENOPROF, NA, 1, 0, 0), NOPEER),
    R(1, BVIRQ,  VIRQ_XENPMU, 1, 0,      7,      ST(1, 7, VIRQ, VIRQ_XENPMU, NA, 1, 0, 0), NOPEER),
    R(1, BVIRQ,  VIRQ_CONSOLE, 0, 0,     8,      ST(1, 8, VIRQ, VIRQ_CONSOLE, NA, 0, 0, 0), NOPEER),
    R(1, BVIRQ,  VIRQ_CONSOLE, 0, -EEXIST, X,    FREE(1, 9),                           ST(1, 8, VIRQ, VIRQ_CONSOLE, NA, 0, 0, 0)),
    /* unused and arch VIRQs are global on x86: vCPU 0 only */
    R(1, BVIRQ,  5,    1,       -EINVAL, X,      FREE(1, 9),                           NOPEER),
    R(1, BVIRQ,  23,   1,       -EINVAL, X,      FREE(1, 9),                           NOPEER),
    R(1, BVIRQ,  5,    0,       0,       9,      ST(1, 9, VIRQ, 5, NA, 0, 0, 0),       NOPEER),
    R(1, BVIRQ,  23,   0,       0,       10,     ST(1, 10, VIRQ, 23, NA, 0, 0, 0),     NOPEER),
    R(1, CLOSE,  9,    0,       0,       X,      FREE(1, 9),                           NOPEER),
    R(1, CLOSE,  10,   0,       0,       X,      FREE(1, 10),                          NOPEER),
    /* VIRQ ports cannot be sent on */
    R(1, SEND,   3,    0,       -EINVAL, X,      ST(1, 3, VIRQ, VT, NA, 0, TICK, 0),   NOPEER),
    R(1, SEND,   8,    0,       -EINVAL, X,      ST(1, 8, VIRQ, VIRQ_CONSOLE, NA, 0, 0, 0), NOPEER),
    /* per-vCPU VIRQs stay put; global ones move */
    R(1, BVCPU,  3,    1,       -EINVAL, X,      ST(1, 3, VIRQ, VT, NA, 0, TICK, 0),   NOPEER),
    R(1, BVCPU,  4,    0,       -EINVAL, X,      ST(1, 4, VIRQ, VT, NA, 1, TICK, 0),   NOPEER),
    R(1, BVCPU,  8,    1,       0,       X,      ST(1, 8, VIRQ, VIRQ_CONSOLE, NA, 1, 0, 0), NOPEER),
    /* close removes the binding: the VIRQ can be bound again (a moved
     * global VIRQ's slot is vCPU 0's, where it was bound) */
    R(1, CLOSE,  3,    0,       0,       X,      FREE(1, 3),                           NOPEER),
    R(1, BVIRQ,  VT,   0,       0,       3,      ST(1, 3, VIRQ, VT, NA, 0, TICK, 0),   NOPEER),
    R(1, CLOSE,  8,    0,       0,       X,      FREE(1, 8),                           NOPEER),
    R(1, BVIRQ,  VIRQ_CONSOLE, 0, 0,     8,      ST(1, 8, VIRQ, VIRQ_CONSOLE, NA, 0, 0, 0), NOPEER),
    /* the same per-vCPU VIRQ in another domain is independent */
    R(2, BVIRQ,  VT,   0,       0,       3,      ST(2, 3, VIRQ, VT, NA, 0, TICK, 0),   NOPEER),
    R(2, CLOSE,  3,    0,       0,       X,      FREE(2, 3),                           NOPEER),
    /* reset removes VIRQ bindings too */
    R(1, RESET,  SELF, 0,       0,       X,      FREE(1, 3),                           FREE(1, 4)),
    CHK(FREE(1, 1),                                                                    FREE(1, 2)),
    CHK(FREE(1, 5),                                                                    FREE(1, 6)),
    CHK(FREE(1, 7),                                                                    FREE(1, 8)),
    R(0, P_NPORTS, 1,  0,       0,       X,      FREE(1, 1),                           NOPEER),
    R(1, BVIRQ,  VT,   1,       0,       1,      ST(1, 1, VIRQ, VT, NA, 1, TICK, 0),   NOPEER),
    R(1, BVIRQ,  VIRQ_CONSOLE, 0, 0,     2,      ST(1, 2, VIRQ, VIRQ_CONSOLE, NA, 0, 0, 0), NOPEER),
    R(1, CLOSE,  1,    0,       0,       X,      FREE(1, 1),                           NOPEER),
    R(1, CLOSE,  2,    0,       0,       X,      FREE(1, 2),                           NOPEER),
    R(0, ALLOC,  1,    0,       0,       1,      ST(1, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(0, ALLOC,  1,    0,       0,       2,      ST(1, 2, UNB, 0, NA, 0, 0, 0),        NOPEER),
};

/* IPIs and bind_vcpu (§1.4): vCPU checked before the port. */
static const struct row ipi_vcpu_rows[] = {
    R(1, BIPI,   2,    0,       -ENOENT, X,      FREE(1, 3),                           NOPEER),
    R(1, BIPI,   0xFFFFFFFF, 0, -ENOENT, X,      FREE(1, 3),                           NOPEER),
    R(2, BIPI,   1,    0,       -ENOENT, X,      FREE(2, 3),                           NOPEER),
    R(1, BIPI,   1,    0,       0,       3,      ST(1, 3, IPI, NA, NA, 1, 0, 0),       NOPEER),
    R(1, SEND,   3,    0,       0,       X,      ST(1, 3, IPI, NA, NA, 1, 1, 0),       NOPEER),
    /* unmask of a masked, pending port clears the mask and nothing else */
    R(1, P_SETMASK, 3, 1,       0,       X,      ST(1, 3, IPI, NA, NA, 1, 1, 1),       NOPEER),
    R(1, UNMASK, 3,    0,       0,       X,      ST(1, 3, IPI, NA, NA, 1, 1, 0),       NOPEER),
    R(1, BVCPU,  3,    0,       -EINVAL, X,      ST(1, 3, IPI, NA, NA, 1, 1, 0),       NOPEER),
    R(1, BVCPU,  3,    2,       -ENOENT, X,      ST(1, 3, IPI, NA, NA, 1, 1, 0),       NOPEER),
    R(1, BVCPU,  0xFFFFFFFF, 2, -ENOENT, X,      BAD(1, 0xFFFFFFFF),                   NOPEER),
    R(1, BVCPU,  0xFFFFFFFF, 1, -EINVAL, X,      BAD(1, 0xFFFFFFFF),                   NOPEER),
    R(1, BVCPU,  1024, 0,       -EINVAL, X,      BAD(1, 1024),                         NOPEER),
    R(1, BVCPU,  0,    1,       -EINVAL, X,      FREE(1, 0),                           NOPEER),
    R(1, BVCPU,  9,    1,       -EINVAL, X,      FREE(1, 9),                           NOPEER),
    /* unbound and interdomain ports move, pending bits and all */
    R(1, BVCPU,  1,    1,       0,       X,      ST(1, 1, UNB, 0, NA, 1, 0, 0),        NOPEER),
    R(1, BVCPU,  1,    0,       0,       X,      ST(1, 1, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(1, ALLOC,  SELF, SELF,    0,       4,      ST(1, 4, UNB, 1, NA, 0, 0, 0),        NOPEER),
    R(1, BIND,   SELF, 4,       0,       5,      ST(1, 5, IDOM, 1, 4, 0, 1, 0),        ST(1, 4, IDOM, 1, 5, 0, 0, 0)),
    R(1, BVCPU,  5,    1,       0,       X,      ST(1, 5, IDOM, 1, 4, 1, 1, 0),        ST(1, 4, IDOM, 1, 5, 0, 0, 0)),
    R(1, BVCPU,  4,    1,       0,       X,      ST(1, 4, IDOM, 1, 5, 1, 0, 0),        ST(1, 5, IDOM, 1, 4, 1, 1, 0)),
    /* binding cannot take a VIRQ or IPI port */
    R(1, BVIRQ,  VIRQ_DEBUG, 1, 0,       6,      ST(1, 6, VIRQ, VIRQ_DEBUG, NA, 1, 0, 0), NOPEER),
    R(2, BIND,   1,    6,       -EINVAL, X,      FREE(2, 3),                           ST(1, 6, VIRQ, VIRQ_DEBUG, NA, 1, 0, 0)),
    R(2, BIND,   1,    3,       -EINVAL, X,      FREE(2, 3),                           ST(1, 3, IPI, NA, NA, 1, 1, 0)),
    R(1, BIND,   SELF, 3,       -EINVAL, X,      FREE(1, 7),                           ST(1, 3, IPI, NA, NA, 1, 1, 0)),
    R(1, CLOSE,  6,    0,       0,       X,      FREE(1, 6),                           NOPEER),
    /* an unbound port keeps its notify vCPU when the peer binds */
    R(1, ALLOC,  SELF, 2,       0,       6,      ST(1, 6, UNB, 2, NA, 0, 0, 0),        NOPEER),
    R(1, BVCPU,  6,    1,       0,       X,      ST(1, 6, UNB, 2, NA, 1, 0, 0),        NOPEER),
    R(2, BIND,   1,    6,       0,       3,      ST(2, 3, IDOM, 1, 6, 0, 1, 0),        ST(1, 6, IDOM, 2, 3, 1, 0, 0)),
    R(2, CLOSE,  3,    0,       0,       X,      FREE(2, 3),                           ST(1, 6, UNB, 2, NA, 1, 0, 0)),
    R(1, CLOSE,  6,    0,       0,       X,      FREE(1, 6),                           NOPEER),
    /* the peer of a closed port keeps its notify vCPU */
    R(1, CLOSE,  5,    0,       0,       X,      FREE(1, 5),                           ST(1, 4, UNB, 1, NA, 1, 0, 0)),
    /* a freed port's notify vCPU goes back to 0 */
    R(1, CLOSE,  4,    0,       0,       X,      FREE(1, 4),                           NOPEER),
    R(1, ALLOC,  SELF, 0,       0,       4,      ST(1, 4, UNB, 0, NA, 0, 0, 0),        NOPEER),
    R(1, CLOSE,  4,    0,       0,       X,      FREE(1, 4),                           NOPEER),
    R(1, CLOSE,  3,    0,       0,       X,      FREE(1, 3),                           NOPEER),
    R(1, BIPI,   0,    0,       0,       3,      ST(1, 3, IPI, NA, NA, 0, 0, 0),       NOPEER),
    R(1, CLOSE,  3,    0,       0,       X,      FREE(1, 3),                           NOPEER),
};

/* What Xen answers for what is not simulated, and for the FIFO ops on a
 * 2-level domain (test_evtchn_fifo has the FIFO ABI itself): no physical
 * IRQs (no PIRQ is ever mapped); an init_control that fails
 * leaves the domain 2-level; expand_array before init_control;
 * set_priority on the 2-level ABI (the port is looked up first). Unknown
 * commands: -ENOSYS. */
static const struct row unsupported_rows[] = {
    /* bind_pirq (Xen 4.17 x86, evtchn_bind_pirq): `pirq >= d->nr_pirqs`
     * is -EINVAL, then a PV domain needs pirq_access_permitted(), which
     * needs a PIRQ mapped by PHYSDEVOP_map_pirq: none ever is here, so
     * -EPERM. nr_pirqs is 24 GSIs + 32 for a domU; dom0 (1 vCPU) gets
     * 24 + 1 * 191 dynamic vectors. No port is taken either way. */
    R(1, EVTCHNOP_bind_pirq, 1, 0,     -EPERM,   X,  FREE(1, 3),                       NOPEER),
    R(1, EVTCHNOP_bind_pirq, 0, 1,     -EPERM,   X,  FREE(1, 3),                       NOPEER),
    R(1, EVTCHNOP_bind_pirq, 55, 0,    -EPERM,   X,  FREE(1, 3),                       NOPEER),
    R(1, EVTCHNOP_bind_pirq, 56, 0,    -EINVAL,  X,  FREE(1, 3),                       NOPEER),
    R(1, EVTCHNOP_bind_pirq, 0xFFFFFFFF, 0, -EINVAL, X, FREE(1, 3),                    NOPEER),
    R(0, EVTCHNOP_bind_pirq, 214, 0,   -EPERM,   X,  FREE(0, 1),                       NOPEER),
    R(0, EVTCHNOP_bind_pirq, 215, 0,   -EINVAL,  X,  FREE(0, 1),                       NOPEER),
    R(1, EVTCHNOP_init_control, 0, 4,  -EINVAL,  X,  FREE(1, 3),                       NOPEER),
    R(1, EVTCHNOP_expand_array, 0, 0,  -EOPNOTSUPP, X, FREE(1, 3),                     NOPEER),
    R(1, EVTCHNOP_set_priority, 1, 7,  -ENOSYS,  X,  ST(1, 1, UNB, 0, NA, 0, 0, 0),    NOPEER),
    R(1, EVTCHNOP_set_priority, 0, 0,  -ENOSYS,  X,  FREE(1, 0),                       NOPEER),
    R(1, EVTCHNOP_set_priority, 9, 99, -ENOSYS,  X,  FREE(1, 9),                       NOPEER),
    R(1, EVTCHNOP_set_priority, 1024, 7, -EINVAL, X, BAD(1, 1024),                     NOPEER),
    R(1, EVTCHNOP_set_priority, 0xFFFFFFFF, 7, -EINVAL, X, BAD(1, 0xFFFFFFFF),         NOPEER),
    R(1, 15,         0,    0,   -ENOSYS, X,      FREE(1, 3),                           NOPEER),
    R(1, 99,         0,    0,   -ENOSYS, X,      FREE(1, 3),                           NOPEER),
    R(1, -1,         0,    0,   -ENOSYS, X,      FREE(1, 3),                           NOPEER),
    R(1, INT_MAX,    0,    0,   -ENOSYS, X,      FREE(1, 3),                           NOPEER),
    R(1, INT_MIN,    0,    0,   -ENOSYS, X,      FREE(1, 3),                           NOPEER),
    R(0, P_NPORTS,   1,    2,   0,       X,      FREE(1, 3),                           NOPEER),
};

START_TEST(test_lifecycle) { RUN_SCRIPT(lifecycle_rows); }
END_TEST

START_TEST(test_xsm_and_reset) { RUN_SCRIPT(xsm_rows); }
END_TEST

START_TEST(test_virq_rules) { RUN_SCRIPT(virq_rows); }
END_TEST

START_TEST(test_ipi_and_bind_vcpu) { RUN_SCRIPT(ipi_vcpu_rows); }
END_TEST

START_TEST(test_unsupported) { RUN_SCRIPT(unsupported_rows); }
END_TEST

/*
 * Filling the port space: guest code allocates until it fails and checks
 * the ports come lowest first. ENOSPC at the cap or at the ABI's limit.
 */
struct fill {
    long first, last;   /* first and last port allocated */
    long err;           /* what ended the loop */
    unsigned int n;
    bool in_order;
};

static void fill_fn(void *p)
{
    struct fill *f = p;
    long prev = 0;
    f->in_order = true;
    f->first = 0;
    f->n = 0;
    for (;;) {
        long r = xensim_evtchn_alloc_unbound(0);
        if (r < 0) {
            f->err = r;
            break;
        }
        if (!f->first)
            f->first = r;
        else if (r != prev + 1)
            f->in_order = false;
        prev = r;
        f->n++;
        if (f->n > 5000)
            break;
    }
    f->last = prev;
}

struct close_range { evtchn_port_t from, to; long bad; };

static void close_range_fn(void *p)
{
    struct close_range *c = p;
    c->bad = 0;
    for (evtchn_port_t q = c->from; q <= c->to; q++) {
        evtchn_close_t cl = { .port = q };
        long r = HYPERVISOR_event_channel_op(EVTCHNOP_close, &cl);
        if (r)
            c->bad = r;
    }
}

static void check_fill(enum xensim_evtchn_abi abi, unsigned int cap, long expect_last)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = { .name = "full", .evtchn_abi = abi, .max_evtchn_port = cap };
    domid_t d = th_domain_cfg(sim, &cfg);
    ck_assert_int_eq(d, 1);
    th_domain(sim, "other", false, XENSIM_GNTTAB_STRICT);

    struct fill f;
    th_call(sim, d, 0, fill_fn, &f);
    ck_assert_int_eq(f.err, -ENOSPC);
    ck_assert_int_eq(f.first, 3);
    ck_assert_int_eq(f.last, expect_last);
    ck_assert(f.in_order);
    ck_assert_uint_eq(th_ports_in_use(sim, d), (unsigned int)(expect_last - 2));

    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, d, (evtchn_port_t)expect_last, &st), UNB);

    /* Allocation comes before the other checks: the full domain answers
     * -ENOSPC to every binder, even for a bad remote port, and an
     * unprivileged stranger gets -ENOSPC, not -EPERM. */
    ck_assert_int_eq(ev_bind_interdomain(sim, d, 0, 0xFFFFFFF0u), -ENOSPC);
    ck_assert_int_eq(ev_bind_interdomain(sim, d, EV_NODOM, 1), -ESRCH);
    ck_assert_int_eq(ev_bind_ipi(sim, d, 0), -ENOSPC);
    ck_assert_int_eq(ev_bind_virq(sim, d, VIRQ_TIMER, 0), -ENOSPC);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, d, 0), -ENOSPC);
    ck_assert_int_eq(ev_alloc_unbound(sim, 2, d, 0), -ENOSPC);

    /* A freed port in the middle is the next one handed out. */
    ck_assert_int_eq(ev_close(sim, d, 100), 0);
    ck_assert_int_eq(ev_alloc_unbound(sim, d, SELF, 0), 100);
    ck_assert_int_eq(ev_alloc_unbound(sim, d, SELF, 0), -ENOSPC);
    /* Two freed in different buckets, the higher first: lowest first out. */
    ck_assert_int_eq(ev_close(sim, d, 100), 0);
    ck_assert_int_eq(ev_close(sim, d, 10), 0);
    ck_assert_int_eq(ev_alloc_unbound(sim, d, SELF, 0), 10);
    ck_assert_int_eq(ev_alloc_unbound(sim, d, SELF, 0), 100);
    ck_assert_int_eq(ev_alloc_unbound(sim, d, SELF, 0), -ENOSPC);

    struct close_range c = { .from = 3, .to = (evtchn_port_t)expect_last };
    th_call(sim, d, 0, close_range_fn, &c);
    ck_assert_int_eq(c.bad, 0);
    ck_assert_uint_eq(th_ports_in_use(sim, d), 0);
    ck_assert_int_eq(ev_alloc_unbound(sim, d, SELF, 0), 3);
    ck_assert_int_eq(ev_close(sim, d, 3), 0);
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);
    th_sim_free_checked(sim);
}

START_TEST(test_enospc_1024) { check_fill(XENSIM_EVTCHN_2L_32, 0, 1023); }
END_TEST

START_TEST(test_enospc_4096) { check_fill(XENSIM_EVTCHN_2L_64, 0, 4095); }
END_TEST

START_TEST(test_enospc_cap) { check_fill(XENSIM_EVTCHN_2L_32, 200, 200); }
END_TEST

START_TEST(test_enospc_cap_64) { check_fill(XENSIM_EVTCHN_2L_64, 2000, 2000); }
END_TEST

/* A cap above the ABI's limit is clipped to it (§1.1). */
START_TEST(test_enospc_cap_above_abi) { check_fill(XENSIM_EVTCHN_2L_32, 5000, 1023); }
END_TEST

/* So is the largest cap there is (Xen clips it; no overflow). */
START_TEST(test_enospc_cap_uint_max) { check_fill(XENSIM_EVTCHN_2L_64, UINT_MAX, 4095); }
END_TEST

/*
 * Caps on and next to every bucket boundary (Xen grows the valid range 64
 * ports at a time), and at the ABIs' limits: the cap's own port can be
 * allocated, bound and raised; the port after it cannot be allocated, and
 * is valid (free) only if it shares the cap's bucket. A cap of the ABI's
 * size or more is clipped to the ABI's last port.
 */
struct cap_fill {
    unsigned int n;         /* ports allocated */
    long last, err;
    bool in_order;
};

static void cap_fill_fn(void *p)
{
    struct cap_fill *f = p;
    long prev = 2;
    f->n = 0;
    f->in_order = true;
    for (;;) {
        long r = xensim_evtchn_alloc_unbound(0);
        if (r < 0) {
            f->err = r;
            break;
        }
        if (r != prev + 1)
            f->in_order = false;
        prev = r;
        if (++f->n > 4096)
            break;
    }
    f->last = prev;
}

static void check_cap_edge(struct xensim *sim, enum xensim_evtchn_abi abi, unsigned int nr,
                           unsigned int cap)
{
    unsigned int top = cap < nr ? cap : nr - 1;
    struct xensim_domain_config cfg = { .name = "capped", .evtchn_abi = abi, .max_evtchn_port = cap };
    domid_t d = th_domain_cfg(sim, &cfg);
    struct cap_fill f;
    th_call(sim, d, 0, cap_fill_fn, &f);
    ck_assert_msg(f.err == -ENOSPC && f.last == top && f.in_order,
                  "cap %u (%u ports): allocation ended at port %ld with %s, expected port %u then -ENOSPC",
                  cap, nr, f.last, xensim_strerror((int)f.err), top);
    ck_assert_uint_eq(f.n, top - 2);

    /* The top port works: dom0 binds it and raises it. */
    long b = ev_bind_interdomain(sim, 0, d, top);
    ck_assert_msg(b > 0, "cap %u: binding port %u gave %s", cap, top, xensim_strerror((int)b));
    ck_assert(!ev_is_pending(sim, d, top));
    ck_assert_int_eq(ev_send(sim, 0, (evtchn_port_t)b), 0);
    ck_assert_msg(ev_is_pending(sim, d, top), "cap %u: a send did not reach port %u", cap, top);

    /* The next one does not. */
    ck_assert_int_eq(ev_alloc_unbound(sim, d, SELF, 0), -ENOSPC);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, d, 0), -ENOSPC);
    ck_assert_int_eq(ev_bind_interdomain(sim, d, 0, (evtchn_port_t)b), -ENOSPC);
    ck_assert_int_eq(ev_bind_virq(sim, d, VIRQ_DEBUG, 0), -ENOSPC);
    ck_assert_int_eq(ev_bind_ipi(sim, d, 0), -ENOSPC);
    evtchn_status_t st;
    long next_valid = (top + 1) % 64 ? 0 : -EINVAL;
    if (top + 1 < nr) {
        ck_assert_msg(ev_status(sim, 0, d, top + 1, &st) == next_valid,
                      "cap %u: status of port %u", cap, top + 1);
        if (!next_valid)
            ck_assert_uint_eq(st.status, EVTCHNSTAT_closed);
    }
    ck_assert_int_eq(ev_status(sim, 0, d, nr, &st), -EINVAL);

    ck_assert_int_eq(ev_close(sim, 0, (evtchn_port_t)b), 0);
    ck_assert_int_eq(xensim_domain_destroy(sim, d), 0);
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);
}

static void check_cap_edges(enum xensim_evtchn_abi abi, unsigned int nr)
{
    struct xensim *sim = th_sim_new();
    for (unsigned int edge = 64; edge <= nr; edge += 64)
        for (unsigned int cap = edge - 1; cap <= edge + 1; cap++)
            check_cap_edge(sim, abi, nr, cap);
    th_sim_free_checked(sim);
}

START_TEST(test_caps_at_bucket_edges_32) { check_cap_edges(XENSIM_EVTCHN_2L_32, 1024); }
END_TEST

START_TEST(test_caps_at_bucket_edges_64) { check_cap_edges(XENSIM_EVTCHN_2L_64, 4096); }
END_TEST

/* Ports above the ABI limit are never valid, whichever the ABI. */
START_TEST(test_out_of_range_ports)
{
    static const uint32_t bad32[] = { 1024, 4096, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu };
    static const uint32_t bad64[] = { 4096, 65536, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu };
    struct xensim *sim = th_sim_new();
    domid_t d32 = th_domain(sim, "w32", false, XENSIM_GNTTAB_STRICT);
    struct xensim_domain_config c64 = { .name = "w64", .evtchn_abi = XENSIM_EVTCHN_2L_64 };
    domid_t d64 = th_domain_cfg(sim, &c64);

    for (int k = 0; k < 2; k++) {
        domid_t d = k ? d64 : d32;
        const uint32_t *bad = k ? bad64 : bad32;
        for (int i = 0; i < 5; i++) {
            evtchn_status_t st;
            ck_assert_int_eq(ev_send(sim, d, bad[i]), -EINVAL);
            ck_assert_int_eq(ev_close(sim, d, bad[i]), -EINVAL);
            ck_assert_int_eq(ev_unmask(sim, d, bad[i]), -EINVAL);
            ck_assert_int_eq(ev_bind_vcpu(sim, d, bad[i], 0), -EINVAL);
            ck_assert_int_eq(ev_status(sim, d, SELF, bad[i], &st), -EINVAL);
            ck_assert_int_eq(ev_status(sim, 0, d, bad[i], &st), -EINVAL);
            ck_assert_int_eq(ev_bind_interdomain(sim, 0, d, bad[i]), -EINVAL);
        }
    }
    /* 1024..4095 are real ports of a 64-bit-word domain. */
    evtchn_status_t st;
    ck_assert_int_eq(ev_status(sim, d64, SELF, 1, &st), 0);
    ck_assert_uint_eq(th_ports_in_use(sim, d32), 0);
    ck_assert_uint_eq(th_ports_in_use(sim, d64), 0);
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * Port validity grows a bucket at a time (§1.1): a port beyond every
 * bucket allocated so far is not valid (-EINVAL) even though it is below
 * the cap; once allocated, it stays valid after it is freed. A bucket holds
 * at most 128 ports in Xen, so port 1000 of a fresh domain is not valid.
 */
START_TEST(test_port_validity_by_bucket)
{
    struct fix f;
    fix_setup(&f);
    evtchn_status_t st;
    ck_assert_int_eq(ev_status(f.sim, 1, SELF, 1000, &st), -EINVAL);
    ck_assert_int_eq(ev_status(f.sim, 0, 1, 1000, &st), -EINVAL);
    ck_assert_int_eq(ev_unmask(f.sim, 1, 1000), -EINVAL);
    ck_assert_int_eq(ev_close(f.sim, 1, 1000), -EINVAL);
    ck_assert_int_eq(ev_send(f.sim, 1, 1000), -EINVAL);
    ck_assert_int_eq(ev_bind_vcpu(f.sim, 1, 1000, 0), -EINVAL);
    /* small ports share bucket 0 with port 0: valid, free */
    ck_assert_int_eq(ev_status(f.sim, 1, SELF, 20, &st), 0);
    ck_assert_uint_eq(st.status, EVTCHNSTAT_closed);
    ck_assert_int_eq(ev_unmask(f.sim, 1, 20), 0);

    struct fill fl;
    th_call(f.sim, 1, 0, fill_fn, &fl);
    ck_assert_int_eq(fl.last, 1023);
    struct close_range c = { .from = 3, .to = 1023 };
    th_call(f.sim, 1, 0, close_range_fn, &c);
    ck_assert_int_eq(c.bad, 0);

    ck_assert_int_eq(ev_status(f.sim, 1, SELF, 1000, &st), 0);
    ck_assert_uint_eq(st.status, EVTCHNSTAT_closed);
    ck_assert_int_eq(ev_unmask(f.sim, 1, 1000), 0);
    ck_assert_int_eq(ev_close(f.sim, 1, 1000), -EINVAL);
    ck_assert_int_eq(ev_send(f.sim, 1, 1000), -EINVAL);
    ck_assert_int_eq(ev_bind_vcpu(f.sim, 1, 1000, 0), -EINVAL);
    /* other domains' buckets did not grow */
    ck_assert_int_eq(ev_status(f.sim, 2, SELF, 1000, &st), -EINVAL);
    fix_teardown(&f);
}
END_TEST

/* Domain ids no domain has, including Xen's reserved ones. */
START_TEST(test_huge_domids)
{
    static const domid_t ids[] = { 3, 100, EV_NODOM, DOMID_IO, DOMID_XEN, DOMID_COW,
                                   DOMID_INVALID, DOMID_IDLE, 0xFFFF };
    struct fix f;
    fix_setup(&f);
    for (unsigned int i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        for (domid_t who = 0; who < 2; who++) {
            evtchn_status_t st;
            ck_assert_int_eq(ev_alloc_unbound(f.sim, who, ids[i], 0), -ESRCH);
            ck_assert_int_eq(ev_bind_interdomain(f.sim, who, ids[i], 1), -ESRCH);
            ck_assert_int_eq(ev_status(f.sim, who, ids[i], 1, &st), -ESRCH);
            ck_assert_int_eq(ev_reset(f.sim, who, ids[i]), -ESRCH);
        }
    }
    fix_teardown(&f);
}
END_TEST

/*
 * EVTCHNOP_status copies the whole struct back but writes only the fields
 * of the port's state (Xen's evtchn_status()): for a closed or IPI port u
 * is returned as the caller filled it, for an unbound one only
 * u.unbound.dom is written, and so on.
 */
static void status_prefilled(struct xensim *sim, domid_t dom, evtchn_port_t port,
                             evtchn_status_t *st)
{
    memset(st, 0xA5, sizeof(*st));
    st->dom = dom;
    st->port = port;
    ck_assert_int_eq(ev_hc(sim, 0, EVTCHNOP_status, st), 0);
}

START_TEST(test_status_writes_only_its_fields)
{
    struct fix f;
    fix_setup(&f);
    evtchn_status_t st, fill;
    memset(&fill, 0xA5, sizeof(fill));

    status_prefilled(f.sim, 1, 9, &st);
    ck_assert_uint_eq(st.status, EVTCHNSTAT_closed);
    ck_assert_uint_eq(st.vcpu, 0);
    ck_assert_int_eq(memcmp(&st.u, &fill.u, sizeof(st.u)), 0);

    status_prefilled(f.sim, 1, 1, &st);
    ck_assert_uint_eq(st.status, EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 0);
    ck_assert_int_eq(memcmp((char *)&st.u + sizeof(st.u.unbound.dom),
                            (char *)&fill.u + sizeof(st.u.unbound.dom),
                            sizeof(st.u) - sizeof(st.u.unbound.dom)), 0);

    long ipi = ev_bind_ipi(f.sim, 1, 1);
    ck_assert_int_eq(ipi, 3);
    status_prefilled(f.sim, 1, 3, &st);
    ck_assert_uint_eq(st.status, EVTCHNSTAT_ipi);
    ck_assert_uint_eq(st.vcpu, 1);
    ck_assert_int_eq(memcmp(&st.u, &fill.u, sizeof(st.u)), 0);
    ck_assert_int_eq(ev_close(f.sim, 1, 3), 0);

    long v = ev_bind_virq(f.sim, 1, VIRQ_DEBUG, 0);
    ck_assert_int_eq(v, 3);
    status_prefilled(f.sim, 1, 3, &st);
    ck_assert_uint_eq(st.status, EVTCHNSTAT_virq);
    ck_assert_uint_eq(st.u.virq, VIRQ_DEBUG);
    ck_assert_int_eq(memcmp((char *)&st.u + sizeof(st.u.virq), (char *)&fill.u + sizeof(st.u.virq),
                            sizeof(st.u) - sizeof(st.u.virq)), 0);
    ck_assert_int_eq(ev_close(f.sim, 1, 3), 0);

    long a = ev_alloc_unbound(f.sim, 1, SELF, 2);
    ck_assert_int_eq(a, 3);
    ck_assert_int_eq(ev_bind_interdomain(f.sim, 2, 1, 3), 3);
    status_prefilled(f.sim, 1, 3, &st);
    ck_assert_uint_eq(st.status, EVTCHNSTAT_interdomain);
    ck_assert_uint_eq(st.u.interdomain.dom, 2);
    ck_assert_uint_eq(st.u.interdomain.port, 3);
    ck_assert_int_eq(ev_close(f.sim, 2, 3), 0);
    ck_assert_int_eq(ev_close(f.sim, 1, 3), 0);
    fix_teardown(&f);
}
END_TEST

/* Every command Xen knows with a bad argument pointer: -EFAULT (§1.3);
 * Xen reads the argument even of those it does not support here. */
static const int all_cmds[] = { EVTCHNOP_bind_interdomain, EVTCHNOP_bind_virq, EVTCHNOP_bind_pirq,
                                EVTCHNOP_close, EVTCHNOP_send, EVTCHNOP_status,
                                EVTCHNOP_alloc_unbound, EVTCHNOP_bind_ipi, EVTCHNOP_bind_vcpu,
                                EVTCHNOP_unmask, EVTCHNOP_reset, EVTCHNOP_init_control,
                                EVTCHNOP_expand_array, EVTCHNOP_set_priority };

START_TEST(test_efault)
{
    struct fix f;
    fix_setup(&f);
    long pg = sysconf(_SC_PAGESIZE);
    uint8_t *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(two, MAP_FAILED);
    ck_assert_int_eq(mprotect(two + pg, pg, PROT_NONE), 0);
    /* One byte before the inaccessible page: every arg straddles it. */
    void *straddle = two + pg - 1;
    void *bad[] = { NULL, (void *)1, (void *)(uintptr_t)0x1000, two + pg,
                    (void *)(uintptr_t)0xffff800000000000ull, straddle };

    for (unsigned int c = 0; c < sizeof(all_cmds) / sizeof(all_cmds[0]); c++) {
        for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            long rc = ev_hc(f.sim, 1, all_cmds[c], bad[i]);
            ck_assert_msg(rc == -EFAULT, "%s with arg %p returned %s, expected -EFAULT",
                          op_name(all_cmds[c]), bad[i], xensim_strerror((int)rc));
        }
    }
    /* Unknown commands do not read their argument. */
    ck_assert_int_eq(ev_hc(f.sim, 1, 77, NULL), -ENOSYS);
    /* Nothing happened to anyone's ports. */
    munmap(two, 2 * pg);
    fix_teardown(&f);
}
END_TEST

/* A SIGSEGV handler installed over the simulator's that calls it the way
 * libFuzzer's does: from a frame that blocked the signal (no
 * SA_NODEFER). */
static struct sigaction wrapped_segv;

static void wrapping_segv(int sig, siginfo_t *si, void *uc)
{
    wrapped_segv.sa_sigaction(sig, si, uc);
}

/* Found by fuzz_hypercall under libFuzzer: the simulator's handler left
 * by siglongjmp with SIGSEGV still blocked, so the second bad pointer on
 * a vCPU killed the process. Each must give -EFAULT, however many. */
START_TEST(test_efault_under_wrapping_handler)
{
    struct fix f;
    fix_setup(&f);
    struct sigaction sa = { .sa_sigaction = wrapping_segv, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, &wrapped_segv), 0);
    ck_assert(wrapped_segv.sa_flags & SA_SIGINFO);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ev_hc(f.sim, 1, EVTCHNOP_status, (void *)(uintptr_t)0x1000), -EFAULT);
    ck_assert_int_eq(sigaction(SIGSEGV, &wrapped_segv, NULL), 0);
    fix_teardown(&f);
}
END_TEST

/* OUT fields are written back after the op has taken effect: a read-only
 * argument gives -EFAULT but the port was allocated (§1.3). */
START_TEST(test_efault_on_copy_back)
{
    struct fix f;
    fix_setup(&f);
    long pg = sysconf(_SC_PAGESIZE);
    evtchn_alloc_unbound_t *a = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(a, MAP_FAILED);
    a->dom = SELF;
    a->remote_dom = 0;
    a->port = SENTINEL;
    ck_assert_int_eq(mprotect(a, pg, PROT_READ), 0);
    ck_assert_int_eq(ev_hc(f.sim, 1, EVTCHNOP_alloc_unbound, a), -EFAULT);
    ck_assert_uint_eq(a->port, SENTINEL);
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(f.sim, 1, 3, &st), UNB);
    ck_assert_int_eq(ev_close(f.sim, 1, 3), 0);
    munmap(a, pg);
    fix_teardown(&f);
}
END_TEST

/* Hypercalls from a host thread that is not a vCPU: -EPERM (guest.h). */
static void *host_thread_calls(void *p)
{
    long *rc = p;
    evtchn_alloc_unbound_t a = { .dom = SELF, .remote_dom = 0 };
    evtchn_send_t s = { .port = 1 };
    evtchn_status_t st = { .dom = SELF, .port = 1 };
    struct callback_register cb = { .type = CALLBACKTYPE_event };
    gnttab_query_size_t q = { .dom = SELF };
    rc[0] = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a);
    rc[1] = HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
    rc[2] = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    rc[3] = HYPERVISOR_event_channel_op(EVTCHNOP_send, NULL);
    rc[4] = HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    rc[5] = HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    rc[6] = HYPERVISOR_set_timer_op(1);
    rc[7] = HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
    rc[8] = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
    rc[9] = xensim_evtchn_send(1);
    rc[10] = xensim_evtchn_alloc_unbound(0);
    rc[11] = xensim_evtchn_close(1);
    return NULL;
}

START_TEST(test_non_vcpu_thread)
{
    struct fix f;
    fix_setup(&f);
    long rc[12];
    /* the test's own thread, and a fresh host thread */
    host_thread_calls(rc);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(rc[i] == -EPERM, "call %d from the test thread returned %ld", i, rc[i]);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, host_thread_calls, rc), 0);
    pthread_join(t, NULL);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(rc[i] == -EPERM, "call %d from a host thread returned %ld", i, rc[i]);
    fix_teardown(&f);
}
END_TEST

/* The guest wrappers return the port or Xen's errno. */
struct wrap_res { long au, bi, bv, bp, se, cl1, cl2, cl3, cl4, bad; };

static void wrappers_fn(void *p)
{
    struct wrap_res *w = p;
    w->au = xensim_evtchn_alloc_unbound(DOMID_SELF);
    w->bi = xensim_evtchn_bind_interdomain(DOMID_SELF, (evtchn_port_t)w->au);
    w->bv = xensim_evtchn_bind_virq(VIRQ_DEBUG, 0);
    w->bp = xensim_evtchn_bind_ipi(0);
    w->se = xensim_evtchn_send((evtchn_port_t)w->au);
    w->cl1 = xensim_evtchn_close((evtchn_port_t)w->bp);
    w->cl2 = xensim_evtchn_close((evtchn_port_t)w->bv);
    w->cl3 = xensim_evtchn_close((evtchn_port_t)w->bi);
    w->cl4 = xensim_evtchn_close((evtchn_port_t)w->au);
    w->bad = xensim_evtchn_bind_virq(VIRQ_DEBUG, 7);
}

START_TEST(test_guest_wrappers)
{
    struct fix f;
    fix_setup(&f);
    struct wrap_res w;
    th_call(f.sim, 2, 0, wrappers_fn, &w);
    ck_assert_int_eq(w.au, 3);
    ck_assert_int_eq(w.bi, 4);
    ck_assert_int_eq(w.bv, 5);
    ck_assert_int_eq(w.bp, 6);
    ck_assert_int_eq(w.se, 0);
    ck_assert_int_eq(w.cl1, 0);
    ck_assert_int_eq(w.cl2, 0);
    ck_assert_int_eq(w.cl3, 0);
    ck_assert_int_eq(w.cl4, 0);
    ck_assert_int_eq(w.bad, -ENOENT);
    fix_teardown(&f);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("evtchn_ops");
    TCase *t = tcase_create("scripts");
    tcase_add_test(t, test_lifecycle);
    tcase_add_test(t, test_xsm_and_reset);
    tcase_add_test(t, test_virq_rules);
    tcase_add_test(t, test_ipi_and_bind_vcpu);
    tcase_add_test(t, test_unsupported);
    tcase_add_test(t, test_status_writes_only_its_fields);
    suite_add_tcase(s, t);

    t = tcase_create("limits");
    tcase_add_test(t, test_enospc_1024);
    tcase_add_test(t, test_enospc_4096);
    tcase_add_test(t, test_enospc_cap);
    tcase_add_test(t, test_enospc_cap_64);
    tcase_add_test(t, test_enospc_cap_above_abi);
    tcase_add_test(t, test_enospc_cap_uint_max);
    tcase_add_test(t, test_caps_at_bucket_edges_32);
    tcase_add_test(t, test_caps_at_bucket_edges_64);
    suite_add_tcase(s, t);

    t = tcase_create("bad_input");
    tcase_add_test(t, test_out_of_range_ports);
    tcase_add_test(t, test_port_validity_by_bucket);
    tcase_add_test(t, test_huge_domids);
    tcase_add_test(t, test_efault);
    tcase_add_test(t, test_efault_under_wrapping_handler);
    tcase_add_test(t, test_efault_on_copy_back);
    tcase_add_test(t, test_non_vcpu_thread);
    tcase_add_test(t, test_guest_wrappers);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ops_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
