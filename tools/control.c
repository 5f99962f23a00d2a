/*
 * The control socket of `xensim serve`: answers one text command per
 * connection ("domains", "ports N", "grants N") with the tables of
 * xensim_dump_*(), so `xensim domains|ports|grants` can look inside a
 * simulation that another process runs. One thread polls every
 * connection; none of them can hold up another (see struct control).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "control.h"
#include "unix_socket.h"

/* A client that has not finished its exchange by then is dropped, so
 * idle ones cannot pile up; a full table drops the oldest to make room. */
#define CONTROL_CONN_MAX 16
#define CONTROL_CONN_MS 10000

/* One connection: reading its command line, then writing its answer. */
struct control_conn {
    int fd;                 /* -1: free slot */
    uint64_t deadline_ms;
    char line[128];
    size_t got;
    char *answer;           /* NULL while reading */
    size_t answer_len, sent;
};

/*
 * Every socket is non-blocking and the thread only reads or writes what
 * poll says is ready, so an idle client (nothing sent), a slow one (a
 * line sent a byte at a time) or one that never reads its answer waits
 * alone while the others are served.
 */
struct control {
    struct xensim *sim;
    int fd;
    int stop_pipe[2];
    pthread_t thread;
    char path[108];
    struct control_conn conn[CONTROL_CONN_MAX];
};

static uint64_t control_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_close(struct control_conn *k)
{
    close(k->fd);
    free(k->answer);
    memset(k, 0, sizeof(*k));
    k->fd = -1;
}

/* Runs the command in k->line; the answer waits in memory for the
 * client to take it. */
static void conn_answer(struct control *c, struct control_conn *k)
{
    k->line[k->got] = '\0';
    k->line[strcspn(k->line, "\r\n")] = '\0';
    FILE *out = open_memstream(&k->answer, &k->answer_len);
    if (!out) {
        conn_close(k);
        return;
    }
    unsigned int domid;
    int rc = 0;
    if (!strcmp(k->line, "domains"))
        rc = xensim_dump_domains(c->sim, out);
    else if (sscanf(k->line, "ports %u", &domid) == 1)
        rc = xensim_dump_ports(c->sim, (domid_t)domid, out);
    else if (sscanf(k->line, "grants %u", &domid) == 1)
        rc = xensim_dump_grants(c->sim, (domid_t)domid, out);
    else
        fprintf(out, "error: unknown command '%s' (domains, ports N, grants N)\n", k->line);
    if (rc < 0)
        fprintf(out, "error: %s\n", xensim_strerror(rc));
    if (fclose(out) || !k->answer)
        conn_close(k);
}

/* A command is one short line: it ends at a newline, at EOF or when the
 * buffer is full. */
static void conn_read(struct control *c, struct control_conn *k)
{
    ssize_t n = read(k->fd, k->line + k->got, sizeof(k->line) - 1 - k->got);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        conn_close(k);
        return;
    }
    k->got += (size_t)n;
    if (n == 0 || memchr(k->line, '\n', k->got) || k->got == sizeof(k->line) - 1)
        conn_answer(c, k);
}

static void conn_write(struct control_conn *k)
{
    ssize_t n = send(k->fd, k->answer + k->sent, k->answer_len - k->sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        conn_close(k);
        return;
    }
    k->sent += (size_t)n;
    if (k->sent == k->answer_len)
        conn_close(k);
}

static void control_accept(struct control *c, uint64_t now)
{
    int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    struct control_conn *slot = NULL, *oldest = &c->conn[0];
    for (int i = 0; i < CONTROL_CONN_MAX && !slot; i++) {
        if (c->conn[i].fd < 0)
            slot = &c->conn[i];
        else if (c->conn[i].deadline_ms < oldest->deadline_ms)
            oldest = &c->conn[i];
    }
    if (!slot) {
        conn_close(oldest);
        slot = oldest;
    }
    slot->fd = fd;
    slot->deadline_ms = now + CONTROL_CONN_MS;
}

static void *control_main(void *p)
{
    struct control *c = p;
    for (;;) {
        struct pollfd fds[2 + CONTROL_CONN_MAX];
        struct control_conn *of[2 + CONTROL_CONN_MAX];
        nfds_t n = 0;
        uint64_t now = control_now_ms(), next = 0;

        fds[n++] = (struct pollfd){ c->stop_pipe[0], POLLIN, 0 };
        fds[n++] = (struct pollfd){ c->fd, POLLIN, 0 };
        for (int i = 0; i < CONTROL_CONN_MAX; i++) {
            struct control_conn *k = &c->conn[i];
            if (k->fd < 0)
                continue;
            if (k->deadline_ms <= now) {
                conn_close(k);
                continue;
            }
            if (!next || k->deadline_ms < next)
                next = k->deadline_ms;
            of[n] = k;
            fds[n++] = (struct pollfd){ k->fd, k->answer ? POLLOUT : POLLIN, 0 };
        }
        if (poll(fds, n, next ? (int)(next - now) : -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents)
            break;
        now = control_now_ms();
        for (nfds_t i = 2; i < n; i++) {
            if (!fds[i].revents)
                continue;
            if (of[i]->answer)
                conn_write(of[i]);
            else
                conn_read(c, of[i]);
        }
        if (fds[1].revents)
            control_accept(c, now);
    }
    for (int i = 0; i < CONTROL_CONN_MAX; i++)
        if (c->conn[i].fd >= 0)
            conn_close(&c->conn[i]);
    return NULL;
}

struct control *control_start(struct xensim *sim, const char *path)
{
    struct control *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->sim = sim;
    for (int i = 0; i < CONTROL_CONN_MAX; i++)
        c->conn[i].fd = -1;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->fd = xensim_unix_listen(path, SOCK_NONBLOCK);
    if (c->fd < 0 || pipe2(c->stop_pipe, O_CLOEXEC) ||
        pthread_create(&c->thread, NULL, control_main, c)) {
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return NULL;
    }
    return c;
}

void control_stop(struct control *c)
{
    if (!c)
        return;
    if (write(c->stop_pipe[1], "x", 1) != 1)
        perror("control_stop");
    pthread_join(c->thread, NULL);
    close(c->fd);
    close(c->stop_pipe[0]);
    close(c->stop_pipe[1]);
    unlink(c->path);
    free(c);
}

int control_query(const char *path, const char *command, FILE *out)
{
    int fd = xensim_unix_connect(path);
    if (fd < 0)
        return fd;
    char line[128];
    int len = snprintf(line, sizeof(line), "%s\n", command);
    if (write(fd, line, (size_t)len) != len) {
        close(fd);
        return -EIO;
    }
    char buf[4096];
    ssize_t n;
    /* The answer's start tells a refusal ("error: ...", as the server
     * above writes one) from a listing. */
    static const char err[] = "error: ";
    char head[sizeof(err) - 1];
    size_t got = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n && got < sizeof(head); i++)
            head[got++] = buf[i];
        fwrite(buf, 1, (size_t)n, out);
    }
    close(fd);
    return got == sizeof(head) && !memcmp(head, err, sizeof(head)) ? 1 : 0;
}
