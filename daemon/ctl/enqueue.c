/* flowcoroctl enqueue: jobs written exactly as Sidekiq's client writes them
 * (client.rb: a jid of 24 hex digits, created_at, enqueued_at; SADD queues +
 * LPUSH queue:<q>, or ZADD schedule <at> without "at" for a later run), one
 * from flags or many from JSON lines, pipelined in batches.
 *
 * A bad line is reported (file:line[:column]: what is wrong) and skipped; the
 * good lines are enqueued; the exit code is then 65 (EX_DATAERR). So a
 * script can fix and resend just the lines it was told about. */
#include "ctl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <sys/random.h>

#include "cleanup.h"
#include "json-kind.h"

/* A batch is sent when it holds this many jobs or bytes: large enough that a
 * round trip is shared by many jobs, small enough that Redis never blocks
 * others for long on one LPUSH. */
#define BATCH_JOBS  1000
#define BATCH_BYTES (4u << 20)

typedef struct defaults {
        const char *klass;  /* --class, NULL when not given */
        const char *queue;  /* --queue, NULL = "default" */
        json_t *retry;      /* --retry, NULL when not given */
        double at;          /* --at / --in, 0 = now */
        size_t max_payload; /* jobs.max_payload */
} defaults_t;

typedef struct pending {
        char *queue;
        char *payload;
        size_t len;
        double at; /* 0: now */
        unsigned long line;
} pending_t;

/* Jobs being collected, and the batch before them whose commands were sent
 * and whose replies are read when the next batch goes out: Redis runs one
 * batch while the next is parsed. */
typedef struct batch {
        pending_t *jobs;
        size_t n, bytes;
        unsigned long enqueued, scheduled; /* confirmed by Redis */
        size_t sent_commands;              /* replies not read yet */
        unsigned long sent_jobs, sent_scheduled, sent_first, sent_last;
} batch_t;

/* A jid as Sidekiq makes one (SecureRandom.hex(12)): 24 hex digits. Like
 * fc_job_new_jid() (daemon/job.c), but from a buffer of random bytes filled
 * once per 340 jids: one getrandom() per job was a fifth of a bulk enqueue. */
static int new_jid(char out[25]) {
        static unsigned char pool[4080];
        static size_t used = sizeof(pool);
        static const char hex[] = "0123456789abcdef";
        if (used + 12 > sizeof(pool)) {
                if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
                        return errno ? -errno : -EIO;
                used = 0;
        }
        for (int i = 0; i < 12; i++) {
                out[2 * i] = hex[pool[used + i] >> 4];
                out[2 * i + 1] = hex[pool[used + i] & 15];
        }
        explicit_bzero(pool + used, 12); /* a jid is not secret, but spent bytes are never reused */
        used += 12;
        out[24] = '\0';
        return 0;
}

/* The queue names flowcorod's configuration accepts (docs/configuration.md):
 * 1 to 255 bytes, no spaces or control characters. */
static bool valid_queue_name(const char *s) {
        size_t len = strlen(s);
        if (len == 0 || len > 255)
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

static bool valid_retry(const json_t *v) {
        return json_is_boolean(v) || (json_is_integer(v) && json_integer_value(v) >= 0);
}

/* Turns what the user gave (an args array, or a job object: stolen) into the
 * job to write. Returns 0 and fills *out (queue, payload, at), or -EINVAL
 * with what is wrong in err, or -ENOMEM. */
static int build_job(const defaults_t *d, json_t *in, double now, pending_t *out, char *err, size_t size) {
        json_t *job = in;
        if (json_is_array(in)) {
                if (!d->klass) {
                        json_decref(in);
                        snprintf(err, size, "an args array needs --class (or write a job object)");
                        return -EINVAL;
                }
                job = json_pack("{s:s, s:o}", "class", d->klass, "args", in);
                if (!job)
                        return -ENOMEM;
        } else if (!json_is_object(in)) {
                snprintf(err, size, "expected a job object or an args array, got %s", fc_json_kind(in));
                json_decref(in);
                return -EINVAL;
        }
        int r = -EINVAL;
        const json_t *v;
        if (!json_object_get(job, "class") && d->klass)
                json_object_set_new(job, "class", json_string(d->klass));
        v = json_object_get(job, "class");
        if (!v) {
                snprintf(err, size, "\"class\" is missing (write it in the job or give --class)");
                goto out;
        }
        if (!json_is_string(v) || json_string_length(v) == 0) {
                snprintf(err, size, "\"class\" must be a class name, got %s",
                         json_is_string(v) ? "\"\"" : fc_json_kind(v));
                goto out;
        }
        v = json_object_get(job, "args");
        if (!v)
                json_object_set_new(job, "args", json_array());
        else if (!json_is_array(v)) {
                snprintf(err, size, "\"args\" must be an array, got %s", fc_json_kind(v));
                goto out;
        }
        v = json_object_get(job, "queue");
        if (!v)
                json_object_set_new(job, "queue", json_string(d->queue ? d->queue : "default"));
        else if (!json_is_string(v) || !valid_queue_name(json_string_value(v))) {
                char name[80];
                if (json_is_string(v))
                        snprintf(err, size,
                                 "\"queue\" must be a queue name (1 to 255 bytes, no spaces or control "
                                 "characters), got \"%s\"",
                                 fc_ctl_shorten(json_string_value(v), 60, name, sizeof(name)));
                else
                        snprintf(err, size, "\"queue\" must be a queue name, got %s", fc_json_kind(v));
                goto out;
        }
        v = json_object_get(job, "retry");
        if (!v && d->retry)
                json_object_set(job, "retry", d->retry);
        else if (v && !valid_retry(v)) {
                snprintf(err, size, "\"retry\" must be true, false or a whole number of retries, got %s",
                         json_is_integer(v) ? "a negative number" : fc_json_kind(v));
                goto out;
        }
        v = json_object_get(job, "jid");
        if (!v) {
                char jid[25];
                if ((r = new_jid(jid)) < 0) {
                        snprintf(err, size, "cannot make a jid: %s", strerror(-r));
                        goto out;
                }
                r = -EINVAL;
                json_object_set_new(job, "jid", json_string(jid));
        } else if (!json_is_string(v) || json_string_length(v) == 0) {
                snprintf(err, size, "\"jid\" must be a non-empty string, got %s", fc_json_kind(v));
                goto out;
        }
        v = json_object_get(job, "created_at");
        if (!v)
                json_object_set_new(job, "created_at", json_real(now));
        else if (!json_is_number(v)) {
                snprintf(err, size, "\"created_at\" must be a number (epoch seconds), got %s", fc_json_kind(v));
                goto out;
        }
        v = json_object_get(job, "at");
        double at = d->at;
        if (v && !json_is_number(v)) {
                snprintf(err, size, "\"at\" must be a number (epoch seconds), got %s", fc_json_kind(v));
                goto out;
        }
        if (v)
                at = json_number_value(v);
        /* Sidekiq: "at" never stays in a job; one that is due already is pushed now. */
        json_object_del(job, "at");
        if (at > now)
                out->at = at;
        else
                json_object_set_new(job, "enqueued_at", json_real(now));

        r = -ENOMEM;
        out->queue = strdup(json_string_value(json_object_get(job, "queue")));
        out->payload = json_dumps(job, JSON_COMPACT);
        if (!out->queue || !out->payload)
                goto out;
        out->len = strlen(out->payload);
        r = 0;
        if (out->len > d->max_payload) {
                snprintf(err, size,
                         "the job is %zu bytes, over jobs.max_payload (%zu): flowcorod would not run it",
                         out->len, d->max_payload);
                r = -EINVAL;
        }
out:
        json_decref(job);
        if (r < 0) {
                free(out->queue);
                free(out->payload);
                out->queue = out->payload = NULL;
        }
        return r;
}

/* ---- sending ----------------------------------------------------------------- */

static int compare_pending(const void *a, const void *b) {
        const pending_t *x = a, *y = b;
        int r = strcmp(x->queue, y->queue);
        return r ? r : (x->line > y->line) - (x->line < y->line);
}

static void batch_clear(batch_t *b) {
        for (size_t i = 0; i < b->n; i++) {
                free(b->jobs[i].queue);
                free(b->jobs[i].payload);
        }
        b->n = b->bytes = 0;
}

/* Reads the replies of the batch sent last. Returns 0 or an exit code. */
static int batch_collect(fc_ctl_t *c, batch_t *b) {
        redisReply *replies[3 + BATCH_JOBS] = {0};
        size_t n = b->sent_commands;
        if (n == 0)
                return 0;
        b->sent_commands = 0;
        int code = fc_ctl_read_replies(c, replies, n);
        for (size_t i = 0; code == 0 && i < n; i++)
                code = fc_ctl_reply_error(c, replies[i], "enqueue");
        fc_ctl_free_replies(replies, n);
        if (code)
                return code;
        b->scheduled += b->sent_scheduled;
        b->enqueued += b->sent_jobs - b->sent_scheduled;
        return 0;
}

/* Collects the batch sent before, then sends this one as one pipeline:
 * SADD queues (the batch's queues), one LPUSH per queue with its jobs in
 * line order (so they run in that order), one ZADD schedule. Its replies are
 * read by the next call, or by batch_collect(). */
static int batch_send(fc_ctl_t *c, batch_t *b) {
        int code = fc_ctl_connect(c);
        if (!code)
                code = batch_collect(c, b);
        if (code || b->n == 0)
                return code;
        b->sent_first = b->jobs[0].line;
        b->sent_last = b->jobs[b->n - 1].line;
        qsort(b->jobs, b->n, sizeof(*b->jobs), compare_pending);
        _cleanup_free_ const char **argv = calloc(2 * b->n + 2, sizeof(*argv));
        _cleanup_free_ size_t *lens = calloc(2 * b->n + 2, sizeof(*lens));
        _cleanup_free_ char *scores = malloc(32 * b->n + 1);
        _cleanup_free_ char *queues_key = fc_ctl_key(c, "queues"), *schedule_key = fc_ctl_key(c, "schedule");
        if (!argv || !lens || !scores || !queues_key || !schedule_key)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        size_t commands = 0, argc = 0, scheduled = 0;

        argv[argc++] = "SADD";
        argv[argc++] = queues_key;
        for (size_t i = 0; i < b->n; i++)
                if (!b->jobs[i].at && (argc == 2 || strcmp(argv[argc - 1], b->jobs[i].queue) != 0))
                        argv[argc++] = b->jobs[i].queue;
        if (argc > 2) {
                fc_ctl_append(c, (int)argc, argv, NULL);
                commands++;
        }
        for (size_t i = 0; i < b->n;) {
                size_t j = i;
                argc = 0;
                _cleanup_free_ char *key = fc_ctl_key(c, "queue:%s", b->jobs[i].queue);
                if (!key)
                        return fc_ctl_fail(EX_OSERR, "out of memory");
                argv[argc] = "LPUSH", lens[argc++] = 5;
                argv[argc] = key, lens[argc++] = strlen(key);
                for (; j < b->n && strcmp(b->jobs[j].queue, b->jobs[i].queue) == 0; j++) {
                        if (b->jobs[j].at)
                                continue;
                        argv[argc] = b->jobs[j].payload, lens[argc++] = b->jobs[j].len;
                }
                if (argc > 2) {
                        fc_ctl_append(c, (int)argc, argv, lens);
                        commands++;
                }
                i = j;
        }
        argc = 0;
        argv[argc] = "ZADD", lens[argc++] = 4;
        argv[argc] = schedule_key, lens[argc++] = strlen(schedule_key);
        for (size_t i = 0; i < b->n; i++) {
                if (!b->jobs[i].at)
                        continue;
                char *score = scores + 32 * scheduled++;
                lens[argc] = (size_t)snprintf(score, 32, "%.6f", b->jobs[i].at);
                argv[argc++] = score;
                argv[argc] = b->jobs[i].payload, lens[argc++] = b->jobs[i].len;
        }
        if (argc > 2) {
                fc_ctl_append(c, (int)argc, argv, lens);
                commands++;
        }
        b->sent_commands = commands;
        b->sent_jobs = b->n;
        b->sent_scheduled = scheduled;
        batch_clear(b);
        return fc_ctl_flush(c);
}

/* ---- input --------------------------------------------------------------- */

/* After a failure: which lines may be in Redis. */
static void report_partial(const batch_t *b, const char *name) {
        unsigned long done = b->enqueued + b->scheduled;
        fc_ctl_fail(
                0,
                "enqueue: %s: the jobs of lines %lu to %lu may be partly enqueued; the %lu job%s before line "
                "%lu were enqueued",
                name, b->sent_first, b->sent_last, done, done == 1 ? "" : "s", b->sent_first);
}

static bool is_blank(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return false;
        return true;
}

static int enqueue_lines(fc_ctl_t *c, const defaults_t *d, const char *path) {
        bool is_stdin = strcmp(path, "-") == 0;
        const char *name = is_stdin ? "stdin" : path;
        FILE *in = is_stdin ? stdin : fopen(path, "re");
        if (!in)
                return fc_ctl_fail(EX_NOINPUT, "enqueue: cannot open %s: %s", path, strerror(errno));
        batch_t b = {.jobs = calloc(BATCH_JOBS, sizeof(pending_t))};
        if (!b.jobs) {
                if (!is_stdin)
                        fclose(in);
                return fc_ctl_fail(EX_OSERR, "out of memory");
        }
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        unsigned long number = 0, rejected = 0;
        int code = 0;
        while (code == 0 && (len = getline(&line, &cap, in)) >= 0) {
                number++;
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        line[--len] = '\0';
                if (is_blank(line, (size_t)len))
                        continue;
                char err[300];
                if ((size_t)len > d->max_payload) {
                        fc_ctl_fail(0, "%s:%lu: the line is %zd bytes, over jobs.max_payload (%zu)", name,
                                    number, len, d->max_payload);
                        rejected++;
                        continue;
                }
                json_error_t jerr;
                json_t *in_job = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
                if (!in_job) {
                        fc_ctl_fail(0, "%s:%lu:%d: invalid JSON: %s", name, number,
                                    jerr.column > 0 ? jerr.column : 1, jerr.text);
                        rejected++;
                        continue;
                }
                pending_t *p = &b.jobs[b.n];
                *p = (pending_t){.line = number};
                int r = build_job(d, in_job, fc_ctl_now(), p, err, sizeof(err));
                if (r == -ENOMEM) {
                        code = fc_ctl_fail(EX_OSERR, "out of memory");
                        break;
                }
                if (r < 0) {
                        fc_ctl_fail(0, "%s:%lu: %s", name, number, err);
                        rejected++;
                        continue;
                }
                b.bytes += p->len;
                if (++b.n == BATCH_JOBS || b.bytes >= BATCH_BYTES) {
                        code = batch_send(c, &b);
                        if (code && b.sent_last)
                                report_partial(&b, name);
                }
        }
        if (code == 0 && ferror(in))
                code = fc_ctl_fail(EX_IOERR, "enqueue: reading %s after line %lu: %s", name, number,
                                   strerror(errno));
        if (code == 0) {
                code = batch_send(c, &b);
                if (code == 0)
                        code = batch_collect(c, &b);
                if (code && b.sent_last)
                        report_partial(&b, name);
        }
        batch_clear(&b);
        free(b.jobs);
        if (!is_stdin)
                fclose(in);
        if (code)
                return code;
        if (rejected)
                fc_ctl_fail(0,
                            "enqueue: %lu line%s of %s rejected (above); the other %lu job%s were enqueued",
                            rejected, rejected == 1 ? "" : "s", name, b.enqueued + b.scheduled,
                            b.enqueued + b.scheduled == 1 ? "" : "s");
        if (c->json)
                code = fc_ctl_print_json(json_pack("{s:I, s:I, s:I}", "enqueued", (json_int_t)b.enqueued,
                                                   "scheduled", (json_int_t)b.scheduled, "rejected",
                                                   (json_int_t)rejected));
        else
                printf("enqueued %lu job%s (%lu scheduled) from %s\n", b.enqueued + b.scheduled,
                       b.enqueued + b.scheduled == 1 ? "" : "s", b.scheduled, name);
        return code ? code : rejected ? EX_DATAERR : 0;
}

static int enqueue_one(fc_ctl_t *c, const defaults_t *d, const char *args) {
        json_error_t jerr;
        json_t *a = json_loads(args ? args : "[]", JSON_REJECT_DUPLICATES, &jerr);
        if (!a)
                return fc_ctl_fail(EX_DATAERR, "enqueue: --args: invalid JSON at column %d: %s", jerr.column,
                                   jerr.text);
        if (!json_is_array(a)) {
                const char *got = fc_json_kind(a);
                json_decref(a);
                return fc_ctl_fail(EX_DATAERR,
                                   "enqueue: --args: expected a JSON array such as '[1, \"two\"]', got %s",
                                   got);
        }
        batch_t b = {.jobs = calloc(1, sizeof(pending_t))};
        if (!b.jobs)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        char err[300];
        int r = build_job(d, a, fc_ctl_now(), &b.jobs[0], err, sizeof(err));
        if (r < 0) {
                free(b.jobs);
                return r == -ENOMEM ? fc_ctl_fail(EX_OSERR, "out of memory")
                                    : fc_ctl_fail(EX_DATAERR, "enqueue: %s", err);
        }
        b.n = 1;
        json_t *job = json_loads(b.jobs[0].payload, 0, NULL);
        double at = b.jobs[0].at;
        int code = batch_send(c, &b);
        if (code == 0)
                code = batch_collect(c, &b);
        batch_clear(&b);
        free(b.jobs);
        if (code == 0) {
                const char *jid = json_string_value(json_object_get(job, "jid"));
                if (c->json) {
                        json_t *o = json_pack("{s:s, s:O, s:O}", "jid", jid, "queue",
                                              json_object_get(job, "queue"), "class",
                                              json_object_get(job, "class"));
                        if (o && at)
                                json_object_set_new(o, "at", json_real(at));
                        code = fc_ctl_print_json(o);
                } else {
                        printf("%s\n", jid);
                }
        }
        json_decref(job);
        return code;
}

/* ---- options ----------------------------------------------------------------- */

/* --at: epoch seconds, or an ISO 8601 date and time (local time without a zone). */
static int parse_at(const char *text, double *out) {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (end != text && !*end) {
                if (errno || !(v >= 0 && v < 1e11))
                        return -EINVAL;
                *out = v;
                return 0;
        }
        static const char *const formats[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                                              "%Y-%m-%d %H:%M"};
        for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
                struct tm tm = {0};
                const char *rest = strptime(text, formats[i], &tm);
                if (!rest)
                        continue;
                double frac = 0;
                if (*rest == '.' || *rest == ',') {
                        const char *p = rest + 1;
                        double scale = 0.1;
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                                frac += (*p - '0') * scale;
                        rest = p;
                }
                time_t t;
                if (!*rest) {
                        tm.tm_isdst = -1;
                        t = mktime(&tm);
                } else if (strcmp(rest, "Z") == 0 || strcmp(rest, "z") == 0) {
                        t = timegm(&tm);
                } else {
                        int hh, mm, n = 0;
                        if ((rest[0] != '+' && rest[0] != '-') ||
                            (sscanf(rest + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 &&
                             sscanf(rest + 1, "%2d%2d%n", &hh, &mm, &n) != 2) ||
                            rest[1 + n] || hh > 23 || mm > 59)
                                return -EINVAL;
                        t = timegm(&tm) - (rest[0] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
                }
                if (t == (time_t)-1)
                        return -EINVAL;
                *out = (double)t + frac;
                return 0;
        }
        return -EINVAL;
}

static void usage(void) {
        printf("Usage: flowcoroctl enqueue --class CLASS [--args JSON] [OPTION]...\n"
               "       flowcoroctl enqueue [--class CLASS] [OPTION]... FILE|-\n"
               "Add jobs as Sidekiq's client does (jid, created_at, enqueued_at; SADD queues +\n"
               "LPUSH queue:QUEUE, or ZADD schedule for a later run). The first form adds one job and\n"
               "prints its jid. The second reads JSON lines from FILE (- for standard input), each a\n"
               "job object ({\"class\":..,\"args\":[..]}, any other fields kept; \"at\": epoch seconds)\n"
               "or an args array (needs --class); the options below fill in what a line leaves out.\n"
               "Lines are sent in pipelined batches of %d. A bad line is reported as FILE:LINE: what is\n"
               "wrong and skipped; the good ones are enqueued, and the exit code is then 65.\n"
               "\n"
               "      --class CLASS    the job class (its handler's name)\n"
               "      --args JSON      the arguments, a JSON array (default [])\n"
               "      --queue QUEUE    the queue (default \"default\")\n"
               "      --retry N        true, false or the number of retries (default: the handler's)\n"
               "      --at TIME        run at TIME: epoch seconds or ISO 8601 (2026-12-01T09:30:00Z;\n"
               "                       local time without a zone)\n"
               "      --in DURATION    run after DURATION (30s, 15m, 2h, 1d)\n"
               "      --json           print JSON\n"
               "  -h, --help           show this help\n",
               BATCH_JOBS);
}

int fc_ctl_cmd_enqueue(fc_ctl_t *c, int argc, char **argv) {
        enum { OPT_CLASS = 0x100, OPT_ARGS, OPT_QUEUE, OPT_RETRY, OPT_AT, OPT_IN };
        static const struct option options[] = {{"class", required_argument, NULL, OPT_CLASS},
                                                {"args", required_argument, NULL, OPT_ARGS},
                                                {"queue", required_argument, NULL, OPT_QUEUE},
                                                {"retry", required_argument, NULL, OPT_RETRY},
                                                {"at", required_argument, NULL, OPT_AT},
                                                {"in", required_argument, NULL, OPT_IN},
                                                FC_CTL_COMMON_OPTIONS,
                                                {0}};
        defaults_t d = {0};
        const char *args = NULL, *at = NULL, *in = NULL;
        int opt, code = 0;
        while (code == 0 && (opt = fc_ctl_getopt(c, argc, argv, ":h", options)) != -1) {
                switch (opt) {
                case 'h':
                        usage();
                        json_decref(d.retry);
                        return 0;
                case OPT_CLASS:
                        d.klass = optarg;
                        if (!optarg[0])
                                code = fc_ctl_fail(EX_USAGE, "enqueue: --class: the class name is empty");
                        break;
                case OPT_ARGS:
                        args = optarg;
                        break;
                case OPT_QUEUE:
                        d.queue = optarg;
                        if (!valid_queue_name(optarg))
                                code = fc_ctl_fail(EX_USAGE,
                                                   "enqueue: --queue: '%s' is not a queue name (1 to 255 "
                                                   "bytes, no spaces)",
                                                   optarg);
                        break;
                case OPT_RETRY: {
                        char *end;
                        errno = 0;
                        long long n = strtoll(optarg, &end, 10);
                        json_decref(d.retry);
                        if (strcmp(optarg, "true") == 0 || strcmp(optarg, "false") == 0)
                                d.retry = json_boolean(optarg[0] == 't');
                        else if (!errno && !*end && end != optarg && n >= 0)
                                d.retry = json_integer(n);
                        else
                                code = fc_ctl_fail(EX_USAGE,
                                                   "enqueue: --retry: expected true, false or a whole "
                                                   "number of retries, got '%s'",
                                                   optarg);
                        break;
                }
                case OPT_AT:
                        at = optarg;
                        break;
                case OPT_IN:
                        in = optarg;
                        break;
                default:
                        code = EX_USAGE;
                }
        }
        const char *path = NULL;
        if (code == 0 && optind < argc)
                path = argv[optind++];
        if (code == 0)
                code = fc_ctl_no_more_args("enqueue", argc, argv, optind);
        if (code == 0 && at && in)
                code = fc_ctl_fail(EX_USAGE, "enqueue: give --at or --in, not both");
        if (code == 0 && path && args)
                code = fc_ctl_fail(EX_USAGE, "enqueue: --args is for one job; each line of %s holds its own",
                                   strcmp(path, "-") == 0 ? "stdin" : path);
        if (code == 0 && !path && !d.klass)
                code = fc_ctl_fail(EX_USAGE, "enqueue: missing --class (one job) or FILE|- (JSON lines); see "
                                             "flowcoroctl enqueue --help");
        if (code == 0 && at && parse_at(at, &d.at) < 0)
                code = fc_ctl_fail(EX_USAGE,
                                   "enqueue: --at: expected epoch seconds or an ISO 8601 time such as "
                                   "2026-12-01T09:30:00Z, got '%s'",
                                   at);
        if (code == 0 && in) {
                uint64_t ms;
                if (fc_config_parse_duration(in, &ms) < 0)
                        code = fc_ctl_fail(EX_USAGE,
                                           "enqueue: --in: expected a duration such as 30s, 15m, 2h or 1d, "
                                           "got '%s'",
                                           in);
                else
                        d.at = fc_ctl_now() + (double)ms / 1000.0;
        }
        if (code == 0)
                code = fc_ctl_load_config(c);
        if (code == 0) {
                d.max_payload = (size_t)c->config->jobs.max_payload;
                code = path ? enqueue_lines(c, &d, path) : enqueue_one(c, &d, args);
        }
        json_decref(d.retry);
        return code;
}
