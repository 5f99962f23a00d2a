/*
 * Private structures of the XenStore daemon, shared by its modules.
 * Lock rules: xs->lock (the store lock) serialises every change to the
 * tree, the watch lists, the domain table and the node counts; readers
 * of the tree take only the RCU read lock. conn->out_lock guards a
 * connection's output queue and is taken inside xs->lock.
 */
#ifndef XS_INTERNAL_H
#define XS_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
/* The daemon's RCU is its own, as its process's would be on Xen: the
 * bulletproof flavour registers each thread at its first read-side
 * section, whoever made the thread, and apart from the simulator's. */
#include <urcu/urcu-bp.h>
#include <urcu/list.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>
#include <xenstore_lib.h>
#include "xs_daemon.h"

#define XS_PATH_BUF (XENSTORE_ABS_PATH_MAX + 1)
#define XS_NR_DOMIDS DOMID_FIRST_RESERVED
#define XS_MAX_PERMS 64                  /* entries per node, privileged or not */

void xs_die(const char *file, int line, const char *what);
#define XS_CHECK(x) do { if (x) xs_die(__FILE__, __LINE__, #x); } while (0)
void *xs_alloc(size_t n);                /* zeroed; dies on failure */
char *xs_strdup(const char *s);

/* Paths (xs_path.c). */
struct xs_conn;
int xs_path_canon(const struct xs_conn *c, const char *in, char *out, bool special_ok);
bool xs_path_is_special(const char *p);
void xs_path_parent(const char *p, char *out);      /* "/" for "/x" */
bool xs_path_is_below(const char *p, const char *top); /* p == top or under it */
const char *xs_path_leaf(const char *p);

/* Permissions (xs_perms.c). Entry 0 is the owner and the default. */
int xs_perms_parse(const char *s, size_t len, struct xs_permissions *out,
                   unsigned int max, unsigned int *n);
int xs_perms_format(const struct xs_permissions *p, unsigned int n, char *out, size_t size);
unsigned int xs_perm_for(const struct xs_conn *c, const struct xs_permissions *p,
                         unsigned int n);

/*
 * The tree. A node's name and position never change; its contents and
 * its child array are immutable objects swapped under RCU, so a reader
 * holding the RCU read lock sees one consistent version of each.
 * Child arrays are sorted by name.
 */
struct xs_data {
    struct rcu_head rcu;
    uint64_t gen;                        /* store generation of last change */
    unsigned int nperms, vlen;
    struct xs_permissions *perms;        /* points into this allocation */
    char *value;                         /* ditto; vlen bytes + NUL */
};

struct xs_kids {
    struct rcu_head rcu;
    unsigned int n;
    struct xs_node *kid[];
};

struct xs_node {
    struct rcu_head rcu;
    struct xs_data *data;                /* RCU */
    struct xs_kids *kids;                /* RCU; NULL when none */
    char name[];                         /* leaf name; "" for the root */
};

struct xs_tree {
    struct xs_node *root;
    uint64_t gen;                        /* last generation handed out */
    unsigned long nr_nodes;
    uint32_t *owned;                     /* nodes per owner domid */
};

struct xs_data *xs_data_new(uint64_t gen, const struct xs_permissions *p, unsigned int np,
                            const void *val, unsigned int vlen);
void xs_tree_init(struct xs_tree *t);
void xs_tree_fini(struct xs_tree *t);
/* Under the RCU read lock. */
struct xs_node *xs_tree_lookup(struct xs_tree *t, const char *path);
/* Under the store lock. */
int xs_tree_create(struct xs_tree *t, const char *path, struct xs_data *d);
void xs_tree_set_data(struct xs_tree *t, struct xs_node *n, struct xs_data *d);
/* Removes the subtree; calls fn on each removed path, deepest first. */
int xs_tree_remove(struct xs_tree *t, const char *path,
                   void (*fn)(void *arg, const char *path, const struct xs_data *d),
                   void *arg);
/* Pre-order walk; fn returns false to skip a node's children. */
void xs_tree_walk(struct xs_tree *t,
                  bool (*fn)(void *arg, const char *path, const struct xs_data *d),
                  void *arg);

/*
 * Transactions. A transaction keeps a private copy of each node it
 * touched: the first access copies it from the store and notes its
 * generation, and the commit fails (EAGAIN) if any of them moved, as in
 * C xenstored. Non-transactional writes use a throw-away one ("implicit")
 * committed at once under the store lock, with no check.
 */
struct xs_tnode {
    struct xs_tnode *hnext;
    bool exists;
    bool data_changed;                   /* value or perms written */
    bool created;                        /* did not exist in the store */
    bool replaced;                       /* removed then made again */
    bool removed;
    bool kids_changed;
    uint64_t check_gen;                  /* the store's at first access; 0: absent */
    unsigned int seen_nperms;            /* the store's permissions at first access */
    struct xs_permissions *seen_perms;
    bool fire, fire_exact;               /* an event is queued for it (not implicit) */
    unsigned int nperms, vlen;
    struct xs_permissions *perms;
    char *value;
    unsigned int nkids;
    char **kids;                         /* sorted leaf names */
    char path[];
};

/*
 * A change to report once the transaction commits. Who hears of it is
 * C xenstored's watch_permitted(): whoever may read the node, its parent,
 * or the node as it was (so a SET_PERMS taking a reader away still
 * reaches it). For an implicit transaction that is decided from the
 * permissions at the change, kept here; for a real one, as C xenstored
 * does at commit, from the committed node and parent and the node's
 * permissions when the transaction first saw it.
 */
struct xs_event {
    struct xs_event *next;
    bool exact;                          /* a removed descendant: its own watches only */
    unsigned int n[3];                   /* entries: the node's, its old, its parent's */
    struct xs_permissions *perms;        /* n[0] + n[1] + n[2] of them; implicit only */
    char path[];
};

struct xs_tx {
    struct cds_list_head link;           /* on conn->txs */
    struct xs_conn *conn;
    uint32_t id;
    bool implicit;
    unsigned int nr_nodes, nbuckets;
    struct xs_tnode **hash;
    struct xs_event *events, **events_tail;
    long created;                        /* nodes made for the conn's domain */
    unsigned int nr_rm_roots;
    char **rm_roots;                     /* subtrees this transaction removed */
};

struct xs_tx *xs_tx_new(struct xs_conn *c, uint32_t id, bool implicit);
void xs_tx_free(struct xs_tx *tx);
/* The node as the transaction sees it (NULL: absent). */
struct xs_tnode *xs_tx_get(struct xs_tx *tx, const char *path, int *err);
int xs_tx_write(struct xs_tx *tx, const char *path, const void *val, unsigned int vlen,
                bool mkdir_only);
int xs_tx_rm(struct xs_tx *tx, const char *path);
int xs_tx_set_perms(struct xs_tx *tx, const char *path, const struct xs_permissions *p,
                    unsigned int np);
/* Under the store lock; fires the events on success. */
int xs_tx_commit(struct xs_tx *tx);
/* Check access on a missing node: ENOENT if the nearest ancestor that
 * exists grants perm, else EACCES. */
int xs_tx_missing(struct xs_tx *tx, const char *path, unsigned int perm);

/* Quotas (xs_quota.c). */
void xs_quota_defaults(struct xs_quota *q);
bool xs_quota_exempt(const struct xs_conn *c);
int xs_quota_control(struct xs_daemon *xs, char **argv, int argc, char *out, size_t size);

/* Watches (xs_watch.c). */
struct xs_watch {
    struct cds_list_head all_link;       /* on xs->watches */
    struct cds_list_head conn_link;      /* on conn->watches */
    struct xs_conn *conn;
    bool relative;
    char *token;
    char path[];                         /* absolute or special */
};
int xs_watch_add(struct xs_conn *c, const char *path, const char *token, bool relative);
int xs_watch_del(struct xs_conn *c, const char *path, const char *token);
void xs_watch_drop_conn(struct xs_conn *c);          /* under the store lock */
/* Under the store lock. Up to three permission lists: the event goes to
 * watchers any of them lets read. */
struct xs_perm_list {
    const struct xs_permissions *p;
    unsigned int n;
};
void xs_watch_fire(struct xs_daemon *xs, const char *path, bool exact,
                   const struct xs_perm_list *lists, unsigned int nlists);
void xs_watch_fire_special(struct xs_daemon *xs, const char *name, domid_t domid);
/* Index into xs->special_perms for "@introduceDomain" / "@releaseDomain". */
int xs_special_index(const char *name);

/* Connections (xs_conn.c). */
struct xs_msg {
    struct cds_list_head link;
    size_t len, off;                     /* bytes in buf; bytes already sent */
    bool event;
    struct xsd_sockmsg hdr;              /* buf starts here */
    char body[];
};

struct xs_conn_ops {
    void (*kick)(struct xs_conn *c);     /* output was queued */
};

enum xs_conn_kind { XS_CONN_SOCKET, XS_CONN_RING, XS_CONN_LOCAL };

struct xs_conn {
    struct xs_daemon *xs;
    enum xs_conn_kind kind;
    const struct xs_conn_ops *ops;
    void *priv;                          /* the transport's */
    domid_t domid;
    bool privileged;
    char home[32];                       /* "/local/domain/<id>" */
    struct cds_list_head link;           /* on the loop's list */
    /* input, owned by whoever feeds the connection */
    struct xsd_sockmsg in_hdr;
    size_t in_have;                      /* header + body bytes so far */
    char *in_buf;                        /* XENSTORE_PAYLOAD_MAX + 1 */
    /* output */
    pthread_mutex_t out_lock;
    struct cds_list_head out;
    unsigned int out_replies;            /* replies queued, not yet sent */
    unsigned int out_events;
    /* under the store lock */
    struct cds_list_head watches;
    unsigned int nr_watches;
    /* only touched by the thread serving the connection */
    struct cds_list_head txs;
    unsigned int nr_txs;
    uint32_t next_txid;
};

struct xs_conn *xs_conn_new(struct xs_daemon *xs, enum xs_conn_kind kind, domid_t domid,
                            const struct xs_conn_ops *ops, void *priv);
void xs_conn_free(struct xs_conn *c);
/* Consumes bytes, dispatching whole messages; returns bytes taken (fewer
 * when too many replies wait) or -EPROTO for an oversized message. */
long xs_conn_feed(struct xs_conn *c, const void *data, size_t len);
bool xs_conn_stalled(struct xs_conn *c);
void xs_conn_reply(struct xs_conn *c, const struct xsd_sockmsg *req, uint32_t type,
                   const void *body, size_t len);
void xs_conn_error(struct xs_conn *c, const struct xsd_sockmsg *req, int err);
void xs_conn_event(struct xs_conn *c, const char *path, const char *token);
/* Output for the transport: copies up to size bytes; returns count. */
size_t xs_conn_out_take(struct xs_conn *c, void *buf, size_t size);
bool xs_conn_out_pending(struct xs_conn *c);
/* Drops watches, transactions and half-read input (ring reconnect). */
void xs_conn_reset(struct xs_conn *c);
/* Transaction by id for the connection (NULL: none). */
struct xs_tx *xs_conn_tx(struct xs_conn *c, uint32_t id);

/* Dispatch (xs_proto.c). */
void xs_proto_dispatch(struct xs_conn *c, const struct xsd_sockmsg *hdr, char *body);
const char *xs_errname(int err);

/* The domain table (xs_daemon.c). */
struct xs_domain {
    struct cds_list_head link;
    domid_t domid;
    domid_t target;                      /* DOMID_INVALID: none */
    bool shutdown_seen;
    unsigned long gfn;
    uint32_t port;
    struct xs_ring *ring;                /* NULL without ring ops */
};

/* Ring transport (xs_ring.c), on the loop thread. */
struct xs_ring;
struct xs_ring *xs_ring_new(struct xs_daemon *xs, domid_t domid, unsigned long gfn,
                            uint32_t port, int *err);
void xs_ring_free(struct xs_ring *r);
void xs_ring_stop(struct xs_ring *r);    /* serve it no more */
void xs_ring_service(struct xs_ring *r);
uint32_t xs_ring_local_port(const struct xs_ring *r);

/* Socket transport (xs_socket.c), on the loop thread. */
struct xs_sock;
struct xs_sock *xs_sock_new(struct xs_daemon *xs, int fd, domid_t domid);
/* Returns false when the connection is over (then freed). */
bool xs_sock_service(struct xs_sock *s, uint32_t events);
void xs_sock_free(struct xs_sock *s);
int xs_sock_fd(const struct xs_sock *s);
uint32_t xs_sock_wanted(struct xs_sock *s);

struct xs_daemon {
    pthread_mutex_t lock;                /* the store lock */
    struct xs_tree tree;
    struct xs_quota quota;
    const struct xensim_xenstored_ring_ops *ring_ops;
    void *ring_ctx;
    bool quiet, log;
    struct cds_list_head watches;
    struct cds_list_head domains;
    unsigned long nr_watches, nr_txs, nr_conns, nr_domains;
    domid_t target[XS_NR_DOMIDS];        /* DOMID_INVALID: none */
    /* Who hears @introduceDomain [0] and @releaseDomain [1] besides the
     * privileged: set with SET_PERMS on the special path. */
    unsigned int special_nperms[2];
    struct xs_permissions special_perms[2][XS_MAX_PERMS];
    /* the loop */
    pthread_t thread;
    bool running;
    int epfd, wakefd;
    long virq_port;                      /* VIRQ_DOM_EXC's; -1: not bound */
    struct cds_list_head listeners;
    struct cds_list_head socks;          /* loop thread only */
    pthread_mutex_t call_lock;           /* guards calls */
    pthread_cond_t call_cond;
    struct loop_call *calls;             /* work for the loop thread */
    bool servicing;                      /* loop thread: inside a round */
    unsigned int nr_graveyard;
    struct xs_ring **graveyard;          /* released during the round */
};

struct xs_domain *xs_domain_find(struct xs_daemon *xs, domid_t domid);
void xs_daemon_wake(struct xs_daemon *xs);
bool xs_on_loop_thread(struct xs_daemon *xs);
void xs_log(struct xs_daemon *xs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
