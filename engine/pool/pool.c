/* pool: the coroutine pool's workers, submission queue, cancellation, supervisor (stealing from
 * stuck workers, growth, shrinking) and shutdown. The df_task_* helpers that run inside the
 * coroutines live in task_ctx.c; stacks and context switches in coro.c.
 *
 * Shape:
 * - Each worker is an OS thread running its own uv loop. Jobs reach it through its inbox (under
 *   the pool mutex) and a uv_async_t; the async callback drains the whole inbox, because
 *   uv_async_send coalesces. Each job runs in its own coroutine on that worker, for good.
 * - df_pool_submit puts a job in the inbox of the least-loaded worker (running + queued jobs),
 *   preferring workers that are not stuck. A worker is "stuck" when it has been inside one
 *   coroutine for DF_POOL_STUCK_MS (a plugin that computes or blocks instead of yielding).
 * - A supervisor thread wakes every few milliseconds while jobs are in flight: it moves jobs
 *   waiting in a stuck worker's inbox to a free worker, starting a new worker (up to
 *   workers_max) when every worker is stuck, and retires workers above workers_min that have
 *   been idle for DF_POOL_IDLE_EXPIRY_MS. Its policy is deliberately simple; the elastic
 *   behaviour can be refined there without touching the workers.
 * - Results go to the done callback from the worker thread. After df_pool_destroy has started
 *   discarding (destroyed), no callback starts, and destroy waits for the ones running. */
#include "pool_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../clock.h"

/* A worker inside one coroutine for this long is considered stuck. */
#define DF_POOL_STUCK_MS 100
/* A worker above workers_min idle for this long stops. */
#define DF_POOL_IDLE_EXPIRY_MS 10000
/* Supervisor period while jobs are in flight, and when idle. */
#define DF_POOL_SUP_BUSY_MS 20
#define DF_POOL_SUP_IDLE_MS 1000
/* Finished coroutines (with their stacks) kept per worker for reuse. */
#define DF_POOL_MAX_FREE_STACKS 1024

static void on_async(uv_async_t *a);
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

/* Defaults: 2 workers minimum, 2 x online CPUs maximum, 65536 queued jobs, 256 KiB stacks. */
void df_pool_config_default(df_pool_config *cfg)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    cfg->workers_min = 2;
    cfg->workers_max = (unsigned)(2 * n);
    if (cfg->workers_max < cfg->workers_min)
        cfg->workers_max = cfg->workers_min;
    cfg->queue_capacity = 65536;
    cfg->stack_size = 256 * 1024;
}

static void deadline_in(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void wake_worker_locked(df_worker *w)
{
    if (w->async_alive)
        uv_async_send(&w->async);
}

static int worker_stuck(df_worker *w, uint64_t now)
{
    uint64_t b = atomic_load(&w->busy_since);
    return b && now >= b + DF_POOL_STUCK_MS;
}

/* The least-loaded LIVE worker, preferring ones not stuck. *all_stuck says whether only stuck
 * workers were left. Under mu. */
static df_worker *pick_worker_locked(df_pool *p, uint64_t now, int *all_stuck)
{
    df_worker *best = NULL, *best_stuck = NULL;
    size_t best_load = SIZE_MAX, best_stuck_load = SIZE_MAX;
    for (unsigned i = 0; i < p->cfg.workers_max; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state != DF_W_LIVE)
            continue;
        size_t load = w->active_n + w->inbox_n;
        if (worker_stuck(w, now)) {
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
    return best ? best : best_stuck;
}

static void inbox_push_locked(df_worker *w, df_pool_job *pj)
{
    pj->owner = w;
    pj->next = NULL;
    pj->prev = w->inbox_tail;
    if (w->inbox_tail)
        w->inbox_tail->next = pj;
    else
        w->inbox_head = pj;
    w->inbox_tail = pj;
    w->inbox_n++;
}

/* Starts a new worker in a free slot. Under mu. 0 or a negative errno, with a message. */
static int start_worker_locked(df_pool *p, char *err, size_t errlen)
{
    unsigned slot = p->cfg.workers_max;
    for (unsigned i = 0; i < p->cfg.workers_max; i++)
        if (!p->slots[i]) {
            slot = i;
            break;
        }
    if (slot == p->cfg.workers_max) {
        snprintf(err, errlen, "pool: no free worker slot (workers_max %u)", p->cfg.workers_max);
        return -EAGAIN;
    }
    df_worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "pool: cannot start worker: out of memory");
        return -ENOMEM;
    }
    w->pool = p;
    w->slot = slot;
    int rc = uv_loop_init(&w->loop);
    if (rc) {
        snprintf(err, errlen, "pool: cannot start worker loop: %s", uv_strerror(rc));
        free(w);
        return rc;
    }
    rc = uv_async_init(&w->loop, &w->async, on_async);
    if (rc) {
        snprintf(err, errlen, "pool: cannot start worker: %s", uv_strerror(rc));
        uv_loop_close(&w->loop);
        free(w);
        return rc;
    }
    w->async.data = w;
    w->async_alive = 1;
    w->last_busy_ms = df_mono_ms();
    df_coro_sched_init(&w->sched, p->cfg.stack_size, DF_POOL_MAX_FREE_STACKS);
    rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc) {
        snprintf(err, errlen, "pool: cannot start worker thread: %s", strerror(rc));
        uv_close((uv_handle_t *)&w->async, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        free(w);
        return -rc;
    }
    p->slots[slot] = w;
    p->n_live++;
    p->stats.workers_started++;
    if (p->n_live > p->stats.workers_peak)
        p->stats.workers_peak = p->n_live;
    return 0;
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

static df_pool_job *table_find_locked(df_pool *p, uint64_t id)
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

/* Hands a result to the done callback (or discards it after destroy) and frees the job. */
static void deliver(df_worker *w, df_pool_job *pj, df_job_result *res, int was_running)
{
    df_pool *p = w->pool;
    free_job(pj->job);
    pj->job = NULL;
    pthread_mutex_lock(&p->mu);
    if (was_running)
        w->active_n--;
    if (w->active_n == 0 && w->inbox_n == 0)
        w->last_busy_ms = df_mono_ms();
    pj->state = DF_J_DONE;
    table_remove_locked(p, pj);
    /* After destroy began discarding, or without memory for a result, no callback runs. */
    int discard = p->destroyed || !res;
    if (!discard)
        p->callbacks_running++;
    pthread_mutex_unlock(&p->mu);

    if (discard)
        df_job_result_free(res);
    else
        p->done(res, p->ud);

    pthread_mutex_lock(&p->mu);
    if (!discard)
        p->callbacks_running--;
    p->in_flight--;
    p->stats.jobs_completed++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    free(pj);
}

static df_job_result *new_result(df_pool_job *pj)
{
    df_job_result *r = calloc(1, sizeof *r);
    if (r)
        r->user = pj->job->user;
    return r;
}

/* A job that will never start (cancelled while queued, or no coroutine could be had). */
static void complete_unstarted(df_worker *w, df_pool_job *pj, int status, const char *error)
{
    df_job_result *r = new_result(pj);
    if (r) {
        r->status = status;
        r->cancelled = df_pool_job_is_cancelled(pj);
        r->error = error ? strdup(error) : NULL;
        r->started_mono_ms = r->ended_mono_ms = df_mono_ms();
    }
    /* Without memory for a result the callback cannot be honoured; the job is dropped. */
    deliver(w, pj, r, 0);
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
    df_job_result *r = new_result(pj);
    if (r) {
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
    }
    pj->ctx = NULL;
    df_task_ctx_dispose(ctx);
    deliver(w, pj, r, 1);
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

static void fold_stack_stats(df_worker *w)
{
    size_t dc = w->sched.created - w->stacks_created_seen;
    size_t dr = w->sched.reused - w->stacks_reused_seen;
    if (!dc && !dr)
        return;
    w->stacks_created_seen = w->sched.created;
    w->stacks_reused_seen = w->sched.reused;
    pthread_mutex_lock(&w->pool->mu);
    w->pool->stats.stacks_created += dc;
    w->pool->stats.stacks_reused += dr;
    pthread_mutex_unlock(&w->pool->mu);
}

static void start_job(df_worker *w, df_pool_job *pj)
{
    df_task_ctx *ctx = calloc(1, sizeof *ctx);
    char err[256];
    if (!ctx) {
        pthread_mutex_lock(&w->pool->mu);
        w->active_n--; /* counted as running by the drain */
        pthread_mutex_unlock(&w->pool->mu);
        complete_unstarted(w, pj, DF_TASK_FAILED, "pool: cannot start task: out of memory");
        return;
    }
    ctx->w = w;
    ctx->pj = pj;
    ctx->co = df_coro_create(&w->sched, coro_main, ctx, err, sizeof err);
    if (!ctx->co) {
        free(ctx);
        char msg[320];
        snprintf(msg, sizeof msg, "pool: cannot start task: %s", err);
        pthread_mutex_lock(&w->pool->mu);
        w->active_n--;
        pthread_mutex_unlock(&w->pool->mu);
        complete_unstarted(w, pj, DF_TASK_FAILED, msg);
        return;
    }
    pj->ctx = ctx;
    pj->aprev = NULL;
    pj->anext = w->active_head;
    if (w->active_head)
        w->active_head->aprev = pj;
    w->active_head = pj;
    df_worker_wake(ctx);
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
        atomic_store(&w->busy_since, df_mono_ms());
        int finished = df_coro_resume(&w->sched, ctx->co);
        atomic_store(&w->busy_since, 0);
        if (finished)
            complete_running(w, ctx);
    }
    fold_stack_stats(w);
    maybe_stop(w);
}

static void on_async(uv_async_t *a)
{
    df_worker *w = a->data;
    df_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    df_pool_job *list = w->inbox_head;
    size_t n = w->inbox_n;
    w->inbox_head = w->inbox_tail = NULL;
    w->inbox_n = 0;
    p->waiting -= n;
    for (df_pool_job *pj = list; pj; pj = pj->next)
        if (!df_pool_job_is_cancelled(pj)) {
            pj->state = DF_J_RUNNING;
            w->active_n++;
        }
    if (n)
        w->last_busy_ms = df_mono_ms();
    int scan = w->cancel_scan;
    w->cancel_scan = 0;
    pthread_mutex_unlock(&p->mu);

    while (list) {
        df_pool_job *pj = list;
        list = pj->next;
        pj->next = pj->prev = NULL;
        if (pj->state == DF_J_RUNNING)
            start_job(w, pj);
        else
            complete_unstarted(w, pj, DF_TASK_FAILED, "cancelled before it started");
    }
    if (scan)
        for (df_pool_job *pj = w->active_head; pj; pj = pj->anext)
            if (pj->ctx && df_pool_job_is_cancelled(pj))
                df_task_ctx_on_cancel(pj->ctx);
    df_worker_run_ready(w);
}

static void free_worker(df_worker *w)
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
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Every handle is closed: the async by maybe_stop, timers and children by their owners. Should
     * one have been left open (a bug), close it rather than leak the loop. */
    if (uv_loop_close(&w->loop) == UV_EBUSY) {
        uv_walk(&w->loop, close_stray_handle, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
    }
    fold_stack_stats(w);
    pthread_mutex_lock(&p->mu);
    /* Jobs that reached the inbox of an abandoned worker are dropped with it. */
    df_pool_job *list = w->inbox_head;
    for (df_pool_job *pj = list; pj; pj = pj->next)
        table_remove_locked(p, pj);
    w->inbox_head = w->inbox_tail = NULL;
    w->inbox_n = 0;
    w->state = DF_W_EXITED;
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
        free(pj);
    }
    if (abandoned) {
        free_worker(w);
        if (last)
            pool_free(p);
    }
    return NULL;
}

/* ---- supervisor ---- */

/* Moves the waiting jobs of stuck workers to workers that are free, starting one when all are
 * stuck; retires idle workers above the minimum; joins workers that stopped. Under mu; may
 * unlock while joining. */
static void supervise_locked(df_pool *p)
{
    uint64_t now = df_mono_ms();
    for (unsigned i = 0; i < p->cfg.workers_max; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state != DF_W_LIVE || !w->inbox_n || !worker_stuck(w, now))
            continue;
        int all_stuck = 0;
        df_worker *t = pick_worker_locked(p, now, &all_stuck);
        if ((all_stuck || !t) && !p->shutting_down && p->n_live < p->cfg.workers_max) {
            char err[128];
            if (start_worker_locked(p, err, sizeof err) == 0) {
                all_stuck = 0;
                t = pick_worker_locked(p, now, &all_stuck);
            }
        }
        if (!t || all_stuck || t == w)
            continue;
        while (w->inbox_head) {
            df_pool_job *pj = w->inbox_head;
            w->inbox_head = pj->next;
            w->inbox_n--;
            inbox_push_locked(t, pj);
        }
        w->inbox_tail = NULL;
        wake_worker_locked(t);
    }
    /* shrink */
    for (unsigned i = 0; i < p->cfg.workers_max && !p->shutting_down; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state != DF_W_LIVE || p->n_live <= p->cfg.workers_min)
            continue;
        if (w->active_n == 0 && w->inbox_n == 0 && now >= w->last_busy_ms + p->idle_expiry_ms) {
            w->state = DF_W_RETIRING;
            w->stop = 1;
            p->n_live--;
            wake_worker_locked(w);
        }
    }
    /* reap */
    for (unsigned i = 0; i < p->cfg.workers_max; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state != DF_W_EXITED)
            continue;
        p->slots[i] = NULL;
        pthread_mutex_unlock(&p->mu);
        pthread_join(w->thread, NULL);
        free_worker(w);
        pthread_mutex_lock(&p->mu);
    }
}

static void *supervisor_main(void *arg)
{
    df_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->sup_stop) {
        supervise_locked(p);
        struct timespec ts;
        deadline_in(&ts, p->in_flight ? DF_POOL_SUP_BUSY_MS : DF_POOL_SUP_IDLE_MS);
        pthread_cond_timedwait(&p->sup_cond, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
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
    p->slots = calloc(p->cfg.workers_max, sizeof *p->slots);
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
        rc = start_worker_locked(p, err, errlen);
    pthread_mutex_unlock(&p->mu);
    if (rc == 0) {
        rc = -pthread_create(&p->supervisor, NULL, supervisor_main, p);
        if (rc)
            snprintf(err, errlen, "pool: cannot start supervisor thread: %s", strerror(-rc));
        else
            p->sup_started = 1;
    }
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
    df_pool_job *pj = calloc(1, sizeof *pj);
    if (!pj)
        return -ENOMEM;
    pj->job = job;
    pj->pool = p;
    atomic_init(&pj->cancelled, 0);
    pthread_mutex_lock(&p->mu);
    if (p->shutting_down) {
        pthread_mutex_unlock(&p->mu);
        free(pj);
        return DF_POOL_ESHUTDOWN;
    }
    if (p->waiting >= p->cfg.queue_capacity) {
        pthread_mutex_unlock(&p->mu);
        free(pj);
        return DF_POOL_EFULL;
    }
    int all_stuck = 0;
    df_worker *w = pick_worker_locked(p, df_mono_ms(), &all_stuck);
    if (!w) {
        char err[128];
        if (start_worker_locked(p, err, sizeof err) == 0)
            w = pick_worker_locked(p, df_mono_ms(), &all_stuck);
    }
    if (!w) { /* no worker can take it now: the caller may retry later */
        pthread_mutex_unlock(&p->mu);
        free(pj);
        return DF_POOL_EFULL;
    }
    pj->state = DF_J_QUEUED;
    pj->id = p->next_id++;
    table_insert_locked(p, pj);
    inbox_push_locked(w, pj);
    p->waiting++;
    p->in_flight++;
    if (p->waiting > p->stats.queue_high_water)
        p->stats.queue_high_water = p->waiting;
    if (p->in_flight > p->stats.in_flight_peak)
        p->stats.in_flight_peak = p->in_flight;
    wake_worker_locked(w);
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
    return atomic_load(&pj->cancelled) || atomic_load(&pj->pool->cancel_all);
}

/* Handles are job ids looked up in the table, so cancelling a job that already completed (even
 * one whose result the caller has not processed yet) is a harmless no-op: stricter than pool.h's
 * "valid until the done callback has returned". */
void df_pool_cancel(df_pool *p, df_pool_job *handle)
{
    if (!p || !handle)
        return;
    pthread_mutex_lock(&p->mu);
    df_pool_job *h = table_find_locked(p, (uint64_t)(uintptr_t)handle);
    if (h && h->state != DF_J_DONE) {
        atomic_store(&h->cancelled, 1);
        df_worker *w = h->owner;
        if (h->state == DF_J_RUNNING)
            w->cancel_scan = 1;
        wake_worker_locked(w);
        /* a job queued behind a stuck worker is moved by the supervisor */
        if (h->state == DF_J_QUEUED)
            pthread_cond_signal(&p->sup_cond);
    }
    pthread_mutex_unlock(&p->mu);
}

/* See pool_internal.h. */
void df_pool_set_idle_expiry(df_pool *p, uint64_t ms)
{
    pthread_mutex_lock(&p->mu);
    p->idle_expiry_ms = ms;
    pthread_cond_signal(&p->sup_cond);
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

/* Shuts the pool down (see pool.h): refuse submissions, cancel everything, wait up to grace_ms
 * (milliseconds) for callbacks, then stop workers; a worker still inside a job that ignores
 * cancellation is detached and frees itself (and the pool memory, if last) when that job
 * returns. No callback starts after this returns. */
void df_pool_destroy(df_pool *p, uint64_t grace_ms)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->shutting_down = 1;
    atomic_store(&p->cancel_all, 1);
    for (unsigned i = 0; i < p->cfg.workers_max; i++) {
        df_worker *w = p->slots[i];
        if (!w)
            continue;
        w->cancel_scan = 1;
        wake_worker_locked(w);
    }
    pthread_cond_signal(&p->sup_cond);
    struct timespec deadline;
    deadline_in(&deadline, grace_ms);
    while (p->in_flight > 0) {
        if (pthread_cond_timedwait(&p->cond, &p->mu, &deadline) == ETIMEDOUT)
            break;
    }
    p->sup_stop = 1;
    pthread_cond_signal(&p->sup_cond);
    pthread_mutex_unlock(&p->mu);
    if (p->sup_started)
        pthread_join(p->supervisor, NULL);

    pthread_mutex_lock(&p->mu);
    p->destroyed = 1; /* from now on results are discarded */
    while (p->callbacks_running > 0)
        pthread_cond_wait(&p->cond, &p->mu);
    unsigned n = p->cfg.workers_max;
    df_worker **join = calloc(n, sizeof *join);
    unsigned n_join = 0;
    for (unsigned i = 0; i < n; i++) {
        df_worker *w = p->slots[i];
        if (!w)
            continue;
        p->slots[i] = NULL;
        w->stop = 1;
        wake_worker_locked(w);
        if (w->state != DF_W_EXITED && w->active_n > 0) {
            /* Its coroutine ignores cancellation: leave the thread to finish on its own. It
             * frees itself (and the pool, if last) when its jobs return. */
            w->abandoned = 1;
            p->refs++;
            pthread_detach(w->thread);
        } else if (join) {
            join[n_join++] = w;
        } else { /* no memory for the list: detach rather than hang or leak a join */
            w->abandoned = 1;
            p->refs++;
            if (w->state == DF_W_EXITED) {
                p->refs--;
                pthread_join(w->thread, NULL); /* already finished: returns at once */
                free_worker(w);
            } else {
                pthread_detach(w->thread);
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < n_join; i++) {
        pthread_join(join[i]->thread, NULL);
        free_worker(join[i]);
    }
    free(join);
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (last)
        pool_free(p);
}
