/* sqlite/stmt: the SQL of every cached statement and their cache (prepared on first use, reset
 * after each use), SQLite result codes as DF_STORE_* codes with SQLite's message, the transaction
 * or savepoint around one operation, and group commit (begin/commit/rollback). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT df_op",
    [ST_RELEASE] = "RELEASE df_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO df_op",
    [ST_RUN_INSERT] =
        "INSERT INTO runs (workflow, state, started_at, path, dir, params, plugins,"
        " engine_pid, engine_host, engine_started_at, heartbeat_at, trigger, logical_time,"
        " parent_run_id, parent_task_id, engine_kind, lease_until, events_seq0)"
        " VALUES (?1, 'RUNNING', ?2, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
        " ?16, ?11 + ?17, ?18)",
    [ST_TASK_INSERT] = "INSERT INTO task_instances (run_id, task_id, idx, plugin, state)"
                       " VALUES (?1, ?2, ?3, ?4, 'PENDING')",
    [ST_EVENT_INSERT] = "INSERT INTO task_event_log"
                        " (run_id, task_id, from_state, to_state, at, attempt, detail, map_index)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* A new run's block of ?1 event seq values (its tasks' creation events, synthesised by the
     * view task_event_rows); no change when the counter has no row yet. ST_EVENTS_SEQ_GET then
     * reads the last one. */
    [ST_EVENTS_RESERVE] = "UPDATE sqlite_sequence SET seq = seq + ?1"
                          " WHERE name = 'task_event_log'",
    /* The DAG snapshot of a new run (schema 10: its own table, out of the runs row). */
    [ST_RUN_DAG_INSERT] = "INSERT INTO run_dags (run_id, dag) VALUES (?1, ?2)",
    [ST_EVENTS_SEQ_GET] = "SELECT seq FROM sqlite_sequence WHERE name = 'task_event_log'",
    [ST_EVENTS_SEQ_INIT] = "INSERT INTO sqlite_sequence (name, seq)"
                           " SELECT 'task_event_log', COALESCE(max(seq), 0) FROM task_event_log",
    [ST_TRANSITION] =
        "UPDATE task_instances SET state = ?1, attempt = ?2,"
        " started_at = CASE WHEN ?1 = 'RUNNING' AND started_at IS NULL THEN ?3"
        "              ELSE started_at END,"
        " ended_at = CASE WHEN ?4 THEN ?3 WHEN ?1 = 'PENDING' THEN NULL ELSE ended_at END,"
        " error = CASE WHEN ?5 IS NULL THEN error ELSE NULLIF(?5, '') END,"
        " result = COALESCE(?6, result),"
        " next_retry_at = ?7,"
        " retry_base = CASE WHEN ?8 THEN ?2 ELSE retry_base END"
        " WHERE run_id = ?9 AND task_id = ?10 AND state = ?11 AND attempt = ?12"
        " AND map_index = ?13",
    [ST_TASK_GET] = "SELECT state, attempt FROM task_instances WHERE run_id = ?1 AND task_id = ?2"
                    " AND map_index = ?3",
    [ST_ATTEMPT_OPEN] = "INSERT INTO attempts (run_id, task_id, attempt, outcome, started_at,"
                        " map_index) VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5)",
    [ST_ATTEMPT_CLOSE] = "UPDATE attempts SET outcome = ?1, ended_at = ?2, error = ?3, log = ?4,"
                         " output = ?9 WHERE run_id = ?5 AND task_id = ?6 AND attempt = ?7"
                         " AND outcome = 'RUNNING' AND map_index = ?8",
    [ST_ATTEMPT_GET] = "SELECT outcome FROM attempts"
                       " WHERE run_id = ?1 AND task_id = ?2 AND attempt = ?3 AND map_index = ?4",
    /* A mapped task's instances ?3 .. ?4 - 1 (SPEC §8), QUEUED, in one statement; then their
     * events (ST_MAP_EVENTS twice: the creation, then PENDING -> QUEUED). */
    [ST_MAP_INSERT] =
        "WITH RECURSIVE s(i) AS (SELECT ?3 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?4)"
        " INSERT INTO task_instances (run_id, task_id, idx, plugin, state, map_index)"
        " SELECT t.run_id, t.task_id, t.idx, t.plugin, 'QUEUED', s.i FROM s, task_instances t"
        " WHERE t.run_id = ?1 AND t.task_id = ?2 AND t.map_index = -1",
    [ST_MAP_EVENTS] =
        "WITH RECURSIVE s(i) AS (SELECT ?3 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?4)"
        " INSERT INTO task_event_log"
        " (run_id, task_id, from_state, to_state, at, attempt, detail, map_index)"
        " SELECT ?1, ?2, ?6, ?7, ?5, 0, ?8, s.i FROM s",
    [ST_RUN_SET_STATE] = "UPDATE runs SET state = ?1,"
                         " ended_at = CASE WHEN ?1 = 'RUNNING' THEN NULL ELSE ?2 END"
                         " WHERE run_id = ?3",
    [ST_RUN_SET_ENGINE] = "UPDATE runs SET engine_pid = ?1, engine_host = ?2,"
                          " engine_started_at = ?3, heartbeat_at = ?4, engine_kind = ?9,"
                          " lease_until = ?4 + ?10 WHERE run_id = ?5",
    [ST_RUN_SET_ERROR] = "UPDATE runs SET error = ?1 WHERE run_id = ?2",
    [ST_RUN_CLAIM] = "UPDATE runs SET engine_pid = ?1, engine_host = ?2, engine_started_at = ?3,"
                     " heartbeat_at = ?4, engine_kind = ?9, lease_until = ?4 + ?10"
                     " WHERE run_id = ?5 AND engine_pid IS ?6"
                     " AND engine_host IS ?7 AND engine_started_at IS ?8",
    [ST_RUN_HEARTBEAT] = "UPDATE runs SET heartbeat_at = ?1, lease_until = ?1 + ?3"
                         " WHERE run_id = ?2",
    /* The fence (store/lease.c): renews the lease while the engine ?3..?5 still owns the run. */
    [ST_RUN_FENCE] = "UPDATE runs SET heartbeat_at = ?1, lease_until = ?1 + ?2"
                     " WHERE run_id = ?6 AND engine_pid = ?3 AND engine_host = ?4"
                     " AND engine_started_at = ?5",
    [ST_RUN_EXISTS] = "SELECT 1 FROM runs WHERE run_id = ?1",
    /* Adoption (SPEC §11): ?1..?5 and ?9 as ST_RUN_CLAIM, ?6..?8 the owner read before, ?10 the
     * lease; a serve's run, INTERRUPTED, or RUNNING past its lease, or this engine's own. */
    [ST_RUN_ADOPT] = "UPDATE runs SET engine_pid = ?1, engine_host = ?2, engine_started_at = ?3,"
                     " heartbeat_at = ?4, engine_kind = ?9, lease_until = ?4 + ?10"
                     " WHERE run_id = ?5 AND engine_pid IS ?6 AND engine_host IS ?7"
                     " AND engine_started_at IS ?8 AND engine_kind = 'serve'"
                     " AND (state = 'INTERRUPTED' OR (state = 'RUNNING' AND"
                     " (COALESCE(lease_until, heartbeat_at + 30000, 0) < ?4"
                     " OR (engine_pid IS ?1 AND engine_host IS ?2 AND engine_started_at IS ?3))))",
    [ST_ADOPTABLE_RUNS] =
        "SELECT run_id, workflow FROM runs WHERE engine_kind = 'serve'"
        " AND (state = 'INTERRUPTED' OR (state = 'RUNNING' AND"
        " (COALESCE(lease_until, heartbeat_at + 30000, 0) < ?1"
        " OR (engine_pid IS ?2 AND engine_host IS ?3 AND engine_started_at IS ?4))))"
        " ORDER BY run_id",
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
    [ST_RUN_STATUS] = "SELECT h.run_id, h.workflow, h.state, r.started_at, r.ended_at, r.metrics,"
                      " r.trigger, COALESCE(r.logical_time, r.started_at), r.parent_run_id,"
                      " r.parent_task_id, r.error"
                      " FROM run_history h JOIN runs r ON r.run_id = h.run_id"
                      " WHERE h.run_id = ?1",
    [ST_RUN_STATUS_TASKS] = "SELECT task_id, state, attempt, started_at, ended_at, error, result,"
                            " map_index FROM task_instances WHERE run_id = ?1"
                            " ORDER BY idx, map_index",
    [ST_RUN_SUMMARY_TASKS] = "SELECT task_id, state, attempt, started_at, ended_at, error, result,"
                             " map_index FROM task_instances WHERE run_id = ?1"
                             " AND state <> 'SUCCESS' AND map_index = -1 ORDER BY idx LIMIT ?2",
    [ST_RUN_STATE_COUNTS] = "SELECT state, count(*) FROM task_instances WHERE run_id = ?1"
                            " AND map_index = -1 GROUP BY state",
    [ST_LATEST] = "SELECT max(run_id) FROM runs",
    /* The view decides the state shown (INTERRUPTED for a stale heartbeat) and the counts. */
    [ST_HISTORY] = "SELECT h.run_id, h.workflow, h.state, r.started_at, r.ended_at, h.tasks_total,"
                   " h.tasks_succeeded, h.tasks_failed, r.trigger,"
                   " COALESCE(r.logical_time, r.started_at), r.parent_run_id, r.parent_task_id,"
                   " r.error"
                   " FROM run_history h JOIN runs r ON r.run_id = h.run_id"
                   " WHERE (?1 IS NULL OR h.workflow = ?1) AND (?3 IS NULL OR h.state = ?3)"
                   " AND (?4 IS NULL OR r.started_at >= ?4) AND (?5 IS NULL OR h.run_id < ?5)"
                   " ORDER BY h.run_id DESC LIMIT ?2",
    [ST_LOAD_RUN] = "SELECT run_id, workflow, state,"
                    " (SELECT d.dag FROM run_dags d WHERE d.run_id = runs.run_id), path, dir,"
                    " params, plugins, started_at,"
                    " ended_at, engine_pid, engine_host, engine_started_at, heartbeat_at,"
                    " engine_kind, trigger, COALESCE(logical_time, started_at), parent_run_id,"
                    " parent_task_id, error"
                    " FROM runs WHERE run_id = ?1",
    /* lost_streak skips an attempt still RUNNING (the one a crash left open): it counts the
     * LOST attempts after the latest attempt that ended otherwise, within the current retry
     * budget (a `retry` command starts a fresh streak). */
    [ST_LOAD_TASKS] =
        "SELECT t.task_id, t.plugin, t.state, t.attempt, t.retry_base, t.next_retry_at,"
        " t.result, t.error, t.started_at, t.ended_at,"
        " COALESCE((SELECT max(a.attempt) FROM attempts a WHERE a.run_id = t.run_id"
        "           AND a.task_id = t.task_id AND a.map_index = t.map_index"
        "           AND a.outcome = 'RUNNING'), 0),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id"
        "   AND a.map_index = t.map_index AND a.outcome = 'LOST' AND a.attempt > t.retry_base"
        "   AND a.attempt > COALESCE((SELECT max(b.attempt)"
        "     FROM attempts b WHERE b.run_id = t.run_id AND b.task_id = t.task_id"
        "     AND b.map_index = t.map_index AND b.outcome NOT IN ('LOST', 'RUNNING')), 0)),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id"
        "   AND a.map_index = t.map_index AND a.outcome IN ('FAILED', 'TIMED_OUT')"
        "   AND a.attempt > t.retry_base),"
        " t.map_index,"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id"
        "   AND a.map_index = t.map_index AND a.outcome = 'LOST' AND a.charged = 1"
        "   AND a.attempt > t.retry_base AND a.attempt > COALESCE((SELECT max(b.attempt)"
        "     FROM attempts b WHERE b.run_id = t.run_id AND b.task_id = t.task_id"
        "     AND b.map_index = t.map_index AND b.outcome NOT IN ('LOST', 'RUNNING')), 0)),"
        " COALESCE((SELECT max(a.charged) FROM attempts a WHERE a.run_id = t.run_id"
        "           AND a.task_id = t.task_id AND a.map_index = t.map_index"
        "           AND a.outcome = 'RUNNING'), 0)"
        " FROM task_instances t WHERE t.run_id = ?1 ORDER BY t.idx, t.map_index",
    [ST_ATTEMPTS_TASK] = "SELECT state, attempt, result FROM task_instances"
                         " WHERE run_id = ?1 AND task_id = ?2 AND map_index = ?3",
    [ST_ATTEMPTS_RUN] = "SELECT 1 FROM runs WHERE run_id = ?1",
    [ST_ATTEMPTS_LIST] = "SELECT attempt, outcome, started_at, ended_at, error, log, output"
                         " FROM attempts"
                         " WHERE run_id = ?1 AND task_id = ?2 AND map_index = ?3"
                         " ORDER BY attempt",
    /* Cancel requests (cancel.c): the first request's time and reason are kept. */
    [ST_CANCEL_REQUEST] =
        "UPDATE runs SET cancel_reason = CASE WHEN cancel_requested_at IS NULL THEN ?1"
        " ELSE cancel_reason END, cancel_requested_at = COALESCE(cancel_requested_at, ?2)"
        " WHERE run_id = ?3 AND state IN ('RUNNING', 'INTERRUPTED')",
    [ST_CANCEL_STATE] = "SELECT state FROM runs WHERE run_id = ?1",
    [ST_CANCEL_CLEAR] =
        "UPDATE runs SET cancel_requested_at = NULL, cancel_reason = NULL WHERE run_id = ?1",
    /* runs_cancel_requested (a partial index) holds exactly these rows. */
    [ST_CANCEL_LIST] = "SELECT run_id, cancel_requested_at, cancel_reason FROM runs"
                       " WHERE cancel_requested_at IS NOT NULL AND state = 'RUNNING'"
                       " ORDER BY run_id",
    [ST_CANCEL_ONE] = "SELECT run_id, cancel_requested_at, cancel_reason FROM runs"
                      " WHERE run_id = ?1 AND cancel_requested_at IS NOT NULL",
    [ST_CHILD_RUN] = "SELECT run_id, state FROM runs WHERE parent_run_id = ?1"
                     " AND parent_task_id = ?2 ORDER BY run_id DESC LIMIT 1",
    [ST_PROC_ADD] = "INSERT OR IGNORE INTO attempt_processes"
                    " (run_id, task_id, map_index, attempt, pgid, pid_started_at, host, cgroup)"
                    " VALUES (?1, ?2, ?8, ?3, ?4, ?5, ?6, ?7)",
    [ST_PROCS_LIST] = "SELECT task_id, attempt, pgid, pid_started_at, host, cgroup, map_index"
                      " FROM attempt_processes WHERE run_id = ?1"
                      " ORDER BY task_id, map_index, attempt, pgid",
    [ST_PROCS_FORGET] = "DELETE FROM attempt_processes WHERE run_id = ?1 AND host = ?2",
    [ST_ATTEMPT_CHARGE] = "UPDATE attempts SET charged = 1"
                          " WHERE run_id = ?1 AND task_id = ?2 AND attempt = ?3"
                          " AND map_index = ?4",
    /* A crash reported by the crashed engine's reporter (safety.c, SPEC §12): the RUNNING
     * attempt of a run that process still owns. */
    [ST_CRASH_ATTEMPT] = "UPDATE attempts SET charged = 1"
                         " WHERE run_id = ?1 AND task_id = ?2 AND map_index = ?3"
                         " AND attempt = ?4 AND outcome = 'RUNNING'"
                         " AND EXISTS (SELECT 1 FROM runs r WHERE r.run_id = ?1"
                         " AND r.state = 'RUNNING' AND r.engine_pid = ?5"
                         " AND r.engine_host = ?6)",
    [ST_PERIOD_CLOSE] = "UPDATE run_periods SET ended_at = max(started_at, ?2)"
                        " WHERE run_id = ?1 AND ended_at IS NULL",
    [ST_PERIODS_LIST] = "SELECT started_at, ended_at FROM run_periods WHERE run_id = ?1"
                        " ORDER BY started_at",
    [ST_PERIOD_OPEN] = "INSERT OR IGNORE INTO run_periods (run_id, started_at) VALUES (?1, ?2)",
    /* ST_LOAD_TASKS on a file older than version 8 (no attempts.charged): no charged losses */
    [ST_LOAD_TASKS_V7] =
        "SELECT t.task_id, t.plugin, t.state, t.attempt, t.retry_base, t.next_retry_at,"
        " t.result, t.error, t.started_at, t.ended_at,"
        " COALESCE((SELECT max(a.attempt) FROM attempts a WHERE a.run_id = t.run_id"
        "           AND a.task_id = t.task_id AND a.map_index = t.map_index"
        "           AND a.outcome = 'RUNNING'), 0),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id"
        "   AND a.map_index = t.map_index AND a.outcome = 'LOST' AND a.attempt > t.retry_base"
        "   AND a.attempt > COALESCE((SELECT max(b.attempt)"
        "     FROM attempts b WHERE b.run_id = t.run_id AND b.task_id = t.task_id"
        "     AND b.map_index = t.map_index AND b.outcome NOT IN ('LOST', 'RUNNING')), 0)),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = t.run_id AND a.task_id = t.task_id"
        "   AND a.map_index = t.map_index AND a.outcome IN ('FAILED', 'TIMED_OUT')"
        "   AND a.attempt > t.retry_base),"
        " t.map_index, 0, 0"
        " FROM task_instances t WHERE t.run_id = ?1 ORDER BY t.idx, t.map_index",
    [ST_SCHED_ANCHOR_INSERT] = "INSERT OR IGNORE INTO schedule_state (workflow, first_loaded_at)"
                               " VALUES (?1, ?2)",
    [ST_SCHED_ANCHOR_GET] = "SELECT first_loaded_at FROM schedule_state WHERE workflow = ?1",
    [ST_SCHED_LAST] = "SELECT max(logical_time) FROM schedule_log WHERE workflow = ?1",
    [ST_SCHED_INSERT] = "INSERT OR IGNORE INTO schedule_log"
                        " (workflow, logical_time, decision, run_id, decided_at)"
                        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_SCHED_FROM_QUEUED] = "UPDATE schedule_log SET decision = ?3, run_id = ?4"
                             " WHERE workflow = ?1 AND logical_time = ?2 AND decision = 'queued'",
    [ST_SCHED_SET_RUN] = "UPDATE schedule_log SET run_id = ?3,"
                         " decision = CASE WHEN ?3 IS NULL THEN 'queued' ELSE decision END"
                         " WHERE workflow = ?1 AND logical_time = ?2",
    [ST_SCHED_QUEUED] = "SELECT logical_time FROM schedule_log"
                        " WHERE workflow = ?1 AND decision = 'queued'"
                        " ORDER BY logical_time LIMIT ?2",
    [ST_ACTIVE_RUNS] = "SELECT count(*) FROM runs"
                       " WHERE workflow = ?1 AND (state = 'RUNNING' OR state = 'INTERRUPTED')",
    [ST_SERVE_RUNS] = "SELECT run_id, workflow FROM runs WHERE engine_kind = 'serve'"
                      " AND (state = 'RUNNING' OR state = 'INTERRUPTED') ORDER BY run_id",
};

/* ---- errors ---- */

/* See internal.h. */
int df_sqlite_code(int rc)
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

/* Records SQLite's message for rc as "store: WHAT: message" and returns the DF_STORE_* code. A
 * file that cannot be written is named with the cause: "store: WHAT: cannot write PATH: CAUSE"
 * (files.c finds it), SQLite's message standing in for a cause it cannot tell. */
int df_sqlite_fail(df_sqlite_store *s, int rc, const char *what)
{
    const char *msg = sqlite3_errmsg(s->db);
    if (!msg || !*msg || sqlite3_errcode(s->db) == SQLITE_OK)
        msg = sqlite3_errstr(rc);
    if (s->path && df_sqlite_unwritable_rc(s, rc)) {
        char cause[DF_STORE_ERR_MAX];
        df_sqlite_unwritable_cause(s, cause, sizeof cause);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: cannot write %s: %s", what,
                              s->path, cause[0] ? cause : msg);
    }
    int code = df_sqlite_code(rc);
    return df_store_failf(&s->base, code == DF_STORE_OK ? DF_STORE_ERROR : code, "store: %s: %s",
                          what, msg);
}

/* ---- statements ---- */

/* The cached statement id, prepared on first use; NULL (error recorded) on failure. */
sqlite3_stmt *df_sqlite_stmt(df_sqlite_store *s, enum df_sqlite_stmt_id id, const char *what,
                             int *code)
{
    *code = DF_STORE_OK;
    if (!s->st[id]) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id],
                                    NULL);
        if (rc != SQLITE_OK) {
            *code = df_sqlite_fail(s, rc, what);
            s->st[id] = NULL;
            return NULL;
        }
    }
    return s->st[id];
}

/* See internal.h: "HEAD ROW,ROW,...,ROW" (n rows) prepared once into *slot. */
sqlite3_stmt *df_sqlite_multirow_stmt(df_sqlite_store *s, sqlite3_stmt **slot, const char *head,
                                      const char *row, size_t n, const char *what, int *code)
{
    *code = DF_STORE_OK;
    if (*slot)
        return *slot;
    size_t hl = strlen(head), rl = strlen(row);
    char *sql = malloc(hl + n * (rl + 1) + 1);
    if (!sql) {
        *code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", what);
        return NULL;
    }
    char *w = sql + hl;
    memcpy(sql, head, hl);
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        memcpy(w, row, rl);
        w += rl;
    }
    *w = '\0';
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        *code = df_sqlite_fail(s, rc, what);
        *slot = NULL;
    }
    return *slot;
}

/* Steps a statement that returns no rows and resets it. */
int df_sqlite_run_write(df_sqlite_store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int code = rc == SQLITE_DONE ? DF_STORE_OK : df_sqlite_fail(s, rc, what);
    df_sqlite_done(st);
    return code;
}

/* Runs one of the argument-less cached statements (BEGIN, COMMIT, ...). */
int df_sqlite_exec(df_sqlite_store *s, enum df_sqlite_stmt_id id, const char *what)
{
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, id, what, &code);
    return st ? df_sqlite_run_write(s, st, what) : code;
}

/* ---- transactions ---- */

/* See internal.h. */
int df_sqlite_op_begin(df_sqlite_store *s, int *mode, const char *what)
{
    if (sqlite3_get_autocommit(s->db)) {
        /* Events queued in a transaction SQLite has rolled back by itself: gone with it. */
        df_sqlite_events_drop(s);
        *mode = DF_SQLITE_OP_OWN;
        return df_sqlite_exec(s, ST_BEGIN, what);
    }
    /* The events queued before go in before the savepoint, so that rolling it back keeps them
     * and drops only the operation's own. */
    int code = df_sqlite_events_flush(s, what);
    if (code != DF_STORE_OK)
        return code;
    *mode = DF_SQLITE_OP_SAVEPOINT;
    return df_sqlite_exec(s, ST_SAVEPOINT, what);
}

/* A read made of several statements sees one snapshot. */
int df_sqlite_op_begin_read(df_sqlite_store *s, int *mode, const char *what)
{
    if (sqlite3_get_autocommit(s->db)) {
        *mode = DF_SQLITE_OP_OWN;
        return df_sqlite_exec(s, ST_BEGIN_READ, what);
    }
    *mode = DF_SQLITE_OP_NONE;
    return df_sqlite_events_flush(s, what); /* the caller's transaction's events, to be seen */
}

/* Ends the operation: commits/releases when code is DF_STORE_OK, else rolls back what it did
 * (keeping code and its message). Returns the final code. */
int df_sqlite_op_end(df_sqlite_store *s, int mode, int code, const char *what)
{
    if (mode == DF_SQLITE_OP_NONE)
        return code;
    if (code == DF_STORE_OK)
        code = df_sqlite_events_flush(s, what);
    else
        df_sqlite_events_drop(s); /* the operation's own, queued since op_begin */
    if (code == DF_STORE_OK) {
        code = df_sqlite_exec(s, mode == DF_SQLITE_OP_OWN ? ST_COMMIT : ST_RELEASE, what);
        if (code == DF_STORE_OK)
            return code;
    }
    /* SQLite may already have rolled the whole transaction back (I/O error, full disk). */
    if (sqlite3_get_autocommit(s->db))
        return code;
    char saved[sizeof s->base.err];
    memcpy(saved, s->base.err, sizeof saved);
    if (mode == DF_SQLITE_OP_OWN) {
        df_sqlite_exec(s, ST_ROLLBACK, what);
    } else if (df_sqlite_exec(s, ST_ROLLBACK_TO, what) == DF_STORE_OK) {
        df_sqlite_exec(s, ST_RELEASE, what);
    }
    memcpy(s->base.err, saved, sizeof saved);
    return code;
}

/* ---- group commit ---- */

/* See store.h: BEGIN IMMEDIATE takes the write lock at once (waiting up to the busy timeout). */
int df_sqlite_begin(df_store *store)
{
    df_sqlite_store *s = df_sqlite_of(store);
    return df_sqlite_exec(s, ST_BEGIN, "begin transaction");
}

/* See store.h. On failure the transaction may still be open: call df_store_rollback. */
int df_sqlite_commit(df_store *store)
{
    df_sqlite_store *s = df_sqlite_of(store);
    int code = df_sqlite_events_flush(s, "commit");
    if (code == DF_STORE_OK)
        code = df_sqlite_exec(s, ST_COMMIT, "commit");
    if (code == DF_STORE_OK)
        df_sqlite_renewals_end(s, true);
    return code;
}

/* See store.h. No open transaction is not an error. */
int df_sqlite_rollback(df_store *store)
{
    df_sqlite_store *s = df_sqlite_of(store);
    df_sqlite_renewals_end(s, false);
    df_sqlite_events_drop(s);
    if (sqlite3_get_autocommit(s->db))
        return DF_STORE_OK;
    return df_sqlite_exec(s, ST_ROLLBACK, "rollback");
}
