/* bench-fetch: the reliable fetch path alone, against a private local
 * redis-server: how many jobs per second can move queue -> in-flight hash ->
 * acknowledged, with no handler work. This is the Redis-side ceiling the
 * engine's end-to-end rate can approach, measured per batch size.
 *
 *   bench-fetch [--json]
 *
 * For each batch size: N jobs are LPUSHed (not timed), then 4 coroutines on
 * a 2-thread pool, each with its own connection, fetch a batch and
 * acknowledge it with one HDEL until the queue is empty. Median of 5
 * repetitions. */
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowcoro/core.h"
#include "harness/redis_server.h"
#include "inflight.h"

#define REPS 5
#define WORKERS 4

static fc_test_redis_t redis;
static fc_inflight_t inflight;
static _Atomic long moved;
static _Atomic int failed;

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(long n) {
        redisContext *c = redisConnectUnix(redis.socket_path);
        const char *job = "{\"class\":\"Noop\",\"args\":[],\"queue\":\"default\"}";
        for (long i = 0; i < n; i++)
                redisAppendCommand(c, "LPUSH queue:default %s", job);
        for (long i = 0; i < n; i++) {
                redisReply *r;
                if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                        fprintf(stderr, "bench-fetch: LPUSH failed\n");
                        exit(1);
                }
                freeReplyObject(r);
        }
        redisFree(c);
}

static void drain(void *arg) {
        unsigned batch = (unsigned)(uintptr_t)arg;
        fc_redis_options_t o = {.transport = FC_REDIS_UNIX, .socket_path = redis.socket_path};
        fc_redis_t *c;
        fc_fetched_t *out = calloc(batch, sizeof(*out));
        uint64_t *ids = calloc(batch, sizeof(*ids));
        if (!out || !ids || fc_redis_new(&o, &c) < 0) {
                atomic_store(&failed, 1);
                return;
        }
        const char *queues[] = {"default"};
        for (uint64_t token = 1;; token++) {
                size_t n;
                int r = fc_inflight_fetch(c, &inflight, 0, queues, 1, batch, token, out, &n);
                if (r < 0 || n == 0) {
                        if (r < 0)
                                atomic_store(&failed, 1);
                        break;
                }
                for (size_t i = 0; i < n; i++)
                        ids[i] = out[i].id;
                if (fc_inflight_ack(c, &inflight, ids, n) != (int)n)
                        atomic_store(&failed, 1);
                fc_fetched_free(out, n);
                atomic_fetch_add(&moved, (long)n);
        }
        fc_redis_free(c);
        free(out);
        free(ids);
}

static double run(fc_sched_t *s, unsigned batch, long n) {
        fill(n);
        atomic_store(&moved, 0);
        fc_coro_t *co[WORKERS];
        double t0 = now_s();
        for (int i = 0; i < WORKERS; i++)
                fc_spawn(s, drain, (void *)(uintptr_t)batch, &co[i]);
        for (int i = 0; i < WORKERS; i++)
                fc_join(co[i]);
        double secs = now_s() - t0;
        if (atomic_load(&failed) || atomic_load(&moved) != n) {
                fprintf(stderr, "bench-fetch: moved %ld of %ld jobs\n", atomic_load(&moved), n);
                exit(1);
        }
        return n / secs;
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

int main(int argc, char **argv) {
        int json = argc > 1 && strcmp(argv[1], "--json") == 0;
        const char *const extra[] = {"--save", "", "--appendonly", "no", NULL};
        if (fc_test_redis_start(&redis, extra) < 0 || fc_inflight_init(&inflight, "", "bench:1:x") < 0)
                return 1;
        fc_sched_t *s;
        fc_sched_options_t o = {.threads = 2};
        if (fc_sched_create(&o, &s) < 0)
                return 1;
        const unsigned batches[] = {1, 50, 500};
        const long jobs[] = {20000, 200000, 200000};
        double result[3];
        for (int b = 0; b < 3; b++) {
                double v[REPS];
                for (int i = 0; i < REPS; i++)
                        v[i] = run(s, batches[b], jobs[b]);
                qsort(v, REPS, sizeof(double), cmp);
                result[b] = v[REPS / 2];
                printf("batch %3u: %9.0f jobs/s  (fetch + ack, %d connections, median of %d)\n", batches[b],
                       result[b], WORKERS, REPS);
        }
        if (json)
                printf("{\"fetch_ack_batch1_jobs_s\":%.0f,\"fetch_ack_batch50_jobs_s\":%.0f,"
                       "\"fetch_ack_batch500_jobs_s\":%.0f}\n",
                       result[0], result[1], result[2]);
        fc_sched_destroy(s);
        fc_inflight_clear(&inflight);
        fc_test_redis_stop(&redis);
        return 0;
}
