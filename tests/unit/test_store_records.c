/* test_store_records: unit tests of the store's interface (store/store.h) as such — the backend
 * picked by what --db names (a PostgreSQL URI refused clearly), typed run records round-tripping
 * through create and load (documents byte for byte, engine, edges, LOST streaks and retry
 * budgets, results holding NUL characters), records refused before anything is written, and the
 * JSON of status and history made from typed rows exactly as the SQL views show it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store/sqlite/backend.h"
#include "store/store.h"

#include "store_fixture.h"

/* --db picks the backend by what it names: a PostgreSQL URI is the PostgreSQL backend, whose
 * server not answering gives a clear error (at once with DAGFLOW_PG_RETRY_MS=0) without creating
 * anything or repeating the URI's password; anything else is a SQLite path. df_store_exists
 * answers without creating the store. */
static void test_open_postgres_uri(void **state)
{
    fx *f = *state;
    static const char *const uris[] = {
        "postgresql://user:secret@/dagflow?host=/nonexistent-dagflow-test&port=1",
        "postgres:///dagflow?host=/nonexistent-dagflow-test", "POSTGRES:///db?host=/nonexistent"};
    setenv("DAGFLOW_PG_RETRY_MS", "0", 1);
    char cwd_probe[] = "postgresql:";
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        char err[256] = "";
        df_store *s = (df_store *)1;
        assert_int_equal(df_store_open(uris[i], &s, err, sizeof err), DF_STORE_ERROR);
        assert_null(s);
        assert_non_null(strstr(err, "store: open: cannot connect to PostgreSQL: "));
        assert_null(strstr(err, "secret"));
        assert_true(df_store_exists(uris[i]));
    }
    unsetenv("DAGFLOW_PG_RETRY_MS");
    assert_int_not_equal(access(cwd_probe, F_OK), 0);
    assert_int_not_equal(access("postgres:", F_OK), 0);

    /* A path that merely contains the word is a SQLite file. */
    char path[200];
    snprintf(path, sizeof path, "%s/postgres:x.db", f->dir);
    assert_false(df_store_exists(path));
    char err[256] = "";
    df_store *s = NULL;
    assert_int_equal(df_store_open(path, &s, err, sizeof err), DF_STORE_OK);
    assert_non_null(df_store_sqlite(s));
    assert_true(df_store_exists(path));
    df_store_close(s);

    /* No store named at all. */
    assert_false(df_store_exists(""));
    assert_false(df_store_exists(NULL));
    assert_int_equal(df_store_open("", &s, err, sizeof err), DF_STORE_ERROR);
    assert_null(s);
    assert_string_equal(df_store_error(NULL), "");
}

/* The rows of a query as a JSON array of objects keyed by column name (integers, reals, text,
 * null), as the store printed the run_history view before it read typed rows. */
static json_t *sql_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            json_t *v;
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                v = json_integer(sqlite3_column_int64(st, i));
                break;
            case SQLITE_NULL:
                v = json_null();
                break;
            default:
                v = json_string((const char *)sqlite3_column_text(st, i));
            }
            json_object_set_new(o, sqlite3_column_name(st, i), v);
        }
        json_array_append_new(a, o);
    }
    sqlite3_finalize(st);
    return a;
}

/* What status and history print is made in C from typed rows; it must be byte for byte what
 * the SQL views show (times on millisecond boundaries included, a stale run INTERRUPTED). */
/* SPEC §12: durations count time running only. A run ran from 0 to 1000 ms, its engine died
 * (last heartbeat at 1000, period left open), was resumed at 60000 and ended at 60500: it ran for
 * 1500 ms; a task running from 500 to 60200 ran for 700. status, history and the views agree. */
static void test_durations_count_running_periods(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    int64_t t0 = 1795940100000;
    long long a = create(f->s, "wf", 1, 0, t0);
    assert_int_equal(df_store_run_period_start(f->s, a, t0, t0), DF_STORE_OK);
    tr_ok(f->s, a, "t0", DF_TS_PENDING, 0, DF_TS_QUEUED, 0, t0 + 400);
    tr_ok(f->s, a, "t0", DF_TS_QUEUED, 0, DF_TS_RUNNING, 1, t0 + 500);
    /* the dead engine's period closes at its last heartbeat; a new one opens */
    assert_int_equal(df_store_run_period_start(f->s, a, t0 + 60000, t0 + 1000), DF_STORE_OK);
    tr_ok(f->s, a, "t0", DF_TS_RUNNING, 1, DF_TS_SUCCESS, 1, t0 + 60200);
    assert_int_equal(df_store_run_set_state(f->s, a, DF_RS_SUCCESS, t0 + 60500), DF_STORE_OK);
    assert_int_equal(df_store_run_period_end(f->s, a, t0 + 60500), DF_STORE_OK);

    json_t *st = NULL;
    assert_int_equal(df_store_run_status(f->s, a, &st), DF_STORE_OK);
    assert_int_equal(json_integer_value(json_object_get(st, "duration_ms")), 1500);
    json_t *task = json_array_get(json_object_get(st, "tasks"), 0);
    assert_int_equal(json_integer_value(json_object_get(task, "duration_ms")), 700);
    json_decref(st);
    json_t *h = NULL;
    assert_int_equal(df_store_history(f->s, NULL, 0, &h), DF_STORE_OK);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "duration_ms")),
                     1500);
    json_decref(h);
    sqlite3 *db = raw_open(f->path);
    json_t *v = sql_rows(db, "SELECT (SELECT duration_ms FROM run_history) AS r,"
                             " (SELECT duration_ms FROM task_history) AS t");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "r")), 1500);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "t")), 700);
    json_decref(v);
    sqlite3_close(db);
}

static void test_status_and_history_match_the_views(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    int64_t t0 = 1795940108999; /* ...:08.999 */
    long long a = create(f->s, "wf", 3, 1, t0);
    tr_ok(f->s, a, "t0", DF_TS_PENDING, 0, DF_TS_QUEUED, 0, t0 + 1);
    tr_ok(f->s, a, "t0", DF_TS_QUEUED, 0, DF_TS_RUNNING, 1, t0 + 1); /* ...:09.000 */
    tr_ok(f->s, a, "t0", DF_TS_RUNNING, 1, DF_TS_SUCCESS, 1, t0 + 1002);
    tr_ok(f->s, a, "t1", DF_TS_PENDING, 0, DF_TS_QUEUED, 0, t0 + 1002);
    tr_ok(f->s, a, "t1", DF_TS_QUEUED, 0, DF_TS_RUNNING, 1, t0 + 59001);
    df_transition t = {.run_id = a,
                       .task_id = "t1",
                       .from = DF_TS_RUNNING,
                       .from_attempt = 1,
                       .to = DF_TS_FAILED,
                       .to_attempt = 1,
                       .at = t0 + 3600000,
                       .error = "boom\nline 2",
                       .result_json = "{\"exit_code\":1}"};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    assert_int_equal(df_store_run_set_state(f->s, a, DF_RS_FAILED, t0 + 3600001), DF_STORE_OK);
    long long b = create(f->s, "other", 1, 0, now_ms() - 120000); /* stale: INTERRUPTED */
    long long c = create(f->s, "wf", 2, 0, now_ms());

    sqlite3 *db = raw_open(f->path);
    json_t *h = NULL;
    assert_int_equal(df_store_history(f->s, NULL, 0, &h), DF_STORE_OK);
    json_t *want = sql_rows(db, "SELECT * FROM run_history ORDER BY run_id DESC");
    char *got_text = json_dumps(h, JSON_COMPACT), *want_text = json_dumps(want, JSON_COMPACT);
    assert_string_equal(got_text, want_text);
    assert_non_null(strstr(got_text, "\"state\":\"INTERRUPTED\""));
    free(got_text);
    free(want_text);
    json_decref(h);
    json_decref(want);

    long long ids[] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        json_t *st = NULL;
        assert_int_equal(df_store_run_status(f->s, ids[k], &st), DF_STORE_OK);
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT run_id, workflow, state, started_at, ended_at, trigger, logical_time,"
                 " parent_run_id, parent_task_id, error, duration_ms FROM run_history"
                 " WHERE run_id = %lld",
                 ids[k]);
        json_t *heads = sql_rows(db, sql);
        json_t *head = json_array_get(heads, 0);
        snprintf(sql, sizeof sql,
                 "SELECT task_id AS id, state, attempts, started_at, ended_at, duration_ms, error"
                 " FROM task_history WHERE run_id = %lld",
                 ids[k]);
        json_t *tasks = sql_rows(db, sql);
        const char *key;
        json_t *v;
        json_object_foreach(head, key, v)
        {
            if (!json_equal(json_object_get(st, key), v))
                fail_msg("run %lld: %s differs from run_history", ids[k], key);
        }
        json_t *got = json_object_get(st, "tasks");
        assert_int_equal(json_array_size(got), json_array_size(tasks));
        for (size_t i = 0; i < json_array_size(tasks); i++)
            json_object_foreach(json_array_get(tasks, i), key, v)
            {
                if (!json_equal(json_object_get(json_array_get(got, i), key), v))
                    fail_msg("run %lld task %zu: %s differs from task_history", ids[k], i, key);
            }
        json_decref(heads);
        json_decref(tasks);
        json_decref(st);
    }
    sqlite3_close(db);

    /* The exact text of one status. */
    json_t *st = NULL;
    assert_int_equal(df_store_run_status(f->s, a, &st), DF_STORE_OK);
    char *text = json_dumps(st, JSON_COMPACT);
    assert_string_equal(
        text,
        "{\"run_id\":1,\"workflow\":\"wf\",\"state\":\"FAILED\","
        "\"started_at\":\"2026-11-29T08:15:08.999Z\",\"ended_at\":\"2026-11-29T09:15:09.000Z\","
        "\"trigger\":\"manual\",\"logical_time\":\"2026-11-29T08:15:08.999Z\","
        "\"parent_run_id\":null,\"parent_task_id\":null,\"error\":null,"
        "\"duration_ms\":3600001,\"tasks\":[{\"id\":\"t0\",\"state\":\"SUCCESS\",\"attempts\":1,"
        "\"started_at\":\"2026-11-29T08:15:09.000Z\",\"ended_at\":\"2026-11-29T08:15:10.001Z\","
        "\"duration_ms\":1001,\"error\":null,\"result\":null},"
        "{\"id\":\"t1\",\"state\":\"FAILED\",\"attempts\":1,"
        "\"started_at\":\"2026-11-29T08:16:08.000Z\",\"ended_at\":\"2026-11-29T09:15:08.999Z\","
        "\"duration_ms\":3540999,\"error\":\"boom\\nline 2\",\"result\":{\"exit_code\":1}},"
        "{\"id\":\"t2\",\"state\":\"PENDING\",\"attempts\":0,\"started_at\":null,"
        "\"ended_at\":null,\"duration_ms\":null,\"error\":null,\"result\":null}],"
        "\"metrics\":null}");
    free(text);
    json_decref(st);

    /* The summary: counts by state (in the names' byte order), the tasks not SUCCESS. */
    assert_int_equal(df_store_run_summary(f->s, a, 5, &st), DF_STORE_OK);
    text = json_dumps(json_object_get(st, "counts"), JSON_COMPACT);
    assert_string_equal(text, "{\"FAILED\":1,\"PENDING\":1,\"SUCCESS\":1}");
    free(text);
    assert_int_equal(json_array_size(json_object_get(st, "tasks")), 2);
    json_decref(st);
}

static void test_load_run(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    int64_t t0 = 1795940108000;
    test_run *runj = make_run("resumable", 5, 1, t0, t0);
    long long run = 0;
    assert_int_equal(df_store_create_run(f->s, &runj->rec, &run), DF_STORE_OK);

    /* t0: FAILED, LOST, LOST -> streak 2. t1: LOST, LOST, RUNNING -> streak 2, open 3.
     * t2: LOST, SUCCESS -> 0. t3: none. t4: LOST -> 1. */
    attempt(f->s, run, "t0", 1, DF_AO_FAILED);
    attempt(f->s, run, "t0", 2, DF_AO_LOST);
    attempt(f->s, run, "t0", 3, DF_AO_LOST);
    attempt(f->s, run, "t1", 1, DF_AO_LOST);
    attempt(f->s, run, "t1", 2, DF_AO_LOST);
    attempt(f->s, run, "t1", 3, DF_AO_RUNNING);
    attempt(f->s, run, "t2", 1, DF_AO_LOST);
    attempt(f->s, run, "t2", 2, DF_AO_SUCCESS);
    attempt(f->s, run, "t4", 1, DF_AO_LOST);
    tr_ok(f->s, run, "t3", DF_TS_PENDING, 0, DF_TS_QUEUED, 0, t0);
    tr_ok(f->s, run, "t3", DF_TS_QUEUED, 0, DF_TS_RUNNING, 1, t0);
    df_transition t = {.run_id = run,
                       .task_id = "t3",
                       .from = DF_TS_RUNNING,
                       .from_attempt = 1,
                       .to = DF_TS_UP_FOR_RETRY,
                       .to_attempt = 1,
                       .at = t0 + 10,
                       .error = "boom",
                       .result_json = "[1,\"x\"]",
                       .next_retry_at = t0 + 5000};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);

    df_stored_run *l = NULL;
    assert_int_equal(df_store_load_run(f->s, run, &l), DF_STORE_OK);
    assert_int_equal(l->run_id, run);
    assert_string_equal(l->workflow, "resumable");
    assert_int_equal(l->state, DF_RS_RUNNING);
    /* The documents come back byte for byte. */
    assert_string_equal(l->dag_json, runj->dag_json);
    assert_string_equal(l->params_json, "{\"day\":\"2026-11-29\"}");
    assert_string_equal(l->plugins_json, "{\"noop\":\"1.0.0\"}");
    assert_true(l->has_engine);
    assert_int_equal(l->engine.pid, 4242);
    assert_string_equal(l->engine.host, "box");
    assert_int_equal(l->engine.started_at, t0);
    assert_string_equal(l->path, "/tmp/wf.json");
    assert_string_equal(l->dir, "/tmp");
    assert_int_equal(l->started_at, t0);
    assert_int_equal(l->heartbeat_at, t0);
    assert_int_equal(l->ended_at, 0);
    free_run(runj);

    assert_int_equal(l->n_tasks, 5);
    static const unsigned streak[] = {2, 2, 0, 0, 1};
    static const unsigned open[] = {0, 3, 0, 0, 0};
    /* FAILED or TIMED_OUT attempts above retry_base (0): only t0's first. */
    static const unsigned failures[] = {1, 0, 0, 0, 0};
    for (int i = 0; i < 5; i++) {
        const df_stored_task *ti = &l->tasks[i];
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        assert_string_equal(ti->id, id);
        assert_string_equal(ti->plugin, "noop");
        assert_int_equal(ti->failures, failures[i]);
        assert_int_equal(ti->lost_streak, streak[i]);
        assert_int_equal(ti->open_attempt, open[i]);
        assert_int_equal(ti->retry_base, 0);
    }
    const df_stored_task *t3 = &l->tasks[3];
    assert_int_equal(t3->state, DF_TS_UP_FOR_RETRY);
    assert_int_equal(t3->attempts, 1);
    assert_int_equal(t3->next_retry_at, t0 + 5000);
    assert_int_equal(t3->started_at, t0);
    assert_int_equal(t3->ended_at, 0);
    assert_string_equal(t3->error, "boom");
    assert_string_equal(t3->result_json, "[1,\"x\"]");
    assert_int_equal(l->tasks[0].state, DF_TS_PENDING);
    assert_int_equal(l->tasks[0].next_retry_at, 0);
    assert_null(l->tasks[0].result_json);
    assert_null(l->tasks[0].error);
    assert_int_equal(l->tasks[0].started_at, 0);
    df_stored_run_free(l);

    l = NULL;
    assert_int_equal(df_store_load_run(f->s, run + 1, &l), DF_STORE_NOTFOUND);
    assert_null(l);
}

/* The typed record of a run round-trips: a run without an engine, path or params, plugins named
 * twice (the last version wins), tasks in file order with their edges; then a finished task and
 * the run's end. */
static void test_load_run_round_trip(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    const size_t deps_c[] = {0, 1};
    const df_task_record tasks[] = {
        {.id = "extract", .plugin = "shell"},
        {.id = "load", .plugin = "./plugins/load.so", .depends_on = deps_c, .n_depends_on = 1},
        {.id = "report", .plugin = "shell", .depends_on = deps_c, .n_depends_on = 2},
    };
    const df_plugin_version plugins[] = {
        {.name = "shell", .version = "0.9"},
        {.name = "./plugins/load.so", .version = NULL},
        {.name = "shell", .version = "1.0"},
    };
    const char *dag = "{\"name\":\"etl\",\"tasks\":[{\"id\":\"extract\"}]}";
    df_run_record rec = {.workflow = "etl",
                         .dag_json = dag,
                         .plugins = plugins,
                         .n_plugins = 3,
                         .started_at = 1795940108000,
                         .tasks = tasks,
                         .n_tasks = 3};
    long long run = 0;
    assert_int_equal(df_store_create_run(f->s, &rec, &run), DF_STORE_OK);
    sqlite3 *db = df_store_sqlite(f->s);
    /* No edge rows (schema 10): the edges are the stored DAG's (loaded back below). */
    assert_int_equal(q_int(db, "SELECT count(*) FROM run_edges WHERE run_id=%lld", run), 0);

    df_stored_run *l = NULL;
    assert_int_equal(df_store_load_run(f->s, run, &l), DF_STORE_OK);
    assert_string_equal(l->workflow, "etl");
    assert_string_equal(l->dag_json, dag);
    assert_string_equal(l->params_json, "{}");
    assert_string_equal(l->plugins_json, "{\"shell\":\"1.0\",\"./plugins/load.so\":\"\"}");
    assert_null(l->path);
    assert_null(l->dir);
    assert_false(l->has_engine);
    assert_null(l->engine.host);
    assert_int_equal(l->heartbeat_at, 0);
    assert_int_equal(l->n_tasks, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(l->tasks[i].id, tasks[i].id);
        assert_string_equal(l->tasks[i].plugin, tasks[i].plugin);
        assert_int_equal(l->tasks[i].state, DF_TS_PENDING);
        assert_int_equal(l->tasks[i].attempts, 0);
    }
    df_stored_run_free(l);

    /* A run without an owner is claimed with expected NULL; a second claim from "nobody" loses. */
    df_engine_id me = {.pid = 7, .host = "h", .started_at = 5};
    assert_int_equal(df_store_run_claim(f->s, run, NULL, &me, 1795940109000), DF_STORE_OK);
    assert_int_equal(df_store_run_claim(f->s, run, NULL, &me, 1795940109000), DF_STORE_CONFLICT);
    df_engine_id other = {.pid = 8, .host = "h", .started_at = 5};
    assert_int_equal(df_store_run_claim(f->s, run, &other, &me, 1795940109000), DF_STORE_CONFLICT);
    assert_int_equal(df_store_run_claim(f->s, run, &me, &me, 1795940109500), DF_STORE_OK);

    tr_ok(f->s, run, "extract", DF_TS_PENDING, 0, DF_TS_QUEUED, 0, 1795940108100);
    tr_ok(f->s, run, "extract", DF_TS_QUEUED, 0, DF_TS_RUNNING, 1, 1795940108200);
    df_transition t = {.run_id = run,
                       .task_id = "extract",
                       .from = DF_TS_RUNNING,
                       .from_attempt = 1,
                       .to = DF_TS_FAILED,
                       .to_attempt = 1,
                       .at = 1795940108300,
                       .error = "exit code 2",
                       .result_json = "{\"exit_code\":2}"};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    assert_int_equal(df_store_run_set_state(f->s, run, DF_RS_FAILED, 1795940108400), DF_STORE_OK);
    assert_int_equal(df_store_load_run(f->s, run, &l), DF_STORE_OK);
    assert_int_equal(l->state, DF_RS_FAILED);
    assert_int_equal(l->ended_at, 1795940108400);
    assert_true(l->has_engine);
    assert_int_equal(l->engine.pid, 7);
    assert_string_equal(l->engine.host, "h");
    assert_int_equal(l->engine.started_at, 5);
    assert_int_equal(l->heartbeat_at, 1795940109500);
    const df_stored_task *x = &l->tasks[0];
    assert_int_equal(x->state, DF_TS_FAILED);
    assert_int_equal(x->attempts, 1);
    assert_int_equal(x->started_at, 1795940108200);
    assert_int_equal(x->ended_at, 1795940108300);
    assert_string_equal(x->error, "exit code 2");
    assert_string_equal(x->result_json, "{\"exit_code\":2}");
    df_stored_run_free(l);
}

/* A result holding a NUL character (binary output) comes back as the JSON it was, not as text. */
static void test_result_with_nul(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    int64_t t0 = now_ms();
    test_run *runj = make_run("nul", 1, 0, t0, t0);
    long long run = 0;
    assert_int_equal(df_store_create_run(f->s, &runj->rec, &run), DF_STORE_OK);
    free_run(runj);
    tr_ok(f->s, run, "t0", DF_TS_PENDING, 0, DF_TS_QUEUED, 0, t0);
    tr_ok(f->s, run, "t0", DF_TS_QUEUED, 0, DF_TS_RUNNING, 1, t0);
    json_t *res = json_pack("{s:s%}", "stdout", "a\0b", (size_t)3);
    char *text = json_dumps(res, JSON_COMPACT);
    df_transition t = {.run_id = run,
                       .task_id = "t0",
                       .from = DF_TS_RUNNING,
                       .from_attempt = 1,
                       .to = DF_TS_SUCCESS,
                       .to_attempt = 1,
                       .at = t0,
                       .result_json = text};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    free(text);
    df_stored_run *l = NULL;
    assert_int_equal(df_store_load_run(f->s, run, &l), DF_STORE_OK);
    json_t *got = result_of(&l->tasks[0]);
    assert_true(json_is_object(got));
    assert_true(json_equal(got, res));
    json_decref(got);
    df_stored_run_free(l);
    json_t *st = NULL;
    assert_int_equal(df_store_run_status(f->s, run, &st), DF_STORE_OK);
    got = json_object_get(json_array_get(json_object_get(st, "tasks"), 0), "result");
    assert_true(json_equal(got, res));
    json_decref(st);
    json_decref(res);
}

/* A `retry` command starts a fresh retry budget: LOST attempts before it do not count in the
 * streak (or a task failed by three LOST attempts would fail again after one more). */
static void test_lost_streak_after_retry(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    int64_t t0 = now_ms();
    test_run *runj = make_run("retried", 1, 0, t0, t0);
    long long run = 0;
    assert_int_equal(df_store_create_run(f->s, &runj->rec, &run), DF_STORE_OK);
    free_run(runj);
    tr_ok(f->s, run, "t0", DF_TS_PENDING, 0, DF_TS_QUEUED, 0, t0);
    tr_ok(f->s, run, "t0", DF_TS_QUEUED, 0, DF_TS_RUNNING, 3, t0);
    attempt(f->s, run, "t0", 1, DF_AO_LOST);
    attempt(f->s, run, "t0", 2, DF_AO_LOST);
    attempt(f->s, run, "t0", 3, DF_AO_LOST);
    tr_ok(f->s, run, "t0", DF_TS_RUNNING, 3, DF_TS_FAILED, 3, t0);
    df_transition t = {.run_id = run,
                       .task_id = "t0",
                       .from = DF_TS_FAILED,
                       .from_attempt = 3,
                       .to = DF_TS_PENDING,
                       .to_attempt = 3,
                       .at = t0,
                       .reset_retry_budget = 1};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    tr_ok(f->s, run, "t0", DF_TS_PENDING, 3, DF_TS_QUEUED, 3, t0);
    tr_ok(f->s, run, "t0", DF_TS_QUEUED, 3, DF_TS_RUNNING, 4, t0);
    attempt(f->s, run, "t0", 4, DF_AO_RUNNING);

    df_stored_run *l = NULL;
    assert_int_equal(df_store_load_run(f->s, run, &l), DF_STORE_OK);
    assert_int_equal(l->tasks[0].retry_base, 3);
    assert_int_equal(l->tasks[0].open_attempt, 4);
    assert_int_equal(l->tasks[0].lost_streak, 0);
    df_stored_run_free(l);
}

static void test_create_run_invalid_input(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    long long id = 0;
    df_run_record bare = {.workflow = "x"};
    assert_int_equal(df_store_create_run(f->s, &bare, &id), DF_STORE_ERROR);
    assert_non_null(strstr(df_store_error(f->s), "store: create run:"));
    assert_non_null(strstr(df_store_error(f->s), "DAG"));
    assert_int_equal(df_store_create_run(f->s, NULL, &id), DF_STORE_ERROR);

    /* An edge to a task that is not in the run fails before anything is written. */
    test_run *r = make_run("wf", 2, 0, now_ms(), now_ms());
    size_t ghost = 7;
    r->tasks[1].depends_on = &ghost;
    r->tasks[1].n_depends_on = 1;
    assert_int_equal(df_store_create_run(f->s, &r->rec, &id), DF_STORE_ERROR);
    assert_non_null(strstr(df_store_error(f->s), "index 7 is out of range"));
    free_run(r);
    /* A task without a plugin. */
    r = make_run("wf", 2, 0, now_ms(), now_ms());
    r->tasks[1].plugin = NULL;
    assert_int_equal(df_store_create_run(f->s, &r->rec, &id), DF_STORE_ERROR);
    assert_non_null(strstr(df_store_error(f->s), "task 1 needs an id and a plugin"));
    free_run(r);
    /* Params that are not JSON (the file's CHECK refuses them). */
    r = make_run("wf", 2, 0, now_ms(), now_ms());
    r->rec.params_json = "{not json";
    assert_int_equal(df_store_create_run(f->s, &r->rec, &id), DF_STORE_ERROR);
    free_run(r);
    /* Duplicate task ids are refused, and nothing of the run is left behind. */
    r = make_run("wf", 2, 1, now_ms(), now_ms());
    r->tasks[1].id = "t0";
    assert_int_equal(df_store_create_run(f->s, &r->rec, &id), DF_STORE_ERROR);
    free_run(r);
    sqlite3 *db = df_store_sqlite(f->s);
    assert_int_equal(q_int(db, "SELECT count(*) FROM runs"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM task_instances"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM task_event_log"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM task_events"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_postgres_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_run_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_streak_after_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_with_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_run_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_history_match_the_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durations_count_running_periods, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
