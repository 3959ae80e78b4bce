/* remote: see remote.h. The engine stays the single writer of task states and attempts: a
 * worker's outcome reaches the history only when this engine collects it (deleting its queue row
 * in the group-commit transaction that records it), and a lost lease is recorded here too. */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/work.h"
#include "clock.h"

#define DF_REMOTE_POLL_MS 200      /* fallback look for outcomes when no notification comes */
#define DF_REMOTE_EXPIRE_MS 500    /* how often expired leases are looked for */
#define DF_REMOTE_COLLECT_MAX 1024 /* outcomes per statement */

struct df_remote {
    df_work_item *items; /* gathered by df_remote_submit; params owned */
    size_t n, cap;
    long long *runs;
    size_t runs_cap;
    uv_poll_t poll;
    int fd;
    bool poll_open, poll_closing, timer_open;
    uv_timer_t timer;
    uint64_t last_expire;
};

static df_remote *remote_of(df_engine *e)
{
    if (!e->remote)
        e->remote = calloc(1, sizeof *e->remote);
    return e->remote;
}

int df_remote_submit(df_run *r, df_attempt_rec *rec, size_t task_index, long long map_index,
                     json_t *params)
{
    df_remote *q = remote_of(r->e);
    char *text = json_dumps(params, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(params);
    if (!q || !text) {
        free(text);
        return DF_ENOMEM;
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        df_work_item *items = realloc(q->items, cap * sizeof *items);
        if (!items) {
            free(text);
            return DF_ENOMEM;
        }
        q->items = items;
        q->cap = cap;
    }
    const df_task_def *d = &r->wf->tasks[task_index];
    q->items[q->n++] = (df_work_item){.queue = d->queue ? d->queue : "default",
                                      .run_id = r->id,
                                      .unit = (long long)rec->task,
                                      .attempt = rec->attempt,
                                      .task_id = d->id,
                                      .map_index = map_index,
                                      .plugin = d->plugin,
                                      .params = text,
                                      .workdir = r->wf->dir};
    rec->remote = true;
    rec->enq_us = df_mono_us();
    return 0;
}

/* The ids of the runs still going, in q->runs; how many. */
static size_t live_runs(df_engine *e, df_remote *q)
{
    if (q->runs_cap < e->n_runs) {
        long long *v = realloc(q->runs, e->n_runs * sizeof *v);
        if (!v)
            return 0;
        q->runs = v;
        q->runs_cap = e->n_runs;
    }
    size_t n = 0;
    for (size_t i = 0; i < e->n_runs; i++)
        if (!df_run_ended(e->runs[i]))
            q->runs[n++] = df_run_id(e->runs[i]);
    return n;
}

/* The attempt record of an outcome, if it is still the one this engine waits for. */
static df_attempt_rec *find_rec(df_engine *e, const df_work_outcome *o, df_run **run)
{
    for (size_t i = 0; i < e->n_runs; i++) {
        df_run *r = e->runs[i];
        if (df_run_id(r) != o->run_id)
            continue;
        df_task_io *io = o->unit >= 0 ? df_run_io(r, (size_t)o->unit) : NULL;
        df_attempt_rec *rec = io ? io->rec : NULL;
        if (!rec || !rec->remote || rec->abandoned || rec->attempt != o->attempt)
            return NULL;
        *run = r;
        return rec;
    }
    return NULL;
}

static void apply_outcome(df_engine *e, df_work_outcome *o)
{
    df_run *r;
    df_attempt_rec *rec = find_rec(e, o, &r);
    if (!rec)
        return; /* an attempt this engine no longer waits for (recorded, or another run's) */
    df_job_result *res = calloc(1, sizeof *res);
    if (!res) {
        df_engine_fail(e, "out of memory");
        return;
    }
    res->status = o->status;
    res->result = o->result ? json_loads(o->result, JSON_DECODE_ANY, NULL) : NULL;
    res->error = o->error;
    res->log = o->log;
    o->error = o->log = NULL;
    res->started_mono_us = rec->enq_us + (uint64_t)(o->wait_ms > 0 ? o->wait_ms : 0) * 1000;
    res->started_mono_ms = res->started_mono_us / 1000;
    res->ended_mono_ms = df_mono_ms();
    res->user = rec;
    df_run_on_result(e, res);
}

static void apply_lost(df_engine *e, const df_work_outcome *o)
{
    df_run *r;
    df_attempt_rec *rec = find_rec(e, o, &r);
    if (!rec)
        return;
    df_run_io(r, rec->task)->rec = NULL;
    char why[512];
    if (o->charged)
        snprintf(why, sizeof why,
                 "lost: this task's plugin code crashed its worker %s during this attempt",
                 o->worker ? o->worker : "?");
    else
        snprintf(why, sizeof why,
                 "lost: its worker %s did not renew its lease in time (killed, paused or cut off "
                 "from the database); queued again",
                 o->worker ? o->worker : "?");
    df_run_clock clk = df_run_now();
    df_run_core_lost(r->core, rec->task, rec->attempt, why, o->charged, &clk);
    df_run_perform(r);
    free(rec);
}

/* Collects finished attempts (and, every DF_REMOTE_EXPIRE_MS, expired leases) into the open
 * transaction, then asks for a tick to commit them. */
static void collect(df_engine *e, bool expire)
{
    df_remote *q = e->remote;
    if (!q || e->fatal)
        return;
    size_t nr = live_runs(e, q);
    if (nr == 0)
        return;
    for (;;) {
        df_work_outcome *o = NULL;
        size_t n = 0;
        if (df_engine_tx(e) != 0)
            return;
        if (df_store_work_collect(e->store, q->runs, nr, DF_REMOTE_COLLECT_MAX, &o, &n) !=
            DF_STORE_OK) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            return;
        }
        for (size_t k = 0; k < n; k++)
            apply_outcome(e, &o[k]);
        df_work_outcomes_free(o, n);
        if (n < DF_REMOTE_COLLECT_MAX)
            break;
    }
    if (expire) {
        df_work_outcome *o = NULL;
        size_t n = 0;
        q->last_expire = df_mono_ms();
        if (df_store_work_expire(e->store, q->runs, nr, &o, &n) != DF_STORE_OK) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            return;
        }
        for (size_t k = 0; k < n; k++)
            apply_lost(e, &o[k]);
        df_work_outcomes_free(o, n);
    }
    df_engine_wake(e);
}

static void on_poll_closed(uv_handle_t *h)
{
    df_remote *q = h->data;
    q->poll_closing = false;
}

static void on_notify(uv_poll_t *h, int status, int events);

/* Watches the connection's socket for notifications (it changes after a reconnection). */
static void watch_fd(df_engine *e)
{
    df_remote *q = e->remote;
    int fd = df_store_work_fd(e->store);
    if (!e->handles_open || q->poll_closing || (q->poll_open && fd == q->fd))
        return;
    if (q->poll_open) {
        uv_poll_stop(&q->poll);
        q->poll_open = false;
        q->poll_closing = true;
        q->poll.data = q;
        uv_close((uv_handle_t *)&q->poll, on_poll_closed);
        return;
    }
    if (fd < 0 || uv_poll_init(&e->loop, &q->poll, fd) != 0)
        return;
    q->poll.data = e;
    q->fd = fd;
    q->poll_open = true;
    uv_poll_start(&q->poll, UV_READABLE, on_notify);
    uv_unref((uv_handle_t *)&q->poll);
}

static void on_notify(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    df_engine *e = h->data;
    if (df_store_work_notified(e->store) > 0)
        collect(e, false);
}

static void on_timer(uv_timer_t *h)
{
    df_engine *e = h->data;
    df_store_work_notified(e->store);
    collect(e, df_mono_ms() - e->remote->last_expire >= DF_REMOTE_EXPIRE_MS);
    watch_fd(e);
}

void df_remote_flush(df_engine *e)
{
    df_remote *q = e->remote;
    if (!q || e->fatal)
        return;
    if (q->n > 0) {
        int rc = df_store_work_enqueue(e->store, q->items, q->n);
        for (size_t k = 0; k < q->n; k++)
            free((char *)q->items[k].params);
        q->n = 0;
        if (rc != DF_STORE_OK) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            return;
        }
    }
    if (df_store_work_notified(e->store) > 0)
        collect(e, false);
    watch_fd(e);
}

void df_remote_cancel(df_engine *e, const df_attempt_rec *rec)
{
    if (df_engine_tx(e) != 0)
        return;
    if (df_store_work_cancel(e->store, df_run_id(rec->run), (long long)rec->task, rec->attempt,
                             DF_TASK_FAILED) != DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
}

void df_remote_forget(df_engine *e, const df_attempt_rec *rec)
{
    if (df_engine_tx(e) != 0)
        return;
    if (df_store_work_forget(e->store, df_run_id(rec->run), (long long)rec->task, rec->attempt) !=
        DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
}

int df_remote_open(df_engine *e, df_errlist *errs)
{
    if (!df_store_has_work(e->store)) {
        df_errlist_add(errs,
                       "--executor workers needs a PostgreSQL --db (postgresql://...): workers "
                       "on other hosts share the runs through it");
        return DF_EINPUT;
    }
    df_remote *q = remote_of(e);
    if (!q)
        return DF_ENOMEM;
    /* Rows of runs that ended without their engine collecting them (SIGTERM, kill -9 then
     * resume elsewhere, cancel) would stay forever: dropped at every engine's start. */
    if (df_store_work_prune(e->store, NULL) != DF_STORE_OK ||
        df_store_work_listen(e->store, "dagflow_done") != DF_STORE_OK) {
        df_errlist_add(errs, "%s", df_store_error(e->store));
        return DF_ESTORE;
    }
    uv_timer_init(&e->loop, &q->timer);
    q->timer.data = e;
    q->timer_open = true;
    uv_timer_start(&q->timer, on_timer, DF_REMOTE_POLL_MS, DF_REMOTE_POLL_MS);
    uv_unref((uv_handle_t *)&q->timer);
    q->last_expire = df_mono_ms();
    return 0;
}

void df_remote_close(df_engine *e)
{
    df_remote *q = e->remote;
    if (!q)
        return;
    if (q->timer_open) {
        uv_close((uv_handle_t *)&q->timer, NULL);
        q->timer_open = false;
    }
    if (q->poll_open) {
        uv_poll_stop(&q->poll);
        q->poll_open = false;
        q->poll_closing = true;
        q->poll.data = q;
        uv_close((uv_handle_t *)&q->poll, on_poll_closed);
    }
}

void df_remote_free(df_engine *e)
{
    df_remote *q = e->remote;
    if (!q)
        return;
    for (size_t k = 0; k < q->n; k++)
        free((char *)q->items[k].params);
    free(q->items);
    free(q->runs);
    free(q);
    e->remote = NULL;
}
