/* Helpers for plugin tests: a configuration from YAML text, a pool, and
 * running one job through a plugin set inside a coroutine. */
#ifndef FC_TEST_PLUGIN_TEST_H
#define FC_TEST_PLUGIN_TEST_H

#include "flowcoro/config.h"
#include "flowcoro/core.h"
#include "host.h"
#include "job.h"
#include "loader.h"

/* Loads YAML text as a configuration (asserts it is valid). */
fc_config_t *pt_config(const char *yaml);

/* Loads the plugin set of yaml; returns the load's result and fills
 * *set or *errors (caller frees). check_permissions as given. */
int pt_load(const char *yaml, bool check_permissions, fc_config_t **config, fc_plugin_set_t **set,
            fc_config_errors_t **errors);

/* Formats every error into one string (static buffer) for asserts. */
const char *pt_errors_text(const fc_config_errors_t *errors);

/* Starts payload (a Sidekiq JSON job) on set in a new joinable coroutine
 * *co of pool s, with deadline_ms (FC_FOREVER for none). Returns the job,
 * which the caller reads after fc_join(*co) and frees. */
fc_job_t *pt_start(fc_sched_t *s, fc_plugin_set_t *set, const char *payload, int64_t deadline_ms,
                   fc_coro_t **co);

/* Runs payload (a Sidekiq JSON job) on set in a coroutine of pool s, with
 * deadline_ms (FC_FOREVER for none). Returns the job (caller frees) after
 * the handler returned; asserts the class has a handler. */
fc_job_t *pt_run(fc_sched_t *s, fc_plugin_set_t *set, const char *payload, int64_t deadline_ms);

#endif
