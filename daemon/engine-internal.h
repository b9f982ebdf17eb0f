/* The engine's state, shared by its parts: engine.c (fetch, run, finish,
 * shutdown), heartbeat.c, poller.c and recovery.c. Not for other modules. */
#ifndef FC_DAEMON_ENGINE_INTERNAL_H
#define FC_DAEMON_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "identity.h"
#include "inflight.h"
#include "redis_pool.h"
#include "running.h"

#define FC_ENGINE_FETCHERS 2

/* Redis key names, prefix included. */
typedef struct fc_engine_keys {
        char *queues;          /* set of known queue names */
        char *processes;       /* Sidekiq's set of live process identities */
        char *process;         /* <identity>: hash with info, busy, beat, quiet, rss, rtt_us */
        char *workers;         /* <identity>:workers: hash of running jobs */
        char *signals;         /* <identity>-signals: list of TSTP / TERM */
        char *stat_processed;  /* stat:processed */
        char *stat_failed;     /* stat:failed */
        char *schedule, *retry;
        char *owners;          /* flowcoro:owners: identity -> identity record (identity.h) */
        char *beats;           /* flowcoro:beats: zset identity -> last heartbeat (epoch s) */
        char *recovery_lock;   /* flowcoro:recovery-lock */
        char *crashes;         /* flowcoro:crashes:<identity>: "<id> <signal>" of jobs that crashed it (crash.h) */
} fc_engine_keys_t;

/* A configuration and plugin set in use: the current one, and older ones
 * while jobs fetched under them still run (each such job holds a
 * reference). */
typedef struct fc_engine_gen {
        _Atomic long refs;
        const fc_config_t *config;
        fc_config_t *owned;        /* config, when the engine frees it (reloaded ones) */
        fc_plugin_set_t *plugins;  /* a reference */
        fc_dead_limits_t dead;     /* jobs.dead_max_jobs and jobs.dead_timeout */
} fc_engine_gen_t;

struct fc_engine {
        /* Set up by fc_engine_new(), read-only afterwards. */
        fc_sched_t *sched;
        fc_stats_t *stats;         /* borrowed, or NULL */
        fc_redis_options_t redis;
        fc_identity_t id;
        double started_at;
        char *prefix;
        fc_engine_keys_t keys;
        fc_inflight_t inflight;
        int64_t test_retry_delay_ms; /* FLOWCORO_TEST_RETRY_DELAY_MS; -1 when unset */
        fc_redis_pool_t *pool;       /* finishes and handlers' commands */

        /* Shared between threads. */
        pthread_mutex_t gen_lock;  /* guards gen (the pointer), for fc__engine_gen_take() */
        fc_engine_gen_t *gen;      /* the current generation; the engine holds a reference */
        _Atomic uint32_t concurrency; /* gen's, read on the job path */
        _Atomic bool redis_up;     /* the last fetch or heartbeat reached Redis */
        _Atomic uint64_t processed_sent, failed_sent; /* already added to Redis's counters */
        _Atomic int stop_requests; /* fc_engine_stop() calls */
        _Atomic bool quiet;
        _Atomic bool abandon;      /* shutdown gave up waiting for Redis */
        /* Places taken under concurrency, and of those the ones reserved by
         * fetches still in progress, in one word so that one load tells the
         * jobs held (STATUS=, /metrics, control status) from reservations:
         * see the places_* helpers in engine.c. */
        _Atomic uint64_t places;
        _Atomic bool isolating;    /* a fetcher runs a suspect alone: nobody fetches */
        _Atomic bool queues_full;  /* the last fetch came back full: more fetchers help */
        _Atomic uint64_t processed, failed; /* not yet added to Redis's stat counters */
        /* The fetchers: two, so that Redis runs one's fetch while the other's
         * batch is parsed and started. */
        struct fc_fetcher {
                fc_chan_t *bell;           /* capacity 1: wakes it (room, stop, quiet, work) */
                _Atomic bool waits_for_room;
                _Atomic bool fetching;     /* from its check of quiet to its fetch's end */
        } fetchers[FC_ENGINE_FETCHERS];
        fc_chan_t *poller_bell;    /* capacity 1: wakes the poller (an earlier due job) */
        fc_chan_t *stop_bell;      /* capacity 1: wakes fc_engine_run() */
        _Atomic int64_t poller_next_ms; /* when the poller wakes next (fc_now_ms clock) */
        fc_running_t running;

        /* Acknowledgements waiting to be sent (guarded by ack_lock). */
        pthread_mutex_t ack_lock;
        uint64_t *acks;
        size_t n_acks, cap_acks;
        _Atomic bool ack_sending;  /* the acknowledger has a batch out (set under ack_lock) */
        fc_chan_t *ack_bell;       /* capacity 1: wakes the acknowledger */
};

/* Takes n references of the current generation (one lock, for a whole
 * batch of jobs). Any thread. */
fc_engine_gen_t *fc__engine_gen_take(fc_engine_t *e, long n);

/* Drops n references; the last one frees the generation. */
void fc__engine_gen_drop(fc_engine_gen_t *g, long n);

/* Records whether Redis answered (written only when it changes). */
void fc__engine_redis_seen(fc_engine_t *e, bool up);

/* Epoch seconds, with microseconds. */
double fc__engine_now(void);

/* Sleeps up to ms on bell (returns early when it rings or the engine
 * stops). Returns 0, or -ECANCELED. */
int fc__engine_wait(fc_chan_t *bell, int64_t ms);
void fc__engine_ring(fc_chan_t *bell);

bool fc__engine_stopping(const fc_engine_t *e);

/* A random number from 0 to n - 1 (0 for n == 0): jitter, retry delays. */
uint64_t fc__engine_random_below(uint64_t n);

/* New connection for one of the engine's coroutines, named for CLIENT LIST
 * ("flowcoro:<role>"). Returns 0 or a negative errno (logged). */
int fc__engine_connect(fc_engine_t *e, const char *role, fc_redis_t **out);

/* Tells the poller a job now waits in schedule or retry until at (epoch s). */
void fc__engine_due_at(fc_engine_t *e, double at);

/* The parts' coroutines: each returns when the engine stops (heartbeat and
 * poller when cancelled). */
void fc__heartbeat_main(void *engine);
void fc__poller_main(void *engine);
void fc__recovery_main(void *engine);

/* One heartbeat now (also the last one at shutdown, with leaving = true:
 * then the process leaves Sidekiq's set and FlowCoro's registry). Returns 0
 * or a negative errno (logged). */
int fc__heartbeat_once(fc_engine_t *e, fc_redis_t *c, bool leaving);

/* Registers this daemon as the owner of its in-flight hash, before the
 * first fetch. Returns 0 or a negative errno (logged). */
int fc__recovery_register(fc_engine_t *e, fc_redis_t *c);

/* One recovery pass (under the cluster-wide lock): returns how many jobs
 * were moved, or a negative errno (logged). */
int fc__recovery_pass(fc_engine_t *e, fc_redis_t *c);

#endif
