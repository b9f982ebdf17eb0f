/* Sidekiq's retry rules (see retry.h). */
#include "retry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ERROR_MESSAGE 10000

double fc_retry_delay(unsigned count, unsigned jitter) {
        double c = count;
        return c * c * c * c + 15 + (double)(jitter % 10) * (c + 1);
}

/* How many retries the job may have, or -1 for "none, drop it". */
static long long max_retries_of(const json_t *payload, int handler_max, unsigned default_max) {
        const json_t *retry = json_object_get(payload, "retry");
        if (!retry)
                return handler_max >= 0 ? handler_max : (long long)default_max;
        if (json_is_false(retry) || json_is_null(retry))
                return -1;
        if (json_is_integer(retry))
                return json_integer_value(retry) < 0 ? 0 : json_integer_value(retry);
        return default_max; /* true, or any other value Ruby would call truthy */
}

/* Keeps at most MAX_ERROR_MESSAGE characters, not cutting a UTF-8 sequence
 * (jansson refuses invalid UTF-8). */
static json_t *message_value(const char *msg) {
        size_t len = strlen(msg), chars = 0, i = 0;
        while (i < len && chars < MAX_ERROR_MESSAGE) {
                i++;
                while (i < len && ((unsigned char)msg[i] & 0xC0) == 0x80)
                        i++;
                chars++;
        }
        json_t *v = json_stringn(msg, i);
        return v ? v : json_string("(error message is not valid UTF-8)");
}

int fc_failure_decide(fc_job_t *job, fc_job_status_t status, int handler_max_retries,
                      unsigned default_max_retries, double now, unsigned jitter, fc_failure_t *out) {
        json_t *p = fc_job_payload(job);
        if (!p)
                return -ENOMEM;
        long long max = max_retries_of(p, handler_max_retries, default_max_retries);
        const json_t *retry_queue = json_object_get(p, "retry_queue");
        int r = 0;

        if (json_is_string(retry_queue) && json_string_length(retry_queue) > 0)
                r |= json_object_set(p, "queue", (json_t *)retry_queue);
        r |= json_object_set_new(p, "error_message",
                                 message_value(job->error_message ? job->error_message : "failed"));
        /* A handler's class name that is not UTF-8 can't be a JSON string. */
        json_t *error_class = job->error_class ? json_string(job->error_class) : NULL;
        r |= json_object_set_new(p, "error_class", error_class ? error_class : json_string("FlowCoro::JobFailed"));
        const json_t *rc = json_object_get(p, "retry_count");
        long long count;
        if (json_is_integer(rc)) {
                /* Any count, as Sidekiq: its "Retry now" re-enqueues with
                 * retry_count - 1 (api.rb, SortedEntry#retry), so -1 is normal. */
                count = json_integer_value(rc) + 1;
                r |= json_object_set_new(p, "retried_at", json_real(now));
        } else {
                count = 0;
                r |= json_object_set_new(p, "failed_at", json_real(now));
        }
        r |= json_object_set_new(p, "retry_count", json_integer(count));
        if (r != 0)
                return -ENOMEM;
        /* The borrowed views into the payload may have moved. */
        job->queue = json_string_value(json_object_get(p, "queue")) ? json_string_value(json_object_get(p, "queue"))
                                                                   : "default";
        job->retry_count = count < 0 ? 0 : (unsigned)count;

        out->at = now;
        if (max < 0) {
                out->action = FC_FAILURE_DROP;
        } else if (status != FC_JOB_DEAD && count < max) {
                out->action = FC_FAILURE_RETRY;
                out->at = now + fc_retry_delay(count < 0 ? 0 : (unsigned)count, jitter);
        } else {
                out->action = json_is_false(json_object_get(p, "dead")) ? FC_FAILURE_DROP : FC_FAILURE_DEAD;
        }
        out->payload = NULL;
        if (out->action != FC_FAILURE_DROP && !(out->payload = json_dumps(p, JSON_COMPACT)))
                return -ENOMEM;
        return 0;
}
