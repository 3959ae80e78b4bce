-- store/pg/004_service.sql: schema version 4 of the PostgreSQL store, from version 3 (the same
-- change as store/sqlite/005_service.sql, whose header says what each column and table holds).
-- Never changes once released.
--
-- SPEC §9 and §10: runs gain trigger, logical_time, parent_run_id, parent_task_id, error and
-- engine_kind; schedule_log (the schedule_history view) and schedule_state are added;
-- run_history is created again with the new columns at its end.

DROP VIEW run_history;

ALTER TABLE runs ADD COLUMN trigger text NOT NULL DEFAULT 'manual'
    CHECK (trigger IN ('manual', 'schedule', 'api', 'workflow'));
ALTER TABLE runs ADD COLUMN logical_time bigint;
ALTER TABLE runs ADD COLUMN parent_run_id bigint;
ALTER TABLE runs ADD COLUMN parent_task_id text;
ALTER TABLE runs ADD COLUMN error text;
ALTER TABLE runs ADD COLUMN engine_kind text;
CREATE UNIQUE INDEX runs_scheduled_once ON runs (workflow, logical_time)
    WHERE trigger = 'schedule';
CREATE INDEX runs_by_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX runs_unfinished ON runs (workflow) WHERE state IN ('RUNNING', 'INTERRUPTED');

CREATE TABLE schedule_log (
    workflow     text   NOT NULL,
    logical_time bigint NOT NULL,
    decision     text   NOT NULL CHECK (decision IN ('run', 'queued', 'skipped', 'dropped')),
    run_id       bigint,
    decided_at   bigint NOT NULL,
    PRIMARY KEY (workflow, logical_time)
);
CREATE INDEX schedule_log_queued ON schedule_log (workflow, logical_time)
    WHERE decision = 'queued';

CREATE TABLE schedule_state (
    workflow        text   PRIMARY KEY,
    first_loaded_at bigint NOT NULL
);

CREATE VIEW run_history AS
SELECT r.run_id AS run_id,
       r.workflow AS workflow,
       CASE
           WHEN r.state = 'RUNNING'
                AND COALESCE(r.heartbeat_at, r.started_at) < dagflow_now_ms() - 30000
               THEN 'INTERRUPTED'
           ELSE r.state
       END AS state,
       dagflow_ts(r.started_at) AS started_at,
       dagflow_ts(r.ended_at) AS ended_at,
       r.ended_at - r.started_at AS duration_ms,
       (SELECT count(*) FROM task_instances t WHERE t.run_id = r.run_id) AS tasks_total,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.state = 'SUCCESS') AS tasks_succeeded,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.state IN ('FAILED', 'UPSTREAM_FAILED', 'INVALID'))
           AS tasks_failed,
       r.trigger AS trigger,
       dagflow_ts(COALESCE(r.logical_time, r.started_at)) AS logical_time,
       r.parent_run_id AS parent_run_id,
       r.parent_task_id AS parent_task_id,
       r.error AS error
  FROM runs r;

CREATE VIEW schedule_history AS
SELECT l.workflow AS workflow,
       dagflow_ts(l.logical_time) AS logical_time,
       l.decision AS decision,
       l.run_id AS run_id,
       dagflow_ts(l.decided_at) AS decided_at
  FROM schedule_log l;

INSERT INTO dagflow_schema (version) VALUES (4);
