/*
 * Hostile peers: ready-made misbehaving device ends, for testing that the
 * honest side of a split driver survives them. A block front end, the
 * xenbus driver "vbd" a guest registers instead of blkfront: it connects
 * to a real blkback as blkfront would (a one-page ring, one event
 * channel, protocol x86_64-abi), then, when asked, attacks in one of the
 * front end kinds below and reports what the back end answered. And a
 * block back end, the "vbd" driver a back-end domain registers instead
 * of blkback: it connects to a real blkfront, and answers every request
 * in the way the device's back-end key "hostile-kind" names (one of the
 * back end kinds, by xensim_hostile_name()), so the toolstack picks the
 * misbehaviour per device. A network back end does the same to a real
 * netfront (xensim_hostile_vif_back). And the console pair: guest code
 * misusing its own console ring against xenconsoled, and a dom0 process
 * misusing a guest's ring against its console driver.
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
#include <xensim/xensim.h>

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
    /* Node after node under the device's own XenStore directory (64 to
     * a subdirectory), until the daemon refuses: the per-domain quota
     * (1000 nodes, ENOSPC) must stop it, and other domains' writes must
     * go on. */
    XENSIM_HOSTILE_STORE_QUOTA,
    /* A read, then the data page's grant entry rewritten (a domid that
     * is not the back end's, GTF_readonly) and a second read of the same
     * ref. The front end asks for no persistent grants, so the back end
     * maps per request: the first read is served, the second's map must
     * fail (Xen refuses a grant to another domain) and the request be
     * answered with an error. */
    XENSIM_HOSTILE_GRANT_REWRITE,
    /* A read pushed, then its slot rewritten over and over (a ref never
     * granted, a segment past its page, a sector past the disk; the id
     * and operation kept, since the response shares those bytes) while
     * the back end may be reading it (XSA-155's double fetch). The
     * back end must act on one copy: answer it once, well or with an
     * error, by its id, then serve the next read. */
    XENSIM_HOSTILE_REWRITE_AFTER_PUSH,
    /* With feature-persistent (the device's front-end key
     * "hostile-persistent" = 1): the data page granted under 2048 refs,
     * and reads of 11 segments cycling through all of them, so that a
     * back end keeping every persistent grant would map 2048 pages and
     * exhaust its maptrack. The back end must cap what it keeps (it
     * evicts or maps per request), serve every read, and hold no more
     * than its cap. */
    XENSIM_HOSTILE_GRANT_FLOOD,
    /* With feature-persistent: a read (the back end maps the page for
     * keeps), then the grant entry revoked by hand (flags 0, another
     * domid) while mapped, and a second read of the same ref. Xen lets a
     * mapping outlive its entry: the back end serves on through it, and
     * unmaps cleanly at the end. */
    XENSIM_HOSTILE_REVOKE_MAPPED,
    /* Back end kinds (xensim_hostile_vbd_back), from here on: */
    /* Every request answered with an id never asked for. blkfront must
     * fail the device, and its I/O with an error, never hang. */
    XENSIM_HOSTILE_MADE_UP_IDS,
    /* rsp_prod far past what was asked: the same. */
    XENSIM_HOSTILE_RSP_INDICES,
    /* Requests taken off the ring and never answered. blkfront waits, as
     * Linux's does; when the toolstack removes the device its I/O must
     * end with an error and nothing be left. */
    XENSIM_HOSTILE_NEVER_ANSWERS,
    /* Network only: before each frame it echoes, receive responses that
     * claim more bytes than the posted page holds, an offset past the
     * page, a frame running off its end. netfront must drop each with an
     * error, never read past its buffer, and take the echo. */
    XENSIM_HOSTILE_RX_OVERSIZE,
    XENSIM_HOSTILE_KINDS
};

/* "event-storm", "ring-indices", "bad-requests", "state-jumps",
 * "store-quota", "grant-rewrite", "rewrite-after-push", "grant-flood",
 * "revoke-mapped", "made-up-ids", "rsp-indices", "never-answers",
 * "rx-oversize". */
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
    unsigned int store_writes;       /* XenStore writes the daemon took */
    int store_error;                 /* the first it refused, or 0 */
};

/* The block front end's xenbus driver ("vbd"), for
 * xensim_xenbus_frontend_register() on a guest's vCPU. */
extern const struct xensim_xenbus_driver xensim_hostile_vbd_front;

/* The network front end's xenbus driver ("vif"), for a guest: the kinds
 * event-storm, ring-indices (on the tx ring) and bad-requests (tx
 * requests shorter than an Ethernet header, past their page, on a ref
 * never granted), against netback. It posts no receive buffers. */
extern const struct xensim_xenbus_driver xensim_hostile_vif_front;
/* As xensim_hostile_vbd_attack, for vif devid. backend_state is what
 * XenStore says; netback, as Linux's, gives up on a broken vif without
 * leaving Connected there (xensim_netback_vif_stats tells it), so for
 * ring-indices the attack waits until the back end's end of the port is
 * gone, and backend_closed says it went. */
int xensim_hostile_vif_attack(unsigned int devid, enum xensim_hostile_kind kind,
                              struct xensim_hostile_report *r);

/* The block back end's xenbus driver ("vbd"), for
 * xensim_xenbus_backend_register() in the back end's domain. A device
 * whose "hostile-kind" key is missing or not a back end kind is refused
 * (it never leaves the probe). */
extern const struct xensim_xenbus_driver xensim_hostile_vbd_back;

/* The network back end's xenbus driver ("vif"), for
 * xensim_xenbus_backend_register() in the back end's domain instead of
 * netback's, against a real netfront. It offers copy only, no
 * scatter-gather, and echoes each frame it is sent into the front end's
 * next receive buffer, bent by its device's "hostile-kind":
 * - made-up-ids: tx and rx responses with ids never posted. netfront, as
 *   Linux's, fails the device (a send buffer never answered by its id
 *   cannot be reused) and drops the frames;
 * - rsp-indices: the tx rsp_prod half a ring past what was asked (within
 *   a ring of the consumer, so only a check against the requests made
 *   sees it): netfront fails the device;
 * - never-answers: tx requests taken off the ring and dropped, nothing
 *   received: sends end with -EAGAIN once every buffer is in flight,
 *   never block, and removing the device frees them all;
 * - rx-oversize: netfront drops the lies with an error and receives the
 *   echo.
 * Other kinds are refused at probe, as by xensim_hostile_vbd_back. */
extern const struct xensim_xenbus_driver xensim_hostile_vif_back;

/* On a vCPU of the guest, once device devid is Connected: runs the attack
 * and fills *r. 0; -ENODEV if the device is not connected; -EINVAL for a
 * kind that is not a front end's. The device is left as the attack left it: remove it
 * (xensim_device_remove) to end it. */
int xensim_hostile_vbd_attack(unsigned int devid, enum xensim_hostile_kind kind,
                              struct xensim_hostile_report *r);

/*
 * The console pair. A domain's console ring is static (struct
 * xencons_interface in a page the builder made, grant 0 and the console
 * port; <xensim/console.h>), so these are no xenbus drivers.
 *
 * The hostile front end is guest code misusing its own ring against
 * whatever serves it (xenconsoled), on a vCPU of the guest:
 * - event-storm: an honest line, then notifications at full rate
 *   (100,000 at least, on until the back end took the line, ten times
 *   that at most). requests: the line's bytes; responses: the
 *   same if the back end took them while the storm went on, else 0.
 *   xenconsoled must serve this ring and every other domain's through it;
 * - ring-indices: 64 rounds of out_prod more than a lap ahead of out_cons
 *   and in_cons moved back past everything in_prod covered, each
 *   notified (requests: indices written). xenconsoled must count them
 *   (xensim_consoled_bad_indices), log none of the bytes they claim,
 *   resynchronise, and serve on.
 * 0; -EINVAL for another kind; -EPERM off a vCPU; -ENODEV for dom0.
 */
int xensim_hostile_console_front_attack(enum xensim_hostile_kind kind,
                                        struct xensim_hostile_report *r);

/*
 * The hostile back end is a host thread acting as a dom0 process, as
 * xenconsoled is (<xensim/hostdev.h>): it maps the guest's console ring
 * and binds its port, so xenconsoled must not serve that domain too. The
 * attacks, from any host thread:
 * - event-storm: 100,000 notifications with nothing new in the ring, then one honest line of input (requests: its bytes). The
 *   guest's console driver must read that line, its writes still go;
 * - ring-indices: in_prod 5000 ahead of in_cons, over a ring of 'X',
 *   then out_cons 3000 past out_prod. The guest's reads must return no
 *   more than the ring holds, its writes an error, never block.
 * Open: NULL with errno (ENODEV for dom0 or a domain without a console,
 * EINVAL when another back end has the port).
 */
struct xensim_hostile_console;
struct xensim_hostile_console *xensim_hostile_console_back_open(struct xensim *sim,
                                                                domid_t domid);
/* 0, or -EINVAL for another kind. */
int xensim_hostile_console_back_attack(struct xensim_hostile_console *hc,
                                       enum xensim_hostile_kind kind,
                                       struct xensim_hostile_report *r);
/* Unbinds the port and unmaps the ring. */
void xensim_hostile_console_back_close(struct xensim_hostile_console *hc);

#ifdef __cplusplus
}
#endif

#endif
