/* flowcorod's log, at or above the configured level (log.level).
 *
 * Under systemd's journal (JOURNAL_STREAM names the file stderr is), each
 * message is a native journal entry: PRIORITY, MESSAGE,
 * SYSLOG_IDENTIFIER=flowcorod and, for a message about a job, the
 * structured fields JOB_ID, JOB_CLASS, QUEUE and PLUGIN, so that
 * `journalctl -u flowcoro JOB_ID=<jid>` finds a job's lines. Elsewhere (or
 * if the journal refuses an entry) one line per message on stderr,
 * "level: message".
 *
 * Any thread; a line is written with one write(2) (an entry with one
 * sendmsg(2)), so lines of concurrent writers never interleave. */
#ifndef FC_DAEMON_LOG_H
#define FC_DAEMON_LOG_H

#include "flowcoro/config.h"

/* Messages less important than level are dropped. Default FC_LOG_INFO. */
void fc_log_set_level(fc_log_level_t level);

/* Whether a message of this level would be written. */
bool fc_log_enabled(fc_log_level_t level);

void fc_log(fc_log_level_t level, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* What a message is about, for the journal's structured fields. Each may
 * be NULL (unknown: no field). Borrowed for the call only. */
typedef struct fc_log_fields {
        const char *job_id;    /* JOB_ID= */
        const char *job_class; /* JOB_CLASS= */
        const char *queue;     /* QUEUE= */
        const char *plugin;    /* PLUGIN= */
} fc_log_fields_t;

/* fc_log() for a message about a job: fields (NULL for none) go to the
 * journal as structured fields. On stderr the line is the message alone,
 * so say in it which job it is about. */
void fc_log_job(fc_log_level_t level, const fc_log_fields_t *fields, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* Like fc_log(), but writes at most one line per cause every 10 seconds; the
 * next line written for that cause says how many were left out. For messages
 * that bad input can repeat without bound (a flood of malformed jobs). cause
 * is any short text naming the kind of problem ("invalid JSON", "no handler
 * for class X"); the 64 most recent causes are remembered, each with its own
 * limit. */
void fc_log_limited(fc_log_level_t level, const char *cause, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* fc_log_limited() that also writes at most kind_burst lines every 10 s for
 * all causes of one kind together ("invalid payload"): bad input whose
 * every instance differs can't flood the log either. */
void fc_log_limited_kind(fc_log_level_t level, const char *kind, unsigned kind_burst, const char *cause,
                         const char *format, ...) __attribute__((format(printf, 5, 6)));

/* fc_log_limited() and fc_log_limited_kind() with a job's fields (see
 * fc_log_job()). */
void fc_log_job_limited(fc_log_level_t level, const fc_log_fields_t *fields, const char *cause,
                        const char *format, ...) __attribute__((format(printf, 4, 5)));
void fc_log_job_limited_kind(fc_log_level_t level, const fc_log_fields_t *fields, const char *kind,
                             unsigned kind_burst, const char *cause, const char *format, ...)
        __attribute__((format(printf, 6, 7)));

#endif
