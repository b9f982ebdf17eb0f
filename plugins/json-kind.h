/* The kind of a JSON value in words, for messages that say what was
 * expected and what came ("\"args\" must be an array, got a string").
 * Header-only, for the bundled plugins and the daemon's payload checks. */
#ifndef FC_JSON_KIND_H
#define FC_JSON_KIND_H

#include <jansson.h>

static inline const char *fc_json_kind(const json_t *v) {
        switch (v ? json_typeof(v) : JSON_NULL) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
        case JSON_REAL:
                return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        default:
                return "null";
        }
}

#endif
