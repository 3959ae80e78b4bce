-- store/sqlite/005_service.sql: schema version 5 of the dagflow store, from version 4.
-- store/sqlite/open.c applies it inside the migration transaction. Never changes once released
-- (but for this header, which SQLite does not keep).
--
-- Why: SPEC §9 and §10 (the service and its schedules).
--   runs gains
--     trigger         what started the run: manual (dagflow run, the embedding API by default),
--                     schedule, api (serve's HTTP API), workflow (a child run of the `workflow`
--                     plugin); older runs are manual
--     logical_time    the run's logical time (ms): the fire time of a scheduled run, else its
--                     creation time; NULL for runs recorded before this version (the views show
--                     started_at then)
--     parent_run_id, parent_task_id
--                     the parent run and task of a child run (the `workflow` plugin), else NULL
--     error           why the run ended as it did when that is not a task's error (timed out,
--                     cancelled), else NULL
--     engine_kind     'serve' when the engine owning the run (the engine_* columns) is a
--                     `dagflow serve`, NULL for any other engine: serve resumes only the runs
--                     a serve engine left behind (SPEC §9)
--   schedule_log      one row per fire time decided (the schedule_history view): PRIMARY KEY
--                     (workflow, logical_time), so a fire time is decided once whatever the
--                     number of engines or crashes; decision run | queued | skipped | dropped;
--                     run_id the run it created (a queued one gets it when it starts)
--   schedule_state    per workflow: when a serve first loaded it on this database (ms; the
--                     anchor of an interval_ms schedule without start_at, and the start of what
--                     counts as missed)
--   runs_scheduled_once
--                     at most one scheduled run per workflow and logical time
--
-- CHECK lists are written with OR, not IN (...), as in 002_check_lists.sql: SQLite builds a
-- temporary b-tree for an IN list at every insert.
--
-- How: columns added in place (older rows take the defaults); run_history dropped and created
-- again with the new columns at its end; schedule_history added.

DROP VIEW run_history;

ALTER TABLE runs ADD COLUMN trigger TEXT NOT NULL DEFAULT 'manual'
    CHECK (trigger = 'manual' OR trigger = 'schedule' OR trigger = 'api'
           OR trigger = 'workflow');
ALTER TABLE runs ADD COLUMN logical_time INTEGER;
ALTER TABLE runs ADD COLUMN parent_run_id INTEGER;
ALTER TABLE runs ADD COLUMN parent_task_id TEXT;
ALTER TABLE runs ADD COLUMN error TEXT;
ALTER TABLE runs ADD COLUMN engine_kind TEXT;
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

-- Views: SPEC §7 and §10. Times as ISO-8601 UTC text with milliseconds, durations in ms.

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
           AS tasks_failed,
       r.trigger AS trigger,
       strftime('%Y-%m-%dT%H:%M:%fZ', COALESCE(r.logical_time, r.started_at) / 1000.0,
                'unixepoch') AS logical_time,
       r.parent_run_id AS parent_run_id,
       r.parent_task_id AS parent_task_id,
       r.error AS error
  FROM runs r;

CREATE VIEW schedule_history AS
SELECT l.workflow AS workflow,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.logical_time / 1000.0, 'unixepoch') AS logical_time,
       l.decision AS decision,
       l.run_id AS run_id,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.decided_at / 1000.0, 'unixepoch') AS decided_at
  FROM schedule_log l;
