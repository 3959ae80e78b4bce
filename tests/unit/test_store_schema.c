/* test_store_schema: unit tests of the store's schema versions — a version 1 file (as written by
 * earlier dagflow releases) is migrated to the current version with every row, counter, key and
 * view intact, its constraints still enforced, and the views, indexes and triggers users added
 * kept; the upgrade waits for a safe moment (no live engine, no one holding the write lock) and
 * a read-only version 1 file is read as it is; a new file made from fresh_011.sql has the schema
 * every migration in turn would give it; and no statement the store writes with builds a
 * temporary b-tree each time it runs (the cost schema version 2 removed). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/sqlite/backend.h"
#include "store_fixture.h"

/* Schema version 1 exactly as released (store/sqlite/schema.sql, embedded by the build). */
extern const char df_sql_schema[];

/* The rows of a query joined into one string ("a|b\nc|d\n"), for before/after comparisons. */
static char *q_dump(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *t = (const char *)sqlite3_column_text(st, c);
            len += (size_t)snprintf(out + len, cap - len, "%s%s", c ? "|" : "", t ? t : "NULL");
            assert_true(len < cap);
        }
        len += (size_t)snprintf(out + len, cap - len, "\n");
        assert_true(len < cap);
    }
    sqlite3_finalize(st);
    return out;
}

/* Writes a version 1 file by hand, as a dagflow of schema version 1 left it: a finished run with
 * events, attempts (one LOST, one with a log), an alert and a breaker change, a second run that
 * was deleted afterwards (so the run counter is ahead of the highest run_id), and a third run
 * still RUNNING. */
static void write_v1_file(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_raw(db, "PRAGMA journal_mode=WAL");
    exec_raw(db, "BEGIN");
    exec_raw(db, df_sql_schema);
    exec_raw(db, "PRAGMA user_version = 1");
    exec_raw(
        db,
        "INSERT INTO runs (run_id, workflow, state, started_at, ended_at, dag, params, plugins,"
        " metrics) VALUES (1, 'etl', 'FAILED', 1000, 5000, '{\"name\":\"etl\"}', '{\"d\":1}',"
        " '{\"noop\":\"1.0\"}', '{\"peak_workers\":2}');"
        "INSERT INTO task_instances (run_id, task_id, idx, plugin, state, attempt, started_at,"
        " ended_at, error, result) VALUES"
        " (1, 'a', 0, 'noop', 'SUCCESS', 1, 1100, 1200, NULL, '{\"rows\":3}'),"
        " (1, 'b', 1, 'shell', 'FAILED', 2, 1300, 4000, 'exit 1', NULL),"
        " (1, 'c', 2, 'noop', 'UPSTREAM_FAILED', 0, NULL, 4000, 'an upstream task failed', NULL);"
        "INSERT INTO run_edges VALUES (1, 'a', 'b'), (1, 'b', 'c');"
        "INSERT INTO task_event_log (run_id, task_id, from_state, to_state, at, attempt, detail)"
        " VALUES (1, 'a', NULL, 'PENDING', 1000, 0, NULL), (1, 'a', 'PENDING', 'QUEUED', 1001, 0,"
        " NULL), (1, 'b', 'RUNNING', 'FAILED', 4000, 2, 'retries exhausted');"
        "INSERT INTO attempts VALUES (1, 'a', 1, 'SUCCESS', 1100, 1200, NULL, 'hello'),"
        " (1, 'b', 1, 'LOST', 1300, 2000, 'engine died', NULL),"
        " (1, 'b', 2, 'FAILED', 2100, 4000, 'exit 1', NULL);"
        "INSERT INTO alerts (run_id, task_id, event, sink, sink_index, payload, status, tries,"
        " created_at, delivered_at) VALUES (1, 'b', 'task_failed', 'file:/tmp/x', 0, '{}',"
        " 'delivered', 1, 4000, 4001);"
        "INSERT INTO breaker_log (run_id, task_id, breaker, from_state, to_state, failure_rate,"
        " calls, at) VALUES (1, 'b', 'api', 'CLOSED', 'OPEN', 0.75, 4, 3999);"
        "INSERT INTO runs (run_id, workflow, state, started_at, dag) VALUES"
        " (2, 'gone', 'SUCCESS', 6000, '{}');"
        "INSERT INTO runs (run_id, workflow, state, started_at, dag, heartbeat_at) VALUES"
        " (3, 'etl', 'RUNNING', 7000, '{}', 7000);"
        "INSERT INTO task_instances (run_id, task_id, idx, plugin, state, attempt) VALUES"
        " (3, 'a', 0, 'noop', 'RUNNING', 1);"
        "INSERT INTO attempts (run_id, task_id, attempt, outcome, started_at) VALUES"
        " (3, 'a', 1, 'RUNNING', 7001);"
        "DELETE FROM runs WHERE run_id = 2;");
    exec_raw(db, "COMMIT");
    assert_int_equal(q_int(db, "SELECT seq FROM sqlite_sequence WHERE name = 'runs'"), 3);
    sqlite3_close(db);
}

static const char *const every_table[] = {
    /* the columns of version 1 (later versions add columns, with defaults) */
    "SELECT run_id, workflow, state, started_at, ended_at, path, dir, params, plugins,"
    " engine_pid, engine_host, engine_started_at, heartbeat_at, metrics FROM runs ORDER BY run_id",
    "SELECT run_id, task_id, idx, plugin, state, attempt, retry_base, next_retry_at, started_at,"
    " ended_at, error, result FROM task_instances ORDER BY run_id, idx",
    "SELECT * FROM run_edges ORDER BY run_id, upstream, downstream",
    "SELECT seq, run_id, task_id, from_state, to_state, at, attempt, detail FROM task_event_log"
    " ORDER BY seq",
    /* the columns of version 1 (later versions add some) */
    "SELECT run_id, task_id, attempt, outcome, started_at, ended_at, error, log FROM attempts"
    " ORDER BY run_id, task_id, attempt",
    "SELECT * FROM alerts ORDER BY alert_id",
    "SELECT * FROM breaker_log ORDER BY seq",
    "SELECT run_id, workflow, state, started_at, ended_at, duration_ms, tasks_total,"
    " tasks_succeeded, tasks_failed FROM run_history ORDER BY run_id",
    "SELECT run_id, workflow, task_id, plugin, state, attempts, started_at, ended_at, duration_ms,"
    " error FROM task_history ORDER BY run_id, task_id",
    "SELECT seq, run_id, task_id, from_state, to_state, at, attempt, detail FROM task_events"
    " ORDER BY seq",
    "SELECT run_id, task_id, attempt, outcome, started_at, ended_at, duration_ms, error, log"
    " FROM attempt_history ORDER BY run_id, task_id, attempt",
    "SELECT * FROM alert_history ORDER BY alert_id",
    "SELECT * FROM breaker_history ORDER BY seq",
    /* version 10 adds task_event_log's counter (checked in the test) */
    "SELECT name, seq FROM sqlite_sequence WHERE name <> 'task_event_log' ORDER BY name",
};
#define N_DUMPS (sizeof every_table / sizeof every_table[0])

static void test_migrates_v1_keeping_everything(void **state)
{
    fx *f = *state;
    write_v1_file(f->path);
    char *before[N_DUMPS];
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    for (size_t i = 0; i < N_DUMPS; i++)
        before[i] = q_dump(db, every_table[i]);
    /* the DAG snapshots, in runs.dag before version 10, in run_dags since */
    char *dags = q_dump(db, "SELECT run_id, dag FROM runs ORDER BY run_id");
    sqlite3_close(db);

    f->s = open_ok(f);
    db = df_store_sqlite(f->s);
    assert_int_equal(q_int(db, "PRAGMA user_version"), DF_STORE_SCHEMA_VERSION);
    for (size_t i = 0; i < N_DUMPS; i++) {
        char *after = q_dump(db, every_table[i]);
        if (strcmp(before[i], after) != 0)
            fail_msg("%s changed by the migration:\nbefore:\n%safter:\n%s", every_table[i],
                     before[i], after);
        free(after);
        free(before[i]);
    }
    char *dags_after = q_dump(db, "SELECT run_id, dag FROM run_dags ORDER BY run_id");
    assert_string_equal(dags, dags_after);
    free(dags);
    free(dags_after);
    /* task_event_log counts on from its highest seq (AUTOINCREMENT since version 10). */
    assert_int_equal(q_int(db, "SELECT seq FROM sqlite_sequence WHERE name = 'task_event_log'"),
                     q_int(db, "SELECT max(seq) FROM task_event_log"));
    char *ok = q_dump(db, "PRAGMA integrity_check");
    assert_string_equal(ok, "ok\n");
    free(ok);
    char *fk = q_dump(db, "PRAGMA foreign_key_check");
    assert_string_equal(fk, "");
    free(fk);
    assert_int_equal(q_int(db, "PRAGMA foreign_keys"), 1);
    /* Indexes survive (by name). */
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name"
                               " IN ('runs_by_workflow', 'task_instances_by_idx',"
                               " 'alerts_by_run_status', 'breaker_log_by_run',"
                               " 'run_edges_by_downstream', 'task_event_log_by_task')"),
                     6);
    /* No table of the rebuild is left behind. */
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%%_v2'"), 0);

    /* The run counter stays ahead of the deleted run 2... */
    df_task_record task = {.id = "x", .plugin = "noop"};
    df_run_record run = {.workflow = "etl",
                         .dag_json = "{\"name\":\"etl\",\"tasks\":[]}",
                         .started_at = 8000,
                         .tasks = &task,
                         .n_tasks = 1};
    long long id = 0;
    assert_int_equal(df_store_create_run(f->s, &run, &id), DF_STORE_OK);
    assert_int_equal(id, 4);

    /* ...the constraints still hold... */
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE task_instances SET state = 'DONE' WHERE run_id = 4", 0, 0, 0),
        SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE attempts SET outcome = 'MAYBE' WHERE run_id = 3", 0, 0, 0),
        SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE runs SET state = 'DONE' WHERE run_id = 4", 0, 0, 0), SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE alerts SET status = 'lost' WHERE alert_id = 1", 0, 0, 0),
        SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE breaker_log SET to_state = 'AJAR'", 0, 0, 0),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO attempts VALUES (9, 'nope', 1, 'RUNNING', 1,"
                                      " NULL, NULL, NULL)",
                                      0, 0, 0),
                         SQLITE_OK);

    /* ...and the engine's writes work on the migrated tables: the open attempt of run 3. */
    assert_int_equal(df_store_attempt_close(f->s, 3, "a", 1, DF_AO_LOST, 9000, "engine died", NULL),
                     DF_STORE_OK);
    df_transition t = {.run_id = 3,
                       .task_id = "a",
                       .from = DF_TS_RUNNING,
                       .from_attempt = 1,
                       .to = DF_TS_QUEUED,
                       .to_attempt = 1,
                       .at = 9001};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    df_store_close(f->s);

    /* Opening again changes nothing. */
    f->s = open_ok(f);
    assert_int_equal(q_int(df_store_sqlite(f->s), "SELECT count(*) FROM runs"), 3);
}

static long long file_version(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    long long v = q_int(db, "PRAGMA user_version");
    sqlite3_close(db);
    return v;
}

/* Objects users add with the sqlite3 shell survive the rebuild of the tables they are on: a view
 * (over a table and over a SPEC view), an index and a trigger that keeps working. */
static void test_migration_keeps_user_objects(void **state)
{
    fx *f = *state;
    write_v1_file(f->path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    exec_raw(db, "CREATE VIEW failed_runs AS SELECT run_id FROM runs WHERE state = 'FAILED';"
                 "CREATE VIEW my_tasks AS SELECT run_id, task_id FROM task_history;"
                 "CREATE INDEX my_idx ON task_instances (state);"
                 "CREATE TABLE my_audit (run_id, state);"
                 "CREATE TRIGGER my_trg AFTER UPDATE OF state ON runs BEGIN"
                 " INSERT INTO my_audit VALUES (new.run_id, new.state); END;");
    sqlite3_close(db);

    f->s = open_ok(f);
    db = df_store_sqlite(f->s);
    assert_int_equal(q_int(db, "PRAGMA user_version"), DF_STORE_SCHEMA_VERSION);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('failed_runs',"
                               " 'my_tasks', 'my_idx', 'my_trg', 'my_audit')"),
                     5);
    assert_int_equal(q_int(db, "SELECT count(*) FROM failed_runs"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM my_tasks"), 4);
    assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'my_idx'"
                               " AND tbl_name = 'task_instances'"),
                     1);
    assert_int_equal(df_store_run_set_state(f->s, 3, DF_RS_FAILED, 9000), DF_STORE_OK);
    assert_int_equal(q_int(db, "SELECT count(*) FROM my_audit WHERE run_id = 3 AND state = "
                               "'FAILED'"),
                     1);
    char *ok = q_dump(db, "PRAGMA integrity_check");
    assert_string_equal(ok, "ok\n");
    free(ok);
}

/* An optional upgrade (version 2 only rewrites CHECKs) waits for a safe moment: not while an
 * engine is alive on one of the file's runs or a run ended moments ago (an older dagflow would
 * stop at its next open), nor while someone holds the write lock (possibly another dagflow
 * upgrading it); and one that fails leaves the file as it was. Meanwhile the file is used as it
 * is, reads and writes included. */
static void test_upgrade_waits_for_a_safe_moment(void **state)
{
    fx *f = *state;
    write_v1_file(f->path);
    /* Version 6 (map_index) is not compatible: no version 1 file is used as it is any more, and
     * the waiting below cannot be seen until a later compatible migration follows it. What is
     * left to check: the required upgrade happens even while an engine is alive on the file. */
    if (DF_STORE_SCHEMA_VERSION >= 6) {
        sqlite3 *db0 = NULL;
        assert_int_equal(sqlite3_open(f->path, &db0), SQLITE_OK);
        char sql0[128];
        snprintf(sql0, sizeof sql0, "UPDATE runs SET heartbeat_at = %lld WHERE run_id = 3",
                 (long long)now_ms());
        exec_raw(db0, sql0);
        sqlite3_close(db0);
        f->s = open_ok(f);
        assert_int_equal(file_version(f->path), DF_STORE_SCHEMA_VERSION);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE runs SET heartbeat_at = %lld WHERE run_id = 3",
             (long long)now_ms());
    exec_raw(db, sql);

    /* 1. an engine is alive on run 3 */
    f->s = open_ok(f);
    assert_int_equal(file_version(f->path), 1);
    json_t *st = NULL;
    assert_int_equal(df_store_run_status(f->s, 1, &st), DF_STORE_OK);
    json_decref(st);
    assert_int_equal(df_store_run_heartbeat(f->s, 3, now_ms()), DF_STORE_OK);
    df_store_close(f->s);
    f->s = NULL;

    /* 2. the engine is gone, but another connection holds the write lock: no wait */
    exec_raw(db, "UPDATE runs SET heartbeat_at = 7000 WHERE run_id = 3");
    exec_raw(db, "BEGIN IMMEDIATE");
    int64_t t0 = now_ms();
    f->s = open_ok(f);
    assert_true(now_ms() - t0 < 2000);
    exec_raw(db, "ROLLBACK");
    assert_int_equal(file_version(f->path), 1);
    long long latest = 0;
    assert_int_equal(df_store_latest_run(f->s, &latest), DF_STORE_OK);
    assert_int_equal(latest, 3);
    df_store_close(f->s);
    f->s = NULL;

    /* 3. a run ended a moment ago: its engine (maybe an older dagflow) may still read the file */
    snprintf(sql, sizeof sql, "UPDATE runs SET ended_at = %lld WHERE run_id = 1",
             (long long)now_ms());
    exec_raw(db, sql);
    f->s = open_ok(f);
    assert_int_equal(file_version(f->path), 1);
    df_store_close(f->s);
    f->s = NULL;
    exec_raw(db, "UPDATE runs SET ended_at = 5000 WHERE run_id = 1");

    /* 4. the upgrade fails (here a table of the user's has the name it needs): the file stays
     * as it was and usable */
    exec_raw(db, "CREATE TABLE dagflow_v2_runs (x)");
    f->s = open_ok(f);
    assert_int_equal(file_version(f->path), 1);
    json_t *runs = NULL;
    assert_int_equal(df_store_history(f->s, NULL, 10, &runs), DF_STORE_OK);
    assert_int_equal(json_array_size(runs), 2);
    json_decref(runs);
    df_store_close(f->s);
    f->s = NULL;
    exec_raw(db, "DROP TABLE dagflow_v2_runs");

    /* 5. a safe moment: upgraded */
    f->s = open_ok(f);
    assert_int_equal(file_version(f->path), DF_STORE_SCHEMA_VERSION);
    sqlite3_close(db);
}

/* Version 7 (cancel requests) is compatible, but version 9 (run leases: a column the statements
 * name) is not: a version 6 file is upgraded at once even while an engine is alive on it (that
 * engine's older statements keep working on the wider table), and takes cancel requests then.
 * The version 6 file is made from a new one by taking the columns and tables of versions 7, 8 and
 * 9 away. */
static void test_v6_file_without_cancel_requests(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    df_store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    exec_raw(db, "DROP INDEX runs_cancel_requested;"
                 "ALTER TABLE runs DROP COLUMN cancel_reason;"
                 "ALTER TABLE runs DROP COLUMN cancel_requested_at;"
                 /* and what version 8 (008_harden.sql) added (its views are made again) */
                 "DROP VIEW run_history;"
                 "DROP VIEW task_history;"
                 "DROP TABLE attempt_processes;"
                 "DROP TABLE run_periods;"
                 "ALTER TABLE attempts DROP COLUMN charged;"
                 /* and version 9's (009_run_lease.sql) */
                 "ALTER TABLE runs DROP COLUMN lease_until;"
                 /* and version 10's (010_append_layout.sql: its views are made again) */
                 "DROP VIEW task_events;"
                 "DROP VIEW task_event_rows;"
                 "ALTER TABLE runs DROP COLUMN events_seq0;"
                 "DROP TABLE run_dags;"
                 "ALTER TABLE runs ADD COLUMN dag TEXT NOT NULL DEFAULT '{}';"
                 /* and version 11's (011_attempt_output.sql) */
                 "ALTER TABLE attempts DROP COLUMN output;"
                 "PRAGMA user_version = 6;");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO runs (workflow, state, started_at, dag, heartbeat_at)"
             " VALUES ('w', 'RUNNING', 1000, '{}', %lld)",
             (long long)now_ms());
    exec_raw(db, sql);
    f->s = open_ok(f);
    assert_int_equal(file_version(f->path), DF_STORE_SCHEMA_VERSION);
    assert_int_equal(df_store_cancel_request(f->s, 1, "x", now_ms(), NULL), DF_STORE_OK);
    df_cancel_request *cr = NULL;
    size_t n_cr = 0;
    assert_int_equal(df_store_cancel_requests(f->s, 0, &cr, &n_cr), DF_STORE_OK);
    assert_int_equal(n_cr, 1);
    df_cancel_requests_free(cr, n_cr);
    sqlite3_close(db);
}

/* A version 1 file the user cannot write is read as it is (the views are the same). Run as the
 * unprivileged user "nobody" in a child process: root could write the file anyway. */
static void test_read_only_v1_file_is_read(void **state)
{
    fx *f = *state;
    write_v1_file(f->path);
    struct passwd *pw = getpwnam("nobody");
    if (geteuid() != 0 || !pw) {
        skip();
        return;
    }
    assert_int_equal(chown(f->dir, pw->pw_uid, pw->pw_gid), 0);
    assert_int_equal(chmod(f->dir, 0700), 0);
    assert_int_equal(chown(f->path, pw->pw_uid, pw->pw_gid), 0);
    assert_int_equal(chmod(f->path, 0400), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            _exit(10);
        df_store *s = NULL;
        char err[512] = "";
        if (df_store_open(f->path, &s, err, sizeof err) != DF_STORE_OK) {
            /* version 6 is required: a file that cannot be upgraded is refused, saying why */
            if (DF_STORE_SCHEMA_VERSION >= 6 && strstr(err, "needs write access"))
                _exit(0);
            fprintf(stderr, "open: %s\n", err);
            _exit(11);
        }
        json_t *runs = NULL;
        if (df_store_history(s, NULL, 10, &runs) != DF_STORE_OK || json_array_size(runs) != 2)
            _exit(12);
        json_decref(runs);
        json_t *st = NULL;
        if (df_store_run_status(s, 1, &st) != DF_STORE_OK)
            _exit(13);
        json_decref(st);
        /* a write fails cleanly */
        if (df_store_run_heartbeat(s, 3, 1) == DF_STORE_OK)
            _exit(14);
        df_store_close(s);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(chmod(f->path, 0600), 0);
    assert_int_equal(file_version(f->path), 1);
}

/* Every statement the store has prepared for writing, run through EXPLAIN: none may open an
 * ephemeral (temporary) b-tree, which SQLite builds afresh at every execution. Reads are not
 * checked: a query may sort or de-duplicate that way once per call. */
static void test_writes_build_no_temporary_btree(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    sqlite3 *db = df_store_sqlite(f->s);
    const size_t on_a = 0;
    df_task_record tasks[] = {
        {.id = "a", .plugin = "noop"},
        {.id = "b", .plugin = "noop", .depends_on = &on_a, .n_depends_on = 1}};
    df_run_record run = {.workflow = "wf",
                         .dag_json = "{\"name\":\"wf\",\"tasks\":[]}",
                         .started_at = 1000,
                         .tasks = tasks,
                         .n_tasks = 2};
    long long id = 0;
    assert_int_equal(df_store_create_run(f->s, &run, &id), DF_STORE_OK);
    /* Every kind of write the engine makes. */
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    df_transition t = {
        .run_id = id, .task_id = "a", .from = DF_TS_PENDING, .to = DF_TS_QUEUED, .at = 1001};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    t = (df_transition){.run_id = id,
                        .task_id = "a",
                        .from = DF_TS_QUEUED,
                        .to = DF_TS_RUNNING,
                        .to_attempt = 1,
                        .at = 1002};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(f->s, id, "a", 1, 1002), DF_STORE_OK);
    assert_int_equal(df_store_attempt_close(f->s, id, "a", 1, DF_AO_SUCCESS, 1003, NULL, "log"),
                     DF_STORE_OK);
    t = (df_transition){.run_id = id,
                        .task_id = "a",
                        .from = DF_TS_RUNNING,
                        .from_attempt = 1,
                        .to = DF_TS_SUCCESS,
                        .to_attempt = 1,
                        .result_json = "{\"n\":1}",
                        .at = 1003};
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    long long alert = 0;
    assert_int_equal(
        df_store_alert_add(f->s, id, "a", "task_failed", "file:/x", 0, "{}", 1004, &alert),
        DF_STORE_OK);
    assert_int_equal(df_store_alert_update(f->s, alert, DF_ALERT_DELIVERED, 1, 1005, NULL),
                     DF_STORE_OK);
    assert_int_equal(df_store_breaker_event(f->s, id, "a", "api", DF_BREAKER_CLOSED,
                                            DF_BREAKER_OPEN, 0.5, 4, 1006),
                     DF_STORE_OK);
    assert_int_equal(df_store_run_heartbeat(f->s, id, 1007), DF_STORE_OK);
    assert_int_equal(df_store_run_set_state(f->s, id, DF_RS_SUCCESS, 1008), DF_STORE_OK);
    assert_int_equal(df_store_commit(f->s), DF_STORE_OK);

    int writes = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st)) {
        const char *sql = sqlite3_sql(st);
        bool write = strncmp(sql, "INSERT", 6) == 0 || strncmp(sql, "UPDATE", 6) == 0;
        if (sqlite3_stmt_readonly(st) || !write)
            continue;
        writes++;
        char *plan_sql = sqlite3_mprintf("EXPLAIN %s", sql);
        sqlite3_stmt *plan = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, plan_sql, -1, &plan, NULL), SQLITE_OK);
        while (sqlite3_step(plan) == SQLITE_ROW) {
            const char *op = (const char *)sqlite3_column_text(plan, 1);
            if (op && strcmp(op, "OpenEphemeral") == 0)
                fail_msg("this write builds a temporary b-tree at every execution: %s", sql);
        }
        sqlite3_finalize(plan);
        sqlite3_free(plan_sql);
    }
    /* The statements above: run, task, event, edge inserts; transition; attempt open and close;
     * alert add and update; breaker event; heartbeat; run state. */
    assert_true(writes >= 12);
}

/* The schema, counters and version of the file at path, as one string. */
static char *schema_of(const char *path)
{
    sqlite3 *db = raw_open(path);
    char *objs = q_dump(db, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name");
    char *seqs = q_dump(db, "SELECT name, seq FROM sqlite_sequence ORDER BY name");
    char *ver = q_dump(db, "PRAGMA user_version");
    char *all = NULL;
    assert_true(asprintf(&all, "%s--\n%s--\n%s", objs, seqs, ver) > 0);
    free(objs);
    free(seqs);
    free(ver);
    sqlite3_close(db);
    return all;
}

/* A new file gets store/sqlite/fresh_011.sql (then the later migrations) instead of schema.sql
 * and every migration: both ways must leave the same tables, indexes, views (their SQL text
 * included), counters and schema version. */
static void test_fresh_file_same_as_migrated(void **state)
{
    fx *f = *state;
    char path2[160];
    snprintf(path2, sizeof path2, "%s/migrated.db", f->dir);
    df_sqlite_fresh_schema = false;
    char err[256] = "";
    df_store *s = NULL;
    int rc = df_store_open(path2, &s, err, sizeof err);
    df_sqlite_fresh_schema = true;
    assert_int_equal(rc, DF_STORE_OK);
    df_store_close(s);
    f->s = open_ok(f);
    df_store_close(f->s);
    f->s = NULL;

    char *migrated = schema_of(path2), *fresh = schema_of(f->path);
    assert_non_null(strstr(fresh, "task_event_log|0"));
    assert_string_equal(fresh, migrated);
    free(migrated);
    free(fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrates_v1_keeping_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_build_no_temporary_btree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_keeps_user_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_waits_for_a_safe_moment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v6_file_without_cancel_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_v1_file_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_file_same_as_migrated, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
