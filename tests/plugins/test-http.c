/* http.so against a real HTTP server (tests/harness/http_server.c), through
 * the real loader and host table, in coroutines of a real two-thread pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness/http_server.h"
#include "plugin_test.h"

#define GATE 100 /* /gate opens once this many requests are held at once */

static fc_sched_t *pool;
static fc_config_t *config;
static fc_plugin_set_t *set;
static fc_test_http_t *server; /* started and stopped by each test */

static int group_setup(void **state) {
        fc_sched_options_t o = {.threads = 2};
        fc_config_errors_t *e = NULL;
        if (fc_sched_create(&o, &pool) < 0)
                return -1;
        int r = pt_load(
                "plugins:\n  load:\n    - path: " PLUGIN_DIR "/http.so\n      config:\n"
                "        timeout: 20s\n        user_agent: flowcoro-test/1\n        max_log_body: 64B\n",
                false, &config, &set, &e);
        if (r < 0)
                fprintf(stderr, "%s", pt_errors_text(e));
        fc_config_errors_free(e);
        return r;
}

static int group_teardown(void **state) {
        fc_plugin_set_unref(set);
        fc_config_free(config);
        if (pool)
                fc_sched_destroy(pool);
        return 0;
}

static int setup(void **state) {
        return fc_test_http_start(GATE, &server);
}

static int teardown(void **state) {
        fc_test_http_stop(server);
        server = NULL;
        return 0;
}

/* Runs one HttpRequest whose args are the JSON text request (with a %d for
 * the server's port, if any). */
static fc_job_t *run_on(fc_plugin_set_t *s, const char *request, int64_t deadline_ms) {
        char args[2048], payload[2300];
        snprintf(args, sizeof(args), request, fc_test_http_port(server));
        snprintf(payload, sizeof(payload), "{\"class\":\"HttpRequest\",\"args\":%s}", args);
        return pt_run(pool, s, payload, deadline_ms);
}

static fc_job_t *run(const char *request, int64_t deadline_ms) {
        return run_on(set, request, deadline_ms);
}

static void test_2xx_succeeds_and_sends_what_the_job_says(void **state) {
        fc_job_t *job = run("[{\"method\":\"PUT\",\"url\":\"http://127.0.0.1:%d/echo?token=secret\","
                            "\"headers\":{\"X-Test\":\"hello\",\"Content-Type\":\"application/json\"},"
                            "\"body\":\"{\\\"n\\\":1}\"}]",
                            FC_FOREVER);
        assert_int_equal(job->status, FC_JOB_OK);
        fc_test_http_request_t last;
        assert_int_equal(fc_test_http_last(server, &last), 0);
        assert_string_equal(last.method, "PUT");
        assert_string_equal(last.path, "/echo");
        assert_string_equal(last.body, "{\"n\":1}");
        assert_string_equal(last.x_test, "hello");
        assert_string_equal(last.content_type, "application/json");
        assert_string_equal(last.user_agent, "flowcoro-test/1");
        fc_job_free(job);

        /* A body without a method is a POST; no body and no method a GET. */
        job = run("[{\"url\":\"http://127.0.0.1:%d/echo\",\"body\":\"x=1\"}]", FC_FOREVER);
        assert_int_equal(job->status, FC_JOB_OK);
        assert_int_equal(fc_test_http_last(server, &last), 0);
        assert_string_equal(last.method, "POST");
        assert_string_equal(last.body, "x=1");
        fc_job_free(job);
        job = run("[{\"url\":\"http://127.0.0.1:%d/echo\"}]", FC_FOREVER);
        assert_int_equal(job->status, FC_JOB_OK);
        assert_int_equal(fc_test_http_last(server, &last), 0);
        assert_string_equal(last.method, "GET");
        fc_job_free(job);
}

static void test_statuses_map_to_outcomes(void **state) {
        static const struct {
                int code;
                fc_job_status_t status;
                const char *error_class;
        } cases[] = {
                {200, FC_JOB_OK, NULL},
                {204, FC_JOB_OK, NULL},
                {404, FC_JOB_DEAD, "HTTP::ClientError"},
                {400, FC_JOB_DEAD, "HTTP::ClientError"},
                {301, FC_JOB_DEAD, "HTTP::Redirect"},
                {500, FC_JOB_RETRY, "HTTP::ServerError"},
                {503, FC_JOB_RETRY, "HTTP::ServerError"},
                {429, FC_JOB_RETRY, "HTTP::ServerError"},
                {408, FC_JOB_RETRY, "HTTP::ServerError"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char request[200], want[64];
                snprintf(request, sizeof(request), "[{\"url\":\"http://127.0.0.1:%%d/status/%d\"}]",
                         cases[i].code);
                fc_job_t *job = run(request, FC_FOREVER);
                if (job->status != cases[i].status)
                        fail_msg("HTTP %d: status %d, expected %d (%s)", cases[i].code, job->status,
                                 cases[i].status, job->error_message ? job->error_message : "");
                if (cases[i].error_class) {
                        assert_string_equal(job->error_class, cases[i].error_class);
                        snprintf(want, sizeof(want), "HTTP %d", cases[i].code);
                        assert_non_null(strstr(job->error_message, want));
                        /* The URL is named, its query never. */
                        assert_non_null(strstr(job->error_message, "GET http://127.0.0.1:"));
                }
                if (cases[i].code >= 400) { /* the response body's head is in the message */
                        snprintf(want, sizeof(want), "status %d", cases[i].code);
                        assert_non_null(strstr(job->error_message, want));
                }
                fc_job_free(job);
        }
}

static void test_deadline_retries(void **state) {
        fc_job_t *job = run("[{\"url\":\"http://127.0.0.1:%d/stall\"}]", 200);
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "HTTP::Timeout");
        fc_job_free(job);
}

static void test_configured_timeout_retries(void **state) {
        fc_config_t *c = NULL;
        fc_plugin_set_t *s = NULL;
        fc_config_errors_t *e = NULL;
        assert_int_equal(pt_load("plugins:\n  load:\n    - path: " PLUGIN_DIR
                                 "/http.so\n      config: {timeout: 300ms}\n",
                                 false, &c, &s, &e),
                         0);
        fc_config_errors_free(e);
        fc_job_t *job = run_on(s, "[{\"url\":\"http://127.0.0.1:%d/stall?key=secret\"}]", FC_FOREVER);
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "HTTP::Timeout");
        assert_non_null(strstr(job->error_message, "within 300 ms"));
        assert_null(strstr(job->error_message, "secret"));
        fc_job_free(job);
        fc_plugin_set_unref(s);
        fc_config_free(c);
}

static void test_connection_refused_retries(void **state) {
        /* A port bound but not listening refuses connections. */
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
        char request[200];
        snprintf(request, sizeof(request), "[{\"url\":\"http://127.0.0.1:%d/\"}]", ntohs(a.sin_port));
        fc_job_t *job = run(request, FC_FOREVER);
        close(fd);
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "HTTP::ConnectionError");
        fc_job_free(job);
}

static void test_malformed_args_are_dead(void **state) {
        static const struct {
                const char *args, *error;
        } cases[] = {
                {"[]", "HttpRequest expects args [{\"url\""},
                {"[\"http://example.com\"]", "the first a string"},
                {"[{\"url\":\"http://x/\"},{}]", "got 2 args"},
                {"[{}]", "\"url\" must be a string, got none"},
                {"[{\"url\":5}]", "\"url\" must be a string, got a number"},
                {"[{\"url\":\"ftp://127.0.0.1/\"}]", "scheme \"ftp\""},
                {"[{\"url\":\"no url at all\"}]", "bad \"url\""},
                {"[{\"url\":\"http://127.0.0.1:%d/echo\",\"method\":\"GE T\"}]",
                 "\"method\" must be an HTTP method"},
                {"[{\"url\":\"http://127.0.0.1:%d/echo\",\"headers\":[]}]", "\"headers\" must be an object"},
                {"[{\"url\":\"http://127.0.0.1:%d/echo\",\"headers\":{\"A\":1}}]",
                 "header \"A\" must be a one-line"},
                {"[{\"url\":\"http://127.0.0.1:%d/echo\",\"headers\":{\"A\":\"x\\r\\nB: y\"}}]",
                 "line break"},
                {"[{\"url\":\"http://127.0.0.1:%d/echo\",\"headers\":{\"A B\":\"x\"}}]", "not a valid name"},
                {"[{\"url\":\"http://127.0.0.1:%d/echo\",\"body\":{}}]",
                 "\"body\" must be a string, got an object"},
                {"[{\"url\":\"http://127.0.0.1:%d/echo\",\"timeout\":5}]", "unknown key \"timeout\""},
                {"[{\"url\":\"http://127.0.0.1:%d/echo\",\"method\":\"HEAD\",\"body\":\"x\"}]",
                 "HEAD request has no "
                 "body"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                fc_job_t *job = run(cases[i].args, FC_FOREVER);
                if (job->status != FC_JOB_DEAD || !job->error_message ||
                    !strstr(job->error_message, cases[i].error))
                        fail_msg("case %zu (%s): status %d, message \"%s\", expected dead with \"%s\"", i,
                                 cases[i].args, job->status, job->error_message ? job->error_message : "",
                                 cases[i].error);
                fc_job_free(job);
        }
        /* None of them reached the server. */
        assert_int_equal(fc_test_http_requests(server), 0);
}

/* 200 requests at once on two scheduler threads: /gate lets none through
 * until GATE of them are held by the server at the same time, so all of
 * them succeeding proves they waited concurrently. */
typedef struct many {
        const fc_plugin_handler_t *h;
        fc_job_t *job;
} many_t;

static void run_one(void *arg) {
        many_t *m = arg;
        fc_host_run(m->h, m->job);
}

static void test_many_requests_wait_concurrently(void **state) {
        enum { N = 200 };
        static many_t jobs[N];
        fc_coro_t *cos[N];
        char payload[256], err[256];
        snprintf(payload, sizeof(payload),
                 "{\"class\":\"HttpRequest\",\"args\":[{\"url\":\"http://127.0.0.1:%d/gate\"}]}",
                 fc_test_http_port(server));
        const fc_plugin_handler_t *h = fc_plugin_set_find(set, "HttpRequest");
        assert_non_null(h);
        for (int i = 0; i < N; i++) {
                jobs[i].h = h;
                assert_int_equal(fc_job_parse(payload, strlen(payload), &jobs[i].job, err, sizeof(err)), 0);
                assert_int_equal(fc_spawn(pool, run_one, &jobs[i], &cos[i]), 0);
        }
        int ok = 0;
        for (int i = 0; i < N; i++) {
                assert_int_equal(fc_join(cos[i]), 0);
                if (jobs[i].job->status == FC_JOB_OK)
                        ok++;
                else
                        fprintf(stderr, "job %d: %s\n", i, jobs[i].job->error_message);
                fc_job_free(jobs[i].job);
        }
        assert_int_equal(ok, N);
        assert_int_equal(fc_test_http_requests(server), N);
        assert_true(fc_test_http_max_in_flight(server) >= GATE);
}

static void test_config_errors_have_positions(void **state) {
        fc_config_t *c = NULL;
        fc_plugin_set_t *s = NULL;
        fc_config_errors_t *e = NULL;
        assert_int_equal(pt_load("plugins:\n"
                                 "  load:\n"
                                 "    - path: " PLUGIN_DIR "/http.so\n"
                                 "      config:\n"
                                 "        timeout: forever\n"
                                 "        schemes: [https, gopher]\n"
                                 "        max_log_body: 1GiB\n"
                                 "        proxy: http://p/\n",
                                 false, &c, &s, &e),
                         -EINVAL);
        const char *text = pt_errors_text(e);
        fprintf(stderr, "%s", text);
        const char *expected[] = {
                "test.yaml:5:18: plugins.load[0].config.timeout: expected a duration",
                "test.yaml:6:26: plugins.load[0].config.schemes[1]: expected http or https, got \"gopher\"",
                "test.yaml:7:23: plugins.load[0].config.max_log_body: expected a size from 0 to 1024B",
                "test.yaml:8:16: plugins.load[0].config.proxy: unknown key \"proxy\"",
        };
        for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
                if (!strstr(text, expected[i]))
                        fail_msg("missing error: %s", expected[i]);
        fc_config_errors_free(e);
        fc_config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_2xx_succeeds_and_sends_what_the_job_says, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_statuses_map_to_outcomes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deadline_retries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_configured_timeout_retries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connection_refused_retries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_args_are_dead, setup, teardown),
                cmocka_unit_test_setup_teardown(test_many_requests_wait_concurrently, setup, teardown),
                cmocka_unit_test(test_config_errors_have_positions),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
