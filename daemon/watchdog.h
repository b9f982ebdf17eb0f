/* The service thread: keeps systemd informed while flowcorod runs.
 *
 * Under systemd (notify.h) a plain thread wakes every FC_WATCHDOG_STATUS_MS
 * (or half the watchdog interval, when that is shorter) and
 *   - sends STATUS= with the engine's state ("busy 12/1000, 3,400 jobs/s,
 *     Redis up, last reload 10:02:11 OK");
 *   - sends WATCHDOG=1 when systemd asked for a watchdog (WatchdogSec=),
 *     but only while no scheduler thread has run one coroutine for longer
 *     than the watchdog interval (fc_sched_stalled). When one has, it logs
 *     once which job holds it and stops pinging, so systemd restarts the
 *     service and the next daemon takes the jobs back at once; should the
 *     thread come back first, pinging resumes (and that is logged too).
 * A plain thread, not a coroutine, because a stalled scheduler thread
 * would stall a coroutine with it. Outside systemd no thread is started. */
#ifndef FC_DAEMON_WATCHDOG_H
#define FC_DAEMON_WATCHDOG_H

#include <stddef.h>

#include "engine.h"
#include "flowcoro/core.h"

#define FC_WATCHDOG_STATUS_MS 2000

typedef struct fc_watchdog fc_watchdog_t;

typedef struct fc_watchdog_options {
        fc_sched_t *sched;   /* borrowed: outlives the watchdog */
        fc_engine_t *engine; /* borrowed: outlives the watchdog */
        /* Writes the end of the status line ("last reload 10:02:11 OK"),
         * NUL-terminated, into buf; "" for nothing. Called on the service
         * thread. NULL for none. */
        void (*describe_reload)(void *ctx, char *buf, size_t size);
        void *ctx;
} fc_watchdog_options_t;

/* Starts the service thread when running under systemd. Returns 0 and
 * *out (NULL outside systemd: nothing to do), -ENOMEM, or the errno of
 * pthread_create. Plain thread. */
int fc_watchdog_start(const fc_watchdog_options_t *o, fc_watchdog_t **out);

/* Stops the thread and frees it. NULL is allowed. Plain thread. */
void fc_watchdog_stop(fc_watchdog_t *w);

#endif
