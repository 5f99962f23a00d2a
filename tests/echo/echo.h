/*
 * Private to the "echo" device type (xenbus_dev_echo.c, backends/
 * xenbus_backend_echo.c): its ring of 32-bit values, defined with Xen's
 * own ring.h over our own request and response structs.
 */
#ifndef XENBUS_ECHO_H
#define XENBUS_ECHO_H

#include <stdint.h>
#include <xen/xen.h>

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

#define ECHO_RING_SIZE 4096u

#endif
