/*
 * The "echo" device type, a tiny driver pair for testing the xenbus
 * framework end to end: the front end queues 32-bit values on a ring of
 * its own (Xen's ring.h over our request and response structs), the back
 * end answers each with value + 1. Each end owns its transport, as real
 * drivers do, through xenbus.h's public helpers. Call the front end
 * functions on a vCPU of the front end's domain.
 */
#ifndef XENBUS_ECHO_H
#define XENBUS_ECHO_H

#include <stdbool.h>
#include <stdint.h>
#include <xensim/xenbus.h>
#include <xensim/io/ring.h>

/* Front end to back end: answer `value + 1` under the same id. */
struct echo_request {
    uint32_t id;
    uint32_t value;
};

struct echo_response {
    uint32_t id;
    uint32_t value;
};

DEFINE_RING_TYPES(echo, struct echo_request, struct echo_response);

extern const struct xensim_xenbus_driver xenbus_echo_front, xenbus_echo_back;

/* Front ends set up from now on use 2^order ring pages (ring-page-order
 * and ring-ref<i>); 0, the default, is one page published as ring-ref. */
void xenbus_echo_ring_order(unsigned int order);
/* One round trip: *out = value + 1. -ENOTCONN when not Connected,
 * -ETIMEDOUT when no answer comes within timeout_ms. */
int xenbus_echo_call(unsigned int devid, uint32_t value, uint32_t *out, unsigned int timeout_ms);
/* Queues n requests without waiting (a device mid-I/O). Returns n queued. */
int xenbus_echo_submit(unsigned int devid, unsigned int n);
/* The shared ring and local port of devid's front end, for a test playing
 * a hostile front end; -ENOTCONN when not Connected. */
int xenbus_echo_front_ring(unsigned int devid, echo_sring_t **ring, evtchn_port_t *port);

/* Back end: stop answering (requests stay in the ring) or resume. */
void xenbus_echo_back_hold(bool hold);
/* Back end: requests answered so far, all devices of this domain. */
unsigned long xenbus_echo_back_answered(void);

#endif
