/*
 * Helpers for the grant table suites: run GNTTABOP_* and the granter
 * helpers as guest code on a vCPU, read a granter's entries straight from
 * its memory, and read the maptrack / pin counts the leak check uses.
 */
#ifndef XENSIM_TEST_GNTTAB_HELPERS_H
#define XENSIM_TEST_GNTTAB_HELPERS_H

/* GNTTABOP_set_version and the structured guest handles need a modern
 * interface version (the layouts are the same either way). */
#if !defined(__XEN_INTERFACE_VERSION__) && !defined(__XEN_TOOLS__)
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include <xensim/hostdev.h>

/* A domain id no domain has (below DOMID_FIRST_RESERVED). */
#define GT_NODOM ((domid_t)0x7FEF)
#define GT_MODE ((enum xensim_gnttab_mode)_i)
#define GT_MODE_NAME(m) ((m) == XENSIM_GNTTAB_STRICT ? "strict" : "fast")

struct gt_call {
    unsigned int cmd;
    void *uop;
    unsigned int count;
    long rc;
};

static void gt_call_fn(void *p)
{
    struct gt_call *c = p;
    c->rc = HYPERVISOR_grant_table_op(c->cmd, c->uop, c->count);
}

/* HYPERVISOR_grant_table_op as guest code of `who`. */
static inline long gt_op(struct xensim *sim, domid_t who, unsigned int cmd,
                         void *uop, unsigned int count)
{
    struct gt_call c = { .cmd = cmd, .uop = uop, .count = count, .rc = -9999 };
    th_call(sim, who, 0, gt_call_fn, &c);
    return c.rc;
}

/* A page of the granter's RAM granted to `to`. */
struct gt_grant {
    domid_t to;
    bool readonly;
    long ref;
    xen_pfn_t pfn;
    uint8_t *page;                /* the granter's own view of it */
    grant_entry_v1_t *ents;       /* a v1 table's entries, or NULL */
    grant_entry_v2_t *ents2;      /* a v2 table's entries and status words */
    grant_status_t *status;
    unsigned int nr_ents;
};

/* The granter's table as the helpers see it, v1 or v2. */
static inline void gt_tables(struct gt_grant *g)
{
    g->ents = xensim_gnttab_entries(&g->nr_ents);
    if (!g->ents) {
        g->ents2 = xensim_gnttab_entries_v2(&g->nr_ents);
        g->status = xensim_gnttab_status(NULL);
    }
}

static void gt_grant_fn(void *p)
{
    struct gt_grant *g = p;
    ck_assert_int_eq(xensim_guest_page_alloc(&g->pfn), 0);
    g->page = xensim_guest_pfn_to_virt(g->pfn);
    g->ref = xensim_gnttab_grant_access(g->to, g->pfn, g->readonly);
    gt_tables(g);
}

/*
 * What the helpers handed out (grants and their pages, own pages), given
 * back by gt_sim_free() before the teardown check, so that the check
 * looks at what the simulator itself still holds. Each test case runs in
 * its own process, so one list per process is one per case.
 */
#define GT_OWNED_MAX 64
struct gt_owned {
    domid_t dom;
    long ref;                     /* -1: a page only */
    xen_pfn_t pfn;
};
static struct gt_owned gt_owned[GT_OWNED_MAX];
static unsigned int gt_nr_owned;

static inline void gt_own(domid_t dom, long ref, xen_pfn_t pfn)
{
    ck_assert_uint_lt(gt_nr_owned, GT_OWNED_MAX);
    gt_owned[gt_nr_owned++] = (struct gt_owned){ dom, ref, pfn };
}

static void gt_give_back_fn(void *p)
{
    struct gt_owned *o = p;
    if (o->ref >= 0) {
        /* Still mapped or pinned is a leak the test must see. */
        ck_assert_msg(xensim_gnttab_end_access((grant_ref_t)o->ref) == 0,
                      "dom%u's grant ref %ld is still in use at teardown", o->dom, o->ref);
        xensim_gnttab_free_ref((grant_ref_t)o->ref);
    }
    xensim_guest_page_free(o->pfn);
}

/* Gives back what the helpers handed out (of domains that still run),
 * then runs the teardown check and destroys sim. */
static inline void gt_sim_free(struct xensim *sim)
{
    for (unsigned int i = gt_nr_owned; i-- > 0;) {
        int rc = xensim_domain_call(sim, gt_owned[i].dom, 0, gt_give_back_fn, &gt_owned[i]);
        ck_assert_msg(rc == 0 || rc == -ESRCH || rc == -ESHUTDOWN,
                      "giving back dom%u's grant: %d", gt_owned[i].dom, rc);
    }
    gt_nr_owned = 0;
    th_sim_free_checked(sim);
}

static inline struct gt_grant gt_grant(struct xensim *sim, domid_t granter, domid_t to,
                                       bool readonly)
{
    struct gt_grant g = { .to = to, .readonly = readonly, .ref = -9999 };
    th_call(sim, granter, 0, gt_grant_fn, &g);
    ck_assert_int_ge(g.ref, GNTTAB_NR_RESERVED_ENTRIES);
    ck_assert_ptr_nonnull(g.page);
    ck_assert(g.ents || (g.ents2 && g.status));
    gt_own(granter, g.ref, g.pfn);
    return g;
}

/* A page of `who`'s own RAM, given back by gt_sim_free(). */
struct gt_page { xen_pfn_t pfn; uint8_t *va; };

static void gt_page_fn(void *p)
{
    struct gt_page *pg = p;
    ck_assert_int_eq(xensim_guest_page_alloc(&pg->pfn), 0);
    pg->va = xensim_guest_pfn_to_virt(pg->pfn);
}

static inline struct gt_page gt_own_page(struct xensim *sim, domid_t who)
{
    struct gt_page pg = { 0 };
    th_call(sim, who, 0, gt_page_fn, &pg);
    ck_assert_ptr_nonnull(pg.va);
    gt_own(who, -1, pg.pfn);
    return pg;
}

/* The entry's flags as a v1 entry shows them: in v2 the guest's flags
 * with Xen's status bits. */
static inline uint16_t gt_flags(const struct gt_grant *g)
{
    if (g->ents)
        return __atomic_load_n(&g->ents[g->ref].flags, __ATOMIC_ACQUIRE);
    return (uint16_t)(__atomic_load_n(&g->ents2[g->ref].hdr.flags, __ATOMIC_ACQUIRE) |
                      __atomic_load_n(&g->status[g->ref], __ATOMIC_ACQUIRE));
}

struct gt_version_call { unsigned int version; long rc; };

static void gt_version_fn(void *p)
{
    struct gt_version_call *c = p;
    c->rc = xensim_gnttab_set_version(c->version);
}

/* xensim_gnttab_set_version as guest code of `who`. */
static inline long gt_set_version(struct xensim *sim, domid_t who, unsigned int version)
{
    struct gt_version_call c = { .version = version, .rc = -9999 };
    th_call(sim, who, 0, gt_version_fn, &c);
    return c.rc;
}

struct gt_end { grant_ref_t ref; int rc; };

static void gt_end_fn(void *p)
{
    struct gt_end *e = p;
    e->rc = xensim_gnttab_end_access(e->ref);
}

static inline int gt_end_access(struct xensim *sim, domid_t granter, grant_ref_t ref)
{
    struct gt_end e = { .ref = ref, .rc = -9999 };
    th_call(sim, granter, 0, gt_end_fn, &e);
    return e.rc;
}

/* One map as guest code of `who`; returns the status, fills *out. */
static inline int16_t gt_map(struct xensim *sim, domid_t who, domid_t granter,
                             grant_ref_t ref, uint32_t flags, gnttab_map_grant_ref_t *out)
{
    gnttab_map_grant_ref_t op = { .flags = flags, .ref = ref, .dom = granter, .status = 99 };
    ck_assert_int_eq(gt_op(sim, who, GNTTABOP_map_grant_ref, &op, 1), 0);
    if (out)
        *out = op;
    return op.status;
}

static inline int16_t gt_unmap(struct xensim *sim, domid_t who, grant_handle_t h,
                               uint64_t host_addr, uint64_t dev_bus_addr)
{
    gnttab_unmap_grant_ref_t op = {
        .host_addr = host_addr, .dev_bus_addr = dev_bus_addr, .handle = h, .status = 99,
    };
    ck_assert_int_eq(gt_op(sim, who, GNTTABOP_unmap_grant_ref, &op, 1), 0);
    return op.status;
}

/* Unmaps a host mapping made by gt_map. */
static inline void gt_unmap_ok(struct xensim *sim, domid_t who, const gnttab_map_grant_ref_t *m)
{
    ck_assert_int_eq(gt_unmap(sim, who, m->handle, m->host_addr, 0), GNTST_okay);
}

static inline struct xensim_domain_info gt_info(struct xensim *sim, domid_t d)
{
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, d, &info), 0);
    return info;
}

static inline unsigned int gt_maptrack(struct xensim *sim, domid_t d)
{
    return gt_info(sim, d).maptrack_in_use;
}

static inline unsigned int gt_pins(struct xensim *sim, domid_t d)
{
    return gt_info(sim, d).pages_mapped_by_others;
}

/* Reads or writes one byte as guest code (a fault crashes that domain). */
struct gt_access { volatile uint8_t *addr; uint8_t val; bool write; };

static void gt_access_fn(void *p)
{
    struct gt_access *a = p;
    if (a->write)
        *a->addr = a->val;
    else
        a->val = *a->addr;
}

/* Returns xensim_domain_call's result: 0, or -ESHUTDOWN if it faulted. */
static inline int gt_guest_access(struct xensim *sim, domid_t who, void *addr,
                                  bool write, uint8_t *val)
{
    struct gt_access a = { .addr = addr, .val = val ? *val : 0, .write = write };
    int rc = xensim_domain_call(sim, who, 0, gt_access_fn, &a);
    if (val)
        *val = a.val;
    return rc;
}

/* Three domains in one mode: a granter, a grantee and a bystander. */
struct gt_fix {
    struct xensim *sim;
    domid_t a, b, c;
};

static inline struct gt_fix gt_fix_new(enum xensim_gnttab_mode mode)
{
    struct gt_fix f;
    f.sim = th_sim_new();
    f.a = th_domain(f.sim, "granter", false, mode);
    f.b = th_domain(f.sim, "grantee", false, mode);
    f.c = th_domain(f.sim, "other", false, mode);
    return f;
}

/* The same, each domain's table switched to version (1 or 2) first, as
 * a kernel does at boot. */
static inline struct gt_fix gt_fix_new_v(enum xensim_gnttab_mode mode, unsigned int version)
{
    struct gt_fix f = gt_fix_new(mode);
    ck_assert_int_eq(gt_set_version(f.sim, f.a, version), 0);
    ck_assert_int_eq(gt_set_version(f.sim, f.b, version), 0);
    ck_assert_int_eq(gt_set_version(f.sim, f.c, version), 0);
    return f;
}

#endif
