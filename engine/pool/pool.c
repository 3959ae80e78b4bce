/* pool: the coroutine pool's workers, submission queue, cancellation, creation and shutdown.
 * The supervisor (moving work away from stuck workers, growth, replacement, shrinking) lives in
 * supervisor.c; the df_task_* helpers that run inside the coroutines in task_ctx.c; stacks and
 * context switches in coro.c.
 *
 * Shape:
 * - Each worker is an OS thread running its own uv loop. Jobs reach it through its inbox (under
 *   the pool mutex) and a uv_async_t, sent only when the inbox was empty (uv_async_send
 *   coalesces anyway). The worker takes up to DF_POOL_BATCH jobs per loop turn under one lock
 *   and runs each at once in a coroutine, which stays on that worker for good; while its inbox
 *   still holds jobs, a uv_idle_t brings it back after the loop has run its timers and I/O. Jobs
 *   left in an inbox are still movable to another worker (by the supervisor).
 * - df_pool_submit puts a job in the inbox of the least-loaded worker (running + queued jobs),
 *   preferring workers that are not stuck, and starts a worker when none is live.
 * - Results are collected per worker and delivered in batches: one lock to retire a batch, the
 *   done callbacks, one lock to count them.
 * - Growth happens only under the pool mutex (df_pool_start_worker_locked), against
 *   n_threads - n_lost (every worker thread not yet exited, live, retiring or replaced, but the
 *   lost ones), so concurrent submitters can never start more than workers_max of them (the race
 *   of ants #374).
 * - After df_pool_destroy has started discarding (destroyed), no callback starts, and destroy
 *   waits for the ones running. */
#include "pool_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../clock.h"
#include "fault.h"

/* Default coroutine stack size; a -D override exists only for measuring (see the report of
 * the pool's defaults in df_pool_config_default). */
#ifndef DF_POOL_DEFAULT_STACK_SIZE
#define DF_POOL_DEFAULT_STACK_SIZE (256 * 1024)
#endif
/* Jobs a worker takes from its inbox per loop turn, and results it delivers per batch. */
#define DF_POOL_BATCH 64
/* A worker starting a batch of jobs gives the ones not started yet back to its inbox (where the
 * supervisor can move them) after this long: CPU-bound jobs are not held behind each other. */
#define DF_POOL_SLICE_MS 2
/* Period of the worker's stack trimming (see df_coro_sched_trim). */
#define DF_POOL_TRIM_MS 1000

static void on_async(uv_async_t *a);
static void on_idle(uv_idle_t *h);
static void on_trim(uv_timer_t *t);
static void *worker_main(void *arg);

/* ---- small helpers ---- */

static void free_job(df_job *j)
{
    if (!j)
        return;
    json_decref(j->params);
    free(j->task_id);
    free(j->workdir);
    free(j);
}

/* Frees a result and its owned members (see pool.h). NULL is fine. */
void df_job_result_free(df_job_result *r)
{
    if (!r)
        return;
    json_decref(r->result);
    free(r->error);
    free(r->log);
    free(r);
}

/* Defaults, from measurements on a 2-core machine (tests/bench/bench_pool):
 * - workers_min = online CPUs (at least 2): computing jobs use every core from the start (2,000
 *   jobs of 1 ms CPU: 2.1 s on 1 worker, 1.6 s on 2); for jobs that yield, 1, 2 or 4 workers make
 *   no difference (10,000 sleeps of 1 s: 1.07-1.09 s each); a second worker keeps work moving
 *   while the supervisor notices a plugin that blocks.
 * - workers_max = 2 x online CPUs (at least workers_min): room to grow past plugins that block
 *   without yielding (a worker stuck in a cancelled job is replaced outside this count).
 * - queue_capacity = 65536 jobs waiting to start.
 * - stack_size = 256 KiB: every built-in plugin passes its end-to-end tests with 16 KiB stacks,
 *   even under AddressSanitizer; stacks are mapped with MAP_NORESERVE and cost only the pages
 *   touched (10,000 sleeping tasks: 87.5 MB peak RSS with 16 KiB, 64 KiB, 256 KiB or 1 MiB
 *   stacks), so 16 times that much headroom costs only address space, for plugins that keep big
 *   buffers on the stack. */
void df_pool_config_default(df_pool_config *cfg)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    cfg->workers_min = n < 2 ? 2 : (unsigned)n;
    cfg->workers_max = (unsigned)(2 * n);
    if (cfg->workers_max < cfg->workers_min)
        cfg->workers_max = cfg->workers_min;
    cfg->queue_capacity = 65536;
    cfg->stack_size = DF_POOL_DEFAULT_STACK_SIZE;
}

/* See pool_internal.h. */
void df_pool_deadline_in(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* See pool_internal.h. */
void df_pool_wake_worker_locked(df_worker *w)
{
    if (w->async_alive)
        uv_async_send(&w->async);
}

/* See pool_internal.h. */
df_worker *df_pool_pick_worker_locked(df_pool *p, int only_free, int *all_stuck)
{
    df_worker *best = NULL, *best_stuck = NULL;
    size_t best_load = SIZE_MAX, best_stuck_load = SIZE_MAX;
    for (unsigned i = 0; i < p->n_slots; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state != DF_W_LIVE)
            continue;
        size_t load = w->active_n + w->inbox_n;
        if (w->stuck) {
            if (load < best_stuck_load) {
                best_stuck = w;
                best_stuck_load = load;
            }
        } else if (load < best_load) {
            best = w;
            best_load = load;
        }
    }
    if (all_stuck)
        *all_stuck = best == NULL;
    return best || only_free ? best : best_stuck;
}

static void inbox_push_locked(df_worker *w, df_pool_job *pj, uint64_t now)
{
    pj->owner = w;
    pj->queued_ms = now;
    pj->next = NULL;
    pj->prev = w->inbox_tail;
    if (w->inbox_tail)
        w->inbox_tail->next = pj;
    else
        w->inbox_head = pj;
    w->inbox_tail = pj;
    w->inbox_n++;
}

static void inbox_unlink_locked(df_worker *w, df_pool_job *pj)
{
    if (pj->prev)
        pj->prev->next = pj->next;
    else
        w->inbox_head = pj->next;
    if (pj->next)
        pj->next->prev = pj->prev;
    else
        w->inbox_tail = pj->prev;
    pj->next = pj->prev = NULL;
    w->inbox_n--;
}

/* See pool_internal.h. */
void df_pool_inbox_move_locked(df_worker *from, df_worker *to, size_t n)
{
    if (!n || from == to)
        return;
    df_pool_job *pj = from->inbox_tail;
    for (size_t i = 1; i < n && pj->prev; i++)
        pj = pj->prev;
    while (pj) {
        df_pool_job *next = pj->next;
        inbox_unlink_locked(from, pj);
        inbox_push_locked(to, pj, pj->queued_ms); /* their wait goes on */
        pj = next;
    }
    df_pool_wake_worker_locked(to);
}

/* See pool_internal.h. */
df_worker *df_pool_start_worker_locked(df_pool *p, char *err, size_t errlen)
{
    if (p->n_threads - p->n_lost >= p->cfg.workers_max) {
        snprintf(err, errlen, "pool: already %u worker threads (workers_max)", p->cfg.workers_max);
        return NULL;
    }
    unsigned slot = p->n_slots;
    for (unsigned i = 0; i < p->n_slots; i++)
        if (!p->slots[i]) {
            slot = i;
            break;
        }
    if (slot == p->n_slots) {
        /* Every slot holds a thread not yet reaped: threads lost in cancelled jobs do not count
         * against workers_max, so there can be more of them than the first table holds. */
        df_worker **grown = realloc(p->slots, 2 * p->n_slots * sizeof *grown);
        if (!grown) {
            snprintf(err, errlen, "pool: cannot start worker: out of memory");
            return NULL;
        }
        memset(grown + p->n_slots, 0, p->n_slots * sizeof *grown);
        p->slots = grown;
        p->n_slots *= 2;
    }
    df_worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "pool: cannot start worker: out of memory");
        return NULL;
    }
    w->pool = p;
    w->slot = slot;
    int rc = uv_loop_init(&w->loop);
    if (rc) {
        snprintf(err, errlen, "pool: cannot start worker loop: %s", uv_strerror(rc));
        free(w);
        return NULL;
    }
    rc = uv_async_init(&w->loop, &w->async, on_async);
    if (rc) {
        snprintf(err, errlen, "pool: cannot start worker: %s", uv_strerror(rc));
        uv_loop_close(&w->loop);
        free(w);
        return NULL;
    }
    uv_idle_init(&w->loop, &w->idle);
    uv_timer_init(&w->loop, &w->trim);
    uv_timer_start(&w->trim, on_trim, DF_POOL_TRIM_MS, DF_POOL_TRIM_MS);
    w->async.data = w->idle.data = w->trim.data = w;
    w->async_alive = 1;
    w->last_busy_ms = df_mono_ms();
    atomic_init(&w->epoch, 0);
    atomic_init(&w->long_ns, 0);
    df_coro_sched_init(&w->sched, p->cfg.stack_size, SIZE_MAX);
    w->pull_n = DF_POOL_BATCH;
    rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc) {
        snprintf(err, errlen, "pool: cannot start worker thread: %s", strerror(rc));
        uv_close((uv_handle_t *)&w->async, NULL);
        uv_close((uv_handle_t *)&w->idle, NULL);
        uv_close((uv_handle_t *)&w->trim, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        free(w);
        return NULL;
    }
    p->slots[slot] = w;
    p->n_live++;
    p->n_threads++;
    p->stats.workers_started++;
    if (p->n_threads > p->stats.workers_peak)
        p->stats.workers_peak = p->n_threads;
    return w;
}

/* ---- the id table (under mu) ---- */

static void table_insert_locked(df_pool *p, df_pool_job *pj)
{
    if (p->table_n >= 2 * p->table_size) { /* grow; on failure, chains just get longer */
        size_t nsize = p->table_size * 4;
        df_pool_job **nt = calloc(nsize, sizeof *nt);
        if (nt) {
            for (size_t i = 0; i < p->table_size; i++)
                while (p->table[i]) {
                    df_pool_job *e = p->table[i];
                    p->table[i] = e->hnext;
                    e->hnext = nt[e->id & (nsize - 1)];
                    nt[e->id & (nsize - 1)] = e;
                }
            free(p->table);
            p->table = nt;
            p->table_size = nsize;
        }
    }
    df_pool_job **b = &p->table[pj->id & (p->table_size - 1)];
    pj->hnext = *b;
    *b = pj;
    p->table_n++;
}

/* See pool_internal.h. */
df_pool_job *df_pool_table_find_locked(df_pool *p, uint64_t id)
{
    for (df_pool_job *e = p->table[id & (p->table_size - 1)]; e; e = e->hnext)
        if (e->id == id)
            return e;
    return NULL;
}

static void table_remove_locked(df_pool *p, df_pool_job *pj)
{
    for (df_pool_job **b = &p->table[pj->id & (p->table_size - 1)]; *b; b = &(*b)->hnext)
        if (*b == pj) {
            *b = pj->hnext;
            pj->hnext = NULL;
            p->table_n--;
            return;
        }
}

/* ---- job completion (worker thread) ---- */

/* Folds the scheduler's stack counters into the pool's stats. Under mu. */
static void fold_stack_stats_locked(df_worker *w)
{
    w->pool->stats.stacks_created += w->sched.created - w->stacks_created_seen;
    w->pool->stats.stacks_reused += w->sched.reused - w->stacks_reused_seen;
    w->pool->stats.stacks_freed += w->sched.unmapped - w->stacks_freed_seen;
    w->stacks_created_seen = w->sched.created;
    w->stacks_reused_seen = w->sched.reused;
    w->stacks_freed_seen = w->sched.unmapped;
}

/* Delivers the worker's completed jobs: one lock to retire them, the done callbacks (none once
 * destroy began discarding), one lock to count them. */
static void flush_done(df_worker *w)
{
    df_pool_job *list = w->done_head;
    size_t n = w->done_n;
    if (!list)
        return;
    w->done_head = w->done_tail = NULL;
    w->done_n = 0;
    df_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    for (df_pool_job *pj = list; pj; pj = pj->dnext) {
        pj->state = DF_J_DONE;
        table_remove_locked(p, pj);
    }
    w->active_n -= n;
    if (w->active_n == 0 && w->inbox_n == 0)
        w->last_busy_ms = df_mono_ms();
    fold_stack_stats_locked(w);
    int discard = p->destroyed;
    if (!discard)
        p->callbacks_running++;
    pthread_mutex_unlock(&p->mu);

    for (df_pool_job *pj = list; pj; pj = pj->dnext) {
        free_job(pj->job);
        pj->job = NULL;
        if (discard)
            df_job_result_free(pj->res);
        else
            p->done(pj->res, p->ud);
        pj->res = NULL;
    }

    pthread_mutex_lock(&p->mu);
    if (!discard)
        p->callbacks_running--;
    p->in_flight -= n;
    p->stats.jobs_completed += n;
    if (p->destroy_waiting)
        pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    while (list) {
        df_pool_job *next = list->dnext;
        free(list);
        list = next;
    }
}

/* Queues a completed job (its result in pj->res) for delivery. */
static void push_done(df_worker *w, df_pool_job *pj)
{
    pj->dnext = NULL;
    if (w->done_tail)
        w->done_tail->dnext = pj;
    else
        w->done_head = pj;
    w->done_tail = pj;
    if (++w->done_n >= DF_POOL_BATCH)
        flush_done(w);
}

/* A job that will never start (cancelled while queued, or no coroutine could be had). Its
 * result was allocated at submission; without memory for the message, the receiver gets none. */
static void complete_unstarted(df_worker *w, df_pool_job *pj, int status, const char *error)
{
    df_job_result *r = pj->res;
    r->status = status;
    r->cancelled = df_pool_job_is_cancelled(pj);
    r->error = error ? strdup(error) : NULL;
    r->started_mono_ms = r->ended_mono_ms = df_mono_ms();
    push_done(w, pj);
}

static void active_remove(df_worker *w, df_pool_job *pj)
{
    if (pj->aprev)
        pj->aprev->anext = pj->anext;
    else
        w->active_head = pj->anext;
    if (pj->anext)
        pj->anext->aprev = pj->aprev;
    pj->anext = pj->aprev = NULL;
}

static void complete_running(df_worker *w, df_task_ctx *ctx)
{
    df_pool_job *pj = ctx->pj;
    df_coro_release(&w->sched, ctx->co);
    ctx->co = NULL;
    active_remove(w, pj);
    df_job_result *r = pj->res; /* allocated at submission */
    r->status = ctx->status;
    r->cancelled = df_pool_job_is_cancelled(pj);
    r->result = ctx->result;
    r->error = ctx->error;
    df_task_ctx_log_finish(ctx);
    if (ctx->log && ctx->log_len) {
        /* lines are stored each with a '\n'; the result joins them without a final one */
        ctx->log[ctx->log_len - 1] = '\0';
        r->log = ctx->log;
        ctx->log = NULL;
    }
    r->started_mono_ms = ctx->started_ms;
    r->ended_mono_ms = ctx->ended_ms;
    ctx->result = NULL;
    ctx->error = NULL;
    pj->ctx = NULL;
    df_task_ctx_dispose(ctx);
    push_done(w, pj);
}

/* The body of every coroutine. */
static void coro_main(df_coro *co, void *arg)
{
    (void)co;
    df_task_ctx *ctx = arg;
    df_job *job = ctx->pj->job;
    ctx->started_ms = df_mono_ms();
    json_t *result = NULL;
    int st;
    if (!job->unit || !job->unit->execute) {
        st = DF_TASK_FAILED_PERMANENT;
        df_task_set_error(ctx, "plugin \"%s\" has no execute function",
                          job->unit && job->unit->name ? job->unit->name : "?");
    } else {
        st = job->unit->execute(ctx, job->params, &result);
        if (st != DF_TASK_OK && st != DF_TASK_FAILED && st != DF_TASK_FAILED_PERMANENT) {
            df_task_set_error(ctx, "plugin \"%s\" returned an invalid status %d from execute",
                              job->unit->name ? job->unit->name : "?", st);
            json_decref(result);
            result = NULL;
            st = DF_TASK_FAILED_PERMANENT;
        }
    }
    ctx->status = st;
    ctx->result = result;
    ctx->ended_ms = df_mono_ms();
}

/* Resumes one coroutine; the epoch is odd while it runs (the supervisor's stuck detection). */
static void run_ctx(df_worker *w, df_task_ctx *ctx)
{
    atomic_store_explicit(&w->epoch, ++w->epoch_local, memory_order_relaxed);
    uint64_t t0 = uv_hrtime();
    df_fault_enter(ctx->pj->job, ctx->co);
    atomic_store_explicit(&w->running_since_ms, t0 / 1000000u, memory_order_relaxed);
    atomic_store_explicit(&w->running_id, ctx->pj->id, memory_order_relaxed);
    int finished = df_coro_resume(&w->sched, ctx->co);
    atomic_store_explicit(&w->running_id, 0, memory_order_relaxed);
    df_fault_leave();
    uint64_t d = uv_hrtime() - t0;
    atomic_store_explicit(&w->epoch, ++w->epoch_local, memory_order_relaxed);
    if (d >= DF_POOL_LONG_RUN_MS * 1000000ull) {
        w->long_ns_local += d;
        atomic_store_explicit(&w->long_ns, w->long_ns_local, memory_order_relaxed);
    }
    if (finished)
        complete_running(w, ctx);
}

static df_task_ctx *ctx_get(df_worker *w)
{
    df_task_ctx *ctx = w->ctx_free;
    if (ctx) {
        w->ctx_free = ctx->free_next;
        w->ctx_free_n--;
        ctx->free_next = NULL;
        return ctx;
    }
    return calloc(1, sizeof *ctx);
}

/* Creates the job's coroutine and runs it until it first yields or finishes. */
static void start_job(df_worker *w, df_pool_job *pj)
{
    df_task_ctx *ctx = ctx_get(w);
    char err[256];
    if (!ctx) {
        complete_unstarted(w, pj, DF_TASK_FAILED, "pool: cannot start task: out of memory");
        return;
    }
    ctx->w = w;
    ctx->pj = pj;
    ctx->co = df_coro_create(&w->sched, coro_main, ctx, err, sizeof err);
    if (!ctx->co) {
        df_task_ctx_dispose(ctx);
        char msg[320];
        snprintf(msg, sizeof msg, "pool: cannot start task: %s", err);
        complete_unstarted(w, pj, DF_TASK_FAILED, msg);
        return;
    }
    pj->ctx = ctx;
    pj->aprev = NULL;
    pj->anext = w->active_head;
    if (w->active_head)
        w->active_head->aprev = pj;
    w->active_head = pj;
    run_ctx(w, ctx);
}

/* ---- the worker's scheduler (worker thread) ---- */

/* See pool_internal.h. */
void df_worker_wake(df_task_ctx *ctx)
{
    df_worker *w = ctx->w;
    if (ctx->in_ready)
        return;
    ctx->in_ready = 1;
    ctx->ready_next = NULL;
    if (w->ready_tail)
        w->ready_tail->ready_next = ctx;
    else
        w->ready_head = ctx;
    w->ready_tail = ctx;
}

/* Closes the worker's handles once it was asked to stop and has nothing left to do; its loop
 * then runs out of handles and worker_main finishes. */
static void maybe_stop(df_worker *w)
{
    if (w->closing)
        return;
    df_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    int go = w->stop && w->active_n == 0 && w->inbox_n == 0 && !w->active_head;
    if (go)
        w->async_alive = 0;
    pthread_mutex_unlock(&p->mu);
    if (go) {
        w->closing = 1;
        uv_close((uv_handle_t *)&w->async, NULL);
        uv_close((uv_handle_t *)&w->idle, NULL);
        uv_close((uv_handle_t *)&w->trim, NULL);
        df_task_ctx_free_all(w);
    }
}

/* See pool_internal.h. */
void df_worker_run_ready(df_worker *w)
{
    while (w->ready_head) {
        df_task_ctx *ctx = w->ready_head;
        w->ready_head = ctx->ready_next;
        if (!w->ready_head)
            w->ready_tail = NULL;
        ctx->in_ready = 0;
        ctx->ready_next = NULL;
        run_ctx(w, ctx);
    }
    flush_done(w);
    /* stop is only ever set under mu and never cleared; a stale 0 is caught by the async that
     * follows every setting of it */
    if (__atomic_load_n(&w->stop, __ATOMIC_RELAXED))
        maybe_stop(w);
}

/* See pool_internal.h. They go to the head: they were queued before anything still in the
 * inbox. */
void df_pool_requeue_taken_locked(df_worker *w, df_pool_job *list)
{
    size_t n = 0;
    df_pool_job *prev = NULL, *tail = NULL;
    for (df_pool_job *pj = list; pj; pj = pj->next) {
        pj->state = DF_J_QUEUED; /* queued_ms kept: their wait goes on */
        pj->prev = prev;
        prev = tail = pj;
        n++;
    }
    if (!tail)
        return;
    tail->next = w->inbox_head;
    if (w->inbox_head)
        w->inbox_head->prev = tail;
    else
        w->inbox_tail = tail;
    w->inbox_head = list;
    w->inbox_n += n;
    w->active_n -= n;
    w->pool->waiting += n;
}

/* Puts jobs taken by worker_pull but not started back at the head of the inbox, in order. */
static void unpull(df_worker *w, df_pool_job *list)
{
    df_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    df_pool_requeue_taken_locked(w, list);
    pthread_mutex_unlock(&p->mu);
    if (!w->closing)
        uv_idle_start(&w->idle, on_idle);
}

/* Takes from w's inbox, under mu: the cancelled jobs anywhere in it when a cancellation asked
 * for a look (*dead, to complete unstarted), then up to pull_n jobs in order (*take, marked
 * RUNNING; cancelled ones among them go to *dead too). Every job taken counts in active_n until
 * flush_done retires it. Returns whether jobs are left in the inbox. */
static int take_jobs_locked(df_worker *w, df_pool_job **take, df_pool_job **dead)
{
    df_pool *p = w->pool;
    df_pool_job *take_tail = NULL;
    size_t taken = 0;
    if (w->cancel_queued || atomic_load(&p->cancel_all)) {
        w->cancel_queued = 0;
        for (df_pool_job *pj = w->inbox_head, *next; pj; pj = next) {
            next = pj->next;
            if (df_pool_job_is_cancelled(pj)) {
                inbox_unlink_locked(w, pj);
                pj->next = *dead;
                *dead = pj;
                taken++;
            }
        }
    }
    size_t n = 0;
    while (n < w->pull_n && w->inbox_head) {
        df_pool_job *pj = w->inbox_head;
        inbox_unlink_locked(w, pj);
        taken++;
        if (df_pool_job_is_cancelled(pj)) {
            pj->next = *dead;
            *dead = pj;
            continue;
        }
        pj->state = DF_J_RUNNING;
        if (take_tail)
            take_tail->next = pj;
        else
            *take = pj;
        take_tail = pj;
        n++;
    }
    p->waiting -= taken;
    w->active_n += taken; /* every taken job is retired by flush_done */
    if (taken)
        w->last_busy_ms = df_mono_ms();
    return w->inbox_n > 0;
}

/* Starts the jobs of take (linked by next) one after the other. The batch waits in w->pulled,
 * where the supervisor can take it back should one of its jobs keep this worker (a plugin that
 * blocks or computes without yielding). After DF_POOL_SLICE_MS the rest goes back to the inbox
 * and the worker takes one job per turn until a batch is quick again. */
static void start_batch(df_worker *w, df_pool_job *take)
{
    uint64_t t0 = df_mono_ms();
    int slow = 0;
    atomic_store_explicit(&w->pulled, take, memory_order_release);
    for (;;) {
        df_pool_job *pj = atomic_exchange_explicit(&w->pulled, NULL, memory_order_acq_rel);
        if (!pj)
            break;
        atomic_store_explicit(&w->pulled, pj->next, memory_order_release);
        pj->next = NULL;
        start_job(w, pj);
        if (df_mono_ms() - t0 >= DF_POOL_SLICE_MS) {
            /* Jobs that compute or block: take one at a time for now, and give the rest back,
             * where they stay visible to the supervisor and movable. */
            slow = 1;
            w->pull_n = 1;
            df_pool_job *rest = atomic_exchange_explicit(&w->pulled, NULL, memory_order_acq_rel);
            if (rest)
                unpull(w, rest);
            break;
        }
    }
    if (!slow && df_mono_ms() - t0 < DF_POOL_SLICE_MS && w->pull_n < DF_POOL_BATCH)
        w->pull_n *= 2; /* quick jobs again: back to batches */
}

/* Takes up to pull_n jobs from the inbox (DF_POOL_BATCH, or fewer after jobs that took long)
 * and starts them; completes queued jobs that were cancelled; acts on cancellations of running
 * ones. */
static void worker_pull(df_worker *w)
{
    df_pool *p = w->pool;
    df_pool_job *take = NULL, *dead = NULL;
    pthread_mutex_lock(&p->mu);
    int more = take_jobs_locked(w, &take, &dead);
    int scan = w->cancel_scan;
    w->cancel_scan = 0;
    pthread_mutex_unlock(&p->mu);

    if (!w->closing) {
        if (more)
            uv_idle_start(&w->idle, on_idle);
        else
            uv_idle_stop(&w->idle);
    }
    while (dead) {
        df_pool_job *pj = dead;
        dead = pj->next;
        pj->next = NULL;
        complete_unstarted(w, pj, DF_TASK_FAILED, "cancelled before it started");
    }
    start_batch(w, take);
    if (scan)
        for (df_pool_job *pj = w->active_head; pj; pj = pj->anext)
            if (pj->ctx && df_pool_job_is_cancelled(pj))
                df_task_ctx_on_cancel(pj->ctx);
    df_worker_run_ready(w);
}

static void on_async(uv_async_t *a)
{
    df_worker *w = a->data;
    worker_pull(w);
    if (!w->closing && __atomic_load_n(&w->stop, __ATOMIC_RELAXED))
        maybe_stop(w);
}

static void on_idle(uv_idle_t *h)
{
    worker_pull(h->data);
}

static void on_trim(uv_timer_t *t)
{
    df_worker *w = t->data;
    df_coro_sched_trim(&w->sched);
    pthread_mutex_lock(&w->pool->mu);
    fold_stack_stats_locked(w);
    pthread_mutex_unlock(&w->pool->mu);
}

/* See pool_internal.h. */
void df_pool_free_worker(df_worker *w)
{
    df_coro_sched_fini(&w->sched);
    free(w);
}

static void pool_free(df_pool *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    pthread_cond_destroy(&p->sup_cond);
    free(p->slots);
    free(p->table);
    free(p);
}

static void close_stray_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void *worker_main(void *arg)
{
    df_worker *w = arg;
    df_pool *p = w->pool;
    pthread_setname_np(pthread_self(), "df-worker");
    df_fault_altstack altstack;
    df_fault_thread_init(&altstack);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Every handle is closed: the worker's own by maybe_stop, timers and children by their
     * owners. Should one have been left open (a bug), close it rather than leak the loop. */
    if (uv_loop_close(&w->loop) == UV_EBUSY) {
        uv_walk(&w->loop, close_stray_handle, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
    }
    pthread_mutex_lock(&p->mu);
    fold_stack_stats_locked(w);
    /* Jobs that reached the inbox of an abandoned worker are dropped with it. */
    df_pool_job *list = w->inbox_head;
    for (df_pool_job *pj = list; pj; pj = pj->next)
        table_remove_locked(p, pj);
    w->inbox_head = w->inbox_tail = NULL;
    w->inbox_n = 0;
    w->state = DF_W_EXITED;
    p->n_threads--;
    if (w->lost)
        p->n_lost--;
    p->stats.workers_stopped++;
    int abandoned = w->abandoned;
    int last = 0;
    if (abandoned)
        last = --p->refs == 0;
    pthread_cond_broadcast(&p->sup_cond);
    pthread_mutex_unlock(&p->mu);
    while (list) {
        df_pool_job *pj = list;
        list = pj->next;
        free_job(pj->job);
        df_job_result_free(pj->res);
        free(pj);
    }
    if (abandoned) {
        df_pool_free_worker(w);
        if (last)
            pool_free(p);
    }
    df_fault_thread_fini(&altstack);
    return NULL;
}

/* ---- public API ---- */

/* Starts workers_min workers and the supervisor (see pool.h). Zero fields of cfg take the
 * defaults; cfg may be NULL. On failure nothing is left running. */
int df_pool_create(const df_pool_config *cfg, df_pool_done_fn done, void *ud, df_pool **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (!done) {
        snprintf(err, errlen, "pool: no done callback");
        return -EINVAL;
    }
    df_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "pool: out of memory");
        return -ENOMEM;
    }
    df_pool_config_default(&p->cfg);
    if (cfg) {
        if (cfg->workers_min)
            p->cfg.workers_min = cfg->workers_min;
        if (cfg->workers_max)
            p->cfg.workers_max = cfg->workers_max;
        if (cfg->queue_capacity)
            p->cfg.queue_capacity = cfg->queue_capacity;
        if (cfg->stack_size)
            p->cfg.stack_size = cfg->stack_size;
    }
    if (p->cfg.workers_max < p->cfg.workers_min)
        p->cfg.workers_max = p->cfg.workers_min;
    p->done = done;
    p->ud = ud;
    p->refs = 1;
    atomic_init(&p->cancel_all, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_cond_init(&p->sup_cond, &ca);
    pthread_condattr_destroy(&ca);
    p->n_slots = 2 * p->cfg.workers_max;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    p->n_cpus = ncpu > 0 ? (unsigned)ncpu : 1;
    p->slots = calloc(p->n_slots, sizeof *p->slots);
    p->idle_expiry_ms = DF_POOL_IDLE_EXPIRY_MS;
    p->table_size = 1024;
    p->table = calloc(p->table_size, sizeof *p->table);
    p->next_id = 1;
    if (!p->slots || !p->table) {
        snprintf(err, errlen, "pool: out of memory");
        pool_free(p);
        return -ENOMEM;
    }
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->cfg.workers_min && rc == 0; i++)
        if (!df_pool_start_worker_locked(p, err, errlen))
            rc = -EAGAIN;
    pthread_mutex_unlock(&p->mu);
    if (rc == 0)
        rc = df_pool_supervisor_start(p, err, errlen);
    if (rc) {
        df_pool_destroy(p, 0);
        return rc;
    }
    *out = p;
    return 0;
}

/* Queues a job on the least-loaded worker (see pool.h); *handle receives the job id. Takes the
 * pool mutex briefly; never waits for a worker. */
int df_pool_submit(df_pool *p, df_job *job, df_pool_job **handle)
{
    if (handle)
        *handle = NULL;
    if (!p || !job)
        return -EINVAL;
    /* The result is allocated now, while the caller can still be told: a job that completes
     * (even cancelled, or without a coroutine) always has one to deliver. */
    df_pool_job *pj = calloc(1, sizeof *pj);
    df_job_result *res = pj ? calloc(1, sizeof *res) : NULL;
    if (!res) {
        free(pj);
        return -ENOMEM;
    }
    res->user = job->user;
    pj->res = res;
    pj->job = job;
    pj->pool = p;
    atomic_init(&pj->cancelled, 0);
    uint64_t now = df_mono_ms();
    pthread_mutex_lock(&p->mu);
    if (p->shutting_down) {
        pthread_mutex_unlock(&p->mu);
        free(pj->res);
        free(pj);
        return DF_POOL_ESHUTDOWN;
    }
    if (p->waiting >= p->cfg.queue_capacity) {
        pthread_mutex_unlock(&p->mu);
        free(pj->res);
        free(pj);
        return DF_POOL_EFULL;
    }
    int all_stuck = 0;
    df_worker *w = df_pool_pick_worker_locked(p, 0, &all_stuck);
    if (!w) {
        char err[128];
        w = df_pool_start_worker_locked(p, err, sizeof err);
    }
    if (!w) { /* no worker can take it now: the caller may retry later */
        pthread_mutex_unlock(&p->mu);
        free(pj->res);
        free(pj);
        return DF_POOL_EFULL;
    }
    pj->state = DF_J_QUEUED;
    pj->id = p->next_id++;
    table_insert_locked(p, pj);
    int was_empty = w->inbox_n == 0;
    inbox_push_locked(w, pj, now);
    p->waiting++;
    p->in_flight++;
    if (p->waiting > p->stats.queue_high_water)
        p->stats.queue_high_water = p->waiting;
    if (p->in_flight > p->stats.in_flight_peak)
        p->stats.in_flight_peak = p->in_flight;
    /* A non-empty inbox already has a wake-up coming: the async that was sent when it became
     * non-empty, or the idle handle of a worker that left jobs in it. */
    if (was_empty)
        df_pool_wake_worker_locked(w);
    if (all_stuck || p->in_flight == 1)
        pthread_cond_signal(&p->sup_cond);
    uint64_t id = pj->id;
    pthread_mutex_unlock(&p->mu);
    if (handle) /* the id, not the address: see df_pool_cancel */
        *handle = (df_pool_job *)(uintptr_t)id;
    return 0;
}

/* See pool_internal.h. */
int df_pool_job_is_cancelled(const df_pool_job *pj)
{
    return atomic_load_explicit(&pj->cancelled, memory_order_relaxed) ||
           atomic_load_explicit(&pj->pool->cancel_all, memory_order_relaxed);
}

/* Handles are job ids looked up in the table, so cancelling a job that already completed (even
 * one whose result the caller has not processed yet) is a harmless no-op: stricter than pool.h's
 * "valid until the done callback has returned". */
void df_pool_cancel(df_pool *p, df_pool_job *handle)
{
    if (!p || !handle)
        return;
    pthread_mutex_lock(&p->mu);
    df_pool_job *h = df_pool_table_find_locked(p, (uint64_t)(uintptr_t)handle);
    if (h && h->state != DF_J_DONE) {
        atomic_store(&h->cancelled, 1);
        df_worker *w = h->owner;
        if (h->state == DF_J_RUNNING)
            w->cancel_scan = 1;
        else
            w->cancel_queued = 1;
        df_pool_wake_worker_locked(w);
        /* a job queued behind a stuck worker is moved by the supervisor */
        if (h->state == DF_J_QUEUED)
            pthread_cond_signal(&p->sup_cond);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Jobs submitted whose callback has not returned yet (see pool.h). Thread-safe. */
size_t df_pool_in_flight(df_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->in_flight;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Snapshot of the metrics (see pool.h); workers counts the live ones. Thread-safe. */
void df_pool_get_stats(df_pool *p, df_pool_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    out->workers = p->n_live;
    pthread_mutex_unlock(&p->mu);
}

/* The first step of df_pool_destroy: refuses submissions, cancels every job and waits up to
 * grace_ms (milliseconds) for the callbacks of the jobs in flight. Not under mu. */
static void cancel_and_wait(df_pool *p, uint64_t grace_ms)
{
    pthread_mutex_lock(&p->mu);
    p->shutting_down = 1;
    p->destroy_waiting = 1;
    atomic_store(&p->cancel_all, 1);
    for (unsigned i = 0; i < p->n_slots; i++) {
        df_worker *w = p->slots[i];
        if (!w)
            continue;
        w->cancel_scan = 1;
        w->cancel_queued = 1;
        df_pool_wake_worker_locked(w);
    }
    pthread_cond_signal(&p->sup_cond);
    struct timespec deadline;
    df_pool_deadline_in(&deadline, grace_ms);
    while (p->in_flight > 0) {
        if (pthread_cond_timedwait(&p->cond, &p->mu, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&p->mu);
}

/* Tells a worker taken out of the slot table to stop, under mu once destroyed is set. A worker
 * still inside a job is detached and abandoned (counted in *left): it frees itself, and the pool
 * if last, when its jobs return. The others go into join (n_join of them so far) to be joined;
 * when there was no memory for that list, one that exited is joined at once, and one still
 * running is detached rather than hang or leak a join. */
static void release_worker_locked(df_pool *p, df_worker *w, df_worker **join, unsigned *n_join,
                                  unsigned *left)
{
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
    df_pool_wake_worker_locked(w);
    if (w->state != DF_W_EXITED && w->active_n > 0) {
        /* Its coroutine ignores cancellation: leave the thread to finish on its own. It
         * frees itself (and the pool, if last) when its jobs return. */
        w->abandoned = 1;
        p->refs++;
        (*left)++;
        pthread_detach(w->thread);
    } else if (join) {
        join[(*n_join)++] = w;
    } else { /* no memory for the list: detach rather than hang or leak a join */
        w->abandoned = 1;
        p->refs++;
        if (w->state == DF_W_EXITED) {
            p->refs--;
            pthread_join(w->thread, NULL); /* already finished: returns at once */
            df_pool_free_worker(w);
        } else {
            pthread_detach(w->thread);
        }
    }
}

/* Shuts the pool down (see pool.h): refuse submissions, cancel everything, wait up to grace_ms
 * (milliseconds) for callbacks, then stop workers; a worker still inside a job that ignores
 * cancellation is detached and frees itself (and the pool memory, if last) when that job
 * returns. No callback starts after this returns. */
unsigned df_pool_destroy(df_pool *p, uint64_t grace_ms)
{
    if (!p)
        return 0;
    unsigned left = 0;
    cancel_and_wait(p, grace_ms);
    df_pool_supervisor_stop(p);

    pthread_mutex_lock(&p->mu);
    p->destroyed = 1; /* from now on results are discarded */
    while (p->callbacks_running > 0)
        pthread_cond_wait(&p->cond, &p->mu);
    unsigned n = p->n_slots;
    df_worker **join = calloc(n, sizeof *join);
    unsigned n_join = 0;
    for (unsigned i = 0; i < n; i++) {
        df_worker *w = p->slots[i];
        if (!w)
            continue;
        p->slots[i] = NULL;
        release_worker_locked(p, w, join, &n_join, &left);
    }
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < n_join; i++) {
        pthread_join(join[i]->thread, NULL);
        df_pool_free_worker(join[i]);
    }
    free(join);
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (last)
        pool_free(p);
    return left;
}
