/* chaos_malformed: a flood of malformed payloads (1,000 in the small run,
 * 10,000 in the full one) mixed with as many good Record jobs, in one queue.
 * Every bad one must end in dead with a reason (error_message), every good
 * one must run, and the daemon must stay up throughout: the same process,
 * answering its control socket.
 *
 * Most kinds are not jobs at all (docs/engine.md, "Bad input"): the daemon
 * files them as FlowCoro::InvalidJob entries that keep the original bytes
 * (raw_payload, or raw_payload_base64 when they are not UTF-8), which this
 * test matches, byte for byte, to what it sent (a job nested deeper than
 * 64 levels among them: too deep to parse on a coroutine's stack). Two kinds
 * are valid jobs the handler refuses (Record with a number, or an array
 * nested 40 deep, for its key): dead with the handler's ArgumentError,
 * matched by jid. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chaos.h"
#include "control.h"

#define MAX_PAYLOAD (16 * 1024)
#define KINDS       15

static chaos_redis_t redis;
static fc_test_daemon_t daemon_;

typedef struct bad {
        char *bytes;
        size_t len;
        bool handler_refuses; /* a valid job: its dead entry is itself, jid bad<i> */
        bool matched;
} bad_t;

static bad_t *bads;
static long n_bads;

static int setup(void **state) {
        (void)state;
        return chaos_redis_start(&redis, NULL);
}

static int teardown(void **state) {
        (void)state;
        fc_test_daemon_stop(&daemon_);
        chaos_redis_stop(&redis);
        for (long i = 0; i < n_bads; i++)
                free(bads[i].bytes);
        free(bads);
        bads = NULL;
        n_bads = 0;
        return 0;
}

/* Appends to *s (length *n, capacity at least n + add + 1) add copies of c. */
static void repeat(char *s, size_t *n, char c, size_t add) {
        memset(s + *n, c, add);
        *n += add;
        s[*n] = '\0';
}

/* Bad payload number i, of kind i % KINDS; each holds i, so each is unique. */
static bad_t make_bad(long i) {
        size_t cap = MAX_PAYLOAD + 8192, n = 0;
        char *s = malloc(cap);
        assert_non_null(s);
        bad_t b = {.bytes = s};
        switch (i % KINDS) {
        case 0: /* cut short */
                n = (size_t)snprintf(s, cap, "{\"class\":\"Record\",\"args\":[\"seen\"],\"jid\":\"bad%ld\"",
                                     i);
                break;
        case 1: /* an array */
                n = (size_t)snprintf(s, cap, "[\"Record\",\"bad%ld\"]", i);
                break;
        case 2: /* a number */
                n = (size_t)snprintf(s, cap, "%ld", i);
                break;
        case 3: /* no class */
                n = (size_t)snprintf(s, cap, "{\"args\":[\"seen\"],\"jid\":\"bad%ld\"}", i);
                break;
        case 4: /* class not a string */
                n = (size_t)snprintf(s, cap,
                                     "{\"class\":[\"Record\"],\"args\":[\"seen\"],\"jid\":\"bad%ld\"}", i);
                break;
        case 5: /* args not an array */
                n = (size_t)snprintf(s, cap, "{\"class\":\"Record\",\"args\":\"seen\",\"jid\":\"bad%ld\"}",
                                     i);
                break;
        case 6: /* over jobs.max_payload */
                n = (size_t)snprintf(
                        s, cap, "{\"class\":\"Record\",\"args\":[\"seen\"],\"jid\":\"bad%ld\",\"pad\":\"", i);
                repeat(s, &n, 'x', MAX_PAYLOAD);
                n += (size_t)snprintf(s + n, cap - n, "\"}");
                break;
        case 7: /* not UTF-8 */
                n = (size_t)snprintf(
                        s, cap, "{\"class\":\"Record\",\"args\":[\"seen\"],\"jid\":\"bad%ld\xff\xfe\"}", i);
                break;
        case 8: /* nested deeper than any parser allows (jansson: 2048) */
                n = (size_t)snprintf(s, cap, "{\"class\":\"Record\",\"jid\":\"bad%ld\",\"args\":", i);
                repeat(s, &n, '[', 4000);
                repeat(s, &n, ']', 4000);
                n += (size_t)snprintf(s + n, cap - n, "}");
                break;
        case 9: /* a NUL byte in the class */
                n = (size_t)snprintf(s, cap, "{\"class\":\"Rec#ord\",\"args\":[\"seen\"],\"jid\":\"bad%ld\"}",
                                     i);
                *strchr(s, '#') = '\0';
                break;
        case 10: /* a number JSON can't hold */
                n = (size_t)snprintf(
                        s, cap, "{\"class\":\"Record\",\"args\":[\"seen\",1e999],\"jid\":\"bad%ld\"}", i);
                break;
        case 11: /* not JSON at all */
                n = (size_t)snprintf(s, cap, "Record bad%ld \x01\x02 {", i);
                break;
        case 12: /* a job Record refuses: its key must be a string */
                n = (size_t)snprintf(s, cap,
                                     "{\"class\":\"Record\",\"args\":[%ld],\"queue\":\"default\","
                                     "\"jid\":\"bad%ld\",\"retry\":true}",
                                     i, i);
                b.handler_refuses = true;
                break;
        case 13: /* the same, its args nested 40 deep: valid, a deep job to rewrite for dead */
                n = (size_t)snprintf(s, cap,
                                     "{\"class\":\"Record\",\"queue\":\"default\",\"jid\":\"bad%ld\","
                                     "\"retry\":true,\"args\":[",
                                     i);
                repeat(s, &n, '[', 40);
                repeat(s, &n, ']', 41);
                n += (size_t)snprintf(s + n, cap - n, "}");
                b.handler_refuses = true;
                break;
        default: /* valid JSON nested 300 deep: more than a job may nest (64) */
                n = (size_t)snprintf(s, cap,
                                     "{\"class\":\"Record\",\"queue\":\"default\",\"jid\":\"bad%ld\","
                                     "\"retry\":true,\"args\":[",
                                     i);
                repeat(s, &n, '[', 300);
                repeat(s, &n, ']', 301);
                n += (size_t)snprintf(s + n, cap - n, "}");
                break;
        }
        b.len = n;
        return b;
}

static int compare_bad(const void *a, const void *b) {
        const bad_t *x = a, *y = b;
        if (x->len != y->len)
                return x->len < y->len ? -1 : 1;
        return memcmp(x->bytes, y->bytes, x->len);
}

/* Marks the unmatched bad payload with these bytes; false when none is. */
static bool match_bytes(const char *bytes, size_t len) {
        bad_t key = {.bytes = (char *)bytes, .len = len};
        bad_t *hit = bsearch(&key, bads, (size_t)n_bads, sizeof(*bads), compare_bad);
        if (!hit)
                return false;
        while (hit > bads && compare_bad(hit - 1, &key) == 0)
                hit--;
        for (; hit < bads + n_bads && compare_bad(hit, &key) == 0; hit++)
                if (!hit->matched && !hit->handler_refuses) {
                        hit->matched = true;
                        return true;
                }
        return false;
}

static int base64_value(char c) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = c ? strchr(alphabet, c) : NULL;
        return p ? (int)(p - alphabet) : -1;
}

/* Decodes standard base64 into out (room for 3/4 of len); -1 when it is not
 * base64. */
static long base64_decode(const char *in, size_t len, char *out) {
        long n = 0;
        unsigned bits = 0;
        int have = 0;
        for (size_t i = 0; i < len && in[i] != '='; i++) {
                int v = base64_value(in[i]);
                if (v < 0)
                        return -1;
                bits = (bits << 6) | (unsigned)v;
                have += 6;
                if (have >= 8) {
                        have -= 8;
                        out[n++] = (char)((bits >> have) & 0xff);
                }
        }
        return n;
}

/* Checks one dead entry and marks the bad payload it stands for. */
static bool match_dead(const char *entry, size_t len) {
        json_error_t error;
        json_t *o = json_loadb(entry, len, JSON_ALLOW_NUL, &error);
        bool ok = false;
        const char *message = json_string_value(json_object_get(o, "error_message"));
        const char *error_class = json_string_value(json_object_get(o, "error_class"));
        if (!message || !*message || !error_class) {
                printf("dead entry without a reason: %.200s\n", entry);
        } else if (strcmp(error_class, "FlowCoro::InvalidJob") == 0) {
                json_t *raw = json_object_get(o, "raw_payload");
                const char *b64 = json_string_value(json_object_get(o, "raw_payload_base64"));
                if (json_is_string(raw)) {
                        ok = match_bytes(json_string_value(raw), json_string_length(raw));
                } else if (b64) {
                        char *bytes = malloc(strlen(b64));
                        long n = bytes ? base64_decode(b64, strlen(b64), bytes) : -1;
                        ok = n >= 0 && match_bytes(bytes, (size_t)n);
                        free(bytes);
                }
        } else if (strcmp(error_class, "ArgumentError") == 0) {
                const char *jid = json_string_value(json_object_get(o, "jid"));
                long i = jid && strncmp(jid, "bad", 3) == 0 ? strtol(jid + 3, NULL, 10) : -1;
                /* bads are sorted: find it by its bytes */
                bad_t key = make_bad(i < 0 ? 0 : i);
                bad_t *hit = i >= 0 && key.handler_refuses
                                     ? bsearch(&key, bads, (size_t)n_bads, sizeof(*bads), compare_bad)
                                     : NULL;
                free(key.bytes);
                ok = hit && !hit->matched;
                if (ok)
                        hit->matched = true;
        }
        if (!ok && message)
                printf("dead entry that matches no bad payload sent (%s: %s): %.200s\n",
                       error_class ? error_class : "?", message, entry);
        json_decref(o);
        return ok;
}

/* Whether the daemon is the same process and answers its control socket. */
static bool daemon_answers(pid_t pid) {
        if (fc_test_daemon_wait(&daemon_, 0)) {
                char *log = fc_test_daemon_log(&daemon_);
                printf("the daemon exited (%d); its log ends:\n%s\n", daemon_.exit_code,
                       log && strlen(log) > 3000 ? log + strlen(log) - 3000
                       : log                     ? log
                                                 : "");
                free(log);
                return false;
        }
        char *reply = NULL, error[512];
        if (fc_control_request(daemon_.control, "status", &reply, error, sizeof(error)) < 0) {
                printf("status: %s\n", error);
                return false;
        }
        json_t *status = json_loads(reply, 0, NULL);
        bool same = json_integer_value(json_object_get(status, "pid")) == pid;
        if (!same)
                printf("status of daemon %d: %s\n", (int)pid, reply);
        json_decref(status);
        free(reply);
        return same;
}

static void test_malformed_flood_goes_to_dead_with_reasons(void **state) {
        (void)state;
        long n = chaos_size(1000, 10000);
        char config[200];
        snprintf(config, sizeof(config),
                 "concurrency: 200\njobs:\n  max_payload: %dB\n  dead_max_jobs: 1000000\n", MAX_PAYLOAD);
        assert_int_equal(fc_test_daemon_start(&daemon_, &redis.server, config, NULL), 0);
        pid_t pid = daemon_.pid;

        /* Bad and good in turn, a bad one first. */
        bads = calloc((size_t)n, sizeof(*bads));
        assert_non_null(bads);
        redisContext *c = chaos_conn(&redis);
        assert_non_null(c);
        for (long from = 0; from < n; from += 500) {
                long k = n - from < 500 ? n - from : 500;
                for (long i = from; i < from + k; i++) {
                        bads[n_bads] = make_bad(i);
                        assert_true(fc_test_redis_int(c, "LPUSH queue:default %b", bads[n_bads].bytes,
                                                      bads[n_bads].len) > 0);
                        n_bads++;
                        assert_int_equal(fc_test_record_push(c, "seen", "g", i, 1, 0), 0);
                }
                assert_true(daemon_answers(pid));
        }

        /* Up throughout: asked every half second until all is done. */
        int64_t give_up = chaos_now_ms() + chaos_size(120000, 600000);
        int answers = 0;
        while (chaos_jobs_left(&redis) != 0) {
                assert_true(chaos_now_ms() < give_up);
                assert_true(daemon_answers(pid));
                answers++;
                chaos_sleep_ms(500);
        }
        assert_true(daemon_answers(pid));
        fc_test_tally_t t = chaos_tally(&redis, "seen", "g", n);

        /* Every dead entry is one of the bad payloads, with a reason. */
        qsort(bads, (size_t)n_bads, sizeof(*bads), compare_bad);
        redisReply *dead = redisCommand(chaos_conn(&redis), "ZRANGE dead 0 -1");
        assert_non_null(dead);
        assert_int_equal(dead->type, REDIS_REPLY_ARRAY);
        long unmatched = 0, matched = 0;
        for (size_t i = 0; i < dead->elements; i++)
                if (!match_dead(dead->element[i]->str, dead->element[i]->len))
                        unmatched++;
        size_t n_dead = dead->elements;
        freeReplyObject(dead);
        for (long i = 0; i < n_bads; i++)
                matched += bads[i].matched;
        printf("%ld bad payloads (%d kinds), %zu in dead, %ld matched, %ld unmatched dead entries; daemon "
               "answered %d times\n",
               n_bads, KINDS, n_dead, matched, unmatched, answers);
        fc_test_record_print(&t);
        assert_int_equal(t.lost, 0);
        assert_int_equal(t.duplicated, 0);
        assert_int_equal(unmatched, 0);
        assert_int_equal(matched, n_bads);
        assert_int_equal(chaos_int(&redis, "ZCARD retry"), 0);
        assert_false(fc_test_daemon_wait(&daemon_, 0));
}

int main(void) {
        chaos_init();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_malformed_flood_goes_to_dead_with_reasons, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
