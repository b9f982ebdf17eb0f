/* One job as flowcorod runs it: the parsed Sidekiq payload and what the
 * handler reported. The engine (fetch, finish) fills and reads it; plugins
 * see it only through the fc_host_t accessors. */
#ifndef FC_DAEMON_JOB_H
#define FC_DAEMON_JOB_H

#include <jansson.h>
#include <stddef.h>

#include "flowcoro/plugin.h"

struct fc_job {
        json_t *payload;     /* the whole job object (owned); unknown fields are kept */
        const char *jid;     /* borrowed from payload */
        const char *klass;   /* "class", borrowed from payload */
        const char *queue;   /* borrowed from payload; "default" when absent */
        const json_t *args;  /* borrowed from payload: an array */
        unsigned retry_count;
        unsigned recovered;
        double enqueued_at;  /* epoch seconds, 0 when absent */

        /* Set by the handler through the host. */
        fc_job_status_t status;
        char *error_message; /* owned */
        char *error_class;   /* owned */
        unsigned snooze_s;

        const char *plugin;  /* name of the plugin running it, for logs */
};

/* Parses a Sidekiq job payload (len bytes of JSON). A missing jid gets a new
 * random 24-hex-digit one, written into the payload. Returns 0 and a new job
 * in *out, or -EINVAL with a message in err (what is wrong, e.g.
 * "job payload: \"args\" must be an array, got a string") when the payload is
 * not a usable job, or -ENOMEM. */
int fc_job_parse(const char *json, size_t len, fc_job_t **out, char *err, size_t errlen);

/* Writes a new random jid (24 hex digits and a NUL) into out. Returns 0 or
 * a negative errno from getrandom(). */
int fc_job_new_jid(char out[25]);

/* Frees a job and its payload. NULL is allowed. */
void fc_job_free(fc_job_t *job);

#endif
