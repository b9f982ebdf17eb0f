/* The generic node tree: libyaml's events turned into mappings, sequences
 * and scalars that remember where they were written. The typed schema in
 * config.c and, later, each plugin validate from this tree. */
#include "config-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cleanup.h"

typedef struct tree_parser {
        yaml_parser_t yaml;
        const char *file;
        const unsigned char *data;
        size_t size;
        fc_config_errors_t *errors;
        bool failed; /* a syntax error was reported: stop */
} tree_parser_t;

void fc__node_free(struct fc_config_node *node) {
        if (!node)
                return;
        for (size_t i = 0; i < node->n; i++) {
                fc__node_free(node->items[i]);
                if (node->keys)
                        fc__node_free(node->keys[i]);
        }
        free(node->items);
        free(node->keys);
        free(node->scalar);
        free(node->path);
        free(node);
}

static struct fc_config_node *node_new(tree_parser_t *p, fc_config_node_type_t type, yaml_mark_t mark,
                                       const char *path) {
        struct fc_config_node *n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->type = type;
        n->line = (unsigned)mark.line + 1;
        n->column = (unsigned)mark.column + 1;
        n->file = p->file;
        n->path = strdup(path);
        if (!n->path) {
                free(n);
                return NULL;
        }
        return n;
}

/* Position of a byte offset, for reader errors (bad UTF-8) that carry only
 * an offset. Columns count characters, as libyaml's do. */
static void offset_position(const tree_parser_t *p, size_t offset, unsigned *line, unsigned *column) {
        *line = 1;
        *column = 1;
        for (size_t i = 0; i < offset && i < p->size; i++) {
                if (p->data[i] == '\n') {
                        (*line)++;
                        *column = 1;
                } else if ((p->data[i] & 0xc0) != 0x80) {
                        (*column)++;
                }
        }
}

static int syntax_error(tree_parser_t *p) {
        yaml_parser_t *y = &p->yaml;
        unsigned line, column;
        const char *problem = y->problem ? y->problem : "unknown error";

        if (y->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        p->failed = true;
        if (y->error == YAML_READER_ERROR) {
                offset_position(p, y->problem_offset, &line, &column);
                if (y->problem_value != -1)
                        return fc__errors_addf(p->errors, p->file, line, column, NULL,
                                               "YAML syntax error: %s (byte 0x%02x); the file must be UTF-8 text",
                                               problem, (unsigned)y->problem_value & 0xffu) < 0 ? -ENOMEM : -EINVAL;
                return fc__errors_addf(p->errors, p->file, line, column, NULL,
                                       "YAML syntax error: %s; the file must be UTF-8 text", problem) < 0
                               ? -ENOMEM
                               : -EINVAL;
        }
        line = (unsigned)y->problem_mark.line + 1;
        column = (unsigned)y->problem_mark.column + 1;
        if (y->context)
                return fc__errors_addf(p->errors, p->file, line, column, NULL,
                                       "YAML syntax error: %s %s (which starts at line %u, column %u)", problem,
                                       y->context, (unsigned)y->context_mark.line + 1,
                                       (unsigned)y->context_mark.column + 1) < 0
                               ? -ENOMEM
                               : -EINVAL;
        return fc__errors_addf(p->errors, p->file, line, column, NULL, "YAML syntax error: %s", problem) < 0
                       ? -ENOMEM
                       : -EINVAL;
}

static int next_event(tree_parser_t *p, yaml_event_t *event) {
        if (!yaml_parser_parse(&p->yaml, event))
                return syntax_error(p);
        return 0;
}

static int append(struct fc_config_node *parent, struct fc_config_node *key, struct fc_config_node *value,
                  size_t *allocated) {
        if (parent->n == *allocated) {
                size_t a = *allocated ? *allocated * 2 : 4;
                struct fc_config_node **items = reallocarray(parent->items, a, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                parent->items = items;
                if (parent->type == FC_CONFIG_NODE_MAPPING) {
                        struct fc_config_node **keys = reallocarray(parent->keys, a, sizeof(*keys));
                        if (!keys)
                                return -ENOMEM;
                        parent->keys = keys;
                }
                *allocated = a;
        }
        parent->items[parent->n] = value;
        if (parent->keys)
                parent->keys[parent->n] = key;
        parent->n++;
        return 0;
}

static int parse_node(tree_parser_t *p, yaml_event_t *event, const char *path, unsigned depth,
                      struct fc_config_node **ret);

static char *child_path(const char *parent, const struct fc_config_node *key, size_t index) {
        char *s = NULL;
        int r;

        if (key)
                r = *parent ? asprintf(&s, "%s.%s", parent, key->scalar) : asprintf(&s, "%s", key->scalar);
        else
                r = asprintf(&s, "%s[%zu]", parent, index);
        return r < 0 ? NULL : s;
}

static struct fc_config_node *find_key(const struct fc_config_node *map, const struct fc_config_node *key) {
        for (size_t i = 0; i < map->n; i++)
                if (map->keys[i]->scalar_len == key->scalar_len &&
                    memcmp(map->keys[i]->scalar, key->scalar, key->scalar_len) == 0)
                        return map->keys[i];
        return NULL;
}

/* Parses the children of a collection whose start event was just read,
 * up to and including its end event. */
static int parse_children(tree_parser_t *p, struct fc_config_node *n, unsigned depth) {
        size_t allocated = 0;
        int r;

        for (;;) {
                yaml_event_t event;
                _cleanup_free_ char *path = NULL;
                struct fc_config_node *key = NULL, *value = NULL;

                r = next_event(p, &event);
                if (r < 0)
                        return r;
                if (event.type == YAML_SEQUENCE_END_EVENT || event.type == YAML_MAPPING_END_EVENT) {
                        yaml_event_delete(&event);
                        return 0;
                }
                if (n->type == FC_CONFIG_NODE_MAPPING) {
                        r = parse_node(p, &event, n->path, depth + 1, &key);
                        if (r < 0)
                                return r;
                        if (key->type == FC_CONFIG_NODE_SCALAR && key->is_bad) {
                                fc__node_free(key);
                                key = NULL;
                        } else if (key->type != FC_CONFIG_NODE_SCALAR) {
                                r = fc__errors_addf(p->errors, p->file, key->line, key->column, n->path,
                                                    "expected a plain key (text), got a %s",
                                                    key->type == FC_CONFIG_NODE_MAPPING ? "mapping" : "sequence");
                                fc__node_free(key);
                                if (r < 0)
                                        return r;
                                key = NULL;
                        }
                        r = next_event(p, &event);
                        if (r < 0) {
                                fc__node_free(key);
                                return r;
                        }
                }
                path = child_path(n->path, key, n->n);
                if (!path) {
                        yaml_event_delete(&event);
                        fc__node_free(key);
                        return -ENOMEM;
                }
                r = parse_node(p, &event, path, depth + 1, &value);
                if (r < 0) {
                        fc__node_free(key);
                        return r;
                }
                if (n->type == FC_CONFIG_NODE_MAPPING) {
                        const struct fc_config_node *first = key ? find_key(n, key) : NULL;
                        if (!key || first) {
                                r = 0;
                                if (first) {
                                        char quoted[200];
                                        fc__quote(key->scalar, key->scalar_len, quoted);
                                        r = fc__errors_addf(p->errors, p->file, key->line, key->column, n->path,
                                                            "duplicate key \"%s\" (first given at line %u, column %u)",
                                                            quoted, first->line, first->column);
                                }
                                /* Keep the first pair; drop this one but go on looking for errors. */
                                fc__node_free(key);
                                fc__node_free(value);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                }
                r = append(n, key, value, &allocated);
                if (r < 0) {
                        fc__node_free(key);
                        fc__node_free(value);
                        return r;
                }
        }
}

/* Builds the node that starts with event (which this function consumes). */
static int parse_node(tree_parser_t *p, yaml_event_t *event, const char *path, unsigned depth,
                      struct fc_config_node **ret) {
        struct fc_config_node *n = NULL;
        yaml_mark_t mark = event->start_mark;
        int r;

        *ret = NULL;
        switch (event->type) {
        case YAML_SCALAR_EVENT:
                n = node_new(p, FC_CONFIG_NODE_SCALAR, mark, path);
                if (n) {
                        n->scalar_len = event->data.scalar.length;
                        n->scalar = malloc(n->scalar_len + 1);
                        if (n->scalar) {
                                memcpy(n->scalar, event->data.scalar.value, n->scalar_len);
                                n->scalar[n->scalar_len] = '\0';
                        }
                        n->is_plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                }
                yaml_event_delete(event);
                if (!n || !n->scalar) {
                        fc__node_free(n);
                        return -ENOMEM;
                }
                /* A "\0" escape would cut the text short for every C caller
                 * (plugins included): report it once, here. */
                if (strlen(n->scalar) != n->scalar_len) {
                        n->is_bad = true;
                        r = fc__errors_addf(p->errors, p->file, n->line, n->column, path,
                                            "expected text without NUL characters");
                        if (r < 0) {
                                fc__node_free(n);
                                return r;
                        }
                }
                *ret = n;
                return 0;
        case YAML_ALIAS_EVENT: {
                char quoted[200];
                const char *anchor = (const char *)event->data.alias.anchor;
                fc__quote(anchor, strlen(anchor), quoted);
                yaml_event_delete(event);
                /* Expanding aliases invites "billion laughs" files; a
                 * configuration this small never needs them. */
                r = fc__errors_addf(p->errors, p->file, (unsigned)mark.line + 1, (unsigned)mark.column + 1, path,
                                    "aliases (*%s) are not supported; write the value out", quoted);
                if (r < 0)
                        return r;
                p->failed = true;
                return -EINVAL;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
                n = node_new(p,
                             event->type == YAML_SEQUENCE_START_EVENT ? FC_CONFIG_NODE_SEQUENCE
                                                                      : FC_CONFIG_NODE_MAPPING,
                             mark, path);
                yaml_event_delete(event);
                if (!n)
                        return -ENOMEM;
                if (depth >= FC__NODE_MAX_DEPTH) {
                        fc__node_free(n);
                        r = fc__errors_addf(p->errors, p->file, (unsigned)mark.line + 1, (unsigned)mark.column + 1,
                                            NULL, "nested more than %d levels deep", FC__NODE_MAX_DEPTH);
                        p->failed = true;
                        return r < 0 ? r : -EINVAL;
                }
                r = parse_children(p, n, depth);
                if (r < 0) {
                        fc__node_free(n);
                        return r;
                }
                *ret = n;
                return 0;
        default:
                /* The parser guarantees node events here. */
                yaml_event_delete(event);
                p->failed = true;
                return fc__errors_addf(p->errors, p->file, (unsigned)mark.line + 1, (unsigned)mark.column + 1,
                                       NULL, "YAML syntax error: unexpected event") < 0 ? -ENOMEM : -EINVAL;
        }
}

int fc__node_parse(const char *file, const void *data, size_t size, fc_config_errors_t *errors,
                   struct fc_config_node **ret) {
        tree_parser_t p = {.file = file, .data = data, .size = size, .errors = errors};
        struct fc_config_node *root = NULL;
        yaml_event_t event;
        int r;

        *ret = NULL;
        if (!yaml_parser_initialize(&p.yaml))
                return -ENOMEM;
        /* libyaml asserts a non-NULL input, also for an empty one. */
        yaml_parser_set_input_string(&p.yaml, size > 0 ? data : (const unsigned char *)"", size);

        for (;;) {
                r = next_event(&p, &event);
                if (r < 0)
                        goto finish;
                yaml_event_type_t type = event.type;
                yaml_mark_t mark = event.start_mark;
                if (type == YAML_STREAM_END_EVENT) {
                        yaml_event_delete(&event);
                        break;
                }
                if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_END_EVENT) {
                        yaml_event_delete(&event);
                        continue;
                }
                if (type == YAML_DOCUMENT_START_EVENT) {
                        yaml_event_delete(&event);
                        if (root) {
                                r = fc__errors_addf(errors, file, (unsigned)mark.line + 1, (unsigned)mark.column + 1,
                                                    NULL, "expected one YAML document, found a second one");
                                r = r < 0 ? r : -EINVAL;
                                goto finish;
                        }
                        r = next_event(&p, &event);
                        if (r < 0)
                                goto finish;
                        r = parse_node(&p, &event, "", 0, &root);
                        if (r < 0)
                                goto finish;
                        continue;
                }
                yaml_event_delete(&event);
        }
        r = 0;
finish:
        yaml_parser_delete(&p.yaml);
        if (r < 0) {
                fc__node_free(root);
                return r;
        }
        *ret = root;
        return 0;
}

/* ---- public accessors -------------------------------------------------- */

fc_config_node_type_t fc_config_node_type(const fc_config_node_t *node) {
        return node->type;
}

unsigned fc_config_node_line(const fc_config_node_t *node) {
        return node->line;
}

unsigned fc_config_node_column(const fc_config_node_t *node) {
        return node->column;
}

const char *fc_config_node_path(const fc_config_node_t *node) {
        return node->path;
}

const char *fc_config_node_scalar(const fc_config_node_t *node) {
        return node->type == FC_CONFIG_NODE_SCALAR ? node->scalar : NULL;
}

bool fc_config_node_is_null(const fc_config_node_t *node) {
        static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

        if (node->type != FC_CONFIG_NODE_SCALAR || !node->is_plain)
                return false;
        for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
                if (strcmp(node->scalar, nulls[i]) == 0 && strlen(nulls[i]) == node->scalar_len)
                        return true;
        return false;
}

size_t fc_config_node_count(const fc_config_node_t *node) {
        return node->type == FC_CONFIG_NODE_SCALAR ? 0 : node->n;
}

const fc_config_node_t *fc_config_node_item(const fc_config_node_t *node, size_t i) {
        if (node->type == FC_CONFIG_NODE_SCALAR || i >= node->n)
                return NULL;
        return node->items[i];
}

const char *fc_config_node_key(const fc_config_node_t *node, size_t i) {
        if (node->type != FC_CONFIG_NODE_MAPPING || i >= node->n)
                return NULL;
        return node->keys[i]->scalar;
}

const fc_config_node_t *fc_config_node_get(const fc_config_node_t *node, const char *key) {
        size_t len = strlen(key);

        if (node->type != FC_CONFIG_NODE_MAPPING)
                return NULL;
        for (size_t i = 0; i < node->n; i++)
                if (node->keys[i]->scalar_len == len && memcmp(node->keys[i]->scalar, key, len) == 0)
                        return node->items[i];
        return NULL;
}
