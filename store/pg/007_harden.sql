-- store/pg/007_harden.sql: schema version 7 of the PostgreSQL store, from version 6 (the same
-- change as store/sqlite/008_harden.sql: attempt_processes, attempts.charged, run_periods, and
-- the durations of run_history and task_history counted inside run_periods). Never changes once
-- released.

CREATE TABLE attempt_processes (
    run_id         bigint NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id        text   NOT NULL,
    map_index      bigint NOT NULL DEFAULT -1,
    attempt        bigint NOT NULL,
    pgid           bigint NOT NULL,
    pid_started_at bigint NOT NULL,
    host           text   NOT NULL,
    cgroup         text,
    PRIMARY KEY (run_id, task_id, map_index, attempt, pgid)
);

ALTER TABLE attempts ADD COLUMN charged integer;

CREATE TABLE run_periods (
    run_id     bigint NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    started_at bigint NOT NULL,
    ended_at   bigint,
    PRIMARY KEY (run_id, started_at)
);

CREATE OR REPLACE VIEW run_history AS
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
       CASE
           WHEN r.ended_at IS NULL THEN NULL
           WHEN EXISTS (SELECT 1 FROM run_periods p WHERE p.run_id = r.run_id)
               THEN (SELECT sum(GREATEST(0, LEAST(COALESCE(p.ended_at, r.ended_at), r.ended_at)
                                            - p.started_at))
                       FROM run_periods p WHERE p.run_id = r.run_id)::bigint
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
       dagflow_ts(COALESCE(r.logical_time, r.started_at)) AS logical_time,
       r.parent_run_id AS parent_run_id,
       r.parent_task_id AS parent_task_id,
       r.error AS error
  FROM runs r;

CREATE OR REPLACE VIEW task_history AS
SELECT t.run_id AS run_id,
       r.workflow AS workflow,
       t.task_id AS task_id,
       t.plugin AS plugin,
       t.state AS state,
       t.attempt AS attempts,
       dagflow_ts(t.started_at) AS started_at,
       dagflow_ts(t.ended_at) AS ended_at,
       CASE
           WHEN t.ended_at IS NULL OR t.started_at IS NULL THEN NULL
           WHEN EXISTS (SELECT 1 FROM run_periods p WHERE p.run_id = t.run_id)
               THEN (SELECT COALESCE(sum(GREATEST(0, LEAST(COALESCE(p.ended_at, t.ended_at),
                                                           t.ended_at)
                                                     - GREATEST(p.started_at, t.started_at))),
                                     0)
                       FROM run_periods p WHERE p.run_id = t.run_id)::bigint
           ELSE t.ended_at - t.started_at
       END AS duration_ms,
       t.error AS error,
       NULLIF(t.map_index, -1) AS map_index
  FROM task_instances t
  JOIN runs r ON r.run_id = t.run_id;

INSERT INTO dagflow_schema (version) VALUES (7);
