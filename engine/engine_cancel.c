/* engine_cancel: cancel requests reaching an engine (SPEC §10) — stored on the run in the store
 * (df_store_cancel_request) so that whichever engine owns the run acts on it, and a later
 * `resume` finds it; acted on at once when this engine owns the run; looked for in the store
 * every DF_CANCEL_POLL_MS while runs are in flight (requests made by `dagflow cancel` in another
 * process, or by another engine). df_engine_cancel queues a request from any thread (a mutex and
 * a uv_async, as the pool's inbox) for the engine thread; df_engine_request_cancel does the same
 * synchronously on the thread that drives the engine and says what became of it. What a run does
 * once cancelled is its core's (run_cancel.c). */
#include "engine_internal.h"
#include "liveness.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* One request queued by df_engine_cancel for the engine thread. */
typedef struct df_cancel_pending {
    long long run_id;
    char *reason;
    struct df_cancel_pending *next;
} df_cancel_pending;

/* The run this engine has in flight with this id, or NULL. */
static df_run *live_run(df_engine *e, long long run_id)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (df_run_id(e->runs[i]) == run_id && !df_run_ended(e->runs[i]))
            return e->runs[i];
    return NULL;
}

/* Stores the request (in the group-commit transaction while the loop's handles are open, so it is
 * committed with the tick's changes) and, when this engine owns the run, cancels it now. Returns
 * 0, DF_ENOTFOUND, DF_EREFUSED (finished: *state says how), DF_ESTORE (errs filled). */
static int cancel_one(df_engine *e, long long run_id, const char *reason, df_run_state *state,
                      df_errlist *errs)
{
    if (e->handles_open && df_engine_tx(e) != 0) {
        df_errlist_add(errs, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    int rc = df_store_cancel_request(e->store, run_id, reason, df_now_ms(), state);
    if (rc == DF_STORE_NOTFOUND) {
        df_errlist_add(errs, "no run %lld in %s", run_id, e->db);
        return DF_ENOTFOUND;
    }
    if (rc == DF_STORE_CONFLICT) {
        df_errlist_add(errs, "run %lld has finished (%s); nothing to cancel", run_id,
                       df_run_state_name(*state));
        return DF_EREFUSED;
    }
    if (rc != DF_STORE_OK) {
        df_errlist_add(errs, "%s", df_store_error(e->store));
        if (e->handles_open)
            df_engine_fail(e, "%s", df_store_error(e->store));
        return rc;
    }
    df_run *r = live_run(e, run_id);
    if (r)
        df_run_request_cancel(r, reason);
    return 0;
}

void df_engine_cancel_run(df_engine *e, long long run_id, const char *reason)
{
    df_errlist errs = {0};
    df_run_state st;
    cancel_one(e, run_id, reason, &st, &errs);
    df_errlist_clear(&errs);
}

/* ---- from other threads: df_engine_cancel ---- */

static void on_cancel_async(uv_async_t *h)
{
    df_engine *e = h->data;
    pthread_mutex_lock(&e->cancel_mu);
    df_cancel_pending *p = e->cancel_head;
    e->cancel_head = NULL;
    pthread_mutex_unlock(&e->cancel_mu);
    while (p) {
        df_cancel_pending *next = p->next;
        df_errlist errs = {0};
        df_run_state st;
        int rc = e->fatal ? DF_ESTORE : df_engine_open_store(e, false, false, &errs);
        if (rc == 0)
            rc = cancel_one(e, p->run_id, p->reason, &st, &errs);
        if (rc != 0 && errs.n > 0) {
            df_engine_event ev = {.run_id = p->run_id, .notice = errs.msgs[0]};
            df_engine_emit(e, &ev);
        }
        df_errlist_clear(&errs);
        free(p->reason);
        free(p);
        p = next;
    }
    df_engine_wake(e);
}

int df_engine_cancel(df_engine *e, long long run_id, const char *reason, df_errlist *errs)
{
    if (run_id <= 0) {
        if (errs)
            df_errlist_add(errs, "run id must be positive, not %lld", run_id);
        return DF_EINPUT;
    }
    df_cancel_pending *p = calloc(1, sizeof *p);
    if (!p || (reason && !(p->reason = strdup(reason)))) {
        free(p);
        if (errs)
            df_errlist_add(errs, "out of memory");
        return DF_ENOMEM;
    }
    p->run_id = run_id;
    pthread_mutex_lock(&e->cancel_mu);
    /* Kept in the order asked. */
    df_cancel_pending **tail = &e->cancel_head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    pthread_mutex_unlock(&e->cancel_mu);
    uv_async_send(&e->cancel_async);
    return 0;
}

/* ---- on the engine thread: df_engine_request_cancel ---- */

/* Whether a RUNNING run's owner is alive, as resume judges it: its heartbeat is fresh and its
 * process is not gone from this host. */
static bool owner_alive(df_engine *e, long long run_id)
{
    df_stored_run *r = NULL;
    if (df_store_load_run(e->store, run_id, &r) != DF_STORE_OK)
        return true; /* cannot tell: leave it to its owner */
    bool alive = r->has_engine && df_now_ms() - r->heartbeat_at < DF_HEARTBEAT_STALE_MS &&
                 !df_engine_owner_gone(&r->engine);
    df_stored_run_free(r);
    return alive;
}

int df_engine_request_cancel(df_engine *e, long long run_id, const char *reason,
                             df_run_state *state, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = errs ? errs : &scratch;
    df_run_state st = DF_RS_RUNNING;
    int rc = df_engine_open_store(e, false, false, l);
    if (rc == 0)
        rc = cancel_one(e, run_id, reason, &st, l);
    /* A RUNNING run that no live engine owns is as good as INTERRUPTED (resume takes it). */
    if (rc == 0 && st == DF_RS_RUNNING && !live_run(e, run_id) && !owner_alive(e, run_id))
        st = DF_RS_INTERRUPTED;
    if (state)
        *state = st;
    df_errlist_clear(&scratch);
    return rc;
}

/* ---- the look at the store ---- */

static void on_cancel_poll(uv_timer_t *h)
{
    df_engine *e = h->data;
    if (e->fatal || e->stopping || !e->store)
        return;
    df_cancel_request *v = NULL;
    size_t n = 0;
    int rc = df_store_cancel_requests(e->store, 0, &v, &n);
    if (rc != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        df_run *r = live_run(e, v[i].run_id);
        if (r)
            df_run_request_cancel(r, v[i].reason);
    }
    df_cancel_requests_free(v, n);
    df_engine_wake(e);
}

/* ---- the handles ---- */

void df_engine_cancel_init(df_engine *e)
{
    pthread_mutex_init(&e->cancel_mu, NULL);
    uv_async_init(&e->loop, &e->cancel_async, on_cancel_async);
    e->cancel_async.data = e;
    uv_unref((uv_handle_t *)&e->cancel_async);
}

void df_engine_cancel_open(df_engine *e)
{
    uv_timer_init(&e->loop, &e->cancel_poll);
    e->cancel_poll.data = e;
    uv_timer_start(&e->cancel_poll, on_cancel_poll, DF_CANCEL_POLL_MS, DF_CANCEL_POLL_MS);
}

void df_engine_cancel_close(df_engine *e)
{
    uv_close((uv_handle_t *)&e->cancel_poll, NULL);
}

void df_engine_cancel_free(df_engine *e)
{
    uv_close((uv_handle_t *)&e->cancel_async, NULL);
    df_cancel_pending *p = e->cancel_head;
    while (p) {
        df_cancel_pending *next = p->next;
        free(p->reason);
        free(p);
        p = next;
    }
    e->cancel_head = NULL;
}

void df_engine_cancel_destroy(df_engine *e)
{
    pthread_mutex_destroy(&e->cancel_mu);
}
