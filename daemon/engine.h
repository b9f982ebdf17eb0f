/* The job engine: everything flowcorod does with Redis once its
 * configuration and plugins are loaded. It fetches jobs from the configured
 * queues into this process's in-flight hash (inflight.h), runs each as a
 * coroutine with its handler and deadline, finishes it (acknowledge, retry,
 * dead), moves due scheduled and retried jobs back to their queues, keeps
 * Sidekiq's heartbeat and stats, and recovers the in-flight jobs of daemons
 * that died. docs/engine.md describes the design. */
#ifndef FC_DAEMON_ENGINE_H
#define FC_DAEMON_ENGINE_H

#include "flowcoro/config.h"
#include "flowcoro/core.h"
#include "loader.h"
#include "redis.h"
#include "stats.h"

typedef struct fc_engine fc_engine_t;

typedef struct fc_engine_options {
        const fc_config_t *config;        /* borrowed: must outlive the engine */
        fc_plugin_set_t *plugins;         /* the engine takes its own reference */
        fc_sched_t *sched;                /* where jobs run */
        const fc_redis_options_t *redis;  /* copied (strings too, by each connection) */
        const char *instance;             /* this daemon's name on its host (identity.h) */
        fc_stats_t *stats;                /* borrowed, or NULL: no metrics counted */
} fc_engine_options_t;

/* Creates an engine. Returns 0 and *out, -EINVAL with a message on stderr
 * for a bad instance name, or another negative errno. Any thread. */
int fc_engine_new(const fc_engine_options_t *o, fc_engine_t **out);

/* Runs the engine in the calling coroutine until fc_engine_stop(): then
 * stops fetching, lets running jobs finish for up to shutdown_timeout,
 * cancels the rest, puts every unfinished job back at the front of its queue
 * and leaves Sidekiq's process set. Returns 0 when every job was finished or
 * put back, or -EIO when Redis could not be reached to put some back (they
 * stay in this daemon's in-flight hash, where the next daemon on this host,
 * or orphan recovery after the heartbeat expires, finds them). */
int fc_engine_run(fc_engine_t *e);

/* Asks the engine to stop (SIGTERM); a second call skips the wait for
 * running jobs. Any thread, and from a signal-watching coroutine. */
void fc_engine_stop(fc_engine_t *e);

/* Quiet (SIGTSTP, Sidekiq's TSTP): stop fetching, keep running what runs.
 * Returns once a fetch that was under way has ended (at most 5 s, when
 * Redis is slow to answer it): no job is fetched after it returned. Any
 * thread. */
void fc_engine_quiet(fc_engine_t *e);

/* Applies a reloaded configuration (from fc_config_reload(); settings that
 * need a restart are not applied, fc_config_restart_keys() names them) and
 * its plugin set: jobs fetched from now on use them, jobs already fetched
 * finish with the set and settings they started with. Returns 0, taking
 * config (freed once no job uses it) and a reference of plugins (the
 * caller keeps its own); or -ENOMEM, changing nothing (config stays the
 * caller's). Any thread. */
int fc_engine_reload(fc_engine_t *e, fc_config_t *config, fc_plugin_set_t *plugins);

/* The configuration in use: the one given to fc_engine_new() or the last
 * reloaded one. Valid until the next fc_engine_reload(), so only the
 * thread that reloads may call this. */
const fc_config_t *fc_engine_config(fc_engine_t *e);

typedef struct fc_engine_status {
        uint32_t busy;          /* jobs fetched and not finished */
        uint32_t concurrency;   /* the limit in use */
        uint64_t processed;     /* jobs run since start (Sidekiq's count: failures too) */
        uint64_t failed;        /* of which failed */
        bool quiet;             /* fetching stopped by quiet */
        bool stopping;          /* fc_engine_stop() was called */
        bool redis_up;          /* the last fetch or heartbeat reached Redis */
} fc_engine_status_t;

/* A snapshot of the engine's state. Any thread. */
void fc_engine_status(fc_engine_t *e, fc_engine_status_t *out);

/* Writes into buf (NUL-terminated, truncated to size) who the coroutine
 * coro runs: "job <jid> (class <class>, queue <queue>)", and returns true;
 * returns false when it runs no job. For the watchdog, which knows which
 * coroutine holds a stalled scheduler thread. Any thread. */
bool fc_engine_describe_coro(fc_engine_t *e, const fc_coro_t *coro, char *buf, size_t size);

/* Sidekiq's identity of this daemon ("host:pid:hex"). */
const char *fc_engine_identity(const fc_engine_t *e);

/* Frees the engine after fc_engine_run() returned (or instead of it). */
void fc_engine_free(fc_engine_t *e);

#endif
