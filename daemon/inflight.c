/* Reliable fetch (see inflight.h). */
#include "inflight.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

/* Every script that files a job in dead trims it the same way. KEYS[dead],
 * now, timeout (s), max jobs are the script's own locals. */
#define TRIM_DEAD_LUA                                                                  \
        "local function trim_dead(dead, now, timeout, max)\n"                          \
        "  redis.call('ZREMRANGEBYSCORE', dead, '-inf', tonumber(now) - tonumber(timeout))\n" \
        "  redis.call('ZREMRANGEBYRANK', dead, 0, -(tonumber(max) + 1))\n"             \
        "end\n"

/* KEYS: hash, seq, last-fetch, queue keys... ARGV: max, token, fetcher,
 * queue names... (ARGV[k] names KEYS[k] from k = 4). Returns {} or {first
 * id, {value, ...}}: the ids are consecutive, so they need not travel.
 * Jobs are filed byte for byte as the client wrote them. RPOP with a count
 * needs Redis 6.2 (Debian 12 ships 7.0). */
static const char fetch_lua[] =
        "local max = tonumber(ARGV[1])\n"
        "local vals = {}\n"
        "for k = 4, #KEYS do\n"
        "  local want = max - #vals\n"
        "  if want <= 0 then break end\n"
        "  local jobs = redis.call('RPOP', KEYS[k], want)\n"
        "  if jobs then\n"
        "    for _, job in ipairs(jobs) do vals[#vals + 1] = ARGV[k] .. '\\0' .. job end\n"
        "  end\n"
        "end\n"
        "if #vals == 0 then return {} end\n"
        "local first = redis.call('INCRBY', KEYS[2], #vals) - #vals + 1\n"
        "local out = {}\n"
        "for i, v in ipairs(vals) do\n"
        "  out[#out + 1] = tostring(first + i - 1)\n"
        "  out[#out + 1] = v\n"
        "end\n"
        "redis.call('HSET', KEYS[1], unpack(out))\n"
        "redis.call('HSET', KEYS[3], ARGV[3], ARGV[2] .. ' ' .. first .. ' ' .. #vals)\n"
        "return {first, vals}\n";

/* KEYS: hash. ARGV: id, new value. Only a job still in flight here. */
static const char rewrite_lua[] =
        "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
        "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
        "return 1\n";

/* KEYS: hash, last-fetch. ARGV: token, fetcher. Returns {id, value, ...}
 * of the batch fetched with token that is still in flight. */
static const char recall_lua[] =
        "local last = redis.call('HGET', KEYS[2], ARGV[2])\n"
        "if not last then return {} end\n"
        "local token, first, n = string.match(last, '^(%d+) (%d+) (%d+)$')\n"
        "if token ~= ARGV[1] then return {} end\n"
        "local ids = {}\n"
        "for i = 0, tonumber(n) - 1 do ids[#ids + 1] = tostring(tonumber(first) + i) end\n"
        "local vals = redis.call('HMGET', KEYS[1], unpack(ids))\n"
        "local out = {}\n"
        "for i, v in ipairs(vals) do\n"
        "  if v then out[#out + 1] = ids[i]; out[#out + 1] = v end\n"
        "end\n"
        "return out\n";

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

/* KEYS: in-flight hash, retry, dead, schedule. ARGV: id, how, score,
 * payload, now, dead timeout (s), dead max jobs. */
static const char finish_lua[] =
        TRIM_DEAD_LUA
        "if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
        "if ARGV[2] == 'retry' then\n"
        "  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])\n"
        "elseif ARGV[2] == 'schedule' then\n"
        "  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])\n"
        "else\n"
        "  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])\n"
        "  trim_dead(KEYS[3], ARGV[5], ARGV[6], ARGV[7])\n"
        "end\n"
        "return 1\n";

/* KEYS: in-flight hash, queue key prefix, dead. ARGV: now, dead timeout,
 * dead max jobs, then (id, queue or "" for dead, payload) triples. */
static const char move_lua[] =
        TRIM_DEAD_LUA
        "local moved, died = 0, false\n"
        "for i = 4, #ARGV, 3 do\n"
        "  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then\n"
        "    if ARGV[i + 1] == '' then\n"
        "      redis.call('ZADD', KEYS[3], ARGV[1], ARGV[i + 2])\n"
        "      died = true\n"
        "    else\n"
        "      redis.call('RPUSH', KEYS[2] .. ARGV[i + 1], ARGV[i + 2])\n"
        "    end\n"
        "    moved = moved + 1\n"
        "  end\n"
        "end\n"
        "if died then trim_dead(KEYS[3], ARGV[1], ARGV[2], ARGV[3]) end\n"
        "return moved\n";

/* KEYS: hash, seq, last-fetch. */
static const char drop_lua[] =
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
        "redis.call('DEL', KEYS[2], KEYS[3])\n"
        "return 1\n";

static fc_redis_script_t fetch_script, rewrite_script, recall_script, requeue_script, finish_script, move_script, drop_script;

static void init_scripts(void) {
        static int done; /* the scripts are constant: a race only recomputes the same hash */
        if (!done) {
                fc_redis_script_init(&fetch_script, fetch_lua);
                fc_redis_script_init(&rewrite_script, rewrite_lua);
                fc_redis_script_init(&recall_script, recall_lua);
                fc_redis_script_init(&requeue_script, requeue_lua);
                fc_redis_script_init(&finish_script, finish_lua);
                fc_redis_script_init(&move_script, move_lua);
                fc_redis_script_init(&drop_script, drop_lua);
                done = 1;
        }
}

int fc_inflight_init(fc_inflight_t *f, const char *prefix, const char *identity) {
        memset(f, 0, sizeof(*f));
        if (asprintf(&f->queue_prefix, "%squeue:", prefix) < 0 ||
            asprintf(&f->hash, "%sflowcoro:inflight:%s", prefix, identity) < 0 ||
            asprintf(&f->seq, "%sflowcoro:inflight-seq:%s", prefix, identity) < 0 ||
            asprintf(&f->last_fetch, "%sflowcoro:inflight-last:%s", prefix, identity) < 0 ||
            asprintf(&f->retry, "%sretry", prefix) < 0 || asprintf(&f->dead, "%sdead", prefix) < 0 ||
            asprintf(&f->schedule, "%sschedule", prefix) < 0) {
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
        free(f->last_fetch);
        free(f->retry);
        free(f->dead);
        free(f->schedule);
        memset(f, 0, sizeof(*f));
}

void fc_fetched_free(fc_fetched_t *out, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(out[i].buf);
                out[i].buf = NULL;
        }
}

/* Fills one entry from its id and its hash value ("queue NUL payload"),
 * taking the value's buffer from the reply (hiredis allocates each string
 * reply on its own and NUL-terminates it), so a job's bytes are never
 * copied. Returns 0 or -EPROTO for a value that is not ours. */
static int fetched_fill(fc_fetched_t *e, uint64_t id, redisReply *value) {
        if (value->type != REDIS_REPLY_STRING)
                return -EPROTO;
        e->id = id;
        const char *sep = memchr(value->str, '\0', value->len);
        if (!sep)
                return -EPROTO;
        e->buf = value->str;
        value->str = NULL; /* ours now: freeReplyObject() skips it */
        e->queue = e->buf;
        e->payload = sep + 1;
        e->len = value->len - (size_t)(sep - e->buf) - 1;
        return 0;
}

/* The entries out[0..*n) (room for max) of a reply: {} or {first id,
 * {value, ...}} from a fetch (consecutive ids), or a flat {id, value, ...}
 * array from a recall (pairs = true). Frees the reply. */
static int fetched_from_reply(redisReply *reply, bool pairs, size_t max, fc_fetched_t *out, size_t *n) {
        int r = reply->type == REDIS_REPLY_ARRAY ? 0 : -EPROTO;
        redisReply **values = NULL;
        size_t n_values = 0, step = 1;
        uint64_t first = 0;
        *n = 0;
        if (r == 0 && pairs) {
                values = reply->element;
                n_values = reply->elements / 2;
                step = 2;
                r = reply->elements % 2 ? -EPROTO : 0;
        } else if (r == 0 && reply->elements == 2) {
                const redisReply *id = reply->element[0], *batch = reply->element[1];
                if (id->type != REDIS_REPLY_INTEGER || id->integer < 1 || batch->type != REDIS_REPLY_ARRAY)
                        r = -EPROTO;
                else {
                        first = (uint64_t)id->integer;
                        values = batch->element;
                        n_values = batch->elements;
                }
        } else if (r == 0 && reply->elements != 0)
                r = -EPROTO;
        if (n_values > max)
                r = -EPROTO;
        for (size_t i = 0; r == 0 && i < n_values; i++) {
                uint64_t id = first + i;
                if (pairs) {
                        const redisReply *field = values[2 * i];
                        char *end = NULL;
                        id = field->type == REDIS_REPLY_STRING ? strtoull(field->str, &end, 10) : 0;
                        if (!end || *end != '\0')
                                r = -EPROTO;
                }
                if (r == 0)
                        r = fetched_fill(&out[i], id, values[step * i + step - 1]);
                if (r == 0)
                        *n = i + 1;
        }
        freeReplyObject(reply);
        if (r < 0) {
                /* The jobs are safely in flight; a requeue or recovery returns them. */
                fc_fetched_free(out, *n);
                *n = 0;
        }
        return r;
}

int fc_inflight_fetch(fc_redis_t *c, const fc_inflight_t *f, unsigned fetcher, const char *const *queues,
                      size_t n_queues, unsigned max, uint64_t token, fc_fetched_t *out, size_t *n) {
        *n = 0;
        if (max < 1 || max > FC_INFLIGHT_FETCH_MAX || n_queues < 1 || n_queues > 1000)
                return -EINVAL;
        size_t argc = 6 + 2 * n_queues;
        const char **argv = calloc(argc, sizeof(*argv));
        char **keys = calloc(n_queues, sizeof(*keys));
        char count[16], tok[24], slot[16];
        int r = -ENOMEM;
        if (!argv || !keys)
                goto out;
        snprintf(count, sizeof(count), "%u", max);
        snprintf(tok, sizeof(tok), "%" PRIu64, token);
        snprintf(slot, sizeof(slot), "%u", fetcher);
        argv[0] = f->hash;
        argv[1] = f->seq;
        argv[2] = f->last_fetch;
        argv[3 + n_queues] = count;
        argv[4 + n_queues] = tok;
        argv[5 + n_queues] = slot;
        for (size_t i = 0; i < n_queues; i++) {
                if (asprintf(&keys[i], "%s%s", f->queue_prefix, queues[i]) < 0) {
                        keys[i] = NULL;
                        goto out;
                }
                argv[3 + i] = keys[i];
                argv[6 + n_queues + i] = queues[i];
        }
        redisReply *reply = NULL;
        r = fc_redis_eval(c, &fetch_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 3 + (int)n_queues, (int)argc, argv,
                          NULL);
        if (r == 0)
                r = fetched_from_reply(reply, false, max, out, n);
out:
        for (size_t i = 0; keys && i < n_queues; i++)
                free(keys[i]);
        free(keys);
        free(argv);
        return r;
}

/* The integer reply of a command or script, freed. */
static int integer_result(int r, redisReply *reply) {
        if (r < 0)
                return r;
        r = reply->type == REDIS_REPLY_INTEGER ? (int)reply->integer : -EPROTO;
        freeReplyObject(reply);
        return r;
}

int fc_inflight_rewrite(fc_redis_t *c, const fc_inflight_t *f, uint64_t id, const char *queue,
                        const char *payload) {
        char field[24];
        snprintf(field, sizeof(field), "%" PRIu64, id);
        size_t q = strlen(queue), p = strlen(payload);
        char *value = malloc(q + 1 + p);
        if (!value)
                return -ENOMEM;
        memcpy(value, queue, q + 1); /* with its NUL: the separator */
        memcpy(value + q + 1, payload, p);
        const char *argv[] = {f->hash, field, value};
        const size_t lens[] = {strlen(f->hash), strlen(field), q + 1 + p};
        redisReply *reply = NULL;
        int r = fc_redis_eval(c, &rewrite_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 1, 3, argv, lens);
        free(value);
        return integer_result(r, reply);
}

int fc_inflight_recall(fc_redis_t *c, const fc_inflight_t *f, unsigned fetcher, uint64_t token, fc_fetched_t *out,
                       size_t *n) {
        char tok[24], slot[16];
        snprintf(tok, sizeof(tok), "%" PRIu64, token);
        snprintf(slot, sizeof(slot), "%u", fetcher);
        const char *argv[] = {f->hash, f->last_fetch, tok, slot};
        redisReply *reply = NULL;
        *n = 0;
        int r = fc_redis_eval(c, &recall_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 2, 4, argv, NULL);
        return r < 0 ? r : fetched_from_reply(reply, true, FC_INFLIGHT_FETCH_MAX, out, n);
}

int fc_inflight_ack(fc_redis_t *c, const fc_inflight_t *f, const uint64_t *ids, size_t n) {
        if (n == 0)
                return 0;
        if (n > 100000)
                return -EINVAL;
        const char **argv = malloc((n + 2) * sizeof(*argv));
        size_t *lens = malloc((n + 2) * sizeof(*lens));
        char (*fields)[24] = malloc(n * sizeof(*fields));
        int r = -ENOMEM;
        if (argv && lens && fields) {
                argv[0] = "HDEL";
                argv[1] = f->hash;
                lens[0] = 4;
                lens[1] = strlen(f->hash);
                for (size_t i = 0; i < n; i++) {
                        lens[i + 2] = (size_t)(fc_put_u64(fields[i], ids[i]) - fields[i]);
                        argv[i + 2] = fields[i];
                }
                redisReply *reply = NULL;
                r = fc_redis_command(c, FC_REDIS_TIMEOUT_DEFAULT, &reply, (int)n + 2, argv, lens);
                r = integer_result(r, reply);
        }
        free(argv);
        free(lens);
        free(fields);
        return r;
}

static void format_dead_limits(const fc_dead_limits_t *dead, char timeout[32], char max[16]) {
        snprintf(timeout, 32, "%.3f", dead ? dead->timeout_s : 0.0);
        snprintf(max, 16, "%u", dead ? dead->max_jobs : 0);
}

int fc_inflight_finish(fc_redis_t *c, const fc_inflight_t *f, uint64_t id, fc_finish_t how, double at,
                       const char *payload, double now, const fc_dead_limits_t *dead) {
        static const char *const names[] = {"retry", "dead", "schedule"};
        char field[24], score[32], now_s[32], timeout[32], max[16];
        if ((unsigned)how > FC_FINISH_SCHEDULE || !payload || (how == FC_FINISH_DEAD && !dead))
                return -EINVAL;
        snprintf(field, sizeof(field), "%" PRIu64, id);
        snprintf(score, sizeof(score), "%.6f", at);
        snprintf(now_s, sizeof(now_s), "%.6f", now);
        format_dead_limits(dead, timeout, max);
        const char *argv[] = {f->hash, f->retry, f->dead, f->schedule, field, names[how], score,
                              payload, now_s, timeout, max};
        redisReply *reply = NULL;
        int r = fc_redis_eval(c, &finish_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 4, 11, argv, NULL);
        return integer_result(r, reply);
}

int fc_inflight_requeue(fc_redis_t *c, const fc_inflight_t *f) {
        const char *argv[] = {f->hash, f->queue_prefix};
        redisReply *reply = NULL;
        int r = fc_redis_eval(c, &requeue_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 2, 2, argv, NULL);
        return integer_result(r, reply);
}

int fc_inflight_scan(fc_redis_t *c, const fc_inflight_t *f, uint64_t *cursor, unsigned count, fc_fetched_t **out,
                     size_t *n) {
        char cur[24], cnt[16];
        snprintf(cur, sizeof(cur), "%" PRIu64, *cursor);
        snprintf(cnt, sizeof(cnt), "%u", count ? count : 100);
        const char *argv[] = {"HSCAN", f->hash, cur, "COUNT", cnt};
        redisReply *reply = NULL;
        *out = NULL;
        *n = 0;
        int r = fc_redis_command(c, FC_REDIS_TIMEOUT_DEFAULT, &reply, 5, argv, NULL);
        if (r < 0)
                return r;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_ARRAY) {
                freeReplyObject(reply);
                return -EPROTO;
        }
        uint64_t next = strtoull(reply->element[0]->str, NULL, 10);
        redisReply *pairs = reply->element[1];
        reply->element[1] = NULL; /* ours now */
        freeReplyObject(reply);
        size_t max = pairs->elements / 2;
        *out = calloc(max ? max : 1, sizeof(**out));
        if (!*out) {
                freeReplyObject(pairs);
                return -ENOMEM;
        }
        r = fetched_from_reply(pairs, true, max, *out, n);
        if (r < 0) {
                free(*out);
                *out = NULL;
                return r;
        }
        *cursor = next;
        return 0;
}

int fc_inflight_move(fc_redis_t *c, const fc_inflight_t *f, const fc_move_t *moves, size_t n, double now,
                     const fc_dead_limits_t *dead) {
        if (n == 0)
                return 0;
        if (n > 10000 || !dead)
                return -EINVAL;
        size_t argc = 6 + 3 * n;
        const char **argv = calloc(argc, sizeof(*argv));
        char (*ids)[24] = calloc(n, sizeof(*ids));
        char now_s[32], timeout[32], max[16];
        int r = -ENOMEM;
        if (argv && ids) {
                snprintf(now_s, sizeof(now_s), "%.6f", now);
                format_dead_limits(dead, timeout, max);
                argv[0] = f->hash;
                argv[1] = f->queue_prefix;
                argv[2] = f->dead;
                argv[3] = now_s;
                argv[4] = timeout;
                argv[5] = max;
                for (size_t i = 0; i < n; i++) {
                        snprintf(ids[i], sizeof(ids[i]), "%" PRIu64, moves[i].id);
                        argv[6 + 3 * i] = ids[i];
                        argv[7 + 3 * i] = moves[i].dead ? "" : moves[i].queue;
                        argv[8 + 3 * i] = moves[i].payload;
                }
                redisReply *reply = NULL;
                r = fc_redis_eval(c, &move_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 3, (int)argc, argv, NULL);
                r = integer_result(r, reply);
        }
        free(argv);
        free(ids);
        return r;
}

int fc_inflight_drop_if_empty(fc_redis_t *c, const fc_inflight_t *f) {
        const char *argv[] = {f->hash, f->seq, f->last_fetch};
        redisReply *reply = NULL;
        int r = fc_redis_eval(c, &drop_script, FC_REDIS_TIMEOUT_DEFAULT, &reply, 3, 3, argv, NULL);
        return integer_result(r, reply);
}
