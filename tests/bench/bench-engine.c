/* End-to-end benchmark of flowcorod against a private redis-server: the
 * real daemon, the real plugins, the reliable fetch. Prints its figures
 * (docs/engine.md has them and the command).
 *
 *   noop        drain N Noop jobs at each concurrency (jobs/s)
 *   sleep       drain 20,000 Sleep [100 ms] jobs at concurrency 20,000 (s)
 *   latency     enqueue-to-start of Stamp jobs at fixed offered loads
 *               (p50/p99/p999 in ms)
 *               and of single jobs pushed to an idle daemon
 *   idle        Redis commands per second an idle daemon sends
 *   peers       (--peers) the same drains by BullMQ and Sidekiq 6.4.1 on the
 *               same Redis in the same run (tests/bench/peers/), at several
 *               concurrency settings each; the table gives FlowCoro's ratio
 *               to each peer's best
 *   rounds      (--rounds N, alone) FlowCoro's and BullMQ's Noop drains back
 *               to back N times, and FlowCoro's Sleep drain, so that both
 *               meet the same phases of a drifting machine: each round's
 *               ratio, their median and lowest
 *
 * Options for tests/bench/report (each only adds figures; without them the
 * output above is unchanged):
 *   --concurrency LIST        the Noop drain's concurrency levels (100,1000,10000)
 *   --sleep-concurrency LIST  Sleep drains at these levels too, min(20,000, 10 x level) jobs each
 *   --latency-rates LIST      the latency figure's offered loads (100,1000,10000); each runs
 *                             min(5, max(1, 30,000 / rate)) seconds; also prints the rate the
 *                             client really sent at
 *   --idle-jobs N             jobs of the idle-daemon latency figure (100)
 *   --peer-jobs N             Noop jobs of the peers and of --rounds (200,000)
 *   --daemons N (alone)       the Noop drain (--jobs, concurrency 1,000 each) by N daemons on one
 *                             Redis: CPU seconds per 100k jobs of all daemons and of Redis
 *   --memory LIST (alone)     RSS of a daemon holding N sleeping jobs, less its idle RSS, / N
 *
 * Jobs are enqueued into a staging list and RENAMEd into queue:default in
 * one step, so the daemon sees all of them at once and enqueueing is not
 * timed. CPU seconds of the daemon and of Redis come from /proc. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/daemon.h"

static fc_test_redis_t redis;
static redisContext *rc;
static bool json_out;
static unsigned n_daemons = 1;         /* daemons a drain starts (--daemons) */
static size_t peer_noop_jobs = 200000; /* --peer-jobs */
static bool show_sent_rate;            /* --latency-rates: also the rate the LPUSHes were sent at */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t epoch_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* utime + stime of a process, in seconds. */
static double cpu_seconds(pid_t pid) {
        char path[64], buf[2048];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return NAN;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        for (int field = 3; p && field <= 14; field++)
                p = strchr(p + 1, ' ');
        if (!p || sscanf(p + 1, "%llu %llu", &ut, &st) != 2)
                return NAN;
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void must(redisReply *r) {
        if (!r || r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "bench-engine: Redis: %s\n", r ? r->str : rc->errstr);
                exit(1);
        }
        freeReplyObject(r);
}

/* Pushes n jobs made by make(i, buf) onto the staging list, 1000 per
 * LPUSH, pipelined. */
static void stage(size_t n, void (*make)(size_t i, char *buf, size_t size)) {
        const size_t per = 1000;
        const char **argv = malloc((per + 2) * sizeof(*argv));
        char (*jobs)[160] = malloc(per * sizeof(*jobs));
        size_t pending = 0;
        for (size_t i = 0; i < n; i += per) {
                size_t k = n - i < per ? n - i : per;
                argv[0] = "LPUSH";
                argv[1] = "staging";
                for (size_t j = 0; j < k; j++) {
                        make(i + j, jobs[j], sizeof(jobs[j]));
                        argv[2 + j] = jobs[j];
                }
                redisAppendCommandArgv(rc, (int)k + 2, argv, NULL);
                if (++pending == 50 || i + k >= n) {
                        while (pending--) {
                                redisReply *r;
                                if (redisGetReply(rc, (void **)&r) != REDIS_OK)
                                        must(NULL);
                                must(r);
                        }
                        pending = 0;
                }
        }
        free(argv);
        free(jobs);
}

static void make_noop(size_t i, char *buf, size_t size) {
        snprintf(buf, size, "{\"class\":\"Noop\",\"args\":[],\"jid\":\"%024zx\",\"retry\":true}", i);
}

static void make_sleep(size_t i, char *buf, size_t size) {
        snprintf(buf, size, "{\"class\":\"Sleep\",\"args\":[100],\"jid\":\"%024zx\",\"retry\":true}", i);
}

/* The daemons' in-flight hashes (their identities are the processes), or
 * -1 until all n_daemons have named themselves. */
static long long in_flight(void) {
        redisReply *r = redisCommand(rc, "SMEMBERS processes");
        long long n = -1;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == n_daemons) {
                n = 0;
                for (size_t i = 0; i < r->elements; i++)
                        n += fc_test_redis_int(rc, "HLEN flowcoro:inflight:%s", r->element[i]->str);
        }
        freeReplyObject(r);
        return n;
}

typedef struct drain {
        size_t jobs;
        unsigned concurrency;
        double seconds, daemon_cpu, redis_cpu;
} drain_t;

/* Starts a daemon, releases the staged jobs and waits until the queue and
 * the in-flight hash are empty. */
static void drain(drain_t *d, const char *extra) {
        fc_test_daemon_t daemons[8];
        char config[256];
        snprintf(config, sizeof(config), "concurrency: %u\nshutdown_timeout: 1s\n%s",
                 d->concurrency, extra ? extra : "");
        for (unsigned i = 0; i < n_daemons; i++)
                if (fc_test_daemon_start(&daemons[i], &redis, config, NULL) < 0)
                        exit(1);
        while (in_flight() < 0) /* the first heartbeat names it */
                sleep_ms(5);
        double cpu0 = 0, rcpu0 = cpu_seconds(redis.pid);
        for (unsigned i = 0; i < n_daemons; i++)
                cpu0 += cpu_seconds(daemons[i].pid);
        double t0 = now_s();
        must(redisCommand(rc, "RENAME staging queue:default"));
        for (;;) {
                long long queued = fc_test_redis_int(rc, "LLEN queue:default");
                if (queued == 0 && in_flight() == 0)
                        break;
                sleep_ms(2);
        }
        d->seconds = now_s() - t0;
        d->daemon_cpu = -cpu0;
        for (unsigned i = 0; i < n_daemons; i++)
                d->daemon_cpu += cpu_seconds(daemons[i].pid);
        d->redis_cpu = cpu_seconds(redis.pid) - rcpu0;
        for (unsigned i = 0; i < n_daemons; i++) {
                fc_test_daemon_stop(&daemons[i]);
                if (daemons[i].exit_code != 0) {
                        fprintf(stderr, "bench-engine: flowcorod exited with %d\n", daemons[i].exit_code);
                        exit(1);
                }
        }
}

static void make_long_sleep(size_t i, char *buf, size_t size) {
        snprintf(buf, size, "{\"class\":\"Sleep\",\"args\":[60000],\"jid\":\"%024zx\",\"retry\":true}", i);
}

/* Memory per in-flight job: a daemon at concurrency n, idle, then holding
 * n Sleep jobs of 60 s; (RSS with them - idle RSS) / n. The jobs go back
 * to their queue when it stops. */
static void memory(unsigned n) {
        fc_test_daemon_t daemon;
        char config[128];
        must(redisCommand(rc, "FLUSHALL"));
        stage(n, make_long_sleep);
        snprintf(config, sizeof(config), "concurrency: %u\nshutdown_timeout: 1s\n", n);
        if (fc_test_daemon_start(&daemon, &redis, config, NULL) < 0)
                exit(1);
        while (in_flight() < 0)
                sleep_ms(5);
        sleep_ms(500);
        long idle_kib = fc_test_daemon_rss_kib(&daemon);
        must(redisCommand(rc, "RENAME staging queue:default"));
        double give_up = now_s() + 60;
        while (in_flight() < (long long)n && now_s() < give_up)
                sleep_ms(10);
        if (in_flight() < (long long)n) {
                fprintf(stderr, "bench-engine: %u sleeping jobs did not all start within 60 s\n", n);
                exit(1);
        }
        sleep_ms(500); /* every coroutine has run to its sleep */
        long busy_kib = fc_test_daemon_rss_kib(&daemon);
        double per = (double)(busy_kib - idle_kib) / n;
        if (json_out)
                printf("{\"bench\":\"memory\",\"jobs\":%u,\"idle_rss_kib\":%ld,\"rss_kib\":%ld,"
                       "\"kib_per_job\":%.2f}\n", n, idle_kib, busy_kib, per);
        else
                printf("memory %6u sleeping jobs: RSS %ld KiB (idle %ld KiB): %.2f KiB per in-flight job\n",
                       n, busy_kib, idle_kib, per);
        fflush(stdout);
        fc_test_daemon_stop(&daemon);
}

/* Parses "A,B,C" (each 1..max) into out (at most cap); returns the count, or
 * 0 on a bad list. */
static size_t parse_list(const char *s, unsigned *out, size_t cap, unsigned long max) {
        size_t n = 0;
        while (*s && n < cap) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(s, &end, 10);
                if (errno || end == s || v == 0 || v > max || (*end && *end != ','))
                        return 0;
                out[n++] = (unsigned)v;
                s = *end ? end + 1 : end;
        }
        return *s ? 0 : n;
}

static void print_drain(const char *name, const drain_t *d) {
        double rate = (double)d->jobs / d->seconds;
        if (json_out)
                printf("{\"bench\":\"%s\",\"jobs\":%zu,\"concurrency\":%u,\"seconds\":%.3f,\"jobs_per_s\":%.0f,"
                       "\"daemon_cpu_s_per_100k\":%.3f,\"redis_cpu_s_per_100k\":%.3f}\n",
                       name, d->jobs, d->concurrency, d->seconds, rate, d->daemon_cpu * 1e5 / (double)d->jobs,
                       d->redis_cpu * 1e5 / (double)d->jobs);
        else
                printf("%-6s %8zu jobs  concurrency %6u  %7.3f s  %9.0f jobs/s  cpu per 100k: daemon %.2f s, "
                       "redis %.2f s\n",
                       name, d->jobs, d->concurrency, d->seconds, rate, d->daemon_cpu * 1e5 / (double)d->jobs,
                       d->redis_cpu * 1e5 / (double)d->jobs);
        fflush(stdout);
}

static int compare_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* Enqueues Stamp jobs at rate per second for seconds, one LPUSH each (as a
 * client would), then reads when each started. */
static void latency(unsigned rate, double seconds) {
        fc_test_daemon_t daemon;
        must(redisCommand(rc, "FLUSHALL"));
        if (fc_test_daemon_start(&daemon, &redis, "concurrency: 1000\n", NULL) < 0)
                exit(1);
        sleep_ms(1500); /* let it go idle: the first jobs meet the idle poll */
        size_t n = (size_t)(rate * seconds);
        int64_t *enq = calloc(n, sizeof(*enq));
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
                double due = t0 + (double)i / rate;
                double wait = due - now_s();
                if (wait > 0.0002)
                        sleep_ms((long)(wait * 1000));
                char job[160];
                enq[i] = epoch_us();
                snprintf(job, sizeof(job), "{\"class\":\"Stamp\",\"args\":[\"stamps\"],\"jid\":\"%zu\"}", i);
                must(redisCommand(rc, "LPUSH queue:default %s", job));
        }
        double sent_per_s = (double)n / (now_s() - t0);
        while (fc_test_redis_int(rc, "HLEN stamps") < (long long)n)
                sleep_ms(10);
        int64_t *lat = calloc(n, sizeof(*lat));
        for (size_t i = 0; i < n; i++)
                lat[i] = fc_test_redis_int(rc, "HGET stamps %llu", (unsigned long long)i) - enq[i];
        qsort(lat, n, sizeof(*lat), compare_i64);
        double p50 = (double)lat[n / 2] / 1000, p99 = (double)lat[n * 99 / 100] / 1000,
               p999 = (double)lat[n * 999 / 1000] / 1000;
        if (json_out)
                printf("{\"bench\":\"latency\",\"rate\":%u,\"jobs\":%zu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
                       "\"p999_ms\":%.2f}\n", rate, n, p50, p99, p999);
        else
                printf("latency %6u jobs/s offered, %6zu jobs: p50 %.2f ms  p99 %.2f ms  p999 %.2f ms\n", rate, n,
                       p50, p99, p999);
        if (show_sent_rate && json_out) /* did the one-connection client keep up with the rate? */
                printf("{\"bench\":\"latency_sent\",\"rate\":%u,\"sent_per_s\":%.0f}\n", rate, sent_per_s);
        else if (show_sent_rate)
                printf("latency %6u jobs/s offered: %.0f jobs/s sent\n", rate, sent_per_s);
        fflush(stdout);
        free(enq);
        free(lat);
        fc_test_daemon_stop(&daemon);
}

/* A job pushed to an idle daemon (queues empty for 400 ms, so the fetcher
 * has backed off to its slowest poll): when does it start? */
static void latency_idle(size_t n) {
        fc_test_daemon_t daemon;
        must(redisCommand(rc, "FLUSHALL"));
        if (fc_test_daemon_start(&daemon, &redis, NULL, NULL) < 0)
                exit(1);
        int64_t *lat = calloc(n, sizeof(*lat));
        for (size_t i = 0; i < n; i++) {
                sleep_ms(400);
                char job[160];
                snprintf(job, sizeof(job), "{\"class\":\"Stamp\",\"args\":[\"stamps\"],\"jid\":\"%zu\"}", i);
                int64_t enq = epoch_us();
                must(redisCommand(rc, "LPUSH queue:default %s", job));
                while (fc_test_redis_int(rc, "HEXISTS stamps %llu", (unsigned long long)i) != 1)
                        sleep_ms(1);
                lat[i] = fc_test_redis_int(rc, "HGET stamps %llu", (unsigned long long)i) - enq;
        }
        qsort(lat, n, sizeof(*lat), compare_i64);
        double p50 = (double)lat[n / 2] / 1000, p99 = (double)lat[n * 99 / 100] / 1000,
               max = (double)lat[n - 1] / 1000;
        if (json_out)
                printf("{\"bench\":\"latency_idle\",\"jobs\":%zu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
                       n, p50, p99, max);
        else
                printf("latency to an idle daemon, %zu jobs 400 ms apart: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", n,
                       p50, p99, max);
        fflush(stdout);
        free(lat);
        fc_test_daemon_stop(&daemon);
}

/* Commands per second an idle daemon sends Redis, counted with MONITOR
 * (commands its Lua scripts run inside Redis are listed as "lua" there and
 * not counted: the script is the one command sent), and all commands Redis
 * executes (INFO's total, scripts' inner commands included). */
static void idle(void) {
        fc_test_daemon_t daemon;
        must(redisCommand(rc, "FLUSHALL"));
        if (fc_test_daemon_start(&daemon, &redis, NULL, NULL) < 0)
                exit(1);
        sleep_ms(2000);
        const double window = 10;
        redisContext *mon = fc_test_redis_connect(&redis);
        struct timeval tick = {.tv_usec = 100000};
        redisSetTimeout(mon, tick);
        must(redisCommand(mon, "MONITOR"));
        long long before = 0, after = 0, sent = 0;
        redisReply *r = redisCommand(rc, "INFO stats");
        sscanf(strstr(r->str, "total_commands_processed:"), "total_commands_processed:%lld", &before);
        freeReplyObject(r);
        double end = now_s() + window;
        while (now_s() < end) {
                redisReply *line = NULL;
                if (redisGetReply(mon, (void **)&line) != REDIS_OK) {
                        if (mon->err != REDIS_ERR_IO)
                                break;
                        mon->err = 0; /* the 100 ms read timeout: go on */
                        continue;
                }
                if (line && line->type == REDIS_REPLY_STATUS && !strstr(line->str, " lua]") &&
                    !strstr(line->str, "\"INFO\""))
                        sent++;
                freeReplyObject(line);
        }
        r = redisCommand(rc, "INFO stats");
        sscanf(strstr(r->str, "total_commands_processed:"), "total_commands_processed:%lld", &after);
        freeReplyObject(r);
        redisFree(mon);
        double executed = (double)(after - before - 1) / window; /* the first INFO counts */
        if (json_out)
                printf("{\"bench\":\"idle\",\"commands_sent_per_s\":%.1f,\"commands_executed_per_s\":%.1f}\n",
                       (double)sent / window, executed);
        else
                printf("idle   %.1f commands/s sent by an idle daemon (%.1f/s executed by Redis, Lua scripts' inner "
                       "commands included), over %.0f s\n",
                       (double)sent / window, executed, window);
        fflush(stdout);
        fc_test_daemon_stop(&daemon);
}

/* One peer run: tests/bench/peers/run-peer PEER ... against this Redis's
 * TCP port. Returns jobs/s (and *seconds), or a negative number when the
 * peer failed (its stderr shows why). */
static double run_peer(const char *peer, const char *workload, size_t jobs, unsigned concurrency,
                       const char *extra, double *seconds) {
        char cmd[1024], line[1024];
        must(redisCommand(rc, "FLUSHALL"));
        snprintf(cmd, sizeof(cmd),
                 "%s/run-peer %s --redis redis://127.0.0.1:%d --workload %s --jobs %zu --concurrency %u %s",
                 PEERS_DIR, peer, redis.port, workload, jobs, concurrency, extra ? extra : "");
        FILE *f = popen(cmd, "r");
        double rate = -1;
        *seconds = -1;
        while (f && fgets(line, sizeof(line), f)) {
                const char *r = strstr(line, "\"jobs_per_s\":"), *s = strstr(line, "\"seconds\":");
                if (r && s) {
                        rate = strtod(r + 13, NULL);
                        *seconds = strtod(s + 10, NULL);
                }
        }
        if (!f || pclose(f) != 0)
                rate = -1;
        return rate;
}

typedef struct peer_run {
        const char *peer, *workload;
        size_t jobs;
        unsigned concurrency;
        const char *extra; /* more run-peer flags */
} peer_run_t;

/* The peers at the settings that gave each its best on this machine
 * (tests/bench/peers/README.md), and around them. */
static const peer_run_t peer_runs[] = {
        {"bullmq", "noop", 200000, 10, NULL},
        {"bullmq", "noop", 200000, 50, NULL},
        {"bullmq", "noop", 200000, 200, NULL},
        {"sidekiq", "noop", 200000, 10, NULL},
        {"sidekiq", "noop", 200000, 10, "--procs 2"},
        {"bullmq", "sleep", 20000, 1000, "--workers 4"},
        {"bullmq", "sleep", 20000, 2000, "--workers 4"},
        {"sidekiq", "sleep", 20000, 200, NULL},
        {"sidekiq", "sleep", 20000, 1000, "--procs 2"},
};

static void peers(double flowcoro_noop, double flowcoro_sleep_s) {
        double best[2][2] = {{0, 0}, {1e9, 1e9}}; /* [noop rate | sleep seconds][bullmq, sidekiq] */
        for (size_t i = 0; i < sizeof(peer_runs) / sizeof(peer_runs[0]); i++) {
                const peer_run_t *p = &peer_runs[i];
                size_t jobs = strcmp(p->workload, "noop") == 0 ? peer_noop_jobs : p->jobs;
                double seconds;
                double rate = run_peer(p->peer, p->workload, jobs, p->concurrency, p->extra, &seconds);
                int who = strcmp(p->peer, "bullmq") == 0 ? 0 : 1;
                bool noop = strcmp(p->workload, "noop") == 0;
                if (rate > 0 && noop && rate > best[0][who])
                        best[0][who] = rate;
                if (rate > 0 && !noop && seconds < best[1][who])
                        best[1][who] = seconds;
                if (json_out)
                        printf("{\"bench\":\"peer\",\"peer\":\"%s\",\"workload\":\"%s\",\"jobs\":%zu,"
                               "\"concurrency\":%u,\"extra\":\"%s\",\"seconds\":%.3f,\"jobs_per_s\":%.0f}\n",
                               p->peer, p->workload, jobs, p->concurrency, p->extra ? p->extra : "", seconds,
                               rate);
                else
                        printf("peer   %-7s %-5s %6zu jobs  concurrency %5u %-10s %7.3f s  %9.0f jobs/s\n", p->peer,
                               p->workload, jobs, p->concurrency, p->extra ? p->extra : "", seconds, rate);
                fflush(stdout);
        }
        if (!json_out) {
                printf("\nratio  noop jobs/s: FlowCoro %.0f, BullMQ %.0f (x%.1f), Sidekiq %.0f (x%.1f)\n",
                       flowcoro_noop, best[0][0], flowcoro_noop / best[0][0], best[0][1],
                       flowcoro_noop / best[0][1]);
                printf("ratio  20,000 x 100 ms sleep, seconds: FlowCoro %.2f, BullMQ %.2f (x%.1f), Sidekiq %.2f "
                       "(x%.1f)\n",
                       flowcoro_sleep_s, best[1][0], best[1][0] / flowcoro_sleep_s, best[1][1],
                       best[1][1] / flowcoro_sleep_s);
        }
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* FlowCoro's Noop drain (concurrency 1000) and BullMQ's at its best setting
 * (concurrency 50), back to back, n times: on a machine whose speed drifts
 * (shared cores), both meet the same phases, and each round's ratio is a
 * fair comparison. Prints every round, then the median and the lowest
 * ratio. The 20,000-job Sleep drain is timed in each round too. */
static void head_to_head(unsigned n) {
        double ratio[n], sleep_s[n];
        for (unsigned r = 0; r < n; r++) {
                drain_t d = {.jobs = peer_noop_jobs, .concurrency = 1000};
                must(redisCommand(rc, "FLUSHALL"));
                stage(d.jobs, make_noop);
                drain(&d, NULL);
                double flowcoro = (double)d.jobs / d.seconds, seconds;
                double bullmq = run_peer("bullmq", "noop", peer_noop_jobs, 50, NULL, &seconds);
                drain_t z = {.jobs = 20000, .concurrency = 20000};
                must(redisCommand(rc, "FLUSHALL"));
                stage(z.jobs, make_sleep);
                drain(&z, NULL);
                if (bullmq <= 0) {
                        fprintf(stderr, "bench-engine: the BullMQ run failed\n");
                        exit(1);
                }
                ratio[r] = flowcoro / bullmq;
                sleep_s[r] = z.seconds;
                if (json_out)
                        printf("{\"bench\":\"round\",\"round\":%u,\"flowcoro_noop_jobs_per_s\":%.0f,"
                               "\"bullmq_noop_jobs_per_s\":%.0f,\"ratio\":%.2f,\"flowcoro_sleep_s\":%.3f}\n",
                               r + 1, flowcoro, bullmq, ratio[r], sleep_s[r]);
                else
                        printf("round %u  noop: FlowCoro %7.0f jobs/s, BullMQ %6.0f jobs/s: x%.1f   "
                               "20,000 x 100 ms sleep: %.3f s\n",
                               r + 1, flowcoro, bullmq, ratio[r], sleep_s[r]);
                fflush(stdout);
        }
        qsort(ratio, n, sizeof(double), compare_double);
        qsort(sleep_s, n, sizeof(double), compare_double);
        if (!json_out)
                printf("rounds %u  noop ratio to BullMQ: median x%.1f, lowest x%.1f   sleep drain: median %.3f s, "
                       "highest %.3f s\n",
                       n, ratio[n / 2], ratio[0], sleep_s[n / 2], sleep_s[n - 1]);
}

int main(int argc, char **argv) {
        size_t noop_jobs = 200000, idle_jobs = 100;
        const char *only = NULL;
        bool with_peers = false;
        unsigned rounds = 0, daemons = 0;
        unsigned levels[16] = {100, 1000, 10000}, sleep_levels[16], rates[16] = {100, 1000, 10000}, mem[16];
        size_t n_levels = 3, n_sleep_levels = 0, n_rates = 3, n_mem = 0;
        double best_noop = 0, sleep_s = 0;
        bool ok = true;
        for (int i = 1; i < argc && ok; i++) {
                const char *next = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(argv[i], "--json") == 0)
                        json_out = true;
                else if (strcmp(argv[i], "--jobs") == 0 && next)
                        noop_jobs = strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--only") == 0 && next)
                        only = argv[++i];
                else if (strcmp(argv[i], "--peers") == 0)
                        with_peers = true;
                else if (strcmp(argv[i], "--rounds") == 0 && next && atoi(next) > 0 && atoi(next) <= 100)
                        rounds = (unsigned)atoi(argv[++i]);
                else if (strcmp(argv[i], "--concurrency") == 0 && next)
                        ok = (n_levels = parse_list(argv[++i], levels, 16, 1000000)) > 0;
                else if (strcmp(argv[i], "--sleep-concurrency") == 0 && next)
                        ok = (n_sleep_levels = parse_list(argv[++i], sleep_levels, 16, 1000000)) > 0;
                else if (strcmp(argv[i], "--latency-rates") == 0 && next) {
                        ok = (n_rates = parse_list(argv[++i], rates, 16, 100000)) > 0;
                        show_sent_rate = true;
                } else if (strcmp(argv[i], "--memory") == 0 && next)
                        ok = (n_mem = parse_list(argv[++i], mem, 16, 100000)) > 0;
                else if (strcmp(argv[i], "--idle-jobs") == 0 && next && atoi(next) > 0 && atoi(next) <= 10000)
                        idle_jobs = (size_t)atoi(argv[++i]);
                else if (strcmp(argv[i], "--peer-jobs") == 0 && next && atoi(next) >= 10 &&
                         atoi(next) <= 10000000)
                        peer_noop_jobs = (size_t)atoi(argv[++i]);
                else if (strcmp(argv[i], "--daemons") == 0 && next && atoi(next) > 0 && atoi(next) <= 8)
                        daemons = (unsigned)atoi(argv[++i]);
                else
                        ok = false;
        }
        if (!ok) {
                fprintf(stderr, "usage: bench-engine [--json] [--jobs N] [--only noop|sleep|latency|idle] "
                                "[--peers] [--rounds N (1-100)]\n"
                                "       [--concurrency LIST] [--sleep-concurrency LIST] "
                                "[--latency-rates LIST] [--idle-jobs N] [--peer-jobs N]\n"
                                "       [--daemons N (1-8)] [--memory LIST]   (LIST: numbers with commas, "
                                "e.g. 100,1000)\n");
                return 64;
        }
        if (fc_test_redis_start(&redis, NULL) < 0 || !(rc = fc_test_redis_connect(&redis)))
                return 1;
        if (rounds) {
                head_to_head(rounds);
                goto done;
        }
        if (daemons) {
                n_daemons = daemons;
                drain_t d = {.jobs = noop_jobs, .concurrency = 1000};
                must(redisCommand(rc, "FLUSHALL"));
                stage(d.jobs, make_noop);
                drain(&d, NULL);
                if (json_out)
                        printf("{\"bench\":\"daemons\",\"daemons\":%u,\"jobs\":%zu,\"concurrency\":%u,"
                               "\"seconds\":%.3f,\"jobs_per_s\":%.0f,\"daemon_cpu_s_per_100k\":%.3f,"
                               "\"redis_cpu_s_per_100k\":%.3f}\n",
                               daemons, d.jobs, d.concurrency, d.seconds, (double)d.jobs / d.seconds,
                               d.daemon_cpu * 1e5 / (double)d.jobs, d.redis_cpu * 1e5 / (double)d.jobs);
                else {
                        printf("daemons %u, concurrency 1000 each: ", daemons);
                        print_drain("noop", &d);
                }
                goto done;
        }
        if (n_mem) {
                for (size_t i = 0; i < n_mem; i++)
                        memory(mem[i]);
                goto done;
        }
        if (!only || strcmp(only, "noop") == 0) {
                for (size_t i = 0; i < n_levels; i++) {
                        drain_t d = {.jobs = noop_jobs, .concurrency = levels[i]};
                        must(redisCommand(rc, "FLUSHALL"));
                        stage(d.jobs, make_noop);
                        drain(&d, NULL);
                        print_drain("noop", &d);
                        if ((double)d.jobs / d.seconds > best_noop)
                                best_noop = (double)d.jobs / d.seconds;
                }
        }
        if (!only || strcmp(only, "sleep") == 0) {
                drain_t d = {.jobs = 20000, .concurrency = 20000};
                must(redisCommand(rc, "FLUSHALL"));
                stage(d.jobs, make_sleep);
                drain(&d, NULL);
                print_drain("sleep", &d);
                sleep_s = d.seconds;
                for (size_t i = 0; i < n_sleep_levels; i++) {
                        drain_t e = {.jobs = sleep_levels[i] < 2000 ? 10 * (size_t)sleep_levels[i] : 20000,
                                     .concurrency = sleep_levels[i]};
                        must(redisCommand(rc, "FLUSHALL"));
                        stage(e.jobs, make_sleep);
                        drain(&e, NULL);
                        print_drain("sleep", &e);
                }
        }
        if (!only || strcmp(only, "latency") == 0) {
                for (size_t i = 0; i < n_rates; i++) {
                        double seconds = 30000.0 / rates[i];
                        latency(rates[i], seconds > 5 ? 5 : seconds < 1 ? 1 : seconds);
                }
                latency_idle(idle_jobs);
        }
        if (!only || strcmp(only, "idle") == 0)
                idle();
        if (with_peers)
                peers(best_noop, sleep_s);
done:
        redisFree(rc);
        fc_test_redis_stop(&redis);
        return 0;
}
