/* flowcoroctl: see and steer FlowCoro from the command line.
 *
 * Redis commands (enqueue, stats, queues, retries, dead, processes) talk to
 * Redis in Sidekiq's keys, so they work with or without a running daemon;
 * reload, quiet and status talk to flowcorod through its control socket.
 * The commands live in daemon/ctl/ (ctl.h); docs/flowcoroctl.md and
 * flowcoroctl(1) describe them. Exit codes follow sysexits.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl/ctl.h"
#include "flowcoro/version.h"

static void usage(FILE *out) {
        fprintf(out,
                "Usage: flowcoroctl [OPTION]... COMMAND [ARG]...\n"
                "See and steer FlowCoro: its jobs in Redis (Sidekiq's keys) and a running flowcorod.\n"
                "\n"
                "Commands:\n"
                "  enqueue     add one job from flags, or many from JSON lines (a file or -)\n"
                "  stats       processed, failed, busy, queues, retries, dead (--watch: live)\n"
                "  queues      every queue with its size and latency\n"
                "  retries     list, show, retry or delete jobs waiting for a retry\n"
                "  dead        list, show, retry or delete dead jobs\n"
                "  processes   list the running daemons; quiet or stop one\n"
                "  status      what the local flowcorod is doing (control socket)\n"
                "  reload      reload its configuration and plugins, print any errors\n"
                "  quiet       make it stop fetching new jobs\n"
                "\n"
                "Options (before the command; --json also after it):\n"
                "  -c, --config FILE  configuration file (default " FC_CTL_DEFAULT_CONFIG "; when it is\n"
                "                     missing, the defaults): redis.*, control.socket\n"
                "      --redis URL    Redis to use instead of redis.url (redis://, unix://)\n"
                "      --json         print JSON for scripts instead of tables\n"
                "  -h, --help         show this help and exit (COMMAND --help: that command's)\n"
                "  -V, --version      show the version and exit\n"
                "\n"
                "Exit codes: 0 done, 1 no such job or process, 64 bad command line, 65 bad input\n"
                "data, 66 missing input file, 69 Redis or the daemon unreachable, 76 unexpected\n"
                "answer, 77 Redis refused the credentials, 78 bad configuration. See flowcoroctl(1).\n");
}

typedef struct command {
        const char *name;
        int (*run)(fc_ctl_t *c, int argc, char **argv);
} command_t;

static const command_t commands[] = {
        {"enqueue", fc_ctl_cmd_enqueue}, {"stats", fc_ctl_cmd_stats}, {"queues", fc_ctl_cmd_queues},
        {"retries", fc_ctl_cmd_retries}, {"dead", fc_ctl_cmd_dead},   {"processes", fc_ctl_cmd_processes},
        {"reload", fc_ctl_cmd_reload},   {"quiet", fc_ctl_cmd_quiet}, {"status", fc_ctl_cmd_status},
};

int main(int argc, char **argv) {
        enum { OPT_REDIS = 0x100, OPT_JSON };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'}, {"redis", required_argument, NULL, OPT_REDIS},
                {"json", no_argument, NULL, OPT_JSON},    {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},      {0},
        };
        fc_ctl_t ctl = {.config_path = FC_CTL_DEFAULT_CONFIG};
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:c:hV", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        ctl.config_path = optarg;
                        ctl.config_given = true;
                        break;
                case OPT_REDIS:
                        ctl.redis_url = optarg;
                        break;
                case OPT_JSON:
                        ctl.json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case 'V':
                        printf("flowcoroctl %s\n", FC_VERSION_STRING);
                        return EXIT_SUCCESS;
                case ':':
                        fprintf(stderr, "flowcoroctl: option '%s' needs an argument\n", argv[optind - 1]);
                        return EX_USAGE;
                default:
                        fprintf(stderr, "flowcoroctl: unknown option '%s' (see flowcoroctl --help)\n",
                                argv[optind - 1]);
                        return EX_USAGE;
                }
        }
        if (optind == argc) {
                fprintf(stderr, "flowcoroctl: missing command (see flowcoroctl --help)\n");
                return EX_USAGE;
        }
        const char *name = argv[optind];
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(commands[i].name, name) != 0)
                        continue;
                int sub_argc = argc - optind;
                char **sub_argv = argv + optind;
                optind = 0; /* GNU getopt: start over on the command's words */
                int code = commands[i].run(&ctl, sub_argc, sub_argv);
                fc_ctl_done(&ctl);
                return code;
        }
        fprintf(stderr, "flowcoroctl: unknown command '%s' (see flowcoroctl --help)\n", name);
        return EX_USAGE;
}
