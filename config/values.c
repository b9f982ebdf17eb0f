/* Value syntax: whole numbers, durations, sizes, the Redis URL and
 * host:port listen addresses. */
#include "config-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* Reads the digits at *s (at least one) into *ret and moves *s past them.
 * Returns 0, -EINVAL (no digit) or -ERANGE (over 64 bits). */
static int parse_digits(const char **s, uint64_t *ret) {
        uint64_t v = 0;
        const char *p = *s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned digit = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - digit) / 10)
                        return -ERANGE;
                v = v * 10 + digit;
        }
        *s = p;
        *ret = v;
        return 0;
}

int fc__parse_uint(const char *text, uint64_t max, uint64_t *ret) {
        uint64_t v;
        const char *s = text;
        int r = parse_digits(&s, &v);

        if (r < 0)
                return r;
        if (*s)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

typedef struct unit {
        const char *suffix;
        uint64_t factor;
} unit_t;

static int parse_with_unit(const char *text, const unit_t *units, size_t n_units, uint64_t *ret) {
        uint64_t v;
        const char *s = text;
        int r = parse_digits(&s, &v);

        if (r < 0)
                return r;
        if (*s == '\0') {
                /* A bare number is ambiguous (seconds? bytes?), except 0. */
                if (v != 0)
                        return -EINVAL;
                *ret = 0;
                return 0;
        }
        for (size_t i = 0; i < n_units; i++)
                if (strcmp(s, units[i].suffix) == 0) {
                        if (v > UINT64_MAX / units[i].factor)
                                return -ERANGE;
                        *ret = v * units[i].factor;
                        return 0;
                }
        return -EINVAL;
}

int fc_config_parse_duration(const char *text, uint64_t *ret_ms) {
        static const unit_t units[] = {
                {"ms", 1},
                {"s", 1000},
                {"m", 60 * 1000},
                {"h", 60 * 60 * 1000},
                {"d", 24 * 60 * 60 * 1000},
        };

        if (!text || !ret_ms)
                return -EINVAL;
        return parse_with_unit(text, units, sizeof(units) / sizeof(units[0]), ret_ms);
}

int fc_config_parse_size(const char *text, uint64_t *ret_bytes) {
        static const unit_t units[] = {
                {"B", 1},
                {"KiB", 1024},
                {"MiB", 1024 * 1024},
                {"GiB", 1024 * 1024 * 1024},
        };

        if (!text || !ret_bytes)
                return -EINVAL;
        return parse_with_unit(text, units, sizeof(units) / sizeof(units[0]), ret_bytes);
}

/* ---- URLs -------------------------------------------------------------- */

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes %XX escapes of [s, s+len) into a new string. -EINVAL for a bad
 * escape or an escaped NUL, -ENOMEM. */
static int percent_decode(const char *s, size_t len, char **ret) {
        _cleanup_free_ char *out = malloc(len + 1);
        size_t o = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                if (s[i] != '%') {
                        out[o++] = s[i];
                        continue;
                }
                if (i + 2 >= len)
                        return -EINVAL;
                int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                        return -EINVAL;
                out[o++] = (char)(hi * 16 + lo);
                i += 2;
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

void fc__redis_url_clear(fc__redis_url_t *url) {
        if (url->password) {
                explicit_bzero(url->password, strlen(url->password));
                free(url->password);
        }
        free(url->host);
        free(url->socket_path);
        free(url->username);
        free(url->masked);
        *url = (fc__redis_url_t){0};
}

static int parse_port(const char *s, size_t len, uint16_t *ret) {
        char buf[8];
        uint64_t v;

        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (fc__parse_uint(buf, 65535, &v) < 0 || v == 0)
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
}

static int parse_db(const char *s, uint32_t *ret) {
        uint64_t v;

        if (fc__parse_uint(s, INT32_MAX, &v) < 0)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

/* Host part of host[:port] or [v6][:port]; sets *ret_host and *ret_port
 * (untouched when no port is given). */
static int parse_host_port(const char *s, size_t len, char **ret_host, uint16_t *ret_port, char *err,
                           size_t err_size) {
        const char *host = s, *port = NULL;
        size_t host_len;

        if (len > 0 && s[0] == '[') {
                const char *close = memchr(s, ']', len);
                if (!close) {
                        snprintf(err, err_size, "expected \"]\" after an IPv6 address");
                        return -EINVAL;
                }
                host = s + 1;
                host_len = (size_t)(close - host);
                const char *rest = close + 1;
                size_t rest_len = len - (size_t)(rest - s);
                if (rest_len > 0) {
                        if (rest[0] != ':') {
                                snprintf(err, err_size, "expected \":port\" after \"]\"");
                                return -EINVAL;
                        }
                        port = rest + 1;
                }
                if (host_len == 0 || strspn(host, "0123456789abcdefABCDEF:.") < host_len) {
                        snprintf(err, err_size, "expected an IPv6 address between \"[\" and \"]\"");
                        return -EINVAL;
                }
        } else {
                const char *colon = memchr(s, ':', len);
                host_len = colon ? (size_t)(colon - s) : len;
                if (colon)
                        port = colon + 1;
                if (host_len == 0) {
                        snprintf(err, err_size, "expected a host name or address");
                        return -EINVAL;
                }
                for (size_t i = 0; i < host_len; i++) {
                        char c = s[i];
                        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '-' || c == '.' || c == '_')) {
                                snprintf(err, err_size,
                                         "expected a host name or address (letters, digits, \"-\", \".\"), "
                                         "found \"%c\" in it",
                                         (c > 0x20 && c < 0x7f) ? c : '?');
                                return -EINVAL;
                        }
                }
        }
        if (port && parse_port(port, len - (size_t)(port - s), ret_port) < 0) {
                snprintf(err, err_size, "expected a port from 1 to 65535 after \":\"");
                return -EINVAL;
        }
        *ret_host = strndup(host, host_len);
        return *ret_host ? 0 : -ENOMEM;
}

/* [user][:password]@ before rest; fills username/password (decoded). */
static int parse_userinfo(const char *s, size_t len, fc__redis_url_t *u, char *err, size_t err_size) {
        const char *colon = memchr(s, ':', len);
        size_t user_len = colon ? (size_t)(colon - s) : len;
        int r;

        /* RFC 3986 would read "redis://word@host" as a user name, some Redis
         * clients as a password: refuse to guess (and to print it). */
        if (!colon) {
                snprintf(err, err_size, "expected \"user:password@\" or \":password@\" before the host");
                return -EINVAL;
        }

        if (user_len > 0) {
                r = percent_decode(s, user_len, &u->username);
                if (r < 0) {
                        if (r == -EINVAL)
                                snprintf(err, err_size, "expected %%XX escapes (not %%00) in the user name");
                        return r;
                }
        }
        if (colon) {
                r = percent_decode(colon + 1, len - user_len - 1, &u->password);
                if (r < 0) {
                        if (r == -EINVAL)
                                snprintf(err, err_size, "expected %%XX escapes (not %%00) in the password");
                        return r;
                }
                if (!u->password[0]) {
                        free(u->password);
                        u->password = NULL;
                }
        }
        return 0;
}

int fc__redis_url_parse(const char *text, fc__redis_url_t *ret, char *err, size_t err_size) {
        fc__redis_url_t u = {.port = 6379};
        const char *rest, *end, *at, *slash, *userinfo, *colon;
        size_t prefix_len;
        int r;

        if (strncmp(text, "rediss://", 9) == 0) {
                snprintf(err, err_size, "TLS (rediss://) is not supported; use redis:// or unix://");
                return -EINVAL;
        }
        if (strncmp(text, "redis://", 8) == 0) {
                u.transport = FC_REDIS_TCP;
                prefix_len = 8;
        } else if (strncmp(text, "unix://", 7) == 0) {
                u.transport = FC_REDIS_UNIX;
                prefix_len = 7;
        } else {
                snprintf(err, err_size, "expected a URL starting with redis:// or unix://");
                return -EINVAL;
        }
        rest = userinfo = text + prefix_len;
        end = rest + strlen(rest);

        /* The user info ends at the last "@" before the path (redis://) or
         * before the socket's "/" (unix://), so that an unescaped "@" in a
         * password still works. */
        at = NULL;
        if (u.transport == FC_REDIS_TCP) {
                slash = strchr(rest, '/');
                for (const char *c = rest; c < (slash ? slash : end); c++)
                        if (*c == '@')
                                at = c;
        } else if (rest[0] != '/') {
                for (const char *c = rest; c < end; c++)
                        if (*c == '@' && c[1] == '/')
                                at = c;
        }
        if (at) {
                r = parse_userinfo(rest, (size_t)(at - rest), &u, err, err_size);
                if (r < 0)
                        goto fail;
                rest = at + 1;
        }

        if (u.transport == FC_REDIS_TCP) {
                slash = strchr(rest, '/');
                const char *host_end = slash ? slash : end;
                if (memchr(rest, '?', (size_t)(host_end - rest)) || (slash && strchr(slash, '?'))) {
                        snprintf(err, err_size, "expected no \"?\" options in a redis:// URL; give the "
                                                "database as redis://host:port/DB");
                        r = -EINVAL;
                        goto fail;
                }
                r = parse_host_port(rest, (size_t)(host_end - rest), &u.host, &u.port, err, err_size);
                if (r < 0)
                        goto fail;
                if (slash && slash[1] && parse_db(slash + 1, &u.db) < 0) {
                        snprintf(err, err_size, "expected a database number from 0 to %d after the \"/\"",
                                 INT32_MAX);
                        r = -EINVAL;
                        goto fail;
                }
        } else {
                const char *q = strchr(rest, '?');
                size_t path_len = q ? (size_t)(q - rest) : (size_t)(end - rest);
                if (path_len == 0 || rest[0] != '/') {
                        snprintf(err, err_size, "expected an absolute socket path, as in "
                                                "unix:///run/redis/redis.sock");
                        r = -EINVAL;
                        goto fail;
                }
                if (path_len > 107) {
                        snprintf(err, err_size, "expected a socket path of at most 107 bytes, got %zu bytes",
                                 path_len);
                        r = -EINVAL;
                        goto fail;
                }
                if (q) {
                        if (strncmp(q + 1, "db=", 3) != 0) {
                                snprintf(err, err_size, "expected \"?db=N\" as the only option");
                                r = -EINVAL;
                                goto fail;
                        }
                        if (parse_db(q + 4, &u.db) < 0) {
                                snprintf(err, err_size, "expected a database number from 0 to %d after \"?db=\"",
                                         INT32_MAX);
                                r = -EINVAL;
                                goto fail;
                        }
                }
                u.socket_path = strndup(rest, path_len);
                if (!u.socket_path) {
                        r = -ENOMEM;
                        goto fail;
                }
                u.port = 0;
        }

        /* The URL as written, with the password (if any) masked. */
        colon = at ? memchr(userinfo, ':', (size_t)(at - userinfo)) : NULL;
        if (colon)
                r = asprintf(&u.masked, "%.*s:***%s", (int)(colon - text), text, at);
        else
                r = asprintf(&u.masked, "%s", text);
        if (r < 0) {
                u.masked = NULL;
                r = -ENOMEM;
                goto fail;
        }
        *ret = u;
        return 0;
fail:
        fc__redis_url_clear(&u);
        return r;
}

int fc__parse_listen(const char *text, char **ret_host, uint16_t *ret_port, char *err, size_t err_size) {
        uint16_t port = 0;
        int r;

        r = parse_host_port(text, strlen(text), ret_host, &port, err, err_size);
        if (r < 0)
                return r;
        if (port == 0) {
                free(*ret_host);
                *ret_host = NULL;
                snprintf(err, err_size, "expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464");
                return -EINVAL;
        }
        *ret_port = port;
        return 0;
}
