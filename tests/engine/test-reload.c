/* Reloading a running flowcorod (flowcorod.c, engine.c): through the
 * control socket and SIGHUP, with a changed queue list, a broken file, a
 * plugin that refuses its configuration, restart-only settings and a log
 * level. A failed reload leaves the daemon running what it ran. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "flowcoro/core.h"
#include "harness/daemon.h"

static fc_test_redis_t redis;
static redisContext *rc;
/* The daemon a test runs; stopped after each test, also one that failed
 * (it would go on fetching the next test's jobs). */
static fc_test_daemon_t d;

static int setup(void **state) {
        if (fc_test_redis_start(&redis, NULL) < 0)
                return -1;
        rc = fc_test_redis_connect(&redis);
        return rc ? 0 : -1;
}

static int teardown(void **state) {
        redisFree(rc);
        fc_test_redis_stop(&redis);
        return 0;
}

static int stop_daemon(void **state) {
        fc_test_daemon_stop(&d);
        return 0;
}

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Rewrites the daemon's configuration, replacing the first from by to. */
static void edit_config(const fc_test_daemon_t *daemon, const char *from, const char *to) {
        FILE *f = fopen(daemon->config, "r");
        assert_non_null(f);
        char text[8192];
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        char *at = strstr(text, from);
        assert_non_null(at);
        f = fopen(daemon->config, "w");
        assert_non_null(f);
        fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        fclose(f);
}

static json_t *request(const fc_test_daemon_t *daemon, const char *command) {
        char *reply = NULL, error[512] = "";
        int r = fc_control_request(daemon->control, command, &reply, error, sizeof(error));
        if (r < 0)
                fprintf(stderr, "fc_control_request(%s): %s\n", command, error);
        assert_int_equal(r, 0);
        json_t *j = json_loads(reply, 0, NULL);
        free(reply);
        assert_true(json_is_object(j));
        return j;
}

static void push(const char *queue, const char *jid) {
        freeReplyObject(redisCommand(
                rc, "LPUSH queue:%s {\"class\":\"Record\",\"args\":[\"seen\"],\"jid\":\"%s\"}", queue, jid));
}

static bool seen(void *jid) {
        return fc_test_redis_int(rc, "HGET seen %s", (const char *)jid) == 1;
}

static void test_reload_switches_queues(void **state) {
        assert_int_equal(fc_test_daemon_start(&d, &redis, "queues: [alpha]\n", NULL), 0);
        push("alpha", "a1");
        assert_true(fc_test_wait_until(seen, "a1", 20000));

        edit_config(&d, "queues: [alpha]", "queues: [beta]");
        json_t *j = request(&d, "reload");
        assert_true(json_is_true(json_object_get(j, "ok")));
        const char *message = json_string_value(json_object_get(j, "message"));
        assert_non_null(strstr(message, "reloaded "));
        assert_null(strstr(message, "need a restart"));
        json_decref(j);

        push("alpha", "a2");
        push("beta", "b1");
        assert_true(fc_test_wait_until(seen, "b1", 20000));
        /* Fetches go to beta only now: alpha's job stays where it is. */
        sleep_ms(1000);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:alpha"), 1);
        assert_false(seen("a2"));

        j = request(&d, "status");
        json_t *queues = json_object_get(j, "queues");
        assert_int_equal(json_array_size(queues), 1);
        assert_string_equal(json_string_value(json_array_get(queues, 0)), "beta");
        json_t *last = json_object_get(j, "last_reload");
        assert_true(json_is_true(json_object_get(last, "ok")));
        assert_non_null(json_string_value(json_object_get(last, "time")));
        json_decref(j);

        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
        freeReplyObject(redisCommand(rc, "DEL queue:alpha seen"));
}

static void test_broken_config_is_refused_and_the_old_one_runs_on(void **state) {
        assert_int_equal(fc_test_daemon_start(&d, &redis, "queues: [gamma]\nconcurrency: 10\n", NULL), 0);
        /* Line 9 of the harness's file: a setting with a bad value. */
        edit_config(&d, "concurrency: 10\n", "concurrency: lots\n");
        json_t *j = request(&d, "reload");
        assert_true(json_is_false(json_object_get(j, "ok")));
        json_t *errors = json_object_get(j, "errors");
        assert_true(json_array_size(errors) >= 1);
        const char *text = json_string_value(json_array_get(errors, 0));
        char where[400];
        snprintf(where, sizeof(where), "%s:9:", d.config);
        assert_non_null(strstr(text, where));
        assert_non_null(strstr(text, "concurrency"));
        json_decref(j);
        assert_true(fc_test_daemon_logged(
                &d, "reload failed with 1 error; still running the previous configuration"));

        /* YAML that does not parse. */
        edit_config(&d, "concurrency: lots\n", "concurrency: [10\n");
        j = request(&d, "reload");
        assert_true(json_is_false(json_object_get(j, "ok")));
        assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "errors"), 0)), d.config));
        json_decref(j);

        /* A plugin that refuses its configuration: the plugin's message,
         * at its entry. */
        edit_config(&d, "concurrency: [10\n", "concurrency: 10\n");
        edit_config(&d, "allow_crash: true", "allow_crash: maybe");
        j = request(&d, "reload");
        assert_true(json_is_false(json_object_get(j, "ok")));
        text = json_string_value(json_array_get(json_object_get(j, "errors"), 0));
        assert_non_null(strstr(text, d.config));
        assert_non_null(strstr(text, "expected true or false"));
        json_decref(j);

        /* Still running gamma and the old settings. */
        push("gamma", "g1");
        assert_true(fc_test_wait_until(seen, "g1", 20000));
        j = request(&d, "status");
        assert_int_equal(json_integer_value(json_object_get(j, "concurrency")), 10);
        json_t *last = json_object_get(j, "last_reload");
        assert_true(json_is_false(json_object_get(last, "ok")));
        assert_non_null(
                strstr(json_string_value(json_object_get(last, "message")), "expected true or false"));
        json_decref(j);

        /* Fixed, it reloads. */
        edit_config(&d, "allow_crash: maybe", "allow_crash: true");
        j = request(&d, "reload");
        assert_true(json_is_true(json_object_get(j, "ok")));
        json_decref(j);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
        freeReplyObject(redisCommand(rc, "DEL seen"));
}

static void test_restart_only_settings_are_named(void **state) {
        assert_int_equal(
                fc_test_daemon_start(&d, &redis, "scheduler:\n  threads: 2\nconcurrency: 10\n", NULL), 0);
        edit_config(&d, "threads: 2", "threads: 3");
        edit_config(&d, "concurrency: 10", "concurrency: 12");
        json_t *j = request(&d, "reload");
        assert_true(json_is_true(json_object_get(j, "ok")));
        assert_non_null(strstr(json_string_value(json_object_get(j, "message")),
                               "changed settings that need a restart: scheduler.threads"));
        json_decref(j);
        assert_true(fc_test_daemon_logged(&d, "warning: reloaded "));
        /* What can change did. */
        j = request(&d, "status");
        assert_int_equal(json_integer_value(json_object_get(j, "concurrency")), 12);
        json_decref(j);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

static void test_sighup_reloads_and_logs(void **state) {
        assert_int_equal(fc_test_daemon_start(&d, &redis, "queues: [delta]\n", NULL), 0);
        edit_config(&d, "queues: [delta]", "queues: [epsilon]");
        fc_test_daemon_signal(&d, SIGHUP);
        assert_true(fc_test_wait_until_logged(&d, "notice: reloaded ", 20000));
        push("epsilon", "e1");
        assert_true(fc_test_wait_until(seen, "e1", 20000));

        /* A broken file on SIGHUP: logged with its position, nothing changes. */
        edit_config(&d, "queues: [epsilon]", "queues: {epsilon: 1}");
        fc_test_daemon_signal(&d, SIGHUP);
        assert_true(fc_test_wait_until_logged(&d, "reload failed with", 20000));
        char where[400];
        snprintf(where, sizeof(where), "error: reload: %s:", d.config);
        assert_true(fc_test_daemon_logged(&d, where));
        push("epsilon", "e2");
        assert_true(fc_test_wait_until(seen, "e2", 20000));
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
        freeReplyObject(redisCommand(rc, "DEL seen"));
}

static void test_log_level_is_applied(void **state) {
        assert_int_equal(fc_test_daemon_start(&d, &redis, "log:\n  level: info\n", NULL), 0);
        edit_config(&d, "level: info", "level: error");
        json_t *j = request(&d, "reload");
        assert_true(json_is_true(json_object_get(j, "ok")));
        json_decref(j);
        /* The reload's own result line is a notice: at level error it is
         * no longer written, though its start was. */
        assert_true(fc_test_daemon_logged(&d, "notice: reloading "));
        assert_false(fc_test_daemon_logged(&d, "notice: reloaded "));
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

static void test_concurrency_beyond_max_map_count_is_refused(void **state) {
        long max = fc_max_map_count();
        if (max < 0 || max > 1999000) {
                fprintf(stderr, "vm.max_map_count is %ld here: 1,000,000 stacks fit, nothing to test\n", max);
                skip();
        }
        assert_int_equal(fc_test_daemon_start(&d, &redis, "concurrency: 10\n", NULL), 0);
        edit_config(&d, "concurrency: 10", "concurrency: 1000000");
        json_t *j = request(&d, "reload");
        assert_true(json_is_false(json_object_get(j, "ok")));
        const char *text = json_string_value(json_array_get(json_object_get(j, "errors"), 0));
        char want[64];
        snprintf(want, sizeof(want), "vm.max_map_count is %ld", max);
        assert_non_null(strstr(text, want));
        assert_non_null(strstr(text, "concurrency 1000000 needs about"));
        json_decref(j);
        j = request(&d, "status");
        assert_int_equal(json_integer_value(json_object_get(j, "concurrency")), 10);
        json_decref(j);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_reload_switches_queues, stop_daemon),
                cmocka_unit_test_teardown(test_broken_config_is_refused_and_the_old_one_runs_on, stop_daemon),
                cmocka_unit_test_teardown(test_restart_only_settings_are_named, stop_daemon),
                cmocka_unit_test_teardown(test_sighup_reloads_and_logs, stop_daemon),
                cmocka_unit_test_teardown(test_log_level_is_applied, stop_daemon),
                cmocka_unit_test_teardown(test_concurrency_beyond_max_map_count_is_refused, stop_daemon),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
