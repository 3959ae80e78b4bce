/* engine: the running engine around its runs — the libuv loop of the thread that drives it
 * (df_engine_wait), the coroutine pool's completion inbox, the store connection with group commit
 * (the alerts it recorded delivered after it: the outbox is alert.c's, recording them
 * engine_alerts.c's), the named pools' slots, the heartbeat and graceful stop (df_engine_stop).
 * Creating and freeing an engine (df_engine_open, df_engine_close, its random generator) is
 * engine_open.c's, starting runs launch.c's, the run lifecycle runner.c's (the shell around
 * run.c's pure core), the thinner public calls api.c's. It sets nothing process-wide
 * (environment, limits, signal handlers, random seed) and never exits: that is the CLI's. */
#include "engine_internal.h"
#include "proc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "remote.h"
#include "takeover.h"

#define DF_HEARTBEAT_MS 5000 /* at most; a third of the run lease when that is shorter */

/* A service whose transaction was lost with its connection to the server (PostgreSQL restarted
 * or cut off): what it wrote is not recorded, so the runs it wrote for stop here, without writing
 * anything more, and the service takes them up again from the store (df_svc_adopt: its own runs
 * no longer in memory), the others go on; the alerts it recorded are forgotten (their rows were
 * lost too). Returns false when that does not apply (the failure is fatal). */
static bool engine_drop_lost_tx(df_engine *e, const char *msg)
{
    const long long *ids = NULL;
    size_t n = 0;
    if (!e->cfg.service || e->halted || !e->store || !df_store_tx_lost(e->store, &ids, &n))
        return false;
    long long *lost = n ? malloc(n * sizeof *lost) : NULL;
    if (n && !lost)
        return false;
    if (n)
        memcpy(lost, ids, n * sizeof *lost);
    df_store_rollback(e->store);
    e->in_tx = false;
    e->lost_txs++; /* the service decides the fire times it claimed in it again */
    df_alerts_drop_queued(e->alerts);
    for (size_t i = 0; i < e->n_runs; i++)
        for (size_t k = 0; k < n; k++)
            if (df_run_id(e->runs[i]) == lost[k] && !df_run_ended(e->runs[i]))
                df_engine_run_dropped(e, e->runs[i], msg);
    free(lost);
    df_engine_wake(e);
    return true;
}

void df_engine_fail(df_engine *e, const char *fmt, ...)
{
    if (e->fatal)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->fatal_msg, sizeof e->fatal_msg, fmt, ap);
    va_end(ap);
    if (engine_drop_lost_tx(e, e->fatal_msg)) {
        e->fatal_msg[0] = '\0';
        return;
    }
    e->fatal = true;
    if (e->in_tx) {
        df_store_rollback(e->store);
        e->in_tx = false;
    }
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_fail(e->runs[i]);
    df_engine_wake(e);
}

void df_engine_taken_over(df_engine *e, long long run_id)
{
    if (e->fatal)
        return;
    df_engine_fail(e,
                   "run %lld was taken over by another engine (its heartbeat was older than "
                   "%d s, so `dagflow resume` treated this engine as dead, or its lease of %lld ms "
                   "ended and a serve adopted it); this engine stops and leaves the run to the "
                   "other one",
                   run_id, DF_HEARTBEAT_STALE_MS / 1000, df_engine_lease_ms(e));
    e->taken_over = true;
}

long long df_engine_lease_ms(const df_engine *e)
{
    return e->cfg.run_lease_ms > 0 ? e->cfg.run_lease_ms : DF_RUN_LEASE_DEFAULT_MS;
}

int df_engine_tx(df_engine *e)
{
    if (e->fatal)
        return DF_ESTORE;
    if (e->in_tx)
        return 0;
    if (df_store_begin(e->store) != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return DF_ESTORE;
    }
    e->in_tx = true;
    return 0;
}

/* Commits the group-commit transaction, then starts delivering the alerts it recorded.
 * Returns 0, or DF_ESTORE when the engine is (or became) fatal. */
int df_engine_commit(df_engine *e)
{
    if (e->fatal)
        return DF_ESTORE;
    if (e->in_tx) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (df_store_commit(e->store) != DF_STORE_OK) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            return DF_ESTORE;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        df_metrics_store_commit(&e->metrics, (double)(t1.tv_sec - t0.tv_sec) +
                                                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        e->in_tx = false;
    }
    e->last_commit_us = df_mono_us();
    if (df_alerts_flush(e->alerts) != 0)
        df_engine_fail(e, "alerts: out of memory");
    return 0;
}

void df_engine_emit(df_engine *e, const df_engine_event *ev)
{
    if (e->cfg.on_event)
        e->cfg.on_event(e->cfg.ud, ev);
}

df_slot_pool *df_engine_slot_pool(df_engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_slot_pools; i++)
        if (strcmp(e->slot_pools[i]->name, name) == 0)
            return e->slot_pools[i];
    return NULL;
}

df_engine_breaker *df_engine_breaker_find(df_engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_breakers; i++)
        if (strcmp(e->breakers[i].b->name, name) == 0)
            return &e->breakers[i];
    return NULL;
}

static void on_breaker_timer(uv_timer_t *h)
{
    df_engine_wake(h->data);
}

void df_engine_breaker_arm(df_engine *e, df_engine_breaker *eb)
{
    if (!e->handles_open || eb->b->state != DF_BREAKER_OPEN)
        return;
    if (!eb->timer) {
        if (!(eb->timer = malloc(sizeof *eb->timer)))
            return;
        uv_timer_init(&e->loop, eb->timer);
        eb->timer->data = e;
    }
    uint64_t now = df_mono_ms();
    uv_timer_start(eb->timer, on_breaker_timer,
                   eb->b->open_until > now ? eb->b->open_until - now : 0, 0);
}

/* ---- the inbox: results from worker threads ---- */

static void on_pool_done(df_job_result *res, void *ud)
{
    df_engine *e = ud;
    res->next = NULL;
    pthread_mutex_lock(&e->inbox_mu);
    if (e->inbox_tail)
        e->inbox_tail->next = res;
    else
        e->inbox_head = res;
    e->inbox_tail = res;
    /* After the handles closed, results just wait in the inbox for df_engine_close. */
    if (e->inbox_open)
        uv_async_send(&e->inbox_async);
    pthread_mutex_unlock(&e->inbox_mu);
}

/* Posts a result produced on the engine thread itself (an attempt that failed before the pool). */
void df_engine_post_result(df_engine *e, df_job_result *res)
{
    on_pool_done(res, e);
}

static void on_inbox(uv_async_t *h)
{
    df_engine *e = h->data;
    pthread_mutex_lock(&e->inbox_mu);
    df_job_result *res = e->inbox_head;
    e->inbox_head = e->inbox_tail = NULL;
    pthread_mutex_unlock(&e->inbox_mu);
    while (res) {
        df_job_result *next = res->next;
        res->next = NULL;
        df_run_on_result(e, res);
        res = next;
    }
    df_engine_wake(e);
}

/* ---- the tick: group commit, then dispatch, then end-of-run checks ---- */

static bool engine_done(df_engine *e)
{
    if (e->keep_handles)
        return false;
    for (size_t i = 0; i < e->n_runs; i++)
        if (!df_run_ended(e->runs[i]))
            return false;
    /* Stopping (a signal) or failed: alerts still being delivered stay "pending" in the store
     * and `dagflow resume` delivers them. */
    if (e->fatal || e->stopping)
        return true;
    return df_alerts_busy(e->alerts) == 0 && !df_alerts_queued(e->alerts);
}

/* One tick: everything the last callbacks changed, the next dispatches and any run's end go into
 * one transaction; only after it commits are the dispatched attempts handed to the pool (an
 * attempt's RUNNING state, and the upstream SUCCESS that made it ready, are durable before it
 * starts) and the recorded alerts delivered. */
static void on_resubmit(uv_timer_t *h)
{
    df_engine_wake(h->data);
}

/* Fair dispatch between runs (SPEC §9: one busy run must not starve a small one): rounds over
 * the runs with ready tasks, starting one run further at each tick, each run starting at most
 * one attempt per round, in its own priority order, until no run can start one (slots, pools,
 * breakers) or DF_TICK_SLICE attempts started. A run started after a busy one thus gets every
 * other free slot instead of waiting for the busy one's ready tasks to run out. Returns true when
 * it stopped at DF_TICK_SLICE with attempts still to start. */
static bool dispatch_fair(df_engine *e)
{
    size_t n = e->n_runs;
    if (n == 0 || e->stopping)
        return false;
    if (df_engine_admission_paused(e)) {
        df_engine_admission_hold(e); /* runs started during the pause record it too */
        return false;
    }
    if (n == 1) /* the common case of `dagflow run`: one call, in slices */
        return !df_run_ended(e->runs[0]) && df_run_dispatch(e->runs[0], DF_TICK_SLICE);
    unsigned char small[64];
    unsigned char *done = n <= sizeof small ? small : calloc(n, 1);
    if (!done) /* out of memory: in order, as before fairness */
        done = NULL;
    if (done)
        memset(done, 0, n);
    size_t first = e->rr_next++ % n, started = 0;
    bool progress = true;
    while (progress) {
        progress = false;
        for (size_t k = 0; k < n; k++) {
            size_t i = (first + k) % n;
            if ((done && done[i]) || df_run_ended(e->runs[i]))
                continue;
            if (started >= DF_TICK_SLICE) {
                if (done != small)
                    free(done);
                return true;
            }
            size_t before = e->limits.in_flight;
            bool more = df_run_dispatch(e->runs[i], done ? 1 : DF_TICK_SLICE);
            if (e->limits.in_flight > before) {
                started += e->limits.in_flight - before;
                progress = true;
            }
            if (!more && done)
                done[i] = 1;
        }
        if (!done)
            break;
    }
    if (done != small)
        free(done);
    return false;
}

static void on_tick(uv_idle_t *h)
{
    df_engine *e = h->data;
    uv_idle_stop(&e->tick_idle);
    e->tick_armed = false;
    bool more = false;
    for (size_t i = 0; i < e->n_runs; i++)
        if (!e->stopping && !df_run_ended(e->runs[i]))
            more |= df_run_evaluate(e->runs[i], DF_TICK_SLICE);
    more |= dispatch_fair(e);
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_check_end(e->runs[i]);
    if (df_engine_commit(e) == 0)
        for (size_t i = 0; i < e->n_runs; i++) {
            df_run_stamp_ready(e->runs[i]);
            df_run_submit(e->runs[i]);
        }
    df_remote_flush(e); /* the attempts handed to workers, in one statement */
    /* The pool's queue was full: it drains as soon as workers pick jobs up, which sends no event
     * back, so look again shortly rather than at the next completion. */
    bool waiting = false;
    for (size_t i = 0; i < e->n_runs; i++)
        waiting |= df_run_waiting_for_pool(e->runs[i]);
    atomic_store(&e->metrics.admission_paused, waiting || df_engine_admission_paused(e));
    if (waiting && e->handles_open && !uv_is_active((uv_handle_t *)&e->resubmit))
        uv_timer_start(&e->resubmit, on_resubmit, 1, 0);
    if (more)
        df_engine_wake(e);
    if (engine_done(e))
        df_engine_close_handles(e);
}

void df_engine_wake(df_engine *e)
{
    if (e->tick_armed || !e->handles_open)
        return;
    e->tick_armed = true;
    uv_idle_start(&e->tick_idle, on_tick);
}

static void on_proc_escalate(uv_timer_t *h)
{
    df_proc_escalate();
    df_engine_record_procs(h->data); /* the groups tasks started, for a later takeover */
}

static void on_heartbeat(uv_timer_t *h)
{
    df_engine *e = h->data;
    int64_t now = df_now_ms();
    /* A database file deleted or replaced under the engine: stop rather than write into a file
     * no one can open again (SPEC §12). */
    if (!e->fatal && df_store_check_file(e->store) != DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
    for (size_t i = 0; i < e->n_runs; i++) {
        if (df_run_ended(e->runs[i]) || df_run_lease_is_lost(e->runs[i]) || df_engine_tx(e) != 0)
            continue;
        /* A compare-and-set on the owner, renewing the run's lease: an engine that was frozen
         * past its lease (or DF_HEARTBEAT_STALE_MS) and whose run was adopted or resumed
         * elsewhere learns here that it lost the run. */
        int rc = df_store_run_claim(e->store, df_run_id(e->runs[i]), &e->engine_info,
                                    &e->engine_info, now);
        if (rc == DF_STORE_CONFLICT)
            df_engine_run_lost(e, e->runs[i]);
        else if (rc != DF_STORE_OK)
            df_engine_fail(e, "%s", df_store_error(e->store));
    }
    /* Renewed now, not at the next tick's commit: a lease is as good as its last commit. */
    if (!e->fatal && e->in_tx)
        df_engine_commit(e);
    df_engine_wake(e);
}

static void on_stop_grace(uv_timer_t *h)
{
    df_engine *e = h->data;
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_abandon_in_flight(e->runs[i]);
    df_engine_wake(e);
}

/* ---- stop ---- */

/* Starts the graceful stop on the engine thread (once): every run's attempts are cancelled, those
 * that have not returned DF_STOP_GRACE_MS later are recorded without their result, and every run
 * ends INTERRUPTED. With no run in flight it only marks the engine stopping. */
static void engine_begin_stop(df_engine *e)
{
    if (e->stopping)
        return;
    e->stopping = true;
    if (!e->handles_open)
        return;
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_cancel_all(e->runs[i]);
    uv_timer_stop(&e->heartbeat);
    uv_timer_start(&e->heartbeat, on_stop_grace, DF_STOP_GRACE_MS, 0);
    df_engine_wake(e);
}

/* The second df_engine_stop: the engine records nothing more (fatal: the open transaction rolled
 * back, every run ends at once and stays RUNNING in the store), so that a program leaving now
 * (the CLI's second SIGINT) leaves every run resumable whatever its task processes do meanwhile.
 * Attempts in flight are not waited for. */
static void engine_halt(df_engine *e)
{
    if (e->halted)
        return;
    e->halted = true;
    df_engine_fail(e, "stopped at once (a second stop request): nothing more is recorded");
}

/* Acts on the df_engine_stop calls made so far. */
static void engine_check_stop(df_engine *e)
{
    int n = atomic_load(&e->stop_requests);
    if (n >= 1)
        engine_begin_stop(e);
    if (n >= 2)
        engine_halt(e);
}

static void on_stop_async(uv_async_t *h)
{
    engine_check_stop(h->data);
}

void df_engine_stop_init(df_engine *e)
{
    uv_async_init(&e->loop, &e->stop_async, on_stop_async);
    e->stop_async.data = e;
    uv_unref((uv_handle_t *)&e->stop_async);
}

/* An atomic add and uv_async_send, both async-signal-safe (libuv documents uv_async_send as
 * such): nothing here may lock or allocate. */
void df_engine_stop(df_engine *e)
{
    atomic_fetch_add(&e->stop_requests, 1);
    uv_async_send(&e->stop_async);
}

/* ---- the loop's handles, open while runs are in flight ---- */

int df_engine_start_pool(df_engine *e, df_errlist *errs)
{
    if (e->pool)
        return 0;
    char err[512];
    int rc = df_pool_create(&e->pool_cfg, on_pool_done, e, &e->pool, err, sizeof err);
    if (rc != 0)
        df_errlist_add(errs, "%s", err);
    return rc;
}

int df_engine_open_handles(df_engine *e, df_errlist *errs)
{
    if (e->handles_open)
        return 0;
    int rc = df_engine_start_pool(e, errs);
    if (rc != 0)
        return rc;
    uv_async_init(&e->loop, &e->inbox_async, on_inbox);
    e->inbox_async.data = e;
    pthread_mutex_lock(&e->inbox_mu);
    e->inbox_open = true;
    pthread_mutex_unlock(&e->inbox_mu);
    uv_idle_init(&e->loop, &e->tick_idle);
    e->tick_idle.data = e;
    uv_timer_init(&e->loop, &e->heartbeat);
    e->heartbeat.data = e;
    uv_timer_init(&e->loop, &e->resubmit);
    e->resubmit.data = e;
    long long beat = df_engine_lease_ms(e) / 3;
    beat = beat > DF_HEARTBEAT_MS ? DF_HEARTBEAT_MS : beat < 50 ? 50 : beat;
    uv_timer_start(&e->heartbeat, on_heartbeat, (uint64_t)beat, (uint64_t)beat);
    /* Children of tasks are killed from this thread too, whatever their worker is doing. */
    uv_timer_init(&e->loop, &e->proc_escalate);
    e->proc_escalate.data = e;
    uv_timer_start(&e->proc_escalate, on_proc_escalate, DF_PROC_ESCALATE_MS, DF_PROC_ESCALATE_MS);
    uv_unref((uv_handle_t *)&e->proc_escalate);
    df_engine_cancel_open(e);
    e->handles_open = true;
    df_engine_admission_open(e);
    if (e->cfg.executor_workers && (rc = df_remote_open(e, errs)) != 0) {
        df_engine_close_handles(e);
        return rc;
    }
    return 0;
}

static void close_free(uv_handle_t *h)
{
    free(h);
}

void df_engine_close_handles(df_engine *e)
{
    if (!e->handles_open)
        return;
    for (size_t i = 0; i < e->n_breakers; i++)
        if (e->breakers[i].timer) {
            uv_close((uv_handle_t *)e->breakers[i].timer, close_free);
            e->breakers[i].timer = NULL;
        }
    e->handles_open = false;
    pthread_mutex_lock(&e->inbox_mu);
    e->inbox_open = false;
    pthread_mutex_unlock(&e->inbox_mu);
    uv_close((uv_handle_t *)&e->inbox_async, NULL);
    uv_close((uv_handle_t *)&e->tick_idle, NULL);
    uv_close((uv_handle_t *)&e->heartbeat, NULL);
    uv_close((uv_handle_t *)&e->resubmit, NULL);
    uv_close((uv_handle_t *)&e->proc_escalate, NULL);
    df_engine_cancel_close(e);
    df_engine_admission_close(e);
    df_remote_close(e);
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_close_handles(e->runs[i]);
}

/* ---- waiting ---- */

static bool engine_all_ended(df_engine *e)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (!df_run_ended(e->runs[i]))
            return false;
    return true;
}

/* Runs the loop until r has ended and, once no run is left in flight, until the engine is idle
 * (its alerts delivered and its handles closed, which the tick does). */
static void engine_drive(df_engine *e, df_run *r)
{
    engine_check_stop(e); /* asked before this thread ran the loop */
    df_engine_wake(e);
    for (;;) {
        if (df_run_ended(r) && !(e->handles_open && engine_all_ended(e)))
            return;
        if (uv_run(&e->loop, UV_RUN_ONCE) == 0 && !e->handles_open && !df_run_ended(r))
            return; /* nothing left that could end it (not expected) */
    }
}

int df_engine_wait_run(df_engine *e, long long run_id, df_run_state *state, df_errlist *errs)
{
    *state = DF_RS_RUNNING;
    df_run *r = NULL;
    for (size_t i = 0; i < e->n_runs && !r; i++)
        if (df_run_id(e->runs[i]) == run_id)
            r = e->runs[i];
    if (!r) {
        df_errlist_add(errs, "run %lld was not started on this engine", run_id);
        return DF_ENOTFOUND;
    }
    engine_drive(e, r);
    /* The run's history goes into the database file itself (SPEC §12), unless that file is gone
     * (then the engine stops as on any store failure). */
    if (!e->halted && !e->fatal && df_store_check_file(e->store) != DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
    else if (!e->halted && !e->fatal && df_run_ended(r))
        df_store_checkpoint(e->store, NULL);
    *state = df_run_final_state(r);
    if (e->halted) {
        df_errlist_add(errs,
                       "run %lld stopped at once: it stays RUNNING; continue it with `dagflow "
                       "resume %lld`",
                       run_id, run_id);
        return DF_EINTERRUPTED;
    }
    if (e->fatal) {
        df_errlist_add(errs, "%s", e->fatal_msg);
        if (!e->taken_over)
            df_errlist_add(errs, "run %lld stopped; fix the cause, then `dagflow resume %lld`",
                           run_id, run_id);
        return e->taken_over ? DF_ECONFLICT : DF_ESTORE;
    }
    if (!df_run_ended(r)) {
        df_errlist_add(errs, "internal error: run %lld stopped advancing", run_id);
        return DF_EINTERNAL;
    }
    if (*state == DF_RS_INTERRUPTED)
        return DF_EINTERRUPTED;
    return 0;
}
