/* test_run_cancel: the run core's cancel requests (engine/run_cancel.c, SPEC §10), driven with
 * no process, file or clock (run_harness.h): what becomes of each task state, the attempts in
 * flight, the run's end and its alert, the requests that change nothing, and a resumed run
 * cancelled before anything starts. */
#include "run_harness.h"

#include "engine/workflow.h"

static const char *const WF = "{\"name\":\"t\",\"tasks\":["
                              "{\"id\":\"a\",\"plugin\":\"x\"},"
                              "{\"id\":\"r\",\"plugin\":\"x\",\"retries\":3},"
                              "{\"id\":\"ok\",\"plugin\":\"x\"},"
                              "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}]}";

/* Running attempt cancelled in the pool and recorded CANCELLED when it comes back; PENDING and
 * UP_FOR_RETRY tasks CANCELLED at once; a SUCCESS stays; the run ends CANCELLED with
 * run_cancelled carrying the reason; nothing starts afterwards; retry reopens. */
static void test_cancel_running_run(void **state_)
{
    (void)state_;
    harness *h = h_new(WF, 8);
    start(h);
    result(h, "ok", TASK_OK, NULL);
    result(h, "r", TASK_FAILED, "flaky");
    assert_int_equal(state(h, "r"), DF_TS_UP_FOR_RETRY);
    mark(h);
    df_run_core_request_cancel(h->c, "dagflow cancel", &h->clk);
    drain(h);
    assert_true(df_run_core_cancelled(h->c));
    assert_non_null(find(h, DF_FX_CANCEL_JOB, task(h, "a")));
    df_effect *stop = find(h, DF_FX_TIMER_STOP, task(h, "r"));
    assert_non_null(stop);
    assert_int_equal(stop->timer, DF_RT_RETRY);
    assert_int_equal(state(h, "a"), DF_TS_RUNNING); /* until its attempt comes back */
    assert_int_equal(state(h, "b"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "r"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "ok"), DF_TS_SUCCESS);
    df_effect *tb = find(h, DF_FX_TRANSITION, task(h, "b"));
    assert_string_equal(tb->error, "run cancelled: dagflow cancel");
    assert_string_equal(tb->detail, "run cancelled");
    assert_false(end(h));
    step(h);
    assert_int_equal(count(h, DF_FX_SUBMIT), 0);
    mark(h);
    result(h, "a", TASK_FAILED, "terminated by SIGTERM");
    assert_int_equal(state(h, "a"), DF_TS_CANCELLED);
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, task(h, "a"));
    assert_non_null(close);
    assert_int_equal(close->outcome, DF_AO_CANCELLED);
    assert_string_equal(close->error, "run cancelled: dagflow cancel: terminated by SIGTERM");
    assert_null(find(h, DF_FX_TIMER_ARM, task(h, "a"))); /* no retry */
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_CANCELLED);
    df_effect *run_end = find(h, DF_FX_RUN_END, DF_RUN_NO_TASK);
    assert_int_equal(run_end->run_state, DF_RS_CANCELLED);
    df_effect *alert = find(h, DF_FX_ALERT, DF_RUN_NO_TASK);
    assert_non_null(alert);
    assert_string_equal(alert->alert, "run_cancelled");
    assert_string_equal(alert->state_name, "CANCELLED");
    assert_string_equal(alert->error, "run cancelled: dagflow cancel");
    char err[128];
    assert_int_equal(df_run_core_retry_plan(h->c, NULL, err, sizeof err), 0);
    df_run_core_retry_apply(h->c, false, &h->clk);
    drain(h);
    assert_int_equal(state(h, "a"), DF_TS_PENDING);
    assert_int_equal(state(h, "b"), DF_TS_PENDING);
    assert_int_equal(state(h, "r"), DF_TS_PENDING);
    h_free(h);
}

/* An attempt that comes back with success after the request keeps it; one that never comes back
 * is recorded CANCELLED at the end of the grace period; a plugin that does not yield is recorded
 * at the unyielding check. */
static void test_cancel_outcomes(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\"},{\"id\":\"c\",\"plugin\":\"x\"}]}",
                       8);
    start(h);
    mark(h);
    df_run_core_request_cancel(h->c, NULL, &h->clk);
    drain(h);
    assert_int_equal(count(h, DF_FX_CANCEL_JOB), 3);
    result(h, "a", TASK_OK, NULL);
    assert_int_equal(state(h, "a"), DF_TS_SUCCESS);
    mark(h);
    df_run_core_timer_due(h->c, DF_RT_UNYIELDING, task(h, "b"), 1, &h->clk);
    drain(h);
    assert_int_equal(state(h, "b"), DF_TS_CANCELLED);
    assert_int_equal(find(h, DF_FX_ATTEMPT_CLOSE, task(h, "b"))->outcome, DF_AO_CANCELLED);
    assert_non_null(find(h, DF_FX_ABANDON, task(h, "b")));
    df_run_core_timer_due(h->c, DF_RT_UNYIELDING, task(h, "c"), 0, &h->clk);
    h->clk.mono_ms += DF_TIMEOUT_GRACE_MS;
    df_run_core_timer_due(h->c, DF_RT_GRACE, task(h, "c"), 0, &h->clk);
    drain(h);
    assert_int_equal(state(h, "c"), DF_TS_CANCELLED);
    assert_string_equal(find(h, DF_FX_TRANSITION, task(h, "c"))->error, "run cancelled");
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_CANCELLED);
    h_free(h);
}

/* Requests that change nothing: a second one, one after the run's own timeout, one on a run whose
 * tasks are all final, one on an ended run; and the run's timeout after a cancel. */
static void test_cancel_ignored(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"timeout_ms\":1000,\"tasks\":["
                       "{\"id\":\"a\",\"plugin\":\"x\"}]}",
                       8);
    start(h);
    df_run_core_arm_deadline(h->c, &h->clk);
    df_run_core_request_cancel(h->c, "first", &h->clk);
    mark(h);
    df_run_core_request_cancel(h->c, "second", &h->clk);
    df_run_core_timer_due(h->c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK, 0, &h->clk);
    drain(h);
    assert_int_equal(h->n_fx, h->mark);
    result(h, "a", TASK_FAILED, NULL);
    assert_string_equal(find(h, DF_FX_TRANSITION, task(h, "a"))->error, "run cancelled: first");
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_CANCELLED);
    h_free(h);

    /* timed out first: the run ends FAILED */
    h = h_new("{\"name\":\"t\",\"timeout_ms\":1000,\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}",
              8);
    start(h);
    df_run_core_timer_due(h->c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK, 0, &h->clk);
    df_run_core_request_cancel(h->c, "late", &h->clk);
    assert_false(df_run_core_cancelled(h->c));
    result(h, "a", TASK_FAILED, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);
    h_free(h);

    /* every task final: the run ends in its own state */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 8);
    start(h);
    result(h, "a", TASK_OK, NULL);
    df_run_core_request_cancel(h->c, NULL, &h->clk);
    assert_false(df_run_core_cancelled(h->c));
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
    df_run_core_request_cancel(h->c, NULL, &h->clk); /* ended */
    assert_false(df_run_core_cancelled(h->c));
    h_free(h);
}

/* A stop during a cancel ends the run INTERRUPTED (resume finishes the cancel); a stop before it
 * makes the request wait for resume. */
static void test_cancel_and_stop(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}]}",
                       8);
    start(h);
    df_run_core_cancel(h->c, true, &h->clk);
    df_run_core_request_cancel(h->c, NULL, &h->clk);
    assert_false(df_run_core_cancelled(h->c));
    result(h, "a", TASK_FAILED, NULL);
    assert_int_equal(state(h, "a"), DF_TS_QUEUED);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_INTERRUPTED);
    h_free(h);
}

/* Resume of an interrupted run with a stored cancel request (the `cancel` command on an
 * INTERRUPTED run): its open attempt is closed LOST, and every unfinished task becomes CANCELLED
 * before anything starts; the run ends CANCELLED without a submission. */
static void test_cancel_resumed(void **state_)
{
    (void)state_;
    harness *h = h_new(WF, 8);
    df_task_snapshot snap[] = {
        {.id = "a", .state = DF_TS_RUNNING, .attempts = 1, .open_attempt = 1},
        {.id = "r",
         .state = DF_TS_UP_FOR_RETRY,
         .attempts = 1,
         .failures = 1,
         .next_retry_at = h->clk.now_ms + 60000},
        {.id = "ok", .state = DF_TS_SUCCESS, .attempts = 1, .result_json = "{\"x\":1}"},
        {.id = "b", .state = DF_TS_PENDING},
    };
    char err[128];
    assert_int_equal(df_run_core_restore(h->c, snap, 4, err, sizeof err), 0);
    df_run_core_resume(h->c, snap, 4, &h->clk);
    df_run_core_request_cancel(h->c, "dagflow cancel", &h->clk);
    mark(h);
    start(h);
    df_run_core_arm_deadline(h->c, &h->clk);
    drain(h);
    assert_int_equal(count(h, DF_FX_SUBMIT), 0);
    assert_null(find(h, DF_FX_TIMER_ARM, ANY_TASK));
    assert_int_equal(state(h, "a"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "b"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "r"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "ok"), DF_TS_SUCCESS);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_CANCELLED);
    h_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_running_run), cmocka_unit_test(test_cancel_outcomes),
        cmocka_unit_test(test_cancel_ignored),     cmocka_unit_test(test_cancel_and_stop),
        cmocka_unit_test(test_cancel_resumed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
