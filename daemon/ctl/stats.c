/* flowcoroctl stats / queues: what Sidekiq::Stats and Sidekiq::Queue show,
 * read in two pipelined round trips. */
#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cleanup.h"

typedef struct queue_info {
        char *name;
        long long size;
        double latency; /* seconds since the oldest job was enqueued; 0 when empty */
} queue_info_t;

typedef struct stats {
        long long processed, failed, scheduled, retries, dead, processes, busy, enqueued;
        queue_info_t *queues;
        size_t n_queues;
} stats_t;

static void stats_clear(stats_t *s) {
        for (size_t i = 0; i < s->n_queues; i++)
                free(s->queues[i].name);
        free(s->queues);
        memset(s, 0, sizeof(*s));
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A set's members, sorted, as an array of borrowed strings of reply. */
static const char **sorted_members(const redisReply *reply, size_t *n) {
        *n = 0;
        if (reply->type != REDIS_REPLY_ARRAY)
                return NULL;
        const char **names = calloc(reply->elements + 1, sizeof(*names));
        if (!names)
                return NULL;
        for (size_t i = 0; i < reply->elements; i++)
                if (reply->element[i]->type == REDIS_REPLY_STRING)
                        names[(*n)++] = reply->element[i]->str;
        qsort(names, *n, sizeof(*names), compare_names);
        return names;
}

/* Sidekiq::Queue#latency: now - enqueued_at of the job that is next out. */
static double latency_of(const redisReply *last) {
        if (!last || last->type != REDIS_REPLY_ARRAY || last->elements == 0 ||
            last->element[0]->type != REDIS_REPLY_STRING)
                return 0;
        json_t *job = json_loadb(last->element[0]->str, last->element[0]->len, 0, NULL);
        double at = fc_ctl_epoch(json_object_get(job, "enqueued_at"));
        json_decref(job);
        return at > 0 ? fc_ctl_now() - at : 0;
}

/* Reads everything in two round trips; with_totals false reads the queues only. */
static int read_stats(fc_ctl_t *c, stats_t *s, bool with_totals) {
        memset(s, 0, sizeof(*s));
        int code = fc_ctl_connect(c);
        if (code)
                return code;
        _cleanup_free_ char *k_processed = fc_ctl_key(c, "stat:processed"),
                            *k_failed = fc_ctl_key(c, "stat:failed"), *k_schedule = fc_ctl_key(c, "schedule"),
                            *k_retry = fc_ctl_key(c, "retry"), *k_dead = fc_ctl_key(c, "dead"),
                            *k_processes = fc_ctl_key(c, "processes"), *k_queues = fc_ctl_key(c, "queues");
        if (!k_processed || !k_failed || !k_schedule || !k_retry || !k_dead || !k_processes || !k_queues)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        redisReply *first[7] = {0};
        fc_ctl_appendf(c, "SMEMBERS", k_queues, NULL);
        fc_ctl_appendf(c, "SMEMBERS", k_processes, NULL);
        fc_ctl_appendf(c, "GET", k_processed, NULL);
        fc_ctl_appendf(c, "GET", k_failed, NULL);
        fc_ctl_appendf(c, "ZCARD", k_schedule, NULL);
        fc_ctl_appendf(c, "ZCARD", k_retry, NULL);
        fc_ctl_appendf(c, "ZCARD", k_dead, NULL);
        code = fc_ctl_read_replies(c, first, 7);
        if (code)
                return code;
        for (size_t i = 0; i < 7 && code == 0; i++)
                code = fc_ctl_reply_error(c, first[i], i < 2 ? "SMEMBERS" : i < 4 ? "GET" : "ZCARD");
        if (code) {
                fc_ctl_free_replies(first, 7);
                return code;
        }
        s->processed = fc_ctl_reply_int(first[2]);
        s->failed = fc_ctl_reply_int(first[3]);
        s->scheduled = fc_ctl_reply_int(first[4]);
        s->retries = fc_ctl_reply_int(first[5]);
        s->dead = fc_ctl_reply_int(first[6]);

        size_t n_queues, n_procs;
        _cleanup_free_ const char **queues = sorted_members(first[0], &n_queues);
        _cleanup_free_ const char **procs = sorted_members(first[1], &n_procs);
        if (!with_totals)
                n_procs = 0;
        size_t n = 2 * n_queues + n_procs;
        _cleanup_free_ redisReply **second = calloc(n + 1, sizeof(*second));
        s->queues = calloc(n_queues + 1, sizeof(*s->queues));
        if (!queues || !procs || !second || !s->queues) {
                fc_ctl_free_replies(first, 7);
                stats_clear(s);
                return fc_ctl_fail(EX_OSERR, "out of memory");
        }
        for (size_t i = 0; i < n_queues; i++) {
                _cleanup_free_ char *key = fc_ctl_key(c, "queue:%s", queues[i]);
                fc_ctl_appendf(c, "LLEN", key ? key : "", NULL);
                fc_ctl_appendf(c, "LRANGE", key ? key : "", "-1", "-1", NULL);
        }
        for (size_t i = 0; i < n_procs; i++) {
                _cleanup_free_ char *key = fc_ctl_key(c, "%s", procs[i]);
                fc_ctl_appendf(c, "HMGET", key ? key : "", "info", "busy", NULL);
        }
        code = fc_ctl_read_replies(c, second, n);
        if (code == 0) {
                for (size_t i = 0; i < n_queues; i++) {
                        queue_info_t *q = &s->queues[s->n_queues];
                        if (!(q->name = strdup(queues[i]))) {
                                code = fc_ctl_fail(EX_OSERR, "out of memory");
                                break;
                        }
                        q->size = fc_ctl_reply_int(second[2 * i]);
                        q->latency = latency_of(second[2 * i + 1]);
                        s->enqueued += q->size;
                        s->n_queues++;
                }
                for (size_t i = 0; i < n_procs; i++) {
                        const redisReply *r = second[2 * n_queues + i];
                        /* Sidekiq's ProcessSet skips members whose hash expired. */
                        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                            r->element[0]->type != REDIS_REPLY_STRING)
                                continue;
                        s->processes++;
                        s->busy += fc_ctl_reply_int(r->element[1]);
                }
        }
        fc_ctl_free_replies(first, 7);
        fc_ctl_free_replies(second, n);
        if (code)
                stats_clear(s);
        return code;
}

static json_t *queues_json(const stats_t *s) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_queues; i++)
                json_array_append_new(a, json_pack("{s:s, s:I, s:f}", "name", s->queues[i].name, "size",
                                                   (json_int_t)s->queues[i].size, "latency",
                                                   s->queues[i].latency));
        return a;
}

static int print_queues_table(const stats_t *s) {
        static const char *const headers[] = {"QUEUE", "SIZE", "LATENCY"};
        fc_ctl_table_t t = {.n_cols = 3, .headers = headers, .align = "lrr"};
        for (size_t i = 0; i < s->n_queues; i++) {
                char age[32];
                fc_ctl_table_cell(&t, "%s", s->queues[i].name);
                fc_ctl_table_cell(&t, "%lld", s->queues[i].size);
                fc_ctl_table_cell(&t, "%s", fc_ctl_format_age(s->queues[i].latency, age));
        }
        return fc_ctl_table_print(&t);
}

static int print_stats(fc_ctl_t *c, const stats_t *s) {
        if (c->json)
                return fc_ctl_print_json(
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "processed",
                                  (json_int_t)s->processed, "failed", (json_int_t)s->failed, "busy",
                                  (json_int_t)s->busy, "enqueued", (json_int_t)s->enqueued, "scheduled",
                                  (json_int_t)s->scheduled, "retries", (json_int_t)s->retries, "dead",
                                  (json_int_t)s->dead, "processes", (json_int_t)s->processes, "queues",
                                  queues_json(s)));
        printf("processed  %lld\nfailed     %lld\nbusy       %lld\nenqueued   %lld\nscheduled  %lld\n"
               "retries    %lld\ndead       %lld\nprocesses  %lld\n\n",
               s->processed, s->failed, s->busy, s->enqueued, s->scheduled, s->retries, s->dead,
               s->processes);
        if (s->n_queues == 0) {
                printf("no queues\n");
                return fflush(stdout) == 0 ? 0 : EX_IOERR;
        }
        return print_queues_table(s);
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) {
        (void)sig;
        interrupted = 1;
}

/* Redraws every interval_ms until SIGINT/SIGTERM (exit 0). A Redis error
 * is shown and tried again at the next tick, as top would. */
static int watch(fc_ctl_t *c, long interval_ms) {
        struct sigaction sa = {.sa_handler = on_interrupt}; /* no SA_RESTART: the sleep ends at once */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        while (!interrupted) {
                stats_t s;
                if (!c->json) {
                        char now[32];
                        printf("\033[H\033[2J");
                        printf("flowcoroctl stats: Redis at %s, %s (every %.1fs; Ctrl-C quits)\n\n", c->where,
                               fc_ctl_format_time(fc_ctl_now(), now), interval_ms / 1000.0);
                }
                int code = read_stats(c, &s, true);
                if (code == EX_OSERR || code == EX_NOPERM)
                        return code;
                if (code == 0) {
                        code = print_stats(c, &s);
                        stats_clear(&s);
                        if (code)
                                return code;
                }
                fflush(stdout);
                struct timespec ts = {.tv_sec = interval_ms / 1000,
                                      .tv_nsec = (interval_ms % 1000) * 1000000L};
                while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        return 0;
}

static void stats_usage(void) {
        printf("Usage: flowcoroctl stats [--watch [SECONDS]] [--json]\n"
               "Show what Sidekiq::Stats shows: jobs processed and failed (all time), busy (running\n"
               "now), enqueued, scheduled, retries, dead, live processes, and each queue's size and\n"
               "latency (how long its next job has waited).\n"
               "\n"
               "  -w, --watch [SECONDS]  redraw every SECONDS (default 2, from 0.1) until Ctrl-C;\n"
               "                         with --json, print one JSON line each time\n"
               "      --json             print JSON\n"
               "  -h, --help             show this help\n");
}

int fc_ctl_cmd_stats(fc_ctl_t *c, int argc, char **argv) {
        static const struct option options[] = {
                {"watch", no_argument, NULL, 'w'}, FC_CTL_COMMON_OPTIONS, {0}};
        bool watching = false;
        long interval_ms = 2000;
        int opt;
        while ((opt = fc_ctl_getopt(c, argc, argv, ":wh", options)) != -1) {
                if (opt == 'h') {
                        stats_usage();
                        return 0;
                }
                if (opt != 'w')
                        return EX_USAGE;
                watching = true;
                /* An optional argument that may stand apart: --watch 5. */
                if (optind < argc && argv[optind][0] != '-') {
                        char *end;
                        errno = 0;
                        double seconds = strtod(argv[optind], &end);
                        if (errno || *end || end == argv[optind] || !(seconds >= 0.1 && seconds <= 86400))
                                return fc_ctl_fail(
                                        EX_USAGE,
                                        "stats: --watch: expected seconds from 0.1 to 86400, got '%s'",
                                        argv[optind]);
                        interval_ms = (long)(seconds * 1000 + 0.5);
                        optind++;
                }
        }
        int code = fc_ctl_no_more_args("stats", argc, argv, optind);
        if (!code)
                code = fc_ctl_load_config(c);
        if (code)
                return code;
        if (watching)
                return watch(c, interval_ms);
        stats_t s;
        code = read_stats(c, &s, true);
        if (code)
                return code;
        code = print_stats(c, &s);
        stats_clear(&s);
        return code;
}

int fc_ctl_cmd_queues(fc_ctl_t *c, int argc, char **argv) {
        static const struct option options[] = {FC_CTL_COMMON_OPTIONS, {0}};
        int opt;
        while ((opt = fc_ctl_getopt(c, argc, argv, ":h", options)) != -1) {
                if (opt != 'h')
                        return EX_USAGE;
                printf("Usage: flowcoroctl queues [--json]\n"
                       "List every known queue (Sidekiq's queues set) with its size and latency (how long\n"
                       "the job that is next out has waited), sorted by name.\n");
                return 0;
        }
        int code = fc_ctl_no_more_args("queues", argc, argv, optind);
        if (!code)
                code = fc_ctl_load_config(c);
        if (code)
                return code;
        stats_t s;
        code = read_stats(c, &s, false);
        if (code)
                return code;
        if (c->json)
                code = fc_ctl_print_json(queues_json(&s));
        else if (s.n_queues == 0)
                printf("no queues\n");
        else
                code = print_queues_table(&s);
        stats_clear(&s);
        return code;
}
