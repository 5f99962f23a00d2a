/*
 * A tiny IPv4 host for guest code on a netfront: ARP (RFC 826) requests and
 * replies, ICMP echo (RFC 792) in IPv4 (RFC 791) with real checksums. It
 * builds and parses the headers byte by byte, so host struct layout and
 * byte order never matter. Calls netfront.c to send.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/netif.h>

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_ZLEN 60              /* the shortest frame, FCS excluded */
#define ARP_LEN 28
#define IP_HLEN 20
#define ICMP_HLEN 8
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define IPPROTO_ICMP_ 1

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

uint16_t xensim_inet_checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = (uint16_t)~sum;
    uint8_t out[2];
    put16(out, c);
    uint16_t be;
    memcpy(&be, out, 2);
    return be;
}

static void eth_header(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, XENSIM_ETH_ALEN);
    memcpy(f + 6, src, XENSIM_ETH_ALEN);
    put16(f + 12, type);
}

static int arp_send(struct xensim_netfront *nf, struct xensim_inet *in, uint16_t oper,
                    const uint8_t *eth_dst, const uint8_t *tha, uint32_t tpa)
{
    uint8_t f[ETH_ZLEN] = { 0 };
    eth_header(f, eth_dst, in->mac, ETH_P_ARP);
    uint8_t *a = f + ETH_HLEN;
    put16(a, 1);               /* Ethernet */
    put16(a + 2, ETH_P_IP);
    a[4] = XENSIM_ETH_ALEN;
    a[5] = 4;
    put16(a + 6, oper);
    memcpy(a + 8, in->mac, XENSIM_ETH_ALEN);
    memcpy(a + 14, &in->ip, 4);
    memcpy(a + 18, tha, XENSIM_ETH_ALEN);
    memcpy(a + 24, &tpa, 4);
    return xensim_netfront_send(nf, f, sizeof(f));
}

int xensim_inet_arp_request(struct xensim_netfront *nf, struct xensim_inet *in, uint32_t target_ip)
{
    static const uint8_t bcast[XENSIM_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t zero[XENSIM_ETH_ALEN];
    return arp_send(nf, in, 1, bcast, zero, target_ip);
}

/* An IPv4 + ICMP frame; the ICMP part (type onwards) is given whole. */
static int icmp_send(struct xensim_netfront *nf, struct xensim_inet *in, const uint8_t *dst_mac,
                     uint32_t dst_ip, uint8_t *icmp, size_t icmp_len, uint16_t ip_id)
{
    size_t len = ETH_HLEN + IP_HLEN + icmp_len;
    if (len > 65535)
        return -EMSGSIZE;
    size_t flen = len < ETH_ZLEN ? ETH_ZLEN : len;
    uint8_t *f = calloc(1, flen);
    if (!f)
        return -ENOMEM;
    eth_header(f, dst_mac, in->mac, ETH_P_IP);
    uint8_t *ip = f + ETH_HLEN;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(IP_HLEN + icmp_len));
    put16(ip + 4, ip_id);
    put16(ip + 6, 0x4000);     /* don't fragment */
    ip[8] = 64;
    ip[9] = IPPROTO_ICMP_;
    memcpy(ip + 12, &in->ip, 4);
    memcpy(ip + 16, &dst_ip, 4);
    uint16_t c = xensim_inet_checksum(ip, IP_HLEN);
    memcpy(ip + 10, &c, 2);
    memcpy(ip + IP_HLEN, icmp, icmp_len);
    icmp = ip + IP_HLEN;
    icmp[2] = icmp[3] = 0;
    c = xensim_inet_checksum(icmp, icmp_len);
    memcpy(icmp + 2, &c, 2);
    int rc = xensim_netfront_send(nf, f, flen);
    free(f);
    return rc;
}

int xensim_inet_ping(struct xensim_netfront *nf, struct xensim_inet *in, uint16_t id,
                     uint16_t seq, size_t payload_len)
{
    if (!in->peer_known)
        return -EHOSTUNREACH;
    uint8_t *icmp = malloc(ICMP_HLEN + payload_len);
    if (!icmp)
        return -ENOMEM;
    icmp[0] = ICMP_ECHO;
    icmp[1] = 0;
    put16(icmp + 4, id);
    put16(icmp + 6, seq);
    for (size_t i = 0; i < payload_len; i++)
        icmp[ICMP_HLEN + i] = (uint8_t)(i + seq);
    int rc = icmp_send(nf, in, in->peer_mac, in->peer_ip, icmp, ICMP_HLEN + payload_len, seq);
    free(icmp);
    return rc;
}

static void arp_input(struct xensim_netfront *nf, struct xensim_inet *in,
                      const uint8_t *a, size_t len)
{
    if (len < ARP_LEN || get16(a) != 1 || get16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4) {
        in->other_frames++;
        return;
    }
    uint16_t oper = get16(a + 6);
    uint32_t spa, tpa;
    memcpy(&spa, a + 14, 4);
    memcpy(&tpa, a + 24, 4);
    if (tpa != in->ip) {
        in->other_frames++;
        return;
    }
    /* Whoever asks or answers for us is our peer (RFC 826's merge). */
    memcpy(in->peer_mac, a + 8, XENSIM_ETH_ALEN);
    in->peer_ip = spa;
    in->peer_known = true;
    if (oper == 1 && arp_send(nf, in, 2, a + 8, a + 8, spa) == 0)
        in->arp_replies_sent++;
}

static void ip_input(struct xensim_netfront *nf, struct xensim_inet *in,
                     const uint8_t *ip, size_t len)
{
    if (len < IP_HLEN || ip[0] != 0x45 || ip[9] != IPPROTO_ICMP_) {
        in->other_frames++;
        return;
    }
    size_t tot = get16(ip + 2);
    uint32_t src, dst;
    memcpy(&src, ip + 12, 4);
    memcpy(&dst, ip + 16, 4);
    if (tot < IP_HLEN + ICMP_HLEN || tot > len || dst != in->ip) {
        in->other_frames++;
        return;
    }
    const uint8_t *icmp = ip + IP_HLEN;
    size_t icmp_len = tot - IP_HLEN;
    /* A correct checksum sums, with itself included, to zero. */
    if (xensim_inet_checksum(ip, IP_HLEN) != 0 || xensim_inet_checksum(icmp, icmp_len) != 0) {
        in->bad_checksums++;
        return;
    }
    if (icmp[0] == ICMP_ECHO && icmp[1] == 0) {
        uint8_t *reply = malloc(icmp_len);
        if (!reply)
            return;
        memcpy(reply, icmp, icmp_len);
        reply[0] = ICMP_ECHOREPLY;
        const uint8_t *src_mac = ip - ETH_HLEN + 6;
        if (icmp_send(nf, in, src_mac, src, reply, icmp_len, get16(ip + 4)) == 0)
            in->echo_replies_sent++;
        free(reply);
    } else if (icmp[0] == ICMP_ECHOREPLY) {
        in->echo_replies_received++;
        in->last_echo_id = get16(icmp + 4);
        in->last_echo_seq = get16(icmp + 6);
    } else {
        in->other_frames++;
    }
}

void xensim_inet_input(struct xensim_netfront *nf, const uint8_t *frame, size_t len, void *arg)
{
    struct xensim_inet *in = arg;
    if (len < ETH_HLEN) {
        in->other_frames++;
        return;
    }
    switch (get16(frame + 12)) {
    case ETH_P_ARP:
        arp_input(nf, in, frame + ETH_HLEN, len - ETH_HLEN);
        break;
    case ETH_P_IP:
        ip_input(nf, in, frame + ETH_HLEN, len - ETH_HLEN);
        break;
    default:
        in->other_frames++;
    }
}
