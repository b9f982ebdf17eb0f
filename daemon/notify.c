/* sd_notify for flowcorod (see notify.h). */
#include "notify.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static bool enabled;
static pthread_once_t enabled_once = PTHREAD_ONCE_INIT;

static void look_up(void) {
        const char *socket = getenv("NOTIFY_SOCKET");
        enabled = socket && *socket;
}

bool fc_notify_enabled(void) {
        pthread_once(&enabled_once, look_up);
        return enabled;
}

/* sd_notify's result is ignored on purpose: a service manager that went
 * away can't be told, and the daemon's work does not depend on it. */
static void send_state(const char *state) {
        (void)sd_notify(0, state);
}

void fc_notify_ready(void) {
        if (fc_notify_enabled())
                send_state("READY=1");
}

void fc_notify_status(const char *text) {
        if (!fc_notify_enabled())
                return;
        char state[512];
        snprintf(state, sizeof(state), "STATUS=%s", text);
        send_state(state);
}

void fc_notify_reloading(void) {
        if (!fc_notify_enabled())
                return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char state[96];
        snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
                 (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
        send_state(state);
}

void fc_notify_stopping(uint64_t extend_usec) {
        if (!fc_notify_enabled())
                return;
        char state[96];
        snprintf(state, sizeof(state), "STOPPING=1\nEXTEND_TIMEOUT_USEC=%" PRIu64, extend_usec);
        send_state(state);
}

void fc_notify_watchdog(void) {
        if (fc_notify_enabled())
                send_state("WATCHDOG=1");
}

uint64_t fc_notify_watchdog_usec(void) {
        uint64_t usec = 0;
        if (!fc_notify_enabled() || sd_watchdog_enabled(0, &usec) <= 0)
                return 0;
        return usec;
}
