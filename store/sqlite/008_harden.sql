-- store/sqlite/008_harden.sql: schema version 8 of the dagflow store, from version 7.
-- store/sqlite/open.c applies it inside the migration transaction. Never changes once released
-- (but for this header, which SQLite does not keep).
--
-- Why (SPEC §12, issue 15):
--   attempt_processes: the process group (with its leader's start time, host and control group)
--     of every child an attempt started, so that before an attempt runs again after a crash or a
--     takeover its predecessor's processes can be confirmed gone (killed, on this host);
--   attempts.charged: for a LOST attempt, 1 when the crash was attributed to the task's own code
--     (the crash handler named it), else NULL: three charged losses in a row fail a task, ten of
--     any kind;
--   run_periods: the periods during which an engine ran the run (from its start or takeover to
--     its end, interruption or last heartbeat), so that durations count time running only: the
--     views' duration_ms for runs and tasks is the time inside these periods (runs recorded
--     before this version have none and keep ended_at - started_at). run_history and
--     task_history are created again as 006_map_index.sql left them, but for
--     duration_ms.

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

ALTER TABLE attempts ADD COLUMN charged INTEGER;

CREATE TABLE run_periods (
    run_id     INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    PRIMARY KEY (run_id, started_at)
) WITHOUT ROWID;

DROP VIEW IF EXISTS run_history;
DROP VIEW IF EXISTS task_history;

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
