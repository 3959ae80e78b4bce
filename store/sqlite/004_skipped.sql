-- store/sqlite/004_skipped.sql: schema version 4 of the dagflow store, from version 3.
-- store/sqlite/open.c applies it inside the migration transaction with foreign key enforcement
-- off, so that dropping the old table deletes nothing else. Never changes once released (but for
-- this header, which SQLite does not keep).
--
-- Why: SPEC §10 adds the attempt outcome SKIPPED (the plugin returned DF_TASK_SKIPPED): the CHECK
-- list of attempts.outcome gains it; nothing else changes.
--
-- How: as 002_check_lists.sql: the table is rebuilt under a new name with every row, the old one
-- dropped, the new one renamed, and the views, dropped first, are created again unchanged.

DROP VIEW run_history;
DROP VIEW task_history;
DROP VIEW task_events;
DROP VIEW attempt_history;
DROP VIEW alert_history;
DROP VIEW breaker_history;

CREATE TABLE dagflow_v4_attempts (
    run_id     INTEGER NOT NULL,
    task_id    TEXT    NOT NULL,
    attempt    INTEGER NOT NULL CHECK (attempt >= 1),
    outcome    TEXT    NOT NULL
        CHECK (outcome = 'RUNNING' OR outcome = 'SUCCESS' OR outcome = 'FAILED'
               OR outcome = 'TIMED_OUT' OR outcome = 'CANCELLED' OR outcome = 'LOST'
               OR outcome = 'SKIPPED'),
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    error      TEXT,
    log        TEXT,
    PRIMARY KEY (run_id, task_id, attempt),
    FOREIGN KEY (run_id, task_id) REFERENCES task_instances (run_id, task_id) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO dagflow_v4_attempts SELECT * FROM attempts;
DROP TABLE attempts;
ALTER TABLE dagflow_v4_attempts RENAME TO attempts;

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
       (SELECT count(*) FROM task_instances t WHERE t.run_id = r.run_id) AS tasks_total,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.state = 'SUCCESS') AS tasks_succeeded,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.state IN ('FAILED', 'UPSTREAM_FAILED', 'INVALID'))
           AS tasks_failed
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
       t.error AS error
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
       e.detail AS detail
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
       a.log AS log
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
