/*
 * Private to netback*.c, vswitch*.c and pcap*.c: the back end's vifs, the
 * packets it holds in its own pages, the switch and the capture file.
 * Everything here is under the netback's lock (struct xensim_netback.lock).
 */
#ifndef XENSIM_NETBACK_H
#define XENSIM_NETBACK_H

#include <stdio.h>
#include <xensim/guest.h>
#include <xensim/netif.h>
#include <xensim/xenbus.h>
#include <xensim/io/ring.h>
#include <xen/io/netif.h>
#include "util.h"

#define NB_PKT_PAGES 17          /* 65535 bytes in 4 KiB pages */
/* Twice the vifs a dom0 with FIFO event channels serves in practice
 * (tests/test_load runs 1000): a table that fills stops learning, and
 * then every frame to an unlearned MAC floods all vifs. */
#define NB_MAC_TABLE 8192

/* A frame copied out of a guest into back-end pages, shared by the
 * switch's output queues through refs. */
struct nb_pkt {
    unsigned int refs;
    unsigned int len;
    unsigned int npages;
    xen_pfn_t pfn[NB_PKT_PAGES];
    uint8_t *va[NB_PKT_PAGES];
};

struct nb_vif {
    struct xensim_netback *nb;
    domid_t domid;
    unsigned int handle;
    uint8_t mac[XENSIM_ETH_ALEN];
    bool connected;              /* rings mapped, port bound */
    bool dead;                   /* to be torn down at the end of the pass */
    const char *reason;          /* why it was disconnected */
    bool sg;                     /* the front offered feature-sg */
    bool kick;                   /* its event fired: look at both rings */
    evtchn_port_t port;
    netif_tx_back_ring_t tx;     /* the front writes requests and req_prod */
    netif_rx_back_ring_t rx;
    void *ring_addr[2];          /* where the tx and rx ring pages are mapped */
    grant_handle_t ring_handle[2];
    struct nb_pkt **rxq;         /* frames waiting for rx requests */
    unsigned int rxq_head, rxq_len;
    struct xensim_vif_stats st;
    struct nb_vif *next;
};

struct nb_mac {
    uint8_t mac[XENSIM_ETH_ALEN];
    struct nb_vif *vif;          /* NULL: free slot */
};

struct nb_pcap;
struct nb_tx_batch;
struct nb_rx_batch;

struct xensim_netback {
    struct xensim_irqlock lock;
    domid_t domid;
    bool sg;
    unsigned int rx_queue;
    xen_pfn_t *pool;             /* free packet pages */
    unsigned int pool_free, pool_size;
    struct nb_vif *vifs;
    struct nb_mac macs[NB_MAC_TABLE];
    struct nb_pcap *pcap;
    /* netback.c's gathered copies, one pass's worth (too big for a stack). */
    struct nb_tx_batch *tx_batch;
    struct nb_rx_batch *rx_batch;
};

/* netback.c */
void netback_pkt_put(struct xensim_netback *nb, struct nb_pkt *p);
/* Queues p for vif's guest (taking a ref) and tries to deliver. */
void netback_rx_enqueue(struct nb_vif *vif, struct nb_pkt *p);

/* vswitch.c: learns p's source on `from`, forwards to the right vifs. */
void vswitch_input(struct xensim_netback *nb, struct nb_vif *from, struct nb_pkt *p);
void vswitch_forget(struct xensim_netback *nb, struct nb_vif *vif);
struct nb_vif *vswitch_lookup(struct xensim_netback *nb, const uint8_t *mac);

/* pcap.c */
struct nb_pcap *pcap_open(const char *path, int *err);
void pcap_write_pkt(struct nb_pcap *pc, const struct nb_pkt *p);
void pcap_close(struct nb_pcap *pc);

#endif
