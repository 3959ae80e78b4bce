/* test_run_on_exit: the run core's on_exit handlers (SPEC §8, §10) fed events and checked for
 * states: they start together once every task is final (after success, after failure, after
 * the run's timeout, after a cancel request), see ${run.state} and ${run.failed_tasks} through
 * `when`, a failed handler fails the run, a handler's own retries, `retry` runs them again; and the
 * loader's rules (keys handlers may not have, one namespace of ids, references). No processes, no
 * files, no clock. */
#include "run_harness.h"

/* Loads json; returns every error joined by " | " (static buffer), or NULL when it loads. */
static const char *load_errors(const char *json)
{
    static char msg[2048];
    json_t *doc = json_loads(json, 0, NULL);
    assert_non_null(doc);
    df_errlist errs = {0};
    df_workflow *wf = NULL;
    int rc = df_workflow_load_json(doc, "t.json", "/", &wf, &errs);
    json_decref(doc);
    df_workflow_free(wf);
    const char *out = NULL;
    if (rc != 0) {
        size_t at = 0;
        msg[0] = '\0';
        for (size_t k = 0; k < errs.n && at < sizeof msg; k++)
            at += (size_t)snprintf(msg + at, sizeof msg - at, "%s | ", errs.msgs[k]);
        out = msg;
    }
    df_errlist_clear(&errs);
    return out;
}

#define WF_HEAD "{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
/* a, then b after a; handlers h (always) and on_fail (only when the run failed). */
static const char *WF =
    WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}],"
            "\"on_exit\":[{\"id\":\"h\",\"plugin\":\"x\"},"
            "{\"id\":\"on_fail\",\"plugin\":\"x\",\"when\":\".run.state == \\\"FAILED\\\" and "
            ".run.failed_tasks == [\\\"a\\\"]\"}]}";

static void test_handlers_after_success(void **state_)
{
    (void)state_;
    harness *h = h_new(WF, 8);
    start(h);
    assert_int_equal(state(h, "h"), DF_TS_PENDING);
    result(h, "a", TASK_OK, NULL);
    step(h);
    assert_int_equal(state(h, "h"), DF_TS_PENDING); /* b is not final yet */
    result(h, "b", TASK_OK, NULL);
    step(h);
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    assert_int_equal(state(h, "on_fail"), DF_TS_SKIPPED); /* when: the run succeeded */
    assert_false(end(h));
    assert_int_equal(df_run_core_dag_state(h->c), DF_RS_SUCCESS);
    result(h, "h", TASK_OK, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
    h_free(h);
}

static void test_handlers_after_failure(void **state_)
{
    (void)state_;
    harness *h = h_new(WF, 8);
    start(h);
    result(h, "a", TASK_FAILED, "boom");
    step(h);
    assert_int_equal(state(h, "b"), DF_TS_UPSTREAM_FAILED);
    /* both start together */
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    assert_int_equal(state(h, "on_fail"), DF_TS_RUNNING);
    assert_int_equal(df_run_core_dag_state(h->c), DF_RS_FAILED);
    json_t *failed = df_run_core_failed_tasks(h->c);
    assert_int_equal(json_array_size(failed), 1); /* FAILED only, not UPSTREAM_FAILED */
    assert_string_equal(json_string_value(json_array_get(failed, 0)), "a");
    json_decref(failed);
    result(h, "h", TASK_OK, NULL);
    result(h, "on_fail", TASK_OK, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);
    h_free(h);
}

/* A failed handler fails a run whose tasks all succeeded; a handler retries on its own. */
static void test_failed_handler_fails_run(void **state_)
{
    (void)state_;
    harness *h = h_new(WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\"}],"
                               "\"on_exit\":[{\"id\":\"h\",\"plugin\":\"x\",\"retries\":1,"
                               "\"retry_delay_ms\":5}]}",
                       8);
    start(h);
    result(h, "a", TASK_OK, NULL);
    result(h, "b", TASK_OK, NULL);
    step(h);
    result(h, "h", TASK_FAILED, "handler broke");
    assert_int_equal(state(h, "h"), DF_TS_UP_FOR_RETRY);
    df_run_core_timer_due(h->c, DF_RT_RETRY, task(h, "h"), 0, &h->clk);
    step(h);
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    result(h, "h", TASK_FAILED, "handler broke again");
    assert_int_equal(state(h, "h"), DF_TS_FAILED);
    assert_true(end(h));
    assert_int_equal(df_run_core_dag_state(h->c), DF_RS_SUCCESS);
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);
    h_free(h);
}

/* The run's timeout: unfinished tasks CANCELLED, then the handlers run (bound only by their own
 * timeout), and see the state FAILED; a deadline once the tasks are final changes nothing. */
static void test_handlers_after_run_timeout(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"timeout_ms\":1000,\"tasks\":[{\"id\":\"a\","
                       "\"plugin\":\"x\"},{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}],"
                       "\"on_exit\":[{\"id\":\"h\",\"plugin\":\"x\",\"retries\":1,"
                       "\"retry_delay_ms\":5,\"when\":\".run.state == \\\"FAILED\\\"\"}]}",
                       8);
    start(h);
    df_run_core_arm_deadline(h->c, &h->clk);
    drain(h);
    h->clk.now_ms += 1000;
    df_run_core_timer_due(h->c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK, 0, &h->clk);
    drain(h);
    assert_int_equal(state(h, "b"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "h"), DF_TS_PENDING); /* a is still being cancelled */
    result(h, "a", TASK_FAILED, "cancelled");
    assert_int_equal(state(h, "a"), DF_TS_CANCELLED);
    step(h);
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    assert_int_equal(df_run_core_dag_state(h->c), DF_RS_FAILED);
    /* the handler's failure is its own: retried, not cancelled */
    mark(h);
    result(h, "h", TASK_FAILED, "oops");
    assert_int_equal(state(h, "h"), DF_TS_UP_FOR_RETRY);
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, task(h, "h"));
    assert_non_null(close);
    assert_int_equal(close->outcome, DF_AO_FAILED);
    df_run_core_timer_due(h->c, DF_RT_RETRY, task(h, "h"), 0, &h->clk);
    step(h);
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    result(h, "h", TASK_OK, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);
    h_free(h);

    /* the deadline passes while only handlers run: they go on */
    h = h_new("{\"name\":\"t\",\"timeout_ms\":1000,\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}],"
              "\"on_exit\":[{\"id\":\"h\",\"plugin\":\"x\"}]}",
              8);
    start(h);
    df_run_core_arm_deadline(h->c, &h->clk);
    result(h, "a", TASK_OK, NULL);
    step(h);
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    h->clk.now_ms += 2000;
    df_run_core_timer_due(h->c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK, 0, &h->clk);
    drain(h);
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    result(h, "h", TASK_OK, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
    h_free(h);
}

/* A cancel request (SPEC §10): unfinished tasks CANCELLED, then the handlers run (not
 * cancelled, their failures their own) and see the state CANCELLED; the run ends CANCELLED. */
static void test_handlers_after_cancel(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}],"
                       "\"on_exit\":[{\"id\":\"h\",\"plugin\":\"x\",\"retries\":1,"
                       "\"retry_delay_ms\":5},{\"id\":\"on_cancel\",\"plugin\":\"x\","
                       "\"when\":\".run.state == \\\"CANCELLED\\\"\"}]}",
                       8);
    start(h);
    df_run_core_request_cancel(h->c, "test", &h->clk);
    drain(h);
    assert_int_equal(state(h, "b"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "h"), DF_TS_PENDING); /* a is still being cancelled */
    result(h, "a", TASK_FAILED, "cancelled");
    assert_int_equal(state(h, "a"), DF_TS_CANCELLED);
    step(h);
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    assert_int_equal(state(h, "on_cancel"), DF_TS_RUNNING);
    assert_int_equal(df_run_core_dag_state(h->c), DF_RS_CANCELLED);
    result(h, "h", TASK_FAILED, "oops"); /* its own failure: retried */
    assert_int_equal(state(h, "h"), DF_TS_UP_FOR_RETRY);
    df_run_core_timer_due(h->c, DF_RT_RETRY, task(h, "h"), 0, &h->clk);
    step(h);
    result(h, "h", TASK_OK, NULL);
    result(h, "on_cancel", TASK_OK, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_CANCELLED);
    h_free(h);
}

/* An engine stop interrupts handlers like any task (resumable). */
static void test_handlers_stopped(void **state_)
{
    (void)state_;
    harness *h = h_new(WF, 8);
    start(h);
    result(h, "a", TASK_OK, NULL);
    step(h);
    result(h, "b", TASK_OK, NULL);
    step(h);
    df_run_core_cancel(h->c, true, &h->clk);
    drain(h);
    result(h, "h", TASK_FAILED, "cancelled");
    assert_int_equal(state(h, "h"), DF_TS_QUEUED);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_INTERRUPTED);
    h_free(h);
}

/* retry runs the handlers again: with the failed tasks (every handler), with only a failed
 * handler (that one), with --task (downstream closure). */
static void test_retry_runs_handlers(void **state_)
{
    (void)state_;
    df_task_snapshot s[] = {
        {.id = "a", .state = DF_TS_FAILED, .attempts = 1},
        {.id = "b", .state = DF_TS_UPSTREAM_FAILED},
        {.id = "h", .state = DF_TS_SUCCESS, .attempts = 1},
        {.id = "on_fail", .state = DF_TS_SUCCESS, .attempts = 1},
    };
    char err[256];
    harness *h = h_new(WF, 8);
    assert_int_equal(df_run_core_restore(h->c, s, 4, err, sizeof err), 0);
    assert_int_equal(df_run_core_retry_plan(h->c, NULL, err, sizeof err), 0);
    df_run_core_retry_apply(h->c, false, &h->clk);
    assert_int_equal(state(h, "h"), DF_TS_PENDING);
    assert_int_equal(state(h, "on_fail"), DF_TS_PENDING);
    df_run_core_start(h->c);
    step(h);
    result(h, "a", TASK_OK, NULL);
    step(h);
    result(h, "b", TASK_OK, NULL);
    step(h);
    assert_int_equal(state(h, "h"), DF_TS_RUNNING);
    assert_int_equal(state(h, "on_fail"), DF_TS_SKIPPED); /* this time the run succeeded */
    h_free(h);

    s[0].state = DF_TS_SUCCESS;
    s[1].state = DF_TS_SUCCESS;
    s[2].state = DF_TS_FAILED;
    h = h_new(WF, 8);
    assert_int_equal(df_run_core_restore(h->c, s, 4, err, sizeof err), 0);
    assert_int_equal(df_run_core_retry_plan(h->c, NULL, err, sizeof err), 0);
    df_run_core_retry_apply(h->c, false, &h->clk);
    assert_int_equal(state(h, "h"), DF_TS_PENDING);
    assert_int_equal(state(h, "on_fail"), DF_TS_SUCCESS);
    h_free(h);

    s[2].state = DF_TS_SUCCESS;
    h = h_new(WF, 8);
    assert_int_equal(df_run_core_restore(h->c, s, 4, err, sizeof err), 0);
    assert_int_equal(df_run_core_retry_plan(h->c, NULL, err, sizeof err), DF_EREFUSED);
    assert_int_equal(df_run_core_retry_plan(h->c, "b", err, sizeof err), 0);
    df_run_core_retry_apply(h->c, true, &h->clk);
    assert_int_equal(state(h, "a"), DF_TS_SUCCESS);
    assert_int_equal(state(h, "b"), DF_TS_PENDING);
    assert_int_equal(state(h, "h"), DF_TS_PENDING);
    h_free(h);
}

static void test_on_exit_load(void **state_)
{
    (void)state_;
    const char *e;
    e = load_errors(WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\"}],\"on_exit\":[{\"id\":\"a\","
                            "\"plugin\":\"x\"}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "t.json: on_exit handler \"a\" (on_exit[0]): id: duplicate task "
                              "id \"a\" (first defined at tasks[0]; on_exit handlers share one "
                              "namespace with tasks)"));
    e = load_errors(WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\"}],\"on_exit\":[{\"id\":\"h\","
                            "\"plugin\":\"x\",\"depends_on\":[\"a\"],\"trigger_rule\":\"all_done\","
                            "\"branch\":true,\"for_each\":[1]}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "on_exit handler \"h\": depends_on: an on_exit handler cannot have "
                              "depends_on"));
    assert_non_null(strstr(e, "on_exit handler \"h\": trigger_rule: an on_exit handler cannot"));
    assert_non_null(strstr(e, "on_exit handler \"h\": branch: an on_exit handler cannot"));
    assert_non_null(strstr(e, "on_exit handler \"h\": for_each: an on_exit handler cannot"));
    e = load_errors(WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\"}],\"on_exit\":[{\"id\":\"h\","
                            "\"plugin\":\"x\",\"retires\":1}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "on_exit handler \"h\": unknown key \"retires\"; did you mean "
                              "\"retries\"?"));
    e = load_errors(WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\"}],\"on_exit\":{}}");
    assert_non_null(e);
    assert_non_null(strstr(e, "on_exit: must be an array of handler tasks, got an object"));
    /* references: ${run.state} only in handlers; a handler reads any task, no handler */
    e = load_errors(WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\",\"params\":{\"s\":\"${run.state}\"}}"
                            "]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "task \"b\": params.s: ${run.state} is only known in on_exit"));
    e = load_errors(WF_HEAD
                    "{\"id\":\"b\",\"plugin\":\"x\"}],\"on_exit\":["
                    "{\"id\":\"h\",\"plugin\":\"x\",\"params\":{\"x\":\"${tasks.g.result}\"}},"
                    "{\"id\":\"g\",\"plugin\":\"x\"}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "references on_exit handler \"g\""));
    assert_null(load_errors(
        WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\"}],\"defaults\":{\"trigger_rule\":\"one_success\"},"
                "\"on_exit\":[{\"id\":\"h\",\"plugin\":\"x\",\"params\":{\"s\":\"${run.state}\","
                "\"f\":\"${run.failed_tasks}\",\"a\":\"${tasks.a.result.x}\",\"b\":"
                "\"${tasks.b.result}\"},\"when\":\".run.state != \\\"SUCCESS\\\"\"}]}"));
    assert_null(load_errors(WF_HEAD "{\"id\":\"b\",\"plugin\":\"x\"}],\"on_exit\":[]}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handlers_after_success),
        cmocka_unit_test(test_handlers_after_failure),
        cmocka_unit_test(test_failed_handler_fails_run),
        cmocka_unit_test(test_handlers_after_run_timeout),
        cmocka_unit_test(test_handlers_after_cancel),
        cmocka_unit_test(test_handlers_stopped),
        cmocka_unit_test(test_retry_runs_handlers),
        cmocka_unit_test(test_on_exit_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
