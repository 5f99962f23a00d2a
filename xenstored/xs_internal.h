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
#include "rcu_publish.h"
#include <xen/xen.h>
#include <xen/io/xs_wire.h>
#include <xenstore_lib.h>
#include "util.h"
#include "xs_daemon.h"

#define XS_PATH_BUF (XENSTORE_ABS_PATH_MAX + 1)
#define XS_NR_DOMIDS DOMID_FIRST_RESERVED
/* Entries per node: as many as a request can carry ("n0" and its NUL). */
#define XS_MAX_PERMS (XENSTORE_PAYLOAD_MAX / 3)

void *xs_alloc(size_t n);                /* zeroed; dies on failure */
char *xs_strdup(const char *s);

/* Paths (xs_path.c). xs_path_canon() checks a node name as C xenstored
 * does (special_ok: any "@name", as WATCH takes); xs_path_join() only
 * makes it absolute (size: out's; returns the length, size if too long). */
struct xs_conn;
int xs_path_canon(const struct xs_conn *c, const char *in, char *out, bool special_ok);
size_t xs_path_join(const struct xs_conn *c, const char *in, char *out, size_t size);
/* 0 for "@introduceDomain", 1 for "@releaseDomain", -1 for any other. */
int xs_special_index(const char *name);
void xs_path_parent(const char *p, char *out);      /* "/" for "/x" */
bool xs_path_is_below(const char *p, const char *top); /* p == top or under it */
const char *xs_path_leaf(const char *p);

/* Permissions (xs_perms.c). Entry 0 is the owner and the default; an
 * entry marked XS_PERM_IGNORE names a domain gone since (C xenstored's
 * domain_adjust_node_perms()) and grants nothing. */
struct xs_daemon;
struct xs_data;
int xs_perms_parse(const char *s, unsigned int n, struct xs_permissions *out);
int xs_perms_format(const struct xs_permissions *p, unsigned int n, char *out, size_t size);
unsigned int xs_perm_for(const struct xs_conn *c, const struct xs_permissions *p,
                         unsigned int n);
/* For a node in the store: entries for domains gone, or made after the
 * node was last written, are ignored too. */
unsigned int xs_perm_for_data(const struct xs_conn *c, const struct xs_data *d);
unsigned int xs_perm_for_at(const struct xs_conn *c, const struct xs_permissions *p,
                            unsigned int n, const uint64_t *gen);
/* Marks the entries xs_perm_for_data() would ignore. */
void xs_perms_adjust(struct xs_daemon *xs, struct xs_permissions *p, unsigned int n,
                     uint64_t gen);
void xs_perms_drop_domain(struct xs_permissions *p, unsigned int *n, domid_t domid);
/* A domid C xenstored would find no domain for (xc_domain_getinfo()). */
bool xs_domid_gone(struct xs_daemon *xs, unsigned int domid);
/* A domid the hypervisor has no domain for; without one, gone. */
bool xs_domid_unknown(struct xs_daemon *xs, unsigned int domid);
/* A permission names a released domid that is not unknown: no longer
 * gone, born now. Under xs->lock. */
void xs_domid_revive(struct xs_daemon *xs, unsigned int domid);

/*
 * The tree. A node's name and position never change; its contents and
 * its child array are immutable objects swapped under RCU, so a reader
 * holding the RCU read lock sees one consistent version of each.
 * Children are kept in the order they were added, as C xenstored's
 * child list (add_child() appends, remove_child_entry() closes the gap),
 * with a second, sorted array for lookup.
 */
struct xs_data {
    struct rcu_head rcu;
    uint64_t gen;                        /* C xenstored's generation: see xs_tree.gen */
    unsigned int nperms, vlen;
    struct xs_permissions *perms;        /* points into this allocation */
    char *value;                         /* ditto; vlen bytes + NUL */
};

struct xs_kids {
    struct rcu_head rcu;
    unsigned int n;
    unsigned int bytes;                  /* the names with their NULs */
    struct xs_node **sorted;             /* by name; points into kid[] */
    struct xs_node *kid[];               /* in insertion order, then sorted */
};

struct xs_node {
    struct rcu_head rcu;
    struct xs_data *data;                /* RCU */
    struct xs_kids *kids;                /* RCU; NULL when none */
    unsigned int plen;                   /* strlen of the full path */
    char name[];                         /* leaf name; "" for the root */
};

/*
 * gen is C xenstored's global generation counter (transaction.c
 * "generation"): taken once for every node a request writes or deletes,
 * each transaction start and each node a commit stores, so that
 * DIRECTORY_PART prints what C xenstored prints. Changed with uatomic
 * ops: transactions take numbers outside the store lock.
 */
struct xs_tree {
    struct xs_node *root;
    uint64_t gen;                        /* last generation handed out */
    unsigned long nr_nodes;
    uint32_t *owned;                     /* nodes per owner domid */
    long *bytes;                         /* their records, per owner (memory quota) */
};

/* C xenstored's record of a node: header, permissions, value, child
 * names; the memory quota counts it with the path (do_tdb_write()). */
#define XS_RECORD_HDR 24

struct xs_data *xs_data_new(uint64_t gen, const struct xs_permissions *p, unsigned int np,
                            const void *val, unsigned int vlen);
void xs_tree_init(struct xs_tree *t);
void xs_tree_fini(struct xs_tree *t);
/* Under the RCU read lock. */
struct xs_node *xs_tree_lookup(struct xs_tree *t, const char *path);
uint64_t xs_gen_next(struct xs_tree *t);
/* Under the store lock. Creating or removing a child leaves the parent's
 * data alone; the caller writes it. */
int xs_tree_create(struct xs_tree *t, const char *path, struct xs_data *d);
void xs_tree_set_data(struct xs_tree *t, struct xs_node *n, struct xs_data *d);
/* Puts the children in this order; names are exactly the children. */
void xs_tree_order_kids(struct xs_tree *t, struct xs_node *n, char *const *names,
                        unsigned int nnames);
/* Removes the subtree. */
int xs_tree_remove(struct xs_tree *t, const char *path);
/* Pre-order walk; fn returns false to skip a node's children. */
void xs_tree_walk(struct xs_tree *t,
                  bool (*fn)(void *arg, const char *path, const struct xs_data *d),
                  void *arg);

/*
 * Transactions. A transaction keeps a private copy of each node it
 * touched: the first access copies it from the store and notes its
 * generation, and the commit fails (EAGAIN) if any of them moved, as in
 * C xenstored. Non-transactional writes use a throw-away one ("implicit")
 * committed at once under the store lock, with no check. The copies are
 * also listed in the order first touched, the order C xenstored's
 * accessed-node list fires a commit's events in.
 */
struct xs_tnode {
    struct xs_tnode *hnext;
    struct xs_tnode *anext;              /* in first-access order */
    uint64_t gen;                        /* the generation the transaction sees */
    bool exists;
    bool data_changed;                   /* value or perms written */
    bool created;                        /* did not exist in the store */
    bool replaced;                       /* removed then made again */
    bool removed;
    bool kids_changed;
    uint64_t check_gen;                  /* the store's at first access; 0: absent */
    unsigned int seen_nperms;            /* the store's permissions at first access */
    long copy;                           /* memory its copy costs the transaction's domain */
    struct xs_permissions *seen_perms;
    bool fire, fire_exact;               /* an event is queued for it (not implicit) */
    unsigned int nperms, vlen;
    struct xs_permissions *perms;
    char *value;
    unsigned int nkids;
    char **kids;                         /* leaf names, in the store's order */
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

/* Nodes a transaction gave to or took from a domain, checked against
 * the node quota at commit (C's transaction_fix_domains()). */
struct xs_tx_dom {
    unsigned int domid;
    long delta;
};

struct xs_tx {
    struct cds_list_head link;           /* on conn->txs */
    struct xs_conn *conn;
    uint32_t id;
    bool implicit;
    bool fail;                           /* an op failed half way: commit ENOMEM */
    uint64_t gen;                        /* taken at TRANSACTION_START */
    unsigned int nr_nodes, nbuckets;
    struct xs_tnode **hash;
    struct xs_tnode *access, **access_tail;
    struct xs_event *events, **events_tail;  /* implicit only */
    unsigned int ndoms;
    struct xs_tx_dom *doms;
    long mem;                            /* the copies', counted to the conn's domain */
};

struct xs_tx *xs_tx_new(struct xs_conn *c, uint32_t id, bool implicit);
void xs_tx_free(struct xs_tx *tx);
/* The node as the transaction sees it (NULL: absent). */
struct xs_tnode *xs_tx_get(struct xs_tx *tx, const char *path, int *err);
int xs_tx_write(struct xs_tx *tx, const char *path, const void *val, unsigned int vlen,
                bool mkdir_only);
int xs_tx_rm(struct xs_tx *tx, const char *path);
/* xs_state_check.c: before a write at path in tx, the device state it
 * replaces (XS_STATE_UNCHECKED: no device state, or nobody to tell);
 * after the write is taken, a move from it no honest end makes is
 * reported. */
#define XS_STATE_UNCHECKED (-2)
int xs_state_before(struct xs_tx *tx, const char *path);
void xs_state_check(struct xs_conn *c, const char *path, int from, const char *val,
                    unsigned int vlen);
int xs_tx_set_perms(struct xs_tx *tx, const char *path, const struct xs_permissions *p,
                    unsigned int np);
/* Under the store lock; fires the events on success. */
int xs_tx_commit(struct xs_tx *tx);
/* Removes every node domid owns, as C xenstored's domain_tree_remove():
 * a walk from the root in child order, each owned subtree removed with
 * its watch events. In an implicit transaction. */
void xs_tx_rm_owned(struct xs_tx *tx, domid_t domid);
/* What the transaction changes in a domain's node count. */
long xs_tx_dom_delta(const struct xs_tx *tx, unsigned int domid);
/* Check access on a missing node: ENOENT if the nearest ancestor that
 * exists grants perm, else EACCES. */
int xs_tx_missing(struct xs_tx *tx, const char *path, unsigned int perm);
/* A refused access to an existing node: C xenstored's errno_from_parents()
 * reads the parent, which a transaction records. Returns -EACCES. */
int xs_tx_refused(struct xs_tx *tx, const char *path);

/*
 * What C xenstored keeps per domain (domain.c: struct domain), for every
 * connection that speaks for the domain together: in C a guest has only
 * its ring; here it may also have in-process connections and sockets,
 * and they share these limits. memory is domain_memory_add()'s count but
 * for the node records, which the tree keeps (tree.bytes): watches
 * (path and token), messages queued for the domain (16 bytes of header
 * and the payload), and its connections but one (its ring, if any).
 */
struct xs_dom_acct {
    unsigned int conns;                  /* under the store lock */
    unsigned int watches;                /* under the store lock */
    unsigned int txs;                    /* under the store lock */
    int outstanding;                     /* uatomic: replies not yet taken */
    long memory;                         /* uatomic */
    bool gone;                           /* released: its ACL entries grant nothing */
    uint64_t born;                       /* generation when introduced after being gone */
};

/* Quotas (xs_quota.c). */
void xs_quota_defaults(struct xs_quota *q);
bool xs_quota_exempt(const struct xs_conn *c);
struct xs_dom_acct *xs_acct(struct xs_daemon *xs, unsigned int domid);
/* The domain's memory as the quota sees it. */
long xs_mem_of(struct xs_daemon *xs, unsigned int domid);
/* Adds bytes (negative: gives back) to the domain's count. The _chk form
 * refuses, changing nothing, when an unprivileged domain would reach the
 * hard quota (domain_memory_add_chk()). */
void xs_mem_add(struct xs_daemon *xs, unsigned int domid, long bytes);
bool xs_mem_fits(struct xs_daemon *xs, unsigned int domid, long bytes);
bool xs_mem_add_chk(struct xs_daemon *xs, unsigned int domid, long bytes);
/* At or over the hard quota: C xenstored stops reading the domain. */
bool xs_mem_over(struct xs_daemon *xs, unsigned int domid);
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
 * watchers any of them lets read. A list with gen is a node's in the
 * store, read as xs_perm_for_data() does. */
struct xs_perm_list {
    const struct xs_permissions *p;
    unsigned int n;
    const uint64_t *gen;
};
void xs_watch_fire(struct xs_daemon *xs, const char *path, bool exact,
                   const struct xs_perm_list *lists, unsigned int nlists);
void xs_watch_fire_special(struct xs_daemon *xs, const char *name, domid_t domid);

/* Connections (xs_conn.c). */
/*
 * An unprivileged domain's request stays outstanding while its reply or
 * any watch event it caused is queued (C's pend.ref: free_buffered_data()
 * decrements nboutstanding only with the last of them). Shared by those
 * messages, on any connection; refs is atomic.
 */
struct xs_req_ref {
    struct xs_daemon *xs;
    domid_t domid;
    bool counted;                        /* its reply was queued: outstanding */
    int refs;
};

struct xs_msg {
    struct cds_list_head link;
    size_t len, off;                     /* bytes in buf; bytes already sent */
    bool event;
    struct xs_req_ref *ref;              /* the request it belongs to, if held */
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
    bool charged;                        /* costs its domain memory (xs_conn.c) */
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
/* linked: the event belongs to the request being dispatched on this
 * thread, if any (not WATCH's first event, which C sends unlinked). */
void xs_conn_event(struct xs_conn *c, const char *path, const char *token, bool linked);
/* Around the dispatch of one request from an unprivileged connection. */
void xs_conn_req_begin(struct xs_conn *c);
void xs_conn_req_end(void);
/* Output for the transport: copies up to size bytes; returns count. */
size_t xs_conn_out_take(struct xs_conn *c, void *buf, size_t size);
bool xs_conn_out_pending(struct xs_conn *c);
/* Drops watches, transactions and half-read input (ring reconnect). */
void xs_conn_reset(struct xs_conn *c);
/* Drops watches and transactions (RESET_WATCHES). */
void xs_conn_drop_state(struct xs_conn *c);
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
    /* C's SET_TARGET takes a talloc_reference() on the target's
     * connection that only the end of the holder's connection gives back,
     * so a RELEASE or a death of a referenced domain drops one reference
     * and nothing else. One entry per SET_TARGET naming this domain, the
     * holder's domid, oldest first: talloc drops the newest first. */
    domid_t *refs;
    unsigned int nrefs;
    /* Died while referenced: talloc_unlink() gave its connection to a
     * holder (owner, DOMID_INVALID if it held itself: then nobody frees
     * it), so it stays introduced, unconnected, until the owner goes. */
    bool detached;
    domid_t owner;
    unsigned long detach_seq;            /* the newest detached goes first */
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
void xs_ring_drop_watches(struct xs_ring *r);
int xs_ring_reintroduce(struct xs_ring *r, uint32_t port);
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
    const struct xs_task_ops *task_ops;  /* set once, never NULL */
    struct xensim *sim;                  /* set once; NULL: no simulation */
    void *task;                          /* the loop thread's, task_ops' */
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
    struct xs_dom_acct *acct;            /* XS_NR_DOMIDS of them */
    /* Who hears @introduceDomain [0] and @releaseDomain [1] besides the
     * privileged: set with SET_PERMS on the special path. */
    unsigned int special_nperms[2];
    struct xs_permissions special_perms[2][XS_MAX_PERMS];
    /* the loop */
    pthread_t thread;
    bool running;                        /* atomics only: read by every thread */
    int epfd, wakefd;
    long virq_port;                      /* VIRQ_DOM_EXC's; -1: not bound */
    struct cds_list_head listeners;
    struct cds_list_head socks;          /* loop thread only */
    pthread_mutex_t call_lock;           /* guards calls */
    pthread_cond_t call_cond;
    struct loop_call *calls;             /* work for the loop thread */
    bool servicing;                      /* loop thread: inside a round */
    unsigned long detach_seq;            /* loop thread: last one given */
    unsigned int nr_graveyard;
    struct xs_ring **graveyard;          /* released during the round */
};

struct xs_domain *xs_domain_find(struct xs_daemon *xs, domid_t domid);
/* XS_RELEASE as C xenstored 4.17 does it (destroy_domain()): the nodes
 * the domain owns go, with their watch events, then @releaseDomain.
 * xs_daemon_release() also removes the home, as a toolstack does. */
int xs_domain_release(struct xs_daemon *xs, domid_t domid);
/* find_connected_domain(): 0, -ENOENT (not introduced) or -EINVAL
 * (introduced, its connection gone). dom0 is always connected. */
int xs_domain_connected(struct xs_daemon *xs, unsigned int domid);
/* XS_SET_TARGET of two connected domains. */
void xs_domain_set_target(struct xs_daemon *xs, domid_t domid, domid_t target);
void xs_daemon_wake(struct xs_daemon *xs);
bool xs_on_loop_thread(struct xs_daemon *xs);
void xs_log(struct xs_daemon *xs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
