/* Parsing Sidekiq job payloads (see job.h and shared notes on the protocol).
 * Clients in many languages enqueue jobs, often leaving optional fields out:
 * only "class" and "args" are required; everything else gets a default. */
#include "job.h"
#include "jobscan.h"
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
        /* It may quote the payload's bytes, or be cut inside a character:
         * it goes into a JSON string (the dead entry's error_message). */
        if (errlen)
                fc_utf8_scrub(err);
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

/* A new job with room for a copy of the text and for its strings (each at
 * most as long as the text, plus a made-up jid and "default"). */
static fc_job_t *job_new(const char *json, size_t len, char **strings) {
        fc_job_t *job = malloc(sizeof(*job) + 2 * (len + 1) + 64);
        if (!job)
                return NULL;
        memset(job, 0, sizeof(*job)); /* the text and strings after it are written before they are read */
        char *text = (char *)(job + 1);
        memcpy(text, json, len);
        text[len] = '\0';
        job->text = text;
        job->text_len = len;
        *strings = text + len + 1;
        return job;
}

/* Copies n bytes to *strings as a C string and moves past it. */
static const char *keep(char **strings, const char *s, size_t n) {
        char *out = *strings;
        memcpy(out, s, n);
        out[n] = '\0';
        *strings += n + 1;
        return out;
}

/* The fast path: true when the scan alone gives a valid job (else the
 * slow path decides, and words the error). */
static bool parse_scanned(fc_job_t *job, char *strings) {
        fc_jobscan_t scan;
        if (!fc_jobscan(job->text, job->text_len, &scan))
                return false;
        const fc_jspan_t *f = scan.field;
        const char *t = job->text;
        const fc_jspan_t *klass = &f[FC_JF_CLASS], *jid = &f[FC_JF_JID], *queue = &f[FC_JF_QUEUE];
        /* Escaped strings and unusual values go the slow way. */
        if (klass->type != FC_JT_STRING || klass->escaped || klass->len <= 2 || f[FC_JF_ARGS].type != FC_JT_ARRAY)
                return false;
        if (!(jid->type == FC_JT_ABSENT || jid->type == FC_JT_NULL || (jid->type == FC_JT_STRING && !jid->escaped)))
                return false;
        if (!(queue->type == FC_JT_ABSENT || queue->type == FC_JT_NULL ||
              (queue->type == FC_JT_STRING && !queue->escaped && queue->len > 2)))
                return false;
        fc_jtype_t enq = f[FC_JF_ENQUEUED_AT].type;
        if (enq != FC_JT_ABSENT && enq != FC_JT_NULL && enq != FC_JT_INTEGER && enq != FC_JT_REAL)
                return false;
        long long counts[2] = {0, 0}, mins[2] = {-1000000, 0};
        for (int i = 0; i < 2; i++) {
                const fc_jspan_t *c = &f[FC_JF_RETRY_COUNT + i];
                if (c->type == FC_JT_ABSENT || c->type == FC_JT_NULL)
                        continue;
                if (c->type != FC_JT_INTEGER)
                        return false;
                counts[i] = strtoll(t + c->start, NULL, 10);
                if (counts[i] < mins[i] || counts[i] > 1000000)
                        return false;
        }

        const fc_jspan_t *args = &f[FC_JF_ARGS];
        job->args = args->len == 2 ? json_array() : json_loadb(t + args->start, args->len, 0, NULL);
        if (!job->args)
                return false; /* out of memory: the slow path reports it */
        job->klass = keep(&strings, t + klass->start + 1, klass->len - 2);
        if (jid->type == FC_JT_STRING && jid->len > 2) {
                job->jid = keep(&strings, t + jid->start + 1, jid->len - 2);
        } else {
                char fresh[25];
                if (fc_job_new_jid(fresh) < 0)
                        return false;
                job->jid = keep(&strings, fresh, 24);
                job->jid_made = true;
        }
        job->queue = queue->type == FC_JT_STRING ? keep(&strings, t + queue->start + 1, queue->len - 2) : "default";
        job->retry_count = counts[0] < 0 ? 0 : (unsigned)counts[0];
        job->recovered = (unsigned)counts[1];
        if (enq == FC_JT_INTEGER || enq == FC_JT_REAL) {
                double v = strtod(t + f[FC_JF_ENQUEUED_AT].start, NULL);
                job->enqueued_at = v > 1e11 ? v / 1000.0 : v; /* Sidekiq 8 writes milliseconds */
        }
        const fc_jspan_t *timeout = &f[FC_JF_TIMEOUT];
        if (timeout->type == FC_JT_INTEGER || timeout->type == FC_JT_REAL)
                job->timeout_s = strtod(t + timeout->start, NULL);
        return true;
}

/* The slow path: jansson, which says what is wrong. */
static int parse_with_jansson(fc_job_t *job, char *strings, char *err, size_t errlen) {
        if (fc_json_too_deep(job->text, job->text_len, FC_JSON_MAX_DEPTH))
                return bad(err, errlen, "nested more than %d levels deep", FC_JSON_MAX_DEPTH);
        json_error_t jerr;
        json_t *payload = json_loadb(job->text, job->text_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!payload)
                return bad(err, errlen, "not valid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                           jerr.text);
        job->payload = payload;
        if (!json_is_object(payload))
                return bad(err, errlen, "expected a JSON object, got %s", fc_json_kind(payload));
        const json_t *klass = json_object_get(payload, "class");
        if (!json_is_string(klass) || json_string_length(klass) == 0)
                return klass ? bad(err, errlen, "\"class\" must be a non-empty string, got %s", fc_json_kind(klass))
                             : bad(err, errlen, "\"class\" is missing");
        json_t *args = json_object_get(payload, "args");
        if (!json_is_array(args))
                return args ? bad(err, errlen, "\"args\" must be an array, got %s", fc_json_kind(args))
                            : bad(err, errlen, "\"args\" is missing");
        const json_t *jid = json_object_get(payload, "jid");
        if (!jid || json_is_null(jid) || (json_is_string(jid) && json_string_length(jid) == 0)) {
                char fresh[25];
                int r = fc_job_new_jid(fresh);
                if (r < 0)
                        return bad(err, errlen, "cannot make a jid: %s", strerror(-r));
                if (json_object_set_new(payload, "jid", json_string(fresh)) < 0)
                        return -ENOMEM;
                jid = json_object_get(payload, "jid");
        } else if (!json_is_string(jid)) {
                return bad(err, errlen, "\"jid\" must be a string, got %s", fc_json_kind(jid));
        }
        const json_t *queue = json_object_get(payload, "queue");
        if (queue && !json_is_null(queue) && (!json_is_string(queue) || json_string_length(queue) == 0))
                return bad(err, errlen, "\"queue\" must be a non-empty string, got %s", fc_json_kind(queue));
        const json_t *enq = json_object_get(payload, "enqueued_at");
        if (enq && !json_is_null(enq) && !json_is_number(enq))
                return bad(err, errlen, "\"enqueued_at\" must be a number, got %s", fc_json_kind(enq));
        int r;
        /* Sidekiq's "Retry now" re-enqueues with retry_count - 1: -1 is normal. */
        if ((r = optional_count(payload, "retry_count", -1000000, &job->retry_count, err, errlen)) < 0 ||
            (r = optional_count(payload, "recovered_count", 0, &job->recovered, err, errlen)) < 0)
                return r;
        /* Strings may hold NULs after \u escapes: C strings stop at the first. */
        job->klass = keep(&strings, json_string_value(klass), strlen(json_string_value(klass)));
        job->jid = keep(&strings, json_string_value(jid), strlen(json_string_value(jid)));
        job->queue = json_is_string(queue) ? keep(&strings, json_string_value(queue), strlen(json_string_value(queue)))
                                           : "default";
        job->args = json_incref(args);
        job->enqueued_at = json_is_number(enq) ? epoch_seconds(enq) : 0;
        const json_t *timeout = json_object_get(payload, "timeout");
        job->timeout_s = json_is_number(timeout) ? json_number_value(timeout) : 0;
        return 0;
}

int fc_job_parse(const char *json, size_t len, fc_job_t **out, char *err, size_t errlen) {
        char *strings;
        fc_job_t *job = job_new(json, len, &strings);
        *out = NULL;
        if (!job)
                return -ENOMEM;
        if (!parse_scanned(job, strings)) {
                json_decref(job->args);
                job->args = NULL;
                job->jid_made = false;
                int r = parse_with_jansson(job, strings, err, errlen);
                if (r < 0) {
                        fc_job_free(job);
                        return r;
                }
        }
        *out = job;
        return 0;
}

json_t *fc_job_payload(fc_job_t *job) {
        if (job->payload)
                return job->payload;
        /* The scan said jansson accepts it; duplicates of keys the engine
         * does not read are allowed on this path (the last wins, as in Ruby). */
        job->payload = json_loadb(job->text, job->text_len, 0, NULL);
        if (job->payload && job->jid_made && json_object_set_new(job->payload, "jid", json_string(job->jid)) < 0) {
                json_decref(job->payload);
                job->payload = NULL;
        }
        return job->payload;
}

void fc_job_free(fc_job_t *job) {
        if (!job)
                return;
        json_decref(job->payload);
        json_decref(job->args);
        free(job->error_message);
        free(job->error_class);
        free(job);
}
