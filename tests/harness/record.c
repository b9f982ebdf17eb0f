#include "record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Commands in one pipelined round trip. */
#define CHUNK 1000

/* Reads n pipelined replies; each must not be an error. Reads them all even
 * after a bad one, so the connection stays in step. */
static int read_replies(redisContext *c, long n) {
        int r = 0;
        for (long i = 0; i < n; i++) {
                redisReply *reply = NULL;
                if (redisGetReply(c, (void **)&reply) != REDIS_OK) {
                        fprintf(stderr, "record harness: %s\n", c->errstr);
                        return -EIO;
                }
                if (reply->type == REDIS_REPLY_ERROR) {
                        fprintf(stderr, "record harness: Redis said %s\n", reply->str);
                        r = -EIO;
                }
                freeReplyObject(reply);
        }
        return r;
}

static bool is_plain_word(const char *s) {
        return *s && !strpbrk(s, "\"\\ \t\r\n");
}

int fc_test_record_push(redisContext *c, const char *key, const char *prefix, long from, long n, long ms) {
        if (!is_plain_word(key) || !is_plain_word(prefix))
                return -EINVAL;
        redisAppendCommand(c, "SADD queues default");
        int r = read_replies(c, 1);
        for (long done = 0; r == 0 && done < n; done += CHUNK) {
                long k = n - done < CHUNK ? n - done : CHUNK;
                for (long i = from + done; i < from + done + k; i++) {
                        char payload[512];
                        snprintf(payload, sizeof(payload),
                                 "{\"class\":\"Record\",\"args\":[\"%s\",%ld],\"queue\":\"default\",\"jid\":"
                                 "\"%s%ld\","
                                 "\"retry\":true}",
                                 key, ms, prefix, i);
                        redisAppendCommand(c, "LPUSH queue:default %s", payload);
                }
                r = read_replies(c, k);
        }
        return r;
}

int fc_test_record_tally(redisContext *c, const char *key, const char *prefix, long from, long n,
                         fc_test_tally_t *t) {
        for (long done = 0; done < n; done += CHUNK) {
                long k = n - done < CHUNK ? n - done : CHUNK;
                for (long i = from + done; i < from + done + k; i++)
                        redisAppendCommand(c, "HGET %s %s%ld", key, prefix, i);
                for (long i = 0; i < k; i++) {
                        redisReply *reply = NULL;
                        if (redisGetReply(c, (void **)&reply) != REDIS_OK) {
                                fprintf(stderr, "record harness: %s\n", c->errstr);
                                return -EIO;
                        }
                        if (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_NIL) {
                                freeReplyObject(reply);
                                fprintf(stderr, "record harness: HGET %s: not a string or nil\n", key);
                                return -EIO;
                        }
                        long runs = reply->type == REDIS_REPLY_STRING ? strtol(reply->str, NULL, 10) : 0;
                        freeReplyObject(reply);
                        t->jobs++;
                        if (runs <= 0)
                                t->lost++;
                        else
                                t->completed++;
                        if (runs > 1) {
                                t->duplicated++;
                                t->extra_runs += runs - 1;
                        }
                }
        }
        return 0;
}

void fc_test_record_print(const fc_test_tally_t *t) {
        printf("jobs %ld, completed %ld, lost %ld, duplicated %ld\n", t->jobs, t->completed, t->lost,
               t->duplicated);
        fflush(stdout);
}

long long fc_test_inflight_total(redisContext *c) {
        long long total = 0;
        char cursor[32] = "0";
        do {
                redisReply *scan = redisCommand(c, "SCAN %s MATCH flowcoro:inflight:* COUNT 1000", cursor);
                if (!scan || scan->type != REDIS_REPLY_ARRAY || scan->elements != 2) {
                        freeReplyObject(scan);
                        return -EIO;
                }
                snprintf(cursor, sizeof(cursor), "%s", scan->element[0]->str);
                const redisReply *keys = scan->element[1];
                for (size_t i = 0; i < keys->elements; i++)
                        redisAppendCommand(c, "HLEN %b", keys->element[i]->str,
                                           (size_t)keys->element[i]->len);
                size_t n = keys->elements;
                freeReplyObject(scan);
                for (size_t i = 0; i < n; i++) {
                        redisReply *len = NULL;
                        if (redisGetReply(c, (void **)&len) != REDIS_OK)
                                return -EIO;
                        /* A key that is not a hash can't be an in-flight hash; count nothing. */
                        if (len->type == REDIS_REPLY_INTEGER)
                                total += len->integer;
                        freeReplyObject(len);
                }
        } while (strcmp(cursor, "0") != 0);
        return total;
}

int fc_test_identity_of(redisContext *c, pid_t pid, char *out, size_t size) {
        redisReply *keys = redisCommand(c, "HKEYS flowcoro:owners");
        if (!keys || keys->type != REDIS_REPLY_ARRAY) {
                freeReplyObject(keys);
                return -EIO;
        }
        int r = -ENOENT;
        for (size_t i = 0; i < keys->elements && r == -ENOENT; i++) {
                /* host:pid:hex, where the host may hold colons itself */
                const char *id = keys->element[i]->str;
                const char *last = strrchr(id, ':');
                const char *p = last;
                while (p && p > id && p[-1] != ':')
                        p--;
                if (last && p > id && strtol(p, NULL, 10) == (long)pid) {
                        snprintf(out, size, "%s", id);
                        r = 0;
                }
        }
        freeReplyObject(keys);
        return r;
}
