/* Every error the parser can give, with the exact FILE:LINE: message. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "suites.h"

#define HEAD "aiobox-policy 1\n"

struct error_case {
    const char *text;
    const char *error;
};

static const struct error_case cases[] = {
    /* the format line */
    { "allow read\n", "t.policy:1: expected the format line 'aiobox-policy 1' first" },
    { "", "t.policy:1: no format line: a policy starts with 'aiobox-policy 1'" },
    { "# only a comment\n\n", "t.policy:1: no format line: a policy starts with 'aiobox-policy 1'" },
    { "aiobox-policy 2\n", "t.policy:1: unsupported policy format version 2 (this aiobox reads 1)" },
    { "aiobox-policy one\n", "t.policy:1: bad number 'one' in the format line" },
    { "aiobox-policy\n", "t.policy:1: format line takes one number: 'aiobox-policy 1'" },
    { HEAD "aiobox-policy 1\n", "t.policy:2: format line given twice" },
    { "frobnicate\n", "t.policy:1: expected the format line 'aiobox-policy 1' first" },
    /* directives and syscalls */
    { HEAD "frobnicate 1\n", "t.policy:2: unknown directive 'frobnicate'" },
    { HEAD "\nallow nosuchcall\n", "t.policy:3: unknown syscall 'nosuchcall'" },
    { HEAD "allow socketcall\n", "t.policy:2: syscall 'socketcall' does not exist on this architecture" },
    { HEAD "allow @nope\n", "t.policy:2: unknown group '@nope'" },
    { HEAD "allow\n", "t.policy:2: allow needs at least one syscall or @group" },
    { HEAD "kill if a0 == 1\n", "t.policy:2: kill needs at least one syscall or @group" },
    /* groups */
    { HEAD "group @g read\ngroup @g write\n", "t.policy:3: group @g already defined at t.policy:2" },
    { HEAD "group g read\n", "t.policy:2: group name must start with '@', got 'g'" },
    { HEAD "group @G! read\n", "t.policy:2: bad group name '@G!' (use a-z, 0-9, '-', '_')" },
    { HEAD "group @g\n", "t.policy:2: group needs a name and at least one syscall: 'group @name call...'" },
    { HEAD "group @g read bogus\n", "t.policy:2: unknown syscall 'bogus'" },
    /* actions */
    { HEAD "default frob\n", "t.policy:2: unknown action 'frob' (allow, errno NAME, kill, trap)" },
    { HEAD "default\n", "t.policy:2: default needs an action: allow, errno NAME, kill or trap" },
    { HEAD "default allow now\n", "t.policy:2: default takes only an action, not 'now'" },
    { HEAD "errno\n", "t.policy:2: errno needs an error name or number, e.g. 'errno EPERM'" },
    { HEAD "errno EFOO read\n", "t.policy:2: unknown errno 'EFOO'" },
    { HEAD "errno 0 read\n", "t.policy:2: unknown errno '0'" },
    { HEAD "errno 5000 read\n", "t.policy:2: unknown errno '5000'" },
    /* conditions */
    { HEAD "allow read write if a0 == 1\n", "t.policy:2: a rule with conditions names exactly one syscall" },
    { HEAD "group @g read\nallow @g if a0 == 1\n", "t.policy:3: a rule with conditions names exactly one syscall" },
    { HEAD "allow read if\n", "t.policy:2: 'if' needs a condition" },
    { HEAD "allow read if a9 == 1\n", "t.policy:2: bad condition: expected an argument a0..a5, got 'a9'" },
    { HEAD "allow read if x == 1\n", "t.policy:2: bad condition: expected an argument a0..a5, got 'x'" },
    { HEAD "allow read if a0 > 1 and a0 < 5\n", "t.policy:2: a0 is compared twice in one rule (write two rules)" },
    { HEAD "allow read if a0\n", "t.policy:2: bad condition: 'a0' needs an operator" },
    { HEAD "allow read if a0 & 3 != 1\n", "t.policy:2: bad condition: a masked compare must be 'a0 & MASK == VALUE'" },
    { HEAD "allow read if a0 & 3\n", "t.policy:2: bad condition: a masked compare must be 'a0 & MASK == VALUE'" },
    { HEAD "allow read if a0 =~ 1\n", "t.policy:2: bad condition: unknown operator '=~'" },
    { HEAD "allow read if a0 ==\n", "t.policy:2: bad condition: 'a0' needs a value" },
    { HEAD "allow read if a0 == zz\n", "t.policy:2: bad number 'zz'" },
    { HEAD "allow read if a0 == 0x\n", "t.policy:2: bad number '0x'" },
    { HEAD "allow read if a0 == 99999999999999999999\n", "t.policy:2: bad number '99999999999999999999'" },
    { HEAD "allow read if a0 == AF_UNIX|\n", "t.policy:2: bad number 'AF_UNIX|'" },
    { HEAD "allow read if a0 == 1||2\n", "t.policy:2: bad number '1||2'" },
    { HEAD "allow read if a0 & zz == 0\n", "t.policy:2: bad number 'zz'" },
    { HEAD "allow read if a0 < $pid\n", "t.policy:2: $pid can only be compared with == or !=" },
    { HEAD "allow read if a0 & 0x6 == 0x8\n",
      "t.policy:2: condition can never be true: value 0x8 has bits outside mask 0x6" },
    { HEAD "allow read if a0 & 0 == 0\n",
      "t.policy:2: condition is always true: mask 0 keeps no bits (libseccomp would drop it)" },
    { HEAD "allow ioctl if a1 == 0x100000000\n",
      "t.policy:2: a1 of this syscall is 32-bit: value 0x100000000 does not fit" },
    { HEAD "allow read if a0 == 1 or a1 == 2\n",
      "t.policy:2: bad condition: expected 'and' or the end of the line, got 'or'" },
    { HEAD "allow read if a0 == 1 and\n", "t.policy:2: bad condition: nothing after 'and'" },
    { HEAD "allow read if a0 == 1 and a1 == 1 and a2 == 1 and a3 == 1 and a4 == 1 and a5 == 1 and a0 == 2\n",
      "t.policy:2: too many conditions (at most 6)" },
    /* conflicting rules */
    { HEAD "allow read\nerrno EACCES read\n",
      "t.policy:3: conflicting rules for read: errno EACCES here, allow at t.policy:2" },
    { HEAD "allow openat if a2 == 0\nallow openat\n",
      "t.policy:3: conflicting rules for openat: unconditional here, but conditional at t.policy:2 (the conditions would never apply)" },
    { HEAD "group @g read openat\nallow @g\nallow openat if a2 & 3 == 0\n",
      "t.policy:4: conflicting rules for openat: conditional here, but unconditional at t.policy:3 (this rule would never apply)" },
    { HEAD "allow mkdirat\nallow-when-writable mkdirat\n",
      "t.policy:3: conflicting rules for mkdirat: allow-when-writable here, but unconditional at t.policy:2" },
    { HEAD "allow-when-writable mkdirat\nallow mkdirat\n",
      "t.policy:3: conflicting rules for mkdirat: unconditional here, but allow-when-writable at t.policy:2" },
    { HEAD "allow-when-writable\n", "t.policy:2: allow-when-writable needs at least one syscall or @group" },
    { HEAD "allow-when-writable openat if a0 == 1\n", "t.policy:2: allow-when-writable takes no conditions" },
    { HEAD "allow read\ndefault allow\n",
      "t.policy:2: rule for read has the default action (allow): it would do nothing" },
    { HEAD "errno EPERM read\n",
      "t.policy:2: rule for read has the default action (errno EPERM): it would do nothing" },
    /* sockets nothing governs, under landlock (issue 14) */
    { HEAD "allow socket if a1 & SOCK_TYPE_MASK == SOCK_STREAM\n",
      "t.policy:2: allow socket admits Unix sockets, which reach any socket file on the host "
      "(landlock does not govern them); pin the family, e.g. 'a0 == AF_INET'" },
    { HEAD "allow socket if a0 == AF_UNIX\n",
      "t.policy:2: allow socket admits Unix sockets, which reach any socket file on the host "
      "(landlock does not govern them); pin the family, e.g. 'a0 == AF_INET'" },
    { HEAD "allow socketpair if a0 == AF_UNIX\n",
      "t.policy:2: allow socketpair admits Unix datagram socket pairs, which send to any socket "
      "file on the host; pin the type, 'a1 & SOCK_TYPE_MASK == SOCK_STREAM'" },
    { HEAD "allow socketpair if a1 & SOCK_TYPE_MASK == SOCK_DGRAM\n",
      "t.policy:2: allow socketpair admits Unix datagram socket pairs, which send to any socket "
      "file on the host; pin the type, 'a1 & SOCK_TYPE_MASK == SOCK_STREAM'" },
    { HEAD "allow socketpair\n",
      "t.policy:2: allow socketpair admits Unix datagram socket pairs, which send to any socket "
      "file on the host; pin the type, 'a1 & SOCK_TYPE_MASK == SOCK_STREAM'" },
    { HEAD "allow socket if a0 == AF_INET and a1 & SOCK_TYPE_MASK == SOCK_STREAM\ntcp connect 5432\n",
      "t.policy:2: allow socket admits AF_INET/AF_INET6 stream sockets of any protocol: MPTCP (262) "
      "escapes landlock's tcp rules; pin the protocol, 'a2 == 0' (and a second rule with "
      "'a2 == IPPROTO_TCP', which getaddrinfo gives)" },
    { HEAD "allow socket if a0 == AF_INET6 and a2 == IPPROTO_MPTCP\n",
      "t.policy:2: allow socket admits AF_INET/AF_INET6 stream sockets of any protocol: MPTCP (262) "
      "escapes landlock's tcp rules; pin the protocol, 'a2 == 0' (and a second rule with "
      "'a2 == IPPROTO_TCP', which getaddrinfo gives)" },
    { HEAD "default allow\ntcp connect 5432\n",
      "t.policy:2: 'default allow' admits every socket, and the policy states tcp rules: socket "
      "admits Unix sockets, which reach any socket file on the host (landlock does not govern "
      "them); pin the family, e.g. 'a0 == AF_INET'" },
    /* idle-cpu */
    { HEAD "idle-cpu\n",
      "t.policy:2: idle-cpu takes 'idle-cpu PERCENT over DURATION then warn|kill, or idle-cpu none'" },
    { HEAD "idle-cpu 25% over 10s\n",
      "t.policy:2: idle-cpu takes 'idle-cpu PERCENT over DURATION then warn|kill, or idle-cpu none'" },
    { HEAD "idle-cpu 25% for 10s then kill\n",
      "t.policy:2: idle-cpu takes 'idle-cpu PERCENT over DURATION then warn|kill, or idle-cpu none'" },
    { HEAD "idle-cpu 25 over 10s then kill\n",
      "t.policy:2: bad share '25' for idle-cpu (a percentage of one CPU, e.g. 25%)" },
    { HEAD "idle-cpu 0% over 10s then kill\n",
      "t.policy:2: bad share '0%' for idle-cpu (a percentage of one CPU, e.g. 25%)" },
    { HEAD "idle-cpu 20000% over 10s then kill\n",
      "t.policy:2: bad share '20000%' for idle-cpu (a percentage of one CPU, e.g. 25%)" },
    { HEAD "idle-cpu 25% over 500ms then kill\n",
      "t.policy:2: bad window '500ms' for idle-cpu (1s to 60m: the CPU is sampled once a second)" },
    { HEAD "idle-cpu 25% over 2h then kill\n",
      "t.policy:2: bad window '2h' for idle-cpu (1s to 60m: the CPU is sampled once a second)" },
    { HEAD "idle-cpu 25% over 10s then interrupt\n",
      "t.policy:2: idle-cpu: unknown action 'interrupt' (warn or kill; a statement is not running, so there is nothing to interrupt)" },
    { HEAD "idle-cpu none\nidle-cpu 5% over 1s then warn\n",
      "t.policy:3: conflicting rules: idle-cpu already set at t.policy:2" },
    /* cgroup */
    { HEAD "cgroup cpu\n", "t.policy:2: cgroup takes 2 arguments: 'cgroup cpu|memory|pids[?] VALUE'" },
    { HEAD "cgroup io 10\n",
      "t.policy:2: unknown cgroup controller 'io' (cpu, memory, pids; '?' after one marks it optional)" },
    { HEAD "cgroup cpu 0.5%\n",
      "t.policy:2: bad share '0.5%' for cgroup cpu (a percentage of one CPU, at least 1%, e.g. 100%)" },
    { HEAD "cgroup memory 1K\n", "t.policy:2: bad size '1K' for cgroup memory (at least 1M, e.g. 1G)" },
    { HEAD "cgroup memory? unlimited\n",
      "t.policy:2: bad size 'unlimited' for cgroup memory (at least 1M, e.g. 1G)" },
    { HEAD "cgroup pids 0\n", "t.policy:2: bad count '0' for cgroup pids (1 to 4194304)" },
    { HEAD "cgroup pids 64\ncgroup pids? 32\n",
      "t.policy:3: conflicting rules: cgroup pids already set at t.policy:2" },
    /* namespaces */
    { HEAD "namespaces\n",
      "t.policy:2: namespaces takes 'none' or namespaces: user ipc uts net pid mount ('?' after one marks it optional)" },
    { HEAD "namespaces user cgroup\n",
      "t.policy:2: unknown namespace 'cgroup' (user, ipc, uts, net, pid, mount; '?' after one marks it optional)" },
    { HEAD "namespaces mount\n",
      "t.policy:2: namespaces without 'user': the executor makes them as an ordinary user, inside its own user namespace" },
    { HEAD "namespaces user? mount\n",
      "t.policy:2: 'user?' is optional, so every other namespace must be too (they need it)" },
    /* mount directives */
    { HEAD "namespaces user mount\ntmpfs /tmp\n", "t.policy:3: tmpfs takes 2 arguments: 'tmpfs PATH SIZE'" },
    { HEAD "namespaces user mount\ntmpfs /tmp lots\n",
      "t.policy:3: bad size 'lots' for tmpfs (4K to 1T, e.g. 64M)" },
    { HEAD "namespaces user mount\ntmpfs /tmp 0\n",
      "t.policy:3: bad size '0' for tmpfs (4K to 1T, e.g. 64M)" },
    { HEAD "namespaces user mount\ntmpfs /tmp unlimited\n",
      "t.policy:3: bad size 'unlimited' for tmpfs (4K to 1T, e.g. 64M)" },
    { HEAD "namespaces user mount\ntmpfs /tmp 2T\n",
      "t.policy:3: bad size '2T' for tmpfs (4K to 1T, e.g. 64M)" },
    { HEAD "namespaces user mount\ntmpfs tmp 1M\n", "t.policy:3: path 'tmp' is not absolute" },
    { HEAD "namespaces user mount\nbind-ro data\n", "t.policy:3: path 'data' is not absolute" },
    { HEAD "namespaces user mount\nbind-rw /\n",
      "t.policy:3: path '/' cannot be mounted over: the new root is the executor's own" },
    { HEAD "namespaces user mount\nbind-ro /a/../etc\n",
      "t.policy:3: path '/a/../etc' has an empty, '.' or '..' component" },
    { HEAD "namespaces user mount\nbind-ro /a//b\n",
      "t.policy:3: path '/a//b' has an empty, '.' or '..' component" },
    { HEAD "namespaces user mount\nbind-ro /a/\n",
      "t.policy:3: path '/a/' has an empty, '.' or '..' component" },
    { HEAD "namespaces user mount\nbind-ro /a b\n", "t.policy:3: bind-ro takes 1 argument: 'bind-ro PATH'" },
    { HEAD "namespaces user mount\ntmpfs /tmp 1M\nbind-rw /tmp\n",
      "t.policy:4: conflicting rules: /tmp already mounted (tmpfs at t.policy:3)" },
    { HEAD "namespaces user mount\nbind-ro? /srv\nbind-ro /srv\n",
      "t.policy:4: conflicting rules: /srv already mounted (bind-ro at t.policy:3)" },
    { HEAD "namespaces user\ntmpfs /tmp 1M\n",
      "t.policy:3: tmpfs without a mount namespace ('namespaces ... mount')" },
    { HEAD "namespaces user mount\nfs ro /usr/../etc\n",
      "t.policy:3: fs path '/usr/../etc' has a '..' component, which a mount namespace cannot place" },
    { HEAD "namespaces user mount\nmount-root some\n",
      "t.policy:3: mount-root takes 'minimal' or 'host'" },
    { HEAD "namespaces user\nmount-root host\n",
      "t.policy:3: mount-root without a mount namespace ('namespaces ... mount')" },
    { HEAD "namespaces user mount\nmount-root host\nbind-ro /srv\n",
      "t.policy:4: bind-ro with mount-root host: the host's files are all there; "
      "bind-ro and bind-rw build a minimal root" },
    { HEAD "bind-rw /srv\n",
      "t.policy:2: bind-rw without a mount namespace ('namespaces ... mount')" },
    { HEAD "namespaces user user?\n", "t.policy:2: namespace 'user' given twice" },
    { HEAD "namespaces ipc uts\n",
      "t.policy:2: namespaces without 'user': the executor makes them as an ordinary user, inside its own user namespace" },
    { HEAD "namespaces user? ipc\n",
      "t.policy:2: 'user?' is optional, so every other namespace must be too (they need it)" },
    { HEAD "namespaces user\nnamespaces none\n",
      "t.policy:3: conflicting rules: namespaces already set at t.policy:2" },
    { HEAD "namespaces user uts\nhostname -x\n",
      "t.policy:3: bad hostname '-x' (letters, digits, '-', '.'; at most 63)" },
    { HEAD "namespaces user uts\nhostname a b\n", "t.policy:3: hostname takes 1 argument: 'hostname NAME'" },
    { HEAD "namespaces user\nhostname box\n",
      "t.policy:3: hostname without a uts namespace ('namespaces ... uts')" },
    { HEAD "namespaces user net\nallow socket if a0 == AF_INET and a2 == 0\ntcp connect 80\n",
      "t.policy:4: tcp connect rule, but a network namespace ('namespaces' at t.policy:2): "
      "only a loopback would be there; give 'namespaces' without net" },
    /* settings */
    { HEAD "name\n", "t.policy:2: name takes 1 argument: 'name NAME'" },
    { HEAD "name a b\n", "t.policy:2: name takes 1 argument: 'name NAME'" },
    { HEAD "name a/b\n", "t.policy:2: bad policy name 'a/b' (letters, digits, '-', '_', '.')" },
    { HEAD "name aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
      "t.policy:2: policy name longer than 64 characters" },
    { HEAD "name a\nname b\n", "t.policy:3: conflicting rules: name already set at t.policy:2" },
    { HEAD "default allow\ndefault kill\n", "t.policy:3: conflicting rules: default already set at t.policy:2" },
    { HEAD "timeout soon\n", "t.policy:2: bad duration 'soon' (e.g. 30, 30s, 500ms, 2m, none)" },
    { HEAD "timeout 0\n", "t.policy:2: bad duration '0' (e.g. 30, 30s, 500ms, 2m, none)" },
    { HEAD "timeout 5h\n", "t.policy:2: bad duration '5h' (e.g. 30, 30s, 500ms, 2m, none)" },
    { HEAD "timeout 1\ntimeout 2\n", "t.policy:3: conflicting rules: timeout already set at t.policy:2" },
    { HEAD "output-cap lots\n", "t.policy:2: bad number 'lots' for output-cap (e.g. 1M, 640K, unlimited)" },
    { HEAD "output-cap 0\n", "t.policy:2: bad number '0' for output-cap (e.g. 1M, 640K, unlimited)" },
    { HEAD "output-cap 1M\noutput-cap 2M\n", "t.policy:3: conflicting rules: output-cap already set at t.policy:2" },
    { HEAD "rlimit bogus 1\n",
      "t.policy:2: unknown rlimit 'bogus' (as, core, cpu, data, fsize, nofile, nproc, stack, ...)" },
    { HEAD "rlimit as\n", "t.policy:2: rlimit takes 2 arguments: 'rlimit NAME VALUE'" },
    { HEAD "rlimit as 1X\n", "t.policy:2: bad number '1X' for rlimit as" },
    { HEAD "rlimit as -1\n", "t.policy:2: bad number '-1' for rlimit as" },
    { HEAD "rlimit as 99999999999T\n", "t.policy:2: bad number '99999999999T' for rlimit as" },
    { HEAD "rlimit as 1G\nrlimit as 2G\n", "t.policy:3: conflicting rules: rlimit as already set at t.policy:2" },
    { HEAD "landlock on\n", "t.policy:2: landlock takes 'off' or 'abi N'" },
    { HEAD "landlock abi x\n", "t.policy:2: bad number 'x' for landlock abi" },
    { HEAD "landlock abi 0\n", "t.policy:2: bad number '0' for landlock abi" },
    { HEAD "landlock off\nlandlock abi 2\n", "t.policy:3: conflicting rules: landlock already set at t.policy:2" },
    { HEAD "fs ro\n", "t.policy:2: fs takes 2 arguments: 'fs ro|rx|rw[?] PATH'" },
    { HEAD "fs rwx /tmp\n",
      "t.policy:2: unknown access 'rwx' (ro, rx, rw; '?' after it marks the path optional)" },
    { HEAD "fs write /tmp\n",
      "t.policy:2: unknown access 'write' (ro, rx, rw; '?' after it marks the path optional)" },
    { HEAD "fs ro tmp\n", "t.policy:2: path 'tmp' is not absolute" },
    { HEAD "fs ro $python\n", "t.policy:2: unknown path variable '$python' ($python_path, $python_libdir)" },
    { HEAD "landlock off\nfs ro /usr\n",
      "t.policy:3: conflicting rules: fs rule, but 'landlock off' at t.policy:2" },
    { HEAD "tcp connect 1\nlandlock off\n",
      "t.policy:2: conflicting rules: tcp rule, but 'landlock off' at t.policy:3" },
    { HEAD "tcp send 80\n", "t.policy:2: tcp takes 'connect' or 'bind', not 'send'" },
    { HEAD "tcp connect 65536\n", "t.policy:2: bad number '65536' for a TCP port (0..65535 or any)" },
    { HEAD "tcp connect http\n", "t.policy:2: bad number 'http' for a TCP port (0..65535 or any)" },
    { HEAD "include\n", "t.policy:2: include takes 1 argument: 'include FILE'" },
    { HEAD "include /nonexistent/policy\n",
      "t.policy:2: cannot include /nonexistent/policy: No such file or directory" },
    /* the text itself */
    { HEAD "allow read\x01\n", "t.policy:2: control character 0x01 in the policy text" },
    { HEAD "allow read\x7f\n", "t.policy:2: control character 0x7f in the policy text" },
    { HEAD "allow \xc2\x9b\n", "t.policy:2: control character U+009B in the policy text" },
    { HEAD "fs ro /caf\xe9\n", "t.policy:2: invalid UTF-8 in the policy text (byte 11 of the line)" },
};

START_TEST(each_error)
{
    const struct error_case *c = &cases[_i];
    struct policy *p = (struct policy *)1;
    char err[1024] = "";
    int rc = policy_parse(c->text, strlen(c->text), "t.policy", NULL, 0, &p, err, sizeof err);
    /* A mistake is -EINVAL; an include that cannot be opened, the open's. */
    int want = strstr(c->error, ": cannot include ") ? -ENOENT : -EINVAL;
    ck_assert_msg(rc == want, "case %d: rc %d: %s", _i, rc, c->text);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err, c->error);
}
END_TEST

START_TEST(nul_byte)
{
    static const char text[] = HEAD "allow read\0 write\n";
    struct policy *p;
    char err[256];
    ck_assert_int_eq(policy_parse(text, sizeof text - 1, "t.policy", NULL, 0, &p, err, sizeof err),
                     -EINVAL);
    ck_assert_str_eq(err, "t.policy:2: NUL byte in the policy text");
}
END_TEST

START_TEST(long_line_and_many_words)
{
    size_t n = 5000;
    char *text = malloc(n + 64);
    snprintf(text, n + 64, HEAD "allow ");
    size_t len = strlen(text);
    memset(text + len, 'r', n);
    text[len + n] = '\n';
    struct policy *p;
    char err[256];
    ck_assert_int_eq(policy_parse(text, len + n + 1, "t.policy", NULL, 0, &p, err, sizeof err),
                     -EINVAL);
    ck_assert_str_eq(err, "t.policy:2: line longer than 4096 bytes");
    snprintf(text, n + 64, HEAD "allow");
    for (int i = 0; i < 200; i++)
        strcat(text, " r");
    ck_assert_int_eq(policy_parse(text, strlen(text), "t.policy", NULL, 0, &p, err, sizeof err),
                     -EINVAL);
    ck_assert_str_eq(err, "t.policy:2: too many words on one line (at most 128)");
    free(text);
}
END_TEST

static char tmpdir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void load_fails(const char *name, int rc, const char *want)
{
    char path[256], err[1024] = "";
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    struct policy *p;
    ck_assert_int_eq(policy_load(path, NULL, 0, &p, err, sizeof err), rc);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err, want);
}

/* The expected message names files in the temporary directory. */
#define LOAD_FAILS(name, rc, ...) do { \
        char want_[512]; \
        snprintf(want_, sizeof want_, __VA_ARGS__); \
        load_fails(name, rc, want_); \
    } while (0)

START_TEST(file_errors)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/aiobox-policy-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    /* An error inside an included file names that file. */
    put("inner", HEAD "\nallow nosuch\n");
    put("outer", HEAD "include inner\n");
    LOAD_FAILS("outer", -EINVAL, "%s/inner:3: unknown syscall 'nosuch'", tmpdir);
    /* Includes that loop stop at the depth limit. */
    put("loop", HEAD "include loop\n");
    LOAD_FAILS("loop", -EINVAL, "%s/loop:2: includes nested deeper than 8 (a loop?)", tmpdir);
    /* Two files included side by side may not both set one thing. */
    put("a", HEAD "timeout 1\n");
    put("b", HEAD "timeout 2\n");
    put("ab", HEAD "include a\ninclude b\n");
    LOAD_FAILS("ab", -EINVAL, "%s/b:2: conflicting rules: timeout already set at %s/a:2", tmpdir, tmpdir);
    /* A rule conflicting with an included one. */
    put("c", HEAD "allow read\n");
    put("cd", HEAD "include c\nerrno EACCES read\n");
    LOAD_FAILS("cd", -EINVAL, "%s/cd:3: conflicting rules for read: errno EACCES here, allow at %s/c:2", tmpdir, tmpdir);
    LOAD_FAILS("missing", -ENOENT, "%s/missing: No such file or directory", tmpdir);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/dir", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    LOAD_FAILS("dir", -EINVAL, "%s/dir: not a regular file", tmpdir);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *t = tcase_create("errors");
    tcase_add_loop_test(t, each_error, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(t, nul_byte);
    tcase_add_test(t, long_line_and_many_words);
    tcase_add_test(t, file_errors);
    suite_add_tcase(s, t);
    return s;
}
