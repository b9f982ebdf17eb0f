/* What happens to a job that failed: Sidekiq 6.4's retry rules
 * (lib/sidekiq/job_retry.rb), written into the job's payload.
 *
 *   "retry" absent       the handler's max_retries, else jobs.max_retries
 *   "retry": true / any non-integer truthy value   jobs.max_retries
 *   "retry": N (integer) at most N retries (0: straight to dead)
 *   "retry": false/null  no retry, and not kept in dead either: dropped
 *                        (Sidekiq discards such jobs)
 * A handler's FC_JOB_DEAD skips the retries. A job out of retries goes to
 * dead unless its payload says "dead": false (then it is dropped).
 *
 * The payload gets Sidekiq's failure fields: error_message (at most 10,000
 * characters), error_class, retry_count (0 on the first failure, +1 each
 * later one) and failed_at (first) or retried_at (later), epoch seconds;
 * "queue" becomes "retry_queue" when that is set. Every other field stays
 * as the client wrote it. */
#ifndef FC_DAEMON_RETRY_H
#define FC_DAEMON_RETRY_H

#include "job.h"

typedef enum fc_failure_action {
        FC_FAILURE_RETRY, /* ZADD retry <at> <payload> */
        FC_FAILURE_DEAD,  /* ZADD dead <now> <payload>, then trim dead */
        FC_FAILURE_DROP,  /* nothing kept: the job asked for that */
} fc_failure_action_t;

typedef struct fc_failure {
        fc_failure_action_t action;
        double at;     /* epoch seconds: when the retry is due, or now for dead/drop */
        char *payload; /* the rewritten job JSON (owned; free() it); NULL for drop */
} fc_failure_t;

/* Sidekiq's delay before retry number count + 1, in seconds:
 * count^4 + 15 + jitter * (count + 1), jitter in 0..9. */
double fc_retry_delay(unsigned count, unsigned jitter);

/* Decides what to do with job, which failed with status (FC_JOB_RETRY or
 * FC_JOB_DEAD) and the message and class in job->error_message / error_class,
 * and rewrites the job's payload (fc_job_payload()) accordingly. handler_max_retries < 0 means the
 * handler has no default; now is epoch seconds; jitter (0..9) is the random
 * part of the delay. Returns 0 and fills *out, or -ENOMEM. */
int fc_failure_decide(fc_job_t *job, fc_job_status_t status, int handler_max_retries,
                      unsigned default_max_retries, double now, unsigned jitter, fc_failure_t *out);

#endif
