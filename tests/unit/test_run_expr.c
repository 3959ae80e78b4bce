/* test_run_expr: the run core's expressive-workflow rules (SPEC §8, §10) fed events and checked
 * for effects: continue_on_failure, retry_max_total_ms, the run's own timeout and the CANCELLED
 * state, and the loader's checks of those keys. No processes, no files, no clock: the times are
 * the test's. */
#include "run_harness.h"

/* Loads json; returns the first error (static buffer) or NULL when it loads. */
static const char *load_error(const char *json)
{
    static char msg[512];
    json_error_t jerr;
    json_t *doc = json_loads(json, 0, &jerr);
    if (!doc)
        fail_msg("bad test JSON: %s", jerr.text);
    df_errlist errs = {0};
    df_workflow *wf = NULL;
    int rc = df_workflow_load_json(doc, "t.json", "/", &wf, &errs);
    json_decref(doc);
    df_workflow_free(wf);
    const char *out = NULL;
    if (rc != 0) {
        snprintf(msg, sizeof msg, "%s", errs.n ? errs.msgs[0] : "?");
        out = msg;
    }
    df_errlist_clear(&errs);
    return out;
}

/* ---- continue_on_failure ---- */

/* a fails with continue_on_failure: b (all_success) still runs, the run ends SUCCESS, a stays
 * FAILED. Without the key the same run fails. */
static void test_continue_on_failure(void **state_)
{
    (void)state_;
    for (int cof = 0; cof < 2; cof++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                 "\"continue_on_failure\":%s},"
                 "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}]}",
                 cof ? "true" : "false");
        harness *h = h_new(json, 4);
        start(h);
        result(h, "a", TASK_FAILED, "boom");
        assert_int_equal(state(h, "a"), DF_TS_FAILED);
        step(h);
        if (cof) {
            assert_int_equal(state(h, "b"), DF_TS_RUNNING);
            result(h, "b", TASK_OK, NULL);
        } else {
            assert_int_equal(state(h, "b"), DF_TS_UPSTREAM_FAILED);
        }
        assert_true(end(h));
        assert_int_equal(df_run_core_final_state(h->c), cof ? DF_RS_SUCCESS : DF_RS_FAILED);
        h_free(h);
    }
}

/* ---- retry_max_total_ms ---- */

/* Retries while less than retry_max_total_ms has passed since the first attempt started; none
 * once it has, with a detail saying why. */
static void test_retry_max_total(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"retries\":5,"
                       "\"retry_delay_ms\":100,\"retry_backoff\":1,"
                       "\"retry_max_total_ms\":1000}]}",
                       4);
    start(h);
    h->clk.now_ms += 500;
    result(h, "a", TASK_FAILED, "nope");
    assert_int_equal(state(h, "a"), DF_TS_UP_FOR_RETRY);
    h->clk.now_ms += 100;
    df_run_core_timer_due(h->c, DF_RT_RETRY, 0, false, &h->clk);
    step(h);
    assert_int_equal(state(h, "a"), DF_TS_RUNNING);
    h->clk.now_ms += 400; /* 1000 ms since the first attempt started */
    mark(h);
    result(h, "a", TASK_FAILED, "nope");
    assert_int_equal(state(h, "a"), DF_TS_FAILED);
    df_effect *tr = find(h, DF_FX_TRANSITION, 0);
    assert_non_null(tr);
    assert_string_equal(tr->detail, "retry_max_total_ms reached");
    assert_null(find(h, DF_FX_TIMER_ARM, 0));
    h_free(h);
    /* 0 = no limit */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"retries\":1}]}", 4);
    start(h);
    h->clk.now_ms += 10000000;
    result(h, "a", TASK_FAILED, "nope");
    assert_int_equal(state(h, "a"), DF_TS_UP_FOR_RETRY);
    h_free(h);
}

/* The limit counts from the first attempt after a resume restored it from the store. */
static void test_retry_max_total_resumed(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"retries\":5,"
                       "\"retry_max_total_ms\":1000}]}",
                       4);
    df_task_snapshot s = {.id = "a",
                          .state = DF_TS_RUNNING,
                          .attempts = 1,
                          .open_attempt = 1,
                          .first_started_at = h->clk.now_ms - 5000};
    char err[128];
    assert_int_equal(df_run_core_restore(h->c, &s, 1, err, sizeof err), 0);
    df_run_core_resume(h->c, &s, 1, &h->clk);
    df_run_core_start(h->c);
    step(h);
    assert_int_equal(state(h, "a"), DF_TS_RUNNING);
    result(h, "a", TASK_FAILED, "nope");
    assert_int_equal(state(h, "a"), DF_TS_FAILED);
    h_free(h);
}

/* ---- loading ---- */

static void test_load_keys(void **state_)
{
    (void)state_;
    const char *e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                               "\"continue_on_failure\":1}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "task \"a\""));
    assert_non_null(strstr(e, "continue_on_failure: must be a boolean"));
    e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                   "\"retry_max_total_ms\":-1}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "retry_max_total_ms"));
    e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                   "\"continue_on_faillure\":true}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "did you mean \"continue_on_failure\""));
    assert_null(
        load_error("{\"name\":\"t\",\"defaults\":{\"continue_on_failure\":true,"
                   "\"retry_max_total_ms\":5},\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}"));
}

/* ---- the run's own timeout_ms ---- */

/* At the deadline: the running attempt is cancelled and recorded TIMED_OUT, the task CANCELLED;
 * a PENDING task and one waiting for its retry become CANCELLED; the run ends FAILED with
 * run_failed carrying "run timed out after N ms". */
static void test_run_timeout(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"timeout_ms\":1000,\"tasks\":["
                       "{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"r\",\"plugin\":\"x\",\"retries\":3},"
                       "{\"id\":\"ok\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}]}",
                       8);
    start(h);
    mark(h);
    df_run_core_arm_deadline(h->c, &h->clk);
    drain(h);
    df_effect *arm = find(h, DF_FX_TIMER_ARM, DF_RUN_NO_TASK);
    assert_non_null(arm);
    assert_int_equal(arm->timer, DF_RT_RUN_DEADLINE);
    assert_int_equal(arm->delay_ms, 1000);
    result(h, "ok", TASK_OK, NULL);
    result(h, "r", TASK_FAILED, "flaky");
    assert_int_equal(state(h, "r"), DF_TS_UP_FOR_RETRY);
    h->clk.now_ms += 1000;
    mark(h);
    df_run_core_timer_due(h->c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK, false, &h->clk);
    drain(h);
    assert_non_null(find(h, DF_FX_CANCEL_JOB, task(h, "a")));
    assert_int_equal(state(h, "a"), DF_TS_RUNNING); /* until its attempt comes back */
    assert_int_equal(state(h, "b"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "r"), DF_TS_CANCELLED);
    assert_int_equal(state(h, "ok"), DF_TS_SUCCESS);
    assert_string_equal(find(h, DF_FX_TRANSITION, task(h, "b"))->error,
                        "run timed out after 1000 ms");
    assert_false(end(h));
    step(h); /* nothing starts any more */
    assert_int_equal(count(h, DF_FX_SUBMIT), 0);
    mark(h);
    result(h, "a", TASK_FAILED, "killed");
    assert_int_equal(state(h, "a"), DF_TS_CANCELLED);
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, task(h, "a"));
    assert_non_null(close);
    assert_int_equal(close->outcome, DF_AO_TIMED_OUT);
    assert_string_equal(close->error, "run timed out after 1000 ms: killed");
    assert_null(find(h, DF_FX_TIMER_ARM, task(h, "a"))); /* no retry */
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);
    df_effect *alert = find(h, DF_FX_ALERT, DF_RUN_NO_TASK);
    assert_non_null(alert);
    assert_string_equal(alert->alert, "run_failed");
    assert_string_equal(alert->error, "run timed out after 1000 ms");
    /* retry reopens the CANCELLED tasks (SPEC §10) */
    char err[128];
    assert_int_equal(df_run_core_retry_plan(h->c, NULL, err, sizeof err), 0);
    df_run_core_retry_apply(h->c, false, &h->clk);
    drain(h);
    assert_int_equal(state(h, "a"), DF_TS_PENDING);
    assert_int_equal(state(h, "b"), DF_TS_PENDING);
    assert_int_equal(state(h, "r"), DF_TS_PENDING);
    assert_int_equal(state(h, "ok"), DF_TS_SUCCESS);
    h_free(h);
}

/* A run that ends in time stops its deadline; one without timeout_ms arms none; a resumed run
 * counts from its creation (a deadline already past fires at once). */
static void test_run_timeout_arming(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"timeout_ms\":1000,\"tasks\":["
                       "{\"id\":\"a\",\"plugin\":\"x\"}]}",
                       8);
    start(h);
    df_run_core_arm_deadline(h->c, &h->clk);
    result(h, "a", TASK_OK, NULL);
    mark(h);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
    df_effect *stop = find(h, DF_FX_TIMER_STOP, DF_RUN_NO_TASK);
    assert_non_null(stop);
    assert_int_equal(stop->timer, DF_RT_RUN_DEADLINE);
    /* late: ignored */
    df_run_core_timer_due(h->c, DF_RT_RUN_DEADLINE, DF_RUN_NO_TASK, false, &h->clk);
    assert_int_equal(state(h, "a"), DF_TS_SUCCESS);
    h_free(h);

    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 8);
    start(h);
    mark(h);
    df_run_core_arm_deadline(h->c, &h->clk);
    drain(h);
    assert_null(find(h, DF_FX_TIMER_ARM, DF_RUN_NO_TASK));
    h_free(h);

    h = h_new("{\"name\":\"t\",\"timeout_ms\":1000,\"tasks\":["
              "{\"id\":\"a\",\"plugin\":\"x\"}]}",
              8);
    df_run_core_set_deadline_base(h->c, h->clk.now_ms - 5000);
    start(h);
    mark(h);
    df_run_core_arm_deadline(h->c, &h->clk);
    drain(h);
    assert_int_equal(find(h, DF_FX_TIMER_ARM, DF_RUN_NO_TASK)->delay_ms, 0);
    h_free(h);
}

/* Loading: timeout_ms is an integer >= 0; a misspelt top-level key gets a suggestion. */
static void test_load_run_timeout(void **state_)
{
    (void)state_;
    const char *e = load_error("{\"name\":\"t\",\"timeout_ms\":\"5s\",\"tasks\":[{\"id\":\"a\","
                               "\"plugin\":\"x\"}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "timeout_ms"));
    e = load_error("{\"name\":\"t\",\"timeout_mss\":5,\"tasks\":[{\"id\":\"a\","
                   "\"plugin\":\"x\"}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "did you mean \"timeout_ms\""));
}

/* ---- DF_TASK_SKIPPED ---- */

#define TASK_SKIPPED 3

/* A plugin's DF_TASK_SKIPPED: the task ends SKIPPED with its result kept (attempt outcome
 * SKIPPED, no retry), downstream tasks follow their trigger rules, the run succeeds. It also wins
 * over the task's own timeout (file_sensor's soft_fail), not over the run's. */
static void test_plugin_skipped(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":["
                       "{\"id\":\"s\",\"plugin\":\"x\",\"retries\":2},"
                       "{\"id\":\"d\",\"plugin\":\"x\",\"depends_on\":[\"s\"]},"
                       "{\"id\":\"n\",\"plugin\":\"x\",\"depends_on\":[\"s\"],"
                       "\"trigger_rule\":\"none_failed\"}]}",
                       8);
    start(h);
    mark(h);
    json_t *res = json_pack("{s:s}", "why", "weekend");
    df_run_core_result_in(h->c, 0, 1, TASK_SKIPPED, res, NULL, NULL, &h->clk);
    json_decref(res);
    drain(h);
    assert_int_equal(state(h, "s"), DF_TS_SKIPPED);
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, 0);
    assert_int_equal(close->outcome, DF_AO_SKIPPED);
    df_effect *tr = find(h, DF_FX_TRANSITION, 0);
    assert_int_equal(tr->from, DF_TS_RUNNING);
    assert_string_equal(tr->result_json, "{\"why\":\"weekend\"}");
    assert_null(find(h, DF_FX_TIMER_ARM, 0));
    assert_string_equal(json_string_value(json_object_get(df_run_core_result(h->c, 0), "why")),
                        "weekend");
    step(h);
    assert_int_equal(state(h, "d"), DF_TS_SKIPPED);
    assert_int_equal(state(h, "n"), DF_TS_RUNNING);
    result(h, "n", TASK_OK, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
    h_free(h);

    /* after the task's own deadline cancelled it */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"s\",\"plugin\":\"x\","
              "\"timeout_ms\":100}]}",
              8);
    start(h);
    df_run_core_timer_due(h->c, DF_RT_TIMEOUT, 0, false, &h->clk);
    mark(h);
    result(h, "s", TASK_SKIPPED, NULL);
    assert_int_equal(state(h, "s"), DF_TS_SKIPPED);
    assert_int_equal(find(h, DF_FX_ATTEMPT_CLOSE, 0)->outcome, DF_AO_SKIPPED);
    h_free(h);
}

/* ---- when ---- */

/* `when` reads the params, the run and the upstreams already final; false, null and no output
 * skip the task (and an all_success downstream), a run-time error fails it with jq's message. */
static void test_when(void **state_)
{
    (void)state_;
    static const struct {
        const char *when;
        df_task_state want;
    } cases[] = {
        {".tasks.a.result.out == \\\"a\\\" and .tasks.a.state == \\\"SUCCESS\\\"", DF_TS_RUNNING},
        {".params.env == \\\"prod\\\"", DF_TS_RUNNING},
        {".run.id == 7 and .run.workflow == \\\"t\\\"", DF_TS_RUNNING},
        {".params.env == \\\"dev\\\"", DF_TS_SKIPPED},
        {"null", DF_TS_SKIPPED},
        {"empty", DF_TS_SKIPPED},
        {".params.count", DF_TS_RUNNING}, /* 0 is true in jq */
        {"error(\\\"boom\\\")", DF_TS_FAILED},
    };
    json_t *params = json_pack("{s:s, s:i}", "env", "prod", "count", 0);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                 "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"],\"when\":\"%s\"},"
                 "{\"id\":\"c\",\"plugin\":\"x\",\"depends_on\":[\"b\"]}]}",
                 cases[k].when);
        harness *h = h_new_params(json, 8, params);
        start(h);
        result(h, "a", TASK_OK, NULL);
        step(h);
        if (state(h, "b") != cases[k].want)
            fail_msg("when %s: b is %s", cases[k].when, df_task_state_name(state(h, "b")));
        if (cases[k].want == DF_TS_SKIPPED) {
            assert_int_equal(state(h, "c"), DF_TS_SKIPPED);
            assert_true(end(h));
            assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
        } else if (cases[k].want == DF_TS_FAILED) {
            df_effect *tr = find(h, DF_FX_TRANSITION, task(h, "b"));
            while (tr && tr->to != DF_TS_FAILED)
                tr++;
            assert_non_null(strstr(tr->error, "boom"));
            assert_int_equal(state(h, "c"), DF_TS_UPSTREAM_FAILED);
            assert_true(end(h));
            assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);
        }
        h_free(h);
    }
    json_decref(params);
    const char *e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                               "\"when\":\".x ==\"}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "task \"a\""));
    assert_non_null(strstr(e, "when: the jq expression does not compile"));
    e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                   "\"max_parallel\":2}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "task \"a\": max_parallel: only a task with for_each may have it"));
    e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"when\":true}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "when"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continue_on_failure),
        cmocka_unit_test(test_retry_max_total),
        cmocka_unit_test(test_retry_max_total_resumed),
        cmocka_unit_test(test_load_keys),
        cmocka_unit_test(test_run_timeout),
        cmocka_unit_test(test_run_timeout_arming),
        cmocka_unit_test(test_load_run_timeout),
        cmocka_unit_test(test_plugin_skipped),
        cmocka_unit_test(test_when),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
