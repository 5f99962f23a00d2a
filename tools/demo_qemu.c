/*
 * `xensim demo --blkback qemu`: Debian's unmodified QEMU as dom0's block
 * and console back end of the demo's guest. QEMU is a process of dom0,
 * reaching the simulator through the external server's sockets in a
 * scratch directory, and XenStore through the daemon's socket there; its
 * output goes to DIR/qemu.log, the guest's console to DIR/console.log.
 * What QEMU writes in its back-end directories is told as the daemon
 * takes it (a trace subscriber on XenStore messages), in order with the
 * rest of the story. Calls only the public API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>
#include <xensim/external.h>
#include <xensim/trace.h>
#include <xensim/xenbus.h>
#include <xensim/xensim.h>
#include "commands.h"
#include "demo.h"

extern char **environ;

struct demo_qemu {
    struct xensim *sim;
    struct xensim_external *ext;
    const char *path;
    char dir[64];
    pid_t pid;
    void (*print)(const char *line, void *arg);
    bool subscribed;
};

#define qemu_say(sim, ...) xensim_narrate_host(sim, "[qemu]", __VA_ARGS__)

const char *demo_qemu_default(void)
{
    const char *env = getenv("XENSIM_QEMU");
    return env && *env ? env : "/usr/libexec/xen-qemu-system-i386";
}

static void file_path(const struct demo_qemu *q, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", q->dir, name);
}

struct demo_qemu *demo_qemu_new(const char *path, void (*print)(const char *line, void *arg))
{
    struct demo_qemu *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    q->path = path;
    q->print = print;
    snprintf(q->dir, sizeof(q->dir), "/tmp/xensim-demo-qemu-XXXXXX");
    if (access(path, X_OK) || !mkdtemp(q->dir)) {
        int err = errno;
        free(q);
        errno = err;
        return NULL;
    }
    return q;
}

void demo_qemu_socket(const struct demo_qemu *q, char *buf, size_t size)
{
    file_path(q, "socket", buf, size);
}

/* A write outside any transaction by a dom0 connection, in a back-end
 * directory QEMU serves: QEMU's (the toolstack writes its halves inside
 * one). Told at once, under the rules of a trace subscriber. */
static void qemu_writes(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    struct demo_qemu *q = arg;
    const char *p = ev->u.xenstore.payload;
    uint32_t len = ev->u.xenstore.len;
    static const char *const dirs[] = { "/local/domain/0/backend/qdisk/",
                                        "/local/domain/0/backend/console/" };

    (void)sim;
    if (ev->kind != XENSIM_TRACE_XENSTORE_MSG || ev->domid != 0 || ev->u.xenstore.reply ||
        ev->u.xenstore.type != XS_WRITE || ev->u.xenstore.tx_id || !p)
        return;
    size_t plen = strnlen(p, len);
    if (plen >= len)
        return;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        size_t dl = strlen(dirs[i]);
        if (plen <= dl || strncmp(p, dirs[i], dl))
            continue;
        const char *key = strrchr(p, '/') + 1;
        int vlen = (int)(len - plen - 1);
        char line[320];
        if (!strcmp(key, "state"))
            snprintf(line, sizeof(line), "[qemu]       %s: state = %.*s (%s)",
                     i ? "console" : "xen-block", vlen, p + plen + 1,
                     xensim_xenbus_strstate(atoi(p + plen + 1)));
        else
            snprintf(line, sizeof(line), "[qemu]       %s writes %s = %.*s",
                     i ? "console" : "xen-block", key, vlen > 64 ? 64 : vlen, p + plen + 1);
        q->print(line, NULL);
        return;
    }
}

int demo_qemu_serve(struct demo_qemu *q, struct xensim *sim)
{
    struct xensim_external_config cfg = { .dir = q->dir };

    q->sim = sim;
    q->ext = xensim_external_start(sim, &cfg);
    if (!q->ext)
        return -errno;
    int rc = xensim_trace_subscribe(sim, qemu_writes, q);
    q->subscribed = !rc;
    return rc;
}

/* QEMU the way libxl starts it for a PV guest's back ends, as a process
 * of dom0 on the drop-in libraries. */
int demo_qemu_spawn(struct demo_qemu *q, domid_t guest)
{
    char lib[PATH_MAX], ld[PATH_MAX + 32], hv[128], xs[128], log[128], id[16], name[32];
    char *env[256];
    unsigned int n = 0;

    snprintf(ld, sizeof(ld), "LD_LIBRARY_PATH=%s", xensim_libxen_dir(lib, sizeof(lib)));
    snprintf(hv, sizeof(hv), "XENSIM_HV_PATH=%s/dom/0/hypervisor", q->dir);
    snprintf(xs, sizeof(xs), "XENSTORED_PATH=%s/socket", q->dir);
    for (char **e = environ; *e && n < 240; e++)
        if (strncmp(*e, "LD_LIBRARY_PATH=", 16) && strncmp(*e, "XENSIM_", 7) &&
            strncmp(*e, "XENSTORED_", 10))
            env[n++] = *e;
    env[n++] = ld;
    env[n++] = hv;
    env[n++] = xs;
    env[n++] = "XEN_QEMU_CONSOLE_LIMIT=1048576";
    env[n] = NULL;
    snprintf(id, sizeof(id), "%u", guest);
    snprintf(name, sizeof(name), "domain-%u", guest);
    char *argv[] = { (char *)q->path, "-xen-domid", id, "-xen-attach", "-name", name,
                     "-nographic", "-M", "xenpv", "-nodefaults", "-no-user-config",
                     "-monitor", "/dev/null", "-serial", "/dev/null", "-parallel", "/dev/null",
                     NULL };
    file_path(q, "qemu.log", log, sizeof(log));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int err = posix_spawn(&q->pid, q->path, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        q->pid = 0;
        return -err;
    }
    qemu_say(q->sim, "dom0 starts %s -xen-domid %u -xen-attach -M xenpv (pid %d), on xensim's "
             "drop-in Xen libraries", q->path, guest, (int)q->pid);
    return 0;
}

int demo_qemu_add_devices(struct demo_qemu *q, domid_t guest, const char *disk)
{
    char out[128], log[112];
    struct xensim_qdisk d = { .frontend = guest, .backend = 0, .vdev = "xvda", .path = disk };
    int rc = xensim_qdisk_add(q->sim, &d);

    if (rc)
        return rc;
    file_path(q, "console.log", log, sizeof(log));
    snprintf(out, sizeof(out), "file:%s", log);
    return xensim_qemu_console_add(q->sim, guest, 0, out);
}

static bool read_is(struct demo_qemu *q, const char *path, const char *want)
{
    char v[16];
    int n = xensim_xenstore_read(q->sim, path, v, sizeof(v) - 1);
    v[n > 0 ? n : 0] = '\0';
    return !strcmp(v, want);
}

bool demo_qemu_wait_disk(struct demo_qemu *q, domid_t guest, unsigned int devid,
                         unsigned int timeout_ms)
{
    char bstate[96], fstate[96];

    snprintf(bstate, sizeof(bstate), "/local/domain/0/backend/qdisk/%u/%u/state", guest, devid);
    snprintf(fstate, sizeof(fstate), "/local/domain/%u/device/vbd/%u/state", guest, devid);
    for (unsigned int waited = 0; waited <= timeout_ms; waited += 5) {
        if (read_is(q, bstate, "4") && read_is(q, fstate, "4"))
            return true;
        usleep(5000);
    }
    return false;
}

int demo_qemu_console_line(struct demo_qemu *q, const char *needle, char *line, size_t size,
                           unsigned int timeout_ms)
{
    char path[112], buf[4096];

    file_path(q, "console.log", path, sizeof(path));
    for (unsigned int waited = 0; waited <= timeout_ms; waited += 10) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        char *at = strstr(buf, needle);
        if (at) {
            snprintf(line, size, "%.*s", (int)strcspn(at, "\r\n"), at);
            return 0;
        }
        usleep(10000);
    }
    return -ETIMEDOUT;
}

void demo_qemu_log(const struct demo_qemu *q)
{
    char path[112], buf[2048];

    file_path(q, "qemu.log", path, sizeof(path));
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    if (n)
        fprintf(stderr, "xensim demo: QEMU's output:\n%s", buf);
}

void demo_qemu_kill(struct demo_qemu *q)
{
    int status;

    if (q->pid <= 0)
        return;
    kill(q->pid, SIGTERM);
    while (waitpid(q->pid, &status, 0) < 0 && errno == EINTR)
        ;
    q->pid = 0;
    qemu_say(q->sim, "QEMU ended; the server drops its ports, mappings and XenStore "
             "connection");
}

void demo_qemu_stop(struct demo_qemu *q)
{
    static const char *const left[] = { "qemu.log", "console.log", "socket" };
    char path[112];

    if (!q)
        return;
    demo_qemu_kill(q);
    if (q->subscribed)
        xensim_trace_unsubscribe(q->sim, qemu_writes, q);
    if (q->ext)
        xensim_external_stop(q->ext);
    for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
        file_path(q, left[i], path, sizeof(path));
        unlink(path);
    }
    rmdir(q->dir);
    free(q);
}
