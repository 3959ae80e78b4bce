/* store: the SQLite implementation of store/store.h — opening and migrating the file (schema.sql
 * and later migrations, embedded as df_sql_* strings), the cached prepared statements, every
 * write (run creation, compare-and-set transitions, attempts, alerts) and the reads the CLI and
 * the engine need (status, history, load for resume/retry). No other file speaks SQL. */
#include "store.h"
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

/* Generated from the store/ .sql files by store/embed_sql.cmake. */
extern const char df_sql_schema[];
extern const char df_sql_002_check_lists[];

/* The migrations, in order: applying entries 1..N to an empty file yields schema version N.
 * Entry i brings the file from version i-1 to version i. A migration is "compatible" when this
 * store's statements work unchanged on the version before it (version 2 only rewrites CHECK
 * constraints): a file that only needs compatible migrations is upgraded when that can be done
 * at once and safely, and otherwise used as it is (see migrate). */
static const struct {
    int version;
    int compatible;
    const char *sql;
} migrations[] = {
    {1, 0, df_sql_schema},
    {2, 1, df_sql_002_check_lists},
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(sizeof migrations / sizeof migrations[0] == DF_STORE_SCHEMA_VERSION,
               "one migration per schema version");

#define BUSY_TIMEOUT_MS 10000

/* A time in ms as the views show it (ISO-8601 UTC with milliseconds; NULL stays NULL). */
#define ISO(col) "strftime('%Y-%m-%dT%H:%M:%fZ', " col " / 1000.0, 'unixepoch')"

/* The cached statements, prepared on first use and reused (reset) afterwards. */
enum {
    ST_BEGIN,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_RUN_INSERT,
    ST_TASK_INSERT,
    ST_EVENT_INSERT,
    ST_EDGE_INSERT,
    ST_TRANSITION,
    ST_TASK_GET,
    ST_ATTEMPT_OPEN,
    ST_ATTEMPT_CLOSE,
    ST_ATTEMPT_GET,
    ST_RUN_SET_STATE,
    ST_RUN_SET_ENGINE,
    ST_RUN_CLAIM,
    ST_RUN_HEARTBEAT,
    ST_RUN_SET_METRICS,
    ST_RUN_GET_METRICS,
    ST_ALERT_ADD,
    ST_BREAKER_EVENT,
    ST_ALERT_UPDATE,
    ST_ALERTS_PENDING,
    ST_RUN_STATUS,
    ST_RUN_STATUS_TASKS,
    ST_RUN_SUMMARY_TASKS,
    ST_RUN_STATE_COUNTS,
    ST_LATEST,
    ST_HISTORY,
    ST_LOAD_RUN,
    ST_LOAD_TASKS,
    ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT df_op",
    [ST_RELEASE] = "RELEASE df_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO df_op",
    [ST_RUN_INSERT] =
        "INSERT INTO runs (workflow, state, started_at, dag, path, dir, params, plugins,"
        " engine_pid, engine_host, engine_started_at, heartbeat_at)"
        " VALUES (?1, 'RUNNING', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_TASK_INSERT] = "INSERT INTO task_instances (run_id, task_id, idx, plugin, state)"
                       " VALUES (?1, ?2, ?3, ?4, 'PENDING')",
    [ST_EVENT_INSERT] = "INSERT INTO task_event_log"
                        " (run_id, task_id, from_state, to_state, at, attempt, detail)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_EDGE_INSERT] = "INSERT OR IGNORE INTO run_edges (run_id, upstream, downstream)"
                       " VALUES (?1, ?2, ?3)",
    [ST_TRANSITION] =
        "UPDATE task_instances SET state = ?1, attempt = ?2,"
        " started_at = CASE WHEN ?1 = 'RUNNING' AND started_at IS NULL THEN ?3"
        "              ELSE started_at END,"
        " ended_at = CASE WHEN ?4 THEN ?3 WHEN ?1 = 'PENDING' THEN NULL ELSE ended_at END,"
        " error = CASE WHEN ?5 IS NULL THEN error ELSE NULLIF(?5, '') END,"
        " result = COALESCE(?6, result),"
        " next_retry_at = ?7,"
        " retry_base = CASE WHEN ?8 THEN ?2 ELSE retry_base END"
        " WHERE run_id = ?9 AND task_id = ?10 AND state = ?11 AND attempt = ?12",
    [ST_TASK_GET] = "SELECT state, attempt FROM task_instances WHERE run_id = ?1 AND task_id = ?2",
    [ST_ATTEMPT_OPEN] = "INSERT INTO attempts (run_id, task_id, attempt, outcome, started_at)"
                        " VALUES (?1, ?2, ?3, 'RUNNING', ?4)",
    [ST_ATTEMPT_CLOSE] = "UPDATE attempts SET outcome = ?1, ended_at = ?2, error = ?3, log = ?4"
                         " WHERE run_id = ?5 AND task_id = ?6 AND attempt = ?7"
                         " AND outcome = 'RUNNING'",
    [ST_ATTEMPT_GET] = "SELECT outcome FROM attempts"
                       " WHERE run_id = ?1 AND task_id = ?2 AND attempt = ?3",
    [ST_RUN_SET_STATE] = "UPDATE runs SET state = ?1,"
                         " ended_at = CASE WHEN ?1 = 'RUNNING' THEN NULL ELSE ?2 END"
                         " WHERE run_id = ?3",
    [ST_RUN_SET_ENGINE] = "UPDATE runs SET engine_pid = ?1, engine_host = ?2,"
                          " engine_started_at = ?3, heartbeat_at = ?4 WHERE run_id = ?5",
    [ST_RUN_CLAIM] = "UPDATE runs SET engine_pid = ?1, engine_host = ?2, engine_started_at = ?3,"
                     " heartbeat_at = ?4 WHERE run_id = ?5 AND engine_pid IS ?6"
                     " AND engine_host IS ?7 AND engine_started_at IS ?8",
    [ST_RUN_HEARTBEAT] = "UPDATE runs SET heartbeat_at = ?1 WHERE run_id = ?2",
    [ST_RUN_SET_METRICS] = "UPDATE runs SET metrics = ?1 WHERE run_id = ?2",
    [ST_RUN_GET_METRICS] = "SELECT metrics FROM runs WHERE run_id = ?1",
    [ST_BREAKER_EVENT] = "INSERT INTO breaker_log (run_id, task_id, breaker, from_state, to_state,"
                         " failure_rate, calls, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_ALERT_ADD] = "INSERT INTO alerts (run_id, task_id, event, sink, sink_index, payload,"
                     " status, tries, created_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7)",
    [ST_ALERT_UPDATE] = "UPDATE alerts SET status = ?1, tries = ?2, delivered_at = ?3,"
                        " error = ?4 WHERE alert_id = ?5",
    [ST_ALERTS_PENDING] = "SELECT alert_id, sink_index, payload, tries FROM alerts"
                          " WHERE run_id = ?1 AND status = 'pending' ORDER BY alert_id",
    [ST_RUN_STATUS] = "SELECT h.run_id, h.workflow, h.state, h.started_at, h.ended_at, r.metrics"
                      " FROM run_history h JOIN runs r ON r.run_id = h.run_id"
                      " WHERE h.run_id = ?1",
    [ST_RUN_STATUS_TASKS] = "SELECT task_id, state, attempt, " ISO("started_at") ", " ISO(
        "ended_at") ", ended_at - started_at, error, result"
                    " FROM task_instances WHERE run_id = ?1 ORDER BY idx",
    [ST_RUN_SUMMARY_TASKS] = "SELECT task_id, state, attempt, " ISO("started_at") ", " ISO(
        "ended_at") ", ended_at - started_at, error, result"
                    " FROM task_instances WHERE run_id = ?1 AND state <> 'SUCCESS'"
                    " ORDER BY idx LIMIT ?2",
    [ST_RUN_STATE_COUNTS] = "SELECT state, count(*) FROM task_instances WHERE run_id = ?1"
                            " GROUP BY state",
    [ST_LATEST] = "SELECT max(run_id) FROM runs",
    [ST_HISTORY] = "SELECT * FROM run_history WHERE ?1 IS NULL OR workflow = ?1"
                   " ORDER BY run_id DESC LIMIT ?2",
    [ST_LOAD_RUN] = "SELECT run_id, workflow, state, dag, path, dir, params, plugins, started_at,"
                    " ended_at, engine_pid, engine_host, engine_started_at, heartbeat_at"
                    " FROM runs WHERE run_id = ?1",
    /* lost_streak skips an attempt still RUNNING (the one a crash left open): it counts the
     * LOST attempts after the latest attempt that ended otherwise, within the current retry
     * budget (a `retry` command starts a fresh streak). */
    [ST_LOAD_TASKS] =
        "SELECT t.task_id, t.plugin, t.state, t.attempt, t.retry_base, t.next_retry_at,"
        " t.result, t.error, t.started_at, t.ended_at,"
        " COALESCE((SELECT max(a.attempt) FROM attempts a WHERE a.run_id = t.run_id"
        "           AND a.task_id = t.task_id AND a.outcome = 'RUNNING'), 0),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id"
        "   AND a.outcome = 'LOST' AND a.attempt > t.retry_base"
        "   AND a.attempt > COALESCE((SELECT max(b.attempt)"
        "     FROM attempts b WHERE b.run_id = t.run_id AND b.task_id = t.task_id"
        "     AND b.outcome NOT IN ('LOST', 'RUNNING')), 0)),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id"
        "   AND a.outcome IN ('FAILED', 'TIMED_OUT') AND a.attempt > t.retry_base)"
        " FROM task_instances t WHERE t.run_id = ?1 ORDER BY t.idx",
};

struct df_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
    char err[512];
};

/* ---- errors ------------------------------------------------------------------------------ */

static int code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return DF_STORE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DF_STORE_BUSY;
    default:
        return DF_STORE_ERROR;
    }
}

__attribute__((format(printf, 3, 4))) static int failf(df_store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return code;
}

/* Records SQLite's message for rc as "store: WHAT: message" and returns the DF_STORE_* code. */
static int fail(df_store *s, int rc, const char *what)
{
    const char *msg = sqlite3_errmsg(s->db);
    if (!msg || !*msg || sqlite3_errcode(s->db) == SQLITE_OK)
        msg = sqlite3_errstr(rc);
    int code = code_of(rc);
    return failf(s, code == DF_STORE_OK ? DF_STORE_ERROR : code, "store: %s: %s", what, msg);
}

/* ---- statements -------------------------------------------------------------------------- */

/* The cached statement id, prepared on first use; NULL (error recorded) on failure. */
static sqlite3_stmt *stmt(df_store *s, int id, const char *what, int *code)
{
    *code = DF_STORE_OK;
    if (!s->st[id]) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id],
                                    NULL);
        if (rc != SQLITE_OK) {
            *code = fail(s, rc, what);
            s->st[id] = NULL;
            return NULL;
        }
    }
    return s->st[id];
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Binds a time in ms, 0 meaning NULL. */
static void bind_ms(sqlite3_stmt *st, int i, int64_t v)
{
    if (v)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no rows and resets it. */
static int run_write(df_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int code = rc == SQLITE_DONE ? DF_STORE_OK : fail(s, rc, what);
    done(st);
    return code;
}

/* Runs one of the argument-less cached statements (BEGIN, COMMIT, ...). */
static int exec_id(df_store *s, int id, const char *what)
{
    int code;
    sqlite3_stmt *st = stmt(s, id, what, &code);
    return st ? run_write(s, st, what) : code;
}

/* ---- transactions around one operation ---------------------------------------------------- */

/* A write made of several statements is atomic: its own BEGIN IMMEDIATE ... COMMIT when no
 * transaction is open, a savepoint inside the caller's group-commit transaction otherwise. */
enum { OP_NONE, OP_OWN, OP_SAVEPOINT };

static int op_begin(df_store *s, int *mode, const char *what)
{
    if (sqlite3_get_autocommit(s->db)) {
        *mode = OP_OWN;
        return exec_id(s, ST_BEGIN, what);
    }
    *mode = OP_SAVEPOINT;
    return exec_id(s, ST_SAVEPOINT, what);
}

/* A read made of several statements sees one snapshot. */
static int op_begin_read(df_store *s, int *mode, const char *what)
{
    if (sqlite3_get_autocommit(s->db)) {
        *mode = OP_OWN;
        return exec_id(s, ST_BEGIN_READ, what);
    }
    *mode = OP_NONE;
    return DF_STORE_OK;
}

/* Ends the operation: commits/releases when code is DF_STORE_OK, else rolls back what it did
 * (keeping code and its message). Returns the final code. */
static int op_end(df_store *s, int mode, int code, const char *what)
{
    if (mode == OP_NONE)
        return code;
    if (code == DF_STORE_OK) {
        code = exec_id(s, mode == OP_OWN ? ST_COMMIT : ST_RELEASE, what);
        if (code == DF_STORE_OK)
            return code;
    }
    /* SQLite may already have rolled the whole transaction back (I/O error, full disk). */
    if (sqlite3_get_autocommit(s->db))
        return code;
    char saved[sizeof s->err];
    memcpy(saved, s->err, sizeof saved);
    if (mode == OP_OWN) {
        exec_id(s, ST_ROLLBACK, what);
    } else if (exec_id(s, ST_ROLLBACK_TO, what) == DF_STORE_OK) {
        exec_id(s, ST_RELEASE, what);
    }
    memcpy(s->err, saved, sizeof saved);
    return code;
}

/* ---- JSON helpers -------------------------------------------------------------------------- */

/* Column i as JSON: integers, reals, text; NULL as null. */
static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_NULL:
        return json_null();
    default: {
        json_t *v = json_stringn((const char *)sqlite3_column_text(st, i),
                                 (size_t)sqlite3_column_bytes(st, i));
        return v ? v : json_null();
    }
    }
}

/* Column i holding JSON text, parsed (NULL -> null; text that does not parse stays a string). */
static json_t *col_parsed(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    const char *text = (const char *)sqlite3_column_text(st, i);
    /* JSON_ALLOW_NUL: results may hold "\u0000" (binary output), which jansson refuses by
     * default; the value must come back with the type it was stored with. */
    json_t *v = json_loadb(text, (size_t)sqlite3_column_bytes(st, i),
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return v ? v : col_json(st, i);
}

/* Column i as a new C string (NULL for SQL NULL); sets *oom when the copy fails. */
static char *col_strdup(sqlite3_stmt *st, int i, bool *oom)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    const char *t = (const char *)sqlite3_column_text(st, i);
    char *v = t ? strdup(t) : NULL;
    if (!v)
        *oom = true;
    return v;
}

/* Column i holding a ms time, 0 for NULL. */
static int64_t col_ms(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* Doubles the capacity of the array *v of elements of size `size` (16 at first). Returns false,
 * leaving *v as it was, when out of memory. */
static bool grow(void **v, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 16;
    void *g = realloc(*v, n * size);
    if (!g)
        return false;
    *v = g;
    *cap = n;
    return true;
}

/* The current row as an object keyed by column name. */
static json_t *row_object(sqlite3_stmt *st)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++)
        json_object_set_new(o, sqlite3_column_name(st, i), col_json(st, i));
    return o;
}

/* ---- rows ---------------------------------------------------------------------------------- */

/* Builds the JSON of the current row of a statement (a new reference; NULL when out of memory). */
typedef json_t *(*row_fn)(sqlite3_stmt *st);

/* Steps st (prepared and bound) to its end, appending row(st) to arr for each row, then resets
 * it. Returns DF_STORE_OK, or the step's error (recorded). */
static int append_rows(df_store *s, sqlite3_stmt *st, json_t *arr, row_fn row, const char *W)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, row(st));
    int code = rc == SQLITE_DONE ? DF_STORE_OK : fail(s, rc, W);
    done(st);
    return code;
}

/* Hands v (a new reference) to *out when code is DF_STORE_OK, else frees it. Returns code. */
static int hand_over(json_t *v, int code, json_t **out)
{
    if (code == DF_STORE_OK)
        *out = v;
    else
        json_decref(v);
    return code;
}

/* append_rows into a new array: *out receives it (a new reference) on success. */
static int rows_array(df_store *s, sqlite3_stmt *st, row_fn row, json_t **out, const char *W)
{
    json_t *arr = json_array();
    return hand_over(arr, append_rows(s, st, arr, row, W), out);
}

/* The row of one run: the cached statement id bound to run_id and stepped to its row (the caller
 * reads it, then calls done()). NULL with *code set when there is no such run (DF_STORE_NOTFOUND,
 * "store: WHAT: no run N") or on an error (recorded); the statement is reset then. */
static sqlite3_stmt *run_row(df_store *s, int id, long long run_id, const char *W, int *code)
{
    sqlite3_stmt *st = stmt(s, id, W, code);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return st;
    *code = rc == SQLITE_DONE ? failf(s, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id)
                              : fail(s, rc, W);
    done(st);
    return NULL;
}

/* Sets run["tasks"] to an array of one object per task of the run: the rows of the cached
 * statement id bound to run_id, each built by row. */
static int read_tasks(df_store *s, json_t *run, int id, long long run_id, row_fn row, const char *W)
{
    json_t *tasks = json_array();
    json_object_set_new(run, "tasks", tasks);
    int code;
    sqlite3_stmt *st = stmt(s, id, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    return append_rows(s, st, tasks, row, W);
}

/* How one column becomes a value of a row object: its key and conversion (col_json, col_parsed,
 * col_ms). */
typedef struct col_spec {
    const char *key;
    json_t *(*conv)(sqlite3_stmt *st, int i);
} col_spec;

/* The current row as an object: column i becomes cols[i] (n columns). */
static json_t *row_of(sqlite3_stmt *st, const col_spec *cols, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, cols[i].key, cols[i].conv(st, (int)i));
    return o;
}

/* A task of `status` (ST_RUN_STATUS_TASKS): SPEC §6's keys, times as ISO text. */
static json_t *status_task_row(sqlite3_stmt *st)
{
    static const col_spec cols[] = {
        {"id", col_json},         {"state", col_json},    {"attempts", col_json},
        {"started_at", col_json}, {"ended_at", col_json}, {"duration_ms", col_json},
        {"error", col_json},      {"result", col_parsed},
    };
    return row_of(st, cols, sizeof cols / sizeof cols[0]);
}

/* JSON text of v, compact, in its key order (new string, free()); NULL on failure. */
static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- open / close ------------------------------------------------------------------------- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One-row, one-column query (PRAGMA or SELECT) into *text (copied, at most len bytes) or *num. */
static int query1(df_store *s, const char *sql, long long *num, char *text, size_t len,
                  const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, rc, what);
    rc = sqlite3_step(st);
    int code = DF_STORE_OK;
    if (rc == SQLITE_ROW) {
        if (num)
            *num = sqlite3_column_int64(st, 0);
        if (text) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            snprintf(text, len, "%s", t ? t : "");
        }
    } else if (rc == SQLITE_DONE) {
        if (num)
            *num = 0;
        if (text && len)
            text[0] = '\0';
    } else {
        code = fail(s, rc, what);
    }
    sqlite3_finalize(st);
    return code;
}

/* Switches the file to WAL. On a brand-new file several processes may try at once, and the
 * switch can report SQLITE_BUSY without waiting: retry with a short backoff for up to the busy
 * timeout. A read-only file keeps its mode. */
static int set_wal(df_store *s, const char *path)
{
    long long deadline = mono_ms() + BUSY_TIMEOUT_MS;
    long delay = 2;
    char mode[32];
    for (;;) {
        int code = query1(s, "PRAGMA journal_mode=WAL", NULL, mode, sizeof mode, "set WAL mode");
        if (code == DF_STORE_OK)
            break;
        if (code != DF_STORE_BUSY || mono_ms() >= deadline)
            return code;
        sleep_ms(delay + (long)getpid() % (delay + 1));
        if (delay < 50)
            delay *= 2;
    }
    if (strcmp(mode, "wal") != 0 && !sqlite3_db_readonly(s->db, "main"))
        return failf(s, DF_STORE_ERROR, "store: %s: cannot switch to WAL mode (journal mode is %s)",
                     path, mode);
    return DF_STORE_OK;
}

/* Brings the schema to DF_STORE_SCHEMA_VERSION. The version is read again inside BEGIN
 * IMMEDIATE, so of several processes opening a new file at once exactly one creates it. */
/* The indexes and triggers of the file (user-made ones included: a migration that rebuilds a
 * table drops those on it), as "name\0sql" pairs in a new array of *n strings. */
static char **schema_objects(df_store *s, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT name, sql FROM sqlite_schema WHERE type IN ('index', 'trigger')"
                           " AND sql IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    char **v = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *sql = (const char *)sqlite3_column_text(st, 1);
        size_t ln = strlen(name), ls = strlen(sql);
        char *e = malloc(ln + ls + 2);
        char **nv = e ? realloc(v, (*n + 1) * sizeof *v) : NULL;
        if (!nv) {
            free(e);
            break;
        }
        v = nv;
        memcpy(e, name, ln + 1);
        memcpy(e + ln + 1, sql, ls + 1);
        v[(*n)++] = e;
    }
    sqlite3_finalize(st);
    return v;
}

/* Creates again the indexes and triggers of objs that the migration dropped with their tables.
 * Returns DF_STORE_OK or an error naming the object. */
static int restore_objects(df_store *s, char **objs, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = objs[i], *sql = objs[i] + strlen(objs[i]) + 1;
        long long present = 0;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_schema WHERE name = ?1", -1, &st,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                present = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        if (present)
            continue;
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            int code = failf(s, DF_STORE_ERROR,
                             "store: %s: migrating to schema version %d: cannot create \"%s\" "
                             "again on the rebuilt table: %s",
                             path, DF_STORE_SCHEMA_VERSION, name, msg ? msg : "?");
            sqlite3_free(msg);
            return code;
        }
    }
    return DF_STORE_OK;
}

static void free_objects(char **objs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(objs[i]);
    free(objs);
}

/* Whether an engine may be alive on the file: a RUNNING run whose heartbeat is newer than 30 s
 * (the views' INTERRUPTED threshold), or a run that ended less than 30 s ago (its engine may
 * still be about to read the file, e.g. to print the run's summary). An older dagflow among them
 * would stop at its next open if the schema moved past it. */
static bool engine_alive(df_store *s)
{
    sqlite3_stmt *st = NULL;
    bool alive = false;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM runs WHERE (state = 'RUNNING'"
                           " AND heartbeat_at >= ?1 - 30000) OR ended_at >= ?1 - 30000",
                           -1, &st, NULL) != SQLITE_OK)
        return true; /* cannot tell: leave the file alone */
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL) * 1000);
    alive = sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    return alive;
}

/* Brings the file to DF_STORE_SCHEMA_VERSION: a new (empty) file gets every migration; an older
 * file gets the ones it lacks, in one transaction, keeping the indexes and triggers users added
 * (views survive on their own: legacy_alter_table keeps table renames from checking them). When
 * every missing migration is compatible, the upgrade is only attempted when it is safe right now
 * (the file is writable, no engine is alive on it, nobody holds the write lock); otherwise the
 * file is used as it is and upgraded by a later open. A newer file is refused. */
static int migrate(df_store *s, const char *path)
{
    long long version = 0;
    int code = query1(s, "PRAGMA user_version", &version, NULL, 0, "read schema version");
    if (code != DF_STORE_OK)
        return code;
    if (version == DF_STORE_SCHEMA_VERSION)
        return DF_STORE_OK;
    if (version > DF_STORE_SCHEMA_VERSION)
        goto newer;
    bool optional = version > 0;
    for (int i = 0; i < N_MIGRATIONS; i++)
        if (migrations[i].version > version && !migrations[i].compatible)
            optional = false;
    if (optional && (sqlite3_db_readonly(s->db, "main") == 1 || engine_alive(s)))
        return DF_STORE_OK;
    if (version > 0 && sqlite3_db_readonly(s->db, "main") == 1)
        return failf(s, DF_STORE_ERROR,
                     "store: %s has schema version %lld and needs upgrading to version %d, which "
                     "needs write access to the file",
                     path, version, DF_STORE_SCHEMA_VERSION);

    /* An optional upgrade does not wait for the write lock: whoever holds it (possibly another
     * dagflow upgrading the file) is left alone, and this connection works on the file as is. */
    if (optional)
        sqlite3_busy_timeout(s->db, 0);
    code = exec_id(s, ST_BEGIN, "migrate schema");
    if (optional)
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (code == DF_STORE_BUSY && optional)
        return DF_STORE_OK;
    if (code != DF_STORE_OK)
        return code;
    char **objs = NULL;
    size_t n_objs = 0;
    long long unused;
    code = query1(s, "PRAGMA user_version", &version, NULL, 0, "read schema version");
    if (code != DF_STORE_OK)
        goto rollback;
    if (version > DF_STORE_SCHEMA_VERSION) {
        exec_id(s, ST_ROLLBACK, "migrate schema");
        goto newer;
    }
    if (version == DF_STORE_SCHEMA_VERSION) /* another process got there first */
        return exec_id(s, ST_COMMIT, "migrate schema");
    if (version == 0) {
        long long tables = 0;
        code = query1(s, "SELECT count(*) FROM sqlite_schema", &tables, NULL, 0,
                      "read schema version");
        if (code != DF_STORE_OK)
            goto rollback;
        if (tables > 0) {
            code = failf(s, DF_STORE_ERROR,
                         "store: %s is not a dagflow store (it has tables but no schema version)",
                         path);
            goto rollback;
        }
    } else {
        objs = schema_objects(s, &n_objs);
    }
    code = query1(s, "PRAGMA legacy_alter_table=ON", &unused, NULL, 0, "migrate schema");
    if (code != DF_STORE_OK)
        goto rollback;
    for (int i = 0; i < N_MIGRATIONS; i++) {
        if (migrations[i].version <= version)
            continue;
        char *msg = NULL;
        int rc = sqlite3_exec(s->db, migrations[i].sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            code = failf(s, code_of(rc) == DF_STORE_BUSY ? DF_STORE_BUSY : DF_STORE_ERROR,
                         "store: %s: migrating to schema version %d: %s", path,
                         migrations[i].version, msg ? msg : sqlite3_errstr(rc));
            sqlite3_free(msg);
            goto rollback;
        }
    }
    code = restore_objects(s, objs, n_objs, path);
    if (code != DF_STORE_OK)
        goto rollback;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", DF_STORE_SCHEMA_VERSION);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        code = fail(s, sqlite3_errcode(s->db), "set schema version");
        goto rollback;
    }
    code = exec_id(s, ST_COMMIT, "migrate schema");
    if (code != DF_STORE_OK)
        goto rollback;
    query1(s, "PRAGMA legacy_alter_table=OFF", &unused, NULL, 0, "migrate schema");
    free_objects(objs, n_objs);
    return DF_STORE_OK;
rollback:
    if (!sqlite3_get_autocommit(s->db)) {
        char saved[sizeof s->err];
        memcpy(saved, s->err, sizeof saved);
        exec_id(s, ST_ROLLBACK, "migrate schema");
        memcpy(s->err, saved, sizeof saved);
    }
    sqlite3_exec(s->db, "PRAGMA legacy_alter_table=OFF", NULL, NULL, NULL);
    free_objects(objs, n_objs);
    /* An optional upgrade that fails (a full disk, say) leaves the file as it was, usable. */
    if (optional && sqlite3_get_autocommit(s->db)) {
        s->err[0] = '\0';
        return DF_STORE_OK;
    }
    return code;
newer:
    return failf(s, DF_STORE_ERROR,
                 "store: %s has schema version %lld, newer than this dagflow's %d; "
                 "use a newer dagflow to read it",
                 path, version, DF_STORE_SCHEMA_VERSION);
}

/* See store.h. The file is created with open(2) and mode 0600 before SQLite opens it (SQLite
 * then gives its -wal and -shm files the same mode); a file that exists but cannot be written
 * opens read-only, so that reads (status, history) still work and writes fail with a message. */
/* SQLite creates the -wal and -shm files with the database's mode at that moment: opened while
 * the database was read-only (chmod 0400), they stay read-only after the database is writable
 * again, and every later write fails. When the database is writable, give such files of ours its
 * mode back. */
static void repair_wal_modes(const char *path)
{
    struct stat db;
    if (access(path, W_OK) != 0 || stat(path, &db) != 0)
        return;
    static const char *const suffixes[] = {"-wal", "-shm"};
    for (int i = 0; i < 2; i++) {
        char side[PATH_MAX];
        struct stat st;
        if (snprintf(side, sizeof side, "%s%s", path, suffixes[i]) >= (int)sizeof side)
            continue;
        if (stat(side, &st) == 0 && access(side, W_OK) != 0 && st.st_uid == geteuid())
            chmod(side, db.st_mode & 0777);
    }
}

int df_store_open(const char *path, df_store **out, char *err, size_t errlen)
{
    *out = NULL;
    df_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "store: out of memory");
        return DF_STORE_ERROR;
    }
    int code = DF_STORE_OK;
    if (!path || !*path) {
        code = failf(s, DF_STORE_ERROR, "store: no database path given");
        goto out;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int open_errno = errno;
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        code = failf(s, DF_STORE_ERROR, "store: cannot open %s: %s", path, strerror(open_errno));
        goto out;
    }
    close(fd);
    repair_wal_modes(path);

    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (s->db)
            code =
                failf(s, DF_STORE_ERROR, "store: cannot open %s: %s", path, sqlite3_errmsg(s->db));
        else
            code = failf(s, DF_STORE_ERROR, "store: cannot open %s: %s", path, sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* No checkpoint when the engine closes its connection: that checkpoint takes an exclusive
     * lock, and a user's `sqlite3` reading at that moment would get "database is locked". The
     * WAL is checkpointed as it grows instead (SQLite's automatic checkpoint). */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);

    long long unused;
    code = set_wal(s, path);
    if (code == DF_STORE_OK)
        code = query1(s, "PRAGMA synchronous=NORMAL", &unused, NULL, 0, "set synchronous");
    /* Off while migrating: a migration that rebuilds a table drops the old one, and with
     * enforcement on that drop would delete every row referring to it. */
    if (code == DF_STORE_OK)
        code = query1(s, "PRAGMA foreign_keys=OFF", &unused, NULL, 0, "disable foreign keys");
    if (code == DF_STORE_OK)
        code = migrate(s, path);
    if (code == DF_STORE_OK)
        code = query1(s, "PRAGMA foreign_keys=ON", &unused, NULL, 0, "enable foreign keys");

out:
    if (code != DF_STORE_OK) {
        snprintf(err, errlen, "%s", s->err);
        df_store_close(s);
        return code;
    }
    s->err[0] = '\0';
    *out = s;
    return DF_STORE_OK;
}

/* See store.h. Finalizes the cached statements; an open transaction is rolled back. */
void df_store_close(df_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

/* See store.h. */
const char *df_store_error(const df_store *s)
{
    return s ? s->err : "";
}

/* See store.h. For the store's unit tests. */
sqlite3 *df_store_sqlite(df_store *s)
{
    return s->db;
}

/* ---- group commit -------------------------------------------------------------------------- */

/* See store.h: BEGIN IMMEDIATE takes the write lock at once (waiting up to the busy timeout). */
int df_store_begin(df_store *s)
{
    return exec_id(s, ST_BEGIN, "begin transaction");
}

/* See store.h. On failure the transaction may still be open: call df_store_rollback. */
int df_store_commit(df_store *s)
{
    return exec_id(s, ST_COMMIT, "commit");
}

/* See store.h. No open transaction is not an error. */
int df_store_rollback(df_store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return DF_STORE_OK;
    return exec_id(s, ST_ROLLBACK, "rollback");
}

/* ---- runs ---------------------------------------------------------------------------------- */

/* Checks a run record before anything is written: required fields, every task with an id and a
 * plugin, every depends_on index in range. Returns DF_STORE_OK or DF_STORE_ERROR (recorded). */
static int check_run_record(df_store *s, const df_run_record *run, const char *W)
{
    if (!run->workflow)
        return failf(s, DF_STORE_ERROR, "store: %s: the workflow's name is missing", W);
    if (!run->dag_json)
        return failf(s, DF_STORE_ERROR, "store: %s: the DAG document is missing", W);
    if (run->n_tasks && !run->tasks)
        return failf(s, DF_STORE_ERROR, "store: %s: %zu tasks announced, none given", W,
                     run->n_tasks);
    if (run->n_plugins && !run->plugins)
        return failf(s, DF_STORE_ERROR, "store: %s: %zu plugins announced, none given", W,
                     run->n_plugins);
    if (run->engine && !run->engine->host)
        return failf(s, DF_STORE_ERROR, "store: %s: the engine's host is missing", W);
    for (size_t i = 0; i < run->n_tasks; i++) {
        const df_task_record *t = &run->tasks[i];
        if (!t->id || !t->plugin)
            return failf(s, DF_STORE_ERROR, "store: %s: task %zu needs an id and a plugin", W, i);
        if (t->n_depends_on && !t->depends_on)
            return failf(s, DF_STORE_ERROR, "store: %s: task \"%s\": depends_on is missing", W,
                         t->id);
        for (size_t j = 0; j < t->n_depends_on; j++)
            if (t->depends_on[j] >= run->n_tasks)
                return failf(s, DF_STORE_ERROR,
                             "store: %s: task \"%s\": depends_on index %zu is out of range (the "
                             "run has %zu tasks)",
                             W, t->id, t->depends_on[j], run->n_tasks);
    }
    return DF_STORE_OK;
}

/* The plugin versions as the JSON object text stored in runs.plugins ({"name": "version"}, in
 * first-seen order, the last version of a name winning). New string (free()), or NULL. */
static char *plugins_text(const df_run_record *run)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < run->n_plugins; i++) {
        const df_plugin_version *p = &run->plugins[i];
        if (p->name)
            json_object_set_new(o, p->name, json_string(p->version ? p->version : ""));
    }
    char *text = o ? dump(o) : NULL;
    json_decref(o);
    return text;
}

/* Inserts the runs row of a new run; sets *id. */
static int insert_run_row(df_store *s, const df_run_record *run, long long *id, const char *W)
{
    int code;
    sqlite3_stmt *st = stmt(s, ST_RUN_INSERT, W, &code);
    if (!st)
        return code;
    char *plugins = plugins_text(run);
    if (!plugins)
        return failf(s, DF_STORE_ERROR, "store: %s: out of memory", W);
    sqlite3_bind_text(st, 1, run->workflow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, run->started_at);
    sqlite3_bind_text(st, 3, run->dag_json, -1, SQLITE_STATIC);
    bind_text(st, 4, run->path);
    bind_text(st, 5, run->dir);
    sqlite3_bind_text(st, 6, run->params_json ? run->params_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, plugins, -1, SQLITE_STATIC);
    if (run->engine) {
        sqlite3_bind_int64(st, 8, run->engine->pid);
        sqlite3_bind_text(st, 9, run->engine->host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, run->engine->started_at);
        sqlite3_bind_int64(st, 11, run->started_at);
    }
    code = run_write(s, st, W);
    free(plugins);
    if (code == DF_STORE_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    return code;
}

/* Inserts the task instances of run `id` with their creation events, then its edges. */
static int insert_tasks(df_store *s, const df_run_record *run, long long id, const char *W)
{
    int code;
    sqlite3_stmt *ti = stmt(s, ST_TASK_INSERT, W, &code);
    sqlite3_stmt *ev = ti ? stmt(s, ST_EVENT_INSERT, W, &code) : NULL;
    sqlite3_stmt *ed = ev ? stmt(s, ST_EDGE_INSERT, W, &code) : NULL;
    if (!ed)
        return code;
    char what[160];
    for (size_t i = 0; i < run->n_tasks; i++) {
        const df_task_record *t = &run->tasks[i];
        snprintf(what, sizeof what, "%s: task \"%.100s\"", W, t->id);
        sqlite3_bind_int64(ti, 1, id);
        sqlite3_bind_text(ti, 2, t->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ti, 3, (sqlite3_int64)i);
        sqlite3_bind_text(ti, 4, t->plugin, -1, SQLITE_STATIC);
        if ((code = run_write(s, ti, what)) != DF_STORE_OK)
            return code;
        sqlite3_bind_int64(ev, 1, id);
        sqlite3_bind_text(ev, 2, t->id, -1, SQLITE_STATIC);
        sqlite3_bind_null(ev, 3);
        sqlite3_bind_text(ev, 4, "PENDING", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ev, 5, run->started_at);
        sqlite3_bind_int(ev, 6, 0);
        sqlite3_bind_null(ev, 7);
        if ((code = run_write(s, ev, what)) != DF_STORE_OK)
            return code;
    }
    for (size_t i = 0; i < run->n_tasks; i++) {
        const df_task_record *t = &run->tasks[i];
        for (size_t j = 0; j < t->n_depends_on; j++) {
            const char *up = run->tasks[t->depends_on[j]].id;
            snprintf(what, sizeof what, "%s: edge \"%.60s\" -> \"%.60s\"", W, up, t->id);
            sqlite3_bind_int64(ed, 1, id);
            sqlite3_bind_text(ed, 2, up, -1, SQLITE_STATIC);
            sqlite3_bind_text(ed, 3, t->id, -1, SQLITE_STATIC);
            if ((code = run_write(s, ed, what)) != DF_STORE_OK)
                return code;
        }
    }
    return DF_STORE_OK;
}

/* See store.h. One transaction (or savepoint): the run, its task instances with their creation
 * events, and its edges. */
int df_store_create_run(df_store *s, const df_run_record *run, long long *run_id)
{
    const char *W = "create run";
    if (!run)
        return failf(s, DF_STORE_ERROR, "store: %s: no run given", W);
    int code = check_run_record(s, run, W);
    if (code != DF_STORE_OK)
        return code;
    int mode;
    if ((code = op_begin(s, &mode, W)) != DF_STORE_OK)
        return code;
    long long id = 0;
    code = insert_run_row(s, run, &id, W);
    if (code == DF_STORE_OK)
        code = insert_tasks(s, run, id, W);
    code = op_end(s, mode, code, W);
    if (code == DF_STORE_OK)
        *run_id = id;
    return code;
}

/* Sets one run column by a prepared one-row UPDATE; DF_STORE_NOTFOUND when no such run. */
static int run_update(df_store *s, sqlite3_stmt *st, long long run_id, const char *W)
{
    int code = run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = failf(s, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    return code;
}

/* See store.h. ended_at 0 stores NULL; a RUNNING run always has ended_at NULL. */
int df_store_run_set_state(df_store *s, long long run_id, df_run_state state, int64_t ended_at)
{
    const char *W = "set run state";
    if ((unsigned)state >= DF_RS__COUNT)
        return failf(s, DF_STORE_ERROR, "store: %s: invalid run state %d", W, (int)state);
    int code;
    sqlite3_stmt *st = stmt(s, ST_RUN_SET_STATE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, df_run_state_name(state), -1, SQLITE_STATIC);
    bind_ms(st, 2, ended_at);
    sqlite3_bind_int64(st, 3, run_id);
    return run_update(s, st, run_id, W);
}

/* The cached statement id with the engine of a run bound: 1 pid, 2 host, 3 started_at (ms), 4 at
 * (the heartbeat, ms), 5 run_id. NULL with *code set when engine or its host is missing, or on an
 * error (recorded). */
static sqlite3_stmt *engine_stmt(df_store *s, int id, long long run_id, const df_engine_id *engine,
                                 int64_t at, const char *W, int *code)
{
    if (!engine || !engine->host) {
        *code = failf(s, DF_STORE_ERROR, "store: %s: the engine or its host is missing", W);
        return NULL;
    }
    sqlite3_stmt *st = stmt(s, id, W, code);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, engine->pid);
    sqlite3_bind_text(st, 2, engine->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, engine->started_at);
    sqlite3_bind_int64(st, 4, at);
    sqlite3_bind_int64(st, 5, run_id);
    return st;
}

/* See store.h. */
int df_store_run_set_engine(df_store *s, long long run_id, const df_engine_id *engine, int64_t at)
{
    const char *W = "set run engine";
    int code;
    sqlite3_stmt *st = engine_stmt(s, ST_RUN_SET_ENGINE, run_id, engine, at, W, &code);
    if (!st)
        return code;
    return run_update(s, st, run_id, W);
}

/* See store.h. A run without an owner has NULL engine columns: "IS" compares them with the NULLs
 * bound for expected == NULL. */
int df_store_run_claim(df_store *s, long long run_id, const df_engine_id *expected,
                       const df_engine_id *engine, int64_t at)
{
    const char *W = "claim run";
    int code;
    sqlite3_stmt *st = engine_stmt(s, ST_RUN_CLAIM, run_id, engine, at, W, &code);
    if (!st)
        return code;
    if (expected) {
        sqlite3_bind_int64(st, 6, expected->pid);
        bind_text(st, 7, expected->host);
        bind_ms(st, 8, expected->started_at);
    }
    code = run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code =
            failf(s, DF_STORE_CONFLICT,
                  "store: %s: run %lld was claimed by another engine in the meantime", W, run_id);
    return code;
}

/* See store.h. at in ms. */
int df_store_run_heartbeat(df_store *s, long long run_id, int64_t at)
{
    const char *W = "heartbeat";
    int code;
    sqlite3_stmt *st = stmt(s, ST_RUN_HEARTBEAT, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, at);
    sqlite3_bind_int64(st, 2, run_id);
    return run_update(s, st, run_id, W);
}

/* See store.h. metrics (borrowed) is stored as compact JSON text; NULL clears it. */
/* Whether a metric is a high-water mark (kept at its maximum) rather than a count (summed). */
static bool metric_is_peak(const char *key)
{
    size_t n = strlen(key);
    return strcmp(key, "queue_high_water") == 0 || (n > 5 && strcmp(key + n - 5, "_peak") == 0);
}

int df_store_run_set_metrics(df_store *s, long long run_id, const json_t *metrics)
{
    const char *W = "set run metrics";
    int code;
    /* The metrics of earlier engines on this run (before a resume or a retry), to merge with. */
    json_t *merged = json_is_object(metrics) ? json_deep_copy(metrics) : NULL;
    sqlite3_stmt *get = merged ? stmt(s, ST_RUN_GET_METRICS, W, &code) : NULL;
    if (merged && !get) {
        json_decref(merged);
        return code;
    }
    if (get) {
        sqlite3_bind_int64(get, 1, run_id);
        json_t *old = NULL;
        if (sqlite3_step(get) == SQLITE_ROW && sqlite3_column_type(get, 0) == SQLITE_TEXT)
            old = json_loads((const char *)sqlite3_column_text(get, 0), 0, NULL);
        done(get);
        const char *k;
        json_t *v;
        json_object_foreach(old, k, v)
        {
            json_t *now = json_object_get(merged, k);
            if (!now)
                json_object_set(merged, k, v);
            else if (json_is_integer(now) && json_is_integer(v)) {
                json_int_t a = json_integer_value(v), b = json_integer_value(now);
                json_integer_set(now, metric_is_peak(k) ? (a > b ? a : b) : a + b);
            }
        }
        json_decref(old);
        metrics = merged;
    }
    sqlite3_stmt *st = stmt(s, ST_RUN_SET_METRICS, W, &code);
    if (!st) {
        json_decref(merged);
        return code;
    }
    char *text = metrics ? dump(metrics) : NULL;
    json_decref(merged);
    if (metrics && !text)
        return failf(s, DF_STORE_ERROR, "store: %s: cannot encode the metrics", W);
    bind_text(st, 1, text);
    sqlite3_bind_int64(st, 2, run_id);
    code = run_update(s, st, run_id, W);
    free(text);
    return code;
}

/* ---- task instances ------------------------------------------------------------------------ */

static int transition_body(df_store *s, const df_transition *t, const char *W)
{
    int code;
    sqlite3_stmt *up = stmt(s, ST_TRANSITION, W, &code);
    if (!up)
        return code;
    sqlite3_bind_text(up, 1, df_task_state_name(t->to), -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 2, t->to_attempt);
    sqlite3_bind_int64(up, 3, t->at);
    sqlite3_bind_int(up, 4, df_task_state_final(t->to));
    bind_text(up, 5, t->error);
    bind_text(up, 6, t->result_json);
    bind_ms(up, 7, t->next_retry_at);
    sqlite3_bind_int(up, 8, t->reset_retry_budget != 0);
    sqlite3_bind_int64(up, 9, t->run_id);
    sqlite3_bind_text(up, 10, t->task_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 11, df_task_state_name(t->from), -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 12, t->from_attempt);
    if ((code = run_write(s, up, W)) != DF_STORE_OK)
        return code;

    if (sqlite3_changes(s->db) == 0) {
        sqlite3_stmt *get = stmt(s, ST_TASK_GET, W, &code);
        if (!get)
            return code;
        sqlite3_bind_int64(get, 1, t->run_id);
        sqlite3_bind_text(get, 2, t->task_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(get);
        if (rc == SQLITE_ROW)
            code = failf(s, DF_STORE_CONFLICT,
                         "store: %s: task \"%s\" of run %lld is %s (attempt %lld), not %s "
                         "(attempt %u)",
                         W, t->task_id, t->run_id, (const char *)sqlite3_column_text(get, 0),
                         (long long)sqlite3_column_int64(get, 1), df_task_state_name(t->from),
                         t->from_attempt);
        else if (rc == SQLITE_DONE)
            code = failf(s, DF_STORE_NOTFOUND, "store: %s: no task \"%s\" in run %lld", W,
                         t->task_id, t->run_id);
        else
            code = fail(s, rc, W);
        done(get);
        return code;
    }

    sqlite3_stmt *ev = stmt(s, ST_EVENT_INSERT, W, &code);
    if (!ev)
        return code;
    sqlite3_bind_int64(ev, 1, t->run_id);
    sqlite3_bind_text(ev, 2, t->task_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(ev, 3, df_task_state_name(t->from), -1, SQLITE_STATIC);
    sqlite3_bind_text(ev, 4, df_task_state_name(t->to), -1, SQLITE_STATIC);
    sqlite3_bind_int64(ev, 5, t->at);
    sqlite3_bind_int64(ev, 6, t->to_attempt);
    bind_text(ev, 7, t->detail);
    return run_write(s, ev, W);
}

/* See store.h. A compare-and-set UPDATE on (state, attempt) followed by the event INSERT, both in
 * one transaction or savepoint. The transition table itself is the engine's (state.h): the
 * store records whatever the caller decided. */
int df_store_transition(df_store *s, const df_transition *t)
{
    const char *W = "record transition";
    if (!t || !t->task_id || (unsigned)t->from >= DF_TS__COUNT || (unsigned)t->to >= DF_TS__COUNT)
        return failf(s, DF_STORE_ERROR, "store: %s: invalid arguments", W);
    int mode;
    int code = op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = transition_body(s, t, W);
    return op_end(s, mode, code, W);
}

/* ---- attempts ------------------------------------------------------------------------------ */

/* See store.h. DF_STORE_CONFLICT when that attempt already exists, DF_STORE_NOTFOUND when the
 * task instance does not. attempt >= 1; started_at in ms. */
int df_store_attempt_open(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                          int64_t started_at)
{
    const char *W = "open attempt";
    if (!task_id || attempt == 0)
        return failf(s, DF_STORE_ERROR, "store: %s: invalid arguments", W);
    int code;
    sqlite3_stmt *st = stmt(s, ST_ATTEMPT_OPEN, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, attempt);
    sqlite3_bind_int64(st, 4, started_at);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        code = DF_STORE_OK;
    else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = failf(s, DF_STORE_CONFLICT,
                     "store: %s: attempt %u of task \"%s\" in run %lld "
                     "already exists",
                     W, attempt, task_id, run_id);
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        code = failf(s, DF_STORE_NOTFOUND, "store: %s: no task \"%s\" in run %lld", W, task_id,
                     run_id);
    else
        code = fail(s, rc, W);
    done(st);
    return code;
}

/* See store.h. outcome must not be DF_AO_RUNNING; ended_at in ms. */
int df_store_attempt_close(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                           df_attempt_outcome outcome, int64_t ended_at, const char *error,
                           const char *log)
{
    const char *W = "close attempt";
    if (!task_id || outcome == DF_AO_RUNNING || (unsigned)outcome >= DF_AO__COUNT)
        return failf(s, DF_STORE_ERROR, "store: %s: invalid arguments", W);
    int code;
    sqlite3_stmt *st = stmt(s, ST_ATTEMPT_CLOSE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, df_attempt_outcome_name(outcome), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ended_at);
    bind_text(st, 3, error);
    bind_text(st, 4, log);
    sqlite3_bind_int64(st, 5, run_id);
    sqlite3_bind_text(st, 6, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, attempt);
    if ((code = run_write(s, st, W)) != DF_STORE_OK || sqlite3_changes(s->db) > 0)
        return code;
    sqlite3_stmt *get = stmt(s, ST_ATTEMPT_GET, W, &code);
    if (!get)
        return code;
    sqlite3_bind_int64(get, 1, run_id);
    sqlite3_bind_text(get, 2, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(get, 3, attempt);
    int rc = sqlite3_step(get);
    if (rc == SQLITE_ROW)
        code = failf(s, DF_STORE_CONFLICT,
                     "store: %s: attempt %u of task \"%s\" in run %lld is already closed (%s)", W,
                     attempt, task_id, run_id, (const char *)sqlite3_column_text(get, 0));
    else if (rc == SQLITE_DONE)
        code = failf(s, DF_STORE_NOTFOUND, "store: %s: no attempt %u of task \"%s\" in run %lld", W,
                     attempt, task_id, run_id);
    else
        code = fail(s, rc, W);
    done(get);
    return code;
}

/* ---- breakers ------------------------------------------------------------------------------ */

/* See store.h. */
int df_store_breaker_event(df_store *s, long long run_id, const char *task_id, const char *breaker,
                           df_breaker_state from, df_breaker_state to, double failure_rate,
                           int calls, int64_t at)
{
    const char *W = "record breaker change";
    if (!breaker || (unsigned)from >= DF_BREAKER__COUNT || (unsigned)to >= DF_BREAKER__COUNT)
        return failf(s, DF_STORE_ERROR, "store: %s: invalid arguments", W);
    int code;
    sqlite3_stmt *st = stmt(s, ST_BREAKER_EVENT, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, task_id);
    sqlite3_bind_text(st, 3, breaker, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, df_breaker_state_name(from), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, df_breaker_state_name(to), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, failure_rate);
    sqlite3_bind_int(st, 7, calls);
    sqlite3_bind_int64(st, 8, at);
    return run_write(s, st, W);
}

/* ---- alerts -------------------------------------------------------------------------------- */

/* See store.h. DF_STORE_NOTFOUND for an unknown run. created_at in ms. */
int df_store_alert_add(df_store *s, long long run_id, const char *task_id, const char *event,
                       const char *sink, int sink_index, const char *payload, int64_t created_at,
                       long long *alert_id)
{
    const char *W = "add alert";
    if (!event || !sink || !payload)
        return failf(s, DF_STORE_ERROR, "store: %s: invalid arguments", W);
    int code;
    sqlite3_stmt *st = stmt(s, ST_ALERT_ADD, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, task_id);
    sqlite3_bind_text(st, 3, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sink, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, sink_index);
    sqlite3_bind_text(st, 6, payload, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, created_at);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        code = DF_STORE_OK;
        *alert_id = sqlite3_last_insert_rowid(s->db);
    } else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        code = failf(s, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    } else {
        code = fail(s, rc, W);
    }
    done(st);
    return code;
}

/* See store.h. delivered_at in ms (0 = NULL). */
int df_store_alert_update(df_store *s, long long alert_id, df_alert_status status, int tries,
                          int64_t delivered_at, const char *error)
{
    const char *W = "update alert";
    if ((unsigned)status >= DF_ALERT__COUNT)
        return failf(s, DF_STORE_ERROR, "store: %s: invalid status %d", W, (int)status);
    int code;
    sqlite3_stmt *st = stmt(s, ST_ALERT_UPDATE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, df_alert_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, tries);
    bind_ms(st, 3, delivered_at);
    bind_text(st, 4, error);
    sqlite3_bind_int64(st, 5, alert_id);
    code = run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = failf(s, DF_STORE_NOTFOUND, "store: %s: no alert %lld", W, alert_id);
    return code;
}

/* See store.h. */
void df_pending_alerts_free(df_pending_alert *alerts, size_t n)
{
    for (size_t i = 0; alerts && i < n; i++)
        free(alerts[i].payload);
    free(alerts);
}

/* See store.h. Oldest first. */
int df_store_alerts_pending(df_store *s, long long run_id, df_pending_alert **out, size_t *n)
{
    const char *W = "read pending alerts";
    *out = NULL;
    *n = 0;
    int code;
    sqlite3_stmt *st = stmt(s, ST_ALERTS_PENDING, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_pending_alert *v = NULL;
    size_t len = 0, cap = 0;
    bool oom = false;
    int rc;
    while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap && !grow((void **)&v, &cap, sizeof *v)) {
            oom = true;
            break;
        }
        df_pending_alert *a = &v[len++];
        a->alert_id = sqlite3_column_int64(st, 0);
        a->sink_index = sqlite3_column_int(st, 1);
        a->payload = col_strdup(st, 2, &oom);
        a->tries = sqlite3_column_int(st, 3);
    }
    code = oom                 ? failf(s, DF_STORE_ERROR, "store: %s: out of memory", W)
           : rc == SQLITE_DONE ? DF_STORE_OK
                               : fail(s, rc, W);
    done(st);
    if (code != DF_STORE_OK) {
        df_pending_alerts_free(v, len);
        return code;
    }
    *out = v;
    *n = len;
    return DF_STORE_OK;
}

/* ---- reads --------------------------------------------------------------------------------- */

/* The run part of a status object from a ST_RUN_STATUS row: run_id, workflow, state (as the
 * run_history view shows it), started_at, ended_at. New object. */
static json_t *status_header(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "run_id", col_json(st, 0));
    json_object_set_new(o, "workflow", col_json(st, 1));
    json_object_set_new(o, "state", col_json(st, 2));
    json_object_set_new(o, "started_at", col_json(st, 3));
    json_object_set_new(o, "ended_at", col_json(st, 4));
    return o;
}

static int run_status_body(df_store *s, long long run_id, json_t **out, const char *W)
{
    int code;
    sqlite3_stmt *st = run_row(s, ST_RUN_STATUS, run_id, W, &code);
    if (!st)
        return code;
    json_t *o = status_header(st);
    json_t *metrics = col_parsed(st, 5);
    done(st);

    code = read_tasks(s, o, ST_RUN_STATUS_TASKS, run_id, status_task_row, W);
    json_object_set_new(o, "metrics", metrics); /* after "tasks" */
    return hand_over(o, code, out);
}

/* See store.h: SPEC §6's `status --json` object plus "metrics". Read in one snapshot. *out is a
 * new reference. */
int df_store_run_status(df_store *s, long long run_id, json_t **out)
{
    const char *W = "read run status";
    int mode;
    int code = op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = run_status_body(s, run_id, out, W);
    /* A failed read has nothing to undo; only commit (end the snapshot) after success. */
    return op_end(s, mode, code, W);
}

static int run_summary_body(df_store *s, long long run_id, int max_tasks, json_t **out,
                            const char *W)
{
    int code;
    sqlite3_stmt *st = run_row(s, ST_RUN_STATUS, run_id, W, &code);
    if (!st)
        return code;
    json_t *o = status_header(st);
    done(st);

    json_t *counts = json_object();
    json_object_set_new(o, "counts", counts);
    if (!(st = stmt(s, ST_RUN_STATE_COUNTS, W, &code)))
        return hand_over(o, code, out);
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(counts, (const char *)sqlite3_column_text(st, 0),
                            json_integer(sqlite3_column_int64(st, 1)));
    code = rc == SQLITE_DONE ? DF_STORE_OK : fail(s, rc, W);
    done(st);
    if (code != DF_STORE_OK)
        return hand_over(o, code, out);

    json_t *tasks = json_array();
    json_object_set_new(o, "tasks", tasks);
    if (!(st = stmt(s, ST_RUN_SUMMARY_TASKS, W, &code)))
        return hand_over(o, code, out);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, max_tasks);
    return hand_over(o, append_rows(s, st, tasks, status_task_row, W), out);
}

/* See store.h. Read in one snapshot. *out is a new reference. */
int df_store_run_summary(df_store *s, long long run_id, int max_tasks, json_t **out)
{
    const char *W = "read run summary";
    int mode;
    int code = op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = run_summary_body(s, run_id, max_tasks, out, W);
    return op_end(s, mode, code, W);
}

/* See store.h. */
int df_store_latest_run(df_store *s, long long *run_id)
{
    const char *W = "read latest run";
    int code;
    sqlite3_stmt *st = stmt(s, ST_LATEST, W, &code);
    if (!st)
        return code;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *run_id = sqlite3_column_int64(st, 0);
        code = DF_STORE_OK;
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        code = failf(s, DF_STORE_NOTFOUND, "store: no runs yet");
    } else {
        code = fail(s, rc, W);
    }
    done(st);
    return code;
}

/* See store.h. Rows of the run_history view (its column names as keys, times as ISO text),
 * newest first. *out is a new reference. */
int df_store_history(df_store *s, const char *workflow, int limit, json_t **out)
{
    const char *W = "read history";
    int code;
    sqlite3_stmt *st = stmt(s, ST_HISTORY, W, &code);
    if (!st)
        return code;
    bind_text(st, 1, workflow);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : 20);
    return rows_array(s, st, row_object, out, W);
}

/* See store.h. */
void df_stored_run_free(df_stored_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->n_tasks; i++) {
        df_stored_task *t = &run->tasks[i];
        free(t->id);
        free(t->plugin);
        free(t->result_json);
        free(t->error);
    }
    free(run->tasks);
    free(run->workflow);
    free(run->dag_json);
    free(run->path);
    free(run->dir);
    free(run->params_json);
    free(run->plugins_json);
    free((char *)run->engine.host);
    free(run);
}

/* Fills run from the ST_LOAD_RUN row of st. DF_STORE_ERROR for an unknown stored state. */
static int load_run_row(df_store *s, sqlite3_stmt *st, df_stored_run *run, bool *oom, const char *W)
{
    run->run_id = sqlite3_column_int64(st, 0);
    run->workflow = col_strdup(st, 1, oom);
    const char *state = (const char *)sqlite3_column_text(st, 2);
    if (df_run_state_parse(state, &run->state) != 0)
        return failf(s, DF_STORE_ERROR, "store: %s: run %lld has an unknown state \"%s\"", W,
                     run->run_id, state ? state : "(null)");
    run->dag_json = col_strdup(st, 3, oom);
    run->path = col_strdup(st, 4, oom);
    run->dir = col_strdup(st, 5, oom);
    run->params_json = col_strdup(st, 6, oom);
    run->plugins_json = col_strdup(st, 7, oom);
    run->started_at = col_ms(st, 8);
    run->ended_at = col_ms(st, 9);
    if (sqlite3_column_type(st, 10) != SQLITE_NULL) {
        run->has_engine = true;
        run->engine.pid = sqlite3_column_int64(st, 10);
        run->engine.host = col_strdup(st, 11, oom);
        run->engine.started_at = col_ms(st, 12);
        if (!run->engine.host && !*oom)
            run->engine.host = strdup("");
    }
    run->heartbeat_at = col_ms(st, 13);
    return DF_STORE_OK;
}

/* Fills t from a ST_LOAD_TASKS row. DF_STORE_ERROR for an unknown stored state. */
static int load_task_row(df_store *s, sqlite3_stmt *st, long long run_id, df_stored_task *t,
                         bool *oom, const char *W)
{
    t->id = col_strdup(st, 0, oom);
    t->plugin = col_strdup(st, 1, oom);
    const char *state = (const char *)sqlite3_column_text(st, 2);
    if (df_task_state_parse(state, &t->state) != 0)
        return failf(s, DF_STORE_ERROR,
                     "store: %s: task \"%s\" of run %lld has an unknown state \"%s\"", W,
                     t->id ? t->id : "?", run_id, state ? state : "(null)");
    t->attempts = (unsigned)sqlite3_column_int64(st, 3);
    t->retry_base = (unsigned)sqlite3_column_int64(st, 4);
    t->next_retry_at = col_ms(st, 5);
    t->result_json = col_strdup(st, 6, oom);
    t->error = col_strdup(st, 7, oom);
    t->started_at = col_ms(st, 8);
    t->ended_at = col_ms(st, 9);
    t->open_attempt = (unsigned)sqlite3_column_int64(st, 10);
    t->lost_streak = (unsigned)sqlite3_column_int64(st, 11);
    t->failures = (unsigned)sqlite3_column_int64(st, 12);
    return DF_STORE_OK;
}

/* Reads the run's tasks (ST_LOAD_TASKS, file order) into run->tasks. */
static int load_tasks(df_store *s, df_stored_run *run, bool *oom, const char *W)
{
    int code;
    sqlite3_stmt *st = stmt(s, ST_LOAD_TASKS, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run->run_id);
    size_t cap = 0;
    int rc;
    code = DF_STORE_OK;
    while (code == DF_STORE_OK && !*oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (run->n_tasks == cap && !grow((void **)&run->tasks, &cap, sizeof *run->tasks)) {
            *oom = true;
            break;
        }
        df_stored_task *t = &run->tasks[run->n_tasks++];
        memset(t, 0, sizeof *t);
        code = load_task_row(s, st, run->run_id, t, oom, W);
    }
    if (code == DF_STORE_OK && !*oom && rc != SQLITE_DONE)
        code = fail(s, rc, W);
    done(st);
    return code;
}

static int load_run_body(df_store *s, long long run_id, df_stored_run **out, const char *W)
{
    int code;
    sqlite3_stmt *st = run_row(s, ST_LOAD_RUN, run_id, W, &code);
    if (!st)
        return code;
    df_stored_run *run = calloc(1, sizeof *run);
    bool oom = !run;
    code = run ? load_run_row(s, st, run, &oom, W) : DF_STORE_OK;
    done(st);
    if (code == DF_STORE_OK && !oom)
        code = load_tasks(s, run, &oom, W);
    if (code == DF_STORE_OK && oom)
        code = failf(s, DF_STORE_ERROR, "store: %s: out of memory", W);
    if (code != DF_STORE_OK) {
        df_stored_run_free(run);
        return code;
    }
    *out = run;
    return DF_STORE_OK;
}

/* See store.h. Read in one snapshot. */
int df_store_load_run(df_store *s, long long run_id, df_stored_run **out)
{
    const char *W = "load run";
    *out = NULL;
    int mode;
    int code = op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = load_run_body(s, run_id, out, W);
    return op_end(s, mode, code, W);
}
