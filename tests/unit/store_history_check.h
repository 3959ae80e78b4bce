/* store_history_check: the scenarios of history's filters, gc, a run's events and the counts by
 * state that both backends must pass (included by test_store_history.c on SQLite and
 * test_store_pg.c on PostgreSQL). The caller includes cmocka and store/store.h first. */
#ifndef DF_TEST_STORE_HISTORY_CHECK_H
#define DF_TEST_STORE_HISTORY_CHECK_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A run of workflow wf with tasks t0 -> t1, started at `at` (ms), no engine. */
static long long hc_run(df_store *s, const char *wf, int64_t at)
{
    size_t dep = 0;
    df_task_record tasks[] = {{"t0", "noop", NULL, 0}, {"t1", "noop", &dep, 1}};
    df_run_record r = {
        .workflow = wf, .dag_json = "{}", .started_at = at, .tasks = tasks, .n_tasks = 2};
    long long id = 0;
    assert_int_equal(df_store_create_run(s, &r, &id), DF_STORE_OK);
    return id;
}

/* t0: PENDING -> RUNNING (attempt 1, with a log of log_bytes bytes) -> SUCCESS at `at`. */
static void hc_task_done(df_store *s, long long run, int64_t at, size_t log_bytes)
{
    df_transition t = {.run_id = run,
                       .task_id = "t0",
                       .from = DF_TS_PENDING,
                       .to = DF_TS_RUNNING,
                       .to_attempt = 1,
                       .at = at - 10,
                       .detail = "started"};
    assert_int_equal(df_store_transition(s, &t), DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(s, run, "t0", 1, at - 10), DF_STORE_OK);
    char *log = malloc(log_bytes + 1);
    memset(log, 'x', log_bytes);
    log[log_bytes] = '\0';
    assert_int_equal(df_store_attempt_close(s, run, "t0", 1, DF_AO_SUCCESS, at, NULL, log),
                     DF_STORE_OK);
    free(log);
    t = (df_transition){.run_id = run,
                        .task_id = "t0",
                        .from = DF_TS_RUNNING,
                        .from_attempt = 1,
                        .to = DF_TS_SUCCESS,
                        .to_attempt = 1,
                        .at = at};
    assert_int_equal(df_store_transition(s, &t), DF_STORE_OK);
}

/* The run ids of a history array, newest first, into ids (at most 8); returns how many. */
static size_t hc_ids(df_store *s, const df_history_query *q, long long ids[8])
{
    json_t *a = NULL;
    assert_int_equal(df_store_history_query(s, q, &a), DF_STORE_OK);
    size_t n = json_array_size(a);
    for (size_t i = 0; i < n && i < 8; i++)
        ids[i] = json_integer_value(json_object_get(json_array_get(a, i), "run_id"));
    json_decref(a);
    return n;
}

/* Runs: r1 a SUCCESS (1000..2000), r2 b FAILED (5000..6000), r3 a RUNNING with no heartbeat
 * (shown INTERRUPTED), r4 a CANCELLED (7000..8000). */
static void hc_four_runs(df_store *s, long long r[4], size_t log_bytes)
{
    r[0] = hc_run(s, "a", 1000);
    hc_task_done(s, r[0], 1500, log_bytes);
    assert_int_equal(df_store_run_set_state(s, r[0], DF_RS_SUCCESS, 2000), DF_STORE_OK);
    r[1] = hc_run(s, "b", 5000);
    assert_int_equal(df_store_run_set_state(s, r[1], DF_RS_FAILED, 6000), DF_STORE_OK);
    r[2] = hc_run(s, "a", 6500);
    r[3] = hc_run(s, "a", 7000);
    assert_int_equal(df_store_run_set_state(s, r[3], DF_RS_CANCELLED, 8000), DF_STORE_OK);
}

static void check_history_filters(df_store *s)
{
    long long r[4], ids[8];
    hc_four_runs(s, r, 10);
    df_history_query q = {0};
    assert_int_equal(hc_ids(s, &q, ids), 4);
    assert_int_equal(ids[0], r[3]);
    q = (df_history_query){.state = "SUCCESS"};
    assert_int_equal(hc_ids(s, &q, ids), 1);
    assert_int_equal(ids[0], r[0]);
    q = (df_history_query){.state = "INTERRUPTED"}; /* as the view shows the stale run */
    assert_int_equal(hc_ids(s, &q, ids), 1);
    assert_int_equal(ids[0], r[2]);
    q = (df_history_query){.state = "RUNNING"};
    assert_int_equal(hc_ids(s, &q, ids), 0);
    q = (df_history_query){.since = 5000}; /* started at or after */
    assert_int_equal(hc_ids(s, &q, ids), 3);
    assert_int_equal(ids[2], r[1]);
    q = (df_history_query){.before = r[2]}; /* exclusive */
    assert_int_equal(hc_ids(s, &q, ids), 2);
    assert_int_equal(ids[0], r[1]);
    assert_int_equal(ids[1], r[0]);
    q = (df_history_query){.workflow = "a", .since = 1001, .before = r[3]};
    assert_int_equal(hc_ids(s, &q, ids), 1);
    assert_int_equal(ids[0], r[2]);
    q = (df_history_query){.workflow = "a", .limit = 2};
    assert_int_equal(hc_ids(s, &q, ids), 2);
    assert_int_equal(ids[1], r[2]);
}

/* gc deletes finished runs that ended before the cutoff with all their rows; a dry run changes
 * nothing; unfinished runs stay whatever their age. Returns the bytes the first gc freed. */
static long long check_gc(df_store *s, size_t log_bytes)
{
    long long r[4], ids[8];
    hc_four_runs(s, r, log_bytes);
    df_gc_result g;
    assert_int_equal(df_store_gc(s, 1999, false, &g), DF_STORE_OK); /* r1 ended at 2000 */
    assert_int_equal(g.runs, 0);
    assert_int_equal(g.rows, 0);
    assert_int_equal(df_store_gc(s, 2500, true, &g), DF_STORE_OK);
    assert_int_equal(g.runs, 1);
    /* the run, 2 tasks, 2 events (the creation events and the edge are not rows: schema 10),
     * 1 attempt */
    assert_int_equal(g.rows, 6);
    long long dry_bytes = g.bytes;
    df_history_query q = {0};
    assert_int_equal(hc_ids(s, &q, ids), 4);
    assert_int_equal(df_store_gc(s, 2500, false, &g), DF_STORE_OK);
    assert_int_equal(g.runs, 1);
    assert_int_equal(g.rows, 6);
    assert_int_equal(g.bytes, dry_bytes);
    long long freed = g.bytes;
    assert_int_equal(hc_ids(s, &q, ids), 3);
    assert_int_equal(ids[2], r[1]);
    json_t *o = NULL;
    assert_int_equal(df_store_task_attempts(s, r[0], "t0", &o), DF_STORE_NOTFOUND);
    assert_int_equal(df_store_run_events(s, r[0], 0, 0, &o), DF_STORE_NOTFOUND);
    /* Everything finished goes; the RUNNING (stale: INTERRUPTED) run stays. */
    assert_int_equal(df_store_gc(s, INT64_MAX, false, &g), DF_STORE_OK);
    assert_int_equal(g.runs, 2);
    assert_int_equal(hc_ids(s, &q, ids), 1);
    assert_int_equal(ids[0], r[2]);
    return freed;
}

static void check_events_and_counts(df_store *s)
{
    long long r[4];
    hc_four_runs(s, r, 10);
    json_t *o = NULL;
    assert_int_equal(df_store_run_events(s, r[0], 0, 0, &o), DF_STORE_OK);
    json_t *ev = json_object_get(o, "events");
    assert_int_equal(json_array_size(ev), 4); /* two creations, t0 RUNNING, t0 SUCCESS */
    assert_string_equal(json_string_value(json_object_get(o, "state")), "SUCCESS");
    json_t *e0 = json_array_get(ev, 0), *e2 = json_array_get(ev, 2), *e3 = json_array_get(ev, 3);
    assert_true(json_is_null(json_object_get(e0, "from_state")));
    assert_string_equal(json_string_value(json_object_get(e0, "to_state")), "PENDING");
    assert_string_equal(json_string_value(json_object_get(e2, "to_state")), "RUNNING");
    assert_string_equal(json_string_value(json_object_get(e2, "detail")), "started");
    assert_string_equal(json_string_value(json_object_get(e2, "at")), "1970-01-01T00:00:01.490Z");
    assert_int_equal(json_integer_value(json_object_get(e3, "attempt")), 1);
    long long s2 = json_integer_value(json_object_get(e2, "seq"));
    long long last = json_integer_value(json_object_get(e3, "seq"));
    assert_true(s2 < last);
    assert_int_equal(json_integer_value(json_object_get(o, "last_seq")), last);
    json_decref(o);
    assert_int_equal(df_store_run_events(s, r[0], s2, 0, &o), DF_STORE_OK);
    assert_int_equal(json_array_size(json_object_get(o, "events")), 1);
    json_decref(o);
    assert_int_equal(df_store_run_events(s, r[0], last, 0, &o), DF_STORE_OK);
    assert_int_equal(json_array_size(json_object_get(o, "events")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "last_seq")), last);
    json_decref(o);
    assert_int_equal(df_store_run_events(s, r[0], 0, 2, &o), DF_STORE_OK); /* limit */
    assert_int_equal(json_array_size(json_object_get(o, "events")), 2);
    long long s0 =
        json_integer_value(json_object_get(json_array_get(json_object_get(o, "events"), 0), "seq"));
    json_decref(o);
    /* After the first creation event (synthesised from the task rows since schema 10): the
     * second creation event, then the stored ones, in seq order. */
    assert_int_equal(df_store_run_events(s, r[0], s0, 0, &o), DF_STORE_OK);
    ev = json_object_get(o, "events");
    assert_int_equal(json_array_size(ev), 3);
    assert_true(json_is_null(json_object_get(json_array_get(ev, 0), "from_state")));
    assert_true(json_integer_value(json_object_get(json_array_get(ev, 0), "seq")) > s0);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ev, 2), "seq")), last);
    json_decref(o);
    assert_int_equal(df_store_run_events(s, 999999, 0, 0, &o), DF_STORE_NOTFOUND);

    assert_int_equal(df_store_state_counts(s, &o), DF_STORE_OK);
    json_t *runs = json_object_get(o, "runs"), *tasks = json_object_get(o, "task_instances");
    assert_int_equal(json_integer_value(json_object_get(runs, "SUCCESS")), 1);
    assert_int_equal(json_integer_value(json_object_get(runs, "FAILED")), 1);
    assert_int_equal(json_integer_value(json_object_get(runs, "INTERRUPTED")), 1);
    assert_int_equal(json_integer_value(json_object_get(runs, "CANCELLED")), 1);
    assert_null(json_object_get(runs, "RUNNING"));
    /* the task instances of unfinished runs only: r3's two */
    assert_int_equal(json_integer_value(json_object_get(tasks, "PENDING")), 2);
    assert_int_equal(json_object_size(tasks), 1);
    json_decref(o);
}

#endif
