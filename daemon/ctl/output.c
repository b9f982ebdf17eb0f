/* flowcoroctl's output: tables for people, JSON for scripts, times, and the
 * option parsing every command shares. */
#include "ctl.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

int fc_ctl_print_json(json_t *o) {
        if (!o)
                return fc_ctl_fail(EX_SOFTWARE, "out of memory");
        int r = json_dumpf(o, stdout, JSON_COMPACT);
        json_decref(o);
        if (r < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
                return fc_ctl_fail(EX_IOERR, "cannot write to standard output");
        return 0;
}

void fc_ctl_table_cell(fc_ctl_table_t *t, const char *format, ...) {
        if (t->failed)
                return;
        if (t->n_cells == t->cap) {
                size_t cap = t->cap ? 2 * t->cap : 64;
                char **cells = realloc(t->cells, cap * sizeof(*cells));
                if (!cells) {
                        t->failed = true;
                        return;
                }
                t->cells = cells;
                t->cap = cap;
        }
        va_list ap;
        va_start(ap, format);
        int r = vasprintf(&t->cells[t->n_cells], format, ap);
        va_end(ap);
        if (r < 0)
                t->failed = true;
        else
                t->n_cells++;
}

void fc_ctl_table_free(fc_ctl_table_t *t) {
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        t->cells = NULL;
        t->n_cells = t->cap = 0;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s) {
        size_t w = 0;
        for (; *s; s++)
                w += ((unsigned char)*s & 0xc0) != 0x80;
        return w;
}

int fc_ctl_table_print(fc_ctl_table_t *t) {
        if (t->failed) {
                fc_ctl_table_free(t);
                return fc_ctl_fail(EX_SOFTWARE, "out of memory");
        }
        size_t widths[16] = {0};
        size_t n = t->n_cols < 16 ? t->n_cols : 16;
        for (size_t j = 0; j < n; j++)
                widths[j] = width(t->headers[j]);
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t w = width(t->cells[i]);
                if (w > widths[i % t->n_cols])
                        widths[i % t->n_cols] = w;
        }
        for (size_t i = 0; i < t->n_cells + n; i++) {
                size_t j = i % t->n_cols;
                const char *s = i < n ? t->headers[i] : t->cells[i - n];
                int pad = (int)(widths[j] - width(s));
                bool last = j == n - 1;
                if (t->align[j] == 'r')
                        printf("%*s%s", pad, "", s);
                else
                        printf("%s%*s", s, last ? 0 : pad, "");
                fputs(last ? "\n" : "  ", stdout);
        }
        fc_ctl_table_free(t);
        return fflush(stdout) == 0 ? 0 : fc_ctl_fail(EX_IOERR, "cannot write to standard output");
}

double fc_ctl_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double fc_ctl_epoch(const json_t *v) {
        if (!json_is_number(v))
                return 0;
        double t = json_number_value(v);
        return t > 1e11 ? t / 1000.0 : t;
}

const char *fc_ctl_format_time(double epoch, char buf[static 32]) {
        if (epoch <= 0 || !isfinite(epoch) || epoch > 1e12) {
                strcpy(buf, "-");
                return buf;
        }
        time_t t = (time_t)epoch;
        struct tm tm;
        strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
        return buf;
}

const char *fc_ctl_format_age(double s, char buf[static 32]) {
        const char *sign = s < 0 ? "-" : "";
        s = fabs(s);
        if (!isfinite(s))
                snprintf(buf, 32, "-");
        else if (s < 10)
                snprintf(buf, 32, "%s%.2fs", sign, s);
        else if (s < 60)
                snprintf(buf, 32, "%s%.0fs", sign, floor(s));
        else if (s < 3600)
                snprintf(buf, 32, "%s%dm %ds", sign, (int)(s / 60), (int)fmod(s, 60));
        else if (s < 86400)
                snprintf(buf, 32, "%s%dh %dm", sign, (int)(s / 3600), (int)fmod(s / 60, 60));
        else
                snprintf(buf, 32, "%s%.0fd %dh", sign, floor(s / 86400), (int)fmod(s / 3600, 24));
        return buf;
}

const char *fc_ctl_shorten(const char *text, size_t max, char *buf, size_t size) {
        size_t len = strlen(text);
        if (max + 4 > size)
                max = size - 4;
        size_t take = len <= max ? len : max;
        while (take < len && take > 0 && ((unsigned char)text[take] & 0xc0) == 0x80)
                take--; /* don't cut a UTF-8 sequence */
        for (size_t i = 0; i < take; i++)
                buf[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
        strcpy(buf + take, take < len ? "..." : "");
        return buf;
}

int fc_ctl_getopt(fc_ctl_t *c, int argc, char **argv, const char *shortopts, const struct option *longopts) {
        for (;;) {
                int opt = getopt_long(argc, argv, shortopts, longopts, NULL);
                if (opt == FC_CTL_OPT_JSON) {
                        c->json = true;
                        continue;
                }
                /* shortopts start with ':', so a missing argument is ':' and '?' is unknown. */
                if (opt == '?') {
                        fc_ctl_fail(0, "%s: unknown option '%s' (see flowcoroctl %s --help)", argv[0],
                                    argv[optind - 1], argv[0]);
                } else if (opt == ':') {
                        fc_ctl_fail(0, "%s: option '%s' needs an argument", argv[0], argv[optind - 1]);
                        opt = '?';
                }
                return opt;
        }
}

int fc_ctl_no_more_args(const char *command, int argc, char **argv, int first) {
        if (first < argc)
                return fc_ctl_fail(EX_USAGE, "%s: unexpected argument '%s' (see flowcoroctl %s --help)",
                                   command, argv[first], command);
        return 0;
}
