/* The typed schema: validates the node tree against every known key, fills
 * fc_config_t with values or defaults, looks up the Redis password, and
 * compares configurations for reload. */
#include "flowcoro/config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "config-internal.h"

#define MAX_FILE_SIZE    (16u * 1024 * 1024)
#define MAX_SECRET_SIZE  4096
#define SUN_PATH_MAX     107 /* sizeof(sockaddr_un.sun_path) - 1 */
#define CREDENTIAL_NAME  "redis-password"

#define KiB (UINT64_C(1024))
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)
#define SEC (UINT64_C(1000))
#define MIN (SEC * 60)
#define HOUR (MIN * 60)
#define DAY (HOUR * 24)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* What fc_config_t points into; freed by fc_config_free(). The public
 * struct comes first so the two pointers are the same. */
typedef struct config_owner {
        fc_config_t pub;
        struct fc_config_node *root;
        fc__redis_url_t url;
        char *password; /* from a file or credential; else pub.redis.password is url.password */
        fc_config_queue_t *queues;
        fc_config_plugin_t *plugins;
} config_owner_t;

typedef struct ctx {
        const char *file;
        fc_config_errors_t *errors;
        bool oom;
} ctx_t;

static const char *const log_levels[] = {"error", "warning", "notice", "info", "debug"};

/* ---- reporting ---------------------------------------------------------- */

static void error_at(ctx_t *c, const struct fc_config_node *n, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
static void error_at(ctx_t *c, const struct fc_config_node *n, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        if (fc__errors_addv(c->errors, c->file, n->line, n->column, n->path, format, ap) < 0)
                c->oom = true;
        va_end(ap);
}

static const char *type_name(const struct fc_config_node *n) {
        switch (n->type) {
        case FC_CONFIG_NODE_MAPPING:
                return "a mapping";
        case FC_CONFIG_NODE_SEQUENCE:
                return "a list";
        default:
                return "text";
        }
}

/* "got ..." for a message: the quoted scalar, "nothing" or the node's type. */
static void describe(const struct fc_config_node *n, char buf[static 256]) {
        char quoted[200];

        if (n->type != FC_CONFIG_NODE_SCALAR) {
                snprintf(buf, 256, "%s", type_name(n));
        } else if (fc_config_node_is_null(n)) {
                snprintf(buf, 256, "nothing");
        } else {
                fc__quote(n->scalar, n->scalar_len, quoted);
                snprintf(buf, 256, "\"%s\"", quoted);
        }
}

static void format_duration(uint64_t ms, char buf[static 32]) {
        static const struct {
                const char *unit;
                uint64_t ms;
        } units[] = {{"d", DAY}, {"h", HOUR}, {"m", MIN}, {"s", SEC}};

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (ms != 0 && ms % units[i].ms == 0) {
                        snprintf(buf, 32, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
                        return;
                }
        snprintf(buf, 32, "%" PRIu64 "%s", ms, ms ? "ms" : "");
}

static void format_size(uint64_t bytes, char buf[static 32]) {
        static const struct {
                const char *unit;
                uint64_t bytes;
        } units[] = {{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}};

        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (bytes != 0 && bytes % units[i].bytes == 0) {
                        snprintf(buf, 32, "%" PRIu64 "%s", bytes / units[i].bytes, units[i].unit);
                        return;
                }
        snprintf(buf, 32, "%" PRIu64 "%s", bytes, bytes ? "B" : "");
}

/* ---- typed getters: each reports its own error and returns false -------- */

static bool is_text(const struct fc_config_node *n) {
        return n->type == FC_CONFIG_NODE_SCALAR && !fc_config_node_is_null(n);
}

/* A value already reported while parsing (NUL in it): no second error. */
static bool is_reported(const struct fc_config_node *n) {
        return n->type == FC_CONFIG_NODE_SCALAR && n->is_bad;
}

static bool get_uint(ctx_t *c, const struct fc_config_node *n, uint64_t min, uint64_t max, uint64_t *ret) {
        char got[256];
        uint64_t v;

        if (is_reported(n))
                return false;
        if (is_text(n) && strlen(n->scalar) == n->scalar_len && fc__parse_uint(n->scalar, max, &v) == 0 &&
            v >= min) {
                *ret = v;
                return true;
        }
        describe(n, got);
        error_at(c, n, "expected a whole number from %" PRIu64 " to %" PRIu64 ", got %s", min, max, got);
        return false;
}

/* Durations and sizes: a whole number with a unit, checked against a range. */
typedef struct unit_kind {
        const char *what;   /* "duration", "size" */
        const char *syntax; /* how to write one, for messages */
        int (*parse)(const char *text, uint64_t *ret);
        void (*format)(uint64_t v, char buf[static 32]);
} unit_kind_t;

static const unit_kind_t duration_kind = {"duration", "a whole number followed by ms, s, m, h or d (e.g. 30s)",
                                     fc_config_parse_duration, format_duration};
static const unit_kind_t size_kind = {"size", "a whole number followed by B, KiB, MiB or GiB (e.g. 64KiB)",
                                 fc_config_parse_size, format_size};

static bool get_with_unit(ctx_t *c, const struct fc_config_node *n, const unit_kind_t *k, uint64_t min,
                          uint64_t max, uint64_t *ret) {
        char got[256], lo[32], hi[32];
        uint64_t v = 0;
        int r = -EINVAL;

        if (is_reported(n))
                return false;
        if (is_text(n) && strlen(n->scalar) == n->scalar_len)
                r = k->parse(n->scalar, &v);
        if (r == 0 && v >= min && v <= max) {
                *ret = v;
                return true;
        }
        describe(n, got);
        k->format(min, lo);
        k->format(max, hi);
        if (r == -EINVAL)
                error_at(c, n, "expected a %s from %s to %s: %s, got %s", k->what, lo, hi, k->syntax, got);
        else
                error_at(c, n, "expected a %s from %s to %s, got %s", k->what, lo, hi, got);
        return false;
}

/* Text (a null value reads as ""). what: e.g. "text", "an absolute path". */
static bool get_text(ctx_t *c, const struct fc_config_node *n, const char *what, char **ret) {
        char got[256];
        char *s;

        if (is_reported(n))
                return false;
        if (n->type != FC_CONFIG_NODE_SCALAR) {
                describe(n, got);
                error_at(c, n, "expected %s, got %s", what, got);
                return false;
        }
        if (strlen(n->scalar) != n->scalar_len) {
                error_at(c, n, "expected %s without NUL characters", what);
                return false;
        }
        s = strdup(fc_config_node_is_null(n) ? "" : n->scalar);
        if (!s) {
                c->oom = true;
                return false;
        }
        *ret = s;
        return true;
}

/* An absolute path; "" allowed when allow_empty (meaning "off"). */
static bool get_path(ctx_t *c, const struct fc_config_node *n, bool allow_empty, size_t max_len, char **ret) {
        const char *what = allow_empty ? "an absolute path or \"\"" : "an absolute path";
        _cleanup_free_ char *s = NULL;
        char got[256];

        if (!get_text(c, n, what, &s))
                return false;
        if (!(allow_empty && !*s) && s[0] != '/') {
                describe(n, got);
                error_at(c, n, "expected %s (starting with \"/\"), got %s", what, got);
                return false;
        }
        if (strlen(s) > max_len) {
                error_at(c, n, "expected a path of at most %zu bytes, got %zu bytes", max_len, strlen(s));
                return false;
        }
        *ret = TAKE_PTR(s);
        return true;
}

static bool get_choice(ctx_t *c, const struct fc_config_node *n, const char *const *choices, size_t n_choices,
                       size_t *ret) {
        char got[256], list[256] = "";
        const char *suggestion = NULL;

        if (is_reported(n))
                return false;
        if (is_text(n)) {
                for (size_t i = 0; i < n_choices; i++)
                        if (strcmp(n->scalar, choices[i]) == 0 && strlen(choices[i]) == n->scalar_len) {
                                *ret = i;
                                return true;
                        }
                suggestion = fc__suggest(n->scalar, choices, n_choices);
        }
        for (size_t i = 0; i < n_choices; i++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof(list) - len, "%s%s", i == 0 ? "" : i + 1 == n_choices ? " or " : ", ",
                         choices[i]);
        }
        describe(n, got);
        if (suggestion)
                error_at(c, n, "expected %s, got %s (did you mean \"%s\"?)", list, got, suggestion);
        else
                error_at(c, n, "expected %s, got %s", list, got);
        return false;
}

/* A section's mapping: NULL (absent or null value: all defaults) or a
 * mapping whose keys are all in known[]; unknown keys are reported with a
 * suggestion. Returns false when the node is of the wrong type. */
static bool check_mapping(ctx_t *c, const struct fc_config_node *n, const char *const *known, size_t n_known) {
        char got[256];

        if (n->type != FC_CONFIG_NODE_MAPPING) {
                describe(n, got);
                error_at(c, n, "expected a mapping (key: value lines), got %s", got);
                return false;
        }
        for (size_t i = 0; i < n->n; i++) {
                const struct fc_config_node *key = n->keys[i];
                bool found = false;
                for (size_t k = 0; k < n_known && !found; k++)
                        found = strlen(known[k]) == key->scalar_len && strcmp(known[k], key->scalar) == 0;
                if (found)
                        continue;
                char quoted[200];
                const char *suggestion = fc__suggest(key->scalar, known, n_known);
                fc__quote(key->scalar, key->scalar_len, quoted);
                if (fc__errors_addf(c->errors, c->file, key->line, key->column, n->path,
                                    "unknown key \"%s\"%s%s%s", quoted, suggestion ? " (did you mean \"" : "",
                                    suggestion ? suggestion : "", suggestion ? "\"?)" : "") < 0)
                        c->oom = true;
        }
        return true;
}

/* A section: absent and null mean "all defaults" (returns NULL). */
static const struct fc_config_node *section(ctx_t *c, const struct fc_config_node *parent, const char *key,
                                            const char *const *known, size_t n_known) {
        const struct fc_config_node *n = parent ? fc_config_node_get(parent, key) : NULL;

        if (!n || fc_config_node_is_null(n))
                return NULL;
        if (!check_mapping(c, n, known, n_known))
                return NULL;
        return n;
}

static const struct fc_config_node *value(const struct fc_config_node *section_node, const char *key) {
        return section_node ? fc_config_node_get(section_node, key) : NULL;
}

static bool set_string(ctx_t *c, const char **field, const char *text) {
        char *s = strdup(text);
        if (!s) {
                c->oom = true;
                return false;
        }
        free((char *)*field);
        *field = s;
        return true;
}

/* ---- sections ----------------------------------------------------------- */

/* The URL text quoted for a message with anything between "://" and the
 * last "@" masked: the URL did not parse, so the password's extent is not
 * known and the whole user info is hidden. */
static void describe_url(const struct fc_config_node *n, char buf[static 256]) {
        const char *s = n->scalar, *scheme = strstr(s, "://"), *at = strrchr(s, '@');
        char masked[512];

        if (scheme && at && at > scheme) {
                snprintf(masked, sizeof(masked), "%.*s***%.200s", (int)(scheme + 3 - s) > 64 ? 64 : (int)(scheme + 3 - s), s,
                         at);
                char quoted[200];
                fc__quote(masked, strlen(masked), quoted);
                snprintf(buf, 256, "\"%s\"", quoted);
        } else if (at) {
                snprintf(buf, 256, "a value that is not a URL");
        } else {
                describe(n, buf);
        }
}

static void parse_redis(ctx_t *c, const struct fc_config_node *root, config_owner_t *o) {
        static const char *const keys[] = {"url", "password_file", "prefix"};
        const struct fc_config_node *sec = section(c, root, "redis", keys, ELEMENTSOF(keys)), *n;
        char err[256], got[256];
        _cleanup_free_ char *url = NULL, *text = NULL;

        n = value(sec, "url");
        if (n && get_text(c, n, "a redis:// or unix:// URL", &url)) {
                fc__redis_url_t parsed;
                int r = fc__redis_url_parse(url, &parsed, err, sizeof(err));
                if (r == -ENOMEM) {
                        c->oom = true;
                } else if (r < 0) {
                        describe_url(n, got);
                        error_at(c, n, "%s, got %s", err, got);
                } else {
                        fc__redis_url_clear(&o->url);
                        o->url = parsed;
                }
                explicit_bzero(url, strlen(url));
        }
        n = value(sec, "password_file");
        if (n && !fc_config_node_is_null(n) && get_path(c, n, false, 4096, &text))
                o->pub.redis.password_file = TAKE_PTR(text);
        n = value(sec, "prefix");
        if (n && get_text(c, n, "text", &text)) {
                free((char *)o->pub.redis.prefix);
                o->pub.redis.prefix = TAKE_PTR(text);
        }
}

static void parse_scheduler(ctx_t *c, const struct fc_config_node *root, config_owner_t *o) {
        static const char *const keys[] = {"threads", "stack_size"};
        const struct fc_config_node *sec = section(c, root, "scheduler", keys, ELEMENTSOF(keys)), *n;
        uint64_t v;

        if ((n = value(sec, "threads")) && get_uint(c, n, 0, 1024, &v))
                o->pub.scheduler.threads = (uint32_t)v;
        if ((n = value(sec, "stack_size")) && get_with_unit(c, n, &size_kind, 16 * KiB, 256 * MiB, &v))
                o->pub.scheduler.stack_size = v;
}

static bool valid_queue_name(const char *s, size_t len) {
        if (len == 0 || len > 255 || strlen(s) != len)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch <= 0x20 || ch == 0x7f)
                        return false;
        }
        return true;
}

static void parse_queues(ctx_t *c, const struct fc_config_node *root, config_owner_t *o) {
        static const char *const keys[] = {"name", "weight"};
        const struct fc_config_node *list = root ? fc_config_node_get(root, "queues") : NULL;
        const struct fc_config_node **name_nodes = NULL;
        char got[256];

        if (!list || fc_config_node_is_null(list))
                return; /* default: [{name: default, weight: 1}] */
        if (list->type != FC_CONFIG_NODE_SEQUENCE) {
                describe(list, got);
                error_at(c, list, "expected a list of queues (- { name: NAME, weight: N }), got %s", got);
                return;
        }
        if (list->n == 0) {
                error_at(c, list, "expected at least one queue, got an empty list");
                return;
        }
        fc_config_queue_t *queues = calloc(list->n, sizeof(*queues));
        name_nodes = calloc(list->n, sizeof(*name_nodes));
        if (!queues || !name_nodes) {
                free(queues);
                free(name_nodes);
                c->oom = true;
                return;
        }
        /* Replace the default list. */
        for (size_t i = 0; i < o->pub.n_queues; i++)
                free((char *)o->queues[i].name);
        free(o->queues);
        o->queues = queues;
        o->pub.queues = queues;
        o->pub.n_queues = list->n;

        for (size_t i = 0; i < list->n; i++) {
                const struct fc_config_node *item = list->items[i], *name = NULL, *weight = NULL;
                uint64_t w = 1;

                queues[i].weight = 1;
                if (item->type == FC_CONFIG_NODE_SCALAR) {
                        name = item; /* "- critical" is short for { name: critical, weight: 1 } */
                } else if (item->type == FC_CONFIG_NODE_MAPPING) {
                        check_mapping(c, item, keys, ELEMENTSOF(keys));
                        name = fc_config_node_get(item, "name");
                        weight = fc_config_node_get(item, "weight");
                        if (!name)
                                error_at(c, item, "expected a \"name\" key in each queue");
                } else {
                        error_at(c, item, "expected a queue ({ name: NAME, weight: N } or a name), got a list");
                        continue;
                }
                if (weight && get_uint(c, weight, 1, 1000000, &w))
                        queues[i].weight = (uint32_t)w;
                if (!name || is_reported(name))
                        continue;
                if (!is_text(name) || !valid_queue_name(name->scalar, name->scalar_len)) {
                        describe(name, got);
                        error_at(c, name, "expected a queue name of 1 to 255 characters without spaces, got %s",
                                 got);
                        continue;
                }
                for (size_t j = 0; j < i; j++)
                        if (name_nodes[j] && strcmp(name_nodes[j]->scalar, name->scalar) == 0) {
                                char quoted[200];
                                fc__quote(name->scalar, name->scalar_len, quoted);
                                error_at(c, name, "duplicate queue \"%s\" (first given at line %u, column %u)",
                                         quoted, name_nodes[j]->line, name_nodes[j]->column);
                                break;
                        }
                name_nodes[i] = name;
                queues[i].name = strdup(name->scalar);
                if (!queues[i].name)
                        c->oom = true;
        }
        free(name_nodes);
}

static void parse_plugins(ctx_t *c, const struct fc_config_node *root, config_owner_t *o) {
        static const char *const keys[] = {"directory", "load"};
        static const char *const item_keys[] = {"path", "config"};
        const struct fc_config_node *sec = section(c, root, "plugins", keys, ELEMENTSOF(keys)), *n, *list;
        _cleanup_free_ char *text = NULL;
        char got[256];

        if ((n = value(sec, "directory")) && get_path(c, n, false, 4096, &text)) {
                free((char *)o->pub.plugins.directory);
                o->pub.plugins.directory = TAKE_PTR(text);
        }
        list = value(sec, "load");
        if (!list || fc_config_node_is_null(list))
                return;
        if (list->type != FC_CONFIG_NODE_SEQUENCE) {
                describe(list, got);
                error_at(c, list, "expected a list of plugins (- path: NAME.so), got %s", got);
                return;
        }
        if (list->n == 0)
                return;
        o->plugins = calloc(list->n, sizeof(*o->plugins));
        if (!o->plugins) {
                c->oom = true;
                return;
        }
        o->pub.plugins.load = o->plugins;
        for (size_t i = 0; i < list->n; i++) {
                const struct fc_config_node *item = list->items[i], *path = NULL;
                fc_config_plugin_t *p = &o->plugins[o->pub.plugins.n_load];

                p->config = NULL;

                if (item->type == FC_CONFIG_NODE_SCALAR) {
                        path = item; /* "- examples.so" */
                } else if (item->type == FC_CONFIG_NODE_MAPPING) {
                        check_mapping(c, item, item_keys, ELEMENTSOF(item_keys));
                        path = fc_config_node_get(item, "path");
                        if (!path) {
                                error_at(c, item, "expected a \"path\" key in each plugin");
                                continue;
                        }
                        p->config = fc_config_node_get(item, "config");
                } else {
                        error_at(c, item, "expected a plugin (- path: NAME.so), got a list");
                        continue;
                }
                if (!get_text(c, path, "a plugin file name", &text))
                        continue;
                if (!*text) {
                        error_at(c, path, "expected a plugin file name, got nothing");
                        text = mfree(text);
                        continue;
                }
                p->path = TAKE_PTR(text);
                p->line = item->line;
                p->column = item->column;
                o->pub.plugins.n_load++;
        }
}

static void parse_jobs(ctx_t *c, const struct fc_config_node *root, config_owner_t *o) {
        static const char *const keys[] = {"default_timeout", "max_retries", "dead_max_jobs", "dead_timeout",
                                           "max_payload"};
        const struct fc_config_node *sec = section(c, root, "jobs", keys, ELEMENTSOF(keys)), *n;
        uint64_t v;

        if ((n = value(sec, "default_timeout")) && get_with_unit(c, n, &duration_kind, 0, 30 * DAY, &v))
                o->pub.jobs.default_timeout_ms = v;
        if ((n = value(sec, "max_retries")) && get_uint(c, n, 0, 10000, &v))
                o->pub.jobs.max_retries = (uint32_t)v;
        if ((n = value(sec, "dead_max_jobs")) && get_uint(c, n, 0, 100000000, &v))
                o->pub.jobs.dead_max_jobs = (uint32_t)v;
        if ((n = value(sec, "dead_timeout")) && get_with_unit(c, n, &duration_kind, SEC, 3650 * DAY, &v))
                o->pub.jobs.dead_timeout_ms = v;
        if ((n = value(sec, "max_payload")) && get_with_unit(c, n, &size_kind, KiB, 512 * MiB, &v))
                o->pub.jobs.max_payload = v;
}

static void parse_rest(ctx_t *c, const struct fc_config_node *root, config_owner_t *o) {
        static const char *const control_keys[] = {"socket"};
        static const char *const metrics_keys[] = {"listen"};
        static const char *const log_keys[] = {"level"};
        const struct fc_config_node *sec, *n;
        _cleanup_free_ char *text = NULL;
        uint64_t v;
        size_t choice;
        char err[256], got[256];

        if ((n = value(root, "concurrency")) && get_uint(c, n, 1, 1000000, &v))
                o->pub.concurrency = (uint32_t)v;
        if ((n = value(root, "shutdown_timeout")) && get_with_unit(c, n, &duration_kind, 0, HOUR, &v))
                o->pub.shutdown_timeout_ms = v;

        sec = section(c, root, "control", control_keys, ELEMENTSOF(control_keys));
        if ((n = value(sec, "socket")) && get_path(c, n, true, SUN_PATH_MAX, &text)) {
                free((char *)o->pub.control.socket);
                o->pub.control.socket = TAKE_PTR(text);
        }

        sec = section(c, root, "metrics", metrics_keys, ELEMENTSOF(metrics_keys));
        if ((n = value(sec, "listen")) && get_text(c, n, "host:port or \"\"", &text)) {
                if (*text) {
                        char *host = NULL;
                        uint16_t port = 0;
                        int r = fc__parse_listen(text, &host, &port, err, sizeof(err));
                        if (r == -ENOMEM) {
                                c->oom = true;
                        } else if (r < 0) {
                                describe(n, got);
                                error_at(c, n, "%s, got %s", err, got);
                        } else {
                                o->pub.metrics.host = host;
                                o->pub.metrics.port = port;
                        }
                }
                free((char *)o->pub.metrics.listen);
                o->pub.metrics.listen = TAKE_PTR(text);
        }

        sec = section(c, root, "log", log_keys, ELEMENTSOF(log_keys));
        if ((n = value(sec, "level")) && get_choice(c, n, log_levels, ELEMENTSOF(log_levels), &choice))
                o->pub.log.level = (fc_log_level_t)choice;
}

/* ---- defaults, credentials ----------------------------------------------- */

static int set_defaults(config_owner_t *o, const char *path) {
        char err[256];
        int r;

        r = fc__redis_url_parse("redis://127.0.0.1:6379/0", &o->url, err, sizeof(err));
        if (r < 0)
                return r;
        o->queues = calloc(1, sizeof(*o->queues));
        if (!o->queues)
                return -ENOMEM;
        o->queues[0] = (fc_config_queue_t){.name = strdup("default"), .weight = 1};
        o->pub = (fc_config_t){
                .path = strdup(path),
                .redis.prefix = strdup(""),
                .scheduler.threads = 0,
                .scheduler.stack_size = 64 * KiB,
                .concurrency = 1000,
                .queues = o->queues,
                .n_queues = 1,
                .plugins.directory = strdup("/usr/lib/flowcoro/plugins"),
                .jobs.default_timeout_ms = 30 * SEC,
                .jobs.max_retries = 25,
                .jobs.dead_max_jobs = 10000,
                .jobs.dead_timeout_ms = 180 * DAY,
                .jobs.max_payload = 1 * MiB,
                .shutdown_timeout_ms = 25 * SEC,
                .control.socket = strdup("/run/flowcoro/control.sock"),
                .metrics.listen = strdup(""),
                .log.level = FC_LOG_INFO,
        };
        if (!o->pub.path || !o->pub.redis.prefix || !o->queues[0].name || !o->pub.plugins.directory ||
            !o->pub.control.socket || !o->pub.metrics.listen)
                return -ENOMEM;
        return 0;
}

/* Reads a password file: a regular file of at most 4096 bytes, one trailing
 * newline stripped. On error returns a negative errno and a message in err
 * naming the file (never its content). */
static int read_secret(const char *path, char **ret, char *err, size_t err_size) {
        _cleanup_close_ int fd = -1;
        char buf[MAX_SECRET_SIZE + 1];
        struct stat st;
        size_t len = 0;
        int r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                snprintf(err, err_size, "cannot open \"%s\": %s", path, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(err, err_size, "\"%s\" is not a regular file", path);
                return -EINVAL;
        }
        while (len < sizeof(buf)) {
                ssize_t k = read(fd, buf + len, sizeof(buf) - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        snprintf(err, err_size, "cannot read \"%s\": %s", path, strerror(-r));
                        goto out;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        if (len > MAX_SECRET_SIZE) {
                snprintf(err, err_size, "\"%s\" is larger than %d bytes; it should hold only the password", path,
                         MAX_SECRET_SIZE);
                r = -EFBIG;
                goto out;
        }
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        if (len > 0 && buf[len - 1] == '\r')
                len--;
        if (len == 0) {
                snprintf(err, err_size, "\"%s\" is empty; it should hold the password", path);
                r = -ENODATA;
                goto out;
        }
        if (memchr(buf, '\0', len)) {
                snprintf(err, err_size, "\"%s\" contains a NUL byte; it should hold only the password", path);
                r = -EINVAL;
                goto out;
        }
        *ret = strndup(buf, len);
        if (!*ret)
                r = -ENOMEM;
out:
        explicit_bzero(buf, sizeof(buf));
        return r;
}

/* The password: systemd's credential $CREDENTIALS_DIRECTORY/redis-password
 * when it exists and is not empty (the unit passes it on purpose; an empty
 * one is the unit's SetCredential= fallback for a missing file), else
 * redis.password_file, else the one in the URL. */
static void find_password(ctx_t *c, const struct fc_config_node *root, config_owner_t *o) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        _cleanup_free_ char *credential = NULL;
        char err[512];
        struct stat st;
        int r;

        if (dir && *dir) {
                if (asprintf(&credential, "%s/%s", dir, CREDENTIAL_NAME) < 0) {
                        credential = NULL;
                        c->oom = true;
                        return;
                }
                if (stat(credential, &st) < 0 && errno == ENOENT)
                        credential = mfree(credential);
        }
        if (credential) {
                r = read_secret(credential, &o->password, err, sizeof(err));
                if (r == -ENODATA)
                        credential = mfree(credential);
                else if (r == -ENOMEM)
                        c->oom = true;
                else if (r < 0 && fc__errors_addf(c->errors, c->file, 0, 0, "redis",
                                                  "systemd credential: %s", err) < 0)
                        c->oom = true;
                if (r == 0 && !set_string(c, &o->pub.redis.password_from, credential))
                        return;
        }
        if (!credential && o->pub.redis.password_file) {
                const struct fc_config_node *n = fc_config_node_get(fc_config_node_get(root, "redis"),
                                                                    "password_file");
                r = read_secret(o->pub.redis.password_file, &o->password, err, sizeof(err));
                if (r == -ENOMEM)
                        c->oom = true;
                else if (r < 0)
                        error_at(c, n, "%s", err);
                if (r == 0 && !set_string(c, &o->pub.redis.password_from, o->pub.redis.password_file))
                        return;
        } else if (!credential && o->url.password) {
                if (!set_string(c, &o->pub.redis.password_from, "url"))
                        return;
        }
        o->pub.redis.password = o->password ? o->password : o->url.password;
}

/* ---- load, free ------------------------------------------------------------ */

void fc_config_free(fc_config_t *config) {
        config_owner_t *o = (config_owner_t *)config;

        if (!o)
                return;
        if (o->password) {
                explicit_bzero(o->password, strlen(o->password));
                free(o->password);
        }
        fc__redis_url_clear(&o->url);
        free((char *)o->pub.path);
        free((char *)o->pub.redis.password_from);
        free((char *)o->pub.redis.password_file);
        free((char *)o->pub.redis.prefix);
        if (o->queues)
                for (size_t i = 0; i < o->pub.n_queues; i++)
                        free((char *)o->queues[i].name);
        free(o->queues);
        if (o->plugins)
                for (size_t i = 0; i < o->pub.plugins.n_load; i++) {
                        free((char *)o->plugins[i].path);
                        free((char *)o->plugins[i].resolved_path);
                }
        free(o->plugins);
        free((char *)o->pub.plugins.directory);
        free((char *)o->pub.control.socket);
        free((char *)o->pub.metrics.listen);
        free((char *)o->pub.metrics.host);
        fc__node_free(o->root);
        free(o);
}

/* Joins relative plugin paths with the directory and rejects a plugin
 * listed twice. Runs after the directory is known. */
static void resolve_plugins(ctx_t *c, config_owner_t *o) {
        for (size_t i = 0; i < o->pub.plugins.n_load; i++) {
                fc_config_plugin_t *p = &o->plugins[i];
                char *s;
                int r = p->path[0] == '/' ? asprintf(&s, "%s", p->path)
                                          : asprintf(&s, "%s/%s", o->pub.plugins.directory, p->path);
                if (r < 0) {
                        c->oom = true;
                        return;
                }
                p->resolved_path = s;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(o->plugins[j].resolved_path, s) == 0) {
                                char quoted[200];
                                fc__quote(s, strlen(s), quoted);
                                if (fc__errors_addf(c->errors, c->file, p->line, p->column, "plugins.load",
                                                    "plugin \"%s\" is listed twice (first at line %u, column %u)",
                                                    quoted, o->plugins[j].line, o->plugins[j].column) < 0)
                                        c->oom = true;
                                break;
                        }
        }
}

static const char *const top_keys[] = {"redis",    "scheduler",        "concurrency", "queues", "plugins",
                                       "jobs",     "shutdown_timeout", "control",     "metrics", "log"};

int fc_config_load_data(const char *name, const void *data, size_t size, fc_config_t **ret,
                        fc_config_errors_t **errors) {
        _cleanup_config_errors_ fc_config_errors_t *errs = NULL;
        _cleanup_config_ fc_config_t *config = NULL;
        config_owner_t *o;
        ctx_t c = {.file = name};
        int r;

        if (ret)
                *ret = NULL;
        if (errors)
                *errors = NULL;
        if (!name || (!data && size > 0) || !ret)
                return -EINVAL;
        errs = fc_config_errors_new();
        o = calloc(1, sizeof(*o));
        if (!errs || !o) {
                free(o);
                return -ENOMEM;
        }
        config = &o->pub;
        c.errors = errs;
        r = set_defaults(o, name);
        if (r < 0)
                return r;

        r = fc__node_parse(name, data, size, errs, &o->root);
        if (r == -ENOMEM || fc__errors_lost(errs))
                return -ENOMEM;
        if (r == 0) {
                const struct fc_config_node *root = o->root;
                if (root && fc_config_node_is_null(root))
                        root = NULL; /* a file holding only "~" */
                if (root && root->type != FC_CONFIG_NODE_MAPPING) {
                        char got[256];
                        describe(root, got);
                        error_at(&c, root, "expected settings as key: value lines at the top of the file, got %s",
                                 got);
                        root = NULL;
                } else if (root) {
                        check_mapping(&c, root, top_keys, ELEMENTSOF(top_keys));
                }
                parse_redis(&c, root, o);
                parse_scheduler(&c, root, o);
                parse_queues(&c, root, o);
                parse_plugins(&c, root, o);
                parse_jobs(&c, root, o);
                parse_rest(&c, root, o);
                resolve_plugins(&c, o);
                find_password(&c, root, o);
                o->pub.redis.url = o->url.masked;
                o->pub.redis.transport = o->url.transport;
                o->pub.redis.host = o->url.host;
                o->pub.redis.port = o->url.port;
                o->pub.redis.socket_path = o->url.socket_path;
                o->pub.redis.db = o->url.db;
                o->pub.redis.username = o->url.username;
        }
        if (c.oom || fc__errors_lost(errs))
                return -ENOMEM;
        if (fc_config_errors_count(errs) > 0) {
                fc__errors_sort(errs);
                if (errors)
                        *errors = TAKE_PTR(errs);
                return -EINVAL;
        }
        *ret = TAKE_PTR(config);
        return 0;
}

int fc_config_load(const char *path, fc_config_t **ret, fc_config_errors_t **errors) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t size = 0;
        int r;

        if (ret)
                *ret = NULL;
        if (errors)
                *errors = NULL;
        if (!path || !ret)
                return -EINVAL;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                goto fail;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                goto fail;
        }
        if (!S_ISREG(st.st_mode)) {
                r = -EINVAL;
                goto fail;
        }
        if ((uint64_t)st.st_size > MAX_FILE_SIZE) {
                r = -EFBIG;
                goto fail;
        }
        data = malloc((size_t)st.st_size + 1);
        if (!data)
                return -ENOMEM;
        /* Read to the end even if the file grew meanwhile, up to the limit. */
        for (;;) {
                ssize_t k = read(fd, data + size, (size_t)st.st_size + 1 - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (k == 0)
                        break;
                size += (size_t)k;
                if (size == (size_t)st.st_size + 1) {
                        r = -EFBIG; /* grew while being read: an editor is still writing it */
                        goto fail;
                }
        }
        return fc_config_load_data(path, data, size, ret, errors);

fail:
        if (errors) {
                fc_config_errors_t *e = fc_config_errors_new();
                if (!e)
                        return -ENOMEM;
                const char *why = r == -EFBIG   ? "it is larger than 16 MiB or still being written"
                                  : r == -EINVAL ? "it is not a regular file"
                                                 : strerror(-r);
                if (fc__errors_addf(e, path, 0, 0, NULL, "cannot read the configuration file: %s", why) < 0) {
                        fc_config_errors_free(e);
                        return -ENOMEM;
                }
                *errors = e;
        }
        return r;
}

int fc_config_reload(const fc_config_t *running, fc_config_t **ret, fc_config_errors_t **errors) {
        if (ret)
                *ret = NULL;
        if (errors)
                *errors = NULL;
        if (!running || !ret)
                return -EINVAL;
        /* running->path is only read; the new configuration gets its own copy. */
        return fc_config_load(running->path, ret, errors);
}

/* ---- reload comparison ---------------------------------------------------- */

static bool str_differs(const char *a, const char *b) {
        if (!a || !b)
                return a != b;
        return strcmp(a, b) != 0;
}

size_t fc_config_restart_keys(const fc_config_t *a, const fc_config_t *b,
                              const char *keys[FC_CONFIG_RESTART_KEYS_MAX]) {
        size_t n = 0;

        /* The masked URL shows every part but the password, which is compared
         * on its own below. */
        if (str_differs(a->redis.url, b->redis.url))
                keys[n++] = "redis.url";
        if (str_differs(a->redis.password, b->redis.password))
                keys[n++] = "redis.password";
        if (str_differs(a->redis.prefix, b->redis.prefix))
                keys[n++] = "redis.prefix";
        if (a->scheduler.threads != b->scheduler.threads)
                keys[n++] = "scheduler.threads";
        if (a->scheduler.stack_size != b->scheduler.stack_size)
                keys[n++] = "scheduler.stack_size";
        if (str_differs(a->control.socket, b->control.socket))
                keys[n++] = "control.socket";
        if (str_differs(a->metrics.listen, b->metrics.listen))
                keys[n++] = "metrics.listen";
        return n;
}
