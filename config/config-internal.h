/* Internal to config/: the node tree built from libyaml events, the error
 * list's adders, and the value parsers shared by the modules. */
#ifndef FC_CONFIG_INTERNAL_H
#define FC_CONFIG_INTERNAL_H

#include "flowcoro/config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* How deep YAML may nest before the file is rejected: deep enough for any
 * real configuration, shallow enough that recursion over the tree is safe. */
#define FC__NODE_MAX_DEPTH 64

struct fc_config_node {
        fc_config_node_type_t type;
        unsigned line, column; /* from 1 */
        const char *file;      /* borrowed from the owning document */
        char *path;            /* dotted key path, "" for the root */
        char *scalar;          /* SCALAR: text, NUL-terminated; a "\0" in it is reported and
                                  the node marked is_bad */
        size_t scalar_len;     /* SCALAR: length without the terminator */
        bool is_plain;         /* SCALAR: written without quotes (null detection) */
        bool is_bad;           /* SCALAR: already reported (holds a NUL); validators skip it */
        size_t n;              /* SEQUENCE: items; MAPPING: pairs */
        struct fc_config_node **items; /* SEQUENCE items, or MAPPING values */
        struct fc_config_node **keys;  /* MAPPING keys (scalars), else NULL */
};

/* Parses a whole YAML stream into a tree. Returns 0 and sets *ret (NULL for
 * an empty stream); returns -EINVAL after adding syntax errors to errors,
 * or -ENOMEM. Duplicate keys are reported and the later pair is dropped, so
 * the tree stays usable. */
int fc__node_parse(const char *file, const void *data, size_t size, fc_config_errors_t *errors,
                   struct fc_config_node **ret);
void fc__node_free(struct fc_config_node *node);

/* Adds an error. line/column 0 = no position; key may be NULL or "". The
 * message must not contain a secret. Returns 0 or -ENOMEM (the list then
 * remembers that it is incomplete). */
int fc__errors_addf(fc_config_errors_t *errors, const char *file, unsigned line, unsigned column,
                    const char *key, const char *format, ...) __attribute__((format(printf, 6, 7)));
int fc__errors_addv(fc_config_errors_t *errors, const char *file, unsigned line, unsigned column,
                    const char *key, const char *format, va_list ap) __attribute__((format(printf, 6, 0)));
/* Sorts by line, then column (stable), for file order. */
void fc__errors_sort(fc_config_errors_t *errors);
/* True when an error could not be recorded for lack of memory. */
bool fc__errors_lost(const fc_config_errors_t *errors);

/* Writes text quoted for a message into buf: at most 48 bytes of it (196 bytes out at most),
 * non-printable bytes as \xNN, '"' and '\' escaped, "..." when cut. */
void fc__quote(const char *text, size_t len, char buf[static 200]);

/* Edit distance (case-insensitive Levenshtein). */
size_t fc__edit_distance(const char *a, const char *b);
/* The candidate closest to word when close enough to suggest, else NULL. */
const char *fc__suggest(const char *word, const char *const *candidates, size_t n);

/* Parses a whole decimal number (digits only) into *ret. -EINVAL / -ERANGE. */
int fc__parse_uint(const char *text, uint64_t max, uint64_t *ret);

/* Redis URL, parsed. Strings are malloc'd; fc__redis_url_clear() frees them
 * (and wipes the password). */
typedef struct fc__redis_url {
        fc_redis_transport_t transport;
        char *host;
        uint16_t port;
        char *socket_path;
        uint32_t db;
        char *username;
        char *password;
        char *masked; /* the URL with the password replaced by "***" */
} fc__redis_url_t;

/* Parses text as a redis:// or unix:// URL. Returns 0, -ENOMEM, or -EINVAL
 * with a message in err (what was expected; never the password). */
int fc__redis_url_parse(const char *text, fc__redis_url_t *ret, char *err, size_t err_size);
void fc__redis_url_clear(fc__redis_url_t *url);

/* Parses "host:port" / "[v6]:port". Returns 0 or -EINVAL with a message. */
int fc__parse_listen(const char *text, char **ret_host, uint16_t *ret_port, char *err, size_t err_size);

#endif
