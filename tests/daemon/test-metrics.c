/* daemon/metrics.c: a real endpoint on a free loopback port, scraped over
 * HTTP with libcurl; the text parsed line by line and checked by Prometheus's
 * own `promtool check metrics`; /healthz, /readyz, unknown paths and
 * methods; bind errors; Redis reconnects counted against a real
 * redis-server. The engine's numbers come from a status function over a
 * struct this test sets (the engine itself is tested through flowcorod). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowcoro/core.h"
#include "harness/buffer.h"
#include "harness/redis_server.h"
#include "harness/run.h"
#include "metrics.h"
#include "redis.h"
#include "stats.h"

static fc_sched_t *sched;
static fc_stats_t *stats;
static fc_metrics_t *metrics;
static fc_test_redis_t server; /* stopped by teardown, also after a failed test */
static char tmpdir[] = "/tmp/flowcoro-test-metrics.XXXXXX";

/* What the engine reports; set by the tests, read on the endpoint's thread. */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static fc_engine_status_t status;

static void read_status(void *arg, fc_engine_status_t *out) {
        (void)arg;
        pthread_mutex_lock(&status_lock);
        *out = status;
        pthread_mutex_unlock(&status_lock);
}

static void set_status(fc_engine_status_t st) {
        pthread_mutex_lock(&status_lock);
        status = st;
        pthread_mutex_unlock(&status_lock);
}

static int setup(void **state) {
        (void)state;
        char err[256];
        if (!mkdtemp(tmpdir) || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
            fc_sched_create(&(fc_sched_options_t){.threads = 2}, &sched) < 0 || fc_stats_new(2, &stats) < 0)
                return -1;
        set_status((fc_engine_status_t){.busy = 7, .concurrency = 100, .redis_up = true});
        fc_metrics_options_t o = {.host = "127.0.0.1", .stats = stats, .sched = sched, .status = read_status};
        if (fc_metrics_start(&o, &metrics, err, sizeof(err)) < 0) {
                fprintf(stderr, "%s\n", err);
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        (void)state;
        fc_test_redis_stop(&server);
        fc_metrics_stop(metrics);
        fc_stats_free(stats);
        if (sched)
                fc_sched_destroy(sched);
        curl_global_cleanup();
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* ---- HTTP ---------------------------------------------------------------------- */

typedef struct response {
        long status;
        char *body; /* malloc'd, NUL-terminated */
        size_t len;
        char *headers; /* malloc'd, as received */
        size_t headers_len;
} response_t;

/* method: "GET", "HEAD" or another; fails the test when HTTP itself fails. */
static response_t request_at(const char *host, uint16_t port, const char *method, const char *path) {
        char url[256];
        fc_test_buffer_t body = {0}, headers = {0};
        snprintf(url, sizeof(url), "http://%s:%u%s", host, (unsigned)port, path);
        CURL *curl = curl_easy_init();
        assert_non_null(curl);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
        if (strcmp(method, "HEAD") == 0)
                curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        else if (strcmp(method, "GET") != 0)
                curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fc_test_buffer_append);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, fc_test_buffer_append);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
        CURLcode r = curl_easy_perform(curl);
        response_t resp = {0};
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
        curl_easy_cleanup(curl);
        if (r != CURLE_OK)
                fail_msg("%s %s: %s", method, url, curl_easy_strerror(r));
        resp.body = body.data ? body.data : strdup("");
        resp.len = body.len;
        resp.headers = headers.data ? headers.data : strdup("");
        return resp;
}

static response_t request(const char *method, const char *path) {
        return request_at("127.0.0.1", fc_metrics_port(metrics), method, path);
}

static void response_free(response_t *r) {
        free(r->body);
        free(r->headers);
}

/* ---- the text format ------------------------------------------------------------ */

/* A metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]* (label names without ':'). */
static const char *name_end(const char *p, bool colon) {
        const char *start = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (colon && *p == ':') ||
               (p > start && *p >= '0' && *p <= '9'))
                p++;
        return p > start ? p : NULL;
}

/* Checks one sample line: name{label="value",...} number. Returns the
 * metric name's length, or 0 when the line is malformed. */
static size_t sample_line_ok(const char *line) {
        const char *p = name_end(line, true);
        if (!p)
                return 0;
        size_t name_len = (size_t)(p - line);
        if (*p == '{') {
                p++;
                while (*p != '}') {
                        if (!(p = name_end(p, false)) || *p++ != '=' || *p++ != '"')
                                return 0;
                        while (*p != '"') {
                                if (!*p || *p == '\n')
                                        return 0;
                                if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
                                        p++;
                                else if (*p == '\\')
                                        return 0;
                                p++;
                        }
                        p++;
                        if (*p == ',')
                                p++;
                        else if (*p != '}')
                                return 0;
                }
                p++;
        }
        if (*p++ != ' ')
                return 0;
        char *end;
        strtod(p, &end);
        return end > p && (*end == '\0' || *end == '\n') ? name_len : 0;
}

/* Every line is a comment naming a family or a well-formed sample of the
 * family announced last; every family has HELP and TYPE. */
static void check_format(const char *text) {
        char family[128] = "";
        bool help = false, type = false;
        int line_no = 0;
        assert_true(text[0] != '\0' && text[strlen(text) - 1] == '\n');
        for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
                line_no++;
                const char *nl = strchr(line, '\n');
                char buf[1024];
                assert_true(nl && (size_t)(nl - line) < sizeof(buf));
                memcpy(buf, line, (size_t)(nl - line));
                buf[nl - line] = '\0';
                char name[128];
                if (sscanf(buf, "# HELP %127s ", name) == 1) {
                        snprintf(family, sizeof(family), "%s", name);
                        help = true;
                        type = false;
                        continue;
                }
                if (sscanf(buf, "# TYPE %127s ", name) == 1) {
                        if (strcmp(name, family) != 0 || !help)
                                fail_msg("line %d: TYPE without HELP: %s", line_no, buf);
                        type = true;
                        continue;
                }
                size_t n = sample_line_ok(buf);
                if (!n || !type || strncmp(buf, family, strlen(family)) != 0)
                        fail_msg("line %d: not a sample of family %s: %s", line_no, family, buf);
        }
}

/* The value of the sample named exactly series ("name{labels}"), or fails. */
static double value_of(const char *text, const char *series) {
        size_t len = strlen(series);
        for (const char *line = text; *line; line = strchr(line, '\n') + 1)
                if (strncmp(line, series, len) == 0 && line[len] == ' ')
                        return strtod(line + len + 1, NULL);
        fail_msg("no sample %s in the scrape", series);
        return 0;
}

static bool has_sample(const char *text, const char *series) {
        size_t len = strlen(series);
        for (const char *line = text; *line; line = strchr(line, '\n') + 1)
                if (strncmp(line, series, len) == 0 && line[len] == ' ')
                        return true;
        return false;
}

static unsigned count_lines_starting(const char *text, const char *prefix) {
        unsigned n = 0;
        for (const char *line = text; *line; line = strchr(line, '\n') + 1)
                n += strncmp(line, prefix, strlen(prefix)) == 0;
        return n;
}

/* Runs promtool check metrics on text; fails with what it said. */
static void promtool_accepts(const char *text) {
        char file[256], cmd[600];
        snprintf(file, sizeof(file), "%s/scrape.txt", tmpdir);
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        snprintf(cmd, sizeof(cmd), "exec promtool check metrics < %s", file);
        fc_test_output_t o;
        const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        assert_int_equal(fc_test_run(argv, 60, &o), 0);
        if (o.exit_code != 0 || o.out[0] || o.err[0])
                fail_msg("promtool check metrics (exit %d) on %s:\n%s%s", o.exit_code, file, o.out, o.err);
}

/* ---- tests ------------------------------------------------------------------------ */

static void done(const char *queue, const char *klass, fc_stats_outcome_t outcome, double queued,
                 double ran) {
        double now = 1.7e9;
        fc_stats_job_done(stats, &(fc_stats_job_t){.queue = queue,
                                                   .klass = klass,
                                                   .outcome = outcome,
                                                   .enqueued_at = now - queued - ran,
                                                   .started_at = now - ran,
                                                   .finished_at = now});
}

static void test_a_scrape_is_valid_and_says_what_happened(void **state) {
        (void)state;
        done("default", "Noop", FC_STATS_SUCCEEDED, 0.25, 0.0005);
        done("default", "Noop", FC_STATS_SUCCEEDED, 0.25, 0.0005);
        done("default", "Noop", FC_STATS_SNOOZED, 0.25, 0.0005);
        done("default", "Fails", FC_STATS_RETRIED, 2, 3);
        done("default", "Fails", FC_STATS_DEAD, 2, 3);
        done("critical", "Odd\"Name\\", FC_STATS_SUCCEEDED, 0, 100);
        fc_stats_job_done(stats, &(fc_stats_job_t){.queue = "default",
                                                   .outcome = FC_STATS_DEAD,
                                                   .finished_at = 1.7e9}); /* an invalid payload */
        fc_stats_reload(stats, true);
        fc_stats_reload(stats, false);
        fc_stats_job_started(stats);

        response_t r = request("GET", "/metrics");
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.headers, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        check_format(r.body);
        promtool_accepts(r.body);

        const char *t = r.body;
        assert_int_equal(value_of(t, "flowcoro_jobs_processed_total{queue=\"default\",class=\"Noop\"}"), 3);
        assert_int_equal(value_of(t, "flowcoro_jobs_failed_total{queue=\"default\",class=\"Noop\"}"), 0);
        assert_int_equal(value_of(t, "flowcoro_jobs_processed_total{queue=\"default\",class=\"Fails\"}"), 2);
        assert_int_equal(value_of(t, "flowcoro_jobs_failed_total{queue=\"default\",class=\"Fails\"}"), 2);
        assert_int_equal(value_of(t, "flowcoro_jobs_retried_total{queue=\"default\",class=\"Fails\"}"), 1);
        assert_int_equal(value_of(t, "flowcoro_jobs_dead_total{queue=\"default\",class=\"Fails\"}"), 1);
        assert_int_equal(
                value_of(t, "flowcoro_jobs_processed_total{queue=\"critical\",class=\"Odd\\\"Name\\\\\"}"),
                1);
        assert_int_equal(value_of(t, "flowcoro_jobs_dead_total{queue=\"other\",class=\"other\"}"), 1);

        /* Histograms by queue: cumulative buckets, +Inf equal to _count. */
        const char *d = "flowcoro_job_duration_seconds";
        char series[256];
        snprintf(series, sizeof(series), "%s_bucket{queue=\"default\",le=\"0.001\"}", d);
        assert_int_equal(value_of(t, series), 3);
        snprintf(series, sizeof(series), "%s_bucket{queue=\"default\",le=\"2.5\"}", d);
        assert_int_equal(value_of(t, series), 3);
        snprintf(series, sizeof(series), "%s_bucket{queue=\"default\",le=\"5\"}", d);
        assert_int_equal(value_of(t, series), 5);
        snprintf(series, sizeof(series), "%s_bucket{queue=\"default\",le=\"+Inf\"}", d);
        assert_int_equal(value_of(t, series), 5);
        snprintf(series, sizeof(series), "%s_count{queue=\"default\"}", d);
        assert_int_equal(value_of(t, series), 5);
        snprintf(series, sizeof(series), "%s_sum{queue=\"default\"}", d);
        assert_float_equal(value_of(t, series), 3 * 0.0005 + 2 * 3, 1e-3);
        snprintf(series, sizeof(series), "%s_bucket{queue=\"critical\",le=\"60\"}", d);
        assert_int_equal(value_of(t, series), 0);
        snprintf(series, sizeof(series), "%s_bucket{queue=\"critical\",le=\"+Inf\"}", d);
        assert_int_equal(value_of(t, series), 1);
        assert_int_equal(
                value_of(t, "flowcoro_job_queue_latency_seconds_bucket{queue=\"default\",le=\"0.25\"}"), 3);
        assert_int_equal(value_of(t, "flowcoro_job_queue_latency_seconds_count{queue=\"other\"}"), 0);
        /* One histogram per queue, not per class. */
        assert_int_equal(count_lines_starting(t, "flowcoro_job_duration_seconds_count{"), 3);

        assert_int_equal(value_of(t, "flowcoro_jobs_busy"), 1);
        assert_int_equal(value_of(t, "flowcoro_jobs_in_flight"), 7);
        assert_int_equal(value_of(t, "flowcoro_concurrency"), 100);
        assert_int_equal(value_of(t, "flowcoro_quiet"), 0);
        assert_int_equal(value_of(t, "flowcoro_redis_up"), 1);
        assert_int_equal(value_of(t, "flowcoro_reloads_total{result=\"ok\"}"), 1);
        assert_int_equal(value_of(t, "flowcoro_reloads_total{result=\"error\"}"), 1);
        assert_true(value_of(t, "flowcoro_scheduler_run_queue_depth{thread=\"0\"}") >= 0);
        assert_true(value_of(t, "flowcoro_scheduler_run_queue_depth{thread=\"1\"}") >= 0);
        assert_false(has_sample(t, "flowcoro_scheduler_run_queue_depth{thread=\"2\"}"));
        assert_true(value_of(t, "process_start_time_seconds") == fc_stats_start_time(stats));
        fc_stats_job_ended(stats);
        response_free(&r);

        /* Engine gauges follow the engine. */
        set_status((fc_engine_status_t){.busy = 0, .concurrency = 5, .quiet = true, .redis_up = false});
        r = request("GET", "/metrics");
        assert_int_equal(value_of(r.body, "flowcoro_jobs_in_flight"), 0);
        assert_int_equal(value_of(r.body, "flowcoro_concurrency"), 5);
        assert_int_equal(value_of(r.body, "flowcoro_quiet"), 1);
        assert_int_equal(value_of(r.body, "flowcoro_redis_up"), 0);
        assert_int_equal(value_of(r.body, "flowcoro_jobs_busy"), 0);
        response_free(&r);
        set_status((fc_engine_status_t){.busy = 7, .concurrency = 100, .redis_up = true});
}

/* A flood of classes: the series stay capped, the scrape stays valid. */
static void test_a_flood_of_classes_keeps_the_scrape_bounded(void **state) {
        (void)state;
        char klass[64];
        for (int i = 0; i < 5000; i++) {
                snprintf(klass, sizeof(klass), "Flood%d", i);
                done("default", klass, FC_STATS_SUCCEEDED, 0, 0);
        }
        response_t r = request("GET", "/metrics");
        assert_int_equal(r.status, 200);
        check_format(r.body);
        promtool_accepts(r.body);
        assert_int_equal(count_lines_starting(r.body, "flowcoro_jobs_processed_total{"), FC_STATS_MAX_LABELS);
        double sum = 0;
        for (const char *line = r.body; *line; line = strchr(line, '\n') + 1)
                if (strncmp(line, "flowcoro_jobs_processed_total{", 30) == 0)
                        sum += strtod(strchr(line, ' ') + 1, NULL);
        fc_stats_counts_t all = {0};
        for (size_t i = 0; i < fc_stats_labels(stats); i++)
                fc_stats_add_counts(stats, i, &all);
        assert_float_equal(sum, (double)all.processed, 0);
        assert_true(value_of(r.body, "flowcoro_jobs_processed_total{queue=\"other\",class=\"other\"}") >
                    4000);
        response_free(&r);
}

static void test_health_and_readiness(void **state) {
        (void)state;
        response_t r = request("GET", "/healthz");
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "ok\n");
        response_free(&r);

        r = request("GET", "/readyz");
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "ready\n");
        response_free(&r);

        set_status((fc_engine_status_t){.concurrency = 100, .redis_up = false});
        r = request("GET", "/readyz");
        assert_int_equal(r.status, 503);
        assert_string_equal(r.body, "not ready: Redis is not reachable\n");
        response_free(&r);
        r = request("GET", "/healthz"); /* alive all the same */
        assert_int_equal(r.status, 200);
        response_free(&r);

        set_status((fc_engine_status_t){.concurrency = 100, .redis_up = true, .stopping = true});
        r = request("GET", "/readyz");
        assert_int_equal(r.status, 503);
        assert_string_equal(r.body, "not ready: stopping\n");
        response_free(&r);
        set_status((fc_engine_status_t){.busy = 7, .concurrency = 100, .redis_up = true});

        /* No engine: alive, not ready, no engine gauges. */
        fc_metrics_t *bare;
        char err[256];
        fc_metrics_options_t o = {.host = "127.0.0.1", .stats = stats};
        assert_int_equal(fc_metrics_start(&o, &bare, err, sizeof(err)), 0);
        r = request_at("127.0.0.1", fc_metrics_port(bare), "GET", "/readyz");
        assert_int_equal(r.status, 503);
        assert_string_equal(r.body, "not ready: the job engine is not running\n");
        response_free(&r);
        r = request_at("127.0.0.1", fc_metrics_port(bare), "GET", "/metrics");
        assert_int_equal(r.status, 200);
        check_format(r.body);
        promtool_accepts(r.body);
        assert_false(has_sample(r.body, "flowcoro_redis_up"));
        assert_false(has_sample(r.body, "flowcoro_scheduler_run_queue_depth{thread=\"0\"}"));
        response_free(&r);
        fc_metrics_stop(bare);
}

static void test_unknown_paths_and_methods(void **state) {
        (void)state;
        const char *paths[] = {"/", "/nope", "/metricsx", "/metrics/", "/healthz/x", "/%00"};
        for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
                response_t r = request("GET", paths[i]);
                if (r.status != 404)
                        fail_msg("GET %s answered %ld, not 404", paths[i], r.status);
                assert_non_null(strstr(r.body, "not found"));
                response_free(&r);
        }
        response_t r = request("POST", "/metrics");
        assert_int_equal(r.status, 405);
        assert_non_null(strstr(r.headers, "Allow: GET, HEAD\r\n"));
        response_free(&r);
        r = request("DELETE", "/healthz");
        assert_int_equal(r.status, 405);
        response_free(&r);
        r = request("HEAD", "/metrics");
        assert_int_equal(r.status, 200);
        assert_int_equal(r.len, 0);
        response_free(&r);
        r = request("GET", "/metrics?name=x"); /* a query string changes nothing */
        assert_int_equal(r.status, 200);
        response_free(&r);
}

static void test_listen_errors_say_what_and_where(void **state) {
        (void)state;
        fc_metrics_t *m = (fc_metrics_t *)1;
        char err[256], want[256];
        uint16_t port = fc_metrics_port(metrics);
        fc_metrics_options_t o = {.host = "127.0.0.1", .port = port, .stats = stats};
        assert_int_equal(fc_metrics_start(&o, &m, err, sizeof(err)), -EADDRINUSE);
        assert_null(m);
        snprintf(want, sizeof(want), "metrics.listen 127.0.0.1:%u: cannot bind: Address already in use",
                 (unsigned)port);
        assert_string_equal(err, want);

        /* An address this host does not have (TEST-NET-1). */
        o = (fc_metrics_options_t){.host = "192.0.2.1", .port = 9464, .stats = stats};
        assert_int_equal(fc_metrics_start(&o, &m, err, sizeof(err)), -EADDRNOTAVAIL);
        assert_string_equal(err,
                            "metrics.listen 192.0.2.1:9464: cannot bind: Cannot assign requested address");

        o = (fc_metrics_options_t){.host = "", .stats = stats};
        assert_int_equal(fc_metrics_start(&o, &m, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "metrics: no host given");
        o = (fc_metrics_options_t){.host = "127.0.0.1"};
        assert_int_equal(fc_metrics_start(&o, &m, err, sizeof(err)), -EINVAL);

        /* IPv6, where the machine has it. */
        o = (fc_metrics_options_t){.host = "::1", .stats = stats};
        int r = fc_metrics_start(&o, &m, err, sizeof(err));
        if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT)
                return; /* no IPv6 loopback here */
        assert_int_equal(r, 0);
        response_t resp = request_at("[::1]", fc_metrics_port(m), "GET", "/healthz");
        assert_int_equal(resp.status, 200);
        response_free(&resp);
        fc_metrics_stop(m);
}

/* ---- Redis totals --------------------------------------------------------------- */

typedef struct ping {
        fc_redis_t *conn;
        int result;
} ping_t;

/* PINGs until it works (a restarted server costs one failed call, then the
 * client reconnects), at most 50 times. */
static void ping_main(void *arg) {
        ping_t *p = arg;
        for (int i = 0; i < 50; i++) {
                p->result = fc_redis_call(p->conn, NULL, "PING", NULL);
                if (p->result == 0 || fc_sleep(100) < 0)
                        return;
        }
}

static int ping(fc_redis_t *c) {
        ping_t p = {.conn = c, .result = -1};
        fc_coro_t *co;
        assert_int_equal(fc_spawn(sched, ping_main, &p, &co), 0);
        assert_int_equal(fc_join(co), 0);
        return p.result;
}

static double scraped(const char *series) {
        response_t r = request("GET", "/metrics");
        assert_int_equal(r.status, 200);
        double v = value_of(r.body, series);
        response_free(&r);
        return v;
}

static void test_redis_connections_and_reconnects_are_counted(void **state) {
        (void)state;
        assert_int_equal(fc_test_redis_start(&server, NULL), 0);
        fc_redis_t *c;
        fc_redis_options_t o = {.transport = FC_REDIS_UNIX, .socket_path = server.socket_path};
        assert_int_equal(fc_redis_new(&o, &c), 0);

        assert_int_equal(scraped("flowcoro_redis_connections"), 0);
        assert_int_equal(scraped("flowcoro_redis_reconnects_total"), 0);
        assert_int_equal(ping(c), 0);
        assert_int_equal(scraped("flowcoro_redis_connections"), 1);
        assert_int_equal(scraped("flowcoro_redis_reconnects_total"), 0);

        assert_int_equal(fc_test_redis_restart(&server, NULL), 0);
        assert_int_equal(ping(c), 0);
        assert_int_equal(scraped("flowcoro_redis_connections"), 1);
        assert_int_equal(scraped("flowcoro_redis_reconnects_total"), 1);

        fc_redis_free(c);
        assert_int_equal(scraped("flowcoro_redis_connections"), 0);
        assert_int_equal(scraped("flowcoro_redis_reconnects_total"), 1);
        fc_test_redis_stop(&server);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_scrape_is_valid_and_says_what_happened),
                cmocka_unit_test(test_a_flood_of_classes_keeps_the_scrape_bounded),
                cmocka_unit_test(test_health_and_readiness),
                cmocka_unit_test(test_unknown_paths_and_methods),
                cmocka_unit_test(test_listen_errors_say_what_and_where),
                cmocka_unit_test(test_redis_connections_and_reconnects_are_counted),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
