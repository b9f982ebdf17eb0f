/* Parsing Sidekiq job payloads (see job.h and shared notes on the protocol).
 * Clients in many languages enqueue jobs, often leaving optional fields out:
 * only "class" and "args" are required; everything else gets a default. */
#include "job.h"
#include "json-kind.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;
        int n = snprintf(err, errlen, "job payload: ");
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < errlen)
                vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
        return -EINVAL;
}


int fc_job_new_jid(char out[25]) {
        unsigned char b[12];
        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                return -errno;
        for (int i = 0; i < 12; i++)
                snprintf(out + 2 * i, 3, "%02x", b[i]);
        return 0;
}

/* Sidekiq 6/7 write float epoch seconds, 8.x integer epoch milliseconds. */
static double epoch_seconds(const json_t *v) {
        double t = json_number_value(v);
        return t > 1e11 ? t / 1000.0 : t;
}

/* A count field: a whole number from min to 1,000,000; a negative one (min
 * < 0) reads as 0. */
static int optional_count(const json_t *payload, const char *key, long long min, unsigned *out, char *err,
                          size_t errlen) {
        const json_t *v = json_object_get(payload, key);
        *out = 0;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v))
                return bad(err, errlen, "\"%s\" must be a whole number, got %s", key, fc_json_kind(v));
        json_int_t n = json_integer_value(v);
        if (n < min || n > 1000000)
                return bad(err, errlen, "\"%s\" must be a whole number from %lld to 1000000, got %lld", key, min,
                           (long long)n);
        *out = n < 0 ? 0 : (unsigned)n;
        return 0;
}

int fc_job_parse(const char *json, size_t len, fc_job_t **out, char *err, size_t errlen) {
        json_error_t jerr;
        json_t *payload = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        int r;
        if (!payload)
                return bad(err, errlen, "not valid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                           jerr.text);
        if (!json_is_object(payload)) {
                r = bad(err, errlen, "expected a JSON object, got %s", fc_json_kind(payload));
                goto fail;
        }
        const json_t *klass = json_object_get(payload, "class");
        if (!json_is_string(klass) || json_string_length(klass) == 0) {
                r = klass ? bad(err, errlen, "\"class\" must be a non-empty string, got %s", fc_json_kind(klass))
                          : bad(err, errlen, "\"class\" is missing");
                goto fail;
        }
        const json_t *args = json_object_get(payload, "args");
        if (!json_is_array(args)) {
                r = args ? bad(err, errlen, "\"args\" must be an array, got %s", fc_json_kind(args))
                         : bad(err, errlen, "\"args\" is missing");
                goto fail;
        }
        const json_t *jid = json_object_get(payload, "jid");
        if (!jid || json_is_null(jid) || (json_is_string(jid) && json_string_length(jid) == 0)) {
                char fresh[25];
                if ((r = fc_job_new_jid(fresh)) < 0) {
                        bad(err, errlen, "cannot make a jid: %s", strerror(-r));
                        goto fail;
                }
                if (json_object_set_new(payload, "jid", json_string(fresh)) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                jid = json_object_get(payload, "jid");
        } else if (!json_is_string(jid)) {
                r = bad(err, errlen, "\"jid\" must be a string, got %s", fc_json_kind(jid));
                goto fail;
        }
        const json_t *queue = json_object_get(payload, "queue");
        if (queue && !json_is_null(queue) && (!json_is_string(queue) || json_string_length(queue) == 0)) {
                r = bad(err, errlen, "\"queue\" must be a non-empty string, got %s", fc_json_kind(queue));
                goto fail;
        }
        const json_t *enq = json_object_get(payload, "enqueued_at");
        if (enq && !json_is_null(enq) && !json_is_number(enq)) {
                r = bad(err, errlen, "\"enqueued_at\" must be a number, got %s", fc_json_kind(enq));
                goto fail;
        }

        fc_job_t *job = calloc(1, sizeof(*job));
        if (!job) {
                r = -ENOMEM;
                goto fail;
        }
        job->payload = payload;
        job->jid = json_string_value(jid);
        job->klass = json_string_value(klass);
        job->queue = json_is_string(queue) ? json_string_value(queue) : "default";
        job->args = args;
        job->enqueued_at = json_is_number(enq) ? epoch_seconds(enq) : 0;
        /* Sidekiq's "Retry now" re-enqueues with retry_count - 1: -1 is normal. */
        if ((r = optional_count(payload, "retry_count", -1000000, &job->retry_count, err, errlen)) < 0 ||
            (r = optional_count(payload, "recovered_count", 0, &job->recovered, err, errlen)) < 0) {
                free(job);
                goto fail;
        }
        *out = job;
        return 0;
fail:
        json_decref(payload);
        return r;
}

void fc_job_free(fc_job_t *job) {
        if (!job)
                return;
        json_decref(job->payload);
        free(job->error_message);
        free(job->error_class);
        free(job);
}
