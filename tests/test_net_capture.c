/*
 * netback's capture of an ARP and ping exchange, read back by tshark: the
 * frames on the wire, their checksums and tshark's expert verdict. Without
 * tshark the program is a SKIP (exit 77), and a failure when CI is set,
 * so that CI cannot pass without checking. Uses net_fixture.h.
 */
#include "config.h"

#include "net_fixture.h"

/* Runs tshark on the capture; its lines go to out. */
static void tshark_fields(const char *pcap, char *out, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "tshark -n -r %s -o ip.check_checksum:TRUE "
             "-T fields -E separator=, -e eth.src -e eth.dst -e arp.opcode "
             "-e ip.src -e ip.dst -e icmp.type -e icmp.seq -e ip.checksum.status "
             "-e icmp.checksum.status -e _ws.expert.severity 2>/dev/null", pcap);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    ck_assert_msg(st == 0, "tshark failed (%d): %s", st, out);
}

START_TEST(arp_and_ping_capture)
{
    char pcap[] = "/tmp/xensim-net-XXXXXX";
    int fd = mkstemp(pcap);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct fix f;
    fix_init(&f, pcap);
    struct guest *a = fix_guest(&f, "pinger", false, true);
    struct guest *b = fix_guest(&f, "responder", false, true);
    net_arp_and_ping(&f, a, b);
    /* netback closes the capture when it goes. */
    fix_free(&f);

    static char out[16384];
    tshark_fields(pcap, out, sizeof(out));
    unlink(pcap);
    /* who-has, is-at, then three echo request/reply pairs, checksums good
     * (status 1 is "good" in tshark 4), no expert warnings. */
    const char *want =
        "00:16:3e:00:00:01,ff:ff:ff:ff:ff:ff,1,,,,,,,\n"
        "00:16:3e:00:00:02,00:16:3e:00:00:01,2,,,,,,,\n"
        "00:16:3e:00:00:01,00:16:3e:00:00:02,,10.0.0.1,10.0.0.2,8,1,1,1,\n"
        "00:16:3e:00:00:02,00:16:3e:00:00:01,,10.0.0.2,10.0.0.1,0,1,1,1,\n"
        "00:16:3e:00:00:01,00:16:3e:00:00:02,,10.0.0.1,10.0.0.2,8,2,1,1,\n"
        "00:16:3e:00:00:02,00:16:3e:00:00:01,,10.0.0.2,10.0.0.1,0,2,1,1,\n"
        "00:16:3e:00:00:01,00:16:3e:00:00:02,,10.0.0.1,10.0.0.2,8,3,1,1,\n"
        "00:16:3e:00:00:02,00:16:3e:00:00:01,,10.0.0.2,10.0.0.1,0,3,1,1,\n";
    ck_assert_str_eq(out, want);
}
END_TEST

int main(void)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        const char *ci = getenv("CI");
        /* CI installs tshark (scripts/install-deps): missing there is a bug. */
        if (ci && *ci) {
            fprintf(stderr, "FAIL: tshark is missing and CI is set (apt-get install tshark)\n");
            return EXIT_FAILURE;
        }
        fprintf(stderr, "SKIP: tshark is missing (apt-get install tshark)\n");
        return 77;
    }
    Suite *s = suite_create("net_capture");
    TCase *tc = tcase_create("capture");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, arp_and_ping_capture);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
