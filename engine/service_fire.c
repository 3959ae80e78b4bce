/* service_fire: schedules in a service (SPEC §9). Each fire time is claimed in the store's
 * schedule_log (primary key workflow + logical time) in the same transaction as its decision's
 * effect — the run it creates — so neither two engines on one store nor a crash at any point
 * decide it twice or lose it: a crash before the commit leaves it undecided (the next serve
 * catches it up), after the commit it is decided. The decisions themselves are schedule.c's:
 * where a fire time goes (run, queued, skipped, cancel the oldest) given the workflow's
 * unfinished runs, and the catch-up of missed ones. Also: the runs a dead serve left. */
#include "service.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* Most missed fire times decided per batch (catch-up goes on in batches). */
#define MISSED_BATCH 256

/* Starts the run of fire time lt of w, claimed `run` in the open transaction, and records it
 * with the claim. Returns 0, or the start's error (logged; the fire time stays decided `run`
 * without a run, as a run that failed at once). */
static int start_fired(df_service *s, df_svc_wf *w, int64_t lt)
{
    df_errlist errs = {0};
    df_run_options o = {
        .params = w->wf->schedule->params, .trigger = DF_TRIGGER_SCHEDULE, .logical_time = lt};
    long long run_id = 0;
    int rc = df_svc_start(s, w, &o, &run_id, &errs);
    if (rc == 0) /* GET /metrics's dagflow_schedule_lateness_seconds */
        df_metrics_schedule_lateness(&s->e->metrics, df_now_ms() - lt);
    /* A stop that came in meanwhile: the fire time waits as queued for the next serve. */
    bool requeue = rc == DF_EINTERRUPTED && !s->e->fatal;
    if ((rc == 0 || requeue) &&
        df_store_schedule_set_run(s->e->store, w->wf->name, lt, requeue ? 0 : run_id) != 0) {
        df_engine_fail(s->e, "%s", df_store_error(s->e->store));
        rc = DF_ESTORE;
    }
    if (requeue)
        w->maybe_queued = true;
    if (rc != 0 && !requeue) {
        char at[40];
        df_svc_log(s, "workflow %s: fire time %s: the run could not start: %s", w->wf->name,
                   df_iso8601(lt, at, sizeof at), errs.n ? errs.msgs[0] : df_strerror(rc));
    }
    df_errlist_clear(&errs);
    return rc;
}

/* overlap cancel_running (SPEC §9): asks for the oldest run of w in flight, not asked already, to
 * be cancelled (df_engine_cancel: the engine that owns it, this one or another, acts within 1 s);
 * the fire time, recorded queued, starts once a place frees. */
static void cancel_oldest(df_service *s, df_svc_wf *w)
{
    df_history_query q = {.workflow = w->wf->name, .state = "RUNNING", .limit = 1000};
    json_t *runs = NULL;
    if (df_store_history_query(s->e->store, &q, &runs) != 0) {
        df_engine_fail(s->e, "%s", df_store_error(s->e->store));
        return;
    }
    long long oldest = 0;
    for (size_t i = json_array_size(runs); i-- > 0 && !oldest;) {
        long long id = json_integer_value(json_object_get(json_array_get(runs, i), "run_id"));
        bool asked = false;
        for (size_t k = 0; k < DF_SVC_ASKED; k++)
            asked |= w->cancel_asked[k] == id;
        if (!asked)
            oldest = id;
    }
    json_decref(runs);
    if (!oldest)
        return;
    w->cancel_asked[w->n_asked++ % DF_SVC_ASKED] = oldest;
    df_errlist errs = {0};
    if (df_engine_cancel(s->e, oldest, "schedule overlap cancel_running", &errs) == 0)
        df_svc_log(s, "workflow %s: overlap cancel_running: cancelling run %lld", w->wf->name,
                   oldest);
    df_errlist_clear(&errs);
}

/* The workflow's unfinished runs and queued fire times on the store. Returns 0 or DF_ESTORE. */
static int places(df_service *s, df_svc_wf *w, size_t *active, size_t *queued)
{
    long long n = 0;
    int64_t *q = NULL;
    size_t nq = 0;
    if (df_store_active_runs(s->e->store, w->wf->name, &n) != 0 ||
        df_store_schedule_queued(s->e->store, w->wf->name, 100000, &q, &nq) != 0) {
        df_engine_fail(s->e, "%s", df_store_error(s->e->store));
        return DF_ESTORE;
    }
    free(q);
    *active = (size_t)n;
    *queued = nq;
    return 0;
}

/* Decides fire time lt of w (catchup: a missed one whose catch-up says run; drop: one it
 * drops), in the engine's open transaction with what it starts (the caller commits: the fire
 * times due at one moment go into one transaction). */
static void decide(df_service *s, df_svc_wf *w, int64_t lt, bool catchup, bool drop)
{
    df_engine *e = s->e;
    if (e->fatal || df_engine_tx(e) != 0)
        return;
    size_t active = 0, queued = 0;
    df_fire_action a = DF_FIRE_DROP;
    if (!drop) {
        if (places(s, w, &active, &queued) != 0)
            return;
        a = df_schedule_place(w->wf->schedule, active, queued, catchup);
    }
    static const df_sched_decision as_decision[] = {
        [DF_FIRE_RUN] = DF_SCHED_RUN,
        [DF_FIRE_QUEUE] = DF_SCHED_QUEUED,
        [DF_FIRE_SKIP] = DF_SCHED_SKIPPED,
        [DF_FIRE_DROP] = DF_SCHED_DROPPED,
        [DF_FIRE_CANCEL_OLDEST] = DF_SCHED_QUEUED,
    };
    bool won = false;
    if (df_store_schedule_claim(e->store, w->wf->name, lt, false, as_decision[a], 0, df_now_ms(),
                                &won) != 0) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return;
    }
    char at[40];
    df_iso8601(lt, at, sizeof at);
    if (won && a == DF_FIRE_RUN)
        start_fired(s, w, lt);
    else if (won && a != DF_FIRE_DROP)
        df_svc_log(s, "workflow %s: fire time %s %s (%zu of max_active_runs %lld in flight)",
                   w->wf->name, at, a == DF_FIRE_SKIP ? "skipped" : "queued", active,
                   (long long)w->wf->schedule->max_active_runs);
    if (won && (a == DF_FIRE_QUEUE || a == DF_FIRE_CANCEL_OLDEST))
        w->maybe_queued = true;
    if (won && a == DF_FIRE_CANCEL_OLDEST)
        cancel_oldest(s, w);
    s->dirty = true;
}

/* Catches up the fire times of w missed in (since, now], in batches. */
static void catch_up(df_service *s, df_svc_wf *w, int64_t since, int64_t now)
{
    df_missed batch[MISSED_BATCH];
    bool more = true;
    while (more && !s->e->fatal) {
        size_t n = 0;
        df_schedule_missed(w->wf->schedule, since, now, w->anchor_ms, batch, MISSED_BATCH, &n,
                           &more);
        for (size_t i = 0; i < n; i++)
            decide(s, w, batch[i].at_ms, true, batch[i].action == DF_FIRE_DROP);
        if (!s->e->fatal)
            df_engine_commit(s->e);
        if (n == 0)
            break;
        since = batch[n - 1].at_ms;
    }
}

void df_svc_schedule_init(df_service *s, df_svc_wf *w)
{
    w->scheduled = true;
    w->next_fire = 0;
    w->maybe_queued = true; /* queued fire times survive restarts: look once */
    df_engine *e = s->e;
    const char *name = w->wf->name;
    json_t *h = NULL;
    if (df_store_history(e->store, name, 1, &h) == 0 && json_array_size(h) == 1) {
        json_t *r = json_array_get(h, 0);
        w->last_run_id = json_integer_value(json_object_get(r, "run_id"));
        df_run_state_parse(json_string_value(json_object_get(r, "state")), &w->last_state);
    }
    json_decref(h);
    if (!w->wf->schedule)
        return;
    int64_t now = df_now_ms(), last = 0;
    bool has_last = false;
    if (df_store_schedule_anchor(e->store, name, now, &w->anchor_ms) != 0 ||
        df_store_schedule_last(e->store, name, &last, &has_last) != 0) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return;
    }
    int64_t since = df_schedule_catchup_since(w->wf->schedule, has_last, last, w->anchor_ms);
    catch_up(s, w, since, now);
    int64_t next = 0;
    if (df_schedule_next(w->wf->schedule, since > now ? since : now, w->anchor_ms, &next) == 0)
        w->next_fire = next;
}

static void on_fire(uv_timer_t *h)
{
    df_svc_fire_due(h->data);
}

/* Arms the fire timer for the earliest next fire time. */
static void arm(df_service *s)
{
    int64_t first = 0;
    for (size_t i = 0; i < s->n_wfs; i++) {
        df_svc_wf *w = s->wfs[i];
        if (w->valid && w->next_fire && (!first || w->next_fire < first))
            first = w->next_fire;
    }
    uv_timer_stop(&s->fire);
    if (!first || s->stopping)
        return;
    uv_update_time(&s->e->loop);
    int64_t delay = first - df_now_ms();
    uv_timer_start(&s->fire, on_fire, delay > 0 ? (uint64_t)delay : 0, 0);
}

void df_svc_arm(df_service *s)
{
    arm(s);
}

void df_svc_fire_due(df_service *s)
{
    int64_t now = df_now_ms();
    for (size_t i = 0; i < s->n_wfs && !s->e->fatal && !s->stopping; i++) {
        df_svc_wf *w = s->wfs[i];
        if (!w->valid || !w->next_fire || w->next_fire > now)
            continue;
        /* Every fire time up to now: the last one on time, the ones before it missed (the
         * engine thread was held up past them), by the workflow's catch-up. */
        int64_t lt = w->next_fire, next = 0;
        while (df_schedule_next(w->wf->schedule, lt, w->anchor_ms, &next) == 0 && next <= now)
            lt = next;
        if (lt != w->next_fire)
            catch_up(s, w, w->next_fire - 1, lt - 1);
        decide(s, w, lt, false, false);
        w->next_fire = df_schedule_next(w->wf->schedule, lt, w->anchor_ms, &next) == 0 ? next : 0;
    }
    if (!s->e->fatal && s->e->in_tx)
        df_engine_commit(s->e); /* every fire time due now, with its run, at once */
    df_svc_start_queued(s);
    arm(s);
}

/* Whether a stop was asked for, including one (df_engine_stop: SIGTERM) this thread has not acted
 * on yet: the service sees a stop only between the loop's turns (its check handle and
 * housekeeping), so a loop of this thread that waits for s->stopping alone never ends once the
 * engine refuses to start runs. */
static bool stop_asked(const df_service *s)
{
    return s->stopping || s->e->stopping || atomic_load(&s->e->stop_requests) > 0;
}

/* Starts w's queued fire times, oldest first, while places are free and no stop was asked for.
 * A fire time the stopping engine would not start is queued again (start_fired) and the loop
 * ends: claiming it again would only queue it again, a transaction at every turn for ever (serve
 * did not stop after SIGTERM). */
static void start_queued_of(df_service *s, df_svc_wf *w)
{
    df_engine *e = s->e;
    while (!e->fatal && !stop_asked(s)) {
        if (df_engine_tx(e) != 0)
            return;
        size_t active = 0, queued = 0;
        int64_t *q = NULL;
        size_t nq = 0;
        if (places(s, w, &active, &queued) != 0 ||
            df_store_schedule_queued(e->store, w->wf->name, 1, &q, &nq) != 0) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            return;
        }
        int64_t lt = nq ? q[0] : 0;
        free(q);
        if (!nq) {
            w->maybe_queued = false;
            df_engine_commit(e);
            return;
        }
        if (!df_schedule_can_start_queued(w->wf->schedule, active)) {
            df_engine_commit(e);
            return;
        }
        bool won = false;
        if (df_store_schedule_claim(e->store, w->wf->name, lt, true, DF_SCHED_RUN, 0, df_now_ms(),
                                    &won) != 0) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            return;
        }
        bool requeued = won && start_fired(s, w, lt) == DF_EINTERRUPTED;
        if (df_engine_commit(e) != 0)
            return;
        s->dirty = true;
        if (requeued)
            return;
    }
}

void df_svc_start_queued(df_service *s)
{
    for (size_t i = 0; i < s->n_wfs; i++) {
        df_svc_wf *w = s->wfs[i];
        if (w->valid && w->wf->schedule && w->maybe_queued)
            start_queued_of(s, w);
    }
}

void df_svc_resume_left(df_service *s)
{
    long long *ids = NULL;
    char **names = NULL;
    size_t n = 0;
    if (df_store_serve_runs(s->e->store, &ids, &names, &n) != 0) {
        df_engine_fail(s->e, "%s", df_store_error(s->e->store));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        df_svc_wf *w = df_svc_find(s, names[i]);
        for (size_t k = 0; w && k < s->e->n_runs; k++)
            if (df_run_id(s->e->runs[k]) == ids[i])
                w = NULL; /* this engine's own */
        df_errlist errs = {0};
        if (w && df_engine_start_resume(s->e, ids[i], &errs) == 0) {
            df_svc_log(s, "run %lld (%s) resumed", ids[i], names[i]);
            w->last_run_id = ids[i];
            w->last_state = DF_RS_RUNNING;
        } else if (w && errs.n) {
            df_svc_log(s, "run %lld (%s) not resumed: %s", ids[i], names[i], errs.msgs[0]);
        }
        df_errlist_clear(&errs);
        free(names[i]);
    }
    free(names);
    free(ids);
}

/* Whether this engine runs run_id (in flight, or ending). */
static bool runs_here(df_service *s, long long run_id)
{
    for (size_t k = 0; k < s->e->n_runs; k++)
        if (df_run_id(s->e->runs[k]) == run_id)
            return true;
    return false;
}

void df_svc_adopt(df_service *s)
{
    df_engine *e = s->e;
    if (s->stopping || s->starting || e->fatal || e->stopping || !e->store)
        return;
    long long *ids = NULL;
    char **names = NULL;
    size_t n = 0;
    if (df_store_adoptable_runs(e->store, &e->engine_info, df_now_ms(), &ids, &names, &n) != 0) {
        df_svc_log(s, "looking for runs to adopt: %s", df_store_error(e->store));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        df_svc_wf *w = runs_here(s, ids[i]) || e->fatal ? NULL : df_svc_find(s, names[i]);
        df_errlist errs = {0};
        int rc = w ? df_engine_start_adopt(e, ids[i], &errs) : 0;
        if (w && rc == 0) {
            df_svc_log(s, "run %lld (%s) adopted", ids[i], names[i]);
            w->last_run_id = ids[i] > w->last_run_id ? ids[i] : w->last_run_id;
            w->last_state = DF_RS_RUNNING;
            s->dirty = true;
        } else if (w && rc != DF_EREFUSED && errs.n) {
            df_svc_log(s, "run %lld (%s) not adopted: %s", ids[i], names[i], errs.msgs[0]);
        }
        df_errlist_clear(&errs);
        free(names[i]);
    }
    free(names);
    free(ids);
}
