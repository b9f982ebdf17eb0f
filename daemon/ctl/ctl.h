/* flowcoroctl's shared parts: the command context (configuration, the Redis
 * connection, output mode), plain synchronous hiredis calls, and output
 * helpers (tables, JSON, times). A command is one function
 * int fc_ctl_cmd_X(fc_ctl_t *c, int argc, char **argv) returning its exit
 * code (sysexits.h; docs/flowcoroctl.md lists them).
 *
 * Every error is printed once, where it is found, as "flowcoroctl: ..." on
 * stderr, and the function returns the exit code to end with. flowcoroctl is
 * single-threaded. */
#ifndef FC_DAEMON_CTL_H
#define FC_DAEMON_CTL_H

#include <getopt.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "flowcoro/config.h"

#define FC_CTL_DEFAULT_CONFIG "/etc/flowcoro/flowcoro.yaml"

/* Exit code for "no such job / process" (sysexits.h has none). */
#define FC_CTL_EXIT_NOT_FOUND 1

typedef struct fc_ctl {
        bool json;               /* --json: machine output on stdout */
        const char *config_path; /* -c FILE, or the default */
        bool config_given;       /* -c was given: a missing file is an error */
        const char *redis_url;   /* --redis URL, NULL for the configuration's */
        fc_config_t *config;     /* loaded by fc_ctl_load_config() */
        /* Where Redis is, from the configuration or --redis. Borrowed from
         * config / url_config. */
        const char *where;       /* the URL without its password, for messages */
        const char *prefix;      /* redis.prefix */
        fc_config_t *url_config; /* --redis parsed (a configuration holding only it) */
        redisContext *redis;     /* connected on first use; NULL after a connection error */
} fc_ctl_t;

/* Prints "flowcoroctl: <message>\n" on stderr and returns code. */
int fc_ctl_fail(int code, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Loads -c FILE (a missing default file means the defaults) and applies
 * --redis, once (later calls return 0). fc_ctl_connect() calls it, so that
 * --help works without a configuration. Returns 0 or an exit code (EX_CONFIG, EX_NOINPUT, EX_USAGE for a
 * bad --redis URL) after printing every error. */
int fc_ctl_load_config(fc_ctl_t *c);

/* Frees the connection and the configurations. */
void fc_ctl_done(fc_ctl_t *c);

/* A key with redis.prefix in front: malloc'd, NULL when out of memory.
 * After fc_ctl_load_config(). */
char *fc_ctl_key(const fc_ctl_t *c, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Loads the configuration if needed, connects (first call) with AUTH and SELECT as configured. Returns 0, or
 * EX_UNAVAILABLE (unreachable), EX_NOPERM (credentials refused) after
 * printing what and where. */
int fc_ctl_connect(fc_ctl_t *c);

/* Runs one command (argc words, lens NULL for NUL-terminated strings) and
 * stores its reply in *ret (the caller frees it with freeReplyObject()).
 * An error reply is an error here: returns 0, or EX_UNAVAILABLE /
 * EX_NOPERM / EX_PROTOCOL after printing it. */
int fc_ctl_call(fc_ctl_t *c, redisReply **ret, int argc, const char **argv, const size_t *lens);

/* fc_ctl_call() with the words as arguments, NULL-terminated. */
int fc_ctl_callf(fc_ctl_t *c, redisReply **ret, const char *arg0, ...) __attribute__((sentinel));

/* Pipelines: append commands (after fc_ctl_connect()), then read all their
 * replies into replies[0..n). Error replies are returned as they are (the
 * caller decides); a connection error frees the replies read so far and
 * returns EX_UNAVAILABLE after printing it. */
void fc_ctl_append(fc_ctl_t *c, int argc, const char **argv, const size_t *lens);
void fc_ctl_appendf(fc_ctl_t *c, const char *arg0, ...) __attribute__((sentinel));
int fc_ctl_read_replies(fc_ctl_t *c, redisReply **replies, size_t n);
/* Sends the appended commands now, without waiting for their replies.
 * Returns 0 or EX_UNAVAILABLE after printing the error. */
int fc_ctl_flush(fc_ctl_t *c);
void fc_ctl_free_replies(redisReply **replies, size_t n);

/* For an error reply: prints "Redis at WHERE: COMMAND: error" and returns
 * EX_NOPERM (NOAUTH, WRONGPASS) or EX_PROTOCOL; 0 for any other reply. */
int fc_ctl_reply_error(fc_ctl_t *c, const redisReply *reply, const char *command);

/* A reply's integer (string replies parsed), or 0 for nil / anything else. */
long long fc_ctl_reply_int(const redisReply *r);

/* Writes o (stolen) to stdout as one line of compact JSON. Returns 0, or
 * EX_SOFTWARE when o is NULL (out of memory) or cannot be written. */
int fc_ctl_print_json(json_t *o);

/* A table for people: columns padded to their widest cell, numbers
 * right-aligned. */
typedef struct fc_ctl_table {
        size_t n_cols;
        const char *const *headers;
        const char *align; /* one char per column: 'l' or 'r' */
        char **cells;
        size_t n_cells, cap;
        bool failed;
} fc_ctl_table_t;

/* Adds the next cell (printf-style; rows fill left to right). Out of memory
 * is remembered and reported by fc_ctl_table_print(). */
void fc_ctl_table_cell(fc_ctl_table_t *t, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Prints the table (headers included) on stdout and frees its cells.
 * Returns 0 or EX_SOFTWARE (out of memory while filling it). */
int fc_ctl_table_print(fc_ctl_table_t *t);
void fc_ctl_table_free(fc_ctl_table_t *t);

/* Now, in epoch seconds. */
double fc_ctl_now(void);

/* A job timestamp in epoch seconds: Sidekiq 6/7 write float seconds, 8.x
 * integer milliseconds. 0 for a missing or non-number value. */
double fc_ctl_epoch(const json_t *v);

/* "2026-11-30 09:15:02 UTC" into buf (32 bytes); "-" for 0. */
const char *fc_ctl_format_time(double epoch, char buf[static 32]);

/* A duration for people: "0.42s", "12s", "5m 3s", "2h 10m", "3d 4h". */
const char *fc_ctl_format_age(double seconds, char buf[static 32]);

/* Text cut to at most max bytes for a table (on a UTF-8 boundary, "..."
 * added), control characters as spaces. Returns buf (size > max + 3). */
const char *fc_ctl_shorten(const char *text, size_t max, char *buf, size_t size);

/* Commands. */
int fc_ctl_cmd_enqueue(fc_ctl_t *c, int argc, char **argv);
int fc_ctl_cmd_stats(fc_ctl_t *c, int argc, char **argv);
int fc_ctl_cmd_queues(fc_ctl_t *c, int argc, char **argv);
int fc_ctl_cmd_retries(fc_ctl_t *c, int argc, char **argv);
int fc_ctl_cmd_dead(fc_ctl_t *c, int argc, char **argv);
int fc_ctl_cmd_processes(fc_ctl_t *c, int argc, char **argv);
int fc_ctl_cmd_reload(fc_ctl_t *c, int argc, char **argv);
int fc_ctl_cmd_quiet(fc_ctl_t *c, int argc, char **argv);
int fc_ctl_cmd_status(fc_ctl_t *c, int argc, char **argv);

/* Option parsing shared by the commands: every command takes --json and
 * -h/--help. FC_CTL_COMMON_OPTIONS goes into a struct option array;
 * fc_ctl_getopt() wraps getopt_long() for a command's argv (argv[0] is the
 * command name; main() resets optind) and handles --json itself; shortopts
 * must start with ':'; it returns the option, -1 at the
 * end, or '?' after printing "unknown option" / "needs an argument" (the
 * command then returns EX_USAGE). */
#define FC_CTL_OPT_JSON 0x1000
#define FC_CTL_COMMON_OPTIONS                                                                                \
        {"json", no_argument, NULL, FC_CTL_OPT_JSON}, {                                                      \
                "help", no_argument, NULL, 'h'                                                               \
        }
int fc_ctl_getopt(fc_ctl_t *c, int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Reports arguments left over after a command's own: returns 0 when there
 * are none, else EX_USAGE after printing the first. */
int fc_ctl_no_more_args(const char *command, int argc, char **argv, int first);

#endif
