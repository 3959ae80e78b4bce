/* scheduler: one run's lifecycle (SPEC §3) — the ready queue (priority, then file order), dispatch
 * within the limits (engine concurrency, max_active_tasks, named pools), attempt results,
 * retries on libuv timers, timeouts, downstream triggering by trigger rules with propagation
 * through chains of SKIPPED and UPSTREAM_FAILED tasks, and the run's final state.
 *
 * Every task state change goes through set_state(), which checks the transition table, writes
 * the change to the store inside the engine's group-commit transaction, and queues the
 * consequences. Nothing that depends on a change (a dispatch, an alert delivery) happens before
 * the engine has committed it: dispatch runs only from the engine's tick, after the commit. */
#include "engine_internal.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "dag.h"
#include "retry.h"
#include "template.h"

/* How long an attempt that ignores its timeout's cancellation may keep running before it is
 * recorded TIMED_OUT anyway (shell needs 2000 ms for SIGTERM -> SIGKILL). */
#define DF_TIMEOUT_GRACE_MS 3000
/* After a deadline: a plugin still inside the same run of its coroutine this long after the
 * cancellation (it has not yielded since before it) is recorded TIMED_OUT then, without waiting
 * out the grace period that cooperative plugins get to clean up. */
#define DF_UNYIELDING_CHECK_MS 200
/* A task whose attempts are LOST this many times in a row fails (SPEC §3). */
#define DF_MAX_LOST_STREAK 3

typedef struct df_task_rt {
    df_task_state state;
    unsigned attempt;    /* latest attempt number (0 before the first) */
    unsigned retry_base; /* attempt number when the retry budget was last reset */
    unsigned failures;   /* failed or timed-out attempts since the budget was reset */
    unsigned lost_streak;
    json_t *result; /* owned */
    uv_timer_t *retry_timer;
    df_attempt_rec *running;
    size_t up_success, up_failed, up_skipped; /* upstreams final in each way */
    bool in_eval;                             /* on the evaluation stack */
} df_task_rt;

struct df_run {
    df_engine *e;
    long long id;
    df_workflow *wf;
    const df_plugin **plugins;
    json_t *params;
    df_task_rt *t;
    size_t *heap; /* QUEUED tasks waiting for a slot: a binary heap */
    size_t heap_n;
    size_t *eval; /* tasks whose upstreams changed: evaluated by drain_eval */
    size_t eval_n;
    size_t *held;                 /* dispatch's scratch: tasks waiting for a named pool's slot */
    df_attempt_rec **unsubmitted; /* RUNNING attempts the pool's full queue refused */
    size_t unsubmitted_n;
    size_t running; /* attempts in flight */
    size_t n_final, n_failed, n_invalid;
    bool cancelling;
    bool ended;
    df_run_state final_state;
};

static void release_attempt(df_run *r, df_attempt_rec *rec);

/* ---- the ready heap: higher priority first, then earlier in the file ---- */

static bool heap_before(const df_run *r, size_t a, size_t b)
{
    const df_task_def *ta = &r->wf->tasks[a], *tb = &r->wf->tasks[b];
    if (ta->priority != tb->priority)
        return ta->priority > tb->priority;
    return a < b;
}

static void heap_push(df_run *r, size_t i)
{
    size_t k = r->heap_n++;
    r->heap[k] = i;
    while (k > 0) {
        size_t parent = (k - 1) / 2;
        if (!heap_before(r, r->heap[k], r->heap[parent]))
            break;
        size_t tmp = r->heap[k];
        r->heap[k] = r->heap[parent];
        r->heap[parent] = tmp;
        k = parent;
    }
}

static size_t heap_pop(df_run *r)
{
    size_t top = r->heap[0];
    r->heap[0] = r->heap[--r->heap_n];
    size_t k = 0;
    for (;;) {
        size_t l = 2 * k + 1, m = k;
        if (l < r->heap_n && heap_before(r, r->heap[l], r->heap[m]))
            m = l;
        if (l + 1 < r->heap_n && heap_before(r, r->heap[l + 1], r->heap[m]))
            m = l + 1;
        if (m == k)
            break;
        size_t tmp = r->heap[k];
        r->heap[k] = r->heap[m];
        r->heap[m] = tmp;
        k = m;
    }
    return top;
}

/* ---- the one door for state changes ---- */

typedef struct change {
    df_task_state to;
    unsigned to_attempt;
    df_transition_cause cause;
    const char *detail;
    const char *error;       /* NULL leaves, "" clears */
    const char *result_json; /* NULL leaves */
    int64_t next_retry_at;
    bool reset_budget;
} change;

static void emit(df_run *r, size_t i, const char *error)
{
    df_engine_event ev = {.run_id = r->id,
                          .workflow = r->wf->name,
                          .task_id = i == (size_t)-1 ? NULL : r->wf->tasks[i].id,
                          .task_state = i == (size_t)-1 ? DF_TS_PENDING : r->t[i].state,
                          .run_state = r->ended ? r->final_state : DF_RS_RUNNING,
                          .attempt = i == (size_t)-1 ? 0 : r->t[i].attempt,
                          .error = error,
                          .tasks_total = r->wf->n_tasks,
                          .tasks_final = r->n_final,
                          .tasks_running = r->running,
                          .tasks_failed = r->n_failed};
    df_engine_emit(r->e, &ev);
}

static void count_upstream(df_run *r, size_t i, df_task_state s, int delta)
{
    const df_task_def *d = &r->wf->tasks[i];
    for (size_t k = 0; k < d->n_downstream; k++) {
        df_task_rt *dt = &r->t[d->downstream[k]];
        if (s == DF_TS_SUCCESS)
            dt->up_success += delta;
        else if (s == DF_TS_SKIPPED)
            dt->up_skipped += delta;
        else if (df_task_state_failed(s))
            dt->up_failed += delta;
        if (delta > 0 && dt->state == DF_TS_PENDING && !dt->in_eval) {
            dt->in_eval = true;
            r->eval[r->eval_n++] = d->downstream[k];
        }
    }
}

/* Changes task i's state: checks the table, writes the change (compare-and-set on state and
 * attempt) in the open transaction, updates memory and queues the downstream evaluation.
 * Returns 0, or -1 when the engine is fatal. */
static int set_state(df_run *r, size_t i, const change *c)
{
    df_engine *e = r->e;
    df_task_rt *t = &r->t[i];
    if (e->fatal)
        return -1;
    if (!df_transition_allowed(t->state, c->to, c->cause)) {
        df_engine_fail(
            e, "internal error: run %lld task \"%s\": transition %s -> %s is not allowed", r->id,
            r->wf->tasks[i].id, df_task_state_name(t->state), df_task_state_name(c->to));
        return -1;
    }
    if (df_engine_tx(e) != 0)
        return -1;
    df_transition tr = {.run_id = r->id,
                        .task_id = r->wf->tasks[i].id,
                        .from = t->state,
                        .from_attempt = t->attempt,
                        .to = c->to,
                        .to_attempt = c->to_attempt,
                        .at = df_now_ms(),
                        .detail = c->detail,
                        .error = c->error,
                        .result_json = c->result_json,
                        .next_retry_at = c->next_retry_at,
                        .reset_retry_budget = c->reset_budget};
    int rc = df_store_transition(e->store, &tr);
    if (rc == DF_STORE_CONFLICT) {
        df_engine_taken_over(e, r->id);
        return -1;
    }
    if (rc != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return -1;
    }
    df_task_state from = t->state;
    bool was_final = df_task_state_final(from);
    if (was_final) {
        r->n_final--;
        if (df_task_state_failed(from))
            r->n_failed--;
        count_upstream(r, i, from, -1);
    }
    t->state = c->to;
    t->attempt = c->to_attempt;
    if (c->reset_budget) {
        t->retry_base = c->to_attempt;
        t->failures = 0;
    }
    if (df_task_state_final(c->to)) {
        r->n_final++;
        if (df_task_state_failed(c->to))
            r->n_failed++;
        count_upstream(r, i, c->to, +1);
    }
    emit(r, i, c->error && *c->error ? c->error : NULL);
    return 0;
}

/* Evaluates the trigger rules of tasks whose upstreams changed, at most max of them, propagating
 * verdicts (a SKIPPED or UPSTREAM_FAILED task makes its downstream tasks be evaluated in turn).
 * Returns true when tasks are left to evaluate. */
static bool drain_eval_max(df_run *r, size_t max)
{
    size_t done = 0;
    while (r->eval_n > 0 && !r->e->fatal) {
        if (done++ == max)
            return true;
        size_t i = r->eval[--r->eval_n];
        df_task_rt *t = &r->t[i];
        t->in_eval = false;
        if (t->state != DF_TS_PENDING)
            continue;
        const df_task_def *d = &r->wf->tasks[i];
        df_upstream_counts c = {.total = d->n_upstream,
                                .success = t->up_success,
                                .failed = t->up_failed,
                                .skipped = t->up_skipped};
        switch (df_trigger_evaluate(d->trigger_rule, &c)) {
        case DF_TV_READY:
            if (set_state(r, i, &(change){.to = DF_TS_QUEUED, .to_attempt = t->attempt}) == 0)
                heap_push(r, i);
            break;
        case DF_TV_UPSTREAM_FAILED:
            set_state(r, i,
                      &(change){.to = DF_TS_UPSTREAM_FAILED,
                                .to_attempt = t->attempt,
                                .detail = df_trigger_rule_name(d->trigger_rule),
                                .error = "an upstream task failed"});
            break;
        case DF_TV_SKIPPED:
            set_state(r, i,
                      &(change){.to = DF_TS_SKIPPED,
                                .to_attempt = t->attempt,
                                .detail = df_trigger_rule_name(d->trigger_rule)});
            break;
        case DF_TV_WAIT:
            break;
        }
    }
    return false;
}

/* Evaluates every task whose upstreams changed. */
static void drain_eval(df_run *r)
{
    drain_eval_max(r, SIZE_MAX);
}

bool df_run_evaluate(df_run *r, size_t max)
{
    if (r->e->fatal || r->e->stopping || r->cancelling)
        return false;
    return drain_eval_max(r, max);
}

/* ---- creation ---- */

df_run *df_run_new(df_engine *e, long long run_id, df_workflow *wf, const df_plugin **plugins,
                   json_t *params)
{
    df_run *r = calloc(1, sizeof *r);
    size_t n = wf->n_tasks ? wf->n_tasks : 1;
    if (r) {
        r->t = calloc(n, sizeof *r->t);
        r->heap = calloc(n, sizeof *r->heap);
        r->eval = calloc(n, sizeof *r->eval);
        r->held = calloc(n, sizeof *r->held);
        r->unsubmitted = calloc(n, sizeof *r->unsubmitted);
    }
    if (!r || !r->t || !r->heap || !r->eval || !r->held || !r->unsubmitted) {
        if (r) {
            free(r->held);
            free(r->t);
            free(r->heap);
            free(r->eval);
            free(r->unsubmitted);
            free(r);
        }
        df_workflow_free(wf);
        free(plugins);
        json_decref(params);
        return NULL;
    }
    r->e = e;
    r->id = run_id;
    r->wf = wf;
    r->plugins = plugins;
    r->params = params;
    r->final_state = DF_RS_RUNNING;
    return r;
}

void df_run_mark_invalid(df_run *r, const unsigned char *invalid, const char *const *msgs)
{
    bool any = false;
    for (size_t i = 0; i < r->wf->n_tasks; i++)
        any |= invalid[i] != 0;
    if (!any)
        return;
    size_t k = 0;
    for (size_t i = 0; i < r->wf->n_tasks; i++) {
        const char *msg = invalid[i] && msgs && msgs[k] ? msgs[k] : NULL;
        if (invalid[i])
            k++;
        change c = {.to = invalid[i] ? DF_TS_INVALID : DF_TS_SKIPPED,
                    .cause = DF_TC_CREATE,
                    .detail = invalid[i] ? "validate rejected the params" : "run is invalid",
                    .error = invalid[i] ? (msg ? msg : "validate rejected the params") : NULL};
        if (set_state(r, i, &c) != 0)
            return;
    }
    r->eval_n = 0;
    for (size_t i = 0; i < r->wf->n_tasks; i++)
        r->t[i].in_eval = false;
}

/* Start order of evaluation (qsort_r): the eval stack pops its last element first, so the array
 * runs from the lowest priority to the highest, and within a priority from the last task in the
 * file to the first. */
static int eval_order(const void *pa, const void *pb, void *ud)
{
    const df_run *r = ud;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int64_t x = r->wf->tasks[a].priority, y = r->wf->tasks[b].priority;
    if (x != y)
        return x < y ? -1 : 1;
    return a > b ? -1 : a < b ? 1 : 0;
}

void df_run_start(df_run *r)
{
    for (size_t k = 0; k < r->wf->n_tasks; k++) {
        size_t i = r->wf->topo[k];
        if (r->t[i].state == DF_TS_PENDING && !r->t[i].in_eval) {
            r->t[i].in_eval = true;
            r->eval[r->eval_n++] = i;
        }
    }
    /* Evaluated by the engine's ticks, a slice at a time, between dispatches: the first ready
     * tasks start while later ones are still being recorded QUEUED. Highest priority first, so
     * that the tasks ready at the start are still started in priority order (SPEC §1) across
     * slices: a task's verdict never depends on the order (upstream counts are kept up to date,
     * and a task waiting on an upstream is evaluated again when that upstream changes). */
    qsort_r(r->eval, r->eval_n, sizeof r->eval[0], eval_order, r);
    df_engine_wake(r->e);
}

/* ---- dispatch ---- */

static const json_t *lookup_result(void *ud, const char *task_id)
{
    df_run *r = ud;
    long i = df_workflow_find_task(r->wf, task_id);
    return i < 0 ? NULL : r->t[i].result;
}

/* A result for an attempt that failed before reaching the pool. */
static void fail_synthetic(df_run *r, df_attempt_rec *rec, const char *msg)
{
    df_job_result *res = calloc(1, sizeof *res);
    if (!res) {
        df_engine_fail(r->e, "out of memory");
        return;
    }
    res->status = DF_TASK_FAILED_PERMANENT;
    res->error = strdup(msg);
    res->started_mono_ms = res->ended_mono_ms = df_mono_ms();
    res->user = rec;
    rec->synthetic = true;
    df_engine_post_result(r->e, res);
}

static void on_timeout(uv_timer_t *h);

/* Builds the job of a RUNNING attempt (templates resolved, params validated) and submits it.
 * Returns false when the pool's queue is full (try again later). */
static bool submit(df_run *r, df_attempt_rec *rec)
{
    const df_task_def *d = &r->wf->tasks[rec->task];
    const df_plugin *p = r->plugins[rec->task];
    char err[2048];
    df_template_scope scope = {.params = r->params,
                               .run_id = r->id,
                               .workflow = r->wf->name,
                               .task_id = d->id,
                               .attempt = rec->attempt,
                               .resolve_tasks = true,
                               .task_result = lookup_result,
                               .ud = r};
    json_t *params = df_template_resolve(d->params, &scope, err, sizeof err);
    if (!params) {
        fail_synthetic(r, rec, err);
        return true;
    }
    if (p->unit->validate) {
        char verr[1024] = "";
        if (p->unit->validate(params, verr, sizeof verr) != 0) {
            verr[sizeof verr - 1] = '\0';
            snprintf(err, sizeof err, "plugin %s rejected the resolved params: %s", p->name,
                     verr[0] ? verr : "(no message)");
            json_decref(params);
            fail_synthetic(r, rec, err);
            return true;
        }
    }
    df_job *job = calloc(1, sizeof *job);
    if (!job || !(job->task_id = strdup(d->id)) || !(job->workdir = strdup(r->wf->dir))) {
        if (job) {
            free(job->task_id);
            free(job);
        }
        json_decref(params);
        fail_synthetic(r, rec, "out of memory");
        return true;
    }
    job->unit = p->unit;
    job->params = params;
    job->run_id = r->id;
    job->attempt = rec->attempt;
    job->user = rec;
    int rc = df_pool_submit(r->e->pool, job, &rec->job);
    if (rc == DF_POOL_EFULL) {
        json_decref(job->params);
        free(job->task_id);
        free(job->workdir);
        free(job);
        return false;
    }
    if (rc != 0) {
        json_decref(job->params);
        free(job->task_id);
        free(job->workdir);
        free(job);
        fail_synthetic(r, rec, "the worker pool is shutting down");
        return true;
    }
    if (d->timeout_ms > 0 && (rec->timer = malloc(sizeof *rec->timer))) {
        uv_timer_init(&r->e->loop, rec->timer);
        rec->timer->data = rec;
        uv_timer_start(rec->timer, on_timeout, (uint64_t)d->timeout_ms, 0);
    }
    return true;
}

static df_engine_breaker *task_breaker(df_run *r, size_t i)
{
    const df_task_def *d = &r->wf->tasks[i];
    return d->breaker >= 0 ? df_engine_breaker_find(r->e, r->wf->breakers[d->breaker].name) : NULL;
}

/* Records a breaker's change of state caused by an attempt of task i, and raises its alert. */
static void breaker_changed(df_run *r, size_t i, df_engine_breaker *eb, const df_breaker_change *ch)
{
    df_engine *e = r->e;
    const df_task_def *d = &r->wf->tasks[i];
    if (df_engine_tx(e) != 0)
        return;
    if (df_store_breaker_event(e->store, r->id, d->id, eb->b->name, ch->from, ch->to,
                               ch->failure_rate, (int)ch->calls, df_now_ms()) != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "breaker \"%s\": %s -> %s, failure rate %.2f over %zu calls",
             eb->b->name, df_breaker_state_name(ch->from), df_breaker_state_name(ch->to),
             ch->failure_rate, ch->calls);
    if (ch->to == DF_BREAKER_OPEN) {
        df_engine_raise_alert(e, r->id, r->wf, "breaker_opened", d->id, "OPEN", msg,
                              r->t[i].attempt);
        df_engine_breaker_arm(e, eb);
    } else if (ch->to == DF_BREAKER_CLOSED) {
        df_engine_raise_alert(e, r->id, r->wf, "breaker_closed", d->id, "CLOSED", msg,
                              r->t[i].attempt);
    }
}

/* Whether task i's breaker lets an attempt start now (SPEC §3a); a held task stays QUEUED and
 * uses no attempt. */
static bool breaker_allows(df_run *r, size_t i, bool *probe)
{
    df_engine_breaker *eb = task_breaker(r, i);
    if (!eb)
        return true;
    df_breaker_change ch;
    bool ok = df_breaker_allow(eb->b, df_mono_ms(), probe, &ch);
    if (ch.from != ch.to)
        breaker_changed(r, i, eb, &ch);
    if (!ok)
        df_engine_breaker_arm(r->e, eb);
    return ok;
}

/* Feeds an attempt's outcome to its task's breaker. */
static void breaker_outcome(df_run *r, df_attempt_rec *rec, df_attempt_outcome outcome)
{
    df_engine_breaker *eb = task_breaker(r, rec->task);
    if (!eb)
        return;
    if (outcome == DF_AO_CANCELLED || outcome == DF_AO_LOST) {
        if (rec->probe)
            df_breaker_probe_aborted(eb->b);
        return;
    }
    df_breaker_change ch;
    if (df_breaker_record(eb->b, outcome != DF_AO_SUCCESS, rec->probe, df_mono_ms(), &ch))
        breaker_changed(r, rec->task, eb, &ch);
}

static bool slots_free(df_run *r)
{
    df_engine *e = r->e;
    if (e->in_flight >= e->cfg.concurrency)
        return false;
    if (r->wf->max_active_tasks > 0 && (int64_t)r->running >= r->wf->max_active_tasks)
        return false;
    return true;
}

bool df_run_dispatch(df_run *r, size_t max)
{
    df_engine *e = r->e;
    if (e->fatal || e->stopping || r->cancelling)
        return false;
    /* Backpressure: while the pool's queue refuses attempts, start no more. */
    if (r->unsubmitted_n > 0)
        return false;
    size_t n_held = 0, started = 0;
    size_t *held = r->held;
    int64_t now = df_now_ms();
    bool more = false;
    while (r->heap_n > 0 && slots_free(r)) {
        if (started == max) {
            more = true;
            break;
        }
        size_t i = heap_pop(r);
        const df_task_def *d = &r->wf->tasks[i];
        df_slot_pool *sp = d->pool >= 0 ? df_engine_slot_pool(e, r->wf->pools[d->pool].name) : NULL;
        if (sp && sp->used >= sp->slots) {
            held[n_held++] = i;
            continue;
        }
        bool probe = false;
        if (d->breaker >= 0 && !breaker_allows(r, i, &probe)) {
            held[n_held++] = i;
            continue;
        }
        df_attempt_rec *rec = calloc(1, sizeof *rec);
        if (!rec) {
            df_engine_fail(e, "out of memory");
            return false;
        }
        df_task_rt *t = &r->t[i];
        rec->run = r;
        rec->task = i;
        rec->attempt = t->attempt + 1;
        rec->started_at = now;
        rec->probe = probe;
        /* Counted before the change is reported, so progress shows it running. */
        if (sp)
            sp->used++;
        t->running = rec;
        r->running++;
        e->in_flight++;
        if (set_state(r, i, &(change){.to = DF_TS_RUNNING, .to_attempt = rec->attempt}) != 0 ||
            df_engine_tx(e) != 0) {
            release_attempt(r, rec);
            free(rec);
            return false;
        }
        if (df_store_attempt_open(e->store, r->id, d->id, rec->attempt, now) != DF_STORE_OK) {
            df_engine_fail(e, "%s", df_store_error(e->store));
            release_attempt(r, rec);
            free(rec);
            return false;
        }
        /* Submitted by df_run_submit once the engine has committed this transaction. */
        r->unsubmitted[r->unsubmitted_n++] = rec;
        started++;
    }
    for (size_t k = 0; k < n_held; k++)
        heap_push(r, held[k]);
    return more;
}

void df_run_submit(df_run *r)
{
    if (r->e->fatal)
        return;
    size_t kept = 0;
    for (size_t k = 0; k < r->unsubmitted_n; k++)
        if (!submit(r, r->unsubmitted[k]))
            r->unsubmitted[kept++] = r->unsubmitted[k];
    r->unsubmitted_n = kept;
}

/* ---- results ---- */

static void close_timer_cb(uv_handle_t *h)
{
    free(h);
}

static void stop_timer(uv_timer_t **timer)
{
    if (*timer) {
        uv_timer_stop(*timer);
        uv_close((uv_handle_t *)*timer, close_timer_cb);
        *timer = NULL;
    }
}

static void on_retry_due(uv_timer_t *h)
{
    df_run *r = ((df_run **)h->data)[0];
    size_t i = (size_t)((df_run **)h->data)[1];
    free(h->data);
    h->data = NULL;
    stop_timer(&r->t[i].retry_timer);
    if (r->t[i].state != DF_TS_UP_FOR_RETRY || r->cancelling || r->e->stopping)
        return;
    if (set_state(r, i, &(change){.to = DF_TS_QUEUED, .to_attempt = r->t[i].attempt}) == 0)
        heap_push(r, i);
    df_engine_wake(r->e);
}

static void start_retry_timer(df_run *r, size_t i, int64_t due_at)
{
    df_task_rt *t = &r->t[i];
    int64_t wait = due_at - df_now_ms();
    void **data = malloc(2 * sizeof *data);
    t->retry_timer = malloc(sizeof *t->retry_timer);
    if (!data || !t->retry_timer) {
        free(data);
        free(t->retry_timer);
        t->retry_timer = NULL;
        df_engine_fail(r->e, "out of memory");
        return;
    }
    data[0] = r;
    data[1] = (void *)i;
    uv_timer_init(&r->e->loop, t->retry_timer);
    t->retry_timer->data = data;
    uv_timer_start(t->retry_timer, on_retry_due, wait > 0 ? (uint64_t)wait : 0, 0);
}

/* Releases the slots an attempt held (engine concurrency, run, named pool). */
static void release_attempt(df_run *r, df_attempt_rec *rec)
{
    const df_task_def *d = &r->wf->tasks[rec->task];
    if (d->pool >= 0) {
        df_slot_pool *sp = df_engine_slot_pool(r->e, r->wf->pools[d->pool].name);
        if (sp && sp->used > 0)
            sp->used--;
    }
    stop_timer(&rec->timer);
    r->t[rec->task].running = NULL;
    r->running--;
    r->e->in_flight--;
}

static char *dup_result(const json_t *result)
{
    return result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* Records how an attempt ended and moves its task on. error and log may be NULL. */
static void finish_attempt(df_run *r, df_attempt_rec *rec, int status, json_t *result,
                           const char *error, const char *log)
{
    df_engine *e = r->e;
    size_t i = rec->task;
    const df_task_def *d = &r->wf->tasks[i];
    df_task_rt *t = &r->t[i];
    int64_t now = df_now_ms();
    df_attempt_outcome outcome;
    char msg[1024];

    /* Stopping: an attempt that failed (most likely because it was cancelled) goes back to
     * QUEUED without using a retry; one that returned success keeps it, cancelled or not, so
     * that resume does not run it again. */
    if (r->cancelling && !rec->timed_out && status != DF_TASK_OK)
        outcome = DF_AO_CANCELLED;
    else if (rec->timed_out)
        outcome = DF_AO_TIMED_OUT;
    else if (status == DF_TASK_OK)
        outcome = DF_AO_SUCCESS;
    else
        outcome = DF_AO_FAILED;

    if (outcome == DF_AO_TIMED_OUT) {
        snprintf(msg, sizeof msg, "timed out after %lld ms%s%s", (long long)d->timeout_ms,
                 error ? ": " : "", error ? error : "");
        error = msg;
    } else if (outcome == DF_AO_FAILED && !error) {
        error = status == DF_TASK_FAILED_PERMANENT ? "failed permanently" : "failed";
    } else if (outcome == DF_AO_CANCELLED && !error) {
        error = "cancelled: the engine is stopping";
    }
    /* Errors are kept whole up to 64 KiB (a plugin may set a huge one). */
    static char long_error[64 * 1024];
    if (error)
        error = df_utf8_cut(error, long_error, sizeof long_error);
    if (df_engine_tx(e) != 0)
        return;
    breaker_outcome(r, rec, outcome);
    int crc = df_store_attempt_close(e->store, r->id, d->id, rec->attempt, outcome, now,
                                     outcome == DF_AO_SUCCESS ? NULL : error, log);
    if (crc == DF_STORE_CONFLICT) {
        df_engine_taken_over(e, r->id); /* another engine closed it as LOST */
        return;
    }
    if (crc != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return;
    }
    if (outcome == DF_AO_CANCELLED) {
        /* Lost to shutdown: back to QUEUED without using a retry (SPEC §3). */
        set_state(r, i,
                  &(change){.to = DF_TS_QUEUED,
                            .to_attempt = t->attempt,
                            .cause = DF_TC_RECOVER,
                            .detail = "cancelled by engine shutdown"});
        return;
    }
    t->lost_streak = 0;
    if (outcome == DF_AO_SUCCESS) {
        char *text = dup_result(result);
        if (result && !text) {
            df_engine_fail(e, "out of memory");
            return;
        }
        if (set_state(r, i,
                      &(change){.to = DF_TS_SUCCESS,
                                .to_attempt = t->attempt,
                                .result_json = text ? text : "null",
                                .error = ""}) == 0) {
            json_decref(t->result);
            t->result = json_incref(result);
        }
        free(text);
        return;
    }
    t->failures++;
    bool permanent = status == DF_TASK_FAILED_PERMANENT && outcome != DF_AO_TIMED_OUT;
    if (!permanent && (int64_t)t->failures <= d->retries) {
        uint64_t delay = df_retry_delay_ms(d, t->failures, df_engine_random(r->e));
        int64_t due = now + (int64_t)delay;
        char detail[64];
        snprintf(detail, sizeof detail, "retry %u in %llu ms", t->failures,
                 (unsigned long long)delay);
        if (set_state(r, i,
                      &(change){.to = DF_TS_UP_FOR_RETRY,
                                .to_attempt = t->attempt,
                                .detail = detail,
                                .error = error,
                                .next_retry_at = due}) != 0)
            return;
        start_retry_timer(r, i, due);
        df_engine_raise_alert(e, r->id, r->wf, "task_retry", d->id, "UP_FOR_RETRY", error,
                              t->attempt);
        return;
    }
    if (set_state(r, i,
                  &(change){.to = DF_TS_FAILED,
                            .to_attempt = t->attempt,
                            .detail = permanent ? "failed permanently" : "retries exhausted",
                            .error = error}) != 0)
        return;
    df_engine_raise_alert(e, r->id, r->wf, "task_failed", d->id, "FAILED", error, t->attempt);
    drain_eval(r);
}

void df_run_on_result(df_engine *e, df_job_result *res)
{
    df_attempt_rec *rec = res->user;
    if (rec->abandoned) {
        /* Already recorded (timed out or shut down without coming back): discard. */
        df_job_result_free(res);
        return;
    }
    df_run *r = rec->run;
    release_attempt(r, rec);
    if (!e->fatal) {
        finish_attempt(r, rec, res->status, res->result, res->error, res->log);
        drain_eval(r);
    }
    free(rec);
    df_job_result_free(res);
}

/* Records a timed-out attempt whose result has not come back as TIMED_OUT now (error: why) and
 * discards its result should it come later. */
static void abandon_timed_out(df_attempt_rec *rec, const char *why)
{
    df_run *r = rec->run;
    df_engine *e = r->e;
    rec->abandoned = true;
    release_attempt(r, rec);
    rec->next_abandoned = e->abandoned;
    e->abandoned = rec;
    finish_attempt(r, rec, DF_TASK_FAILED, NULL, why, NULL);
    drain_eval(r);
    df_engine_wake(e);
}

/* No result within the grace period after the cancellation: the plugin ignores it, or the
 * attempt never got a worker (all of them stuck). */
static void on_grace_over(uv_timer_t *h)
{
    df_attempt_rec *rec = h->data;
    char msg[256];
    snprintf(msg, sizeof msg,
             "no result within %llu ms of its cancellation (a plugin that ignores cancellation, "
             "or no worker free to start it); a late result will be discarded",
             (unsigned long long)(df_mono_ms() - rec->cancel_mono_ms));
    abandon_timed_out(rec, msg);
}

/* Shortly after the deadline: a plugin that has not yielded since before it is recorded now;
 * any other gets the rest of the grace period. */
static void on_unyielding_check(uv_timer_t *h)
{
    df_attempt_rec *rec = h->data;
    if (rec->job && df_pool_job_unyielding(rec->run->e->pool, rec->job, DF_UNYIELDING_CHECK_MS)) {
        abandon_timed_out(rec, "the plugin has not yielded since before its cancellation (it "
                               "computes or blocks without df_task_sleep or "
                               "df_task_run_blocking); a late result will be discarded");
        return;
    }
    uv_timer_start(h, on_grace_over, DF_TIMEOUT_GRACE_MS - DF_UNYIELDING_CHECK_MS, 0);
}

static void on_timeout(uv_timer_t *h)
{
    df_attempt_rec *rec = h->data;
    rec->timed_out = true;
    rec->cancel_mono_ms = df_mono_ms();
    if (rec->job)
        df_pool_cancel(rec->run->e->pool, rec->job);
    uv_timer_start(h, on_unyielding_check, DF_UNYIELDING_CHECK_MS, 0);
}

/* ---- end of run, stop ---- */

bool df_run_check_end(df_run *r)
{
    df_engine *e = r->e;
    if (r->ended)
        return true;
    if (e->fatal) {
        if (r->running == 0 || e->stopping) {
            r->ended = true;
            r->final_state = DF_RS_RUNNING;
        }
        return r->ended;
    }
    if (r->running > 0)
        return false;
    df_run_state st;
    if (e->stopping || r->cancelling) {
        st = DF_RS_INTERRUPTED;
    } else {
        if (r->n_final < r->wf->n_tasks)
            return false;
        st = DF_RS_SUCCESS;
        for (size_t i = 0; i < r->wf->n_tasks; i++) {
            if (r->t[i].state == DF_TS_INVALID)
                st = DF_RS_INVALID;
            else if (st == DF_RS_SUCCESS && df_task_state_failed(r->t[i].state))
                st = DF_RS_FAILED;
        }
    }
    if (df_engine_tx(e) != 0)
        return false;
    if (df_store_run_set_state(e->store, r->id, st, df_now_ms()) != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return false;
    }
    df_pool_stats ps;
    df_pool_get_stats(e->pool, &ps);
    json_t *m = json_pack(
        "{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "workers_peak", (int)ps.workers_peak,
        "workers_started", (int)ps.workers_started, "workers_stopped", (int)ps.workers_stopped,
        "workers_replaced", (int)ps.workers_replaced, "in_flight_peak",
        (json_int_t)ps.in_flight_peak, "queue_high_water", (json_int_t)ps.queue_high_water,
        "stacks_created", (json_int_t)ps.stacks_created, "stacks_reused",
        (json_int_t)ps.stacks_reused, "jobs_completed", (json_int_t)ps.jobs_completed);
    if (m && df_store_run_set_metrics(e->store, r->id, m) != DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
    json_decref(m);
    if (st == DF_RS_FAILED || st == DF_RS_INVALID)
        df_engine_raise_alert(e, r->id, r->wf, "run_failed", NULL, df_run_state_name(st), NULL, 0);
    else if (st == DF_RS_SUCCESS)
        df_engine_raise_alert(e, r->id, r->wf, "run_succeeded", NULL, "SUCCESS", NULL, 0);
    r->ended = true;
    r->final_state = st;
    for (size_t i = 0; i < r->wf->n_tasks; i++)
        stop_timer(&r->t[i].retry_timer);
    emit(r, (size_t)-1, NULL);
    return true;
}

void df_run_cancel_all(df_run *r)
{
    r->cancelling = true;
    for (size_t i = 0; i < r->wf->n_tasks; i++) {
        df_task_rt *t = &r->t[i];
        if (t->running && t->running->job && !t->running->abandoned)
            df_pool_cancel(r->e->pool, t->running->job);
        if (t->retry_timer) {
            free(t->retry_timer->data);
            t->retry_timer->data = NULL;
            stop_timer(&t->retry_timer);
        }
    }
    /* Attempts the full pool queue refused never started: close them as CANCELLED now. */
    for (size_t k = 0; k < r->unsubmitted_n; k++) {
        df_attempt_rec *rec = r->unsubmitted[k];
        release_attempt(r, rec);
        finish_attempt(r, rec, DF_TASK_FAILED, NULL, NULL, NULL);
        free(rec);
    }
    r->unsubmitted_n = 0;
}

void df_run_abandon_in_flight(df_run *r)
{
    df_engine *e = r->e;
    for (size_t i = 0; i < r->wf->n_tasks; i++) {
        df_attempt_rec *rec = r->t[i].running;
        if (!rec || rec->abandoned || rec->synthetic)
            continue;
        rec->abandoned = true;
        release_attempt(r, rec);
        rec->next_abandoned = e->abandoned;
        e->abandoned = rec;
        finish_attempt(r, rec, DF_TASK_FAILED, NULL,
                       "cancelled: no result within the shutdown grace period (a plugin that "
                       "ignores cancellation, or no worker free to start it)",
                       NULL);
    }
}

bool df_run_waiting_for_pool(const df_run *r)
{
    return r->unsubmitted_n > 0;
}

bool df_run_ended(const df_run *r)
{
    return r->ended;
}

df_run_state df_run_final_state(const df_run *r)
{
    return r->final_state;
}

long long df_run_id(const df_run *r)
{
    return r->id;
}

void df_run_close_handles(df_run *r)
{
    for (size_t i = 0; i < r->wf->n_tasks; i++) {
        if (r->t[i].retry_timer) {
            free(r->t[i].retry_timer->data);
            r->t[i].retry_timer->data = NULL;
        }
        stop_timer(&r->t[i].retry_timer);
        if (r->t[i].running)
            stop_timer(&r->t[i].running->timer);
    }
}

void df_run_free(df_run *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->wf->n_tasks; i++) {
        json_decref(r->t[i].result);
        /* Attempts still in the pool are freed with the pool's late results (engine close). */
    }
    for (size_t k = 0; k < r->unsubmitted_n; k++)
        free(r->unsubmitted[k]);
    free(r->t);
    free(r->heap);
    free(r->eval);
    free(r->held);
    free(r->unsubmitted);
    free(r->plugins);
    json_decref(r->params);
    df_workflow_free(r->wf);
    free(r);
}

/* ---- resume and retry ---- */

/* A stored result (JSON text, or NULL) as the value the run keeps: NULL for none or null; text
 * that does not parse stays a string. JSON_ALLOW_NUL: results may hold "\u0000" (binary
 * output), which jansson refuses by default. New reference. */
static json_t *stored_result(const char *text)
{
    if (!text)
        return NULL;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v)
        return json_string(text);
    if (json_is_null(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* Restores task states from df_store_load_run's tasks (in file order) and recounts. */
static int restore_tasks(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    for (size_t k = 0; k < loaded->n_tasks; k++) {
        const df_stored_task *st = &loaded->tasks[k];
        long i = df_workflow_find_task(r->wf, st->id);
        if (i < 0) {
            snprintf(err, errlen, "run %lld: stored task \"%s\" is not in its stored DAG", r->id,
                     st->id);
            return -1;
        }
        df_task_rt *t = &r->t[i];
        t->state = st->state;
        t->attempt = st->attempts;
        t->retry_base = st->retry_base;
        t->lost_streak = st->lost_streak;
        t->failures = st->failures;
        t->result = stored_result(st->result_json);
    }
    r->n_final = r->n_failed = 0;
    for (size_t i = 0; i < r->wf->n_tasks; i++) {
        df_task_rt *t = &r->t[i];
        t->up_success = t->up_failed = t->up_skipped = 0;
    }
    for (size_t i = 0; i < r->wf->n_tasks; i++) {
        df_task_state s = r->t[i].state;
        if (!df_task_state_final(s))
            continue;
        r->n_final++;
        if (df_task_state_failed(s))
            r->n_failed++;
        const df_task_def *d = &r->wf->tasks[i];
        for (size_t k = 0; k < d->n_downstream; k++) {
            df_task_rt *dt = &r->t[d->downstream[k]];
            if (s == DF_TS_SUCCESS)
                dt->up_success++;
            else if (s == DF_TS_SKIPPED)
                dt->up_skipped++;
            else
                dt->up_failed++;
        }
    }
    return 0;
}

/* Whether the engine recorded for a RUNNING run is still alive. */
static bool engine_alive(const df_stored_run *loaded, char *who, size_t wholen)
{
    long long pid = loaded->engine.pid;
    const char *host = loaded->has_engine ? loaded->engine.host : NULL;
    int64_t age = loaded->heartbeat_at ? df_now_ms() - loaded->heartbeat_at : INT64_MAX;
    char me[256] = "";
    gethostname(me, sizeof me - 1);
    snprintf(who, wholen, "pid %lld on %s", pid, host ? host : "?");
    if (host && strcmp(host, me) == 0 && pid > 0) {
        if (pid == (long long)getpid())
            return false;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            return false; /* that process is gone */
    }
    return age < DF_HEARTBEAT_STALE_MS;
}

/* Takes ownership of the run in the store: this engine (a compare-and-set against the engine
 * read with the run, so of two resumes at once only one wins), state RUNNING. Returns 0,
 * DF_EREFUSED with err filled when another engine claimed it first, DF_ESTORE (err filled) on a
 * store failure. */
static int take_over(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    df_engine *e = r->e;
    if (df_engine_tx(e) != 0) {
        snprintf(err, errlen, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    int rc = df_store_run_claim(e->store, r->id, loaded->has_engine ? &loaded->engine : NULL,
                                &e->engine_info, df_now_ms());
    if (rc == DF_STORE_CONFLICT) {
        snprintf(err, errlen, "run %lld was taken over by another engine just now; not resuming",
                 r->id);
        df_store_rollback(e->store);
        e->in_tx = false;
        return DF_EREFUSED;
    }
    if (rc != DF_STORE_OK ||
        df_store_run_set_state(e->store, r->id, DF_RS_RUNNING, 0) != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        snprintf(err, errlen, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    return 0;
}

static int redeliver_pending_alerts(df_run *r)
{
    df_pending_alert *pending = NULL;
    size_t n = 0;
    if (df_store_alerts_pending(r->e->store, r->id, &pending, &n) != DF_STORE_OK) {
        df_engine_fail(r->e, "%s", df_store_error(r->e->store));
        return DF_ESTORE;
    }
    for (size_t k = 0; k < n; k++)
        df_engine_redeliver_alert(r->e, r->wf, pending[k].alert_id, pending[k].sink_index,
                                  pending[k].payload, pending[k].tries);
    df_pending_alerts_free(pending, n);
    return 0;
}

int df_run_resume_prepare(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    df_run_state st = loaded->state;
    if (st == DF_RS_SUCCESS || st == DF_RS_FAILED || st == DF_RS_INVALID) {
        /* A finished run whose engine died before its alerts were delivered: deliver them. */
        df_pending_alert *pending = NULL;
        size_t n_pending = 0;
        if (df_store_alerts_pending(r->e->store, r->id, &pending, &n_pending) == DF_STORE_OK &&
            n_pending > 0) {
            df_pending_alerts_free(pending, n_pending);
            if (restore_tasks(r, loaded, err, errlen) != 0)
                return DF_EREFUSED;
            r->ended = true;
            r->final_state = st;
            return redeliver_pending_alerts(r);
        }
        df_pending_alerts_free(pending, n_pending);
        snprintf(err, errlen,
                 "run %lld has finished (%s); nothing to resume (use `dagflow retry %lld` to "
                 "re-run its failed tasks)",
                 r->id, df_run_state_name(st), r->id);
        return DF_EREFUSED;
    }
    char who[300];
    if (st == DF_RS_RUNNING && engine_alive(loaded, who, sizeof who)) {
        snprintf(err, errlen, "run %lld is still being run by a live engine (%s); not resuming",
                 r->id, who);
        return DF_EREFUSED;
    }
    if (restore_tasks(r, loaded, err, errlen) != 0)
        return DF_EREFUSED;
    int claimed = take_over(r, loaded, err, errlen);
    if (claimed != 0)
        return claimed;
    int64_t now = df_now_ms();
    for (size_t k = 0; k < loaded->n_tasks; k++) {
        const df_stored_task *stored = &loaded->tasks[k];
        long i = df_workflow_find_task(r->wf, stored->id);
        df_task_rt *t = &r->t[i];
        const df_task_def *d = &r->wf->tasks[i];
        unsigned open = stored->open_attempt;
        if (open > 0) {
            if (df_store_attempt_close(r->e->store, r->id, d->id, open, DF_AO_LOST, now,
                                       "the engine died during this attempt",
                                       NULL) != DF_STORE_OK) {
                df_engine_fail(r->e, "%s", df_store_error(r->e->store));
                return DF_ESTORE;
            }
            t->lost_streak++;
        }
        if (t->state == DF_TS_RUNNING) {
            if (t->lost_streak >= DF_MAX_LOST_STREAK) {
                char msg[300];
                snprintf(msg, sizeof msg,
                         "attempt lost %u times in a row: the engine died during each of them "
                         "(this task may be taking the engine down, or it was running when "
                         "something else did; `dagflow retry` re-runs it)",
                         t->lost_streak);
                if (set_state(r, (size_t)i,
                              &(change){.to = DF_TS_FAILED,
                                        .to_attempt = t->attempt,
                                        .detail = "lost too many times",
                                        .error = msg}) != 0)
                    return DF_ESTORE;
                df_engine_raise_alert(r->e, r->id, r->wf, "task_failed", d->id, "FAILED", msg,
                                      t->attempt);
                continue;
            }
            if (set_state(r, (size_t)i,
                          &(change){.to = DF_TS_QUEUED,
                                    .to_attempt = t->attempt,
                                    .cause = DF_TC_RECOVER,
                                    .detail = "attempt lost: the engine died"}) != 0)
                return DF_ESTORE;
        }
        if (t->state == DF_TS_QUEUED) {
            heap_push(r, (size_t)i);
        } else if (t->state == DF_TS_UP_FOR_RETRY) {
            start_retry_timer(r, (size_t)i, stored->next_retry_at ? stored->next_retry_at : now);
        }
    }
    drain_eval(r);
    return redeliver_pending_alerts(r);
}

int df_run_retry_prepare(df_run *r, const df_stored_run *loaded, const char *task, char *err,
                         size_t errlen)
{
    df_run_state st = loaded->state;
    if (st == DF_RS_RUNNING || st == DF_RS_INTERRUPTED) {
        snprintf(err, errlen,
                 "run %lld has not finished (%s); use `dagflow resume %lld` to continue it", r->id,
                 df_run_state_name(st), r->id);
        return DF_EREFUSED;
    }
    if (st == DF_RS_INVALID) {
        snprintf(err, errlen,
                 "run %lld is INVALID (a plugin rejected its params); fix the workflow and run "
                 "it again",
                 r->id);
        return DF_EREFUSED;
    }
    if (restore_tasks(r, loaded, err, errlen) != 0)
        return DF_EREFUSED;
    size_t n = r->wf->n_tasks;
    unsigned char *reopen = calloc(n ? n : 1, 1);
    size_t *stack = calloc(n ? n : 1, sizeof *stack);
    size_t sp = 0;
    if (!reopen || !stack) {
        free(reopen);
        free(stack);
        snprintf(err, errlen, "out of memory");
        return DF_ENOMEM;
    }
    if (task) {
        long i = df_workflow_find_task(r->wf, task);
        if (i < 0) {
            snprintf(err, errlen, "run %lld has no task \"%s\"", r->id, task);
            free(reopen);
            free(stack);
            return DF_EREFUSED;
        }
        reopen[i] = 1;
        stack[sp++] = (size_t)i;
    } else {
        for (size_t i = 0; i < n; i++)
            if (r->t[i].state == DF_TS_FAILED || r->t[i].state == DF_TS_UPSTREAM_FAILED) {
                reopen[i] = 1;
                stack[sp++] = i;
            }
    }
    /* Downstream closure: with --task everything downstream; else the SKIPPED ones (and the
     * failed ones, already in) downstream of the reopened tasks. */
    while (sp > 0) {
        size_t i = stack[--sp];
        const df_task_def *d = &r->wf->tasks[i];
        for (size_t k = 0; k < d->n_downstream; k++) {
            size_t j = d->downstream[k];
            if (reopen[j])
                continue;
            if (task || r->t[j].state == DF_TS_SKIPPED) {
                reopen[j] = 1;
                stack[sp++] = j;
            }
        }
    }
    free(stack);
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += reopen[i];
    if (count == 0) {
        free(reopen);
        snprintf(err, errlen, "run %lld has no failed tasks to retry (use --task ID to re-run one)",
                 r->id);
        return DF_EREFUSED;
    }
    int claimed = take_over(r, loaded, err, errlen);
    if (claimed != 0) {
        free(reopen);
        return claimed;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = r->wf->topo[k];
        df_task_rt *t = &r->t[i];
        if (!reopen[i] || t->state == DF_TS_PENDING)
            continue;
        if (!df_task_state_final(t->state)) {
            continue; /* not reachable for a finished run */
        }
        if (set_state(r, i,
                      &(change){.to = DF_TS_PENDING,
                                .to_attempt = t->attempt,
                                .cause = DF_TC_RETRY_CMD,
                                .detail = task ? "retry --task" : "retry",
                                .error = "",
                                .result_json = "null",
                                .reset_budget = true}) != 0) {
            free(reopen);
            return DF_ESTORE;
        }
        json_decref(t->result);
        t->result = NULL;
        t->lost_streak = 0;
    }
    free(reopen);
    r->eval_n = 0;
    for (size_t i = 0; i < n; i++)
        r->t[i].in_eval = false;
    return 0;
}
