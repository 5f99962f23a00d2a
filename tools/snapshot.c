/*
 * A "snapshot" note's contents (probe_view.h): every domain, each one's
 * ports and grant entries, the rings found, and the XenStore tree with
 * its watches, as JSON for the web page; and the view the probe's
 * subscriber reads each step. Runs on the probe's thread, outside any
 * trace point, so it may take the simulator's locks through the public
 * listings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "probe_view.h"

/* Bounds on what one snapshot shows, so a huge store or table cannot
 * make a note without end. */
#define MAX_DOMAINS 256
#define MAX_NODES 4000
#define MAX_VALUE 240
#define MAX_ROWS 4096          /* every port of the widest 2-level ABI */
#define MAX_RINGS 256

static const char *const state_names[] = {
    [XENSIM_DOMAIN_PAUSED] = "paused", [XENSIM_DOMAIN_RUNNING] = "running",
    [XENSIM_DOMAIN_SHUTDOWN] = "shutdown", [XENSIM_DOMAIN_DYING] = "dying",
};

static const char *const port_states[] = {
    [EVTCHNSTAT_closed] = "closed", [EVTCHNSTAT_unbound] = "unbound",
    [EVTCHNSTAT_interdomain] = "interdomain", [EVTCHNSTAT_pirq] = "pirq",
    [EVTCHNSTAT_virq] = "virq", [EVTCHNSTAT_ipi] = "ipi",
};

struct store {
    struct rings_node *nodes;
    int n;
    bool truncated;
    struct jbuf watches;
    int nwatches;
};

static void store_node(const char *path, const char *value, unsigned int len, domid_t owner,
                       void *arg)
{
    struct store *s = arg;
    (void)owner;
    if (s->n >= MAX_NODES) {
        s->truncated = true;
        return;
    }
    if (!s->nodes) {
        s->nodes = calloc(MAX_NODES, sizeof(*s->nodes));
        if (!s->nodes) {
            s->truncated = true;
            return;
        }
    }
    char *v = malloc(len + 1), *p = strdup(path);
    if (!v || !p) {
        free(v);
        free(p);
        s->truncated = true;
        return;
    }
    memcpy(v, value, len);
    v[len] = '\0';
    s->nodes[s->n].path = p;
    s->nodes[s->n].value = v;
    s->n++;
}

static void store_watch(domid_t domid, const char *path, const char *token, void *arg)
{
    struct store *s = arg;
    if (s->nwatches >= MAX_NODES)
        return;
    jbuf_printf(&s->watches, "%s[%u,", s->nwatches ? "," : "", domid);
    jbuf_str(&s->watches, path, strlen(path));
    jbuf_printf(&s->watches, ",");
    jbuf_str(&s->watches, token, strlen(token));
    jbuf_printf(&s->watches, "]");
    s->nwatches++;
}

static void store_free(struct store *s)
{
    for (int i = 0; i < s->n; i++) {
        free((char *)s->nodes[i].path);
        free((char *)s->nodes[i].value);
    }
    free(s->nodes);
    jbuf_free(&s->watches);
}

static const char *abi_name(enum xensim_evtchn_abi abi)
{
    switch (abi) {
    case XENSIM_EVTCHN_2L_32:
        return "2l_32";
    case XENSIM_EVTCHN_2L_64:
        return "2l_64";
    case XENSIM_EVTCHN_FIFO:
        return "fifo";
    default:
        return "unknown";
    }
}

static void emit_domains(const struct xensim_domain_info *d, int n, struct jbuf *b)
{
    jbuf_printf(b, "\"domains\":[");
    for (int i = 0; i < n; i++) {
        jbuf_printf(b, "%s{\"id\":%u,\"name\":", i ? "," : "", d[i].domid);
        jbuf_str(b, d[i].name, strnlen(d[i].name, sizeof(d[i].name)));
        jbuf_printf(b, ",\"state\":\"%s\",\"vcpus\":%u,\"pages\":%lu,\"pages_allocated\":%lu,"
                    "\"privileged\":%s,\"abi\":\"%s\",\"abi_bits\":%u,\"max_port\":%u,\"ports_in_use\":%u,"
                    "\"maps\":%u,\"mapped_by_others\":%u,\"store_port\":%u,\"console_port\":%u}",
                    d[i].state <= XENSIM_DOMAIN_DYING ? state_names[d[i].state] : "unknown",
                    d[i].nr_vcpus, d[i].nr_pages, d[i].pages_allocated,
                    d[i].privileged ? "true" : "false", abi_name(d[i].evtchn_abi),
                    d[i].evtchn_abi == XENSIM_EVTCHN_2L_32 ? 32 : 64, d[i].max_evtchn_port,
                    d[i].ports_in_use, d[i].maptrack_in_use, d[i].pages_mapped_by_others,
                    d[i].store_port, d[i].console_port);
    }
    jbuf_printf(b, "]");
}

static void emit_ports(struct xensim *sim, const struct xensim_domain_info *d, int n,
                       struct jbuf *b)
{
    static struct xensim_port_info rows[MAX_ROWS];
    jbuf_printf(b, ",\"ports\":{");
    for (int i = 0; i < n; i++) {
        int got = xensim_port_list(sim, d[i].domid, rows, MAX_ROWS);
        jbuf_printf(b, "%s\"%u\":[", i ? "," : "", d[i].domid);
        for (int r = 0; r < got && r < MAX_ROWS; r++) {
            const struct xensim_port_info *p = &rows[r];
            jbuf_printf(b, "%s{\"port\":%u,\"state\":\"%s\",\"remote_dom\":%u,"
                        "\"remote_port\":%u,\"virq\":%u,\"vcpu\":%u,\"pending\":%u,"
                        "\"masked\":%u,\"host\":%u,\"priority\":%u}",
                        r ? "," : "", p->port,
                        p->reserved ? "reserved"
                        : p->status < sizeof(port_states) / sizeof(port_states[0])
                            ? port_states[p->status] : "unknown",
                        p->remote_dom, p->remote_port, p->virq, p->vcpu, p->pending, p->masked,
                        p->host_consumer, p->priority);
        }
        jbuf_printf(b, "]");
    }
    jbuf_printf(b, "}");
}

static void emit_grants(struct xensim *sim, const struct xensim_domain_info *d, int n,
                        struct jbuf *b)
{
    static struct xensim_grant_info rows[MAX_ROWS];
    jbuf_printf(b, ",\"grants\":{");
    for (int i = 0; i < n; i++) {
        int got = xensim_grant_list(sim, d[i].domid, rows, MAX_ROWS);
        jbuf_printf(b, "%s\"%u\":[", i ? "," : "", d[i].domid);
        for (int r = 0; r < got && r < MAX_ROWS; r++) {
            const struct xensim_grant_info *g = &rows[r];
            jbuf_printf(b, "%s{\"ref\":%u,\"flags\":%u,\"domid\":%u,\"frame\":%u,"
                        "\"mapped_by\":%d,\"read_pins\":%u,\"write_pins\":%u}",
                        r ? "," : "", g->ref, g->flags, g->domid, g->frame,
                        g->mapped_by == DOMID_INVALID ? -1 : (int)g->mapped_by, g->read_pins,
                        g->write_pins);
        }
        jbuf_printf(b, "]");
    }
    jbuf_printf(b, "}");
}

static void emit_store(const struct store *s, bool have, struct jbuf *b)
{
    jbuf_printf(b, ",\"xenstore\":{\"running\":%s,\"truncated\":%s,\"nodes\":[",
                have ? "true" : "false", s->truncated ? "true" : "false");
    for (int i = 0; i < s->n; i++) {
        size_t len = strlen(s->nodes[i].value);
        jbuf_printf(b, "%s[", i ? "," : "");
        jbuf_str(b, s->nodes[i].path, strlen(s->nodes[i].path));
        jbuf_printf(b, ",");
        jbuf_str(b, s->nodes[i].value, len > MAX_VALUE ? MAX_VALUE : len);
        jbuf_printf(b, "]");
    }
    const char *w = jbuf_text(&s->watches);
    jbuf_printf(b, "],\"watches\":[%s]}", w ? w : "");
}

int snapshot_build(struct xensim *sim, struct jbuf *b, struct probe_view *v)
{
    static struct xensim_domain_info infos[MAX_DOMAINS];
    int n = xensim_domain_list(sim, infos, MAX_DOMAINS);
    if (n < 0)
        return n;
    if (n > MAX_DOMAINS)
        n = MAX_DOMAINS;
    struct store s = { 0 };
    static const struct xensim_xenstore_visitor visitor = { store_node, store_watch };
    bool have_store = xensim_xenstore_visit(sim, &visitor, &s) == 0;

    v->doms = calloc((size_t)(n ? n : 1), sizeof(*v->doms));
    v->rings = calloc(MAX_RINGS, sizeof(*v->rings));
    if (!v->doms || !v->rings) {
        store_free(&s);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        v->doms[i].domid = infos[i].domid;
        v->doms[i].abi = infos[i].evtchn_abi;
        v->doms[i].nr_vcpus = infos[i].nr_vcpus;
        v->doms[i].shared_info_frame = infos[i].shared_info_frame;
        /* A domain that reset to 2-level meanwhile is read as nothing
         * until the next snapshot. */
        if (infos[i].evtchn_abi == XENSIM_EVTCHN_FIFO)
            xensim_evtchn_fifo_layout(sim, infos[i].domid, &v->doms[i].fifo);
    }
    v->ndoms = n;
    v->nrings = rings_discover(sim, infos, n, s.nodes, s.n, v->rings, MAX_RINGS);

    jbuf_printf(b, "{");
    emit_domains(infos, n, b);
    emit_ports(sim, infos, n, b);
    emit_grants(sim, infos, n, b);
    jbuf_printf(b, ",\"ringinfo\":[");
    for (int i = 0; i < v->nrings; i++) {
        if (i)
            jbuf_printf(b, ",");
        rings_describe(&v->rings[i], b);
    }
    jbuf_printf(b, "]");
    emit_store(&s, have_store, b);
    store_free(&s);
    return b->broken ? -ENOMEM : 0;
}
