/* Telling systemd how flowcorod is doing (sd_notify(3), Type=notify).
 *
 * Under systemd (NOTIFY_SOCKET set) each call sends one datagram; elsewhere
 * each returns at once without formatting anything. systemd 252 knows
 * every message sent here but MONOTONIC_USEC (253+ uses it for
 * notify-reload; 252 ignores it). Any thread; never blocks for long (a
 * datagram to a local socket). */
#ifndef FC_DAEMON_NOTIFY_H
#define FC_DAEMON_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Whether flowcorod runs under a service manager that wants notifications
 * (NOTIFY_SOCKET is set). Looked up once. */
bool fc_notify_enabled(void);

/* READY=1: configuration and plugins are loaded and jobs can run (Redis may
 * still be connecting; STATUS= says so). Also ends a reload. */
void fc_notify_ready(void);

/* STATUS=text: one line shown by systemctl status. */
void fc_notify_status(const char *text);

/* RELOADING=1 with MONOTONIC_USEC=now: a reload has begun; end it with
 * fc_notify_ready(). */
void fc_notify_reloading(void);

/* STOPPING=1 with EXTEND_TIMEOUT_USEC=extend_usec: draining has begun and
 * may take that long. */
void fc_notify_stopping(uint64_t extend_usec);

/* WATCHDOG=1: the service is alive. */
void fc_notify_watchdog(void);

/* The watchdog interval systemd asks for (WatchdogSec=, in microseconds),
 * or 0 when there is none. */
uint64_t fc_notify_watchdog_usec(void);

#endif
