/* flowcorod's job counters and histograms, for /metrics (metrics.h).
 *
 * Counting costs the job path no lock and no contended atomic: every
 * scheduler thread writes only its own slot (fc_self_worker() picks it; a
 * coroutine never changes thread once it runs, and is never preempted), so a
 * count is a relaxed load and store, no lock prefix. Callers that are not
 * scheduler threads share one more slot, counted with atomic adds. A scrape
 * sums the slots. One fc_stats_t serves one scheduler pool: two pools in one
 * process would share slot numbers.
 *
 * Jobs are counted by (queue, class), which come from job data. At most
 * FC_STATS_MAX_LABELS distinct pairs are kept; every job past that, and every
 * job whose queue or class is empty, longer than FC_STATS_LABEL_MAX bytes or
 * holds a control character, counts under queue="other", class="other".
 * Names must be UTF-8, as the job parser and the configuration guarantee.
 * So a flood of bogus classes costs no memory: everything is allocated by
 * fc_stats_new() except the interned names of the kept pairs, never freed
 * before fc_stats_free().
 * docs/metrics.md lists what is exposed. */
#ifndef FC_DAEMON_STATS_H
#define FC_DAEMON_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Distinct (queue, class) pairs kept, "other"/"other" included. */
#define FC_STATS_MAX_LABELS 200
/* Longest queue or class name kept as a label, in bytes. */
#define FC_STATS_LABEL_MAX 128
/* Histogram buckets (upper bounds in seconds), +Inf not included. */
#define FC_STATS_BUCKETS 15
extern const double fc_stats_bucket_bounds[FC_STATS_BUCKETS];

typedef struct fc_stats fc_stats_t;

/* How a job left. Every outcome counts as processed (Sidekiq's count);
 * RETRIED, DEAD and DROPPED count as failed too. */
typedef enum fc_stats_outcome {
        FC_STATS_SUCCEEDED,
        FC_STATS_SNOOZED, /* put back in schedule by the handler */
        FC_STATS_RETRIED, /* failed, filed in retry */
        FC_STATS_DEAD,    /* failed, filed in dead (invalid payloads too) */
        FC_STATS_DROPPED, /* failed, and neither retried nor kept (retry: false, dead: false) */
} fc_stats_outcome_t;

typedef struct fc_stats_job {
        const char *queue; /* borrowed */
        const char *klass; /* borrowed; NULL counts as "other" */
        fc_stats_outcome_t outcome;
        double enqueued_at; /* epoch s; 0 = unknown: no queue latency sample */
        double started_at;  /* epoch s its handler started; 0 = never ran: no samples */
        double finished_at; /* epoch s */
} fc_stats_job_t;

/* Creates counters for a pool of threads scheduler threads (>= 1) and
 * records now as the process start time. Returns 0 and *out, -EINVAL for
 * threads 0, or -ENOMEM. Any thread; the caller frees it with
 * fc_stats_free() once no thread uses it. */
int fc_stats_new(unsigned threads, fc_stats_t **out);
void fc_stats_free(fc_stats_t *s);

/* Counts a finished job: processed and failed by outcome, queue latency
 * (enqueued_at to started_at, negative clock skew as 0) and duration
 * (started_at to finished_at) by (queue, class). Never fails, never
 * allocates except the first time a new pair is seen under the cap. Any
 * thread. */
void fc_stats_job_done(fc_stats_t *s, const fc_stats_job_t *job);

/* Around a job's handler, for the busy gauge: call both from the job's
 * coroutine (so from the same thread), ended once for each started. */
void fc_stats_job_started(fc_stats_t *s);
void fc_stats_job_ended(fc_stats_t *s);

/* Counts a configuration and plugin reload that succeeded or failed. Any
 * thread. */
void fc_stats_reload(fc_stats_t *s, bool ok);

/* ---- reading: the scrape ------------------------------------------------- */

typedef struct fc_stats_counts {
        uint64_t processed, failed, retried, dead;
        /* non-cumulative bucket counts, the last one +Inf; sums in seconds */
        uint64_t duration[FC_STATS_BUCKETS + 1];
        double duration_sum;
        uint64_t latency[FC_STATS_BUCKETS + 1];
        double latency_sum;
} fc_stats_counts_t;

/* Number of (queue, class) pairs kept so far (at least 1: "other"). Pair 0
 * is "other"/"other". Any thread. */
size_t fc_stats_labels(const fc_stats_t *s);

/* Names of pair i (< fc_stats_labels()): borrowed, valid as long as s. */
void fc_stats_label(const fc_stats_t *s, size_t i, const char **queue, const char **klass);

/* Adds the counts of pair i, summed over every slot, to *sum (the caller
 * zeroes it first; adding lets it group pairs by queue). A snapshot taken
 * while jobs finish: each number is one that was true at some moment. Any
 * thread. */
void fc_stats_add_counts(const fc_stats_t *s, size_t i, fc_stats_counts_t *sum);

/* Handlers running now, over every slot. */
int64_t fc_stats_busy(const fc_stats_t *s);

/* Reloads that succeeded and failed. */
void fc_stats_reloads(const fc_stats_t *s, uint64_t *ok, uint64_t *failed);

/* Epoch seconds when fc_stats_new() ran. */
double fc_stats_start_time(const fc_stats_t *s);

/* Bytes s allocated, names included: bounded whatever the jobs are. */
size_t fc_stats_memory(const fc_stats_t *s);

#endif
