/* One job as flowcorod runs it: the parsed Sidekiq payload and what the
 * handler reported. The engine (fetch, finish) fills and reads it; plugins
 * see it only through the fc_host_t accessors. */
#ifndef FC_DAEMON_JOB_H
#define FC_DAEMON_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "flowcoro/plugin.h"

struct fc_job {
        const char *text;    /* the payload as fetched (an owned copy, NUL-terminated) */
        size_t text_len;
        json_t *payload;     /* the whole job object, parsed only when needed: use
                                fc_job_payload(); unknown fields are kept */
        const char *jid;     /* NUL-terminated, owned by the job */
        const char *klass;   /* "class" */
        const char *queue;   /* "default" when absent */
        json_t *args;        /* an array (a reference the job owns) */
        bool jid_made;       /* the payload had none: jid was made here */
        unsigned retry_count;
        unsigned recovered;
        double enqueued_at;  /* epoch seconds, 0 when absent */
        double timeout_s;    /* the job's "timeout" (FlowCoro's extension), 0 when absent */

        /* Set by the handler through the host. */
        fc_job_status_t status;
        char *error_message; /* owned */
        char *error_class;   /* owned */
        unsigned snooze_s;

        const char *plugin;  /* name of the plugin running it, for logs */
};

/* Parses a Sidekiq job payload (len bytes of JSON, copied). A missing jid
 * gets a new random 24-hex-digit one (written into the payload when that is
 * parsed). A valid payload costs one allocation-free scan (jobscan.h) and the
 * parse of its args; anything unusual goes through jansson, which rejects
 * duplicate keys too. Returns 0 and a new job
 * in *out, or -EINVAL with a message in err (what is wrong, e.g.
 * "job payload: \"args\" must be an array, got a string") when the payload is
 * not a usable job, or -ENOMEM. err may be NULL (errlen 0): a caller on the
 * fast path asks for the message only when it needs it. */
int fc_job_parse(const char *json, size_t len, fc_job_t **out, char *err, size_t errlen);

/* Writes a new random jid (24 hex digits and a NUL) into out. Returns 0 or
 * a negative errno from getrandom(). */
int fc_job_new_jid(char out[25]);

/* The whole job object (parsed now if it was not yet, with the made-up jid
 * set in it), borrowed from the job; NULL when out of memory. */
json_t *fc_job_payload(fc_job_t *job);

/* Frees a job and its payload. NULL is allowed. */
void fc_job_free(fc_job_t *job);

#endif
