/* sqlite/runs: the writes of a run's life in SQLite — creating a run with its task instances
 * (and the seq block of their creation events, which the views synthesise); the run's state, owner
 * (claimed as a compare-and-set), heartbeat and pool metrics; compare-and-set transitions of task
 * instances with their events; attempts. */
#include "internal.h"

#include <stdio.h>

/* JSON text of v, compact, in its key order (new string, free()); NULL on failure. */
static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- runs ---- */

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

/* DAGs of this many bytes or more are stored without SQLite checking them (insert_run_row). */
#define DF_SQLITE_UNCHECKED_DAG (1 << 20)

/* Inserts the runs row of a new run, whose tasks' creation events have the seq values from seq0
 * (runs.events_seq0), and its DAG snapshot (run_dags); sets *id. */
static int insert_run_row(df_sqlite_store *s, const df_run_record *run, long long seq0,
                          long long *id, const char *W)
{
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_INSERT, W, &code);
    if (!st)
        return code;
    char *plugins = plugins_text(run);
    if (!plugins)
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    sqlite3_bind_text(st, 1, run->workflow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, run->started_at);
    df_sqlite_bind_text(st, 4, run->path);
    df_sqlite_bind_text(st, 5, run->dir);
    sqlite3_bind_text(st, 6, run->params_json ? run->params_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, plugins, -1, SQLITE_STATIC);
    if (run->engine) {
        sqlite3_bind_int64(st, 8, run->engine->pid);
        sqlite3_bind_text(st, 9, run->engine->host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, run->engine->started_at);
        sqlite3_bind_int64(st, 11, run->started_at);
        df_sqlite_bind_text(st, 16, run->engine->kind);
        sqlite3_bind_int64(st, 17, df_store_lease_ms(&s->base));
    }
    sqlite3_bind_text(st, 12, df_run_trigger_name(run->trigger), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, run->logical_time ? run->logical_time : run->started_at);
    if (run->parent_run_id > 0)
        sqlite3_bind_int64(st, 14, run->parent_run_id);
    df_sqlite_bind_text(st, 15, run->parent_task_id);
    sqlite3_bind_int64(st, 18, seq0);
    code = df_sqlite_run_write(s, st, W);
    free(plugins);
    if (code != DF_STORE_OK)
        return code;
    *id = sqlite3_last_insert_rowid(s->db);
    if (!run->dag_json)
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: the run has no DAG", W);
    sqlite3_stmt *dag = df_sqlite_stmt(s, ST_RUN_DAG_INSERT, W, &code);
    if (!dag)
        return code;
    sqlite3_bind_int64(dag, 1, *id);
    sqlite3_bind_text(dag, 2, run->dag_json, -1, SQLITE_STATIC);
    /* A big DAG goes in without the CHECK constraint for this one row: json_valid(dag) would
     * parse the whole document again (the engine's loader parsed it), and SQLite's parse of a
     * million-task DAG takes ~0.4 GB and a second. The pragma is the connection's, read when a
     * statement is compiled (changing it re-prepares the cached ones: not worth it for a small
     * DAG), and is set back at once. */
    bool unchecked =
        strlen(run->dag_json) >= DF_SQLITE_UNCHECKED_DAG &&
        sqlite3_exec(s->db, "PRAGMA ignore_check_constraints=ON", NULL, NULL, NULL) == SQLITE_OK;
    code = df_sqlite_run_write(s, dag, W);
    if (unchecked)
        sqlite3_exec(s->db, "PRAGMA ignore_check_constraints=OFF", NULL, NULL, NULL);
    return code;
}

/* ---- the rows of a new run, many per statement ---- */

/* A new run's task instances go in by INSERTs of DF_SQLITE_ROWS rows each (one statement per 64
 * rows instead of one per row: the per-statement work was a third of creating a run); the rest,
 * and a chunk that failed (to name the row in the message), one row at a time. Nothing else is
 * written per task (schema version 10, issue 14): the edges are the stored DAG's, and the tasks'
 * creation events are synthesised by the view task_event_rows from the block of seq values the
 * run reserved (reserve_events). */
#define DF_SQLITE_ROWS 64

static const char row_head[] =
    "INSERT INTO task_instances (run_id, task_id, idx, plugin, state) VALUES ";
static const char row_one[] = "(?,?,?,?,'PENDING')";
#define ROW_COLS 4

/* The cached INSERT of one row (many false) or DF_SQLITE_ROWS rows; NULL with *code. */
static sqlite3_stmt *rows_stmt(df_sqlite_store *s, bool many, const char *W, int *code)
{
    return df_sqlite_multirow_stmt(s, &s->rows_st[many], row_head, row_one,
                                   many ? DF_SQLITE_ROWS : 1, W, code);
}

/* Binds the task row of task i at parameters base+1... */
static void bind_row(sqlite3_stmt *st, int base, const df_run_record *run, long long id, size_t i)
{
    const df_task_record *t = &run->tasks[i];
    sqlite3_bind_int64(st, base + 1, id);
    sqlite3_bind_text(st, base + 2, t->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, base + 3, (sqlite3_int64)i);
    sqlite3_bind_text(st, base + 4, t->plugin, -1, SQLITE_STATIC);
}

/* Writes the task rows from .. from + n - 1 (n <= DF_SQLITE_ROWS): all at once when n is a full
 * chunk, else (or when that failed, SQLite having undone the statement) one by one, naming the
 * task that fails. */
static int write_rows(df_sqlite_store *s, const df_run_record *run, long long id, size_t from,
                      size_t n, const char *W)
{
    int code;
    if (n == DF_SQLITE_ROWS) {
        sqlite3_stmt *st = rows_stmt(s, true, W, &code);
        if (!st)
            return code;
        for (size_t k = 0; k < n; k++)
            bind_row(st, (int)k * ROW_COLS, run, id, from + k);
        int rc = sqlite3_step(st);
        df_sqlite_done(st);
        if (rc == SQLITE_DONE)
            return DF_STORE_OK;
    }
    sqlite3_stmt *one = rows_stmt(s, false, W, &code);
    if (!one)
        return code;
    char what[160];
    for (size_t k = 0; k < n; k++) {
        snprintf(what, sizeof what, "%s: task \"%.100s\"", W, run->tasks[from + k].id);
        bind_row(one, 0, run, id, from + k);
        if ((code = df_sqlite_run_write(s, one, what)) != DF_STORE_OK)
            return code;
    }
    return DF_STORE_OK;
}

/* Inserts the task instances of run `id`. */
static int insert_tasks(df_sqlite_store *s, const df_run_record *run, long long id, const char *W)
{
    int code = DF_STORE_OK;
    for (size_t i = 0; i < run->n_tasks && code == DF_STORE_OK; i += DF_SQLITE_ROWS) {
        size_t n = run->n_tasks - i < DF_SQLITE_ROWS ? run->n_tasks - i : DF_SQLITE_ROWS;
        code = write_rows(s, run, id, i, n, W);
    }
    return code;
}

/* Reserves n seq values of task_event_log (the counter of its AUTOINCREMENT moves past them, so
 * every event stored later has a higher seq) and sets *seq0 to the first. */
static int reserve_events(df_sqlite_store *s, size_t n, long long *seq0, const char *W)
{
    int code;
    for (int tries = 0; tries < 2; tries++) {
        sqlite3_stmt *up = df_sqlite_stmt(s, ST_EVENTS_RESERVE, W, &code);
        if (!up)
            return code;
        sqlite3_bind_int64(up, 1, (sqlite3_int64)n);
        if ((code = df_sqlite_run_write(s, up, W)) != DF_STORE_OK)
            return code;
        if (sqlite3_changes(s->db) == 1) {
            sqlite3_stmt *get = df_sqlite_stmt(s, ST_EVENTS_SEQ_GET, W, &code);
            if (!get)
                return code;
            int rc = sqlite3_step(get);
            if (rc == SQLITE_ROW)
                *seq0 = sqlite3_column_int64(get, 0) - (long long)n + 1;
            df_sqlite_done(get);
            return rc == SQLITE_ROW ? DF_STORE_OK : df_sqlite_fail(s, rc, W);
        }
        /* No counter row (none is made before the first event of a file): make it from the
         * highest stored seq, then reserve. */
        if ((code = df_sqlite_exec(s, ST_EVENTS_SEQ_INIT, W)) != DF_STORE_OK)
            return code;
    }
    return df_store_failf(&s->base, DF_STORE_ERROR,
                          "store: %s: cannot reserve the seq values of the run's events", W);
}

/* See store.h. One transaction (or savepoint): the seq block of the tasks' creation events, the
 * run, its task instances. */
int df_sqlite_create_run(df_store *store, const df_run_record *run, long long *run_id)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "create run";
    int mode;
    int code;
    if ((code = df_sqlite_op_begin(s, &mode, W)) != DF_STORE_OK)
        return code;
    long long id = 0, seq0 = 0;
    code = reserve_events(s, run->n_tasks, &seq0, W);
    if (code == DF_STORE_OK)
        code = insert_run_row(s, run, seq0, &id, W);
    if (code == DF_STORE_OK)
        code = insert_tasks(s, run, id, W);
    code = df_sqlite_op_end(s, mode, code, W);
    if (code == DF_STORE_OK)
        *run_id = id;
    return code;
}

/* Sets one run column by a prepared one-row UPDATE; DF_STORE_NOTFOUND when no such run. */
static int run_update(df_sqlite_store *s, sqlite3_stmt *st, long long run_id, const char *W)
{
    int code = df_sqlite_run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    return code;
}

/* See store.h. ended_at 0 stores NULL; a RUNNING run always has ended_at NULL. */
int df_sqlite_run_set_state(df_store *store, long long run_id, df_run_state state, int64_t ended_at)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "set run state";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_SET_STATE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, df_run_state_name(state), -1, SQLITE_STATIC);
    df_sqlite_bind_ms(st, 2, ended_at);
    sqlite3_bind_int64(st, 3, run_id);
    return run_update(s, st, run_id, W);
}

/* See store.h. */
int df_sqlite_run_set_error(df_store *store, long long run_id, const char *error)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "set run error";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_SET_ERROR, W, &code);
    if (!st)
        return code;
    df_sqlite_bind_text(st, 1, error);
    sqlite3_bind_int64(st, 2, run_id);
    return run_update(s, st, run_id, W);
}

/* The cached statement id with the engine of a run bound: 1 pid, 2 host, 3 started_at (ms), 4 at
 * (the heartbeat, ms), 5 run_id. NULL with *code set on an error (recorded). */
sqlite3_stmt *df_sqlite_engine_stmt(df_sqlite_store *s, enum df_sqlite_stmt_id id, long long run_id,
                                    const df_engine_id *engine, int64_t at, const char *W,
                                    int *code)
{
    sqlite3_stmt *st = df_sqlite_stmt(s, id, W, code);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, engine->pid);
    sqlite3_bind_text(st, 2, engine->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, engine->started_at);
    sqlite3_bind_int64(st, 4, at);
    sqlite3_bind_int64(st, 5, run_id);
    df_sqlite_bind_text(st, 9, engine->kind);
    sqlite3_bind_int64(st, 10, df_store_lease_ms(&s->base));
    return st;
}

/* See store.h. */
int df_sqlite_run_set_engine(df_store *store, long long run_id, const df_engine_id *engine,
                             int64_t at)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "set run engine";
    int code;
    sqlite3_stmt *st = df_sqlite_engine_stmt(s, ST_RUN_SET_ENGINE, run_id, engine, at, W, &code);
    if (!st)
        return code;
    return run_update(s, st, run_id, W);
}

/* See store.h. A run without an owner has NULL engine columns: "IS" compares them with the NULLs
 * bound for expected == NULL. */
int df_sqlite_run_claim(df_store *store, long long run_id, const df_engine_id *expected,
                        const df_engine_id *engine, int64_t at)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "claim run";
    int code;
    sqlite3_stmt *st = df_sqlite_engine_stmt(s, ST_RUN_CLAIM, run_id, engine, at, W, &code);
    if (!st)
        return code;
    if (expected) {
        sqlite3_bind_int64(st, 6, expected->pid);
        df_sqlite_bind_text(st, 7, expected->host);
        df_sqlite_bind_ms(st, 8, expected->started_at);
    }
    code = df_sqlite_run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: run %lld was claimed by another engine in the meantime",
                              W, run_id);
    return code;
}

/* See store.h. at in ms. */
int df_sqlite_run_heartbeat(df_store *store, long long run_id, int64_t at)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "heartbeat";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_HEARTBEAT, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, at);
    sqlite3_bind_int64(st, 2, run_id);
    sqlite3_bind_int64(st, 3, df_store_lease_ms(&s->base));
    return run_update(s, st, run_id, W);
}

/* See store.h. metrics (borrowed) is stored as compact JSON text; NULL clears it. */
/* Whether a metric is a high-water mark (kept at its maximum) rather than a count (summed). */
static bool metric_is_peak(const char *key)
{
    size_t n = strlen(key);
    return strcmp(key, "queue_high_water") == 0 || (n > 5 && strcmp(key + n - 5, "_peak") == 0);
}

int df_sqlite_run_set_metrics(df_store *store, long long run_id, const json_t *metrics)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "set run metrics";
    int code;
    /* The metrics of earlier engines on this run (before a resume or a retry), to merge with. */
    json_t *merged = json_is_object(metrics) ? json_deep_copy(metrics) : NULL;
    sqlite3_stmt *get = merged ? df_sqlite_stmt(s, ST_RUN_GET_METRICS, W, &code) : NULL;
    if (merged && !get) {
        json_decref(merged);
        return code;
    }
    if (get) {
        sqlite3_bind_int64(get, 1, run_id);
        json_t *old = NULL;
        if (sqlite3_step(get) == SQLITE_ROW && sqlite3_column_type(get, 0) == SQLITE_TEXT)
            old = json_loads((const char *)sqlite3_column_text(get, 0), 0, NULL);
        df_sqlite_done(get);
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
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_SET_METRICS, W, &code);
    if (!st) {
        json_decref(merged);
        return code;
    }
    char *text = metrics ? dump(metrics) : NULL;
    json_decref(merged);
    if (metrics && !text)
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: cannot encode the metrics", W);
    df_sqlite_bind_text(st, 1, text);
    sqlite3_bind_int64(st, 2, run_id);
    code = run_update(s, st, run_id, W);
    free(text);
    return code;
}

/* ---- task instances ---- */

static int transition_body(df_sqlite_store *s, const df_transition *t, const char *W)
{
    int code;
    sqlite3_stmt *up = df_sqlite_stmt(s, ST_TRANSITION, W, &code);
    if (!up)
        return code;
    sqlite3_bind_text(up, 1, df_task_state_name(t->to), -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 2, t->to_attempt);
    sqlite3_bind_int64(up, 3, t->at);
    sqlite3_bind_int(up, 4, df_task_state_final(t->to));
    df_sqlite_bind_text(up, 5, t->error);
    df_sqlite_bind_text(up, 6, t->result_json);
    df_sqlite_bind_ms(up, 7, t->next_retry_at);
    sqlite3_bind_int(up, 8, t->reset_retry_budget != 0);
    sqlite3_bind_int64(up, 9, t->run_id);
    sqlite3_bind_text(up, 10, t->task_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 11, df_task_state_name(t->from), -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 12, t->from_attempt);
    long long mi = t->mapped ? t->map_index : DF_NO_MAP_INDEX;
    sqlite3_bind_int64(up, 13, mi);
    if ((code = df_sqlite_run_write(s, up, W)) != DF_STORE_OK)
        return code;

    if (sqlite3_changes(s->db) == 0) {
        sqlite3_stmt *get = df_sqlite_stmt(s, ST_TASK_GET, W, &code);
        if (!get)
            return code;
        sqlite3_bind_int64(get, 1, t->run_id);
        sqlite3_bind_text(get, 2, t->task_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(get, 3, mi);
        int rc = sqlite3_step(get);
        if (rc == SQLITE_ROW)
            code =
                df_store_failf(&s->base, DF_STORE_CONFLICT,
                               "store: %s: task \"%s\" of run %lld is %s (attempt %lld), not %s "
                               "(attempt %u)",
                               W, t->task_id, t->run_id, (const char *)sqlite3_column_text(get, 0),
                               (long long)sqlite3_column_int64(get, 1), df_task_state_name(t->from),
                               t->from_attempt);
        else if (rc == SQLITE_DONE)
            code =
                df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no task \"%s\" in run %lld",
                               W, t->task_id, t->run_id);
        else
            code = df_sqlite_fail(s, rc, W);
        df_sqlite_done(get);
        return code;
    }

    return df_sqlite_events_add(s, t); /* appended with the others at the commit (events.c) */
}

/* See store.h. A compare-and-set UPDATE on (state, attempt); the event is queued and appended
 * with the transaction's others at its commit (events.c). The transition table itself is the
 * engine's (state.c): the store records whatever the caller decided. Alone, it is one
 * transaction. Inside the caller's transaction (the engine's group commit) no savepoint is taken,
 * since each refusal leaves nothing behind: a lost compare-and-set changes no row and queues no
 * event, and a refused value (a result that is not JSON) fails the UPDATE, which SQLite undoes by
 * itself (statement rollback). An I/O error appending the events fails the commit, and after any
 * store failure the engine rolls the whole transaction back. A savepoint and its release were 2,
 * and each event INSERT 1, of the ~18 statements of each task's life (issue 14). */
int df_sqlite_transition(df_store *store, const df_transition *t)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "record transition";
    if (!sqlite3_get_autocommit(s->db))
        return transition_body(s, t, W);
    int mode;
    int code = df_sqlite_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = transition_body(s, t, W);
    return df_sqlite_op_end(s, mode, code, W);
}

/* ---- attempts ------------------------------------------------------------------------------ */

/* See store.h. DF_STORE_CONFLICT when that attempt already exists, DF_STORE_NOTFOUND when the
 * task instance does not. attempt >= 1; started_at in ms. */
int df_sqlite_attempt_open(df_store *store, long long run_id, const char *task_id,
                           long long map_index, unsigned attempt, int64_t started_at)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "open attempt";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ATTEMPT_OPEN, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, attempt);
    sqlite3_bind_int64(st, 4, started_at);
    sqlite3_bind_int64(st, 5, map_index);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        code = DF_STORE_OK;
    else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: attempt %u of task \"%s\" in run %lld "
                              "already exists",
                              W, attempt, task_id, run_id);
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no task \"%s\" in run %lld",
                              W, task_id, run_id);
    else
        code = df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    return code;
}

/* See store.h. outcome must not be DF_AO_RUNNING; ended_at in ms. */
int df_sqlite_attempt_close(df_store *store, long long run_id, const char *task_id,
                            long long map_index, unsigned attempt, df_attempt_outcome outcome,
                            int64_t ended_at, const char *error, const char *log,
                            const char *output)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "close attempt";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ATTEMPT_CLOSE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, df_attempt_outcome_name(outcome), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ended_at);
    df_sqlite_bind_text(st, 3, error);
    df_sqlite_bind_text(st, 4, log);
    sqlite3_bind_int64(st, 5, run_id);
    sqlite3_bind_text(st, 6, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, attempt);
    sqlite3_bind_int64(st, 8, map_index);
    df_sqlite_bind_text(st, 9, output);
    if ((code = df_sqlite_run_write(s, st, W)) != DF_STORE_OK || sqlite3_changes(s->db) > 0)
        return code;
    sqlite3_stmt *get = df_sqlite_stmt(s, ST_ATTEMPT_GET, W, &code);
    if (!get)
        return code;
    sqlite3_bind_int64(get, 1, run_id);
    sqlite3_bind_text(get, 2, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(get, 3, attempt);
    sqlite3_bind_int64(get, 4, map_index);
    int rc = sqlite3_step(get);
    if (rc == SQLITE_ROW)
        code = df_store_failf(
            &s->base, DF_STORE_CONFLICT,
            "store: %s: attempt %u of task \"%s\" in run %lld is already closed (%s)", W, attempt,
            task_id, run_id, (const char *)sqlite3_column_text(get, 0));
    else if (rc == SQLITE_DONE)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: no attempt %u of task \"%s\" in run %lld", W, attempt,
                              task_id, run_id);
    else
        code = df_sqlite_fail(s, rc, W);
    df_sqlite_done(get);
    return code;
}

/* ---- mapped instances (SPEC §8) ------------------------------------------------------------ */

static int map_expand_body(df_sqlite_store *s, long long run_id, const char *task_id,
                           long long from, long long n, int64_t at, const char *W)
{
    int code;
    sqlite3_stmt *ins = df_sqlite_stmt(s, ST_MAP_INSERT, W, &code);
    if (!ins)
        return code;
    sqlite3_bind_int64(ins, 1, run_id);
    sqlite3_bind_text(ins, 2, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 3, from);
    sqlite3_bind_int64(ins, 4, n);
    int rc = sqlite3_step(ins);
    df_sqlite_done(ins);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: task \"%s\" of run %lld has instances from %lld already",
                              W, task_id, run_id, from);
    if (rc != SQLITE_DONE)
        return df_sqlite_fail(s, rc, W);
    if (sqlite3_changes(s->db) != n - from)
        return df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no task \"%s\" in run %lld",
                              W, task_id, run_id);
    static const char *const steps[2][3] = {{NULL, "PENDING", "mapped"},
                                            {"PENDING", "QUEUED", NULL}};
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *ev = df_sqlite_stmt(s, ST_MAP_EVENTS, W, &code);
        if (!ev)
            return code;
        sqlite3_bind_int64(ev, 1, run_id);
        sqlite3_bind_text(ev, 2, task_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ev, 3, from);
        sqlite3_bind_int64(ev, 4, n);
        sqlite3_bind_int64(ev, 5, at);
        df_sqlite_bind_text(ev, 6, steps[k][0]);
        df_sqlite_bind_text(ev, 7, steps[k][1]);
        df_sqlite_bind_text(ev, 8, steps[k][2]);
        if ((code = df_sqlite_run_write(s, ev, W)) != DF_STORE_OK)
            return code;
    }
    return DF_STORE_OK;
}

/* See store.h. Three statements (instances, their creation events, their PENDING -> QUEUED
 * events) in one transaction or savepoint. */
int df_sqlite_map_expand(df_store *store, long long run_id, const char *task_id, long long from,
                         long long n, int64_t at)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "expand mapped task";
    int mode;
    int code = df_sqlite_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = map_expand_body(s, run_id, task_id, from, n, at, W);
    return df_sqlite_op_end(s, mode, code, W);
}
