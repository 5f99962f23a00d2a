/*
 * Finding the shared rings and reading their indices (rings.h). Each
 * layout is a struct ring_kind: the generic request/response ring of
 * <xen/io/ring.h> (block, network), the XenStore ring of <xen/io/xs_wire.h>
 * and the console ring of <xen/io/console.h>. Reads pages only through
 * xensim_domain_peek(); grant tables through xensim_grant_list().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xensim.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/netif.h>
#include <xen/io/console.h>
#include <xen/io/xs_wire.h>
#include "rings.h"
#include "util.h"

struct ring_kind {
    const char *name;
    unsigned int size;           /* slots of a request ring, bytes of a byte ring */
    void (*read)(struct xensim *sim, const struct ring *r, struct jbuf *b);
};

/* The shared header every DEFINE_RING_TYPES ring starts with. */
struct sring_header {
    RING_IDX req_prod, req_event, rsp_prod, rsp_event;
};

static void read_sring(struct xensim *sim, const struct ring *r, struct jbuf *b)
{
    struct sring_header h;
    if (xensim_domain_peek(sim, r->granter, r->frame, 0, &h, sizeof(h)))
        return;
    jbuf_printf(b, "{\"req_prod\":%u,\"req_event\":%u,\"rsp_prod\":%u,\"rsp_event\":%u}",
                h.req_prod, h.req_event, h.rsp_prod, h.rsp_event);
}

static void read_xenstore(struct xensim *sim, const struct ring *r, struct jbuf *b)
{
    XENSTORE_RING_IDX idx[4];
    if (xensim_domain_peek(sim, r->granter, r->frame,
                           offsetof(struct xenstore_domain_interface, req_cons), idx, sizeof(idx)))
        return;
    jbuf_printf(b, "{\"req_cons\":%u,\"req_prod\":%u,\"rsp_cons\":%u,\"rsp_prod\":%u}", idx[0],
                idx[1], idx[2], idx[3]);
}

static void read_console(struct xensim *sim, const struct ring *r, struct jbuf *b)
{
    XENCONS_RING_IDX idx[4];
    if (xensim_domain_peek(sim, r->granter, r->frame,
                           offsetof(struct xencons_interface, in_cons), idx, sizeof(idx)))
        return;
    jbuf_printf(b, "{\"in_cons\":%u,\"in_prod\":%u,\"out_cons\":%u,\"out_prod\":%u}", idx[0],
                idx[1], idx[2], idx[3]);
}

static const struct ring_kind kind_blkif = {
    "blkif", __CONST_RING_SIZE(blkif, XEN_PAGE_SIZE), read_sring,
};
static const struct ring_kind kind_netif_tx = {
    "netif_tx", __CONST_RING_SIZE(netif_tx, XEN_PAGE_SIZE), read_sring,
};
static const struct ring_kind kind_netif_rx = {
    "netif_rx", __CONST_RING_SIZE(netif_rx, XEN_PAGE_SIZE), read_sring,
};
/* A device this view does not know: its header is still the same. */
static const struct ring_kind kind_sring = { "ring", 0, read_sring };
static const struct ring_kind kind_xenstore = { "xenstore", XENSTORE_RING_SIZE, read_xenstore };
static const struct ring_kind kind_console = {
    "console", sizeof(((struct xencons_interface *)0)->out), read_console,
};

/* Which layout a front end's key names: device type, key. */
static const struct {
    const char *type, *key, *suffix;
    const struct ring_kind *kind;
} ring_keys[] = {
    { "vbd", "ring-ref", "", &kind_blkif },
    { "vbd", "ring-ref0", "", &kind_blkif },
    { "vif", "tx-ring-ref", "/tx", &kind_netif_tx },
    { "vif", "rx-ring-ref", "/rx", &kind_netif_rx },
    { NULL, "ring-ref", "", &kind_sring },
};

static const struct xensim_grant_info *grant_find(const struct xensim_grant_info *g, int n,
                                                  grant_ref_t ref)
{
    for (int i = 0; i < n; i++)
        if (g[i].ref == ref)
            return &g[i];
    return NULL;
}

static struct xensim_grant_info *grants_of(struct xensim *sim, domid_t d, int *n)
{
    struct xensim_grant_info *g = NULL;
    int max = 0;
    for (;;) {
        int got = xensim_grant_list(sim, d, g, max);
        if (got <= max) {
            *n = got < 0 ? 0 : got;
            return g;
        }
        max = got + 8;
        struct xensim_grant_info *more = realloc(g, (size_t)max * sizeof(*g));
        if (!more) {
            *n = 0;
            return g;
        }
        g = more;
    }
}

static const char *node_value(const struct rings_node *nodes, int n, const char *path)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(nodes[i].path, path))
            return nodes[i].value;
    return NULL;
}

/* A device key: /local/domain/<fe>/device/<type>/<id>/<key>. */
static bool device_key(const char *path, unsigned int *fe, char *type, size_t tlen, char *devid,
                       size_t dlen, const char **key)
{
    int off = 0;
    if (sscanf(path, "/local/domain/%u/device/%n", fe, &off) != 1 || !off)
        return false;
    const char *p = path + off, *slash = strchr(p, '/');
    if (!slash || (size_t)(slash - p) >= tlen)
        return false;
    snprintf(type, tlen, "%.*s", (int)(slash - p), p);
    p = slash + 1;
    slash = strchr(p, '/');
    if (!slash || (size_t)(slash - p) >= dlen || strchr(slash + 1, '/'))
        return false;
    snprintf(devid, dlen, "%.*s", (int)(slash - p), p);
    *key = slash + 1;
    return true;
}

static void add_device_ring(struct xensim *sim, const struct rings_node *nodes, int nnodes,
                            const struct rings_node *n, struct ring *r, domid_t *granter_cache,
                            struct xensim_grant_info **gcache, int *gn, bool *ok)
{
    unsigned int fe;
    char type[32], devid[32], dir[256], path[300];
    const char *key;
    *ok = false;
    if (!device_key(n->path, &fe, type, sizeof(type), devid, sizeof(devid), &key))
        return;
    for (size_t k = 0; k < sizeof(ring_keys) / sizeof(ring_keys[0]); k++) {
        if (strcmp(ring_keys[k].key, key) || (ring_keys[k].type && strcmp(ring_keys[k].type, type)))
            continue;
        char *end;
        unsigned long ref = strtoul(n->value, &end, 10);
        if (*end || end == n->value || fe >= (unsigned int)DOMID_FIRST_RESERVED)
            return;
        if (*granter_cache != fe) {
            free(*gcache);
            *gcache = grants_of(sim, (domid_t)fe, gn);
            *granter_cache = (domid_t)fe;
        }
        const struct xensim_grant_info *g = grant_find(*gcache, *gn, (grant_ref_t)ref);
        if (!g)
            return;
        memset(r, 0, sizeof(*r));
        snprintf(r->id, sizeof(r->id), "%s/%u/%s%s", type, fe, devid, ring_keys[k].suffix);
        r->kind = ring_keys[k].kind;
        r->granter = (domid_t)fe;
        r->peer = g->domid;
        r->frame = g->frame;
        r->ref = (grant_ref_t)ref;
        snprintf(dir, sizeof(dir), "/local/domain/%u/device/%s/%s", fe, type, devid);
        const char *chan = NULL;
        snprintf(path, sizeof(path), "%s/event-channel", dir);
        chan = node_value(nodes, nnodes, path);
        if (!chan && r->kind == &kind_netif_tx) {
            snprintf(path, sizeof(path), "%s/event-channel-tx", dir);
            chan = node_value(nodes, nnodes, path);
        } else if (!chan && r->kind == &kind_netif_rx) {
            snprintf(path, sizeof(path), "%s/event-channel-rx", dir);
            chan = node_value(nodes, nnodes, path);
        }
        r->port = chan ? (evtchn_port_t)strtoul(chan, NULL, 10) : 0;
        *ok = true;
        return;
    }
}

/* A domain's store or console ring: the frame its reserved grant ref
 * names if it has one (dom0 grants its own store page there too), else
 * the builder's frame. */
static bool add_reserved_ring(const struct xensim_domain_info *info,
                              const struct xensim_grant_info *g, int gn, grant_ref_t ref,
                              struct ring *r)
{
    const struct xensim_grant_info *e = grant_find(g, gn, ref);
    xen_pfn_t frame = ref == GNTTAB_RESERVED_XENSTORE ? info->store_pfn : info->console_pfn;
    if (!e && !frame)
        return false;
    memset(r, 0, sizeof(*r));
    bool store = ref == GNTTAB_RESERVED_XENSTORE;
    snprintf(r->id, sizeof(r->id), "%s/%u", store ? "store" : "console", info->domid);
    r->kind = store ? &kind_xenstore : &kind_console;
    r->granter = info->domid;
    r->peer = e ? e->domid : 0;
    r->frame = e ? e->frame : frame;
    r->ref = ref;
    r->port = store ? info->store_port : info->console_port;
    return true;
}

int rings_discover(struct xensim *sim, const struct xensim_domain_info *infos, int ndoms,
                   const struct rings_node *nodes, int nnodes, struct ring *rings, int max)
{
    int n = 0;
    for (int d = 0; d < ndoms && n < max; d++) {
        int gn;
        struct xensim_grant_info *g = grants_of(sim, infos[d].domid, &gn);
        if (n < max && add_reserved_ring(&infos[d], g, gn, GNTTAB_RESERVED_XENSTORE, &rings[n]))
            n++;
        if (n < max && add_reserved_ring(&infos[d], g, gn, GNTTAB_RESERVED_CONSOLE, &rings[n]))
            n++;
        free(g);
    }
    domid_t cached = DOMID_INVALID;
    struct xensim_grant_info *gcache = NULL;
    int gn = 0;
    for (int i = 0; i < nnodes && n < max; i++) {
        bool ok;
        add_device_ring(sim, nodes, nnodes, &nodes[i], &rings[n], &cached, &gcache, &gn, &ok);
        if (ok)
            n++;
    }
    free(gcache);
    return n;
}

void rings_describe(const struct ring *r, struct jbuf *b)
{
    jbuf_printf(b, "{\"id\":");
    jbuf_str(b, r->id, strlen(r->id));
    jbuf_printf(b, ",\"kind\":\"%s\",\"size\":%u,\"granter\":%u,\"peer\":%u,\"frame\":%lu,"
                "\"ref\":%u,\"port\":%u}", r->kind->name, r->kind->size, r->granter, r->peer,
                (unsigned long)r->frame, r->ref, r->port);
}

void rings_read(struct xensim *sim, const struct ring *r, struct jbuf *b, bool comma)
{
    struct jbuf v = { 0 };
    r->kind->read(sim, r, &v);
    const char *text = jbuf_text(&v);
    if (text && *text) {
        jbuf_printf(b, "%s", comma ? "," : "");
        jbuf_str(b, r->id, strlen(r->id));
        jbuf_printf(b, ":%s", text);
    }
    jbuf_free(&v);
}
