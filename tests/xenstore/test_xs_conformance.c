/*
 * Table-driven conformance: each row is (who, transaction, operation,
 * payload, expected reply), run in order against one daemon, covering
 * every message type and every error C xenstored gives (real-clients.md
 * §1.5, xen-semantics.md §4). Every refused row (an XS_ERROR reply) is
 * also checked to leave the daemon's state as it was (xs_state.h).
 */
#include "config.h"

#include <stdlib.h>
#include "xs_test.h"
#include "xs_state.h"

enum { EV = 1000, NOEV, BOGUS_TX = 9 };

struct row {
    int who;                 /* connection: dom0..dom3 */
    int tx;                  /* 0, a slot 1..4, or BOGUS_TX */
    uint32_t op;             /* XS_*, EV (next event is), NOEV (no event) */
    const char *p;
    size_t plen;
    uint32_t rtype;
    const char *r;           /* NULL: body not checked */
    size_t rlen;
    int save;                /* TRANSACTION_START: slot for the id */
};

#define P(s) s, sizeof(s) - 1
#define R(t, s) t, s, sizeof(s) - 1
#define OK(t) t, "OK", 3
#define ERR(e) XS_ERROR, e, sizeof(e)
#define ANY(t) t, NULL, 0
#define EVENT(w, s) { w, 0, EV, P(s), 0, NULL, 0, 0 }
#define NOEVENT(w) { w, 0, NOEV, P(""), 0, NULL, 0, 0 }
#define START(w, slot) { w, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), slot }
#define END_ROW { -1, 0, 0, NULL, 0, 0, NULL, 0, 0 }

static const struct row basic[] = {
    { 0, 0, XS_READ, P("/nonexist\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_WRITE, P("/a\0hello"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/a\0"), R(XS_READ, "hello"), 0 },
    { 0, 0, XS_WRITE, P("/a/b/c\0x"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/a/b\0"), R(XS_READ, ""), 0 },
    { 0, 0, XS_DIRECTORY, P("/a\0"), R(XS_DIRECTORY, "b\0"), 0 },
    { 0, 0, XS_DIRECTORY, P("/a/b/c\0"), R(XS_DIRECTORY, ""), 0 },
    { 0, 0, XS_DIRECTORY, P("/zz\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_MKDIR, P("/a\0"), OK(XS_MKDIR), 0 },
    { 0, 0, XS_MKDIR, P("/m/n\0"), OK(XS_MKDIR), 0 },
    { 0, 0, XS_DIRECTORY, P("/m\0"), R(XS_DIRECTORY, "n\0"), 0 },
    { 0, 0, XS_RM, P("/m/zz\0"), OK(XS_RM), 0 },
    { 0, 0, XS_RM, P("/nope/zz\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_RM, P("/\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_RM, P("/m\0"), OK(XS_RM), 0 },
    { 0, 0, XS_READ, P("/m/n\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_WRITE, P("rel\0v"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/local/domain/0/rel\0"), R(XS_READ, "v"), 0 },
    { 0, 0, XS_READ, P("rel\0"), R(XS_READ, "v"), 0 },
    { 0, 0, XS_WRITE, P("/e\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/e\0"), R(XS_READ, ""), 0 },
    { 0, 0, XS_WRITE, P("/z\0a\0b"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/z\0"), R(XS_READ, "a\0b"), 0 },
    /* Path syntax. */
    { 0, 0, XS_READ, P("bad//path\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("trail/\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("/with space\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("/a"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("/a\0/b\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_WRITE, P("/e"), ERR("EINVAL"), 0 },
    { 0, 0, XS_WRITE, P("/x*y\0v"), ERR("EINVAL"), 0 },
    { 0, 0, XS_MKDIR, P("@releaseDomain\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("/\0"), R(XS_READ, ""), 0 },
    /* Children in the order they were made (add_child() appends). */
    { 0, 0, XS_DIRECTORY, P("/\0"), R(XS_DIRECTORY, "tool\0local\0a\0e\0z\0"), 0 },
    /* Unknown and server-only types. */
    { 0, 0, 20, P("\0"), ERR("ENOSYS"), 0 },
    { 0, 0, 99, P("\0"), ERR("ENOSYS"), 0 },
    { 0, 0, XS_WATCH_EVENT, P("/a\0t\0"), ERR("ENOSYS"), 0 },
    { 0, 0, XS_ERROR, P("EINVAL\0"), ERR("ENOSYS"), 0 },
    { 0, 0, XS_INVALID, P(""), ERR("ENOSYS"), 0 },
    /* Domain paths and perms. */
    { 1, 0, XS_GET_DOMAIN_PATH, P("7\0"), R(XS_GET_DOMAIN_PATH, "/local/domain/7\0"), 0 },
    /* do_get_domain_path(): atoi(), no check. */
    { 0, 0, XS_GET_DOMAIN_PATH, P("x\0"), R(XS_GET_DOMAIN_PATH, "/local/domain/0\0"), 0 },
    { 0, 0, XS_GET_DOMAIN_PATH, P("99999\0"), R(XS_GET_DOMAIN_PATH, "/local/domain/99999\0"), 0 },
    { 0, 0, XS_GET_DOMAIN_PATH, P("-1\0"), R(XS_GET_DOMAIN_PATH, "/local/domain/4294967295\0"), 0 },
    { 0, 0, XS_GET_DOMAIN_PATH, P("7"), ERR("EINVAL"), 0 },
    { 0, 0, XS_GET_DOMAIN_PATH, P("7\0" "8\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_GET_PERMS, P("/a\0"), R(XS_GET_PERMS, "n0\0"), 0 },
    { 0, 0, XS_SET_PERMS, P("/a\0n0\0r1\0"), OK(XS_SET_PERMS), 0 },
    { 0, 0, XS_GET_PERMS, P("/a\0"), R(XS_GET_PERMS, "n0\0r1\0"), 0 },
    { 0, 0, XS_GET_PERMS, P("/a/b\0"), R(XS_GET_PERMS, "n0\0"), 0 },
    { 0, 0, XS_SET_PERMS, P("/a\0x0\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_SET_PERMS, P("/a\0r\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_SET_PERMS, P("/a\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_SET_PERMS, P("/nope\0n0\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_GET_PERMS, P("/nope\0"), ERR("ENOENT"), 0 },
    /* The special nodes are no node names (is_valid_nodename()). */
    { 0, 0, XS_GET_PERMS, P("@releaseDomain\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_SET_PERMS, P("@releaseDomain\0n0\0r1\0"), OK(XS_SET_PERMS), 0 },
    { 0, 0, XS_GET_PERMS, P("@releaseDomain\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_GET_PERMS, P("@introduceDomain\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_SET_PERMS, P("@foo\0n0\0"), ERR("EINVAL"), 0 },
    /* set_perms_special() refuses without write and owner rights on the
     * special node's list; 4.17 then answers with the last errno it set
     * ("return errno", as with a malformed one-argument payload), EACCES
     * is the error meant. */
    { 1, 0, XS_SET_PERMS, P("@releaseDomain\0n0\0"), ERR("EACCES"), 0 },
    /* Directory pages: generation, children from a byte offset, and an
     * extra NUL on the last page. */
    /* Directory pages: the node's generation (C xenstored's count of
     * writes, deletions and transaction starts since it began), the
     * children from a byte offset (atoi()), which may fall inside a
     * name, and one more NUL where the list ends. */
    { 0, 0, XS_DIRECTORY_PART, P("/a/b\0" "0\0"), R(XS_DIRECTORY_PART, "37\0c\0\0"), 0 },
    { 0, 0, XS_DIRECTORY_PART, P("/a/b\0" "1\0"), R(XS_DIRECTORY_PART, "37\0\0\0"), 0 },
    { 0, 0, XS_DIRECTORY_PART, P("/a/b\0" "x\0"), R(XS_DIRECTORY_PART, "37\0c\0\0"), 0 },
    { 0, 0, XS_DIRECTORY_PART, P("/a/b\0" "-1\0"), R(XS_DIRECTORY_PART, "37\0\0"), 0 },
    { 0, 0, XS_DIRECTORY_PART, P("/\0" "2\0"), R(XS_DIRECTORY_PART, "51\0ol\0local\0a\0e\0z\0\0"), 0 },
    { 0, 0, XS_DIRECTORY_PART, P("/a/b/c\0" "0\0"), R(XS_DIRECTORY_PART, "36\0\0"), 0 },
    { 0, 0, XS_DIRECTORY_PART, P("/a/b\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_DIRECTORY_PART, P("/a/b\0" "0\0" "0\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_DIRECTORY_PART, P("/nope\0" "0\0"), ERR("ENOENT"), 0 },
    /* Control, privileged commands. */
    { 0, 0, XS_CONTROL, P("print\0hello\0"), OK(XS_CONTROL), 0 },
    { 0, 0, XS_CONTROL, P("log\0off\0"), OK(XS_CONTROL), 0 },
    { 0, 0, XS_CONTROL, P("log\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_CONTROL, P("log\0maybe\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_CONTROL, P("bogus\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_CONTROL, P(""), ERR("EINVAL"), 0 },
    { 0, 0, XS_CONTROL, P("quota\0"), ANY(XS_CONTROL), 0 },
    { 0, 0, XS_CONTROL, P("help\0"), ANY(XS_CONTROL), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "1\0"), ANY(XS_CONTROL), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "bogus\0" "5\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "bogus\0" "5\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "path-max\0" "5\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "77\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_CONTROL, P("check\0"), OK(XS_CONTROL), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "nodes\0" "x\0"), ERR("EINVAL"), 0 },
    { 1, 0, XS_CONTROL, P("print\0x\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_INTRODUCE, P("9\0" "100\0" "5\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_RELEASE, P("2\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_IS_DOMAIN_INTRODUCED, P("1\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_RESUME, P("1\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_SET_TARGET, P("1\0" "2\0"), ERR("EACCES"), 0 },
    { 0, 0, XS_IS_DOMAIN_INTRODUCED, P("1\0"), R(XS_IS_DOMAIN_INTRODUCED, "T\0"), 0 },
    { 0, 0, XS_IS_DOMAIN_INTRODUCED, P("9\0"), R(XS_IS_DOMAIN_INTRODUCED, "F\0"), 0 },
    /* atoi(): "abc" is dom0, always introduced; DOMID_SELF is "T". */
    { 0, 0, XS_IS_DOMAIN_INTRODUCED, P("abc\0"), R(XS_IS_DOMAIN_INTRODUCED, "T\0"), 0 },
    { 0, 0, XS_IS_DOMAIN_INTRODUCED, P("32752\0"), R(XS_IS_DOMAIN_INTRODUCED, "T\0"), 0 },
    { 0, 0, XS_IS_DOMAIN_INTRODUCED, P("2x\0"), R(XS_IS_DOMAIN_INTRODUCED, "T\0"), 0 },
    { 0, 0, XS_IS_DOMAIN_INTRODUCED, P("2"), ERR("EINVAL"), 0 },
    { 0, 0, XS_INTRODUCE, P("9\0" "100\0" "5\0"), OK(XS_INTRODUCE), 0 },
    { 0, 0, XS_INTRODUCE, P("9\0" "100\0" "5\0"), OK(XS_INTRODUCE), 0 },
    { 0, 0, XS_IS_DOMAIN_INTRODUCED, P("9\0"), R(XS_IS_DOMAIN_INTRODUCED, "T\0"), 0 },
    { 0, 0, XS_RELEASE, P("9\0"), OK(XS_RELEASE), 0 },
    { 0, 0, XS_IS_DOMAIN_INTRODUCED, P("9\0"), R(XS_IS_DOMAIN_INTRODUCED, "F\0"), 0 },
    { 0, 0, XS_RELEASE, P("9\0"), ERR("ENOENT"), 0 },
    /* onearg_domain(): atoi(), and "if (!domid)" EINVAL: dom0 is never
     * released. */
    { 0, 0, XS_RELEASE, P("x\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_RELEASE, P("0\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_RELEASE, P("-1\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_RELEASE, P("9"), ERR("EINVAL"), 0 },
    { 0, 0, XS_RESUME, P("0\0"), ERR("EINVAL"), 0 },
    /* do_introduce(): atoi() too, the gfn unread; "x" is dom0 again. */
    { 0, 0, XS_INTRODUCE, P("x\0" "100\0" "5\0"), OK(XS_INTRODUCE), 0 },
    { 0, 0, XS_INTRODUCE, P("9\0" "1z\0" "5\0"), OK(XS_INTRODUCE), 0 },
    { 0, 0, XS_INTRODUCE, P("9\0" "100\0" "0\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_INTRODUCE, P("9\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_RESUME, P("1\0"), OK(XS_RESUME), 0 },
    { 0, 0, XS_RESUME, P("9\0"), OK(XS_RESUME), 0 },
    { 0, 0, XS_RESUME, P("8\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_SET_TARGET, P("3\0" "1\0"), OK(XS_SET_TARGET), 0 },
    { 0, 0, XS_SET_TARGET, P("8\0" "1\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_SET_TARGET, P("3\0" "8\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_SET_TARGET, P("3\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_SET_TARGET, P("9\0" "0\0" "x\0"), OK(XS_SET_TARGET), 0 },
    { 0, 0, XS_RELEASE, P("9x\0"), OK(XS_RELEASE), 0 },
    /* The payload of RESET_WATCHES and TRANSACTION_START is not read. */
    { 0, 0, XS_RESET_WATCHES, P("\0"), OK(XS_RESET_WATCHES), 0 },
    { 0, 0, XS_RESET_WATCHES, P("abc"), OK(XS_RESET_WATCHES), 0 },
    { 0, 0, XS_TRANSACTION_START, P("xyz"), R(XS_TRANSACTION_START, "1\0"), 1 },
    { 0, 1, XS_TRANSACTION_END, P("F\0"), OK(XS_TRANSACTION_END), 0 },
    /* Values are bytes: do_write() takes "in->used - offset" of them,
     * NULs and all, and do_read() sends them back as they are. */
    { 0, 0, XS_WRITE, P("/bin\0\0bin\xff"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/bin\0"), R(XS_READ, "\0bin\xff"), 0 },
    { 0, 0, XS_WRITE, P("/bin\0a\0b\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/bin\0"), R(XS_READ, "a\0b\0"), 0 },
    { 0, 0, XS_WRITE, P("/bin\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/bin\0"), R(XS_READ, ""), 0 },
    /* A one-argument payload that is not one NUL-terminated string: C
     * answers the last errno it set (a 4.17 quirk, see one_path() in
     * xs_proto.c); EINVAL here. The row before each sets EINVAL in C
     * too, so the two daemons agree. */
    { 0, 0, XS_READ, P("bad path\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("/bin\0x\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("bad path\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_DIRECTORY, P(""), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("bad path\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_GET_PERMS, P("/bin"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("bad path\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_MKDIR, P("/m2\0x\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_READ, P("bad path\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_RM, P("/bin"), ERR("EINVAL"), 0 },
    /* An unknown transaction is ENOENT before the payload is looked at,
     * for every type but WATCH and UNWATCH (XS_FLAG_NOTID). */
    { 0, BOGUS_TX, XS_READ, P("/bin"), ERR("ENOENT"), 0 },
    { 0, BOGUS_TX, XS_GET_DOMAIN_PATH, P("1\0"), ERR("ENOENT"), 0 },
    { 0, BOGUS_TX, XS_RESET_WATCHES, P(""), ERR("ENOENT"), 0 },
    { 0, BOGUS_TX, XS_INTRODUCE, P("9\0" "1\0" "5\0"), ERR("ENOENT"), 0 },
    { 0, BOGUS_TX, XS_IS_DOMAIN_INTRODUCED, P("1\0"), ERR("ENOENT"), 0 },
    { 0, BOGUS_TX, XS_CONTROL, P("print\0x\0"), ERR("ENOENT"), 0 },
    { 0, BOGUS_TX, XS_UNWATCH, P("/none\0t\0"), ERR("ENOENT"), 0 },
    { 1, BOGUS_TX, XS_RELEASE, P("2\0"), ERR("EACCES"), 0 },
    { 0, BOGUS_TX, 99, P(""), ERR("ENOSYS"), 0 },
    /* Permission entries as xs_strings_to_perms() reads them: strtol(,
     * 0), printed "%i". Entries for no domain are kept and shown. */
    { 0, 0, XS_SET_PERMS, P("/bin\0n0x0\0r010\0w-1\0b99999\0"), OK(XS_SET_PERMS), 0 },
    { 0, 0, XS_GET_PERMS, P("/bin\0"), R(XS_GET_PERMS, "n0\0r8\0w-1\0b99999\0"), 0 },
    { 0, 0, XS_SET_PERMS, P("/bin\0n\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_SET_PERMS, P("/bin\0n1 \0"), ERR("EINVAL"), 0 },
    /* domain_alloc_permrefs(): an owner no domain has is ENOENT (ids
     * from DOMID_FIRST_RESERVED up are never domains; the stub 4.17 runs
     * on in the differential knows no domains, so it says OK there). */
    { 0, 0, XS_SET_PERMS, P("/bin\0n32752\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_SET_PERMS, P("/bin\0n0\0junk"), OK(XS_SET_PERMS), 0 },
    { 0, 0, XS_GET_PERMS, P("/bin\0"), R(XS_GET_PERMS, "n0\0"), 0 },
    /* The entries are read before the path: bad both ways is EINVAL
     * from the entries, and a bad path with good ones EINVAL too. */
    { 0, 0, XS_SET_PERMS, P("bad path\0x\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_SET_PERMS, P("bad path\0n0\0"), ERR("EINVAL"), 0 },
    END_ROW,
};

static const struct row perms[] = {
    { 0, 0, XS_WRITE, P("/local/domain/1/data\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/data\0n1\0"), OK(XS_SET_PERMS), 0 },
    { 1, 0, XS_WRITE, P("data/x\0" "1"), OK(XS_WRITE), 0 },
    { 1, 0, XS_GET_PERMS, P("data/x\0"), R(XS_GET_PERMS, "n1\0"), 0 },
    { 1, 0, XS_READ, P("name\0"), R(XS_READ, "dom1"), 0 },
    { 1, 0, XS_READ, P("data/nope\0"), ERR("ENOENT"), 0 },
    { 2, 0, XS_READ, P("/local/domain/1/data/x\0"), ERR("EACCES"), 0 },
    { 2, 0, XS_READ, P("/local/domain/1/data/nope\0"), ERR("EACCES"), 0 },
    { 2, 0, XS_DIRECTORY, P("/local/domain/1/data\0"), ERR("EACCES"), 0 },
    { 2, 0, XS_GET_PERMS, P("/local/domain/1/data\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_WRITE, P("/local/domain/1/name\0evil"), ERR("EACCES"), 0 },
    { 1, 0, XS_RM, P("/local/domain/1/name\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_MKDIR, P("/local/domain/1\0"), ERR("EACCES"), 0 },
    { 2, 0, XS_MKDIR, P("/local/domain/1\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_WRITE, P("/foo\0x"), ERR("EACCES"), 0 },
    { 1, 0, XS_READ, P("/foo\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_RM, P("/foo/bar\0"), ERR("EACCES"), 0 },
    /* XSA-115: a guest cannot give a node away. */
    { 1, 0, XS_SET_PERMS, P("data/x\0n2\0"), ERR("EPERM"), 0 },
    { 1, 0, XS_SET_PERMS, P("data/x\0n1\0r2\0"), OK(XS_SET_PERMS), 0 },
    { 2, 0, XS_READ, P("/local/domain/1/data/x\0"), R(XS_READ, "1"), 0 },
    { 2, 0, XS_WRITE, P("/local/domain/1/data/x\0" "2"), ERR("EACCES"), 0 },
    { 1, 0, XS_SET_PERMS, P("data/x\0n1\0b2\0"), OK(XS_SET_PERMS), 0 },
    { 2, 0, XS_WRITE, P("/local/domain/1/data/x\0" "2"), OK(XS_WRITE), 0 },
    { 2, 0, XS_GET_PERMS, P("/local/domain/1/data/x\0"), R(XS_GET_PERMS, "n1\0b2\0"), 0 },
    { 2, 0, XS_SET_PERMS, P("/local/domain/1/data/x\0n2\0"), ERR("EACCES"), 0 },
    { 2, 0, XS_WRITE, P("/local/domain/1/data/x/y\0k"), OK(XS_WRITE), 0 },
    { 0, 0, XS_GET_PERMS, P("/local/domain/1/data/x/y\0"), R(XS_GET_PERMS, "n2\0b2\0"), 0 },
    { 1, 0, XS_SET_PERMS, P("data/x\0n1\0r2\0r3\0r4\0r5\0r6\0"), ERR("ENOSPC"), 0 },
    { 1, 0, XS_RM, P("data/x\0"), OK(XS_RM), 0 },
    { 0, 0, XS_READ, P("/local/domain/1/data/x/y\0"), ERR("ENOENT"), 0 },
    /* dom0 may change owners. */
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/data\0n2\0r1\0"), OK(XS_SET_PERMS), 0 },
    { 2, 0, XS_WRITE, P("/local/domain/1/data/d2\0" "2"), OK(XS_WRITE), 0 },
    { 1, 0, XS_WRITE, P("data/d1\0" "1"), ERR("EACCES"), 0 },
    /* SET_TARGET: dom3 acts with dom1's rights. */
    { 0, 0, XS_WRITE, P("/t\0v"), OK(XS_WRITE), 0 },
    { 0, 0, XS_SET_PERMS, P("/t\0n1\0"), OK(XS_SET_PERMS), 0 },
    { 3, 0, XS_READ, P("/t\0"), ERR("EACCES"), 0 },
    { 1, 0, XS_READ, P("/t\0"), R(XS_READ, "v"), 0 },
    { 0, 0, XS_SET_TARGET, P("3\0" "1\0"), OK(XS_SET_TARGET), 0 },
    { 3, 0, XS_READ, P("/t\0"), R(XS_READ, "v"), 0 },
    { 3, 0, XS_WRITE, P("/t\0w"), OK(XS_WRITE), 0 },
    { 3, 0, XS_SET_PERMS, P("/t\0n1\0r2\0"), OK(XS_SET_PERMS), 0 },
    { 2, 0, XS_READ, P("/t\0"), R(XS_READ, "w"), 0 },
    END_ROW,
};

static const struct row watches[] = {
    { 0, 0, XS_WATCH, P("/w\0tok\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/w\0tok\0"),
    NOEVENT(0),
    { 0, 0, XS_WATCH, P("/w\0tok\0"), ERR("EEXIST"), 0 },
    { 0, 0, XS_WATCH, P("/w\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_WATCH, P("/w\0tok\0" "1\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_WATCH, P("bad//w\0t\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_WRITE, P("/w/x\0" "1"), OK(XS_WRITE), 0 },
    EVENT(0, "/w/x\0tok\0"),
    NOEVENT(0),
    { 0, 0, XS_WRITE, P("/other\0" "1"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/ww\0" "1"), OK(XS_WRITE), 0 },
    NOEVENT(0),
    { 0, 0, XS_MKDIR, P("/w/x\0"), OK(XS_MKDIR), 0 },
    NOEVENT(0),
    { 0, 0, XS_SET_PERMS, P("/w/x\0n0\0"), OK(XS_SET_PERMS), 0 },
    EVENT(0, "/w/x\0tok\0"),
    { 0, 0, XS_RM, P("/w\0"), OK(XS_RM), 0 },
    EVENT(0, "/w\0tok\0"),
    NOEVENT(0),
    /* A watch below a removed subtree fires with its own path. */
    { 0, 0, XS_WATCH, P("/w/deep/er\0t2\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/w/deep/er\0t2\0"),
    { 0, 0, XS_WRITE, P("/w/deep/er/x\0" "1"), OK(XS_WRITE), 0 },
    EVENT(0, "/w/deep/er/x\0tok\0"),
    EVENT(0, "/w/deep/er/x\0t2\0"),
    { 0, 0, XS_RM, P("/w\0"), OK(XS_RM), 0 },
    EVENT(0, "/w/deep/er\0t2\0"),              /* deepest first, as C's walk */
    EVENT(0, "/w\0tok\0"),
    /* Relative watches report relative paths. */
    { 0, 0, XS_WATCH, P("relw\0r\0"), OK(XS_WATCH), 0 },
    EVENT(0, "relw\0r\0"),
    { 0, 0, XS_WRITE, P("relw/q\0" "1"), OK(XS_WRITE), 0 },
    EVENT(0, "relw/q\0r\0"),
    { 0, 0, XS_WRITE, P("/local/domain/0/relw\0" "1"), OK(XS_WRITE), 0 },
    EVENT(0, "relw\0r\0"),
    /* Empty tokens, unwatch. */
    { 0, 0, XS_WATCH, P("/e\0\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/e\0\0"),
    { 0, 0, XS_UNWATCH, P("/e\0\0"), OK(XS_UNWATCH), 0 },
    { 0, 0, XS_UNWATCH, P("/e\0\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_UNWATCH, P("/e\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_UNWATCH, P("/w\0tok\0"), OK(XS_UNWATCH), 0 },
    { 0, 0, XS_UNWATCH, P("/w/deep/er\0t2\0"), OK(XS_UNWATCH), 0 },
    { 0, 0, XS_WRITE, P("/w\0" "1"), OK(XS_WRITE), 0 },
    NOEVENT(0),
    /* Special watches. */
    { 0, 0, XS_WATCH, P("@introduceDomain\0i\0"), OK(XS_WATCH), 0 },
    EVENT(0, "@introduceDomain\0i\0"),
    { 0, 0, XS_WATCH, P("@releaseDomain\0r\0"), OK(XS_WATCH), 0 },
    EVENT(0, "@releaseDomain\0r\0"),
    /* do_watch() takes any "@name"; only the two specials ever fire. */
    { 0, 0, XS_WATCH, P("@bogus\0x\0"), OK(XS_WATCH), 0 },
    EVENT(0, "@bogus\0x\0"),
    { 0, 0, XS_INTRODUCE, P("9\0" "100\0" "5\0"), OK(XS_INTRODUCE), 0 },
    EVENT(0, "@introduceDomain\0i\0"),
    NOEVENT(0),
    { 0, 0, XS_RELEASE, P("9\0"), OK(XS_RELEASE), 0 },
    EVENT(0, "@releaseDomain\0r\0"),
    NOEVENT(0),
    { 1, 0, XS_WATCH, P("@releaseDomain\0r1\0"), OK(XS_WATCH), 0 },
    EVENT(1, "@releaseDomain\0r1\0"),
    { 0, 0, XS_INTRODUCE, P("9\0" "100\0" "5\0"), OK(XS_INTRODUCE), 0 },
    EVENT(0, "@introduceDomain\0i\0"),
    { 0, 0, XS_RELEASE, P("9\0"), OK(XS_RELEASE), 0 },
    EVENT(0, "@releaseDomain\0r\0"),
    NOEVENT(0),
    NOEVENT(1),
    /* ...unless given read access on the special node. */
    { 0, 0, XS_SET_PERMS, P("@releaseDomain\0n0\0r1\0"), OK(XS_SET_PERMS), 0 },
    { 1, 0, XS_GET_PERMS, P("@releaseDomain\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_INTRODUCE, P("9\0" "100\0" "5\0"), OK(XS_INTRODUCE), 0 },
    EVENT(0, "@introduceDomain\0i\0"),
    { 0, 0, XS_RELEASE, P("9\0"), OK(XS_RELEASE), 0 },
    EVENT(0, "@releaseDomain\0r\0"),
    EVENT(1, "@releaseDomain\0r1\0"),
    NOEVENT(2),
    { 0, 0, XS_UNWATCH, P("@introduceDomain\0i\0"), OK(XS_UNWATCH), 0 },
    { 0, 0, XS_UNWATCH, P("@releaseDomain\0r\0"), OK(XS_UNWATCH), 0 },
    /* Only connections with watches get events, and only for nodes they
     * may read, or whose parent they may read, or could read before the
     * change (C xenstored's watch_permitted()). */
    NOEVENT(2),
    { 1, 0, XS_WATCH, P("/local/domain/1\0h\0"), OK(XS_WATCH), 0 },
    EVENT(1, "/local/domain/1\0h\0"),
    { 0, 0, XS_WRITE, P("/local/domain/1/priv\0" "1"), OK(XS_WRITE), 0 },
    EVENT(1, "/local/domain/1/priv\0h\0"),
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/priv\0n0\0"), OK(XS_SET_PERMS), 0 },
    EVENT(1, "/local/domain/1/priv\0h\0"),      /* it could read it before */
    { 0, 0, XS_WRITE, P("/local/domain/1/priv\0" "2"), OK(XS_WRITE), 0 },
    EVENT(1, "/local/domain/1/priv\0h\0"),      /* it may read the parent */
    { 0, 0, XS_WRITE, P("/local/domain/1/hid\0"), OK(XS_WRITE), 0 },
    EVENT(1, "/local/domain/1/hid\0h\0"),
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/hid\0n0\0"), OK(XS_SET_PERMS), 0 },
    EVENT(1, "/local/domain/1/hid\0h\0"),
    { 0, 0, XS_WRITE, P("/local/domain/1/hid/den\0" "1"), OK(XS_WRITE), 0 },
    NOEVENT(1),                                 /* neither node nor parent */
    { 0, 0, XS_WRITE, P("/local/domain/1/hid/den\0" "2"), OK(XS_WRITE), 0 },
    NOEVENT(1),
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/hid/den\0n0\0r1\0"), OK(XS_SET_PERMS), 0 },
    EVENT(1, "/local/domain/1/hid/den\0h\0"),
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/hid/den\0n0\0"), OK(XS_SET_PERMS), 0 },
    EVENT(1, "/local/domain/1/hid/den\0h\0"),
    { 0, 0, XS_RM, P("/local/domain/1/hid/den\0"), OK(XS_RM), 0 },
    NOEVENT(1),
    { 0, 0, XS_WRITE, P("/local/domain/1/hid/den\0" "3"), OK(XS_WRITE), 0 },
    NOEVENT(1),
    { 0, 0, XS_RM, P("/local/domain/1/hid\0"), OK(XS_RM), 0 },
    EVENT(1, "/local/domain/1/hid\0h\0"),
    /* A transaction's are decided at commit: from the committed node and
     * parent, and the node's permissions when first seen; a node it
     * removed only by the latter. */
    { 0, 0, XS_WRITE, P("/local/domain/1/hid\0"), OK(XS_WRITE), 0 },
    EVENT(1, "/local/domain/1/hid\0h\0"),
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/hid\0n0\0"), OK(XS_SET_PERMS), 0 },
    EVENT(1, "/local/domain/1/hid\0h\0"),
    { 0, 0, XS_WRITE, P("/local/domain/1/hid/k\0" "1"), OK(XS_WRITE), 0 },
    NOEVENT(1),
    START(0, 1),
    { 0, 1, XS_WRITE, P("/local/domain/1/hid/k\0" "2"), OK(XS_WRITE), 0 },
    { 0, 1, XS_SET_PERMS, P("/local/domain/1/hid/k\0n0\0r1\0"), OK(XS_SET_PERMS), 0 },
    { 0, 1, XS_SET_PERMS, P("/local/domain/1/hid/k\0n0\0"), OK(XS_SET_PERMS), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    NOEVENT(1),
    START(0, 1),
    { 0, 1, XS_SET_PERMS, P("/local/domain/1/hid/k\0n0\0r1\0"), OK(XS_SET_PERMS), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    EVENT(1, "/local/domain/1/hid/k\0h\0"),
    NOEVENT(1),                                 /* one per node */
    START(0, 1),
    { 0, 1, XS_RM, P("/local/domain/1/hid\0"), OK(XS_RM), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    NOEVENT(1),
    /* Transactions: events at commit only, none on abort. */
    { 0, 0, XS_WATCH, P("/tx\0t\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/tx\0t\0"),
    START(0, 1),
    { 0, 1, XS_WRITE, P("/tx/a\0" "1"), OK(XS_WRITE), 0 },
    NOEVENT(0),
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    EVENT(0, "/tx/a\0t\0"),
    START(0, 2),
    { 0, 2, XS_WRITE, P("/tx/b\0" "1"), OK(XS_WRITE), 0 },
    { 0, 2, XS_TRANSACTION_END, P("F\0"), OK(XS_TRANSACTION_END), 0 },
    NOEVENT(0),
    { 0, 0, XS_WATCH, P("/tx\0t2\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/tx\0t2\0"),
    { 0, BOGUS_TX, XS_WATCH, P("/tx\0t3\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/tx\0t3\0"),
    { 0, 0, XS_RESET_WATCHES, P("\0"), OK(XS_RESET_WATCHES), 0 },
    { 0, 0, XS_WRITE, P("/tx/c\0" "1"), OK(XS_WRITE), 0 },
    NOEVENT(0),
    /* One event per watch per change: send_event() drops an event
     * identical (path and token) to one still queued on the connection,
     * so two watches with one token matching one change give one. */
    { 0, 0, XS_WATCH, P("/dd\0t\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/dd\0t\0"),
    { 0, 0, XS_WATCH, P("/dd/x\0t\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/dd/x\0t\0"),
    { 0, 0, XS_WRITE, P("/dd/x\0" "1"), OK(XS_WRITE), 0 },
    EVENT(0, "/dd/x\0t\0"),
    NOEVENT(0),
    { 0, 0, XS_SET_PERMS, P("/dd/x\0n0\0"), OK(XS_SET_PERMS), 0 },
    EVENT(0, "/dd/x\0t\0"),
    NOEVENT(0),
    { 0, 0, XS_WATCH, P("/dd/x\0u\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/dd/x\0u\0"),
    { 0, 0, XS_WRITE, P("/dd/x\0" "2"), OK(XS_WRITE), 0 },
    EVENT(0, "/dd/x\0t\0"),
    EVENT(0, "/dd/x\0u\0"),
    NOEVENT(0),
    /* MKDIR of a node that exists writes nothing, so fires nothing. */
    { 0, 0, XS_MKDIR, P("/dd/x\0"), OK(XS_MKDIR), 0 },
    { 0, 0, XS_MKDIR, P("/\0"), OK(XS_MKDIR), 0 },
    { 0, 0, XS_RM, P("/dd/nope\0"), OK(XS_RM), 0 },
    NOEVENT(0),
    /* do_unwatch() only canonicalizes: no such watch is ENOENT, whatever
     * the path; a relative path is the home's. Bytes after the second
     * NUL are no string. */
    { 0, 0, XS_UNWATCH, P("a/\0t\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_UNWATCH, P("x y\0t\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_UNWATCH, P("/nope\0t\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_UNWATCH, P("\0t\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_UNWATCH, P("dd\0t\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_UNWATCH, P("/dd\0t"), ERR("EINVAL"), 0 },
    { 0, 0, XS_UNWATCH, P("/dd\0t\0" "x"), OK(XS_UNWATCH), 0 },
    { 0, 0, XS_UNWATCH, P("/dd/x\0t\0"), OK(XS_UNWATCH), 0 },
    { 0, 0, XS_UNWATCH, P("/dd/x\0u\0"), OK(XS_UNWATCH), 0 },
    { 0, 0, XS_WATCH, P("/dd\0t\0" "x"), OK(XS_WATCH), 0 },
    EVENT(0, "/dd\0t\0"),
    { 0, 0, XS_WATCH, P("/dd\0t"), ERR("EINVAL"), 0 },
    { 0, 0, XS_UNWATCH, P("/dd\0t\0"), OK(XS_UNWATCH), 0 },
    /* RM: children before parents, in list order (delnode_sub() runs
     * as the walk leaves each node); each removed node below the one
     * named fires only the watches on its own path ("watch_exact =
     * strcmp(root, node->name)"), the one named those on it and above,
     * and a path that is not there nothing. */
    { 0, 0, XS_WRITE, P("/r/b/x\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/r/b/y\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/r/c\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WATCH, P("/r\0T\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/r\0T\0"),
    { 0, 0, XS_WATCH, P("/r/b/x\0X\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/r/b/x\0X\0"),
    { 0, 0, XS_WATCH, P("/r/c\0C\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/r/c\0C\0"),
    { 0, 0, XS_WATCH, P("/\0ROOT\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/\0ROOT\0"),
    { 0, 0, XS_WATCH, P("/r/b/nonexist\0N\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/r/b/nonexist\0N\0"),
    { 0, 0, XS_RM, P("/r\0"), OK(XS_RM), 0 },
    EVENT(0, "/r/b/x\0X\0"),
    EVENT(0, "/r/c\0C\0"),
    EVENT(0, "/r\0T\0"),
    EVENT(0, "/r\0ROOT\0"),
    NOEVENT(0),
    /* A transaction fires once per node it changed, at commit, in the
     * order it first touched them (finalize_transaction() walks the
     * accessed list): a read counts, a MKDIR of a node that exists
     * fires nothing, and removed nodes below the one named fire
     * exactly. */
    { 0, 0, XS_WRITE, P("/t2/c\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/t2/b\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/t2/a/deep/x\0"), OK(XS_WRITE), 0 },
    EVENT(0, "/t2/c\0ROOT\0"),
    EVENT(0, "/t2/b\0ROOT\0"),
    EVENT(0, "/t2/a/deep/x\0ROOT\0"),
    { 0, 0, XS_WATCH, P("/t2/b\0B\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/t2/b\0B\0"),
    { 0, 0, XS_WATCH, P("/t2/a/deep\0D\0"), OK(XS_WATCH), 0 },
    EVENT(0, "/t2/a/deep\0D\0"),
    START(0, 1),
    { 0, 1, XS_READ, P("/t2/c\0"), R(XS_READ, ""), 0 },
    { 0, 1, XS_WRITE, P("/t2/b\0" "1"), OK(XS_WRITE), 0 },
    { 0, 1, XS_WRITE, P("/t2/b\0" "2"), OK(XS_WRITE), 0 },
    { 0, 1, XS_RM, P("/t2/a\0"), OK(XS_RM), 0 },
    { 0, 1, XS_WRITE, P("/t2/new/n\0"), OK(XS_WRITE), 0 },
    { 0, 1, XS_SET_PERMS, P("/t2/c\0n0\0"), OK(XS_SET_PERMS), 0 },
    { 0, 1, XS_MKDIR, P("/t2/c\0"), OK(XS_MKDIR), 0 },
    NOEVENT(0),
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    EVENT(0, "/t2/c\0ROOT\0"),
    EVENT(0, "/t2/b\0ROOT\0"),
    EVENT(0, "/t2/b\0B\0"),
    EVENT(0, "/t2/a\0ROOT\0"),
    EVENT(0, "/t2/a/deep\0D\0"),
    EVENT(0, "/t2/new/n\0ROOT\0"),
    NOEVENT(0),
    /* A node made and removed in one transaction: no event at all (it
     * is gone at commit and had no permissions when first seen). */
    START(0, 1),
    { 0, 1, XS_WRITE, P("/t2/tmp\0"), OK(XS_WRITE), 0 },
    { 0, 1, XS_RM, P("/t2/tmp\0"), OK(XS_RM), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    NOEVENT(0),
    /* A failed commit fires nothing. */
    START(0, 1),
    { 0, 1, XS_WRITE, P("/t2/b\0" "3"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/t2/b\0" "4"), OK(XS_WRITE), 0 },
    EVENT(0, "/t2/b\0ROOT\0"),
    EVENT(0, "/t2/b\0B\0"),
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    NOEVENT(0),
    /* Events queued by a request come before its reply, the initial
     * event of WATCH after its: both checked by the order of rows. */
    { 0, 0, XS_RESET_WATCHES, P(""), OK(XS_RESET_WATCHES), 0 },
    END_ROW,
};

static const struct row transactions[] = {
    { 0, 0, XS_WRITE, P("/tx\0"), OK(XS_WRITE), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/tx/a\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_WRITE, P("/tx/a\0" "1"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 1, XS_READ, P("/tx/a\0"), ERR("ENOENT"), 0 },
    /* Isolation of uncommitted writes. */
    START(0, 1),
    { 0, 1, XS_WRITE, P("/tx/b\0x"), OK(XS_WRITE), 0 },
    { 0, 0, XS_READ, P("/tx/b\0"), ERR("ENOENT"), 0 },
    { 0, 1, XS_READ, P("/tx/b\0"), R(XS_READ, "x"), 0 },
    { 0, 1, XS_DIRECTORY, P("/tx\0"), R(XS_DIRECTORY, "a\0b\0"), 0 },
    { 0, 0, XS_DIRECTORY, P("/tx\0"), R(XS_DIRECTORY, "a\0"), 0 },
    { 0, 1, XS_GET_PERMS, P("/tx/b\0"), R(XS_GET_PERMS, "n0\0"), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    { 0, 0, XS_READ, P("/tx/b\0"), R(XS_READ, "x"), 0 },
    /* test-xenstore's "ta err": snapshot read, conflict at commit. */
    START(0, 1),
    { 0, 1, XS_READ, P("/tx/a\0"), R(XS_READ, "1"), 0 },
    { 0, 0, XS_WRITE, P("/tx/a\0" "2"), OK(XS_WRITE), 0 },
    { 0, 1, XS_READ, P("/tx/a\0"), R(XS_READ, "1"), 0 },
    { 0, 1, XS_WRITE, P("/tx/a\0" "3"), OK(XS_WRITE), 0 },
    { 0, 1, XS_READ, P("/tx/a\0"), R(XS_READ, "3"), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/tx/a\0"), R(XS_READ, "2"), 0 },
    /* A node only written conflicts too: C xenstored reads a node before
     * writing it (get_node), and every first access is checked. */
    START(0, 1),
    { 0, 1, XS_WRITE, P("/tx/a\0" "4"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/tx/a\0" "5"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/tx/a\0"), R(XS_READ, "5"), 0 },
    /* A write to a node the transaction never touched: no conflict. */
    START(0, 1),
    { 0, 1, XS_WRITE, P("/tx/a\0" "4"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/u\0" "1"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    { 0, 0, XS_READ, P("/tx/a\0"), R(XS_READ, "4"), 0 },
    /* A change to a node the transaction did not read: no conflict. */
    START(0, 1),
    { 0, 1, XS_READ, P("/tx/a\0"), R(XS_READ, "4"), 0 },
    { 0, 0, XS_WRITE, P("/tx/b\0z"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    /* Removal and re-creation inside one transaction. */
    START(0, 1),
    { 0, 1, XS_RM, P("/tx\0"), OK(XS_RM), 0 },
    { 0, 1, XS_READ, P("/tx/a\0"), ERR("ENOENT"), 0 },
    { 0, 1, XS_RM, P("/tx/a\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_READ, P("/tx/a\0"), R(XS_READ, "4"), 0 },
    { 0, 1, XS_WRITE, P("/tx/new\0n"), OK(XS_WRITE), 0 },
    { 0, 1, XS_DIRECTORY, P("/tx\0"), R(XS_DIRECTORY, "new\0"), 0 },
    { 0, 1, XS_MKDIR, P("/tx/dir\0"), OK(XS_MKDIR), 0 },
    { 0, 1, XS_SET_PERMS, P("/tx/dir\0n0\0r2\0"), OK(XS_SET_PERMS), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    { 0, 0, XS_DIRECTORY, P("/tx\0"), R(XS_DIRECTORY, "new\0dir\0"), 0 },
    { 0, 0, XS_GET_PERMS, P("/tx/dir\0"), R(XS_GET_PERMS, "n0\0r2\0"), 0 },
    /* A parent removed under a transaction that creates below it. */
    START(0, 1),
    { 0, 1, XS_WRITE, P("/tx/dir/k\0" "1"), OK(XS_WRITE), 0 },
    { 0, 0, XS_RM, P("/tx\0"), OK(XS_RM), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/tx/dir/k\0"), ERR("ENOENT"), 0 },
    /* A node read, then deleted by another connection: conflict (C
     * xenstored compares with NO_GENERATION for a node now missing). */
    { 0, 0, XS_WRITE, P("/d/a\0" "1"), OK(XS_WRITE), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/d/a\0"), R(XS_READ, "1"), 0 },
    { 0, 0, XS_RM, P("/d/a\0"), OK(XS_RM), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/d/a\0"), ERR("ENOENT"), 0 },
    /* ...deleted with its parent... */
    { 0, 0, XS_WRITE, P("/d/p/k\0" "1"), OK(XS_WRITE), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/d/p/k\0"), R(XS_READ, "1"), 0 },
    { 0, 0, XS_RM, P("/d/p\0"), OK(XS_RM), 0 },
    { 0, 1, XS_WRITE, P("/d/b\0" "1"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/d/b\0"), ERR("ENOENT"), 0 },
    /* ...deleted after the transaction wrote it again. */
    { 0, 0, XS_WRITE, P("/d/a\0" "1"), OK(XS_WRITE), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/d/a\0"), R(XS_READ, "1"), 0 },
    { 0, 0, XS_RM, P("/d/a\0"), OK(XS_RM), 0 },
    { 0, 1, XS_WRITE, P("/d/a\0" "2"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/d/a\0"), ERR("ENOENT"), 0 },
    /* A node read and changed elsewhere, then removed by the transaction:
     * the removal does not forget the read. */
    { 0, 0, XS_WRITE, P("/d/a\0" "1"), OK(XS_WRITE), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/d/a\0"), R(XS_READ, "1"), 0 },
    { 0, 0, XS_WRITE, P("/d/a\0" "2"), OK(XS_WRITE), 0 },
    { 0, 1, XS_RM, P("/d/a\0"), OK(XS_RM), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/d/a\0"), R(XS_READ, "2"), 0 },
    /* ...nor does removing its parent. */
    { 0, 0, XS_WRITE, P("/d/p/k\0" "1"), OK(XS_WRITE), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/d/p/k\0"), R(XS_READ, "1"), 0 },
    { 0, 1, XS_RM, P("/d/p\0"), OK(XS_RM), 0 },
    { 0, 0, XS_WRITE, P("/d/p/k\0" "2"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/d/p/k\0"), R(XS_READ, "2"), 0 },
    /* A node read as missing, then made elsewhere, then written by the
     * transaction: conflict, the other write is not lost. */
    START(0, 1),
    { 0, 1, XS_READ, P("/d/n\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_WRITE, P("/d/n\0" "x"), OK(XS_WRITE), 0 },
    { 0, 1, XS_WRITE, P("/d/n\0" "y"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/d/n\0"), R(XS_READ, "x"), 0 },
    /* Removing a node changed elsewhere meanwhile: conflict. */
    START(0, 1),
    { 0, 1, XS_RM, P("/d/n\0"), OK(XS_RM), 0 },
    { 0, 0, XS_WRITE, P("/d/n\0" "z"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/d/n\0"), R(XS_READ, "z"), 0 },
    /* Creating a child while another connection adds a sibling: the
     * parent's child list changed, conflict. */
    START(0, 1),
    { 0, 1, XS_WRITE, P("/d/c1\0" "1"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/d/c2\0" "2"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    { 0, 0, XS_READ, P("/d/c1\0"), ERR("ENOENT"), 0 },
    /* Ids. */
    { 0, BOGUS_TX, XS_READ, P("/a\0"), ERR("ENOENT"), 0 },
    { 0, BOGUS_TX, XS_TRANSACTION_END, P("T\0"), ERR("ENOENT"), 0 },
    { 0, BOGUS_TX, XS_TRANSACTION_START, P("\0"), ERR("ENOENT"), 0 },
    { 0, 0, XS_TRANSACTION_END, P("T\0"), ERR("ENOENT"), 0 },
    START(0, 1),
    { 0, 1, XS_TRANSACTION_START, P("\0"), ERR("EBUSY"), 0 },
    { 0, 1, XS_TRANSACTION_END, P("X\0"), ERR("EINVAL"), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T"), ERR("EINVAL"), 0 },
    { 1, 1, XS_READ, P("/a\0"), ERR("ENOENT"), 0 },
    { 0, 1, XS_TRANSACTION_END, P("F\0"), OK(XS_TRANSACTION_END), 0 },
    { 0, 1, XS_READ, P("/a\0"), ERR("ENOENT"), 0 },
    /* RESET_WATCHES drops transactions too. */
    START(0, 2),
    { 0, 0, XS_RESET_WATCHES, P("\0"), OK(XS_RESET_WATCHES), 0 },
    { 0, 2, XS_READ, P("/\0"), ERR("ENOENT"), 0 },
    /* Guests in transactions. */
    START(1, 3),
    { 1, 3, XS_WRITE, P("tw\0" "1"), ERR("EACCES"), 0 },
    { 1, 3, XS_READ, P("domid\0"), R(XS_READ, "1"), 0 },
    { 1, 3, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    /* do_transaction_end() checks its argument before the transaction. */
    { 0, 0, XS_TRANSACTION_END, P("X\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_TRANSACTION_END, P("T\0x\0"), ERR("EINVAL"), 0 },
    { 0, 0, XS_TRANSACTION_END, P("F\0"), ERR("ENOENT"), 0 },
    /* What does not conflict: a change to a node the transaction did
     * not touch (a new sibling changes the parent, which a READ does not
     * touch), a MKDIR or RM that changes nothing, another transaction
     * that has not committed. */
    { 0, 0, XS_WRITE, P("/par/ch\0" "1"), OK(XS_WRITE), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/par/ch\0"), R(XS_READ, "1"), 0 },
    { 0, 0, XS_WRITE, P("/par/other\0"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    START(0, 1),
    { 0, 1, XS_DIRECTORY, P("/par\0"), R(XS_DIRECTORY, "ch\0other\0"), 0 },
    { 0, 0, XS_WRITE, P("/par/ch\0" "2"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    START(0, 1),
    { 0, 1, XS_WRITE, P("/par/ch\0" "3"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/par/x2\0"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/par/ch\0"), R(XS_READ, "3"), 0 },
    { 0, 0, XS_MKDIR, P("/par/ch\0"), OK(XS_MKDIR), 0 },
    { 0, 0, XS_RM, P("/par/nonex\0"), OK(XS_RM), 0 },
    START(0, 2),
    { 0, 2, XS_WRITE, P("/par/ch\0" "4"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    { 0, 2, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    /* What does: GET_PERMS reads the node, SET_PERMS writes it. */
    START(0, 1),
    { 0, 1, XS_GET_PERMS, P("/par/ch\0"), R(XS_GET_PERMS, "n0\0"), 0 },
    { 0, 0, XS_WRITE, P("/par/ch\0" "5"), OK(XS_WRITE), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    START(0, 1),
    { 0, 1, XS_READ, P("/par/ch\0"), R(XS_READ, "5"), 0 },
    { 0, 0, XS_SET_PERMS, P("/par/ch\0n0\0"), OK(XS_SET_PERMS), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), ERR("EAGAIN"), 0 },
    /* A transaction's children are in its own order too: a child removed
     * and made again goes last. */
    { 0, 0, XS_WRITE, P("/ord/z\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/ord/y\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_WRITE, P("/ord/x\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_RM, P("/ord/z\0"), OK(XS_RM), 0 },
    { 0, 0, XS_WRITE, P("/ord/z\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_DIRECTORY, P("/ord\0"), R(XS_DIRECTORY, "y\0x\0z\0"), 0 },
    START(0, 1),
    { 0, 1, XS_RM, P("/ord/y\0"), OK(XS_RM), 0 },
    { 0, 1, XS_WRITE, P("/ord/a\0"), OK(XS_WRITE), 0 },
    { 0, 1, XS_WRITE, P("/ord/y\0"), OK(XS_WRITE), 0 },
    { 0, 1, XS_DIRECTORY, P("/ord\0"), R(XS_DIRECTORY, "x\0z\0a\0y\0"), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    { 0, 0, XS_DIRECTORY, P("/ord\0"), R(XS_DIRECTORY, "x\0z\0a\0y\0"), 0 },
    START(0, 1),
    { 0, 1, XS_WRITE, P("/ord/b/q\0"), OK(XS_WRITE), 0 },
    { 0, 1, XS_WRITE, P("/ord/b/p\0"), OK(XS_WRITE), 0 },
    { 0, 1, XS_RM, P("/ord/x\0"), OK(XS_RM), 0 },
    { 0, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
    { 0, 0, XS_DIRECTORY, P("/ord\0"), R(XS_DIRECTORY, "z\0a\0y\0b\0"), 0 },
    { 0, 0, XS_DIRECTORY, P("/ord/b\0"), R(XS_DIRECTORY, "q\0p\0"), 0 },
    /* A guest may have 11 transactions ("transaction_started >
     * quota_max_transaction"), and RESET_WATCHES ends them all. */
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), R(XS_TRANSACTION_START, "11\0"), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), ERR("ENOSPC"), 0 },
    { 2, 0, XS_RESET_WATCHES, P("\0"), OK(XS_RESET_WATCHES), 0 },
    { 2, 0, XS_TRANSACTION_START, P("\0"), R(XS_TRANSACTION_START, "12\0"), 4 },
    { 2, 4, XS_TRANSACTION_END, P("F\0"), OK(XS_TRANSACTION_END), 0 },
    END_ROW,
};

static const struct row quota[] = {
    { 0, 0, XS_WRITE, P("/local/domain/1/data\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/data\0n1\0"), OK(XS_SET_PERMS), 0 },
    /* Both are refused when the count is already above the limit
     * (do_transaction_start(), do_watch(): ">"): one more than it fits. */
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "transactions\0" "2\0"), R(XS_CONTROL, "OK\0"), 0 },
    START(1, 1),
    START(1, 2),
    { 1, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 1, 0, XS_TRANSACTION_START, P("\0"), ERR("ENOSPC"), 0 },
    START(0, 3),
    START(0, 4),
    { 0, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 0, 0, XS_TRANSACTION_START, P("\0"), ANY(XS_TRANSACTION_START), 0 },
    { 1, 1, XS_TRANSACTION_END, P("F\0"), OK(XS_TRANSACTION_END), 0 },
    START(1, 1),
    { 1, 0, XS_TRANSACTION_START, P("\0"), ERR("ENOSPC"), 0 },
    /* The watch quota is E2BIG. */
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "watches\0" "2\0"), R(XS_CONTROL, "OK\0"), 0 },
    { 1, 0, XS_WATCH, P("data\0a\0"), OK(XS_WATCH), 0 },
    { 1, 0, XS_WATCH, P("data\0b\0"), OK(XS_WATCH), 0 },
    { 1, 0, XS_WATCH, P("data\0c\0"), OK(XS_WATCH), 0 },
    { 1, 0, XS_WATCH, P("data\0d\0"), ERR("E2BIG"), 0 },
    { 1, 0, XS_WATCH, P("data\0a\0"), ERR("EEXIST"), 0 },
    { 0, 0, XS_WATCH, P("/\0a\0"), OK(XS_WATCH), 0 },
    { 0, 0, XS_WATCH, P("/\0b\0"), OK(XS_WATCH), 0 },
    { 0, 0, XS_WATCH, P("/\0c\0"), OK(XS_WATCH), 0 },
    /* Entry size: 24 bytes of header, 8 per permission, the value, the
     * child names; refused from the limit on (test_entry_size has more). */
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "node-size\0" "45\0"), R(XS_CONTROL, "OK\0"), 0 },
    { 1, 0, XS_WRITE, P("data/big\0" "1234567890123"), ERR("ENOSPC"), 0 },
    { 1, 0, XS_WRITE, P("data/small\0" "123456789012"), OK(XS_WRITE), 0 },
    { 1, 0, XS_WRITE, P("data/small\0" "1234567890123"), ERR("ENOSPC"), 0 },
    { 0, 0, XS_WRITE, P("/local/domain/1/data/big\0" "1234567890123"), OK(XS_WRITE), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "node-size\0" "2048\0"), R(XS_CONTROL, "OK\0"), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "nodes\0" "4\0"), R(XS_CONTROL, "OK\0"), 0 },
    /* do_control_quota()'s "Domain N:" form; memory as
     * domain_memory_add() counts it, checked against C by xs_diff. */
    { 0, 0, XS_CONTROL, P("quota\0" "1\0"),
      R(XS_CONTROL, "Domain 1:\nnodes           :        3\nwatches         :        3\n"
                    "transactions    :        3\noutstanding     :        1\n"
                    "memory          :      501\n\0"), 0 },
    { 1, 0, XS_WRITE, P("data/n1\0"), OK(XS_WRITE), 0 },
    { 1, 0, XS_WRITE, P("data/n2\0"), ERR("ENOSPC"), 0 },
    { 1, 0, XS_MKDIR, P("data/n2/n3\0"), ERR("ENOSPC"), 0 },
    { 2, 0, XS_WRITE, P("/local/domain/2/x\0"), ERR("EACCES"), 0 },
    { 0, 0, XS_WRITE, P("/local/domain/1/data/n2\0"), OK(XS_WRITE), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "permissions\0" "2\0"), R(XS_CONTROL, "OK\0"), 0 },
    { 1, 0, XS_SET_PERMS, P("data/n1\0n1\0r2\0r3\0"), ERR("ENOSPC"), 0 },
    { 1, 0, XS_SET_PERMS, P("data/n1\0n1\0r2\0"), OK(XS_SET_PERMS), 0 },
    { 0, 0, XS_SET_PERMS, P("/local/domain/1/data/n1\0n1\0r2\0r3\0"), OK(XS_SET_PERMS), 0 },
    { 0, 0, XS_CONTROL, P("quota\0" "set\0" "transaction-nodes\0" "2\0"), R(XS_CONTROL, "OK\0"), 0 },
    { 1, 1, XS_READ, P("data/n1\0"), ANY(XS_READ), 0 },
    { 1, 1, XS_READ, P("data/small\0"), ANY(XS_READ), 0 },
    { 1, 1, XS_READ, P("data\0"), ERR("ENOSPC"), 0 },
    { 0, 3, XS_READ, P("/local/domain/1/data/n1\0"), ANY(XS_READ), 0 },
    { 0, 3, XS_READ, P("/local/domain/1/data/small\0"), ANY(XS_READ), 0 },
    { 0, 3, XS_READ, P("/local/domain/1/data\0"), ANY(XS_READ), 0 },
    /* The refused access failed the transaction: "if (trans->fail)
     * return ENOMEM;", and what it read is no excuse. */
    { 1, 1, XS_READ, P("data/n1\0"), ANY(XS_READ), 0 },
    { 1, 1, XS_TRANSACTION_END, P("T\0"), ERR("ENOMEM"), 0 },
    { 1, 1, XS_READ, P("data/n1\0"), ERR("ENOENT"), 0 },
    END_ROW,
};

/* A payload "path\0" then n bytes of value, for rows built at run time:
 * V(path, n) gives the row's p and plen. */
#define V(path, n) vpayload(path, n), sizeof(path) + (n)

static const char *vpayload(const char *path, size_t n)
{
    static char pool[40][4096];
    static unsigned int used;
    char *p = pool[used++ % 40];
    size_t pl = strlen(path) + 1;

    ck_assert_uint_le(pl + n, sizeof(pool[0]));
    memcpy(p, path, pl);
    memset(p + pl, 'v', n);
    return p;
}

static void run(const struct row *rows)
{
    struct xt t;
    uint32_t slot[5] = { 0 };
    int refused = 0;

    xt_setup(&t, NULL);
    for (int i = 0; rows[i].who >= 0; i++) {
        const struct row *r = &rows[i];
        struct xs_conn *c = t.c[r->who];
        char where[64], buf[8192];

        snprintf(where, sizeof(where), "row %d (op %u)", i, r->op);
        if (r->op == EV || r->op == NOEV) {
            int n = xs_local_event(c, buf, sizeof(buf));

            if (r->op == NOEV) {
                ck_assert_msg(n == -EAGAIN, "%s: unexpected event \"%s\"", where, buf);
            } else {
                ck_assert_msg(n >= 0, "%s: no event", where);
                ck_assert_msg((size_t)n == r->plen && !memcmp(buf, r->p, n),
                              "%s: event \"%s\" \"%s\", wanted \"%s\" \"%s\"", where, buf,
                              buf + strlen(buf) + 1, r->p, r->p + strlen(r->p) + 1);
            }
            continue;
        }
        uint32_t tx = r->tx == BOGUS_TX ? 999 : r->tx ? slot[r->tx] : 0;
        /* A TRANSACTION_END refused for a conflict (or any reason but a
         * bad argument) still ends the transaction, as in C xenstored;
         * everything else must stay as it was. */
        uint32_t ends = r->op == XS_TRANSACTION_END && !(r->r && !strcmp(r->r, "EINVAL")) ? tx : 0;
        char *before = r->rtype == XS_ERROR ? xst_dump(t.xs, t.c, XT_NCONN, r->who, ends) : NULL;
        int n;
        uint32_t type = xt_req(c, r->op, tx, r->p, r->plen, buf, sizeof(buf), &n);

        ck_assert_msg(type == r->rtype, "%s: reply type %u (\"%s\"), wanted %u", where, type,
                      buf, r->rtype);
        if (r->r)
            ck_assert_msg((size_t)n == r->rlen && !memcmp(buf, r->r, n),
                          "%s: reply \"%.*s\" (%d bytes), wanted \"%.*s\" (%zu bytes)", where,
                          n, buf, n, (int)r->rlen, r->r, r->rlen);
        if (before) {
            char *after = xst_dump(t.xs, t.c, XT_NCONN, r->who, ends);

            xst_same(before, after, where);
            ck_assert_msg(!ends || !xs_conn_tx(c, ends), "%s: transaction %u still open", where,
                          ends);
            free(before);
            free(after);
            refused++;
        }
        if (r->save)
            slot[r->save] = strtoul(buf, NULL, 10);
    }
    ck_assert_int_gt(refused, 0);
    for (int i = 0; i < XT_NCONN; i++)
        xt_drain_events(t.c[i]);
    xt_teardown(&t);
}

/*
 * The entry-size quota at its edge, with the default 2048: a node is
 * measured as C xenstored stores it (24 bytes of header, 8 per
 * permission, the value, each child's name and NUL) and refused when that
 * reaches the quota, for the node written, a parent given a child, and a
 * new permission list; outside and inside transactions. A transaction
 * in which such a write was refused fails at commit with ENOMEM
 * (write_node(): "Reverting access_node() is hard, so just fail the
 * transaction").
 */
START_TEST(test_entry_size)
{
    const struct row entry_size[] = {
        { 0, 0, XS_WRITE, P("/local/domain/1/data\0"), OK(XS_WRITE), 0 },
        { 0, 0, XS_SET_PERMS, P("/local/domain/1/data\0n1\0"), OK(XS_SET_PERMS), 0 },
        /* A new node: 24 + 8 + 2015 = 2047 fits, one byte more does not. */
        { 1, 0, XS_WRITE, V("data/a", 2015), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, V("data/b", 2016), ERR("ENOSPC"), 0 },
        /* The same node written again. */
        { 1, 0, XS_WRITE, V("data/a", 2016), ERR("ENOSPC"), 0 },
        { 1, 0, XS_WRITE, V("data/a", 2015), OK(XS_WRITE), 0 },
        /* Inside a transaction: what fits commits... */
        START(1, 1),
        { 1, 1, XS_WRITE, V("data/t", 2015), OK(XS_WRITE), 0 },
        { 1, 1, XS_WRITE, V("data/a", 2015), OK(XS_WRITE), 0 },
        { 1, 1, XS_TRANSACTION_END, P("T\0"), OK(XS_TRANSACTION_END), 0 },
        /* ...and one byte more is refused, new or not. */
        START(1, 2),
        { 1, 2, XS_WRITE, V("data/u", 2016), ERR("ENOSPC"), 0 },
        { 1, 2, XS_WRITE, V("data/t", 2016), ERR("ENOSPC"), 0 },
        { 1, 2, XS_TRANSACTION_END, P("T\0"), ERR("ENOMEM"), 0 },
        { 1, 0, XS_DIRECTORY, P("data\0"), R(XS_DIRECTORY, "a\0t\0"), 0 },
        /* Two permissions: 24 + 16 + 2007 = 2047. */
        { 0, 0, XS_SET_PERMS, P("/local/domain/1/data/a\0n1\0r2\0"), OK(XS_SET_PERMS), 0 },
        { 1, 0, XS_WRITE, V("data/a", 2007), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, V("data/a", 2008), ERR("ENOSPC"), 0 },
        /* A new node takes its parent's permissions: three, so 1999. */
        { 0, 0, XS_WRITE, P("/local/domain/1/data/q\0"), OK(XS_WRITE), 0 },
        { 0, 0, XS_SET_PERMS, P("/local/domain/1/data/q\0n1\0r2\0r3\0"), OK(XS_SET_PERMS), 0 },
        { 1, 0, XS_WRITE, V("data/q/x", 1999), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, V("data/q/y", 2000), ERR("ENOSPC"), 0 },
        /* A parent given a child: 24 + 8 + 2010 + "abcd\0" = 2047. */
        { 1, 0, XS_WRITE, V("data/p", 2010), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, P("data/p/abcd\0x"), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, P("data/p/e\0x"), ERR("ENOSPC"), 0 },
        { 1, 0, XS_MKDIR, P("data/p/f\0"), ERR("ENOSPC"), 0 },
        { 1, 0, XS_WRITE, P("data/p/g/h\0x"), ERR("ENOSPC"), 0 },
        START(1, 1),
        { 1, 1, XS_MKDIR, P("data/p/f\0"), ERR("ENOSPC"), 0 },
        { 1, 1, XS_TRANSACTION_END, P("F\0"), OK(XS_TRANSACTION_END), 0 },
        { 1, 0, XS_DIRECTORY, P("data/p\0"), R(XS_DIRECTORY, "abcd\0"), 0 },
        /* Removing a child needs no room. */
        { 1, 0, XS_RM, P("data/p/abcd\0"), OK(XS_RM), 0 },
        /* A permission more: 24 + 8 + 2008 = 2040, with two 2048. */
        { 1, 0, XS_WRITE, V("data/s", 2008), OK(XS_WRITE), 0 },
        { 1, 0, XS_SET_PERMS, P("data/s\0n1\0r2\0"), ERR("ENOSPC"), 0 },
        { 1, 0, XS_GET_PERMS, P("data/s\0"), R(XS_GET_PERMS, "n1\0"), 0 },
        /* dom0 is exempt; the guest may not even write it again as is. */
        { 0, 0, XS_WRITE, V("/local/domain/1/data/big", 3000), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, V("data/big", 3000), ERR("ENOSPC"), 0 },
        END_ROW,
    };

    run(entry_size);
}
END_TEST

/*
 * The memory quota (C's -Q memory=, "quota memory" here): a domain's
 * node records with their paths, its watches, what is queued for it. A
 * write it cannot afford is EIO (write_node_raw(): "if (do_tdb_write(...))
 * return EIO;"), in a transaction too, which it fails (commit ENOMEM).
 * 4.17.7 with -Q memory=4000 answers the same.
 */
START_TEST(test_memory)
{
    const struct row memory[] = {
        { 0, 0, XS_CONTROL, P("quota\0" "set\0" "memory\0" "4000\0"), R(XS_CONTROL, "OK\0"), 0 },
        { 0, 0, XS_WRITE, P("/local/domain/1/data\0"), OK(XS_WRITE), 0 },
        { 0, 0, XS_SET_PERMS, P("/local/domain/1/data\0n1\0"), OK(XS_SET_PERMS), 0 },
        { 1, 0, XS_WRITE, V("data/v0", 1000), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, V("data/v1", 1000), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, V("data/v2", 1000), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, V("data/v3", 1000), ERR("EIO"), 0 },
        /* What a rewrite gives back counts: 3126 bytes, then 3326. */
        { 1, 0, XS_WRITE, V("data/v2", 900), OK(XS_WRITE), 0 },
        { 1, 0, XS_WRITE, V("data/v2", 1100), OK(XS_WRITE), 0 },
        START(1, 1),
        { 1, 1, XS_WRITE, V("data/t0", 1000), ERR("EIO"), 0 },
        { 1, 1, XS_TRANSACTION_END, P("T\0"), ERR("ENOMEM"), 0 },
        /* dom0 writing the guest's node is held to the guest's quota. */
        { 0, 0, XS_WRITE, V("/local/domain/1/data/v1", 1800), ERR("EIO"), 0 },
        { 0, 0, XS_WRITE, V("/local/domain/1/data/v1", 10), OK(XS_WRITE), 0 },
        END_ROW,
    };

    run(memory);
}
END_TEST

START_TEST(test_basic) { run(basic); }
END_TEST
START_TEST(test_perms) { run(perms); }
END_TEST
START_TEST(test_watches) { run(watches); }
END_TEST
START_TEST(test_transactions) { run(transactions); }
END_TEST
START_TEST(test_quota) { run(quota); }
END_TEST

int main(void)
{
    Suite *s = suite_create("xenstore conformance");
    TCase *tc = tcase_create("table");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_perms);
    tcase_add_test(tc, test_watches);
    tcase_add_test(tc, test_transactions);
    tcase_add_test(tc, test_quota);
    tcase_add_test(tc, test_entry_size);
    tcase_add_test(tc, test_memory);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
