/*
 * A small driver of Debian's real libxenvchan, run by the external-domain
 * tests as a process of a simulated domain (through the drop-in
 * libraries). Each side sends nbytes of its own pseudo-random stream and
 * checks every byte of the other's, then ends as asked:
 *
 *   vchantest server PEER PATH LMIN RMIN NBYTES END
 *   vchantest client PEER PATH NBYTES END
 *
 * The server sends first, then the client; END is "close" (close the
 * vchan and exit), "wait" (wait until the peer's end is seen through its
 * unmap notification, then exit) or "hold" (print "holding" and wait to
 * be killed). Lines on stdout: "listening" (server, once its XenStore
 * keys are written), "open", "sent N sum S", "got N sum S ok",
 * "peer closed", "holding". Exit 0 only if every byte matched.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libxenvchan.h>

/* xorshift64*: the same stream on both sides from the sender's seed. */
static uint8_t stream_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint8_t)((*s * 2685821657736338717ull) >> 56);
}

static uint64_t sum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sum = (sum ^ p[i]) * 1099511628211ull;
    return sum;
}

static int send_stream(struct libxenvchan *v, uint64_t seed, unsigned long nbytes)
{
    uint8_t buf[65536];
    uint64_t sum = 14695981039346656037ull;
    unsigned long done = 0;

    while (done < nbytes) {
        size_t n = nbytes - done < sizeof(buf) ? nbytes - done : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = stream_next(&seed);
        /* A blocking write takes all of it, a ring's worth at a time. */
        if (libxenvchan_write(v, buf, n) != (int)n) {
            fprintf(stderr, "vchantest: send failed at %lu\n", done);
            return -1;
        }
        sum = sum_add(sum, buf, n);
        done += n;
    }
    printf("sent %lu sum %016llx\n", nbytes, (unsigned long long)sum);
    fflush(stdout);
    return 0;
}

static int recv_stream(struct libxenvchan *v, uint64_t seed, unsigned long nbytes)
{
    uint8_t buf[65536];
    uint64_t sum = 14695981039346656037ull;
    unsigned long done = 0;

    while (done < nbytes) {
        size_t want = nbytes - done < sizeof(buf) ? nbytes - done : sizeof(buf);
        /* A blocking read returns what the ring has, at least a byte. */
        int got = libxenvchan_read(v, buf, want);
        if (got <= 0) {
            fprintf(stderr, "vchantest: read failed at %lu\n", done);
            return -1;
        }
        size_t n = (size_t)got;
        for (size_t i = 0; i < n; i++)
            if (buf[i] != stream_next(&seed)) {
                fprintf(stderr, "vchantest: byte %lu differs\n", done + i);
                return -1;
            }
        sum = sum_add(sum, buf, n);
        done += n;
    }
    printf("got %lu sum %016llx ok\n", nbytes, (unsigned long long)sum);
    fflush(stdout);
    return 0;
}

static int finish(struct libxenvchan *v, const char *end)
{
    if (!strcmp(end, "hold")) {
        printf("holding\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (!strcmp(end, "wait")) {
        /* The peer's end clears its live byte and sends an event. */
        while (libxenvchan_is_open(v)) {
            struct pollfd p = { .fd = libxenvchan_fd_for_select(v), .events = POLLIN };
            if (poll(&p, 1, -1) < 0 && errno != EINTR)
                return -1;
            if (libxenvchan_wait(v))
                return -1;
        }
        printf("peer closed\n");
        fflush(stdout);
    }
    libxenvchan_close(v);
    return 0;
}

int main(int argc, char **argv)
{
    struct libxenvchan *v;
    unsigned long nbytes;
    const char *end;
    bool server = argc == 8 && !strcmp(argv[1], "server");

    if (!server && !(argc == 6 && !strcmp(argv[1], "client"))) {
        fprintf(stderr, "usage: vchantest server PEER PATH LMIN RMIN NBYTES END\n"
                        "       vchantest client PEER PATH NBYTES END\n");
        return 2;
    }
    /* A safety net for a test that would otherwise hang, not a timing. */
    alarm(300);
    int peer = atoi(argv[2]);
    if (server) {
        v = libxenvchan_server_init(NULL, peer, argv[3], strtoul(argv[4], NULL, 0),
                                    strtoul(argv[5], NULL, 0));
        nbytes = strtoul(argv[6], NULL, 0);
        end = argv[7];
    } else {
        v = libxenvchan_client_init(NULL, peer, argv[3]);
        nbytes = strtoul(argv[4], NULL, 0);
        end = argv[5];
    }
    if (!v) {
        perror(server ? "vchantest: server_init" : "vchantest: client_init");
        return 1;
    }
    /* libxenvchan leaves it unset. */
    v->blocking = 1;
    if (server) {
        printf("listening\n");
        fflush(stdout);
        while (libxenvchan_is_open(v) != 1)
            if (libxenvchan_wait(v))
                return 1;
    }
    printf("open\n");
    fflush(stdout);
    int rc;
    if (server)
        rc = send_stream(v, 1, nbytes) || recv_stream(v, 2, nbytes);
    else
        rc = recv_stream(v, 1, nbytes) || send_stream(v, 2, nbytes);
    if (rc)
        return 1;
    return finish(v, end) ? 1 : 0;
}
