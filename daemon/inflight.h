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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redis.h"

typedef struct fc_inflight {
        char *queue_prefix; /* "{prefix}queue:" */
        char *hash;         /* "{prefix}flowcoro:inflight:<identity>" */
        char *seq;          /* "{prefix}flowcoro:inflight-seq:<identity>" */
        char *last_fetch;   /* "{prefix}flowcoro:inflight-last:<identity>": hash fetcher ->
                               "token first count" of its last fetch */
        char *retry;        /* "{prefix}retry" */
        char *dead;         /* "{prefix}dead" */
        char *schedule;     /* "{prefix}schedule" */
} fc_inflight_t;

/* One in-flight job: its id in the hash and its value there, "queue NUL
 * payload", in one buffer. */
typedef struct fc_fetched {
        uint64_t id;
        char *buf;           /* owned: free with fc_fetched_free() */
        const char *queue;   /* the queue it was taken from (in buf) */
        const char *payload; /* the job as the client wrote it (in buf, NUL-terminated) */
        size_t len;          /* of payload */
} fc_fetched_t;

/* Builds the key names. Returns 0 or -ENOMEM; free with fc_inflight_clear(). */
int fc_inflight_init(fc_inflight_t *f, const char *prefix, const char *identity);
void fc_inflight_clear(fc_inflight_t *f);

/* Frees the buffers of out[0..n). */
void fc_fetched_free(fc_fetched_t *out, size_t n);

/* The most jobs one fetch moves. */
#define FC_INFLIGHT_FETCH_MAX 1000

/* Moves up to max (1..FC_INFLIGHT_FETCH_MAX) jobs into the in-flight hash,
 * byte for byte, taking from queues[0], then queues[1] when that one runs out, and so on
 * (the caller orders them by weight), and returns them, oldest of each queue
 * first, in out[0..*n). token (any number the caller never reuses) is stored
 * with the batch, under fetcher (a number naming the caller among the
 * daemon's fetchers), so that fc_inflight_recall() can find it again. Returns 0
 * (with *n == 0 when every queue is empty) or an error of fc_redis_eval().
 * Redis runs the script atomically: after -ECONNRESET, -ETIMEDOUT or
 * -ECANCELED the jobs may be in flight without our knowing, and
 * fc_inflight_recall() with the same token returns them. From a coroutine. */
int fc_inflight_fetch(fc_redis_t *c, const fc_inflight_t *f, unsigned fetcher, const char *const *queues,
                      size_t n_queues, unsigned max, uint64_t token, fc_fetched_t *out, size_t *n);

/* Replaces the payload of in-flight job id (still filed under queue), if it
 * is still in flight here: how a job that came without a jid keeps the one
 * it was given, before it runs. Returns 1, 0 when it is no longer ours, or
 * an error of fc_redis_eval(). */
int fc_inflight_rewrite(fc_redis_t *c, const fc_inflight_t *f, uint64_t id, const char *queue,
                        const char *payload);

/* After a fetch whose outcome is unknown: returns in out[0..*n) (room for
 * FC_INFLIGHT_FETCH_MAX) the jobs of the batch fetcher fetched with token
 * that are still in the in-flight hash, or none when that fetch never ran
 * (or fetcher fetched again since). Returns 0 or an error of
 * fc_redis_eval(). From a coroutine. */
int fc_inflight_recall(fc_redis_t *c, const fc_inflight_t *f, unsigned fetcher, uint64_t token, fc_fetched_t *out,
                       size_t *n);

/* Acknowledges ids[0..n) (n <= 100000) with one HDEL. Returns how many were
 * still there, or an error of fc_redis_command(). */
int fc_inflight_ack(fc_redis_t *c, const fc_inflight_t *f, const uint64_t *ids, size_t n);

/* How a job leaves the in-flight hash other than by an acknowledgement. */
typedef enum fc_finish {
        FC_FINISH_RETRY,    /* ZADD retry <at> <payload> */
        FC_FINISH_DEAD,     /* ZADD dead <now> <payload>, then trim dead */
        FC_FINISH_SCHEDULE, /* ZADD schedule <at> <payload> (a snoozed job) */
} fc_finish_t;

typedef struct fc_dead_limits {
        unsigned max_jobs; /* jobs.dead_max_jobs: dead keeps at most this many */
        double timeout_s;  /* jobs.dead_timeout: older entries are removed */
} fc_dead_limits_t;

/* Removes job id from the in-flight hash and, in the same atomic step,
 * files payload in retry or schedule (score at, epoch seconds) or dead
 * (score now; the dead set is then trimmed by age and to max_jobs entries,
 * as Sidekiq's DeadSet#kill does, but keeping max_jobs where Sidekiq keeps
 * one fewer). If the id is no longer in the hash (another process recovered
 * the job), nothing is written, so a job is never in two places: calling it
 * again after an unknown outcome is safe. Returns 1 when filed, 0 when the
 * job was no longer ours, or an error of fc_redis_eval(). */
int fc_inflight_finish(fc_redis_t *c, const fc_inflight_t *f, uint64_t id, fc_finish_t how, double at,
                       const char *payload, double now, const fc_dead_limits_t *dead);

/* Puts every job of the in-flight hash back at the front (right end) of its
 * queue, in the order they were fetched, and empties the hash, atomically.
 * Returns how many jobs moved, or an error of fc_redis_eval(). */
int fc_inflight_requeue(fc_redis_t *c, const fc_inflight_t *f);

/* Reads up to about count entries of the in-flight hash with HSCAN from
 * *cursor (0 to start; 0 again when the scan is complete) into a new array
 * *out of *n entries (free with fc_fetched_free() and free()). Returns 0 or
 * an error of fc_redis_command(). */
int fc_inflight_scan(fc_redis_t *c, const fc_inflight_t *f, uint64_t *cursor, unsigned count, fc_fetched_t **out,
                     size_t *n);

/* Where fc_inflight_move() sends one job. */
typedef struct fc_move {
        uint64_t id;         /* in the in-flight hash */
        const char *queue;   /* to the front of queue:<queue>, or */
        bool dead;           /* to dead (score now) */
        const char *payload; /* what to file (may differ from what was fetched) */
} fc_move_t;

/* Moves jobs out of the in-flight hash, each only if its id is still there
 * (so two processes moving the same hash never both move a job): to the
 * front of their queue in the order given (the last one given is taken
 * first), or to dead (then trimmed like fc_inflight_finish()). One atomic
 * script. Returns how many moved, or an error of fc_redis_eval(). */
int fc_inflight_move(fc_redis_t *c, const fc_inflight_t *f, const fc_move_t *moves, size_t n, double now,
                     const fc_dead_limits_t *dead);

/* Deletes the hash and its bookkeeping keys once it is empty (a finished
 * orphan). Returns 1 when deleted, 0 when the hash still holds jobs, or an
 * error of fc_redis_eval(). */
int fc_inflight_drop_if_empty(fc_redis_t *c, const fc_inflight_t *f);

#endif
