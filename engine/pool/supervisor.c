/* supervisor: the pool's supervisor thread, which keeps work moving when plugins do not yield,
 * and sizes the pool: it moves jobs away from stuck workers, grows the pool, replaces stuck and
 * lost workers, shrinks idle ones and joins the threads that stopped. It also answers
 * df_pool_job_unyielding. The workers, submission and shutdown are pool.c's.
 *
 * The supervisor ticks every DF_POOL_SUP_BUSY_MS while jobs are in flight (DF_POOL_SUP_IDLE_MS
 * otherwise), each tick under the pool mutex:
 * 1. A worker whose epoch (bumped on every coroutine switch) stays odd and unchanged for
 *    DF_POOL_STUCK_MS is "stuck" in one coroutine (a plugin that computes or blocks instead of
 *    yielding). A worker stuck for DF_POOL_REPLACE_MS is replaced when a thread more fits under
 *    workers_max, or when another live worker remains: it takes no more work and stops once its
 *    coroutines have finished. One stuck that long in a job that was cancelled is "lost"
 *    (n_lost): it no longer counts against workers_max until the plugin returns, so that its
 *    replacement keeps runs going.
 * 2. The queued jobs of stuck and retiring workers, and the ones of their last batch they have
 *    not started, move to a worker that is not stuck, starting a new one (up to workers_max)
 *    when there is none.
 * 3. When a worker's inbox backs up (its jobs have waited DF_POOL_BACKLOG_MS and it spent half of
 *    the last tick in long coroutine runs: it is busy, e.g. with short CPU-bound jobs), half of
 *    that inbox moves to a worker that keeps up, or to a new one when every worker is backed up
 *    or stuck. A burst that workers keep taking batches from is not a backlog: more threads than
 *    cores would not start it sooner.
 * 4. Workers above workers_min idle for DF_POOL_IDLE_EXPIRY_MS (df_pool_set_idle_expiry) stop.
 * 5. Threads that exited are joined and freed.
 * Growth happens only under the pool mutex (df_pool_start_worker_locked), against
 * n_threads - n_lost, so that neither the supervisor nor concurrent submitters can start more
 * than workers_max threads (the race of ants #374). */
#include "pool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../clock.h"

/* A worker inside one coroutine for this long is stuck: it gets no new jobs. */
#define DF_POOL_STUCK_MS 100
/* A worker stuck for this long is replaced. */
#define DF_POOL_REPLACE_MS 500
/* A job waiting this long in an inbox means that the queue backs up. */
#define DF_POOL_BACKLOG_MS 20
/* Supervisor period while jobs are in flight, and when idle. */
#define DF_POOL_SUP_BUSY_MS 20
#define DF_POOL_SUP_IDLE_MS 1000

/* A LIVE worker whose inbox backs up: its oldest job has waited DF_POOL_BACKLOG_MS and the
 * worker spent at least half of the last tick in long runs of coroutines (DF_POOL_LONG_RUN_MS or
 * more without yielding: CPU-bound jobs). A burst of jobs that yield at once is not a backlog:
 * more threads than cores would not start it any sooner. */
static int backed_up_locked(const df_worker *w, uint64_t now)
{
    return w->inbox_head && w->state == DF_W_LIVE && !w->stuck && w->cpu_bound &&
           now - w->inbox_head->queued_ms >= DF_POOL_BACKLOG_MS;
}

static void retire_locked(df_pool *p, df_worker *w)
{
    w->state = DF_W_RETIRING;
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
    p->n_live--;
    df_pool_wake_worker_locked(w);
}

/* ---- 1. stuck detection and replacement ---- */

/* A worker seen blocking inside a coroutine within this long counts as blocking. */
#define DF_POOL_BLOCKED_WINDOW_MS 100
/* It is seen blocking when this many readings in a row (one a tick, each inside a coroutine)
 * find its thread blocked: one reading is not enough, since a computing thread also sleeps now
 * and then for a moment (a page fault waiting for the address-space lock another thread holds
 * while it maps or unmaps memory, which the sanitizer build does all the time, and which a
 * loaded machine stretches by descheduling the holder). A thread that blocks for real (a plugin
 * sleeping, reading, waiting in a system call) is found blocked nearly every time. */
#define DF_POOL_BLOCKED_READINGS 2

char (*df_pool_thread_state_hook)(const df_worker *w, char proc_state) = NULL;

/* The scheduler state of the worker's thread (Linux's /proc/self/task/TID/stat, opened on first
 * use and kept; df_pool_free_worker closes it): 'R' running or waiting for a CPU, 'S' or 'D'
 * blocked, ...; 0 when it cannot be read. Supervisor, under mu. */
static char proc_thread_state(df_worker *w)
{
    if (w->sup_stat_fd < 0) {
        int tid = atomic_load(&w->tid);
        if (!tid)
            return 0;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
        w->sup_stat_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (w->sup_stat_fd < 0)
            return 0;
    }
    char buf[512];
    ssize_t n = pread(w->sup_stat_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *paren = strrchr(buf, ')'); /* the name in parentheses may hold anything */
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

static char thread_state(df_worker *w)
{
    char st = proc_thread_state(w);
    return df_pool_thread_state_hook ? df_pool_thread_state_hook(w, st) : st;
}

/* Whether the worker computes rather than blocks: not seen blocking inside a coroutine (a
 * plugin sleeping, reading, waiting in a system call: DF_POOL_BLOCKED_READINGS readings in a row
 * found it blocked) within DF_POOL_BLOCKED_WINDOW_MS. The thread's state is read while its epoch
 * shows it inside one coroutine run, the same before and after the reading, so that a worker
 * blocked in its own loop (waiting for the pool mutex or for work) does not count; readings
 * outside a coroutine neither count nor break the row. A computing thread is running or waiting for
 * a CPU ('R') however loaded the machine is; its CPU time does not tell: on a busy machine it gets
 * little of it (when computing meant an eighth of a tick in CPU time, computing workers were taken
 * for blocked ones under load, and the pool grew past the cores). That rule remains the fallback
 * where the state cannot be read. Supervisor, under mu. */
static int computed_locked(df_pool *p, df_worker *w, uint64_t now)
{
    uint64_t e = atomic_load_explicit(&w->epoch, memory_order_acquire);
    char st = thread_state(w);
    if (st) {
        if ((e & 1) && atomic_load_explicit(&w->epoch, memory_order_acquire) == e) {
            if (st != 'S' && st != 'D')
                w->sup_blocked_seen = 0;
            else if (++w->sup_blocked_seen >= DF_POOL_BLOCKED_READINGS)
                w->sup_blocked_ms = now;
        }
        return !w->sup_blocked_ms || now - w->sup_blocked_ms > DF_POOL_BLOCKED_WINDOW_MS;
    }
    uint64_t tick_ns = (now - p->sup_last_ms) * 1000000ull;
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(w->thread, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return 1;
    uint64_t cpu = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    int computing = tick_ns && cpu - w->sup_cpu_ns >= tick_ns / 8;
    w->sup_cpu_ns = cpu;
    return computing;
}

/* How the worker spent the last tick: cpu_bound when half of it went to long coroutine runs,
 * computing unless it was seen blocked inside a coroutine lately (computed_locked). Under mu. */
static void measure_tick_locked(df_pool *p, df_worker *w, uint64_t now)
{
    uint64_t ln = atomic_load_explicit(&w->long_ns, memory_order_relaxed);
    uint64_t tick_ns = (now - p->sup_last_ms) * 1000000ull;
    w->cpu_bound = tick_ns && ln - w->sup_long_ns >= tick_ns / 2;
    w->sup_long_ns = ln;
    w->computing = computed_locked(p, w, now);
}

/* Follows the worker's epoch: sets w->stuck, and gives a lost worker whose plugin returned its
 * place under workers_max again. Returns 1 while the worker is inside a coroutine, else 0.
 * Under mu. */
static int track_epoch_locked(df_pool *p, df_worker *w, uint64_t now)
{
    uint64_t e = atomic_load_explicit(&w->epoch, memory_order_relaxed);
    if (!(e & 1) || e != w->sup_epoch) {
        if (w->lost) { /* the plugin returned: the thread counts again */
            w->lost = 0;
            p->n_lost--;
        }
    }
    if (!(e & 1)) {
        w->sup_epoch = e;
        w->stuck = 0;
        return 0;
    }
    if (e != w->sup_epoch) {
        w->sup_epoch = e;
        w->sup_epoch_since_ms = now;
    }
    w->stuck = now - w->sup_epoch_since_ms >= DF_POOL_STUCK_MS;
    return 1;
}

/* Stuck in a job that was cancelled (its deadline passed, or a shutdown) and ignores it: that
 * thread is lost to the pool until the plugin returns, and stops counting against workers_max,
 * so that a replacement keeps the run going (the classic bound on threads holds for every worker
 * that can still do work). Under mu. */
static void mark_lost_locked(df_pool *p, df_worker *w, uint64_t now)
{
    if (!w->stuck || w->lost)
        return;
    uint64_t id = atomic_load_explicit(&w->running_id, memory_order_relaxed);
    df_pool_job *pj = id ? df_pool_table_find_locked(p, id) : NULL;
    if (pj && df_pool_job_is_cancelled(pj) && now - w->sup_epoch_since_ms >= DF_POOL_REPLACE_MS) {
        w->lost = 1;
        p->n_lost++;
    }
}

/* Takes a worker stuck for DF_POOL_REPLACE_MS out of service while another live worker remains
 * or a new thread fits under workers_max (a stuck thread still counts until its coroutine
 * returns, unless lost), and starts another when fewer than workers_min are left. Under mu. */
static void replace_stuck_locked(df_pool *p, df_worker *w, uint64_t now)
{
    if (w->state == DF_W_LIVE && now - w->sup_epoch_since_ms >= DF_POOL_REPLACE_MS &&
        !p->shutting_down &&
        (p->n_live > 1 || w->lost || p->n_threads - p->n_lost < p->cfg.workers_max)) {
        char err[128];
        p->stats.workers_replaced++;
        retire_locked(p, w);
        if (p->n_live < p->cfg.workers_min)
            df_pool_start_worker_locked(p, err, sizeof err);
    }
}

static void watch_workers_locked(df_pool *p, uint64_t now)
{
    for (unsigned i = 0; i < p->n_slots; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state == DF_W_EXITED)
            continue;
        measure_tick_locked(p, w, now);
        if (!track_epoch_locked(p, w, now))
            continue;
        mark_lost_locked(p, w, now);
        replace_stuck_locked(p, w, now);
    }
}

/* ---- 2.-5. moving work, growth, shrinking, reaping ---- */

/* Queued jobs, and jobs taken but not started, leave retiring and stuck workers. Under mu. */
static void move_off_stuck_locked(df_pool *p)
{
    char err[128];
    for (unsigned i = 0; i < p->n_slots; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state == DF_W_EXITED || (w->state == DF_W_LIVE && !w->stuck))
            continue;
        if (!w->inbox_n && !atomic_load_explicit(&w->pulled, memory_order_acquire))
            continue;
        df_worker *t = df_pool_pick_worker_locked(p, 1, NULL);
        if (!t && !p->shutting_down)
            t = df_pool_start_worker_locked(p, err, sizeof err);
        if (!t)
            continue;
        df_pool_requeue_taken_locked(
            w, atomic_exchange_explicit(&w->pulled, NULL, memory_order_acq_rel));
        df_pool_inbox_move_locked(w, t, w->inbox_n);
    }
}

/* The least-loaded LIVE worker that is neither stuck nor backed up, or NULL. Under mu. */
static df_worker *keeping_up_locked(df_pool *p, uint64_t now)
{
    df_worker *t = NULL;
    size_t best = SIZE_MAX;
    for (unsigned j = 0; j < p->n_slots; j++) {
        df_worker *c = p->slots[j];
        if (!c || c->state != DF_W_LIVE || c->stuck || backed_up_locked(c, now))
            continue;
        if (c->active_n + c->inbox_n < best) {
            best = c->active_n + c->inbox_n;
            t = c;
        }
    }
    return t;
}

/* Backlog: half of a backed-up inbox moves to a worker that keeps up, or to a new one. Under
 * mu, while jobs wait and the pool is not shutting down. */
static void relieve_backlog_locked(df_pool *p, uint64_t now)
{
    char err[128];
    unsigned backed = 0, blocked = 0, keeping_up = 0;
    for (unsigned i = 0; i < p->n_slots; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state != DF_W_LIVE || w->stuck)
            continue;
        if (backed_up_locked(w, now)) {
            backed++;
            blocked += !w->computing;
        } else {
            keeping_up++;
        }
    }
    /* Past one worker per core, only workers that block (not compute) justify another: more
     * threads than cores would not run computing jobs any sooner. */
    df_worker *fresh = NULL;
    if (backed && !keeping_up && (p->n_live < p->n_cpus || blocked) &&
        !atomic_load(&p->hold_growth)) {
        int past_cores = p->n_live >= p->n_cpus;
        fresh = df_pool_start_worker_locked(p, err, sizeof err);
        if (fresh && past_cores)
            p->stats.workers_grown_blocked++;
    }
    if (!backed || (!fresh && !keeping_up))
        return;
    for (unsigned i = 0; i < p->n_slots; i++) {
        df_worker *w = p->slots[i];
        if (!w || w == fresh || !backed_up_locked(w, now))
            continue;
        df_worker *t = fresh ? fresh : keeping_up_locked(p, now);
        if (t)
            df_pool_inbox_move_locked(w, t, (w->inbox_n + 1) / 2);
    }
}

/* Live workers above workers_min that have been idle for idle_expiry_ms stop. Under mu. */
static void shrink_idle_locked(df_pool *p, uint64_t now)
{
    for (unsigned i = 0; i < p->n_slots && !p->shutting_down; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state != DF_W_LIVE || p->n_live <= p->cfg.workers_min)
            continue;
        if (w->active_n == 0 && w->inbox_n == 0 && now >= w->last_busy_ms + p->idle_expiry_ms)
            retire_locked(p, w);
    }
}

/* Joins and frees the worker threads that exited. Under mu; unlocks while joining. */
static void reap_exited_locked(df_pool *p)
{
    for (unsigned i = 0; i < p->n_slots; i++) {
        df_worker *w = p->slots[i];
        if (!w || w->state != DF_W_EXITED)
            continue;
        p->slots[i] = NULL;
        pthread_mutex_unlock(&p->mu);
        pthread_join(w->thread, NULL);
        df_pool_free_worker(w);
        pthread_mutex_lock(&p->mu);
    }
}

/* One supervisor tick (see the top of this file). Under mu; may unlock while joining. */
static void supervise_locked(df_pool *p)
{
    uint64_t now = df_mono_ms();
    watch_workers_locked(p, now);
    move_off_stuck_locked(p);
    if (p->waiting && !p->shutting_down)
        relieve_backlog_locked(p, now);
    shrink_idle_locked(p, now);
    p->sup_last_ms = now;
    reap_exited_locked(p);
}

static void *supervisor_main(void *arg)
{
    df_pool *p = arg;
    pthread_setname_np(pthread_self(), "df-pool-sup");
    pthread_mutex_lock(&p->mu);
    while (!p->sup_stop) {
        supervise_locked(p);
        struct timespec ts;
        df_pool_deadline_in(&ts, p->in_flight ? DF_POOL_SUP_BUSY_MS : DF_POOL_SUP_IDLE_MS);
        pthread_cond_timedwait(&p->sup_cond, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- life cycle and queries ---- */

/* See pool_internal.h. */
int df_pool_supervisor_start(df_pool *p, char *err, size_t errlen)
{
    int rc = -pthread_create(&p->supervisor, NULL, supervisor_main, p);
    if (rc)
        snprintf(err, errlen, "pool: cannot start supervisor thread: %s", strerror(-rc));
    else
        p->sup_started = 1;
    return rc;
}

/* See pool_internal.h. */
void df_pool_supervisor_stop(df_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->sup_stop = 1;
    pthread_cond_signal(&p->sup_cond);
    pthread_mutex_unlock(&p->mu);
    if (p->sup_started)
        pthread_join(p->supervisor, NULL);
}

/* See pool.h. The worker's running_id and running_since_ms say which coroutine it is inside and
 * since when (uv_hrtime's clock, in ms). */
int df_pool_job_unyielding(df_pool *p, df_pool_job *handle, uint64_t min_ms)
{
    if (!p || !handle)
        return 0;
    int stuck = 0;
    pthread_mutex_lock(&p->mu);
    df_pool_job *pj = df_pool_table_find_locked(p, (uint64_t)(uintptr_t)handle);
    if (pj && pj->state == DF_J_RUNNING && pj->owner) {
        df_worker *w = pj->owner;
        uint64_t since = atomic_load_explicit(&w->running_since_ms, memory_order_relaxed);
        uint64_t running = atomic_load_explicit(&w->running_id, memory_order_relaxed);
        if (running && uv_hrtime() / 1000000u >= since + min_ms)
            stuck = running == pj->id ? 1 : 2; /* 2: stranded behind another job */
    }
    pthread_mutex_unlock(&p->mu);
    return stuck;
}

/* See pool_internal.h. */
void df_pool_set_idle_expiry(df_pool *p, uint64_t ms)
{
    pthread_mutex_lock(&p->mu);
    p->idle_expiry_ms = ms;
    pthread_cond_signal(&p->sup_cond);
    pthread_mutex_unlock(&p->mu);
}
