/* FlowCoro configuration: one YAML file, parsed with libyaml into a typed,
 * validated and immutable structure.
 *
 * Every problem found in a file is reported with the file name (as the
 * caller spelled it), line and column counted from 1, the key and what was
 * expected, e.g.
 *
 *     flowcoro.yaml:7:12: scheduler.threads: expected a whole number from 0 to 1024, got "four"
 *
 * All errors of a file are collected into one list (fc_config_errors_t), not
 * just the first. The Redis password never appears in any message.
 *
 * Threads: loading is reentrant (no global state; it reads the environment
 * variable CREDENTIALS_DIRECTORY, so do not call setenv() concurrently). A
 * loaded fc_config_t is never changed again, so any number of threads may
 * read it at once; free it only when no thread reads it any more. An error
 * list belongs to one thread at a time.
 *
 * docs/configuration.md and flowcoro.yaml(5) describe every key. */
#ifndef FLOWCORO_CONFIG_H
#define FLOWCORO_CONFIG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error list ------------------------------------------------------- */

/* One problem in a configuration file. All strings are owned by the list. */
typedef struct fc_config_error {
        const char *file;    /* the path as the caller gave it */
        unsigned line;       /* from 1; 0 when the problem has no position (file unreadable) */
        unsigned column;     /* from 1; 0 likewise */
        const char *key;     /* dotted key ("scheduler.threads", "queues[1].name"), "" for none */
        const char *message; /* what went wrong and what was expected, without file/key */
        const char *text;    /* the whole line: "file:line:column: key: message" */
} fc_config_error_t;

typedef struct fc_config_errors fc_config_errors_t;

/* Creates an empty error list, for callers that validate more (plugins)
 * after a successful load. Returns NULL when out of memory. The caller
 * frees it with fc_config_errors_free(). Any thread. */
fc_config_errors_t *fc_config_errors_new(void);

/* Frees the list and every error in it. NULL is allowed. */
void fc_config_errors_free(fc_config_errors_t *errors);

/* Number of errors in the list (0 for NULL). */
size_t fc_config_errors_count(const fc_config_errors_t *errors);

/* The i-th error (0-based), in file order for the errors found by a load,
 * followed by the ones added later. Borrowed: valid until the list is freed.
 * Returns NULL when i is out of range. */
const fc_config_error_t *fc_config_errors_get(const fc_config_errors_t *errors, size_t i);

/* Writes every error as one line in the compiler format ("file:line:column:
 * key: message\n") to out, which the caller chooses (the library never
 * picks a stream itself). Returns the number of errors written, or -EIO when
 * writing failed. */
int fc_config_errors_print(const fc_config_errors_t *errors, FILE *out);

/* ---- generic node tree (plugin configuration subtrees) ----------------- */

/* A read-only YAML node of a loaded configuration: a mapping, a sequence or
 * a scalar, with its position in the file. Nodes belong to the fc_config_t
 * they came from and live exactly as long as it. */
typedef struct fc_config_node fc_config_node_t;

typedef enum fc_config_node_type {
        FC_CONFIG_NODE_SCALAR,
        FC_CONFIG_NODE_SEQUENCE,
        FC_CONFIG_NODE_MAPPING,
} fc_config_node_type_t;

/* Accessors. All accept any node of a loaded configuration; none allocates
 * or fails, and all return borrowed data. */
fc_config_node_type_t fc_config_node_type(const fc_config_node_t *node);
unsigned fc_config_node_line(const fc_config_node_t *node);   /* from 1 */
unsigned fc_config_node_column(const fc_config_node_t *node); /* from 1 */
/* Dotted key path of the node, e.g. "plugins.load[0].config.retries". */
const char *fc_config_node_path(const fc_config_node_t *node);
/* A scalar's text (quotes removed, escapes resolved); NULL for other types. */
const char *fc_config_node_scalar(const fc_config_node_t *node);
/* True for a plain scalar that YAML reads as null: empty, "~", "null", "Null", "NULL". */
bool fc_config_node_is_null(const fc_config_node_t *node);
/* Number of items of a sequence or of key/value pairs of a mapping; 0 for a scalar. */
size_t fc_config_node_count(const fc_config_node_t *node);
/* The i-th item of a sequence, or the value of the i-th pair of a mapping
 * (file order); NULL when i is out of range or the node is a scalar. */
const fc_config_node_t *fc_config_node_item(const fc_config_node_t *node, size_t i);
/* The key of the i-th pair of a mapping; NULL when out of range or not a mapping. */
const char *fc_config_node_key(const fc_config_node_t *node, size_t i);
/* The value for key in a mapping, or NULL when absent or the node is not a
 * mapping. Keys are unique: a load rejects duplicates. */
const fc_config_node_t *fc_config_node_get(const fc_config_node_t *node, const char *key);

/* Adds an error at node's position (file, line, column and key path of the
 * node) to errors, with a printf-style message saying what was expected,
 * e.g. fc_config_errors_add(errs, n, "expected a whole number, got \"%s\"", s).
 * Meant for plugins validating their own subtree. Returns 0, -EINVAL when
 * errors or node is NULL, or -ENOMEM. */
int fc_config_errors_add(fc_config_errors_t *errors, const fc_config_node_t *node, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* fc_config_errors_add() with a va_list. */
int fc_config_errors_addv(fc_config_errors_t *errors, const fc_config_node_t *node, const char *format,
                          va_list ap) __attribute__((format(printf, 3, 0)));

/* Adds an error at an explicit position (line and column from 1; key may be
 * NULL), for problems that belong to an entry rather than one node, such as
 * a plugin file that cannot be loaded. Returns 0, -EINVAL or -ENOMEM. */
int fc_config_errors_add_at(fc_config_errors_t *errors, const char *file, unsigned line, unsigned column,
                            const char *key, const char *format, ...) __attribute__((format(printf, 6, 7)));

/* ---- the configuration ------------------------------------------------ */

typedef enum fc_redis_transport {
        FC_REDIS_TCP,  /* redis://[user[:password]@]host[:port][/db] */
        FC_REDIS_UNIX, /* unix://[user[:password]@]/absolute/path[?db=N] */
} fc_redis_transport_t;

typedef enum fc_log_level {
        FC_LOG_ERROR,
        FC_LOG_WARNING,
        FC_LOG_NOTICE,
        FC_LOG_INFO,
        FC_LOG_DEBUG,
} fc_log_level_t;

typedef struct fc_config_queue {
        const char *name;
        uint32_t weight; /* >= 1 */
} fc_config_queue_t;

typedef struct fc_config_plugin {
        const char *path;               /* as written in the file */
        const char *resolved_path;      /* joined with plugins.directory when relative */
        const fc_config_node_t *config; /* its "config" subtree, NULL when absent */
        unsigned line, column;          /* where the entry starts */
} fc_config_plugin_t;

/* A loaded, validated configuration. Every field is set (to its default when
 * the file does not give it). Durations are in milliseconds, sizes in bytes. */
typedef struct fc_config {
        const char *path; /* the file, as the caller gave it */

        struct {
                /* The URL with any password replaced by "***": safe to log. */
                const char *url;
                fc_redis_transport_t transport;
                const char *host;        /* TCP: host name or address (IPv6 without brackets) */
                uint16_t port;           /* TCP */
                const char *socket_path; /* unix */
                uint32_t db;
                const char *username;      /* NULL when none */
                const char *password;      /* SECRET: never log it. NULL when none */
                const char *password_from; /* where the password came from, for logs:
                                              "url", the password file's path, or the
                                              credential's path; NULL when none */
                const char *password_file; /* redis.password_file as written, NULL when unset */
                const char *prefix;        /* "" = Sidekiq-compatible keys */
        } redis;

        struct {
                uint32_t threads;    /* 0 = one per online CPU */
                uint64_t stack_size; /* bytes */
        } scheduler;

        uint32_t concurrency;

        const fc_config_queue_t *queues; /* at least one */
        size_t n_queues;

        struct {
                const char *directory;
                const fc_config_plugin_t *load;
                size_t n_load;
        } plugins;

        struct {
                uint64_t default_timeout_ms; /* 0 = no deadline */
                uint32_t max_retries;
                uint32_t dead_max_jobs;
                uint64_t dead_timeout_ms;
                uint64_t max_payload; /* bytes */
        } jobs;

        uint64_t shutdown_timeout_ms;

        struct {
                const char *socket; /* "" = no control socket */
        } control;

        struct {
                const char *listen; /* "" = off; otherwise host:port as written */
                const char *host;   /* NULL when off; IPv6 without brackets */
                uint16_t port;      /* 0 when off */
        } metrics;

        struct {
                fc_log_level_t level;
        } log;
} fc_config_t;

/* Loads and validates the YAML file at path (also used, as given, in every
 * message), then looks up the Redis password (see docs/configuration.md,
 * "Credentials").
 *
 * On success returns 0, stores a new configuration in *ret (the caller
 * frees it with fc_config_free()) and sets *errors to NULL. On failure
 * returns a negative errno and leaves *ret NULL: -EINVAL when the file has
 * errors, -ENOENT/-EACCES/... when it cannot be read, -EFBIG when it is
 * larger than 16 MiB, -ENOMEM. In every case but -ENOMEM *errors receives a
 * list with at least one error saying what to fix (the caller frees it);
 * after -ENOMEM it may be NULL. errors may be NULL when the caller does not
 * want them. Any thread. */
int fc_config_load(const char *path, fc_config_t **ret, fc_config_errors_t **errors);

/* Like fc_config_load(), but parses size bytes at data (need not be
 * NUL-terminated); name is used in messages and as the configuration's path.
 * Used by tests and the fuzzer. */
int fc_config_load_data(const char *name, const void *data, size_t size, fc_config_t **ret,
                        fc_config_errors_t **errors);

/* Frees a configuration and everything it owns (node trees included), and
 * wipes the password from memory first. NULL is allowed. */
void fc_config_free(fc_config_t *config);

/* Reload: builds a complete new configuration from running->path next to
 * the running one. running is only read (borrowed), never changed or freed,
 * whatever happens. Returns and fills *ret / *errors exactly like
 * fc_config_load(): on success the caller swaps the new one in (and asks
 * fc_config_restart_keys() what it cannot apply); on failure the running
 * configuration stays and *errors says why. Any thread. */
int fc_config_reload(const fc_config_t *running, fc_config_t **ret, fc_config_errors_t **errors);

/* The most keys fc_config_restart_keys() can report. */
#define FC_CONFIG_RESTART_KEYS_MAX 16

/* Compares two configurations and stores in keys[] (room for
 * FC_CONFIG_RESTART_KEYS_MAX) the names of the restart-only settings that
 * differ ("redis.url", "scheduler.threads", ...; static strings). Returns
 * their number (0: everything that changed can be applied by a reload).
 * The reload-safe and restart-only settings are listed in
 * docs/configuration.md. Any thread. */
size_t fc_config_restart_keys(const fc_config_t *old_config, const fc_config_t *new_config,
                              const char *keys[FC_CONFIG_RESTART_KEYS_MAX]);

/* ---- value syntax, shared with plugins --------------------------------- */

/* Parses a duration: a whole number followed by ms, s, m, h or d ("30s",
 * "180d"); a bare "0" is allowed. Stores milliseconds in *ret_ms. Returns 0,
 * -EINVAL for bad syntax (no unit, unknown unit, sign, spaces), -ERANGE on
 * overflow. */
int fc_config_parse_duration(const char *text, uint64_t *ret_ms);

/* Parses a size: a whole number followed by B, KiB, MiB or GiB ("64KiB");
 * a bare "0" is allowed. Stores bytes in *ret_bytes. Returns 0, -EINVAL or
 * -ERANGE like fc_config_parse_duration(). */
int fc_config_parse_size(const char *text, uint64_t *ret_bytes);

/* Cleanup helper: _cleanup_config_ fc_config_t *c = NULL; */
static inline void fc_config_freep(fc_config_t **c) {
        fc_config_free(*c);
}
static inline void fc_config_errors_freep(fc_config_errors_t **e) {
        fc_config_errors_free(*e);
}
#define _cleanup_config_        __attribute__((cleanup(fc_config_freep)))
#define _cleanup_config_errors_ __attribute__((cleanup(fc_config_errors_freep)))

#ifdef __cplusplus
}
#endif

#endif
