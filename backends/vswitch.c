/*
 * The back end's virtual Ethernet switch joining every vif: learns which
 * vif each source MAC lives behind, forwards unicast to it, and floods
 * broadcast, multicast and unknown destinations to every other vif. Every
 * frame entering the switch goes to the capture, if one is open. Runs under
 * the netback's lock; calls netback.c to queue frames for guests.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include "netback.h"

static unsigned int mac_hash(const uint8_t *mac)
{
    unsigned int h = 0;
    for (int i = 0; i < XENSIM_ETH_ALEN; i++)
        h = h * 31u + mac[i];
    return h % NB_MAC_TABLE;
}

/* Open addressing with linear probing; a full table just stops learning
 * (frames to unknown MACs are flooded, which stays correct). */
static struct nb_mac *mac_slot(struct xensim_netback *nb, const uint8_t *mac, bool insert)
{
    unsigned int h = mac_hash(mac);
    for (unsigned int i = 0; i < NB_MAC_TABLE; i++) {
        struct nb_mac *m = &nb->macs[(h + i) % NB_MAC_TABLE];
        if (m->vif && memcmp(m->mac, mac, XENSIM_ETH_ALEN) == 0)
            return m;
        if (!m->vif)
            return insert ? m : NULL;
    }
    return NULL;
}

struct nb_vif *vswitch_lookup(struct xensim_netback *nb, const uint8_t *mac)
{
    struct nb_mac *m = mac_slot(nb, mac, false);
    return m ? m->vif : NULL;
}

/* Whether home slot k lies cyclically in (i, j]: an entry there that
 * hashed to k may not move back to slot i. */
static bool home_between(unsigned int i, unsigned int k, unsigned int j)
{
    return i < j ? i < k && k <= j : i < k || k <= j;
}

/* Empties slot i and moves back each later entry of its probe chain that
 * would otherwise be cut off from its home (linear probing's deletion). */
static void mac_delete(struct xensim_netback *nb, unsigned int i)
{
    nb->macs[i].vif = NULL;
    for (unsigned int j = (i + 1) % NB_MAC_TABLE; nb->macs[j].vif; j = (j + 1) % NB_MAC_TABLE) {
        if (home_between(i, mac_hash(nb->macs[j].mac), j))
            continue;
        nb->macs[i] = nb->macs[j];
        nb->macs[j].vif = NULL;
        i = j;
    }
}

void vswitch_forget(struct xensim_netback *nb, struct nb_vif *vif)
{
    /* In place. An emptied slot may take an entry from further on, the
     * vif's too, so that slot is looked at again; and a chain that wraps
     * past the table's end may move one behind the scan, so passes go on
     * until one finds none (no entry may outlive its vif). */
    bool found;
    do {
        found = false;
        for (unsigned int i = 0; i < NB_MAC_TABLE; i++)
            while (nb->macs[i].vif == vif) {
                mac_delete(nb, i);
                found = true;
            }
    } while (found);
}

void vswitch_input(struct xensim_netback *nb, struct nb_vif *from, struct nb_pkt *p)
{
    const uint8_t *dst = p->va[0], *src = p->va[0] + XENSIM_ETH_ALEN;
    if (nb->pcap)
        pcap_write_pkt(nb->pcap, p);
    if (!(src[0] & 1)) {
        struct nb_mac *m = mac_slot(nb, src, true);
        if (m) {
            memcpy(m->mac, src, XENSIM_ETH_ALEN);
            m->vif = from;   /* a MAC that moved follows its new vif */
        }
    }
    struct nb_vif *to = (dst[0] & 1) ? NULL : vswitch_lookup(nb, dst);
    if (to) {
        if (to != from)
            netback_rx_enqueue(to, p);
        return;
    }
    for (struct nb_vif *v = nb->vifs; v; v = v->next)
        if (v != from && v->connected && !v->dead)
            netback_rx_enqueue(v, p);
}
