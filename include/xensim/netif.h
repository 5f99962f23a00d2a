/*
 * Paravirtual network devices (<xen/io/netif.h>): netfront, the guest
 * driver, and netback with its virtual Ethernet switch, a driver in the
 * back end's domain (dom0 or a driver domain). Both run as guest code on a
 * vCPU of their domain: call these functions there (xensim_domain_call or
 * the domain's own entry), never from a host thread.
 *
 * The two halves meet through the keys of <xen/io/netif.h>, the ones
 * XenStore carries under device/vif/<n>/ and backend/vif/<domid>/<n>/.
 * The xenbus "vif" driver writes and reads them; tests may hand them over
 * directly.
 *
 * Each driver's state is under an irq-save lock (xensim_irqlock): while a
 * vCPU holds it neither its upcall nor a xensim_domain_call() can enter
 * the driver on that vCPU's stack.
 */
#ifndef XENSIM_NETIF_H
#define XENSIM_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XENSIM_ETH_ALEN 6

/* What netfront publishes in device/vif/<n>/ (and the toolstack's mac). */
struct xensim_netif_front_keys {
    grant_ref_t tx_ring_ref;
    grant_ref_t rx_ring_ref;
    evtchn_port_t event_channel;      /* unbound, remote = the back end */
    bool request_rx_copy;             /* must be true: flip is not served */
    bool feature_rx_notify;
    bool feature_sg;
    uint8_t mac[XENSIM_ETH_ALEN];
};

/* What netback publishes in backend/vif/<domid>/<n>/ at probe. */
struct xensim_netif_back_features {
    bool feature_sg;
    bool feature_rx_copy;             /* always true */
    bool feature_rx_flip;             /* always false */
};

/* Netfront: the guest side. */
struct xensim_netfront;

/* Called in upcall context on the vCPU that connected, once per received
 * frame; frame is valid only during the call. May call
 * xensim_netfront_send (a responder answers from here). */
typedef void (*xensim_netfront_rx_t)(struct xensim_netfront *nf,
                                     const uint8_t *frame, size_t len, void *arg);

struct xensim_netfront_config {
    domid_t backend;                  /* the back end's domain */
    uint8_t mac[XENSIM_ETH_ALEN];
    unsigned int rx_buffers;          /* pages posted for receive; 0: 64, max 256 */
    unsigned int tx_buffers;          /* 2 KiB send buffers; 0: 64, max 256 */
    bool sg;                          /* offer feature-sg (multi-slot frames) */
    xensim_netfront_rx_t rx;          /* NULL: frames queue for _recv */
    void *rx_arg;
};

struct xensim_netfront_stats {
    uint64_t tx_packets, tx_errors, tx_busy;
    uint64_t rx_packets, rx_errors, rx_dropped;
    uint64_t bad_responses;           /* ids or sizes a back end made up */
};

/* Grants the rings, allocates the unbound port; fills *out. Negative errno
 * (-ENOMEM when the domain lacks pages, -ENOSPC without grant refs). */
int xensim_netfront_create(const struct xensim_netfront_config *cfg,
                           struct xensim_netfront **out);
void xensim_netfront_keys(const struct xensim_netfront *nf,
                          struct xensim_netif_front_keys *keys);
/* With the back end's features: binds the event channel on this vCPU and
 * posts the receive buffers. Call before the back end connects (as netfront
 * does before going Connected). */
int xensim_netfront_connect(struct xensim_netfront *nf,
                            const struct xensim_netif_back_features *bf);
/* Queues one frame (14..65535 bytes). -EAGAIN: ring or buffers full (retry
 * after completions, e.g. after a SCHEDOP_yield); -EMSGSIZE: too big for
 * the negotiated features; -ENOTCONN: no back end. */
int xensim_netfront_send(struct xensim_netfront *nf, const void *frame, size_t len);
/* The same from pieces; with feature-sg each piece starts a new slot. */
int xensim_netfront_sendv(struct xensim_netfront *nf, const struct iovec *iov, int iovcnt);
/* Queue mode: the oldest frame, its length; -EAGAIN if none; -EMSGSIZE
 * (frame dropped) if size is too small. */
ssize_t xensim_netfront_recv(struct xensim_netfront *nf, void *buf, size_t size);
/* Sends still waiting for a response. */
unsigned int xensim_netfront_tx_inflight(struct xensim_netfront *nf);
/* False once the back end went away or broke the protocol. Checks the
 * event channel, so a dead back end is noticed here. */
bool xensim_netfront_connected(struct xensim_netfront *nf);
void xensim_netfront_stats(struct xensim_netfront *nf, struct xensim_netfront_stats *st);
void xensim_netfront_mac(const struct xensim_netfront *nf, uint8_t mac[XENSIM_ETH_ALEN]);
/* Unbinds, closes the port, ends every grant and frees every page; a page
 * the back end still maps is freed once it lets go (xensim_xenbus_end_access).
 * After the guest's domain died, a host thread may call it to free host
 * memory. */
int xensim_netfront_destroy(struct xensim_netfront *nf);

/*
 * A tiny IPv4 host for guests on a netfront: it answers ARP requests for
 * its address and ICMP echo requests, learns its peer from ARP, and pings.
 * xensim_inet_input has the rx callback's shape: pass the struct as rx_arg.
 * Addresses are in network byte order.
 */
struct xensim_inet {
    uint8_t mac[XENSIM_ETH_ALEN];
    uint32_t ip;
    /* Learned and counted by xensim_inet_input: */
    bool peer_known;
    uint8_t peer_mac[XENSIM_ETH_ALEN];
    uint32_t peer_ip;
    unsigned int arp_replies_sent, echo_replies_sent;
    unsigned int echo_replies_received, bad_checksums, other_frames;
    uint16_t last_echo_id, last_echo_seq;
};

void xensim_inet_input(struct xensim_netfront *nf, const uint8_t *frame, size_t len, void *arg);
/* Broadcasts "who has target_ip". */
int xensim_inet_arp_request(struct xensim_netfront *nf, struct xensim_inet *in, uint32_t target_ip);
/* An echo request with payload_len bytes to the learned peer. */
int xensim_inet_ping(struct xensim_netfront *nf, struct xensim_inet *in, uint16_t id,
                     uint16_t seq, size_t payload_len);
/* The Internet checksum (RFC 1071) of len bytes, in network byte order. */
uint16_t xensim_inet_checksum(const void *data, size_t len);

/* Netback and the switch joining its vifs. */
struct xensim_netback;

struct xensim_netback_config {
    unsigned int pool_pages;          /* packet buffer pages; 0: 64 */
    unsigned int rx_queue;            /* frames queued per vif; 0: 32 */
    bool no_sg;                       /* do not offer feature-sg */
    const char *pcap_path;            /* capture the switch's traffic */
};

struct xensim_vif_stats {
    bool connected;
    const char *disconnect_reason;    /* static string, NULL while connected */
    uint64_t tx_packets, tx_errors, tx_dropped;   /* from the guest */
    uint64_t rx_packets, rx_dropped;              /* to the guest */
};

int xensim_netback_create(const struct xensim_netback_config *cfg,
                          struct xensim_netback **out);
void xensim_netback_features(const struct xensim_netback *nb,
                             struct xensim_netif_back_features *bf);
/* Maps the front's rings, binds its event channel on this vCPU and joins
 * the vif to the switch. -EOPNOTSUPP without request-rx-copy, -EEXIST for
 * a (domid, handle) already connected. */
int xensim_netback_connect(struct xensim_netback *nb, domid_t front, unsigned int handle,
                           const struct xensim_netif_front_keys *keys);
/* Tears the vif down (unmap, unbind, close) and forgets it. */
int xensim_netback_disconnect(struct xensim_netback *nb, domid_t front, unsigned int handle);
/* Disconnects every vif whose front end's event channel is gone (its domain
 * died or closed it); returns how many. The xenbus driver calls this on
 * @releaseDomain; a failed copy to a dead domain triggers it too. */
int xensim_netback_reap(struct xensim_netback *nb);
/* -ENOENT if (domid, handle) is unknown. A vif disconnected for a protocol
 * error stays listed (connected = false) until disconnected explicitly. */
int xensim_netback_vif_stats(struct xensim_netback *nb, domid_t front, unsigned int handle,
                             struct xensim_vif_stats *st);
/* The switch's learned port for a MAC: 0 and the vif, or -ENOENT. */
int xensim_netback_mac_lookup(struct xensim_netback *nb, const uint8_t mac[XENSIM_ETH_ALEN],
                              domid_t *front, unsigned int *handle);
/* Starts (path) or stops (NULL) the capture, libpcap format, Ethernet. */
int xensim_netback_pcap(struct xensim_netback *nb, const char *path);
/* Vifs currently connected. */
int xensim_netback_nr_vifs(struct xensim_netback *nb);
/* Disconnects every vif and frees everything. After the back end's domain
 * died, a host thread may call it to free what is left in host memory. */
int xensim_netback_destroy(struct xensim_netback *nb);

/*
 * The "vif" device type for the xenbus split-driver framework
 * (<xensim/xenbus.h>), with the keys of <xen/io/netif.h>. Register the back end
 * driver on a vCPU of the back end's domain after attaching its switch,
 * the front end driver on a vCPU of each guest after setting its config.
 * The front end reads the toolstack's "mac" key. States: netback goes
 * InitWait at probe (features written), Connected once the vif is joined;
 * the front end follows the framework (Initialised, then Connected), not
 * yet Linux netfront's direct jump to Connected.
 */
struct xensim_xenbus_driver;
extern const struct xensim_xenbus_driver xensim_vif_front, xensim_vif_back;
/* The switch the calling domain's "vif" back ends join (NULL detaches). */
int xensim_vif_back_attach(struct xensim_netback *nb);
/* The template for the calling domain's "vif" front ends: everything but
 * backend and mac, which come from XenStore. */
int xensim_vif_front_config(const struct xensim_netfront_config *cfg);
/* The connected netfront of device devid in the calling domain, or NULL. */
struct xensim_netfront *xensim_vif_front_find(unsigned int devid);

#ifdef __cplusplus
}
#endif
#endif
