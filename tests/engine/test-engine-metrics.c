/* flowcorod's metrics endpoint end to end: a real daemon with
 * metrics.listen set runs jobs from a real redis-server, and /metrics counts
 * them by queue and class; /healthz answers while it lives; /readyz follows
 * Redis's reachability. (tests/daemon/test-metrics.c checks the endpoint's
 * format and promtool's verdict with counters alone.) */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "harness/buffer.h"
#include "harness/daemon.h"

static fc_test_redis_t server;

static int setup(void **state) {
        (void)state;
        return curl_global_init(CURL_GLOBAL_DEFAULT) == 0 && fc_test_redis_start(&server, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        fc_test_redis_stop(&server);
        curl_global_cleanup();
        return 0;
}

/* A loopback port nobody listens on right now. */
static unsigned free_port(void) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        close(fd);
        return ntohs(a.sin_port);
}

/* GET http://127.0.0.1:port/path: the status code (0 when nothing
 * answered); the body in *text when asked (free it). */
static long get(unsigned port, const char *path, char **text) {
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
        fc_test_buffer_t b = {0};
        long code = 0;
        CURL *c = curl_easy_init();
        assert_non_null(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fc_test_buffer_append);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        if (text)
                *text = b.data;
        else
                free(b.data);
        return code;
}

/* The value of the sample line "name{labels} value" in text, or -1. */
static double sample(const char *text, const char *series) {
        size_t n = strlen(series);
        for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
                if (strncmp(line, series, n) == 0 && line[n] == ' ')
                        return strtod(line + n + 1, NULL);
        return -1;
}

/* Scrapes until series reaches want (at most 20 s); returns the last value. */
static double wait_sample(unsigned port, const char *series, double want) {
        double v = -1;
        for (int i = 0; i < 400; i++) {
                char *text = NULL;
                if (get(port, "/metrics", &text) == 200)
                        v = sample(text, series);
                free(text);
                if (v >= want)
                        break;
                usleep(50 * 1000);
        }
        return v;
}

static void push(redisContext *rc, const char *job) {
        redisReply *r = redisCommand(rc, "LPUSH queue:default %s", job);
        assert_non_null(r);
        freeReplyObject(r);
}

static void test_metrics_count_real_jobs_and_follow_redis(void **state) {
        (void)state;
        unsigned port = free_port();
        char extra[128];
        snprintf(extra, sizeof(extra), "metrics:\n  listen: 127.0.0.1:%u\n", port);
        fc_test_daemon_t d;
        assert_int_equal(fc_test_daemon_start(&d, &server, extra, NULL), 0);
        redisContext *rc = fc_test_redis_connect(&server);
        assert_non_null(rc);

        assert_int_equal(get(port, "/healthz", NULL), 200);
        for (int i = 0; i < 30; i++)
                push(rc, "{\"class\":\"Noop\",\"args\":[],\"enqueued_at\":1}");
        for (int i = 0; i < 4; i++)
                push(rc, "{\"class\":\"Fail\",\"args\":[\"dead\",\"on purpose\"],\"retry\":false}");
        push(rc, "{\"class\":\"Noop\",\"args\":\"not an array\"}");

        const char *noop = "flowcoro_jobs_processed_total{queue=\"default\",class=\"Noop\"}";
        const char *fail = "flowcoro_jobs_failed_total{queue=\"default\",class=\"Fail\"}";
        const char *invalid = "flowcoro_jobs_dead_total{queue=\"default\",class=\"FlowCoro::InvalidJob\"}";
        assert_true(wait_sample(port, noop, 30) == 30);
        assert_true(wait_sample(port, fail, 4) == 4);
        assert_true(wait_sample(port, invalid, 1) == 1);
        char *text = NULL;
        assert_int_equal(get(port, "/metrics", &text), 200);
        assert_true(sample(text, "flowcoro_jobs_failed_total{queue=\"default\",class=\"Noop\"}") == 0);
        assert_true(sample(text, "flowcoro_redis_up") == 1);
        /* The Noop jobs' latency samples: enqueued_at 1 (1970) is long ago. */
        assert_true(sample(text, "flowcoro_job_queue_latency_seconds_count{queue=\"default\"}") >= 30);
        free(text);
        assert_int_equal(get(port, "/readyz", NULL), 200);

        /* Redis goes away: not ready (503), still alive; back: ready again. */
        redisFree(rc);
        fc_test_redis_halt(&server);
        long code = 0;
        for (int i = 0; i < 400 && (code = get(port, "/readyz", NULL)) != 503; i++)
                usleep(50 * 1000);
        assert_int_equal(code, 503);
        assert_int_equal(get(port, "/healthz", NULL), 200);
        assert_int_equal(fc_test_redis_restart(&server, NULL), 0);
        for (int i = 0; i < 400 && (code = get(port, "/readyz", NULL)) != 200; i++)
                usleep(50 * 1000);
        assert_int_equal(code, 200);
        assert_true(wait_sample(port, "flowcoro_redis_reconnects_total", 1) >= 1);

        fc_test_daemon_signal(&d, SIGTERM);
        assert_true(fc_test_daemon_wait(&d, 30000));
        if (d.exit_code != 0) {
                char *log = fc_test_daemon_log(&d);
                fprintf(stderr, "flowcorod exited with %d; its log:\n%s\n", d.exit_code, log ? log : "(none)");
                free(log);
        }
        int exit_code = d.exit_code;
        fc_test_daemon_stop(&d);
        assert_int_equal(exit_code, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_metrics_count_real_jobs_and_follow_redis, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
