/* The dead-set entry for a payload that is not a usable job. */
#ifndef FC_DAEMON_INVALID_H
#define FC_DAEMON_INVALID_H

#include <stddef.h>

/* A valid Sidekiq job of class FlowCoro::InvalidJob for the len bytes at
 * payload (NUL-terminated), taken from queue: retry false, error_message
 * why (a default when why is not UTF-8), failed_at now, and the original
 * bytes in raw_payload, or base64 in raw_payload_base64 when they are not
 * UTF-8. Returns the JSON text (free() it), or NULL when out of memory.
 * Any thread. */
char *fc_invalid_job_entry(const char *queue, const char *payload, size_t len, const char *why, double now);

#endif
