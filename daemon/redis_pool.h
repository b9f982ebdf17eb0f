/* A fixed set of Redis connections shared by coroutines (handlers' Redis
 * commands through host->redis). A connection belongs to one coroutine at a
 * time (redis.h); idle ones wait in a channel, so a coroutine that finds
 * none free suspends until one comes back. */
#ifndef FC_DAEMON_REDIS_POOL_H
#define FC_DAEMON_REDIS_POOL_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "redis.h"

typedef struct fc_redis_pool fc_redis_pool_t;

/* Creates size (>= 1) connections with options o; they connect lazily.
 * Returns 0 and sets *ret, -EINVAL, or -ENOMEM. Any thread. */
int fc_redis_pool_new(const fc_redis_options_t *o, size_t size, fc_redis_pool_t **ret);

/* Frees the pool and its connections. No coroutine may be using it. */
void fc_redis_pool_free(fc_redis_pool_t *p);

/* Runs one command on a free connection (waiting for one if all are busy)
 * with the connections' default timeout. Returns 0 and the reply in *reply
 * (an error reply is a REDIS_REPLY_ERROR reply; the caller frees it), or a
 * negative errno and no reply: as fc_redis_exec(), or -ECANCELED when
 * cancelled while waiting for a connection. Only from a coroutine. */
int fc_redis_pool_command(fc_redis_pool_t *p, redisReply **reply, int argc, const char *const *argv,
                          const size_t *argvlen);

/* Takes a free connection for the caller's own use (waiting for one if all
 * are busy); give it back with fc_redis_pool_release(). Returns 0, or
 * -ECANCELED when cancelled while waiting. Only from a coroutine. */
int fc_redis_pool_acquire(fc_redis_pool_t *p, fc_redis_t **conn);
void fc_redis_pool_release(fc_redis_pool_t *p, fc_redis_t *conn);

#endif
