-- store/sqlite/fresh_011.sql: schema version 11 of the dagflow store in one piece, for a new
-- (empty) file only. store/sqlite/open.c applies it instead of schema.sql and migrations 002-011
-- (then any later migration as usual), inside the same transaction, with foreign key enforcement
-- off. It is those migrations' result on an empty file, statement for statement as SQLite keeps
-- it in sqlite_schema (made with `sqlite3 NEW.db "SELECT sql || ';' FROM sqlite_schema WHERE
-- sql IS NOT NULL AND name <> 'sqlite_sequence' ORDER BY rowid"` after applying them), plus the
-- counter that 010_append_layout.sql sets. Why (issue 14, start-up): the migrations rebuild
-- tables and views one after another, and SQLite parses the whole schema again after each
-- change: a new database cost ~35 ms of CPU before its first run, this ~5 ms. unit test_store_fresh
-- checks that a file made with it and one made by the migrations have the same schema, counters
-- and version. Never edited by hand; never changes once released (a later migration goes on top).
CREATE TABLE "alerts" (
    alert_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id      TEXT,
    event        TEXT    NOT NULL,
    sink         TEXT    NOT NULL,
    sink_index   INTEGER NOT NULL,
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status = 'pending' OR status = 'delivered' OR status = 'failed'),
    tries        INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    error        TEXT
);
CREATE INDEX alerts_by_run_status ON alerts (run_id, status, alert_id);
CREATE TABLE "breaker_log" (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id      TEXT,
    breaker      TEXT    NOT NULL,
    from_state   TEXT    NOT NULL CHECK (from_state = 'CLOSED' OR from_state = 'OPEN' OR from_state = 'HALF_OPEN'),
    to_state     TEXT    NOT NULL CHECK (to_state = 'CLOSED' OR to_state = 'OPEN' OR to_state = 'HALF_OPEN'),
    failure_rate REAL    NOT NULL,
    calls        INTEGER NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX breaker_log_by_run ON breaker_log (run_id, seq);
CREATE TABLE "runs" (
    run_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow          TEXT    NOT NULL,
    state             TEXT    NOT NULL
        CHECK (state = 'RUNNING' OR state = 'SUCCESS' OR state = 'FAILED'
               OR state = 'INVALID' OR state = 'INTERRUPTED' OR state = 'CANCELLED'),
    started_at        INTEGER NOT NULL,
    ended_at          INTEGER,
    path              TEXT,
    dir               TEXT,
    params            TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    plugins           TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(plugins)),
    engine_pid        INTEGER,
    engine_host       TEXT,
    engine_started_at INTEGER,
    heartbeat_at      INTEGER,
    metrics           TEXT    CHECK (metrics IS NULL OR json_valid(metrics))
, trigger TEXT NOT NULL DEFAULT 'manual'
    CHECK (trigger = 'manual' OR trigger = 'schedule' OR trigger = 'api'
           OR trigger = 'workflow'), logical_time INTEGER, parent_run_id INTEGER, parent_task_id TEXT, error TEXT, engine_kind TEXT, cancel_requested_at INTEGER, cancel_reason TEXT, lease_until INTEGER, events_seq0 INTEGER);
CREATE INDEX runs_by_workflow ON runs (workflow, run_id);
CREATE UNIQUE INDEX runs_scheduled_once ON runs (workflow, logical_time)
    WHERE trigger = 'schedule';
CREATE INDEX runs_by_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX runs_unfinished ON runs (workflow) WHERE state = 'RUNNING' OR state = 'INTERRUPTED';
CREATE TABLE schedule_log (
    workflow     TEXT    NOT NULL,
    logical_time INTEGER NOT NULL,
    decision     TEXT    NOT NULL
        CHECK (decision = 'run' OR decision = 'queued' OR decision = 'skipped'
               OR decision = 'dropped'),
    run_id       INTEGER,
    decided_at   INTEGER NOT NULL,
    PRIMARY KEY (workflow, logical_time)
) WITHOUT ROWID;
CREATE INDEX schedule_log_queued ON schedule_log (workflow, logical_time)
    WHERE decision = 'queued';
CREATE TABLE schedule_state (
    workflow        TEXT    PRIMARY KEY,
    first_loaded_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE VIEW schedule_history AS
SELECT l.workflow AS workflow,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.logical_time / 1000.0, 'unixepoch') AS logical_time,
       l.decision AS decision,
       l.run_id AS run_id,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.decided_at / 1000.0, 'unixepoch') AS decided_at
  FROM schedule_log l;
CREATE TABLE "task_instances" (
    run_id        INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id       TEXT    NOT NULL,
    map_index     INTEGER NOT NULL DEFAULT -1 CHECK (map_index >= -1),
    idx           INTEGER NOT NULL,
    plugin        TEXT    NOT NULL,
    state         TEXT    NOT NULL
        CHECK (state = 'PENDING' OR state = 'QUEUED' OR state = 'RUNNING'
               OR state = 'UP_FOR_RETRY' OR state = 'SUCCESS' OR state = 'FAILED'
               OR state = 'UPSTREAM_FAILED' OR state = 'SKIPPED' OR state = 'INVALID'
               OR state = 'CANCELLED'),
    attempt       INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    retry_base    INTEGER NOT NULL DEFAULT 0 CHECK (retry_base >= 0),
    next_retry_at INTEGER,
    started_at    INTEGER,
    ended_at      INTEGER,
    error         TEXT,
    result        TEXT    CHECK (result IS NULL OR json_valid(result)),
    PRIMARY KEY (run_id, task_id, map_index)
) WITHOUT ROWID;
CREATE UNIQUE INDEX task_instances_by_idx ON task_instances (run_id, idx, map_index);
CREATE TABLE "run_edges" (
    run_id     INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    upstream   TEXT    NOT NULL,
    downstream TEXT    NOT NULL,
    PRIMARY KEY (run_id, upstream, downstream)
) WITHOUT ROWID;
CREATE INDEX run_edges_by_downstream ON run_edges (run_id, downstream);
CREATE TABLE "attempts" (
    run_id     INTEGER NOT NULL,
    task_id    TEXT    NOT NULL,
    map_index  INTEGER NOT NULL DEFAULT -1,
    attempt    INTEGER NOT NULL CHECK (attempt >= 1),
    outcome    TEXT    NOT NULL
        CHECK (outcome = 'RUNNING' OR outcome = 'SUCCESS' OR outcome = 'FAILED'
               OR outcome = 'TIMED_OUT' OR outcome = 'CANCELLED' OR outcome = 'LOST'
               OR outcome = 'SKIPPED'),
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    error      TEXT,
    log        TEXT, charged INTEGER, output TEXT,
    PRIMARY KEY (run_id, task_id, map_index, attempt),
    FOREIGN KEY (run_id, task_id, map_index)
        REFERENCES task_instances (run_id, task_id, map_index) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE VIEW attempt_history AS
SELECT a.run_id AS run_id,
       a.task_id AS task_id,
       a.attempt AS attempt,
       a.outcome AS outcome,
       strftime('%Y-%m-%dT%H:%M:%fZ', a.started_at / 1000.0, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', a.ended_at / 1000.0, 'unixepoch') AS ended_at,
       a.ended_at - a.started_at AS duration_ms,
       a.error AS error,
       a.log AS log,
       NULLIF(a.map_index, -1) AS map_index
  FROM attempts a;
CREATE VIEW alert_history AS
SELECT l.alert_id AS alert_id,
       l.run_id AS run_id,
       l.task_id AS task_id,
       l.event AS event,
       l.sink AS sink,
       l.status AS status,
       l.tries AS tries,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.created_at / 1000.0, 'unixepoch') AS created_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.delivered_at / 1000.0, 'unixepoch') AS delivered_at,
       l.error AS error
  FROM alerts l;
CREATE VIEW breaker_history AS
SELECT b.seq AS seq,
       b.run_id AS run_id,
       b.task_id AS task_id,
       b.breaker AS breaker,
       b.from_state AS from_state,
       b.to_state AS to_state,
       b.failure_rate AS failure_rate,
       b.calls AS calls,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.at / 1000.0, 'unixepoch') AS at
  FROM breaker_log b;
CREATE INDEX runs_cancel_requested ON runs (run_id)
    WHERE cancel_requested_at IS NOT NULL AND state = 'RUNNING';
CREATE TABLE attempt_processes (
    run_id         INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id        TEXT    NOT NULL,
    map_index      INTEGER NOT NULL DEFAULT -1,
    attempt        INTEGER NOT NULL,
    pgid           INTEGER NOT NULL,
    pid_started_at INTEGER NOT NULL,
    host           TEXT    NOT NULL,
    cgroup         TEXT,
    PRIMARY KEY (run_id, task_id, map_index, attempt, pgid)
) WITHOUT ROWID;
CREATE TABLE run_periods (
    run_id     INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    PRIMARY KEY (run_id, started_at)
) WITHOUT ROWID;
CREATE VIEW run_history AS
SELECT r.run_id AS run_id,
       r.workflow AS workflow,
       CASE
           WHEN r.state = 'RUNNING'
                AND COALESCE(r.heartbeat_at, r.started_at)
                    < CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - 30000
               THEN 'INTERRUPTED'
           ELSE r.state
       END AS state,
       strftime('%Y-%m-%dT%H:%M:%fZ', r.started_at / 1000.0, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', r.ended_at / 1000.0, 'unixepoch') AS ended_at,
       CASE
           WHEN r.ended_at IS NULL THEN NULL
           WHEN EXISTS (SELECT 1 FROM run_periods p WHERE p.run_id = r.run_id)
               THEN (SELECT sum(max(0, min(COALESCE(p.ended_at, r.ended_at), r.ended_at)
                                       - p.started_at))
                       FROM run_periods p WHERE p.run_id = r.run_id)
           ELSE r.ended_at - r.started_at
       END AS duration_ms,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.map_index = -1) AS tasks_total,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.map_index = -1 AND t.state = 'SUCCESS') AS tasks_succeeded,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.map_index = -1
           AND t.state IN ('FAILED', 'UPSTREAM_FAILED', 'INVALID'))
           AS tasks_failed,
       r.trigger AS trigger,
       strftime('%Y-%m-%dT%H:%M:%fZ', COALESCE(r.logical_time, r.started_at) / 1000.0,
                'unixepoch') AS logical_time,
       r.parent_run_id AS parent_run_id,
       r.parent_task_id AS parent_task_id,
       r.error AS error
  FROM runs r;
CREATE VIEW task_history AS
SELECT t.run_id AS run_id,
       r.workflow AS workflow,
       t.task_id AS task_id,
       t.plugin AS plugin,
       t.state AS state,
       t.attempt AS attempts,
       strftime('%Y-%m-%dT%H:%M:%fZ', t.started_at / 1000.0, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', t.ended_at / 1000.0, 'unixepoch') AS ended_at,
       CASE
           WHEN t.ended_at IS NULL OR t.started_at IS NULL THEN NULL
           WHEN EXISTS (SELECT 1 FROM run_periods p WHERE p.run_id = t.run_id)
               THEN (SELECT COALESCE(sum(max(0, min(COALESCE(p.ended_at, t.ended_at), t.ended_at)
                                                - max(p.started_at, t.started_at))), 0)
                       FROM run_periods p WHERE p.run_id = t.run_id)
           ELSE t.ended_at - t.started_at
       END AS duration_ms,
       t.error AS error,
       NULLIF(t.map_index, -1) AS map_index
  FROM task_instances t
  JOIN runs r ON r.run_id = t.run_id;
CREATE TABLE "task_event_log" (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     INTEGER NOT NULL,
    task_id    TEXT    NOT NULL,
    from_state TEXT,
    to_state   TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    detail     TEXT,
    map_index  INTEGER NOT NULL DEFAULT -1,
    FOREIGN KEY (run_id, task_id, map_index)
        REFERENCES task_instances (run_id, task_id, map_index) ON DELETE CASCADE
);
CREATE INDEX task_event_log_by_task ON task_event_log (run_id, task_id, map_index, seq);
CREATE TABLE run_dags (
    run_id INTEGER PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    dag    TEXT    NOT NULL CHECK (json_valid(dag))
);
CREATE VIEW task_event_rows AS
SELECT e.seq AS seq, e.run_id AS run_id, e.task_id AS task_id, e.from_state AS from_state,
       e.to_state AS to_state, e.at AS at, e.attempt AS attempt, e.detail AS detail,
       e.map_index AS map_index
  FROM task_event_log e
UNION ALL
SELECT r.events_seq0 + t.idx, t.run_id, t.task_id, NULL, 'PENDING', r.started_at, 0, NULL, -1
  FROM runs r
  JOIN task_instances t ON t.run_id = r.run_id AND t.map_index = -1
 WHERE r.events_seq0 IS NOT NULL;
CREATE VIEW task_events AS
SELECT e.seq AS seq,
       e.run_id AS run_id,
       e.task_id AS task_id,
       e.from_state AS from_state,
       e.to_state AS to_state,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.at / 1000.0, 'unixepoch') AS at,
       e.attempt AS attempt,
       e.detail AS detail,
       NULLIF(e.map_index, -1) AS map_index
  FROM task_event_rows e;
INSERT INTO sqlite_sequence (name, seq) VALUES ('task_event_log', 0);
