/* A fast, allocation-free first look at a job payload: checks that the text
 * is JSON that jansson would accept, and notes where Sidekiq's fields are.
 *
 * It is only ever a shortcut: when it says yes, the text is one JSON object
 * whose fields below are unique and well-typed, and jansson would parse it
 * (the fuzzer tests/fuzz/fuzz-job.c checks exactly that against jansson);
 * when it says no, for any reason, the caller parses with jansson, which
 * says what is wrong. Parsing a whole payload with jansson costs about a
 * hundred instructions a byte, most of a job's cost on the success path. */
#ifndef FC_DAEMON_JOBSCAN_H
#define FC_DAEMON_JOBSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum fc_jtype {
        FC_JT_ABSENT = 0,
        FC_JT_STRING,
        FC_JT_INTEGER,
        FC_JT_REAL,
        FC_JT_ARRAY,
        FC_JT_OBJECT,
        FC_JT_TRUE,
        FC_JT_FALSE,
        FC_JT_NULL,
} fc_jtype_t;

/* Where one value is in the text: [start, start + len). A string's span
 * includes its quotes; escaped is true when it holds a backslash. */
typedef struct fc_jspan {
        uint32_t start, len;
        fc_jtype_t type;
        bool escaped;
} fc_jspan_t;

/* The top-level fields the daemon reads. */
typedef enum fc_jfield {
        FC_JF_CLASS,
        FC_JF_ARGS,
        FC_JF_JID,
        FC_JF_QUEUE,
        FC_JF_RETRY_COUNT,
        FC_JF_RECOVERED_COUNT,
        FC_JF_ENQUEUED_AT,
        FC_JF_TIMEOUT,
        FC_JF_COUNT,
} fc_jfield_t;

typedef struct fc_jobscan {
        fc_jspan_t field[FC_JF_COUNT]; /* type FC_JT_ABSENT when not there */
} fc_jobscan_t;

/* Scans len bytes (less than 4 GiB). Returns true when the text is one JSON
 * object that jansson accepts and none of the fields above appears twice;
 * false otherwise (then parse with jansson). */
bool fc_jobscan(const char *text, size_t len, fc_jobscan_t *out);

/* How deep JSON that comes from outside (job payloads, schedule and retry
 * entries) may nest. jansson allows 2048 levels and recurses once per
 * level, which would overflow a coroutine's stack (64 KiB by default) long
 * before: check with fc_json_too_deep() before handing such text to it. */
#define FC_JSON_MAX_DEPTH 64

/* Whether len bytes of text nest arrays and objects deeper than max
 * levels, counted without recursion (brackets inside strings, escaped or
 * not, don't count). Text that is not JSON gives an answer too; the parser
 * then says what is wrong with it. Pure function, any thread. */
bool fc_json_too_deep(const char *text, size_t len, unsigned max);

/* Replaces, in place, every byte of the NUL-terminated s that is not part
 * of a valid UTF-8 sequence with '?': for messages that quote bytes of a
 * payload, or were cut in the middle of a character, and must become JSON
 * strings. */
void fc_utf8_scrub(char *s);

#endif
