/* flowcorod --dev: a private redis-server for trying FlowCoro out, on a unix
 * socket in a fresh temporary directory, with no persistence. It dies with
 * the daemon (PR_SET_PDEATHSIG) even when the daemon is killed. */
#ifndef FC_DAEMON_DEVREDIS_H
#define FC_DAEMON_DEVREDIS_H

#include <sys/types.h>

typedef struct fc_devredis {
        pid_t pid;
        char dir[256];
        char socket_path[300];
} fc_devredis_t;

/* Starts redis-server and waits up to 10 s for its socket to accept
 * connections. Returns 0, or a negative errno with a message on stderr. */
int fc_devredis_start(fc_devredis_t *d);

/* Stops it (SIGTERM, then SIGKILL after 5 s) and removes its directory.
 * Safe on one that failed to start. */
void fc_devredis_stop(fc_devredis_t *d);

#endif
