/* test_run_branch: the run core's `branch` tasks (SPEC §8) fed events and checked for states: a
 * branch to one, several or no downstream task, an invalid decision, where the decision is read
 * in an object result, joins downstream of branches (none_failed_min_one_success, all_success),
 * a task reopened under a branch that did not choose it, and the loader's checks. No processes,
 * no files, no clock. */
#include "run_harness.h"

/* Feeds task id's attempt a result given as JSON text (NULL for none). */
static void result_json(harness *h, const char *id, int status, const char *json)
{
    size_t i = task(h, id);
    json_t *res = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    if (json)
        assert_non_null(res);
    df_run_core_result_in(h->c, i, df_run_core_task_attempt(h->c, i), status, res, NULL, NULL,
                          &h->clk);
    json_decref(res);
    drain(h);
}

/* Loads json; returns the first error (static buffer) or NULL when it loads. */
static const char *load_error(const char *json)
{
    static char msg[512];
    json_t *doc = json_loads(json, 0, NULL);
    assert_non_null(doc);
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

/* b branches to x, y, z; join (none_failed_min_one_success) and strict (all_success) follow
 * x, y and z. */
static const char *WF = "{\"name\":\"t\",\"tasks\":["
                        "{\"id\":\"b\",\"plugin\":\"x\",\"branch\":true,\"retries\":3},"
                        "{\"id\":\"x\",\"plugin\":\"x\",\"depends_on\":[\"b\"]},"
                        "{\"id\":\"y\",\"plugin\":\"x\",\"depends_on\":[\"b\"]},"
                        "{\"id\":\"z\",\"plugin\":\"x\",\"depends_on\":[\"b\"]},"
                        "{\"id\":\"join\",\"plugin\":\"x\",\"depends_on\":[\"x\",\"y\",\"z\"],"
                        "\"trigger_rule\":\"none_failed_min_one_success\"},"
                        "{\"id\":\"strict\",\"plugin\":\"x\",\"depends_on\":[\"x\",\"y\",\"z\"]}"
                        "]}";

/* Runs WF with b's result (JSON text) and every chosen task succeeding; checks x, y, z. */
static harness *branch_run(const char *decision, const char *want /* x y z: R run, S skipped */)
{
    harness *h = h_new(WF, 8);
    start(h);
    result_json(h, "b", TASK_OK, decision);
    assert_int_equal(state(h, "b"), DF_TS_SUCCESS);
    step(h);
    const char *ids[] = {"x", "y", "z"};
    for (int k = 0; k < 3; k++) {
        if (want[k] == 'R') {
            assert_int_equal(state(h, ids[k]), DF_TS_RUNNING);
            result(h, ids[k], TASK_OK, NULL);
        } else {
            assert_int_equal(state(h, ids[k]), DF_TS_SKIPPED);
        }
    }
    step(h);
    return h;
}

static void test_branch_to_one(void **state_)
{
    (void)state_;
    harness *h = branch_run("\"x\"", "RSS");
    mark(h);
    /* the skipped tasks say why */
    h->mark = 0;
    df_effect *fx = NULL;
    for (size_t k = 0; k < h->n_fx; k++)
        if (h->fx[k].kind == DF_FX_TRANSITION && h->fx[k].task == task(h, "y") &&
            h->fx[k].to == DF_TS_SKIPPED)
            fx = &h->fx[k];
    assert_non_null(fx);
    assert_string_equal(fx->detail, "not chosen by branch \"b\"");
    /* the join runs; the all_success task is skipped */
    assert_int_equal(state(h, "join"), DF_TS_RUNNING);
    assert_int_equal(state(h, "strict"), DF_TS_SKIPPED);
    result(h, "join", TASK_OK, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
    h_free(h);
}

static void test_branch_to_several(void **state_)
{
    (void)state_;
    harness *h = branch_run("[\"x\",\"z\"]", "RSR");
    assert_int_equal(state(h, "join"), DF_TS_RUNNING);
    assert_int_equal(state(h, "strict"), DF_TS_SKIPPED);
    h_free(h);
    /* every one named: nothing skipped, the all_success task runs too */
    h = branch_run("[\"x\",\"y\",\"z\"]", "RRR");
    assert_int_equal(state(h, "join"), DF_TS_RUNNING);
    assert_int_equal(state(h, "strict"), DF_TS_RUNNING);
    h_free(h);
}

static void test_branch_to_none(void **state_)
{
    (void)state_;
    const char *none[] = {"null", "[]", NULL /* no result at all */};
    for (int k = 0; k < 3; k++) {
        harness *h = branch_run(none[k], "SSS");
        /* the join needs one success: skipped too; the run succeeds */
        assert_int_equal(state(h, "join"), DF_TS_SKIPPED);
        assert_int_equal(state(h, "strict"), DF_TS_SKIPPED);
        assert_true(end(h));
        assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
        h_free(h);
    }
}

/* The decision inside an object result: "branch" (noop), "json" (shell's parse_json_stdout),
 * "stdout" (shell: one id a line). */
static void test_branch_in_object(void **state_)
{
    (void)state_;
    harness *h = branch_run("{\"branch\":\"y\",\"json\":\"x\"}", "SRS");
    h_free(h);
    h = branch_run("{\"exit_code\":0,\"stdout\":\"x\",\"json\":[\"z\"]}", "SSR");
    h_free(h);
    h = branch_run("{\"exit_code\":0,\"stdout\":\" x\\n\\nz\\r\\n\",\"stderr\":\"\"}", "RSR");
    h_free(h);
    h = branch_run("{\"exit_code\":0,\"stdout\":\"\",\"stderr\":\"\"}", "SSS");
    h_free(h);
}

/* A decision naming anything but a direct downstream task fails the branch task permanently
 * (no retry, though it has retries), with the reason; its downstream is UPSTREAM_FAILED. */
static void test_branch_invalid(void **state_)
{
    (void)state_;
    const char *bad[] = {"\"nope\"", "[\"x\",\"join\"]", "\"b\"",
                         "42",       "[\"x\",1]",        "{\"exit_code\":0}"};
    const char *why[] = {"names \"nope\", which is not a direct downstream task of \"b\" (it may "
                         "name: \"x\" \"y\" \"z\")",
                         "names \"join\"",
                         "names \"b\"",
                         "got an integer",
                         "element 1 of the result's task ids is an integer",
                         "got an object"};
    for (int k = 0; k < 6; k++) {
        harness *h = h_new(WF, 8);
        start(h);
        mark(h);
        result_json(h, "b", TASK_OK, bad[k]);
        assert_int_equal(state(h, "b"), DF_TS_FAILED);
        df_effect *close = find(h, DF_FX_ATTEMPT_CLOSE, task(h, "b"));
        assert_non_null(close);
        assert_int_equal(close->outcome, DF_AO_FAILED);
        if (!strstr(close->error, why[k]))
            fail_msg("case %d: error [%s] lacks [%s]", k, close->error, why[k]);
        /* the result is kept with the failure */
        assert_non_null(df_run_core_result(h->c, task(h, "b")));
        step(h);
        assert_int_equal(state(h, "x"), DF_TS_UPSTREAM_FAILED);
        assert_int_equal(state(h, "join"), DF_TS_UPSTREAM_FAILED);
        assert_true(end(h));
        assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);
        h_free(h);
    }
}

/* A task found PENDING under a branch task that succeeded without naming it (a crash between
 * the two writes, or a retry that reopened it) is skipped when its rule is met, not run. */
static void test_branch_unchosen_on_resume(void **state_)
{
    (void)state_;
    harness *h = h_new(WF, 8);
    df_task_snapshot s[] = {
        {.id = "b", .state = DF_TS_SUCCESS, .attempts = 1, .result_json = "\"x\""},
        {.id = "x", .state = DF_TS_SUCCESS, .attempts = 1, .result_json = "{}"},
        {.id = "y", .state = DF_TS_PENDING},
        {.id = "z", .state = DF_TS_SKIPPED},
        {.id = "join", .state = DF_TS_PENDING},
        {.id = "strict", .state = DF_TS_PENDING},
    };
    char err[128];
    assert_int_equal(df_run_core_restore(h->c, s, 6, err, sizeof err), 0);
    df_run_core_resume(h->c, s, 6, &h->clk);
    df_run_core_start(h->c);
    step(h);
    assert_int_equal(state(h, "y"), DF_TS_SKIPPED);
    assert_int_equal(state(h, "join"), DF_TS_RUNNING);
    h_free(h);
}

static void test_branch_load(void **state_)
{
    (void)state_;
    const char *e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                               "\"branch\":true}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "t.json: task \"a\": branch: a branch task needs downstream"));
    e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"branch\":1},"
                   "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "task \"a\": branch: must be a boolean, got an integer"));
    e = load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\",\"brnch\":true}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "did you mean \"branch\""));
    /* with for_each: refused whether or not for_each itself is built */
    df_errlist errs = {0};
    df_workflow *wf = NULL;
    json_t *doc = json_loads("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                             "\"branch\":true,\"for_each\":[1]},"
                             "{\"id\":\"b\",\"plugin\":\"x\",\"depends_on\":[\"a\"]}]}",
                             0, NULL);
    assert_int_not_equal(df_workflow_load_json(doc, "t.json", "/", &wf, &errs), 0);
    bool found = false;
    for (size_t k = 0; k < errs.n; k++)
        found |= strstr(errs.msgs[k],
                        "task \"a\": branch: a task with for_each cannot be a branch") != NULL;
    assert_true(found);
    df_errlist_clear(&errs);
    json_decref(doc);
    assert_null(load_error("{\"name\":\"t\",\"tasks\":[{\"id\":\"a\",\"plugin\":\"x\","
                           "\"branch\":false}]}"));
    /* branch cannot be a default */
    e = load_error("{\"name\":\"t\",\"defaults\":{\"branch\":true},\"tasks\":[{\"id\":\"a\","
                   "\"plugin\":\"x\"}]}");
    assert_non_null(e);
    assert_non_null(strstr(e, "cannot have a default"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_branch_to_one),  cmocka_unit_test(test_branch_to_several),
        cmocka_unit_test(test_branch_to_none), cmocka_unit_test(test_branch_in_object),
        cmocka_unit_test(test_branch_invalid), cmocka_unit_test(test_branch_unchosen_on_resume),
        cmocka_unit_test(test_branch_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
