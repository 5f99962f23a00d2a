/*
 * The control socket of `xensim serve`: a thread answers one text command
 * per connection ("domains", "ports N", "grants N") with the tables of
 * xensim_dump_*(), so `xensim domains|ports|grants` can look inside a
 * simulation that another process runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "control.h"
#include "unix_socket.h"

struct control {
    struct xensim *sim;
    int fd;
    int stop_pipe[2];
    pthread_t thread;
    char path[108];
};

static void control_answer(struct control *c, int fd)
{
    char line[128] = "";
    size_t got = 0;
    /* A command is one short line; read until newline, EOF or full. */
    while (got < sizeof(line) - 1) {
        ssize_t n = read(fd, line + got, sizeof(line) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(line, '\n', got))
            break;
    }
    line[got] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    FILE *out = fdopen(dup(fd), "w");
    if (!out)
        return;
    unsigned int domid;
    int rc = 0;
    if (!strcmp(line, "domains"))
        rc = xensim_dump_domains(c->sim, out);
    else if (sscanf(line, "ports %u", &domid) == 1)
        rc = xensim_dump_ports(c->sim, (domid_t)domid, out);
    else if (sscanf(line, "grants %u", &domid) == 1)
        rc = xensim_dump_grants(c->sim, (domid_t)domid, out);
    else
        fprintf(out, "error: unknown command '%s' (domains, ports N, grants N)\n", line);
    if (rc < 0)
        fprintf(out, "error: %s\n", xensim_strerror(rc));
    fclose(out);
}

static void *control_main(void *p)
{
    struct control *c = p;
    for (;;) {
        struct pollfd fds[2] = { { c->fd, POLLIN, 0 }, { c->stop_pipe[0], POLLIN, 0 } };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents)
            break;
        int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        control_answer(c, fd);
        close(fd);
    }
    return NULL;
}

struct control *control_start(struct xensim *sim, const char *path)
{
    struct control *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->sim = sim;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->fd = xensim_unix_listen(path, 0);
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

int control_query(const char *path, const char *command)
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
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    close(fd);
    return 0;
}
