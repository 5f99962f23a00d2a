/*
 * Unix stream sockets by path, written once for every folder: connect
 * (the toolstack, the command line, tests, benchmarks) and listen
 * (xenstored, the command line's control socket). Header only; relies on
 * libc. Both return a file descriptor or a negative errno.
 */
#ifndef XENSIM_UNIX_SOCKET_H
#define XENSIM_UNIX_SOCKET_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static inline int xensim_unix_address(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (!path || !*path)
        return -EINVAL;
    if (strlen(path) >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    strcpy(sa->sun_path, path);
    return 0;
}

/* A blocking, close-on-exec connection to the socket at path. */
static inline int xensim_unix_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd, err = xensim_unix_address(path, &sa);

    if (err)
        return err;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Listens at path, replacing whatever socket was left there. flags adds
 * to the socket type (SOCK_NONBLOCK); the socket is close-on-exec. */
static inline int xensim_unix_listen(const char *path, int flags)
{
    struct sockaddr_un sa;
    int fd, err = xensim_unix_address(path, &sa);

    if (err)
        return err;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
        err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

#endif
