/*
 * The FIFO event channel ABI against Xen 4.17's event_fifo.c: a
 * conformance script of rows (every FIFO op, every errno, the event words,
 * control blocks and upcall flags each row leaves, and nothing else
 * changed), then delivery through the guest kernel's FIFO consumer:
 * priority order, order within a priority, events re-linked while
 * handled, ports moved between queues, every port of the ABI, concurrent
 * senders, and a guest that garbles its own words and control block.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include "fifo_helpers.h"

#define SELF DOMID_SELF
#define X (-1)              /* "not applicable" / "any" in a row */
#define NOWORD (-2)         /* the port has no event word (no page for it) */

/* Symbolic frames a row passes: the fixture's pages of dom1's RAM, one
 * past its RAM (its shared_info: not RAM, so not mappable), and a frame
 * no domain has. */
#define PG(n) (-(1000 + (n)))
#define NOTRAM (-900)
#define HUGE_GFN (-901)

enum {
    P_CHECK = -100,     /* more post-state for the row above */
    P_WSET,             /* guest dom1 sets bits b and clears bits c of port a's word */
    P_UPCALL,           /* guest dom1 writes vCPU a's upcall flag: b */
    P_READY,            /* guest dom1 writes vCPU a's READY: b */
};

#define INIT EVTCHNOP_init_control
#define EXPAND EVTCHNOP_expand_array
#define PRIO EVTCHNOP_set_priority
#define ALLOC EVTCHNOP_alloc_unbound
#define BIND EVTCHNOP_bind_interdomain
#define BIPI EVTCHNOP_bind_ipi
#define SEND EVTCHNOP_send
#define CLOSE EVTCHNOP_close
#define UNMASK EVTCHNOP_unmask
#define BVCPU EVTCHNOP_bind_vcpu
#define RESET EVTCHNOP_reset

enum { CLOSED = EVTCHNSTAT_closed, UNB = EVTCHNSTAT_unbound, IDOM = EVTCHNSTAT_interdomain,
       IPI = EVTCHNSTAT_ipi };
enum { L2 = 1, FF = 2 };    /* the ABI a row leaves dom1 on */

#define P FW_P
#define M FW_M
#define L FW_L

/* One port afterwards: its status (as dom0 sees it) and notify vCPU and,
 * for dom1, its event word (exact value, X, or NOWORD). */
struct pexp {
    bool on;
    int64_t dom, port, status, vcpu, word;
};

/* One vCPU of dom1 afterwards: its control block's READY and the head of
 * one queue, and its upcall flag. */
struct cexp {
    bool on;
    int64_t vcpu, ready, prio, head, upcall;
};

struct row {
    int line;
    domid_t who;
    int op;
    int64_t a, b, c;
    long rc;
    int64_t out;        /* OUT value: a port, or init_control's link_bits */
    int abi;            /* X, L2, FF */
    struct pexp p;
    struct cexp q;
};

#define PS(d, port, st, v, w) { true, d, port, st, v, w }
#define NOP { false, 0, 0, 0, 0, 0 }
#define CB(v, ready, prio, head, up) { true, v, ready, prio, head, up }
#define UP(v, up) { true, v, X, X, X, up }
#define NOQ { false, 0, 0, 0, 0, 0 }
#define R(who, op, a, b, c, rc, out, abi, p, q) { __LINE__, who, op, a, b, c, rc, out, abi, p, q }
#define CHK(p, q) { __LINE__, 0, P_CHECK, 0, 0, 0, 0, X, X, p, q }

/* dom0; dom1 with 2 vCPUs, which switches itself to FIFO; dom2, its peer.
 * pg[] are zeroed pages of dom1's RAM the rows hand to Xen. */
struct fix {
    struct xensim *sim;
    unsigned long nr_pages;
    xen_pfn_t pg[6];
    xen_pfn_t array[128];
    unsigned int nr_array;
    bool has_cb[2];
    xen_pfn_t cb_pfn[2];
    uint32_t cb_off[2];
};

static void pages_fn(void *p)
{
    struct fix *f = p;
    for (unsigned int i = 0; i < 6; i++)
        f->pg[i] = g_page();
}

static void pages_free_fn(void *p)
{
    struct fix *f = p;
    for (unsigned int i = 0; i < 6; i++)
        xensim_guest_page_free(f->pg[i]);
}

static void fix_setup(struct fix *f)
{
    memset(f, 0, sizeof(*f));
    f->sim = th_sim_new();
    struct xensim_domain_config c1 = { .name = "fifo", .nr_vcpus = 2 };
    ck_assert_int_eq(th_domain_cfg(f->sim, &c1), 1);
    ck_assert_int_eq(th_domain(f->sim, "peer", false, XENSIM_GNTTAB_STRICT), 2);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(f->sim, 1, &info), 0);
    f->nr_pages = info.nr_pages;
    th_call(f->sim, 1, 0, pages_fn, f);
}

static int64_t gfn_of(const struct fix *f, int64_t a)
{
    if (a <= PG(0) && a > PG(6))
        return (int64_t)f->pg[-(a + 1000)];
    if (a == NOTRAM)
        return (int64_t)f->nr_pages;
    if (a == HUGE_GFN)
        return (int64_t)0xFFFFFFFFFFFFull;
    return a;
}

/* What dom1's guest code sees of itself. */
struct view {
    const struct fix *f;
    bool word_ok[128];
    uint32_t word[128];
    bool cb_ok[2];
    uint32_t ready[2];
    uint32_t head[2][EVTCHN_FIFO_MAX_QUEUES];
    uint8_t upcall[2];
};

static void view_fn(void *p)
{
    struct view *w = p;
    const struct fix *f = w->f;
    for (evtchn_port_t port = 0; port < 128; port++) {
        w->word_ok[port] = f->nr_array > 0;
        if (w->word_ok[port])
            w->word[port] = __atomic_load_n(&g_words(f->array[0])[port], __ATOMIC_SEQ_CST);
    }
    for (unsigned int v = 0; v < 2; v++) {
        w->upcall[v] = g_upcall_pending(v);
        w->cb_ok[v] = f->has_cb[v];
        if (!f->has_cb[v])
            continue;
        struct evtchn_fifo_control_block *cb = g_cb(f->cb_pfn[v], f->cb_off[v]);
        w->ready[v] = __atomic_load_n(&cb->ready, __ATOMIC_SEQ_CST);
        for (unsigned int q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++)
            w->head[v][q] = __atomic_load_n(&cb->head[q], __ATOMIC_SEQ_CST);
    }
}

struct snap {
    struct view v;
    long rc[3][128];
    evtchn_status_t st[3][128];
};

static void status_fn(void *p)
{
    struct snap *s = p;
    for (domid_t d = 0; d < 3; d++)
        for (evtchn_port_t port = 0; port < 128; port++) {
            memset(&s->st[d][port], 0, sizeof(s->st[d][port]));
            s->st[d][port].dom = d;
            s->st[d][port].port = port;
            s->rc[d][port] = HYPERVISOR_event_channel_op(EVTCHNOP_status, &s->st[d][port]);
        }
}

static void snapshot(struct fix *f, struct snap *s)
{
    memset(s, 0, sizeof(*s));
    s->v.f = f;
    th_call(f->sim, 0, 0, status_fn, s);
    th_call(f->sim, 1, 0, view_fn, &s->v);
}

struct wset { evtchn_port_t port; uint32_t set, clear; const struct fix *f; };

static void wset_fn(void *p)
{
    struct wset *w = p;
    ck_assert_uint_gt(w->f->nr_array, 0);
    uint32_t *word = &g_words(w->f->array[0])[w->port];
    __atomic_fetch_or(word, w->set, __ATOMIC_SEQ_CST);
    __atomic_fetch_and(word, ~w->clear, __ATOMIC_SEQ_CST);
}

struct cbset { const struct fix *f; unsigned int vcpu; bool ready; uint32_t value; };

static void cbset_fn(void *p)
{
    struct cbset *c = p;
    if (!c->ready) {
        g_set_upcall_pending(c->vcpu, (uint8_t)c->value);
        return;
    }
    ck_assert(c->f->has_cb[c->vcpu]);
    __atomic_store_n(&g_cb(c->f->cb_pfn[c->vcpu], c->f->cb_off[c->vcpu])->ready, c->value,
                     __ATOMIC_SEQ_CST);
}

static const char *op_name(int op)
{
    switch (op) {
    case INIT: return "init_control";
    case EXPAND: return "expand_array";
    case PRIO: return "set_priority";
    case ALLOC: return "alloc_unbound";
    case BIND: return "bind_interdomain";
    case BIPI: return "bind_ipi";
    case SEND: return "send";
    case CLOSE: return "close";
    case UNMASK: return "unmask";
    case BVCPU: return "bind_vcpu";
    case RESET: return "reset";
    default: return "pseudo-op";
    }
}

static void exec_op(struct fix *f, const struct row *r)
{
    union ev_arg a;
    uint32_t *out = NULL;
    uint8_t *out8 = NULL;

    memset(&a, 0xA5, sizeof(a));
    switch (r->op) {
    case INIT:
        a.init_control.control_gfn = (uint64_t)gfn_of(f, r->a);
        a.init_control.offset = (uint32_t)r->b;
        a.init_control.vcpu = (uint32_t)r->c;
        out8 = &a.init_control.link_bits;
        break;
    case EXPAND:
        a.expand_array.array_gfn = (uint64_t)gfn_of(f, r->a);
        break;
    case PRIO:
        a.set_priority.port = (evtchn_port_t)r->a;
        a.set_priority.priority = (uint32_t)r->b;
        break;
    case ALLOC:
        a.alloc_unbound.dom = (domid_t)r->a;
        a.alloc_unbound.remote_dom = (domid_t)r->b;
        out = &a.alloc_unbound.port;
        break;
    case BIND:
        a.bind_interdomain.remote_dom = (domid_t)r->a;
        a.bind_interdomain.remote_port = (evtchn_port_t)r->b;
        out = &a.bind_interdomain.local_port;
        break;
    case BIPI:
        a.bind_ipi.vcpu = (uint32_t)r->a;
        out = &a.bind_ipi.port;
        break;
    case SEND:
        a.send.port = (evtchn_port_t)r->a;
        break;
    case CLOSE:
        a.close.port = (evtchn_port_t)r->a;
        break;
    case UNMASK:
        a.unmask.port = (evtchn_port_t)r->a;
        break;
    case BVCPU:
        a.bind_vcpu.port = (evtchn_port_t)r->a;
        a.bind_vcpu.vcpu = (uint32_t)r->b;
        break;
    case RESET:
        a.reset.dom = (domid_t)r->a;
        break;
    }
    long rc = ev_hc(f->sim, r->who, r->op, &a);
    ck_assert_msg(rc == r->rc, "line %d: dom%u %s(%lld, %lld, %lld) returned %s, expected %s",
                  r->line, r->who, op_name(r->op), (long long)r->a, (long long)r->b,
                  (long long)r->c, xensim_strerror((int)rc), xensim_strerror((int)r->rc));
    if (out && !rc)
        ck_assert_msg(*out == (uint32_t)r->out, "line %d: %s gave %u, expected %lld", r->line,
                      op_name(r->op), *out, (long long)r->out);
    else if (out)
        ck_assert_msg(*out == 0xA5A5A5A5u, "line %d: a failed %s wrote its OUT field", r->line,
                      op_name(r->op));
    /* link_bits goes back only on success: the dispatcher copies the
     * struct back only when rc == 0. */
    if (out8)
        ck_assert_msg(*out8 == (rc ? 0xA5 : EVTCHN_FIFO_LINK_BITS),
                      "line %d: link_bits %u after %s", r->line, *out8, xensim_strerror((int)rc));
    if (rc || r->who != 1)
        return;
    /* What the rows' own guest now knows of its event layer. */
    if (r->op == INIT) {
        f->has_cb[r->c] = true;
        f->cb_pfn[r->c] = (xen_pfn_t)gfn_of(f, r->a);
        f->cb_off[r->c] = (uint32_t)r->b;
    } else if (r->op == EXPAND) {
        f->array[f->nr_array++] = (xen_pfn_t)gfn_of(f, r->a);
    } else if (r->op == RESET) {
        f->nr_array = 0;
        f->has_cb[0] = f->has_cb[1] = false;
    }
}

static void exec_row(struct fix *f, const struct row *r)
{
    switch (r->op) {
    case P_WSET: {
        struct wset w = { (evtchn_port_t)r->a, (uint32_t)r->b, (uint32_t)r->c, f };
        th_call(f->sim, 1, 0, wset_fn, &w);
        break;
    }
    case P_UPCALL:
    case P_READY: {
        struct cbset c = { f, (unsigned int)r->a, r->op == P_READY, (uint32_t)r->b };
        th_call(f->sim, 1, 0, cbset_fn, &c);
        break;
    }
    default:
        exec_op(f, r);
    }
}

static void check_port(const struct row *r, const struct snap *s, const struct pexp *e)
{
    domid_t d = (domid_t)e->dom;
    evtchn_port_t port = (evtchn_port_t)e->port;
    ck_assert_msg(s->rc[d][port] == 0, "line %d: status of dom%u port %u failed", r->line, d, port);
    const evtchn_status_t *st = &s->st[d][port];
    ck_assert_msg(st->status == (uint32_t)e->status, "line %d: dom%u port %u has status %u, expected %lld",
                  r->line, d, port, st->status, (long long)e->status);
    if (e->vcpu != X)
        ck_assert_msg(st->vcpu == (uint32_t)e->vcpu, "line %d: dom%u port %u notifies vcpu %u, expected %lld",
                      r->line, d, port, st->vcpu, (long long)e->vcpu);
    if (e->word == X)
        return;
    if (e->word == NOWORD) {
        ck_assert_msg(!s->v.word_ok[port], "line %d: port %u has a word (0x%08x)", r->line, port,
                      s->v.word[port]);
        return;
    }
    ck_assert_msg(s->v.word_ok[port], "line %d: port %u has no word", r->line, port);
    ck_assert_msg(s->v.word[port] == (uint32_t)e->word, "line %d: port %u's word is 0x%08x, expected 0x%08x",
                  r->line, port, s->v.word[port], (uint32_t)e->word);
}

static void check_cb(const struct row *r, const struct snap *s, const struct cexp *e)
{
    unsigned int v = (unsigned int)e->vcpu;
    if (e->upcall != X)
        ck_assert_msg(s->v.upcall[v] == e->upcall, "line %d: vcpu%u upcall_pending %u, expected %lld",
                      r->line, v, s->v.upcall[v], (long long)e->upcall);
    if (e->ready != X)
        ck_assert_msg(s->v.cb_ok[v] && s->v.ready[v] == (uint32_t)e->ready,
                      "line %d: vcpu%u READY 0x%x, expected 0x%llx", r->line, v, s->v.ready[v],
                      (long long)e->ready);
    if (e->prio != X)
        ck_assert_msg(s->v.head[v][e->prio] == (uint32_t)e->head,
                      "line %d: vcpu%u head[%lld] is %u, expected %lld", r->line, v,
                      (long long)e->prio, s->v.head[v][e->prio], (long long)e->head);
}

static bool names_port(const struct row *rows, size_t i, size_t end, domid_t d, evtchn_port_t p)
{
    for (size_t k = i; k < end; k++)
        if (rows[k].p.on && rows[k].p.dom == d && rows[k].p.port == p)
            return true;
    return false;
}

static bool names_vcpu(const struct row *rows, size_t i, size_t end, unsigned int v, int64_t prio)
{
    for (size_t k = i; k < end; k++)
        if (rows[k].q.on && rows[k].q.vcpu == v && (prio == X || rows[k].q.prio == X ||
                                                    rows[k].q.prio == prio))
            return true;
    return false;
}

static void check_unnamed(const struct row *rows, size_t i, size_t end, const struct snap *b,
                          const struct snap *a)
{
    int line = rows[i].line;
    for (domid_t d = 0; d < 3; d++)
        for (evtchn_port_t p = 0; p < 128; p++) {
            if (names_port(rows, i, end, d, p))
                continue;
            bool same = b->rc[d][p] == a->rc[d][p] &&
                        !memcmp(&b->st[d][p], &a->st[d][p], sizeof(b->st[d][p]));
            /* A page coming or going is the row's own business; a word
             * that was there and still is must not change. */
            if (d == 1 && b->v.word_ok[p] && a->v.word_ok[p])
                same = same && b->v.word[p] == a->v.word[p];
            ck_assert_msg(same, "line %d changed dom%u port %u, which it does not name "
                          "(status %u -> %u, word 0x%08x -> 0x%08x)", line, d, p, b->st[d][p].status,
                          a->st[d][p].status, b->v.word[p], a->v.word[p]);
        }
    for (unsigned int v = 0; v < 2; v++) {
        if (!names_vcpu(rows, i, end, v, X))
            ck_assert_msg(b->v.upcall[v] == a->v.upcall[v] && b->v.ready[v] == a->v.ready[v],
                          "line %d changed vcpu%u's upcall or READY, which it does not name", line, v);
        for (unsigned int q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++)
            if (!names_vcpu(rows, i, end, v, q))
                ck_assert_msg(b->v.head[v][q] == a->v.head[v][q],
                              "line %d changed vcpu%u's head[%u] (%u -> %u), which it does not name",
                              line, v, q, b->v.head[v][q], a->v.head[v][q]);
    }
}

static void run_rows(struct fix *f, const struct row *rows, size_t n)
{
    static struct snap before, after;

    ck_assert(rows[0].op != P_CHECK);
    for (size_t i = 0; i < n;) {
        size_t end = i + 1;
        while (end < n && rows[end].op == P_CHECK)
            end++;
        snapshot(f, &before);
        exec_row(f, &rows[i]);
        snapshot(f, &after);
        check_unnamed(rows, i, end, &before, &after);
        for (size_t k = i; k < end; k++) {
            if (rows[k].p.on)
                check_port(&rows[k], &after, &rows[k].p);
            if (rows[k].q.on)
                check_cb(&rows[k], &after, &rows[k].q);
        }
        if (rows[i].abi != X)
            ck_assert_msg(ev_is_fifo(f->sim, 1) == (rows[i].abi == FF), "line %d: dom1 is %s",
                          rows[i].line, rows[i].abi == FF ? "still 2-level" : "still FIFO");
        i = end;
    }
}

#define Q7 (1u << 7)
#define Q3 (1u << 3)
#define Q2 (1u << 2)
#define Q5 (1u << 5)

/* Xen's answers, in order, and what each leaves. Ports of dom1: 1, 2
 * the builder's (unbound to dom0), 3 interdomain with dom2's 3, 4..7
 * IPIs. */
static const struct row fifo_rows[] = {
    /* who op      a        b     c   rc           out  abi  port afterwards               vCPU afterwards */
    /* On 2-level: expand_array is -EOPNOTSUPP, set_priority looks the
     * port up (-EINVAL) and then finds no priorities (-ENOSYS). */
    R(1, EXPAND, PG(1),   0,    0,  -EOPNOTSUPP, X,   L2,  NOP,                          NOQ),
    R(1, PRIO,   1,       7,    0,  -ENOSYS,     X,   L2,  PS(1, 1, UNB, 0, NOWORD),     NOQ),
    R(1, PRIO,   1024,    7,    0,  -EINVAL,     X,   L2,  NOP,                          NOQ),
    /* a port made pending while still 2-level */
    R(1, ALLOC,  SELF,    2,    0,  0,           3,   L2,  PS(1, 3, UNB, 0, NOWORD),     NOQ),
    R(2, BIND,   1,       3,    0,  0,           3,   X,   PS(2, 3, IDOM, 0, X),         NOQ),
    CHK(PS(1, 3, IDOM, 0, NOWORD),                                                       NOQ),
    R(2, SEND,   3,       0,    0,  0,           X,   L2,  PS(1, 3, IDOM, 0, NOWORD),    UP(0, 1)),
    R(1, P_UPCALL, 0,     0,    0,  0,           X,   X,   NOP,                          UP(0, 0)),
    /* init_control's checks in Xen's order: vCPU, offset bound,
     * alignment, then the frame; a failed first call leaves 2-level */
    R(1, INIT,   PG(0),   0,    2,  -ENOENT,     X,   L2,  NOP,                          NOQ),
    R(1, INIT,   PG(0),   0,    UINT_MAX, -ENOENT, X, L2,  NOP,                          NOQ),
    R(1, INIT,   HUGE_GFN, 4032, 0, -EINVAL,     X,   L2,  NOP,                          NOQ),
    R(1, INIT,   HUGE_GFN, 4,   0,  -EINVAL,     X,   L2,  NOP,                          NOQ),
    R(1, INIT,   HUGE_GFN, 0,   2,  -ENOENT,     X,   L2,  NOP,                          NOQ),
    R(1, INIT,   NOTRAM,  0,    0,  -EINVAL,     X,   L2,  NOP,                          NOQ),
    R(1, INIT,   HUGE_GFN, 0,   0,  -EINVAL,     X,   L2,  NOP,                          NOQ),
    /* the switch: link_bits 17; no word for any port yet */
    R(1, INIT,   PG(0),   0,    0,  0,           X,   FF,  PS(1, 3, IDOM, 0, NOWORD),    CB(0, 0, 7, 0, 0)),
    /* a vCPU gets one block: -EINVAL, never -EEXIST */
    R(1, INIT,   PG(1),   0,    0,  -EINVAL,     X,   FF,  NOP,                          NOQ),
    /* another vCPU's block may share the page, at the last offset */
    R(1, INIT,   PG(0),   4024, 1,  0,           X,   FF,  NOP,                          CB(1, 0, 7, 0, 0)),
    R(1, INIT,   PG(0),   4024, 1,  -EINVAL,     X,   FF,  NOP,                          NOQ),
    /* no word: the event waits for its page */
    R(2, SEND,   3,       0,    0,  0,           X,   FF,  PS(1, 3, IDOM, 0, NOWORD),    NOQ),
    /* set_priority on FIFO: the value, then whether the port is usable */
    R(1, PRIO,   3,       16,   0,  -EINVAL,     X,   FF,  NOP,                          NOQ),
    R(1, PRIO,   3,       UINT_MAX, 0, -EINVAL,  X,   FF,  NOP,                          NOQ),
    R(1, PRIO,   0,       7,    0,  -EACCES,     X,   FF,  NOP,                          NOQ),
    R(1, PRIO,   20,      7,    0,  -EACCES,     X,   FF,  NOP,                          NOQ),
    R(1, PRIO,   20,      99,   0,  -EACCES,     X,   FF,  NOP,                          NOQ),
    R(1, PRIO,   1024,    7,    0,  -EINVAL,     X,   FF,  NOP,                          NOQ),
    R(1, PRIO,   3,       7,    0,  0,           X,   FF,  NOP,                          NOQ),
    /* expand_array: a frame that is not RAM; then page 0, which raises
     * what was pending: port 3 becomes head of vCPU 0's queue 7 (the
     * page is zeroed, so unmasked), READY 7, upcall */
    R(1, EXPAND, NOTRAM,  0,    0,  -EINVAL,     X,   FF,  NOP,                          NOQ),
    R(1, EXPAND, HUGE_GFN, 0,   0,  -EINVAL,     X,   FF,  NOP,                          NOQ),
    R(1, EXPAND, PG(2),   0,    0,  0,           X,   FF,  PS(1, 3, IDOM, 0, P | L),     CB(0, Q7, 7, 3, 1)),
    /* another event on the queue goes after the tail: the tail's LINK */
    R(1, BIPI,   0,       0,    0,  0,           4,   X,   PS(1, 4, IPI, 0, 0),          NOQ),
    R(1, SEND,   4,       0,    0,  0,           X,   X,   PS(1, 4, IPI, 0, P | L),      NOQ),
    CHK(PS(1, 3, IDOM, 0, P | L | 4),                                                    NOQ),
    /* pending already: nothing */
    R(1, SEND,   4,       0,    0,  0,           X,   X,   PS(1, 4, IPI, 0, P | L),      NOQ),
    /* queue 3 is empty: a new head and a new READY bit (upcall already 1) */
    R(1, BIPI,   0,       0,    0,  0,           5,   X,   PS(1, 5, IPI, 0, 0),          NOQ),
    R(1, PRIO,   5,       3,    0,  0,           X,   X,   NOP,                          NOQ),
    R(1, SEND,   5,       0,    0,  0,           X,   X,   PS(1, 5, IPI, 0, P | L),      CB(0, Q7 | Q3, 3, 5, 1)),
    /* masked: PENDING only */
    R(1, BIPI,   0,       0,    0,  0,           6,   X,   PS(1, 6, IPI, 0, 0),          NOQ),
    R(1, P_WSET, 6,       M,    0,  0,           X,   X,   PS(1, 6, IPI, 0, M),          NOQ),
    R(1, SEND,   6,       0,    0,  0,           X,   X,   PS(1, 6, IPI, 0, M | P),      NOQ),
    /* unmask re-raises it: linked after 4 */
    R(1, UNMASK, 6,       0,    0,  0,           X,   X,   PS(1, 6, IPI, 0, P | L),      NOQ),
    CHK(PS(1, 4, IPI, 0, P | L | 6),                                                     NOQ),
    /* unmasking an unmasked pending linked port: still one link */
    R(1, UNMASK, 6,       0,    0,  0,           X,   X,   PS(1, 6, IPI, 0, P | L),      NOQ),
    /* the guest consumes 3 (unlink, ack); a new send links it at the tail */
    R(1, P_WSET, 3,       0,    P | L | FW_LINK, 0, X, X,  PS(1, 3, IDOM, 0, 0),         NOQ),
    R(2, SEND,   3,       0,    0,  0,           X,   X,   PS(1, 3, IDOM, 0, P | L),     NOQ),
    CHK(PS(1, 6, IPI, 0, P | L | 3),                                                     NOQ),
    /* a new priority while linked changes nothing now; once consumed, the
     * next send goes to the new queue (head of queue 2, READY 2) */
    R(1, PRIO,   4,       2,    0,  0,           X,   X,   PS(1, 4, IPI, 0, P | L | 6),  NOQ),
    R(1, P_WSET, 4,       0,    P | L | FW_LINK, 0, X, X,  PS(1, 4, IPI, 0, 0),          NOQ),
    R(1, SEND,   4,       0,    0,  0,           X,   X,   PS(1, 4, IPI, 0, P | L),      CB(0, Q7 | Q3 | Q2, 2, 4, 1)),
    /* moved to vCPU 1 while linked: stays where it is... */
    R(1, BVCPU,  3,       1,    0,  0,           X,   X,   PS(1, 3, IDOM, 1, P | L),     NOQ),
    /* ...consumed, the next send goes to vCPU 1's queue 7 (its upcall),
     * and vCPU 0's queue 7, whose tail it was, forgets its tail */
    R(1, P_WSET, 3,       0,    P | L | FW_LINK, 0, X, X,  PS(1, 3, IDOM, 1, 0),         NOQ),
    R(2, SEND,   3,       0,    0,  0,           X,   X,   PS(1, 3, IDOM, 1, P | L),     CB(1, Q7, 7, 3, 1)),
    R(1, BIPI,   0,       0,    0,  0,           7,   X,   PS(1, 7, IPI, 0, 0),          NOQ),
    R(1, SEND,   7,       0,    0,  0,           X,   X,   PS(1, 7, IPI, 0, P | L),      CB(0, Q7 | Q3 | Q2, 7, 7, 1)),
    /* closing a linked port clears PENDING only: still LINKED, so busy,
     * and allocation passes it by until the guest unlinks it */
    R(1, CLOSE,  5,       0,    0,  0,           X,   X,   PS(1, 5, CLOSED, 0, L),       NOQ),
    R(1, ALLOC,  SELF,    0,    0,  0,           8,   X,   PS(1, 8, UNB, 0, 0),          NOQ),
    R(1, P_WSET, 5,       0,    L | FW_LINK, 0,  X,   X,   PS(1, 5, CLOSED, 0, 0),       NOQ),
    R(1, ALLOC,  SELF,    0,    0,  0,           5,   X,   PS(1, 5, UNB, 0, 0),          NOQ),
    R(1, CLOSE,  8,       0,    0,  0,           X,   X,   PS(1, 8, CLOSED, 0, 0),       NOQ),
    R(1, CLOSE,  5,       0,    0,  0,           X,   X,   PS(1, 5, CLOSED, 0, 0),       NOQ),
    /* a READY bit the guest set itself: a new head raises no upcall */
    R(1, P_UPCALL, 1,     0,    0,  0,           X,   X,   NOP,                          UP(1, 0)),
    R(1, P_READY, 1,      Q7 | Q5, 0, 0,         X,   X,   NOP,                          CB(1, Q7 | Q5, X, X, 0)),
    R(1, ALLOC,  SELF,    SELF, 0,  0,           5,   X,   PS(1, 5, UNB, 0, 0),          NOQ),
    R(1, BIND,   SELF,    5,    0,  0,           8,   X,   PS(1, 8, IDOM, 0, P | L),     NOQ),
    CHK(PS(1, 5, IDOM, 0, 0),                                                            NOQ),
    CHK(PS(1, 7, IPI, 0, P | L | 8),                                                     NOQ),
    R(1, BVCPU,  5,       1,    0,  0,           X,   X,   PS(1, 5, IDOM, 1, 0),         NOQ),
    R(1, PRIO,   5,       5,    0,  0,           X,   X,   NOP,                          NOQ),
    R(1, SEND,   8,       0,    0,  0,           X,   X,   PS(1, 5, IDOM, 1, P | L),     CB(1, Q7 | Q5, 5, 5, 0)),
    /* reset: every port closed, back to 2-level, words no longer read */
    R(1, RESET,  SELF,    0,    0,  0,           X,   L2,  PS(1, 3, CLOSED, 0, NOWORD),  NOQ),
    CHK(PS(2, 3, UNB, 0, X),                                                             NOQ),
    CHK(PS(1, 1, CLOSED, 0, NOWORD),                                                     NOQ),
    CHK(PS(1, 2, CLOSED, 0, NOWORD),                                                     NOQ),
    CHK(PS(1, 4, CLOSED, 0, NOWORD),                                                     NOQ),
    CHK(PS(1, 5, CLOSED, 0, NOWORD),                                                     NOQ),
    CHK(PS(1, 6, CLOSED, 0, NOWORD),                                                     NOQ),
    CHK(PS(1, 7, CLOSED, 0, NOWORD),                                                     NOQ),
    CHK(PS(1, 8, CLOSED, 0, NOWORD),                                                     CB(0, X, X, X, X)),
    CHK(NOP,                                                                             CB(1, X, X, X, X)),
    R(1, EXPAND, PG(3),   0,    0,  -EOPNOTSUPP, X,   L2,  NOP,                          NOQ),
    R(1, PRIO,   3,       7,    0,  -ENOSYS,     X,   L2,  NOP,                          NOQ),
    /* and the next init_control is a first one again */
    R(1, INIT,   PG(3),   0,    0,  0,           X,   FF,  NOP,                          CB(0, 0, X, X, X)),
    R(1, RESET,  SELF,    0,    0,  0,           X,   L2,  NOP,                          NOQ),
    R(2, CLOSE,  3,       0,    0,  0,           X,   X,   PS(2, 3, CLOSED, 0, X),       NOQ),
    /* the builder's ports back, for the leak check */
    R(0, ALLOC,  1,       0,    0,  0,           1,   X,   PS(1, 1, UNB, 0, NOWORD),     NOQ),
    R(0, ALLOC,  1,       0,    0,  0,           2,   X,   PS(1, 2, UNB, 0, NOWORD),     NOQ),
};

START_TEST(fifo_conformance)
{
    struct fix f;
    fix_setup(&f);
    run_rows(&f, fifo_rows, sizeof(fifo_rows) / sizeof(fifo_rows[0]));
    for (domid_t d = 1; d < 3; d++)
        ck_assert_uint_eq(th_ports_in_use(f.sim, d), 0);
    /* the rows end on 2-level: the pages are the test's again */
    th_call(f.sim, 1, 0, pages_free_fn, &f);
    th_sim_free_checked(f.sim);
}
END_TEST


/* A FIFO domain (its kernel switches at its first use of events) with
 * nr_vcpus vCPUs. */
static domid_t fifo_domain(struct xensim *sim, const char *name, unsigned int nr_vcpus,
                           unsigned long nr_pages)
{
    struct xensim_domain_config c = { .name = name, .nr_vcpus = nr_vcpus, .nr_pages = nr_pages,
                                      .evtchn_abi = XENSIM_EVTCHN_FIFO };
    return th_domain_cfg(sim, &c);
}

/* Handlers record the order they ran in: port and vCPU. */
struct order {
    _Atomic unsigned int n;
    evtchn_port_t port[64];
    unsigned int vcpu[64];
    evtchn_port_t resend, urgent;   /* the first resend's handler sends these */
};

static void order_handler(evtchn_port_t port, void *arg)
{
    struct order *o = arg;
    unsigned int n = atomic_load(&o->n);
    if (n < 64) {
        o->port[n] = port;
        o->vcpu[n] = xensim_guest_vcpu_id();
    }
    atomic_store(&o->n, n + 1);
    if (port == o->resend) {
        o->resend = 0;
        if (o->urgent)
            ck_assert_int_eq(xensim_evtchn_send(o->urgent), 0);
        ck_assert_int_eq(xensim_evtchn_send(port), 0);
    }
}

/* The kernel switches itself at its first use of events: the domain is
 * 2-level until then, FIFO after; a 2-level configuration stays so. A
 * bound port's word starts masked (the kernel masks each new page). */
static void boot_fn(void *p)
{
    bool *ok = p;
    ck_assert(!g_is_fifo());
    long port = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(port, 0);
    ok[0] = g_is_fifo();
    ok[1] = xensim_evtchn_is_masked((evtchn_port_t)port);
    xensim_evtchn_unmask((evtchn_port_t)port);
    ok[2] = !xensim_evtchn_is_masked((evtchn_port_t)port);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)port), 0);
}

static void boot_2l_fn(void *p)
{
    bool *ok = p;
    long port = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(port, 0);
    ok[0] = g_is_fifo();
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)port), 0);
}

START_TEST(kernel_switches_at_boot)
{
    struct xensim *sim = th_sim_new();
    domid_t f = fifo_domain(sim, "fifo", 1, 0);
    domid_t l = th_domain(sim, "2l", false, XENSIM_GNTTAB_STRICT);
    bool ok[3] = { false, false, false };
    th_call(sim, f, 0, boot_fn, ok);
    ck_assert_msg(ok[0], "the kernel did not switch to FIFO");
    ck_assert_msg(ok[1], "a new port's word was not masked");
    ck_assert_msg(ok[2], "unmask left the word masked");
    th_call(sim, l, 0, boot_2l_fn, ok);
    ck_assert_msg(!ok[0], "a 2-level kernel switched to FIFO");
    ck_assert_uint_eq(th_ports_in_use(sim, f), 0);
    th_sim_free_checked(sim);
}
END_TEST

/* IPIs bound through the irq layer, with events off while they are sent. */
static evtchn_port_t bind_ordered(struct order *o, uint32_t priority)
{
    long p = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(p, 0);
    ck_assert_int_eq(xensim_irq_bind((evtchn_port_t)p, order_handler, o), 0);
    ck_assert_int_eq(g_set_priority((evtchn_port_t)p, priority), 0);
    return (evtchn_port_t)p;
}

/* Highest priority (0) first; within a priority, the order of the sends. */
static void priority_fn(void *p)
{
    struct order *o = p;
    static const uint32_t prio[6] = { 7, 3, 7, 0, 15, 3 };
    evtchn_port_t port[6];
    for (int i = 0; i < 6; i++)
        port[i] = bind_ordered(o, prio[i]);
    xensim_guest_irq_disable();
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(xensim_evtchn_send(port[i]), 0);
    ck_assert_uint_eq(atomic_load(&o->n), 0);
    xensim_guest_irq_enable();
    static const int want[6] = { 3, 1, 5, 0, 2, 4 };
    ck_assert_uint_eq(atomic_load(&o->n), 6);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(o->port[i] == port[want[i]], "event %d was port %u, expected %u (priority %u)",
                      i, o->port[i], port[want[i]], prio[want[i]]);
    for (int i = 0; i < 6; i++) {
        xensim_irq_unbind(port[i]);
        ck_assert_int_eq(xensim_evtchn_close(port[i]), 0);
    }
}

START_TEST(delivery_by_priority)
{
    struct xensim *sim = th_sim_new();
    domid_t f = fifo_domain(sim, "fifo", 1, 0);
    struct order o = { 0 };
    th_call(sim, f, 0, priority_fn, &o);
    ck_assert_uint_eq(th_ports_in_use(sim, f), 0);
    th_sim_free_checked(sim);
}
END_TEST

/* An event sent again while its handler runs is linked again (LINKED was
 * cleared before the handler) and comes after those already queued; an
 * event of higher priority raised meanwhile goes first. */
static void relink_fn(void *p)
{
    struct order *o = p;
    evtchn_port_t a = bind_ordered(o, 7), b = bind_ordered(o, 7), g = bind_ordered(o, 1);
    o->resend = a;
    o->urgent = g;
    xensim_guest_irq_disable();
    ck_assert_int_eq(xensim_evtchn_send(a), 0);
    ck_assert_int_eq(xensim_evtchn_send(b), 0);
    xensim_guest_irq_enable();
    ck_assert_uint_eq(atomic_load(&o->n), 4);
    ck_assert_uint_eq(o->port[0], a);
    ck_assert_uint_eq(o->port[1], g);
    ck_assert_uint_eq(o->port[2], b);
    ck_assert_uint_eq(o->port[3], a);
    evtchn_port_t all[3] = { a, b, g };
    for (int i = 0; i < 3; i++) {
        xensim_irq_unbind(all[i]);
        ck_assert_int_eq(xensim_evtchn_close(all[i]), 0);
    }
}

START_TEST(relinked_while_handled)
{
    struct xensim *sim = th_sim_new();
    domid_t f = fifo_domain(sim, "fifo", 1, 0);
    struct order o = { 0 };
    th_call(sim, f, 0, relink_fn, &o);
    ck_assert_uint_eq(th_ports_in_use(sim, f), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * A port moved to another vCPU while its event is linked: Xen leaves the
 * event on the old queue (vCPU 0 handles it), and the next one goes to
 * the new vCPU.
 */
struct move_ctx {
    struct xensim *sim;
    domid_t f, peer;
    evtchn_port_t port, peer_port;
    struct order o;
    _Atomic int masked, moved;
};

static void move_bind_fn(void *p)
{
    struct move_ctx *m = p;
    ck_assert_int_eq(xensim_irq_bind(m->port, order_handler, &m->o), 0);
}

static void move_hold_fn(void *p)
{
    struct move_ctx *m = p;
    xensim_guest_irq_disable();
    atomic_store(&m->masked, 1);
    while (!atomic_load(&m->moved))
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    xensim_guest_irq_enable();
}

static void move_rebind_fn(void *p)
{
    struct move_ctx *m = p;
    ck_assert_int_eq(ev_bind_vcpu_self(m->port, 1), 0);
}

START_TEST(port_moved_while_linked)
{
    struct move_ctx m = { .sim = th_sim_new() };
    m.f = fifo_domain(m.sim, "fifo", 2, 0);
    m.peer = th_domain(m.sim, "peer", false, XENSIM_GNTTAB_STRICT);
    long u = ev_alloc_unbound(m.sim, m.f, SELF, m.peer);
    ck_assert_int_gt(u, 0);
    m.port = (evtchn_port_t)u;
    long b = ev_bind_interdomain(m.sim, m.peer, m.f, m.port);
    ck_assert_int_gt(b, 0);
    m.peer_port = (evtchn_port_t)b;
    th_call(m.sim, m.f, 0, move_bind_fn, &m);

    /* vCPU 0 with events off while the event is linked on its queue and
     * the port moves to vCPU 1, whose kernel binds the handler there */
    struct async_call hold = { .sim = m.sim, .dom = m.f, .vcpu = 0, .fn = move_hold_fn, .arg = &m };
    async_start(&hold);
    EV_WAIT_FOR(atomic_load(&m.masked));
    ck_assert_int_eq(ev_send(m.sim, m.peer, m.peer_port), 0);
    th_call(m.sim, m.f, 1, move_rebind_fn, &m);
    th_call(m.sim, m.f, 1, move_bind_fn, &m);
    atomic_store(&m.moved, 1);
    async_join(&hold);
    EV_WAIT_FOR(atomic_load(&m.o.n) >= 1);
    ck_assert_uint_eq(m.o.port[0], m.port);
    ck_assert_uint_eq(m.o.vcpu[0], 0);

    ck_assert_int_eq(ev_send(m.sim, m.peer, m.peer_port), 0);
    EV_WAIT_FOR(atomic_load(&m.o.n) >= 2);
    ck_assert_uint_eq(m.o.port[1], m.port);
    ck_assert_uint_eq(m.o.vcpu[1], 1);
    ck_assert_int_eq(ev_close(m.sim, m.peer, m.peer_port), 0);
    ck_assert_int_eq(ev_close(m.sim, m.f, m.port), 0);
    th_sim_free_checked(m.sim);
}
END_TEST

/*
 * Every port the ABI has: 131,071 IPIs (port 0 is reserved), each sent
 * once with events off, then one scan: each handled exactly once, in the
 * order sent (one queue), and the next bind is -ENOSPC. The kernel adds
 * all 128 event array pages as the ports need them.
 */
struct all_ports {
    uint8_t *seen;
    unsigned int handled, dup, out_of_order;
    evtchn_port_t last;
    long next_bind;
};

static void all_handler(evtchn_port_t port, void *arg)
{
    struct all_ports *a = arg;
    xensim_evtchn_clear_pending(port);
    if (a->seen[port]++)
        a->dup++;
    if (port != a->last + 1)
        a->out_of_order++;
    a->last = port;
    a->handled++;
}

static void all_ports_fn(void *p)
{
    struct all_ports *a = p;
    xensim_guest_irq_disable();
    /* the builder's two ports are dom0's to bind: give them up */
    ck_assert_int_eq(xensim_evtchn_close(1), 0);
    ck_assert_int_eq(xensim_evtchn_close(2), 0);
    for (evtchn_port_t want = 1; want < EVTCHN_FIFO_NR_CHANNELS; want++) {
        long port = xensim_evtchn_bind_ipi(0);
        if (port != (long)want)
            ck_abort_msg("bind %u gave %ld", want, port);
        xensim_evtchn_unmask(want);
    }
    a->next_bind = xensim_evtchn_bind_ipi(0);
    for (evtchn_port_t port = 1; port < EVTCHN_FIFO_NR_CHANNELS; port++)
        if (xensim_evtchn_send(port))
            ck_abort_msg("send %u failed", port);
    xensim_evtchn_scan(all_handler, a);
    for (evtchn_port_t port = 1; port < EVTCHN_FIFO_NR_CHANNELS; port++)
        if (xensim_evtchn_close(port))
            ck_abort_msg("close %u failed", port);
}

START_TEST(every_port_once)
{
    struct xensim *sim = th_sim_new();
    domid_t f = fifo_domain(sim, "all", 1, 512);
    struct all_ports a = { .seen = calloc(EVTCHN_FIFO_NR_CHANNELS, 1) };
    ck_assert_ptr_nonnull(a.seen);
    th_call(sim, f, 0, all_ports_fn, &a);
    ck_assert_int_eq(a.next_bind, -ENOSPC);
    ck_assert_uint_eq(a.handled, EVTCHN_FIFO_NR_CHANNELS - 1);
    ck_assert_uint_eq(a.dup, 0);
    ck_assert_uint_eq(a.out_of_order, 0);
    free(a.seen);
    /* the builder's ports back, as the toolstack made them */
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, f, 0), 1);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, f, 0), 2);
    ck_assert_uint_eq(th_ports_in_use(sim, f), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * Concurrent senders onto one queue: four sender domains (2-level and
 * FIFO) each ping the FIFO receiver on its own port, all at priority 7
 * on vCPU 0, and wait for that ping's handler before the next; then each
 * sends without waiting, and its last send must still be seen. No event
 * is lost (a lost one hangs the case until Check's timeout).
 */
#define SENDERS 4
#define PINGS 1500

struct pingpong {
    struct xensim *sim;
    domid_t rx, tx[SENDERS];
    evtchn_port_t rx_port[SENDERS], tx_port[SENDERS];
    _Atomic unsigned int got[SENDERS];
    _Atomic unsigned int gen[SENDERS], seen_gen[SENDERS];
};

struct pp_sender {
    struct pingpong *pp;
    unsigned int i;
};

static void pp_handler(evtchn_port_t port, void *arg)
{
    struct pingpong *pp = arg;
    for (unsigned int i = 0; i < SENDERS; i++)
        if (pp->rx_port[i] == port) {
            atomic_store(&pp->seen_gen[i], atomic_load(&pp->gen[i]));
            atomic_fetch_add(&pp->got[i], 1);
        }
}

static void pp_bind_fn(void *p)
{
    struct pingpong *pp = p;
    for (unsigned int i = 0; i < SENDERS; i++)
        ck_assert_int_eq(xensim_irq_bind(pp->rx_port[i], pp_handler, pp), 0);
}

static void pp_send_fn(void *p)
{
    struct pp_sender *s = p;
    struct pingpong *pp = s->pp;
    unsigned int i = s->i;
    for (unsigned int k = 1; k <= PINGS; k++) {
        ck_assert_int_eq(xensim_evtchn_send(pp->tx_port[i]), 0);
        while (atomic_load(&pp->got[i]) < k)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    for (unsigned int k = 1; k <= PINGS; k++) {
        atomic_store(&pp->gen[i], k);
        ck_assert_int_eq(xensim_evtchn_send(pp->tx_port[i]), 0);
    }
}

START_TEST(concurrent_senders_one_queue)
{
    struct pingpong pp = { .sim = th_sim_new() };
    pp.rx = fifo_domain(pp.sim, "rx", 1, 0);
    for (unsigned int i = 0; i < SENDERS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "tx%u", i);
        pp.tx[i] = i % 2 ? fifo_domain(pp.sim, name, 1, 0)
                         : th_domain(pp.sim, name, false, XENSIM_GNTTAB_STRICT);
        long u = ev_alloc_unbound(pp.sim, pp.rx, SELF, pp.tx[i]);
        ck_assert_int_gt(u, 0);
        pp.rx_port[i] = (evtchn_port_t)u;
        long b = ev_bind_interdomain(pp.sim, pp.tx[i], pp.rx, pp.rx_port[i]);
        ck_assert_int_gt(b, 0);
        pp.tx_port[i] = (evtchn_port_t)b;
    }
    th_call(pp.sim, pp.rx, 0, pp_bind_fn, &pp);
    struct pp_sender s[SENDERS];
    struct async_call c[SENDERS];
    for (unsigned int i = 0; i < SENDERS; i++) {
        s[i] = (struct pp_sender){ &pp, i };
        c[i] = (struct async_call){ .sim = pp.sim, .dom = pp.tx[i], .fn = pp_send_fn, .arg = &s[i] };
        async_start(&c[i]);
    }
    for (unsigned int i = 0; i < SENDERS; i++)
        async_join(&c[i]);
    for (unsigned int i = 0; i < SENDERS; i++) {
        EV_WAIT_FOR(atomic_load(&pp.seen_gen[i]) == PINGS);
        ck_assert_uint_ge(atomic_load(&pp.got[i]), PINGS + 1);
        ck_assert_uint_le(atomic_load(&pp.got[i]), 2 * PINGS);
    }
    for (unsigned int i = 0; i < SENDERS; i++) {
        ck_assert_int_eq(ev_close(pp.sim, pp.tx[i], pp.tx_port[i]), 0);
        ck_assert_int_eq(ev_close(pp.sim, pp.rx, pp.rx_port[i]), 0);
    }
    th_sim_free_checked(pp.sim);
}
END_TEST

/*
 * A guest that writes garbage into its own words and control block gets
 * Xen's answers and cannot hurt the hypervisor: Xen follows no LINK,
 * never reads a head or READY to find its way, and its loops are bounded.
 * An all-ones word stays as it is; a stray LINKED bit makes the event
 * unlinkable (lost until the guest clears it); a READY bit set by hand
 * means no upcall for that queue; a garbled tail LINK is overwritten; a
 * garbled head is overwritten when its queue next gets a head. The
 * switch is made by this test's own code, which owns the pages.
 */
struct garbage {
    xen_pfn_t cb_pfn, arr_pfn;
    evtchn_port_t tail, mover;
    _Atomic int stop, toggling;
    unsigned long toggles;
    long rc;
};

static long raw_bind_ipi(uint32_t vcpu)
{
    evtchn_bind_ipi_t op = { .vcpu = vcpu };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &op);
    return rc ? rc : (long)op.port;
}

static void garbage_fn(void *p)
{
    struct garbage *g = p;
    xensim_guest_irq_disable();
    g->cb_pfn = g_page();
    g->arr_pfn = g_page();
    ck_assert_int_eq(g_init_control(g->cb_pfn, 0, 0, NULL), 0);
    ck_assert_int_eq(g_expand_array(g->arr_pfn), 0);
    uint32_t *w = g_words(g->arr_pfn);
    struct evtchn_fifo_control_block *cb = g_cb(g->cb_pfn, 0);
    evtchn_port_t pa = 3, pb = 4, pc = 5, pd = 6;
    ck_assert_int_eq(raw_bind_ipi(0), pa);
    ck_assert_int_eq(raw_bind_ipi(0), pb);
    ck_assert_int_eq(raw_bind_ipi(0), pc);
    ck_assert_int_eq(raw_bind_ipi(0), pd);

    /* all ones: pending, masked, linked, busy, LINK 0x1ffff */
    __atomic_store_n(&w[pa], 0xFFFFFFFFu, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(xensim_evtchn_send(pa), 0);
    ck_assert_uint_eq(w[pa], 0xFFFFFFFFu);
    ck_assert_uint_eq(cb->ready, 0);

    /* a stray LINKED bit with a wild LINK: PENDING set, never linked */
    __atomic_store_n(&w[pb], FW_L | 0x1FFFF, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(xensim_evtchn_send(pb), 0);
    ck_assert_uint_eq(w[pb], FW_P | FW_L | 0x1FFFF);
    ck_assert_uint_eq(cb->ready, 0);
    ck_assert_uint_eq(cb->head[7], 0);

    /* READY set by hand: a new head, no upcall */
    g_set_upcall_pending(0, 0);
    __atomic_store_n(&cb->ready, 1u << 7, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(xensim_evtchn_send(pc), 0);
    ck_assert_uint_eq(cb->head[7], pc);
    ck_assert_uint_eq(g_upcall_pending(0), 0);

    /* the tail's LINK garbled while LINKED: Xen overwrites it */
    __atomic_store_n(&w[pc], FW_P | FW_L | 0x1F00F, __ATOMIC_SEQ_CST);
    __atomic_store_n(&w[pb], 0, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(xensim_evtchn_send(pb), 0);
    ck_assert_uint_eq(w[pc], FW_P | FW_L | pb);

    /* a head and READY of garbage: the next head of that queue replaces
     * it, and the upcall comes from READY's bit going 0 to 1 */
    __atomic_store_n(&cb->head[2], 0x1FFFF, __ATOMIC_SEQ_CST);
    __atomic_store_n(&cb->ready, 0xFFFF0000u, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(g_set_priority(pd, 2), 0);
    ck_assert_int_eq(xensim_evtchn_send(pd), 0);
    ck_assert_uint_eq(cb->head[2], pd);
    ck_assert_uint_eq(cb->ready, 0xFFFF0000u | (1u << 2));
    ck_assert_uint_eq(g_upcall_pending(0), 1);
    g_set_upcall_pending(0, 0);
    /* the tail of queue 7 (pb) and one event to keep linking onto it */
    g->tail = pb;
    g->mover = pa;
    __atomic_store_n(&w[pa], 0, __ATOMIC_SEQ_CST);
}

/* vCPU 1, hostile: flips MASKED on the tail's word as fast as it can,
 * ignoring BUSY, while vCPU 0 links onto it. */
static void toggler_fn(void *p)
{
    struct garbage *g = p;
    uint32_t *w = g_words(g->arr_pfn);
    atomic_store(&g->toggling, 1);
    while (!atomic_load(&g->stop)) {
        __atomic_fetch_xor(&w[g->tail], FW_M, __ATOMIC_SEQ_CST);
        g->toggles++;
    }
}

/* vCPU 0 sends the mover again and again, unlinking it in between, so
 * that each send links it onto the toggled tail; every link is bounded
 * (Xen's BUSY bit and 4 retries) and leaves BUSY clear. */
static void linker_fn(void *p)
{
    struct garbage *g = p;
    uint32_t *w = g_words(g->arr_pfn);
    while (!atomic_load(&g->toggling))
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    g->rc = 0;
    for (int i = 0; i < 20000 && !g->rc; i++) {
        __atomic_store_n(&w[g->mover], 0, __ATOMIC_SEQ_CST);
        /* keep the tail linked, so that Xen has to cmpxchg its LINK */
        __atomic_fetch_or(&w[g->tail], FW_L, __ATOMIC_SEQ_CST);
        g->rc = xensim_evtchn_send(g->mover);
    }
    atomic_store(&g->stop, 1);
    ck_assert_uint_eq(__atomic_load_n(&w[g->tail], __ATOMIC_SEQ_CST) & FW_B, 0);
}

static void garbage_close_fn(void *p)
{
    (void)p;
    for (evtchn_port_t q = 3; q <= 6; q++)
        ck_assert_int_eq(xensim_evtchn_close(q), 0);
    g_set_upcall_pending(0, 0);
}

START_TEST(garbage_in_guest_memory)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config c = { .name = "messy", .nr_vcpus = 2 };
    domid_t d = th_domain_cfg(sim, &c);
    struct garbage g = { 0 };
    th_call(sim, d, 0, garbage_fn, &g);
    ck_assert(ev_is_fifo(sim, d));
    struct async_call t = { .sim = sim, .dom = d, .vcpu = 1, .fn = toggler_fn, .arg = &g };
    async_start(&t);
    th_call(sim, d, 0, linker_fn, &g);
    async_join(&t);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_gt(g.toggles, 0);
    th_call(sim, d, 0, garbage_close_fn, NULL);
    ck_assert_uint_eq(th_ports_in_use(sim, d), 0);
    th_sim_free_checked(sim);
}
END_TEST

/* tests/test_fifo_suites.sh runs the driver suites with
 * XENSIM_TEST_EVTCHN_ABI=fifo: the harness's domains, dom0 included, then
 * really are FIFO once their kernels use events. */
static void use_events_fn(void *p)
{
    (void)p;
    long port = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)port), 0);
}

START_TEST(harness_runs_suites_on_fifo)
{
    ck_assert_int_eq(setenv("XENSIM_TEST_EVTCHN_ABI", "fifo", 1), 0);
    struct xensim *sim = th_sim_new();
    domid_t g = th_domain(sim, "guest", false, XENSIM_GNTTAB_STRICT);
    struct xensim_domain_config c = { .name = "2l", .evtchn_abi = XENSIM_EVTCHN_2L_64 };
    domid_t l = th_domain_cfg(sim, &c);
    for (domid_t d = 0; d <= l; d++)
        th_call(sim, d, 0, use_events_fn, NULL);
    ck_assert(ev_is_fifo(sim, 0));
    ck_assert(ev_is_fifo(sim, g));
    /* a suite that asks for an ABI keeps it */
    ck_assert(!ev_is_fifo(sim, l));
    th_sim_free_checked(sim);
    unsetenv("XENSIM_TEST_EVTCHN_ABI");
}
END_TEST

static Suite *fifo_suite(void)
{
    Suite *s = suite_create("evtchn_fifo");
    TCase *t = tcase_create("conformance");
    tcase_add_test(t, fifo_conformance);
    suite_add_tcase(s, t);

    t = tcase_create("delivery");
    tcase_add_test(t, kernel_switches_at_boot);
    tcase_add_test(t, delivery_by_priority);
    tcase_add_test(t, relinked_while_handled);
    tcase_add_test(t, port_moved_while_linked);
    tcase_add_test(t, every_port_once);
    tcase_add_test(t, concurrent_senders_one_queue);
    tcase_add_test(t, garbage_in_guest_memory);
    tcase_add_test(t, harness_runs_suites_on_fifo);
    suite_add_tcase(s, t);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fifo_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
