/* The service table flowcorod hands its plugins (see flowcoro/plugin.h). */
#include "host.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowcoro/config.h"
#include "flowcoro/core.h"
#include "job.h"
#include "log.h"

/* fc_redis_reply_t mirrors hiredis's redisReply, so replies pass through
 * unconverted; these checks keep the two in step. */
_Static_assert(sizeof(fc_redis_reply_t) == sizeof(redisReply), "reply layout");
_Static_assert(offsetof(fc_redis_reply_t, str) == offsetof(redisReply, str), "reply layout");
_Static_assert(offsetof(fc_redis_reply_t, element) == offsetof(redisReply, element), "reply layout");
_Static_assert(FC_REDIS_STRING == REDIS_REPLY_STRING && FC_REDIS_ARRAY == REDIS_REPLY_ARRAY &&
                       FC_REDIS_INTEGER == REDIS_REPLY_INTEGER && FC_REDIS_NIL == REDIS_REPLY_NIL &&
                       FC_REDIS_STATUS == REDIS_REPLY_STATUS && FC_REDIS_ERROR == REDIS_REPLY_ERROR,
               "reply types");

static fc_host_redis_fn redis_runner;
static void *redis_ctx;

static fc_log_level_t level_of(fc_log_priority_t p) {
        switch (p) {
        case FC_LOG_PRIO_ERROR:
                return FC_LOG_ERROR;
        case FC_LOG_PRIO_WARNING:
                return FC_LOG_WARNING;
        case FC_LOG_PRIO_NOTICE:
                return FC_LOG_NOTICE;
        case FC_LOG_PRIO_INFO:
                return FC_LOG_INFO;
        default:
                return FC_LOG_DEBUG;
        }
}

/* A plugin's message, with the job it is about. */
static void host_log(fc_job_t *job, fc_log_priority_t priority, const char *format, ...) {
        fc_log_level_t level = level_of(priority);
        if (!fc_log_enabled(level))
                return;
        char msg[2048];
        va_list ap;
        va_start(ap, format);
        vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);
        if (job) {
                fc_log_fields_t fields = {.job_id = job->jid,
                                          .job_class = job->klass,
                                          .queue = job->queue,
                                          .plugin = job->plugin};
                fc_log_job(level, &fields, "plugin=%s jid=%s class=%s queue=%s: %s",
                           job->plugin ? job->plugin : "?", job->jid, job->klass, job->queue, msg);
        } else {
                fc_log(level, "%s", msg);
        }
}

static const char *job_jid(const fc_job_t *job) {
        return job->jid;
}
static const char *job_class(const fc_job_t *job) {
        return job->klass;
}
static const char *job_queue(const fc_job_t *job) {
        return job->queue;
}
static unsigned job_retry_count(const fc_job_t *job) {
        return job->retry_count;
}
static unsigned job_recovered(const fc_job_t *job) {
        return job->recovered;
}
static double job_enqueued_at(const fc_job_t *job) {
        return job->enqueued_at;
}
static const json_t *job_args(const fc_job_t *job) {
        return job->args;
}

static fc_job_status_t host_fail(fc_job_t *job, fc_job_status_t status, const char *error_class,
                                 const char *format, ...) {
        char *msg = NULL;
        va_list ap;
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (status != FC_JOB_DEAD)
                status = FC_JOB_RETRY; /* anything else would not be a failure */
        free(job->error_message);
        free(job->error_class);
        job->error_message = msg;
        job->error_class = strdup(error_class ? error_class : "FlowCoro::JobFailed");
        job->status = status;
        return status;
}

static fc_job_status_t host_snooze(fc_job_t *job, unsigned seconds) {
        job->snooze_s = seconds ? seconds : 1;
        job->status = FC_JOB_SNOOZE;
        return FC_JOB_SNOOZE;
}

static int host_spawn(void (*fn)(void *), void *arg, fc_coro_t **handle) {
        return fc_spawn_here(fn, arg, handle);
}

static bool host_cancelled(void) {
        return fc_cancelled() != FC_CANCEL_NONE;
}

static int host_redis(fc_job_t *job, int argc, const char *const *argv, const size_t *argvlen,
                      fc_redis_reply_t **reply) {
        *reply = NULL;
        if (!redis_runner)
                return -ENOTCONN;
        return redis_runner(redis_ctx, job, argc, argv, argvlen, reply);
}

static void host_redis_free(fc_redis_reply_t *reply) {
        freeReplyObject(reply);
}

static int cfg_type(const fc_config_node_t *node) {
        switch (fc_config_node_type(node)) {
        case FC_CONFIG_NODE_SEQUENCE:
                return 1;
        case FC_CONFIG_NODE_MAPPING:
                return 2;
        default:
                return 0;
        }
}

static void cfg_error(fc_config_errors_t *errors, const fc_config_node_t *node, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        fc_config_errors_addv(errors, node, format, ap);
        va_end(ap);
}

static const fc_host_t host_table = {
        .size = sizeof(fc_host_t),
        .abi_minor = FC_PLUGIN_ABI_MINOR,
        .log = host_log,
        .job_jid = job_jid,
        .job_class = job_class,
        .job_queue = job_queue,
        .job_retry_count = job_retry_count,
        .job_recovered = job_recovered,
        .job_enqueued_at = job_enqueued_at,
        .job_args = job_args,
        .fail = host_fail,
        .snooze = host_snooze,
        .sleep = fc_sleep,
        .wait_fd = fc_wait_fd,
        .offload = fc_offload,
        .spawn = host_spawn,
        .join = fc_join,
        .cancel = fc_cancel,
        .chan_create = fc_chan_create,
        .chan_destroy = fc_chan_destroy,
        .chan_send = fc_chan_send,
        .chan_recv = fc_chan_recv,
        .chan_close = fc_chan_close,
        .cancelled = host_cancelled,
        .deadline_left = fc_deadline_left,
        .now_ms = fc_now_ms,
        .redis = host_redis,
        .redis_free = host_redis_free,
        .cfg_type = cfg_type,
        .cfg_scalar = fc_config_node_scalar,
        .cfg_count = fc_config_node_count,
        .cfg_item = fc_config_node_item,
        .cfg_key = fc_config_node_key,
        .cfg_get = fc_config_node_get,
        .cfg_error = cfg_error,
        .cfg_duration = fc_config_parse_duration,
        .cfg_size = fc_config_parse_size,
};

const fc_host_t *fc_host(void) {
        return &host_table;
}

void fc_host_set_redis(fc_host_redis_fn fn, void *ctx) {
        redis_runner = fn;
        redis_ctx = ctx;
}

static int pool_runner(void *pool, fc_job_t *job, int argc, const char *const *argv, const size_t *argvlen,
                       fc_redis_reply_t **reply) {
        redisReply *r = NULL;
        int rc = fc_redis_pool_command(pool, &r, argc, argv, argvlen);
        *reply = (fc_redis_reply_t *)r; /* same layout: see the static asserts above */
        return rc;
}

void fc_host_use_redis_pool(fc_redis_pool_t *pool) {
        fc_host_set_redis(pool ? pool_runner : NULL, pool);
}

fc_job_status_t fc_host_run(const fc_plugin_handler_t *h, fc_job_t *job) {
        job->plugin = fc_loaded_plugin_name(h->plugin);
        job->status = FC_JOB_OK;
        fc_job_status_t status = h->def->run(&host_table, job, h->state);
        /* The returned status decides; a failure without a message (host->fail
         * not called) gets one that says so. */
        switch (status) {
        case FC_JOB_OK:
                job->status = FC_JOB_OK;
                break;
        case FC_JOB_SNOOZE:
                if (job->status != FC_JOB_SNOOZE)
                        host_snooze(job, 1);
                break;
        case FC_JOB_RETRY:
        case FC_JOB_DEAD:
                if (!job->error_message)
                        host_fail(job, status, NULL, "handler %s failed without a message", h->def->class_name);
                job->status = status;
                break;
        default:
                host_fail(job, FC_JOB_RETRY, NULL, "handler %s returned an unknown status %d", h->def->class_name,
                          (int)status);
        }
        return job->status;
}
