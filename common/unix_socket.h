/*
 * Unix sockets by path, written once for every folder: connect (the
 * toolstack, the command line, the drop-in libraries' hypervisor socket,
 * tests, benchmarks) and listen (xenstored, the command line's control
 * socket, external domains' sockets). Header only; relies on libc. All
 * return a file descriptor or a negative errno.
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

/* A socket of type (its type and flags: SOCK_STREAM | SOCK_CLOEXEC,
 * SOCK_SEQPACKET ...) and *sa made from path, for the two below. */
static inline int xensim_unix_socket(const char *path, int type, struct sockaddr_un *sa)
{
    int fd, err = xensim_unix_address(path, sa);

    if (err)
        return err;
    fd = socket(AF_UNIX, type, 0);
    return fd < 0 ? -errno : fd;
}

/* A blocking connection to the socket at path, of type as above. */
static inline int xensim_unix_connect_type(const char *path, int type)
{
    struct sockaddr_un sa;
    int fd = xensim_unix_socket(path, type, &sa);

    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* A blocking, close-on-exec stream connection to the socket at path. */
static inline int xensim_unix_connect(const char *path)
{
    return xensim_unix_connect_type(path, SOCK_STREAM | SOCK_CLOEXEC);
}

/* Listens at path, replacing whatever socket was left there; type as
 * above. */
static inline int xensim_unix_listen_type(const char *path, int type)
{
    struct sockaddr_un sa;
    int fd = xensim_unix_socket(path, type, &sa);

    if (fd < 0)
        return fd;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* A close-on-exec stream socket listening at path; flags adds to its type
 * (SOCK_NONBLOCK). */
static inline int xensim_unix_listen(const char *path, int flags)
{
    return xensim_unix_listen_type(path, SOCK_STREAM | SOCK_CLOEXEC | flags);
}

#endif
