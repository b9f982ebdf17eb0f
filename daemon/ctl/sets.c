/* flowcoroctl retries / dead: Sidekiq's retry and dead sorted sets (score =
 * when the retry is due / when the job died). list, show, retry and delete
 * do what Sidekiq's Web UI does with them. */
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cleanup.h"

#define SCAN_COUNT "1000"
#define BATCH      500 /* jobs moved per round trip by retry --all */

typedef struct set {
        const char *command; /* "retries" or "dead" */
        const char *name;    /* Sidekiq's key without the prefix */
        const char *what;    /* "the retry set" */
} set_t;

static const set_t retries = {"retries", "retry", "the retry set"};
static const set_t dead = {"dead", "dead", "the dead set"};

/* Moves one job back to its queue as Sidekiq's Web UI does (SortedEntry#retry:
 * retry_count one lower, then Client.push: a fresh enqueued_at), only if this
 * call removed it from the set: two operators retrying the same job enqueue it
 * once, and nothing is lost between the ZREM and the LPUSH. KEYS: set,
 * queues, queue:<q>; ARGV: the entry as stored, the job to push, the queue. */
static const char retry_script[] = "if redis.call('zrem', KEYS[1], ARGV[1]) == 1 then\n"
                                   "  redis.call('sadd', KEYS[2], ARGV[3])\n"
                                   "  redis.call('lpush', KEYS[3], ARGV[2])\n"
                                   "  return 1\n"
                                   "end\n"
                                   "return 0\n";

static const char *job_string(const json_t *job, const char *field, const char *fallback) {
        const char *s = json_string_value(json_object_get(job, field));
        return s ? s : fallback;
}

/* ---- list ---------------------------------------------------------------- */

static int list(fc_ctl_t *c, const set_t *set, const char *key, long page, long per_page) {
        char start[24], stop[24];
        snprintf(start, sizeof(start), "%ld", (page - 1) * per_page);
        snprintf(stop, sizeof(stop), "%ld", page * per_page - 1);
        redisReply *replies[2] = {0};
        int code = fc_ctl_connect(c);
        if (code)
                return code;
        fc_ctl_appendf(c, "ZCARD", key, NULL);
        fc_ctl_appendf(c, "ZREVRANGE", key, start, stop, "WITHSCORES", NULL);
        code = fc_ctl_read_replies(c, replies, 2);
        if (code)
                return code;
        code = fc_ctl_reply_error(c, replies[0], "ZCARD");
        if (!code)
                code = fc_ctl_reply_error(c, replies[1], "ZREVRANGE");
        if (!code && replies[1]->type != REDIS_REPLY_ARRAY)
                code = fc_ctl_fail(EX_PROTOCOL, "Redis at %s: ZREVRANGE %s: unexpected reply", c->where, key);
        if (code) {
                fc_ctl_free_replies(replies, 2);
                return code;
        }
        long long total = fc_ctl_reply_int(replies[0]);
        const redisReply *r = replies[1];
        static const char *const headers_retry[] = {"NEXT RETRY", "RETRIES", "QUEUE",
                                                    "CLASS",      "JID",     "ERROR"};
        static const char *const headers_dead[] = {"DIED", "RETRIES", "QUEUE", "CLASS", "JID", "ERROR"};
        fc_ctl_table_t t = {
                .n_cols = 6, .headers = set == &dead ? headers_dead : headers_retry, .align = "lrllll"};
        json_t *jobs = json_array();
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
                const redisReply *member = r->element[i];
                double score = strtod(r->element[i + 1]->str, NULL);
                json_t *job = json_loadb(member->str, member->len, 0, NULL);
                if (c->json) {
                        json_t *entry = json_pack(
                                "{s:f, s:s?, s:o}", "score", score, "jid", job_string(job, "jid", NULL),
                                "job", job ? json_incref(job) : json_stringn(member->str, member->len));
                        json_array_append_new(jobs, entry);
                } else {
                        char when[32], err[80], cls[48];
                        const json_t *count = json_object_get(job, "retry_count");
                        fc_ctl_table_cell(&t, "%s", fc_ctl_format_time(score, when));
                        if (json_is_integer(count))
                                fc_ctl_table_cell(&t, "%" JSON_INTEGER_FORMAT, json_integer_value(count));
                        else
                                fc_ctl_table_cell(&t, "-");
                        fc_ctl_table_cell(&t, "%s", job_string(job, "queue", "-"));
                        fc_ctl_table_cell(&t, "%s",
                                          fc_ctl_shorten(job_string(job, "class", job ? "-" : "(not JSON)"),
                                                         40, cls, sizeof(cls)));
                        fc_ctl_table_cell(&t, "%s", job_string(job, "jid", "-"));
                        fc_ctl_table_cell(
                                &t, "%s",
                                fc_ctl_shorten(job_string(job, "error_message", ""), 60, err, sizeof(err)));
                }
                json_decref(job);
        }
        size_t shown = r->elements / 2;
        fc_ctl_free_replies(replies, 2);
        if (c->json) {
                fc_ctl_table_free(&t);
                return fc_ctl_print_json(json_pack("{s:s, s:I, s:I, s:I, s:o}", "set", set->name, "total",
                                                   (json_int_t)total, "page", (json_int_t)page, "per_page",
                                                   (json_int_t)per_page, "jobs", jobs));
        }
        json_decref(jobs);
        if (shown == 0) {
                fc_ctl_table_free(&t);
                if (total == 0)
                        printf("%s is empty\n", set->what);
                else
                        printf("no jobs on page %ld: %s holds %lld (%ld a page)\n", page, set->what, total,
                               per_page);
                return 0;
        }
        code = fc_ctl_table_print(&t);
        if (code == 0 && (long long)shown < total)
                printf("\njobs %ld-%ld of %lld, newest first (--page N for more)\n",
                       (page - 1) * per_page + 1, (page - 1) * per_page + (long)shown, total);
        return code;
}

/* ---- finding jobs by jid ------------------------------------------------- */

typedef struct found {
        redisReply **members; /* borrowed from replies kept in scans */
        double *scores;
        size_t n, cap;
        redisReply **scans;
        size_t n_scans, cap_scans;
} found_t;

static void found_clear(found_t *f) {
        fc_ctl_free_replies(f->scans, f->n_scans);
        free(f->scans);
        free(f->members);
        free(f->scores);
        memset(f, 0, sizeof(*f));
}

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
        if (need <= *cap)
                return true;
        size_t cap2 = *cap ? 2 * *cap : 16;
        while (cap2 < need)
                cap2 *= 2;
        void *q = realloc(*p, cap2 * size);
        if (!q)
                return false;
        *p = q;
        *cap = cap2;
        return true;
}

/* ZSCAN's MATCH pattern for entries that contain jid (glob characters
 * escaped); the JSON of each is then checked for "jid" equal to it. */
static char *match_pattern(const char *jid) {
        char *p = malloc(2 * strlen(jid) + 3), *o = p;
        if (!p)
                return NULL;
        *o++ = '*';
        for (const char *s = jid; *s; s++) {
                if (strchr("*?[]\\", *s))
                        *o++ = '\\';
                *o++ = *s;
        }
        *o++ = '*';
        *o = '\0';
        return p;
}

/* Every entry of the set whose "jid" is jid (usually one; buggy clients
 * repeat jids). Returns 0 or an exit code. */
static int find(fc_ctl_t *c, const char *key, const char *jid, found_t *f) {
        memset(f, 0, sizeof(*f));
        _cleanup_free_ char *pattern = match_pattern(jid);
        if (!pattern)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        char cursor[32] = "0";
        do {
                redisReply *r;
                int code = fc_ctl_callf(c, &r, "ZSCAN", key, cursor, "MATCH", pattern, "COUNT", SCAN_COUNT,
                                        NULL);
                if (code) {
                        found_clear(f);
                        return code;
                }
                if (!grow((void **)&f->scans, &f->cap_scans, f->n_scans + 1, sizeof(*f->scans))) {
                        freeReplyObject(r);
                        found_clear(f);
                        return fc_ctl_fail(EX_OSERR, "out of memory");
                }
                f->scans[f->n_scans++] = r;
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                    r->element[1]->type != REDIS_REPLY_ARRAY) {
                        found_clear(f);
                        return fc_ctl_fail(EX_PROTOCOL, "Redis at %s: ZSCAN %s: unexpected reply", c->where,
                                           key);
                }
                snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
                const redisReply *items = r->element[1];
                for (size_t i = 0; i + 1 < items->elements; i += 2) {
                        json_t *job = json_loadb(items->element[i]->str, items->element[i]->len, 0, NULL);
                        bool match = strcmp(job_string(job, "jid", ""), jid) == 0;
                        json_decref(job);
                        if (!match)
                                continue;
                        if (!grow((void **)&f->members, &f->cap, f->n + 1, sizeof(*f->members)) ||
                            !(f->scores = realloc(f->scores, f->cap * sizeof(*f->scores)))) {
                                found_clear(f);
                                return fc_ctl_fail(EX_OSERR, "out of memory");
                        }
                        f->members[f->n] = items->element[i];
                        f->scores[f->n++] = strtod(items->element[i + 1]->str, NULL);
                }
        } while (strcmp(cursor, "0") != 0);
        /* ZSCAN may return an entry twice while the set is rehashed. */
        for (size_t i = 0; i < f->n; i++)
                for (size_t j = i + 1; j < f->n; j++)
                        if (f->members[j]->len == f->members[i]->len &&
                            memcmp(f->members[j]->str, f->members[i]->str, f->members[i]->len) == 0) {
                                f->n--; /* the last one takes its place, and is compared next */
                                f->members[j] = f->members[f->n];
                                f->scores[j] = f->scores[f->n];
                                j--;
                        }
        return 0;
}

static int not_found(const set_t *set, const char *key, const char *jid) {
        return fc_ctl_fail(FC_CTL_EXIT_NOT_FOUND,
                           "%s: no job with jid '%s' in %s (key %s); see flowcoroctl %s list", set->command,
                           jid, set->what, key, set->command);
}

/* ---- show ---------------------------------------------------------------- */

static int show(fc_ctl_t *c, const set_t *set, const char *key, const char *jid) {
        found_t f;
        int code = find(c, key, jid, &f);
        if (code)
                return code;
        if (f.n == 0)
                return not_found(set, key, jid);
        json_t *all = json_array();
        for (size_t i = 0; i < f.n; i++) {
                json_t *job = json_loadb(f.members[i]->str, f.members[i]->len, 0, NULL);
                if (!job)
                        job = json_stringn(f.members[i]->str, f.members[i]->len);
                if (c->json) {
                        json_array_append_new(all, json_pack("{s:f, s:o}", "score", f.scores[i], "job", job));
                        continue;
                }
                char when[32];
                printf("%s%s: %s\n", i ? "\n" : "", set == &dead ? "died" : "next retry",
                       fc_ctl_format_time(f.scores[i], when));
                printf("failed at: %s\n",
                       fc_ctl_format_time(fc_ctl_epoch(json_object_get(job, "failed_at")), when));
                printf("error: %s: %s\n", job_string(job, "error_class", "-"),
                       job_string(job, "error_message", "-"));
                fputs("job: ", stdout);
                json_dumpf(job, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
                fputc('\n', stdout);
                json_decref(job);
        }
        found_clear(&f);
        if (c->json)
                return fc_ctl_print_json(all);
        json_decref(all);
        return fflush(stdout) == 0 ? 0 : fc_ctl_fail(EX_IOERR, "cannot write to standard output");
}

/* ---- retry ----------------------------------------------------------------- */

/* The job to push for entry: retry_count one lower, a fresh enqueued_at.
 * NULL (with *why set) when the entry can't be read as a job. */
static char *requeued(const redisReply *entry, char **queue, const char **why) {
        json_error_t error;
        json_t *job = json_loadb(entry->str, entry->len, 0, &error);
        *queue = NULL;
        if (!json_is_object(job)) {
                *why = "it is not a JSON object";
                json_decref(job);
                return NULL;
        }
        const json_t *q = json_object_get(job, "queue");
        if (q && (!json_is_string(q) || json_string_length(q) == 0)) {
                *why = "its \"queue\" is not a name";
                json_decref(job);
                return NULL;
        }
        json_t *count = json_object_get(job, "retry_count");
        if (json_is_integer(count))
                json_integer_set(count, json_integer_value(count) - 1);
        json_object_set_new(job, "enqueued_at", json_real(fc_ctl_now()));
        *queue = strdup(q ? json_string_value(q) : "default");
        char *text = *queue ? json_dumps(job, JSON_COMPACT) : NULL;
        json_decref(job);
        *why = "out of memory";
        if (!text) {
                free(*queue);
                *queue = NULL;
        }
        return text;
}

typedef struct moved {
        long long count, skipped;
} moved_t;

/* Pipelines the retry script for entries[0..n); counts what moved. */
static int retry_entries(fc_ctl_t *c, const set_t *set, const char *key, redisReply **entries, size_t n,
                         moved_t *m) {
        _cleanup_free_ char *queues_key = fc_ctl_key(c, "queues");
        _cleanup_free_ redisReply **replies = calloc(n + 1, sizeof(*replies));
        if (!queues_key || !replies)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        int code = fc_ctl_connect(c);
        if (code)
                return code;
        size_t sent = 0;
        for (size_t i = 0; i < n; i++) {
                char *queue;
                const char *why;
                _cleanup_free_ char *job = requeued(entries[i], &queue, &why);
                _cleanup_free_ char *queue_key = queue ? fc_ctl_key(c, "queue:%s", queue) : NULL;
                if (!job || !queue_key) {
                        char text[80];
                        fc_ctl_fail(0, "%s: cannot retry an entry of %s: %s: %s", set->command, set->what,
                                    why, fc_ctl_shorten(entries[i]->str, 60, text, sizeof(text)));
                        m->skipped++;
                        free(queue);
                        continue;
                }
                const char *argv[] = {"EVAL",    retry_script,    "3", key,  queues_key,
                                      queue_key, entries[i]->str, job, queue};
                size_t lens[] = {4,
                                 strlen(retry_script),
                                 1,
                                 strlen(key),
                                 strlen(queues_key),
                                 strlen(queue_key),
                                 entries[i]->len,
                                 strlen(job),
                                 strlen(queue)};
                fc_ctl_append(c, 9, argv, lens);
                free(queue);
                sent++;
        }
        code = fc_ctl_read_replies(c, replies, sent);
        for (size_t i = 0; code == 0 && i < sent; i++) {
                if ((code = fc_ctl_reply_error(c, replies[i], "EVAL (moving a job to its queue)")))
                        break;
                if (replies[i]->integer == 1)
                        m->count++;
        }
        fc_ctl_free_replies(replies, sent);
        return code;
}

static int retry_one(fc_ctl_t *c, const set_t *set, const char *key, const char *jid, moved_t *m) {
        found_t f;
        int code = find(c, key, jid, &f);
        if (code)
                return code;
        if (f.n == 0)
                return not_found(set, key, jid);
        code = retry_entries(c, set, key, f.members, f.n, m);
        found_clear(&f);
        if (code == 0 && m->count == 0 && m->skipped == 0)
                return fc_ctl_fail(FC_CTL_EXIT_NOT_FOUND,
                                   "%s: job %s left %s meanwhile (retried or deleted by someone "
                                   "else)",
                                   set->command, jid, set->what);
        return code;
}

/* Every job that was in the set when it started (jobs failing meanwhile stay
 * for the next run), in batches, oldest first so the queue keeps the set's
 * order. An entry that can't be read as a job stays and is stepped over. */
static int retry_all(fc_ctl_t *c, const set_t *set, const char *key, moved_t *m) {
        redisReply *r;
        int code = fc_ctl_callf(c, &r, "ZCARD", key, NULL);
        if (code)
                return code;
        long long total = fc_ctl_reply_int(r), done = 0;
        freeReplyObject(r);
        while (done < total) {
                char start[24], stop[24];
                long long n = total - done < BATCH ? total - done : BATCH;
                snprintf(start, sizeof(start), "%lld", m->skipped);
                snprintf(stop, sizeof(stop), "%lld", m->skipped + n - 1);
                if ((code = fc_ctl_callf(c, &r, "ZRANGE", key, start, stop, NULL)))
                        return code;
                if (r->type != REDIS_REPLY_ARRAY) {
                        freeReplyObject(r);
                        return fc_ctl_fail(EX_PROTOCOL, "Redis at %s: ZRANGE %s: unexpected reply", c->where,
                                           key);
                }
                size_t got = r->elements;
                code = got ? retry_entries(c, set, key, r->element, got, m) : 0;
                freeReplyObject(r);
                if (code || got == 0)
                        return code;
                done += (long long)got;
        }
        return 0;
}

/* ---- delete ---------------------------------------------------------------- */

static int delete_one(fc_ctl_t *c, const set_t *set, const char *key, const char *jid, long long *deleted) {
        found_t f;
        int code = find(c, key, jid, &f);
        if (code)
                return code;
        if (f.n == 0)
                return not_found(set, key, jid);
        for (size_t i = 0; i < f.n && code == 0; i++) {
                redisReply *r;
                const char *argv[] = {"ZREM", key, f.members[i]->str};
                size_t lens[] = {4, strlen(key), f.members[i]->len};
                code = fc_ctl_call(c, &r, 3, argv, lens);
                if (code == 0) {
                        *deleted += fc_ctl_reply_int(r);
                        freeReplyObject(r);
                }
        }
        found_clear(&f);
        return code;
}

static int delete_all(fc_ctl_t *c, const char *key, long long *deleted) {
        redisReply *replies[4] = {0};
        int code = fc_ctl_connect(c);
        if (code)
                return code;
        fc_ctl_appendf(c, "MULTI", NULL);
        fc_ctl_appendf(c, "ZCARD", key, NULL);
        fc_ctl_appendf(c, "UNLINK", key, NULL);
        fc_ctl_appendf(c, "EXEC", NULL);
        code = fc_ctl_read_replies(c, replies, 4);
        if (code)
                return code;
        const redisReply *exec = replies[3];
        if ((code = fc_ctl_reply_error(c, replies[0], "MULTI")))
                ;
        else if (exec->type != REDIS_REPLY_ARRAY || exec->elements != 2 ||
                 exec->element[0]->type != REDIS_REPLY_INTEGER)
                code = fc_ctl_fail(EX_PROTOCOL, "Redis at %s: deleting %s: %s", c->where, key,
                                   exec->type == REDIS_REPLY_ERROR ? exec->str : "unexpected reply");
        else
                *deleted = exec->element[0]->integer;
        fc_ctl_free_replies(replies, 4);
        return code;
}

/* ---- the command ------------------------------------------------------------ */

static void usage(const set_t *set) {
        printf("Usage: flowcoroctl %1$s list [--page N] [--per-page N] [--json]\n"
               "       flowcoroctl %1$s show JID [--json]\n"
               "       flowcoroctl %1$s retry JID|--all [--json]\n"
               "       flowcoroctl %1$s delete JID|--all [--json]\n"
               "Look at and act on %2$s (Redis key '%3$s'), as Sidekiq's Web UI does.\n"
               "\n"
               "  list    newest first (by %4$s), 25 a page: %4$s, retries, queue, class, jid, error\n"
               "  show    the whole job, with its error\n"
               "  retry   move the job back to the end of its queue now: retry_count one lower and a\n"
               "          fresh enqueued_at (Sidekiq's \"Retry Now\"); --all: every job, oldest first\n"
               "  delete  remove the job for good; --all: empty %2$s\n"
               "\n"
               "A JID that is not in %2$s exits 1. Options:\n"
               "      --page N       page to list (from 1)\n"
               "      --per-page N   jobs a page (1 to 10000, default 25)\n"
               "      --all          every job (retry, delete)\n"
               "      --json         print JSON\n"
               "  -h, --help         show this help\n",
               set->command, set->what, set->name, set == &dead ? "time of death" : "next retry");
}

static int parse_count(const char *command, const char *option, const char *text, long max, long *out) {
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (errno || *end || end == text || v < 1 || v > max)
                return fc_ctl_fail(EX_USAGE, "%s: %s: expected a whole number from 1 to %ld, got '%s'",
                                   command, option, max, text);
        *out = v;
        return 0;
}

static int run(fc_ctl_t *c, const set_t *set, int argc, char **argv) {
        enum { OPT_PAGE = 0x100, OPT_PER_PAGE, OPT_ALL };
        static const struct option options[] = {{"page", required_argument, NULL, OPT_PAGE},
                                                {"per-page", required_argument, NULL, OPT_PER_PAGE},
                                                {"all", no_argument, NULL, OPT_ALL},
                                                FC_CTL_COMMON_OPTIONS,
                                                {0}};
        long page = 1, per_page = 25;
        bool all = false, paged = false;
        int opt, code;
        while ((opt = fc_ctl_getopt(c, argc, argv, ":h", options)) != -1) {
                switch (opt) {
                case 'h':
                        usage(set);
                        return 0;
                case OPT_PAGE:
                        if ((code = parse_count(set->command, "--page", optarg, 1000000000, &page)))
                                return code;
                        paged = true;
                        break;
                case OPT_PER_PAGE:
                        if ((code = parse_count(set->command, "--per-page", optarg, 10000, &per_page)))
                                return code;
                        paged = true;
                        break;
                case OPT_ALL:
                        all = true;
                        break;
                default:
                        return EX_USAGE;
                }
        }
        if (optind == argc)
                return fc_ctl_fail(EX_USAGE,
                                   "%s: missing subcommand: list, show, retry or delete (see flowcoroctl %s "
                                   "--help)",
                                   set->command, set->command);
        const char *sub = argv[optind++];
        bool is_list = strcmp(sub, "list") == 0, is_show = strcmp(sub, "show") == 0,
             is_retry = strcmp(sub, "retry") == 0, is_delete = strcmp(sub, "delete") == 0;
        if (!is_list && !is_show && !is_retry && !is_delete)
                return fc_ctl_fail(
                        EX_USAGE,
                        "%s: unknown subcommand '%s': list, show, retry or delete (see flowcoroctl "
                        "%s --help)",
                        set->command, sub, set->command);
        if (paged && !is_list)
                return fc_ctl_fail(EX_USAGE, "%s %s: --page and --per-page go with list", set->command, sub);
        if (all && !is_retry && !is_delete)
                return fc_ctl_fail(EX_USAGE, "%s %s: --all goes with retry and delete", set->command, sub);
        const char *jid = NULL;
        if (is_show || ((is_retry || is_delete) && !all)) {
                if (optind == argc)
                        return fc_ctl_fail(EX_USAGE, "%s %s: missing JID%s (see flowcoroctl %s --help)",
                                           set->command, sub, is_show ? "" : " or --all", set->command);
                jid = argv[optind++];
                if (!jid[0])
                        return fc_ctl_fail(EX_USAGE, "%s %s: the JID is empty", set->command, sub);
        }
        if ((code = fc_ctl_no_more_args(set->command, argc, argv, optind)))
                return code;

        _cleanup_free_ char *key = NULL;
        if ((code = fc_ctl_load_config(c)))
                return code;
        if (!(key = fc_ctl_key(c, "%s", set->name)))
                return fc_ctl_fail(EX_OSERR, "out of memory");
        if (is_list)
                return list(c, set, key, page, per_page);
        if (is_show)
                return show(c, set, key, jid);
        if (is_retry) {
                moved_t m = {0};
                code = all ? retry_all(c, set, key, &m) : retry_one(c, set, key, jid, &m);
                if (code)
                        return code;
                if (c->json)
                        code = fc_ctl_print_json(json_pack("{s:I, s:I}", "retried", (json_int_t)m.count,
                                                           "skipped", (json_int_t)m.skipped));
                else
                        printf("moved %lld job%s from %s back to %s\n", m.count, m.count == 1 ? "" : "s",
                               set->what, m.count == 1 ? "its queue" : "their queues");
                /* What could not be read as a job was named above and stays in the set. */
                return code ? code : m.skipped ? EX_DATAERR : 0;
        }
        long long deleted = 0;
        code = all ? delete_all(c, key, &deleted) : delete_one(c, set, key, jid, &deleted);
        if (code)
                return code;
        if (c->json)
                return fc_ctl_print_json(json_pack("{s:I}", "deleted", (json_int_t)deleted));
        printf("deleted %lld job%s from %s\n", deleted, deleted == 1 ? "" : "s", set->what);
        return 0;
}

int fc_ctl_cmd_retries(fc_ctl_t *c, int argc, char **argv) {
        return run(c, &retries, argc, argv);
}

int fc_ctl_cmd_dead(fc_ctl_t *c, int argc, char **argv) {
        return run(c, &dead, argc, argv);
}
