/* Naming the job that crashed the daemon.
 *
 * When a handler brings the whole process down with a fatal signal (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGABRT), the signal handler finds the job that was
 * running on the crashing thread and writes one raw command on a Redis
 * connection kept for this alone: RPUSH flowcoro:crashes:<identity> "<id>
 * <signal>". Then the signal takes its default course (core dump, exit
 * status). Orphan recovery reads that list: only the named job counts the
 * crash towards its poison limit, and its batch-mates go back to their
 * queues unmarked. After a SIGKILL (OOM killer, kill -9) nothing is written
 * and every job in flight counts it (recovery.c).
 *
 * Best effort by design: a crash that leaves no stack to run the handler on
 * (a coroutine's stack overflow) or happens while Redis is away writes
 * nothing, and recovery falls back to counting every job in flight. */
#ifndef FC_DAEMON_CRASH_H
#define FC_DAEMON_CRASH_H

#include "running.h"

/* Installs the handlers. running is the list to look the crashing job up
 * in; key is the crashes list's name (copied). Returns 0 or -ENAMETOOLONG. */
int fc_crash_setup(fc_running_t *running, const char *key);

/* The socket to write on (a connected fd of a Redis connection nothing else
 * reads or writes), or -1 for none. Any thread. */
void fc_crash_set_fd(int fd);

/* Names coro (NULL: nobody) as the culprit of a crash that happens on a
 * thread running no job: the watchdog does, when a job holds its scheduler
 * thread, since systemd then kills the daemon with SIGABRT, which any
 * thread may take. coro is only compared, never dereferenced. Any thread. */
void fc_crash_blame(const fc_coro_t *coro);

/* Removes the handlers. */
void fc_crash_teardown(void);

#endif
