/*
 * Looking inside a running simulation: the domains, each domain's ports
 * (state, remote end, notify vCPU, pending, masked) and grant entries
 * (flags, grantee, frame, who pins them), printed as tables. Reads
 * evtchn and gnttab state under their own locks; changes nothing.
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

static void port_describe(const struct evtchn *chn, char *buf, size_t len)
{
    switch (atomic_load(&chn->state)) {
    case ECS_RESERVED:
        snprintf(buf, len, "reserved");
        break;
    case ECS_UNBOUND:
        snprintf(buf, len, "unbound      remote dom%u", chn->u.unbound_remote);
        break;
    case ECS_INTERDOMAIN:
        snprintf(buf, len, "interdomain  dom%u port %u", chn->u.interdomain.dom,
                 chn->u.interdomain.port);
        break;
    case ECS_PIRQ:
        snprintf(buf, len, "pirq");
        break;
    case ECS_VIRQ:
        snprintf(buf, len, "virq         %u", chn->u.virq);
        break;
    case ECS_IPI:
        snprintf(buf, len, "ipi          vcpu %u", chn->u.ipi_vcpu);
        break;
    default:
        snprintf(buf, len, "free");
    }
}

int xensim_dump_ports(struct xensim *sim, domid_t domid, FILE *out)
{
    sim_rcu_ensure();
    rcu_read_lock();
    struct domain *d = domain_lookup(sim, domid);
    if (!d) {
        rcu_read_unlock();
        return -ESRCH;
    }
    const struct evtchn_port_ops *ops = d->evtchn_ops;
    fprintf(out, "dom%u (%s): %s ABI, ports 1..%u usable\n", d->domid, d->name, ops->name,
            evtchn_max_port(d));
    fprintf(out, "%5s  %-34s %5s %8s %7s%s\n", "PORT", "STATE", "VCPU", "PENDING", "MASKED",
            "  CONSUMER");
    int n = 0;
    xensim_mutex_lock(&d->event_lock);
    for (unsigned int p = 0; p < d->valid_ports; p++) {
        struct evtchn *chn = evtchn_from_port(d, p);
        if (atomic_load(&chn->state) == ECS_FREE)
            continue;
        char what[64];
        xensim_mutex_lock(&chn->lock);
        port_describe(chn, what, sizeof(what));
        fprintf(out, "%5u  %-34s %5u %8d %7d%s\n", p, what, chn->notify_vcpu,
                ops->is_pending(d, chn), ops->is_masked(d, chn),
                chn->dev ? "  host process" : "");
        xensim_mutex_unlock(&chn->lock);
        n++;
    }
    xensim_mutex_unlock(&d->event_lock);
    rcu_read_unlock();
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

int xensim_dump_grants(struct xensim *sim, domid_t domid, FILE *out)
{
    sim_rcu_ensure();
    rcu_read_lock();
    struct domain *d = domain_lookup(sim, domid);
    if (!d) {
        rcu_read_unlock();
        return -ESRCH;
    }
    struct grant_table *gt = d->gt;
    xensim_mutex_lock(&gt->lock);
    unsigned int nr = gnttab_nr_entries(gt);
    fprintf(out, "dom%u (%s): grant table v1, %u frame(s) of %u, %u entries\n", d->domid,
            d->name, atomic_load(&gt->nr_frames), gt->max_frames, nr);
    fprintf(out, "%6s  %-40s %6s %8s  %s\n", "REF", "FLAGS", "DOMID", "FRAME", "MAPPED BY");
    int n = 0;
    for (unsigned int ref = 0; ref < nr; ref++) {
        grant_entry_v1_t e = gt->shared[ref];
        if (!e.flags)
            continue;
        char flags[48], pins[64] = "-";
        flags_describe(e.flags, flags, sizeof(flags));
        struct gnttab_active *act = gt->active[ref / GNTTAB_ENTRIES_PER_FRAME]
                                        ? &gt->active[ref / GNTTAB_ENTRIES_PER_FRAME]
                                                     [ref % GNTTAB_ENTRIES_PER_FRAME]
                                        : NULL;
        if (act && act->pin)
            snprintf(pins, sizeof(pins), "dom%u (%u read, %u write pins)", act->domid,
                     (act->pin & 0xff) + ((act->pin >> 16) & 0xff),
                     ((act->pin >> 8) & 0xff) + (act->pin >> 24));
        fprintf(out, "%6u  %-40s %6u %8u  %s\n", ref, flags, e.domid, e.frame, pins);
        n++;
    }
    xensim_mutex_unlock(&gt->lock);
    rcu_read_unlock();
    return n;
}
