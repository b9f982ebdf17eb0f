/* FlowCoro plugin ABI: what a job-handler plugin sees.
 *
 * A plugin is a shared object that exports one function, FC_PLUGIN_ENTRY_NAME
 * ("flowcoro_plugin_entry"), returning a description of the plugin: its
 * name and version, init/fini, and the handlers it offers, one per job class
 * (Sidekiq's "class" field). flowcorod loads it with dlopen(RTLD_NOW |
 * RTLD_LOCAL), checks the magic, the ABI major and the description's size,
 * calls init with the host's service table and the plugin's "config"
 * subtree, and then calls handlers for jobs of their classes.
 *
 * Rules for handlers (docs/plugins.md says more):
 *  - A handler runs as a coroutine on a scheduler thread shared with thousands
 *    of other jobs. It must never block that thread: no blocking system calls
 *    (read on a socket, sleep, waitpid, getaddrinfo, fsync...) and no long
 *    computations. Wait with host->wait_fd / host->sleep, and run blocking or
 *    CPU-heavy work with host->offload.
 *  - A plugin links no flowcorod symbol: everything it needs from the daemon
 *    comes through the fc_host_t table. It may link its own libraries (the
 *    args are jansson values, so most plugins link libjansson).
 *  - Handlers may run concurrently on several threads; shared plugin state
 *    needs locking or atomics.
 *
 * Compatibility: a daemon loads plugins built for the same FC_PLUGIN_ABI_MAJOR
 * and any minor. The host table only grows at its end; a plugin built against
 * a newer minor checks FC_HOST_HAS(host, member) before using a newer member.
 * The descriptor carries its own size, so the daemon reads only what the
 * plugin had. */
#ifndef FLOWCORO_PLUGIN_H
#define FLOWCORO_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FC_PLUGIN_MAGIC      UINT64_C(0x31474c5043524f46) /* "FCORPLG1" little-endian */
#define FC_PLUGIN_ABI_MAJOR  1
#define FC_PLUGIN_ABI_MINOR  0
#define FC_PLUGIN_ENTRY_NAME "flowcoro_plugin_entry"

/* Opaque types owned by the daemon. */
typedef struct fc_job fc_job_t;                     /* one job run */
typedef struct fc_config_node fc_config_node_t;     /* a node of the YAML configuration */
typedef struct fc_config_errors fc_config_errors_t; /* where init reports config errors */
typedef struct fc_coro fc_coro_t;                   /* a child coroutine */
typedef struct fc_chan fc_chan_t;                   /* a channel between coroutines */
typedef struct json_t json_t;                       /* jansson's value */

/* What a handler returns. Failures carry a message set through host->fail. */
typedef enum fc_job_status {
        FC_JOB_OK = 0,     /* done */
        FC_JOB_RETRY = 1,  /* failed: retry later (counts an attempt) */
        FC_JOB_DEAD = 2,   /* failed for good: straight to the dead set */
        FC_JOB_SNOOZE = 3, /* not now: run again after host->snooze's delay, no attempt counted */
} fc_job_status_t;

typedef enum fc_log_priority {
        FC_LOG_PRIO_ERROR = 3, /* syslog priorities, as journald records them */
        FC_LOG_PRIO_WARNING = 4,
        FC_LOG_PRIO_NOTICE = 5,
        FC_LOG_PRIO_INFO = 6,
        FC_LOG_PRIO_DEBUG = 7,
} fc_log_priority_t;

/* A Redis reply, shaped like hiredis's redisReply so plugins need no hiredis
 * headers. Free it with host->redis_free. */
typedef enum fc_redis_reply_type {
        FC_REDIS_STRING = 1,
        FC_REDIS_ARRAY = 2,
        FC_REDIS_INTEGER = 3,
        FC_REDIS_NIL = 4,
        FC_REDIS_STATUS = 5,
        FC_REDIS_ERROR = 6,
} fc_redis_reply_type_t;

typedef struct fc_redis_reply {
        fc_redis_reply_type_t type;
        long long integer;                /* INTEGER */
        size_t len;                       /* STRING, STATUS, ERROR */
        char *str;                        /* NUL-terminated as well */
        size_t elements;                  /* ARRAY */
        struct fc_redis_reply **element;  /* ARRAY */
} fc_redis_reply_t;

/* The host's services. Every function may be called from a handler's
 * coroutine; those marked [init] also from init/fini (a plain thread). */
typedef struct fc_host {
        uint32_t size;      /* sizeof(fc_host_t) as the daemon built it */
        uint32_t abi_minor; /* the daemon's FC_PLUGIN_ABI_MINOR */

        /* ---- logging [init] ----
         * Logs one line at priority, tagged with the plugin's name and, when
         * job is not NULL, the job's id, class and queue (journald fields
         * JOB_ID, JOB_CLASS, QUEUE, PLUGIN). */
        void (*log)(fc_job_t *job, fc_log_priority_t priority, const char *format, ...)
                __attribute__((format(printf, 3, 4)));

        /* ---- the job (all borrowed: valid until the handler returns) ---- */
        const char *(*job_jid)(const fc_job_t *job);
        const char *(*job_class)(const fc_job_t *job);
        const char *(*job_queue)(const fc_job_t *job);
        /* Failed attempts so far (Sidekiq's retry_count; 0 on the first run). */
        unsigned (*job_retry_count)(const fc_job_t *job);
        /* Times the job was recovered from a worker process that died. */
        unsigned (*job_recovered)(const fc_job_t *job);
        /* When it was enqueued, epoch seconds (0 when the client did not say). */
        double (*job_enqueued_at)(const fc_job_t *job);
        /* The "args" array as parsed JSON. Borrowed: don't decref it. */
        const json_t *(*job_args)(const fc_job_t *job);

        /* Records why the job failed and returns status, so a handler can
         * write `return host->fail(job, FC_JOB_RETRY, NULL, "HTTP %d", code);`.
         * status is FC_JOB_RETRY or FC_JOB_DEAD; error_class (may be NULL)
         * names the kind of error, as Sidekiq's error_class. */
        fc_job_status_t (*fail)(fc_job_t *job, fc_job_status_t status, const char *error_class,
                                const char *format, ...) __attribute__((format(printf, 4, 5)));
        /* Asks to run the job again in seconds (>= 1) without counting an
         * attempt; returns FC_JOB_SNOOZE. */
        fc_job_status_t (*snooze)(fc_job_t *job, unsigned seconds);

        /* ---- coroutine operations (see flowcoro/core.h for the contracts) ---- */
        int (*sleep)(int64_t ms);
        int (*wait_fd)(int fd, uint32_t events, int64_t timeout_ms);
        int (*offload)(void (*fn)(void *arg), void *arg);
        /* Children run on the same pool; a handler must join every child it
         * spawns before it returns. */
        int (*spawn)(void (*fn)(void *arg), void *arg, fc_coro_t **handle);
        int (*join)(fc_coro_t *handle);
        void (*cancel)(fc_coro_t *handle);
        int (*chan_create)(size_t capacity, fc_chan_t **out);
        void (*chan_destroy)(fc_chan_t *ch);
        int (*chan_send)(fc_chan_t *ch, void *value, int64_t timeout_ms);
        int (*chan_recv)(fc_chan_t *ch, void **value, int64_t timeout_ms);
        void (*chan_close)(fc_chan_t *ch);
        /* True once the job was cancelled or passed its deadline: return soon. */
        bool (*cancelled)(void);
        /* Milliseconds before the job's deadline (0 if passed), -1 for none. */
        int64_t (*deadline_left)(void);
        int64_t (*now_ms)(void);

        /* ---- Redis, through the daemon's connection pool ----
         * Runs one command (argv form, binary-safe) and suspends only this
         * coroutine. Returns 0 and a reply in *reply (an error reply is a
         * reply of type FC_REDIS_ERROR), or a negative errno when no reply
         * came (-ETIMEDOUT, -ECONNRESET, -ECANCELED, -ENOTCONN). */
        int (*redis)(fc_job_t *job, int argc, const char *const *argv, const size_t *argvlen,
                     fc_redis_reply_t **reply);
        void (*redis_free)(fc_redis_reply_t *reply);

        /* ---- configuration access [init] (flowcoro/config.h has the contracts) ---- */
        int (*cfg_type)(const fc_config_node_t *node); /* 0 scalar, 1 sequence, 2 mapping */
        const char *(*cfg_scalar)(const fc_config_node_t *node);
        size_t (*cfg_count)(const fc_config_node_t *node);
        const fc_config_node_t *(*cfg_item)(const fc_config_node_t *node, size_t i);
        const char *(*cfg_key)(const fc_config_node_t *node, size_t i);
        const fc_config_node_t *(*cfg_get)(const fc_config_node_t *node, const char *key);
        /* Reports a problem at node's file:line:column; init then returns
         * non-zero. */
        void (*cfg_error)(fc_config_errors_t *errors, const fc_config_node_t *node, const char *format, ...)
                __attribute__((format(printf, 3, 4)));
        int (*cfg_duration)(const char *text, uint64_t *ms);
        int (*cfg_size)(const char *text, uint64_t *bytes);
} fc_host_t;

/* True when the daemon's table has member (added in a later minor). */
#define FC_HOST_HAS(host, member) \
        ((host)->size >= offsetof(fc_host_t, member) + sizeof(((fc_host_t *)0)->member))

typedef fc_job_status_t (*fc_handler_fn)(const fc_host_t *host, fc_job_t *job, void *plugin_state);

typedef struct fc_handler_def {
        const char *class_name; /* the job class it runs, e.g. "HardWorker" */
        fc_handler_fn run;
        uint64_t timeout_ms;    /* default deadline; 0 = the daemon's jobs.default_timeout */
        int max_retries;        /* -1 = the daemon's jobs.max_retries */
} fc_handler_def_t;

typedef struct fc_plugin_def {
        uint64_t magic;      /* FC_PLUGIN_MAGIC */
        uint32_t abi_major;  /* FC_PLUGIN_ABI_MAJOR */
        uint32_t abi_minor;  /* FC_PLUGIN_ABI_MINOR */
        uint32_t size;       /* sizeof(fc_plugin_def_t) */
        const char *name;    /* e.g. "examples" */
        const char *version; /* e.g. "1.0.0" */

        /* Validates config (the plugin's "config" subtree; NULL when the
         * configuration has none) and prepares the plugin. Problems go to
         * errors through host->cfg_error, with their position; then return
         * non-zero and the daemon refuses the configuration; fini is then
         * not called, so free what init allocated before returning. *state
         * is handed to every handler and to fini. May be NULL. [init] */
        int (*init)(const fc_host_t *host, const fc_config_node_t *config, fc_config_errors_t *errors,
                    void **state);
        /* Releases state, after the last job on this plugin has finished.
         * May be NULL. */
        void (*fini)(const fc_host_t *host, void *state);

        const fc_handler_def_t *handlers;
        size_t n_handlers;
} fc_plugin_def_t;

/* What the exported entry point looks like. */
typedef const fc_plugin_def_t *(*fc_plugin_entry_fn)(void);

/* Declares the entry point: FC_PLUGIN_DEFINE(my_plugin_def); */
#define FC_PLUGIN_DEFINE(def)                                                          \
        __attribute__((visibility("default"))) const fc_plugin_def_t *flowcoro_plugin_entry(void); \
        const fc_plugin_def_t *flowcoro_plugin_entry(void) {                           \
                return &(def);                                                         \
        }

/* Fills the fixed header of a descriptor. */
#define FC_PLUGIN_HEADER                                                                 \
        .magic = FC_PLUGIN_MAGIC, .abi_major = FC_PLUGIN_ABI_MAJOR, .abi_minor = FC_PLUGIN_ABI_MINOR, \
        .size = sizeof(fc_plugin_def_t)

#ifdef __cplusplus
}
#endif

#endif
