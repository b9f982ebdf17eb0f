/* flowcoroctl processes: Sidekiq's process set (what Sidekiq::ProcessSet and
 * the Web UI's Busy page show), and quiet / stop through a process's
 * signals list, as the Web UI's buttons do. Works for any Sidekiq-protocol
 * process, not only flowcorod. */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cleanup.h"

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static json_t *process_json(const char *identity, const redisReply *r, double now) {
        /* HMGET info busy beat quiet rss rtt_us */
        json_t *info = json_loadb(r->element[0]->str, r->element[0]->len, 0, NULL);
        if (!json_is_object(info)) {
                json_decref(info);
                info = json_object();
        }
        double beat = r->element[2]->type == REDIS_REPLY_STRING ? strtod(r->element[2]->str, NULL) : 0;
        json_t *o = json_pack(
                "{s:s, s:O?, s:O?, s:I, s:O?, s:O?, s:O?, s:O?, s:f, s:f, s:b, s:I, s:I}", "identity",
                identity, "hostname", json_object_get(info, "hostname"), "pid", json_object_get(info, "pid"),
                "busy", (json_int_t)fc_ctl_reply_int(r->element[1]), "concurrency",
                json_object_get(info, "concurrency"), "queues", json_object_get(info, "queues"), "tag",
                json_object_get(info, "tag"), "version", json_object_get(info, "version"), "started_at",
                fc_ctl_epoch(json_object_get(info, "started_at")), "beat", beat, "quiet",
                r->element[3]->type == REDIS_REPLY_STRING && strcmp(r->element[3]->str, "true") == 0,
                "rss_kib", (json_int_t)fc_ctl_reply_int(r->element[4]), "rtt_us",
                (json_int_t)fc_ctl_reply_int(r->element[5]));
        if (o)
                json_object_set_new(o, "beat_age", json_real(beat > 0 ? now - beat : -1));
        json_decref(info);
        return o;
}

static void queues_text(const json_t *queues, char *buf, size_t size) {
        size_t used = 0;
        size_t i;
        json_t *q;
        buf[0] = '\0';
        json_array_foreach(queues, i, q) {
                if (!json_is_string(q))
                        continue;
                int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", json_string_value(q));
                if (n < 0 || (size_t)n >= size - used) {
                        if (size > 4)
                                strcpy(buf + size - 4, "...");
                        return;
                }
                used += (size_t)n;
        }
        if (!used)
                snprintf(buf, size, "-");
}

/* The live processes (members whose hash has not expired), as JSON objects. */
static int read_processes(fc_ctl_t *c, json_t **ret) {
        *ret = NULL;
        _cleanup_free_ char *set_key = fc_ctl_key(c, "processes");
        if (!set_key)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        redisReply *members;
        int code = fc_ctl_callf(c, &members, "SMEMBERS", set_key, NULL);
        if (code)
                return code;
        size_t n = members->type == REDIS_REPLY_ARRAY ? members->elements : 0;
        _cleanup_free_ const char **names = calloc(n + 1, sizeof(*names));
        _cleanup_free_ redisReply **replies = calloc(n + 1, sizeof(*replies));
        if (!names || !replies) {
                freeReplyObject(members);
                return fc_ctl_fail(EX_OSERR, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
                names[i] = members->element[i]->str;
        qsort(names, n, sizeof(*names), compare_names);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *key = fc_ctl_key(c, "%s", names[i]);
                fc_ctl_appendf(c, "HMGET", key ? key : "", "info", "busy", "beat", "quiet", "rss", "rtt_us",
                               NULL);
        }
        code = fc_ctl_read_replies(c, replies, n);
        if (code) {
                freeReplyObject(members);
                return code;
        }
        json_t *all = json_array();
        double now = fc_ctl_now();
        for (size_t i = 0; i < n; i++) {
                const redisReply *r = replies[i];
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 6 ||
                    r->element[0]->type != REDIS_REPLY_STRING)
                        continue; /* expired: Sidekiq's ProcessSet skips it too */
                json_array_append_new(all, process_json(names[i], r, now));
        }
        fc_ctl_free_replies(replies, n);
        freeReplyObject(members);
        *ret = all;
        return all ? 0 : fc_ctl_fail(EX_OSERR, "out of memory");
}

static int list(fc_ctl_t *c) {
        json_t *all;
        int code = read_processes(c, &all);
        if (code)
                return code;
        if (c->json)
                return fc_ctl_print_json(all);
        if (json_array_size(all) == 0) {
                json_decref(all);
                printf("no live processes\n");
                return 0;
        }
        static const char *const headers[] = {"IDENTITY", "HOST", "PID",   "BUSY", "CONCURRENCY",
                                              "QUEUES",   "BEAT", "QUIET", "TAG"};
        fc_ctl_table_t t = {.n_cols = 9, .headers = headers, .align = "llrrrlrll"};
        size_t i;
        json_t *p;
        json_array_foreach(all, i, p) {
                char queues[80], age[32];
                const json_t *pid = json_object_get(p, "pid"), *conc = json_object_get(p, "concurrency");
                double beat_age = json_real_value(json_object_get(p, "beat_age"));
                queues_text(json_object_get(p, "queues"), queues, sizeof(queues));
                fc_ctl_table_cell(&t, "%s", json_string_value(json_object_get(p, "identity")));
                fc_ctl_table_cell(&t, "%s",
                                  json_is_string(json_object_get(p, "hostname"))
                                          ? json_string_value(json_object_get(p, "hostname"))
                                          : "-");
                fc_ctl_table_cell(&t, "%" JSON_INTEGER_FORMAT, json_integer_value(pid));
                fc_ctl_table_cell(&t, "%" JSON_INTEGER_FORMAT,
                                  json_integer_value(json_object_get(p, "busy")));
                fc_ctl_table_cell(&t, "%" JSON_INTEGER_FORMAT, json_integer_value(conc));
                fc_ctl_table_cell(&t, "%s", queues);
                if (beat_age < 0)
                        fc_ctl_table_cell(&t, "-");
                else
                        fc_ctl_table_cell(&t, "%s ago", fc_ctl_format_age(beat_age, age));
                fc_ctl_table_cell(&t, "%s", json_is_true(json_object_get(p, "quiet")) ? "yes" : "no");
                fc_ctl_table_cell(&t, "%s",
                                  json_is_string(json_object_get(p, "tag"))
                                          ? json_string_value(json_object_get(p, "tag"))
                                          : "-");
        }
        json_decref(all);
        return fc_ctl_table_print(&t);
}

/* Sidekiq::Process#quiet! / #stop!: LPUSH <identity>-signals and EXPIRE 60
 * in one transaction; the process reads it at its next heartbeat. */
static int signal_process(fc_ctl_t *c, const char *identity, const char *signal, const char *what) {
        _cleanup_free_ char *process_key = fc_ctl_key(c, "%s", identity);
        _cleanup_free_ char *signals_key = fc_ctl_key(c, "%s-signals", identity);
        _cleanup_free_ char *set_key = fc_ctl_key(c, "processes");
        if (!process_key || !signals_key || !set_key)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        redisReply *replies[2] = {0};
        int code = fc_ctl_connect(c);
        if (code)
                return code;
        fc_ctl_appendf(c, "SISMEMBER", set_key, identity, NULL);
        fc_ctl_appendf(c, "HEXISTS", process_key, "info", NULL);
        if ((code = fc_ctl_read_replies(c, replies, 2)))
                return code;
        if ((code = fc_ctl_reply_error(c, replies[0], "SISMEMBER"))) {
                fc_ctl_free_replies(replies, 2);
                return code;
        }
        bool live = fc_ctl_reply_int(replies[0]) == 1 && fc_ctl_reply_int(replies[1]) == 1;
        fc_ctl_free_replies(replies, 2);
        if (!live)
                return fc_ctl_fail(
                        FC_CTL_EXIT_NOT_FOUND,
                        "processes %s: no live process '%s' in Redis at %s (see flowcoroctl processes)", what,
                        identity, c->where);
        redisReply *tx[4] = {0};
        fc_ctl_appendf(c, "MULTI", NULL);
        fc_ctl_appendf(c, "LPUSH", signals_key, signal, NULL);
        fc_ctl_appendf(c, "EXPIRE", signals_key, "60", NULL);
        fc_ctl_appendf(c, "EXEC", NULL);
        if ((code = fc_ctl_read_replies(c, tx, 4)))
                return code;
        if (tx[3]->type != REDIS_REPLY_ARRAY)
                code = fc_ctl_fail(EX_PROTOCOL, "Redis at %s: LPUSH %s: %s", c->where, signals_key,
                                   tx[3]->type == REDIS_REPLY_ERROR ? tx[3]->str : "transaction failed");
        fc_ctl_free_replies(tx, 4);
        if (code)
                return code;
        if (c->json)
                return fc_ctl_print_json(json_pack("{s:s, s:s}", "identity", identity, "signal", signal));
        printf("sent %s to %s: it %s at its next heartbeat (within about 5 s)\n", signal, identity,
               strcmp(signal, "TSTP") == 0 ? "stops fetching new jobs" : "shuts down");
        return 0;
}

static void usage(void) {
        printf("Usage: flowcoroctl processes [list] [--json]\n"
               "       flowcoroctl processes quiet IDENTITY\n"
               "       flowcoroctl processes stop IDENTITY\n"
               "List the live worker processes (Sidekiq's process set: flowcorod and any Sidekiq):\n"
               "identity, host, pid, busy, concurrency, queues, age of the last heartbeat, quiet, tag.\n"
               "quiet (TSTP: no new jobs) and stop (TERM: finish running jobs, then exit) go through the\n"
               "process's signals list, like the Web UI's buttons; it acts at its next heartbeat. An\n"
               "IDENTITY that is not live exits 1.\n");
}

int fc_ctl_cmd_processes(fc_ctl_t *c, int argc, char **argv) {
        static const struct option options[] = {FC_CTL_COMMON_OPTIONS, {0}};
        int opt;
        while ((opt = fc_ctl_getopt(c, argc, argv, ":h", options)) != -1) {
                if (opt != 'h')
                        return EX_USAGE;
                usage();
                return 0;
        }
        const char *sub = optind < argc ? argv[optind++] : "list";
        if (strcmp(sub, "list") == 0) {
                int code = fc_ctl_no_more_args("processes", argc, argv, optind);
                if (!code)
                        code = fc_ctl_load_config(c);
                return code ? code : list(c);
        }
        bool quiet = strcmp(sub, "quiet") == 0;
        if (!quiet && strcmp(sub, "stop") != 0)
                return fc_ctl_fail(
                        EX_USAGE,
                        "processes: unknown subcommand '%s': list, quiet or stop (see flowcoroctl processes "
                        "--help)",
                        sub);
        if (optind == argc)
                return fc_ctl_fail(EX_USAGE, "processes %s: missing IDENTITY (see flowcoroctl processes)",
                                   sub);
        const char *identity = argv[optind++];
        int code = fc_ctl_no_more_args("processes", argc, argv, optind);
        if (!code)
                code = fc_ctl_load_config(c);
        if (code)
                return code;
        return signal_process(c, identity, quiet ? "TSTP" : "TERM", sub);
}
