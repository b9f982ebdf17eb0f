/* The schedule and retry poller: moves jobs whose time has come from the
 * schedule and retry sets to the back of their queues (as a Sidekiq client
 * would enqueue them), in batches, then sleeps until the earliest due time
 * (capped, with jitter across daemons). A job this daemon files in retry or
 * schedule for earlier than that wakes it (fc__engine_due_at); jobs other
 * processes schedule are seen within MAX_SLEEP_MS.
 *
 * Each job is rewritten with a fresh enqueued_at (so queue latency means
 * what it says) and moved only if this daemon's ZREM removed it, all in one
 * script per batch: two daemons never both enqueue one job, and a crash
 * between reading and moving loses nothing. */
#include "engine-internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobscan.h"
#include "log.h"

#define BATCH        100
#define MAX_SLEEP_MS 2000
#define JITTER_MS    50

/* KEYS: the sorted set, the queues set, the queue key prefix. ARGV:
 * (member, queue, job to enqueue) triples. */
static const char move_due_lua[] =
        "local moved = 0\n"
        "for i = 1, #ARGV, 3 do\n"
        "  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then\n"
        "    redis.call('SADD', KEYS[2], ARGV[i + 1])\n"
        "    redis.call('LPUSH', KEYS[3] .. ARGV[i + 1], ARGV[i + 2])\n"
        "    moved = moved + 1\n"
        "  end\n"
        "end\n"
        "return moved\n";

static fc_redis_script_t move_due_script;

/* The job as it goes back to its queue: its queue ("default" when it names
 * none) and its JSON with enqueued_at = now. A member that is not a JSON
 * object, or nests too deep to parse on a coroutine's stack, goes to
 * "default" unchanged; the job path then files it in dead with the reason. */
static void requeue_form(const char *member, size_t len, double now, char **queue, char **job) {
        json_t *o = fc_json_too_deep(member, len, FC_JSON_MAX_DEPTH) ? NULL : json_loadb(member, len, 0, NULL);
        const char *q = json_string_value(json_object_get(o, "queue"));
        *queue = strdup(q && *q ? q : "default");
        *job = NULL;
        if (json_is_object(o) && json_object_set_new(o, "enqueued_at", json_real(now)) == 0)
                *job = json_dumps(o, JSON_COMPACT);
        json_decref(o);
}

/* Moves up to BATCH due jobs of set. Returns how many were due (moved by
 * us or, in a race, by another daemon), or a negative errno. */
static int move_due(fc_engine_t *e, fc_redis_t *c, const char *set, double now) {
        char now_s[32], queue_prefix[512];
        snprintf(now_s, sizeof(now_s), "%.6f", now);
        snprintf(queue_prefix, sizeof(queue_prefix), "%squeue:", e->prefix);
        redisReply *due = NULL;
        int r = fc_redis_call(c, &due, "ZRANGE", set, "-inf", now_s, "BYSCORE", "LIMIT", "0", "100", NULL);
        if (r < 0)
                return r;
        if (due->type != REDIS_REPLY_ARRAY) {
                freeReplyObject(due);
                return -EPROTO;
        }
        size_t n = due->elements, argc = 3 + 3 * n;
        const char **argv = calloc(argc, sizeof(*argv));
        size_t *argvlen = calloc(argc, sizeof(*argvlen));
        char **owned = calloc(2 * n + 1, sizeof(*owned));
        r = argv && argvlen && owned ? 0 : -ENOMEM;
        if (r == 0 && n > 0) {
                argv[0] = set;
                argv[1] = e->keys.queues;
                argv[2] = queue_prefix;
                for (size_t i = 0; i < 3; i++)
                        argvlen[i] = strlen(argv[i]);
                for (size_t i = 0; i < n && r == 0; i++) {
                        const redisReply *m = due->element[i];
                        char *queue, *job;
                        requeue_form(m->str, m->len, now, &queue, &job);
                        owned[2 * i] = queue;
                        owned[2 * i + 1] = job;
                        if (!queue) {
                                r = -ENOMEM;
                                break;
                        }
                        argv[3 + 3 * i] = m->str;
                        argvlen[3 + 3 * i] = m->len;
                        argv[4 + 3 * i] = queue;
                        argvlen[4 + 3 * i] = strlen(queue);
                        argv[5 + 3 * i] = job ? job : m->str;
                        argvlen[5 + 3 * i] = job ? strlen(job) : m->len;
                }
                redisReply *moved = NULL;
                if (r == 0)
                        r = fc_redis_eval(c, &move_due_script, FC_REDIS_TIMEOUT_DEFAULT, &moved, 3, (int)argc, argv,
                                          argvlen);
                if (r == 0) {
                        if (moved->integer > 0)
                                fc_log(FC_LOG_DEBUG, "moved %lld due jobs from %s to their queues", moved->integer,
                                       set);
                        freeReplyObject(moved);
                        r = (int)n;
                }
        }
        for (size_t i = 0; owned && i < 2 * n; i++)
                free(owned[i]);
        free(owned);
        free(argv);
        free(argvlen);
        freeReplyObject(due);
        return r;
}

/* The earliest score of schedule and retry (epoch seconds), or INFINITY
 * when both are empty. Returns 0 or a negative errno. */
static int earliest_due(fc_engine_t *e, fc_redis_t *c, double *at) {
        const char *sets[] = {e->keys.schedule, e->keys.retry};
        redisReply *replies[2] = {0};
        *at = INFINITY;
        for (size_t i = 0; i < 2; i++) {
                const char *argv[] = {"ZRANGE", sets[i], "0", "0", "WITHSCORES"};
                fc_redis_append(c, 5, argv, NULL);
        }
        int r = fc_redis_exec(c, FC_REDIS_TIMEOUT_DEFAULT, replies, 2);
        if (r < 0)
                return r;
        for (size_t i = 0; i < 2; i++) {
                if (replies[i]->type == REDIS_REPLY_ARRAY && replies[i]->elements == 2) {
                        double score = strtod(replies[i]->element[1]->str, NULL);
                        if (score < *at)
                                *at = score;
                } else if (replies[i]->type == REDIS_REPLY_ERROR)
                        r = FC_REDIS_E_REPLY;
                freeReplyObject(replies[i]);
        }
        return r;
}

void fc__poller_main(void *engine) {
        fc_engine_t *e = engine;
        fc_redis_t *c = NULL;
        if (fc__engine_connect(e, "poller", &c) < 0)
                return;
        for (;;) {
                /* One round trip finds out whether anything is due; only then
                 * are the due jobs read and moved. */
                double now = fc__engine_now(), next = INFINITY;
                int r = earliest_due(e, c, &next);
                while (r == 0 && next <= now) {
                        int a = move_due(e, c, e->keys.schedule, now);
                        int b = a < 0 ? a : move_due(e, c, e->keys.retry, now);
                        r = b < 0 ? b : earliest_due(e, c, &next);
                        if (r == 0 && a < BATCH && b < BATCH)
                                break; /* what is due now has moved; next says what comes */
                }
                int64_t sleep_ms = MAX_SLEEP_MS;
                if (r < 0) {
                        if (r == -ECANCELED)
                                break;
                        fc_log_limited(FC_LOG_WARNING, "poller failed",
                                       "cannot move due scheduled and retried jobs: %s; retrying",
                                       fc_redis_last_error(c));
                } else if (next - now < MAX_SLEEP_MS / 1000.0) {
                        sleep_ms = next <= now ? 0 : (int64_t)ceil((next - now) * 1000.0);
                }
                sleep_ms += (int64_t)fc__engine_random_below(JITTER_MS);
                atomic_store(&e->poller_next_ms, fc_now_ms() + sleep_ms);
                if (fc__engine_wait(e->poller_bell, sleep_ms) < 0)
                        break;
        }
        fc_redis_free(c);
}

static void __attribute__((constructor)) init_move_due_script(void) {
        fc_redis_script_init(&move_due_script, move_due_lua);
}
