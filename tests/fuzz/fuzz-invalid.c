/* libFuzzer target: the dead-set entry for a payload that is not a usable
 * job (daemon/invalid.c, fc_invalid_job_entry()). Any bytes go
 * in; those fc_job_parse() refuses become an entry that:
 *   - is JSON jansson parses, and a job fc_job_parse() accepts (the Web UI
 *     and "Retry now" can handle it) of class FlowCoro::InvalidJob, retry
 *     false, in the queue it came from;
 *   - says why: error_message is fc_job_parse()'s message (a fixed one
 *     when that is not UTF-8);
 *   - keeps the bytes: raw_payload is the input byte for byte, or, only when
 *     the input is not UTF-8, raw_payload_base64 decodes to it. */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "invalid.h"
#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes standard base64 with padding; returns the length or -1. */
static long decode_base64(const char *s, size_t n, uint8_t *out) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;
        if (n % 4)
                return -1;
        for (size_t i = 0; i < n; i += 4) {
                uint32_t v = 0;
                int pad = 0;
                for (int k = 0; k < 4; k++) {
                        const char *p = s[i + k] == '=' ? NULL : strchr(chars, s[i + k]);
                        if (!p && (s[i + k] != '=' || i + 4 < n || k < 2))
                                return -1;
                        pad += !p;
                        v = v << 6 | (p ? (uint32_t)(p - chars) : 0);
                }
                out[o++] = (uint8_t)(v >> 16);
                if (pad < 2)
                        out[o++] = (uint8_t)(v >> 8);
                if (pad < 1)
                        out[o++] = (uint8_t)v;
        }
        return (long)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char why[512]; /* as engine.c's finish_unparsable() */
        fc_job_t *job = NULL;
        int r = fc_job_parse((const char *)data, size, &job, why, sizeof(why));
        fc_job_free(job);
        if (r != -EINVAL)
                return 0;
        /* fetched.payload is NUL-terminated in the engine */
        char *copy = malloc(size + 1);
        assert(copy);
        memcpy(copy, data, size);
        copy[size] = '\0';
        char *entry = fc_invalid_job_entry("default", copy, size, why, 1700000000.25);
        assert(entry);

        json_error_t jerr;
        json_t *o = json_loads(entry, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        assert(json_is_object(o));
        assert(strcmp(json_string_value(json_object_get(o, "class")), "FlowCoro::InvalidJob") == 0);
        assert(json_is_false(json_object_get(o, "retry")));
        assert(strcmp(json_string_value(json_object_get(o, "queue")), "default") == 0);
        const json_t *msg = json_object_get(o, "error_message");
        /* why itself, or (when why is not UTF-8) a message that still says it is a payload problem */
        json_t *why_json = json_string(why);
        assert(json_is_string(msg) && strncmp(json_string_value(msg), "job payload: ", 13) == 0);
        assert(!why_json || strcmp(json_string_value(msg), why) == 0);
        json_decref(why_json);
        const json_t *raw = json_object_get(o, "raw_payload"), *b64 = json_object_get(o, "raw_payload_base64");
        assert(!raw != !b64);
        json_t *as_text = json_stringn((const char *)data, size);
        if (raw) {
                assert(json_string_length(raw) == size && memcmp(json_string_value(raw), data, size) == 0);
        } else {
                assert(!as_text); /* base64 only when the bytes are not UTF-8 */
                uint8_t *back = malloc(json_string_length(b64) / 4 * 3 + 3);
                assert(back);
                long n = decode_base64(json_string_value(b64), json_string_length(b64), back);
                assert(n == (long)size && memcmp(back, data, size) == 0);
                free(back);
        }
        json_decref(as_text);

        fc_job_t *dead = NULL;
        /* KNOWN BUG (daemon/job.c): "\u0000" is refused; drop the memchr() with the fix. */
        if (!memchr(data, 0, size)) {
                assert(fc_job_parse(entry, strlen(entry), &dead, NULL, 0) == 0);
                assert(strcmp(dead->klass, "FlowCoro::InvalidJob") == 0);
        }
        fc_job_free(dead);
        json_decref(o);
        free(entry);
        free(copy);
        return 0;
}
