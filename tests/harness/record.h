/* Record jobs (plugins/examples.c) and reading back what became of them.
 *
 * A Record job [key, ms] sleeps ms milliseconds, then runs HINCRBY key <jid>
 * 1, so every execution of every job is counted in Redis. Tests give their
 * jobs the jids prefix<i> for i in a range and ask afterwards how often each
 * ran: never (lost), once, or more (duplicated). The functions here take a
 * blocking hiredis connection (fc_test_redis_connect() in daemon.h) and
 * return 0 (or a count) or a negative errno; on -EIO, c->errstr or the
 * message on stderr says what failed. */
#ifndef FC_TEST_RECORD_H
#define FC_TEST_RECORD_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct fc_test_tally {
        long jobs;       /* jids asked about */
        long completed;  /* ran at least once */
        long lost;       /* never ran */
        long duplicated; /* ran more than once */
        long extra_runs; /* runs beyond each job's first, summed */
} fc_test_tally_t;

/* LPUSHes n Record jobs [key, ms] (Sidekiq payloads with "retry": true)
 * with jids prefix<from> .. prefix<from + n - 1> to queue:default, and adds
 * default to the queues set, pipelined. Returns 0, or -EIO when the
 * connection failed or Redis refused a command (then any number of them may
 * have been pushed). */
int fc_test_record_push(redisContext *c, const char *key, const char *prefix, long from, long n, long ms);

/* Adds to *t how often each jid prefix<from> .. prefix<from + n - 1> ran,
 * read from the hash key (pipelined in chunks). Returns 0, or -EIO (then *t
 * is partly updated). */
int fc_test_record_tally(redisContext *c, const char *key, const char *prefix, long from, long n,
                         fc_test_tally_t *t);

/* Prints "jobs N, completed N, lost L, duplicated D" and a newline on
 * stdout, and flushes it: the one summary line a chaos case prints. */
void fc_test_record_print(const fc_test_tally_t *t);

/* The number of jobs in every daemon's in-flight hash (flowcoro:inflight:*,
 * no prefix), or -EIO. */
long long fc_test_inflight_total(redisContext *c);

/* The identity ("host:pid:hex") flowcoro:owners holds for the daemon with
 * this pid, into out (NUL-terminated, cut at size). Returns 0, -ENOENT when
 * none is registered, or -EIO. */
int fc_test_identity_of(redisContext *c, pid_t pid, char *out, size_t size);

#endif
