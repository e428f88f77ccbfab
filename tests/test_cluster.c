/* Cluster tests: a run under fire and a run across machines. chaos kills actors and the judge
 * of a `spar run` with SIGKILL every 1-2 s (victims and gaps from a seeded generator, each kill
 * logged) and requires the run to complete with nothing lost and the same checkpoints, bit for
 * bit, as an undisturbed run. multihost puts the learner, the judge and two actors each in a
 * network namespace of its own, joined by a bridge, and runs them over real TCP; it is skipped
 * (not passed) where namespaces cannot be made. */
#include "tests/testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/rng.h"
#include "common/util.h"

/* ---- shared checks ---------------------------------------------------------------------- */

/* What a run's iterations.jsonl counted, summed over its iterations. */
typedef struct {
    long reissued, judge_failures, stale, bad;
} run_counts_t;

/* iterations.jsonl holds iterations 0..n in order, none with a lost prompt. */
static run_counts_t s_check_jsonl(const char *path, int iterations) {
    json_t *lines = tu_read_jsonl(path);
    assert_non_null(lines);
    assert_int_equal((int)json_array_size(lines), iterations + 1);
    run_counts_t n = {0, 0, 0, 0};
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        assert_int_equal(json_integer_value(json_object_get(o, "iteration")), (json_int_t)i);
        if (json_integer_value(json_object_get(o, "lost")) != 0)
            fail_msg("iteration %zu lost %lld prompts", i, (long long)json_integer_value(json_object_get(o, "lost")));
        n.reissued += (long)json_integer_value(json_object_get(o, "leases_reissued"));
        n.judge_failures += (long)json_integer_value(json_object_get(o, "judge_failures"));
        n.stale += (long)json_integer_value(json_object_get(o, "stale_dropped"));
        n.bad = (long)json_integer_value(json_object_get(o, "bad_messages")); /* a running total */
    }
    json_decref(lines);
    return n;
}


/* ---- chaos ------------------------------------------------------------------------------ */

#define CHAOS_ITERATIONS 100
#define CHAOS_PROMPTS 16
#define CHAOS_ACTORS 4
/* The seed of the victims and the gaps between kills; SPAR_CHAOS_SEED replays another. */
#define CHAOS_SEED 20240611

/* Slow enough actors (40 ms a group) that the run lasts long enough to be hit many times,
 * short lease and judge timeouts so that a kill costs well under a second. Takes the
 * iterations, prompts and actors. */
static const char CHAOS_CONFIG[] =
    "run:\n  name: chaos\n  seed: 11\n  iterations: %d\n"
    "task:\n  prompts: %d\n"
    "rollout:\n  samples_per_prompt: 16\n"
    "learner:\n  prompts_per_lease: 2\n  lease_timeout_ms: 400\n"
    "judge:\n  count: 1\n  timeout_ms: 250\n"
    "actor:\n  count: %d\n  delay_ms: 40\n  heartbeat_ms: 200\n  resend_ms: 250\n  max_restarts: 1000\n";

typedef struct {
    char *dir;
    pid_t calm, launcher; /* the undisturbed run's launcher and the chaotic one's */
    int passed;
} chaos_t;

static int s_chaos_setup(void **state) {
    chaos_t *C = xcalloc(1, sizeof *C);
    C->dir = tu_tmpdir();
    *state = C;
    return 0;
}

/* Stops the launchers left running by a failed test (each stops its children), keeps the
 * folder of a failed test for inspection. */
static int s_chaos_teardown(void **state) {
    chaos_t *C = *state;
    pid_t left[2] = {C->calm, C->launcher};
    for (int i = 0; i < 2; i++)
        if (left[i] > 0) {
            kill(left[i], SIGTERM);
            tu_wait(left[i], 15000);
        }
    if (C->passed) {
        tu_done(C->dir);
    } else {
        fprintf(stderr, "chaos: the test failed; its runs and logs are in %s\n", C->dir);
        free(C->dir);
    }
    free(C);
    return 0;
}

/* Sleeps ms, or less when the process ends first. Returns 1 when it ended (its status in *st). */
static int s_sleep_unless_exit(pid_t pid, int ms, int *st) {
    int64_t end = util_now_ms() + ms;
    while (util_now_ms() < end) {
        if (waitpid(pid, st, WNOHANG) == pid) return 1;
        util_sleep_ms(10);
    }
    return 0;
}

/* Waits for a launcher until the deadline; past it the test fails and the teardown stops it
 * with SIGTERM, so that it stops its children too. Clears *pid. Returns the exit status. */
static int s_wait_launcher(pid_t *pid, double deadline_s, const char *log) {
    int st;
    if (!s_sleep_unless_exit(*pid, (int)((deadline_s - util_now_s()) * 1000), &st)) {
        tu_dump(log);
        fail_msg("spar run (pid %d) did not finish in time", (int)*pid);
    }
    *pid = 0;
    if (tu_exit_code(st) != 0) tu_dump(log);
    return tu_exit_code(st);
}

static int s_lines(const char *path) {
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f) return 0;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static int s_count(const char *path, const char *text) {
    char *s = util_read_file(path, NULL);
    int n = 0;
    for (const char *at = s; at && (at = strstr(at, text)); at += strlen(text)) n++;
    free(s);
    return n;
}

/* The wall time a launcher reported for its run ("spar run: complete in X s"); -1 when none. */
static double s_run_seconds(const char *log) {
    char *s = util_read_file(log, NULL);
    const char *at = s ? strstr(s, "spar run: complete in ") : NULL;
    double t = at ? atof(at + strlen("spar run: complete in ")) : -1;
    free(s);
    return t;
}

/* Kills one of the launcher's children with SIGKILL, logged with the time since t0 and the
 * iteration the run is in. A victim being restarted right now is waited for, briefly. Returns
 * 1 when the kill was delivered. */
static int s_kill(pid_t launcher, const char *id, double t0, const char *jsonl) {
    pid_t pid = 0;
    for (int tries = 0; tries < 100 && !(pid = tu_find_child(launcher, id)); tries++) util_sleep_ms(10);
    if (!pid) {
        fprintf(stderr, "chaos +%6.2f s: %s is not running; no kill\n", util_now_s() - t0, id);
        return 0;
    }
    int rc = kill(pid, SIGKILL);
    fprintf(stderr, "chaos +%6.2f s: SIGKILL %s (pid %d)%s, iteration %d\n", util_now_s() - t0, id, (int)pid,
            rc == 0 ? "" : " failed", s_lines(jsonl) - 1);
    return rc == 0;
}

/* Every checkpoint of two runs, the last included, is the same, bit for bit. */
static void s_same_checkpoints(const char *run_a, const char *run_b, int iterations) {
    for (int v = 0; v <= iterations; v++) {
        char *pa = xasprintf("%s/checkpoints/iter-%04d.safetensors", run_a, v);
        char *pb = xasprintf("%s/checkpoints/iter-%04d.safetensors", run_b, v);
        size_t la = 0, lb = 0;
        char *a = util_read_file(pa, &la), *b = util_read_file(pb, &lb);
        assert_non_null(a);
        assert_non_null(b);
        if (la != lb || memcmp(a, b, la) != 0) fail_msg("checkpoint %d differs: %s and %s", v, pa, pb);
        free(a), free(b), free(pa), free(pb);
    }
}

/* The launcher saw every kill (but perhaps one in the run's last moments, when it no longer
 * reports) and restarted the victim; no child ended any other way. */
static void s_check_launcher_log(const char *log, int kills, int judge_kills) {
    int seen = s_count(log, " ended with signal 9 ("), restarted = s_count(log, "; restarting (restart ");
    int ends = s_count(log, " ended with ");
    if (seen < kills - 1 || restarted != seen || ends != seen) tu_dump(log);
    assert_true(seen >= kills - 1 && restarted == seen && ends == seen);
    if (judge_kills) assert_true(tu_file_contains(log, "judge-0 ended with signal 9"));
    assert_true(tu_file_contains(log, "spar run: complete"));
}

static void test_cluster_chaos(void **state) {
    chaos_t *C = *state;
    char *cfg = xasprintf("%s/cfg.yaml", C->dir), *calm_log = xasprintf("%s/calm.log", C->dir);
    char *chaos_log = xasprintf("%s/chaos.log", C->dir), *jsonl = xasprintf("%s/chaos/iterations.jsonl", C->dir);
    char *calm_set = xasprintf("run.dir=%s/calm", C->dir), *chaos_set = xasprintf("run.dir=%s/chaos", C->dir);
    char *yaml = xasprintf(CHAOS_CONFIG, CHAOS_ITERATIONS, CHAOS_PROMPTS, CHAOS_ACTORS);
    tu_write(cfg, yaml);
    free(yaml);
    uint64_t seed = getenv("SPAR_CHAOS_SEED") ? strtoull(getenv("SPAR_CHAOS_SEED"), NULL, 10) : CHAOS_SEED;
    rng_t rng;
    rng_seed(&rng, seed);
    fprintf(stderr, "chaos: killing with seed %llu (SPAR_CHAOS_SEED replays another)\n", (unsigned long long)seed);

    /* the reference, the same config and seed with nobody killed, runs alongside */
    double t0 = util_now_s(), deadline = t0 + 150;
    C->calm = tu_spawn(C->dir, calm_log, SPAR_BIN, "run", cfg, "--set", calm_set, NULL);
    C->launcher = tu_spawn(C->dir, chaos_log, SPAR_BIN, "run", cfg, "--set", chaos_set, NULL);
    int kills = 0, judge_kills = 0, st = -1;
    while (util_now_s() < deadline) {
        int gap = 1000 + (int)(rng_next(&rng) % 1000);
        int victim = (int)(rng_next(&rng) % (CHAOS_ACTORS + 1)); /* the last is the judge */
        if (s_sleep_unless_exit(C->launcher, gap, &st)) {
            C->launcher = 0;
            break;
        }
        if (s_lines(jsonl) > CHAOS_ITERATIONS) break; /* the learner is done; let it finish */
        char id[32];
        if (victim == CHAOS_ACTORS) snprintf(id, sizeof id, "judge-0");
        else snprintf(id, sizeof id, "actor-%d", victim);
        int hit = s_kill(C->launcher, id, t0, jsonl);
        kills += hit;
        judge_kills += hit && victim == CHAOS_ACTORS;
    }
    if (C->launcher) {
        st = s_wait_launcher(&C->launcher, deadline, chaos_log);
    } else {
        st = tu_exit_code(st);
        if (st != 0) tu_dump(chaos_log);
    }
    assert_int_equal(st, 0);
    assert_int_equal(s_wait_launcher(&C->calm, deadline, calm_log), 0);

    char *run = xasprintf("%s/chaos", C->dir), *calm = xasprintf("%s/calm", C->dir);
    run_counts_t n = s_check_jsonl(jsonl, CHAOS_ITERATIONS);
    fprintf(stderr, "chaos: %d kills (%d of the judge) in a %.1f s run (undisturbed alongside: %.1f s); %ld prompts "
            "re-issued, %ld judge failures, %ld stale, %ld bad messages\n", kills, judge_kills, s_run_seconds(chaos_log),
            s_run_seconds(calm_log), n.reissued, n.judge_failures, n.stale, n.bad);
    assert_int_equal(tu_check_records(run, CHAOS_ITERATIONS, CHAOS_PROMPTS, 1), CHAOS_ITERATIONS * CHAOS_PROMPTS);
    assert_int_equal(n.stale, 0);
    assert_int_equal(n.bad, 0);
    assert_true(kills >= 8);
    if (seed == CHAOS_SEED) assert_true(judge_kills >= 1); /* its second victim */
    s_check_launcher_log(chaos_log, kills, judge_kills);
    s_same_checkpoints(calm, run, CHAOS_ITERATIONS);
    free(run), free(calm), free(chaos_set), free(calm_set), free(jsonl), free(cfg), free(calm_log), free(chaos_log);
    C->passed = 1;
}

/* ---- multi-host ------------------------------------------------------------------------- */

/* Roles, each in its own namespace; the hub holds the bridge. Address 10.213.X.(role + 1). */
enum { MH_LEARNER, MH_JUDGE, MH_ACTOR0, MH_ACTOR1, MH_ROLES, MH_HUB = MH_ROLES };
static const char *const MH_NAMES[MH_ROLES] = {"learner", "judge", "actor-0", "actor-1"};

typedef struct {
    char ns[MH_ROLES + 1][32];
    int made[MH_ROLES + 1];
    pid_t pids[MH_ROLES];
    char ip_bin[64], net[32], err[256];
    char *dir;
    int passed, skipped;
} mh_t;

/* Deletes the namespaces an earlier run of this test left behind when it was killed (its pid
 * is gone): spar<PID>-<role>. */
static void s_mh_sweep(const char *ip_bin) {
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = 0, len = 0;
        char proc[64];
        if (sscanf(e->d_name, "spar%d-%n", &pid, &len) != 1 || len == 0 || pid <= 0) continue;
        int ours = 0;
        for (int r = 0; r <= MH_ROLES; r++) ours |= !strcmp(e->d_name + len, r < MH_ROLES ? MH_NAMES[r] : "hub");
        snprintf(proc, sizeof proc, "/proc/%d", pid);
        if (!ours || access(proc, F_OK) == 0) continue;
        char *cmd = xasprintf("%s netns del %s", ip_bin, e->d_name);
        fprintf(stderr, "multihost: deleting namespace %s, left by an earlier run\n", e->d_name);
        if (system(cmd) != 0) fprintf(stderr, "multihost: could not delete namespace %s\n", e->d_name);
        free(cmd);
    }
    if (d) closedir(d);
}

static int s_mh_setup(void **state) {
    mh_t *M = xcalloc(1, sizeof *M);
    M->dir = tu_tmpdir();
    int pid = (int)getpid();
    for (int r = 0; r < MH_ROLES; r++) snprintf(M->ns[r], sizeof M->ns[r], "spar%d-%s", pid, MH_NAMES[r]);
    snprintf(M->ns[MH_HUB], sizeof M->ns[MH_HUB], "spar%d-hub", pid);
    snprintf(M->net, sizeof M->net, "10.213.%d", pid % 250 + 1);
    snprintf(M->err, sizeof M->err, "%s/ip.err", M->dir);
    *state = M;
    return 0;
}

/* Kills what still runs, deletes the namespaces (their links go with them). */
static int s_mh_teardown(void **state) {
    mh_t *M = *state;
    for (int r = 0; r < MH_ROLES; r++)
        if (M->pids[r] > 0) {
            kill(M->pids[r], SIGKILL);
            waitpid(M->pids[r], NULL, 0);
        }
    for (int r = 0; r <= MH_ROLES; r++)
        if (M->made[r]) {
            char *cmd = xasprintf("%s netns del %s", M->ip_bin, M->ns[r]);
            if (system(cmd) != 0) fprintf(stderr, "multihost: could not delete namespace %s\n", M->ns[r]);
            free(cmd);
        }
    if (M->passed || M->skipped) {
        tu_done(M->dir);
    } else {
        fprintf(stderr, "multihost: the test failed; its run and logs are in %s\n", M->dir);
        free(M->dir);
    }
    free(M);
    return 0;
}

/* Runs an ip command (printf-style arguments after the binary), its errors in M->err. Returns
 * 0 or -1. */
__attribute__((format(printf, 2, 3))) static int s_ip(mh_t *M, const char *fmt, ...) {
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *cmd = xasprintf("%s %s >/dev/null 2>'%s'", M->ip_bin, args, M->err);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static void s_ip_must(mh_t *M, const char *what) {
    char *e = util_read_file(M->err, NULL);
    fail_msg("ip %s failed: %s", what, e ? e : "");
}

/* Skips the test with the reason on stderr: cmocka reports SKIPPED and the executable exits
 * TU_SKIP_CODE, which ctest counts as skipped (not passed). */
static void s_mh_skip(mh_t *M, const char *why) {
    char *e = util_read_file(M->err, NULL);
    fprintf(stderr, "multihost: SKIPPED: %s%s%s", why, e && e[0] ? ": " : "\n", e && e[0] ? e : "");
    free(e);
    M->skipped = 1;
    tu_skip();
}

/* The namespaces and the network: a veth pair from each role's namespace to the hub's bridge. */
static void s_mh_network(mh_t *M) {
    const char *cands[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};
    for (int i = 0; i < 4 && !M->ip_bin[0]; i++)
        if (access(cands[i], X_OK) == 0) snprintf(M->ip_bin, sizeof M->ip_bin, "%s", cands[i]);
    if (geteuid() != 0) s_mh_skip(M, "network namespaces need root");
    if (!M->ip_bin[0]) s_mh_skip(M, "no ip command (iproute2) found");
    s_mh_sweep(M->ip_bin);
    for (int r = 0; r <= MH_ROLES; r++) {
        if (s_ip(M, "netns add %s", M->ns[r]) != 0) s_mh_skip(M, "ip netns add is not available here");
        M->made[r] = 1;
    }
    const char *hub = M->ns[MH_HUB];
    if (s_ip(M, "-n %s link add br0 type bridge", hub) != 0) s_mh_skip(M, "cannot make a bridge");
    if (s_ip(M, "-n %s link set br0 up", hub) != 0) s_ip_must(M, "link set br0 up");
    for (int r = 0; r < MH_ROLES; r++) {
        const char *ns = M->ns[r];
        if (s_ip(M, "-n %s link add eth0 type veth peer name port%d netns %s", ns, r, hub) != 0)
            s_mh_skip(M, "cannot make a veth pair");
        if (s_ip(M, "-n %s addr add %s.%d/24 dev eth0", ns, M->net, r + 1) != 0) s_ip_must(M, "addr add");
        if (s_ip(M, "-n %s link set eth0 up", ns) != 0 || s_ip(M, "-n %s link set lo up", ns) != 0)
            s_ip_must(M, "link set up");
        if (s_ip(M, "-n %s link set port%d master br0 up", hub, r) != 0) s_ip_must(M, "link set master br0");
    }
}

/* The inode of a network namespace: of a process, or of a named one (/run/netns/NAME). */
static unsigned long s_netns_of_pid(pid_t pid) {
    char path[64], link[64] = "";
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0) return 0;
    link[n] = '\0';
    unsigned long ino = 0;
    return sscanf(link, "net:[%lu]", &ino) == 1 ? ino : 0;
}

static unsigned long s_netns_named(const char *name) {
    char *path = xasprintf("/run/netns/%s", name);
    struct stat sb;
    int rc = stat(path, &sb);
    free(path);
    return rc == 0 ? (unsigned long)sb.st_ino : 0;
}

/* The hosts of M->net (a bit per last address byte) with an established TCP connection to the
 * local port `port` in the network namespace of pid, read from its /proc/PID/net/tcp. With port
 * 0: the hosts of M->net on either end of any socket there. */
static uint64_t s_tcp_peers(const mh_t *M, pid_t pid, int port) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/net/tcp", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    struct in_addr net;
    char base[40];
    snprintf(base, sizeof base, "%s.0", M->net);
    inet_pton(AF_INET, base, &net);
    uint64_t hosts = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned la, lp, ra, rp, st; /* addresses as the kernel prints them: the raw network-order word */
        if (sscanf(line, " %*u: %8x:%4x %8x:%4x %2x", &la, &lp, &ra, &rp, &st) != 5) continue;
        uint32_t l = ntohl(la), r = ntohl(ra), n = ntohl(net.s_addr);
        if (port == 0) {
            if ((l >> 8) == (n >> 8)) hosts |= 1ull << (l & 63);
            if ((r >> 8) == (n >> 8)) hosts |= 1ull << (r & 63);
        } else if ((int)lp == port && st == 1 /* ESTABLISHED */ && (r >> 8) == (n >> 8)) {
            hosts |= 1ull << (r & 63);
        }
    }
    fclose(f);
    return hosts;
}

/* Starts each role as `ip netns exec NS spar ROLE` with tcp:// endpoints on the bridge's network;
 * their output in logs[role]. */
static void s_mh_start(mh_t *M, const char *cfg, char *logs[MH_ROLES]) {
    char *control = xasprintf("learner.control=tcp://%s.1:5555", M->net);
    char *publish = xasprintf("learner.publish=tcp://%s.1:5556", M->net);
    char *bind = xasprintf("judge.bind=tcp://%s.2:5557", M->net);
    char *judges = xasprintf("judge.endpoints=tcp://%s.2:5557", M->net);
    for (int r = 0; r < MH_ROLES; r++) {
        logs[r] = xasprintf("%s/%s.log", M->dir, MH_NAMES[r]);
        const char *role = r == MH_LEARNER ? "learner" : r == MH_JUDGE ? "judge" : "actor";
        char *argv[20] = {M->ip_bin, "netns", "exec", M->ns[r], SPAR_BIN, (char *)role, "--config", (char *)cfg,
                          "--id", (char *)MH_NAMES[r]};
        char *sets[3] = {r == MH_JUDGE ? bind : control, r == MH_JUDGE ? NULL : publish, r >= MH_ACTOR0 ? judges : NULL};
        int a = 10;
        for (int i = 0; i < 3; i++)
            if (sets[i]) {
                argv[a++] = "--set";
                argv[a++] = sets[i];
            }
        argv[a] = NULL;
        M->pids[r] = tu_spawnv(NULL, logs[r], argv);
    }
    free(control), free(publish), free(bind), free(judges);
}

/* The roles really are apart: each process is in its own namespace, the learner hears from both
 * actors, over TCP from the actors' addresses, on connections the root namespace does not have. */
static void s_mh_check_apart(mh_t *M, char *logs[MH_ROLES]) {
    /* `ip netns exec` enters the namespace and execs spar in place: the pid is spar's */
    for (int r = 0; r < MH_ROLES; r++) {
        unsigned long want = s_netns_named(M->ns[r]), have = 0;
        assert_true(want != 0 && want != s_netns_of_pid(getpid()));
        for (int i = 0; i < 500 && (have = s_netns_of_pid(M->pids[r])) != want; i++) util_sleep_ms(10);
        if (have != want) fail_msg("%s (pid %d) is not in namespace %s", MH_NAMES[r], (int)M->pids[r], M->ns[r]);
    }
    /* the actors' ids carry the pids checked above */
    for (int r = MH_ACTOR0; r <= MH_ACTOR1; r++) {
        char *joined = xasprintf("peer %s.%d@", MH_NAMES[r], (int)M->pids[r]); /* BASE.PID@HOST */
        int64_t end = util_now_ms() + 30000;
        while (!tu_file_contains(logs[MH_LEARNER], joined) && util_now_ms() < end) util_sleep_ms(20);
        if (!tu_file_contains(logs[MH_LEARNER], joined)) tu_dump(logs[MH_LEARNER]), tu_dump(logs[r]);
        assert_true(tu_file_contains(logs[MH_LEARNER], joined));
        free(joined);
    }
    /* the learner's control (.1:5555) and publish (.1:5556) and the judge's (.2:5557) sockets are
     * connected from the actors' addresses (.3, .4); the root namespace has no socket on that
     * network. (Connecting from here would prove nothing: a gateway may accept any address.) */
    uint64_t actors = 1ull << (MH_ACTOR0 + 1) | 1ull << (MH_ACTOR1 + 1), seen[3] = {0, 0, 0};
    const pid_t owner[3] = {M->pids[MH_LEARNER], M->pids[MH_LEARNER], M->pids[MH_JUDGE]};
    const int port[3] = {5555, 5556, 5557};
    int64_t end = util_now_ms() + 30000;
    for (int i = 0; i < 3; i++)
        while ((seen[i] = s_tcp_peers(M, owner[i], port[i])) != actors && util_now_ms() < end) util_sleep_ms(5);
    for (int i = 0; i < 3; i++)
        if (seen[i] != actors)
            fail_msg("port %d: connections from hosts %#llx of %s.0/24, expected the actors' %#llx", port[i],
                     (unsigned long long)seen[i], M->net, (unsigned long long)actors);
    assert_int_equal(s_tcp_peers(M, getpid(), 0), 0);
    fprintf(stderr, "multihost: learner (pid %d) and judge (pid %d) hold TCP connections from %s.3 and %s.4, the "
            "actors' namespaces; the root namespace none\n", (int)M->pids[MH_LEARNER], (int)M->pids[MH_JUDGE], M->net,
            M->net);
}

static void test_cluster_multihost(void **state) {
    mh_t *M = *state;
    s_mh_network(M);
    fprintf(stderr, "multihost: namespaces %s .. %s, network %s.0/24 on a bridge\n", M->ns[0], M->ns[MH_HUB], M->net);
    char *cfg = xasprintf("%s/cfg.yaml", M->dir), *run = xasprintf("%s/run", M->dir);
    char *yaml = xasprintf("run:\n  name: multihost\n  dir: %s\n  iterations: 4\n"
                           "rollout:\n  samples_per_prompt: 16\n"
                           "learner:\n  prompts_per_lease: 2\n  lease_timeout_ms: 2000\n"
                           "actor:\n  delay_ms: 50\n",
                           run);
    tu_write(cfg, yaml);
    free(yaml);
    char *logs[MH_ROLES];
    s_mh_start(M, cfg, logs);
    s_mh_check_apart(M, logs);

    int st = tu_wait(M->pids[MH_LEARNER], 120000);
    M->pids[MH_LEARNER] = 0;
    if (tu_exit_code(st) != 0) tu_dump(logs[MH_LEARNER]), tu_dump(logs[MH_ACTOR0]);
    assert_int_equal(tu_exit_code(st), 0);
    for (int r = MH_ACTOR0; r <= MH_ACTOR1; r++) {
        st = tu_wait(M->pids[r], 15000);
        M->pids[r] = 0;
        if (tu_exit_code(st) != 0) tu_dump(logs[r]);
        assert_int_equal(tu_exit_code(st), 0);
    }
    kill(M->pids[MH_JUDGE], SIGTERM);
    st = tu_wait(M->pids[MH_JUDGE], 10000);
    M->pids[MH_JUDGE] = 0;
    assert_int_equal(tu_exit_code(st), 0);

    char *jsonl = xasprintf("%s/iterations.jsonl", run);
    run_counts_t n = s_check_jsonl(jsonl, 4);
    assert_int_equal(n.bad, 0);
    assert_int_equal(tu_check_records(run, 4, 16, 1), 4 * 16);
    free(jsonl);
    for (int r = 0; r < MH_ROLES; r++) free(logs[r]);
    free(cfg), free(run);
    M->passed = 1;
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cluster_chaos, s_chaos_setup, s_chaos_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_multihost, s_mh_setup, s_mh_teardown),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
