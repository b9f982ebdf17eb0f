/* chaos_multi: two daemons on one Redis, and three on another (each with
 * its own --instance), while Record jobs flow; one daemon of each group is
 * killed with SIGKILL and not restarted. The survivors must take its
 * in-flight jobs back (orphan recovery) and run them: none lost. Only jobs
 * that were in the dead daemon's hash can run twice.
 *
 * Recovery takes a daemon for dead once its beat is 60 s old, and looks
 * every 30-40 s. The small run makes the dead daemon's beat look old at once
 * (flowcoro:beats is a zset of epoch seconds), so the survivors' next pass,
 * within 40 s, recovers it; the full run lets the beat expire on its own. Both
 * groups run at the same time, so the case waits for one pass, not two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "chaos.h"

typedef struct group {
        chaos_redis_t redis;
        fc_test_daemon_t daemons[3];
        size_t n; /* daemons in the group; daemons[0] is the one killed */
        chaos_pacer_t jobs;
        char victim[512];    /* its identity */
        long long in_flight; /* in its hash just after the kill */
        bool recovered;
} group_t;

static group_t groups[2];

static int teardown(void **state) {
        (void)state;
        for (size_t g = 0; g < 2; g++) {
                for (size_t i = 0; i < 3; i++)
                        fc_test_daemon_stop(&groups[g].daemons[i]);
                chaos_redis_stop(&groups[g].redis);
        }
        return 0;
}

static int setup(void **state) {
        (void)state;
        memset(groups, 0, sizeof(groups));
        for (size_t g = 0; g < 2; g++)
                if (chaos_redis_start(&groups[g].redis, NULL) < 0) {
                        teardown(state);
                        return -1;
                }
        return 0;
}

static void start_group(group_t *g, size_t n) {
        static const char *const instances[] = {"a", "b", "c"};
        g->n = n;
        for (size_t i = 0; i < n; i++) {
                const char *const args[] = {"--instance", instances[i], NULL};
                assert_int_equal(
                        fc_test_daemon_start(&g->daemons[i], &g->redis.server, "concurrency: 200\n", args),
                        0);
        }
        assert_int_equal(
                fc_test_identity_of(chaos_conn(&g->redis), g->daemons[0].pid, g->victim, sizeof(g->victim)),
                0);
}

static void pace_both(void) {
        for (size_t g = 0; g < 2; g++)
                chaos_pace(&groups[g].jobs, &groups[g].redis);
}

/* Keeps both producers going for ms. */
static void flow_for(long ms) {
        for (int64_t end = chaos_now_ms() + ms; chaos_now_ms() < end;) {
                pace_both();
                chaos_sleep_ms(10);
        }
}

static void kill_victim(group_t *g) {
        /* With jobs in its hash, so there is something to recover. */
        int64_t give_up = chaos_now_ms() + 30000;
        while (chaos_int(&g->redis, "HLEN flowcoro:inflight:%s", g->victim) < 5) {
                assert_true(chaos_now_ms() < give_up);
                pace_both();
                chaos_sleep_ms(10);
        }
        fc_test_daemon_kill(&g->daemons[0]);
        g->in_flight = chaos_int(&g->redis, "HLEN flowcoro:inflight:%s", g->victim);
        printf("%zu daemons: killed %s with %lld jobs in flight, %lld done so far\n", g->n, g->victim,
               g->in_flight, chaos_int(&g->redis, "HLEN seen"));
        assert_true(g->in_flight > 0);
        if (!chaos_full())
                assert_int_equal(chaos_int(&g->redis, "ZADD flowcoro:beats XX 1 %s", g->victim), 0);
}

/* What became of the group's jobs; the checks come after the summary line. */
static fc_test_tally_t tally_group(group_t *g, size_t *recoverers) {
        fc_test_tally_t t = chaos_tally(&g->redis, "seen", g->jobs.prefix, g->jobs.pushed);
        char line[700];
        snprintf(line, sizeof(line), "in-flight jobs of daemon %s (", g->victim);
        *recoverers = 0;
        for (size_t i = 1; i < g->n; i++)
                *recoverers += fc_test_daemon_logged(&g->daemons[i], line);
        printf("%zu daemons: %ld jobs, lost %ld, extra runs %ld (bound %lld), recovered by %zu survivor(s)\n",
               g->n, t.jobs, t.lost, t.extra_runs, g->in_flight, *recoverers);
        return t;
}

static void check_group(group_t *g, const fc_test_tally_t *t, size_t recoverers) {
        assert_int_equal(t->lost, 0);
        assert_true(t->extra_runs <= g->in_flight);
        assert_int_equal(recoverers, 1); /* under the recovery lock, once */
        for (size_t i = 1; i < g->n; i++)
                assert_false(fc_test_daemon_wait(&g->daemons[i], 0)); /* survivors still run */
        /* Only the survivors are registered. */
        assert_int_equal(chaos_int(&g->redis, "HLEN flowcoro:owners"), (long long)g->n - 1);
        assert_int_equal(chaos_int(&g->redis, "HEXISTS flowcoro:owners %s", g->victim), 0);
}

static void test_survivors_recover_a_killed_daemons_jobs(void **state) {
        (void)state;
        for (size_t g = 0; g < 2; g++) {
                groups[g].jobs = (chaos_pacer_t){
                        .key = "seen",
                        .prefix = "m",
                        .ms = 200,
                        .per_second = (double)chaos_size(150, 500),
                        .total = 100000000, /* until recovery is seen */
                };
                start_group(&groups[g], g + 2);
        }
        flow_for(3000);
        for (size_t g = 0; g < 2; g++)
                kill_victim(&groups[g]);

        /* The survivors forget the victim once they took its jobs back. */
        int64_t give_up = chaos_now_ms() + chaos_size(60000, 180000);
        int64_t killed_at = chaos_now_ms();
        while (!groups[0].recovered || !groups[1].recovered) {
                assert_true(chaos_now_ms() < give_up);
                pace_both();
                for (size_t g = 0; g < 2; g++)
                        if (!groups[g].recovered && chaos_int(&groups[g].redis, "HEXISTS flowcoro:owners %s",
                                                              groups[g].victim) == 0) {
                                groups[g].recovered = true;
                                printf("%zu daemons: its jobs recovered %.1f s after the kill\n", groups[g].n,
                                       (double)(chaos_now_ms() - killed_at) / 1000.0);
                        }
                chaos_sleep_ms(10);
        }
        flow_for(2000); /* the survivors run the recovered jobs amid new ones */
        fc_test_tally_t t[2], all = {0};
        size_t recoverers[2];
        for (size_t g = 0; g < 2; g++) {
                assert_true(chaos_wait_settled(&groups[g].redis, (int)chaos_size(60000, 300000)));
                t[g] = tally_group(&groups[g], &recoverers[g]);
                all.jobs += t[g].jobs;
                all.completed += t[g].completed;
                all.lost += t[g].lost;
                all.duplicated += t[g].duplicated;
        }
        fc_test_record_print(&all);
        for (size_t g = 0; g < 2; g++)
                check_group(&groups[g], &t[g], recoverers[g]);
}

int main(void) {
        chaos_init();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_survivors_recover_a_killed_daemons_jobs, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
