/* worker: one worker thread of the pool: its libuv loop, taking batches of jobs from its inbox,
 * running each job in a coroutine of its own scheduler, waking and resuming coroutines, acting on
 * cancellations, and delivering results in batches. Creating the pool, submitting, the inboxes
 * and the id table are pool.c's; moving work between workers is the supervisor's
 * (supervisor.c).
 *
 * - A worker takes up to DF_POOL_BATCH jobs per loop turn under one lock and runs each at once in
 *   a coroutine, which stays on that worker for good; while its inbox still holds jobs, a
 *   uv_idle_t brings it back after the loop has run its timers and I/O. A batch whose jobs take
 *   long (DF_POOL_SLICE_MS) gives the jobs it has not started back to the inbox, where the
 *   supervisor can move them, and the worker takes one job per turn until jobs are quick again.
 * - The epoch (odd while inside a coroutine), the time spent in long coroutine runs and the
 *   running job's id are published for the supervisor's stuck detection.
 * - Results are collected per worker and delivered in batches: one lock to retire a batch, the
 *   done callbacks (none once df_pool_destroy began discarding), one lock to count them. */
#include "pool_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../clock.h"
#include "fault.h"

/* Jobs a worker takes from its inbox per loop turn, and results it delivers per batch. */
#define DF_POOL_BATCH 64
/* A worker starting a batch of jobs gives the ones not started yet back to its inbox (where the
 * supervisor can move them) after this long: CPU-bound jobs are not held behind each other. */
#define DF_POOL_SLICE_MS 2
/* Period of the worker's stack trimming (see df_coro_sched_trim). */
#define DF_POOL_TRIM_MS 1000

static void on_async(uv_async_t *a);
static void on_idle(uv_idle_t *h);
static void on_yield(uv_idle_t *h);
static void on_trim(uv_timer_t *t);
static void *worker_main(void *arg);

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
    uv_idle_init(&w->loop, &w->yield);
    uv_timer_init(&w->loop, &w->trim);
    uv_timer_start(&w->trim, on_trim, DF_POOL_TRIM_MS, DF_POOL_TRIM_MS);
    w->async.data = w->idle.data = w->yield.data = w->trim.data = w;
    w->async_alive = 1;
    w->last_busy_ms = df_mono_ms();
    atomic_init(&w->epoch, 0);
    atomic_init(&w->long_ns, 0);
    atomic_init(&w->tid, 0);
    w->sup_stat_fd = -1;
    df_coro_sched_init(&w->sched, p->cfg.stack_size, SIZE_MAX);
    w->pull_n = DF_POOL_BATCH;
    rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc) {
        snprintf(err, errlen, "pool: cannot start worker thread: %s", strerror(rc));
        uv_close((uv_handle_t *)&w->async, NULL);
        uv_close((uv_handle_t *)&w->idle, NULL);
        uv_close((uv_handle_t *)&w->yield, NULL);
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
        df_pool_table_remove_locked(p, pj);
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
        df_pool_free_job(pj->job);
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

/* Fails an attempt whose result is over the pool's max_result_bytes (SPEC §12), on the worker's
 * own stack (jansson's dump recurses), before the result travels to the engine. */
static void cap_result(df_worker *w, df_task_ctx *ctx)
{
    size_t cap = w->pool->cfg.max_result_bytes;
    if (!ctx->result || cap == 0)
        return;
    size_t n = json_dumpb(ctx->result, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n <= cap)
        return;
    json_decref(ctx->result);
    ctx->result = NULL;
    free(ctx->error);
    ctx->error = NULL;
    if (asprintf(&ctx->error,
                 "task \"%s\": its result is %zu bytes of JSON, over the cap of %zu bytes "
                 "(--max-result-bytes)",
                 ctx->pj->job->task_id ? ctx->pj->job->task_id : "?", n, cap) < 0)
        ctx->error = NULL;
    ctx->status = DF_TASK_FAILED_PERMANENT;
}

static void complete_running(df_worker *w, df_task_ctx *ctx)
{
    df_pool_job *pj = ctx->pj;
    df_coro_release(&w->sched, ctx->co);
    ctx->co = NULL;
    active_remove(w, pj);
    cap_result(w, ctx);
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
    r->started_mono_us = ctx->started_us;
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
    ctx->started_us = df_mono_us();
    ctx->started_ms = ctx->started_us / 1000;
    json_t *result = NULL;
    int st;
    if (!job->unit || !job->unit->execute) {
        st = DF_TASK_FAILED_PERMANENT;
        df_task_set_error(ctx, "plugin \"%s\" has no execute function",
                          job->unit && job->unit->name ? job->unit->name : "?");
    } else {
        st = job->unit->execute(ctx, job->params, &result);
        /* DF_TASK_SKIPPED exists from ABI 3 on (SPEC §10): from an earlier plugin it is an
         * unknown status like any other. */
        bool skipped_ok = st == DF_TASK_SKIPPED && job->unit->abi >= 3;
        if (st != DF_TASK_OK && st != DF_TASK_FAILED && st != DF_TASK_FAILED_PERMANENT &&
            !skipped_ok) {
            df_task_set_error(ctx, "plugin \"%s\" returned an invalid status %d from execute%s",
                              job->unit->name ? job->unit->name : "?", st,
                              st == DF_TASK_SKIPPED ? " (DF_TASK_SKIPPED needs ABI 3)" : "");
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

/* See pool_internal.h. An idle handle, not a 0 ms timer: libuv before 1.47 runs a 0 ms timer
 * restarted from its own callback again in the same pass over the timers (libuv issue #4245),
 * so a plugin yielding that way would keep the loop from ever polling for I/O or new jobs. */
void df_worker_yield_later(df_task_ctx *ctx)
{
    df_worker *w = ctx->w;
    ctx->yield_next = NULL;
    if (w->yield_tail)
        w->yield_tail->yield_next = ctx;
    else
        w->yield_head = ctx;
    w->yield_tail = ctx;
    if (!w->closing)
        uv_idle_start(&w->yield, on_yield);
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
        uv_close((uv_handle_t *)&w->yield, NULL);
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
                df_pool_inbox_unlink_locked(w, pj);
                pj->next = *dead;
                *dead = pj;
                taken++;
            }
        }
    }
    size_t n = 0;
    while (n < w->pull_n && w->inbox_head) {
        df_pool_job *pj = w->inbox_head;
        df_pool_inbox_unlink_locked(w, pj);
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

/* Resumes the coroutines that yielded before this turn of the loop; those that yield again
 * while they run wait for the next turn. */
static void on_yield(uv_idle_t *h)
{
    df_worker *w = h->data;
    df_task_ctx *list = w->yield_head;
    w->yield_head = w->yield_tail = NULL;
    uv_idle_stop(&w->yield);
    while (list) {
        df_task_ctx *ctx = list;
        list = ctx->yield_next;
        ctx->yield_next = NULL;
        if (ctx->wait == DF_WAIT_YIELD) {
            ctx->wait = DF_WAIT_NONE;
            df_worker_wake(ctx);
        }
    }
    df_worker_run_ready(w);
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
    if (w->sup_stat_fd >= 0)
        close(w->sup_stat_fd);
    df_coro_sched_fini(&w->sched);
    free(w);
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
    atomic_store(&w->tid, (int)gettid()); /* for the supervisor (its state in /proc) */
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
        df_pool_table_remove_locked(p, pj);
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
        df_pool_free_job(pj->job);
        df_job_result_free(pj->res);
        free(pj);
    }
    if (abandoned) {
        df_pool_free_worker(w);
        if (last)
            df_pool_free(p);
    }
    df_fault_thread_fini(&altstack);
    return NULL;
}
