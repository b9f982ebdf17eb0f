/* flowcorod's HTTP endpoint (metrics.listen): /metrics in Prometheus's text
 * format, /healthz and /readyz. It runs on libmicrohttpd's own thread,
 * never on a scheduler thread; a scrape reads stats.h's slots, the run-queue
 * depth of each scheduler thread, the Redis client's totals and the engine's
 * status, all without taking a lock the job path takes. docs/metrics.md lists
 * the metrics. */
#ifndef FC_DAEMON_METRICS_H
#define FC_DAEMON_METRICS_H

#include <stdint.h>

#include "engine.h"
#include "stats.h"

typedef struct fc_metrics fc_metrics_t;

/* Fills *out with the engine's numbers (fc_engine_status() behind a small
 * function taking the engine as arg). Called on the endpoint's thread. */
typedef void fc_metrics_status_fn(void *arg, fc_engine_status_t *out);

typedef struct fc_metrics_options {
        const char *host;             /* borrowed: numeric address or name (IPv6 without []) */
        uint16_t port;                /* 0 = any free port (tests; see fc_metrics_port()) */
        fc_stats_t *stats;            /* borrowed: must outlive the endpoint */
        const fc_sched_t *sched;      /* borrowed, or NULL: no run-queue depths */
        fc_metrics_status_fn *status; /* NULL = no engine: /readyz says 503, no engine gauges */
        void *status_arg;             /* must outlive the endpoint */
} fc_metrics_options_t;

/* Binds host:port and starts serving on a thread of its own. Returns 0 and
 * *out, or a negative errno with a message in err (what and where:
 * "metrics.listen 127.0.0.1:9464: cannot bind: Address already in use"):
 * -EINVAL (bad options), the errno of getaddrinfo/socket/bind/listen, or
 * -ENOMEM. Any thread that is not a scheduler thread (it may resolve a name). */
int fc_metrics_start(const fc_metrics_options_t *o, fc_metrics_t **out, char *err, size_t err_size);

/* The port it listens on. */
uint16_t fc_metrics_port(const fc_metrics_t *m);

/* Stops serving (waits for the request being answered), closes the socket
 * and frees m. NULL is allowed. Any thread but the endpoint's. */
void fc_metrics_stop(fc_metrics_t *m);

#endif
