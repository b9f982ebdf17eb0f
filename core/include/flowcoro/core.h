/* FlowCoro core: stackful coroutines on a pool of scheduler threads.
 *
 * A pool (fc_sched_t) runs N scheduler threads. Each coroutine runs on one of
 * them from its first instruction to its last: a coroutine that has started
 * never changes thread (so thread-locals and errno stay put), but one that has
 * not started yet may be stolen by an idle scheduler. Coroutines suspend only
 * at the calls below (yield, sleep, fd waits, channel operations, joins,
 * offload); they are never preempted. Handlers must not block a scheduler
 * thread: blocking system calls and long computations go through
 * fc_offload().
 *
 * Errors are negative errno values. The waits share these results:
 *   -ETIMEDOUT   the wait's own timeout passed
 *   -ECANCELED   the coroutine was cancelled (fc_cancel) or its deadline
 *                passed (fc_set_deadline); fc_cancelled() tells which. Once
 *                cancelled, every later cancellable wait fails the same way at
 *                once, so cancellation can't be missed.
 * Timeouts are in milliseconds: 0 means "don't wait", FC_FOREVER (-1) means
 * no timeout.
 *
 * Unless a contract says otherwise, a function whose name says it waits may be
 * called from a coroutine (it suspends only that coroutine) or from a plain
 * thread that is not a scheduler thread (it blocks that thread). Calling a
 * waiting function from a scheduler thread outside any coroutine is a bug. */
#ifndef FLOWCORO_CORE_H
#define FLOWCORO_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FC_FOREVER ((int64_t)-1)

typedef struct fc_sched fc_sched_t;
typedef struct fc_coro fc_coro_t;
typedef struct fc_chan fc_chan_t;
typedef struct fc_wg fc_wg_t;

typedef void (*fc_fn_t)(void *arg);

/* ---- the pool -------------------------------------------------------- */

typedef struct fc_sched_options {
        unsigned threads;          /* scheduler threads; 0 = online CPUs */
        size_t stack_size;         /* usable bytes per coroutine stack, rounded up to
                                      pages; 0 = 64 KiB. A guard page comes on top. */
        unsigned blocking_threads; /* most threads fc_offload() may use; 0 = 64 */
} fc_sched_options_t;

/* Starts a pool. opts may be NULL for the defaults.
 * Returns 0 and sets *out, or -EINVAL (bad option), -ENOMEM, or the errno of
 * a failed epoll/eventfd/pthread call. On failure nothing is left running. */
int fc_sched_create(const fc_sched_options_t *opts, fc_sched_t **out);

/* Stops the pool: cancels every coroutine (their waits return -ECANCELED and
 * spawns inside the pool keep working but start cancelled), waits until all
 * have returned, joins the threads and frees everything. Handles still held
 * (fc_coro_t from a joinable spawn) stay valid for fc_join/fc_detach.
 * Must be called from a thread outside the pool, once. A coroutine that never
 * returns (ignores -ECANCELED in a loop) makes this wait forever. */
void fc_sched_destroy(fc_sched_t *s);

/* Number of scheduler threads. Can't fail. */
unsigned fc_sched_threads(const fc_sched_t *s);

/* Index (0 to fc_sched_threads() - 1) of the scheduler thread running the
 * caller, or -1 outside every scheduler's threads: per-thread counters. */
int fc_self_worker(void);

/* How many coroutines are ready to run on scheduler thread i, waiting for
 * their turn: a snapshot, for metrics. Any thread. */
size_t fc_sched_ready(const fc_sched_t *s, unsigned i);

/* Finds a scheduler thread that has run one coroutine for more than ms
 * without coming back to its loop (an idle thread waiting for work is not
 * stalled). Returns its index, storing that coroutine in *coro and how long
 * it has held the thread in *held_ms; -1 when no thread is stalled. The
 * coroutine may end at any moment: use *coro only as a key to look it up
 * elsewhere, never dereference it. "How long" is measured from the first
 * call that saw the thread in that run, so call it regularly (at least
 * every ms / 2): a thread is reported once held for between ms and
 * ms + the calling interval. Any thread, one caller at a time: the
 * service watchdog. */
int fc_sched_stalled(fc_sched_t *s, int64_t ms, const fc_coro_t **coro, int64_t *held_ms);

/* ---- coroutines ------------------------------------------------------ */

/* Starts fn(arg) as a new coroutine on the pool. Any thread may call this.
 * From a coroutine the new one is queued on the caller's scheduler, where
 * idle schedulers can steal it; from another thread it goes through the
 * pool's injection queue.
 * handle: NULL for a detached coroutine; otherwise *handle receives a handle
 * that the caller must give back with fc_join() or fc_detach().
 * Returns 0, -ESHUTDOWN once fc_sched_destroy has begun (from outside the
 * pool), or -ENOMEM / -EAGAIN when no stack could be mapped; fc_last_error()
 * then says which limit was hit and how to raise it. Threads outside the
 * pool may call this while fc_sched_destroy runs, but not after it returned:
 * stop them first (they can stop at the first -ESHUTDOWN). */
int fc_spawn(fc_sched_t *s, fc_fn_t fn, void *arg, fc_coro_t **handle);

/* Like fc_spawn, but runs the new coroutine on the caller's own scheduler
 * and never lets another steal it. Only from a coroutine (-EPERM otherwise). */
int fc_spawn_here(fc_fn_t fn, void *arg, fc_coro_t **handle);

/* Waits until co has returned, then releases the handle. Returns 0, or
 * -ECANCELED when the caller was cancelled first (the handle then stays
 * valid). */
int fc_join(fc_coro_t *co);

/* Waits until one of cos[0..n) has returned and gives its index, without
 * releasing any handle. This is when_any over waits: run each wait in a
 * child coroutine, take the first to finish, then fc_cancel and fc_join the
 * others. Returns the index, -ETIMEDOUT, -ECANCELED, -EINVAL
 * for n == 0, or -ENOMEM (more than 8 handles need an allocation). */
int fc_join_any(fc_coro_t *const *cos, size_t n, int64_t timeout_ms);

/* Gives a handle back without waiting; the coroutine runs on. */
void fc_detach(fc_coro_t *co);

/* Asks co to stop: its current wait (if cancellable) and every later one
 * return -ECANCELED. It is never stopped mid-instruction: the coroutine
 * returns when it chooses. Any thread, while the caller holds the handle. */
void fc_cancel(fc_coro_t *co);

/* The running coroutine, or NULL when called outside any coroutine. */
fc_coro_t *fc_self(void);

/* A small number naming the running coroutine in messages (0 outside). */
uint64_t fc_self_id(void);

/* Lets other ready coroutines on this scheduler run first. Returns 0 or
 * -ECANCELED (the coroutine is still rescheduled either way). */
int fc_yield(void);

/* Suspends the coroutine for at least ms milliseconds (timers are per
 * scheduler, millisecond resolution). Returns 0, or -ECANCELED. */
int fc_sleep(int64_t ms);

/* Waits until fd is ready for events (EPOLLIN, EPOLLOUT, ...). Only from a
 * coroutine (-EPERM otherwise). fd must not be waited on by another
 * coroutine of the same scheduler at the same time (-EEXIST). Don't close
 * fd while a coroutine waits on it: that wait then ends only by its
 * timeout or cancellation. timeout_ms 0 looks once without suspending.
 * Returns the ready events (> 0; EPOLLERR/EPOLLHUP may be among them),
 * -ETIMEDOUT, -ECANCELED, -ENOMEM, or the errno of epoll_ctl (-EBADF,
 * -EPERM for a regular file). */
int fc_wait_fd(int fd, uint32_t events, int64_t timeout_ms);

/* Sets the running coroutine's deadline ms milliseconds from now (replacing
 * any earlier one; FC_FOREVER clears it). When it passes, the coroutine is
 * cancelled as by fc_cancel, with fc_cancelled() == FC_CANCEL_DEADLINE.
 * Returns 0, -EPERM outside a coroutine, or -ENOMEM (the deadline is then
 * unchanged). */
int fc_set_deadline(int64_t ms);

/* Milliseconds left before the deadline (0 if passed), or FC_FOREVER when
 * there is none or outside a coroutine. */
int64_t fc_deadline_left(void);

typedef enum fc_cancel_reason {
        FC_CANCEL_NONE = 0,
        FC_CANCEL_REQUESTED = 1, /* fc_cancel or pool shutdown */
        FC_CANCEL_DEADLINE = 2,  /* the deadline passed */
} fc_cancel_reason_t;

/* Whether (and why) the running coroutine has been cancelled. */
fc_cancel_reason_t fc_cancelled(void);

/* Runs fn(arg) on the pool's blocking-thread pool and suspends the calling
 * coroutine until it returns; the scheduler thread runs other coroutines
 * meanwhile. This wait can't be cancelled (fn owns its arguments until it
 * returns); a cancellation that arrives meanwhile shows at the next wait.
 * Outside a coroutine, runs fn(arg) directly. Returns 0, or -ENOMEM / -EAGAIN
 * when no blocking thread exists and none could be started. */
int fc_offload(fc_fn_t fn, void *arg);

/* Monotonic clock in milliseconds. */
int64_t fc_now_ms(void);

/* vm.max_map_count, the memory map entries a process may have (each
 * coroutine stack takes 2: the stack and its guard page), or -1 when it
 * can't be read. fc_map_count(): the entries this process has now, or -1.
 * Both read /proc: for start-up checks and error messages, not hot paths. */
long fc_max_map_count(void);
long fc_map_count(void);

/* The message behind the last error a core function returned on this thread
 * (for stack allocation failures: which limit and how to raise it), or "" if
 * there is none. Valid until the next core call on this thread. */
const char *fc_last_error(void);

/* ---- channels -------------------------------------------------------- */

/* Creates a channel holding at most capacity (>= 1) pointers, usable by
 * coroutines on any scheduler and by plain threads.
 * Returns 0 and sets *out, -EINVAL, or -ENOMEM. */
int fc_chan_create(size_t capacity, fc_chan_t **out);

/* Frees the channel. Nobody may be using it or waiting on it. */
void fc_chan_destroy(fc_chan_t *ch);

/* Sends value, waiting while the channel is full. Returns 0, -EPIPE when the
 * channel is (or becomes) closed, -ETIMEDOUT, or -ECANCELED. Values are
 * delivered in order, each to exactly one receiver. */
int fc_chan_send(fc_chan_t *ch, void *value, int64_t timeout_ms);

/* Receives a value into *value, waiting while the channel is empty. Returns
 * 0, -EPIPE when the channel is closed and empty, -ETIMEDOUT, or -ECANCELED.
 * Values sent before close are still received after it. */
int fc_chan_recv(fc_chan_t *ch, void **value, int64_t timeout_ms);

/* Closes the channel: waiting senders get -EPIPE, waiting receivers drain
 * what is buffered and then get -EPIPE. Closing twice is harmless. */
void fc_chan_close(fc_chan_t *ch);

/* ---- wait groups (the seed's when_all) -------------------------------- */

/* Returns a new wait group with count 0, or NULL when out of memory. */
fc_wg_t *fc_wg_create(void);

/* Frees wg. Nobody may be waiting on it. */
void fc_wg_destroy(fc_wg_t *wg);

/* Adds n (may be negative) to the count; when it reaches 0 every waiter
 * wakes. The count going below 0 is a bug (asserts). Any thread. */
void fc_wg_add(fc_wg_t *wg, int n);

/* fc_wg_add(wg, -1). */
void fc_wg_done(fc_wg_t *wg);

/* Waits until the count is 0. Returns 0, -ETIMEDOUT or -ECANCELED. */
int fc_wg_wait(fc_wg_t *wg, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
