/* flowcoroctl reload / quiet / status: one request on the daemon's control
 * socket (control.socket; daemon/control.h), one JSON answer. */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cleanup.h"
#include "control.h"

static int request_exit_code(int r) {
        switch (r) {
        case -EACCES:
        case -EPERM:
                return EX_NOPERM;
        case -EPROTO:
                return EX_PROTOCOL;
        case -ETIMEDOUT:
                return EX_TEMPFAIL;
        case -EINVAL:
                return EX_CONFIG;
        case -ENOMEM:
                return EX_OSERR;
        default:
                return EX_UNAVAILABLE; /* no socket, nobody listening, ... */
        }
}

/* Prints a value of the answer for people: strings as they are, the rest as JSON. */
static void print_value(const char *key, const json_t *v) {
        if (json_is_string(v)) {
                printf("%-14s %s\n", key, json_string_value(v));
                return;
        }
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%-14s %s\n", key, text ? text : "?");
        free(text);
}

static int run(fc_ctl_t *c, const char *command, int argc, char **argv, const char *help) {
        static const struct option options[] = {FC_CTL_COMMON_OPTIONS, {0}};
        int opt;
        while ((opt = fc_ctl_getopt(c, argc, argv, ":h", options)) != -1) {
                if (opt != 'h')
                        return EX_USAGE;
                fputs(help, stdout);
                return 0;
        }
        int code = fc_ctl_no_more_args(command, argc, argv, optind);
        /* These commands talk to the daemon, never to Redis: its password is
         * not needed, and systemd's credential, whose directory an
         * ExecReload= process sees named but can't open, is the daemon's. */
        unsetenv("CREDENTIALS_DIRECTORY");
        if (!code)
                code = fc_ctl_load_config(c);
        if (code)
                return code;
        const char *socket = c->config->control.socket;
        if (!socket[0])
                return fc_ctl_fail(EX_CONFIG,
                                   "%s: control.socket is \"\" in %s: the daemon has no control socket",
                                   command, c->config_path);

        _cleanup_free_ char *reply = NULL;
        char error[512];
        int r = fc_control_request(socket, command, &reply, error, sizeof(error));
        if (r < 0)
                return fc_ctl_fail(request_exit_code(r), "%s: %s", command, error);
        json_error_t jerr;
        json_t *answer = json_loads(reply, 0, &jerr);
        if (!json_is_object(answer)) {
                json_decref(answer);
                return fc_ctl_fail(EX_PROTOCOL,
                                   "%s: the daemon at %s answered something that is not a JSON object",
                                   command, socket);
        }
        bool ok = json_is_true(json_object_get(answer, "ok"));
        const json_t *errors = json_object_get(answer, "errors");
        if (!ok) {
                size_t i;
                const json_t *e;
                json_array_foreach(errors, i, e)
                        fc_ctl_fail(0, "%s: %s", command, json_is_string(e) ? json_string_value(e) : "?");
                if (json_array_size(errors) == 0) {
                        const char *message = json_string_value(json_object_get(answer, "message"));
                        fc_ctl_fail(0, "%s: the daemon refused%s%s", command, message ? ": " : "",
                                    message ? message : "");
                }
        }
        /* A failed reload means its configuration has errors (they are printed). */
        int failed = strcmp(command, "reload") == 0 ? EX_CONFIG : EX_SOFTWARE;
        if (c->json) {
                code = fc_ctl_print_json(answer);
                return ok ? code : failed;
        }
        const char *message = json_string_value(json_object_get(answer, "message"));
        if (ok && strcmp(command, "status") == 0) {
                const char *key;
                json_t *v;
                json_object_foreach(answer, key, v) {
                        if (strcmp(key, "ok") != 0)
                                print_value(key, v);
                }
        } else if (ok) {
                printf("%s\n", message ? message : "done");
        }
        json_decref(answer);
        return ok ? 0 : failed;
}

int fc_ctl_cmd_reload(fc_ctl_t *c, int argc, char **argv) {
        return run(c, "reload", argc, argv,
                   "Usage: flowcoroctl reload [--json]\n"
                   "Ask the local flowcorod (control.socket) to reload its configuration and plugins.\n"
                   "Prints what changed, or every error of the new configuration and exits 78: the daemon\n"
                   "then keeps running with the old one. Settings that need a restart are named.\n");
}

int fc_ctl_cmd_quiet(fc_ctl_t *c, int argc, char **argv) {
        return run(c, "quiet", argc, argv,
                   "Usage: flowcoroctl quiet [--json]\n"
                   "Make the local flowcorod (control.socket) stop fetching new jobs; running jobs finish.\n"
                   "For a daemon on another host: flowcoroctl processes quiet IDENTITY.\n");
}

int fc_ctl_cmd_status(fc_ctl_t *c, int argc, char **argv) {
        return run(c, "status", argc, argv,
                   "Usage: flowcoroctl status [--json]\n"
                   "Show what the local flowcorod (control.socket) is doing: its identity, version,\n"
                   "uptime, jobs running, quiet or not, and the other fields it reports.\n");
}
