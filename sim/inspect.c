/*
 * Looking inside a running simulation: the domains, each domain's ports
 * (state, remote end, notify vCPU, pending, masked, FIFO priority), where
 * a FIFO domain keeps its event words, and grant entries
 * (flags, grantee, frame, who pins them), as rows for programs and as
 * tables for people, and the bytes of a domain's pages. Reads evtchn and
 * gnttab state under their own locks; changes nothing.
 */
#include <errno.h>
#include "gnttab.h"

static const char *const state_names[] = {
    [XENSIM_DOMAIN_PAUSED] = "paused", [XENSIM_DOMAIN_RUNNING] = "running",
    [XENSIM_DOMAIN_SHUTDOWN] = "shutdown", [XENSIM_DOMAIN_DYING] = "dying",
};

int xensim_dump_domains(struct xensim *sim, FILE *out)
{
    struct xensim_domain_info info;
    fprintf(out, "%-5s %-16s %-9s %5s %7s %6s %5s %6s\n", "DOMID", "NAME", "STATE", "VCPUS",
            "PAGES", "PORTS", "MAPS", "PINNED");
    int n = 0;
    for (unsigned int id = 0; id < DOMID_FIRST_RESERVED; id++) {
        if (xensim_domain_info(sim, (domid_t)id, &info))
            continue;
        fprintf(out, "%-5u %-16s %-9s %5u %7lu %6u %5u %6u\n", info.domid, info.name,
                state_names[info.state], info.nr_vcpus, info.nr_pages, info.ports_in_use,
                info.maptrack_in_use, info.pages_mapped_by_others);
        n++;
    }
    return n;
}

/* Reads one port; the caller holds d->event_lock and chn->lock. */
static void port_read(struct domain *d, evtchn_port_t p, struct xensim_port_info *r)
{
    const struct evtchn *chn = evtchn_from_port(d, p);

    memset(r, 0, sizeof(*r));
    r->port = p;
    r->vcpu = chn->notify_vcpu;
    r->pending = d->evtchn_ops->is_pending(d, chn);
    r->masked = d->evtchn_ops->is_masked(d, chn);
    r->host_consumer = chn->dev != NULL;
    /* Only an ABI with priorities keeps one that means anything. */
    if (d->evtchn_ops->set_priority)
        r->priority = atomic_load(&chn->priority);
    switch (atomic_load(&chn->state)) {
    case ECS_RESERVED:
        r->status = EVTCHNSTAT_closed;
        r->reserved = true;
        break;
    case ECS_UNBOUND:
        r->status = EVTCHNSTAT_unbound;
        r->remote_dom = chn->u.unbound_remote;
        break;
    case ECS_INTERDOMAIN:
        r->status = EVTCHNSTAT_interdomain;
        r->remote_dom = chn->u.interdomain.dom;
        r->remote_port = chn->u.interdomain.port;
        break;
    case ECS_PIRQ:
        r->status = EVTCHNSTAT_pirq;
        break;
    case ECS_VIRQ:
        r->status = EVTCHNSTAT_virq;
        r->virq = chn->u.virq;
        break;
    case ECS_IPI:
        r->status = EVTCHNSTAT_ipi;
        r->vcpu = chn->u.ipi_vcpu;
        break;
    default:
        r->status = EVTCHNSTAT_closed;
    }
}

int xensim_port_list(struct xensim *sim, domid_t domid, struct xensim_port_info *rows, int max)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    int n = 0;
    sim_mutex_lock(&d->event_lock);
    for (unsigned int p = 0; p < d->valid_ports; p++) {
        struct evtchn *chn = evtchn_from_port(d, p);
        if (atomic_load(&chn->state) == ECS_FREE)
            continue;
        if (n < max) {
            sim_lock(&chn->lock);
            port_read(d, p, &rows[n]);
            sim_unlock(&chn->lock);
        }
        n++;
    }
    sim_mutex_unlock(&d->event_lock);
    rcu_read_unlock();
    return n;
}

/* Calls list(sim, domid, rows, max) with rows grown until all fit;
 * returns the rows (malloc'd) and their number in *n, or NULL with *n
 * the error (or 0 when there are none). */
static void *list_all(struct xensim *sim, domid_t domid, size_t size,
                      int (*list)(struct xensim *, domid_t, void *, int), int *n)
{
    void *rows = NULL;
    int max = 0;

    for (;;) {
        int got = list(sim, domid, rows, max);
        if (got <= max) {
            *n = got;
            if (got <= 0) {
                free(rows);
                return NULL;
            }
            return rows;
        }
        max = got + 16;    /* room for ports bound meanwhile */
        void *more = realloc(rows, (size_t)max * size);
        if (!more) {
            free(rows);
            *n = -ENOMEM;
            return NULL;
        }
        rows = more;
    }
}

static int port_list_any(struct xensim *sim, domid_t domid, void *rows, int max)
{
    return xensim_port_list(sim, domid, rows, max);
}

static int grant_list_any(struct xensim *sim, domid_t domid, void *rows, int max)
{
    return xensim_grant_list(sim, domid, rows, max);
}

static const char *const status_names[] = {
    [EVTCHNSTAT_closed] = "free", [EVTCHNSTAT_unbound] = "unbound",
    [EVTCHNSTAT_interdomain] = "interdomain", [EVTCHNSTAT_pirq] = "pirq",
    [EVTCHNSTAT_virq] = "virq", [EVTCHNSTAT_ipi] = "ipi",
};

static void port_describe(const struct xensim_port_info *r, char *buf, size_t len)
{
    const char *name = r->reserved ? "reserved" : status_names[r->status];

    switch (r->status) {
    case EVTCHNSTAT_unbound:
        snprintf(buf, len, "%-12s remote dom%u", name, r->remote_dom);
        break;
    case EVTCHNSTAT_interdomain:
        snprintf(buf, len, "%-12s dom%u port %u", name, r->remote_dom, r->remote_port);
        break;
    case EVTCHNSTAT_virq:
        snprintf(buf, len, "%-12s %u", name, r->virq);
        break;
    case EVTCHNSTAT_ipi:
        snprintf(buf, len, "%-12s vcpu %u", name, r->vcpu);
        break;
    default:
        snprintf(buf, len, "%s", name);
    }
}

int xensim_dump_ports(struct xensim *sim, domid_t domid, FILE *out)
{
    const char *abi;
    unsigned int max_port;
    char name[sizeof(((struct domain *)0)->name)];

    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    abi = d->evtchn_ops->name;
    max_port = evtchn_max_port(d);
    memcpy(name, d->name, sizeof(name));
    rcu_read_unlock();

    int n;
    struct xensim_port_info *rows = list_all(sim, domid, sizeof(*rows),
                                             port_list_any, &n);
    if (n < 0)
        return n;
    fprintf(out, "dom%u (%s): %s ABI, ports 1..%u usable\n", domid, name, abi, max_port);
    fprintf(out, "%5s  %-34s %5s %8s %7s%s\n", "PORT", "STATE", "VCPU", "PENDING", "MASKED",
            "  CONSUMER");
    for (int i = 0; i < n; i++) {
        char what[64];
        port_describe(&rows[i], what, sizeof(what));
        fprintf(out, "%5u  %-34s %5u %8d %7d%s\n", rows[i].port, what, rows[i].vcpu,
                rows[i].pending, rows[i].masked, rows[i].host_consumer ? "  host process" : "");
    }
    free(rows);
    return n;
}

static void flags_describe(uint16_t flags, char *buf, size_t len)
{
    static const char *const types[] = { "invalid", "permit_access", "accept_transfer",
                                         "transitive" };
    snprintf(buf, len, "%s%s%s%s", types[flags & GTF_type_mask],
             flags & GTF_readonly ? "|readonly" : "", flags & GTF_reading ? "|reading" : "",
             flags & GTF_writing ? "|writing" : "");
}

static const struct gnttab_active *active_entry(const struct grant_table *gt, grant_ref_t ref)
{
    const struct gnttab_active *chunk = gt->active[ref / GNTTAB_ACTIVE_PER_CHUNK];

    return chunk ? &chunk[ref % GNTTAB_ACTIVE_PER_CHUNK] : NULL;
}

/* The entry's flags as the guest last wrote them (it may write any time),
 * with v2's status bits merged in as a v1 entry shows them. */
static uint16_t entry_flags(const struct grant_table *gt, grant_ref_t ref)
{
    return gnttab_vops(gt)->flags(gt, ref);
}

unsigned int gnttab_entries_in_use(struct domain *d)
{
    struct grant_table *gt = d->gt;
    unsigned int n = 0;

    if (!gt)
        return 0;
    sim_mutex_lock(&gt->lock);
    unsigned int nr = gnttab_nr_entries(gt);
    if (nr > GNTTAB_NR_RESERVED_ENTRIES)
        n = gnttab_vops(gt)->count_in_use(gt, GNTTAB_NR_RESERVED_ENTRIES, nr);
    sim_mutex_unlock(&gt->lock);
    return n;
}

int xensim_grant_list(struct xensim *sim, domid_t domid, struct xensim_grant_info *rows,
                      int max)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    struct grant_table *gt = d->gt;
    int n = 0;
    sim_mutex_lock(&gt->lock);
    unsigned int nr = gnttab_nr_entries(gt);
    for (unsigned int ref = 0; ref < nr; ref++) {
        uint16_t flags = entry_flags(gt, ref);
        if (!flags)
            continue;
        if (n < max) {
            struct xensim_grant_info *r = &rows[n];
            const struct gnttab_active *act = active_entry(gt, ref);
            r->ref = ref;
            r->flags = flags;
            struct gnttab_entry e;
            gnttab_vops(gt)->read(gt, ref, &e);
            r->domid = e.domid;
            r->frame = (uint32_t)e.frame;
            r->mapped_by = act && act->pin ? act->domid : DOMID_INVALID;
            r->read_pins = act ? (act->pin & 0xff) + ((act->pin >> 16) & 0xff) : 0;
            r->write_pins = act ? ((act->pin >> 8) & 0xff) + (act->pin >> 24) : 0;
        }
        n++;
    }
    sim_mutex_unlock(&gt->lock);
    rcu_read_unlock();
    return n;
}

int xensim_dump_grants(struct xensim *sim, domid_t domid, FILE *out)
{
    unsigned int frames, max_frames;
    char name[sizeof(((struct domain *)0)->name)];

    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    frames = atomic_load(&d->gt->nr_frames);
    max_frames = d->gt->max_frames;
    const struct gnttab_version_ops *vo = gnttab_vops(d->gt);
    memcpy(name, d->name, sizeof(name));
    rcu_read_unlock();

    int n;
    struct xensim_grant_info *rows = list_all(sim, domid, sizeof(*rows),
                                              grant_list_any, &n);
    if (n < 0)
        return n;
    fprintf(out, "dom%u (%s): grant table v%u, %u frame(s) of %u, %u entries\n", domid, name,
            vo->version, frames, max_frames, frames * vo->per_frame);
    fprintf(out, "%6s  %-40s %6s %8s  %s\n", "REF", "FLAGS", "DOMID", "FRAME", "MAPPED BY");
    for (int i = 0; i < n; i++) {
        const struct xensim_grant_info *r = &rows[i];
        char flags[48], pins[64] = "-";
        flags_describe(r->flags, flags, sizeof(flags));
        if (r->mapped_by != DOMID_INVALID)
            snprintf(pins, sizeof(pins), "dom%u (%u read, %u write pins)", r->mapped_by,
                     r->read_pins, r->write_pins);
        fprintf(out, "%6u  %-40s %6u %8u  %s\n", r->ref, flags, r->domid, r->frame, pins);
    }
    free(rows);
    return n;
}

/* Memory lives until the domain is freed after a grace period, so the
 * RCU read side alone keeps d->mem mapped while we copy. */
int xensim_domain_peek(struct xensim *sim, domid_t domid, xen_pfn_t frame, unsigned int offset,
                       void *buf, size_t len)
{
    if (offset > XEN_PAGE_SIZE || len > XEN_PAGE_SIZE - offset)
        return -EINVAL;
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    int rc = 0;
    const uint8_t *page = domain_pfn_to_virt(d, frame);
    if (page)
        memcpy(buf, page + offset, len);
    else
        rc = -EINVAL;
    rcu_read_unlock();
    return rc;
}

int xensim_evtchn_fifo_layout(struct xensim *sim, domid_t domid,
                              struct xensim_evtchn_fifo_layout *out)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    int rc = evtchn_fifo_layout(d, out);
    rcu_read_unlock();
    return rc;
}
