/* flowcorod's log: one line per message on stderr, at or above the
 * configured level (log.level). systemd's journal takes stderr as it is;
 * native journal entries come with the systemd integration.
 *
 * Any thread; a line is written with one write(2), so lines of concurrent
 * writers never interleave. */
#ifndef FC_DAEMON_LOG_H
#define FC_DAEMON_LOG_H

#include "flowcoro/config.h"

/* Messages less important than level are dropped. Default FC_LOG_INFO. */
void fc_log_set_level(fc_log_level_t level);

/* Whether a message of this level would be written. */
bool fc_log_enabled(fc_log_level_t level);

void fc_log(fc_log_level_t level, const char *format, ...) __attribute__((format(printf, 2, 3)));

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

#endif
