/* Reliable fetch (see inflight.h). */
#include "inflight.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: queue, in-flight hash, sequence. ARGV: max, queue name.
 * RPOP with a count needs Redis 6.2 (Debian 12 ships 7.0). */
static const char fetch_lua[] =
        "local jobs = redis.call('RPOP', KEYS[1], ARGV[1])\n"
        "if not jobs then return {0, {}} end\n"
        "local last = redis.call('INCRBY', KEYS[3], #jobs)\n"
        "local first = last - #jobs + 1\n"
        "local fields = {}\n"
        "for i, job in ipairs(jobs) do\n"
        "  fields[#fields + 1] = tostring(first + i - 1)\n"
        "  fields[#fields + 1] = ARGV[2] .. '\\0' .. job\n"
        "end\n"
        "redis.call('HSET', KEYS[2], unpack(fields))\n"
        "return {first, jobs}\n";

/* KEYS: in-flight hash, queue key prefix. Puts jobs back in id order, each
 * with RPUSH so that the oldest ends up next to be taken. */
static const char requeue_lua[] =
        "local all = redis.call('HGETALL', KEYS[1])\n"
        "local items = {}\n"
        "for i = 1, #all, 2 do items[#items + 1] = {tonumber(all[i]), all[i + 1]} end\n"
        "table.sort(items, function(a, b) return a[1] > b[1] end)\n"
        "for _, it in ipairs(items) do\n"
        "  local sep = string.find(it[2], '\\0', 1, true)\n"
        "  redis.call('RPUSH', KEYS[2] .. string.sub(it[2], 1, sep - 1), string.sub(it[2], sep + 1))\n"
        "end\n"
        "redis.call('DEL', KEYS[1])\n"
        "return #items\n";

/* KEYS: in-flight hash, retry, dead. ARGV: id, how, score, payload, now,
 * dead timeout (s), dead max jobs. */
static const char finish_lua[] =
        "if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
        "if ARGV[2] == 'retry' then\n"
        "  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])\n"
        "elseif ARGV[2] == 'dead' then\n"
        "  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])\n"
        "  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[5]) - tonumber(ARGV[6]))\n"
        "  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[7]) + 1))\n"
        "end\n"
        "return 1\n";

static fc_redis_script_t fetch_script, requeue_script, finish_script;

static void init_scripts(void) {
        static int done; /* the scripts are constant: a race only recomputes the same hash */
        if (!done) {
                fc_redis_script_init(&fetch_script, fetch_lua);
                fc_redis_script_init(&requeue_script, requeue_lua);
                fc_redis_script_init(&finish_script, finish_lua);
                done = 1;
        }
}

int fc_inflight_init(fc_inflight_t *f, const char *prefix, const char *identity) {
        memset(f, 0, sizeof(*f));
        if (asprintf(&f->queue_prefix, "%squeue:", prefix) < 0 ||
            asprintf(&f->hash, "%sflowcoro:inflight:%s", prefix, identity) < 0 ||
            asprintf(&f->seq, "%sflowcoro:inflight-seq:%s", prefix, identity) < 0 ||
            asprintf(&f->retry, "%sretry", prefix) < 0 || asprintf(&f->dead, "%sdead", prefix) < 0) {
                fc_inflight_clear(f);
                return -ENOMEM;
        }
        init_scripts();
        return 0;
}

void fc_inflight_clear(fc_inflight_t *f) {
        free(f->queue_prefix);
        free(f->hash);
        free(f->seq);
        free(f->retry);
        free(f->dead);
        memset(f, 0, sizeof(*f));
}

void fc_fetched_free(fc_fetched_t *out, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(out[i].payload);
                out[i].payload = NULL;
        }
}

int fc_inflight_fetch(fc_redis_t *c, const fc_inflight_t *f, const char *queue, unsigned max, fc_fetched_t *out,
                      size_t *n) {
        char queue_key[512], count[16];
        *n = 0;
        if (max < 1 || max > 1000 || snprintf(queue_key, sizeof(queue_key), "%s%s", f->queue_prefix, queue) >=
                                             (int)sizeof(queue_key))
                return -EINVAL;
        snprintf(count, sizeof(count), "%u", max);
        const char *argv[] = {queue_key, f->hash, f->seq, count, queue};
        redisReply *reply = NULL;
        int r = fc_redis_eval(c, &fetch_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 3, 5, argv, NULL);
        if (r < 0)
                return r;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_ARRAY ||
            reply->element[1]->elements > max) {
                freeReplyObject(reply);
                return -EPROTO;
        }
        uint64_t first = (uint64_t)reply->element[0]->integer;
        redisReply *jobs = reply->element[1];
        for (size_t i = 0; i < jobs->elements; i++) {
                redisReply *j = jobs->element[i];
                out[i].id = first + i;
                out[i].len = j->len;
                out[i].payload = malloc(j->len + 1);
                if (!out[i].payload) {
                        /* They are safely in flight; requeue returns them. */
                        fc_fetched_free(out, i);
                        freeReplyObject(reply);
                        return -ENOMEM;
                }
                memcpy(out[i].payload, j->str, j->len);
                out[i].payload[j->len] = '\0';
        }
        *n = jobs->elements;
        freeReplyObject(reply);
        return 0;
}

int fc_inflight_ack(fc_redis_t *c, const fc_inflight_t *f, uint64_t id) {
        char field[24];
        snprintf(field, sizeof(field), "%" PRIu64, id);
        redisReply *reply = NULL;
        int r = fc_redis_call(c, &reply, "HDEL", f->hash, field, NULL);
        if (r < 0)
                return r;
        r = reply->type == REDIS_REPLY_INTEGER ? (int)reply->integer : -EPROTO;
        freeReplyObject(reply);
        return r;
}

int fc_inflight_ack_many(fc_redis_t *c, const fc_inflight_t *f, const uint64_t *ids, size_t n) {
        if (n == 0)
                return 0;
        if (n > 100000)
                return -EINVAL;
        const char **argv = malloc((n + 2) * sizeof(*argv));
        char (*fields)[24] = malloc(n * sizeof(*fields));
        int r = -ENOMEM;
        if (argv && fields) {
                argv[0] = "HDEL";
                argv[1] = f->hash;
                for (size_t i = 0; i < n; i++) {
                        snprintf(fields[i], sizeof(fields[i]), "%" PRIu64, ids[i]);
                        argv[i + 2] = fields[i];
                }
                redisReply *reply = NULL;
                r = fc_redis_command(c, FC_REDIS_TIMEOUT_DEFAULT, &reply, (int)n + 2, argv, NULL);
                if (r == 0) {
                        r = reply->type == REDIS_REPLY_INTEGER ? (int)reply->integer : -EPROTO;
                        freeReplyObject(reply);
                }
        }
        free(argv);
        free(fields);
        return r;
}

int fc_inflight_finish(fc_redis_t *c, const fc_inflight_t *f, uint64_t id, fc_finish_t how, double at,
                       const char *payload, double now, const fc_dead_limits_t *dead) {
        static const char *const names[] = {"ack", "retry", "dead"};
        char field[24], score[32], now_s[32], timeout[32], max[16];
        if ((unsigned)how > FC_FINISH_DEAD || (how != FC_FINISH_ACK && (!payload || !dead)))
                return -EINVAL;
        snprintf(field, sizeof(field), "%" PRIu64, id);
        snprintf(score, sizeof(score), "%.6f", at);
        snprintf(now_s, sizeof(now_s), "%.6f", now);
        snprintf(timeout, sizeof(timeout), "%.3f", dead ? dead->timeout_s : 0.0);
        snprintf(max, sizeof(max), "%u", dead ? dead->max_jobs : 0);
        const char *argv[] = {f->hash, f->retry, f->dead, field, names[how], score, payload ? payload : "",
                              now_s, timeout, max};
        redisReply *reply = NULL;
        int r = fc_redis_eval(c, &finish_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 3, 10, argv, NULL);
        if (r < 0)
                return r;
        r = reply->type == REDIS_REPLY_INTEGER ? (int)reply->integer : -EPROTO;
        freeReplyObject(reply);
        return r;
}

int fc_inflight_requeue(fc_redis_t *c, const fc_inflight_t *f) {
        const char *argv[] = {f->hash, f->queue_prefix};
        redisReply *reply = NULL;
        int r = fc_redis_eval(c, &requeue_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 2, 2, argv, NULL);
        if (r < 0)
                return r;
        r = reply->type == REDIS_REPLY_INTEGER ? (int)reply->integer : -EPROTO;
        freeReplyObject(reply);
        return r;
}
