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

/* Puts every job of the in-flight hash back at the front (right end) of its
 * queue, in the order they were fetched, and empties the hash, atomically.
 * Returns how many jobs moved, or an error of fc_redis_eval(). */
int fc_inflight_requeue(fc_redis_t *c, const fc_inflight_t *f);

#endif
