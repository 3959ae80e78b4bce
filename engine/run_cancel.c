/* run_cancel: the run core's one path for a run being cancelled (see run.h) — by its own
 * timeout_ms (SPEC §8: the run ends FAILED) or by a cancel request (SPEC §10: `dagflow cancel`,
 * df_engine_cancel, a parent run cancelled: the run ends CANCELLED). Both stop everything the
 * same way: nothing more is evaluated or started, attempts in flight are cancelled in the pool
 * (with the deadline's grace period, so a plugin that ignores it is still recorded), and every
 * other unfinished task becomes CANCELLED. The run's final state is decided in run.c once the
 * attempts have come back. No I/O: no engine, store, pool or libuv header. */
#include "run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *df_run_cancel_msg(const df_run_core *c, char *buf, size_t len)
{
    if (c->cancel_reason && *c->cancel_reason)
        snprintf(buf, len, "run cancelled: %s", c->cancel_reason);
    else
        snprintf(buf, len, "run cancelled");
    return buf;
}

/* The one "run is being cancelled" path: every unfinished DAG task is stopped — attempts in the
 * pool cancelled (their outcome decided when they come back, run_attempt.c), attempts never
 * handed over closed now, the others CANCELLED with `error`. The on_exit handlers of SPEC §8
 * hook in here: they are not cancelled, and start once every DAG task is final, as after a
 * normal end (they see the run's state through ${run.state}). */
static void abort_run(df_run_core *c, const char *detail, const char *error,
                      const df_run_clock *clk)
{
    c->cancelling = true; /* nothing more is evaluated or started */
    c->heap_n = 0;
    df_run_map_clear_queues(c);
    /* Every unit: the tasks, and the instances of mapped tasks. */
    for (size_t i = 0; i < c->n_units && !c->fatal; i++) {
        df_task_rt *t = &c->t[i];
        t->in_eval = false;
        if (df_run_def(c, i)->handler)
            continue; /* they start once the tasks are final (SPEC §8, §10) */
        if (t->busy && t->submitted) {
            if (!t->timed_out)
                df_run_cancel_attempt(c, i, clk);
        } else if (t->busy) { /* never handed over: closed now */
            t->timed_out = true;
            df_run_release(c, i);
            df_run_finish_attempt(c, i, DF_TASK_FAILED, NULL, NULL, NULL, clk);
        } else if (!df_task_state_final(t->state)) {
            df_run_timer_stop(c, DF_RT_RETRY, i);
            df_run_set_state(c, i,
                             &(df_change){.to = DF_TS_CANCELLED,
                                          .to_attempt = t->attempt,
                                          .detail = detail,
                                          .error = error},
                             clk);
        }
    }
    c->eval_n = 0;
    for (size_t i = 0; i < c->wf->n_tasks; i++) {
        c->t[i].in_eval = c->wf->tasks[i].handler && c->t[i].state == DF_TS_PENDING;
        if (c->t[i].in_eval) /* the on_exit handlers, evaluated next */
            c->eval[c->eval_n++] = i;
    }
}

/* Whether the run can still be cancelled: not ended or ending, not already being cancelled or
 * timed out, not stopping (the store keeps a cancel request for `resume`), and some DAG task is
 * unfinished (a run whose tasks are all final ends in its own state: once they are, its on_exit
 * handlers run bound only by their own timeout_ms, SPEC §8). */
static bool can_abort(const df_run_core *c)
{
    return !c->ended && !c->ending && !c->fatal && !c->stopping && !c->timed_out && !c->cancelled &&
           !df_run_dag_final(c);
}

void df_run_timed_out(df_run_core *c, const df_run_clock *clk)
{
    c->deadline_armed = false; /* the shell closed it */
    if (!can_abort(c))
        return;
    c->timed_out = true;
    char msg[96];
    abort_run(c, "run timed out", df_run_timeout_msg(c, msg, sizeof msg), clk);
}

void df_run_core_request_cancel(df_run_core *c, const char *reason, const df_run_clock *clk)
{
    if (!can_abort(c))
        return;
    c->cancelled = true;
    free(c->cancel_reason);
    c->cancel_reason = df_run_fx_str(c, reason);
    df_run_timer_stop(c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK);
    char msg[DF_CANCEL_MSG_MAX];
    abort_run(c, "run cancelled", df_run_cancel_msg(c, msg, sizeof msg), clk);
}

bool df_run_core_cancelled(const df_run_core *c)
{
    return c->cancelled;
}
