/* The heartbeat: Sidekiq's process entry (processes set, <identity> hash,
 * <identity>:workers hash), the stats counters, the remote signals list, and
 * FlowCoro's registry beat that keeps this daemon's in-flight hash its own.
 * Everything goes in one pipeline every HEARTBEAT_MS. */
#include "engine-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flowcoro/version.h"
#include "crash.h"
#include "log.h"

#define HEARTBEAT_MS  5000
#define PROCESS_TTL_S "60"              /* Sidekiq's: the Web UI drops processes older than this */
#define STATS_TTL_S   "157680000"       /* Sidekiq's STATS_TTL: 5 years for the daily counters */

static long rss_kib(void) {
        long pages = 0, resident = 0;
        FILE *f = fopen("/proc/self/statm", "re");
        if (f) {
                if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
                        resident = 0;
                fclose(f);
        }
        return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Sidekiq's "info" JSON (launcher.rb's to_data), plus FlowCoro's version. */
static char *info_json(fc_engine_t *e) {
        fc_engine_gen_t *g = fc__engine_gen_take(e, 1);
        const fc_config_t *config = g->config;
        json_t *queues = json_array();
        for (size_t i = 0; i < config->n_queues; i++)
                json_array_append_new(queues, json_string(config->queues[i].name));
        json_t *o = json_pack("{s:s, s:f, s:i, s:s, s:i, s:o, s:[s], s:s, s:s}", "hostname", e->id.hostname,
                              "started_at", e->started_at, "pid", (int)e->id.pid, "tag", e->id.instance,
                              "concurrency", (int)config->concurrency, "queues", queues, "labels", "flowcoro",
                              "identity", e->id.name, "version", FC_VERSION_STRING);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        fc__engine_gen_drop(g, 1);
        return s;
}

/* The workers hash: field = in-flight id, value = {"queue", "payload" (the
 * job JSON as a string, as Sidekiq 6 writes it), "run_at"}. */
typedef struct workers {
        const char **argv; /* HSET key field value ... */
        char **owned;      /* every string built here */
        size_t argc, cap, n_owned;
        bool failed;
} workers_t;

static void add_worker(fc_running_job_t *job, void *arg) {
        workers_t *w = arg;
        if (w->failed || w->argc + 2 > w->cap)
                return; /* full: a job that started after the count waits for the next beat */
        char *field = NULL, *value = NULL;
        json_t *o = json_pack("{s:s, s:s, s:I}", "queue", job->queue, "payload", job->payload, "run_at",
                              (json_int_t)job->run_at);
        if (asprintf(&field, "%" PRIu64, job->id) < 0)
                field = NULL;
        value = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!field || !value) {
                /* A payload that is not UTF-8 can't be a JSON string: show the job without it. */
                free(value);
                value = NULL;
                if (field)
                        value = strdup("{\"queue\":\"?\",\"payload\":\"{}\",\"run_at\":0}");
                if (!field || !value) {
                        free(field);
                        free(value);
                        w->failed = true;
                        return;
                }
        }
        w->owned[w->n_owned++] = field;
        w->owned[w->n_owned++] = value;
        w->argv[w->argc++] = field;
        w->argv[w->argc++] = value;
}

static void workers_free(workers_t *w) {
        for (size_t i = 0; i < w->n_owned; i++)
                free(w->owned[i]);
        free(w->owned);
        free(w->argv);
}

static int workers_collect(fc_engine_t *e, workers_t *w) {
        memset(w, 0, sizeof(*w));
        pthread_mutex_lock(&e->running.lock);
        size_t n = e->running.count;
        pthread_mutex_unlock(&e->running.lock);
        n += 64; /* room for jobs that start meanwhile */
        w->cap = 2 + 2 * n;
        w->argv = calloc(w->cap, sizeof(*w->argv));
        w->owned = calloc(2 * n, sizeof(*w->owned));
        if (!w->argv || !w->owned) {
                workers_free(w);
                return -ENOMEM;
        }
        w->argv[0] = "HSET";
        w->argv[1] = e->keys.workers;
        w->argc = 2;
        fc_running_foreach(&e->running, add_worker, w);
        return w->failed ? -ENOMEM : 0;
}

static void append(fc_redis_t *c, const char *arg0, ...) __attribute__((sentinel));
static void append(fc_redis_t *c, const char *arg0, ...) {
        const char *argv[16];
        int argc = 0;
        va_list ap;
        va_start(ap, arg0);
        for (const char *a = arg0; a && argc < 16; a = va_arg(ap, const char *))
                argv[argc++] = a;
        va_end(ap);
        fc_redis_append(c, argc, argv, NULL); /* -ENOMEM shows as a short pipeline: exec refuses it */
}

/* Adds the stats counters since the last beat (Sidekiq's flush_stats). */
static void append_stats(fc_engine_t *e, fc_redis_t *c, uint64_t processed, uint64_t failed) {
        char date[16], key[512], n[24];
        time_t now = time(NULL);
        struct tm tm;
        strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&now, &tm));
        const struct {
                const char *total;
                uint64_t count;
        } stats[] = {{e->keys.stat_processed, processed}, {e->keys.stat_failed, failed}};
        for (size_t i = 0; i < 2; i++) {
                if (stats[i].count == 0)
                        continue;
                snprintf(n, sizeof(n), "%" PRIu64, stats[i].count);
                snprintf(key, sizeof(key), "%s:%s", stats[i].total, date);
                append(c, "INCRBY", stats[i].total, n, NULL);
                append(c, "INCRBY", key, n, NULL);
                append(c, "EXPIRE", key, STATS_TTL_S, NULL);
        }
}

static int64_t measure_rtt_us(fc_redis_t *c) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (fc_redis_call(c, NULL, "PING", NULL) < 0)
                return -1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        return (int64_t)(b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
}

int fc__heartbeat_once(fc_engine_t *e, fc_redis_t *c, bool leaving) {
        uint64_t processed = atomic_exchange(&e->processed, 0), failed = atomic_exchange(&e->failed, 0);
        workers_t w = {0};
        char *info = NULL;
        redisReply **replies = NULL;
        int r = leaving ? 0 : workers_collect(e, &w);
        int64_t rtt = leaving ? 0 : measure_rtt_us(c);
        if (r == 0 && !leaving)
                r = (info = info_json(e)) ? 0 : -ENOMEM;
        if (r < 0 || rtt < 0) {
                r = r < 0 ? r : -ECONNRESET;
                goto out;
        }

        char record[1024], now_s[32], busy[24], rtt_s[24], rss[24];
        fc_identity_format(&e->id, record, sizeof(record));
        snprintf(now_s, sizeof(now_s), "%.3f", fc__engine_now());
        snprintf(busy, sizeof(busy), "%zu", (w.argc - 2) / 2);
        snprintf(rtt_s, sizeof(rtt_s), "%" PRId64, rtt);
        snprintf(rss, sizeof(rss), "%ld", rss_kib());
        append_stats(e, c, processed, failed);
        if (leaving) {
                append(c, "SREM", e->keys.processes, e->id.name, NULL);
                append(c, "DEL", e->keys.process, e->keys.workers, NULL);
                append(c, "ZREM", e->keys.beats, e->id.name, NULL);
                append(c, "HDEL", e->keys.owners, e->id.name, NULL);
                append(c, "DEL", e->inflight.seq, e->inflight.last_fetch, NULL);
        } else {
                append(c, "DEL", e->keys.workers, NULL);
                if (w.argc > 2)
                        fc_redis_append(c, (int)w.argc, w.argv, NULL);
                append(c, "EXPIRE", e->keys.workers, PROCESS_TTL_S, NULL);
                append(c, "SADD", e->keys.processes, e->id.name, NULL);
                append(c, "HSET", e->keys.process, "info", info, "busy", busy, "beat", now_s, "rtt_us", rtt_s,
                       "quiet", atomic_load(&e->quiet) ? "true" : "false", "rss", rss, NULL);
                append(c, "EXPIRE", e->keys.process, PROCESS_TTL_S, NULL);
                append(c, "ZADD", e->keys.beats, now_s, e->id.name, NULL);
                append(c, "HSET", e->keys.owners, e->id.name, record, NULL);
                append(c, "RPOP", e->keys.signals, NULL);
        }
        size_t n = fc_redis_pending(c);
        replies = calloc(n, sizeof(*replies));
        r = replies ? fc_redis_exec(c, FC_REDIS_TIMEOUT_DEFAULT, replies, n) : -ENOMEM;
        if (!replies)
                fc_redis_discard(c);
        size_t n_replies = r == 0 ? n : 0;
        for (size_t i = 0; r == 0 && i < n; i++)
                if (fc_redis_reply_result(replies[i]) < 0) {
                        fc_log_limited(FC_LOG_WARNING, "heartbeat reply", "heartbeat: Redis refused a command: %s",
                                       replies[i]->str);
                        r = FC_REDIS_E_REPLY;
                }
        if (r == 0 && !leaving) {
                const redisReply *signal = replies[n - 1];
                if (signal->type == REDIS_REPLY_STRING && strcmp(signal->str, "TSTP") == 0)
                        fc_engine_quiet(e);
                else if (signal->type == REDIS_REPLY_STRING && strcmp(signal->str, "TERM") == 0) {
                        fc_log(FC_LOG_NOTICE, "stopping: TERM from %s", e->keys.signals);
                        fc_engine_stop(e);
                } else if (signal->type == REDIS_REPLY_STRING)
                        fc_log(FC_LOG_WARNING, "ignoring unknown signal \"%s\" from %s", signal->str,
                               e->keys.signals);
        }
        for (size_t i = 0; i < n_replies; i++)
                freeReplyObject(replies[i]);
out:
        free(replies);
        free(info);
        workers_free(&w);
        if (r != -ENOMEM)
                fc__engine_redis_seen(e, r == 0 || r == FC_REDIS_E_REPLY);
        if (r == 0) {
                atomic_fetch_add(&e->processed_sent, processed);
                atomic_fetch_add(&e->failed_sent, failed);
        } else {
                /* Keep the counts for the next beat, as Sidekiq does. */
                atomic_fetch_add(&e->processed, processed);
                atomic_fetch_add(&e->failed, failed);
                fc_log_limited(FC_LOG_WARNING, "heartbeat failed", "heartbeat failed: %s",
                               r == -ENOMEM ? "out of memory" : fc_redis_last_error(c));
        }
        return r;
}

/* Keeps the crash reporter's connection (crash.h) up: a PING each beat
 * reconnects it after an outage, and its socket is handed over again. */
static void keep_crash_reporter(fc_redis_t *reporter) {
        int r = fc_redis_call(reporter, NULL, "PING", NULL);
        fc_crash_set_fd(r == 0 ? fc_redis_fd(reporter) : -1);
}

void fc__heartbeat_main(void *engine) {
        fc_engine_t *e = engine;
        fc_redis_t *c = NULL, *reporter = NULL;
        if (fc__engine_connect(e, "heartbeat", &c) < 0 || fc__engine_connect(e, "crash-reporter", &reporter) < 0) {
                fc_redis_free(c);
                return;
        }
        do {
                keep_crash_reporter(reporter);
                fc__heartbeat_once(e, c, false);
        } while (fc_sleep(HEARTBEAT_MS) == 0);
        fc_crash_set_fd(-1);
        fc_redis_free(reporter);
        fc_redis_free(c);
}
