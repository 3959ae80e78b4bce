/* runner_fx: the run shell performing its core's effects (run.h) — task transitions, attempt and
 * breaker records appended to the engine's group-commit transaction through the store
 * interface, alerts recorded for delivery after the commit, submissions kept until the commit
 * (df_run_submit), jobs cancelled in the pool, libuv timers armed and stopped, the observer told,
 * the run's end recorded. Once the engine is fatal nothing more is written, alerted or reported;
 * the rest (timers, cancellations, the run's own bookkeeping) still happens. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "remote.h"

df_run_clock df_run_now(void)
{
    return (df_run_clock){.now_ms = df_now_ms(), .mono_ms = df_mono_ms()};
}

/* See engine_internal.h. */
void df_engine_run_lost(df_engine *e, df_run *r)
{
    if (!e->cfg.service) {
        df_engine_taken_over(e, df_run_id(r));
        return;
    }
    if (r->lease_lost || e->fatal)
        return;
    r->lease_lost = true;
    char msg[512];
    snprintf(msg, sizeof msg,
             "run %lld: this engine lost its lease on the run (not renewed within %lld ms) and "
             "another engine adopted it; its attempts here are cancelled and nothing more is "
             "recorded for it by this engine",
             df_run_id(r), df_engine_lease_ms(e));
    df_engine_event ev = {.run_id = df_run_id(r), .workflow = r->wf->name, .notice = msg};
    df_engine_emit(e, &ev);
    df_run_fail(r);
    df_engine_wake(e);
}

void df_engine_run_dropped(df_engine *e, df_run *r, const char *msg)
{
    if (r->lease_lost || e->fatal)
        return;
    r->lease_lost = true;
    char note[1400];
    snprintf(note, sizeof note,
             "run %lld: its last changes were lost with the connection to the store (%s); the run "
             "stops here and is taken up again from the store",
             df_run_id(r), msg);
    df_engine_event ev = {.run_id = df_run_id(r), .workflow = r->wf->name, .notice = note};
    df_engine_emit(e, &ev);
    df_run_fail(r);
}

void df_engine_store_failed(df_engine *e, long long run_id, int rc)
{
    for (size_t i = 0; rc == DF_STORE_CONFLICT && i < e->n_runs; i++)
        if (df_run_id(e->runs[i]) == run_id) {
            df_engine_run_lost(e, e->runs[i]);
            return;
        }
    df_engine_fail(e, "%s", df_store_error(e->store));
}

bool df_run_lease_is_lost(const df_run *r)
{
    return r->lease_lost;
}

/* A store write's status: a lost compare-and-set means another engine took the run over. */
static void store_status(df_run *r, int rc)
{
    if (rc == DF_STORE_CONFLICT)
        df_engine_run_lost(r->e, r);
    else if (rc != DF_STORE_OK)
        df_engine_fail(r->e, "%s", df_store_error(r->e->store));
}

static void write_transition(df_run *r, const df_effect *fx)
{
    long long mi;
    size_t ti = df_run_core_unit_task(r->core, fx->task, &mi);
    df_transition tr = {.run_id = r->id,
                        .task_id = r->wf->tasks[ti].id,
                        .mapped = mi >= 0,
                        .map_index = mi,
                        .from = fx->from,
                        .from_attempt = fx->from_attempt,
                        .to = fx->to,
                        .to_attempt = fx->attempt,
                        .at = fx->at,
                        .detail = fx->detail,
                        .error = fx->error,
                        .result_json = fx->result_json,
                        .next_retry_at = fx->next_retry_at,
                        .reset_retry_budget = fx->reset_budget};
    store_status(r, df_store_transition(r->e->store, &tr));
    if (fx->to == DF_TS_QUEUED && mi < 0)
        df_run_note_ready(r, ti);
    /* ready -> running latency (GET /metrics): from the time the task was queued (unmapped
     * tasks; a mapped instance is not timed) */
    if (mi >= 0 || !r->ready_at)
        return;
    if (fx->to == DF_TS_QUEUED)
        r->ready_at[ti] = fx->at;
    else if (fx->to == DF_TS_RUNNING && fx->from == DF_TS_QUEUED && r->ready_at[ti])
        df_metrics_ready_to_running(&r->e->metrics, fx->at - r->ready_at[ti]);
}

static void write_breaker(df_run *r, const df_effect *fx)
{
    const df_breaker_change *ch = &fx->change;
    char name[200];
    int rc =
        df_store_breaker_event(r->e->store, r->id, df_run_unit_name(r, fx->task, name, sizeof name),
                               r->wf->breakers[fx->breaker].name, ch->from, ch->to,
                               ch->failure_rate, (int)ch->calls, fx->at);
    if (rc != DF_STORE_OK)
        df_engine_fail(r->e, "%s", df_store_error(r->e->store));
    df_metrics_breaker(&r->e->metrics, r->wf->breakers[fx->breaker].name,
                       ch->to == DF_BREAKER_OPEN);
}

/* The run's end: its state, then the pool's figures (a failure there is fatal but the run still
 * ends, as before the metrics existed); then the core raises its alerts. */
static void write_run_end(df_run *r, const df_effect *fx)
{
    df_engine *e = r->e;
    if (df_store_run_set_state(e->store, r->id, fx->run_state, fx->at) != DF_STORE_OK ||
        (fx->error && df_store_run_set_error(e->store, r->id, fx->error) != DF_STORE_OK) ||
        df_store_run_period_end(e->store, r->id, fx->at) != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return;
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
    json_t *lat = df_latency_json(&r->ready_to_running);
    if (m && lat)
        json_object_set_new(m, "ready_to_running", lat);
    else
        json_decref(lat);
    df_engine_admission_run_end(r, m);
    if (m && df_store_run_set_metrics(e->store, r->id, m) != DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
    json_decref(m);
    df_run_core_end_recorded(r->core);
}

/* Appends a write effect to the open transaction. */
static void perform_write(df_run *r, const df_effect *fx)
{
    df_engine *e = r->e;
    if (r->lease_lost || df_engine_tx(e) != 0)
        return;
    /* The run's lease first (once per transaction): an engine that lost it writes nothing of
     * the run, and stops it (SPEC §11). */
    int rc = df_store_run_fence(e->store, r->id);
    if (rc != DF_STORE_OK) {
        store_status(r, rc);
        return;
    }
    long long mi = -1;
    const char *task_id = fx->task == DF_RUN_NO_TASK
                              ? NULL
                              : r->wf->tasks[df_run_core_unit_task(r->core, fx->task, &mi)].id;
    switch (fx->kind) {
    case DF_FX_TRANSITION:
        write_transition(r, fx);
        break;
    case DF_FX_ATTEMPT_OPEN:
        if (df_store_instance_attempt_open(e->store, r->id, task_id, mi, fx->attempt, fx->at) !=
            DF_STORE_OK)
            df_engine_fail(e, "%s", df_store_error(e->store));
        df_metrics_attempt_started(&e->metrics);
        break;
    case DF_FX_ATTEMPT_CLOSE:
        /* a conflict: another engine closed it as LOST */
        store_status(r, df_store_instance_attempt_close_output(e->store, r->id, task_id, mi,
                                                               fx->attempt, fx->outcome, fx->at,
                                                               fx->error, fx->log, fx->output));
        if (fx->charged && !e->fatal)
            store_status(r, df_store_attempt_charge(e->store, r->id, task_id, mi, fx->attempt));
        df_metrics_attempt_finished(&e->metrics, fx->outcome);
        break;
    case DF_FX_BREAKER:
        write_breaker(r, fx);
        break;
    case DF_FX_RUN_END:
        write_run_end(r, fx);
        break;
    default:
        break;
    }
}

static void notify(df_run *r, const df_effect *fx)
{
    bool run_level = fx->task == DF_RUN_NO_TASK;
    char name[200];
    df_engine_event ev = {.run_id = r->id,
                          .workflow = r->wf->name,
                          .task_id =
                              run_level ? NULL : df_run_unit_name(r, fx->task, name, sizeof name),
                          .task_state = run_level ? DF_TS_PENDING : fx->task_state,
                          .run_state = fx->run_state,
                          .attempt = run_level ? 0 : fx->attempt,
                          .error = fx->error,
                          .tasks_total = r->wf->n_tasks,
                          .tasks_final = fx->tasks_final,
                          .tasks_running = fx->tasks_running,
                          .tasks_failed = fx->tasks_failed};
    df_engine_emit(r->e, &ev);
}

/* ---- timers ---- */

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

static void on_task_timer(uv_timer_t *h)
{
    df_task_io *io = h->data;
    df_run *r = io->run;
    df_engine *e = r->e;
    df_run_timer_kind kind = io->attempt_kind;
    if (h == io->retry) {
        kind = DF_RT_RETRY;
        stop_timer(&io->retry);
    }
    /* Shortly after a deadline: is the plugin still inside the coroutine run it was in when it
     * was cancelled? */
    int unyielding = kind == DF_RT_UNYIELDING && io->rec && io->rec->job
                         ? df_pool_job_unyielding(e->pool, io->rec->job, DF_UNYIELDING_CHECK_MS)
                         : 0;
    df_run_clock clk = df_run_now();
    df_run_core_timer_due(r->core, kind, io->task, unyielding, &clk);
    df_run_perform(r);
    df_engine_wake(e);
}

/* The shell's part of a unit (the run's own for DF_RUN_NO_TASK). */
static df_task_io *io_of(df_run *r, size_t task)
{
    return df_run_io(r, task);
}

static void arm_timer(df_run *r, const df_effect *fx)
{
    df_task_io *io = io_of(r, fx->task);
    uv_timer_t **slot = fx->timer == DF_RT_RETRY ? &io->retry : &io->attempt;
    if (!*slot) {
        if (!(*slot = malloc(sizeof **slot))) {
            df_engine_fail(r->e, "out of memory");
            return;
        }
        uv_timer_init(&r->e->loop, *slot);
        (*slot)->data = io;
    }
    if (fx->timer != DF_RT_RETRY)
        io->attempt_kind = fx->timer;
    /* libuv counts a timer from the loop's time, taken when this turn of the loop began: the
     * commits and starts done since (tens of ms on a loaded machine) would make a deadline fire
     * that much early (a 300 ms timeout cancelled its attempt after 242 ms under load). */
    uv_update_time(&r->e->loop);
    uv_timer_start(*slot, on_task_timer, fx->delay_ms, 0);
}

void df_run_close_handles(df_run *r)
{
    for (size_t i = 0; i <= r->wf->n_tasks; i++) {
        stop_timer(&r->io[i].retry);
        stop_timer(&r->io[i].attempt);
    }
    for (size_t k = 0; k < r->n_uio; k++) {
        stop_timer(&r->uio[k]->retry);
        stop_timer(&r->uio[k]->attempt);
    }
}

/* ---- the effects ---- */

/* The attempt is recorded without its result: a late result is discarded, and the record is
 * freed when the engine closes. */
static void abandon(df_run *r, size_t task)
{
    df_task_io *io = io_of(r, task);
    df_attempt_rec *rec = io->rec;
    if (!rec)
        return;
    if (rec->remote)
        df_remote_forget(r->e, rec); /* its worker's late completion finds no row */
    rec->abandoned = true;
    rec->next_abandoned = r->e->abandoned;
    r->e->abandoned = rec;
    io->rec = NULL;
}

static void keep_submit(df_run *r, const df_effect *fx)
{
    if (r->e->fatal)
        return;
    if (r->pending_n == r->pending_cap) {
        /* full of entries the core no longer wants (cancelled before their turn): drop them */
        size_t kept = 0;
        for (size_t k = 0; k < r->pending_n; k++)
            if (df_run_core_wants_submit(r->core, r->pending[k].task, r->pending[k].attempt))
                r->pending[kept++] = r->pending[k];
        r->pending_n = kept;
    }
    /* One entry per task at most is live: the core starts a task's next attempt only after this
     * one ended. */
    r->pending[r->pending_n++] = (df_pending_submit){.task = fx->task, .attempt = fx->attempt};
}

static void perform(df_run *r, const df_effect *fx)
{
    df_engine *e = r->e;
    df_attempt_rec *rec = fx->task == DF_RUN_NO_TASK ? NULL : io_of(r, fx->task)->rec;
    switch (fx->kind) {
    case DF_FX_TRANSITION:
    case DF_FX_ATTEMPT_OPEN:
    case DF_FX_ATTEMPT_CLOSE:
    case DF_FX_BREAKER:
    case DF_FX_RUN_END:
        perform_write(r, fx);
        break;
    case DF_FX_ALERT:
        if (!e->fatal) {
            char name[200];
            df_engine_raise_alert(e, r->id, r->wf, fx->alert,
                                  fx->task == DF_RUN_NO_TASK
                                      ? NULL
                                      : df_run_unit_name(r, fx->task, name, sizeof name),
                                  fx->state_name, fx->error, fx->attempt);
        }
        break;
    case DF_FX_NOTIFY:
        if (!e->fatal)
            notify(r, fx);
        break;
    case DF_FX_SUBMIT:
        keep_submit(r, fx);
        break;
    case DF_FX_CANCEL_JOB:
        if (rec && rec->child && !rec->abandoned)
            df_subworkflow_cancel(rec);
        else if (rec && rec->remote && !rec->abandoned)
            df_remote_cancel(e, rec);
        else if (rec && rec->job && !rec->abandoned)
            df_pool_cancel(e->pool, rec->job);
        break;
    case DF_FX_ABANDON:
        abandon(r, fx->task);
        break;
    case DF_FX_TIMER_ARM:
        arm_timer(r, fx);
        break;
    case DF_FX_TIMER_STOP:
        stop_timer(fx->timer == DF_RT_RETRY ? &io_of(r, fx->task)->retry
                                            : &io_of(r, fx->task)->attempt);
        break;
    case DF_FX_BREAKER_ARM: {
        df_engine_breaker *eb = df_engine_breaker_find(e, r->wf->breakers[fx->breaker].name);
        if (eb)
            df_engine_breaker_arm(e, eb);
        break;
    }
    case DF_FX_FATAL:
        df_engine_fail(e, "%s", fx->detail ? fx->detail : "out of memory");
        break;
    case DF_FX_MAP_EXPAND:
        df_run_map_expanded(r, fx);
        break;
    }
}

void df_run_perform(df_run *r)
{
    df_effect fx;
    while (df_run_core_next(r->core, &fx)) {
        perform(r, &fx);
        df_effect_clear(&fx);
    }
}
