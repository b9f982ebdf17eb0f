/* examples.so: every handler, run through the real loader and host table,
 * in coroutines of a real pool; Record against a real redis-server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/redis_server.h"
#include "plugin_test.h"
#include "redis_pool.h"

static fc_sched_t *pool;
static fc_config_t *config;
static fc_plugin_set_t *set;
static fc_test_redis_t redis;

/* Handlers' Redis commands go through the daemon's own connection pool,
 * connected to this test's redis-server. */
static fc_redis_pool_t *rpool;

static int setup(void **state) {
        fc_sched_options_t o = {.threads = 2};
        fc_config_errors_t *e;
        if (fc_test_redis_start(&redis, NULL) < 0 || fc_sched_create(&o, &pool) < 0)
                return -1;
        int r = pt_load("plugins:\n  load:\n    - path: " PLUGIN_DIR "/examples.so\n", false, &config, &set, &e);
        fc_config_errors_free(e);
        fc_redis_options_t ro = {.transport = FC_REDIS_UNIX, .socket_path = redis.socket_path};
        if (r < 0 || fc_redis_pool_new(&ro, 4, &rpool) < 0)
                return -1;
        fc_host_use_redis_pool(rpool);
        return 0;
}

static int teardown(void **state) {
        fc_host_use_redis_pool(NULL);
        fc_redis_pool_free(rpool);
        fc_plugin_set_unref(set);
        fc_config_free(config);
        fc_sched_destroy(pool);
        fc_test_redis_stop(&redis);
        return 0;
}

static fc_job_t *run(const char *payload) {
        return pt_run(pool, set, payload, FC_FOREVER);
}

static void test_noop_and_echo_succeed(void **state) {
        fc_job_t *j = run("{\"class\":\"Noop\",\"args\":[]}");
        assert_int_equal(j->status, FC_JOB_OK);
        assert_null(j->error_message);
        assert_int_equal(strlen(j->jid), 24); /* a jid was made up for it */
        fc_job_free(j);
        j = run("{\"class\":\"Echo\",\"args\":[1,\"two\",{\"three\":3}],\"jid\":\"e1\"}");
        assert_int_equal(j->status, FC_JOB_OK);
        fc_job_free(j);
}

static void test_sleep_sleeps_without_holding_the_thread(void **state) {
        /* One scheduler thread: a Sleep job of a minute, then a Noop job. The
         * Noop can only finish if the Sleep gave the thread up; then
         * cancelling the Sleep ends it early as a retryable failure. */
        fc_sched_t *one;
        fc_sched_options_t o = {.threads = 1};
        assert_int_equal(fc_sched_create(&o, &one), 0);
        fc_coro_t *sleeper;
        fc_job_t *slept = pt_start(one, set, "{\"class\":\"Sleep\",\"args\":[60000]}", FC_FOREVER, &sleeper);
        fc_job_t *j = pt_run(one, set, "{\"class\":\"Noop\",\"args\":[]}", FC_FOREVER);
        assert_int_equal(j->status, FC_JOB_OK);
        fc_job_free(j);
        fc_cancel(sleeper);
        assert_int_equal(fc_join(sleeper), 0);
        assert_int_equal(slept->status, FC_JOB_RETRY);
        assert_non_null(strstr(slept->error_message, "sleep interrupted"));
        fc_job_free(slept);

        j = pt_run(one, set, "{\"class\":\"Sleep\",\"args\":[1]}", FC_FOREVER);
        assert_int_equal(j->status, FC_JOB_OK);
        fc_job_free(j);
        j = pt_run(one, set, "{\"class\":\"Sleep\",\"args\":[\"soon\"]}", FC_FOREVER);
        assert_int_equal(j->status, FC_JOB_DEAD);
        assert_string_equal(j->error_message, "Sleep expects [ms], a whole number >= 0");
        assert_string_equal(j->error_class, "ArgumentError");
        fc_job_free(j);
        /* Past its deadline, the sleep is interrupted the same way. */
        j = pt_run(one, set, "{\"class\":\"Sleep\",\"args\":[60000]}", 20);
        assert_int_equal(j->status, FC_JOB_RETRY);
        assert_non_null(strstr(j->error_message, "sleep interrupted"));
        fc_job_free(j);
        fc_sched_destroy(one);
}

static void test_fail_retry_and_dead(void **state) {
        fc_job_t *j = run("{\"class\":\"Fail\",\"args\":[\"retry\",\"try again\"]}");
        assert_int_equal(j->status, FC_JOB_RETRY);
        assert_string_equal(j->error_message, "try again");
        assert_string_equal(j->error_class, "Fail");
        fc_job_free(j);
        j = run("{\"class\":\"Fail\",\"args\":[\"dead\",\"never\"]}");
        assert_int_equal(j->status, FC_JOB_DEAD);
        assert_string_equal(j->error_message, "never");
        fc_job_free(j);
        j = run("{\"class\":\"Fail\",\"args\":[\"sideways\"]}");
        assert_int_equal(j->status, FC_JOB_DEAD);
        assert_string_equal(j->error_class, "ArgumentError");
        fc_job_free(j);
}

static long long hget(const char *key, const char *field) {
        redisContext *c = redisConnectUnix(redis.socket_path);
        assert_non_null(c);
        redisReply *r = redisCommand(c, "HGET %s %s", key, field);
        assert_non_null(r);
        long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : -1;
        freeReplyObject(r);
        redisFree(c);
        return v;
}

static void test_record_counts_each_execution_in_redis(void **state) {
        for (int i = 0; i < 3; i++) {
                fc_job_t *j = run("{\"class\":\"Record\",\"args\":[\"runs\"],\"jid\":\"r1\"}");
                assert_int_equal(j->status, FC_JOB_OK);
                fc_job_free(j);
        }
        fc_job_t *j = run("{\"class\":\"Record\",\"args\":[\"runs\",5],\"jid\":\"r2\"}");
        assert_int_equal(j->status, FC_JOB_OK);
        fc_job_free(j);
        assert_int_equal(hget("runs", "r1"), 3);
        assert_int_equal(hget("runs", "r2"), 1);

        j = run("{\"class\":\"Record\",\"args\":[42]}");
        assert_int_equal(j->status, FC_JOB_DEAD);
        assert_string_equal(j->error_message, "Record expects [key, ms?]");
        fc_job_free(j);

        /* A Redis error reply (wrong type) is a retryable failure that says so. */
        redisContext *c = redisConnectUnix(redis.socket_path);
        freeReplyObject(redisCommand(c, "SET astring x"));
        redisFree(c);
        j = run("{\"class\":\"Record\",\"args\":[\"astring\"]}");
        assert_int_equal(j->status, FC_JOB_RETRY);
        assert_non_null(strstr(j->error_message, "HINCRBY failed: WRONGTYPE"));
        fc_job_free(j);

        /* No Redis at all: retry, not a crash. */
        fc_host_use_redis_pool(NULL);
        j = run("{\"class\":\"Record\",\"args\":[\"runs\"]}");
        assert_int_equal(j->status, FC_JOB_RETRY);
        assert_non_null(strstr(j->error_message, "HINCRBY failed: "));
        fc_job_free(j);
        fc_host_use_redis_pool(rpool);

        /* Many Record jobs at once share the pool's 4 connections. */
        enum { MANY = 200 };
        fc_job_t *many[MANY];
        fc_coro_t *cos[MANY];
        char payload[128];
        for (int i = 0; i < MANY; i++) {
                snprintf(payload, sizeof(payload), "{\"class\":\"Record\",\"args\":[\"many\",1],\"jid\":\"m%d\"}", i);
                many[i] = pt_start(pool, set, payload, FC_FOREVER, &cos[i]);
        }
        for (int i = 0; i < MANY; i++) {
                assert_int_equal(fc_join(cos[i]), 0);
                assert_int_equal(many[i]->status, FC_JOB_OK);
                fc_job_free(many[i]);
        }
        for (int i = 0; i < MANY; i++) {
                snprintf(payload, sizeof(payload), "m%d", i);
                assert_int_equal(hget("many", payload), 1);
        }
}

static void test_crash_is_refused_unless_allowed(void **state) {
        fc_job_t *j = run("{\"class\":\"Crash\",\"args\":[]}");
        assert_int_equal(j->status, FC_JOB_DEAD);
        assert_non_null(strstr(j->error_message, "set allow_crash: true"));
        fc_job_free(j);

        /* Allowed: the process dies of SIGABRT (in a child, with its own pool). */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                fc_sched_t *s;
                fc_config_t *c;
                fc_plugin_set_t *crash_set;
                fc_config_errors_t *e;
                fc_sched_options_t o = {.threads = 1};
                if (fc_sched_create(&o, &s) < 0 ||
                    pt_load("plugins:\n  load:\n    - path: " PLUGIN_DIR "/examples.so\n"
                            "      config: { allow_crash: true }\n",
                            false, &c, &crash_set, &e) < 0)
                        _exit(10);
                pt_run(s, crash_set, "{\"class\":\"Crash\",\"args\":[]}", FC_FOREVER);
                _exit(11);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_bad_payloads_are_refused_with_reasons(void **state) {
        static const struct {
                const char *payload, *message;
        } cases[] = {
                {"[1,2]", "job payload: expected a JSON object, got an array"},
                {"{\"args\":[]}", "job payload: \"class\" is missing"},
                {"{\"class\":7,\"args\":[]}", "job payload: \"class\" must be a non-empty string, got a number"},
                {"{\"class\":\"Noop\"}", "job payload: \"args\" is missing"},
                {"{\"class\":\"Noop\",\"args\":\"x\"}", "job payload: \"args\" must be an array, got a string"},
                {"{\"class\":\"Noop\",\"args\":[],\"jid\":5}", "job payload: \"jid\" must be a string, got a number"},
                {"{\"class\":\"Noop\",\"args\":[],\"queue\":[]}",
                 "job payload: \"queue\" must be a non-empty string, got an array"},
                {"{\"class\":\"Noop\",\"args\":[],\"retry_count\":1.5}",
                 "job payload: \"retry_count\" must be a whole number, got a number"},
                {"{\"class\":\"Noop\",\"args\":[],\"recovered_count\":-1}",
                 "job payload: \"recovered_count\" must be a whole number from 0 to 1000000, got -1"},
                {"{\"class\":\"Noop\",\"args\":[],\"class\":\"X\"}", "job payload: not valid JSON at line 1"},
                {"{\"class\":", "job payload: not valid JSON at line 1"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                fc_job_t *job = NULL;
                char err[256];
                assert_int_equal(fc_job_parse(cases[i].payload, strlen(cases[i].payload), &job, err, sizeof(err)),
                                 -EINVAL);
                assert_null(job);
                if (strncmp(err, cases[i].message, strlen(cases[i].message)) != 0)
                        fail_msg("payload %s: got \"%s\", expected \"%s\"", cases[i].payload, err, cases[i].message);
        }
        /* Optional fields: defaults; Sidekiq 8's millisecond timestamps read as seconds. */
        const char *ok = "{\"class\":\"Noop\",\"args\":[],\"enqueued_at\":1700000000123}";
        fc_job_t *job;
        char err[256];
        assert_int_equal(fc_job_parse(ok, strlen(ok), &job, err, sizeof(err)), 0);
        assert_string_equal(job->queue, "default");
        assert_int_equal(job->retry_count, 0);
        assert_true(job->enqueued_at > 1700000000.0 && job->enqueued_at < 1700000001.0);
        fc_job_free(job);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_noop_and_echo_succeed),
                cmocka_unit_test(test_sleep_sleeps_without_holding_the_thread),
                cmocka_unit_test(test_fail_retry_and_dead),
                cmocka_unit_test(test_record_counts_each_execution_in_redis),
                cmocka_unit_test(test_crash_is_refused_unless_allowed),
                cmocka_unit_test(test_bad_payloads_are_refused_with_reasons),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
