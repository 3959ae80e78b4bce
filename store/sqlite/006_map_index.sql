-- store/sqlite/006_map_index.sql: schema version 6 of the dagflow store, from version 5.
-- store/sqlite/open.c applies it inside the migration transaction with foreign key enforcement
-- off, so that dropping the old tables deletes nothing else. Never changes once released (but for
-- this header, which SQLite does not keep).
--
-- Why: SPEC §8 and §10, dynamic mapping: a task with for_each expands into mapped task instances,
-- each with its own state, attempts and events. A task instance is now keyed by (run_id,
-- task_id, map_index); map_index is -1 in the tables for an unmapped task (and for the mapped
-- task's own row), and the views show it as NULL there (SPEC §10: task_history, attempt_history
-- and task_events gain map_index, NULL for an unmapped task). run_history keeps counting tasks
-- (rows with map_index -1), not instances.
--
-- How: task_instances, attempts and task_event_log are rebuilt with the column and the new keys
-- (as 002_check_lists.sql rebuilds tables); run_edges, whose foreign keys named (run_id, task_id)
-- of task_instances, which is no longer unique, is rebuilt with a foreign key to runs instead.
-- Rows keep every value; existing ones get map_index -1. In the WITHOUT ROWID tables map_index
-- comes right after task_id, with the other key columns: SQLite 3.40's integrity_check reports
-- false "NULL value" errors on such a table with an index when a key column follows others. The views, dropped first, are created
-- again last with map_index added as their last column.

DROP VIEW run_history;
DROP VIEW task_history;
DROP VIEW task_events;
DROP VIEW attempt_history;
DROP VIEW alert_history;
DROP VIEW breaker_history;

CREATE TABLE dagflow_v6_task_instances (
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
INSERT INTO dagflow_v6_task_instances
    (run_id, task_id, idx, plugin, state, attempt, retry_base, next_retry_at, started_at,
     ended_at, error, result, map_index)
    SELECT run_id, task_id, idx, plugin, state, attempt, retry_base, next_retry_at, started_at,
           ended_at, error, result, -1 FROM task_instances;
DROP TABLE task_instances;
ALTER TABLE dagflow_v6_task_instances RENAME TO task_instances;
CREATE UNIQUE INDEX task_instances_by_idx ON task_instances (run_id, idx, map_index);

CREATE TABLE dagflow_v6_run_edges (
    run_id     INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    upstream   TEXT    NOT NULL,
    downstream TEXT    NOT NULL,
    PRIMARY KEY (run_id, upstream, downstream)
) WITHOUT ROWID;
INSERT INTO dagflow_v6_run_edges SELECT run_id, upstream, downstream FROM run_edges;
DROP TABLE run_edges;
ALTER TABLE dagflow_v6_run_edges RENAME TO run_edges;
CREATE INDEX run_edges_by_downstream ON run_edges (run_id, downstream);

CREATE TABLE dagflow_v6_task_event_log (
    seq        INTEGER PRIMARY KEY,
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
INSERT INTO dagflow_v6_task_event_log
    (seq, run_id, task_id, from_state, to_state, at, attempt, detail, map_index)
    SELECT seq, run_id, task_id, from_state, to_state, at, attempt, detail, -1
      FROM task_event_log;
DROP TABLE task_event_log;
ALTER TABLE dagflow_v6_task_event_log RENAME TO task_event_log;
CREATE INDEX task_event_log_by_task ON task_event_log (run_id, task_id, map_index, seq);

CREATE TABLE dagflow_v6_attempts (
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
    log        TEXT,
    PRIMARY KEY (run_id, task_id, map_index, attempt),
    FOREIGN KEY (run_id, task_id, map_index)
        REFERENCES task_instances (run_id, task_id, map_index) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO dagflow_v6_attempts
    (run_id, task_id, attempt, outcome, started_at, ended_at, error, log, map_index)
    SELECT run_id, task_id, attempt, outcome, started_at, ended_at, error, log, -1 FROM attempts;
DROP TABLE attempts;
ALTER TABLE dagflow_v6_attempts RENAME TO attempts;

-- Views: SPEC §7, the stable query surface. Times as ISO-8601 UTC text with milliseconds,
-- durations as integers in milliseconds (NULL while unfinished).

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
       r.ended_at - r.started_at AS duration_ms,
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
       t.ended_at - t.started_at AS duration_ms,
       t.error AS error,
       NULLIF(t.map_index, -1) AS map_index
  FROM task_instances t
  JOIN runs r ON r.run_id = t.run_id;

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
  FROM task_event_log e;

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

-- breaker_history: every circuit breaker state change (SPEC §3a), in order of seq. An addition to
-- SPEC §7's surface, documented in the README.
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
