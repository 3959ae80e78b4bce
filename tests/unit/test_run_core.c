/* test_run_core: the run core (engine/run.c, run_attempt.c, run_recover.c) fed events and checked
 * for effects — every trigger rule of SPEC §3, propagation, priority order and slices, the
 * limits, retries and their backoff, timeouts and their grace, breakers opening and half-opening,
 * cancellation, the run's end, and recovery of each stored state. No processes, no files, no
 * clock: the times are the test's. */
#include "run_harness.h"

/* ---- trigger rules ---- */

/* d depends on u1 and u2 with each rule; u1 and u2 end as each case says; d's state after. */
static void test_trigger_rules(void **state_)
{
    (void)state_;
    static const char *rules[] = {"all_success",  "all_failed",  "all_done",
                                  "all_skipped",  "one_success", "one_failed",
                                  "one_done",     "none_failed", "none_failed_min_one_success",
                                  "none_skipped", "always"};
    enum { Q = DF_TS_QUEUED, UF = DF_TS_UPSTREAM_FAILED, SK = DF_TS_SKIPPED, R = DF_TS_RUNNING };
    /* columns: u1 ok + u2 failed, both ok, both failed */
    static const int want[][3] = {{UF, Q, UF}, {SK, SK, Q}, {Q, Q, Q}, {SK, SK, SK},
                                  {Q, Q, UF},  {Q, SK, Q},  {Q, Q, Q}, {UF, Q, UF},
                                  {UF, Q, UF}, {Q, Q, Q},   {R, R, R}};
    static const int u1[3] = {TASK_OK, TASK_OK, TASK_PERMANENT};
    static const int u2[3] = {TASK_PERMANENT, TASK_OK, TASK_PERMANENT};
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        for (int cs = 0; cs < 3; cs++) {
            char json[512];
            snprintf(json, sizeof json,
                     "{\"name\":\"t\",\"tasks\":[{\"id\":\"u1\",\"plugin\":\"x\"},"
                     "{\"id\":\"u2\",\"plugin\":\"x\"},{\"id\":\"d\",\"plugin\":\"x\","
                     "\"depends_on\":[\"u1\",\"u2\"],\"trigger_rule\":\"%s\"}]}",
                     rules[r]);
            harness *h = h_new(json, 16);
            start(h);
            result(h, "u1", u1[cs], NULL);
            result(h, "u2", u2[cs], NULL);
            df_run_core_evaluate(h->c, SIZE_MAX, &h->clk);
            drain(h);
            if ((int)state(h, "d") != want[r][cs])
                fail_msg("rule %s, case %d: d is %s", rules[r], cs,
                         df_task_state_name(state(h, "d")));
            h_free(h);
        }
    }
}

/* A failure propagates through a chain of all_success tasks; all_done still runs; the run ends
 * FAILED with its alert, once, after the end is recorded. */
static void test_propagation_and_end(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"alerts\":[],\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]},"
                       "{\"id\":\"c\",\"plugin\":\"x\",\"depends_on\":[\"b\"]},"
                       "{\"id\":\"z\",\"plugin\":\"x\",\"depends_on\":[\"c\"],"
                       "\"trigger_rule\":\"all_done\"}]}",
                       16);
    start(h);
    assert_int_equal(state(h, "a"), DF_TS_RUNNING);
    assert_non_null(find(h, DF_FX_ATTEMPT_OPEN, task(h, "a")));
    assert_false(end(h));
    mark(h);
    result(h, "a", TASK_FAILED, "boom");
    assert_int_equal(state(h, "a"), DF_TS_FAILED);
    assert_int_equal(state(h, "b"), DF_TS_UPSTREAM_FAILED);
    assert_int_equal(state(h, "c"), DF_TS_UPSTREAM_FAILED);
    assert_int_equal(state(h, "z"), DF_TS_QUEUED);
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, task(h, "a"));
    assert_non_null(close);
    assert_int_equal(close->outcome, DF_AO_FAILED);
    assert_string_equal(close->error, "boom");
    df_effect *alert = find(h, DF_FX_ALERT, task(h, "a"));
    assert_non_null(alert);
    assert_string_equal(alert->alert, "task_failed");
    /* the transition is emitted before the alert that depends on it */
    df_effect *tr = find(h, DF_FX_TRANSITION, task(h, "a"));
    assert_true(tr < alert);
    assert_string_equal(tr->detail, "retries exhausted");
    step(h);
    result(h, "z", TASK_OK, NULL);
    mark(h);
    assert_true(end(h));
    df_effect *fin = find(h, DF_FX_RUN_END, DF_RUN_NO_TASK);
    assert_non_null(fin);
    assert_int_equal(fin->run_state, DF_RS_FAILED);
    alert = find(h, DF_FX_ALERT, DF_RUN_NO_TASK);
    assert_non_null(alert);
    assert_string_equal(alert->alert, "run_failed");
    assert_true(fin < alert);
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);
    h_free(h);
}

/* A store failure before the end is recorded: the run ends RUNNING, with no alert. */
static void test_fatal_before_end_recorded(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    start(h);
    result(h, "a", TASK_OK, NULL);
    assert_false(df_run_core_check_end(h->c, &h->clk));
    drain(h);
    mark(h);
    df_run_core_set_fatal(h->c);
    df_run_core_end_recorded(h->c); /* too late: ignored */
    assert_true(df_run_core_check_end(h->c, &h->clk));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_RUNNING);
    drain(h);
    assert_null(find(h, DF_FX_ALERT, ANY_TASK));
    h_free(h);
}

/* ---- order and limits ---- */

static void test_priority_and_slices(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"priority\":5},"
                       "{\"id\":\"c\",\"plugin\":\"x\"},"
                       "{\"id\":\"d\",\"plugin\":\"x\",\"priority\":9}]}",
                       16);
    df_run_core_start(h->c);
    /* a slice of 2 evaluations, then a slice of 1 dispatch */
    assert_true(df_run_core_evaluate(h->c, 2, &h->clk));
    assert_int_equal(state(h, "d"), DF_TS_QUEUED);
    assert_int_equal(state(h, "b"), DF_TS_QUEUED);
    assert_int_equal(state(h, "a"), DF_TS_PENDING);
    assert_false(df_run_core_evaluate(h->c, 2, &h->clk));
    mark(h);
    assert_true(df_run_core_dispatch(h->c, 1, &h->clk));
    drain(h);
    assert_int_equal(count(h, DF_FX_SUBMIT), 1);
    assert_int_equal(find(h, DF_FX_SUBMIT, ANY_TASK)->task, task(h, "d"));
    /* once a submission round has left it unsubmitted (the pool refused it), nothing more
     * starts until it is handed over (backpressure); attempts started in the same tick, before
     * their commit, hold nothing back (fair dispatch calls again within a tick: see below) */
    df_run_core_submit_done(h->c);
    assert_false(df_run_core_dispatch(h->c, 10, &h->clk));
    assert_int_equal(df_run_core_unsubmitted(h->c), 1);
    df_run_core_submitted(h->c, task(h, "d"), true);
    mark(h);
    assert_false(df_run_core_dispatch(h->c, 10, &h->clk));
    drain(h);
    size_t order[3], n = 0;
    for (size_t k = h->mark; k < h->n_fx; k++)
        if (h->fx[k].kind == DF_FX_SUBMIT)
            order[n++] = h->fx[k].task;
    assert_int_equal(n, 3);
    assert_int_equal(order[0], task(h, "b"));
    assert_int_equal(order[1], task(h, "a"));
    assert_int_equal(order[2], task(h, "c"));
    h_free(h);
}

/* Fair dispatch (engine.c) asks each run for one attempt per round: a second call in the same
 * tick, before the commit, starts the next task in priority order. */
static void test_dispatch_again_in_tick(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"priority\":5},"
                       "{\"id\":\"c\",\"plugin\":\"x\"}]}",
                       16);
    df_run_core_start(h->c);
    assert_false(df_run_core_evaluate(h->c, 10, &h->clk));
    mark(h);
    assert_true(df_run_core_dispatch(h->c, 1, &h->clk));
    assert_true(df_run_core_dispatch(h->c, 1, &h->clk));
    assert_false(df_run_core_dispatch(h->c, 1, &h->clk));
    drain(h);
    assert_int_equal(count(h, DF_FX_SUBMIT), 3);
    assert_int_equal(df_run_core_unsubmitted(h->c), 3);
    assert_int_equal(find(h, DF_FX_SUBMIT, ANY_TASK)->task, task(h, "b"));
    h_free(h);
}

static void test_limits(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"max_active_tasks\":3,\"pools\":{\"p\":1},\"tasks\":["
                       "{\"id\":\"a\",\"plugin\":\"x\",\"pool\":\"p\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"pool\":\"p\"},"
                       "{\"id\":\"c\",\"plugin\":\"x\"},{\"id\":\"d\",\"plugin\":\"x\"},"
                       "{\"id\":\"e\",\"plugin\":\"x\"}]}",
                       16);
    start(h);
    /* the pool lets one of a and b in; max_active_tasks 3 */
    assert_int_equal(df_run_core_running(h->c), 3);
    assert_int_equal(state(h, "a"), DF_TS_RUNNING);
    assert_int_equal(state(h, "b"), DF_TS_QUEUED);
    assert_int_equal(h->pool_store[0].used, 1);
    assert_int_equal(h->limits.in_flight, 3);
    result(h, "a", TASK_OK, NULL);
    assert_int_equal(h->pool_store[0].used, 0);
    step(h);
    assert_int_equal(state(h, "b"), DF_TS_RUNNING); /* b first: earlier in the file than e */
    assert_int_equal(state(h, "e"), DF_TS_QUEUED);
    h_free(h);
    /* the engine-wide concurrency */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
              "{\"id\":\"b\",\"plugin\":\"x\"}]}",
              1);
    h->limits.in_flight = 0;
    start(h);
    assert_int_equal(df_run_core_running(h->c), 1);
    assert_int_equal(state(h, "b"), DF_TS_QUEUED);
    h_free(h);
}

/* ---- retries and timeouts ---- */

static void test_retries_backoff(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"retries\":3,"
                       "\"retry_delay_ms\":100,\"retry_backoff\":3,\"retry_max_delay_ms\":500}]}",
                       4);
    start(h);
    static const uint64_t delays[] = {100, 300, 500};
    for (int k = 0; k < 3; k++) {
        mark(h);
        result(h, "a", TASK_FAILED, "nope");
        assert_int_equal(state(h, "a"), DF_TS_UP_FOR_RETRY);
        df_effect *tr = find(h, DF_FX_TRANSITION, 0);
        assert_int_equal(tr->next_retry_at, h->clk.now_ms + (int64_t)delays[k]);
        char detail[64];
        snprintf(detail, sizeof detail, "retry %d in %llu ms", k + 1,
                 (unsigned long long)delays[k]);
        assert_string_equal(tr->detail, detail);
        df_effect *arm = find(h, DF_FX_TIMER_ARM, 0);
        assert_non_null(arm);
        assert_int_equal(arm->timer, DF_RT_RETRY);
        assert_int_equal(arm->delay_ms, delays[k]);
        assert_string_equal(find(h, DF_FX_ALERT, 0)->alert, "task_retry");
        /* not started again before its timer */
        step(h);
        assert_int_equal(state(h, "a"), DF_TS_UP_FOR_RETRY);
        df_run_core_timer_due(h->c, DF_RT_RETRY, 0, false, &h->clk);
        assert_int_equal(state(h, "a"), DF_TS_QUEUED);
        step(h);
        assert_int_equal(state(h, "a"), DF_TS_RUNNING);
        assert_int_equal(df_run_core_task_attempt(h->c, 0), (unsigned)k + 2);
    }
    result(h, "a", TASK_FAILED, NULL);
    assert_int_equal(state(h, "a"), DF_TS_FAILED);
    /* a permanent failure uses no retry */
    h_free(h);
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"retries\":3}]}", 4);
    start(h);
    result(h, "a", TASK_PERMANENT, NULL);
    assert_int_equal(state(h, "a"), DF_TS_FAILED);
    h_free(h);
    /* jitter draws from the core's random source: d = 1000, rnd 0 gives ceil(d/2) */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"retries\":1,"
              "\"retry_jitter\":true}]}",
              4);
    h->rnd = 0.0;
    start(h);
    mark(h);
    result(h, "a", TASK_FAILED, NULL);
    assert_int_equal(find(h, DF_FX_TIMER_ARM, 0)->delay_ms, 500);
    h_free(h);
}

static void test_timeout(void **state_)
{
    (void)state_;
    const char *wf = "{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                     "\"timeout_ms\":250}]}";
    for (int unyielding = 0; unyielding < 2; unyielding++) {
        harness *h = h_new(wf, 4);
        start(h);
        df_effect *arm = find(h, DF_FX_TIMER_ARM, 0);
        assert_non_null(arm);
        assert_int_equal(arm->timer, DF_RT_TIMEOUT);
        assert_int_equal(arm->delay_ms, 250);
        mark(h);
        df_run_core_timer_due(h->c, DF_RT_TIMEOUT, 0, false, &h->clk);
        drain(h);
        assert_non_null(find(h, DF_FX_CANCEL_JOB, 0));
        arm = find(h, DF_FX_TIMER_ARM, 0);
        assert_int_equal(arm->timer, DF_RT_UNYIELDING);
        assert_int_equal(arm->delay_ms, DF_UNYIELDING_CHECK_MS);
        mark(h);
        h->clk.mono_ms += DF_UNYIELDING_CHECK_MS;
        df_run_core_timer_due(h->c, DF_RT_UNYIELDING, 0, unyielding, &h->clk);
        drain(h);
        if (!unyielding) {
            arm = find(h, DF_FX_TIMER_ARM, 0);
            assert_int_equal(arm->timer, DF_RT_GRACE);
            assert_int_equal(arm->delay_ms, DF_TIMEOUT_GRACE_MS - DF_UNYIELDING_CHECK_MS);
            mark(h);
            h->clk.mono_ms += DF_TIMEOUT_GRACE_MS - DF_UNYIELDING_CHECK_MS;
            df_run_core_timer_due(h->c, DF_RT_GRACE, 0, false, &h->clk);
            drain(h);
        }
        assert_non_null(find(h, DF_FX_ABANDON, 0));
        assert_non_null(find(h, DF_FX_TIMER_STOP, 0));
        df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, 0);
        assert_int_equal(close->outcome, DF_AO_TIMED_OUT);
        assert_non_null(strstr(close->error, "timed out after 250 ms: "));
        assert_non_null(strstr(close->error, unyielding ? "has not yielded" : "within 3000 ms"));
        assert_int_equal(state(h, "a"), DF_TS_FAILED);
        /* the late result is ignored */
        mark(h);
        df_run_core_result_in(h->c, 0, 1, TASK_OK, NULL, NULL, NULL, &h->clk);
        assert_int_equal(drain(h), 0);
        h_free(h);
    }
    /* a result before the deadline stops the timer; a timed-out result is TIMED_OUT, retried */
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                       "\"timeout_ms\":250,\"retries\":1,\"retry_delay_ms\":0}]}",
                       4);
    start(h);
    df_run_core_timer_due(h->c, DF_RT_TIMEOUT, 0, false, &h->clk);
    mark(h);
    result(h, "a", TASK_FAILED, "killed");
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, 0);
    assert_int_equal(close->outcome, DF_AO_TIMED_OUT);
    assert_string_equal(close->error, "timed out after 250 ms: killed");
    assert_non_null(find(h, DF_FX_TIMER_STOP, 0));
    assert_int_equal(state(h, "a"), DF_TS_UP_FOR_RETRY);
    h_free(h);
}

/* A 100 KiB error is cut to 64 KiB, on a character boundary, with "...". */
static void test_long_error(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    start(h);
    char *big = malloc(100 * 1024);
    memset(big, 'e', 100 * 1024 - 1);
    big[100 * 1024 - 1] = '\0';
    mark(h);
    result(h, "a", TASK_FAILED, big);
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, 0);
    assert_int_equal(strlen(close->error), 64 * 1024 - 1);
    assert_string_equal(close->error + 64 * 1024 - 4, "...");
    free(big);
    h_free(h);
}

/* ---- breakers ---- */

static void test_breaker(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"breakers\":{\"api\":{\"failure_rate\":0.5,"
                       "\"window\":2,\"min_calls\":2,\"open_ms\":1000}},\"tasks\":["
                       "{\"id\":\"a\",\"plugin\":\"x\",\"breaker\":\"api\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"breaker\":\"api\"},"
                       "{\"id\":\"c\",\"plugin\":\"x\",\"breaker\":\"api\",\"depends_on\":[\"a\"],"
                       "\"trigger_rule\":\"all_done\"},"
                       "{\"id\":\"d\",\"plugin\":\"x\",\"breaker\":\"api\",\"depends_on\":[\"a\"],"
                       "\"trigger_rule\":\"all_done\"}]}",
                       16);
    start(h);
    result(h, "a", TASK_FAILED, NULL);
    mark(h);
    result(h, "b", TASK_FAILED, NULL);
    df_effect *br = find(h, DF_FX_BREAKER, task(h, "b"));
    assert_non_null(br);
    assert_int_equal(br->change.from, DF_BREAKER_CLOSED);
    assert_int_equal(br->change.to, DF_BREAKER_OPEN);
    assert_string_equal(find(h, DF_FX_ALERT, task(h, "b"))->alert, "breaker_opened");
    assert_non_null(find(h, DF_FX_BREAKER_ARM, task(h, "b")));
    /* c and d are ready but held while it is open: they stay QUEUED, using no attempt */
    step(h);
    assert_int_equal(state(h, "c"), DF_TS_QUEUED);
    assert_int_equal(state(h, "d"), DF_TS_QUEUED);
    assert_int_equal(df_run_core_task_attempt(h->c, task(h, "c")), 0);
    /* open_ms later: half-open, c goes through as the probe, d waits for it */
    h->clk.mono_ms += 1000;
    mark(h);
    step(h);
    br = find(h, DF_FX_BREAKER, task(h, "c"));
    assert_non_null(br);
    assert_int_equal(br->change.to, DF_BREAKER_HALF_OPEN);
    assert_int_equal(state(h, "c"), DF_TS_RUNNING);
    assert_int_equal(state(h, "d"), DF_TS_QUEUED);
    mark(h);
    result(h, "c", TASK_OK, NULL);
    br = find(h, DF_FX_BREAKER, task(h, "c"));
    assert_int_equal(br->change.to, DF_BREAKER_CLOSED);
    assert_string_equal(find(h, DF_FX_ALERT, task(h, "c"))->alert, "breaker_closed");
    step(h);
    assert_int_equal(state(h, "d"), DF_TS_RUNNING);
    h_free(h);
}

/* ---- cancellation ---- */

static void test_cancel(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\"},{\"id\":\"c\",\"plugin\":\"x\","
                       "\"retries\":1},{\"id\":\"d\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}]}",
                       16);
    df_run_core_start(h->c);
    df_run_core_evaluate(h->c, SIZE_MAX, &h->clk);
    df_run_core_dispatch(h->c, SIZE_MAX, &h->clk);
    drain(h);
    df_run_core_submitted(h->c, task(h, "a"), true); /* b: the pool's queue was full */
    df_run_core_submitted(h->c, task(h, "c"), true);
    result(h, "c", TASK_FAILED, NULL); /* c waits for its retry */
    mark(h);
    df_run_core_cancel(h->c, true, &h->clk);
    drain(h);
    assert_non_null(find(h, DF_FX_CANCEL_JOB, task(h, "a")));
    assert_null(find(h, DF_FX_CANCEL_JOB, task(h, "b")));
    df_effect *stop = find(h, DF_FX_TIMER_STOP, task(h, "c"));
    assert_non_null(stop);
    assert_int_equal(stop->timer, DF_RT_RETRY);
    /* b never started: closed CANCELLED, back to QUEUED without using a retry */
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, task(h, "b"));
    assert_int_equal(close->outcome, DF_AO_CANCELLED);
    assert_int_equal(state(h, "b"), DF_TS_QUEUED);
    assert_int_equal(df_run_core_unsubmitted(h->c), 0);
    /* nothing more starts; a's cancelled attempt comes back failed: QUEUED too */
    assert_false(df_run_core_dispatch(h->c, SIZE_MAX, &h->clk));
    mark(h);
    result(h, "a", TASK_FAILED, NULL);
    assert_int_equal(find(h, DF_FX_ATTEMPT_CLOSE, task(h, "a"))->outcome, DF_AO_CANCELLED);
    assert_int_equal(state(h, "a"), DF_TS_QUEUED);
    assert_int_equal(state(h, "d"), DF_TS_PENDING);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_INTERRUPTED);
    h_free(h);
    /* an attempt that succeeds while cancelled keeps its success */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    start(h);
    df_run_core_cancel(h->c, true, &h->clk);
    result(h, "a", TASK_OK, NULL);
    assert_int_equal(state(h, "a"), DF_TS_SUCCESS);
    h_free(h);
    /* shutdown's grace over: an attempt still out is recorded CANCELLED */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    start(h);
    df_run_core_cancel(h->c, true, &h->clk);
    mark(h);
    df_run_core_abandon(h->c, 0, "no result within the grace", &h->clk);
    drain(h);
    close = find(h, DF_FX_ATTEMPT_CLOSE, 0);
    assert_int_equal(close->outcome, DF_AO_CANCELLED);
    assert_string_equal(close->error, "no result within the grace");
    assert_true(end(h));
    h_free(h);
}

static void test_invalid(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\"}]}",
                       4);
    unsigned char invalid[2] = {0, 1};
    const char *msgs[] = {"bad params"};
    df_run_core_mark_invalid(h->c, invalid, msgs, &h->clk);
    drain(h);
    assert_int_equal(state(h, "a"), DF_TS_SKIPPED);
    assert_int_equal(state(h, "b"), DF_TS_INVALID);
    df_run_core_start(h->c);
    step(h);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_INVALID);
    h_free(h);
}

/* ---- recovery ---- */

static const char *chain = "{\"name\":\"t\",\"tasks\":[{\"id\":\"pending\",\"plugin\":\"x\","
                           "\"depends_on\":[\"ok\"]},{\"id\":\"ok\",\"plugin\":\"x\"},"
                           "{\"id\":\"queued\",\"plugin\":\"x\"},"
                           "{\"id\":\"running\",\"plugin\":\"x\"},"
                           "{\"id\":\"lost3\",\"plugin\":\"x\"},"
                           "{\"id\":\"retry\",\"plugin\":\"x\",\"retries\":2},"
                           "{\"id\":\"failed\",\"plugin\":\"x\"},"
                           "{\"id\":\"skipped\",\"plugin\":\"x\",\"depends_on\":[\"failed\"],"
                           "\"trigger_rule\":\"one_success\"}]}";

static void test_resume(void **state_)
{
    (void)state_;
    harness *h = h_new(chain, 16);
    df_task_snapshot s[] = {
        {.id = "pending", .state = DF_TS_PENDING},
        {.id = "ok", .state = DF_TS_SUCCESS, .attempts = 1, .result_json = "{\"n\":1}"},
        {.id = "queued", .state = DF_TS_QUEUED},
        {.id = "running", .state = DF_TS_RUNNING, .attempts = 1, .open_attempt = 1},
        /* two losses charged to its own code before, and this one too (SPEC §12) */
        {.id = "lost3",
         .state = DF_TS_RUNNING,
         .attempts = 3,
         .open_attempt = 3,
         .lost_streak = 2,
         .charged_streak = 2,
         .open_charged = true},
        {.id = "retry",
         .state = DF_TS_UP_FOR_RETRY,
         .attempts = 1,
         .failures = 1,
         .next_retry_at = h->clk.now_ms + 700},
        {.id = "failed", .state = DF_TS_FAILED, .attempts = 1, .failures = 1},
        {.id = "skipped", .state = DF_TS_SKIPPED},
    };
    char err[256];
    assert_int_equal(df_run_core_restore(h->c, s, 8, err, sizeof err), 0);
    assert_int_equal(
        json_integer_value(json_object_get(df_run_core_result(h->c, task(h, "ok")), "n")), 1);
    mark(h);
    df_run_core_resume(h->c, s, 8, &h->clk);
    drain(h);
    df_effect *lost = find(h, DF_FX_ATTEMPT_CLOSE, task(h, "running"));
    assert_int_equal(lost->outcome, DF_AO_LOST);
    assert_int_equal(lost->attempt, 1);
    assert_int_equal(state(h, "running"), DF_TS_QUEUED);
    assert_string_equal(find(h, DF_FX_TRANSITION, task(h, "running"))->detail,
                        "attempt lost: the engine died");
    assert_int_equal(state(h, "lost3"), DF_TS_FAILED);
    assert_non_null(
        strstr(find(h, DF_FX_TRANSITION, task(h, "lost3"))->error, "lost 3 times in a row"));
    assert_string_equal(find(h, DF_FX_ALERT, task(h, "lost3"))->alert, "task_failed");
    assert_true(find(h, DF_FX_ATTEMPT_CLOSE, task(h, "lost3"))->charged);
    assert_false(lost->charged);
    df_effect *arm = find(h, DF_FX_TIMER_ARM, task(h, "retry"));
    assert_int_equal(arm->timer, DF_RT_RETRY);
    assert_int_equal(arm->delay_ms, 700);
    assert_int_equal(state(h, "failed"), DF_TS_FAILED);
    assert_int_equal(state(h, "skipped"), DF_TS_SKIPPED);
    /* the evaluation queue: pending's upstream is done */
    df_run_core_start(h->c);
    step(h);
    assert_int_equal(state(h, "pending"), DF_TS_RUNNING);
    assert_int_equal(state(h, "queued"), DF_TS_RUNNING);
    assert_int_equal(state(h, "running"), DF_TS_RUNNING);
    assert_int_equal(df_run_core_task_attempt(h->c, task(h, "running")), 2);
    assert_int_equal(state(h, "retry"), DF_TS_UP_FOR_RETRY);
    /* a task the DAG lacks is refused */
    harness *h2 = h_new(chain, 16);
    df_task_snapshot bad = {.id = "nope", .state = DF_TS_PENDING};
    assert_int_equal(df_run_core_restore(h2->c, &bad, 1, err, sizeof err), DF_EREFUSED);
    assert_non_null(strstr(err, "\"nope\""));
    h_free(h2);
    h_free(h);
}

/* SPEC §12: losses not charged to a task (an engine killed from outside, another task's crash)
 * fail it only after DF_MAX_UNCHARGED_LOST_STREAK in a row; charged ones after DF_MAX_LOST_STREAK,
 * uncharged losses in between not breaking their streak. */
static void test_resume_charged_losses(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"bystander\",\"plugin\":\"x\"},"
                       "{\"id\":\"ninth\",\"plugin\":\"x\"},"
                       "{\"id\":\"tenth\",\"plugin\":\"x\"},"
                       "{\"id\":\"mixed\",\"plugin\":\"x\"}]}",
                       16);
    df_task_snapshot s[] = {
        /* lost twice before, uncharged: a third uncharged loss does not fail it */
        {.id = "bystander",
         .state = DF_TS_RUNNING,
         .attempts = 3,
         .open_attempt = 3,
         .lost_streak = 2},
        {.id = "ninth", .state = DF_TS_RUNNING, .attempts = 9, .open_attempt = 9, .lost_streak = 8},
        {.id = "tenth",
         .state = DF_TS_RUNNING,
         .attempts = 10,
         .open_attempt = 10,
         .lost_streak = 9},
        /* two charged losses among four: the third charged one fails it */
        {.id = "mixed",
         .state = DF_TS_RUNNING,
         .attempts = 5,
         .open_attempt = 5,
         .lost_streak = 4,
         .charged_streak = 2,
         .open_charged = true},
    };
    char err[256];
    assert_int_equal(df_run_core_restore(h->c, s, 4, err, sizeof err), 0);
    mark(h);
    df_run_core_resume(h->c, s, 4, &h->clk);
    drain(h);
    assert_int_equal(state(h, "bystander"), DF_TS_QUEUED);
    assert_false(find(h, DF_FX_ATTEMPT_CLOSE, task(h, "bystander"))->charged);
    assert_int_equal(state(h, "ninth"), DF_TS_QUEUED);
    assert_int_equal(state(h, "tenth"), DF_TS_FAILED);
    assert_non_null(
        strstr(find(h, DF_FX_TRANSITION, task(h, "tenth"))->error, "lost 10 times in a row"));
    assert_int_equal(state(h, "mixed"), DF_TS_FAILED);
    assert_non_null(strstr(find(h, DF_FX_TRANSITION, task(h, "mixed"))->error,
                           "own plugin code crashed the engine"));
    h_free(h);
}

static void test_retry_command(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
                       "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]},"
                       "{\"id\":\"c\",\"plugin\":\"x\",\"depends_on\":[\"b\"],"
                       "\"trigger_rule\":\"all_done\"},{\"id\":\"x\",\"plugin\":\"x\"}]}",
                       16);
    df_task_snapshot s[] = {
        {.id = "a", .state = DF_TS_FAILED, .attempts = 2, .failures = 2},
        {.id = "b", .state = DF_TS_UPSTREAM_FAILED},
        {.id = "c", .state = DF_TS_SUCCESS, .attempts = 1},
        {.id = "x", .state = DF_TS_SUCCESS, .attempts = 1, .result_json = "7"},
    };
    char err[256];
    assert_int_equal(df_run_core_restore(h->c, s, 4, err, sizeof err), 0);
    assert_int_equal(df_run_core_retry_plan(h->c, NULL, err, sizeof err), 0);
    mark(h);
    df_run_core_retry_apply(h->c, false, &h->clk);
    drain(h);
    assert_int_equal(state(h, "a"), DF_TS_PENDING);
    assert_int_equal(state(h, "b"), DF_TS_PENDING);
    assert_int_equal(state(h, "c"), DF_TS_SUCCESS); /* not failed, not SKIPPED */
    df_effect *tr = find(h, DF_FX_TRANSITION, task(h, "a"));
    assert_true(tr->reset_budget);
    assert_string_equal(tr->detail, "retry");
    assert_string_equal(tr->result_json, "null");
    df_run_core_start(h->c);
    step(h);
    assert_int_equal(state(h, "a"), DF_TS_RUNNING);
    assert_int_equal(df_run_core_task_attempt(h->c, task(h, "a")), 3);
    h_free(h);
    /* --task x: x and everything downstream of it; unknown ids and nothing to do refused */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"},"
              "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}]}",
              16);
    df_task_snapshot ok[] = {{.id = "a", .state = DF_TS_SUCCESS, .attempts = 1},
                             {.id = "b", .state = DF_TS_SUCCESS, .attempts = 1}};
    assert_int_equal(df_run_core_restore(h->c, ok, 2, err, sizeof err), 0);
    assert_int_equal(df_run_core_retry_plan(h->c, NULL, err, sizeof err), DF_EREFUSED);
    assert_non_null(strstr(err, "no failed tasks"));
    assert_int_equal(df_run_core_retry_plan(h->c, "zz", err, sizeof err), DF_EREFUSED);
    assert_int_equal(df_run_core_retry_plan(h->c, "a", err, sizeof err), 0);
    mark(h);
    df_run_core_retry_apply(h->c, true, &h->clk);
    drain(h);
    assert_int_equal(state(h, "a"), DF_TS_PENDING);
    assert_int_equal(state(h, "b"), DF_TS_PENDING);
    assert_string_equal(find(h, DF_FX_TRANSITION, task(h, "b"))->detail, "retry --task");
    h_free(h);
}

/* A finished run found with alerts to deliver ends at once. */
/* SPEC §11: a worker's lease expired. The attempt is closed LOST and the task QUEUED again
 * without using a retry (its next attempt is the next number), a stale loss is ignored, ten
 * losses in a row fail the task, and a loss during a cancel request ends it CANCELLED. */
static void test_lease_lost(void **state_)
{
    (void)state_;
    harness *h =
        h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"retries\":0}]}", 4);
    start(h);
    assert_int_equal(state(h, "a"), DF_TS_RUNNING);
    mark(h);
    df_run_core_lost(h->c, 0, 1, "lost: its worker w1 did not renew its lease", false, &h->clk);
    drain(h);
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, 0);
    assert_non_null(close);
    assert_int_equal(close->outcome, DF_AO_LOST);
    assert_int_equal(close->attempt, 1);
    assert_string_equal(close->error, "lost: its worker w1 did not renew its lease");
    df_effect *tr = find(h, DF_FX_TRANSITION, 0);
    assert_int_equal(tr->to, DF_TS_QUEUED);
    assert_string_equal(tr->detail, "attempt lost: its worker's lease expired");
    assert_int_equal(state(h, "a"), DF_TS_QUEUED);
    /* a stale loss (attempt 1 again) changes nothing */
    mark(h);
    df_run_core_lost(h->c, 0, 1, "stale", false, &h->clk);
    assert_int_equal(drain(h), 0);
    step(h);
    assert_int_equal(state(h, "a"), DF_TS_RUNNING);
    assert_int_equal(df_run_core_task_attempt(h->c, 0), 2);
    result(h, "a", TASK_OK, NULL);
    assert_int_equal(state(h, "a"), DF_TS_SUCCESS); /* retries 0: the loss used none */
    h_free(h);

    /* ten losses in a row fail the task */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    start(h);
    for (unsigned k = 1; k <= 10; k++) {
        assert_int_equal(state(h, "a"), DF_TS_RUNNING);
        df_run_core_lost(h->c, 0, k, "lost", false, &h->clk);
        drain(h);
        step(h);
    }
    assert_int_equal(state(h, "a"), DF_TS_FAILED);
    h_free(h);

    /* during a cancel request: CANCELLED, not queued again */
    h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    start(h);
    df_run_core_request_cancel(h->c, "by test", &h->clk);
    drain(h);
    df_run_core_lost(h->c, 0, 1, "lost", false, &h->clk);
    drain(h);
    assert_int_equal(state(h, "a"), DF_TS_CANCELLED);
    h_free(h);
}

/* SPEC §12 across hosts: a worker that reported a crash in the attempt's own code makes the loss
 * charged (the close effect says so): the third charged loss in a row fails the task, an
 * uncharged loss in between not breaking the streak; uncharged losses alone need ten. */
static void test_lease_lost_charged(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    start(h);
    const bool charged[] = {true, false, true, true};
    for (unsigned k = 1; k <= 4; k++) {
        assert_int_equal(state(h, "a"), DF_TS_RUNNING);
        mark(h);
        df_run_core_lost(h->c, 0, k, "lost", charged[k - 1], &h->clk);
        drain(h);
        df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, 0);
        assert_non_null(close);
        assert_int_equal(close->outcome, DF_AO_LOST);
        assert_int_equal(close->charged, charged[k - 1]);
        if (k < 4) {
            assert_int_equal(state(h, "a"), DF_TS_QUEUED);
            step(h);
        }
    }
    assert_int_equal(state(h, "a"), DF_TS_FAILED);
    assert_non_null(strstr(find(h, DF_FX_TRANSITION, 0)->error, "lost 3 times in a row"));
    assert_non_null(strstr(find(h, DF_FX_TRANSITION, 0)->error, "own plugin code crashed"));
    h_free(h);
}

static void test_finished(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    df_task_snapshot s = {.id = "a", .state = DF_TS_SUCCESS, .attempts = 1};
    char err[64];
    assert_int_equal(df_run_core_restore(h->c, &s, 1, err, sizeof err), 0);
    df_run_core_finished(h->c, DF_RS_SUCCESS);
    assert_true(df_run_core_ended(h->c));
    assert_true(df_run_core_check_end(h->c, &h->clk));
    assert_int_equal(drain(h), 0);
    h_free(h);
}

/* The order the shell relies on: a task's RUNNING transition, then its attempt's opening, then
 * the request to submit it (performed after the commit); a result's attempt close before the
 * transition it causes, and that before the alert raised about it. */
static void test_effect_order(void **state_)
{
    (void)state_;
    harness *h = h_new("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\"}]}", 4);
    df_run_core_start(h->c);
    df_run_core_evaluate(h->c, SIZE_MAX, &h->clk);
    mark(h);
    df_run_core_dispatch(h->c, SIZE_MAX, &h->clk);
    drain(h);
    df_effect *tr = find(h, DF_FX_TRANSITION, 0), *open = find(h, DF_FX_ATTEMPT_OPEN, 0);
    df_effect *sub = find(h, DF_FX_SUBMIT, 0), *note = find(h, DF_FX_NOTIFY, 0);
    assert_int_equal(tr->to, DF_TS_RUNNING);
    assert_int_equal(tr->from, DF_TS_QUEUED);
    assert_int_equal(tr->attempt, 1);
    assert_true(tr < note && note < open && open < sub);
    assert_int_equal(note->tasks_running, 1); /* counted before it is reported */
    assert_int_equal(sub->attempt, 1);
    assert_true(df_run_core_wants_submit(h->c, 0, 1));
    assert_false(df_run_core_wants_submit(h->c, 0, 2));
    df_run_core_submitted(h->c, 0, true);
    assert_false(df_run_core_wants_submit(h->c, 0, 1));
    mark(h);
    result(h, "a", TASK_PERMANENT, "no");
    df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, 0);
    tr = find(h, DF_FX_TRANSITION, 0);
    df_effect *alert = find(h, DF_FX_ALERT, 0);
    assert_true(close < tr && tr < alert);
    assert_string_equal(tr->detail, "failed permanently");
    h_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trigger_rules),
        cmocka_unit_test(test_propagation_and_end),
        cmocka_unit_test(test_fatal_before_end_recorded),
        cmocka_unit_test(test_priority_and_slices),
        cmocka_unit_test(test_dispatch_again_in_tick),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_retries_backoff),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_long_error),
        cmocka_unit_test(test_breaker),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_resume_charged_losses),
        cmocka_unit_test(test_lease_lost_charged),
        cmocka_unit_test(test_retry_command),
        cmocka_unit_test(test_lease_lost),
        cmocka_unit_test(test_finished),
        cmocka_unit_test(test_effect_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
