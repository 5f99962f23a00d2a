/*
 * Hostile peers: ready-made misbehaving device ends, for testing that the
 * honest side of a split driver survives them. The first is a block front
 * end, the xenbus driver "vbd" a guest registers instead of blkfront:
 * it connects to a real blkback as blkfront would (a one-page ring, one
 * event channel, protocol x86_64-abi), then, when asked, attacks in one
 * of the ways below and reports what the back end answered.
 *
 * The honest back end must answer each attack with Xen's error or a clean
 * disconnect, keep serving its other devices and leak nothing.
 */
#ifndef XENSIM_HOSTILE_H
#define XENSIM_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xenbus.h>
#include <xensim/xenbus.h>

#ifdef __cplusplus
extern "C" {
#endif

enum xensim_hostile_kind {
    /* Notifications at full rate with nothing on the ring, then one real
     * request (XSA-332, XSA-391): the back end must still answer it. */
    XENSIM_HOSTILE_EVENT_STORM,
    /* req_prod far ahead of req_cons: more requests than the ring holds.
     * The back end must stop reading the ring and close the device. */
    XENSIM_HOSTILE_RING_INDICES,
    /* Requests no back end can serve: an unknown operation, too many
     * segments, a grant ref never granted, a segment past its page,
     * sectors past the end of the disk. Each must be answered with an
     * error, in its own slot, with its own id. */
    XENSIM_HOSTILE_BAD_REQUESTS,
    /* XenbusStates out of order (Connected, Initialising, Reconfiguring,
     * Initialised, Unknown, Closed): the back end must end in a state
     * it can leave, never crash or hang. */
    XENSIM_HOSTILE_STATE_JUMPS,
    XENSIM_HOSTILE_KINDS
};

/* "event-storm", "ring-indices", "bad-requests", "state-jumps". */
const char *xensim_hostile_name(enum xensim_hostile_kind kind);
/* The kind a name gives: 0, or -EINVAL. */
int xensim_hostile_parse(const char *name, enum xensim_hostile_kind *kind);

/* What the attack did and what the back end answered. */
struct xensim_hostile_report {
    enum xensim_hostile_kind kind;
    uint64_t notifications;          /* events sent to the back end */
    unsigned int requests;           /* requests put on the ring */
    unsigned int responses;          /* responses the back end pushed */
    unsigned int errors;             /* of them, BLKIF_RSP_ERROR or _EOPNOTSUPP */
    unsigned int bad_responses;      /* ids never asked for, or repeated */
    enum xenbus_state backend_state; /* once the back end settled */
    bool backend_closed;             /* it went Closing or Closed */
};

/* The block front end's xenbus driver ("vbd"), for
 * xensim_xenbus_frontend_register() on a guest's vCPU. */
extern const struct xensim_xenbus_driver xensim_hostile_vbd_front;

/* On a vCPU of the guest, once device devid is Connected: runs the attack
 * and fills *r. 0; -ENODEV if the device is not connected; -EINVAL for a
 * kind out of range. The device is left as the attack left it: remove it
 * (xensim_device_remove) to end it. */
int xensim_hostile_vbd_attack(unsigned int devid, enum xensim_hostile_kind kind,
                              struct xensim_hostile_report *r);

#ifdef __cplusplus
}
#endif

#endif
