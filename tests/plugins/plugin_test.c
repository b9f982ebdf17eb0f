#include "plugin_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

fc_config_t *pt_config(const char *yaml) {
        fc_config_t *c = NULL;
        fc_config_errors_t *e = NULL;
        int r = fc_config_load_data("test.yaml", yaml, strlen(yaml), &c, &e);
        if (r < 0)
                fc_config_errors_print(e, stderr);
        assert_int_equal(r, 0);
        fc_config_errors_free(e);
        return c;
}

int pt_load(const char *yaml, bool check_permissions, fc_config_t **config, fc_plugin_set_t **set,
            fc_config_errors_t **errors) {
        *config = pt_config(yaml);
        *errors = fc_config_errors_new();
        *set = NULL;
        fc_plugin_options_t o = {.host = fc_host(), .check_permissions = check_permissions,
                                 .owner_uid = getuid()};
        return fc_plugin_set_load(*config, &o, set, *errors);
}

const char *pt_errors_text(const fc_config_errors_t *errors) {
        static char buf[8192];
        size_t len = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < fc_config_errors_count(errors); i++) {
                const fc_config_error_t *e = fc_config_errors_get(errors, i);
                int n = snprintf(buf + len, sizeof(buf) - len, "%s\n", e->text);
                if (n < 0 || (size_t)n >= sizeof(buf) - len)
                        break;
                len += (size_t)n;
        }
        return buf;
}

typedef struct run_ctx {
        const fc_plugin_handler_t *h;
        fc_job_t *job;
        int64_t deadline_ms;
} run_ctx_t;

static void run_job(void *arg) {
        run_ctx_t *rc = arg;
        if (rc->deadline_ms >= 0)
                fc_set_deadline(rc->deadline_ms);
        fc_host_run(rc->h, rc->job);
        free(rc);
}

fc_job_t *pt_start(fc_sched_t *s, fc_plugin_set_t *set, const char *payload, int64_t deadline_ms,
                   fc_coro_t **co) {
        char err[256];
        run_ctx_t *rc = calloc(1, sizeof(*rc));
        assert_non_null(rc);
        rc->deadline_ms = deadline_ms;
        assert_int_equal(fc_job_parse(payload, strlen(payload), &rc->job, err, sizeof(err)), 0);
        rc->h = fc_plugin_set_find(set, rc->job->klass);
        assert_non_null(rc->h);
        fc_job_t *job = rc->job;
        assert_int_equal(fc_spawn(s, run_job, rc, co), 0);
        return job;
}

fc_job_t *pt_run(fc_sched_t *s, fc_plugin_set_t *set, const char *payload, int64_t deadline_ms) {
        fc_coro_t *co;
        fc_job_t *job = pt_start(s, set, payload, deadline_ms, &co);
        assert_int_equal(fc_join(co), 0);
        return job;
}
