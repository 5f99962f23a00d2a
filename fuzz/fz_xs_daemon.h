/*
 * The xenstored harnesses' one door into the daemon: every call they make
 * to xenstored/ is in fz_xs_daemon.c, so that a change of the daemon's
 * internals touches that file alone. The harnesses themselves only speak the wire
 * protocol, over the daemon's unix sockets (fuzz_xenstored_wire) or a
 * guest's store ring (fuzz_xenstored_ring).
 */
#ifndef XENSIM_FUZZ_FZ_XS_DAEMON_H
#define XENSIM_FUZZ_FZ_XS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <xen/xen.h>

struct fzxs;

/*
 * A daemon of its own, no simulator: a socket for dom0 and one for each
 * guest (its connections speak for that domain, unprivileged), each guest
 * introduced, with its home and a directory "data" it owns and may write.
 */
struct fzxs *fzxs_new(const char *dir, const domid_t *guests, unsigned int nr_guests);
/*
 * A daemon serving a simulator's store rings, as dom0's xenstored does
 * (through dom0's evtchn and gntdev handles), without sockets and without
 * the toolstack: fzxs_adopt() introduces a domain with the ring page its
 * builder gave it, makes its home as a toolstack would and its "data"
 * directory, and remembers the page to clear when it is introduced again.
 */
struct xensim;
struct fzxs *fzxs_new_sim(struct xensim *sim);
void fzxs_adopt(struct fzxs *x, domid_t domid, void *ring_page);
void fzxs_free(struct fzxs *x);
const char *fzxs_socket(const struct fzxs *x, unsigned int which);  /* 0: dom0, i: guest i */
/* Returns once the daemon's loop has handled what the sockets closed
 * before the call told it. */
void fzxs_sync(struct fzxs *x);
/* Returns once the daemon's loop has served what it was told before the
 * call (a guest's notify included): two rounds of its loop. */
void fzxs_barrier(struct fzxs *x);
/* Whether anything was written, removed or begun since the daemon was
 * last clean (the tree's generation moved), or a watch, transaction or
 * domain was added: if not, there is nothing to reset. */
bool fzxs_changed(struct fzxs *x);
/* Every guest released and introduced again, as at a reboot: what it
 * owned goes, its home and data come back as they were made. */
void fzxs_reset_guests(struct fzxs *x);
/* After dom0 spoke, which may change anything: every domain it
 * introduced released, every node the new daemon did not have removed,
 * the ones it had put back as they were (value, permissions), quotas,
 * the special nodes' permissions and logging as they were; then the
 * guests as fzxs_reset_guests(). */
void fzxs_reset_all(struct fzxs *x);
/* Fails (fz_fail) unless the daemon holds what it held when new: nodes,
 * watches, transactions, connections, domains, and each guest's counts
 * against its quotas. */
void fzxs_expect_clean(struct fzxs *x, const char *when);

#endif
