/*
 * The network suites' fixture: netback in dom0 (optionally writing a
 * capture), netfronts in guests connected to it directly with the keys
 * XenStore would carry, guest calls wrapped for Check, and the ARP and ping
 * exchange between two tiny responders. Relies on harness.h and
 * <xensim/netif.h>; shared by test_net.c and test_net_capture.c.
 */
#ifndef XENSIM_TEST_NET_FIXTURE_H
#define XENSIM_TEST_NET_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <xensim/netif.h>
#include <xensim/task.h>
#include "harness.h"

#define WAIT_US (20u * 1000000u)   /* a safety net: tests wait for behaviour */
#define MAXG 4

struct guest {
    domid_t d;
    struct xensim_netfront *nf;
    struct xensim_inet inet;
    uint8_t mac[6];
    bool sg;
    bool inet_mode;
    unsigned int rx_buffers;
    int rc;
};

struct fix {
    struct xensim *sim;
    domid_t be;
    struct xensim_netback *nb;
    struct xensim_netback_config nbcfg;
    int rc;
    int n;
    struct guest g[MAXG];
};

/* Guest-side trampolines: each runs on vCPU 0 of its domain. */
static inline void be_create(void *p)
{
    struct fix *f = p;
    ck_assert_int_eq(xensim_netback_create(&f->nbcfg, &f->nb), 0);
}

static inline void be_destroy(void *p)
{
    struct fix *f = p;
    f->rc = xensim_netback_destroy(f->nb);
    if (!f->rc)
        f->nb = NULL;
}

struct conn_arg {
    struct fix *f;
    struct guest *g;
    struct xensim_netif_front_keys keys;
    int rc;
};

static inline void fe_create(void *p)
{
    struct conn_arg *c = p;
    struct xensim_netfront_config cfg = {
        .backend = c->f->be, .sg = c->g->sg, .rx_buffers = c->g->rx_buffers,
        .rx = c->g->inet_mode ? xensim_inet_input : NULL, .rx_arg = &c->g->inet,
    };
    memcpy(cfg.mac, c->g->mac, 6);
    ck_assert_int_eq(xensim_netfront_create(&cfg, &c->g->nf), 0);
    xensim_netfront_keys(c->g->nf, &c->keys);
    struct xensim_netif_back_features bf;
    xensim_netback_features(c->f->nb, &bf);
    ck_assert_int_eq(xensim_netfront_connect(c->g->nf, &bf), 0);
}

static inline void be_connect(void *p)
{
    struct conn_arg *c = p;
    c->rc = xensim_netback_connect(c->f->nb, c->g->d, 0, &c->keys);
}

static inline void fe_destroy(void *p)
{
    struct guest *g = p;
    g->rc = xensim_netfront_destroy(g->nf);
    if (!g->rc)
        g->nf = NULL;
}

static inline void fix_init(struct fix *f, const char *pcap)
{
    memset(f, 0, sizeof(*f));
    f->sim = th_sim_new();
    f->be = 0;
    f->nbcfg.pcap_path = pcap;
    th_call(f->sim, f->be, 0, be_create, f);
}

static inline struct guest *fix_guest(struct fix *f, const char *name, bool sg, bool inet_mode)
{
    struct guest *g = &f->g[f->n];
    g->d = th_domain(f->sim, name, false, f->n % 2 ? XENSIM_GNTTAB_FAST : XENSIM_GNTTAB_STRICT);
    uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, (uint8_t)(f->n + 1) };
    memcpy(g->mac, mac, 6);
    memcpy(g->inet.mac, mac, 6);
    g->inet.ip = htonl(0x0a000001u + (uint32_t)f->n);   /* 10.0.0.1.. */
    g->sg = sg;
    g->inet_mode = inet_mode;
    f->n++;
    struct conn_arg c = { .f = f, .g = g };
    th_call(f->sim, g->d, 0, fe_create, &c);
    th_call(f->sim, f->be, 0, be_connect, &c);
    ck_assert_int_eq(c.rc, 0);
    return g;
}

static inline void fix_free(struct fix *f)
{
    if (f->nb)
        th_call(f->sim, f->be, 0, be_destroy, f);
    ck_assert_int_eq(f->rc, 0);
    for (int i = 0; i < f->n; i++) {
        struct xensim_domain_info info;
        if (xensim_domain_info(f->sim, f->g[i].d, &info) || info.state != XENSIM_DOMAIN_RUNNING)
            continue;
        if (f->g[i].nf)
            th_call(f->sim, f->g[i].d, 0, fe_destroy, &f->g[i]);
        ck_assert_int_eq(f->g[i].rc, 0);
        ck_assert_uint_eq(th_ports_in_use(f->sim, f->g[i].d), 0);
    }
    struct xensim_domain_info info;
    if (xensim_domain_info(f->sim, f->be, &info) == 0 && info.state == XENSIM_DOMAIN_RUNNING)
        ck_assert_uint_eq(th_ports_in_use(f->sim, f->be), 0);
    th_sim_free_checked(f->sim);
}

struct inet_arg {
    struct guest *g;
    uint32_t ip;
    uint16_t seq;
    size_t payload;
    int rc;
    struct xensim_inet snap;
};

static inline void fe_arp(void *p)
{
    struct inet_arg *i = p;
    i->rc = xensim_inet_arp_request(i->g->nf, &i->g->inet, i->ip);
}

static inline void fe_ping(void *p)
{
    struct inet_arg *i = p;
    i->rc = xensim_inet_ping(i->g->nf, &i->g->inet, 0x1234, i->seq, i->payload);
}

static inline void fe_snap(void *p)
{
    struct inet_arg *i = p;
    i->snap = i->g->inet;
}

static inline struct xensim_inet inet_snap(struct fix *f, struct guest *g)
{
    struct inet_arg i = { .g = g };
    th_call(f->sim, g->d, 0, fe_snap, &i);
    return i.snap;
}

/* a asks for b's MAC, then pings it three times: each step waits for its
 * answer and checks what both responders counted. */
static inline void net_arp_and_ping(struct fix *f, struct guest *a, struct guest *b)
{
    struct inet_arg arp = { .g = a, .ip = b->inet.ip };
    th_call(f->sim, a->d, 0, fe_arp, &arp);
    ck_assert_int_eq(arp.rc, 0);
    struct xensim_inet sa;
    for (unsigned int w = 0; !(sa = inet_snap(f, a)).peer_known && w < WAIT_US; w += 1000)
        xensim_sleep_ns(1000000);
    ck_assert(sa.peer_known);
    ck_assert(memcmp(sa.peer_mac, b->mac, 6) == 0);
    ck_assert_uint_eq(sa.peer_ip, b->inet.ip);
    /* b counts its reply after sending it: wait for the count too. */
    struct xensim_inet sb;
    for (unsigned int w = 0; (sb = inet_snap(f, b)).arp_replies_sent < 1 && w < WAIT_US; w += 1000)
        xensim_sleep_ns(1000000);
    ck_assert_uint_eq(sb.arp_replies_sent, 1);

    for (uint16_t seq = 1; seq <= 3; seq++) {
        struct inet_arg ping = { .g = a, .seq = seq, .payload = 56 };
        th_call(f->sim, a->d, 0, fe_ping, &ping);
        ck_assert_int_eq(ping.rc, 0);
        for (unsigned int w = 0; (sa = inet_snap(f, a)).echo_replies_received < seq && w < WAIT_US;
             w += 1000)
            xensim_sleep_ns(1000000);
        ck_assert_uint_eq(sa.echo_replies_received, seq);
        ck_assert_uint_eq(sa.last_echo_seq, seq);
        ck_assert_uint_eq(sa.last_echo_id, 0x1234);
    }
    for (unsigned int w = 0; (sb = inet_snap(f, b)).echo_replies_sent < 3 && w < WAIT_US; w += 1000)
        xensim_sleep_ns(1000000);
    ck_assert_uint_eq(sb.echo_replies_sent, 3);
    ck_assert_uint_eq(sb.bad_checksums + sa.bad_checksums, 0);
}

#endif
