/* flowcorod: the FlowCoro job-processing daemon.
 *
 * For now this is the command-line shell only: the Redis job engine arrives
 * with its own issue. It runs in the foreground and never forks (systemd
 * supervises it). Exit codes follow sysexits.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "flowcoro/version.h"

static void usage(FILE *out) {
        fprintf(out,
                "Usage: flowcorod [OPTION]...\n"
                "Run the FlowCoro job-processing daemon in the foreground.\n"
                "\n"
                "  -c, --config FILE   configuration file (default /etc/flowcoro/flowcoro.yaml)\n"
                "  -h, --help          show this help and exit\n"
                "  -V, --version       show the version and exit\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:hV", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case 'V':
                        printf("flowcorod %s\n", FC_VERSION_STRING);
                        return EXIT_SUCCESS;
                case ':':
                        fprintf(stderr, "flowcorod: option '%s' needs an argument\n", argv[optind - 1]);
                        return EX_USAGE;
                default:
                        fprintf(stderr, "flowcorod: unknown option '%s' (see flowcorod --help)\n",
                                argv[optind - 1]);
                        return EX_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "flowcorod: unexpected argument '%s' (see flowcorod --help)\n", argv[optind]);
                return EX_USAGE;
        }
        fprintf(stderr, "flowcorod: the job engine is not built yet; only --help and --version work\n");
        return EX_UNAVAILABLE;
}
