/* The error list: every problem of a file, in file order. */
#include "config-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"

struct fc_config_errors {
        fc_config_error_t *items;
        size_t n, allocated;
        bool lost; /* an error could not be recorded (out of memory) */
};

fc_config_errors_t *fc_config_errors_new(void) {
        return calloc(1, sizeof(fc_config_errors_t));
}

static void error_clear(fc_config_error_t *e) {
        free((char *)e->file);
        free((char *)e->key);
        free((char *)e->message);
        free((char *)e->text);
}

void fc_config_errors_free(fc_config_errors_t *errors) {
        if (!errors)
                return;
        for (size_t i = 0; i < errors->n; i++)
                error_clear(&errors->items[i]);
        free(errors->items);
        free(errors);
}

size_t fc_config_errors_count(const fc_config_errors_t *errors) {
        return errors ? errors->n : 0;
}

const fc_config_error_t *fc_config_errors_get(const fc_config_errors_t *errors, size_t i) {
        if (!errors || i >= errors->n)
                return NULL;
        return &errors->items[i];
}

int fc_config_errors_print(const fc_config_errors_t *errors, FILE *out) {
        size_t n = fc_config_errors_count(errors);

        for (size_t i = 0; i < n; i++)
                if (fprintf(out, "%s\n", errors->items[i].text) < 0)
                        return -EIO;
        if (fflush(out) != 0)
                return -EIO;
        return (int)n;
}

bool fc__errors_lost(const fc_config_errors_t *errors) {
        return errors && errors->lost;
}

int fc__errors_addv(fc_config_errors_t *errors, const char *file, unsigned line, unsigned column,
                    const char *key, const char *format, va_list ap) {
        _cleanup_free_ char *message = NULL, *text = NULL, *file_copy = NULL, *key_copy = NULL;
        char position[64] = "";

        if (!key)
                key = "";
        if (!file)
                file = "";
        if (vasprintf(&message, format, ap) < 0) {
                message = NULL;
                goto oom;
        }
        if (line > 0)
                snprintf(position, sizeof(position), ":%u:%u", line, column);
        if (asprintf(&text, "%s%s: %s%s%s", file, position, key, *key ? ": " : "", message) < 0) {
                text = NULL;
                goto oom;
        }
        file_copy = strdup(file);
        key_copy = strdup(key);
        if (!file_copy || !key_copy)
                goto oom;
        if (errors->n == errors->allocated) {
                size_t allocated = errors->allocated ? errors->allocated * 2 : 8;
                fc_config_error_t *items = reallocarray(errors->items, allocated, sizeof(*items));
                if (!items)
                        goto oom;
                errors->items = items;
                errors->allocated = allocated;
        }
        errors->items[errors->n++] = (fc_config_error_t){
                .file = TAKE_PTR(file_copy),
                .line = line,
                .column = column,
                .key = TAKE_PTR(key_copy),
                .message = TAKE_PTR(message),
                .text = TAKE_PTR(text),
        };
        return 0;
oom:
        errors->lost = true;
        return -ENOMEM;
}

int fc__errors_addf(fc_config_errors_t *errors, const char *file, unsigned line, unsigned column,
                    const char *key, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = fc__errors_addv(errors, file, line, column, key, format, ap);
        va_end(ap);
        return r;
}

int fc_config_errors_add(fc_config_errors_t *errors, const fc_config_node_t *node, const char *format, ...) {
        va_list ap;
        int r;

        if (!errors || !node || !format)
                return -EINVAL;
        va_start(ap, format);
        r = fc__errors_addv(errors, node->file, node->line, node->column, node->path, format, ap);
        va_end(ap);
        return r;
}

int fc_config_errors_addv(fc_config_errors_t *errors, const fc_config_node_t *node, const char *format,
                          va_list ap) {
        if (!errors || !node || !format)
                return -EINVAL;
        return fc__errors_addv(errors, node->file, node->line, node->column, node->path, format, ap);
}

int fc_config_errors_add_at(fc_config_errors_t *errors, const char *file, unsigned line, unsigned column,
                            const char *key, const char *format, ...) {
        va_list ap;
        int r;

        if (!errors || !file || !format)
                return -EINVAL;
        va_start(ap, format);
        r = fc__errors_addv(errors, file, line, column, key ? key : "", format, ap);
        va_end(ap);
        return r;
}

/* Insertion sort: stable, and lists are short. */
void fc__errors_sort(fc_config_errors_t *errors) {
        for (size_t i = 1; i < errors->n; i++) {
                fc_config_error_t e = errors->items[i];
                size_t j = i;
                while (j > 0 && (errors->items[j - 1].line > e.line ||
                                 (errors->items[j - 1].line == e.line && errors->items[j - 1].column > e.column))) {
                        errors->items[j] = errors->items[j - 1];
                        j--;
                }
                errors->items[j] = e;
        }
}

void fc__quote(const char *text, size_t len, char buf[static 200]) {
        static const size_t max_shown = 48;
        size_t o = 0;

        for (size_t i = 0; i < len && i < max_shown; i++) {
                unsigned char c = (unsigned char)text[i];
                if (c == '"' || c == '\\') {
                        buf[o++] = '\\';
                        buf[o++] = (char)c;
                } else if (c < 0x20 || c == 0x7f) {
                        o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
                } else {
                        buf[o++] = (char)c; /* UTF-8 bytes pass through */
                }
        }
        if (len > max_shown) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = '\0';
}

size_t fc__edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        size_t row[65];

        /* Long words are never close to our short key names. */
        if (la > 64 || lb > 64)
                return la > lb ? la : lb;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        int ca = a[i - 1], cb = b[j - 1];
                        if (ca >= 'A' && ca <= 'Z')
                                ca += 'a' - 'A';
                        if (cb >= 'A' && cb <= 'Z')
                                cb += 'a' - 'A';
                        size_t best = diag + (ca != cb);
                        if (up + 1 < best)
                                best = up + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        return row[lb];
}

const char *fc__suggest(const char *word, const char *const *candidates, size_t n) {
        const char *best = NULL;
        size_t best_distance = SIZE_MAX;

        for (size_t i = 0; i < n; i++) {
                size_t d = fc__edit_distance(word, candidates[i]);
                if (d < best_distance) {
                        best_distance = d;
                        best = candidates[i];
                }
        }
        if (!best)
                return NULL;
        /* A shortened word ("warn" for "warning") is close whatever the distance. */
        size_t word_len = strlen(word);
        if (word_len >= 3)
                for (size_t i = 0; i < n; i++)
                        if (strncasecmp(candidates[i], word, word_len) == 0)
                                return candidates[i];
        /* Close enough: at most 2 edits, or a third of the word for long words. */
        size_t len = strlen(best), limit = len >= 9 ? len / 3 : 2;
        if (best_distance > limit || best_distance >= len)
                return NULL;
        return best;
}
