/* examples.so: small handlers for demos and tests, written against the
 * plugin ABI alone, as any third-party plugin would be.
 *
 *   Noop    does nothing
 *   Sleep   args [ms]: sleeps ms milliseconds without blocking its thread
 *   Echo    logs its args
 *   Fail    args ["retry"|"dead", message]: fails that way
 *   Record  args [key, ms?]: optionally sleeps ms, then HINCRBY key <jid> 1,
 *           so tests can count every execution of every job
 *   Stamp   args [key]: HSET key <jid> <epoch microseconds when the handler
 *           started>, so benchmarks can measure enqueue-to-start latency
 *   Spin    args [ms]: keeps its scheduler thread busy for ms milliseconds
 *           without yielding (what a badly written handler does; tests of the
 *           overrun report and the watchdog)
 *   Crash   aborts the whole process (poison-job tests); refused unless the
 *           plugin's config says allow_crash: true
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowcoro/plugin.h"

typedef struct examples {
        bool allow_crash;
} examples_t;

static fc_job_status_t noop(const fc_host_t *host, fc_job_t *job, void *state) {
        return FC_JOB_OK;
}

/* Reads args[i] as a whole number >= 0; returns false if it is not one. */
static bool arg_ms(const json_t *args, size_t i, long long *ms) {
        const json_t *v = json_array_get(args, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return false;
        *ms = json_integer_value(v);
        return true;
}

static fc_job_status_t sleep_handler(const fc_host_t *host, fc_job_t *job, void *state) {
        long long ms;
        if (!arg_ms(host->job_args(job), 0, &ms))
                return host->fail(job, FC_JOB_DEAD, "ArgumentError", "Sleep expects [ms], a whole number >= 0");
        int r = host->sleep(ms);
        if (r < 0)
                return host->fail(job, FC_JOB_RETRY, "Interrupted", "sleep interrupted: %s", strerror(-r));
        return FC_JOB_OK;
}

static fc_job_status_t echo(const fc_host_t *host, fc_job_t *job, void *state) {
        char *text = json_dumps(host->job_args(job), JSON_COMPACT | JSON_ENCODE_ANY);
        host->log(job, FC_LOG_PRIO_INFO, "echo %s", text ? text : "(out of memory)");
        free(text);
        return FC_JOB_OK;
}

static fc_job_status_t fail(const fc_host_t *host, fc_job_t *job, void *state) {
        const json_t *args = host->job_args(job);
        const char *how = json_string_value(json_array_get(args, 0));
        const char *message = json_string_value(json_array_get(args, 1));
        if (!how || (strcmp(how, "retry") != 0 && strcmp(how, "dead") != 0))
                return host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                  "Fail expects [\"retry\" or \"dead\", message]");
        return host->fail(job, strcmp(how, "retry") == 0 ? FC_JOB_RETRY : FC_JOB_DEAD, "Fail", "%s",
                          message ? message : "failed on purpose");
}

/* HSET key jid value: the Redis write Record and Stamp end with. */
static fc_job_status_t write_field(const fc_host_t *host, fc_job_t *job, const char *command, const char *key,
                                   const char *value) {
        const char *jid = host->job_jid(job);
        const char *argv[] = {command, key, jid, value};
        const size_t lens[] = {strlen(command), strlen(key), strlen(jid), strlen(value)};
        fc_redis_reply_t *reply = NULL;
        int r = host->redis(job, 4, argv, lens, &reply);
        if (r < 0)
                return host->fail(job, FC_JOB_RETRY, "RedisError", "%s failed: %s", command, strerror(-r));
        fc_job_status_t status = FC_JOB_OK;
        if (reply->type == FC_REDIS_ERROR)
                status = host->fail(job, FC_JOB_RETRY, "RedisError", "%s failed: %s", command, reply->str);
        host->redis_free(reply);
        return status;
}

static fc_job_status_t record(const fc_host_t *host, fc_job_t *job, void *state) {
        const json_t *args = host->job_args(job);
        const char *key = json_string_value(json_array_get(args, 0));
        long long ms = 0;
        if (!key || (json_array_size(args) > 1 && !arg_ms(args, 1, &ms)))
                return host->fail(job, FC_JOB_DEAD, "ArgumentError", "Record expects [key, ms?]");
        if (ms > 0) {
                int r = host->sleep(ms);
                if (r < 0)
                        return host->fail(job, FC_JOB_RETRY, "Interrupted", "sleep interrupted: %s",
                                          strerror(-r));
        }
        return write_field(host, job, "HINCRBY", key, "1");
}

static fc_job_status_t stamp(const fc_host_t *host, fc_job_t *job, void *state) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        const char *key = json_string_value(json_array_get(host->job_args(job), 0));
        if (!key)
                return host->fail(job, FC_JOB_DEAD, "ArgumentError", "Stamp expects [key]");
        char us[32];
        snprintf(us, sizeof(us), "%lld", (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
        return write_field(host, job, "HSET", key, us);
}

static fc_job_status_t spin(const fc_host_t *host, fc_job_t *job, void *state) {
        long long ms;
        if (!arg_ms(host->job_args(job), 0, &ms))
                return host->fail(job, FC_JOB_DEAD, "ArgumentError", "Spin expects [ms], a whole number >= 0");
        int64_t end = host->now_ms() + ms;
        while (host->now_ms() < end)
                ; /* on purpose: no yield */
        return FC_JOB_OK;
}

static fc_job_status_t crash(const fc_host_t *host, fc_job_t *job, void *state) {
        examples_t *ex = state;
        if (!ex->allow_crash)
                return host->fail(job, FC_JOB_DEAD, "NotAllowed",
                                  "Crash is disabled: set allow_crash: true in examples.so's config");
        host->log(job, FC_LOG_PRIO_WARNING, "crashing the process on purpose (Crash job)");
        abort();
}

static int init(const fc_host_t *host, const fc_config_node_t *config, fc_config_errors_t *errors, void **state) {
        examples_t *ex = calloc(1, sizeof(*ex));
        int bad = 0;
        if (!ex)
                return -ENOMEM;
        *state = ex;
        if (!config)
                return 0;
        if (host->cfg_type(config) != 2) {
                host->cfg_error(errors, config, "expected a mapping of settings (allow_crash)");
                bad = 1;
        }
        size_t n = bad ? 0 : host->cfg_count(config); /* keys only in a mapping */
        for (size_t i = 0; i < n; i++) {
                const char *key = host->cfg_key(config, i);
                const fc_config_node_t *value = host->cfg_item(config, i);
                if (strcmp(key, "allow_crash") == 0) {
                        const char *v = host->cfg_scalar(value);
                        if (v && strcmp(v, "true") == 0)
                                ex->allow_crash = true;
                        else if (v && strcmp(v, "false") == 0)
                                ex->allow_crash = false;
                        else {
                                host->cfg_error(errors, value, "expected true or false");
                                bad = 1;
                        }
                } else {
                        host->cfg_error(errors, value, "unknown key \"%s\" (examples.so knows allow_crash)", key);
                        bad = 1;
                }
        }
        if (bad) {
                free(ex); /* fini is not called after a failed init */
                *state = NULL;
                return -EINVAL;
        }
        return 0;
}

static void fini(const fc_host_t *host, void *state) {
        free(state);
}

static const fc_handler_def_t handlers[] = {
        {.class_name = "Noop", .run = noop, .max_retries = -1},
        {.class_name = "Sleep", .run = sleep_handler, .max_retries = -1},
        {.class_name = "Echo", .run = echo, .max_retries = -1},
        {.class_name = "Fail", .run = fail, .max_retries = -1},
        {.class_name = "Record", .run = record, .max_retries = -1},
        {.class_name = "Stamp", .run = stamp, .max_retries = -1},
        {.class_name = "Spin", .run = spin, .max_retries = -1},
        {.class_name = "Crash", .run = crash, .max_retries = 0},
};

static const fc_plugin_def_t examples_plugin = {
        FC_PLUGIN_HEADER,
        .name = "examples",
        .version = "1.0.0",
        .init = init,
        .fini = fini,
        .handlers = handlers,
        .n_handlers = sizeof(handlers) / sizeof(handlers[0]),
};

FC_PLUGIN_DEFINE(examples_plugin)
