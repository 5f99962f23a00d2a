/*
 * The XenStore harnesses' requests and reply checks (xs_msgs.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "xs_msgs.h"

void xsm_init(struct xsm_stream *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
}

static void pend_push(struct xsm_stream *s, uint32_t type, uint32_t req_id)
{
    if (s->count == XSM_MAX_PENDING) {
        s->overflow = true;
        return;
    }
    unsigned int i = (s->head + s->count++) % XSM_MAX_PENDING;
    s->pend[i].type = type;
    s->pend[i].req_id = req_id;
}

void xsm_wrote(struct xsm_stream *s, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    const size_t hl = sizeof(s->hdr);

    while (len && !s->doomed) {
        if (s->have < hl) {
            size_t n = hl - s->have < len ? hl - s->have : len;
            memcpy((uint8_t *)&s->hdr + s->have, p, n);
            s->have += n;
            p += n;
            len -= n;
            if (s->have < hl)
                break;
            /* The daemon drops a connection that announces more. */
            if (s->hdr.len > XENSTORE_PAYLOAD_MAX) {
                s->doomed = true;
                break;
            }
        } else {
            size_t want = hl + s->hdr.len - s->have, n = want < len ? want : len;
            s->have += n;
            p += n;
            len -= n;
        }
        if (s->have == hl + s->hdr.len) {
            pend_push(s, s->hdr.type, s->hdr.req_id);
            s->have = 0;
        }
    }
}

size_t xsm_pad(const struct xsm_stream *s, uint8_t *buf, size_t cap)
{
    const size_t hl = sizeof(s->hdr);
    size_t need;

    if (s->doomed || s->have == 0)
        return 0;
    need = s->have < hl ? hl - s->have : hl + s->hdr.len - s->have;
    if (need > cap)
        need = cap;
    memset(buf, 0, need);
    return need;
}

static bool known_error(const char *e, size_t len)
{
    if (!len || e[len - 1] != '\0' || strlen(e) + 1 != len)
        return false;
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (!strcmp(xsd_errors[i].errstring, e))
            return true;
    return false;
}

/* Two NUL-terminated strings, exactly. */
static bool two_strings(const char *p, size_t len)
{
    const char *nul = memchr(p, '\0', len);
    if (!nul)
        return false;
    size_t rest = len - (size_t)(nul + 1 - p);
    return rest && memchr(nul + 1, '\0', rest) == p + len - 1;
}

static void check_message(struct xsm_stream *s, const struct xsd_sockmsg *h, const char *body)
{
    if (h->type == XS_WATCH_EVENT) {
        FZ_CHECK(two_strings(body, h->len), "%s: a watch event of %u bytes is not "
                 "path and token", s->name, h->len);
        s->events++;
        return;
    }
    s->replies++;
    if (s->overflow) {
        /* Too many to follow one by one: the sentinel still ends it. */
        if (h->req_id == XSM_SENTINEL_ID)
            s->sentinel_seen = true;
        return;
    }
    FZ_CHECK(s->count > 0, "%s: a reply (type %u, req_id %u) to no request", s->name, h->type,
             h->req_id);
    unsigned int i = s->head;
    FZ_CHECK(h->req_id == s->pend[i].req_id,
             "%s: reply with req_id %u; the oldest request waiting has %u", s->name,
             h->req_id, s->pend[i].req_id);
    FZ_CHECK(h->type == s->pend[i].type || h->type == XS_ERROR,
             "%s: reply of type %u to a request of type %u", s->name, h->type, s->pend[i].type);
    if (h->type == XS_ERROR)
        FZ_CHECK(known_error(body, h->len), "%s: XS_ERROR with a payload of %u bytes that is "
                 "no error name", s->name, h->len);
    if (h->req_id == XSM_SENTINEL_ID && s->pend[i].type == XS_READ && s->count == 1)
        s->sentinel_seen = true;
    s->head = (s->head + 1) % XSM_MAX_PENDING;
    s->count--;
}

bool xsm_read(struct xsm_stream *s, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    const size_t hl = sizeof(struct xsd_sockmsg);

    while (len) {
        size_t want;
        if (s->in_have < hl) {
            want = hl - s->in_have;
        } else {
            struct xsd_sockmsg h;
            memcpy(&h, s->in, hl);
            want = hl + h.len - s->in_have;
        }
        size_t n = want < len ? want : len;
        memcpy(s->in + s->in_have, p, n);
        s->in_have += n;
        p += n;
        len -= n;
        if (s->in_have >= hl) {
            struct xsd_sockmsg h;
            memcpy(&h, s->in, hl);
            FZ_CHECK(h.len <= XENSTORE_PAYLOAD_MAX, "%s: a reply announces %u bytes", s->name,
                     h.len);
            if (s->in_have == hl + h.len) {
                check_message(s, &h, (const char *)s->in + hl);
                s->in_have = 0;
            }
        }
    }
    return s->sentinel_seen;
}

/* Paths a guest and dom0 can reach, and some they cannot. */
static const char *const paths[] = {
    "data", "data/a", "data/a/b", "data/x", "/local/domain/%u/data",
    "/local/domain/%u/data/k", "/local/domain/%u", "/local/domain/%u/name",
    "/local/domain/1/data/p", "/local/domain/2/data/p", "/local", "/", "/tool",
    "@introduceDomain", "@releaseDomain", "", "data//a", "data/a/", "/local/domain/0",
    "data/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
};

static size_t put_str(struct fz_in *in, domid_t self, char *out, size_t cap)
{
    uint8_t b = fz_u8(in);
    char tmp[160];
    if (b >= 0xf0) {
        /* Any bytes, up to the next NUL the payload adds. */
        size_t n = fz_u8(in) % sizeof(tmp);
        fz_bytes(in, tmp, n);
        tmp[n] = '\0';
    } else {
        snprintf(tmp, sizeof(tmp), paths[b % (sizeof(paths) / sizeof(paths[0]))], self);
        if (b & 0x80) {
            size_t l = strlen(tmp);
            snprintf(tmp + l, sizeof(tmp) - l, "/%c", 'a' + fz_u8(in) % 8);
        }
    }
    size_t n = strlen(tmp) + 1;
    if (n > cap)
        return 0;
    memcpy(out, tmp, n);
    return n;
}

/* The types, weighted toward those with most to get wrong. */
static const uint32_t types[] = {
    XS_READ, XS_WRITE, XS_WRITE, XS_MKDIR, XS_RM, XS_DIRECTORY, XS_DIRECTORY_PART,
    XS_GET_PERMS, XS_SET_PERMS, XS_SET_PERMS, XS_WATCH, XS_WATCH, XS_UNWATCH,
    XS_TRANSACTION_START, XS_TRANSACTION_END, XS_TRANSACTION_END, XS_GET_DOMAIN_PATH,
    XS_RESET_WATCHES, XS_INTRODUCE, XS_RELEASE, XS_IS_DOMAIN_INTRODUCED, XS_RESUME,
    XS_SET_TARGET, XS_CONTROL, XS_DEBUG, XS_WATCH_EVENT, XS_ERROR,
};

size_t xsm_build(struct fz_in *in, domid_t self, uint8_t *buf, size_t cap)
{
    struct xsd_sockmsg h = { 0 };
    uint8_t how = fz_u8(in);
    size_t hl = sizeof(h);

    if (cap < hl)
        return 0;
    if (how >= 0xf0) {
        /* Raw bytes: any framing at all. */
        size_t n = fz_u8(in);
        if (n > cap)
            n = cap;
        fz_bytes(in, buf, n);
        return n;
    }
    uint8_t t = fz_u8(in);
    h.type = t >= 0xf8 ? fz_u32(in) : types[t % (sizeof(types) / sizeof(types[0]))];
    h.req_id = fz_u8(in);
    uint8_t tx = fz_u8(in);
    h.tx_id = tx >= 0xf0 ? fz_u32(in) : tx % 4;
    char *pl = (char *)buf + hl;
    size_t room = cap - hl < XENSTORE_PAYLOAD_MAX ? cap - hl : XENSTORE_PAYLOAD_MAX, len = 0;
    if (how & 1) {
        /* A payload of bytes. */
        len = fz_u8(in);
        if (len == 0xff)
            len = fz_u16(in) % (XENSTORE_PAYLOAD_MAX + 1);
        if (len > room)
            len = room;
        fz_bytes(in, pl, len);
    } else {
        /* Strings: a path, then what the type takes after it. */
        len = put_str(in, self, pl, room);
        unsigned int extra = how >> 1 & 3;
        for (unsigned int i = 0; i < extra && len < room; i++) {
            if (fz_u8(in) & 1) {
                /* A permission or a value. */
                static const char *const words[] = {
                    "n0", "r1", "w2", "b1", "n1", "r0", "F", "T", "42", "1", "0", "1 2 3",
                    "quota", "log", "help", "nodes", "2000",
                };
                const char *w = words[fz_u8(in) % (sizeof(words) / sizeof(words[0]))];
                size_t wl = strlen(w) + 1;
                if (len + wl > room)
                    break;
                memcpy(pl + len, w, wl);
                len += wl;
            } else {
                len += put_str(in, self, pl + len, room - len);
            }
        }
        /* A value is not NUL-terminated: WRITE's last string loses it. */
        if (h.type == XS_WRITE && len && (how & 0x40))
            len--;
    }
    h.len = (uint32_t)len;
    memcpy(buf, &h, hl);
    return hl + len;
}

size_t xsm_sentinel(uint8_t *buf, size_t cap)
{
    static const char path[] = "/fuzz/never/there";
    struct xsd_sockmsg h = { .type = XS_READ, .req_id = XSM_SENTINEL_ID, .len = sizeof(path) };
    if (cap < sizeof(h) + sizeof(path))
        return 0;
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), path, sizeof(path));
    return sizeof(h) + sizeof(path);
}
