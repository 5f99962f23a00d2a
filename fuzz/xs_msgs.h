/*
 * What fuzz_xenstored_wire and fuzz_xenstored_ring share: requests made
 * from fuzzer bytes (any type, id and payload, or paths and values from a
 * vocabulary that reaches the interesting nodes), a mirror of the
 * daemon's framing so the harness knows which requests are whole, and a
 * checker of what comes back: every whole request gets exactly one reply,
 * in order, with its req_id and its type or XS_ERROR with a known error
 * name; watch events are two strings; nothing is longer than the protocol
 * allows. Knows only <xen/io/xs_wire.h>.
 */
#ifndef XENSIM_FUZZ_XS_MSGS_H
#define XENSIM_FUZZ_XS_MSGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>
#include "fz.h"

#define XSM_MAX_PENDING 512
#define XSM_SENTINEL_ID 0xf00dfaceu

/* One client stream: what was written and what came back. */
struct xsm_stream {
    const char *name;
    /* Framing as the daemon sees the bytes written. */
    struct xsd_sockmsg hdr;
    size_t have;                     /* bytes of the message being written */
    bool doomed;                     /* an oversized header: the daemon drops us */
    /* Whole requests still waiting for their reply, oldest first. */
    struct { uint32_t type, req_id; } pend[XSM_MAX_PENDING];
    unsigned int head, count;
    bool overflow;                   /* more pending than tracked: count only */
    /* Reply bytes being reassembled. */
    uint8_t in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
    size_t in_have;
    bool sentinel_seen;
    unsigned long replies, events;
};

void xsm_init(struct xsm_stream *s, const char *name);
/* Bytes about to be written: advances the mirror of the daemon's framing. */
void xsm_wrote(struct xsm_stream *s, const void *buf, size_t len);
/* Zero bytes toward the end of the message being written (the rest of
 * its header, or of its payload; none if none is begun): written and
 * passed to xsm_wrote() until none are left, at the end of an input, so
 * that the sentinel is framed. */
size_t xsm_pad(const struct xsm_stream *s, uint8_t *buf, size_t cap);
/* Bytes read back: every message in them is checked (fz_fail on a bad
 * one); returns true once the sentinel's reply has come. */
bool xsm_read(struct xsm_stream *s, const void *buf, size_t len);

/*
 * One request from the input into buf (at most cap bytes): a header whose
 * len is the payload's, or (raw) bytes that may frame anything. Returns
 * the bytes to write.
 */
size_t xsm_build(struct fz_in *in, domid_t self, uint8_t *buf, size_t cap);
/* The sentinel: a READ of a node that never exists, answered ENOENT. */
size_t xsm_sentinel(uint8_t *buf, size_t cap);

#endif
