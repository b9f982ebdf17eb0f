/* The jobs running in this daemon right now: what the heartbeat publishes
 * in Sidekiq's <identity>:workers hash, what shutdown cancels, and what the
 * overrun check watches. Any thread; one mutex guards the list (a job takes
 * it twice: when it starts and when it ends). */
#ifndef FC_DAEMON_RUNNING_H
#define FC_DAEMON_RUNNING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowcoro/core.h"

typedef struct fc_running_job {
        struct fc_running_job *prev, *next; /* guarded by the list's lock */
        uint64_t id;                        /* in-flight id */
        const char *queue, *payload;        /* borrowed from the job, for the workers hash */
        const char *jid, *klass;            /* borrowed, for logs */
        double run_at;                      /* epoch seconds */
        int64_t deadline_ms;                /* fc_now_ms() clock; INT64_MAX for none */
        fc_coro_t *coro;                    /* the job's coroutine, alive while listed */
        bool overrun_reported;              /* guarded by the list's lock */
} fc_running_job_t;

typedef struct fc_running {
        pthread_mutex_t lock;
        fc_running_job_t head; /* sentinel of a circular list */
        size_t count;
        bool cancelling;       /* set by fc_running_cancel_all(): no job may join */
} fc_running_t;

void fc_running_init(fc_running_t *r);
void fc_running_destroy(fc_running_t *r);

/* Lists and unlists a job. The job's coroutine must unlist itself before it
 * returns: that is what keeps job->coro valid for fc_running_cancel_all().
 * Add returns false (and lists nothing) once fc_running_cancel_all() ran:
 * then the job must not start. */
bool fc_running_add(fc_running_t *r, fc_running_job_t *job);
void fc_running_remove(fc_running_t *r, fc_running_job_t *job);

/* Cancels every listed job's coroutine, and refuses later adds; returns how
 * many were cancelled. */
size_t fc_running_cancel_all(fc_running_t *r);

/* Calls fn(job, arg) for every listed job, under the lock: fn must be quick
 * and must not call back into r. */
void fc_running_foreach(fc_running_t *r, void (*fn)(fc_running_job_t *job, void *arg), void *arg);

#endif
