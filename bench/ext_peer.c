/*
 * The processes of bench_ext.c: each is a process of a simulated domain
 * (Debian's libraries at link time, the drop-ins at run time), and each
 * pair also measures its baseline between the same two processes over a
 * unix socket pair it inherits (fd SOCK). Prints one "name value" line
 * per figure. Roles:
 *   evtchn-pong PEER SOCK               prints "port P", echoes forever
 *   evtchn-ping PEER PORT SOCK ITERS    event and socket round trips, ns
 *   vchan-server PEER PATH RING BYTES SOCK   streams BYTES each way asked
 *   vchan-client PEER PATH BYTES SOCK        MiB/s over vchan and socket
 *   gnttab-map GRANTER REF ITERS        map+touch+unmap, and memfd's, ns
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <libxenvchan.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define DIE(what)                                                             \
    do {                                                                      \
        fprintf(stderr, "ext_peer: %s: %s\n", what, strerror(errno));         \
        exit(1);                                                              \
    } while (0)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void full_read(int fd, void *buf, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t r = read(fd, (char *)buf + off, n - off);
        if (r <= 0)
            DIE("read");
        off += (size_t)r;
    }
}

static void full_write(int fd, const void *buf, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)buf + off, n - off);
        if (w <= 0)
            DIE("write");
        off += (size_t)w;
    }
}

static int evtchn_pong(uint32_t peer, int sock)
{
    xenevtchn_handle *h = xenevtchn_open(NULL, 0);
    char b;
    if (!h)
        DIE("xenevtchn_open");
    int port = xenevtchn_bind_unbound_port(h, peer);
    if (port < 0 || xenevtchn_unmask(h, (evtchn_port_t)port))
        DIE("bind");
    printf("port %d\n", port);
    fflush(stdout);
    while (read(sock, &b, 1) == 1)
        full_write(sock, &b, 1);
    for (;;) {
        int p = xenevtchn_pending(h);
        if (p < 0 || xenevtchn_unmask(h, (evtchn_port_t)p) || xenevtchn_notify(h, (evtchn_port_t)p))
            DIE("pong");
    }
}

static int evtchn_ping(uint32_t peer, uint32_t rport, int sock, unsigned long iters)
{
    char b = 'x';
    uint64_t t0 = now_ns();
    for (unsigned long i = 0; i < iters; i++) {
        full_write(sock, &b, 1);
        full_read(sock, &b, 1);
    }
    double unix_ns = (double)(now_ns() - t0) / (double)iters;
    close(sock);

    xenevtchn_handle *h = xenevtchn_open(NULL, 0);
    if (!h)
        DIE("xenevtchn_open");
    int port = xenevtchn_bind_interdomain(h, peer, rport);
    if (port < 0)
        DIE("bind_interdomain");
    /* The bind leaves the binder's own port pending once. */
    if (xenevtchn_pending(h) != port || xenevtchn_unmask(h, (evtchn_port_t)port))
        DIE("first event");
    for (unsigned long i = 0; i < iters / 10 + 1; i++)
        if (xenevtchn_notify(h, (evtchn_port_t)port) || xenevtchn_pending(h) != port ||
            xenevtchn_unmask(h, (evtchn_port_t)port))
            DIE("warm up");
    t0 = now_ns();
    for (unsigned long i = 0; i < iters; i++)
        if (xenevtchn_notify(h, (evtchn_port_t)port) || xenevtchn_pending(h) != port ||
            xenevtchn_unmask(h, (evtchn_port_t)port))
            DIE("ping");
    double ev_ns = (double)(now_ns() - t0) / (double)iters;
    printf("evtchn_ns %.1f\nunix_ns %.1f\n", ev_ns, unix_ns);
    xenevtchn_close(h);
    return 0;
}

static uint8_t big[1u << 20];

static int vchan_server(uint32_t peer, const char *path, unsigned long ring,
                        unsigned long nbytes, int sock)
{
    char b;
    struct libxenvchan *v = libxenvchan_server_init(NULL, (int)peer, path, ring, ring);
    if (!v)
        DIE("server_init");
    v->blocking = 1;
    printf("listening\n");
    fflush(stdout);
    /* The socket first: the receiver says go, then the stream. */
    full_read(sock, &b, 1);
    for (unsigned long done = 0; done < nbytes;) {
        size_t n = nbytes - done < sizeof(big) ? nbytes - done : sizeof(big);
        full_write(sock, big, n);
        done += n;
    }
    while (libxenvchan_is_open(v) != 1)
        if (libxenvchan_wait(v))
            DIE("wait");
    if (libxenvchan_read(v, &b, 1) != 1)
        DIE("go");
    for (unsigned long done = 0; done < nbytes;) {
        size_t n = nbytes - done < sizeof(big) ? nbytes - done : sizeof(big);
        if (libxenvchan_write(v, big, n) != (int)n)
            DIE("vchan write");
        done += n;
    }
    while (libxenvchan_is_open(v))
        if (libxenvchan_wait(v))
            break;
    libxenvchan_close(v);
    return 0;
}

static int vchan_client(uint32_t peer, const char *path, unsigned long nbytes, int sock)
{
    char b = 'g';
    full_write(sock, &b, 1);
    uint64_t t0 = now_ns();
    for (unsigned long done = 0; done < nbytes;) {
        ssize_t r = read(sock, big, sizeof(big));
        if (r <= 0)
            DIE("socket read");
        done += (unsigned long)r;
    }
    double unix_mibs = (double)nbytes / (1 << 20) / ((double)(now_ns() - t0) / 1e9);

    struct libxenvchan *v = libxenvchan_client_init(NULL, (int)peer, path);
    if (!v)
        DIE("client_init");
    v->blocking = 1;
    if (libxenvchan_write(v, &b, 1) != 1)
        DIE("go");
    t0 = now_ns();
    for (unsigned long done = 0; done < nbytes;) {
        int r = libxenvchan_read(v, big, sizeof(big));
        if (r <= 0)
            DIE("vchan read");
        done += (unsigned long)r;
    }
    double vchan_mibs = (double)nbytes / (1 << 20) / ((double)(now_ns() - t0) / 1e9);
    printf("vchan_mibs %.1f\nunix_mibs %.1f\n", vchan_mibs, unix_mibs);
    libxenvchan_close(v);
    return 0;
}

static int gnttab_map(uint32_t granter, uint32_t ref, unsigned long iters)
{
    xengnttab_handle *h = xengnttab_open(NULL, 0);
    if (!h)
        DIE("xengnttab_open");
    uint64_t t0 = now_ns();
    for (unsigned long i = 0; i < iters; i++) {
        volatile uint8_t *p = xengnttab_map_grant_ref(h, granter, ref, PROT_READ | PROT_WRITE);
        if (!p)
            DIE("map");
        p[0] = (uint8_t)i;
        if (xengnttab_unmap(h, (void *)p, 1))
            DIE("unmap");
    }
    double map_ns = (double)(now_ns() - t0) / (double)iters;
    int fd = memfd_create("bench", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 4096))
        DIE("memfd");
    t0 = now_ns();
    for (unsigned long i = 0; i < iters; i++) {
        volatile uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            DIE("mmap");
        p[0] = (uint8_t)i;
        munmap((void *)p, 4096);
    }
    double mmap_ns = (double)(now_ns() - t0) / (double)iters;
    printf("map_ns %.1f\nmmap_ns %.1f\n", map_ns, mmap_ns);
    xengnttab_close(h);
    return 0;
}

int main(int argc, char **argv)
{
    alarm(600);   /* a safety net for a run that would otherwise hang */
    if (argc == 4 && !strcmp(argv[1], "evtchn-pong"))
        return evtchn_pong((uint32_t)atoi(argv[2]), atoi(argv[3]));
    if (argc == 6 && !strcmp(argv[1], "evtchn-ping"))
        return evtchn_ping((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), atoi(argv[4]),
                           strtoul(argv[5], NULL, 10));
    if (argc == 7 && !strcmp(argv[1], "vchan-server"))
        return vchan_server((uint32_t)atoi(argv[2]), argv[3], strtoul(argv[4], NULL, 10),
                            strtoul(argv[5], NULL, 10), atoi(argv[6]));
    if (argc == 6 && !strcmp(argv[1], "vchan-client"))
        return vchan_client((uint32_t)atoi(argv[2]), argv[3], strtoul(argv[4], NULL, 10),
                            atoi(argv[5]));
    if (argc == 5 && !strcmp(argv[1], "gnttab-map"))
        return gnttab_map((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]),
                          strtoul(argv[4], NULL, 10));
    fprintf(stderr, "usage: see ext_peer.c\n");
    return 2;
}
