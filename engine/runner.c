/* runner: the shell around one run's pure core (run.h) — it builds the run, feeds the core its
 * events (the engine's ticks, attempt results from the pool's inbox, stop, store failure,
 * shutdown's grace) and performs the effects (runner_fx.c). Submission is here: an attempt the
 * core started is handed to the pool only after the engine has committed the transaction that
 * records it RUNNING (df_run_submit, called after each commit), with its templates resolved and
 * its params validated again. Recovery's events come from recover.c. */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "remote.h"
#include "schedule.h"
#include "template.h"

static double engine_random(void *ud)
{
    return df_engine_random(ud);
}

/* The core over r's workflow, with the engine's shared pools, breakers and limits. */
static df_run_core *core_new(df_run *r)
{
    df_engine *e = r->e;
    const df_workflow *wf = r->wf;
    df_slot_pool **pools = calloc(wf->n_pools ? wf->n_pools : 1, sizeof *pools);
    df_breaker **breakers = calloc(wf->n_breakers ? wf->n_breakers : 1, sizeof *breakers);
    df_run_core *c = NULL;
    bool found = pools && breakers;
    for (size_t k = 0; found && k < wf->n_pools; k++)
        found = (pools[k] = df_engine_slot_pool(e, wf->pools[k].name)) != NULL;
    for (size_t k = 0; found && k < wf->n_breakers; k++) {
        df_engine_breaker *eb = df_engine_breaker_find(e, wf->breakers[k].name);
        found = eb && (breakers[k] = eb->b);
    }
    if (found) {
        df_run_core_config cfg = {.run_id = r->id,
                                  .wf = wf,
                                  .limits = &e->limits,
                                  .pools = pools,
                                  .breakers = breakers,
                                  .random = engine_random,
                                  .random_ud = e,
                                  .params = r->params};
        c = df_run_core_new(&cfg);
    }
    free(pools);
    free(breakers);
    return c;
}

df_run *df_run_new(df_engine *e, long long run_id, df_workflow *wf, const df_plugin **plugins,
                   json_t *params)
{
    size_t n = wf->n_tasks + 1; /* the last io is the run's own (its deadline timer) */
    df_run *r = calloc(1, sizeof *r);
    if (r) {
        r->e = e;
        r->id = run_id;
        r->wf = wf;
        r->plugins = plugins;
        r->params = params;
        r->io = calloc(n, sizeof *r->io);
        r->pending = calloc(n, sizeof *r->pending);
        r->pending_cap = n;
        r->ready_at = calloc(n, sizeof *r->ready_at); /* NULL: no latency figures, no failure */
        r->ready_tx = calloc(n, sizeof *r->ready_tx);
        r->core = core_new(r);
    }
    if (!r || !r->io || !r->pending || !r->ready_tx || !r->core) {
        if (r) {
            free(r->io);
            free(r->pending);
            free(r->ready_at);
            free(r->ready_tx);
            df_run_core_free(r->core);
            free(r);
        }
        df_workflow_free(wf);
        free(plugins);
        json_decref(params);
        return NULL;
    }
    for (size_t i = 0; i < wf->n_tasks; i++)
        r->io[i] = (df_task_io){.run = r, .task = i};
    r->io[wf->n_tasks] = (df_task_io){.run = r, .task = DF_RUN_NO_TASK};
    return r;
}

int df_run_set_origin(df_run *r, df_run_trigger trigger, int64_t logical_time, int64_t started_at,
                      long long parent_run_id, const char *parent_task_id)
{
    r->trigger = trigger;
    r->started_at = started_at;
    r->logical_time = logical_time ? logical_time : started_at;
    r->parent_run_id = parent_run_id;
    free(r->parent_task_id);
    r->parent_task_id = parent_task_id ? strdup(parent_task_id) : NULL;
    df_iso8601(r->logical_time, r->ctx_logical_time, sizeof r->ctx_logical_time);
    df_iso8601(r->started_at, r->ctx_started_at, sizeof r->ctx_started_at);
    df_schedule_local_date(r->wf->schedule, r->logical_time, r->ctx_logical_date,
                           sizeof r->ctx_logical_date);
    return parent_task_id && !r->parent_task_id ? DF_ENOMEM : 0;
}

void df_run_free(df_run *r)
{
    if (!r)
        return;
    free(r->parent_task_id);
    /* Attempts still in the pool are freed with the pool's late results (engine close). */
    df_run_core_free(r->core);
    free(r->io);
    df_run_map_free_io(r);
    free(r->pending);
    free(r->ready_at);
    free(r->ready_tx);
    free(r->plugins);
    json_decref(r->params);
    json_decref(r->admission);
    df_workflow_free(r->wf);
    free(r);
}

/* ---- events from the engine ---- */

void df_run_mark_invalid(df_run *r, const unsigned char *invalid, const char *const *msgs)
{
    df_run_clock clk = df_run_now();
    df_run_core_mark_invalid(r->core, invalid, msgs, &clk);
    df_run_perform(r);
}

void df_run_start(df_run *r)
{
    df_run_core_start(r->core);
    df_run_clock clk = df_run_now();
    df_run_core_arm_deadline(r->core, &clk);
    df_run_perform(r);
    df_engine_wake(r->e);
}

bool df_run_evaluate(df_run *r, size_t max)
{
    if (r->e->fatal || r->e->stopping)
        return false;
    df_run_clock clk = df_run_now();
    bool more = df_run_core_evaluate(r->core, max, &clk);
    df_run_perform(r);
    return more;
}

bool df_run_dispatch(df_run *r, size_t max)
{
    if (r->e->fatal || r->e->stopping)
        return false;
    df_run_clock clk = df_run_now();
    bool more = df_run_core_dispatch(r->core, max, &clk);
    df_run_perform(r);
    return more && !r->e->fatal;
}

bool df_run_check_end(df_run *r)
{
    df_run_clock clk = df_run_now();
    df_run_core_check_end(r->core, &clk);
    df_run_perform(r);
    if (df_run_core_ended(r->core) && r->parent_rec)
        df_subworkflow_ended(r);
    return df_run_core_ended(r->core);
}

void df_run_cancel_all(df_run *r)
{
    df_run_clock clk = df_run_now();
    df_run_core_cancel(r->core, r->e->stopping, &clk);
    df_run_perform(r);
}

void df_run_request_cancel(df_run *r, const char *reason)
{
    df_run_clock clk = df_run_now();
    df_run_core_request_cancel(r->core, reason, &clk);
    df_run_perform(r);
    df_engine_wake(r->e);
}

void df_run_fail(df_run *r)
{
    df_run_core_set_fatal(r->core);
    df_run_cancel_all(r);
}

void df_run_abandon_in_flight(df_run *r)
{
    df_engine *e = r->e;
    if (e->fatal)
        df_run_core_set_fatal(r->core); /* closing: nothing is recorded any more */
    for (size_t i = 0; i < df_run_core_units(r->core); i++) {
        df_task_io *io = df_run_io(r, i);
        df_attempt_rec *rec = io ? io->rec : NULL;
        if (!rec || rec->abandoned || rec->synthetic)
            continue;
        rec->abandoned = true;
        rec->next_abandoned = e->abandoned;
        e->abandoned = rec;
        io->rec = NULL;
        df_run_clock clk = df_run_now();
        df_run_core_abandon(r->core, i,
                            "cancelled: no result within the shutdown grace period (a plugin that "
                            "ignores cancellation, or no worker free to start it)",
                            &clk);
        df_run_perform(r);
    }
}

bool df_run_waiting_for_pool(const df_run *r)
{
    return df_run_core_unsubmitted(r->core) > 0;
}

bool df_run_ended(const df_run *r)
{
    return df_run_core_ended(r->core);
}

df_run_state df_run_final_state(const df_run *r)
{
    return df_run_core_final_state(r->core);
}

long long df_run_id(const df_run *r)
{
    return r->id;
}

/* ---- results ---- */

void df_run_on_result(df_engine *e, df_job_result *res)
{
    (void)e;
    df_attempt_rec *rec = res->user;
    if (rec->abandoned) {
        /* Already recorded (timed out or shut down without coming back): discard. */
        df_job_result_free(res);
        return;
    }
    df_run *r = rec->run;
    df_task_io *io = df_run_io(r, rec->task);
    if (io && io->rec == rec)
        io->rec = NULL;
    /* ready -> running wait of a task (a mapped instance is not timed: rec->task is a unit) */
    if (io && rec->task < r->wf->n_tasks && res->started_mono_us && io->ready_us &&
        !io->ready_in_tx) {
        uint64_t at = res->started_mono_us;
        df_latency_add(&r->ready_to_running, at > io->ready_us ? at - io->ready_us : 0);
        io->ready_us = 0;
    }
    df_run_clock clk = df_run_now();
    df_run_core_result_in(r->core, rec->task, rec->attempt, res->status, res->result, res->error,
                          res->log, &clk);
    df_run_perform(r);
    free(rec);
    df_job_result_free(res);
}

/* ---- submission ---- */

static const json_t *lookup_result(void *ud, const char *task_id)
{
    df_run *r = ud;
    long i = df_workflow_find_task(r->wf, task_id);
    return i < 0 ? NULL : df_run_core_result(r->core, (size_t)i);
}

/* A result for an attempt that failed before reaching the pool, posted to the inbox like a
 * worker's. */
static void fail_synthetic(df_run *r, df_attempt_rec *rec, const char *msg)
{
    df_job_result *res = calloc(1, sizeof *res);
    if (!res) {
        df_engine_fail(r->e, "out of memory");
        free(rec);
        return;
    }
    res->status = DF_TASK_FAILED_PERMANENT;
    res->error = strdup(msg);
    res->started_mono_ms = res->ended_mono_ms = df_mono_ms();
    res->user = rec;
    rec->synthetic = true;
    df_run_io(r, rec->task)->rec = rec;
    df_run_core_submitted(r->core, rec->task, false);
    df_engine_post_result(r->e, res);
}

/* The attempt's params: templates resolved, validated again by the plugin. NULL with err
 * filled when either fails. */
static json_t *attempt_params(df_run *r, const df_attempt_rec *rec, char *err, size_t errlen)
{
    long long mi;
    size_t ti = df_run_core_unit_task(r->core, rec->task, &mi);
    const df_task_def *d = &r->wf->tasks[ti];
    const df_plugin *p = r->plugins[ti];
    df_template_scope scope = {.params = r->params,
                               .run_id = r->id,
                               .workflow = r->wf->name,
                               .logical_time = r->ctx_logical_time,
                               .logical_date = r->ctx_logical_date,
                               .started_at = r->ctx_started_at,
                               .trigger = df_run_trigger_name(r->trigger),
                               .task_id = d->id,
                               .attempt = rec->attempt,
                               .mapped = mi >= 0,
                               .item = df_run_core_item(r->core, rec->task),
                               .map_index = mi,
                               .resolve_tasks = true,
                               .env = r->wf->env,
                               .task_result = lookup_result,
                               .ud = r};
    json_t *failed = NULL;
    if (d->handler) { /* SPEC §8, §10: what on_exit handlers see */
        scope.run_state = df_run_state_name(df_run_core_dag_state(r->core));
        scope.failed_tasks = failed = df_run_core_failed_tasks(r->core);
        scope.missing_result_null = true;
    }
    json_t *params = df_template_resolve(d->params, &scope, err, errlen);
    json_decref(failed);
    if (!params || !p->unit->validate)
        return params;
    char verr[1024] = "";
    if (p->unit->validate(params, verr, sizeof verr) != 0) {
        verr[sizeof verr - 1] = '\0';
        snprintf(err, errlen, "plugin %s rejected the resolved params: %s", p->name,
                 verr[0] ? verr : "(no message)");
        json_decref(params);
        return NULL;
    }
    return params;
}

static void job_free(df_job *job)
{
    json_decref(job->params);
    free(job->task_id);
    free(job->workdir);
    free(job);
}

/* Builds the job of a RUNNING attempt and submits it. Returns false when the pool's queue is
 * full (try again later). */
static bool submit(df_run *r, size_t task, unsigned attempt)
{
    df_attempt_rec *rec = calloc(1, sizeof *rec);
    if (!rec) {
        df_engine_fail(r->e, "out of memory");
        return true;
    }
    *rec = (df_attempt_rec){.run = r, .task = task, .attempt = attempt};
    char err[2048];
    json_t *params = attempt_params(r, rec, err, sizeof err);
    if (!params) {
        fail_synthetic(r, rec, err);
        return true;
    }
    long long mi;
    size_t ti = df_run_core_unit_task(r->core, task, &mi);
    if (df_subworkflow_task(r, ti)) { /* a child run, not a pool job (SPEC §10) */
        if (df_subworkflow_submit(r, rec, task, ti, mi, params, err, sizeof err) != 0)
            fail_synthetic(r, rec, err);
        return true;
    }
    if (r->e->cfg.executor_workers) { /* SPEC §11: to a worker, through the store's queue */
        if (df_remote_submit(r, rec, ti, mi, params) != 0) {
            fail_synthetic(r, rec, "out of memory");
            return true;
        }
        df_run_io(r, task)->rec = rec;
        df_run_core_submitted(r->core, task, true);
        return true;
    }
    df_job *job = calloc(1, sizeof *job);
    if (!job || !(job->task_id = strdup(r->wf->tasks[ti].id)) ||
        !(job->workdir = strdup(r->wf->dir))) {
        if (job)
            job_free(job);
        json_decref(params);
        fail_synthetic(r, rec, "out of memory");
        return true;
    }
    job->unit = r->plugins[ti]->unit;
    job->mapped = mi >= 0;
    job->map_index = mi;
    job->params = params;
    job->run_id = r->id;
    job->attempt = attempt;
    job->user = rec;
    int rc = df_pool_submit(r->e->pool, job, &rec->job);
    if (rc != 0) {
        job_free(job);
        if (rc == DF_POOL_EFULL) {
            free(rec);
            return false;
        }
        fail_synthetic(r, rec, "the worker pool is shutting down");
        return true;
    }
    df_run_io(r, task)->rec = rec;
    df_run_core_submitted(r->core, task, true);
    return true;
}

void df_run_note_ready(df_run *r, size_t task)
{
    df_task_io *io = &r->io[task];
    if (io->ready_in_tx)
        return;
    io->ready_in_tx = true;
    r->ready_tx[r->ready_tx_n++] = task;
}

void df_run_stamp_ready(df_run *r)
{
    for (size_t k = 0; k < r->ready_tx_n; k++) {
        df_task_io *io = &r->io[r->ready_tx[k]];
        io->ready_us = r->e->last_commit_us;
        io->ready_in_tx = false;
    }
    r->ready_tx_n = 0;
}

void df_run_submit(df_run *r)
{
    if (r->e->fatal)
        return;
    size_t kept = 0;
    for (size_t k = 0; k < r->pending_n; k++) {
        df_pending_submit p = r->pending[k];
        if (!df_run_core_wants_submit(r->core, p.task, p.attempt))
            continue;
        if (!submit(r, p.task, p.attempt))
            r->pending[kept++] = p;
    }
    r->pending_n = kept;
    df_run_core_submit_done(r->core);
    df_run_perform(r);
}
