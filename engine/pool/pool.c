/* pool: the coroutine pool itself: its configuration, creation, submission of jobs to the
 * workers' inboxes, the id table behind job handles, cancellation, metrics and shutdown. The
 * worker threads live in worker.c; the supervisor (moving work away from stuck workers, growth,
 * replacement, shrinking) in supervisor.c; the df_task_* helpers that run inside the coroutines
 * in task_ctx.c; stacks and context switches in coro.c.
 *
 * Shape:
 * - Each worker is an OS thread running its own uv loop (worker.c). Jobs reach it through its
 *   inbox (under the pool mutex) and a uv_async_t, sent only when the inbox was empty
 *   (uv_async_send coalesces anyway). Jobs left in an inbox are still movable to another worker
 *   (by the supervisor).
 * - df_pool_submit puts a job in the inbox of the least-loaded worker (running + queued jobs),
 *   preferring workers that are not stuck, and starts a worker when none is live.
 * - Job handles are job ids, looked up in the id table under the mutex, so that a stale handle
 *   is harmless.
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

/* Default coroutine stack size; a -D override exists only for measuring (see the report of
 * the pool's defaults in df_pool_config_default). */
#ifndef DF_POOL_DEFAULT_STACK_SIZE
#define DF_POOL_DEFAULT_STACK_SIZE (256 * 1024)
#endif

/* ---- small helpers ---- */

/* See pool_internal.h. */
void df_pool_free_job(df_job *j)
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
    cfg->pass_env = NULL;
    cfg->max_result_bytes = DF_POOL_MAX_RESULT_BYTES;
    cfg->max_log_bytes = DF_POOL_MAX_LOG_BYTES;
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

/* See pool_internal.h. */
void df_pool_inbox_unlink_locked(df_worker *w, df_pool_job *pj)
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
        df_pool_inbox_unlink_locked(from, pj);
        inbox_push_locked(to, pj, pj->queued_ms); /* their wait goes on */
        pj = next;
    }
    df_pool_wake_worker_locked(to);
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

/* See pool_internal.h. */
void df_pool_table_remove_locked(df_pool *p, df_pool_job *pj)
{
    for (df_pool_job **b = &p->table[pj->id & (p->table_size - 1)]; *b; b = &(*b)->hnext)
        if (*b == pj) {
            *b = pj->hnext;
            pj->hnext = NULL;
            p->table_n--;
            return;
        }
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

/* See pool_internal.h. */
void df_pool_free(df_pool *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    pthread_cond_destroy(&p->sup_cond);
    free(p->slots);
    free(p->table);
    free(p);
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
        return DF_EINPUT;
    }
    df_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "pool: out of memory");
        return DF_ENOMEM;
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
        p->cfg.pass_env = cfg->pass_env;
        if (cfg->max_result_bytes)
            p->cfg.max_result_bytes = cfg->max_result_bytes;
        if (cfg->max_log_bytes)
            p->cfg.max_log_bytes = cfg->max_log_bytes;
    }
    if (p->cfg.workers_max < p->cfg.workers_min)
        p->cfg.workers_max = p->cfg.workers_min;
    p->done = done;
    p->ud = ud;
    p->refs = 1;
    atomic_init(&p->cancel_all, 0);
    atomic_init(&p->hold_growth, false);
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
        df_pool_free(p);
        return DF_ENOMEM;
    }
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < p->cfg.workers_min && rc == 0; i++)
        if (!df_pool_start_worker_locked(p, err, errlen))
            rc = DF_EINTERNAL;
    pthread_mutex_unlock(&p->mu);
    if (rc == 0 && df_pool_supervisor_start(p, err, errlen) != 0)
        rc = DF_EINTERNAL;
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
        return DF_EINPUT;
    /* The result is allocated now, while the caller can still be told: a job that completes
     * (even cancelled, or without a coroutine) always has one to deliver. */
    df_pool_job *pj = calloc(1, sizeof *pj);
    df_job_result *res = pj ? calloc(1, sizeof *res) : NULL;
    if (!res) {
        free(pj);
        return DF_ENOMEM;
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
    uint64_t id = (uint64_t)(uintptr_t)handle;
    int running = 0;
    pthread_mutex_lock(&p->mu);
    df_pool_job *h = df_pool_table_find_locked(p, id);
    if (h && h->state != DF_J_DONE) {
        running = h->state == DF_J_RUNNING;
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
    /* Its children are signalled from here, not only by its worker: that worker may be stuck in
     * another job's plugin and not run its loop for a long time (issue 15). */
    if (running)
        df_proc_kill_owned(p, id);
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
    df_proc_kill_owned(p, 0);
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
    /* The grace is over: no child of a task outlives the pool, even one whose worker is stuck in
     * a plugin that ignores its cancellation (that worker reaps it when, if ever, it returns). */
    df_proc_kill_owned_now(p);

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
        df_pool_free(p);
    return left;
}

/* See pool.h. */
void df_pool_load(df_pool *p, size_t *queued, unsigned *live, unsigned *busy)
{
    pthread_mutex_lock(&p->mu);
    *queued = p->waiting;
    *live = p->n_live;
    unsigned b = 0;
    for (unsigned i = 0; i < p->n_slots; i++)
        if (p->slots[i] && p->slots[i]->state == DF_W_LIVE && p->slots[i]->active_n > 0)
            b++;
    *busy = b;
    pthread_mutex_unlock(&p->mu);
}

void df_pool_hold_growth(df_pool *p, bool hold)
{
    atomic_store(&p->hold_growth, hold);
}
