/* The metrics endpoint on libmicrohttpd (see metrics.h).
 *
 * We bind the listening socket ourselves and hand it to libmicrohttpd, so a
 * bind error says which errno, and port 0 works. libmicrohttpd serves every
 * connection from its one internal thread (a scrape is quick: it sums
 * counters), with a connection limit and an idle timeout so that slow or
 * many clients can't hold it. */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "redis.h"

#define CONNECTION_LIMIT   32
#define CONNECTION_TIMEOUT 10 /* seconds a connection may stay idle */
#define CONTENT_TYPE       "text/plain; version=0.0.4; charset=utf-8"

struct fc_metrics {
        /* Set by fc_metrics_start(), read-only afterwards (the endpoint's thread reads them). */
        struct MHD_Daemon *daemon;
        uint16_t port;
        fc_stats_t *stats;
        const fc_sched_t *sched;
        fc_metrics_status_fn *status;
        void *status_arg;
};

/* ---- /metrics ---------------------------------------------------------------- */

/* A label value: Prometheus escapes \ " and newline (stats.h keeps no control characters). */
static void put_label(FILE *f, const char *s) {
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        fputc('\\', f);
                fputc(*s, f);
        }
}

static void put_header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_gauge(FILE *f, const char *name, const char *help, double v) {
        put_header(f, name, "gauge", help);
        fprintf(f, "%s %.17g\n", name, v);
}

typedef struct pair_sum {
        const char *queue, *klass;
        fc_stats_counts_t c;
} pair_sum_t;

static void put_job_counter(FILE *f, const pair_sum_t *sums, size_t n, const char *name, const char *help,
                            size_t offset) {
        put_header(f, name, "counter", help);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s{queue=\"", name);
                put_label(f, sums[i].queue);
                fputs("\",class=\"", f);
                put_label(f, sums[i].klass);
                fprintf(f, "\"} %" PRIu64 "\n", *(const uint64_t *)((const char *)&sums[i].c + offset));
        }
}

/* One histogram by queue: the pairs of a queue summed. */
static void put_histogram(FILE *f, const pair_sum_t *sums, size_t n, const char *name, const char *help,
                          bool latency) {
        put_header(f, name, "histogram", help);
        for (size_t i = 0; i < n; i++) {
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = strcmp(sums[j].queue, sums[i].queue) == 0;
                if (seen)
                        continue; /* that queue is out already */
                uint64_t buckets[FC_STATS_BUCKETS + 1] = {0};
                double sum = 0;
                for (size_t j = i; j < n; j++) {
                        if (strcmp(sums[j].queue, sums[i].queue) != 0)
                                continue;
                        const fc_stats_counts_t *c = &sums[j].c;
                        for (size_t b = 0; b <= FC_STATS_BUCKETS; b++)
                                buckets[b] += latency ? c->latency[b] : c->duration[b];
                        sum += latency ? c->latency_sum : c->duration_sum;
                }
                uint64_t cumulative = 0;
                for (size_t b = 0; b <= FC_STATS_BUCKETS; b++) {
                        cumulative += buckets[b];
                        fprintf(f, "%s_bucket{queue=\"", name);
                        put_label(f, sums[i].queue);
                        if (b < FC_STATS_BUCKETS)
                                fprintf(f, "\",le=\"%g\"} %" PRIu64 "\n", fc_stats_bucket_bounds[b],
                                        cumulative);
                        else
                                fprintf(f, "\",le=\"+Inf\"} %" PRIu64 "\n", cumulative);
                }
                fprintf(f, "%s_sum{queue=\"", name);
                put_label(f, sums[i].queue);
                fprintf(f, "\"} %.6f\n%s_count{queue=\"", sum, name);
                put_label(f, sums[i].queue);
                fprintf(f, "\"} %" PRIu64 "\n", cumulative);
        }
}

static void put_jobs(FILE *f, const fc_metrics_t *m, const pair_sum_t *sums, size_t n) {
        put_job_counter(f, sums, n, "flowcoro_jobs_processed_total",
                        "Jobs finished: succeeded, failed or snoozed (Sidekiq's processed).",
                        offsetof(fc_stats_counts_t, processed));
        put_job_counter(f, sums, n, "flowcoro_jobs_failed_total",
                        "Jobs that failed: retried, dead or dropped (Sidekiq's failed).",
                        offsetof(fc_stats_counts_t, failed));
        put_job_counter(f, sums, n, "flowcoro_jobs_retried_total", "Failed jobs filed in the retry set.",
                        offsetof(fc_stats_counts_t, retried));
        put_job_counter(f, sums, n, "flowcoro_jobs_dead_total", "Failed jobs filed in the dead set.",
                        offsetof(fc_stats_counts_t, dead));
        put_histogram(f, sums, n, "flowcoro_job_duration_seconds", "Time a job's handler ran.", false);
        put_histogram(f, sums, n, "flowcoro_job_queue_latency_seconds",
                      "Time from a job's enqueued_at until its handler started.", true);
        put_gauge(f, "flowcoro_jobs_busy", "Jobs running their handler now.",
                  (double)fc_stats_busy(m->stats));
}

static void put_engine(FILE *f, const fc_metrics_t *m) {
        fc_redis_totals_t t;
        fc_redis_get_totals(&t);
        if (m->status) {
                fc_engine_status_t st;
                m->status(m->status_arg, &st);
                put_gauge(f, "flowcoro_jobs_in_flight", "Jobs fetched and not finished yet (Sidekiq's busy).",
                          st.busy);
                put_gauge(f, "flowcoro_concurrency", "Most jobs in flight at once (concurrency).",
                          st.concurrency);
                put_gauge(f, "flowcoro_quiet", "1 while quiet: fetching no new jobs.", st.quiet);
                put_gauge(f, "flowcoro_redis_up", "1 when the last fetch or heartbeat reached Redis.",
                          st.redis_up);
        }
        put_gauge(f, "flowcoro_redis_connections", "Redis connections open now.", (double)t.open);
        put_header(f, "flowcoro_redis_reconnects_total", "counter",
                   "Redis connections established again after one was closed.");
        fprintf(f, "flowcoro_redis_reconnects_total %" PRIu64 "\n", t.reconnects);
        if (m->sched) {
                put_header(f, "flowcoro_scheduler_run_queue_depth", "gauge",
                           "Coroutines ready to run on a scheduler thread, waiting for their turn.");
                for (unsigned i = 0; i < fc_sched_threads(m->sched); i++)
                        fprintf(f, "flowcoro_scheduler_run_queue_depth{thread=\"%u\"} %zu\n", i,
                                fc_sched_ready(m->sched, i));
        }
        uint64_t ok, failed;
        fc_stats_reloads(m->stats, &ok, &failed);
        put_header(f, "flowcoro_reloads_total", "counter", "Configuration and plugin reloads, by result.");
        fprintf(f, "flowcoro_reloads_total{result=\"ok\"} %" PRIu64 "\n", ok);
        fprintf(f, "flowcoro_reloads_total{result=\"error\"} %" PRIu64 "\n", failed);
        put_gauge(f, "process_start_time_seconds", "Start time of the process since the epoch, in seconds.",
                  fc_stats_start_time(m->stats));
}

/* The whole text, malloc'd in *body; returns its length, or -ENOMEM. */
static ssize_t scrape(const fc_metrics_t *m, char **body) {
        size_t n = fc_stats_labels(m->stats);
        _cleanup_free_ pair_sum_t *sums = calloc(n, sizeof(*sums));
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!sums || !f) {
                if (f)
                        fclose(f);
                free(text);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                fc_stats_label(m->stats, i, &sums[i].queue, &sums[i].klass);
                fc_stats_add_counts(m->stats, i, &sums[i].c);
        }
        put_jobs(f, m, sums, n);
        put_engine(f, m);
        bool failed = ferror(f);
        if (fclose(f) != 0 || failed) {
                free(text);
                return -ENOMEM;
        }
        *body = text;
        return (ssize_t)len;
}

/* ---- requests ------------------------------------------------------------------ */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *text) {
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result ok = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ok;
}

static enum MHD_Result respond_metrics(const fc_metrics_t *m, struct MHD_Connection *c) {
        char *body;
        ssize_t len = scrape(m, &body);
        if (len < 0)
                return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        struct MHD_Response *r = MHD_create_response_from_buffer((size_t)len, body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ok;
}

/* Ready: the engine runs, is not stopping and reaches Redis. (The
 * configuration is loaded: the endpoint starts after it.) */
static enum MHD_Result respond_ready(const fc_metrics_t *m, struct MHD_Connection *c) {
        if (!m->status)
                return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: the job engine is not running\n");
        fc_engine_status_t st;
        m->status(m->status_arg, &st);
        if (st.stopping)
                return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: stopping\n");
        if (!st.redis_up)
                return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: Redis is not reachable\n");
        return respond(c, MHD_HTTP_OK, "ready\n");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size,
                              void **con_cls) {
        (void)version;
        (void)upload_data;
        (void)upload_size;
        (void)con_cls;
        const fc_metrics_t *m = cls;
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET or HEAD\n");
        if (strcmp(url, "/metrics") == 0)
                return respond_metrics(m, c);
        if (strcmp(url, "/healthz") == 0)
                return respond(c, MHD_HTTP_OK, "ok\n");
        if (strcmp(url, "/readyz") == 0)
                return respond_ready(m, c);
        return respond(c, MHD_HTTP_NOT_FOUND,
                       "not found: this endpoint serves /metrics, /healthz and /readyz\n");
}

/* ---- life ------------------------------------------------------------------------ */

/* A listening socket for one address, or -errno with what failed in *doing. */
static int listen_at(const struct addrinfo *a, const char **doing) {
        *doing = "create a socket";
        _cleanup_close_ int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
                return -errno;
        int one = 1;
        *doing = "bind";
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, a->ai_addr, a->ai_addrlen) < 0)
                return -errno;
        *doing = "listen";
        if (listen(fd, 64) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* A listening socket on host:port (the first of its addresses that works)
 * and the port it got; -errno with a message in err. */
static int listen_on(const char *host, uint16_t port, uint16_t *bound, char *err, size_t err_size) {
        const char *fmt = strchr(host, ':') ? "metrics.listen [%s]:%u: " : "metrics.listen %s:%u: ";
        int at = snprintf(err, err_size, fmt, host, (unsigned)port);
        char *why = err + (at > 0 && (size_t)at < err_size ? (size_t)at : 0);
        size_t why_size = err_size - (size_t)(why - err);

        char service[8];
        snprintf(service, sizeof(service), "%u", (unsigned)port);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
        struct addrinfo *list;
        int g = getaddrinfo(host, service, &hints, &list);
        if (g != 0) {
                snprintf(why, why_size, "cannot resolve the host: %s", gai_strerror(g));
                return g == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL;
        }
        int fd = -EADDRNOTAVAIL;
        for (struct addrinfo *a = list; a && fd < 0; a = a->ai_next) {
                const char *doing;
                fd = listen_at(a, &doing);
                if (fd < 0)
                        snprintf(why, why_size, "cannot %s: %s", doing, strerror(-fd));
        }
        freeaddrinfo(list);
        if (fd < 0)
                return fd;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
                int r = -errno;
                snprintf(why, why_size, "cannot read the bound address: %s", strerror(errno));
                close(fd);
                return r;
        }
        *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
        err[0] = '\0';
        return fd;
}

int fc_metrics_start(const fc_metrics_options_t *o, fc_metrics_t **out, char *err, size_t err_size) {
        *out = NULL;
        if (!o->host || !o->host[0] || !o->stats) {
                snprintf(err, err_size, "metrics: no %s given", !o->stats ? "counters" : "host");
                return -EINVAL;
        }
        _cleanup_free_ fc_metrics_t *m = calloc(1, sizeof(*m));
        if (!m) {
                snprintf(err, err_size, "metrics: out of memory");
                return -ENOMEM;
        }
        *m = (fc_metrics_t){
                .stats = o->stats, .sched = o->sched, .status = o->status, .status_arg = o->status_arg};
        int fd = listen_on(o->host, o->port, &m->port, err, err_size);
        if (fd < 0)
                return fd;
        m->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, m,
                                     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned)CONNECTION_TIMEOUT, MHD_OPTION_END);
        if (!m->daemon) {
                close(fd);
                snprintf(err, err_size, "metrics.listen %s:%u: libmicrohttpd could not start its thread",
                         o->host, (unsigned)o->port);
                return -EIO;
        }
        *out = TAKE_PTR(m);
        return 0;
}

uint16_t fc_metrics_port(const fc_metrics_t *m) {
        return m->port;
}

void fc_metrics_stop(fc_metrics_t *m) {
        if (!m)
                return;
        MHD_stop_daemon(m->daemon); /* closes the listening socket too */
        free(m);
}
