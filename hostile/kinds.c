/*
 * The hostile peers' kinds by name (<xensim/hostile.h>), for the
 * toolstack's "hostile-kind" key and `xensim demo --hostile`.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <xensim/hostile.h>

static const char *const names[XENSIM_HOSTILE_KINDS] = {
    [XENSIM_HOSTILE_EVENT_STORM] = "event-storm",
    [XENSIM_HOSTILE_RING_INDICES] = "ring-indices",
    [XENSIM_HOSTILE_BAD_REQUESTS] = "bad-requests",
    [XENSIM_HOSTILE_STATE_JUMPS] = "state-jumps",
    [XENSIM_HOSTILE_STORE_QUOTA] = "store-quota",
    [XENSIM_HOSTILE_GRANT_REWRITE] = "grant-rewrite",
    [XENSIM_HOSTILE_REWRITE_AFTER_PUSH] = "rewrite-after-push",
    [XENSIM_HOSTILE_GRANT_FLOOD] = "grant-flood",
    [XENSIM_HOSTILE_REVOKE_MAPPED] = "revoke-mapped",
    [XENSIM_HOSTILE_MADE_UP_IDS] = "made-up-ids",
    [XENSIM_HOSTILE_RSP_INDICES] = "rsp-indices",
    [XENSIM_HOSTILE_NEVER_ANSWERS] = "never-answers",
    [XENSIM_HOSTILE_RX_OVERSIZE] = "rx-oversize",
};

const char *xensim_hostile_name(enum xensim_hostile_kind kind)
{
    return (unsigned int)kind < XENSIM_HOSTILE_KINDS ? names[kind] : "unknown";
}

int xensim_hostile_parse(const char *name, enum xensim_hostile_kind *kind)
{
    for (unsigned int k = 0; k < XENSIM_HOSTILE_KINDS; k++)
        if (name && !strcmp(name, names[k])) {
            *kind = (enum xensim_hostile_kind)k;
            return 0;
        }
    return -EINVAL;
}

