/* daemon/retry.c: Sidekiq 6.4's retry rules and the failure fields they
 * write, checked case by case against lib/sidekiq/job_retry.rb. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retry.h"

#define NOW 1700000000.5

static fc_job_t *job_of(const char *json, const char *message) {
        fc_job_t *job;
        char err[256];
        assert_int_equal(fc_job_parse(json, strlen(json), &job, err, sizeof(err)), 0);
        job->error_message = strdup(message);
        job->error_class = strdup("RuntimeError");
        return job;
}

static json_t *decided(const fc_failure_t *f) {
        assert_non_null(f->payload);
        json_t *p = json_loads(f->payload, 0, NULL);
        assert_non_null(p);
        return p;
}

static void test_delay_formula(void **state) {
        assert_true(fc_retry_delay(0, 0) == 15);
        assert_true(fc_retry_delay(1, 9) == 1 + 15 + 9 * 2);
        assert_true(fc_retry_delay(24, 0) == 331776 + 15);
        assert_true(fc_retry_delay(3, 12) == 81 + 15 + 2 * 4); /* jitter is taken mod 10 */
}

static void test_first_failure_schedules_a_retry_with_sidekiq_fields(void **state) {
        fc_job_t *job = job_of("{\"class\":\"W\",\"args\":[1],\"jid\":\"j1\",\"zeta\":{\"keep\":true},\"queue\":\"q\"}",
                               "boom");
        fc_failure_t f;
        assert_int_equal(fc_failure_decide(job, FC_JOB_RETRY, -1, 25, NOW, 3, &f), 0);
        assert_int_equal(f.action, FC_FAILURE_RETRY);
        assert_true(f.at == NOW + 15 + 3);
        json_t *p = decided(&f);
        assert_string_equal(json_string_value(json_object_get(p, "error_message")), "boom");
        assert_string_equal(json_string_value(json_object_get(p, "error_class")), "RuntimeError");
        assert_int_equal(json_integer_value(json_object_get(p, "retry_count")), 0);
        assert_true(json_real_value(json_object_get(p, "failed_at")) == NOW);
        assert_null(json_object_get(p, "retried_at"));
        assert_true(json_is_true(json_object_get(json_object_get(p, "zeta"), "keep"))); /* unknown field kept */
        /* The client's fields keep their order, ours come after. */
        assert_true(strncmp(f.payload, "{\"class\":\"W\",\"args\":[1],\"jid\":\"j1\",\"zeta\":", 41) == 0);
        json_decref(p);
        free(f.payload);
        fc_job_free(job);
}

static void test_later_failure_counts_up_and_stamps_retried_at(void **state) {
        fc_job_t *job = job_of("{\"class\":\"W\",\"args\":[],\"retry_count\":1,\"failed_at\":1.0}", "again");
        fc_failure_t f;
        assert_int_equal(fc_failure_decide(job, FC_JOB_RETRY, -1, 25, NOW, 0, &f), 0);
        assert_int_equal(f.action, FC_FAILURE_RETRY);
        assert_true(f.at == NOW + 16 + 15);
        json_t *p = decided(&f);
        assert_int_equal(json_integer_value(json_object_get(p, "retry_count")), 2);
        assert_true(json_real_value(json_object_get(p, "retried_at")) == NOW);
        assert_true(json_real_value(json_object_get(p, "failed_at")) == 1.0); /* first failure's time stays */
        assert_int_equal(job->retry_count, 2);
        json_decref(p);
        free(f.payload);
        fc_job_free(job);
}

/* Sidekiq's "Retry now" (api.rb, SortedEntry#retry) re-enqueues a job with
 * retry_count - 1: after one failure that is -1, and the next failure makes
 * it 0 again, a retry like any other. */
static void test_retry_now_from_sidekiq_counts_from_minus_one(void **state) {
        fc_job_t *job = job_of("{\"class\":\"W\",\"args\":[],\"retry_count\":-1,\"failed_at\":1.0}", "again");
        assert_int_equal(job->retry_count, 0);
        fc_failure_t f;
        assert_int_equal(fc_failure_decide(job, FC_JOB_RETRY, -1, 25, NOW, 0, &f), 0);
        assert_int_equal(f.action, FC_FAILURE_RETRY);
        json_t *p = decided(&f);
        assert_int_equal(json_integer_value(json_object_get(p, "retry_count")), 0);
        assert_true(json_real_value(json_object_get(p, "retried_at")) == NOW);
        assert_true(json_real_value(json_object_get(p, "failed_at")) == 1.0);
        json_decref(p);
        free(f.payload);
        fc_job_free(job);
}

static fc_failure_action_t action_for(const char *json, fc_job_status_t status, int handler_max) {
        fc_job_t *job = job_of(json, "x");
        fc_failure_t f;
        assert_int_equal(fc_failure_decide(job, status, handler_max, 25, NOW, 0, &f), 0);
        if (f.action == FC_FAILURE_DROP)
                assert_null(f.payload);
        free(f.payload);
        fc_job_free(job);
        return f.action;
}

static void test_retry_option_semantics(void **state) {
        /* false (and null): no retry and no dead entry: Sidekiq discards. */
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry\":false}", FC_JOB_RETRY, -1), FC_FAILURE_DROP);
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry\":null}", FC_JOB_RETRY, -1), FC_FAILURE_DROP);
        /* 0: straight to dead. */
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry\":0}", FC_JOB_RETRY, -1), FC_FAILURE_DEAD);
        /* N: N retries, then dead. */
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry\":2,\"retry_count\":0}", FC_JOB_RETRY, -1),
                         FC_FAILURE_RETRY);
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry\":2,\"retry_count\":1}", FC_JOB_RETRY, -1),
                         FC_FAILURE_DEAD);
        /* true, or any non-integer: the daemon's default (25 here). */
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry\":true,\"retry_count\":23}", FC_JOB_RETRY, 1),
                         FC_FAILURE_RETRY);
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry\":\"yes\",\"retry_count\":24}", FC_JOB_RETRY, -1),
                         FC_FAILURE_DEAD);
        /* Absent: the handler's default when it has one. */
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[]}", FC_JOB_RETRY, 1), FC_FAILURE_RETRY);
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry_count\":0}", FC_JOB_RETRY, 1), FC_FAILURE_DEAD);
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry_count\":23}", FC_JOB_RETRY, -1),
                         FC_FAILURE_RETRY);
        /* A handler's permanent failure skips the retries; "dead": false drops. */
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[]}", FC_JOB_DEAD, -1), FC_FAILURE_DEAD);
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"dead\":false}", FC_JOB_DEAD, -1), FC_FAILURE_DROP);
        assert_int_equal(action_for("{\"class\":\"W\",\"args\":[],\"retry\":0,\"dead\":false}", FC_JOB_RETRY, -1),
                         FC_FAILURE_DROP);
}

static void test_retry_queue_replaces_the_queue(void **state) {
        fc_job_t *job = job_of("{\"class\":\"W\",\"args\":[],\"queue\":\"fast\",\"retry_queue\":\"slow\"}", "x");
        fc_failure_t f;
        assert_int_equal(fc_failure_decide(job, FC_JOB_RETRY, -1, 25, NOW, 0, &f), 0);
        assert_string_equal(job->queue, "slow");
        json_t *p = decided(&f);
        assert_string_equal(json_string_value(json_object_get(p, "queue")), "slow");
        json_decref(p);
        free(f.payload);
        fc_job_free(job);
}

static void test_long_message_is_cut_at_10000_characters_on_a_character_boundary(void **state) {
        char *msg = malloc(30000);
        size_t n = 0;
        for (int i = 0; i < 9999; i++)
                msg[n++] = 'a';
        for (int i = 0; i < 100; i++) { /* "é": two bytes each */
                msg[n++] = (char)0xC3;
                msg[n++] = (char)0xA9;
        }
        msg[n] = '\0';
        fc_job_t *job = job_of("{\"class\":\"W\",\"args\":[]}", msg);
        fc_failure_t f;
        assert_int_equal(fc_failure_decide(job, FC_JOB_RETRY, -1, 25, NOW, 0, &f), 0);
        json_t *p = decided(&f);
        const char *m = json_string_value(json_object_get(p, "error_message"));
        assert_int_equal(strlen(m), 9999 + 2); /* 10,000 characters: 9,999 + one "é" */
        json_decref(p);
        free(f.payload);
        free(msg);
        fc_job_free(job);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_delay_formula),
                cmocka_unit_test(test_first_failure_schedules_a_retry_with_sidekiq_fields),
                cmocka_unit_test(test_later_failure_counts_up_and_stamps_retried_at),
                cmocka_unit_test(test_retry_now_from_sidekiq_counts_from_minus_one),
                cmocka_unit_test(test_retry_option_semantics),
                cmocka_unit_test(test_retry_queue_replaces_the_queue),
                cmocka_unit_test(test_long_message_is_cut_at_10000_characters_on_a_character_boundary),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
