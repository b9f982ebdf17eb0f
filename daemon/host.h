/* The fc_host_t table flowcorod gives its plugins (daemon/host.c). */
#ifndef FC_DAEMON_HOST_H
#define FC_DAEMON_HOST_H

#include "flowcoro/plugin.h"
#include "loader.h"
#include "redis_pool.h"

/* Runs a handler's Redis commands (ctx as given to fc_host_set_redis).
 * Returns like fc_host_t.redis. */
typedef int (*fc_host_redis_fn)(void *ctx, fc_job_t *job, int argc, const char *const *argv,
                                const size_t *argvlen, fc_redis_reply_t **reply);

/* The table (static, lives forever). */
const fc_host_t *fc_host(void);

/* Sets the Redis runner; NULL makes host->redis return -ENOTCONN. Set it
 * before any job runs. */
void fc_host_set_redis(fc_host_redis_fn fn, void *ctx);

/* Runs handlers' Redis commands on pool's connections (what flowcorod
 * does); NULL stops. */
void fc_host_use_redis_pool(fc_redis_pool_t *pool);

/* Runs handler h on job in the calling coroutine: sets the job's plugin for
 * logs, calls the handler, and returns its status (the job's status, error
 * and snooze fields filled as the handler asked). */
fc_job_status_t fc_host_run(const fc_plugin_handler_t *h, fc_job_t *job);

#endif
