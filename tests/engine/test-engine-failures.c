/* What a running flowcorod does with jobs that fail, time out, wait in the
 * schedule or are not jobs at all, and how it stops, goes quiet and reports
 * itself: the daemon as a black box, seen through Redis (Sidekiq's keys, see
 * shared notes on the protocol) and its log.
 *
 * No timing asserts: every wait is fc_test_wait_until() with a generous
 * timeout, and a check that something did *not* happen looks at the state
 * of a daemon that had every chance to do it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "harness/daemon.h"

#define WAIT_MS      20000 /* generous: two noisy cores, and heartbeats every 5 s */
#define EXIT_WAIT_MS 30000

static fc_test_redis_t redis;
static redisContext *rc;

/* The daemons of the running test. Each test reaps its own (daemon_reap);
 * teardown stops whatever a failed test left running. */
#define MAX_DAEMONS 2
static fc_test_daemon_t daemons[MAX_DAEMONS];
static bool started[MAX_DAEMONS];

/* ---- helpers: time, Redis, JSON ------------------------------------------ */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* A command whose reply must not be an error. Returns the reply (free it). */
static redisReply *cmd(const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        redisReply *r = redisvCommand(rc, format, ap);
        va_end(ap);
        assert_non_null(r);
        if (r->type == REDIS_REPLY_ERROR)
                fail_msg("Redis: %s: %s", format, r->str);
        return r;
}

static void run(const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        redisReply *r = redisvCommand(rc, format, ap);
        va_end(ap);
        assert_non_null(r);
        if (r->type == REDIS_REPLY_ERROR)
                fail_msg("Redis: %s: %s", format, r->str);
        freeReplyObject(r);
}

/* What a Sidekiq client does: SADD queues + LPUSH queue:<q>. */
static void push(const char *queue, const char *json) {
        run("SADD queues %s", queue);
        run("LPUSH queue:%s %s", queue, json);
}

static void push_bytes(const char *queue, const char *bytes, size_t len) {
        run("SADD queues %s", queue);
        run("LPUSH queue:%s %b", queue, bytes, len);
}

/* A Redis command given as one line of space-separated words, for waits. */
static long long int_of_line(const char *line) {
        char copy[1024];
        const char *argv[16];
        int argc = 0;
        snprintf(copy, sizeof(copy), "%s", line);
        for (char *save = NULL, *w = strtok_r(copy, " ", &save); w && argc < 16; w = strtok_r(NULL, " ", &save))
                argv[argc++] = w;
        return fc_test_reply_int(redisCommandArgv(rc, argc, argv, NULL));
}

typedef struct int_cond {
        char line[1024];
        long long want;
} int_cond_t;

static bool int_equals(void *arg) {
        int_cond_t *c = arg;
        return int_of_line(c->line) == c->want;
}

/* Waits until the integer result of a command (words without spaces) is
 * want; fails the test with the last value otherwise. */
static void wait_int(long long want, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void wait_int(long long want, const char *format, ...) {
        int_cond_t c = {.want = want};
        va_list ap;
        va_start(ap, format);
        vsnprintf(c.line, sizeof(c.line), format, ap);
        va_end(ap);
        if (!fc_test_wait_until(int_equals, &c, WAIT_MS))
                fail_msg("waited for \"%s\" to be %lld; it is %lld", c.line, want, int_of_line(c.line));
}

/* Whether x is within 0.01 of a whole number (x >= 0). */
static bool is_whole(double x) {
        double frac = x - (double)(long long)(x + 0.5);
        return frac > -0.01 && frac < 0.01;
}

static json_t *parse(const char *s, size_t len) {
        return json_loadb(s, len, 0, NULL);
}

/* The entry of a sorted set or list whose job has this jid: its JSON (a new
 * reference), and optionally its score and raw member (malloc'd). NULL when
 * there is none. */
static json_t *find_job(const char *key, bool zset, const char *jid, double *score, char **member) {
        redisReply *r = zset ? cmd("ZRANGE %s 0 -1 WITHSCORES", key) : cmd("LRANGE %s 0 -1", key);
        json_t *found = NULL;
        size_t step = zset ? 2 : 1;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + step <= r->elements && !found; i += step) {
                json_t *o = parse(r->element[i]->str, r->element[i]->len);
                const char *j = json_string_value(json_object_get(o, "jid"));
                if (j && strcmp(j, jid) == 0) {
                        found = o;
                        if (score)
                                *score = strtod(r->element[i + 1]->str, NULL);
                        if (member)
                                *member = strndup(r->element[i]->str, r->element[i]->len);
                } else
                        json_decref(o);
        }
        freeReplyObject(r);
        return found;
}

typedef struct where {
        const char *key;
        bool zset;
        const char *jid;
        long long retry_count; /* -1: any */
} where_t;

static bool job_is_there(void *arg) {
        where_t *w = arg;
        json_t *o = find_job(w->key, w->zset, w->jid, NULL, NULL);
        bool there = o && (w->retry_count < 0 ||
                           json_integer_value(json_object_get(o, "retry_count")) == w->retry_count);
        json_decref(o);
        return there;
}

/* Waits until key holds the job (with that retry_count, unless -1) and
 * returns it like find_job(). */
static json_t *wait_job(const char *key, bool zset, const char *jid, long long retry_count, double *score,
                        char **member) {
        where_t w = {key, zset, jid, retry_count};
        if (!fc_test_wait_until(job_is_there, &w, WAIT_MS))
                fail_msg("job %s (retry_count %lld) never showed up in %s", jid, retry_count, key);
        json_t *o = find_job(key, zset, jid, score, member);
        assert_non_null(o);
        return o;
}

static void assert_job_absent(const char *key, bool zset, const char *jid) {
        json_t *o = find_job(key, zset, jid, NULL, NULL);
        if (o) {
                char *s = json_dumps(o, JSON_COMPACT);
                json_decref(o);
                fail_msg("job %s should not be in %s, but is: %s", jid, key, s);
        }
}

static void assert_field(const json_t *o, const char *key, const char *want) {
        const char *v = json_string_value(json_object_get(o, key));
        if (!v)
                fail_msg("field \"%s\" missing or not a string (want \"%s\")", key, want);
        assert_string_equal(v, want);
}

static void assert_field_contains(const json_t *o, const char *key, const char *part) {
        const char *v = json_string_value(json_object_get(o, key));
        if (!v || !strstr(v, part))
                fail_msg("field \"%s\" is \"%s\", expected it to contain \"%s\"", key, v ? v : "(none)", part);
}

static double number_field(const json_t *o, const char *key) {
        const json_t *v = json_object_get(o, key);
        if (!json_is_number(v))
                fail_msg("field \"%s\" missing or not a number", key);
        return json_number_value(v);
}

static void assert_custom_kept(const json_t *o) {
        json_t *want = json_pack("{s:[i,i]}", "x", 1, 2);
        bool same = json_equal(json_object_get(o, "custom"), want);
        json_decref(want);
        assert_true(same);
}

/* Whether queue and every in-flight hash are empty: every job taken so far
 * is finished (acknowledged or filed somewhere). */
static bool drained(void *arg) {
        return int_of_line((const char *)arg) == 0 && int_of_line("KEYS flowcoro:inflight:*") == 0;
}

static void wait_drained(const char *queue) {
        char line[300];
        snprintf(line, sizeof(line), "LLEN queue:%s", queue);
        if (!fc_test_wait_until(drained, line, WAIT_MS))
                fail_msg("queue %s: %lld waiting, %lld in-flight hashes", queue, int_of_line(line),
                         int_of_line("KEYS flowcoro:inflight:*"));
}

/* ---- helpers: daemons ---------------------------------------------------- */

static const char *const sanitizer_marks[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"};

static const char *sanitizer_report(const char *log) {
        for (size_t i = 0; log && i < sizeof(sanitizer_marks) / sizeof(sanitizer_marks[0]); i++)
                if (strstr(log, sanitizer_marks[i]))
                        return sanitizer_marks[i];
        return NULL;
}

static fc_test_daemon_t *daemon_start(int i, const char *extra) {
        started[i] = true; /* teardown cleans up after a failed start too */
        int r = fc_test_daemon_start(&daemons[i], &redis, extra, NULL);
        assert_int_equal(r, 0);
        return &daemons[i];
}

/* Waits for daemon i to exit (after SIGTERM when term), checks that its log
 * has no sanitizer report, removes its files and returns its exit code. */
static int daemon_reap_with_log(int i, bool term, char **log_out) {
        fc_test_daemon_t *d = &daemons[i];
        if (term)
                fc_test_daemon_signal(d, SIGTERM);
        bool exited = fc_test_daemon_wait(d, EXIT_WAIT_MS);
        char *log = fc_test_daemon_log(d);
        const char *report = sanitizer_report(log);
        if (!exited || report)
                fprintf(stderr, "flowcorod's log:\n%s\n", log ? log : "(none)");
        if (log_out)
                *log_out = log;
        else
                free(log);
        fc_test_daemon_stop(d);
        started[i] = false;
        assert_true(exited);
        if (report)
                fail_msg("flowcorod's log has a sanitizer report (%s)", report);
        return d->exit_code;
}

static int daemon_reap(int i, bool term) {
        return daemon_reap_with_log(i, term, NULL);
}

/* Sidekiq's identity of daemon d: its member of the processes set. */
static bool has_identity(void *arg) {
        const fc_test_daemon_t *d = arg;
        char needle[32];
        snprintf(needle, sizeof(needle), ":%d:", (int)d->pid);
        redisReply *r = cmd("SMEMBERS processes");
        bool found = false;
        for (size_t i = 0; i < r->elements; i++)
                found |= strstr(r->element[i]->str, needle) != NULL;
        freeReplyObject(r);
        return found;
}

static void identity_of(const fc_test_daemon_t *d, char *out, size_t size) {
        assert_true(fc_test_wait_until(has_identity, (void *)d, WAIT_MS));
        char needle[32];
        snprintf(needle, sizeof(needle), ":%d:", (int)d->pid);
        redisReply *r = cmd("SMEMBERS processes");
        out[0] = '\0';
        for (size_t i = 0; i < r->elements; i++)
                if (strstr(r->element[i]->str, needle))
                        snprintf(out, size, "%s", r->element[i]->str);
        freeReplyObject(r);
        assert_true(out[0] != '\0');
}

typedef struct log_cond {
        const fc_test_daemon_t *d;
        const char *text;
} log_cond_t;

static bool log_has(void *arg) {
        log_cond_t *c = arg;
        return fc_test_daemon_logged(c->d, c->text);
}

static void wait_logged(const fc_test_daemon_t *d, const char *text) {
        log_cond_t c = {d, text};
        if (!fc_test_wait_until(log_has, &c, WAIT_MS))
                fail_msg("the log never said \"%s\"", text);
}

static size_t count_in_log(const fc_test_daemon_t *d, const char *text) {
        char *log = fc_test_daemon_log(d);
        size_t n = 0;
        for (const char *p = log; p && (p = strstr(p, text)); p += strlen(text))
                n++;
        free(log);
        return n;
}

static char *string_reply(const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        redisReply *r = redisvCommand(rc, format, ap);
        va_end(ap);
        assert_non_null(r);
        char *s = r->type == REDIS_REPLY_STRING ? strndup(r->str, r->len) : NULL;
        freeReplyObject(r);
        return s;
}

/* ---- fixtures -------------------------------------------------------------- */

static int group_setup(void **state) {
        unsetenv("FLOWCORO_TEST_RETRY_DELAY_MS");
        if (fc_test_redis_start(&redis, NULL) < 0)
                return -1;
        rc = fc_test_redis_connect(&redis);
        return rc ? 0 : -1;
}

static int group_teardown(void **state) {
        redisFree(rc);
        fc_test_redis_stop(&redis);
        return 0;
}

static int setup(void **state) {
        redisReply *r = redisCommand(rc, "FLUSHALL");
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        return ok ? 0 : -1;
}

/* Stops what a failed test left running, showing its log, and fails on a
 * sanitizer report there too. */
static int teardown(void **state) {
        int result = 0;
        unsetenv("FLOWCORO_TEST_RETRY_DELAY_MS");
        for (int i = 0; i < MAX_DAEMONS; i++) {
                if (!started[i])
                        continue;
                fc_test_daemon_t *d = &daemons[i];
                fc_test_daemon_signal(d, SIGTERM);
                if (!fc_test_daemon_wait(d, EXIT_WAIT_MS))
                        fc_test_daemon_kill(d);
                char *log = fc_test_daemon_log(d);
                fprintf(stderr, "flowcorod %d's log (left running by a failed test):\n%s\n", i, log ? log : "");
                if (sanitizer_report(log)) {
                        fprintf(stderr, "flowcorod's log has a sanitizer report (%s)\n", sanitizer_report(log));
                        result = -1;
                }
                free(log);
                fc_test_daemon_stop(d);
                started[i] = false;
        }
        return result;
}

/* ---- 1. retries ------------------------------------------------------------ */

static const char retry_job[] = "{\"class\":\"Fail\",\"args\":[\"retry\",\"boom\"],\"queue\":\"default\","
                                "\"jid\":\"%s\",\"retry\":2,\"custom\":{\"x\":[1,2]}}";

/* retry: 2 means three runs: the first failure and two retries, then dead,
 * with Sidekiq's failure fields and the client's own fields intact. */
static void test_failed_job_is_retried_then_dead(void **state) {
        char job[256];
        snprintf(job, sizeof(job), retry_job, "retry2");
        setenv("FLOWCORO_TEST_RETRY_DELAY_MS", "200", 1);
        daemon_start(0, NULL);
        unsetenv("FLOWCORO_TEST_RETRY_DELAY_MS");
        double t0 = now_s();
        push("default", job);

        json_t *dead = wait_job("dead", true, "retry2", -1, NULL, NULL);
        double t1 = now_s();
        assert_field(dead, "class", "Fail");
        assert_field(dead, "error_class", "Fail");
        assert_field(dead, "error_message", "boom");
        assert_field(dead, "queue", "default");
        assert_int_equal(json_integer_value(json_object_get(dead, "retry_count")), 2);
        assert_int_equal(json_integer_value(json_object_get(dead, "retry")), 2);
        double failed_at = number_field(dead, "failed_at"), retried_at = number_field(dead, "retried_at");
        assert_true(failed_at >= t0 - 1 && failed_at <= t1 + 1);
        assert_true(retried_at >= failed_at && retried_at <= t1 + 1);
        assert_custom_kept(dead);
        json_t *args = json_pack("[s,s]", "retry", "boom");
        assert_true(json_equal(json_object_get(dead, "args"), args));
        json_decref(args);
        json_decref(dead);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD dead"), 1);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 0);

        assert_int_equal(daemon_reap(0, true), 0);
        /* The last heartbeat adds what is left of the counts: one failure per run. */
        assert_int_equal(fc_test_redis_int(rc, "GET stat:failed"), 3);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:processed"), 3);
        char daily[64];
        time_t t = time(NULL);
        struct tm tm;
        strftime(daily, sizeof(daily), "stat:failed:%Y-%m-%d", gmtime_r(&t, &tm));
        assert_int_equal(fc_test_redis_int(rc, "GET %s", daily), 3);
}

/* Without the test delay, Sidekiq's formula: count^4 + 15 + rand(10) *
 * (count + 1) seconds. Each retry is brought forward by moving its score
 * to now, which is what the poller is for. */
static void test_retry_delay_follows_sidekiq(void **state) {
        char job[256];
        snprintf(job, sizeof(job), retry_job, "slow");
        daemon_start(0, NULL);
        double t0 = now_s();
        push("default", job);

        double score;
        char *member = NULL;
        json_t *o = wait_job("retry", true, "slow", 0, &score, &member);
        double t1 = now_s();
        assert_field(o, "error_class", "Fail");
        assert_field(o, "error_message", "boom");
        assert_null(json_object_get(o, "retried_at"));
        assert_custom_kept(o);
        double failed_at = number_field(o, "failed_at");
        assert_true(failed_at >= t0 - 1 && failed_at <= t1 + 1);
        /* Score - failure time = 15 + jitter, jitter a whole number 0..9. */
        double delay = score - failed_at;
        assert_true(delay > 15 - 0.01 && delay < 24 + 0.01);
        assert_true(is_whole(delay));
        assert_true(score >= t0 + 15 - 1 && score <= t1 + 24 + 1);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:default"), 0);
        json_decref(o);

        /* Due now: the poller takes it back; it fails again: retry_count 1. */
        run("ZADD retry %f %s", now_s(), member);
        free(member);
        member = NULL;
        double t2 = now_s();
        o = wait_job("retry", true, "slow", 1, &score, &member);
        double t3 = now_s();
        assert_field(o, "error_class", "Fail");
        assert_true(number_field(o, "failed_at") == failed_at); /* the first failure's */
        double retried_at = number_field(o, "retried_at");
        assert_true(retried_at >= t2 - 1 && retried_at <= t3 + 1);
        assert_true(json_is_number(json_object_get(o, "enqueued_at"))); /* the poller's */
        assert_custom_kept(o);
        /* 1 + 15 + jitter * 2 */
        delay = score - retried_at;
        assert_true(delay > 16 - 0.01 && delay < 34 + 0.01);
        assert_true(is_whole((delay - 16) / 2));
        json_decref(o);

        /* Third failure: out of retries. */
        run("ZADD retry %f %s", now_s(), member);
        free(member);
        o = wait_job("dead", true, "slow", 2, NULL, NULL);
        assert_custom_kept(o);
        json_decref(o);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 0);
        assert_int_equal(daemon_reap(0, true), 0);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:failed"), 3);
}

/* ---- 2. retry: false / 0, dead at once ------------------------------------ */

static void test_retry_options_drop_or_bury(void **state) {
        daemon_start(0, NULL);
        push("default", "{\"class\":\"Fail\",\"args\":[\"retry\",\"no retry\"],\"jid\":\"nope\",\"retry\":false}");
        push("default", "{\"class\":\"Fail\",\"args\":[\"retry\",\"zero retries\"],\"jid\":\"zero\",\"retry\":0}");
        push("default", "{\"class\":\"Fail\",\"args\":[\"dead\",\"hopeless\"],\"jid\":\"hopeless\"}");

        json_t *zero = wait_job("dead", true, "zero", -1, NULL, NULL);
        assert_field(zero, "error_class", "Fail");
        assert_field(zero, "error_message", "zero retries");
        assert_int_equal(json_integer_value(json_object_get(zero, "retry_count")), 0);
        number_field(zero, "failed_at");
        json_decref(zero);
        json_t *hopeless = wait_job("dead", true, "hopeless", -1, NULL, NULL);
        assert_field(hopeless, "error_class", "Fail");
        assert_field(hopeless, "error_message", "hopeless");
        assert_int_equal(json_integer_value(json_object_get(hopeless, "retry_count")), 0);
        json_decref(hopeless);

        wait_drained("default"); /* "nope" ran and was acknowledged: dropped */
        assert_job_absent("dead", true, "nope");
        assert_job_absent("retry", true, "nope");
        assert_job_absent("retry", true, "zero");
        assert_job_absent("retry", true, "hopeless");
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 0);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD dead"), 2);
        assert_int_equal(daemon_reap(0, true), 0);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:failed"), 3);
}

/* ---- 3. dead set cap -------------------------------------------------------- */

static void test_dead_set_keeps_the_newest(void **state) {
        daemon_start(0, "jobs:\n  dead_max_jobs: 3\n");
        char jid[16], job[200];
        for (int i = 0; i < 5; i++) {
                snprintf(jid, sizeof(jid), "dead%d", i);
                snprintf(job, sizeof(job), "{\"class\":\"Fail\",\"args\":[\"dead\",\"x\"],\"jid\":\"%s\"}", jid);
                push("default", job);
                json_decref(wait_job("dead", true, jid, -1, NULL, NULL)); /* one at a time: ordered scores */
        }
        assert_int_equal(fc_test_redis_int(rc, "ZCARD dead"), 3);
        assert_job_absent("dead", true, "dead0");
        assert_job_absent("dead", true, "dead1");
        for (int i = 2; i < 5; i++) {
                snprintf(jid, sizeof(jid), "dead%d", i);
                json_t *o = find_job("dead", true, jid, NULL, NULL);
                assert_non_null(o);
                json_decref(o);
        }
        assert_int_equal(daemon_reap(0, true), 0);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:failed"), 5);
}

/* ---- 4. scheduled jobs ------------------------------------------------------ */

static void test_scheduled_jobs_are_enqueued_and_run(void **state) {
        daemon_start(0, NULL);
        double t0 = now_s();
        run("ZADD schedule %f %s", t0 + 1,
            "{\"class\":\"Record\",\"args\":[\"ran\"],\"queue\":\"default\",\"jid\":\"soon\"}");
        run("ZADD schedule %f %s", t0 - 3600, "{\"class\":\"Record\",\"args\":[\"ran\"],\"jid\":\"overdue\"}");
        /* A queue this daemon does not fetch: the moved job stays there to be looked at. */
        run("ZADD schedule %f %s", t0 - 1,
            "{\"class\":\"Noop\",\"args\":[],\"queue\":\"parked\",\"jid\":\"parked\",\"custom\":{\"x\":[1,2]}}");

        wait_int(1, "HGET ran soon");
        wait_int(1, "HGET ran overdue");
        json_t *parked = wait_job("queue:parked", false, "parked", -1, NULL, NULL);
        double t1 = now_s();
        double enqueued_at = number_field(parked, "enqueued_at");
        assert_true(enqueued_at >= t0 - 1 && enqueued_at <= t1 + 1);
        assert_field(parked, "class", "Noop");
        assert_custom_kept(parked);
        json_decref(parked);
        assert_int_equal(fc_test_redis_int(rc, "SISMEMBER queues parked"), 1);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD schedule"), 0);
        wait_drained("default");
        assert_int_equal(fc_test_redis_int(rc, "HLEN ran"), 2);
        assert_int_equal(daemon_reap(0, true), 0);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:processed"), 2);
}

/* ---- 5. deadlines ------------------------------------------------------------ */

static void test_deadline_cancels_job_into_retry(void **state) {
        /* The job's own "timeout" (seconds). */
        daemon_start(0, NULL);
        push("default", "{\"class\":\"Sleep\",\"args\":[10000],\"jid\":\"late\",\"timeout\":0.3}");
        json_t *o = wait_job("retry", true, "late", 0, NULL, NULL);
        assert_field(o, "error_class", "FlowCoro::Timeout");
        assert_field_contains(o, "error_message", "deadline");
        assert_field_contains(o, "error_message", "0.300");
        json_decref(o);
        assert_int_equal(daemon_reap(0, true), 0);

        /* jobs.default_timeout when the job has none; a job's own timeout wins over it. */
        run("FLUSHALL");
        daemon_start(0, "jobs:\n  default_timeout: 300ms\n");
        push("default", "{\"class\":\"Sleep\",\"args\":[10000],\"jid\":\"default-deadline\"}");
        push("default", "{\"class\":\"Record\",\"args\":[\"done\",1000],\"jid\":\"own-timeout\",\"timeout\":30}");
        o = wait_job("retry", true, "default-deadline", 0, NULL, NULL);
        assert_field(o, "error_class", "FlowCoro::Timeout");
        assert_field_contains(o, "error_message", "0.300");
        json_decref(o);
        wait_int(1, "HGET done own-timeout");
        assert_job_absent("retry", true, "own-timeout");
        assert_int_equal(daemon_reap(0, true), 0);
}

/* ---- 6. payloads that are not jobs ------------------------------------------- */

#define MAX_PAYLOAD_CONFIG "jobs:\n  max_payload: 1KiB\n"

typedef struct bad_case {
        const char *payload;
        size_t len;
        const char *message; /* part of error_message and of the log line */
        bool not_utf8;       /* kept as raw_payload_base64 */
} bad_case_t;

/* The payloads each test pushes (bad_cases() fills them). */
static char bad_bufs[8][2100];

/* The bad payloads of behaviour 6, as clients send them (no jid), or each
 * with a jid (with_jid). The 2 KiB one is exactly 2048 bytes. */
static size_t bad_cases(bad_case_t *c, bool with_jid) {
        const char *jid = with_jid ? "\"jid\":\"bad%d\"," : "";
        char j[8][32];
        for (int i = 0; i < 8; i++)
                snprintf(j[i], sizeof(j[i]), jid, i);
        snprintf(bad_bufs[0], sizeof(bad_bufs[0]), "{%s\"class\":\"Noop\",\"args\":[", j[0]);
        snprintf(bad_bufs[1], sizeof(bad_bufs[1]), "[\"Noop\",[]]");
        snprintf(bad_bufs[2], sizeof(bad_bufs[2]), "{%s\"args\":[1]}", j[2]);
        snprintf(bad_bufs[3], sizeof(bad_bufs[3]), "{%s\"class\":42,\"args\":[]}", j[3]);
        snprintf(bad_bufs[4], sizeof(bad_bufs[4]), "{%s\"class\":\"Noop\",\"args\":\"x\"}", j[4]);
        /* Otherwise a good job, padded to 2 KiB. */
        int head = snprintf(bad_bufs[5], sizeof(bad_bufs[5]), "{%s\"class\":\"Noop\",\"args\":[\"", j[5]);
        int pad = 2048 - head - 3;
        memset(bad_bufs[5] + head, 'x', (size_t)pad);
        memcpy(bad_bufs[5] + head + pad, "\"]}", 4);
        snprintf(bad_bufs[6], sizeof(bad_bufs[6]), "{%s\"class\":\"Noop\",\"args\":[\"\xff\xfe\"]}", j[6]);
        /* Nested deeper than a parser may recurse on a coroutine's stack (it
         * crashed the daemon once: found by fuzzing). */
        head = snprintf(bad_bufs[7], sizeof(bad_bufs[7]), "{%s\"class\":\"Noop\",\"args\":", j[7]);
        memset(bad_bufs[7] + head, '[', 460);
        memset(bad_bufs[7] + head + 460, ']', 460);
        memcpy(bad_bufs[7] + head + 920, "}", 2);
        static char json_message[64];
        snprintf(json_message, sizeof(json_message), "not valid JSON at line 1, column %zu", strlen(bad_bufs[0]));
        size_t n = 0;
        c[n++] = (bad_case_t){bad_bufs[0], 0, json_message, false};
        c[n++] = (bad_case_t){bad_bufs[1], 0, "expected a JSON object, got an array", false};
        c[n++] = (bad_case_t){bad_bufs[2], 0, "\"class\" is missing", false};
        c[n++] = (bad_case_t){bad_bufs[3], 0, "\"class\" must be a non-empty string, got a number", false};
        c[n++] = (bad_case_t){bad_bufs[4], 0, "\"args\" must be an array, got a string", false};
        c[n++] = (bad_case_t){bad_bufs[5], 0, "2048 bytes, over jobs.max_payload (1024 bytes)", false};
        c[n++] = (bad_case_t){bad_bufs[6], 0, "unable to decode byte 0xff", true};
        c[n++] = (bad_case_t){bad_bufs[7], 0, "nested more than 64 levels deep", false};
        for (size_t i = 0; i < n; i++)
                c[i].len = strlen(c[i].payload);
        return n;
}

static int base64_value(char ch) {
        const char *digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = ch ? strchr(digits, ch) : NULL;
        return p ? (int)(p - digits) : -1;
}

/* Decodes standard base64 into out (room for size); returns the length or -1. */
static long base64_decode(const char *s, unsigned char *out, size_t size) {
        size_t n = 0, len = strlen(s);
        if (len % 4)
                return -1;
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                for (int k = 0; k < 4; k++)
                        v[k] = s[i + k] == '=' ? 0 : base64_value(s[i + k]);
                if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
                        return -1;
                uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
                unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
                int keep = s[i + 2] == '=' ? 1 : s[i + 3] == '=' ? 2 : 3;
                for (int k = 0; k < keep; k++) {
                        if (n == size)
                                return -1;
                        out[n++] = b[k];
                }
        }
        return (long)n;
}

/* Whether a dead entry keeps this payload byte for byte, as raw_payload
 * or (for bytes that are not UTF-8) raw_payload_base64. */
static bool keeps_payload(const json_t *o, const bad_case_t *c) {
        const json_t *raw = json_object_get(o, "raw_payload");
        if (json_is_string(raw))
                return json_string_length(raw) == c->len && memcmp(json_string_value(raw), c->payload, c->len) == 0;
        const char *b64 = json_string_value(json_object_get(o, "raw_payload_base64"));
        unsigned char bytes[4096];
        long n = b64 ? base64_decode(b64, bytes, sizeof(bytes)) : -1;
        return n == (long)c->len && memcmp(bytes, c->payload, c->len) == 0;
}

/* The dead entry that keeps c's payload (new reference), or NULL. */
static json_t *dead_entry_for(const bad_case_t *c) {
        redisReply *r = cmd("ZRANGE dead 0 -1");
        json_t *found = NULL;
        for (size_t i = 0; i < r->elements && !found; i++) {
                json_t *o = parse(r->element[i]->str, r->element[i]->len);
                if (o && keeps_payload(o, c))
                        found = o;
                else
                        json_decref(o);
        }
        freeReplyObject(r);
        return found;
}

/* The dead entry whose error_message contains part (new reference), or NULL. */
static json_t *dead_entry_saying(const char *part) {
        redisReply *r = cmd("ZRANGE dead 0 -1");
        json_t *found = NULL;
        for (size_t i = 0; i < r->elements && !found; i++) {
                json_t *o = parse(r->element[i]->str, r->element[i]->len);
                const char *m = json_string_value(json_object_get(o, "error_message"));
                if (m && strstr(m, part))
                        found = o;
                else
                        json_decref(o);
        }
        freeReplyObject(r);
        return found;
}

static void push_bad_cases(const bad_case_t *cases, size_t n) {
        for (size_t i = 0; i < n; i++)
                push_bytes("default", cases[i].payload, cases[i].len);
        push("default", "{\"class\":\"NoSuchClass\",\"args\":[],\"jid\":\"unknown\"}");
}

/* Each bad payload, as a client would send it, ends in dead as a valid
 * Sidekiq job that says what was wrong and keeps the payload byte for
 * byte; an unknown class goes to retry. Every problem found is listed
 * before the test fails. */
static void test_bad_payloads_go_to_dead(void **state) {
        bad_case_t cases[8];
        size_t n = bad_cases(cases, false);
        fc_test_daemon_t *d = daemon_start(0, MAX_PAYLOAD_CONFIG);
        push_bad_cases(cases, n);
        wait_int((long long)n, "ZCARD dead");

        size_t problems = 0;
        for (size_t i = 0; i < n; i++) {
                json_t *o = dead_entry_for(&cases[i]);
                if (!o) {
                        json_t *said = dead_entry_saying(cases[i].message);
                        char *s = said ? json_dumps(said, JSON_COMPACT) : NULL;
                        fprintf(stderr, "payload %zu (%.50s): no dead entry keeps it byte for byte; entry saying "
                                        "\"%s\": %.400s\n", i, cases[i].payload, cases[i].message, s ? s : "(none)");
                        free(s);
                        json_decref(said);
                        problems++;
                        continue;
                }
                const char *m = json_string_value(json_object_get(o, "error_message"));
                if (!m || !strstr(m, cases[i].message)) {
                        fprintf(stderr, "payload %zu (%.50s): error_message \"%s\" lacks \"%s\"\n", i,
                                cases[i].payload, m ? m : "(none)", cases[i].message);
                        problems++;
                }
                assert_field(o, "class", "FlowCoro::InvalidJob");
                assert_field(o, "error_class", "FlowCoro::InvalidJob");
                assert_field(o, "queue", "default");
                assert_true(json_is_string(json_object_get(o, "jid")));
                number_field(o, "failed_at");
                /* Bytes that are not UTF-8 can't be a JSON string; base64 can hold them. */
                assert_int_equal(json_object_get(o, "raw_payload") == NULL, cases[i].not_utf8);
                assert_int_equal(json_object_get(o, "raw_payload_base64") != NULL, cases[i].not_utf8);
                json_decref(o);
        }
        json_t *o = wait_job("retry", true, "unknown", 0, NULL, NULL);
        assert_field(o, "error_class", "FlowCoro::UnknownClass");
        assert_field_contains(o, "error_message", "NoSuchClass");
        json_decref(o);
        assert_job_absent("dead", true, "unknown");

        /* Still running, and still running jobs. */
        assert_false(fc_test_daemon_wait(d, 0));
        push("default", "{\"class\":\"Record\",\"args\":[\"good\"],\"jid\":\"good\"}");
        wait_int(1, "HGET good good");
        assert_int_equal(daemon_reap(0, true), 0);
        if (problems)
                fail_msg("%zu of %zu bad payloads were not filed as they came (see above)", problems, n);
}

/* The log names each cause, and a flood of one bad job is rate-limited.
 * The payloads carry jids here, so that only the log is under test. */
static void test_bad_payloads_are_logged_with_a_limit(void **state) {
        bad_case_t cases[8];
        size_t n = bad_cases(cases, true);
        fc_test_daemon_t *d = daemon_start(0, MAX_PAYLOAD_CONFIG);
        push_bad_cases(cases, n);
        const char *argv[202] = {"LPUSH", "queue:default"};
        for (int i = 0; i < 200; i++)
                argv[2 + i] = "flood";
        redisReply *r = redisCommandArgv(rc, 202, argv, NULL);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);

        wait_int((long long)n + 200, "ZCARD dead");
        json_decref(wait_job("retry", true, "unknown", 0, NULL, NULL));
        wait_drained("default");

        size_t lines = count_in_log(d, "near 'flood'");
        assert_true(lines >= 1);
        if (lines >= 20)
                fail_msg("200 identical bad jobs made %zu log lines; the log should limit them", lines);
        assert_true(fc_test_daemon_logged(d, "no loaded plugin handles class \"NoSuchClass\""));
        size_t missing = 0;
        for (size_t i = 0; i < n; i++)
                if (!fc_test_daemon_logged(d, cases[i].message)) {
                        fprintf(stderr, "the log does not say why payload %zu (%.40s...) went to dead: \"%s\"\n", i,
                                cases[i].payload, cases[i].message);
                        missing++;
                }
        if (missing) {
                char *log = fc_test_daemon_log(d);
                fprintf(stderr, "flowcorod's log:\n%s\n", log ? log : "");
                free(log);
        }
        assert_int_equal(daemon_reap(0, true), 0);
        if (missing)
                fail_msg("the log leaves out %zu of %zu causes", missing, n);
}

/* jobs.max_payload is the most a client may send: a job of exactly that
 * size, with no jid as many clients send it, runs. */
static void test_job_of_max_payload_runs(void **state) {
        static char job[1025];
        int head = snprintf(job, sizeof(job), "{\"class\":\"Noop\",\"args\":[\"");
        int pad = 1024 - head - 3;
        memset(job + head, 'x', (size_t)pad);
        memcpy(job + head + pad, "\"]}", 4);
        assert_int_equal(strlen(job), 1024);
        daemon_start(0, MAX_PAYLOAD_CONFIG);
        push("default", job);
        wait_drained("default");
        json_t *o = dead_entry_saying("max_payload");
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (s) {
                fprintf(stderr, "dead: %.300s\n", s);
                free(s);
                fail_msg("a job of exactly jobs.max_payload bytes went to dead");
        }
        assert_int_equal(fc_test_redis_int(rc, "ZCARD dead"), 0);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 0);
        assert_int_equal(daemon_reap(0, true), 0);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:processed"), 1);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:failed"), -1);
}

/* ---- 7. shutdown -------------------------------------------------------------- */

static bool is_hex24(const char *s) {
        if (!s || strlen(s) != 24)
                return false;
        for (; *s; s++)
                if (!strchr("0123456789abcdef", *s))
                        return false;
        return true;
}

/* Five jobs that outlast shutdown_timeout are cancelled and put back at the
 * front of their queue, byte for byte, in the order they were taken; a
 * sixth that came without a jid comes back with the one the daemon gave
 * it, and otherwise as it was. */
static void test_shutdown_puts_unfinished_jobs_back(void **state) {
        fc_test_daemon_t *d = daemon_start(0, "shutdown_timeout: 500ms\n");
        char jobs[5][128];
        const char no_jid[] = "{\"class\":\"Sleep\",\"args\":[60000],\"created_at\":1700000000.5}";
        const char *argv[8] = {"LPUSH", "queue:default"};
        for (int i = 0; i < 5; i++) {
                snprintf(jobs[i], sizeof(jobs[i]),
                         "{\"class\":\"Sleep\",\"args\":[60000],\"jid\":\"long%d\",\"created_at\":1700000000.5}", i);
                argv[2 + i] = jobs[i];
        }
        argv[7] = no_jid;
        run("SADD queues default");
        redisReply *r = redisCommandArgv(rc, 8, argv, NULL);
        assert_non_null(r);
        freeReplyObject(r);
        char id[300];
        identity_of(d, id, sizeof(id));
        wait_int(0, "LLEN queue:default");
        wait_int(6, "HLEN flowcoro:inflight:%s", id);

        char *log = NULL;
        int code = daemon_reap_with_log(0, true, &log);
        bool cancelled = log && strstr(log, "cancelled 6 jobs still running");
        bool put_back = log && strstr(log, "put 6 unfinished jobs back");
        free(log);
        assert_int_equal(code, 0);
        assert_true(cancelled);
        assert_true(put_back);
        r = cmd("LRANGE queue:default 0 -1");
        assert_int_equal(r->elements, 6);
        for (int i = 0; i < 5; i++)
                assert_string_equal(r->element[1 + i]->str, jobs[4 - i]);
        json_t *back = parse(r->element[0]->str, r->element[0]->len), *sent = parse(no_jid, strlen(no_jid));
        freeReplyObject(r);
        assert_non_null(back);
        assert_true(is_hex24(json_string_value(json_object_get(back, "jid"))));
        json_object_del(back, "jid");
        assert_true(json_equal(back, sent));
        json_decref(back);
        json_decref(sent);
        assert_int_equal(fc_test_redis_int(rc, "KEYS flowcoro:inflight:*"), 0);
        assert_int_equal(fc_test_redis_int(rc, "SCARD processes"), 0);
        assert_int_equal(fc_test_redis_int(rc, "EXISTS %s", id), 0);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 0);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD dead"), 0);
}

static void test_shutdown_lets_short_jobs_finish(void **state) {
        fc_test_daemon_t *d = daemon_start(0, "shutdown_timeout: 5s\n");
        char id[300], job[128];
        identity_of(d, id, sizeof(id));
        for (int i = 0; i < 5; i++) {
                snprintf(job, sizeof(job), "{\"class\":\"Record\",\"args\":[\"finished\",300],\"jid\":\"short%d\"}", i);
                push("default", job);
        }
        wait_int(0, "LLEN queue:default");
        fc_test_daemon_signal(d, SIGTERM);
        char *log = NULL;
        int code = daemon_reap_with_log(0, false, &log);
        bool cancelled = log && strstr(log, "cancelled");
        bool put_back = log && strstr(log, "unfinished jobs back");
        free(log);
        assert_int_equal(code, 0);
        assert_false(cancelled);
        assert_false(put_back);
        for (int i = 0; i < 5; i++)
                assert_int_equal(fc_test_redis_int(rc, "HGET finished short%d", i), 1);
        assert_int_equal(fc_test_redis_int(rc, "HLEN finished"), 5);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:default"), 0);
        assert_int_equal(fc_test_redis_int(rc, "KEYS flowcoro:inflight:*"), 0);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 0);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:processed"), 5);
}

/* ---- 8. quiet ------------------------------------------------------------------- */

/* Daemon 0 gets SIGTSTP; daemon 1 gets Sidekiq's remote TSTP, then TERM.
 * They run side by side on queues of their own. */
static void test_quiet_stops_fetching(void **state) {
        fc_test_daemon_t *local = daemon_start(0, "queues:\n  - local\n");
        fc_test_daemon_t *remote = daemon_start(1, "queues:\n  - remote\n");
        char local_id[300], remote_id[300];
        identity_of(local, local_id, sizeof(local_id));
        identity_of(remote, remote_id, sizeof(remote_id));
        /* Both fetch before being told not to. */
        push("local", "{\"class\":\"Record\",\"args\":[\"ran\"],\"jid\":\"local-before\"}");
        push("remote", "{\"class\":\"Record\",\"args\":[\"ran\"],\"jid\":\"remote-before\"}");
        wait_int(1, "HGET ran local-before");
        wait_int(1, "HGET ran remote-before");

        fc_test_daemon_signal(local, SIGTSTP);
        run("LPUSH %s-signals TSTP", remote_id);
        wait_logged(local, "quiet: no new jobs are fetched");
        wait_logged(remote, "quiet: no new jobs are fetched");
        char *quiet = NULL;
        /* The heartbeat (every 5 s) reports it. */
        wait_int(0, "LLEN %s-signals", remote_id);
        for (int i = 0; i < 2; i++) {
                const char *id = i == 0 ? local_id : remote_id;
                for (int waited = 0; waited < WAIT_MS; waited += 50) {
                        free(quiet);
                        quiet = string_reply("HGET %s quiet", id);
                        if (quiet && strcmp(quiet, "true") == 0)
                                break;
                        sleep_ms(50);
                }
                assert_non_null(quiet);
                assert_string_equal(quiet, "true");
        }
        free(quiet);

        push("local", "{\"class\":\"Record\",\"args\":[\"ran\"],\"jid\":\"local-after\"}");
        push("remote", "{\"class\":\"Record\",\"args\":[\"ran\"],\"jid\":\"remote-after\"}");
        sleep_ms(1000); /* running daemons with every chance to take them */
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:local"), 1);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:remote"), 1);
        assert_int_equal(fc_test_redis_int(rc, "HLEN ran"), 2);
        assert_false(fc_test_daemon_wait(local, 0));
        assert_false(fc_test_daemon_wait(remote, 0));

        run("LPUSH %s-signals TERM", remote_id);
        assert_int_equal(daemon_reap(1, false), 0);
        assert_int_equal(daemon_reap(0, true), 0);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:local"), 1);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:remote"), 1);
        assert_int_equal(fc_test_redis_int(rc, "SCARD processes"), 0);
}

/* ---- 9. heartbeat ---------------------------------------------------------------- */

static bool beat_shows_three(void *arg) {
        const char *id = arg;
        return fc_test_redis_int(rc, "HLEN %s:workers", id) == 3 && fc_test_redis_int(rc, "HGET %s busy", id) == 3;
}

static void test_heartbeat_describes_process_and_jobs(void **state) {
        fc_test_daemon_t *d = daemon_start(0, "concurrency: 7\nshutdown_timeout: 100ms\n");
        char id[300], jobs[3][128];
        identity_of(d, id, sizeof(id));
        double t0 = now_s();
        for (int i = 0; i < 3; i++) {
                snprintf(jobs[i], sizeof(jobs[i]), "{\"class\":\"Sleep\",\"args\":[30000],\"jid\":\"beat%d\"}", i);
                push("default", jobs[i]);
        }
        if (!fc_test_wait_until(beat_shows_three, id, WAIT_MS))
                fail_msg("the heartbeat never showed 3 running jobs: %lld workers, busy %lld",
                         fc_test_redis_int(rc, "HLEN %s:workers", id), fc_test_redis_int(rc, "HGET %s busy", id));
        double t1 = now_s();

        redisReply *r = cmd("HGETALL %s:workers", id);
        assert_int_equal(r->elements, 6);
        bool seen[3] = {false};
        for (size_t i = 0; i < r->elements; i += 2) {
                json_t *w = parse(r->element[i + 1]->str, r->element[i + 1]->len);
                assert_non_null(w);
                assert_field(w, "queue", "default");
                const char *payload = json_string_value(json_object_get(w, "payload"));
                assert_non_null(payload);
                for (int k = 0; k < 3; k++)
                        if (strcmp(payload, jobs[k]) == 0)
                                seen[k] = true;
                const json_t *run_at = json_object_get(w, "run_at");
                assert_true(json_is_integer(run_at));
                assert_true(json_integer_value(run_at) >= (json_int_t)t0 - 1 &&
                            json_integer_value(run_at) <= (json_int_t)t1 + 1);
                json_decref(w);
        }
        freeReplyObject(r);
        assert_true(seen[0] && seen[1] && seen[2]);
        long long ttl = fc_test_redis_int(rc, "TTL %s:workers", id);
        assert_true(ttl > 0 && ttl <= 60);

        char *info_s = string_reply("HGET %s info", id);
        assert_non_null(info_s);
        json_t *info = parse(info_s, strlen(info_s));
        free(info_s);
        assert_non_null(info);
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        assert_field(info, "hostname", host);
        assert_field(info, "identity", id);
        assert_int_equal(json_integer_value(json_object_get(info, "pid")), d->pid);
        assert_int_equal(json_integer_value(json_object_get(info, "concurrency")), 7);
        json_t *queues = json_pack("[s]", "default");
        assert_true(json_equal(json_object_get(info, "queues"), queues));
        json_decref(queues);
        json_decref(info);
        char *quiet = string_reply("HGET %s quiet", id);
        assert_non_null(quiet);
        assert_string_equal(quiet, "false");
        free(quiet);
        char *beat = string_reply("HGET %s beat", id);
        assert_non_null(beat);
        assert_true(strtod(beat, NULL) >= t0 - 10 && strtod(beat, NULL) <= t1 + 1);
        free(beat);
        ttl = fc_test_redis_int(rc, "TTL %s", id);
        assert_true(ttl > 0 && ttl <= 60);

        assert_int_equal(daemon_reap(0, true), 0);
        assert_int_equal(fc_test_redis_int(rc, "EXISTS %s", id), 0);
        assert_int_equal(fc_test_redis_int(rc, "EXISTS %s:workers", id), 0);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:default"), 3);
}

/* ---- 10. weighted queues ----------------------------------------------------------- */

static void test_weighted_queues_all_run(void **state) {
        daemon_start(0, "queues:\n  - { name: a, weight: 1 }\n  - { name: b, weight: 1 }\n");
        char job[128];
        for (int i = 0; i < 10; i++) {
                snprintf(job, sizeof(job), "{\"class\":\"Record\",\"args\":[\"ran\"],\"jid\":\"a%d\"}", i);
                push("a", job);
                snprintf(job, sizeof(job), "{\"class\":\"Record\",\"args\":[\"ran\"],\"jid\":\"b%d\"}", i);
                push("b", job);
        }
        wait_int(20, "HLEN ran");
        for (int i = 0; i < 10; i++) {
                assert_int_equal(fc_test_redis_int(rc, "HGET ran a%d", i), 1);
                assert_int_equal(fc_test_redis_int(rc, "HGET ran b%d", i), 1);
        }
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:a"), 0);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:b"), 0);
        assert_int_equal(daemon_reap(0, true), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_failed_job_is_retried_then_dead, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_delay_follows_sidekiq, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_options_drop_or_bury, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dead_set_keeps_the_newest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scheduled_jobs_are_enqueued_and_run, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deadline_cancels_job_into_retry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_payloads_go_to_dead, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_payloads_are_logged_with_a_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_job_of_max_payload_runs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shutdown_puts_unfinished_jobs_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shutdown_lets_short_jobs_finish, setup, teardown),
                cmocka_unit_test_setup_teardown(test_quiet_stops_fetching, setup, teardown),
                cmocka_unit_test_setup_teardown(test_heartbeat_describes_process_and_jobs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_weighted_queues_all_run, setup, teardown),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
