/*
 * The hostile console front end (<xensim/hostile.h>): guest code that
 * misuses its own domain's static console ring (start_info.console.domU)
 * against whatever serves it, xenconsoled in dom0 as a rule. It owns no
 * state: the ring and port are the domain's. Calls guest/ and the
 * guest's console driver (for the one honest line) only.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <xensim/console.h>
#include <xensim/guest.h>
#include <xensim/hostile.h>
#include <xensim/io/ring.h>
#include <xen/io/console.h>
#include "front.h"
#include "util.h"

/* The storm goes on past HOSTILE_STORM_EVENTS while its line waits, up
 * to this many: a back end that cannot serve during a storm shows as a
 * line still unread when the storm ends. */
#define STORM_MAX (10u * HOSTILE_STORM_EVENTS)
#define CORRUPT_ROUNDS 64u
#define STORM_LINE "hostile console: served while stormed\n"

/* Notifications at full rate, and halfway through an honest line; the
 * storm goes on until the back end took the line (and for
 * HOSTILE_STORM_EVENTS at least). */
static void event_storm(struct xencons_interface *intf, evtchn_port_t port,
                        struct xensim_hostile_report *r)
{
    XENCONS_RING_IDX end = 0;
    bool written = false, taken = false;
    for (unsigned int i = 0; i < STORM_MAX; i++) {
        if (i == HOSTILE_STORM_EVENTS / 2) {
            ssize_t n = xensim_console_try_write(STORM_LINE, sizeof(STORM_LINE) - 1);
            if (n <= 0)
                return;
            r->requests = (unsigned int)n;
            end = intf->out_prod;
            written = true;
        }
        xensim_evtchn_send(port);
        r->notifications++;
        /* The back end's consumer, which it writes as it goes: the line
         * is taken once it reached our producer. */
        taken = taken || (written && READ_ONCE(intf->out_cons) == end);
        if (taken && i + 1 >= HOSTILE_STORM_EVENTS)
            break;
    }
    r->responses = taken ? r->requests : 0;
}

/* Round after round: out_prod more than a lap ahead of out_cons, in_cons
 * moved back past everything in_prod ever covered, each notified. */
static void ring_indices(struct xencons_interface *intf, evtchn_port_t port,
                         struct xensim_hostile_report *r)
{
    for (unsigned int i = 0; i < CORRUPT_ROUNDS; i++) {
        XENCONS_RING_IDX oc = READ_ONCE(intf->out_cons);
        WRITE_ONCE(intf->out_prod, oc + 0x10000u + i);
        XENCONS_RING_IDX ic = READ_ONCE(intf->in_cons);
        WRITE_ONCE(intf->in_cons, ic - (XENCONS_RING_IDX)sizeof(intf->in) - 1 - i);
        xen_wmb();
        xensim_evtchn_send(port);
        r->requests += 2;
        r->notifications++;
    }
}

static void (*const attacks[XENSIM_HOSTILE_KINDS])(struct xencons_interface *, evtchn_port_t,
                                                   struct xensim_hostile_report *) = {
    [XENSIM_HOSTILE_EVENT_STORM] = event_storm,
    [XENSIM_HOSTILE_RING_INDICES] = ring_indices,
};

int xensim_hostile_console_front_attack(enum xensim_hostile_kind kind,
                                        struct xensim_hostile_report *r)
{
    if ((unsigned int)kind >= XENSIM_HOSTILE_KINDS || !attacks[kind])
        return -EINVAL;
    const start_info_t *si = xensim_guest_start_info();
    if (!si)
        return -EPERM;
    if (!si->console.domU.evtchn)
        return -ENODEV;
    struct xencons_interface *intf = xensim_guest_pfn_to_virt(si->console.domU.mfn);
    if (!intf)
        return -ENODEV;
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    attacks[kind](intf, si->console.domU.evtchn, r);
    return 0;
}
