/* flowcoroctl with a real flowcorod: the jobs it enqueues run (each exactly
 * once), processes lists the daemon and quiets / stops it through Sidekiq's
 * signals list, status / reload / quiet go through the control socket, and
 * retries / dead act on what the daemon's real failures filed. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl-run.h"
#include "harness/daemon.h"

static const char daemon_config[] = "concurrency: 20\n"
                                    "shutdown_timeout: 5s\n"
                                    "queues:\n"
                                    "  - default\n"
                                    "  - bulk\n";

static fc_test_redis_t redis;
static fc_test_daemon_t flowcorod;
static redisContext *rc;
static ctl_env_t env; /* input files; flowcoroctl runs with the daemon's own configuration */
static fc_test_output_t o;
static ctl_env_t daemon_env; /* only its config: flowcoroctl -c <the daemon's configuration> */

static int setup(void **state) {
        (void)state;
        memset(&flowcorod, 0, sizeof(flowcorod));
        flowcorod.pid = -1;
        if (fc_test_redis_start(&redis, NULL) < 0)
                return -1;
        if (!(rc = fc_test_redis_connect(&redis)))
                return -1;
        if (fc_test_daemon_start(&flowcorod, &redis, daemon_config, NULL) < 0)
                return -1;
        ctl_env_init(&env, "");
        snprintf(daemon_env.config, sizeof(daemon_env.config), "%s", flowcorod.config);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        fc_test_daemon_stop(&flowcorod);
        if (rc)
                redisFree(rc);
        rc = NULL;
        fc_test_redis_stop(&redis);
        ctl_env_free(&env);
        return 0;
}

#define CTL(...) ctl_run(&o, &daemon_env, NULL, __VA_ARGS__, NULL)

static void expect(int code, const char *err_has) {
        if (o.exit_code != code || (err_has && !strstr(o.err, err_has))) {
                ctl_dump("unexpected result", &o);
                char *log = fc_test_daemon_log(&flowcorod);
                fprintf(stderr, "---- flowcorod's log ----\n%s\n", log ? log : "");
                free(log);
        }
        assert_int_equal(o.exit_code, code);
        if (err_has)
                assert_non_null(strstr(o.err, err_has));
}

typedef struct count_wait {
        const char *command;
        long long want;
} count_wait_t;

static bool count_reached(void *arg) {
        count_wait_t *w = arg;
        return fc_test_redis_int(rc, w->command) >= w->want;
}

static bool wait_count(const char *command, long long want, int timeout_ms) {
        count_wait_t w = {command, want};
        return fc_test_wait_until(count_reached, &w, timeout_ms);
}

/* Polls `flowcoroctl --json ARGS` until field of (the first element of) its
 * output is want; returns the last output parsed. */
static json_t *wait_json(const char *a0, const char *a1, const char *field, json_t *want, int timeout_ms) {
        json_t *last = NULL;
        for (int waited = 0; waited <= timeout_ms; waited += 250) {
                CTL("--json", a0, a1);
                expect(0, NULL);
                json_decref(last);
                last = ctl_json(&o);
                json_t *obj = json_is_array(last) ? json_array_get(last, 0) : last;
                if (json_equal(json_object_get(obj, field), want))
                        break;
                usleep(250000);
        }
        json_decref(want);
        return last;
}

static void test_flowcorod_runs_what_flowcoroctl_enqueues(void **state) {
        CTL("enqueue", "--class", "Record", "--args", "[\"ctl:ran\"]");
        expect(0, NULL);
        char jid[32];
        snprintf(jid, sizeof(jid), "%.24s", o.out);
        char *lines = malloc(500 * 16 + 1);
        assert_non_null(lines);
        lines[0] = '\0';
        for (int i = 0; i < 500; i++)
                strcat(lines, "[\"ctl:ran\"]\n");
        const char *path = ctl_write_file(&env, "bulk.jsonl", lines);
        free(lines);
        CTL("enqueue", "--class", "Record", "--queue", "bulk", path);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "enqueued 500 jobs"));
        CTL("enqueue", "--class", "Record", "--args", "[\"ctl:ran\"]", "--in", "1s");
        expect(0, NULL);

        bool all = wait_count("HLEN ctl:ran", 502, 60000);
        if (!all)
                fprintf(stderr, "only %lld of 502 jobs ran\n", fc_test_redis_int(rc, "HLEN ctl:ran"));
        assert_true(all);
        /* Each exactly once. */
        assert_int_equal(fc_test_redis_int(rc, "HGET ctl:ran %s", jid), 1);
        assert_int_equal(fc_test_redis_int(rc, "EVAL %s 1 ctl:ran",
                                           "local n = 0 for _, v in ipairs(redis.call('hvals', KEYS[1])) do "
                                           "if v ~= '1' then n = n + 1 end end return n"),
                         0);
        /* The heartbeat adds them to Sidekiq's counters within about 5 s. */
        json_t *s = NULL;
        for (int waited = 0; waited < 20000; waited += 500) {
                CTL("stats", "--json");
                expect(0, NULL);
                json_decref(s);
                s = ctl_json(&o);
                if (json_integer_value(json_object_get(s, "processed")) >= 502)
                        break;
                usleep(500000);
        }
        assert_int_equal(json_integer_value(json_object_get(s, "processed")), 502);
        assert_int_equal(json_integer_value(json_object_get(s, "processes")), 1);
        assert_int_equal(json_integer_value(json_object_get(s, "enqueued")), 0);
        json_decref(s);
}

static void test_processes_list_quiet_and_stop(void **state) {
        json_t *all = wait_json("processes", NULL, "concurrency", json_integer(20), 15000);
        assert_int_equal(json_array_size(all), 1);
        json_t *p = json_array_get(all, 0);
        assert_int_equal(json_integer_value(json_object_get(p, "pid")), flowcorod.pid);
        assert_int_equal(json_integer_value(json_object_get(p, "busy")), 0);
        assert_true(json_is_false(json_object_get(p, "quiet")));
        assert_string_equal(json_string_value(json_array_get(json_object_get(p, "queues"), 1)), "bulk");
        double age = json_real_value(json_object_get(p, "beat_age"));
        assert_true(age >= -5 && age < 60);
        char identity[512];
        snprintf(identity, sizeof(identity), "%s", json_string_value(json_object_get(p, "identity")));
        json_decref(all);

        CTL("processes");
        expect(0, NULL);
        assert_non_null(strstr(o.out, "IDENTITY"));
        assert_non_null(strstr(o.out, identity));
        assert_non_null(strstr(o.out, "default,bulk"));

        CTL("processes", "quiet", identity);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "sent TSTP to"));
        all = wait_json("processes", NULL, "quiet", json_true(), 20000);
        assert_true(json_is_true(json_object_get(json_array_get(all, 0), "quiet")));
        json_decref(all);

        CTL("processes", "stop", "nobody:1:000000000000");
        expect(1, "no live process 'nobody:1:000000000000'");
        CTL("processes", "stop", identity, "--json");
        expect(0, NULL);
        json_t *sent = ctl_json(&o);
        assert_string_equal(json_string_value(json_object_get(sent, "signal")), "TERM");
        json_decref(sent);
        bool exited = fc_test_daemon_wait(&flowcorod, 30000);
        assert_true(exited);
        assert_int_equal(flowcorod.exit_code, 0);
}

static void test_control_socket_status_reload_quiet(void **state) {
        CTL("status", "--json");
        expect(0, NULL);
        json_t *st = ctl_json(&o);
        assert_true(json_is_true(json_object_get(st, "ok")));
        json_decref(st);
        CTL("status");
        expect(0, NULL);
        assert_non_null(strstr(o.out, "identity"));

        CTL("reload");
        expect(0, NULL);

        /* A bad configuration: flowcoroctl reads the same file and reports its errors itself. */
        FILE *f = fopen(flowcorod.config, "a");
        assert_non_null(f);
        fputs("concurrency_typo: 3\n", f);
        fclose(f);
        CTL("reload");
        expect(EX_CONFIG, "flowcoro.yaml:");
        assert_non_null(strstr(o.err, "unknown key \"concurrency_typo\""));
        /* Through a configuration that only names the socket, the daemon itself refuses it,
         * says why, and runs on. */
        ctl_env_t good;
        char yaml[400];
        snprintf(yaml, sizeof(yaml), "control:\n  socket: %s\n", flowcorod.control);
        ctl_env_init(&good, yaml);
        ctl_run(&o, &good, NULL, "--json", "reload", NULL);
        expect(EX_CONFIG, "reload: ");
        assert_non_null(strstr(o.err, "concurrency_typo"));
        json_t *r = ctl_json(&o);
        assert_true(json_is_false(json_object_get(r, "ok")));
        assert_true(json_array_size(json_object_get(r, "errors")) >= 1);
        json_decref(r);
        ctl_run(&o, &good, NULL, "quiet", NULL);
        expect(0, NULL);
        ctl_run(&o, &good, NULL, "status", "--json", NULL);
        expect(0, NULL);
        st = ctl_json(&o);
        assert_true(json_is_true(json_object_get(st, "quiet")));
        json_decref(st);

        fc_test_daemon_stop(&flowcorod);
        ctl_run(&o, &good, NULL, "status", NULL);
        expect(EX_UNAVAILABLE, "status: ");
        ctl_env_free(&good);
}

static void test_retries_and_dead_from_real_failures(void **state) {
        CTL("enqueue", "--class", "Fail", "--args", "[\"retry\",\"boom\"]", "--retry", "3");
        expect(0, NULL);
        char retry_jid[32], dead_jid[32];
        snprintf(retry_jid, sizeof(retry_jid), "%.24s", o.out);
        CTL("enqueue", "--class", "Fail", "--args", "[\"dead\",\"gone\"]");
        expect(0, NULL);
        snprintf(dead_jid, sizeof(dead_jid), "%.24s", o.out);
        assert_true(wait_count("ZCARD retry", 1, 30000));
        assert_true(wait_count("ZCARD dead", 1, 30000));

        CTL("retries", "list", "--json");
        expect(0, NULL);
        json_t *l = ctl_json(&o);
        json_t *entry = json_array_get(json_object_get(l, "jobs"), 0);
        assert_string_equal(json_string_value(json_object_get(entry, "jid")), retry_jid);
        json_t *job = json_object_get(entry, "job");
        assert_string_equal(json_string_value(json_object_get(job, "error_message")), "boom");
        assert_int_equal(json_integer_value(json_object_get(job, "retry_count")), 0);
        json_decref(l);

        CTL("dead", "show", dead_jid);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "gone"));
        assert_non_null(strstr(o.out, dead_jid));

        /* Retry now: the daemon runs it again; it fails again into dead, as a retried job. */
        CTL("dead", "retry", dead_jid);
        expect(0, NULL);
        assert_non_null(strstr(o.out, "moved 1 job"));
        bool again = false;
        for (int waited = 0; !again && waited < 30000; waited += 200) {
                redisReply *r = redisCommand(rc, "ZRANGE dead 0 -1");
                assert_non_null(r);
                for (size_t i = 0; i < r->elements; i++)
                        if (strstr(r->element[i]->str, dead_jid) && strstr(r->element[i]->str, "retried_at"))
                                again = true;
                freeReplyObject(r);
                usleep(200000);
        }
        assert_true(again);

        CTL("retries", "delete", retry_jid);
        expect(0, NULL);
        assert_int_equal(fc_test_redis_int(rc, "ZCARD retry"), 0);
        CTL("retries", "retry", retry_jid);
        expect(1, "no job with jid");
        CTL("retries", "retry", "--all");
        expect(0, NULL);
        assert_non_null(strstr(o.out, "moved 0 jobs"));
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_flowcorod_runs_what_flowcoroctl_enqueues),
                T(test_processes_list_quiet_and_stop),
                T(test_control_socket_status_reload_quiet),
                T(test_retries_and_dead_from_real_failures),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
