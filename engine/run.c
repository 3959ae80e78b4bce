/* run: the run core's events and its effect queue (see run.h) — creation, the one door for state
 * changes (df_run_set_state), trigger-rule evaluation with propagation through chains of SKIPPED
 * and UPSTREAM_FAILED tasks, cancellation and the run's final state. The ready heap and dispatch
 * within the limits are run_dispatch.c's, attempt outcomes run_attempt.c's, resume and retry
 * run_recover.c's. No I/O: no engine, store, pool or libuv header. */
#include "run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "expr.h"

/* ---- the effect queue ---- */

df_effect *df_run_fx_push(df_run_core *c, df_effect_kind kind, size_t task)
{
    if (c->fx_head > 0 && c->fx_head == c->fx_n)
        c->fx_head = c->fx_n = 0; /* drained: start over */
    if (c->fx_n == c->fx_cap) {
        size_t cap = c->fx_cap ? 2 * c->fx_cap : 16;
        df_effect *g = realloc(c->fx, cap * sizeof *g);
        if (!g) {
            c->oom = true;
            return NULL;
        }
        c->fx = g;
        c->fx_cap = cap;
    }
    df_effect *fx = &c->fx[c->fx_n++];
    memset(fx, 0, sizeof *fx);
    fx->kind = kind;
    fx->task = task;
    return fx;
}

char *df_run_fx_str(df_run_core *c, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        c->oom = true;
    return d;
}

void df_effect_clear(df_effect *fx)
{
    free(fx->detail);
    free(fx->error);
    free(fx->result_json);
    free(fx->log);
    free(fx->output);
    fx->detail = fx->error = fx->result_json = fx->log = fx->output = NULL;
}

bool df_run_core_next(df_run_core *c, df_effect *out)
{
    if (c->fx_head < c->fx_n) {
        *out = c->fx[c->fx_head++];
        return true;
    }
    if (c->oom) {
        c->oom = false;
        memset(out, 0, sizeof *out);
        out->kind = DF_FX_FATAL;
        out->task = DF_RUN_NO_TASK;
        out->detail = strdup("out of memory");
        return true;
    }
    return false;
}

/* ---- creation ---- */

df_run_core *df_run_core_new(const df_run_core_config *cfg)
{
    const df_workflow *wf = cfg->wf;
    size_t n = wf->n_tasks ? wf->n_tasks : 1;
    df_run_core *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->t = calloc(n, sizeof *c->t);
    c->map = calloc(n, sizeof *c->map);
    c->n_units = c->cap_units = wf->n_tasks;
    c->heap = calloc(n, sizeof *c->heap);
    c->eval = calloc(n, sizeof *c->eval);
    c->held = calloc(n, sizeof *c->held);
    c->reopen = calloc(n, 1);
    c->pools = calloc(wf->n_pools ? wf->n_pools : 1, sizeof *c->pools);
    c->breakers = calloc(wf->n_breakers ? wf->n_breakers : 1, sizeof *c->breakers);
    if (!c->t || !c->map || !c->heap || !c->eval || !c->held || !c->reopen || !c->pools ||
        !c->breakers) {
        df_run_core_free(c);
        return NULL;
    }
    for (size_t i = 0; i < wf->n_tasks; i++) {
        c->t[i].task = i;
        c->t[i].map_index = -1;
    }
    for (size_t k = 0; k < wf->n_pools; k++)
        c->pools[k] = cfg->pools[k];
    for (size_t k = 0; k < wf->n_breakers; k++)
        c->breakers[k] = cfg->breakers[k];
    c->id = cfg->run_id;
    c->wf = wf;
    c->limits = cfg->limits;
    c->random = cfg->random;
    c->random_ud = cfg->random_ud;
    c->params = cfg->params;
    c->final_state = DF_RS_RUNNING;
    return c;
}

void df_run_core_free(df_run_core *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->t && i < c->n_units; i++)
        json_decref(c->t[i].result);
    df_run_map_free(c);
    while (c->fx_head < c->fx_n)
        df_effect_clear(&c->fx[c->fx_head++]);
    free(c->fx);
    free(c->cancel_reason);
    free(c->t);
    free(c->heap);
    free(c->eval);
    free(c->held);
    free(c->reopen);
    free(c->pools);
    free(c->breakers);
    free(c);
}

/* ---- small effects ---- */

static void notify(df_run_core *c, size_t i, const char *error)
{
    df_effect *fx = df_run_fx_push(c, DF_FX_NOTIFY, i);
    if (!fx)
        return;
    if (i != DF_RUN_NO_TASK) {
        fx->task_state = c->t[i].state;
        fx->attempt = c->t[i].attempt;
    }
    fx->run_state = c->ended ? c->final_state : DF_RS_RUNNING;
    fx->tasks_final = c->n_final;
    fx->tasks_running = c->running;
    fx->tasks_failed = c->n_failed;
    fx->error = df_run_fx_str(c, error);
}

void df_run_alert(df_run_core *c, const char *alert, size_t i, const char *state_name,
                  const char *error, unsigned attempt)
{
    df_effect *fx = df_run_fx_push(c, DF_FX_ALERT, i);
    if (!fx)
        return;
    fx->alert = alert;
    fx->state_name = state_name;
    fx->attempt = attempt;
    fx->error = df_run_fx_str(c, error);
}

void df_run_timer_arm(df_run_core *c, df_run_timer_kind kind, size_t i, uint64_t delay_ms)
{
    df_effect *fx = df_run_fx_push(c, DF_FX_TIMER_ARM, i);
    if (!fx)
        return;
    fx->timer = kind;
    fx->delay_ms = delay_ms;
    if (i == DF_RUN_NO_TASK) {
        c->deadline_armed = true;
        return;
    }
    fx->attempt = c->t[i].attempt;
    if (kind == DF_RT_RETRY)
        c->t[i].retry_armed = true;
    else
        c->t[i].timer_armed = true;
}

void df_run_timer_stop(df_run_core *c, df_run_timer_kind kind, size_t i)
{
    bool *armed = i == DF_RUN_NO_TASK   ? &c->deadline_armed
                  : kind == DF_RT_RETRY ? &c->t[i].retry_armed
                                        : &c->t[i].timer_armed;
    if (!*armed)
        return;
    *armed = false;
    df_effect *fx = df_run_fx_push(c, DF_FX_TIMER_STOP, i);
    if (fx)
        fx->timer = kind;
}

static void fatal(df_run_core *c, const char *msg)
{
    df_effect *fx = df_run_fx_push(c, DF_FX_FATAL, DF_RUN_NO_TASK);
    if (fx)
        fx->detail = df_run_fx_str(c, msg);
}

/* ---- the one door for state changes ---- */

static void count_upstream(df_run_core *c, size_t i, df_task_state s, int delta)
{
    const df_task_def *d = &c->wf->tasks[i];
    /* continue_on_failure (SPEC §8): its FAILED counts as a success downstream. */
    if (s == DF_TS_FAILED && d->continue_on_failure)
        s = DF_TS_SUCCESS;
    for (size_t k = 0; k < d->n_downstream; k++) {
        df_task_rt *dt = &c->t[d->downstream[k]];
        if (s == DF_TS_SUCCESS)
            dt->up_success += delta;
        else if (s == DF_TS_SKIPPED)
            dt->up_skipped += delta;
        else if (df_task_state_failed(s))
            dt->up_failed += delta;
        if (delta > 0 && dt->state == DF_TS_PENDING && !dt->in_eval) {
            dt->in_eval = true;
            c->eval[c->eval_n++] = d->downstream[k];
        }
    }
}

static void emit_transition(df_run_core *c, size_t i, const df_change *ch, const df_run_clock *clk)
{
    const df_task_rt *t = &c->t[i];
    df_effect *fx = df_run_fx_push(c, DF_FX_TRANSITION, i);
    if (!fx)
        return;
    fx->from = t->state;
    fx->from_attempt = t->attempt;
    fx->to = ch->to;
    fx->attempt = ch->to_attempt;
    fx->at = clk->now_ms;
    fx->detail = df_run_fx_str(c, ch->detail);
    fx->error = df_run_fx_str(c, ch->error);
    fx->result_json = df_run_fx_str(c, ch->result_json);
    fx->next_retry_at = ch->next_retry_at;
    fx->reset_budget = ch->reset_budget;
}

int df_run_set_state(df_run_core *c, size_t i, const df_change *ch, const df_run_clock *clk)
{
    df_task_rt *t = &c->t[i];
    if (c->fatal)
        return -1;
    if (!df_transition_allowed(t->state, ch->to, ch->cause)) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "internal error: run %lld task \"%s\" (map_index %lld): transition %s -> %s is "
                 "not allowed",
                 c->id, df_run_def(c, i)->id, t->map_index, df_task_state_name(t->state),
                 df_task_state_name(ch->to));
        fatal(c, msg);
        c->fatal = true;
        return -1;
    }
    emit_transition(c, i, ch, clk);
    df_task_state from = t->state;
    if (df_run_is_instance(c, i)) {
        t->state = ch->to;
        t->attempt = ch->to_attempt;
        if (ch->reset_budget) {
            t->retry_base = ch->to_attempt;
            t->failures = 0;
            t->first_started_at = 0;
        }
        notify(c, i, ch->error && *ch->error ? ch->error : NULL);
        df_run_map_changed(c, i, from, clk);
        return 0;
    }
    if (df_task_state_final(from)) {
        c->n_final--;
        if (df_task_state_failed(from))
            c->n_failed--;
        count_upstream(c, i, from, -1);
    }
    t->state = ch->to;
    t->attempt = ch->to_attempt;
    if (ch->reset_budget) {
        t->retry_base = ch->to_attempt;
        t->failures = 0;
        t->first_started_at = 0;
    }
    if (df_task_state_final(ch->to)) {
        c->n_final++;
        if (df_task_state_failed(ch->to))
            c->n_failed++;
        count_upstream(c, i, ch->to, +1);
    }
    notify(c, i, ch->error && *ch->error ? ch->error : NULL);
    return 0;
}

/* ---- evaluation ---- */

/* The input of task i's `when` (SPEC §8): {"params", "run": {"id", "workflow"}, "tasks": {ID:
 * {"state", "result"}}} over its upstreams already final. A new object, or NULL (out of memory). */
static json_t *when_input(const df_run_core *c, size_t i)
{
    const df_task_def *d = &c->wf->tasks[i];
    json_t *tasks = json_object();
    for (size_t k = 0; tasks && k < d->n_upstream; k++) {
        size_t u = d->upstream[k];
        const df_task_rt *ut = &c->t[u];
        if (!df_task_state_final(ut->state))
            continue;
        json_t *res = ut->result ? json_incref(ut->result) : json_null();
        if (json_object_set_new(tasks, c->wf->tasks[u].id,
                                json_pack("{s:s, s:o}", "state", df_task_state_name(ut->state),
                                          "result", res)) != 0) {
            json_decref(tasks);
            tasks = NULL;
        }
    }
    if (!tasks)
        return NULL;
    json_t *params = c->params ? json_incref((json_t *)c->params) : json_object();
    json_t *in =
        json_pack("{s:o, s:{s:I, s:s}, s:o}", "params", params, "run", "id", (json_int_t)c->id,
                  "workflow", c->wf->name ? c->wf->name : "", "tasks", tasks);
    if (in && d->handler && df_run_handler_fields(c, json_object_get(in, "run")) != 0) {
        json_decref(in);
        return NULL;
    }
    return in;
}

/* Task i's trigger rule is met: its `when`, if any, decides (SPEC §8). Returns 1 to run it,
 * 0 when the task became SKIPPED or FAILED. */
static int check_when(df_run_core *c, size_t i, const df_run_clock *clk)
{
    const df_task_def *d = &c->wf->tasks[i];
    df_task_rt *t = &c->t[i];
    if (!d->when)
        return 1;
    char err[600] = "";
    json_t *in = when_input(c, i);
    int v = in ? df_expr_truthy(d->when, in, err, sizeof err) : -1;
    json_decref(in);
    if (!in)
        snprintf(err, sizeof err, "out of memory");
    if (v == 1)
        return 1;
    if (v == 0) {
        df_run_set_state(
            c, i,
            &(df_change){.to = DF_TS_SKIPPED, .to_attempt = t->attempt, .detail = "when is false"},
            clk);
        return 0;
    }
    char msg[700];
    snprintf(msg, sizeof msg, "when: %s", err);
    if (df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_FAILED,
                                      .to_attempt = t->attempt,
                                      .detail = "when failed",
                                      .error = msg},
                         clk) == 0)
        df_run_alert(c, "task_failed", i, "FAILED", msg, t->attempt);
    return 0;
}

/* Task i's trigger rule is met but an upstream branch task succeeded without naming it (SPEC
 * §8): it becomes SKIPPED. Returns true then. */
static bool branch_unchosen(df_run_core *c, size_t i, const df_run_clock *clk)
{
    const char *by = df_run_branch_unchosen(c, i);
    if (!by)
        return false;
    char detail[200];
    snprintf(detail, sizeof detail, "not chosen by branch \"%s\"", by);
    df_run_set_state(
        c, i, &(df_change){.to = DF_TS_SKIPPED, .to_attempt = c->t[i].attempt, .detail = detail},
        clk);
    return true;
}

static void evaluate_one(df_run_core *c, size_t i, const df_run_clock *clk)
{
    df_task_rt *t = &c->t[i];
    const df_task_def *d = &c->wf->tasks[i];
    df_upstream_counts n = {.total = d->n_upstream,
                            .success = t->up_success,
                            .failed = t->up_failed,
                            .skipped = t->up_skipped};
    switch (df_trigger_evaluate(d->trigger_rule, &n)) {
    case DF_TV_READY:
        if (branch_unchosen(c, i, clk) || !check_when(c, i, clk))
            break;
        if (d->for_each) {
            df_run_map_expand(c, i, clk);
            break;
        }
        if (df_run_set_state(c, i, &(df_change){.to = DF_TS_QUEUED, .to_attempt = t->attempt},
                             clk) == 0)
            df_run_heap_push(c, i);
        break;
    case DF_TV_UPSTREAM_FAILED:
        df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_UPSTREAM_FAILED,
                                      .to_attempt = t->attempt,
                                      .detail = df_trigger_rule_name(d->trigger_rule),
                                      .error = "an upstream task failed"},
                         clk);
        break;
    case DF_TV_SKIPPED:
        df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_SKIPPED,
                                      .to_attempt = t->attempt,
                                      .detail = df_trigger_rule_name(d->trigger_rule)},
                         clk);
        break;
    case DF_TV_WAIT:
        break;
    }
}

bool df_run_drain_eval(df_run_core *c, size_t max, const df_run_clock *clk)
{
    size_t done = 0;
    while (c->eval_n > 0 && !c->fatal) {
        if (done++ == max)
            return true;
        size_t i = c->eval[--c->eval_n];
        c->t[i].in_eval = false;
        if (c->t[i].state == DF_TS_PENDING)
            evaluate_one(c, i, clk);
    }
    return false;
}

bool df_run_core_evaluate(df_run_core *c, size_t max, const df_run_clock *clk)
{
    /* A run that timed out or was cancelled still evaluates its on_exit handlers (the only tasks
     * left PENDING). */
    if (c->fatal || c->stopping || (c->cancelling && !c->timed_out && !c->cancelled))
        return false;
    return df_run_drain_eval(c, max, clk);
}

static void clear_eval(df_run_core *c)
{
    c->eval_n = 0;
    for (size_t i = 0; i < c->wf->n_tasks; i++)
        c->t[i].in_eval = false;
}

void df_run_core_mark_invalid(df_run_core *c, const unsigned char *invalid, const char *const *msgs,
                              const df_run_clock *clk)
{
    bool any = false;
    for (size_t i = 0; i < c->wf->n_tasks; i++)
        any |= invalid[i] != 0;
    if (!any)
        return;
    size_t k = 0;
    for (size_t i = 0; i < c->wf->n_tasks; i++) {
        const char *msg = invalid[i] && msgs && msgs[k] ? msgs[k] : NULL;
        if (invalid[i])
            k++;
        df_change ch = {.to = invalid[i] ? DF_TS_INVALID : DF_TS_SKIPPED,
                        .cause = DF_TC_CREATE,
                        .detail = invalid[i] ? "validate rejected the params" : "run is invalid",
                        .error = invalid[i] ? (msg ? msg : "validate rejected the params") : NULL};
        if (df_run_set_state(c, i, &ch, clk) != 0)
            return;
    }
    clear_eval(c);
}

/* Start order of evaluation (qsort_r): the eval stack pops its last element first, so the array
 * runs from the lowest priority to the highest, and within a priority from the last task in the
 * file to the first. */
static int eval_order(const void *pa, const void *pb, void *ud)
{
    const df_run_core *c = ud;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int64_t x = c->wf->tasks[a].priority, y = c->wf->tasks[b].priority;
    if (x != y)
        return x < y ? -1 : 1;
    return a > b ? -1 : a < b ? 1 : 0;
}

void df_run_core_start(df_run_core *c)
{
    for (size_t k = 0; k < c->wf->n_tasks; k++) {
        size_t i = c->wf->topo[k];
        if (c->t[i].state == DF_TS_PENDING && !c->t[i].in_eval) {
            c->t[i].in_eval = true;
            c->eval[c->eval_n++] = i;
        }
    }
    /* Evaluated by the engine's ticks, a slice at a time, between dispatches: the first ready
     * tasks start while later ones are still being recorded QUEUED. Highest priority first, so
     * that the tasks ready at the start are still started in priority order (SPEC §1) across
     * slices: a task's verdict never depends on the order (upstream counts are kept up to date,
     * and a task waiting on an upstream is evaluated again when that upstream changes). */
    qsort_r(c->eval, c->eval_n, sizeof c->eval[0], eval_order, c);
}

void df_run_core_set_deadline_base(df_run_core *c, int64_t since_ms)
{
    c->deadline_since = since_ms;
}

void df_run_core_arm_deadline(df_run_core *c, const df_run_clock *clk)
{
    int64_t limit = c->wf->timeout_ms;
    if (limit <= 0 || c->ended || c->fatal || c->cancelled)
        return;
    int64_t since = c->deadline_since ? c->deadline_since : clk->now_ms;
    c->deadline_since = since;
    int64_t left = since + limit - clk->now_ms;
    df_run_timer_arm(c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK, left > 0 ? (uint64_t)left : 0);
}

const char *df_run_timeout_msg(const df_run_core *c, char *buf, size_t len)
{
    snprintf(buf, len, "run timed out after %lld ms", (long long)c->wf->timeout_ms);
    return buf;
}

/* ---- end of run, cancellation ---- */

/* The final state once nothing is left to do, or false while something is. */
static bool final_state(const df_run_core *c, df_run_state *st)
{
    if (c->running > 0)
        return false;
    if (c->stopping || (c->cancelling && !c->timed_out && !c->cancelled)) {
        *st = DF_RS_INTERRUPTED;
        return true;
    }
    if (c->n_final < c->wf->n_tasks)
        return false;
    *st = df_run_core_dag_state(c);
    for (size_t i = 0; i < c->wf->n_tasks; i++)
        if (*st == DF_RS_SUCCESS && c->wf->tasks[i].handler &&
            df_task_state_failed(c->t[i].state) &&
            !(c->t[i].state == DF_TS_FAILED && c->wf->tasks[i].continue_on_failure))
            *st = DF_RS_FAILED; /* SPEC §10: a failed on_exit handler fails the run */
    return true;
}

df_run_state df_run_core_dag_state(const df_run_core *c)
{
    if (c->cancelled)
        return DF_RS_CANCELLED; /* SPEC §10 */
    if (c->timed_out)
        return DF_RS_FAILED; /* SPEC §8: a run that timed out ends FAILED */
    df_run_state st = DF_RS_SUCCESS;
    for (size_t i = 0; i < c->wf->n_tasks; i++) {
        if (c->wf->tasks[i].handler)
            continue;
        if (c->t[i].state == DF_TS_INVALID)
            st = DF_RS_INVALID;
        else if (st == DF_RS_SUCCESS && df_task_state_failed(c->t[i].state) &&
                 !(c->t[i].state == DF_TS_FAILED && c->wf->tasks[i].continue_on_failure))
            st = DF_RS_FAILED; /* a failure counts unless continue_on_failure (SPEC §10) */
    }
    return st;
}

json_t *df_run_core_failed_tasks(const df_run_core *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < c->wf->n_tasks; i++)
        if (!c->wf->tasks[i].handler && c->t[i].state == DF_TS_FAILED &&
            json_array_append_new(a, json_string(c->wf->tasks[i].id)) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

int df_run_handler_fields(const df_run_core *c, json_t *run)
{
    json_t *failed = df_run_core_failed_tasks(c);
    if (!failed || json_object_set_new(run, "failed_tasks", failed) != 0 ||
        json_object_set_new(run, "state",
                            json_string(df_run_state_name(df_run_core_dag_state(c)))) != 0)
        return -1;
    return 0;
}

bool df_run_dag_final(const df_run_core *c)
{
    for (size_t i = 0; i < c->wf->n_tasks; i++)
        if (!c->wf->tasks[i].handler && !df_task_state_final(c->t[i].state))
            return false;
    return true;
}

bool df_run_core_check_end(df_run_core *c, const df_run_clock *clk)
{
    if (c->ended)
        return true;
    if (c->fatal) {
        if (c->running == 0 || c->stopping) {
            c->ended = true;
            c->final_state = DF_RS_RUNNING;
        }
        return c->ended;
    }
    df_run_state st;
    if (c->ending || !final_state(c, &st))
        return false;
    df_effect *fx = df_run_fx_push(c, DF_FX_RUN_END, DF_RUN_NO_TASK);
    if (!fx)
        return false;
    fx->run_state = st;
    fx->at = clk->now_ms;
    if (c->timed_out && st == DF_RS_FAILED) { /* the run's own error (run_history.error) */
        char msg[96];
        fx->error = strdup(df_run_timeout_msg(c, msg, sizeof msg));
    } else if (st == DF_RS_CANCELLED) {
        char msg[DF_CANCEL_MSG_MAX];
        fx->error = strdup(df_run_cancel_msg(c, msg, sizeof msg));
    }
    c->ending = true;
    c->final_state = st;
    return false;
}

void df_run_core_end_recorded(df_run_core *c)
{
    if (!c->ending || c->fatal)
        return;
    c->ending = false;
    df_run_state st = c->final_state;
    char msg[96], cmsg[DF_CANCEL_MSG_MAX];
    if (st == DF_RS_FAILED || st == DF_RS_INVALID)
        df_run_alert(c, "run_failed", DF_RUN_NO_TASK, df_run_state_name(st),
                     c->timed_out ? df_run_timeout_msg(c, msg, sizeof msg) : NULL, 0);
    else if (st == DF_RS_SUCCESS)
        df_run_alert(c, "run_succeeded", DF_RUN_NO_TASK, "SUCCESS", NULL, 0);
    else if (st == DF_RS_CANCELLED)
        df_run_alert(c, "run_cancelled", DF_RUN_NO_TASK, "CANCELLED",
                     df_run_cancel_msg(c, cmsg, sizeof cmsg), 0);
    c->ended = true;
    for (size_t i = 0; i < c->n_units; i++)
        df_run_timer_stop(c, DF_RT_RETRY, i);
    df_run_timer_stop(c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK);
    notify(c, DF_RUN_NO_TASK, NULL);
}

void df_run_core_cancel(df_run_core *c, bool stopping, const df_run_clock *clk)
{
    c->cancelling = true;
    c->stopping |= stopping;
    for (size_t i = 0; i < c->n_units; i++) {
        df_task_rt *t = &c->t[i];
        if (t->busy && t->in_pool) {
            df_effect *fx = df_run_fx_push(c, DF_FX_CANCEL_JOB, i);
            if (fx)
                fx->attempt = t->attempt;
        }
        df_run_timer_stop(c, DF_RT_RETRY, i);
    }
    /* Attempts the full pool queue refused never started: close them as CANCELLED now. */
    for (size_t i = 0; i < c->n_units && c->unsubmitted > 0; i++) {
        if (c->t[i].busy && !c->t[i].submitted) {
            df_run_release(c, i);
            df_run_finish_attempt(c, i, DF_TASK_FAILED, NULL, NULL, NULL, clk);
        }
    }
}

void df_run_core_set_fatal(df_run_core *c)
{
    c->fatal = true;
    if (c->ending) {
        c->ending = false; /* its end was not recorded */
        c->final_state = DF_RS_RUNNING;
    }
}

bool df_run_core_ended(const df_run_core *c)
{
    return c->ended;
}

df_run_state df_run_core_final_state(const df_run_core *c)
{
    return c->final_state;
}

df_task_state df_run_core_task_state(const df_run_core *c, size_t task)
{
    return c->t[task].state;
}

unsigned df_run_core_task_attempt(const df_run_core *c, size_t task)
{
    return c->t[task].attempt;
}

const json_t *df_run_core_result(const df_run_core *c, size_t task)
{
    return c->t[task].result;
}

size_t df_run_core_running(const df_run_core *c)
{
    return c->running;
}
