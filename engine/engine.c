/* engine: the engine process around the runs — the libuv loop of the engine thread, the coroutine
 * pool and its completion inbox, the store connection with group commit, the alert outbox, the
 * named pools' slots, the heartbeat, and graceful stop on SIGINT/SIGTERM. The run lifecycle
 * itself is scheduler.c's. */
#include "engine_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "proc.h"

#define DF_HEARTBEAT_MS 5000
#define DF_STOP_GRACE_MS 5000

/* Most tasks one tick evaluates, and most it starts, before it commits and hands the started
 * ones to the pool. One tick for 10,000 ready tasks would record them all before the first one
 * starts and leave their results to come back all at once; slices let the first attempts run,
 * and their results be recorded, while later ones are still being started. 10,000 sleeps of
 * 1 s (tests/bench/bench_run.sh sleep-10000, medians of 6 runs, interleaved): 1.46 s in one
 * tick; 1.34 s, 1.35 s, 1.34 s and 1.32 s with slices of 128, 256, 512 and 1,024. */
#define DF_TICK_SLICE 512

void df_engine_config_default(df_engine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->db_path = "./dagflow.db";
    cfg->concurrency = 256;
    df_pool_config_default(&cfg->pool);
}

void df_engine_fail(df_engine *e, const char *fmt, ...)
{
    if (e->fatal)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->fatal_msg, sizeof e->fatal_msg, fmt, ap);
    va_end(ap);
    e->fatal = true;
    if (e->in_tx) {
        df_store_rollback(e->store);
        e->in_tx = false;
    }
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_cancel_all(e->runs[i]);
    df_engine_wake(e);
}

void df_engine_taken_over(df_engine *e, long long run_id)
{
    if (e->fatal)
        return;
    df_engine_fail(e,
                   "run %lld was taken over by another engine (its heartbeat was older than "
                   "%d s, so `dagflow resume` treated this engine as dead); this engine stops and "
                   "leaves the run to the other one",
                   run_id, DF_HEARTBEAT_STALE_MS / 1000);
    e->taken_over = true;
}

int df_engine_tx(df_engine *e)
{
    if (e->fatal)
        return -1;
    if (e->in_tx)
        return 0;
    if (df_store_begin(e->store) != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return -1;
    }
    e->in_tx = true;
    return 0;
}

/* Commits the group-commit transaction, then starts delivering the alerts it recorded.
 * Returns 0, or -1 when the engine is (or became) fatal. */
int df_engine_commit(df_engine *e)
{
    if (e->fatal)
        return -1;
    if (e->in_tx) {
        if (df_store_commit(e->store) != DF_STORE_OK) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            return -1;
        }
        e->in_tx = false;
    }
    while (e->outbox_head) {
        df_outbox_item *it = e->outbox_head;
        e->outbox_head = it->next;
        if (!e->outbox_head)
            e->outbox_tail = &e->outbox_head;
        if (df_alerts_deliver(e->alerts, it->alert_id, it->sink, it->dir, it->payload, it->tries) !=
            0)
            df_engine_fail(e, "alerts: out of memory");
        free(it->dir);
        free(it->payload);
        free(it);
    }
    return 0;
}

int df_engine_raise_alert(df_engine *e, long long run_id, const df_workflow *wf, const char *event,
                          const char *task_id, const char *state, const char *error,
                          unsigned attempt)
{
    size_t n = json_array_size(wf->alerts);
    if (n == 0)
        return 0;
    int64_t now = df_now_ms();
    /* The error goes into the JSON and into a command sink's environment: keep it short. */
    char short_error[DF_ALERT_ERROR_MAX + 1];
    if (error)
        error = df_utf8_cut(error, short_error, sizeof short_error);
    json_t *payload =
        df_alert_payload(event, run_id, wf->name, task_id, state, error, attempt, now);
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (!text) {
        df_engine_fail(e, "alerts: out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const json_t *sink = json_array_get(wf->alerts, i);
        if (!df_alert_sink_wants(sink, event))
            continue;
        if (df_engine_tx(e) != 0) {
            rc = -1;
            break;
        }
        char *desc = df_alert_sink_describe(sink);
        long long id = 0;
        if (df_store_alert_add(e->store, run_id, task_id, event, desc ? desc : "?", (int)i, text,
                               now, &id) != DF_STORE_OK) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            rc = -1;
        } else {
            df_outbox_item *it = calloc(1, sizeof *it);
            if (it && (it->dir = strdup(wf->dir)) && (it->payload = strdup(text))) {
                it->alert_id = id;
                it->sink = sink;
                *e->outbox_tail = it;
                e->outbox_tail = &it->next;
            } else {
                if (it) {
                    free(it->dir);
                    free(it);
                }
                df_engine_fail(e, "alerts: out of memory");
                rc = -1;
            }
        }
        free(desc);
    }
    free(text);
    df_engine_wake(e);
    return rc;
}

int df_engine_redeliver_alert(df_engine *e, const df_workflow *wf, long long alert_id,
                              int sink_index, const char *payload, int tries)
{
    const json_t *sink = json_array_get(wf->alerts, (size_t)sink_index);
    if (!sink)
        return 0;
    df_outbox_item *it = calloc(1, sizeof *it);
    if (!it || !(it->dir = strdup(wf->dir)) || !(it->payload = strdup(payload))) {
        if (it)
            free(it->dir);
        free(it);
        return -1;
    }
    it->alert_id = alert_id;
    it->sink = sink;
    it->tries = tries;
    *e->outbox_tail = it;
    e->outbox_tail = &it->next;
    df_engine_wake(e);
    return 0;
}

static void on_alert_outcome(void *ud, long long alert_id, df_alert_status status, int tries,
                             int64_t delivered_at, const char *error)
{
    df_engine *e = ud;
    if (df_engine_tx(e) != 0)
        return;
    if (df_store_alert_update(e->store, alert_id, status, tries, delivered_at, error) !=
        DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
    df_engine_wake(e);
}

void df_engine_emit(df_engine *e, const df_engine_event *ev)
{
    if (e->cfg.on_event)
        e->cfg.on_event(e->cfg.ud, ev);
}

df_slot_pool *df_engine_slot_pool(df_engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_slot_pools; i++)
        if (strcmp(e->slot_pools[i].name, name) == 0)
            return &e->slot_pools[i];
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

/* Registers the workflow's breakers; an existing one keeps its settings and state. */
static int engine_add_breakers(df_engine *e, const df_workflow *wf)
{
    for (size_t i = 0; i < wf->n_breakers; i++) {
        if (df_engine_breaker_find(e, wf->breakers[i].name))
            continue;
        df_engine_breaker *g = realloc(e->breakers, (e->n_breakers + 1) * sizeof *g);
        if (!g)
            return -1;
        e->breakers = g;
        g[e->n_breakers].timer = NULL;
        if (!(g[e->n_breakers].b = df_breaker_new(&wf->breakers[i])))
            return -1;
        e->n_breakers++;
    }
    return 0;
}

/* Registers the workflow's pools; an existing pool keeps its slot count (first run wins). */
static int engine_add_pools(df_engine *e, const df_workflow *wf)
{
    for (size_t i = 0; i < wf->n_pools; i++) {
        if (df_engine_slot_pool(e, wf->pools[i].name))
            continue;
        df_slot_pool *g = realloc(e->slot_pools, (e->n_slot_pools + 1) * sizeof *g);
        if (!g)
            return -1;
        e->slot_pools = g;
        df_slot_pool *p = &g[e->n_slot_pools];
        if (!(p->name = strdup(wf->pools[i].name)))
            return -1;
        p->slots = wf->pools[i].slots;
        p->used = 0;
        e->n_slot_pools++;
    }
    return 0;
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

static void engine_close_handles(df_engine *e);

static bool engine_done(df_engine *e)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (!df_run_ended(e->runs[i]))
            return false;
    /* Stopping (a signal) or failed: alerts still being delivered stay "pending" in the store
     * and `dagflow resume` delivers them. */
    if (e->fatal || e->stopping)
        return true;
    return df_alerts_busy(e->alerts) == 0 && e->outbox_head == NULL;
}

/* One tick: everything the last callbacks changed, the next dispatches and any run's end go into
 * one transaction; only after it commits are the dispatched attempts handed to the pool (an
 * attempt's RUNNING state, and the upstream SUCCESS that made it ready, are durable before it
 * starts) and the recorded alerts delivered. */
static void on_resubmit(uv_timer_t *h)
{
    df_engine_wake(h->data);
}

static void on_tick(uv_idle_t *h)
{
    df_engine *e = h->data;
    uv_idle_stop(&e->tick_idle);
    e->tick_armed = false;
    bool more = false;
    for (size_t i = 0; i < e->n_runs; i++)
        if (!e->stopping && !df_run_ended(e->runs[i])) {
            more |= df_run_evaluate(e->runs[i], DF_TICK_SLICE);
            more |= df_run_dispatch(e->runs[i], DF_TICK_SLICE);
        }
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_check_end(e->runs[i]);
    if (df_engine_commit(e) == 0)
        for (size_t i = 0; i < e->n_runs; i++)
            df_run_submit(e->runs[i]);
    /* The pool's queue was full: it drains as soon as workers pick jobs up, which sends no event
     * back, so look again shortly rather than at the next completion. */
    bool waiting = false;
    for (size_t i = 0; i < e->n_runs; i++)
        waiting |= df_run_waiting_for_pool(e->runs[i]);
    if (waiting && e->handles_open && !uv_is_active((uv_handle_t *)&e->resubmit))
        uv_timer_start(&e->resubmit, on_resubmit, 1, 0);
    if (more)
        df_engine_wake(e);
    if (engine_done(e))
        engine_close_handles(e);
}

void df_engine_wake(df_engine *e)
{
    if (e->tick_armed || !e->handles_open)
        return;
    e->tick_armed = true;
    uv_idle_start(&e->tick_idle, on_tick);
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
        if (df_run_ended(e->runs[i]) || df_engine_tx(e) != 0)
            continue;
        /* A compare-and-set on the owner: an engine that was frozen past DF_HEARTBEAT_STALE_MS
         * and whose run was resumed elsewhere learns here that it lost the run. */
        int rc = df_store_run_claim(e->store, df_run_id(e->runs[i]), &e->engine_info,
                                    &e->engine_info, now);
        if (rc == DF_STORE_CONFLICT)
            df_engine_taken_over(e, df_run_id(e->runs[i]));
        else if (rc != DF_STORE_OK)
            df_engine_fail(e, "%s", df_store_error(e->store));
    }
    df_engine_wake(e);
}

static void on_stop_grace(uv_timer_t *h)
{
    df_engine *e = h->data;
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_abandon_in_flight(e->runs[i]);
    df_engine_wake(e);
}

static void on_signal(uv_signal_t *h, int signum)
{
    df_engine *e = h->data;
    if (e->stopping) {
        /* Second signal: leave at once. The children's process groups go with us (no process
         * is left behind); the run stays RUNNING with a dead engine, so it can be resumed. */
        df_proc_kill_all_now();
        for (size_t i = 0; i < e->n_runs; i++) {
            df_engine_event ev = {.run_id = df_run_id(e->runs[i]),
                                  .run_state = DF_RS_INTERRUPTED,
                                  .error = "second signal: stopped at once"};
            df_engine_emit(e, &ev);
        }
        _exit(130);
    }
    (void)signum;
    e->stopping = true;
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_cancel_all(e->runs[i]);
    uv_timer_stop(&e->heartbeat);
    uv_timer_start(&e->heartbeat, on_stop_grace, DF_STOP_GRACE_MS, 0);
    df_engine_wake(e);
}

static int engine_open_handles(df_engine *e, char *err, size_t errlen)
{
    if (e->handles_open)
        return 0;
    if (!e->pool) {
        int rc = df_pool_create(&e->cfg.pool, on_pool_done, e, &e->pool, err, errlen);
        if (rc != 0)
            return -1;
    }
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
    uv_timer_start(&e->heartbeat, on_heartbeat, DF_HEARTBEAT_MS, DF_HEARTBEAT_MS);
    uv_signal_init(&e->loop, &e->sig_int);
    e->sig_int.data = e;
    uv_signal_start(&e->sig_int, on_signal, SIGINT);
    uv_signal_init(&e->loop, &e->sig_term);
    e->sig_term.data = e;
    uv_signal_start(&e->sig_term, on_signal, SIGTERM);
    e->handles_open = true;
    return 0;
}

static void close_free(uv_handle_t *h)
{
    free(h);
}

static void engine_close_handles(df_engine *e)
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
    uv_close((uv_handle_t *)&e->sig_int, NULL);
    uv_close((uv_handle_t *)&e->sig_term, NULL);
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_close_handles(e->runs[i]);
}

/* ---- open / close ---- */

/* Process-wide limits a workflow engine needs: every task in flight may hold several file
 * descriptors (pipes, sockets), so the soft RLIMIT_NOFILE is raised toward the hard limit; and
 * df_task_run_blocking runs on libuv's thread pool, 4 threads unless UV_THREADPOOL_SIZE says
 * otherwise, which is raised to 16 when the user has not set it. */
static void raise_process_limits(void)
{
    struct rlimit rl;
    /* Capped at 65536: children inherit it, and some programs walk every possible fd. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (!getenv("UV_THREADPOOL_SIZE"))
        setenv("UV_THREADPOOL_SIZE", "16", 0);
}

int df_engine_open(const df_engine_config *cfg, df_engine **out, char *err, size_t errlen)
{
    raise_process_limits();
    *out = NULL;
    df_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->cfg = *cfg;
    if (e->cfg.concurrency == 0)
        e->cfg.concurrency = 256;
    e->cfg.on_event = cfg->on_event;
    e->outbox_tail = &e->outbox_head;
    /* Retry jitter draws from drand48: a different sequence in every engine process. */
    srand48((long)df_now_ms() ^ ((long)getpid() << 16));
    pthread_mutex_init(&e->inbox_mu, NULL);
    if (uv_loop_init(&e->loop) != 0) {
        snprintf(err, errlen, "cannot create the event loop");
        free(e);
        return -1;
    }
    e->plugins = df_plugin_registry_new(cfg->plugin_dirs, cfg->n_plugin_dirs);
    e->alerts = df_alerts_new(&e->loop, on_alert_outcome, e);
    if (!e->plugins || !e->alerts) {
        snprintf(err, errlen, "out of memory");
        df_engine_close(e);
        return -1;
    }
    gethostname(e->engine_host, sizeof e->engine_host - 1);
    e->engine_info =
        (df_engine_id){.pid = getpid(), .host = e->engine_host, .started_at = df_now_ms()};
    *out = e;
    return 0;
}

size_t df_engine_close(df_engine *e)
{
    if (!e)
        return 0;
    size_t left = 0;
    engine_close_handles(e);
    df_alerts_close(e->alerts);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    /* Attempts still in flight get the grace period to see their cancellation; when none is
     * (the pool may still hold abandoned ones, stuck in plugins that ignored their deadline and
     * already recorded TIMED_OUT), nothing is worth waiting for. */
    if (e->pool)
        left = df_pool_destroy(e->pool, e->in_flight > 0 ? DF_STOP_GRACE_MS : 0);
    /* Results that arrived after the loop stopped. */
    df_job_result *res = e->inbox_head;
    while (res) {
        df_job_result *next = res->next;
        df_attempt_rec *rec = res->user;
        if (rec && !rec->abandoned)
            free(rec);
        df_job_result_free(res);
        res = next;
    }
    while (e->abandoned) {
        df_attempt_rec *next = e->abandoned->next_abandoned;
        free(e->abandoned);
        e->abandoned = next;
    }
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_free(e->runs[i]);
    free(e->runs);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
    while (e->outbox_head) {
        df_outbox_item *o = e->outbox_head;
        e->outbox_head = o->next;
        free(o->dir);
        free(o->payload);
        free(o);
    }
    e->outbox_tail = &e->outbox_head;
    for (size_t i = 0; i < e->n_slot_pools; i++)
        free(e->slot_pools[i].name);
    free(e->slot_pools);
    for (size_t i = 0; i < e->n_breakers; i++)
        df_breaker_free(e->breakers[i].b);
    free(e->breakers);
    if (e->in_tx && e->store)
        df_store_rollback(e->store);
    if (e->store)
        df_store_checkpoint(e->store, NULL); /* what a reader held at the run's end */
    df_store_close(e->store);
    df_plugin_registry_left_behind(e->plugins, left); /* then no fini: plugin code may run */
    df_plugin_registry_free(e->plugins);
    pthread_mutex_destroy(&e->inbox_mu);
    free(e);
    return left;
}

/* Opens the store on first use, so that input that cannot be loaded never creates a database. */
static int engine_store(df_engine *e, df_errlist *errs)
{
    if (e->store)
        return 0;
    char err[1024];
    if (df_store_open(e->cfg.db_path, &e->store, err, sizeof err) != DF_STORE_OK) {
        if (strstr(err, e->cfg.db_path))
            df_errlist_add(errs, "%s", err);
        else
            df_errlist_add(errs, "%s: %s", e->cfg.db_path, err);
        return -1;
    }
    return 0;
}

/* ---- driving runs ---- */

static int engine_add_run(df_engine *e, df_run *r)
{
    df_run **g = realloc(e->runs, (e->n_runs + 1) * sizeof *g);
    if (!g)
        return -1;
    e->runs = g;
    e->runs[e->n_runs++] = r;
    return 0;
}

/* Runs the loop until every run has ended; maps the outcome to a status. */
static df_engine_status engine_drive(df_engine *e, df_run *r, df_run_state *state, df_errlist *errs)
{
    df_engine_wake(e);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    /* The run's history goes into the database file itself (SPEC §12), unless that file is gone. */
    if (!e->fatal && df_store_check_file(e->store) != DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
    else
        df_store_checkpoint(e->store, NULL);
    *state = df_run_final_state(r);
    if (e->fatal) {
        df_errlist_add(errs, "%s", e->fatal_msg);
        if (!e->taken_over)
            df_errlist_add(errs, "run %lld stopped; fix the cause, then `dagflow resume %lld`",
                           df_run_id(r), df_run_id(r));
        return DF_ENGINE_ESTORE;
    }
    if (*state == DF_RS_INTERRUPTED)
        return DF_ENGINE_INTERRUPTED;
    return DF_ENGINE_OK;
}

/* Merges the workflow's params with overrides; unknown names are errors. New object or NULL. */
static json_t *merge_params(const df_workflow *wf, const json_t *overrides, df_errlist *errs)
{
    json_t *p = json_deep_copy(wf->params);
    if (!p)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)overrides, k, v)
    {
        if (!json_object_get(wf->params, k)) {
            df_errlist_add(errs, "%s: --param %s: the workflow declares no param \"%s\"", wf->path,
                           k, k);
            continue;
        }
        json_object_set(p, k, v);
    }
    return p;
}

/* A new run as the store records it (rec), with the storage rec borrows from. */
typedef struct run_record {
    df_run_record rec;
    df_task_record *tasks;
    df_plugin_version *plugins;
    char *dag_json, *params_json;
} run_record;

static void run_record_free(run_record *r)
{
    free(r->tasks);
    free(r->plugins);
    free(r->dag_json);
    free(r->params_json);
}

/* Fills r with the record of a new run of wf (borrowing from wf, plugins and e). Returns 0, or
 * -1 when out of memory (r is still to be freed with run_record_free). */
static int run_record_init(run_record *r, df_engine *e, const df_workflow *wf, const json_t *params,
                           const df_plugin **plugins)
{
    memset(r, 0, sizeof *r);
    size_t n = wf->n_tasks;
    r->tasks = calloc(n ? n : 1, sizeof *r->tasks);
    r->plugins = calloc(n ? n : 1, sizeof *r->plugins);
    r->dag_json = json_dumps(wf->doc, JSON_COMPACT | JSON_ENCODE_ANY);
    r->params_json = json_dumps(params, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!r->tasks || !r->plugins || !r->dag_json || !r->params_json)
        return -1;
    size_t n_plugins = 0;
    for (size_t i = 0; i < n; i++) {
        const df_task_def *t = &wf->tasks[i];
        r->tasks[i] = (df_task_record){.id = t->id,
                                       .plugin = t->plugin,
                                       .depends_on = t->upstream,
                                       .n_depends_on = t->n_upstream};
        if (plugins[i])
            r->plugins[n_plugins++] =
                (df_plugin_version){.name = plugins[i]->name, .version = plugins[i]->unit->version};
    }
    r->rec = (df_run_record){.workflow = wf->name,
                             .dag_json = r->dag_json,
                             .path = wf->path,
                             .dir = wf->dir,
                             .params_json = r->params_json,
                             .plugins = r->plugins,
                             .n_plugins = n_plugins,
                             .started_at = df_now_ms(),
                             .engine = &e->engine_info,
                             .tasks = r->tasks,
                             .n_tasks = n};
    return 0;
}

df_engine_status df_engine_run_file(df_engine *e, const char *path, const json_t *overrides,
                                    long long *run_id, df_run_state *state, df_errlist *errs)
{
    *run_id = 0;
    *state = DF_RS_RUNNING;
    df_workflow *wf = NULL;
    if (df_workflow_load_file(path, &wf, errs) != 0) {
        df_plugin_check_raw(e->plugins, path, errs); /* every error in the file at once */
        return DF_ENGINE_EINPUT;
    }
    size_t before = errs->n;
    json_t *params = merge_params(wf, overrides ? overrides : json_object(), errs);
    const df_plugin **plugins = calloc(wf->n_tasks ? wf->n_tasks : 1, sizeof *plugins);
    unsigned char *invalid = calloc(wf->n_tasks ? wf->n_tasks : 1, 1);
    df_errlist rejected = {0};
    df_engine_status st = DF_ENGINE_OK;
    if (!params || !plugins || !invalid) {
        df_errlist_add(errs, "out of memory");
        st = DF_ENGINE_EINTERNAL;
        goto fail;
    }
    if (errs->n != before) {
        st = DF_ENGINE_EINPUT;
        goto fail;
    }
    if (df_workflow_check_plugins(e->plugins, wf, params, 0, plugins, invalid, errs, &rejected) !=
        0) {
        st = DF_ENGINE_EINPUT;
        goto fail;
    }
    if (engine_add_pools(e, wf) != 0 || engine_add_breakers(e, wf) != 0) {
        df_errlist_add(errs, "out of memory");
        st = DF_ENGINE_EINTERNAL;
        goto fail;
    }
    if (engine_store(e, errs) != 0) {
        st = DF_ENGINE_ESTORE;
        goto fail;
    }
    /* The pool before the run: a pool that cannot start (threads, memory, file descriptors)
     * leaves no run behind that nothing will ever run. */
    char perr[512];
    if (!e->pool && df_pool_create(&e->cfg.pool, on_pool_done, e, &e->pool, perr, sizeof perr)) {
        df_errlist_add(errs, "%s", perr);
        st = DF_ENGINE_EINTERNAL;
        goto fail;
    }
    run_record rec;
    bool built = run_record_init(&rec, e, wf, params, plugins) == 0;
    int rc = built ? df_store_create_run(e->store, &rec.rec, run_id) : DF_STORE_ERROR;
    run_record_free(&rec);
    if (rc != DF_STORE_OK) {
        df_errlist_add(errs, "%s", built ? df_store_error(e->store) : "out of memory");
        st = DF_ENGINE_ESTORE;
        goto fail;
    }
    for (size_t i = 0; i < rejected.n; i++)
        df_errlist_add(errs, "%s", rejected.msgs[i]);

    char err[1024];
    df_run *r = df_run_new(e, *run_id, wf, plugins, params);
    if (!r || engine_add_run(e, r) != 0) {
        df_run_free(r);
        df_errlist_add(errs, "out of memory");
        free(invalid);
        df_errlist_clear(&rejected);
        return DF_ENGINE_EINTERNAL;
    }
    if (engine_open_handles(e, err, sizeof err) != 0) {
        df_errlist_add(errs, "%s", err);
        free(invalid);
        df_errlist_clear(&rejected);
        return DF_ENGINE_EINTERNAL;
    }
    df_run_mark_invalid(r, invalid, (const char *const *)rejected.msgs);
    free(invalid);
    df_errlist_clear(&rejected);
    df_run_start(r);
    return engine_drive(e, r, state, errs);

fail:
    df_errlist_clear(&rejected);
    json_decref(params);
    free(plugins);
    free(invalid);
    df_workflow_free(wf);
    return st;
}

/* Loads a stored run and rebuilds its workflow from the stored DAG. */
static df_engine_status engine_load_stored(df_engine *e, long long run_id,
                                           df_stored_run **loaded_out, df_run **run_out,
                                           df_errlist *errs)
{
    df_stored_run *loaded = NULL;
    if (engine_store(e, errs) != 0)
        return DF_ENGINE_ESTORE;
    int rc = df_store_load_run(e->store, run_id, &loaded);
    if (rc == DF_STORE_NOTFOUND) {
        df_errlist_add(errs, "no run %lld in %s", run_id, e->cfg.db_path);
        return DF_ENGINE_EREFUSED;
    }
    if (rc != DF_STORE_OK) {
        df_errlist_add(errs, "%s", df_store_error(e->store));
        return DF_ENGINE_ESTORE;
    }
    df_workflow *wf = NULL;
    /* JSON_ALLOW_NUL: a document may hold "\u0000", which jansson refuses by default. */
    json_t *dag = json_loads(loaded->dag_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!dag)
        df_errlist_add(errs, "run %lld: its stored DAG is not valid JSON", run_id);
    if (!dag || df_workflow_load_json(dag, loaded->path ? loaded->path : "<stored>",
                                      loaded->dir ? loaded->dir : ".", &wf, errs) != 0) {
        json_decref(dag);
        df_stored_run_free(loaded);
        return DF_ENGINE_EINPUT;
    }
    json_decref(dag);
    const df_plugin **plugins = calloc(wf->n_tasks ? wf->n_tasks : 1, sizeof *plugins);
    json_t *params = json_loads(loaded->params_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    char err[2048];
    for (size_t i = 0; plugins && i < wf->n_tasks; i++)
        if (df_plugin_get(e->plugins, wf->tasks[i].plugin, wf->dir, &plugins[i], err, sizeof err) !=
            0)
            df_errlist_add(errs, "run %lld: task \"%s\": %s", run_id, wf->tasks[i].id, err);
    if (!plugins || !params || errs->n) {
        if (!plugins || !params)
            df_errlist_add(errs, "out of memory");
        free(plugins);
        json_decref(params);
        df_workflow_free(wf);
        df_stored_run_free(loaded);
        return DF_ENGINE_EINPUT;
    }
    if (engine_add_pools(e, wf) != 0 || engine_add_breakers(e, wf) != 0) {
        free(plugins);
        json_decref(params);
        df_workflow_free(wf);
        df_stored_run_free(loaded);
        df_errlist_add(errs, "out of memory");
        return DF_ENGINE_EINTERNAL;
    }
    df_run *r = df_run_new(e, run_id, wf, plugins, params ? params : json_object());
    if (!r || engine_add_run(e, r) != 0) {
        df_run_free(r);
        df_stored_run_free(loaded);
        df_errlist_add(errs, "out of memory");
        return DF_ENGINE_EINTERNAL;
    }
    *loaded_out = loaded;
    *run_out = r;
    return DF_ENGINE_OK;
}

/* resume and retry: load the stored run, let the scheduler prepare it (task NULL and retry false:
 * resume), then drive it to its end. */
static df_engine_status engine_reopen(df_engine *e, long long run_id, bool retry, const char *task,
                                      df_run_state *state, df_errlist *errs)
{
    *state = DF_RS_RUNNING;
    df_stored_run *loaded = NULL;
    df_run *r = NULL;
    df_engine_status st = engine_load_stored(e, run_id, &loaded, &r, errs);
    if (st != DF_ENGINE_OK)
        return st;
    char err[1024];
    err[0] = '\0';
    int rc = retry ? df_run_retry_prepare(r, loaded, task, err, sizeof err)
                   : df_run_resume_prepare(r, loaded, err, sizeof err);
    df_stored_run_free(loaded);
    if (rc != 0) {
        df_errlist_add(errs, "%s", err[0] ? err : e->fatal_msg);
        return rc == -2 ? DF_ENGINE_ESTORE : DF_ENGINE_EREFUSED;
    }
    if (engine_open_handles(e, err, sizeof err) != 0) {
        df_errlist_add(errs, "%s", err);
        return DF_ENGINE_EINTERNAL;
    }
    df_run_start(r);
    return engine_drive(e, r, state, errs);
}

df_engine_status df_engine_resume(df_engine *e, long long run_id, df_run_state *state,
                                  df_errlist *errs)
{
    return engine_reopen(e, run_id, false, NULL, state, errs);
}

df_engine_status df_engine_retry(df_engine *e, long long run_id, const char *task,
                                 df_run_state *state, df_errlist *errs)
{
    return engine_reopen(e, run_id, true, task, state, errs);
}
