/*
 * The idle guests of `xensim serve`, as guest code on vCPU 0: each says
 * "xensim guest N ready" on its PV console at boot, then answers every
 * line it reads there with "echo: <line>", so that a console tool has
 * something to talk to; otherwise it sleeps in SCHEDOP_block, which also
 * serves the simulator's calls into it. Relies on guest.h and console.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <xensim/console.h>
#include <xensim/guest.h>
#include "commands.h"

/* Input wakes SCHEDOP_block; the loop does the reading. */
static void console_event(void *arg)
{
    (void)arg;
}

static void say(const char *s, size_t n)
{
    xensim_console_write(s, n);
}

void xensim_serve_guest_main(void *arg)
{
    char line[256], out[sizeof(line) + 16], buf[128];
    size_t len = 0;
    bool cr = false;

    (void)arg;
    xensim_console_bind(console_event, NULL);
    int n = snprintf(out, sizeof(out), "xensim guest %u ready\r\n", xensim_guest_domid());
    say(out, (size_t)n);
    for (;;) {
        ssize_t got = xensim_console_read(buf, sizeof(buf));
        if (got <= 0) {
            HYPERVISOR_sched_op(SCHEDOP_block, NULL);
            continue;
        }
        for (ssize_t i = 0; i < got; i++) {
            char ch = buf[i];
            /* A line ends at CR (a raw terminal's Enter) or LF, CR LF once. */
            if (ch == '\n' && cr) {
                cr = false;
                continue;
            }
            cr = ch == '\r';
            if (ch != '\r' && ch != '\n') {
                if (len < sizeof(line) - 1)
                    line[len++] = ch;
                continue;
            }
            n = snprintf(out, sizeof(out), "echo: %.*s\r\n", (int)len, line);
            say(out, (size_t)n);
            len = 0;
        }
    }
}
