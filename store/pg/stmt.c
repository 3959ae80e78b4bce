/* pg/stmt: the SQL of every prepared statement of the PostgreSQL backend. Parameters are typed
 * by casts in the SQL and sent as text; nothing is ever pasted into SQL text. Many writes are one
 * statement where SQLite's take several (a transition's compare-and-set UPDATE and its event
 * INSERT are one data-modifying WITH; a new run's tasks, events and edges are inserted from one
 * JSON array each), so that each is atomic without a transaction of its own. */
#include "internal.h"

/* gc: deletes one table's rows of the finished runs that ended before $1 (ms), returning how many
 * rows and their on-disk size (pg_column_size of each whole row). */
#define GC_DELETE(table)                                                                           \
    "WITH d AS (DELETE FROM " table " AS x WHERE x.run_id IN (SELECT run_id FROM runs"             \
    " WHERE state IN ('SUCCESS', 'FAILED', 'INVALID', 'CANCELLED') AND ended_at IS NOT NULL"       \
    " AND ended_at < $1::bigint) RETURNING pg_column_size(x.*) AS b)"                              \
    " SELECT count(*), COALESCE(sum(b), 0) FROM d"

static const char *const pg_sql[PG__COUNT] = {
    [PG_BEGIN] = "BEGIN",
    [PG_BEGIN_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    [PG_COMMIT] = "COMMIT",
    [PG_ROLLBACK] = "ROLLBACK",
    [PG_SAVEPOINT] = "SAVEPOINT df_op",
    [PG_RELEASE] = "RELEASE SAVEPOINT df_op",
    [PG_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT df_op",
    [PG_RUN_INSERT] =
        "INSERT INTO runs (workflow, state, started_at, dag, path, dir, params, plugins,"
        " engine_pid, engine_host, engine_started_at, heartbeat_at, trigger, logical_time,"
        " parent_run_id, parent_task_id, engine_kind, lease_until)"
        " VALUES ($1::text, 'RUNNING', $2::bigint, $3::text, $4::text, $5::text, $6::text,"
        " $7::text, $8::bigint, $9::text, $10::bigint, $11::bigint, $12::text, $13::bigint,"
        " $14::bigint, $15::text, $16::text,"
        " CASE WHEN $11::bigint IS NULL THEN NULL ELSE dagflow_now_ms() + $17::bigint END)"
        " RETURNING run_id",
    /* $2: [{"id", "plugin"}, ...] in file order. */
    [PG_TASKS_INSERT] = "INSERT INTO task_instances (run_id, task_id, idx, plugin, state)"
                        " SELECT $1::bigint, t.v->>'id', (t.i - 1)::integer, t.v->>'plugin',"
                        " 'PENDING' FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY"
                        " AS t(v, i) ORDER BY t.i",
    [PG_EVENTS_INSERT] = "INSERT INTO task_event_log (run_id, task_id, from_state, to_state, at,"
                         " attempt) SELECT $1::bigint, t.v->>'id', NULL, 'PENDING', $3::bigint, 0"
                         " FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(v, i)"
                         " ORDER BY t.i",
    /* Run $1's $2 tasks' creation events (synthesised by the view task_event_rows, schema 10):
     * takes $2 values of task_event_log's sequence and records the first as runs.events_seq0
     * when they are contiguous (one row changed); else nothing (another session's nextval came
     * in between) and the caller stores the events (PG_EVENTS_INSERT). */
    [PG_EVENTS_RESERVE] =
        "WITH g AS (SELECT nextval(pg_get_serial_sequence('task_event_log', 'seq')) AS v"
        " FROM generate_series(1, $2::bigint)), b AS (SELECT min(v) AS lo, max(v) AS hi FROM g)"
        " UPDATE runs SET events_seq0 = b.lo FROM b"
        " WHERE runs.run_id = $1::bigint AND b.hi - b.lo + 1 = $2::bigint",
    [PG_TRANSITION] =
        "WITH u AS (UPDATE task_instances SET state = $1::text, attempt = $2::bigint,"
        " started_at = CASE WHEN $1::text = 'RUNNING' AND started_at IS NULL THEN $3::bigint"
        "              ELSE started_at END,"
        " ended_at = CASE WHEN $4::boolean THEN $3::bigint WHEN $1::text = 'PENDING' THEN NULL"
        "            ELSE ended_at END,"
        " error = CASE WHEN $5::text IS NULL THEN error ELSE NULLIF($5::text, '') END,"
        " result = COALESCE($6::text, result),"
        " next_retry_at = $7::bigint,"
        " retry_base = CASE WHEN $8::boolean THEN $2::bigint ELSE retry_base END"
        " WHERE run_id = $9::bigint AND task_id = $10::text AND state = $11::text"
        " AND attempt = $12::bigint AND map_index = $14::bigint RETURNING run_id, task_id)"
        " INSERT INTO task_event_log (run_id, task_id, from_state, to_state, at, attempt, detail,"
        " map_index) SELECT run_id, task_id, $11::text, $1::text, $3::bigint, $2::bigint,"
        " $13::text, $14::bigint FROM u",
    /* PG_TRANSITION for many rows (batch.c): $1 a JSON array of rows numbered k from 0; events
     * inserted in k's order; returns the k of the rows that applied. */
    [PG_TRANSITIONS] =
        "WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(k bigint, ts text, ta bigint,"
        " at bigint, fin boolean, err text, res text, nra bigint, rst boolean, run bigint,"
        " task text, fs text, fa bigint, det text, mi bigint)),"
        " u AS (UPDATE task_instances t SET state = x.ts, attempt = x.ta,"
        " started_at = CASE WHEN x.ts = 'RUNNING' AND t.started_at IS NULL THEN x.at"
        "              ELSE t.started_at END,"
        " ended_at = CASE WHEN x.fin THEN x.at WHEN x.ts = 'PENDING' THEN NULL"
        "            ELSE t.ended_at END,"
        " error = CASE WHEN x.err IS NULL THEN t.error ELSE NULLIF(x.err, '') END,"
        " result = COALESCE(x.res, t.result), next_retry_at = x.nra,"
        " retry_base = CASE WHEN x.rst THEN x.ta ELSE t.retry_base END"
        " FROM x WHERE t.run_id = x.run AND t.task_id = x.task AND t.state = x.fs"
        " AND t.attempt = x.fa AND t.map_index = x.mi"
        " RETURNING x.k, x.run, x.task, x.fs, x.ts, x.at, x.ta, x.det, x.mi),"
        " e AS (INSERT INTO task_event_log (run_id, task_id, from_state, to_state, at, attempt,"
        " detail, map_index) SELECT run, task, fs, ts, at, ta, det, mi FROM u ORDER BY k)"
        " SELECT k FROM u ORDER BY k",
    /* PG_ATTEMPT_OPEN for many rows (batch.c): returns the k of the rows inserted (of rows
     * naming one attempt twice, the first). */
    [PG_ATTEMPTS_OPEN] =
        "WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(k bigint, run bigint,"
        " task text, mi bigint, a bigint, at bigint)),"
        " i AS (INSERT INTO attempts (run_id, task_id, map_index, attempt, outcome, started_at)"
        " SELECT x.run, x.task, x.mi, x.a, 'RUNNING', x.at FROM x WHERE EXISTS (SELECT 1"
        " FROM task_instances t WHERE t.run_id = x.run AND t.task_id = x.task"
        " AND t.map_index = x.mi) ORDER BY x.k ON CONFLICT DO NOTHING"
        " RETURNING run_id, task_id, map_index, attempt)"
        " SELECT min(x.k) FROM x JOIN i ON i.run_id = x.run AND i.task_id = x.task"
        " AND i.map_index = x.mi AND i.attempt = x.a"
        " GROUP BY i.run_id, i.task_id, i.map_index, i.attempt ORDER BY 1",
    /* PG_ATTEMPT_CLOSE for many rows (batch.c): returns the k of the rows that applied. */
    [PG_ATTEMPTS_CLOSE] =
        "WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(k bigint, o text,"
        " at bigint, err text, log text, run bigint, task text, a bigint, mi bigint, out text)),"
        " u AS (UPDATE attempts t SET outcome = x.o, ended_at = x.at, error = x.err,"
        " log = x.log, output = x.out, started_at = COALESCE((SELECT h.claimed_at FROM"
        " work_history h WHERE h.run_id = x.run AND h.task_id = x.task AND h.map_index = x.mi"
        " AND h.attempt = x.a), t.started_at) FROM x WHERE t.run_id = x.run"
        " AND t.task_id = x.task AND t.attempt = x.a AND t.outcome = 'RUNNING'"
        " AND t.map_index = x.mi RETURNING x.k)"
        " SELECT k FROM u ORDER BY k",
    [PG_TASK_GET] = "SELECT state, attempt FROM task_instances"
                    " WHERE run_id = $1::bigint AND task_id = $2::text AND map_index = $3::bigint",
    /* A mapped task's instances $3 .. $4 - 1 (SPEC §8), QUEUED, with their two events each (the
     * creation, then PENDING -> QUEUED), in one statement; ON CONFLICT: nothing inserted, and
     * the caller reports it. */
    [PG_MAP_EXPAND] =
        "WITH i AS (INSERT INTO task_instances (run_id, task_id, idx, plugin, state, map_index)"
        " SELECT t.run_id, t.task_id, t.idx, t.plugin, 'QUEUED', g.i"
        " FROM generate_series($3::bigint, $4::bigint - 1) AS g(i), task_instances t"
        " WHERE t.run_id = $1::bigint AND t.task_id = $2::text AND t.map_index = -1"
        " ON CONFLICT DO NOTHING RETURNING map_index),"
        " e AS (INSERT INTO task_event_log (run_id, task_id, from_state, to_state, at, attempt,"
        " detail, map_index)"
        " SELECT $1::bigint, $2::text, s.f, s.t, $5::bigint, 0, s.d, i.map_index"
        " FROM i, (VALUES (0, NULL::text, 'PENDING', 'mapped'), (1, 'PENDING', 'QUEUED', NULL))"
        " AS s(k, f, t, d) ORDER BY s.k, i.map_index)"
        " SELECT count(*) FROM i",
    /* No error for a duplicate or a missing task (an error would abort the caller's whole
     * transaction, unlike SQLite's): nothing inserted, and PG_TASK_GET / PG_ATTEMPT_GET say why. */
    [PG_ATTEMPT_OPEN] =
        "INSERT INTO attempts (run_id, task_id, map_index, attempt, outcome,"
        " started_at)"
        " SELECT $1::bigint, $2::text, $3::bigint, $4::bigint, 'RUNNING', $5::bigint"
        " WHERE EXISTS (SELECT 1 FROM task_instances WHERE run_id = $1::bigint"
        "               AND task_id = $2::text AND map_index = $3::bigint)"
        " ON CONFLICT DO NOTHING",
    /* An attempt a worker ran started when the worker claimed it (work_history, written by the
     * statement that collected its outcome or its lost lease, in the same transaction), not when
     * it was queued. */
    [PG_ATTEMPT_CLOSE] = "UPDATE attempts a SET outcome = $1::text, ended_at = $2::bigint,"
                         " error = $3::text, log = $4::text, output = $9::text,"
                         " started_at = COALESCE((SELECT h.claimed_at FROM work_history h"
                         " WHERE h.run_id = $5::bigint AND h.task_id = $6::text"
                         " AND h.map_index = $8::bigint AND h.attempt = $7::bigint), a.started_at)"
                         " WHERE run_id = $5::bigint"
                         " AND task_id = $6::text AND attempt = $7::bigint"
                         " AND outcome = 'RUNNING' AND map_index = $8::bigint",
    [PG_ATTEMPT_GET] = "SELECT outcome FROM attempts"
                       " WHERE run_id = $1::bigint AND task_id = $2::text AND attempt = $3::bigint"
                       " AND map_index = $4::bigint",
    [PG_RUN_SET_STATE] = "UPDATE runs SET state = $1::text,"
                         " ended_at = CASE WHEN $1::text = 'RUNNING' THEN NULL ELSE $2::bigint END"
                         " WHERE run_id = $3::bigint",
    [PG_RUN_SET_ENGINE] = "UPDATE runs SET engine_pid = $1::bigint, engine_host = $2::text,"
                          " engine_started_at = $3::bigint, heartbeat_at = $4::bigint,"
                          " engine_kind = $6::text, lease_until = dagflow_now_ms() + $7::bigint"
                          " WHERE run_id = $5::bigint",
    [PG_RUN_SET_ERROR] = "UPDATE runs SET error = $1::text WHERE run_id = $2::bigint",
    /* The compare-and-set of a takeover: a concurrent claim waits for this row's lock and then
     * finds the new owner (READ COMMITTED re-checks the WHERE on the updated row). */
    [PG_RUN_CLAIM] = "UPDATE runs SET engine_pid = $1::bigint, engine_host = $2::text,"
                     " engine_started_at = $3::bigint, heartbeat_at = $4::bigint,"
                     " engine_kind = $9::text, lease_until = dagflow_now_ms() + $10::bigint"
                     " WHERE run_id = $5::bigint AND engine_pid IS NOT DISTINCT FROM $6::bigint"
                     " AND engine_host IS NOT DISTINCT FROM $7::text"
                     " AND engine_started_at IS NOT DISTINCT FROM $8::bigint",
    [PG_RUN_HEARTBEAT] = "UPDATE runs SET heartbeat_at = $1::bigint,"
                         " lease_until = dagflow_now_ms() + $3::bigint WHERE run_id = $2::bigint",
    /* The fence (store/lease.c): renews the lease (the database's clock) while the engine
     * $3..$5 still owns the run, keeping the row locked until the commit. */
    [PG_RUN_FENCE] = "UPDATE runs SET heartbeat_at = $1::bigint,"
                     " lease_until = dagflow_now_ms() + $2::bigint WHERE run_id = $6::bigint"
                     " AND engine_pid = $3::bigint AND engine_host = $4::text"
                     " AND engine_started_at = $5::bigint",
    [PG_RUN_EXISTS] = "SELECT 1 FROM runs WHERE run_id = $1::bigint",
    /* Adoption (SPEC §11): $1..$5 and $9 as PG_RUN_CLAIM, $6..$8 the owner read before, $10 the
     * lease; a serve's run, INTERRUPTED, or RUNNING past its lease by the database's clock, or
     * this engine's own; a row its owner's open transaction holds is skipped, not waited for. */
    [PG_RUN_ADOPT] =
        "UPDATE runs SET engine_pid = $1::bigint, engine_host = $2::text,"
        " engine_started_at = $3::bigint, heartbeat_at = $4::bigint, engine_kind = $9::text,"
        " lease_until = dagflow_now_ms() + $10::bigint"
        " WHERE run_id = (SELECT run_id FROM runs WHERE run_id = $5::bigint"
        " AND engine_pid IS NOT DISTINCT FROM $6::bigint"
        " AND engine_host IS NOT DISTINCT FROM $7::text"
        " AND engine_started_at IS NOT DISTINCT FROM $8::bigint AND engine_kind = 'serve'"
        " AND (state = 'INTERRUPTED' OR (state = 'RUNNING' AND"
        " (COALESCE(lease_until, heartbeat_at + 30000, 0) < dagflow_now_ms()"
        " OR (engine_pid = $1::bigint AND engine_host = $2::text"
        " AND engine_started_at = $3::bigint)))) FOR UPDATE SKIP LOCKED)",
    [PG_ADOPTABLE_RUNS] = "SELECT run_id, workflow FROM runs WHERE engine_kind = 'serve'"
                          " AND (state = 'INTERRUPTED' OR (state = 'RUNNING' AND"
                          " (COALESCE(lease_until, heartbeat_at + 30000, 0) < dagflow_now_ms()"
                          " OR (engine_pid = $1::bigint AND engine_host = $2::text"
                          " AND engine_started_at = $3::bigint)))) ORDER BY run_id",
    [PG_RUN_SET_METRICS] = "UPDATE runs SET metrics = $1::text WHERE run_id = $2::bigint",
    [PG_RUN_GET_METRICS] = "SELECT metrics FROM runs WHERE run_id = $1::bigint FOR UPDATE",
    [PG_BREAKER_EVENT] = "INSERT INTO breaker_log (run_id, task_id, breaker, from_state, to_state,"
                         " failure_rate, calls, at) VALUES ($1::bigint, $2::text, $3::text,"
                         " $4::text, $5::text, $6::double precision, $7::integer, $8::bigint)",
    [PG_ALERT_ADD] = "INSERT INTO alerts (run_id, task_id, event, sink, sink_index, payload,"
                     " status, tries, created_at)"
                     " SELECT $1::bigint, $2::text, $3::text, $4::text, $5::integer, $6::text,"
                     " 'pending', 0, $7::bigint"
                     " WHERE EXISTS (SELECT 1 FROM runs WHERE run_id = $1::bigint)"
                     " RETURNING alert_id",
    [PG_ALERT_UPDATE] = "UPDATE alerts SET status = $1::text, tries = $2::integer,"
                        " delivered_at = $3::bigint, error = $4::text WHERE alert_id = $5::bigint",
    [PG_ALERTS_PENDING] = "SELECT alert_id, sink_index, payload, tries FROM alerts"
                          " WHERE run_id = $1::bigint AND status = 'pending' ORDER BY alert_id",
    [PG_RUN_STATUS] = "SELECT h.run_id, h.workflow, h.state, r.started_at, r.ended_at, r.metrics,"
                      " r.trigger, COALESCE(r.logical_time, r.started_at), r.parent_run_id,"
                      " r.parent_task_id, r.error"
                      " FROM run_history h JOIN runs r ON r.run_id = h.run_id"
                      " WHERE h.run_id = $1::bigint",
    [PG_RUN_STATUS_TASKS] = "SELECT task_id, state, attempt, started_at, ended_at, error, result,"
                            " map_index FROM task_instances WHERE run_id = $1::bigint"
                            " ORDER BY idx, map_index",
    [PG_RUN_SUMMARY_TASKS] = "SELECT task_id, state, attempt, started_at, ended_at, error, result,"
                             " map_index FROM task_instances WHERE run_id = $1::bigint"
                             " AND state <> 'SUCCESS' AND map_index = -1 ORDER BY idx"
                             " LIMIT $2::bigint",
    [PG_RUN_STATE_COUNTS] = "SELECT state, count(*) FROM task_instances WHERE run_id = $1::bigint"
                            " AND map_index = -1 GROUP BY state",
    [PG_LATEST] = "SELECT max(run_id) FROM runs",
    [PG_HISTORY] = "SELECT h.run_id, h.workflow, h.state, r.started_at, r.ended_at,"
                   " h.tasks_total, h.tasks_succeeded, h.tasks_failed, r.trigger,"
                   " COALESCE(r.logical_time, r.started_at), r.parent_run_id, r.parent_task_id,"
                   " r.error"
                   " FROM run_history h JOIN runs r ON r.run_id = h.run_id"
                   " WHERE ($1::text IS NULL OR h.workflow = $1::text)"
                   " AND ($3::text IS NULL OR h.state = $3::text)"
                   " AND ($4::bigint IS NULL OR r.started_at >= $4::bigint)"
                   " AND ($5::bigint IS NULL OR h.run_id < $5::bigint)"
                   " ORDER BY h.run_id DESC LIMIT $2::bigint",
    [PG_LOAD_RUN] = "SELECT run_id, workflow, state, dag, path, dir, params, plugins, started_at,"
                    " ended_at, engine_pid, engine_host, engine_started_at, heartbeat_at,"
                    " engine_kind, trigger, COALESCE(logical_time, started_at), parent_run_id,"
                    " parent_task_id, error"
                    " FROM runs WHERE run_id = $1::bigint",
    /* As SQLite's (store/sqlite/stmt.c): the open attempt, the LOST streak, the failures. */
    [PG_LOAD_TASKS] =
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
        " FROM task_instances t WHERE t.run_id = $1::bigint ORDER BY t.idx, t.map_index",
    [PG_ATTEMPTS_TASK] = "SELECT state, attempt, result FROM task_instances"
                         " WHERE run_id = $1::bigint AND task_id = $2::text"
                         " AND map_index = $3::bigint",
    [PG_ATTEMPTS_RUN] = "SELECT 1 FROM runs WHERE run_id = $1::bigint",
    [PG_ATTEMPTS_LIST] = "SELECT attempt, outcome, started_at, ended_at, error, log, output"
                         " FROM attempts"
                         " WHERE run_id = $1::bigint AND task_id = $2::text"
                         " AND map_index = $3::bigint ORDER BY attempt",
    [PG_GC_TASK_EVENT_LOG] = GC_DELETE("task_event_log"),
    [PG_GC_ATTEMPTS] = GC_DELETE("attempts"),
    [PG_GC_RUN_EDGES] = GC_DELETE("run_edges"),
    [PG_GC_ALERTS] = GC_DELETE("alerts"),
    [PG_GC_BREAKER_LOG] = GC_DELETE("breaker_log"),
    [PG_GC_TASK_INSTANCES] = GC_DELETE("task_instances"),
    [PG_GC_RUNS] = GC_DELETE("runs"),
    [PG_EVENTS_RUN_STATE] = "SELECT state FROM run_history WHERE run_id = $1::bigint",
    [PG_EVENTS_LIST] =
        "SELECT seq, task_id, from_state, to_state, at, attempt, detail,"
        " map_index FROM task_event_log WHERE run_id = $1::bigint AND seq > $2::bigint"
        " UNION ALL SELECT r.events_seq0 + t.idx, t.task_id, NULL, 'PENDING', r.started_at, 0,"
        " NULL, -1 FROM runs r JOIN task_instances t ON t.run_id = r.run_id"
        " AND t.map_index = -1 AND t.idx > $2::bigint - r.events_seq0"
        " WHERE r.run_id = $1::bigint AND r.events_seq0 IS NOT NULL"
        " ORDER BY 1 LIMIT $3::bigint",
    [PG_COUNT_RUNS] = "SELECT state, count(*) FROM run_history GROUP BY state",
    [PG_COUNT_TASKS] = "SELECT t.state, count(*) FROM task_instances t"
                       " JOIN runs r ON r.run_id = t.run_id WHERE r.state = 'RUNNING'"
                       " GROUP BY t.state",
    /* Cancel requests (cancel.c): the first request's time and reason are kept. */
    [PG_CANCEL_REQUEST] =
        "UPDATE runs SET cancel_reason = CASE WHEN cancel_requested_at IS NULL THEN $1::text"
        " ELSE cancel_reason END, cancel_requested_at = COALESCE(cancel_requested_at, $2::bigint)"
        " WHERE run_id = $3::bigint AND state IN ('RUNNING', 'INTERRUPTED')",
    [PG_CANCEL_STATE] = "SELECT state FROM runs WHERE run_id = $1::bigint",
    [PG_CANCEL_CLEAR] = "UPDATE runs SET cancel_requested_at = NULL, cancel_reason = NULL"
                        " WHERE run_id = $1::bigint",
    [PG_CANCEL_LIST] = "SELECT run_id, cancel_requested_at, cancel_reason FROM runs"
                       " WHERE cancel_requested_at IS NOT NULL AND state = 'RUNNING'"
                       " ORDER BY run_id",
    [PG_CANCEL_ONE] = "SELECT run_id, cancel_requested_at, cancel_reason FROM runs"
                      " WHERE run_id = $1::bigint AND cancel_requested_at IS NOT NULL",
    [PG_CHILD_RUN] = "SELECT run_id, state FROM runs WHERE parent_run_id = $1::bigint"
                     " AND parent_task_id = $2::text ORDER BY run_id DESC LIMIT 1",
    [PG_PROC_ADD] = "INSERT INTO attempt_processes"
                    " (run_id, task_id, attempt, pgid, pid_started_at, host, cgroup, map_index)"
                    " VALUES ($1::bigint, $2::text, $3::bigint, $4::bigint, $5::bigint, $6::text,"
                    " $7::text, $8::bigint) ON CONFLICT DO NOTHING",
    [PG_PROCS_LIST] = "SELECT task_id, attempt, pgid, pid_started_at, host, cgroup, map_index"
                      " FROM attempt_processes WHERE run_id = $1::bigint"
                      " ORDER BY task_id, map_index, attempt, pgid",
    [PG_PROCS_FORGET] =
        "DELETE FROM attempt_processes WHERE run_id = $1::bigint AND host = $2::text",
    [PG_ATTEMPT_CHARGE] =
        "UPDATE attempts SET charged = 1"
        " WHERE run_id = $1::bigint AND task_id = $2::text AND attempt = $3::bigint"
        " AND map_index = $4::bigint",
    /* A crash reported by the crashed process's reporter (safety.c, SPEC §12): a worker's
     * claimed row (its name is "host:pid", engine/worker.c) marked, its lease ended now; or the
     * RUNNING attempt of a run that process still owns. */
    [PG_CRASH_WORK] =
        "UPDATE work_queue SET crashed_at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint,"
        " lease_until = LEAST(lease_until,"
        " (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
        " WHERE run_id = $1::bigint AND task_id = $2::text AND map_index = $3::bigint"
        " AND attempt = $4::bigint AND state IN (1, 2) AND worker = $6::text || ':' || $5::text",
    [PG_CRASH_ATTEMPT] =
        "UPDATE attempts a SET charged = 1 FROM runs r"
        " WHERE a.run_id = $1::bigint AND a.task_id = $2::text AND a.map_index = $3::bigint"
        " AND a.attempt = $4::bigint AND a.outcome = 'RUNNING' AND r.run_id = a.run_id"
        " AND r.state = 'RUNNING' AND r.engine_pid = $5::bigint AND r.engine_host = $6::text",
    [PG_PERIOD_CLOSE] = "UPDATE run_periods SET ended_at = GREATEST(started_at, $2::bigint)"
                        " WHERE run_id = $1::bigint AND ended_at IS NULL",
    [PG_PERIOD_OPEN] =
        "INSERT INTO run_periods (run_id, started_at) VALUES ($1::bigint, $2::bigint)"
        " ON CONFLICT DO NOTHING",
    [PG_PERIODS_LIST] = "SELECT started_at, ended_at FROM run_periods WHERE run_id = $1::bigint"
                        " ORDER BY started_at",
    /* One statement: the row inserted, or the one another engine inserted first. */
    [PG_SCHED_ANCHOR] = "WITH ins AS (INSERT INTO schedule_state (workflow, first_loaded_at)"
                        " VALUES ($1::text, $2::bigint) ON CONFLICT (workflow) DO NOTHING"
                        " RETURNING first_loaded_at)"
                        " SELECT first_loaded_at FROM ins UNION ALL"
                        " SELECT first_loaded_at FROM schedule_state WHERE workflow = $1::text",
    [PG_SCHED_LAST] = "SELECT max(logical_time) FROM schedule_log WHERE workflow = $1::text",
    /* A second engine inserting the same fire time waits for the first one's transaction, then
     * does nothing. */
    [PG_SCHED_INSERT] = "INSERT INTO schedule_log (workflow, logical_time, decision, run_id,"
                        " decided_at) VALUES ($1::text, $2::bigint, $3::text, $4::bigint,"
                        " $5::bigint) ON CONFLICT (workflow, logical_time) DO NOTHING",
    [PG_SCHED_FROM_QUEUED] = "UPDATE schedule_log SET decision = $3::text, run_id = $4::bigint"
                             " WHERE workflow = $1::text AND logical_time = $2::bigint"
                             " AND decision = 'queued'",
    [PG_SCHED_SET_RUN] = "UPDATE schedule_log SET run_id = $3::bigint,"
                         " decision = CASE WHEN $3::bigint IS NULL THEN 'queued' ELSE decision END"
                         " WHERE workflow = $1::text AND logical_time = $2::bigint",
    [PG_SCHED_QUEUED] = "SELECT logical_time FROM schedule_log WHERE workflow = $1::text"
                        " AND decision = 'queued' ORDER BY logical_time LIMIT $2::bigint",
    [PG_ACTIVE_RUNS] = "SELECT count(*) FROM runs WHERE workflow = $1::text"
                       " AND state IN ('RUNNING', 'INTERRUPTED')",
    [PG_SERVE_RUNS] = "SELECT run_id, workflow FROM runs WHERE engine_kind = 'serve'"
                      " AND state IN ('RUNNING', 'INTERRUPTED') ORDER BY run_id",
};

/* See internal.h. */
const char *df_pg_sql(enum df_pg_stmt_id id)
{
    if (id >= PG_WORK_ENQUEUE)
        return df_pg_work_sql(id);
    return pg_sql[id];
}
