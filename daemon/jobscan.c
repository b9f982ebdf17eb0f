/* The fast first look at a job payload (see jobscan.h). The rules are
 * jansson 2.14's (load.c), so that "yes" here means jansson parses it too:
 * whitespace is space, tab, CR and LF; strings hold no control character,
 * no invalid UTF-8 (overlong forms, surrogates, above U+10FFFF), no \u0000
 * and no lone surrogate escape; numbers have no leading zero, integers fit
 * in a long long and reals don't overflow a double. */
#include "jobscan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH FC_JSON_MAX_DEPTH /* deeper goes the slow way, which refuses it */

typedef struct scanner {
        const unsigned char *p, *start, *end;
        int depth;
} scanner_t;

static void skip_ws(scanner_t *s) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
                s->p++;
}

static int hex4(const unsigned char *p) {
        int v = 0;
        for (int i = 0; i < 4; i++) {
                int c = p[i], d;
                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else
                        return -1;
                v = v * 16 + d;
        }
        return v;
}

/* One UTF-8 sequence starting at p (first byte >= 0x80). Returns its length,
 * or 0 when invalid. */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end) {
        unsigned c = p[0], n, v;
        if (c >= 0xC2 && c <= 0xDF)
                n = 2, v = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
                n = 3, v = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
                n = 4, v = c & 0x07;
        else
                return 0;
        if ((size_t)(end - p) < n)
                return 0;
        for (unsigned i = 1; i < n; i++) {
                if ((p[i] & 0xC0) != 0x80)
                        return 0;
                v = (v << 6) | (p[i] & 0x3F);
        }
        if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return 0;
        return n;
}

/* Bytes a string can hold as they are: not a quote, backslash, control
 * character or the start of a multi-byte UTF-8 sequence. One table lookup
 * a byte instead of four comparisons: strings are most of a payload. */
static const bool plain_byte[256] = {
        [0x20 ... '"' - 1] = true,
        ['"' + 1 ... '\\' - 1] = true,
        ['\\' + 1 ... 0x7f] = true,
};

/* A string, s->p at its opening quote. */
static bool scan_string(scanner_t *s, bool *escaped) {
        const unsigned char *p = s->p + 1, *end = s->end;
        *escaped = false;
        while (p < end) {
                unsigned c = *p;
                if (plain_byte[c]) {
                        p++;
                        continue;
                }
                if (c == '"') {
                        s->p = p + 1;
                        return true;
                }
                if (c < 0x20)
                        return false;
                if (c == '\\') {
                        *escaped = true;
                        if (++p >= end)
                                return false;
                        switch (*p) {
                        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                                p++;
                                break;
                        case 'u': {
                                if (end - p < 5)
                                        return false;
                                int u = hex4(p + 1);
                                p += 5;
                                if (u <= 0 || (u >= 0xDC00 && u <= 0xDFFF))
                                        return false; /* \u0000 or a lone low surrogate */
                                if (u >= 0xD800 && u <= 0xDBFF) {
                                        if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                                                return false;
                                        int low = hex4(p + 2);
                                        if (low < 0xDC00 || low > 0xDFFF)
                                                return false;
                                        p += 6;
                                }
                                break;
                        }
                        default:
                                return false;
                        }
                        continue;
                }
                size_t n = utf8_sequence(p, end); /* c >= 0x80: every other byte is handled above */
                if (n == 0)
                        return false;
                p += n;
        }
        return false;
}

static bool is_digit(const unsigned char *p, const unsigned char *end) {
        return p < end && *p >= '0' && *p <= '9';
}

static bool scan_number(scanner_t *s, fc_jtype_t *type) {
        const unsigned char *p = s->p, *end = s->end, *first = p;
        bool real = false;
        if (*p == '-')
                p++;
        if (!is_digit(p, end))
                return false;
        if (*p == '0') {
                p++;
                if (is_digit(p, end))
                        return false; /* no leading zeros */
        } else {
                while (is_digit(p, end))
                        p++;
        }
        if (p < end && *p == '.') {
                real = true;
                p++;
                if (!is_digit(p, end))
                        return false;
                while (is_digit(p, end))
                        p++;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
                real = true;
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                if (!is_digit(p, end))
                        return false;
                while (is_digit(p, end))
                        p++;
        }
        /* The value's range, as jansson checks it. */
        char buf[64];
        size_t n = (size_t)(p - first);
        if (n >= sizeof(buf))
                return false; /* too big for a long long, or a long real: let jansson decide */
        memcpy(buf, first, n);
        buf[n] = '\0';
        errno = 0;
        if (real) {
                double d = strtod(buf, NULL);
                if (isinf(d))
                        return false;
        } else {
                strtoll(buf, NULL, 10);
                if (errno == ERANGE)
                        return false;
        }
        *type = real ? FC_JT_REAL : FC_JT_INTEGER;
        s->p = p;
        return true;
}

static bool literal(scanner_t *s, const char *word, size_t n) {
        if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
                return false;
        s->p += n;
        return true;
}

static bool scan_value(scanner_t *s, fc_jtype_t *type, bool *escaped);

static bool scan_array(scanner_t *s) {
        s->p++; /* [ */
        skip_ws(s);
        if (s->p < s->end && *s->p == ']') {
                s->p++;
                return true;
        }
        for (;;) {
                fc_jtype_t t;
                bool e;
                skip_ws(s);
                if (!scan_value(s, &t, &e))
                        return false;
                skip_ws(s);
                if (s->p >= s->end)
                        return false;
                if (*s->p == ']') {
                        s->p++;
                        return true;
                }
                if (*s->p++ != ',')
                        return false;
        }
}

/* Which of the known fields a key (its text between the quotes) names:
 * the length picks the candidates, one comparison settles it. */
static int field_of(const unsigned char *key, size_t n) {
#define IS(name) (memcmp(key, name, sizeof(name) - 1) == 0)
        switch (n) {
        case 3:
                return IS("jid") ? FC_JF_JID : -1;
        case 4:
                return IS("args") ? FC_JF_ARGS : -1;
        case 5:
                return IS("class") ? FC_JF_CLASS : IS("queue") ? FC_JF_QUEUE : -1;
        case 7:
                return IS("timeout") ? FC_JF_TIMEOUT : -1;
        case 11:
                return IS("retry_count") ? FC_JF_RETRY_COUNT : IS("enqueued_at") ? FC_JF_ENQUEUED_AT : -1;
        case 15:
                return IS("recovered_count") ? FC_JF_RECOVERED_COUNT : -1;
        default:
                return -1;
        }
#undef IS
}

/* An object; when out is not NULL it is the top level: note the fields. */
static bool scan_object(scanner_t *s, fc_jobscan_t *out) {
        s->p++; /* { */
        skip_ws(s);
        if (s->p < s->end && *s->p == '}') {
                s->p++;
                return true;
        }
        for (;;) {
                skip_ws(s);
                if (s->p >= s->end || *s->p != '"')
                        return false;
                const unsigned char *key = s->p;
                bool key_escaped;
                if (!scan_string(s, &key_escaped))
                        return false;
                /* An escaped spelling of a known key goes the slow way. */
                int field = out ? (key_escaped ? -2 : field_of(key + 1, (size_t)(s->p - key - 2))) : -1;
                if (field == -2)
                        return false;
                skip_ws(s);
                if (s->p >= s->end || *s->p++ != ':')
                        return false;
                skip_ws(s);
                const unsigned char *value = s->p;
                fc_jtype_t t;
                bool escaped;
                if (!scan_value(s, &t, &escaped))
                        return false;
                if (field >= 0) {
                        if (out->field[field].type != FC_JT_ABSENT)
                                return false; /* twice: ambiguous */
                        out->field[field] = (fc_jspan_t){.start = (uint32_t)(value - s->start),
                                                         .len = (uint32_t)(s->p - value),
                                                         .type = t,
                                                         .escaped = escaped};
                }
                skip_ws(s);
                if (s->p >= s->end)
                        return false;
                if (*s->p == '}') {
                        s->p++;
                        return true;
                }
                if (*s->p++ != ',')
                        return false;
        }
}

static bool scan_value(scanner_t *s, fc_jtype_t *type, bool *escaped) {
        *escaped = false;
        if (s->p >= s->end)
                return false;
        bool ok;
        switch (*s->p) {
        case '"':
                *type = FC_JT_STRING;
                return scan_string(s, escaped);
        case '{':
        case '[':
                if (++s->depth > MAX_DEPTH)
                        return false;
                *type = *s->p == '{' ? FC_JT_OBJECT : FC_JT_ARRAY;
                ok = *type == FC_JT_OBJECT ? scan_object(s, NULL) : scan_array(s);
                s->depth--;
                return ok;
        case 't':
                *type = FC_JT_TRUE;
                return literal(s, "true", 4);
        case 'f':
                *type = FC_JT_FALSE;
                return literal(s, "false", 5);
        case 'n':
                *type = FC_JT_NULL;
                return literal(s, "null", 4);
        default:
                return scan_number(s, type);
        }
}

bool fc_json_too_deep(const char *text, size_t len, unsigned max) {
        unsigned depth = 0;
        bool in_string = false;
        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                if (in_string) {
                        if (c == '\\')
                                i++; /* the escaped byte can't end the string */
                        else if (c == '"')
                                in_string = false;
                } else if (c == '"') {
                        in_string = true;
                } else if (c == '[' || c == '{') {
                        if (++depth > max)
                                return true;
                } else if ((c == ']' || c == '}') && depth > 0) {
                        depth--;
                }
        }
        return false;
}

void fc_utf8_scrub(char *s) {
        unsigned char *p = (unsigned char *)s, *end = p + strlen(s);
        while (p < end) {
                if (*p < 0x80) {
                        p++;
                        continue;
                }
                size_t n = utf8_sequence(p, end);
                if (n == 0)
                        *p++ = '?';
                else
                        p += n;
        }
}

bool fc_jobscan(const char *text, size_t len, fc_jobscan_t *out) {
        memset(out, 0, sizeof(*out));
        if (len >= UINT32_MAX)
                return false;
        scanner_t s = {.p = (const unsigned char *)text, .start = (const unsigned char *)text,
                       .end = (const unsigned char *)text + len};
        skip_ws(&s);
        if (s.p >= s.end || *s.p != '{')
                return false;
        s.depth = 1;
        if (!scan_object(&s, out))
                return false;
        skip_ws(&s);
        return s.p == s.end;
}
