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
 *   libprobe foreign DOM PFN NR_PAGES  (as dom0: DOM's frame PFN holds
 *                                    0x5a; writes 0x11 at byte 1)
 *   libprobe foreign-unprivileged DOM
 *   libprobe devicemodel DOM        (DOM exists and is not the caller)
 *   libprobe no-copy                (run with XENSIM_GNTTAB_NO_COPY=1)
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
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
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

/* A guest's frames as QEMU maps console 0's ring: by frame number. */
static int foreign(uint32_t dom, xen_pfn_t pfn, xen_pfn_t nr_pages)
{
    xenforeignmemory_handle *h = xenforeignmemory_open(NULL, 0);
    CHECK(h);
    uint8_t *p = xenforeignmemory_map(h, dom, PROT_READ | PROT_WRITE, 1, &pfn, NULL);
    CHECK(p && p[0] == 0x5a && p[4095] == 0x5a);
    p[1] = 0x11;
    CHECK(xenforeignmemory_unmap(h, p, 1) == 0);
    /* Each page answers for itself with err[]; without it, one bad
     * frame fails the call (Xen will not map a frame past the RAM). */
    xen_pfn_t two[2] = { pfn, nr_pages + 5 };
    int err[2] = { 1, 1 };
    p = xenforeignmemory_map(h, dom, PROT_READ, 2, two, err);
    CHECK(p && err[0] == 0 && err[1] == -EINVAL && p[1] == 0x11);
    CHECK(xenforeignmemory_unmap(h, p, 2) == 0);
    errno = 0;
    CHECK(!xenforeignmemory_map(h, dom, PROT_READ, 2, two, NULL) && errno == EINVAL);
    CHECK(!xenforeignmemory_map(h, 1000, PROT_READ, 1, &pfn, NULL) && errno == ESRCH);
    /* map2 at a place of the caller's choosing. */
    void *at = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(at != MAP_FAILED);
    p = xenforeignmemory_map2(h, dom, at, PROT_READ, MAP_FIXED, 1, &pfn, NULL);
    CHECK(p == at && p[1] == 0x11);
    CHECK(xenforeignmemory_unmap(h, p, 1) == 0);
    /* No resources over the socket, as a kernel without the ioctl. */
    void *addr = NULL;
    CHECK(!xenforeignmemory_map_resource(h, dom, 1, 0, 0, 1, &addr, PROT_READ, 0) &&
          errno == EOPNOTSUPP);
    size_t size;
    CHECK(xenforeignmemory_resource_size(h, dom, 1, 0, &size) == -1 && errno == EOPNOTSUPP);
    /* Restricted to another domain, this one is refused. */
    CHECK(xenforeignmemory_restrict(h, (domid_t)(dom + 1)) == 0);
    CHECK(xenforeignmemory_restrict(h, (domid_t)dom) == -1 && errno == EINVAL);
    CHECK(!xenforeignmemory_map(h, dom, PROT_READ, 1, &pfn, NULL) && errno == EPERM);
    CHECK(xenforeignmemory_close(h) == 0);
    return 0;
}

static int foreign_unprivileged(uint32_t dom)
{
    xenforeignmemory_handle *h = xenforeignmemory_open(NULL, 0);
    xen_pfn_t pfn = 0;
    CHECK(h);
    errno = 0;
    CHECK(!xenforeignmemory_map(h, dom, PROT_READ, 1, &pfn, NULL) && errno == EPERM);
    CHECK(xenforeignmemory_close(h) == 0);
    return 0;
}

/* Every simulated domain is PV: dm_op's answers. */
static int devicemodel(uint32_t dom)
{
    xendevicemodel_handle *h = xendevicemodel_open(NULL, 0);
    unsigned int vcpus;
    ioservid_t id;
    CHECK(h);
    errno = 0;
    CHECK(xendevicemodel_nr_vcpus(h, (domid_t)dom, &vcpus) == -1 && errno == EINVAL);
    CHECK(xendevicemodel_create_ioreq_server(h, (domid_t)dom, 0, &id) == -1 && errno == EINVAL);
    CHECK(xendevicemodel_shutdown(h, (domid_t)dom, 0) == -1 && errno == EINVAL);
    CHECK(xendevicemodel_set_irq_level(h, 1000, 1, 1) == -1 && errno == ESRCH);
    CHECK(xendevicemodel_set_isa_irq_level(h, 0, 1, 1) == -1 && errno == EPERM);
    CHECK(xendevicemodel_restrict(h, (domid_t)(dom + 1)) == 0);
    CHECK(xendevicemodel_inject_msi(h, (domid_t)dom, 0, 0) == -1 && errno == EPERM);
    CHECK(xendevicemodel_close(h) == 0);
    return 0;
}

/* The hook that lets QEMU's grant copy fallback be tested. */
static int no_copy(void)
{
    xengnttab_handle *h = xengnttab_open(NULL, 0);
    CHECK(h);
    errno = 0;
    CHECK(xengnttab_grant_copy(h, 0, NULL) == -1 && errno == ENOTTY);
    CHECK(xengnttab_close(h) == 0);
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
    else if (argc == 5 && !strcmp(argv[1], "foreign"))
        rc = foreign((uint32_t)atoi(argv[2]), strtoul(argv[3], NULL, 10),
                     strtoul(argv[4], NULL, 10));
    else if (argc == 3 && !strcmp(argv[1], "foreign-unprivileged"))
        rc = foreign_unprivileged((uint32_t)atoi(argv[2]));
    else if (argc == 3 && !strcmp(argv[1], "devicemodel"))
        rc = devicemodel((uint32_t)atoi(argv[2]));
    else if (argc == 2 && !strcmp(argv[1], "no-copy"))
        rc = no_copy();
    else
        fprintf(stderr, "usage: see libprobe.c\n");
    if (!rc)
        printf("ok\n");
    return rc;
}
