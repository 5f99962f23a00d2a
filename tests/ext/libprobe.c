/*
 * Calls the drop-in libraries' APIs that libxenvchan does not, as a
 * process of a simulated domain (linked against Debian's libraries; the
 * drop-ins replace them at run time through LD_LIBRARY_PATH):
 *
 *   libprobe ctrl N                 (as dom0: N domains exist)
 *   libprobe ctrl-unprivileged
 *   libprobe evtchn PEER            (the peer binds to the port printed
 *                                    and sends once)
 *   libprobe gnttab GRANTER REF1 REF2   (REF1 writable, REF2 read-only,
 *                                    each page filled with 0x5a)
 *   libprobe gntshr PEER            (prints the refs, waits for a line
 *                                    on stdin, checks the peer's byte)
 *
 * Each check that fails prints "FAIL: what" and exits 1; "ok" and exit
 * 0 when all passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            printf("FAIL: %s (line %d, errno %d)\n", #cond, __LINE__, errno); \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static int ctrl(int n, bool privileged)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xc_dominfo_t info[8];
    xc_domaininfo_t list[8];

    CHECK(xch);
    errno = 0;
    int got = xc_domain_getinfo(xch, 0, 8, info);
    if (!privileged) {
        CHECK(got == -1 && errno == EPERM);
    } else {
        CHECK(got == n);
        CHECK(info[0].domid == 0 && info[0].running && !info[0].dying);
        CHECK(info[1].domid == 1 && info[1].nr_online_vcpus == 1);
        /* One domain asked for, the next one found, as getdomaininfo. */
        CHECK(xc_domain_getinfo(xch, 1, 1, info) == 1 && info[0].domid == 1);
        CHECK(xc_domain_getinfo(xch, 1000, 1, info) == -1 && errno == ESRCH);
        CHECK(xc_domain_getinfolist(xch, 0, 8, list) == n);
        CHECK(list[1].domain == 1 && (list[1].flags & XEN_DOMINF_running));
    }
    /* What needs a real hypervisor says so. */
    errno = 0;
    CHECK(xc_domain_pause(xch, 1) == -1 && errno == ENOSYS);
    CHECK(xc_interface_fmem_handle(xch) == NULL && errno == ENOSYS);
    CHECK(!strcmp(xc_error_code_to_desc(XC_ERROR_NONE), "No error details"));
    CHECK(xc_get_last_error(xch)->code == XC_ERROR_NONE);
    CHECK(xc_interface_close(xch) == 0);
    CHECK(xc_interface_close(NULL) == 0);
    return 0;
}

static int evtchn(uint32_t peer)
{
    errno = 0;
    CHECK(!xenevtchn_open(NULL, 2) && errno == EINVAL);
    CHECK(!xenevtchn_fdopen(NULL, 0, 0) && errno == EOPNOTSUPP);
    xenevtchn_handle *h = xenevtchn_open(NULL, 0);
    CHECK(h);
    CHECK(xenevtchn_fd(h) >= 0);
    int port = xenevtchn_bind_unbound_port(h, peer);
    CHECK(port > 0);
    CHECK(xenevtchn_unmask(h, (evtchn_port_t)port) == 0);
    printf("port %d\n", port);
    fflush(stdout);
    /* Blocks until the peer sends. */
    CHECK(xenevtchn_pending(h) == port);
    CHECK(xenevtchn_unmask(h, (evtchn_port_t)port) == 0);
    CHECK(xenevtchn_notify(h, (evtchn_port_t)port) == 0);
    errno = 0;
    CHECK(xenevtchn_notify(h, 999) == -1 && errno == ENOTCONN);
    CHECK(xenevtchn_unbind(h, 999) == -1 && errno == ENOTCONN);
    CHECK(xenevtchn_bind_interdomain(h, peer, 5000) == -1 && errno == EINVAL);
    int virq = xenevtchn_bind_virq(h, VIRQ_DEBUG);
    CHECK(virq > 0 && xenevtchn_unbind(h, (evtchn_port_t)virq) == 0);
    CHECK(xenevtchn_restrict(h, (domid_t)peer) == 0);
    CHECK(xenevtchn_bind_unbound_port(h, peer) == -1 && errno == EACCES);
    CHECK(xenevtchn_unbind(h, (evtchn_port_t)port) == 0);
    CHECK(xenevtchn_close(h) == 0);
    CHECK(xenevtchn_close(NULL) == 0);
    return 0;
}

static int gnttab(uint32_t granter, uint32_t rw_ref, uint32_t ro_ref)
{
    xengnttab_handle *h = xengnttab_open(NULL, 0);
    CHECK(h && xengnttab_fd(h) >= 0);
    CHECK(xengnttab_set_max_grants(h, 64) == 0);

    uint8_t *p = xengnttab_map_grant_ref(h, granter, rw_ref, PROT_READ | PROT_WRITE);
    CHECK(p && p[0] == 0x5a && p[4095] == 0x5a);
    p[1] = 0x11;
    errno = 0;
    CHECK(xengnttab_unmap(h, p, 2) == -1 && errno == EINVAL);
    CHECK(xengnttab_unmap(h, p, 1) == 0);
    CHECK(xengnttab_unmap(h, p, 1) == -1 && errno == EINVAL);
    /* Refused by Xen: a writable map of a read-only grant, a bad ref. */
    CHECK(!xengnttab_map_grant_ref(h, granter, ro_ref, PROT_READ | PROT_WRITE) && errno == EINVAL);
    CHECK(!xengnttab_map_grant_ref(h, granter, 4000, PROT_READ) && errno == EINVAL);

    uint32_t doms[2] = { granter, granter }, refs[2] = { rw_ref, ro_ref };
    uint8_t *two = xengnttab_map_grant_refs(h, 2, doms, refs, PROT_READ);
    CHECK(two && two[1] == 0x11 && two[4096] == 0x5a);
    CHECK(xengnttab_unmap(h, two, 2) == 0);
    two = xengnttab_map_domain_grant_refs(h, 2, granter, refs, PROT_READ);
    CHECK(two && two[4096 + 7] == 0x5a);
    CHECK(xengnttab_unmap(h, two, 2) == 0);

    /* Grant copy: into the writable page, out of the read-only one. */
    uint8_t buf[16];
    memset(buf, 0x77, sizeof(buf));
    xengnttab_grant_copy_segment_t seg[3] = {
        { .source.virt = buf, .dest.foreign = { .ref = rw_ref, .offset = 100, .domid = granter },
          .len = 16, .flags = GNTCOPY_dest_gref },
        { .source.foreign = { .ref = ro_ref, .offset = 8, .domid = granter }, .dest.virt = buf,
          .len = 4, .flags = GNTCOPY_source_gref },
        { .source.virt = buf, .dest.foreign = { .ref = ro_ref, .offset = 0, .domid = granter },
          .len = 4, .flags = GNTCOPY_dest_gref },
    };
    CHECK(xengnttab_grant_copy(h, 3, seg) == 0);
    CHECK(seg[0].status == GNTST_okay && seg[1].status == GNTST_okay);
    CHECK(buf[0] == 0x5a && buf[4] == 0x77);
    CHECK(seg[2].status != GNTST_okay);     /* no writing a read-only grant */
    seg[0].dest.foreign.offset = 4090;
    CHECK(xengnttab_grant_copy(h, 1, seg) == -1 && errno == EINVAL);
    p = xengnttab_map_grant_ref(h, granter, rw_ref, PROT_READ);
    CHECK(p && p[100] == 0x77 && p[115] == 0x77 && p[116] == 0x5a);
    CHECK(xengnttab_unmap(h, p, 1) == 0);

    uint32_t fd;
    CHECK(xengnttab_dmabuf_exp_from_refs(h, granter, 0, 1, refs, &fd) == -1 && errno == ENOTTY);
    CHECK(xengnttab_dmabuf_imp_release(h, 0) == -1 && errno == ENOTTY);
    /* A mapping left at close goes with the handle. */
    CHECK(xengnttab_map_grant_ref(h, granter, rw_ref, PROT_READ));
    CHECK(xengnttab_close(h) == 0);
    return 0;
}

static int gntshr(uint32_t peer)
{
    xengntshr_handle *h = xengntshr_open(NULL, 0);
    uint32_t refs[3], ref;
    char line[64];

    CHECK(h && xengntshr_fd(h) >= 0);
    errno = 0;
    CHECK(!xengntshr_share_pages(h, peer, 0, refs, 1) && errno == EINVAL);
    uint8_t *p = xengntshr_share_pages(h, peer, 3, refs, 1);
    CHECK(p && p[0] == 0 && p[3 * 4096 - 1] == 0);
    memset(p, 0x42, 3 * 4096);
    uint8_t *n = xengntshr_share_page_notify(h, peer, &ref, 0, 9, (evtchn_port_t)-1);
    CHECK(n);
    n[9] = 1;
    printf("refs %u %u %u %u\n", refs[0], refs[1], refs[2], ref);
    fflush(stdout);
    CHECK(fgets(line, sizeof(line), stdin));
    /* The peer wrote through its mapping of the second page. */
    CHECK(p[4096 + 3] == 0x99);
    CHECK(xengntshr_unshare(h, n, 1) == 0);
    CHECK(xengntshr_unshare(h, p, 3) == 0);
    CHECK(xengntshr_close(h) == 0);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    alarm(120);   /* a safety net for a test that would otherwise hang */
    if (argc == 3 && !strcmp(argv[1], "ctrl"))
        rc = ctrl(atoi(argv[2]), true);
    else if (argc == 2 && !strcmp(argv[1], "ctrl-unprivileged"))
        rc = ctrl(0, false);
    else if (argc == 3 && !strcmp(argv[1], "evtchn"))
        rc = evtchn((uint32_t)atoi(argv[2]));
    else if (argc == 5 && !strcmp(argv[1], "gnttab"))
        rc = gnttab((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]));
    else if (argc == 3 && !strcmp(argv[1], "gntshr"))
        rc = gntshr((uint32_t)atoi(argv[2]));
    else
        fprintf(stderr, "usage: see libprobe.c\n");
    if (!rc)
        printf("ok\n");
    return rc;
}
