/* run_attempt: the run core's attempts once started (see run.h) — how an attempt ended (SUCCESS,
 * FAILED, TIMED_OUT, CANCELLED by a stop or a cancel request), the retry that follows with its
 * backoff (retry.c), the deadline and its grace period as timer effects, and the circuit breakers
 * fed with each outcome (breaker.c). No I/O: no engine, store, pool or libuv header. */
#include "run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h" /* df_utf8_cut */
#include "retry.h"

/* Errors are kept whole up to 64 KiB (a plugin may set a huge one). */
#define DF_ERROR_MAX (64 * 1024)

df_breaker *df_run_task_breaker(df_run_core *c, size_t i)
{
    int b = df_run_def(c, i)->breaker;
    return b >= 0 ? c->breakers[b] : NULL;
}

void df_run_breaker_changed(df_run_core *c, size_t i, const df_breaker_change *ch,
                            const df_run_clock *clk)
{
    if (c->fatal)
        return;
    int b = df_run_def(c, i)->breaker;
    df_effect *fx = df_run_fx_push(c, DF_FX_BREAKER, i);
    if (fx) {
        fx->breaker = b;
        fx->change = *ch;
        fx->at = clk->now_ms;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "breaker \"%s\": %s -> %s, failure rate %.2f over %zu calls",
             c->breakers[b]->name, df_breaker_state_name(ch->from), df_breaker_state_name(ch->to),
             ch->failure_rate, ch->calls);
    if (ch->to == DF_BREAKER_OPEN) {
        df_run_alert(c, "breaker_opened", i, "OPEN", msg, c->t[i].attempt);
        if ((fx = df_run_fx_push(c, DF_FX_BREAKER_ARM, i)))
            fx->breaker = b;
    } else if (ch->to == DF_BREAKER_CLOSED) {
        df_run_alert(c, "breaker_closed", i, "CLOSED", msg, c->t[i].attempt);
    }
}

/* Feeds an attempt's outcome to its task's breaker. */
static void breaker_outcome(df_run_core *c, size_t i, bool probe, df_attempt_outcome outcome,
                            const df_run_clock *clk)
{
    df_breaker *b = df_run_task_breaker(c, i);
    if (!b)
        return;
    if (outcome == DF_AO_CANCELLED || outcome == DF_AO_LOST || outcome == DF_AO_SKIPPED ||
        (c->timed_out && !df_run_def(c, i)->handler)) {
        if (probe)
            df_breaker_probe_aborted(b);
        return;
    }
    df_breaker_change ch;
    if (df_breaker_record(b, outcome != DF_AO_SUCCESS, probe, clk->mono_ms, &ch))
        df_run_breaker_changed(c, i, &ch, clk);
}

static df_attempt_outcome outcome_of(const df_run_core *c, size_t i, int status)
{
    const df_task_rt *t = &c->t[i];
    bool handler = df_run_def(c, i)->handler;
    /* A cancel request (SPEC §10): an attempt that did not succeed is CANCELLED; one that came
     * back with success (or skipped) keeps it, as on a stop. Not an on_exit handler's: handlers
     * run after a cancel (SPEC §10). */
    if (c->cancelled && !handler)
        return status == DF_TASK_OK        ? DF_AO_SUCCESS
               : status == DF_TASK_SKIPPED ? DF_AO_SKIPPED
                                           : DF_AO_CANCELLED;
    /* The run's own timeout stops DAG tasks, not its on_exit handlers (SPEC §8). */
    bool run_timed_out = c->timed_out && !handler;
    /* Stopping: an attempt that failed (most likely because it was cancelled) goes back to
     * QUEUED without using a retry; one that returned success keeps it, cancelled or not, so
     * that resume does not run it again. */
    if (df_run_halted_for(c, i) && !t->timed_out && status != DF_TASK_OK)
        return DF_AO_CANCELLED;
    /* DF_TASK_SKIPPED wins over the task's own timeout (file_sensor's soft_fail), not over the
     * run's. */
    if (status == DF_TASK_SKIPPED && !run_timed_out)
        return DF_AO_SKIPPED;
    if (t->timed_out)
        return DF_AO_TIMED_OUT;
    return status == DF_TASK_OK ? DF_AO_SUCCESS : DF_AO_FAILED;
}

/* The error recorded for an outcome: a new string (cut to DF_ERROR_MAX), or NULL. */
static char *outcome_error(df_run_core *c, size_t i, df_attempt_outcome outcome, int status,
                           const char *error)
{
    char msg[1024];
    if (outcome == DF_AO_TIMED_OUT && c->timed_out && !df_run_def(c, i)->handler) {
        char run[96];
        snprintf(msg, sizeof msg, "%s%s%s", df_run_timeout_msg(c, run, sizeof run),
                 error ? ": " : "", error ? error : "");
        error = msg;
    } else if (outcome == DF_AO_TIMED_OUT) {
        snprintf(msg, sizeof msg, "timed out after %lld ms%s%s",
                 (long long)df_run_def(c, i)->timeout_ms, error ? ": " : "", error ? error : "");
        error = msg;
    } else if (outcome == DF_AO_FAILED && !error) {
        error = status == DF_TASK_FAILED_PERMANENT ? "failed permanently" : "failed";
    } else if (outcome == DF_AO_CANCELLED && c->cancelled) {
        char run[DF_CANCEL_MSG_MAX];
        snprintf(msg, sizeof msg, "%s%s%s", df_run_cancel_msg(c, run, sizeof run),
                 error ? ": " : "", error ? error : "");
        error = msg;
    } else if (outcome == DF_AO_CANCELLED && !error) {
        error = "cancelled: the engine is stopping";
    }
    if (!error)
        return NULL;
    if (strlen(error) < DF_ERROR_MAX)
        return df_run_fx_str(c, error);
    char *buf = malloc(DF_ERROR_MAX);
    if (!buf) {
        c->oom = true;
        return NULL;
    }
    const char *cut = df_utf8_cut(error, buf, DF_ERROR_MAX);
    if (cut != buf)
        memmove(buf, cut, strlen(cut) + 1);
    return buf;
}

/* The keys of a `shell` result that each attempt keeps as its own output (SPEC §10). */
static const char *const output_keys[] = {"exit_code", "stdout", "stderr", "stdout_truncated",
                                          "stderr_truncated"};

/* The JSON text (new) of the output keys result (borrowed, may be NULL) holds, or NULL when it
 * holds none (or out of memory: *oom set). */
static char *attempt_output(const json_t *result, bool *oom)
{
    if (!json_is_object(result))
        return NULL;
    json_t *o = json_object();
    for (size_t k = 0; o && k < sizeof output_keys / sizeof *output_keys; k++) {
        json_t *v = json_object_get(result, output_keys[k]);
        if (v && json_object_set(o, output_keys[k], v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    char *text = json_object_size(o) ? json_dumps(o, JSON_COMPACT) : NULL;
    *oom = !o || (json_object_size(o) && !text);
    json_decref(o);
    return text;
}

static void close_attempt(df_run_core *c, size_t i, unsigned attempt, df_attempt_outcome outcome,
                          const char *error, const char *log, const json_t *result,
                          const df_run_clock *clk)
{
    df_effect *fx = df_run_fx_push(c, DF_FX_ATTEMPT_CLOSE, i);
    if (!fx)
        return;
    fx->attempt = attempt;
    fx->outcome = outcome;
    fx->at = clk->now_ms;
    fx->error =
        outcome == DF_AO_SUCCESS || outcome == DF_AO_SKIPPED ? NULL : df_run_fx_str(c, error);
    fx->log = df_run_fx_str(c, log);
    bool oom = false;
    fx->output = attempt_output(result, &oom);
    if (oom)
        c->oom = true;
}

/* SUCCESS, or SKIPPED when the plugin returned DF_TASK_SKIPPED; the result is kept either way. */
static void succeed(df_run_core *c, size_t i, const json_t *result, bool skipped,
                    const df_run_clock *clk)
{
    df_task_rt *t = &c->t[i];
    char *text = result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (result && !text) {
        c->oom = true;
        return;
    }
    /* Kept before the change: a mapped task reads its last instance's result when that
     * instance's change ends it (run_map.c). */
    json_t *old = t->result;
    t->result = json_incref((json_t *)result);
    if (df_run_set_state(c, i,
                         &(df_change){.to = skipped ? DF_TS_SKIPPED : DF_TS_SUCCESS,
                                      .to_attempt = c->t[i].attempt,
                                      .detail = skipped ? "skipped by the plugin" : NULL,
                                      .result_json = text ? text : "null",
                                      .error = ""},
                         clk) != 0) {
        json_decref(c->t[i].result);
        c->t[i].result = old;
        old = NULL;
    }
    json_decref(old);
    free(text);
}

/* What a failed attempt's plugin returned, kept as the task's result (SPEC §10): the value into
 * the task and its JSON text into *text (a new string). No result leaves the task's result as it
 * is (*text NULL). Returns false when out of memory. */
static bool keep_failed_result(df_run_core *c, size_t i, const json_t *result, char **text)
{
    *text = NULL;
    if (!result)
        return true;
    if (!(*text = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY))) {
        c->oom = true;
        return false;
    }
    json_decref(c->t[i].result);
    c->t[i].result = json_incref((json_t *)result);
    return true;
}

/* A failed or timed-out attempt: a retry after its delay while the budget lasts, else FAILED.
 * result_json: the plugin's result kept with the failure (keep_failed_result), or NULL. */
static void fail(df_run_core *c, size_t i, df_attempt_outcome outcome, int status,
                 const char *result_json, const char *error, const df_run_clock *clk)
{
    df_task_rt *t = &c->t[i];
    const df_task_def *d = df_run_def(c, i);
    t->failures++;
    bool permanent = status == DF_TASK_FAILED_PERMANENT && outcome != DF_AO_TIMED_OUT;
    /* retry_max_total_ms (SPEC §8): no retry once that long has passed since the first attempt
     * started. */
    bool out_of_time = d->retry_max_total_ms > 0 && t->first_started_at > 0 &&
                       clk->now_ms - t->first_started_at >= d->retry_max_total_ms;
    if (!permanent && !out_of_time && (int64_t)t->failures <= d->retries) {
        uint64_t delay = df_retry_delay_ms(d, t->failures, c->random(c->random_ud));
        char detail[64];
        snprintf(detail, sizeof detail, "retry %u in %llu ms", t->failures,
                 (unsigned long long)delay);
        if (df_run_set_state(c, i,
                             &(df_change){.to = DF_TS_UP_FOR_RETRY,
                                          .to_attempt = t->attempt,
                                          .detail = detail,
                                          .error = error,
                                          .result_json = result_json,
                                          .next_retry_at = clk->now_ms + (int64_t)delay},
                             clk) != 0)
            return;
        df_run_timer_arm(c, DF_RT_RETRY, i, delay);
        df_run_alert(c, "task_retry", i, "UP_FOR_RETRY", error, t->attempt);
        return;
    }
    if (df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_FAILED,
                                      .to_attempt = t->attempt,
                                      .detail = permanent     ? "failed permanently"
                                                : out_of_time ? "retry_max_total_ms reached"
                                                              : "retries exhausted",
                                      .error = error,
                                      .result_json = result_json},
                         clk) != 0)
        return;
    df_run_alert(c, "task_failed", i, "FAILED", error, t->attempt);
    df_run_drain_eval(c, SIZE_MAX, clk);
}

/* fail, keeping the plugin's result (borrowed, or NULL) when the attempt FAILED; the result of a
 * TIMED_OUT attempt (returned after its deadline) is discarded, as it always was. */
static void fail_with_result(df_run_core *c, size_t i, df_attempt_outcome outcome, int status,
                             const json_t *result, const char *error, const df_run_clock *clk)
{
    char *text;
    if (keep_failed_result(c, i, outcome == DF_AO_FAILED ? result : NULL, &text))
        fail(c, i, outcome, status, text, error, clk);
    free(text);
}

void df_run_finish_attempt(df_run_core *c, size_t i, int status, const json_t *result,
                           const char *error, const char *log, const df_run_clock *clk)
{
    df_task_rt *t = &c->t[i];
    if (c->fatal)
        return;
    char berr[512];
    if (status == DF_TASK_OK && df_run_def(c, i)->branch &&
        df_run_branch_check(c, i, result, berr, sizeof berr) != 0) {
        status = DF_TASK_FAILED_PERMANENT; /* SPEC §8: a result naming anything else */
        error = berr;
    }
    df_attempt_outcome outcome = outcome_of(c, i, status);
    char *err = outcome_error(c, i, outcome, status, error);
    breaker_outcome(c, i, t->probe, outcome, clk);
    t->probe = false;
    close_attempt(c, i, t->attempt, outcome, err, log, result, clk);
    if (outcome == DF_AO_CANCELLED && c->cancelled && !df_run_def(c, i)->handler) {
        /* A cancel request stopped it (SPEC §10): CANCELLED, no retry. */
        char msg[DF_CANCEL_MSG_MAX];
        df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_CANCELLED,
                                      .to_attempt = t->attempt,
                                      .detail = "run cancelled",
                                      .error = df_run_cancel_msg(c, msg, sizeof msg)},
                         clk);
    } else if (outcome == DF_AO_CANCELLED) {
        /* Lost to shutdown: back to QUEUED without using a retry (SPEC §3). */
        df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_QUEUED,
                                      .to_attempt = t->attempt,
                                      .cause = DF_TC_RECOVER,
                                      .detail = "cancelled by engine shutdown"},
                         clk);
    } else if (c->timed_out && !df_run_def(c, i)->handler && outcome != DF_AO_SUCCESS &&
               outcome != DF_AO_SKIPPED) {
        /* The run's own timeout stopped it (SPEC §8): CANCELLED, no retry. */
        char msg[96];
        df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_CANCELLED,
                                      .to_attempt = t->attempt,
                                      .detail = "run timed out",
                                      .error = df_run_timeout_msg(c, msg, sizeof msg)},
                         clk);
    } else {
        t->lost_streak = t->charged_streak = 0;
        if (outcome == DF_AO_SUCCESS || outcome == DF_AO_SKIPPED)
            succeed(c, i, result, outcome == DF_AO_SKIPPED, clk);
        if (outcome == DF_AO_SUCCESS && df_run_def(c, i)->branch)
            df_run_branch_skip(c, i, clk);
        else if (outcome != DF_AO_SUCCESS && outcome != DF_AO_SKIPPED)
            fail_with_result(c, i, outcome, status, result, err, clk);
    }
    free(err);
}

void df_run_core_result_in(df_run_core *c, size_t task, unsigned attempt, int status,
                           const json_t *result, const char *error, const char *log,
                           const df_run_clock *clk)
{
    df_task_rt *t = &c->t[task];
    if (!t->busy || t->attempt != attempt)
        return;
    df_run_release(c, task); /* t->timed_out stays for the outcome */
    if (!c->fatal) {
        df_run_finish_attempt(c, task, status, result, error, log, clk);
        df_run_drain_eval(c, SIZE_MAX, clk);
    }
}

/* Records task's timed-out attempt, whose result has not come back, as TIMED_OUT now (why) and
 * has the shell discard its result should it come later. */
static void abandon_timed_out(df_run_core *c, size_t task, const char *why, const df_run_clock *clk)
{
    df_effect *fx = df_run_fx_push(c, DF_FX_ABANDON, task);
    if (fx)
        fx->attempt = c->t[task].attempt;
    df_run_release(c, task);
    df_run_finish_attempt(c, task, DF_TASK_FAILED, NULL, why, NULL, clk);
    df_run_drain_eval(c, SIZE_MAX, clk);
}

static void retry_due(df_run_core *c, size_t task, const df_run_clock *clk)
{
    df_task_rt *t = &c->t[task];
    t->retry_armed = false; /* the shell closed it */
    if (t->state != DF_TS_UP_FOR_RETRY || df_run_halted_for(c, task))
        return;
    if (df_run_set_state(c, task, &(df_change){.to = DF_TS_QUEUED, .to_attempt = t->attempt},
                         clk) == 0)
        df_run_ready_push(c, task);
}

/* See run_internal.h: a deadline (the task's, the run's) or a cancel request. */
void df_run_cancel_attempt(df_run_core *c, size_t i, const df_run_clock *clk)
{
    df_task_rt *t = &c->t[i];
    t->timed_out = true;
    t->cancel_mono_ms = clk->mono_ms;
    if (t->in_pool) {
        df_effect *fx = df_run_fx_push(c, DF_FX_CANCEL_JOB, i);
        if (fx)
            fx->attempt = t->attempt;
    }
    df_run_timer_arm(c, DF_RT_UNYIELDING, i, DF_UNYIELDING_CHECK_MS);
}

void df_run_core_timer_due(df_run_core *c, df_run_timer_kind kind, size_t task, int unyielding,
                           const df_run_clock *clk)
{
    if (kind == DF_RT_RUN_DEADLINE) {
        df_run_timed_out(c, clk);
        return;
    }
    df_task_rt *t = &c->t[task];
    if (kind == DF_RT_RETRY) {
        retry_due(c, task, clk);
        return;
    }
    if (!t->busy || !t->timer_armed)
        return; /* stale */
    char msg[256];
    switch (kind) {
    case DF_RT_TIMEOUT:
        df_run_cancel_attempt(c, task, clk);
        break;
    case DF_RT_UNYIELDING:
        /* Shortly after the deadline: a plugin that has not yielded since before it is recorded
         * now; any other gets the rest of the grace period. */
        if (unyielding == 2) {
            abandon_timed_out(c, task,
                              "its worker is stuck in another task's plugin that does not yield; "
                              "its processes were killed; a late result will be discarded",
                              clk);
            return;
        }
        if (unyielding) {
            abandon_timed_out(c, task,
                              "the plugin has not yielded since before its cancellation (it "
                              "computes or blocks without df_task_sleep or "
                              "df_task_run_blocking); a late result will be discarded",
                              clk);
            return;
        }
        df_run_timer_arm(c, DF_RT_GRACE, task, DF_TIMEOUT_GRACE_MS - DF_UNYIELDING_CHECK_MS);
        break;
    case DF_RT_GRACE:
        /* No result within the grace period after the cancellation: the plugin ignores it, or
         * the attempt never got a worker (all of them stuck). */
        snprintf(msg, sizeof msg,
                 "no result within %llu ms of its cancellation (a plugin that ignores "
                 "cancellation, or no worker free to start it); a late result will be discarded",
                 (unsigned long long)(clk->mono_ms - t->cancel_mono_ms));
        abandon_timed_out(c, task, msg, clk);
        break;
    case DF_RT_RETRY:
    case DF_RT_RUN_DEADLINE:
        break;
    }
}

void df_run_core_abandon(df_run_core *c, size_t task, const char *why, const df_run_clock *clk)
{
    df_task_rt *t = &c->t[task];
    if (!t->busy)
        return;
    df_run_release(c, task);
    df_run_finish_attempt(c, task, DF_TASK_FAILED, NULL, why, NULL, clk);
}
