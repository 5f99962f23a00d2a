/*
 * The toolstack's one XenStore client: Xen's wire protocol over a stream
 * socket, as libxenstore speaks it to xenstored. Every toolstack call
 * goes through it, whether the socket is xenstored's path or a socket
 * pair's end (xensim_xenstored_connect()). One thread per connection.
 */
#ifndef TS_XS_CLIENT_H
#define TS_XS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>
#include <xenstore_lib.h>

struct ts_xs {
    int fd;
    uint32_t tx;                          /* the open transaction; 0: none */
    uint32_t req_id;
    char reply[XENSTORE_PAYLOAD_MAX + 1]; /* the last reply's body, NUL-terminated */
};

/* 0 or a negative errno; ts_xs_close() closes the socket. */
int ts_xs_open_path(struct ts_xs *x, const char *path);
void ts_xs_open_fd(struct ts_xs *x, int fd);
void ts_xs_close(struct ts_xs *x);

/* One request whose payload is a then b. Returns the reply's length (its
 * body in x->reply) or the negative errno xenstored named. */
int ts_xs_req(struct ts_xs *x, uint32_t type, const void *a, size_t alen, const void *b,
              size_t blen);
int ts_xs_read(struct ts_xs *x, const char *path);
int ts_xs_write(struct ts_xs *x, const char *path, const char *value);
int ts_xs_mkdir(struct ts_xs *x, const char *path);
int ts_xs_rm(struct ts_xs *x, const char *path);
int ts_xs_set_perms(struct ts_xs *x, const char *path, const struct xs_permissions *perms,
                    unsigned int num);
/* Transactions: requests between start and end belong to it. */
int ts_xs_start(struct ts_xs *x);
int ts_xs_end(struct ts_xs *x, bool abort);
int ts_xs_introduce(struct ts_xs *x, domid_t domid, unsigned long gfn, uint32_t port);
/* 1 if xenstored serves the domain, 0 if not, or a negative errno. */
int ts_xs_is_introduced(struct ts_xs *x, domid_t domid);

#endif
