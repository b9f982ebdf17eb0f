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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fc_job_t *job = NULL;
        char err[512];
        err[0] = '\0';
        int r = fc_job_parse((const char *)data, size, &job, err, sizeof(err));
        if (r < 0) {
                assert(r == -EINVAL || r == -ENOMEM);
                assert(!job);
                if (r == -EINVAL)
                        assert(strncmp(err, "job payload: ", 13) == 0);
                return 0;
        }
        assert(job && job->payload && json_is_object(job->payload));
        assert(job->klass && job->klass[0]);
        assert(job->jid && job->jid[0]);
        assert(job->queue && job->queue[0]);
        assert(json_is_array(job->args));
        assert(job->enqueued_at == job->enqueued_at); /* not NaN */

        /* What the engine writes back (retry, dead) parses again as the same
         * job: the jid made up for it is kept. */
        char *again = json_dumps(job->payload, JSON_COMPACT);
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
