/* flowcoroctl's Redis commands against a real redis-server: enqueue (one job,
 * JSON lines, bad lines, scheduled), stats, queues, retries, dead,
 * processes, with --json parsed and checked, and its errors (bad flags,
 * unreachable Redis, bad configuration, unknown jids). Sidekiq 6.4.1's own
 * API reads the jobs it enqueued (ctl-sidekiq.rb). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl-run.h"
#include "harness/daemon.h"

static fc_test_redis_t redis;
static redisContext *rc;
static ctl_env_t env;
static fc_test_output_t o;

static int setup(void **state) {
        (void)state;
        if (fc_test_redis_start(&redis, NULL) < 0)
                return -1;
        rc = fc_test_redis_connect(&redis);
        return rc ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        if (rc)
                redisFree(rc);
        fc_test_redis_stop(&redis);
        return 0;
}

/* Each test: an empty Redis and a configuration pointing at it. */
static int each_setup(void **state) {
        (void)state;
        char yaml[600];
        snprintf(yaml, sizeof(yaml), "redis:\n  url: unix://%s\ncontrol:\n  socket: \"\"\n",
                 redis.socket_path);
        ctl_env_init(&env, yaml);
        fc_test_redis_int(rc, "CONFIG SET requirepass %s",
                          ""); /* a failed test_prefix_and_password may leave it */
        fc_test_redis_int(rc, "FLUSHALL");
        return 0;
}

static int each_teardown(void **state) {
        (void)state;
        ctl_env_free(&env);
        return 0;
}

static json_t *redis_json(const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        redisReply *r = redisvCommand(rc, format, ap);
        va_end(ap);
        assert_non_null(r);
        const redisReply *text = r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? r->element[0] : r;
        assert_int_equal(text->type, REDIS_REPLY_STRING);
        json_t *v = json_loadb(text->str, text->len, 0, NULL);
        freeReplyObject(r);
        assert_non_null(v);
        return v;
}

static bool is_jid(const char *s) {
        if (!s || strlen(s) != 24)
                return false;
        for (; *s; s++)
                if (!strchr("0123456789abcdef", *s))
                        return false;
        return true;
}

static void expect(int code, const char *err_has) {
        if (o.exit_code != code || (err_has && !strstr(o.err, err_has)))
                ctl_dump("unexpected result", &o);
        assert_int_equal(o.exit_code, code);
        if (err_has)
                assert_non_null(strstr(o.err, err_has));
}

/* A failed job as flowcorod and Sidekiq file it. */
static void add_failed(const char *set, double score, const char *jid, const char *queue, int retry_count) {
        char job[600];
        snprintf(
                job, sizeof(job),
                "{\"class\":\"Failing\",\"args\":[\"%s\"],\"queue\":\"%s\",\"jid\":\"%s\",\"retry_count\":%d,"
                "\"error_class\":\"Boom\",\"error_message\":\"it broke: %s\",\"failed_at\":1700000000.5,"
                "\"custom\":\"kept\"}",
                jid, queue, jid, retry_count, jid);
        assert_int_equal(fc_test_redis_int(rc, "ZADD %s %f %s", set, score, job), 1);
}

/* ---- enqueue -------------------------------------------------------------- */

static void test_enqueue_one_job_as_sidekiq_writes_it(void **state) {
        double before = (double)time(NULL);
        ctl_run(&o, &env, NULL, "enqueue", "--class", "Hard", "--args", "[1,\"two\",{\"x\":null}]", "--queue",
                "mail", "--retry", "3", NULL);
        expect(0, NULL);
        o.out[strcspn(o.out, "\n")] = '\0';
        assert_true(is_jid(o.out));
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:mail"), 1);
        assert_int_equal(fc_test_redis_int(rc, "SISMEMBER queues mail"), 1);
        json_t *job = redis_json("LINDEX queue:mail 0");
        assert_string_equal(json_string_value(json_object_get(job, "class")), "Hard");
        assert_string_equal(json_string_value(json_object_get(job, "queue")), "mail");
        assert_string_equal(json_string_value(json_object_get(job, "jid")), o.out);
        assert_int_equal(json_integer_value(json_object_get(job, "retry")), 3);
        json_t *args = json_loads("[1,\"two\",{\"x\":null}]", 0, NULL);
        assert_true(json_equal(json_object_get(job, "args"), args));
        json_decref(args);
        assert_true(json_is_real(json_object_get(job, "created_at")));
        assert_true(json_real_value(json_object_get(job, "enqueued_at")) >= before);
        assert_null(json_object_get(job, "at"));
        json_decref(job);
}

static void test_enqueue_scheduled_with_at_and_in(void **state) {
        ctl_run(&o, &env, NULL, "--json", "enqueue", "--class", "Later", "--at", "2099-01-01T00:00:00Z",
                NULL);
        expect(0, NULL);
        json_t *out = ctl_json(&o);
        assert_true(is_jid(json_string_value(json_object_get(out, "jid"))));
        assert_int_equal((long long)json_real_value(json_object_get(out, "at")), 4070908800LL);
        json_decref(out);
        ctl_run(&o, &env, NULL, "enqueue", "--class", "Later", "--in", "1h", "--json", NULL);
        expect(0, NULL);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD schedule"), 2);
        assert_int_equal(fc_test_redis_int(rc, "EXISTS queue:default"), 0);
        assert_int_equal(fc_test_redis_int(rc, "ZCOUNT schedule 4070908800 4070908800"), 1);
        assert_int_equal(fc_test_redis_int(rc, "ZCOUNT schedule %lld %lld", (long long)time(NULL) + 3000,
                                           (long long)time(NULL) + 3700),
                         1);
        /* Sidekiq: no "at" and no enqueued_at in a scheduled job. */
        json_t *job = redis_json("ZRANGE schedule 0 0");
        assert_null(json_object_get(job, "at"));
        assert_null(json_object_get(job, "enqueued_at"));
        assert_string_equal(json_string_value(json_object_get(job, "class")), "Later");
        json_decref(job);
        /* A time that has passed: pushed now, as Sidekiq's client does. */
        ctl_run(&o, &env, NULL, "enqueue", "--class", "Now", "--at", "1000000000", NULL);
        expect(0, NULL);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:default"), 1);
}

/* 20 lines: 17 has bad JSON, 5 a bad field, 9 is blank; the rest go in, in order. */
static void test_enqueue_lines_reports_every_bad_line_and_enqueues_the_rest(void **state) {
        char text[4096] = "";
        for (int i = 1; i <= 20; i++) {
                char line[200];
                if (i == 17)
                        snprintf(line, sizeof(line), "{\"class\": \"Broken\", \"args\": [1,\n");
                else if (i == 5)
                        snprintf(line, sizeof(line), "{\"class\":\"X\",\"args\":\"not an array\"}\n");
                else if (i == 9)
                        snprintf(line, sizeof(line), "   \n");
                else if (i == 12)
                        snprintf(line, sizeof(line),
                                 "{\"class\":\"Other\",\"args\":[12],\"queue\":\"side\",\"extra\":"
                                 "\"kept\"}\n");
                else if (i == 14)
                        snprintf(line, sizeof(line),
                                 "{\"class\":\"Late\",\"args\":[14],\"at\":4070908800}\n");
                else
                        snprintf(line, sizeof(line), "[%d,\"line\"]\n", i);
                strcat(text, line);
        }
        const char *path = ctl_write_file(&env, "jobs.jsonl", text);
        ctl_run(&o, &env, NULL, "enqueue", "--class", "Bulk", "--queue", "bulk", "--json", path, NULL);
        expect(EX_DATAERR, "jobs.jsonl:17:");
        assert_non_null(strstr(o.err, "invalid JSON"));
        assert_non_null(strstr(o.err, "jobs.jsonl:5: \"args\" must be an array, got a string"));
        assert_null(strstr(o.err, "jobs.jsonl:9"));
        assert_non_null(strstr(o.err, "2 lines of"));
        json_t *out = ctl_json(&o);
        assert_int_equal(json_integer_value(json_object_get(out, "enqueued")), 16);
        assert_int_equal(json_integer_value(json_object_get(out, "scheduled")), 1);
        assert_int_equal(json_integer_value(json_object_get(out, "rejected")), 2);
        json_decref(out);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:bulk"), 15);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:side"), 1);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD schedule"), 1);
        /* FIFO: the consumer's end (the right) holds line 1, then line 2. */
        json_t *first = redis_json("LINDEX queue:bulk -1"), *second = redis_json("LINDEX queue:bulk -2");
        assert_int_equal(json_integer_value(json_array_get(json_object_get(first, "args"), 0)), 1);
        assert_int_equal(json_integer_value(json_array_get(json_object_get(second, "args"), 0)), 2);
        assert_string_equal(json_string_value(json_object_get(first, "class")), "Bulk");
        assert_true(is_jid(json_string_value(json_object_get(first, "jid"))));
        assert_string_not_equal(json_string_value(json_object_get(first, "jid")),
                                json_string_value(json_object_get(second, "jid")));
        json_decref(first);
        json_decref(second);
        json_t *side = redis_json("LINDEX queue:side 0");
        assert_string_equal(json_string_value(json_object_get(side, "extra")), "kept");
        assert_string_equal(json_string_value(json_object_get(side, "class")), "Other");
        json_decref(side);
}

static void test_enqueue_from_stdin(void **state) {
        const char *path = ctl_write_file(&env, "in.jsonl", "[1]\n[2]\n{\"class\":\"Own\",\"args\":[3]}\n");
        ctl_run(&o, &env, path, "enqueue", "--class", "Piped", "-", NULL);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "enqueued 3 jobs (0 scheduled) from stdin"));
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:default"), 3);
        /* The same input without --class: the args arrays can't be jobs. */
        ctl_run(&o, &env, path, "enqueue", "-", NULL);
        expect(EX_DATAERR, "stdin:1: an args array needs --class");
        assert_non_null(strstr(o.err, "stdin:2:"));
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:default"), 4);
}

static void test_enqueue_bad_flags_and_data(void **state) {
        static const struct {
                const char *args[6];
                int code;
                const char *message;
        } cases[] = {
                {{"enqueue", NULL}, EX_USAGE, "missing --class"},
                {{"enqueue", "--class", "X", "--retry", "maybe", NULL},
                 EX_USAGE,
                 "--retry: expected true, false"},
                {{"enqueue", "--class", "X", "--at", "tomorrow", NULL},
                 EX_USAGE,
                 "--at: expected epoch seconds"},
                {{"enqueue", "--class", "X", "--in", "5", NULL}, EX_USAGE, "--in: expected a duration"},
                {{"enqueue", "--class", "X", "--queue", "a b", NULL}, EX_USAGE, "not a queue name"},
                {{"enqueue", "--class", "X", "--args", "[1", NULL}, EX_DATAERR, "--args: invalid JSON"},
                {{"enqueue", "--class", "X", "--args", "{}", NULL},
                 EX_DATAERR,
                 "--args: expected a JSON array"},
                {{"enqueue", "--bogus", NULL}, EX_USAGE, "enqueue: unknown option '--bogus'"},
                {{"enqueue", "--class", NULL}, EX_USAGE, "option '--class' needs an argument"},
                {{"enqueue", "--class", "X", "/nonexistent/jobs", NULL},
                 EX_NOINPUT,
                 "cannot open /nonexistent/jobs"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *const *a = cases[i].args;
                ctl_run(&o, &env, NULL, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
                expect(cases[i].code, cases[i].message);
        }
        ctl_run(&o, &env, NULL, "enqueue", "--class", "X", "--at", "1", "--in", "1s", NULL);
        expect(EX_USAGE, "not both");
        assert_int_equal(fc_test_redis_int(rc, "DBSIZE"), 0);
}

/* ---- stats and queues ------------------------------------------------------- */

static void test_stats_and_queues(void **state) {
        fc_test_redis_int(rc, "SET stat:processed 42");
        fc_test_redis_int(rc, "SET stat:failed 3");
        add_failed("retry", 1, "r1", "default", 0);
        add_failed("dead", 1, "d1", "default", 25);
        /* A job that has waited 100 s: latency about 100. */
        fc_test_redis_int(rc, "LPUSH queue:old {\"class\":\"X\",\"args\":[],\"enqueued_at\":%lld}",
                          (long long)time(NULL) - 100);
        fc_test_redis_int(rc, "SADD queues old");
        ctl_run(&o, &env, NULL, "enqueue", "--class", "X", "--queue", "new", NULL);
        expect(0, NULL);
        ctl_run(&o, &env, NULL, "enqueue", "--class", "X", "--in", "1h", NULL);
        expect(0, NULL);

        ctl_run(&o, &env, NULL, "stats", "--json", NULL);
        expect(0, NULL);
        json_t *s = ctl_json(&o);
        assert_int_equal(json_integer_value(json_object_get(s, "processed")), 42);
        assert_int_equal(json_integer_value(json_object_get(s, "failed")), 3);
        assert_int_equal(json_integer_value(json_object_get(s, "enqueued")), 2);
        assert_int_equal(json_integer_value(json_object_get(s, "scheduled")), 1);
        assert_int_equal(json_integer_value(json_object_get(s, "retries")), 1);
        assert_int_equal(json_integer_value(json_object_get(s, "dead")), 1);
        assert_int_equal(json_integer_value(json_object_get(s, "processes")), 0);
        assert_int_equal(json_integer_value(json_object_get(s, "busy")), 0);
        json_t *queues = json_object_get(s, "queues");
        assert_int_equal(json_array_size(queues), 2);
        json_t *old = json_array_get(queues, 1); /* sorted by name: new, old */
        assert_string_equal(json_string_value(json_object_get(old, "name")), "old");
        assert_int_equal(json_integer_value(json_object_get(old, "size")), 1);
        double latency = json_real_value(json_object_get(old, "latency"));
        assert_true(latency >= 99 && latency < 1000);
        json_decref(s);

        ctl_run(&o, &env, NULL, "stats", NULL);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "processed  42\n"));
        assert_non_null(strstr(o.out, "retries    1\n"));
        assert_non_null(strstr(o.out, "QUEUE  SIZE  LATENCY\n"));

        ctl_run(&o, &env, NULL, "queues", "--json", NULL);
        expect(0, NULL);
        queues = ctl_json(&o);
        assert_int_equal(json_array_size(queues), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(queues, 0), "name")), "new");
        json_decref(queues);
        ctl_run(&o, &env, NULL, "queues", NULL);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "new       1"));
}

/* stats --watch redraws until SIGINT, which ends it with 0. */
static void test_stats_watch_ends_with_ctrl_c(void **state) {
        int out[2];
        assert_int_equal(pipe(out), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(out[1], 1);
                close(out[0]);
                execl(FLOWCOROCTL_PATH, FLOWCOROCTL_PATH, "-c", env.config, "stats", "--watch", "0.2",
                      "--json", NULL);
                _exit(127);
        }
        close(out[1]);
        char buf[8192];
        size_t len = 0, lines = 0;
        /* Two redraws, at most 20 s. */
        for (int waited = 0; lines < 2 && waited < 20000; waited += 100) {
                struct pollfd p = {.fd = out[0], .events = POLLIN};
                if (poll(&p, 1, 100) > 0) {
                        ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);
                        if (n <= 0)
                                break;
                        for (ssize_t i = 0; i < n; i++)
                                lines += buf[len + i] == '\n';
                        len += (size_t)n;
                }
        }
        buf[len] = '\0';
        kill(pid, SIGINT);
        int status = -1;
        for (int waited = 0; waited < 10000; waited += 50) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        break;
                status = -1;
                usleep(50000);
        }
        if (status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
        }
        close(out[0]);
        assert_int_equal(lines, 2);
        json_t *first = json_loadb(buf, strcspn(buf, "\n"), 0, NULL);
        assert_true(json_is_object(first));
        assert_non_null(json_object_get(first, "processed"));
        json_decref(first);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- retries and dead ------------------------------------------------------- */

static void test_retries_list_show_retry_delete(void **state) {
        add_failed("retry", 1800000001, "aaaaaaaaaaaaaaaaaaaaaaa1", "mail", 2);
        add_failed("retry", 1800000003, "aaaaaaaaaaaaaaaaaaaaaaa3", "mail", 0);
        add_failed("retry", 1800000002, "aaaaaaaaaaaaaaaaaaaaaaa2", "default", 5);

        ctl_run(&o, &env, NULL, "retries", "list", "--json", NULL);
        expect(0, NULL);
        json_t *l = ctl_json(&o);
        assert_int_equal(json_integer_value(json_object_get(l, "total")), 3);
        json_t *jobs = json_object_get(l, "jobs");
        assert_int_equal(json_array_size(jobs), 3);
        /* Newest first. */
        assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 0), "jid")),
                            "aaaaaaaaaaaaaaaaaaaaaaa3");
        assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 2), "jid")),
                            "aaaaaaaaaaaaaaaaaaaaaaa1");
        json_decref(l);

        ctl_run(&o, &env, NULL, "retries", "list", "--per-page", "2", "--page", "2", "--json", NULL);
        expect(0, NULL);
        l = ctl_json(&o);
        jobs = json_object_get(l, "jobs");
        assert_int_equal(json_array_size(jobs), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 0), "jid")),
                            "aaaaaaaaaaaaaaaaaaaaaaa1");
        json_decref(l);

        ctl_run(&o, &env, NULL, "retries", "list", "--per-page", "2", NULL);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "NEXT RETRY"));
        assert_non_null(strstr(o.out, "aaaaaaaaaaaaaaaaaaaaaaa3"));
        assert_null(strstr(o.out, "aaaaaaaaaaaaaaaaaaaaaaa1"));
        assert_non_null(strstr(o.out, "jobs 1-2 of 3"));

        ctl_run(&o, &env, NULL, "retries", "show", "aaaaaaaaaaaaaaaaaaaaaaa2", "--json", NULL);
        expect(0, NULL);
        json_t *shown = ctl_json(&o);
        assert_int_equal(json_array_size(shown), 1);
        json_t *job = json_object_get(json_array_get(shown, 0), "job");
        assert_string_equal(json_string_value(json_object_get(job, "error_message")),
                            "it broke: aaaaaaaaaaaaaaaaaaaaaaa2");
        assert_int_equal((long long)json_real_value(json_object_get(json_array_get(shown, 0), "score")),
                         1800000002LL);
        json_decref(shown);
        ctl_run(&o, &env, NULL, "retries", "show", "aaaaaaaaaaaaaaaaaaaaaaa2", NULL);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "error: Boom: it broke"));

        /* A jid that is only part of another's, or absent: not found. */
        ctl_run(&o, &env, NULL, "retries", "show", "aaaaaaaaaaaa", NULL);
        expect(1, "no job with jid 'aaaaaaaaaaaa' in the retry set (key retry)");
        ctl_run(&o, &env, NULL, "retries", "retry", "nope*", NULL);
        expect(1, "no job with jid 'nope*'");
        ctl_run(&o, &env, NULL, "retries", "delete", "nope", NULL);
        expect(1, "no job with jid 'nope'");

        /* Retry now: back to its queue, retry_count one lower, a fresh enqueued_at, fields kept. */
        double before = (double)time(NULL);
        ctl_run(&o, &env, NULL, "retries", "retry", "aaaaaaaaaaaaaaaaaaaaaaa1", NULL);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "moved 1 job"));
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 2);
        assert_int_equal(fc_test_redis_int(rc, "SISMEMBER queues mail"), 1);
        job = redis_json("LINDEX queue:mail 0");
        assert_string_equal(json_string_value(json_object_get(job, "jid")), "aaaaaaaaaaaaaaaaaaaaaaa1");
        assert_int_equal(json_integer_value(json_object_get(job, "retry_count")), 1);
        assert_true(json_real_value(json_object_get(job, "enqueued_at")) >= before);
        assert_string_equal(json_string_value(json_object_get(job, "custom")), "kept");
        json_decref(job);

        ctl_run(&o, &env, NULL, "retries", "delete", "aaaaaaaaaaaaaaaaaaaaaaa3", "--json", NULL);
        expect(0, NULL);
        json_t *d = ctl_json(&o);
        assert_int_equal(json_integer_value(json_object_get(d, "deleted")), 1);
        json_decref(d);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 1);

        ctl_run(&o, &env, NULL, "retries", "delete", "--all", "--json", NULL);
        expect(0, NULL);
        d = ctl_json(&o);
        assert_int_equal(json_integer_value(json_object_get(d, "deleted")), 1);
        json_decref(d);
        assert_int_equal(fc_test_redis_int(rc, "EXISTS retry"), 0);
        ctl_run(&o, &env, NULL, "retries", "list", NULL);
        expect(0, NULL);
        assert_string_equal(o.out, "the retry set is empty\n");
}

static void test_dead_retry_all_keeps_what_it_cannot_read(void **state) {
        for (int i = 0; i < 1200; i++) { /* more than one batch */
                char jid[32];
                snprintf(jid, sizeof(jid), "dead%020d", i);
                add_failed("dead", 1700000000 + i, jid, i % 2 ? "odd" : "even", 25);
        }
        fc_test_redis_int(rc, "ZADD dead 1 not-json-at-all");
        ctl_run(&o, &env, NULL, "dead", "retry", "--all", "--json", NULL);
        expect(EX_DATAERR, "cannot retry an entry of the dead set: it is not a JSON object");
        json_t *r = ctl_json(&o);
        assert_int_equal(json_integer_value(json_object_get(r, "retried")), 1200);
        assert_int_equal(json_integer_value(json_object_get(r, "skipped")), 1);
        json_decref(r);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD dead"), 1);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:odd"), 600);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:even"), 600);
        /* Oldest first into the queue: the oldest is next out. */
        json_t *next = redis_json("LINDEX queue:even -1");
        assert_string_equal(json_string_value(json_object_get(next, "jid")), "dead00000000000000000000");
        assert_int_equal(json_integer_value(json_object_get(next, "retry_count")), 24);
        json_decref(next);
        ctl_run(&o, &env, NULL, "dead", "delete", "nope", NULL);
        expect(1, "no job with jid 'nope' in the dead set (key dead)");
        ctl_run(&o, &env, NULL, "dead", "list", "--json", NULL);
        expect(0, NULL);
        r = ctl_json(&o);
        /* An entry that is not JSON is listed as its text. */
        assert_string_equal(
                json_string_value(json_object_get(json_array_get(json_object_get(r, "jobs"), 0), "job")),
                "not-json-at-all");
        json_decref(r);
}

static void test_sets_bad_usage(void **state) {
        static const struct {
                const char *args[5];
                const char *message;
        } cases[] = {
                {{"retries", NULL}, "missing subcommand"},
                {{"dead", "purge", NULL}, "unknown subcommand 'purge'"},
                {{"retries", "show", NULL}, "missing JID"},
                {{"retries", "retry", NULL}, "missing JID or --all"},
                {{"retries", "list", "--page", "0", NULL}, "--page: expected a whole number from 1"},
                {{"dead", "show", "x", "--all", NULL}, "--all goes with retry and delete"},
                {{"dead", "list", "extra", NULL}, "unexpected argument 'extra'"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *const *a = cases[i].args;
                ctl_run(&o, &env, NULL, a[0], a[1], a[2], a[3], a[4], NULL);
                expect(EX_USAGE, cases[i].message);
        }
}

/* ---- processes (no daemon here: tests/ctl/test-ctl-daemon.c has one) --------- */

static void test_processes_without_any(void **state) {
        ctl_run(&o, &env, NULL, "processes", NULL);
        expect(0, NULL);
        assert_string_equal(o.out, "no live processes\n");
        ctl_run(&o, &env, NULL, "processes", "--json", NULL);
        expect(0, NULL);
        assert_string_equal(o.out, "[]\n");
        /* In the set but its hash expired: not live. */
        fc_test_redis_int(rc, "SADD processes host:1:abc");
        ctl_run(&o, &env, NULL, "processes", "stop", "host:1:abc", NULL);
        expect(1, "no live process 'host:1:abc'");
        assert_int_equal(fc_test_redis_int(rc, "EXISTS host:1:abc-signals"), 0);
}

/* ---- configuration and connection errors -------------------------------------- */

static void test_unreachable_redis_and_bad_url(void **state) {
        ctl_run(&o, &env, NULL, "--redis", "redis://127.0.0.1:1", "stats", NULL);
        expect(EX_UNAVAILABLE, "cannot connect to Redis at redis://127.0.0.1:1: ");
        ctl_run(&o, &env, NULL, "--redis", "unix:///nonexistent/redis.sock", "enqueue", "--class", "X", NULL);
        expect(EX_UNAVAILABLE, "unix:///nonexistent/redis.sock");
        ctl_run(&o, &env, NULL, "--redis", "http://example.com", "queues", NULL);
        expect(EX_USAGE, "flowcoroctl: --redis: redis.url:");
        /* --redis wins over the file's redis.url. */
        char url[400];
        snprintf(url, sizeof(url), "unix://%s", redis.socket_path);
        ctl_env_t other;
        ctl_env_init(&other, "redis:\n  url: redis://127.0.0.1:1\n");
        ctl_run(&o, &other, NULL, "--redis", url, "enqueue", "--class", "Via", NULL);
        expect(0, NULL);
        ctl_env_free(&other);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:default"), 1);
}

static void test_configuration_errors(void **state) {
        ctl_run_bare(&o, NULL, "-c", "/nonexistent/flowcoro.yaml", "stats", NULL);
        expect(EX_NOINPUT, "/nonexistent/flowcoro.yaml");
        ctl_env_t bad;
        ctl_env_init(&bad, "redis:\n  url: redis://127.0.0.1:1\nconcurrency: many\n");
        ctl_run(&o, &bad, NULL, "stats", NULL);
        expect(EX_CONFIG, "flowcoro.yaml:3:14: concurrency:");
        ctl_env_free(&bad);
        ctl_run(&o, &env, NULL, "status", NULL);
        expect(EX_CONFIG, "control.socket is \"\"");
        ctl_run_bare(&o, NULL, "--redis", NULL);
        expect(EX_USAGE, "option '--redis' needs an argument");
}

static void test_prefix_and_password(void **state) {
        fc_test_redis_int(rc, "CONFIG SET requirepass s3cret");
        redisReply *auth = redisCommand(rc, "AUTH s3cret");
        freeReplyObject(auth);
        const char *pw = ctl_write_file(&env, "password", "s3cret\n");
        char yaml[900];
        snprintf(yaml, sizeof(yaml), "redis:\n  url: unix://%s\n  prefix: \"app:\"\n  password_file: %s\n",
                 redis.socket_path, pw);
        ctl_env_t p;
        ctl_env_init(&p, yaml);
        ctl_run(&o, &p, NULL, "enqueue", "--class", "X", "--queue", "q", NULL);
        expect(0, NULL);
        assert_int_equal(fc_test_redis_int(rc, "LLEN app:queue:q"), 1);
        assert_int_equal(fc_test_redis_int(rc, "SISMEMBER app:queues q"), 1);
        ctl_run(&o, &p, NULL, "queues", "--json", NULL);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "{\"name\":\"q\",\"size\":1,"));
        ctl_env_free(&p);
        /* Without the password (or a wrong one): refused, and the password never shows. */
        ctl_run(&o, &env, NULL, "stats", NULL);
        expect(EX_NOPERM, "NOAUTH");
        ctl_run(&o, &env, NULL, "--redis", "redis://:wrong@127.0.0.1:1", "stats", NULL);
        expect(EX_UNAVAILABLE, "redis://:***@127.0.0.1:1: ");
        assert_null(strstr(o.err, "wrong"));
        snprintf(yaml, sizeof(yaml), "unix://:wrong@%s", redis.socket_path);
        ctl_run(&o, &env, NULL, "--redis", yaml, "stats", NULL);
        expect(EX_NOPERM, "refused the password (from url)");
        assert_null(strstr(o.err, "wrong"));
        fc_test_redis_int(rc, "CONFIG SET requirepass %s", "");
}

static void test_help_on_every_command(void **state) {
        static const char *const commands[] = {"enqueue",   "stats",  "queues", "retries", "dead",
                                               "processes", "reload", "quiet",  "status"};
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                char usage[64];
                snprintf(usage, sizeof(usage), "Usage: flowcoroctl %s", commands[i]);
                /* No configuration needed for help. */
                ctl_run_bare(&o, NULL, "-c", "/nonexistent/flowcoro.yaml", commands[i], "--help", NULL);
                expect(0, NULL);
                assert_non_null(strstr(o.out, usage));
        }
        ctl_run_bare(&o, NULL, "--help", NULL);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "Exit codes:"));
}

/* ---- Sidekiq's own API reads what flowcoroctl wrote ------------------------------ */

static void test_sidekiq_api_reads_enqueued_jobs(void **state) {
        ctl_run(&o, &env, NULL, "enqueue", "--class", "HardWorker", "--args", "[1,\"x\"]", "--queue",
                "compat", NULL);
        expect(0, NULL);
        char jid[32];
        snprintf(jid, sizeof(jid), "%.24s", o.out);
        const char *path =
                ctl_write_file(&env, "c.jsonl", "[2]\n{\"class\":\"Other\",\"args\":[3],\"retry\":false}\n");
        ctl_run(&o, &env, NULL, "enqueue", "--class", "HardWorker", "--queue", "compat", path, NULL);
        expect(0, NULL);
        ctl_run(&o, &env, NULL, "enqueue", "--class", "Later", "--in", "2h", NULL);
        expect(0, NULL);
        const char *argv[] = {"/usr/bin/ruby", SIDEKIQ_SCRIPT, redis.socket_path, NULL};
        assert_int_equal(fc_test_run(argv, 120, &o), 0);
        if (o.exit_code != 0)
                ctl_dump("ctl-sidekiq.rb", &o);
        assert_int_equal(o.exit_code, 0);
        json_t *seen = ctl_json(&o);
        json_t *jobs = json_object_get(seen, "compat");
        assert_int_equal(json_array_size(jobs), 3);
        /* Sidekiq::Queue#each: newest first. */
        json_t *oldest = json_array_get(jobs, 2), *newest = json_array_get(jobs, 0);
        assert_string_equal(json_string_value(json_object_get(oldest, "jid")), jid);
        assert_string_equal(json_string_value(json_object_get(oldest, "klass")), "HardWorker");
        assert_string_equal(json_string_value(json_object_get(oldest, "display_class")), "HardWorker");
        assert_string_equal(json_string_value(json_object_get(newest, "klass")), "Other");
        assert_true(json_is_false(json_object_get(newest, "retry")));
        json_t *args = json_loads("[1,\"x\"]", 0, NULL);
        assert_true(json_equal(json_object_get(oldest, "args"), args));
        json_decref(args);
        assert_true(json_real_value(json_object_get(oldest, "latency")) >= 0);
        assert_true(json_real_value(json_object_get(oldest, "latency")) < 120);
        assert_true(json_is_true(json_object_get(oldest, "enqueued_at_set")));
        assert_true(json_is_true(json_object_get(oldest, "created_at_set")));
        json_t *stats = json_object_get(seen, "stats");
        assert_int_equal(json_integer_value(json_object_get(stats, "enqueued")), 3);
        assert_int_equal(json_integer_value(json_object_get(stats, "scheduled_size")), 1);
        json_t *scheduled = json_object_get(seen, "scheduled");
        assert_int_equal(json_array_size(scheduled), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(scheduled, 0), "klass")),
                            "Later");
        double in = json_real_value(json_object_get(json_array_get(scheduled, 0), "in"));
        assert_true(in > 7000 && in <= 7200);
        json_decref(seen);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, each_setup, each_teardown)
        const struct CMUnitTest tests[] = {
                T(test_enqueue_one_job_as_sidekiq_writes_it),
                T(test_enqueue_scheduled_with_at_and_in),
                T(test_enqueue_lines_reports_every_bad_line_and_enqueues_the_rest),
                T(test_enqueue_from_stdin),
                T(test_enqueue_bad_flags_and_data),
                T(test_stats_and_queues),
                T(test_stats_watch_ends_with_ctrl_c),
                T(test_retries_list_show_retry_delete),
                T(test_dead_retry_all_keeps_what_it_cannot_read),
                T(test_sets_bad_usage),
                T(test_processes_without_any),
                T(test_unreachable_redis_and_bad_url),
                T(test_configuration_errors),
                T(test_prefix_and_password),
                T(test_help_on_every_command),
                T(test_sidekiq_api_reads_enqueued_jobs),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
