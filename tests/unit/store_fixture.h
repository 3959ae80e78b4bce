/* store_fixture: what the store's unit tests share (included by test_store.c,
 * test_store_records.c and test_store_schema.c): a fresh directory per test with the store's
 * file in it, opening the store, run records and transitions made short, and raw SQL on a
 * connection of one's own, like a user's sqlite3 shell. Static, one copy per test program. */
#ifndef DF_TEST_STORE_FIXTURE_H
#define DF_TEST_STORE_FIXTURE_H

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"

/* A test program need not use every helper. */
#define STORE_FIXTURE_FN __attribute__((unused))

/* ---- fixture: a fresh directory per test ---------------------------------------------------- */

typedef struct fx {
    char dir[64];
    char path[128];
    df_store *s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/df_store_test_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/dagflow.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    df_store_close(f->s);
    /* Everything a test left in its folder (databases, -wal, -shm), even after a failure. */
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[400];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static STORE_FIXTURE_FN df_store *open_ok(fx *f)
{
    char err[256] = "";
    df_store *s = NULL;
    int rc = df_store_open(f->path, &s, err, sizeof err);
    if (rc != DF_STORE_OK)
        fail_msg("df_store_open: %d %s", rc, err);
    assert_non_null(s);
    return s;
}

static STORE_FIXTURE_FN int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- runs, transitions, attempts ------------------------------------------------------------ */

/* A run record of n tasks t0..t(n-1) (task i depends on task i-1 when chain is true), with the
 * storage it borrows from. Free with free_run. */
typedef struct test_run {
    df_run_record rec;
    df_task_record *tasks;
    size_t *deps; /* deps[i] = i - 1 */
    char (*ids)[32];
    char *dag_json;
    df_engine_id engine;
    df_plugin_version plugin;
} test_run;

static STORE_FIXTURE_FN test_run *make_run(const char *workflow, int n, int chain, int64_t at,
                                           int64_t heartbeat)
{
    test_run *r = calloc(1, sizeof *r);
    r->tasks = calloc(n ? n : 1, sizeof *r->tasks);
    r->deps = calloc(n ? n : 1, sizeof *r->deps);
    r->ids = calloc(n ? n : 1, sizeof *r->ids);
    json_t *dag_tasks = json_array();
    for (int i = 0; i < n; i++) {
        snprintf(r->ids[i], sizeof r->ids[i], "t%d", i);
        r->deps[i] = (size_t)i - 1;
        r->tasks[i] = (df_task_record){.id = r->ids[i],
                                       .plugin = "noop",
                                       .depends_on = &r->deps[i],
                                       .n_depends_on = chain && i > 0 ? 1 : 0};
        json_t *deps = chain && i > 0 ? json_pack("[s]", r->ids[i - 1]) : json_array();
        json_array_append_new(dag_tasks, json_pack("{s:s, s:s, s:o}", "id", r->ids[i], "plugin",
                                                   "noop", "depends_on", deps));
    }
    json_t *dag = json_pack("{s:s, s:o}", "name", workflow, "tasks", dag_tasks);
    r->dag_json = json_dumps(dag, JSON_COMPACT);
    json_decref(dag);
    r->engine = (df_engine_id){.pid = 4242, .host = "box", .started_at = heartbeat};
    r->plugin = (df_plugin_version){.name = "noop", .version = "1.0.0"};
    r->rec = (df_run_record){.workflow = workflow,
                             .dag_json = r->dag_json,
                             .path = "/tmp/wf.json",
                             .dir = "/tmp",
                             .params_json = "{\"day\":\"2026-11-29\"}",
                             .plugins = &r->plugin,
                             .n_plugins = 1,
                             .started_at = at,
                             .engine = &r->engine,
                             .tasks = r->tasks,
                             .n_tasks = (size_t)n};
    return r;
}

static STORE_FIXTURE_FN void free_run(test_run *r)
{
    free(r->tasks);
    free(r->deps);
    free(r->ids);
    free(r->dag_json);
    free(r);
}

static STORE_FIXTURE_FN long long create(df_store *s, const char *workflow, int n, int chain,
                                         int64_t at)
{
    test_run *run = make_run(workflow, n, chain, at, at);
    long long id = 0;
    int rc = df_store_create_run(s, &run->rec, &id);
    free_run(run);
    if (rc != DF_STORE_OK)
        fail_msg("create_run: %d %s", rc, df_store_error(s));
    assert_true(id > 0);
    return id;
}

/* The stored result of a task as JSON (NULL when none); a new reference. */
static STORE_FIXTURE_FN json_t *result_of(const df_stored_task *t)
{
    return t->result_json ? json_loads(t->result_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                          : NULL;
}

static STORE_FIXTURE_FN int tr(df_store *s, long long run, const char *task, df_task_state from,
                               unsigned fa, df_task_state to, unsigned ta, int64_t at)
{
    df_transition t = {.run_id = run,
                       .task_id = task,
                       .from = from,
                       .from_attempt = fa,
                       .to = to,
                       .to_attempt = ta,
                       .at = at};
    return df_store_transition(s, &t);
}

static STORE_FIXTURE_FN void tr_ok(df_store *s, long long run, const char *task, df_task_state from,
                                   unsigned fa, df_task_state to, unsigned ta, int64_t at)
{
    int rc = tr(s, run, task, from, fa, to, ta, at);
    if (rc != DF_STORE_OK)
        fail_msg("transition %s: %d %s", task, rc, df_store_error(s));
}

static STORE_FIXTURE_FN void attempt(df_store *s, long long run, const char *task, unsigned n,
                                     df_attempt_outcome outcome)
{
    assert_int_equal(df_store_attempt_open(s, run, task, n, 1000 * n), DF_STORE_OK);
    if (outcome != DF_AO_RUNNING)
        assert_int_equal(df_store_attempt_close(s, run, task, n, outcome, 1000 * n + 1, NULL, NULL),
                         DF_STORE_OK);
}

/* ---- helpers: raw SQL on a separate read-only connection, like a user's sqlite3 shell -------- */

static STORE_FIXTURE_FN sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Prepares the SQL made from fmt and its arguments and steps it once; fails the test unless it
 * gives a row. The statement is the caller's to finalize. */
static STORE_FIXTURE_FN sqlite3_stmt *q_row(sqlite3 *db, const char *fmt, va_list ap)
{
    char sql[1024];
    vsnprintf(sql, sizeof sql, fmt, ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        fail_msg("no row for %s: %d %s", sql, rc, sqlite3_errmsg(db));
    return st;
}

/* First column of the first row as an integer. */
static STORE_FIXTURE_FN long long q_int(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = q_row(db, fmt, ap);
    va_end(ap);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* First column of the first row as a new string ("(null)" for NULL). */
static STORE_FIXTURE_FN char *q_text(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = q_row(db, fmt, ap);
    va_end(ap);
    const char *t = (const char *)sqlite3_column_text(st, 0);
    char *v = strdup(t ? t : "(null)");
    sqlite3_finalize(st);
    return v;
}

static STORE_FIXTURE_FN void exec_raw(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("exec %s: %s", sql, msg);
}

#endif
