/* The dead-set entry for an invalid payload (see invalid.h); moved from
 * engine.c so that tests/fuzz/fuzz-invalid.c can reach it. */
#include "invalid.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "job.h"

static const char base64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *base64_string(const unsigned char *p, size_t n) {
        size_t len = (n + 2) / 3 * 4;
        char *out = malloc(len + 1), *o = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                             (i + 2 < n ? p[i + 2] : 0);
                *o++ = base64_chars[v >> 18 & 63];
                *o++ = base64_chars[v >> 12 & 63];
                *o++ = i + 1 < n ? base64_chars[v >> 6 & 63] : '=';
                *o++ = i + 2 < n ? base64_chars[v & 63] : '=';
        }
        *o = '\0';
        json_t *s = json_stringn(out, len);
        free(out);
        return s;
}

char *fc_invalid_job_entry(const char *queue, const char *payload, size_t len, const char *why, double now) {
        char jid[25];
        json_t *o = json_object();
        if (!o || fc_job_new_jid(jid) < 0) {
                json_decref(o);
                return NULL;
        }
        json_t *raw = json_stringn(payload, len);
        json_object_set_new(o, "class", json_string("FlowCoro::InvalidJob"));
        json_object_set_new(o, "args", json_array());
        json_object_set_new(o, "queue", json_string(queue));
        json_object_set_new(o, "jid", json_string(jid));
        json_object_set_new(o, "retry", json_false());
        json_object_set_new(o, "error_class", json_string("FlowCoro::InvalidJob"));
        /* A parser's message may quote the payload's bytes: never lose the reason. */
        json_t *message = json_string(why);
        json_object_set_new(o, "error_message", message ? message : json_string("job payload: not a valid job "
                                                                                 "(the parser's message is not UTF-8)"));
        json_object_set_new(o, "failed_at", json_real(now));
        json_object_set_new(o, "retry_count", json_integer(0));
        if (raw)
                json_object_set_new(o, "raw_payload", raw);
        else
                json_object_set_new(o, "raw_payload_base64",
                                    base64_string((const unsigned char *)payload, len));
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}
