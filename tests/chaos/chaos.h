/* What the chaos cases share (docs/chaos.md): their size, a Redis with a
 * connection that survives what the case does to the server, a producer
 * that enqueues Record jobs at a steady rate, and bounded waits.
 *
 * Every case is one cmocka test in its own program (tests/chaos/CASE.c),
 * registered as the ctest test chaos_CASE (labels chaos and integration).
 * It enqueues Record jobs (tests/harness/record.h), does its damage, waits
 * until nothing is left to run, prints the one summary line
 * "jobs N, completed N, lost L, duplicated D" and asserts lost == 0 and its
 * bound on duplicates. Its teardown stops every server it started, also
 * after a failed assertion. */
#ifndef FC_CHAOS_H
#define FC_CHAOS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness/daemon.h"
#include "harness/record.h"

/* Whether FLOWCORO_CHAOS_FULL=1 asks for the full sizes (tests/chaos/run-full);
 * otherwise the small ones CI runs. */
bool chaos_full(void);

/* ci or full, whichever this run is. */
long chaos_size(long ci, long full);

/* Once per program, before anything else: no core files (cases crash
 * daemons on purpose), SIGPIPE ignored (Redis goes away under the test's
 * own connection), stdout line-buffered. */
void chaos_init(void);

int64_t chaos_now_ms(void);
void chaos_sleep_ms(long ms);

/* Prints the last `bytes` bytes of the daemon's log, saying why. */
void chaos_print_log_tail(const fc_test_daemon_t *d, const char *why, size_t bytes);

/* One redis-server and the test's own connection to it. */
typedef struct chaos_redis {
        fc_test_redis_t server;
        const char *const *args; /* its extra arguments, borrowed (kept for restarts) */
        redisContext *c;         /* NULL or broken after a restart: chaos_conn() reopens it */
} chaos_redis_t;

/* Starts the server (fc_test_redis_start) and connects. Returns 0, or a
 * negative errno (the message is on stderr) with nothing left running. */
int chaos_redis_start(chaos_redis_t *r, const char *const *args);

/* Restarts it on the same socket with the same arguments and data
 * (fc_test_redis_restart); hard: SIGKILL first instead of a clean
 * shutdown. Returns 0 or a negative errno. */
int chaos_redis_restart(chaos_redis_t *r, bool hard);

/* Closes the connection and stops the server. Safe twice, and on a server
 * that never started. */
void chaos_redis_stop(chaos_redis_t *r);

/* The connection, reopened when it broke; NULL when Redis can't be reached
 * (the reason is on stderr). */
redisContext *chaos_conn(chaos_redis_t *r);

/* fc_test_redis_int() on the (reopened) connection; -3 when there is none. */
long long chaos_int(chaos_redis_t *r, const char *format, ...);

/* Jobs that may still run: those in queue:default, retry, schedule and
 * every in-flight hash, read in one atomic step (a job moving between them
 * is counted once). A negative errno when Redis can't be asked. */
long long chaos_jobs_left(chaos_redis_t *r);

/* Waits at most timeout_ms until nothing is left to run: chaos_jobs_left()
 * reads 0. That is final once the test enqueues no more, since every move
 * of a job (fetch, ack, filing, requeue, recovery, poller) is one atomic
 * step between those keys, done and dead. Returns whether it settled. */
bool chaos_wait_settled(chaos_redis_t *r, int timeout_ms);

/* Tallies how often jids prefix<0> .. prefix<n - 1> ran (hash key), and
 * fails the test if Redis can't be asked. */
fc_test_tally_t chaos_tally(chaos_redis_t *r, const char *key, const char *prefix, long n);

/* A producer of Record jobs [key, ms] with jids prefix<0> .. prefix<total-1>
 * at per_second, counted from its first chaos_pace(). */
typedef struct chaos_pacer {
        const char *key, *prefix; /* borrowed */
        long ms;
        double per_second;
        long total;
        long pushed;      /* jobs enqueued so far (Redis acknowledged them) */
        int64_t start_ms; /* 0 until the first chaos_pace() */
} chaos_pacer_t;

/* Enqueues the jobs due by now that are not enqueued yet, at most 2,000
 * at a time (fails the test when Redis refuses them). Returns how many it
 * enqueued. */
long chaos_pace(chaos_pacer_t *p, chaos_redis_t *r);

/* Whether every job of p is enqueued. */
bool chaos_paced_all(const chaos_pacer_t *p);

#endif
