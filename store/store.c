/* store: the backend-neutral half of store.h — checking every call's arguments once for all
 * backends, dispatching through the backend's table of operations (store/select.c picks the
 * backend) and freeing the records the reads return. The JSON the CLI prints from the backends'
 * typed views is made in store/views.c. No SQL here (see store/sqlite/, store/pg/). */
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* See store.h. */
void df_store_close(df_store *s)
{
    if (!s)
        return;
    free(s->fenced);
    s->ops->close(s);
}

/* See store.h. */
const char *df_store_error(const df_store *s)
{
    return s ? s->err : "";
}

/* See backend.h. */
int df_store_failf(df_store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return code;
}

/* The failure of a call whose arguments are not well-formed. */
static int bad_args(df_store *s, const char *what)
{
    return df_store_failf(s, DF_STORE_ERROR, "store: %s: invalid arguments", what);
}

/* A write of run_id's rows, fenced by the run's lease (store/lease.c) when an engine set one. */
#define FENCED(s, run_id, call)                                                                    \
    do {                                                                                           \
        bool own_;                                                                                 \
        int code_ = df_store_fence((s), (run_id), &own_);                                          \
        if (code_ != DF_STORE_OK)                                                                  \
            return code_;                                                                          \
        return df_store_fence_end((s), own_, (call));                                              \
    } while (0)

/* ---- group commit --------------------------------------------------------------------------- */

int df_store_begin(df_store *s)
{
    s->tx_lost = false;
    int code = s->ops->begin(s);
    if (code == DF_STORE_OK) {
        s->in_tx = true;
        df_store_fence_reset(s);
    }
    return code;
}

void df_store_defer_checks(df_store *s, bool on)
{
    if (s)
        s->defer_checks = on;
}

int df_store_commit(df_store *s)
{
    int code = s->ops->commit(s);
    if (code == DF_STORE_OK) {
        s->in_tx = false;
        df_store_fence_reset(s);
    }
    return code;
}

int df_store_rollback(df_store *s)
{
    s->in_tx = false;
    if (!s->tx_lost) /* df_store_tx_lost still names the runs of a lost one */
        df_store_fence_reset(s);
    return s->ops->rollback(s);
}

/* ---- the database file ----------------------------------------------------------------------- */

/* See store.h. */
int df_store_checkpoint(df_store *s, bool *complete)
{
    bool done = false;
    int code = s->ops->checkpoint(s, &done);
    if (complete)
        *complete = code == DF_STORE_OK && done;
    return code;
}

/* See store.h. */
int df_store_check_file(df_store *s)
{
    return s->ops->check_file(s);
}

/* ---- writes --------------------------------------------------------------------------------- */

/* Checks a run record before anything is written: required fields, every task with an id and a
 * plugin, every depends_on index in range. Returns DF_STORE_OK or DF_STORE_ERROR (recorded). */
static int check_run_record(df_store *s, const df_run_record *run, const char *W)
{
    if (!run->workflow)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: the workflow's name is missing", W);
    if (!run->dag_json)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: the DAG document is missing", W);
    if (run->n_tasks && !run->tasks)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: %zu tasks announced, none given", W,
                              run->n_tasks);
    if (run->n_plugins && !run->plugins)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: %zu plugins announced, none given", W,
                              run->n_plugins);
    if (run->engine && !run->engine->host)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: the engine's host is missing", W);
    for (size_t i = 0; i < run->n_tasks; i++) {
        const df_task_record *t = &run->tasks[i];
        if (!t->id || !t->plugin)
            return df_store_failf(s, DF_STORE_ERROR, "store: %s: task %zu needs an id and a plugin",
                                  W, i);
        if (t->n_depends_on && !t->depends_on)
            return df_store_failf(s, DF_STORE_ERROR,
                                  "store: %s: task \"%s\": depends_on is missing", W, t->id);
        for (size_t j = 0; j < t->n_depends_on; j++)
            if (t->depends_on[j] >= run->n_tasks)
                return df_store_failf(
                    s, DF_STORE_ERROR,
                    "store: %s: task \"%s\": depends_on index %zu is out of range (the "
                    "run has %zu tasks)",
                    W, t->id, t->depends_on[j], run->n_tasks);
    }
    return DF_STORE_OK;
}

/* See store.h. */
int df_store_create_run(df_store *s, const df_run_record *run, long long *run_id)
{
    const char *W = "create run";
    if (!run || !run_id)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: no run given", W);
    int code = check_run_record(s, run, W);
    return code == DF_STORE_OK ? s->ops->create_run(s, run, run_id) : code;
}

int df_store_transition(df_store *s, const df_transition *t)
{
    if (!t || !t->task_id || (unsigned)t->from >= DF_TS__COUNT || (unsigned)t->to >= DF_TS__COUNT)
        return bad_args(s, "record transition");
    FENCED(s, t->run_id, s->ops->transition(s, t));
}

int df_store_attempt_open(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                          int64_t started_at)
{
    return df_store_instance_attempt_open(s, run_id, task_id, DF_NO_MAP_INDEX, attempt, started_at);
}

int df_store_instance_attempt_open(df_store *s, long long run_id, const char *task_id,
                                   long long map_index, unsigned attempt, int64_t started_at)
{
    if (!task_id || attempt == 0 || map_index < DF_NO_MAP_INDEX)
        return bad_args(s, "open attempt");
    FENCED(s, run_id, s->ops->attempt_open(s, run_id, task_id, map_index, attempt, started_at));
}

int df_store_attempt_close(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                           df_attempt_outcome outcome, int64_t ended_at, const char *error,
                           const char *log)
{
    return df_store_instance_attempt_close(s, run_id, task_id, DF_NO_MAP_INDEX, attempt, outcome,
                                           ended_at, error, log);
}

int df_store_instance_attempt_close(df_store *s, long long run_id, const char *task_id,
                                    long long map_index, unsigned attempt,
                                    df_attempt_outcome outcome, int64_t ended_at, const char *error,
                                    const char *log)
{
    return df_store_instance_attempt_close_output(s, run_id, task_id, map_index, attempt, outcome,
                                                  ended_at, error, log, NULL);
}

int df_store_instance_attempt_close_output(df_store *s, long long run_id, const char *task_id,
                                           long long map_index, unsigned attempt,
                                           df_attempt_outcome outcome, int64_t ended_at,
                                           const char *error, const char *log, const char *output)
{
    if (!task_id || outcome == DF_AO_RUNNING || (unsigned)outcome >= DF_AO__COUNT ||
        map_index < DF_NO_MAP_INDEX)
        return bad_args(s, "close attempt");
    FENCED(s, run_id,
           s->ops->attempt_close(s, run_id, task_id, map_index, attempt, outcome, ended_at, error,
                                 log, output));
}

int df_store_map_expand(df_store *s, long long run_id, const char *task_id, long long from,
                        long long n, int64_t at)
{
    if (!task_id || from < 0 || n <= from)
        return bad_args(s, "expand mapped task");
    FENCED(s, run_id, s->ops->map_expand(s, run_id, task_id, from, n, at));
}

int df_store_run_set_state(df_store *s, long long run_id, df_run_state state, int64_t ended_at)
{
    if ((unsigned)state >= DF_RS__COUNT)
        return df_store_failf(s, DF_STORE_ERROR, "store: set run state: invalid run state %d",
                              (int)state);
    FENCED(s, run_id, s->ops->run_set_state(s, run_id, state, ended_at));
}

int df_store_run_set_error(df_store *s, long long run_id, const char *error)
{
    FENCED(s, run_id, s->ops->run_set_error(s, run_id, error));
}

/* The failure of a call given no engine, or one without its host. */
static int bad_engine(df_store *s, const char *what)
{
    return df_store_failf(s, DF_STORE_ERROR, "store: %s: the engine or its host is missing", what);
}

int df_store_run_set_engine(df_store *s, long long run_id, const df_engine_id *engine, int64_t at)
{
    if (!engine || !engine->host)
        return bad_engine(s, "set run engine");
    return s->ops->run_set_engine(s, run_id, engine, at);
}

int df_store_run_claim(df_store *s, long long run_id, const df_engine_id *expected,
                       const df_engine_id *engine, int64_t at)
{
    if (!engine || !engine->host)
        return bad_engine(s, "claim run");
    return s->ops->run_claim(s, run_id, expected, engine, at);
}

int df_store_run_heartbeat(df_store *s, long long run_id, int64_t at)
{
    FENCED(s, run_id, s->ops->run_heartbeat(s, run_id, at));
}

int df_store_run_set_metrics(df_store *s, long long run_id, const json_t *metrics)
{
    FENCED(s, run_id, s->ops->run_set_metrics(s, run_id, metrics));
}

int df_store_breaker_event(df_store *s, long long run_id, const char *task_id, const char *breaker,
                           df_breaker_state from, df_breaker_state to, double failure_rate,
                           int calls, int64_t at)
{
    if (!breaker || (unsigned)from >= DF_BREAKER__COUNT || (unsigned)to >= DF_BREAKER__COUNT)
        return bad_args(s, "record breaker change");
    FENCED(s, run_id,
           s->ops->breaker_event(s, run_id, task_id, breaker, from, to, failure_rate, calls, at));
}

int df_store_alert_add(df_store *s, long long run_id, const char *task_id, const char *event,
                       const char *sink, int sink_index, const char *payload, int64_t created_at,
                       long long *alert_id)
{
    if (!event || !sink || !payload || !alert_id)
        return bad_args(s, "add alert");
    FENCED(s, run_id,
           s->ops->alert_add(s, run_id, task_id, event, sink, sink_index, payload, created_at,
                             alert_id));
}

int df_store_alert_update(df_store *s, long long alert_id, df_alert_status status, int tries,
                          int64_t delivered_at, const char *error)
{
    if ((unsigned)status >= DF_ALERT__COUNT)
        return df_store_failf(s, DF_STORE_ERROR, "store: update alert: invalid status %d",
                              (int)status);
    return s->ops->alert_update(s, alert_id, status, tries, delivered_at, error);
}

/* ---- reads ---------------------------------------------------------------------------------- */

int df_store_alerts_pending(df_store *s, long long run_id, df_pending_alert **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return s->ops->alerts_pending(s, run_id, out, n);
}

/* See store.h. */
void df_pending_alerts_free(df_pending_alert *alerts, size_t n)
{
    for (size_t i = 0; alerts && i < n; i++)
        free(alerts[i].payload);
    free(alerts);
}

int df_store_load_run(df_store *s, long long run_id, df_stored_run **out)
{
    *out = NULL;
    return s->ops->load_run(s, run_id, out);
}

/* See store.h. */
void df_stored_run_free(df_stored_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->n_tasks; i++) {
        df_stored_task *t = &run->tasks[i];
        free(t->id);
        free(t->plugin);
        free(t->result_json);
        free(t->error);
    }
    free(run->tasks);
    free(run->workflow);
    free(run->dag_json);
    free(run->path);
    free(run->dir);
    free(run->params_json);
    free(run->plugins_json);
    free((char *)run->engine.host);
    free((char *)run->engine.kind);
    free(run->origin.parent_task_id);
    free(run->origin.error);
    free(run);
}

/* ---- cancel requests ---- */

int df_store_cancel_request(df_store *s, long long run_id, const char *reason, int64_t requested_at,
                            df_run_state *state)
{
    df_run_state scratch = DF_RS_RUNNING;
    if (!state)
        state = &scratch;
    *state = DF_RS_RUNNING;
    if (requested_at <= 0)
        return df_store_failf(s, DF_STORE_ERROR, "store: cancel request: no time");
    return s->ops->cancel_request(s, run_id, reason, requested_at, state);
}

int df_store_cancel_clear(df_store *s, long long run_id)
{
    FENCED(s, run_id, s->ops->cancel_clear(s, run_id));
}

int df_store_cancel_requests(df_store *s, long long run_id, df_cancel_request **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (run_id < 0)
        return df_store_failf(s, DF_STORE_ERROR, "store: cancel requests: bad run id %lld", run_id);
    return s->ops->cancel_requests(s, run_id, out, n);
}

void df_cancel_requests_free(df_cancel_request *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].reason);
    free(r);
}

int df_store_child_run(df_store *s, long long parent_run_id, const char *parent_task_id,
                       long long *run_id, df_run_state *state)
{
    *run_id = 0;
    *state = DF_RS_RUNNING;
    if (!parent_task_id)
        return df_store_failf(s, DF_STORE_ERROR, "store: child run: no task id");
    return s->ops->child_run(s, parent_run_id, parent_task_id, run_id, state);
}

/* ---- SPEC §12: attempts' processes, charged losses, running periods ---- */

int df_store_attempt_proc_add(df_store *s, long long run_id, const char *task_id,
                              long long map_index, unsigned attempt, long long pgid,
                              int64_t pid_started_at, const char *host, const char *cgroup)
{
    if (!task_id || !host || attempt == 0 || pgid <= 0 || map_index < DF_NO_MAP_INDEX)
        return bad_args(s, "record attempt process");
    FENCED(s, run_id,
           s->ops->attempt_proc_add(s, run_id, task_id, map_index, attempt, pgid, pid_started_at,
                                    host, cgroup));
}

int df_store_attempt_procs(df_store *s, long long run_id, df_attempt_proc **out, size_t *n)
{
    if (!out || !n)
        return bad_args(s, "read attempt processes");
    *out = NULL;
    *n = 0;
    return s->ops->attempt_procs(s, run_id, out, n);
}

/* See store.h. */
void df_attempt_procs_free(df_attempt_proc *procs, size_t n)
{
    for (size_t i = 0; procs && i < n; i++) {
        free(procs[i].task_id);
        free(procs[i].host);
        free(procs[i].cgroup);
    }
    free(procs);
}

int df_store_attempt_procs_forget(df_store *s, long long run_id, const char *host)
{
    if (!host)
        return bad_args(s, "forget attempt processes");
    FENCED(s, run_id, s->ops->attempt_procs_forget(s, run_id, host));
}

int df_store_attempt_charge(df_store *s, long long run_id, const char *task_id, long long map_index,
                            unsigned attempt)
{
    if (!task_id || attempt == 0 || map_index < DF_NO_MAP_INDEX)
        return bad_args(s, "charge attempt");
    FENCED(s, run_id, s->ops->attempt_charge(s, run_id, task_id, map_index, attempt));
}

int df_store_crash_report(df_store *s, const df_crash_report *r, df_crash_mark *mark)
{
    df_crash_mark none = DF_CRASH_MARK_NONE;
    if (!mark)
        mark = &none;
    *mark = DF_CRASH_MARK_NONE;
    if (!r || !r->task_id || !r->host || r->attempt == 0 || r->pid <= 0 ||
        r->map_index < DF_NO_MAP_INDEX)
        return bad_args(s, "report a crash");
    return s->ops->crash_report(s, r, mark);
}

int df_store_run_period_start(df_store *s, long long run_id, int64_t at, int64_t close_open_at)
{
    FENCED(s, run_id, s->ops->run_period_start(s, run_id, at, close_open_at));
}

int df_store_run_period_end(df_store *s, long long run_id, int64_t at)
{
    FENCED(s, run_id, s->ops->run_period_end(s, run_id, at));
}

/* ---- schedules and the service ---- */

const char *df_sched_decision_name(df_sched_decision d)
{
    static const char *const names[DF_SCHED__COUNT] = {"run", "queued", "skipped", "dropped"};
    return (unsigned)d < DF_SCHED__COUNT ? names[d] : "?";
}

int df_store_schedule_anchor(df_store *s, const char *workflow, int64_t now_ms,
                             int64_t *first_loaded_at)
{
    if (!workflow || !first_loaded_at)
        return bad_args(s, "schedule anchor");
    return s->ops->schedule_anchor(s, workflow, now_ms, first_loaded_at);
}

int df_store_schedule_last(df_store *s, const char *workflow, int64_t *last, bool *has)
{
    if (!workflow || !last || !has)
        return bad_args(s, "schedule last");
    *has = false;
    *last = 0;
    return s->ops->schedule_last(s, workflow, last, has);
}

int df_store_schedule_claim(df_store *s, const char *workflow, int64_t logical_time,
                            bool from_queued, df_sched_decision decision, long long run_id,
                            int64_t decided_at, bool *won)
{
    if (!workflow || !won || (unsigned)decision >= DF_SCHED__COUNT)
        return bad_args(s, "schedule claim");
    *won = false;
    return s->ops->schedule_claim(s, workflow, logical_time, from_queued, decision, run_id,
                                  decided_at, won);
}

int df_store_schedule_set_run(df_store *s, const char *workflow, int64_t logical_time,
                              long long run_id)
{
    if (!workflow || run_id < 0)
        return bad_args(s, "schedule set run");
    return s->ops->schedule_set_run(s, workflow, logical_time, run_id);
}

int df_store_schedule_queued(df_store *s, const char *workflow, size_t max, int64_t **out,
                             size_t *n)
{
    if (!workflow || !out || !n)
        return bad_args(s, "schedule queued");
    *out = NULL;
    *n = 0;
    return s->ops->schedule_queued(s, workflow, max, out, n);
}

int df_store_active_runs(df_store *s, const char *workflow, long long *n)
{
    if (!workflow || !n)
        return bad_args(s, "active runs");
    *n = 0;
    return s->ops->active_runs(s, workflow, n);
}

int df_store_serve_runs(df_store *s, long long **ids, char ***workflows, size_t *n)
{
    if (!ids || !workflows || !n)
        return bad_args(s, "serve runs");
    *ids = NULL;
    *workflows = NULL;
    *n = 0;
    return s->ops->serve_runs(s, ids, workflows, n);
}
