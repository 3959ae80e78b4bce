/* store_cancel_check: the scenario of the cancel requests (SPEC §10) that both backends must pass
 * (included by test_store_attempts.c on SQLite and test_store_pg.c on PostgreSQL): a request on
 * a RUNNING run is listed for the engines and kept with its first time and reason; one on an
 * INTERRUPTED run is stored but not listed (no engine owns it); a finished run refuses with its
 * state, an unknown one is not found; clearing forgets it. And df_store_child_run: the newest
 * child run of a parent's task. The caller includes cmocka and store/store.h first. */
#ifndef DF_TEST_STORE_CANCEL_CHECK_H
#define DF_TEST_STORE_CANCEL_CHECK_H

static long long cancel_new_run(df_store *s)
{
    const char *dag = "{\"name\":\"c\",\"tasks\":[{\"id\":\"t0\",\"plugin\":\"shell\"}]}";
    df_task_record tasks[] = {{.id = "t0", .plugin = "shell"}};
    df_run_record rec = {
        .workflow = "c", .dag_json = dag, .started_at = 1000, .tasks = tasks, .n_tasks = 1};
    long long run = 0;
    assert_int_equal(df_store_create_run(s, &rec, &run), DF_STORE_OK);
    return run;
}

static void check_cancel_requests(df_store *s)
{
    long long a = cancel_new_run(s), b = cancel_new_run(s), c = cancel_new_run(s);
    df_cancel_request *v = NULL;
    size_t n = 9;
    assert_int_equal(df_store_cancel_requests(s, 0, &v, &n), DF_STORE_OK);
    assert_int_equal(n, 0);
    assert_null(v);

    df_run_state st = DF_RS_SUCCESS;
    assert_int_equal(df_store_cancel_request(s, a, "dagflow cancel", 5000, &st), DF_STORE_OK);
    assert_int_equal(st, DF_RS_RUNNING);
    /* a second request keeps the first one's time and reason */
    assert_int_equal(df_store_cancel_request(s, a, "again", 6000, NULL), DF_STORE_OK);
    assert_int_equal(df_store_run_set_state(s, b, DF_RS_INTERRUPTED, 0), DF_STORE_OK);
    assert_int_equal(df_store_cancel_request(s, b, NULL, 7000, &st), DF_STORE_OK);
    assert_int_equal(st, DF_RS_INTERRUPTED);
    assert_int_equal(df_store_run_set_state(s, c, DF_RS_SUCCESS, 3000), DF_STORE_OK);
    assert_int_equal(df_store_cancel_request(s, c, "late", 8000, &st), DF_STORE_CONFLICT);
    assert_int_equal(st, DF_RS_SUCCESS);
    assert_non_null(strstr(df_store_error(s), "has finished (SUCCESS)"));
    assert_int_equal(df_store_cancel_request(s, c + 100, "x", 8000, &st), DF_STORE_NOTFOUND);

    /* the engines' look: RUNNING runs only */
    assert_int_equal(df_store_cancel_requests(s, 0, &v, &n), DF_STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].run_id, a);
    assert_int_equal(v[0].requested_at, 5000);
    assert_string_equal(v[0].reason, "dagflow cancel");
    df_cancel_requests_free(v, n);
    /* one run's, whatever its state */
    assert_int_equal(df_store_cancel_requests(s, b, &v, &n), DF_STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].requested_at, 7000);
    assert_null(v[0].reason);
    df_cancel_requests_free(v, n);
    assert_int_equal(df_store_cancel_requests(s, c, &v, &n), DF_STORE_OK);
    assert_int_equal(n, 0);

    /* inside a group-commit transaction too, and a refusal leaves it usable */
    assert_int_equal(df_store_begin(s), DF_STORE_OK);
    assert_int_equal(df_store_cancel_request(s, c, "late", 8000, &st), DF_STORE_CONFLICT);
    assert_int_equal(df_store_cancel_clear(s, a), DF_STORE_OK);
    assert_int_equal(df_store_commit(s), DF_STORE_OK);
    assert_int_equal(df_store_cancel_requests(s, a, &v, &n), DF_STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(df_store_cancel_clear(s, c + 100), DF_STORE_NOTFOUND);

    /* child runs of a parent's task: the newest one, with its state */
    long long id = 0;
    assert_int_equal(df_store_child_run(s, a, "t0", &id, &st), DF_STORE_NOTFOUND);
    const char *dag = "{\"name\":\"k\",\"tasks\":[{\"id\":\"k0\",\"plugin\":\"noop\"}]}";
    df_task_record tasks[] = {{.id = "k0", .plugin = "noop"}};
    df_run_record rec = {.workflow = "k",
                         .dag_json = dag,
                         .started_at = 2000,
                         .tasks = tasks,
                         .n_tasks = 1,
                         .trigger = DF_TRIGGER_WORKFLOW,
                         .parent_run_id = a,
                         .parent_task_id = "t0"};
    long long k1 = 0, k2 = 0;
    assert_int_equal(df_store_create_run(s, &rec, &k1), DF_STORE_OK);
    assert_int_equal(df_store_run_set_state(s, k1, DF_RS_FAILED, 3000), DF_STORE_OK);
    assert_int_equal(df_store_create_run(s, &rec, &k2), DF_STORE_OK);
    assert_int_equal(df_store_child_run(s, a, "t0", &id, &st), DF_STORE_OK);
    assert_int_equal(id, k2);
    assert_int_equal(st, DF_RS_RUNNING);
    assert_int_equal(df_store_child_run(s, a, "t1", &id, &st), DF_STORE_NOTFOUND);
}

#endif
