/*
 * The web view's server (web.h), on libmicrohttpd: a thread per
 * connection, so a server-sent event stream may wait for the next event.
 * Routes: the page's files, /info (live or a recording), /events (the
 * live stream) and /recording.json. libmicrohttpd answers malformed
 * requests (400) itself; anything else not listed is 404 or 405.
 * Relies on web_feed.c for the history, probe.c for the notes and the
 * trace's Chrome JSON sink for the events.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <xensim/trace.h>
#include "probe.h"
#include "web.h"
#include "web_addr.h"
#include "web_feed.h"

/* The history a page gets when it connects: enough for a long demo. */
#define FEED_ENTRIES (256u * 1024)
#define FEED_BYTES (64u << 20)
/* A stream with nothing to say sends a comment this often, which also
 * finds pages that went away. */
#define KEEPALIVE_MS 5000

struct web {
    struct MHD_Daemon *mhd;
    char url[96];
    char pagedir[4096];
    char who[32];
    pthread_mutex_t lock;        /* sim, json, pages, recording */
    pthread_cond_t cond;         /* a page connected */
    struct xensim *sim;
    struct xensim_trace_json *json;
    unsigned int pages;          /* live streams open */
    char *recording;
    bool live_mode;
    struct feed feed;
};

struct stream {
    struct web *w;
    uint64_t next;
    char *frame;
    size_t len, off;
};

static const struct {
    const char *path, *file, *type;
} files[] = {
    { "/", "index.html", "text/html; charset=utf-8" },
    { "/index.html", "index.html", "text/html; charset=utf-8" },
    { "/view.js", "view.js", "text/javascript; charset=utf-8" },
    { "/view.css", "view.css", "text/css; charset=utf-8" },
};

static void web_sink(const char *json, size_t len, void *arg)
{
    struct web *w = arg;
    feed_push(&w->feed, json, len);
}

/* Called with w->lock held. The sink starts first, so the probe's first
 * snapshot is in the stream. */
static void live_start(struct web *w)
{
    if (!w->sim || w->json)
        return;
    if (xensim_trace_json_start(w->sim, web_sink, w, &w->json)) {
        w->json = NULL;
        return;
    }
    if (probe_get(w->sim)) {
        xensim_trace_json_stop(w->sim, w->json);
        w->json = NULL;
    }
}

static void live_stop(struct web *w)
{
    if (!w->json)
        return;
    probe_put();
    xensim_trace_json_stop(w->sim, w->json);
    w->json = NULL;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    (void)pos;
    while (!s->frame) {
        ssize_t n = feed_next(&s->w->feed, &s->next, &s->frame, KEEPALIVE_MS);
        if (n < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (n == 0) {
            static const char ping[] = ": keepalive\n\n";
            size_t len = sizeof(ping) - 1 < max ? sizeof(ping) - 1 : max;
            memcpy(buf, ping, len);
            return (ssize_t)len;
        }
        s->len = (size_t)n;
        s->off = 0;
    }
    size_t len = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->frame + s->off, len);
    s->off += len;
    if (s->off == s->len) {
        free(s->frame);
        s->frame = NULL;
    }
    return (ssize_t)len;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    struct web *w = s->w;
    pthread_mutex_lock(&w->lock);
    if (--w->pages == 0)
        live_stop(w);
    pthread_mutex_unlock(&w->lock);
    free(s->frame);
    free(s);
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status,
                                  const char *type, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_file(struct MHD_Connection *c, const char *path, const char *type)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply_text(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_events(struct web *w, struct MHD_Connection *c)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s)
        return MHD_NO;
    s->w = w;
    s->next = 1;
    /* A page that reconnects says what it saw last. */
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (last)
        s->next = strtoull(last, NULL, 10) + 1;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                               stream_read, s, stream_free);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    pthread_mutex_lock(&w->lock);
    if (w->pages++ == 0)
        live_start(w);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result web_answer(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct web *w = cls;
    (void)version, (void)upload_data, (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                          "only GET and HEAD are served\n");
    if (*upload_size)
        return reply_text(c, MHD_HTTP_BAD_REQUEST, "text/plain", "a GET has no body\n");
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (strcmp(url, files[i].path))
            continue;
        char path[sizeof(w->pagedir) + 32];
        snprintf(path, sizeof(path), "%s/%s", w->pagedir, files[i].file);
        return reply_file(c, path, files[i].type);
    }
    if (!strcmp(url, "/info")) {
        char info[256];
        /* pages and feeding show that the view costs nothing while no
         * page is open: the trace subscribers run only while one is. */
        pthread_mutex_lock(&w->lock);
        snprintf(info, sizeof(info),
                 "{\"mode\":\"%s\",\"attached\":%s,\"version\":\"%s\",\"pages\":%u,"
                 "\"feeding\":%s}",
                 w->recording ? "recording" : "live", w->sim ? "true" : "false",
                 PACKAGE_VERSION, w->pages, w->json ? "true" : "false");
        pthread_mutex_unlock(&w->lock);
        return reply_text(c, MHD_HTTP_OK, "application/json", info);
    }
    if (!strcmp(url, "/events") && w->live_mode)
        return reply_events(w, c);
    if (!strcmp(url, "/recording.json") && w->recording)
        return reply_file(c, w->recording, "application/json");
    return reply_text(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

/* The page's files: $XENSIM_WEB_DIR, else where `make install` put them,
 * else the source tree this program was built from. */
static bool find_pages(struct web *w)
{
    const char *dirs[] = { getenv("XENSIM_WEB_DIR"), XENSIM_WEBDIR, XENSIM_SRC_WEBDIR };
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char path[sizeof(w->pagedir) + 16];
        if (!dirs[i] || !*dirs[i])
            continue;
        snprintf(path, sizeof(path), "%s/index.html", dirs[i]);
        if (access(path, R_OK) == 0) {
            snprintf(w->pagedir, sizeof(w->pagedir), "%s", dirs[i]);
            return true;
        }
    }
    return false;
}

int web_take_args(int *argc, char **argv, struct web_opts *o)
{
    int out = 0;
    bool public_seen = false;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--http")) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "xensim: --http needs ADDR:PORT, such as 127.0.0.1:8080\n");
                return -1;
            }
            o->spec = argv[++i];
        } else if (!strncmp(argv[i], "--http=", 7)) {
            o->spec = argv[i] + 7;
        } else if (!strcmp(argv[i], "--http-public")) {
            o->public_ok = public_seen = true;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argc = out;
    if (public_seen && !o->spec) {
        fprintf(stderr, "xensim: --http-public goes with --http ADDR:PORT\n");
        return -1;
    }
    return 0;
}

static int web_resolve(const struct web_opts *o, const char *who, struct web_addr *a)
{
    char err[256];
    if (web_addr_parse(o->spec, a, err, sizeof(err))) {
        fprintf(stderr, "%s: --http %s: %s\n", who, o->spec ? o->spec : "", err);
        return -1;
    }
    if (!a->loopback && !o->public_ok) {
        fprintf(stderr, "%s: refusing to serve the web view on %s: it is not a loopback "
                "address, so anyone who can reach this machine could watch the simulation. "
                "Use 127.0.0.1:PORT, or add --http-public if that is what you want.\n",
                who, o->spec);
        return -1;
    }
    return 0;
}

int web_check(const struct web_opts *o, const char *who)
{
    struct web_addr a;
    return web_resolve(o, who, &a);
}

struct web *web_start(const struct web_opts *o, const char *who)
{
    struct web_addr a;
    if (web_resolve(o, who, &a))
        return NULL;
    struct web *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    snprintf(w->who, sizeof(w->who), "%s", who);
    if (!find_pages(w)) {
        fprintf(stderr, "%s: the web view's files (index.html) are not installed in %s; "
                "set XENSIM_WEB_DIR to their folder\n", who, XENSIM_WEBDIR);
        free(w);
        return NULL;
    }
    if (feed_init(&w->feed, FEED_ENTRIES, FEED_BYTES)) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (a.sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    w->mhd = MHD_start_daemon(flags, 0, NULL, NULL, web_answer, w,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a.sa,
                              MHD_OPTION_CONNECTION_LIMIT, 64u,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, 32u,
                              MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                              MHD_OPTION_END);
    if (!w->mhd) {
        fprintf(stderr, "%s: cannot listen on %s: %s\n", who, o->spec, strerror(errno));
        feed_destroy(&w->feed);
        free(w);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned int port = info ? info->port : 0;
    char host[INET6_ADDRSTRLEN] = "127.0.0.1";
    if (a.sa.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a.sa)->sin6_addr, host, sizeof(host));
        snprintf(w->url, sizeof(w->url), "http://[%s]:%u/", host, port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&a.sa)->sin_addr, host, sizeof(host));
        snprintf(w->url, sizeof(w->url), "http://%s:%u/", host, port);
    }
    return w;
}

const char *web_url(const struct web *w)
{
    return w->url;
}

void web_attach(struct web *w, struct xensim *sim)
{
    pthread_mutex_lock(&w->lock);
    w->sim = sim;
    w->live_mode = true;
    if (w->pages)
        live_start(w);
    pthread_mutex_unlock(&w->lock);
}

void web_detach(struct web *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    live_stop(w);
    w->sim = NULL;
    pthread_mutex_unlock(&w->lock);
}

int web_set_recording(struct web *w, const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    pthread_mutex_lock(&w->lock);
    free(w->recording);
    w->recording = copy;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

bool web_wait_page(struct web *w, const sigset_t *quit)
{
    static const struct timespec now = { 0, 0 };
    pthread_mutex_lock(&w->lock);
    while (!w->pages) {
        /* A signal or a page, whichever comes first: the signal is
         * looked for between waits of at most 100 ms for a page. */
        if (quit) {
            pthread_mutex_unlock(&w->lock);
            if (sigtimedwait(quit, NULL, &now) > 0)
                return false;
            pthread_mutex_lock(&w->lock);
            if (w->pages)
                break;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &until);
    }
    pthread_mutex_unlock(&w->lock);
    return true;
}

void web_stop(struct web *w)
{
    if (!w)
        return;
    web_detach(w);
    /* Streams end once the feed is closed; then the daemon can join. */
    feed_close(&w->feed);
    MHD_stop_daemon(w->mhd);
    feed_destroy(&w->feed);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->recording);
    free(w);
}
