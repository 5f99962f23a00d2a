/* JSON text building for the web view (jbuf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jbuf.h"

static bool jbuf_room(struct jbuf *b, size_t more)
{
    if (b->broken)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->broken = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n >= 0 && jbuf_room(b, (size_t)n)) {
        if ((size_t)n < sizeof(small))
            memcpy(b->s + b->len, small, (size_t)n + 1);
        else
            vsnprintf(b->s + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
}

void jbuf_str(struct jbuf *b, const char *s, size_t len)
{
    /* Worst case: every byte as \u00XX. */
    if (!jbuf_room(b, len * 6 + 2))
        return;
    char *o = b->s + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->s);
}

const char *jbuf_text(const struct jbuf *b)
{
    if (b->broken)
        return NULL;
    return b->s ? b->s : "";
}

void jbuf_free(struct jbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof(*b));
}
