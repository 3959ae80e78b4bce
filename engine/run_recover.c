/* run_recover: what the run core does with a run found in the store (see run.h) — its tasks'
 * states restored and recounted, `resume` (attempts a dead engine left open closed LOST, RUNNING
 * tasks requeued or failed after DF_MAX_LOST_STREAK losses, retry timers rearmed) and `retry`
 * (which tasks reopen, then back to PENDING with a fresh budget). Reading the store, the checks
 * on the run as a whole and claiming it are the shell's (recover.c). No I/O. */
#include "run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Recounts the final tasks and each task's final upstreams, and each mapped task's instances. */
static void recount(df_run_core *c)
{
    for (size_t i = 0; i < c->wf->n_tasks; i++)
        c->map[i].n_final = c->map[i].n_failed = c->map[i].n_skipped = 0;
    for (size_t u = c->wf->n_tasks; u < c->n_units; u++) {
        df_map_rt *m = &c->map[c->t[u].task];
        df_task_state s = c->t[u].state;
        if (u < m->first || u >= m->first + m->n || !df_task_state_final(s))
            continue; /* an old range, or not final */
        m->n_final++;
        m->n_failed += df_task_state_failed(s);
        m->n_skipped += s == DF_TS_SKIPPED;
    }
    c->n_final = c->n_failed = 0;
    for (size_t i = 0; i < c->wf->n_tasks; i++)
        c->t[i].up_success = c->t[i].up_failed = c->t[i].up_skipped = 0;
    for (size_t i = 0; i < c->wf->n_tasks; i++) {
        df_task_state s = c->t[i].state;
        if (!df_task_state_final(s))
            continue;
        c->n_final++;
        if (df_task_state_failed(s))
            c->n_failed++;
        const df_task_def *d = &c->wf->tasks[i];
        for (size_t k = 0; k < d->n_downstream; k++) {
            df_task_rt *dt = &c->t[d->downstream[k]];
            if (s == DF_TS_SUCCESS)
                dt->up_success++;
            else if (s == DF_TS_SKIPPED)
                dt->up_skipped++;
            else
                dt->up_failed++;
        }
    }
}

int df_run_core_restore(df_run_core *c, const df_task_snapshot *tasks, size_t n, char *err,
                        size_t errlen)
{
    int rc = df_run_map_restore(c, tasks, n, err, errlen);
    if (rc != 0)
        return rc;
    for (size_t k = 0; k < n; k++) {
        const df_task_snapshot *st = &tasks[k];
        long i = df_run_map_unit(c, st);
        if (i < 0) {
            snprintf(err, errlen, "run %lld: stored task \"%s\" is not in its stored DAG", c->id,
                     st->id);
            return DF_EREFUSED;
        }
        df_task_rt *t = &c->t[i];
        t->state = st->state;
        t->attempt = st->attempts;
        t->retry_base = st->retry_base;
        t->lost_streak = st->lost_streak;
        t->charged_streak = st->charged_streak;
        t->failures = st->failures;
        t->first_started_at = st->first_started_at;
        json_decref(t->result);
        t->result = stored_result(st->result_json);
    }
    recount(c);
    return 0;
}

void df_run_core_finished(df_run_core *c, df_run_state state)
{
    c->ended = true;
    c->final_state = state;
}

/* A RUNNING task whose attempt the dead engine left open: QUEUED again, or FAILED once it was
 * lost DF_MAX_LOST_STREAK times in a row by crashes of its own code, or
 * DF_MAX_UNCHARGED_LOST_STREAK times in a row whatever the cause (SPEC §12). Returns true when it
 * failed. */
static bool requeue_lost(df_run_core *c, size_t i, const char *detail, const df_run_clock *clk)
{
    df_task_rt *t = &c->t[i];
    if (t->charged_streak >= DF_MAX_LOST_STREAK || t->lost_streak >= DF_MAX_UNCHARGED_LOST_STREAK) {
        char msg[300];
        if (t->charged_streak >= DF_MAX_LOST_STREAK)
            snprintf(msg, sizeof msg,
                     "attempt lost %u times in a row: its own plugin code crashed the engine "
                     "or the worker running it each time (fix the plugin, then `dagflow retry` "
                     "re-runs it)",
                     t->charged_streak);
        else
            snprintf(msg, sizeof msg,
                     "attempt lost %u times in a row: the engine died during each of them "
                     "(killed from outside, or another task crashed it; `dagflow retry` re-runs "
                     "it)",
                     t->lost_streak);
        if (df_run_set_state(c, i,
                             &(df_change){.to = DF_TS_FAILED,
                                          .to_attempt = t->attempt,
                                          .detail = "lost too many times",
                                          .error = msg},
                             clk) == 0)
            df_run_alert(c, "task_failed", i, "FAILED", msg, t->attempt);
        return true;
    }
    df_run_set_state(
        c, i,
        &(df_change){
            .to = DF_TS_QUEUED, .to_attempt = t->attempt, .cause = DF_TC_RECOVER, .detail = detail},
        clk);
    return false;
}

/* See run.h: SPEC §11, a worker's lease expired. */
void df_run_core_lost(df_run_core *c, size_t task, unsigned attempt, const char *why, bool charged,
                      const df_run_clock *clk)
{
    df_task_rt *t = &c->t[task];
    if (!t->busy || t->attempt != attempt || c->fatal)
        return;
    if (c->cancelled || df_run_halted_for(c, task) || t->timed_out) {
        /* cancelled, stopping or past its deadline: as if it had come back failed */
        df_run_core_result_in(c, task, attempt, DF_TASK_FAILED, NULL, why, NULL, clk);
        return;
    }
    df_run_release(c, task);
    df_effect *fx = df_run_fx_push(c, DF_FX_ATTEMPT_CLOSE, task);
    if (fx) {
        fx->attempt = attempt;
        fx->outcome = DF_AO_LOST;
        fx->at = clk->now_ms;
        fx->error = df_run_fx_str(c, why);
        fx->charged = charged;
    }
    t->probe = false;
    t->lost_streak++;
    if (charged)
        t->charged_streak++;
    if (!requeue_lost(c, task,
                      charged ? "attempt lost: its own plugin code crashed its worker"
                              : "attempt lost: its worker's lease expired",
                      clk))
        df_run_ready_push(c, task);
    df_run_drain_eval(c, SIZE_MAX, clk);
}

void df_run_core_resume(df_run_core *c, const df_task_snapshot *tasks, size_t n,
                        const df_run_clock *clk)
{
    for (size_t k = 0; k < n && !c->fatal; k++) {
        const df_task_snapshot *st = &tasks[k];
        long li = df_run_map_unit(c, st);
        if (li < 0)
            continue; /* df_run_core_restore refused it */
        if (!st->mapped && c->wf->tasks[li].for_each && c->t[li].state == DF_TS_RUNNING)
            continue; /* a mapped task: its instances run, it has no attempt of its own */
        size_t i = (size_t)li;
        df_task_rt *t = &c->t[i];
        if (st->open_attempt > 0) {
            df_effect *fx = df_run_fx_push(c, DF_FX_ATTEMPT_CLOSE, i);
            if (fx) {
                fx->attempt = st->open_attempt;
                fx->outcome = DF_AO_LOST;
                fx->at = clk->now_ms;
                fx->error = df_run_fx_str(c, st->open_charged
                                                 ? "this task's plugin code crashed the engine "
                                                   "during this attempt"
                                                 : "the engine died during this attempt");
                fx->charged = st->open_charged;
            }
            t->lost_streak++;
            if (st->open_charged)
                t->charged_streak++;
        }
        if (t->state == DF_TS_RUNNING && requeue_lost(c, i, "attempt lost: the engine died", clk))
            continue;
        if (t->state == DF_TS_QUEUED) {
            df_run_ready_push(c, i);
        } else if (t->state == DF_TS_UP_FOR_RETRY) {
            int64_t due = st->next_retry_at ? st->next_retry_at : clk->now_ms;
            df_run_timer_arm(c, DF_RT_RETRY, i,
                             due > clk->now_ms ? (uint64_t)(due - clk->now_ms) : 0);
        }
    }
    df_run_map_resume(c, clk);
    df_run_drain_eval(c, SIZE_MAX, clk);
}

/* SPEC §10: `retry` runs the on_exit handlers again. Without a task: every handler when some
 * DAG task reopens, or else the failed ones (already in the plan); with one (the downstream
 * closure already holds them), nothing more. Returns how many it added. */
static size_t reopen_handlers(df_run_core *c, const char *task)
{
    size_t added = 0;
    bool dag = false;
    if (task)
        return 0;
    for (size_t i = 0; i < c->wf->n_tasks; i++)
        dag |= c->reopen[i] && !c->wf->tasks[i].handler;
    for (size_t i = 0; dag && i < c->wf->n_tasks; i++) {
        if (c->wf->tasks[i].handler && !c->reopen[i]) {
            c->reopen[i] = 1;
            added++;
        }
    }
    return added;
}

int df_run_core_retry_plan(df_run_core *c, const char *task, char *err, size_t errlen)
{
    size_t n = c->wf->n_tasks;
    size_t *stack = calloc(n ? n : 1, sizeof *stack);
    size_t sp = 0;
    if (!stack) {
        snprintf(err, errlen, "out of memory");
        return DF_ENOMEM;
    }
    memset(c->reopen, 0, n);
    if (task) {
        long i = df_workflow_find_task(c->wf, task);
        if (i < 0) {
            snprintf(err, errlen, "run %lld has no task \"%s\"", c->id, task);
            free(stack);
            return DF_EREFUSED;
        }
        c->reopen[i] = 1;
        stack[sp++] = (size_t)i;
    } else {
        for (size_t i = 0; i < n; i++)
            if (c->t[i].state == DF_TS_FAILED || c->t[i].state == DF_TS_UPSTREAM_FAILED ||
                c->t[i].state == DF_TS_CANCELLED) { /* SPEC §10: CANCELLED ones too */
                c->reopen[i] = 1;
                stack[sp++] = i;
            }
    }
    /* Downstream closure: with a task everything downstream; else the SKIPPED ones (and the
     * failed ones, already in) downstream of the reopened tasks. */
    size_t count = sp;
    while (sp > 0) {
        const df_task_def *d = &c->wf->tasks[stack[--sp]];
        for (size_t k = 0; k < d->n_downstream; k++) {
            size_t j = d->downstream[k];
            if (!c->reopen[j] && (task || c->t[j].state == DF_TS_SKIPPED)) {
                c->reopen[j] = 1;
                stack[sp++] = j;
                count++;
            }
        }
    }
    free(stack);
    count += reopen_handlers(c, task);
    if (count == 0) {
        snprintf(err, errlen, "run %lld has no failed tasks to retry (use --task ID to re-run one)",
                 c->id);
        return DF_EREFUSED;
    }
    return 0;
}

void df_run_core_retry_apply(df_run_core *c, bool one_task, const df_run_clock *clk)
{
    size_t n = c->wf->n_tasks;
    for (size_t k = 0; k < n; k++) {
        size_t i = c->wf->topo[k];
        df_task_rt *t = &c->t[i];
        /* A finished run's tasks are all final (or PENDING, already reopened). */
        if (!c->reopen[i] || t->state == DF_TS_PENDING || !df_task_state_final(t->state))
            continue;
        if (df_run_set_state(c, i,
                             &(df_change){.to = DF_TS_PENDING,
                                          .to_attempt = t->attempt,
                                          .cause = DF_TC_RETRY_CMD,
                                          .detail = one_task ? "retry --task" : "retry",
                                          .error = "",
                                          .result_json = "null",
                                          .reset_budget = true},
                             clk) != 0)
            return;
        json_decref(t->result);
        t->result = NULL;
        t->lost_streak = t->charged_streak = 0;
        if (c->wf->tasks[i].for_each)
            df_run_map_reopen(c, i, one_task, clk);
    }
    c->eval_n = 0;
    for (size_t i = 0; i < n; i++)
        c->t[i].in_eval = false;
}
