/* pool_internal: the structures and functions shared by pool.c (creation, submission, inboxes,
 * id table, cancellation, shutdown), worker.c (the worker threads), supervisor.c (the supervisor
 * thread) and task_ctx.c (the df_task_* helpers that run inside a worker's coroutines). Not part of
 * any interface outside engine/pool/ (the pool's unit tests include it for
 * df_pool_set_idle_expiry).
 *
 * Locking: one mutex per pool (df_pool.mu) guards the inboxes, job states, counters and worker
 * states; fields marked "worker thread" are touched only by the thread that owns the worker, and
 * fields marked "supervisor" only by the supervisor thread (under mu). */
#ifndef DF_POOL_INTERNAL_H
#define DF_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "../proc.h"
#include "coro.h"
#include "pool.h"

/* A coroutine running this long without yielding counts as CPU-bound work (measured by the
 * worker, judged by the supervisor). */
#define DF_POOL_LONG_RUN_MS 1
/* A worker above workers_min idle for this long stops (df_pool_set_idle_expiry changes it). */
#define DF_POOL_IDLE_EXPIRY_MS 10000

/* A worker in the pool's slot table. LIVE workers take new jobs and count against workers_max;
 * RETIRING ones finish the coroutines they hold and stop (idle expiry, or replaced because they
 * stayed stuck in one coroutine); EXITED ones wait for the supervisor to join them. */
enum { DF_W_LIVE = 0, DF_W_RETIRING, DF_W_EXITED };

/* A job's life, as seen under the pool mutex. */
enum { DF_J_QUEUED = 0, DF_J_RUNNING, DF_J_DONE };

/* What a coroutine is waiting in (worker thread). */
enum { DF_WAIT_NONE = 0, DF_WAIT_SLEEP, DF_WAIT_SPAWN, DF_WAIT_BLOCKING, DF_WAIT_YIELD };

typedef struct df_worker df_worker;

/* The pool's record of a submitted job. Callers never see its address: the df_pool_job handle
 * they get is the job's id (1, 2, ...), looked up under mu, so a stale handle is harmless. */
struct df_pool_job {
    uint64_t id;
    df_pool_job *hnext; /* under mu: chain in the pool's id table */
    df_job *job;        /* owned until the job completes */
    df_pool *pool;
    df_worker *owner;           /* under mu: the worker whose inbox or coroutine holds it */
    df_pool_job *next, *prev;   /* under mu: inbox links while QUEUED */
    uint64_t queued_ms;         /* mono ms when it entered its current inbox */
    int state;                  /* under mu: DF_J_* */
    atomic_int cancelled;       /* set by df_pool_cancel, read anywhere */
    df_task_ctx *ctx;           /* worker thread: set once RUNNING */
    df_pool_job *anext, *aprev; /* worker thread: the worker's running list */
    df_job_result *res;         /* worker thread: the result, between completion and delivery */
    df_pool_job *dnext;         /* worker thread: the worker's list of results to deliver */
};

struct df_task_ctx {
    df_worker *w;
    df_pool_job *pj;
    df_coro *co;
    int wait;     /* DF_WAIT_* */
    int in_ready; /* queued in w->ready */
    df_task_ctx *ready_next;
    df_task_ctx *yield_next; /* in w->yield_head's list (DF_WAIT_YIELD) */
    df_task_ctx *free_next;  /* in w->ctx_free */
    uv_timer_t timer;        /* df_task_sleep's timer, initialised on first use, kept on reuse */
    int timer_inited;
    df_proc *proc; /* the child df_task_spawn waits for */
    df_spawn_result spawn_res;
    /* outcome */
    int status;
    json_t *result;
    char *error;
    char *log;
    size_t log_len, log_cap;
    bool log_cut; /* older lines were dropped to keep the log under the pool's max_log_bytes */
    uint64_t started_ms, ended_ms;
    uint64_t started_us; /* df_mono_us at the start of execute */
};

struct df_worker {
    df_pool *pool;
    unsigned slot;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t async;    /* wakes the worker: new jobs, cancellations, stop */
    uv_idle_t idle;      /* active while its inbox still holds jobs after a batch */
    uv_idle_t yield;     /* active while coroutines wait in df_task_sleep(ctx, 0) */
    uv_timer_t trim;     /* gives unused stacks back, every DF_POOL_TRIM_MS */
    df_coro_sched sched; /* worker thread */
    /* under mu */
    df_pool_job *inbox_head, *inbox_tail;
    size_t inbox_n;
    size_t active_n; /* jobs taken from the inbox whose result is not delivered yet */
    int async_alive;
    int stop;
    int cancel_scan;   /* a running job was cancelled: look at the running list */
    int cancel_queued; /* a queued job was cancelled: look through the inbox */
    int state;         /* DF_W_* */
    int abandoned;
    uint64_t last_busy_ms;
    /* supervisor (under mu): stuck detection from the epoch */
    uint64_t sup_epoch, sup_epoch_since_ms;
    int stuck;
    uint64_t sup_long_ns;      /* long_ns at the previous tick */
    int cpu_bound;             /* spent half of the last tick in long coroutine runs */
    uint64_t sup_cpu_ns;       /* the thread's CPU time at the previous tick */
    uint64_t sup_blocked_ms;   /* when it was last seen blocking inside a coroutine; 0: never */
    unsigned sup_blocked_seen; /* consecutive readings that saw it blocked inside a coroutine */
    int sup_stat_fd;           /* /proc/self/task/TID/stat, -1 until opened */
    int computing;             /* not seen blocked inside a coroutine lately (see supervisor.c) */
    /* any thread: the worker thread's kernel id (0 until it runs), for its state in /proc */
    atomic_int tid;
    /* any thread: odd while inside a coroutine; changes on every resume and return */
    atomic_uint_fast64_t epoch;
    /* any thread: total ns of coroutine runs of DF_POOL_LONG_RUN_MS or more */
    atomic_uint_fast64_t long_ns;
    /* any thread: id of the job whose coroutine runs now (0 between coroutines); the
     * supervisor looks it up in the id table, under mu, to see whether it was cancelled */
    atomic_uint_fast64_t running_id;
    /* any thread: mono ms at which the current run of that coroutine began */
    atomic_uint_fast64_t running_since_ms;
    int lost; /* under mu: counted in n_lost */
    /* jobs worker_pull took but has not started yet (linked by next, counted in active_n): the
     * worker takes them one at a time, and the supervisor takes the whole list (under mu) from a
     * worker stuck in the job before them, so that they start elsewhere */
    _Atomic(df_pool_job *) pulled;
    /* worker thread */
    uint64_t epoch_local, long_ns_local;
    size_t pull_n; /* jobs taken from the inbox per loop turn */
    df_pool_job *active_head;
    df_task_ctx *ready_head, *ready_tail;
    df_task_ctx *yield_head, *yield_tail; /* df_task_sleep(ctx, 0): resumed next loop turn */
    df_pool_job *done_head, *done_tail;   /* completed jobs whose results wait for delivery */
    size_t done_n;
    df_task_ctx *ctx_free; /* finished contexts kept for reuse (their timers stay open) */
    size_t ctx_free_n;
    int closing;
    size_t stacks_created_seen, stacks_reused_seen, stacks_freed_seen;
};

struct df_pool {
    pthread_mutex_t mu;
    pthread_cond_t cond;     /* in_flight / callbacks_running changed (CLOCK_MONOTONIC) */
    pthread_cond_t sup_cond; /* wakes the supervisor (CLOCK_MONOTONIC) */
    df_pool_config cfg;
    df_pool_done_fn done;
    void *ud;
    df_worker **slots; /* n_slots entries (2 * cfg.workers_max at first; doubled when threads
                        * lost in cancelled jobs fill it) */
    unsigned n_slots;
    unsigned n_live;    /* LIVE workers */
    unsigned n_threads; /* worker threads not yet exited, whatever their state */
    unsigned n_lost;    /* of those, workers stuck in a cancelled job (a plugin ignoring its
                         * cancellation): n_threads - n_lost never exceeds cfg.workers_max */
    unsigned n_cpus;    /* online CPUs when the pool was created */
    size_t waiting;     /* jobs in inboxes */
    size_t in_flight;   /* submitted, callback not yet returned */
    int shutting_down;
    int destroyed;
    int destroy_waiting; /* destroy waits on cond */
    int callbacks_running;
    unsigned refs; /* the owner + each abandoned worker still running */
    atomic_int cancel_all;
    atomic_bool hold_growth; /* df_pool_hold_growth: no worker added for a backlog */
    uint64_t idle_expiry_ms; /* under mu: idle time after which a worker above the minimum stops */
    uint64_t next_id;        /* under mu: the id of the next job */
    df_pool_job **table;     /* under mu: jobs not yet completed, by id (chained) */
    size_t table_size, table_n;
    pthread_t supervisor;
    int sup_started;
    int sup_stop;
    uint64_t sup_last_ms; /* supervisor: time of the previous tick */
    df_pool_stats stats;  /* under mu (stacks_* folded in by workers) */
};

/* ---- pool.c: jobs, inboxes and the id table ---- */

/* Sets *ts to ms milliseconds from now on CLOCK_MONOTONIC (the clock of the pool's condition
 * variables). */
void df_pool_deadline_in(struct timespec *ts, uint64_t ms);

/* Frees a job and what it owns (see df_job in pool.h). NULL is fine. */
void df_pool_free_job(df_job *j);

/* Frees the pool's memory, once no thread uses it any more (the last of df_pool_destroy and the
 * abandoned workers). */
void df_pool_free(df_pool *p);

/* Wakes the worker's loop (its async), unless its handles are closing. Under mu. */
void df_pool_wake_worker_locked(df_worker *w);

/* The least-loaded LIVE worker (running + queued jobs), preferring ones not stuck (or only
 * those, with only_free); NULL when there is none. *all_stuck (may be NULL) says whether only
 * stuck workers were left. Under mu. */
df_worker *df_pool_pick_worker_locked(df_pool *p, int only_free, int *all_stuck);

/* Takes a job out of w's inbox (inbox_n counts it no more; p->waiting is the caller's). Under
 * mu. */
void df_pool_inbox_unlink_locked(df_worker *w, df_pool_job *pj);

/* Moves the last n jobs of from's inbox to the end of to's inbox (order and waiting time kept),
 * and wakes to. Under mu. */
void df_pool_inbox_move_locked(df_worker *from, df_worker *to, size_t n);

/* Puts jobs a worker took from its inbox but did not start (a list linked by next) back at the
 * head of that inbox, in order, QUEUED again. Under mu. */
void df_pool_requeue_taken_locked(df_worker *w, df_pool_job *list);

/* The job with this id among those not yet completed, or NULL. Under mu. */
df_pool_job *df_pool_table_find_locked(df_pool *p, uint64_t id);

/* Takes a job out of the id table (when it completes, or is dropped). Under mu. */
void df_pool_table_remove_locked(df_pool *p, df_pool_job *pj);

/* ---- worker.c ---- */

/* Starts a new worker in a free slot (growing the slot table when needed), if fewer than
 * workers_max threads count (n_threads - n_lost). Under mu. Returns the worker, or NULL with a
 * message in err (errlen bytes). */
df_worker *df_pool_start_worker_locked(df_pool *p, char *err, size_t errlen);

/* Frees a worker whose thread has been joined (or is finishing, abandoned). */
void df_pool_free_worker(df_worker *w);

/* ---- supervisor.c ---- */

/* Starts the supervisor thread (after the first workers). Returns 0, or a negative errno with a
 * message in err. Not under mu. */
int df_pool_supervisor_start(df_pool *p, char *err, size_t errlen);

/* Tells the supervisor to stop and joins it (a no-op join when it never started). Not under mu;
 * from df_pool_destroy only. */
void df_pool_supervisor_stop(df_pool *p);

/* Sets how long a worker above workers_min may stay idle before it stops (default
 * DF_POOL_IDLE_EXPIRY_MS, 10 s). For tests and tuning; thread-safe. */
void df_pool_set_idle_expiry(df_pool *p, uint64_t ms);

/* Queues a waiting coroutine to be resumed by its worker's scheduler (worker thread). */
void df_worker_wake(df_task_ctx *ctx);

/* Puts the calling coroutine (about to wait in DF_WAIT_YIELD) in the worker's list of those
 * resumed on the loop's next turn, by its yield idle handle, after timers and I/O had theirs
 * (worker thread). */
void df_worker_yield_later(df_task_ctx *ctx);

/* Resumes every queued coroutine until none is ready, completing those that finish, and
 * delivers their results. Called at the end of every libuv callback of the worker that may have
 * woken a coroutine (worker thread). */
void df_worker_run_ready(df_worker *w);

/* Yields the calling coroutine until something wakes it and its wait is over: loops while
 * ctx->wait != DF_WAIT_NONE (worker thread, inside the coroutine). */
void df_task_ctx_wait(df_task_ctx *ctx);

/* Non-zero when the job was cancelled (itself or the whole pool). Any thread. */
int df_pool_job_is_cancelled(const df_pool_job *pj);

/* Acts on a cancellation of a running job: wakes a sleeping coroutine, kills a child (worker
 * thread). */
void df_task_ctx_on_cancel(df_task_ctx *ctx);

/* Trims the log to what the result keeps (worker thread, when the job ends). */
void df_task_ctx_log_finish(df_task_ctx *ctx);

/* Frees what the context still owns and keeps it (with its timer) in the worker's list for
 * reuse, or closes and frees it when that list is full. Worker thread. */
void df_task_ctx_dispose(df_task_ctx *ctx);

/* Closes and frees every context kept for reuse (worker thread, when the worker stops; the
 * frees happen in the close callbacks, on the next loop turn). */
void df_task_ctx_free_all(df_worker *w);

/* Tests only (tests/unit/test_pool_elastic.c): when set, the supervisor takes a worker thread's
 * scheduler state ('R', 'S', 'D', ...; 0: unknown) from it instead of from /proc, given the
 * worker (its tid and epoch may be read) and the state /proc gave (0 when it could not be
 * read). Called by the supervisor under mu. NULL in the product. Set it only while no pool
 * exists. */
extern char (*df_pool_thread_state_hook)(const df_worker *w, char proc_state);

#endif
