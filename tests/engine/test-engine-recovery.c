/* Jobs survive what kills daemons and what breaks Redis: a kill -9 and
 * restart, another host's dead daemon, a job that crashes every daemon that
 * runs it (poison), a daemon dying beside another, Redis restarting, its
 * clients killed, the server stalling, and Redis being down when the daemon
 * starts.
 *
 * Every job is a Record job with its own jid: it ends with HINCRBY key <jid>
 * 1, so each execution is counted. Lost = jids counted 0 times, duplicated =
 * jids counted more than once. Each case prints its figures. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/daemon.h"

/* Each case gets its own redis-server (its extra arguments are the case's
 * prestate) and up to two daemons; teardown stops them, also after a
 * failed assertion. */
static fc_test_redis_t redis;
static const char *const *redis_args;
static redisContext *rc;
static fc_test_daemon_t daemons[2];

static const char *const aof_args[] = {"--appendonly", "yes", "--appendfsync", "always", NULL};
static const char *const debug_args[] = {"--enable-debug-command", "yes", NULL};

static int setup(void **state) {
        redis_args = *state;
        memset(daemons, 0, sizeof(daemons));
        if (fc_test_redis_start(&redis, redis_args) < 0)
                return -1;
        rc = fc_test_redis_connect(&redis);
        return rc ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        for (size_t i = 0; i < 2; i++)
                fc_test_daemon_stop(&daemons[i]);
        redisFree(rc);
        rc = NULL;
        fc_test_redis_stop(&redis);
        return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* The test's own connection, reopened when a Redis restart or a client
 * kill broke it. */
static bool connected(void) {
        if (rc && !rc->err)
                return true;
        redisFree(rc);
        rc = fc_test_redis_connect(&redis);
        return rc != NULL;
}

static long long redis_int(const char *format, ...) {
        if (!connected())
                return -3;
        va_list ap;
        va_start(ap, format);
        redisReply *r = redisvCommand(rc, format, ap);
        va_end(ap);
        return fc_test_reply_int(r);
}

/* LPUSHes Record jobs [key, ms] with jids prefix<from> .. prefix<from + n - 1>,
 * in one pipeline. */
static void enqueue_records(const char *key, const char *prefix, int from, int n, int ms) {
        assert_true(connected());
        redisAppendCommand(rc, "SADD queues default");
        for (int i = from; i < from + n; i++)
                redisAppendCommand(rc,
                                   "LPUSH queue:default {\"class\":\"Record\",\"args\":[\"%s\",%d],\"queue\":"
                                   "\"default\",\"jid\":\"%s%d\",\"retry\":true}",
                                   key, ms, prefix, i);
        for (int i = 0; i < n + 1; i++) {
                redisReply *r = NULL;
                assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
                assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
                freeReplyObject(r);
        }
}

typedef struct tally {
        int jobs, completed, lost, duplicated;
} tally_t;

/* How often each jid prefix<from..from+n) ran, from the Record hash key. */
static tally_t count_runs(const char *key, const char *prefix, int from, int n) {
        tally_t t = {.jobs = n};
        assert_true(connected());
        for (int i = from; i < from + n; i++)
                redisAppendCommand(rc, "HGET %s %s%d", key, prefix, i);
        for (int i = 0; i < n; i++) {
                redisReply *r = NULL;
                assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
                long long runs = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
                freeReplyObject(r);
                if (runs == 0)
                        t.lost++;
                else
                        t.completed++;
                if (runs > 1)
                        t.duplicated++;
        }
        return t;
}

static void print_tally(const char *what, const tally_t *t) {
        printf("%s: jobs %d, completed %d, lost %d, duplicated %d\n", what, t->jobs, t->completed, t->lost,
               t->duplicated);
        fflush(stdout);
}

/* Jobs in every flowcoro:inflight:* hash (-1 when Redis can't be asked). */
static long long inflight_total(void) {
        if (!connected())
                return -1;
        redisReply *keys = redisCommand(rc, "KEYS flowcoro:inflight:*");
        if (!keys || keys->type != REDIS_REPLY_ARRAY) {
                freeReplyObject(keys);
                return -1;
        }
        long long total = 0;
        for (size_t i = 0; i < keys->elements && total >= 0; i++) {
                long long n = redis_int("HLEN %s", keys->element[i]->str);
                total = n < 0 ? -1 : total + n;
        }
        freeReplyObject(keys);
        return total;
}

typedef struct hash_size {
        const char *key;
        long long at_least;
} hash_size_t;

static bool hash_reaches(void *arg) {
        const hash_size_t *h = arg;
        return redis_int("HLEN %s", h->key) >= h->at_least;
}

/* Every job ran (HLEN key reaches n), or there is nothing left that could
 * still run: queue, in-flight hashes, retry and schedule all empty. */
static bool settled(void *arg) {
        const hash_size_t *h = arg;
        if (redis_int("HLEN %s", h->key) >= h->at_least)
                return true;
        return redis_int("LLEN queue:default") == 0 && inflight_total() == 0 &&
               redis_int("ZCARD retry") == 0 && redis_int("ZCARD schedule") == 0;
}

static bool no_jobs_in_flight(void *arg) {
        (void)arg;
        return inflight_total() == 0;
}

/* The identity ("host:pid:hex") registered in flowcoro:owners for pid, into
 * out; false when none is. */
static bool identity_of(pid_t pid, char *out, size_t size) {
        if (!connected())
                return false;
        redisReply *keys = redisCommand(rc, "HKEYS flowcoro:owners");
        bool found = false;
        for (size_t i = 0; keys && keys->type == REDIS_REPLY_ARRAY && i < keys->elements && !found; i++) {
                const char *id = keys->element[i]->str;
                const char *last = strrchr(id, ':');
                const char *p = last;
                while (p && p > id && p[-1] != ':')
                        p--;
                if (last && p > id && atol(p) == (long)pid) {
                        snprintf(out, size, "%s", id);
                        found = true;
                }
        }
        freeReplyObject(keys);
        return found;
}

/* Whether flowcoro:owners holds exactly the identities of the given pids. */
static bool owners_are(const pid_t *pids, size_t n) {
        char id[512];
        if (redis_int("HLEN flowcoro:owners") != (long long)n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!identity_of(pids[i], id, sizeof(id)))
                        return false;
        return true;
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- 1. kill -9, restart with the same instance ------------------------ */

static void test_kill9_restart_same_instance_takes_back_jobs_at_once(void **state) {
        (void)state;
        fc_test_daemon_t *d = &daemons[0];
        enqueue_records("seen", "k", 0, 1000, 50);
        assert_int_equal(fc_test_daemon_start(d, &redis, "concurrency: 400\n", NULL), 0);
        char old[512], line[700];
        assert_true(identity_of(d->pid, old, sizeof(old)));

        /* Mid-flow: some jobs ran, others run now. */
        hash_size_t some = {"seen", 1};
        assert_true(fc_test_wait_until(hash_reaches, &some, 30000));
        fc_test_daemon_kill(d);
        long long done_at_kill = redis_int("HLEN seen");
        long long in_flight = redis_int("HLEN flowcoro:inflight:%s", old);
        printf("kill -9: %lld jobs done, %lld in flight\n", done_at_kill, in_flight);
        assert_true(in_flight >= 200); /* hundreds in flight */
        assert_true(done_at_kill < 1000);

        /* The new daemon takes them back before it says "running". */
        assert_int_equal(fc_test_daemon_restart(d, NULL), 0);
        snprintf(line, sizeof(line),
                 "in-flight jobs of daemon %s (same host and instance; its process is gone)", old);
        assert_true(fc_test_daemon_logged(d, line));
        assert_true(fc_test_daemon_logged(d, "notice: recovered "));

        hash_size_t all = {"seen", 1000};
        assert_true(fc_test_wait_until(settled, &all, 120000));
        assert_true(fc_test_wait_until(no_jobs_in_flight, NULL, 20000));
        tally_t t = count_runs("seen", "k", 0, 1000);
        print_tally("kill -9 and restart", &t);
        assert_int_equal(t.lost, 0);
        assert_int_equal(t.completed, 1000);
        assert_true(t.duplicated <= in_flight);
        /* Only the live daemon is registered; the old one is forgotten. */
        assert_true(owners_are(&d->pid, 1));
        assert_int_equal(redis_int("ZSCORE flowcoro:beats %s", old), -1);
        assert_int_equal(redis_int("SISMEMBER processes %s", old), 0);
        assert_int_equal(redis_int("EXISTS flowcoro:inflight-seq:%s", old), 0);
}

/* ---- 2. another host's dead daemon --------------------------------------- */

/* A daemon of otherhost that never existed here: its registry entries and
 * its in-flight hash with n Record jobs (ids 1..n, jids prefix<i>). */
static void fake_daemon(const char *identity, int pid, double beat, const char *prefix, int n) {
        char boot[64] = "", record[256];
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
        assert_non_null(f);
        assert_non_null(fgets(boot, sizeof(boot), f));
        fclose(f);
        boot[strcspn(boot, "\n")] = '\0';
        snprintf(record, sizeof(record), "otherhost\t%s\t%d\t1\tdefault", boot, pid);
        assert_int_equal(redis_int("HSET flowcoro:owners %s %s", identity, record), 1);
        assert_int_equal(redis_int("ZADD flowcoro:beats %.3f %s", beat, identity), 1);
        assert_int_equal(redis_int("SADD processes %s", identity), 1);
        assert_int_equal(redis_int("HSET %s beat %.3f", identity, beat), 1);
        for (int i = 0; i < n; i++) {
                char value[300];
                int len = snprintf(value, sizeof(value),
                                   "default%c{\"class\":\"Record\",\"args\":[\"seen\"],\"queue\":\"default\","
                                   "\"jid\":\"%s%d\",\"retry\":true}",
                                   '\0', prefix, i);
                assert_int_equal(
                        redis_int("HSET flowcoro:inflight:%s %d %b", identity, i + 1, value, (size_t)len), 1);
        }
        assert_int_equal(redis_int("INCRBY flowcoro:inflight-seq:%s %d", identity, n), n);
}

static void test_orphans_of_another_host_recovered_unless_it_beats(void **state) {
        (void)state;
        fc_test_daemon_t *d = &daemons[0];
        double now = now_s();
        fake_daemon("otherhost:1:abc", 1, now - 120, "o", 20);
        fake_daemon("otherhost:2:def", 2, now, "f", 5);
        /* It does a recovery pass as it starts. */
        assert_int_equal(fc_test_daemon_start(d, &redis, "concurrency: 10\n", NULL), 0);
        hash_size_t all = {"seen", 20};
        assert_true(fc_test_wait_until(settled, &all, 30000));
        assert_true(fc_test_daemon_logged(
                d, "recovered 20 in-flight jobs of daemon otherhost:1:abc (no heartbeat for"));
        tally_t t = count_runs("seen", "o", 0, 20);
        print_tally("orphans of a dead daemon on another host", &t);
        assert_int_equal(t.lost, 0);
        assert_int_equal(t.duplicated, 0);
        /* The dead one is forgotten everywhere. */
        assert_int_equal(redis_int("EXISTS flowcoro:inflight:otherhost:1:abc"), 0);
        assert_int_equal(redis_int("EXISTS flowcoro:inflight-seq:otherhost:1:abc"), 0);
        assert_int_equal(redis_int("HEXISTS flowcoro:owners otherhost:1:abc"), 0);
        assert_int_equal(redis_int("ZSCORE flowcoro:beats otherhost:1:abc"), -1);
        assert_int_equal(redis_int("SISMEMBER processes otherhost:1:abc"), 0);
        assert_int_equal(redis_int("EXISTS otherhost:1:abc"), 0);
        /* The one that beats keeps its jobs: none ran here. */
        tally_t fresh = count_runs("seen", "f", 0, 5);
        print_tally("jobs of a live daemon on another host (must not run here)", &fresh);
        assert_int_equal(fresh.completed, 0);
        assert_int_equal(redis_int("HLEN flowcoro:inflight:otherhost:2:def"), 5);
        assert_int_equal(redis_int("HEXISTS flowcoro:owners otherhost:2:def"), 1);
        assert_false(fc_test_daemon_logged(d, "otherhost:2:def"));
}

/* ---- 3. poison ------------------------------------------------------------ */

typedef struct crash_watch {
        fc_test_daemon_t *d;
} crash_watch_t;

static bool crash_job_dead(void) {
        return redis_int("ZCARD dead") > 0 &&
               redis_int("EVAL %s 0",
                         "for _, j in ipairs(redis.call('ZRANGE', 'dead', 0, -1)) do "
                         "if string.find(j, '\"jid\":\"crash1\"', 1, true) then return 1 end end "
                         "return 0") == 1;
}

static bool daemon_exited_or_crash_dead(void *arg) {
        crash_watch_t *w = arg;
        return fc_test_daemon_wait(w->d, 0) || crash_job_dead();
}

static void test_poison_job_goes_to_dead_after_three_recoveries(void **state) {
        (void)state;
        fc_test_daemon_t *d = &daemons[0];
        /* Record jobs before and after the Crash job: some are fetched with it. */
        enqueue_records("seen", "p", 0, 30, 20);
        freeReplyObject(redisCommand(rc, "LPUSH queue:default {\"class\":\"Crash\",\"args\":[],\"queue\":"
                                         "\"default\",\"jid\":\"crash1\",\"retry\":true}"));
        enqueue_records("seen", "p", 30, 30, 20);
        int r = fc_test_daemon_start(d, &redis, "concurrency: 20\n", NULL);
        /* The crash may come before "running" is in the log. */
        assert_true(r == 0 || d->pid < 0);

        int crashes = 0;
        crash_watch_t w = {d};
        while (!crash_job_dead()) {
                assert_true(fc_test_wait_until(daemon_exited_or_crash_dead, &w, 60000));
                if (d->pid > 0)
                        break;                           /* it runs and the Crash job is dead */
                assert_int_equal(d->exit_code, 128 + 6); /* SIGABRT */
                crashes++;
                assert_true(crashes <= 3);
                r = fc_test_daemon_restart(d, NULL);
                assert_true(r == 0 || d->pid < 0);
        }
        printf("poison: the daemon died %d times\n", crashes);
        assert_int_equal(crashes, 3);
        assert_true(fc_test_daemon_logged(d, "poison job moved to dead"));

        redisReply *dead = redisCommand(rc, "ZRANGE dead 0 -1");
        assert_non_null(dead);
        assert_int_equal(dead->type, REDIS_REPLY_ARRAY);
        const char *crash = NULL;
        for (size_t i = 0; i < dead->elements; i++) {
                printf("dead: %s\n", dead->element[i]->str);
                if (strstr(dead->element[i]->str, "\"jid\":\"crash1\""))
                        crash = dead->element[i]->str;
        }
        assert_non_null(crash);
        assert_non_null(strstr(crash, "\"error_class\":\"FlowCoro::PoisonJob\""));
        assert_non_null(strstr(crash, "\"recovered_count\":3"));
        assert_non_null(strstr(crash, "crashed its daemon (last time with SIGABRT) 3 times")); /* named by the crash reporter */
        size_t n_dead = dead->elements;
        freeReplyObject(dead);

        /* The Record jobs fetched with it are not to blame: all of them run. */
        hash_size_t all = {"seen", 60};
        assert_true(fc_test_wait_until(settled, &all, 60000));
        tally_t t = count_runs("seen", "p", 0, 60);
        print_tally("poison job among Record jobs", &t);
        assert_int_equal(t.lost, 0);
        assert_int_equal(n_dead, 1);
}

/* ---- 3b. a job that gets its daemon killed, unnamed ----------------------- */

typedef struct in_flight_here {
        pid_t pid;
        const char *jid;
} in_flight_here_t;

/* Whether the daemon with this pid has the job in flight. */
static bool has_in_flight(void *arg) {
        in_flight_here_t *h = arg;
        char identity[512];
        if (!identity_of(h->pid, identity, sizeof(identity)))
                return false;
        redisReply *vals = redisCommand(rc, "HVALS flowcoro:inflight:%s", identity);
        bool found = false;
        for (size_t i = 0; vals && vals->type == REDIS_REPLY_ARRAY && i < vals->elements; i++)
                if (memmem(vals->element[i]->str, vals->element[i]->len, h->jid, strlen(h->jid)))
                        found = true;
        freeReplyObject(vals);
        return found;
}

/* kill -9 (think of the OOM killer) names no job: every job in flight counts
 * the crash, and those that did run alone next time, so only the one that
 * is in flight at every kill reaches the limit. */
static void test_job_in_flight_at_three_kills_goes_to_dead(void **state) {
        (void)state;
        fc_test_daemon_t *d = &daemons[0];
        freeReplyObject(redisCommand(rc, "LPUSH queue:default {\"class\":\"Sleep\",\"args\":[60000],"
                                         "\"jid\":\"hog\"}"));
        enqueue_records("seen", "h", 0, 40, 20);
        assert_int_equal(fc_test_daemon_start(d, &redis, "concurrency: 10\n", NULL), 0);
        for (int kill = 0; kill < 3; kill++) {
                in_flight_here_t h = {d->pid, "\"hog\""};
                assert_true(fc_test_wait_until(has_in_flight, &h, 30000));
                fc_test_daemon_kill(d);
                assert_int_equal(fc_test_daemon_restart(d, NULL), 0);
        }
        hash_size_t all = {"seen", 40};
        assert_true(fc_test_wait_until(settled, &all, 60000));
        tally_t t = count_runs("seen", "h", 0, 40);
        print_tally("a job in flight at three kills", &t);
        assert_int_equal(t.lost, 0);
        redisReply *dead = redisCommand(rc, "ZRANGE dead 0 -1");
        assert_non_null(dead);
        assert_int_equal(dead->elements, 1);
        const char *hog = dead->element[0]->str;
        assert_non_null(strstr(hog, "\"jid\":\"hog\""));
        assert_non_null(strstr(hog, "\"recovered_count\":3"));
        assert_non_null(strstr(hog, "running in 3 daemons that died"));
        freeReplyObject(dead);
}

/* ---- 4. two daemons, one dies --------------------------------------------- */

static void test_survivor_recovers_jobs_of_daemon_whose_beat_expired(void **state) {
        (void)state;
        fc_test_daemon_t *a = &daemons[0], *b = &daemons[1];
        const char *const args_a[] = {"--instance", "a", NULL}, *const args_b[] = {"--instance", "b", NULL};
        assert_int_equal(fc_test_daemon_start(a, &redis, "concurrency: 20\n", args_a), 0);
        assert_int_equal(fc_test_daemon_start(b, &redis, "concurrency: 20\n", args_b), 0);
        char id_a[512], id_b[512], line[700];
        assert_true(identity_of(a->pid, id_a, sizeof(id_a)));
        assert_true(identity_of(b->pid, id_b, sizeof(id_b)));
        assert_int_equal(redis_int("SISMEMBER processes %s", id_a), 1);
        enqueue_records("seen", "t", 0, 2000, 50);

        hash_size_t some = {"seen", 300};
        assert_true(fc_test_wait_until(hash_reaches, &some, 60000));
        fc_test_daemon_kill(a);
        long long in_flight = redis_int("HLEN flowcoro:inflight:%s", id_a);
        printf("kill -9 of one of two daemons: %lld jobs done, %lld in flight in it\n",
               redis_int("HLEN seen"), in_flight);
        assert_true(in_flight > 0);
        /* Its heartbeat looks a minute old: the survivor's next periodic
         * pass takes its jobs. */
        assert_int_equal(redis_int("ZADD flowcoro:beats 1 %s", id_a), 0);

        hash_size_t all = {"seen", 2000};
        assert_true(fc_test_wait_until(settled, &all, 90000));
        assert_true(fc_test_wait_until(no_jobs_in_flight, NULL, 20000));
        snprintf(line, sizeof(line), "in-flight jobs of daemon %s (no heartbeat for", id_a);
        assert_true(fc_test_daemon_logged(b, line));
        tally_t t = count_runs("seen", "t", 0, 2000);
        print_tally("two daemons, one killed", &t);
        assert_int_equal(t.lost, 0);
        assert_true(t.duplicated <= in_flight);
        assert_true(owners_are(&b->pid, 1));
        assert_int_equal(redis_int("SISMEMBER processes %s", id_a), 0);
        assert_false(fc_test_daemon_wait(b, 0)); /* the survivor still runs */
}

/* ---- 5. Redis restarted (AOF) --------------------------------------------- */

static void test_redis_restart_with_aof_loses_nothing(void **state) {
        (void)state;
        fc_test_daemon_t *d = &daemons[0];
        assert_int_equal(fc_test_daemon_start(d, &redis, "concurrency: 50\n", NULL), 0);
        enqueue_records("seen", "r", 0, 2000, 5);
        hash_size_t some = {"seen", 300};
        assert_true(fc_test_wait_until(hash_reaches, &some, 60000));
        long long done_before = redis_int("HLEN seen");
        assert_int_equal(fc_test_redis_restart(&redis, aof_args), 0);
        redisFree(rc); /* the restart closed it */
        rc = NULL;
        long long done_after = redis_int("HLEN seen");
        printf("Redis restarted: %lld jobs done before, %lld just after\n", done_before, done_after);
        assert_true(done_after >= done_before); /* the AOF kept them */
        assert_true(done_after < 2000);

        /* Jobs whose Redis write failed wait in retry (15-25 s). */
        hash_size_t all = {"seen", 2000};
        assert_true(fc_test_wait_until(settled, &all, 120000));
        assert_true(fc_test_wait_until(no_jobs_in_flight, NULL, 20000));
        tally_t t = count_runs("seen", "r", 0, 2000);
        print_tally("Redis restarted mid-flow (AOF, fsync always)", &t);
        printf("retry %lld, dead %lld\n", redis_int("ZCARD retry"), redis_int("ZCARD dead"));
        assert_int_equal(t.lost, 0);
        assert_int_equal(t.completed, 2000);
        assert_false(fc_test_daemon_wait(d, 0));
}

/* ---- 6. clients killed, server stalled ------------------------------------ */

static void test_client_kill_and_debug_sleep_lose_nothing(void **state) {
        (void)state;
        fc_test_daemon_t *d = &daemons[0];
        assert_int_equal(fc_test_daemon_start(d, &redis, "concurrency: 50\n", NULL), 0);

        enqueue_records("seen", "c", 0, 2000, 20);
        hash_size_t some = {"seen", 200};
        assert_true(fc_test_wait_until(hash_reaches, &some, 60000));
        long long killed = redis_int("CLIENT KILL TYPE normal");
        long long done = redis_int("HLEN seen");
        printf("CLIENT KILL TYPE normal: %lld connections killed, %lld jobs done\n", killed, done);
        assert_true(killed > 0);
        assert_true(done < 2000);

        enqueue_records("seen", "c", 2000, 2000, 20);
        some.at_least = done + 300;
        assert_true(fc_test_wait_until(hash_reaches, &some, 60000));
        redisReply *slept = redisCommand(rc, "DEBUG SLEEP 2");
        assert_non_null(slept);
        if (slept->type == REDIS_REPLY_ERROR)
                printf("DEBUG SLEEP: %s\n", slept->str);
        assert_int_equal(slept->type, REDIS_REPLY_STATUS);
        freeReplyObject(slept);
        done = redis_int("HLEN seen");
        printf("DEBUG SLEEP 2: %lld jobs done\n", done);
        assert_true(done < 4000);

        hash_size_t all = {"seen", 4000};
        assert_true(fc_test_wait_until(settled, &all, 120000));
        assert_true(fc_test_wait_until(no_jobs_in_flight, NULL, 20000));
        tally_t t = count_runs("seen", "c", 0, 4000);
        print_tally("CLIENT KILL and DEBUG SLEEP mid-flow", &t);
        assert_int_equal(t.lost, 0);
        assert_int_equal(t.completed, 4000);
        assert_false(fc_test_daemon_wait(d, 0)); /* still running */
        assert_true(d->pid > 0);
}

/* ---- 7. Redis down when the daemon starts --------------------------------- */

/* Brings Redis back once the daemon's log (the only one under dir) says it
 * waits for it. It forks redis-server, whose parent-death signal is tied to
 * this thread: the thread stays alive until released. */
typedef struct redis_starter {
        pthread_t thread;
        char dir[256];
        bool saw_waiting; /* these two are read once done is set */
        int restarted;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool done, release; /* guarded by lock */
} redis_starter_t;

static redis_starter_t starter;

static bool log_under_says(const char *dir, const char *text) {
        DIR *dp = opendir(dir);
        bool found = false;
        struct dirent *de;
        while (dp && !found && (de = readdir(dp))) {
                if (strncmp(de->d_name, "fc-daemon-", 10) != 0)
                        continue;
                char path[700];
                snprintf(path, sizeof(path), "%s/%s/flowcorod.log", dir, de->d_name);
                FILE *f = fopen(path, "r");
                char line[4096];
                while (f && !found && fgets(line, sizeof(line), f))
                        found = strstr(line, text) != NULL;
                if (f)
                        fclose(f);
        }
        if (dp)
                closedir(dp);
        return found;
}

static void *redis_starter_main(void *arg) {
        redis_starter_t *s = arg;
        for (int i = 0; i < 500 && !s->saw_waiting; i++) {
                s->saw_waiting = log_under_says(s->dir, "waiting for Redis");
                if (!s->saw_waiting)
                        usleep(20000);
        }
        s->restarted = fc_test_redis_restart(&redis, redis_args);
        pthread_mutex_lock(&s->lock);
        s->done = true;
        pthread_cond_broadcast(&s->cond);
        while (!s->release)
                pthread_cond_wait(&s->cond, &s->lock);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static void wait_for_starter(void) {
        pthread_mutex_lock(&starter.lock);
        while (!starter.done)
                pthread_cond_wait(&starter.cond, &starter.lock);
        pthread_mutex_unlock(&starter.lock);
}

static int teardown_starter(void **state) {
        if (starter.thread)
                wait_for_starter(); /* it no longer touches redis */
        teardown(state);            /* stops redis while the thread that started it lives */
        if (starter.thread) {
                pthread_mutex_lock(&starter.lock);
                starter.release = true;
                pthread_cond_broadcast(&starter.cond);
                pthread_mutex_unlock(&starter.lock);
                pthread_join(starter.thread, NULL);
                starter.thread = 0;
        }
        if (starter.dir[0])
                rmdir(starter.dir);
        return 0;
}

static void test_daemon_waits_for_redis_at_start(void **state) {
        (void)state;
        fc_test_daemon_t *d = &daemons[0];
        memset(&starter, 0, sizeof(starter));
        pthread_mutex_init(&starter.lock, NULL);
        pthread_cond_init(&starter.cond, NULL);
        /* The daemon's directory goes under a directory of its own, where the
         * helper thread finds its log. */
        const char *tmp = getenv("TMPDIR");
        char *old_tmpdir = tmp ? strdup(tmp) : NULL;
        snprintf(starter.dir, sizeof(starter.dir), "%s/fc-recovery-XXXXXX", tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(starter.dir));

        redisFree(rc);
        rc = NULL;
        fc_test_redis_halt(&redis);
        setenv("TMPDIR", starter.dir, 1);
        assert_int_equal(pthread_create(&starter.thread, NULL, redis_starter_main, &starter), 0);
        int r = fc_test_daemon_start(d, &redis, "concurrency: 10\n", NULL);
        if (old_tmpdir)
                setenv("TMPDIR", old_tmpdir, 1);
        else
                unsetenv("TMPDIR");
        free(old_tmpdir);
        wait_for_starter();
        assert_int_equal(r, 0);
        assert_true(starter.saw_waiting);
        assert_int_equal(starter.restarted, 0);
        assert_true(fc_test_daemon_logged(d, "waiting for Redis"));

        enqueue_records("seen", "w", 0, 100, 0);
        hash_size_t all = {"seen", 100};
        assert_true(fc_test_wait_until(settled, &all, 30000));
        tally_t t = count_runs("seen", "w", 0, 100);
        print_tally("daemon started while Redis was down", &t);
        assert_int_equal(t.lost, 0);
        assert_int_equal(t.duplicated, 0);
}

int main(void) {
        /* Crash jobs abort the daemon: no core files. */
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        /* Redis restarts under the test's own connection. */
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_prestate_setup_teardown(
                        test_kill9_restart_same_instance_takes_back_jobs_at_once, setup, teardown, NULL),
                cmocka_unit_test_prestate_setup_teardown(
                        test_orphans_of_another_host_recovered_unless_it_beats, setup, teardown, NULL),
                cmocka_unit_test_prestate_setup_teardown(test_job_in_flight_at_three_kills_goes_to_dead, setup,
                                                         teardown, NULL),
                cmocka_unit_test_prestate_setup_teardown(test_poison_job_goes_to_dead_after_three_recoveries,
                                                         setup, teardown, NULL),
                cmocka_unit_test_prestate_setup_teardown(
                        test_survivor_recovers_jobs_of_daemon_whose_beat_expired, setup, teardown, NULL),
                cmocka_unit_test_prestate_setup_teardown(test_redis_restart_with_aof_loses_nothing, setup,
                                                         teardown, (void *)aof_args),
                cmocka_unit_test_prestate_setup_teardown(test_client_kill_and_debug_sleep_lose_nothing, setup,
                                                         teardown, (void *)debug_args),
                cmocka_unit_test_prestate_setup_teardown(test_daemon_waits_for_redis_at_start, setup,
                                                         teardown_starter, NULL),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
