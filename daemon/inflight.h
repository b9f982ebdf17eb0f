/* Reliable fetch: jobs move atomically from a queue into this daemon's
 * in-flight hash, and leave it only when finished or put back.
 *
 *   {prefix}queue:<name>                  the Sidekiq queue (producers LPUSH,
 *                                         we take from the right: FIFO)
 *   {prefix}flowcoro:inflight:<identity>  hash: in-flight id -> queue NUL job
 *   {prefix}flowcoro:inflight-seq:<identity>  counter that numbers the ids
 *
 * One Lua script pops a batch and files each job under a fresh number, so
 * a job is never only in process memory, two jobs with the same jid never
 * overwrite each other, and acknowledging one is an O(1) HDEL. The queue
 * name travels with the job because a client's "queue" field may be absent
 * or differ from the list the job was taken from. The requeue script builds
 * queue key names itself: right for one Redis server, not for Redis Cluster
 * (which FlowCoro, like Sidekiq, does not support). */
#ifndef FC_DAEMON_INFLIGHT_H
#define FC_DAEMON_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

typedef struct fc_inflight {
        char *queue_prefix; /* "{prefix}queue:" */
        char *hash;         /* "{prefix}flowcoro:inflight:<identity>" */
        char *seq;          /* "{prefix}flowcoro:inflight-seq:<identity>" */
        char *retry;        /* "{prefix}retry" */
        char *dead;         /* "{prefix}dead" */
} fc_inflight_t;

/* One fetched job: its in-flight id and its payload, as the client wrote it. */
typedef struct fc_fetched {
        uint64_t id;
        char *payload; /* owned, NUL-terminated */
        size_t len;
} fc_fetched_t;

/* Builds the key names. Returns 0 or -ENOMEM; free with fc_inflight_clear(). */
int fc_inflight_init(fc_inflight_t *f, const char *prefix, const char *identity);
void fc_inflight_clear(fc_inflight_t *f);

/* Moves up to max (1..1000) jobs from queue into the in-flight hash and
 * returns them, oldest first, in out[0..*n). Returns 0 (with *n == 0 when
 * the queue is empty) or an error of fc_redis_eval(). On an error nothing
 * was moved, or everything was (Redis runs the script atomically); after
 * -ECONNRESET or -ETIMEDOUT the jobs may be in flight without our knowing:
 * fc_inflight_requeue() puts them back. From a coroutine. */
int fc_inflight_fetch(fc_redis_t *c, const fc_inflight_t *f, const char *queue, unsigned max, fc_fetched_t *out,
                      size_t *n);

/* Frees the payloads of out[0..n). */
void fc_fetched_free(fc_fetched_t *out, size_t n);

/* Acknowledges a finished job: removes it from the in-flight hash. Returns
 * 1 when it was there, 0 when not (already acknowledged or put back), or an
 * error of fc_redis_command(). */
int fc_inflight_ack(fc_redis_t *c, const fc_inflight_t *f, uint64_t id);

/* Acknowledges ids[0..n) with one HDEL (one round trip). Returns how many
 * were there, or an error of fc_redis_command(). */
int fc_inflight_ack_many(fc_redis_t *c, const fc_inflight_t *f, const uint64_t *ids, size_t n);

/* How a finished job leaves the in-flight hash. */
typedef enum fc_finish {
        FC_FINISH_ACK,   /* done, or dropped: nothing kept */
        FC_FINISH_RETRY, /* ZADD retry <at> <payload> */
        FC_FINISH_DEAD,  /* ZADD dead <now> <payload>, then trim dead */
} fc_finish_t;

typedef struct fc_dead_limits {
        unsigned max_jobs;     /* jobs.dead_max_jobs: dead keeps at most this many */
        double timeout_s;      /* jobs.dead_timeout: older entries are removed */
} fc_dead_limits_t;

/* Removes job id from the in-flight hash and, in the same atomic step,
 * files payload in retry (score at, epoch seconds) or dead (score now; the
 * dead set is then trimmed by age and to max_jobs entries, as Sidekiq's
 * DeadSet#kill does, but keeping max_jobs where Sidekiq keeps one fewer).
 * If the id is no longer in the hash (another process recovered the job),
 * nothing is written, so a job is never in two places. Returns 1 when
 * filed, 0 when the job was no longer ours, or an error of fc_redis_eval(). */
int fc_inflight_finish(fc_redis_t *c, const fc_inflight_t *f, uint64_t id, fc_finish_t how, double at,
                       const char *payload, double now, const fc_dead_limits_t *dead);

/* Puts every job of the in-flight hash back at the front (right end) of its
 * queue, in the order they were fetched, and empties the hash, atomically.
 * Returns how many jobs moved, or an error of fc_redis_eval(). */
int fc_inflight_requeue(fc_redis_t *c, const fc_inflight_t *f);

#endif
