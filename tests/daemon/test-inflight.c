/* daemon/inflight.c: the reliable fetch against a real redis-server. The
 * Redis calls run in a coroutine; the asserts run on the test's thread,
 * on what the coroutine recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowcoro/core.h"
#include "harness/redis_server.h"
#include "inflight.h"

static fc_test_redis_t redis;
static fc_sched_t *pool;

static redisContext *raw(void) {
        redisContext *c = redisConnectUnix(redis.socket_path);
        assert_non_null(c);
        assert_int_equal(c->err, 0);
        return c;
}

static long long raw_int(const char *fmt, const char *a, const char *b) {
        redisContext *c = raw();
        redisReply *r = redisCommand(c, fmt, a, b);
        assert_non_null(r);
        long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        freeReplyObject(r);
        redisFree(c);
        return v;
}

static char *raw_rpop(const char *key) {
        redisContext *c = raw();
        redisReply *r = redisCommand(c, "RPOP %s", key);
        char *v = r && r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
        freeReplyObject(r);
        redisFree(c);
        return v;
}

static void lpush(const char *key, const char *value) {
        assert_true(raw_int("LPUSH %s %s", key, value) > 0);
}

/* What one coroutine did. */
typedef struct step {
        enum { FETCH, ACK, ACK_MANY, REQUEUE, FINISH, RECALL, MOVE, SCAN, DROP, REWRITE } what;
        fc_finish_t how;
        double at, now;
        const char *payload;
        uint64_t ids[8];
        size_t n_ids;
        const char *queue;
        const char *queues[4]; /* FETCH from several: queues[0..n_queues) */
        size_t n_queues;
        uint64_t token;        /* FETCH (0: a fresh one) and RECALL */
        fc_move_t moves[4];    /* MOVE */
        uint64_t cursor;       /* SCAN */
        fc_fetched_t *scanned; /* SCAN: owned by the test */
        unsigned max;
        uint64_t id;
        int r;
        size_t n;
        fc_fetched_t out[16];
} step_t;

typedef struct script {
        fc_inflight_t *f;
        step_t *steps;
        size_t n;
} script_t;

static void run_steps(void *arg) {
        script_t *s = arg;
        fc_redis_options_t o = {.transport = FC_REDIS_UNIX, .socket_path = redis.socket_path};
        fc_redis_t *c;
        if (fc_redis_new(&o, &c) < 0)
                return;
        static uint64_t tokens;
        fc_dead_limits_t dead = {.max_jobs = 3, .timeout_s = 100};
        for (size_t i = 0; i < s->n; i++) {
                step_t *st = &s->steps[i];
                if (st->what == FETCH && st->n_queues)
                        st->r = fc_inflight_fetch(c, s->f, 0, st->queues, st->n_queues, st->max,
                                                  st->token ? st->token : ++tokens, st->out, &st->n);
                else if (st->what == FETCH)
                        st->r = fc_inflight_fetch(c, s->f, 0, &st->queue, 1, st->max, st->token ? st->token : ++tokens,
                                                  st->out, &st->n);
                else if (st->what == ACK)
                        st->r = fc_inflight_ack(c, s->f, &st->id, 1);
                else if (st->what == FINISH)
                        st->r = fc_inflight_finish(c, s->f, st->id, st->how, st->at, st->payload, st->now, &dead);
                else if (st->what == ACK_MANY)
                        st->r = fc_inflight_ack(c, s->f, st->ids, st->n_ids);
                else if (st->what == RECALL)
                        st->r = fc_inflight_recall(c, s->f, 0, st->token, st->out, &st->n);
                else if (st->what == MOVE)
                        st->r = fc_inflight_move(c, s->f, st->moves, st->n, st->now, &dead);
                else if (st->what == SCAN)
                        st->r = fc_inflight_scan(c, s->f, &st->cursor, 2, &st->scanned, &st->n);
                else if (st->what == REWRITE)
                        st->r = fc_inflight_rewrite(c, s->f, st->id, st->queue, st->payload);
                else if (st->what == DROP)
                        st->r = fc_inflight_drop_if_empty(c, s->f);
                else
                        st->r = fc_inflight_requeue(c, s->f);
        }
        fc_redis_free(c);
}

static void play(fc_inflight_t *f, step_t *steps, size_t n) {
        script_t s = {.f = f, .steps = steps, .n = n};
        fc_coro_t *co;
        assert_int_equal(fc_spawn(pool, run_steps, &s, &co), 0);
        assert_int_equal(fc_join(co), 0);
}

static int setup(void **state) {
        fc_sched_options_t o = {.threads = 2};
        if (fc_test_redis_start(&redis, NULL) < 0 || fc_sched_create(&o, &pool) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        fc_sched_destroy(pool);
        fc_test_redis_stop(&redis);
        return 0;
}

static void test_fetch_is_fifo_into_the_inflight_hash_and_ack_removes(void **state) {
        fc_inflight_t f;
        assert_int_equal(fc_inflight_init(&f, "", "host:1:abc"), 0);
        char job[64];
        for (int i = 0; i < 10; i++) {
                snprintf(job, sizeof(job), "{\"class\":\"Noop\",\"args\":[%d],\"jid\":\"j%d\"}", i, i);
                lpush("queue:default", job);
        }
        step_t steps[] = {{.what = FETCH, .queue = "default", .max = 4},
                          {.what = FETCH, .queue = "empty", .max = 4}};
        play(&f, steps, 2);
        assert_int_equal(steps[0].r, 0);
        assert_int_equal(steps[0].n, 4);
        for (int i = 0; i < 4; i++) {
                snprintf(job, sizeof(job), "{\"class\":\"Noop\",\"args\":[%d],\"jid\":\"j%d\"}", i, i);
                assert_string_equal(steps[0].out[i].payload, job); /* oldest first */
                assert_int_equal(steps[0].out[i].id, steps[0].out[0].id + (uint64_t)i);
        }
        assert_int_equal(steps[1].r, 0);
        assert_int_equal(steps[1].n, 0);
        assert_int_equal(raw_int("HLEN %s%s", "flowcoro:inflight:host:1:abc", ""), 4);
        assert_int_equal(raw_int("LLEN %s%s", "queue:default", ""), 6);

        step_t acks[] = {{.what = ACK, .id = steps[0].out[1].id}, {.what = ACK, .id = steps[0].out[1].id}};
        play(&f, acks, 2);
        assert_int_equal(acks[0].r, 1);
        assert_int_equal(acks[1].r, 0); /* already gone */
        assert_int_equal(raw_int("HLEN %s%s", "flowcoro:inflight:host:1:abc", ""), 3);
        fc_fetched_free(steps[0].out, steps[0].n);

        /* Put the 3 unfinished ones back: next to be taken, in their order. */
        step_t rq[] = {{.what = REQUEUE}};
        play(&f, rq, 1);
        assert_int_equal(rq[0].r, 3);
        assert_int_equal(raw_int("EXISTS %s%s", "flowcoro:inflight:host:1:abc", ""), 0);
        const int expect[] = {0, 2, 3, 4, 5, 6, 7, 8, 9};
        for (int i = 0; i < 9; i++) {
                char *v = raw_rpop("queue:default");
                snprintf(job, sizeof(job), "{\"class\":\"Noop\",\"args\":[%d],\"jid\":\"j%d\"}", expect[i], expect[i]);
                assert_non_null(v);
                assert_string_equal(v, job);
                free(v);
        }
        fc_inflight_clear(&f);
}

static void test_same_jid_twice_stays_two_jobs_and_prefix_and_queue_travel(void **state) {
        fc_inflight_t f;
        assert_int_equal(fc_inflight_init(&f, "app:", "h:2:def"), 0);
        const char *dup = "{\"class\":\"Noop\",\"args\":[],\"jid\":\"same\"}";
        lpush("app:queue:a", dup);
        lpush("app:queue:a", dup);
        lpush("app:queue:b", "{\"class\":\"Noop\",\"args\":[],\"queue\":\"elsewhere\"}");
        step_t steps[] = {{.what = FETCH, .queue = "a", .max = 10}, {.what = FETCH, .queue = "b", .max = 10}};
        play(&f, steps, 2);
        assert_int_equal(steps[0].n, 2);
        assert_int_equal(steps[1].n, 1);
        assert_int_not_equal(steps[0].out[0].id, steps[0].out[1].id);
        assert_int_equal(raw_int("HLEN %s%s", "app:flowcoro:inflight:h:2:def", ""), 3);
        fc_fetched_free(steps[0].out, steps[0].n);
        fc_fetched_free(steps[1].out, steps[1].n);

        /* The job from list b goes back to b, whatever its "queue" field says. */
        step_t rq[] = {{.what = REQUEUE}};
        play(&f, rq, 1);
        assert_int_equal(rq[0].r, 3);
        assert_int_equal(raw_int("LLEN %s%s", "app:queue:a", ""), 2);
        assert_int_equal(raw_int("LLEN %s%s", "app:queue:b", ""), 1);
        assert_int_equal(raw_int("EXISTS %s%s", "app:queue:elsewhere", ""), 0);
        fc_inflight_clear(&f);
}

static void test_a_process_that_dies_leaves_its_jobs_for_requeue(void **state) {
        /* Fetch, then "die" (the connection and memory are gone); another
         * process with the same identity puts the jobs back. */
        fc_inflight_t f;
        assert_int_equal(fc_inflight_init(&f, "", "h:3:ghi"), 0);
        for (int i = 0; i < 5; i++)
                lpush("queue:crash", "{\"class\":\"Record\",\"args\":[\"k\"]}");
        step_t steps[] = {{.what = FETCH, .queue = "crash", .max = 5}};
        play(&f, steps, 1);
        assert_int_equal(steps[0].n, 5);
        fc_fetched_free(steps[0].out, steps[0].n);
        assert_int_equal(raw_int("LLEN %s%s", "queue:crash", ""), 0);
        step_t rq[] = {{.what = REQUEUE}, {.what = REQUEUE}};
        play(&f, rq, 2);
        assert_int_equal(rq[0].r, 5);
        assert_int_equal(rq[1].r, 0);
        assert_int_equal(raw_int("LLEN %s%s", "queue:crash", ""), 5);

        /* Many acknowledgements in one round trip; an unknown id is not counted. */
        step_t more[] = {{.what = FETCH, .queue = "crash", .max = 5}};
        play(&f, more, 1);
        assert_int_equal(more[0].n, 5);
        step_t acks[] = {{.what = ACK_MANY, .n_ids = 4}};
        for (int i = 0; i < 3; i++)
                acks[0].ids[i] = more[0].out[i].id;
        acks[0].ids[3] = 999999;
        play(&f, acks, 1);
        assert_int_equal(acks[0].r, 3);
        assert_int_equal(raw_int("HLEN %s%s", "flowcoro:inflight:h:3:ghi", ""), 2);
        fc_fetched_free(more[0].out, more[0].n);
        fc_inflight_clear(&f);
}

static void test_finish_moves_out_of_flight_atomically(void **state) {
        fc_inflight_t f;
        assert_int_equal(fc_inflight_init(&f, "", "h:5:fin"), 0);
        for (int i = 0; i < 8; i++)
                lpush("queue:fin", "{\"class\":\"Fail\",\"args\":[]}");
        redisContext *c = raw();
        freeReplyObject(redisCommand(c, "ZADD dead 1000 old-dead-job")); /* older than the timeout */
        redisFree(c);
        step_t got[] = {{.what = FETCH, .queue = "fin", .max = 8}};
        play(&f, got, 1);
        assert_int_equal(got[0].n, 8);
        step_t fin[8];
        memset(fin, 0, sizeof(fin));
        fin[0] = (step_t){.what = FINISH, .id = got[0].out[0].id, .how = FC_FINISH_RETRY, .at = 5000,
                          .payload = "retry-me", .now = 2000};
        fin[1] = (step_t){.what = FINISH, .id = got[0].out[1].id, .how = FC_FINISH_SCHEDULE, .at = 7000,
                          .payload = "snoozed", .now = 2000};
        for (int i = 2; i < 7; i++) /* five dead jobs: the set keeps 3 */
                fin[i] = (step_t){.what = FINISH, .id = got[0].out[i].id, .how = FC_FINISH_DEAD,
                                  .payload = i == 2 ? "d2" : i == 3 ? "d3" : i == 4 ? "d4" : i == 5 ? "d5" : "d6",
                                  .now = 2000 + i};
        fin[7] = (step_t){.what = FINISH, .id = 999999, .how = FC_FINISH_RETRY, .at = 1, .payload = "not-ours",
                          .now = 2000};
        play(&f, fin, 8);
        for (int i = 0; i < 7; i++)
                assert_int_equal(fin[i].r, 1);
        assert_int_equal(fin[7].r, 0); /* not in flight here: nothing written */
        assert_int_equal(raw_int("HLEN %s%s", "flowcoro:inflight:h:5:fin", ""), 1);
        c = raw();
        redisReply *r = redisCommand(c, "ZSCORE retry retry-me");
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_true(atof(r->str) == 5000);
        freeReplyObject(r);
        r = redisCommand(c, "ZSCORE schedule snoozed");
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_true(atof(r->str) == 7000);
        freeReplyObject(r);
        r = redisCommand(c, "ZRANGE dead 0 -1");
        assert_int_equal(r->elements, 3);
        assert_string_equal(r->element[0]->str, "d4");
        assert_string_equal(r->element[2]->str, "d6");
        freeReplyObject(r);
        r = redisCommand(c, "ZSCORE dead old-dead-job"); /* past dead_timeout: trimmed */
        assert_int_equal(r->type, REDIS_REPLY_NIL);
        freeReplyObject(r);
        r = redisCommand(c, "ZSCORE retry not-ours");
        assert_int_equal(r->type, REDIS_REPLY_NIL);
        freeReplyObject(r);
        redisFree(c);
        fc_fetched_free(got[0].out, got[0].n);
        fc_inflight_clear(&f);
}

static void test_fetch_takes_queues_in_the_order_given_and_recall_finds_an_unknown_fetch(void **state) {
        fc_inflight_t f;
        assert_int_equal(fc_inflight_init(&f, "", "h:6:many"), 0);
        lpush("queue:hi", "{\"jid\":\"1\"}");
        lpush("queue:hi", "{\"jid\":\"2\"}");
        lpush("queue:lo", "{\"jid\":\"3\"}");
        lpush("queue:lo", "{\"jid\":\"4\"}");
        /* hi runs out after two: the batch goes on with lo. */
        step_t steps[] = {{.what = FETCH, .queues = {"hi", "lo"}, .n_queues = 2, .max = 3, .token = 77},
                          {.what = RECALL, .token = 77},
                          {.what = RECALL, .token = 78}};
        play(&f, steps, 3);
        assert_int_equal(steps[0].r, 0);
        assert_int_equal(steps[0].n, 3);
        assert_string_equal(steps[0].out[0].payload, "{\"jid\":\"1\"}");
        assert_string_equal(steps[0].out[0].queue, "hi");
        assert_string_equal(steps[0].out[1].payload, "{\"jid\":\"2\"}");
        assert_string_equal(steps[0].out[2].payload, "{\"jid\":\"3\"}");
        assert_string_equal(steps[0].out[2].queue, "lo");
        /* The batch of token 77 is found again, the same jobs under the same ids. */
        assert_int_equal(steps[1].r, 0);
        assert_int_equal(steps[1].n, 3);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(steps[1].out[i].id, steps[0].out[i].id);
                assert_string_equal(steps[1].out[i].payload, steps[0].out[i].payload);
        }
        assert_int_equal(steps[2].n, 0); /* a fetch that never ran: nothing */

        /* Move: the first back to the front of hi, the second to dead, the
         * third twice (only one move happens: the id leaves the hash once). */
        step_t mv[] = {{.what = MOVE, .n = 4, .now = 3000,
                        .moves = {{.id = steps[0].out[0].id, .queue = "hi", .payload = "{\"jid\":\"1\",\"again\":1}"},
                                  {.id = steps[0].out[1].id, .dead = true, .payload = "poison"},
                                  {.id = steps[0].out[2].id, .queue = "lo", .payload = "{\"jid\":\"3\"}"},
                                  {.id = steps[0].out[2].id, .queue = "lo", .payload = "{\"jid\":\"3\"}"}}},
                       {.what = DROP}};
        play(&f, mv, 2);
        assert_int_equal(mv[0].r, 3);
        assert_int_equal(mv[1].r, 1); /* empty now: the bookkeeping keys go too */
        char *front = raw_rpop("queue:hi");
        assert_string_equal(front, "{\"jid\":\"1\",\"again\":1}");
        free(front);
        front = raw_rpop("queue:lo");
        assert_string_equal(front, "{\"jid\":\"3\"}"); /* back in front of n=4 */
        free(front);
        assert_int_equal(raw_int("LLEN %s%s", "queue:lo", ""), 1);
        assert_int_equal(raw_int("ZCARD %s%s", "dead", ""), 1);
        assert_int_equal(raw_int("EXISTS %s%s", "flowcoro:inflight-seq:h:6:many", ""), 0);
        fc_fetched_free(steps[0].out, steps[0].n);
        fc_fetched_free(steps[1].out, steps[1].n);
        redisContext *c = raw();
        freeReplyObject(redisCommand(c, "DEL dead queue:lo"));
        redisFree(c);
        fc_inflight_clear(&f);
}

static void test_scan_reads_a_whole_hash(void **state) {
        fc_inflight_t f;
        assert_int_equal(fc_inflight_init(&f, "", "h:7:scan"), 0);
        for (int i = 0; i < 5; i++)
                lpush("queue:s", "{}");
        step_t steps[] = {{.what = FETCH, .queue = "s", .max = 5}, {.what = DROP}};
        play(&f, steps, 2);
        assert_int_equal(steps[0].n, 5);
        assert_int_equal(steps[1].r, 0); /* not empty: kept */
        size_t seen = 0;
        step_t scan = {.what = SCAN};
        do {
                play(&f, &scan, 1);
                assert_int_equal(scan.r, 0);
                for (size_t i = 0; i < scan.n; i++)
                        assert_string_equal(scan.scanned[i].queue, "s");
                seen += scan.n;
                fc_fetched_free(scan.scanned, scan.n);
                free(scan.scanned);
        } while (scan.cursor != 0);
        assert_int_equal(seen, 5);
        fc_fetched_free(steps[0].out, steps[0].n);
        fc_inflight_clear(&f);
}

static void test_fetch_keeps_payloads_byte_for_byte_and_rewrite_replaces_one(void **state) {
        fc_inflight_t f;
        assert_int_equal(fc_inflight_init(&f, "", "h:8:jid"), 0);
        const char *in[] = {"{\"class\":\"Noop\",\"args\":[]}", "{}", " { \"a\":1}", "not json"};
        for (int i = 0; i < 4; i++)
                lpush("queue:j", in[i]);
        step_t steps[] = {{.what = FETCH, .queue = "j", .max = 10}};
        play(&f, steps, 1);
        assert_int_equal(steps[0].n, 4);
        for (int i = 0; i < 4; i++)
                assert_string_equal(steps[0].out[i].payload, in[i]);
        /* A job given a jid keeps it: the rewritten text is what a requeue puts back. */
        step_t rw[] = {{.what = REWRITE, .id = steps[0].out[0].id, .queue = "j", .payload = "{\"jid\":\"given\"}"},
                       {.what = REWRITE, .id = 999999, .queue = "j", .payload = "{}"},
                       {.what = REQUEUE}};
        play(&f, rw, 3);
        assert_int_equal(rw[0].r, 1);
        assert_int_equal(rw[1].r, 0); /* not in flight: nothing written */
        assert_int_equal(rw[2].r, 4);
        char *back = raw_rpop("queue:j");
        assert_string_equal(back, "{\"jid\":\"given\"}");
        free(back);
        assert_int_equal(raw_int("HEXISTS %s %s", "flowcoro:inflight:h:8:jid", "999999"), 0);
        fc_fetched_free(steps[0].out, steps[0].n);
        redisContext *c = raw();
        freeReplyObject(redisCommand(c, "DEL queue:j"));
        redisFree(c);
        fc_inflight_clear(&f);
}

static void test_bad_arguments(void **state) {
        fc_inflight_t f;
        assert_int_equal(fc_inflight_init(&f, "", "h:4"), 0);
        step_t steps[] = {{.what = FETCH, .queue = "q", .max = 0}, {.what = FETCH, .queue = "q", .max = 1001}};
        play(&f, steps, 2);
        assert_int_equal(steps[0].r, -EINVAL);
        assert_int_equal(steps[1].r, -EINVAL);
        fc_inflight_clear(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fetch_is_fifo_into_the_inflight_hash_and_ack_removes),
                cmocka_unit_test(test_same_jid_twice_stays_two_jobs_and_prefix_and_queue_travel),
                cmocka_unit_test(test_a_process_that_dies_leaves_its_jobs_for_requeue),
                cmocka_unit_test(test_finish_moves_out_of_flight_atomically),
                cmocka_unit_test(test_fetch_takes_queues_in_the_order_given_and_recall_finds_an_unknown_fetch),
                cmocka_unit_test(test_scan_reads_a_whole_hash),
                cmocka_unit_test(test_fetch_keeps_payloads_byte_for_byte_and_rewrite_replaces_one),
                cmocka_unit_test(test_bad_arguments),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
