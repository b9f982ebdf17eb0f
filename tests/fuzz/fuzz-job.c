/* libFuzzer target: Sidekiq job payloads (daemon/job.c), the bytes any
 * client can push into a queue. Every input either parses into a job that
 * satisfies the engine's assumptions, or is refused with a message that
 * says what is wrong; nothing crashes, leaks or reads out of bounds. */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "jobscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scanner's promise (jobscan.h): when it says yes, jansson parses the
 * text into an object whose fields are the types the scan noted. */
static void check_scan_against_jansson(const char *text, size_t size) {
        fc_jobscan_t scan;
        if (!fc_jobscan(text, size, &scan))
                return;
        json_t *o = json_loadb(text, size, 0, NULL);
        assert(json_is_object(o));
        static const char *const names[FC_JF_COUNT] = {
                "class", "args", "jid", "queue", "retry_count", "recovered_count", "enqueued_at", "timeout"};
        for (int i = 0; i < FC_JF_COUNT; i++) {
                const json_t *v = json_object_get(o, names[i]);
                switch (scan.field[i].type) {
                case FC_JT_ABSENT:
                        assert(!v);
                        break;
                case FC_JT_STRING:
                        assert(json_is_string(v));
                        break;
                case FC_JT_INTEGER:
                        assert(json_is_integer(v));
                        break;
                case FC_JT_REAL:
                        assert(json_is_real(v));
                        break;
                case FC_JT_ARRAY:
                        assert(json_is_array(v));
                        break;
                case FC_JT_OBJECT:
                        assert(json_is_object(v));
                        break;
                case FC_JT_TRUE:
                        assert(json_is_true(v));
                        break;
                case FC_JT_FALSE:
                        assert(json_is_false(v));
                        break;
                case FC_JT_NULL:
                        assert(json_is_null(v));
                        break;
                }
        }
        json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_scan_against_jansson((const char *)data, size);
        fc_job_t *job = NULL;
        char err[512];
        err[0] = '\0';
        int r = fc_job_parse((const char *)data, size, &job, err, sizeof(err));
        if (r < 0) {
                assert(r == -EINVAL || r == -ENOMEM);
                assert(!job);
                if (r == -EINVAL) {
                        assert(strncmp(err, "job payload: ", 13) == 0);
                        /* The message goes to the log and into the dead entry's
                         * JSON: it must be UTF-8, also when jansson's "near
                         * '...'" context ends inside a character
                         * (regressions/job/message-not-utf8). */
                        json_t *m = json_string(err);
                        assert(m);
                        json_decref(m);
                }
                return 0;
        }
        assert(job && json_is_object(fc_job_payload(job)));
        assert(job->klass && job->klass[0]);
        assert(job->jid && job->jid[0]);
        assert(job->queue && job->queue[0]);
        assert(json_is_array(job->args));
        assert(job->enqueued_at == job->enqueued_at); /* not NaN */

        /* What the engine writes back (retry, dead) parses again as the same
         * job: the jid made up for it is kept. */
        char *again = json_dumps(fc_job_payload(job), JSON_COMPACT);
        assert(again);
        fc_job_t *job2 = NULL;
        r = fc_job_parse(again, strlen(again), &job2, err, sizeof(err));
        assert(r == 0);
        assert(strcmp(job2->jid, job->jid) == 0);
        assert(strcmp(job2->klass, job->klass) == 0);
        assert(strcmp(job2->queue, job->queue) == 0);
        assert(job2->retry_count == job->retry_count);
        fc_job_free(job2);
        free(again);
        fc_job_free(job);
        return 0;
}
