/* flowcorod: the FlowCoro job-processing daemon.
 *
 * It runs in the foreground and never forks (systemd supervises it). So far
 * it loads and checks its configuration and plugins; the Redis job engine
 * arrives with its own issue. Exit codes follow sysexits.h: 64 for a bad
 * command line, 78 (EX_CONFIG) for a bad configuration. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "flowcoro/config.h"
#include "flowcoro/version.h"
#include "host.h"
#include "loader.h"

#define DEFAULT_CONFIG "/etc/flowcoro/flowcoro.yaml"

/* Loads the configuration and its plugins, printing every error. Returns 0
 * or EX_CONFIG. On success *config and *plugins are the caller's. */
static int load_everything(const char *path, bool check_permissions, fc_config_t **config,
                           fc_plugin_set_t **plugins) {
        _cleanup_config_errors_ fc_config_errors_t *errors = NULL;
        int r = fc_config_load(path, config, &errors);
        if (r < 0) {
                if (errors)
                        fc_config_errors_print(errors, stderr);
                else
                        fprintf(stderr, "flowcorod: %s: out of memory\n", path);
                return EX_CONFIG;
        }
        fc_config_errors_free(errors);
        errors = fc_config_errors_new();
        fc_plugin_options_t options = {
                .host = fc_host(), .check_permissions = check_permissions, .owner_uid = geteuid()};
        r = fc_plugin_set_load(*config, &options, plugins, errors);
        if (r < 0) {
                if (fc_config_errors_count(errors))
                        fc_config_errors_print(errors, stderr);
                else
                        fprintf(stderr, "flowcorod: %s: cannot load plugins: out of memory\n", path);
                fc_config_free(*config);
                *config = NULL;
                return EX_CONFIG;
        }
        return 0;
}

static void usage(FILE *out) {
        fprintf(out,
                "Usage: flowcorod [OPTION]...\n"
                "Run the FlowCoro job-processing daemon in the foreground.\n"
                "\n"
                "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ")\n"
                "      --check-config  check the configuration and its plugins, then exit:\n"
                "                      0 when valid, 78 with the errors when not\n"
                "      --insecure-plugins  load plugin files even when group/other-writable or\n"
                "                      owned by another user (development only)\n"
                "  -h, --help          show this help and exit\n"
                "  -V, --version       show the version and exit\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, 'C'},
                {"insecure-plugins", no_argument, NULL, 'I'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        const char *config_path = DEFAULT_CONFIG;
        bool check_only = false, check_permissions = true;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:hV", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'C':
                        check_only = true;
                        break;
                case 'I':
                        check_permissions = false;
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

        fc_config_t *config = NULL;
        fc_plugin_set_t *plugins = NULL;
        int r = load_everything(config_path, check_permissions, &config, &plugins);
        if (r != 0)
                return r;
        if (check_only)
                printf("%s: configuration OK (%zu plugins, %zu job classes)\n", config_path,
                       fc_plugin_set_plugins(plugins), fc_plugin_set_handlers(plugins));
        else
                fprintf(stderr, "flowcorod: the job engine is not built yet; only --check-config, --help and "
                                "--version work\n");
        fc_plugin_set_unref(plugins);
        fc_config_free(config);
        return check_only ? EXIT_SUCCESS : EX_UNAVAILABLE;
}
