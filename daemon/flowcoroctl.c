/* flowcoroctl: controls a running flowcorod through its control socket.
 *
 * For now this is the command-line shell only: the control socket arrives
 * with the systemd/packaging issue. Exit codes follow sysexits.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "flowcoro/version.h"

static void usage(FILE *out) {
        fprintf(out,
                "Usage: flowcoroctl [OPTION]... COMMAND\n"
                "Control a running flowcorod.\n"
                "\n"
                "Commands (not available yet):\n"
                "  status    show what the daemon is doing\n"
                "  reload    reload the configuration and plugins, report errors\n"
                "  quiet     stop fetching new jobs\n"
                "\n"
                "  -h, --help      show this help and exit\n"
                "  -V, --version   show the version and exit\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "hV", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case 'V':
                        printf("flowcoroctl %s\n", FC_VERSION_STRING);
                        return EXIT_SUCCESS;
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
        fprintf(stderr, "flowcoroctl: unknown command '%s' (see flowcoroctl --help)\n", argv[optind]);
        return EX_USAGE;
}
