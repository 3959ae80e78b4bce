/* store_attempts_check: the scenario of df_store_task_attempts that both backends must pass
 * (included by test_store_attempts.c on SQLite and test_store_pg.c on PostgreSQL): attempts in
 * order with their outcome, times, error and log; each attempt's own stdout, stderr, exit code and
 * truncation flags (attempts.output), and, for attempts closed without them, the task result's
 * given to the latest ended attempt only; a task without attempts;
 * an open attempt; an unknown task and an unknown run told apart. And df_store_crash_report for an
 * engine's own crash (check_crash_report): the open attempt of a run the crashed process owns is
 * charged and df_store_load_run says so; another pid or host, or an attempt no longer open,
 * charges nothing. The caller includes cmocka and store/store.h first. */
#ifndef DF_TEST_STORE_ATTEMPTS_CHECK_H
#define DF_TEST_STORE_ATTEMPTS_CHECK_H

#include <jansson.h>
#include <string.h>

/* The string at key of o, or NULL when it is not a string. */
static const char *att_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void check_task_attempts(df_store *s)
{
    const char *dag = "{\"name\":\"att\",\"tasks\":[{\"id\":\"t0\",\"plugin\":\"shell\"},"
                      "{\"id\":\"t1\",\"plugin\":\"shell\"}]}";
    df_task_record tasks[] = {{.id = "t0", .plugin = "shell"}, {.id = "t1", .plugin = "shell"}};
    df_run_record rec = {
        .workflow = "att", .dag_json = dag, .started_at = 1000, .tasks = tasks, .n_tasks = 2};
    long long run = 0;
    assert_int_equal(df_store_create_run(s, &rec, &run), DF_STORE_OK);

    /* t0: attempt 1 fails, attempt 2 succeeds with a shell result. */
    assert_int_equal(df_store_attempt_open(s, run, "t0", 1, 2000), DF_STORE_OK);
    assert_int_equal(df_store_attempt_close(s, run, "t0", 1, DF_AO_FAILED, 2250, "exit code 3",
                                            "line one\nline two"),
                     DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(s, run, "t0", 2, 3000), DF_STORE_OK);
    assert_int_equal(df_store_attempt_close(s, run, "t0", 2, DF_AO_SUCCESS, 3040, NULL, "done"),
                     DF_STORE_OK);
    df_transition t = {.run_id = run,
                       .task_id = "t0",
                       .from = DF_TS_PENDING,
                       .to = DF_TS_SUCCESS,
                       .to_attempt = 2,
                       .at = 3040,
                       .result_json = "{\"exit_code\":0,\"stdout\":\"out\",\"stderr\":\"err\","
                                      "\"stdout_truncated\":true}"};
    assert_int_equal(df_store_transition(s, &t), DF_STORE_OK);

    json_t *o = NULL;
    assert_int_equal(df_store_task_attempts(s, run, "t0", &o), DF_STORE_OK);
    assert_int_equal(json_integer_value(json_object_get(o, "run_id")), run);
    assert_string_equal(att_str(o, "task_id"), "t0");
    assert_string_equal(att_str(o, "state"), "SUCCESS");
    json_t *list = json_object_get(o, "attempts");
    assert_int_equal(json_array_size(list), 2);
    json_t *a1 = json_array_get(list, 0), *a2 = json_array_get(list, 1);
    assert_int_equal(json_integer_value(json_object_get(a1, "attempt")), 1);
    assert_string_equal(att_str(a1, "outcome"), "FAILED");
    assert_string_equal(att_str(a1, "started_at"), "1970-01-01T00:00:02.000Z");
    assert_string_equal(att_str(a1, "ended_at"), "1970-01-01T00:00:02.250Z");
    assert_int_equal(json_integer_value(json_object_get(a1, "duration_ms")), 250);
    assert_string_equal(att_str(a1, "error"), "exit code 3");
    assert_string_equal(att_str(a1, "log"), "line one\nline two");
    /* the result is attempt 2's: attempt 1 shows none of it */
    assert_true(json_is_null(json_object_get(a1, "stdout")));
    assert_true(json_is_null(json_object_get(a1, "exit_code")));
    assert_int_equal(json_integer_value(json_object_get(a2, "attempt")), 2);
    assert_string_equal(att_str(a2, "outcome"), "SUCCESS");
    assert_true(json_is_null(json_object_get(a2, "error")));
    assert_string_equal(att_str(a2, "log"), "done");
    assert_string_equal(att_str(a2, "stdout"), "out");
    assert_string_equal(att_str(a2, "stderr"), "err");
    assert_int_equal(json_integer_value(json_object_get(a2, "exit_code")), 0);
    assert_true(json_is_true(json_object_get(a2, "stdout_truncated")));
    assert_true(json_is_false(json_object_get(a2, "stderr_truncated"))); /* kept whole */
    json_decref(o);

    /* t1: no attempt yet, then one still open */
    assert_int_equal(df_store_task_attempts(s, run, "t1", &o), DF_STORE_OK);
    assert_string_equal(att_str(o, "state"), "PENDING");
    assert_int_equal(json_array_size(json_object_get(o, "attempts")), 0);
    json_decref(o);
    assert_int_equal(df_store_attempt_open(s, run, "t1", 1, 5000), DF_STORE_OK);
    assert_int_equal(df_store_task_attempts(s, run, "t1", &o), DF_STORE_OK);
    a1 = json_array_get(json_object_get(o, "attempts"), 0);
    assert_string_equal(att_str(a1, "outcome"), "RUNNING");
    assert_true(json_is_null(json_object_get(a1, "ended_at")));
    assert_true(json_is_null(json_object_get(a1, "duration_ms")));
    assert_true(json_is_null(json_object_get(a1, "log")));
    json_decref(o);

    /* t1: each attempt closed with its own output (SPEC §10) shows it, whatever the task's
     * result holds */
    assert_int_equal(df_store_instance_attempt_close_output(
                         s, run, "t1", DF_NO_MAP_INDEX, 1, DF_AO_FAILED, 5100, "exit code 5", NULL,
                         "{\"exit_code\":5,\"stdout\":\"first\",\"stderr\":\"e1\"}"),
                     DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(s, run, "t1", 2, 6000), DF_STORE_OK);
    assert_int_equal(df_store_instance_attempt_close_output(
                         s, run, "t1", DF_NO_MAP_INDEX, 2, DF_AO_SUCCESS, 6100, NULL, NULL,
                         "{\"exit_code\":0,\"stdout\":\"second\",\"stderr_truncated\":true}"),
                     DF_STORE_OK);
    df_transition t1 = {.run_id = run,
                        .task_id = "t1",
                        .from = DF_TS_PENDING,
                        .to = DF_TS_SUCCESS,
                        .to_attempt = 2,
                        .at = 6100,
                        .result_json = "{\"exit_code\":9,\"stdout\":\"from-result\"}"};
    assert_int_equal(df_store_transition(s, &t1), DF_STORE_OK);
    assert_int_equal(df_store_task_attempts(s, run, "t1", &o), DF_STORE_OK);
    list = json_object_get(o, "attempts");
    assert_int_equal(json_array_size(list), 2);
    a1 = json_array_get(list, 0);
    a2 = json_array_get(list, 1);
    assert_string_equal(att_str(a1, "stdout"), "first");
    assert_string_equal(att_str(a1, "stderr"), "e1");
    assert_int_equal(json_integer_value(json_object_get(a1, "exit_code")), 5);
    assert_true(json_is_false(json_object_get(a1, "stdout_truncated")));
    assert_true(json_is_false(json_object_get(a1, "stderr_truncated")));
    assert_string_equal(att_str(a2, "stdout"), "second");
    assert_true(json_is_null(json_object_get(a2, "stderr")));
    assert_int_equal(json_integer_value(json_object_get(a2, "exit_code")), 0);
    assert_true(json_is_true(json_object_get(a2, "stderr_truncated")));
    json_decref(o);

    /* unknown task, unknown run: told apart */
    json_t *before = json_object();
    o = before; /* cleared by the call */
    assert_int_equal(df_store_task_attempts(s, run, "t9", &o), DF_STORE_NOTFOUND);
    assert_null(o);
    json_decref(before);
    assert_non_null(strstr(df_store_error(s), "has no task \"t9\""));
    assert_int_equal(df_store_task_attempts(s, run + 100, "t0", &o), DF_STORE_NOTFOUND);
    assert_non_null(strstr(df_store_error(s), "no run"));
    assert_null(strstr(df_store_error(s), "has no task"));
}

/* SPEC §12 across hosts: the crashed engine's reporter marks its open attempt charged. */
static void check_crash_report(df_store *s)
{
    const char *dag = "{\"name\":\"cr\",\"tasks\":[{\"id\":\"t0\",\"plugin\":\"crash\"},"
                      "{\"id\":\"t1\",\"plugin\":\"sleep\"}]}";
    df_task_record tasks[] = {{.id = "t0", .plugin = "crash"}, {.id = "t1", .plugin = "sleep"}};
    df_engine_id me = {.pid = 4242, .host = "host-a", .started_at = 1000};
    df_run_record rec = {.workflow = "cr",
                         .dag_json = dag,
                         .started_at = 1000,
                         .engine = &me,
                         .tasks = tasks,
                         .n_tasks = 2};
    long long run = 0;
    assert_int_equal(df_store_create_run(s, &rec, &run), DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(s, run, "t0", 1, 2000), DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(s, run, "t1", 1, 2000), DF_STORE_OK);
    df_crash_report r = {.run_id = run,
                         .task_id = "t0",
                         .map_index = -1,
                         .attempt = 1,
                         .pid = 4243,
                         .host = "host-a"};
    df_crash_mark mark = DF_CRASH_MARK_WORK;
    /* another process on the same host, the same pid on another host: not the owner */
    assert_int_equal(df_store_crash_report(s, &r, &mark), DF_STORE_NOTFOUND);
    assert_int_equal(mark, DF_CRASH_MARK_NONE);
    r.pid = 4242;
    r.host = "host-b";
    assert_int_equal(df_store_crash_report(s, &r, &mark), DF_STORE_NOTFOUND);
    r.host = "host-a";
    assert_int_equal(df_store_crash_report(s, &r, &mark), DF_STORE_OK);
    assert_int_equal(mark, DF_CRASH_MARK_ATTEMPT);
    df_stored_run *lr = NULL;
    assert_int_equal(df_store_load_run(s, run, &lr), DF_STORE_OK);
    assert_int_equal(lr->n_tasks, 2);
    assert_int_equal(lr->tasks[0].open_attempt, 1);
    assert_true(lr->tasks[0].open_charged);
    assert_int_equal(lr->tasks[1].open_attempt, 1);
    assert_false(lr->tasks[1].open_charged); /* the bystander */
    df_stored_run_free(lr);
    /* once closed, the attempt is no longer open: a late report charges nothing */
    assert_int_equal(df_store_attempt_close(s, run, "t1", 1, DF_AO_LOST, 3000, "lost", NULL),
                     DF_STORE_OK);
    r.task_id = "t1";
    assert_int_equal(df_store_crash_report(s, &r, &mark), DF_STORE_NOTFOUND);
    /* bad arguments */
    r.attempt = 0;
    assert_int_not_equal(df_store_crash_report(s, &r, NULL), DF_STORE_OK);
}

#endif
