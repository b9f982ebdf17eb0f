/* libFuzzer target: Sidekiq's failure fields (daemon/retry.c). A payload
 * that fc_job_parse() accepts fails one to four times in a row, each time
 * through fc_failure_decide() with fuzzed settings, and each rewritten
 * payload is parsed again for the next failure. After every failure:
 *   - the action, the due time and the new retry_count follow Sidekiq's
 *     rules (retry.h, lib/sidekiq/job_retry.rb);
 *   - the rewritten payload is JSON that jansson parses and that is a job
 *     again (same jid, class), with error_message, error_class, failed_at or
 *     retried_at as Sidekiq writes them;
 *   - every other field, the unknown ones included, is exactly what it was.
 *
 * Input: 4 header bytes, then the payload up to the first NUL byte, then
 * the handler's error message up to the next NUL (see docs/fuzzing.md):
 *   byte 0  bit 0: the handler says FC_JOB_DEAD (else FC_JOB_RETRY);
 *           bit 1: no error message; bit 2: the error class is the message's
 *           first 64 bytes (else none); bits 3-4: failures in a row - 1
 *   byte 1  handler max_retries: (byte & 63) - 1 ('@' none, 'A' 0, 'Z' 25)
 *   byte 2  jobs.max_retries: byte & 31 ('@' 0, 'E' 5, 'Y' 25)
 *   byte 3  jitter: (byte & 15) % 10; the message is repeated
 *           2^(byte >> 5) times (up to 128, to pass the 10,000-character cap) */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "retry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE_CHARS 10000
#define MAX_COUNT         1000000 /* the largest retry_count fc_job_parse() accepts */
#define FALLBACK_MESSAGE  "(error message is not valid UTF-8)"

typedef struct failure_case {
        fc_job_status_t status;
        int handler_max;
        unsigned default_max;
        unsigned jitter;
        const char *message; /* NULL: the handler gave none */
        const char *klass;   /* NULL: the handler gave none */
} failure_case_t;

/* The fields fc_failure_decide() may write; every other one must survive. */
static bool is_rewritten(const char *key) {
        static const char *const keys[] = {"queue",     "error_message", "error_class", "retry_count",
                                           "failed_at", "retried_at",    "jid"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (strcmp(key, keys[i]) == 0)
                        return true;
        return false;
}

static bool is_utf8(const char *s, size_t n) {
        json_t *v = json_stringn(s, n);
        json_decref(v);
        return v != NULL;
}

/* Characters of valid UTF-8 text: the bytes that don't continue one. */
static size_t utf8_chars(const char *s, size_t n) {
        size_t chars = 0;
        for (size_t i = 0; i < n; i++)
                chars += ((unsigned char)s[i] & 0xC0) != 0x80;
        return chars;
}

/* Sidekiq's number of retries for a payload (retry.h's table). */
static long long expected_max(const json_t *before, const failure_case_t *fc) {
        const json_t *retry = json_object_get(before, "retry");
        if (!retry)
                return fc->handler_max >= 0 ? fc->handler_max : (long long)fc->default_max;
        if (json_is_false(retry) || json_is_null(retry))
                return -1;
        if (json_is_integer(retry))
                return json_integer_value(retry) < 0 ? 0 : json_integer_value(retry);
        return fc->default_max;
}

static void check_message(const json_t *after, const char *msg) {
        const json_t *v = json_object_get(after, "error_message");
        assert(json_is_string(v));
        const char *got = json_string_value(v);
        size_t got_len = json_string_length(v);
        if (!msg) {
                assert(strcmp(got, "failed") == 0);
                return;
        }
        size_t len = strlen(msg);
        bool whole_is_utf8 = is_utf8(msg, len);
        if (strcmp(got, FALLBACK_MESSAGE) == 0 && !whole_is_utf8)
                return;
        /* Otherwise a prefix of the message, cut between characters: all of
         * it up to 10,000 characters, else exactly the first 10,000. */
        assert(got_len <= len && memcmp(got, msg, got_len) == 0);
        size_t chars = utf8_chars(got, got_len);
        if (got_len < len)
                assert(chars == MAX_MESSAGE_CHARS && ((unsigned char)msg[got_len] & 0xC0) != 0x80);
        else
                assert(chars <= MAX_MESSAGE_CHARS);
}

/* One failure of the job whose payload was before (a copy, taken before
 * the call) and its checks. Returns the new retry_count. */
static long long check_failure(const json_t *before, fc_job_t *job, const failure_case_t *fc, double now,
                               const fc_failure_t *f) {
        const json_t *old_count = json_object_get(before, "retry_count");
        long long count = json_is_integer(old_count) ? json_integer_value(old_count) + 1 : 0;
        long long max = expected_max(before, fc);

        /* The action and when. */
        fc_failure_action_t action;
        if (max < 0)
                action = FC_FAILURE_DROP;
        else if (fc->status != FC_JOB_DEAD && count < max)
                action = FC_FAILURE_RETRY;
        else
                action = json_is_false(json_object_get(before, "dead")) ? FC_FAILURE_DROP : FC_FAILURE_DEAD;
        assert(f->action == action);
        assert((f->payload == NULL) == (action == FC_FAILURE_DROP));
        if (action == FC_FAILURE_RETRY) {
                double c = count < 0 ? 0 : (double)count;
                double delay = c * c * c * c + 15 + fc->jitter * (c + 1);
                /* As Sidekiq's count**4 + 15 + rand(10) * (count + 1); the
                 * tolerance allows for fused multiply-adds. */
                assert(fabs(f->at - (now + delay)) <= 1e-9 * (now + delay));
        } else {
                assert(f->at == now);
        }

        /* What is kept in retry or dead is what the job now holds. */
        json_t *after;
        if (f->payload) {
                json_error_t jerr;
                after = json_loads(f->payload, JSON_REJECT_DUPLICATES, &jerr);
                assert(json_is_object(after));
                assert(json_equal(after, fc_job_payload(job)));
        } else {
                after = json_incref(fc_job_payload(job));
                assert(after);
        }

        /* Unknown fields (and known ones this does not touch) as they were,
         * and nothing new but Sidekiq's failure fields. */
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)before, key, value) {
                if (!is_rewritten(key))
                        assert(json_equal(value, json_object_get(after, key)));
        }
        json_object_foreach(after, key, value) {
                assert(json_object_get(before, key) || is_rewritten(key));
        }

        /* Sidekiq's fields. */
        const json_t *retry_queue = json_object_get(before, "retry_queue");
        const json_t *queue = json_object_get(after, "queue");
        if (json_is_string(retry_queue) && json_string_length(retry_queue) > 0)
                assert(json_equal(queue, retry_queue));
        else
                assert(json_equal(queue, json_object_get(before, "queue")) ||
                       (!queue && !json_object_get(before, "queue")));
        assert(strcmp(job->queue, json_is_string(queue) ? json_string_value(queue) : "default") == 0);
        const json_t *jid = json_object_get(after, "jid");
        assert(json_is_string(jid) && strcmp(json_string_value(jid), job->jid) == 0);
        assert(json_equal(jid, json_object_get(before, "jid"))); /* a made-up one included */

        const json_t *new_count = json_object_get(after, "retry_count");
        assert(json_is_integer(new_count) && json_integer_value(new_count) == count);
        assert(job->retry_count == (count < 0 ? 0 : (unsigned long long)count));
        const char *stamped = json_is_integer(old_count) ? "retried_at" : "failed_at";
        const char *kept = json_is_integer(old_count) ? "failed_at" : "retried_at";
        const json_t *at = json_object_get(after, stamped);
        assert(json_is_real(at) && json_real_value(at) == now);
        const json_t *old_kept = json_object_get(before, kept), *new_kept = json_object_get(after, kept);
        assert(old_kept ? json_equal(old_kept, new_kept) : !new_kept);

        check_message(after, fc->message);
        /* A class that is not UTF-8 can't be a JSON string: the default then. */
        const char *want =
                fc->klass && is_utf8(fc->klass, strlen(fc->klass)) ? fc->klass : "FlowCoro::JobFailed";
        const json_t *klass = json_object_get(after, "error_class");
        assert(json_is_string(klass) && strcmp(json_string_value(klass), want) == 0);
        json_decref(after);
        return count;
}

/* Fails the job once; returns the rewritten text (NULL when dropped or when
 * its retry_count left the range a job may have). */
static char *fail_once(fc_job_t *job, const failure_case_t *fc, double now) {
        json_t *payload = fc_job_payload(job);
        if (!payload)
                return NULL; /* out of memory */
        json_t *before = json_deep_copy(payload);
        assert(before);
        job->error_message = fc->message ? strdup(fc->message) : NULL;
        job->error_class = fc->klass ? strdup(fc->klass) : NULL;
        assert(!fc->message == !job->error_message && !fc->klass == !job->error_class);

        fc_failure_t f = {.payload = NULL};
        /* Its only failure is -ENOMEM, and the fuzzer's malloc never fails
         * (libFuzzer stops at -malloc_limit_mb instead). */
        int r = fc_failure_decide(job, fc->status, fc->handler_max, fc->default_max, now, fc->jitter, &f);
        assert(r == 0); /* a class that is not UTF-8 too (regressions/retry/class-not-utf8) */
        long long count = check_failure(before, job, fc, now, &f);
        json_decref(before);
        if (!f.payload || count > MAX_COUNT) {
                free(f.payload);
                return NULL;
        }
        return f.payload;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 4)
                return 0;
        const uint8_t *h = data;
        const char *text = (const char *)data + 4;
        size_t rest = size - 4;
        const char *nul = memchr(text, '\0', rest);
        size_t text_len = nul ? (size_t)(nul - text) : rest;

        /* The message: the bytes after the payload's NUL, repeated. */
        char *message = NULL, klass[65];
        if (nul) {
                const char *m = nul + 1;
                const char *end = memchr(m, '\0', rest - text_len - 1);
                size_t m_len = end ? (size_t)(end - m) : rest - text_len - 1;
                size_t times = (size_t)1 << (h[3] >> 5);
                message = malloc(m_len * times + 1);
                assert(message);
                for (size_t i = 0; i < times; i++)
                        memcpy(message + i * m_len, m, m_len);
                message[m_len * times] = '\0';
        }
        failure_case_t fc = {
                .status = (h[0] & 1) ? FC_JOB_DEAD : FC_JOB_RETRY,
                .handler_max = (int)(h[1] & 63) - 1,
                .default_max = h[2] & 31,
                .jitter = (h[3] & 15) % 10,
                .message = (h[0] & 2) ? NULL : (message ? message : ""),
                .klass = NULL,
        };
        if (h[0] & 4) {
                snprintf(klass, sizeof(klass), "%s", message ? message : "");
                fc.klass = klass;
        }
        unsigned rounds = ((h[0] >> 3) & 3) + 1;

        fc_job_t *job = NULL;
        char *payload = NULL;
        if (fc_job_parse(text, text_len, &job, NULL, 0) < 0)
                goto done;
        for (unsigned i = 0; i < rounds; i++) {
                const char *jid = job->jid, *klass_name = job->klass;
                char *next = fail_once(job, &fc, 1700000000.25 + 100.0 * i);
                if (!next)
                        break;
                /* The rewritten payload is a job again: the same one. */
                fc_job_t *again = NULL;
                int r = fc_job_parse(next, strlen(next), &again, NULL, 0);
                assert(r == 0);
                assert(strcmp(again->jid, jid) == 0 && strcmp(again->klass, klass_name) == 0);
                assert(strcmp(again->queue, job->queue) == 0);
                assert(again->retry_count == job->retry_count);
                fc_job_free(job);
                free(payload);
                job = again;
                payload = next;
        }
done:
        fc_job_free(job);
        free(payload);
        free(message);
        return 0;
}
