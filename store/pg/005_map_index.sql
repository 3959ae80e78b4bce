-- store/pg/005_map_index.sql: schema version 5 of the PostgreSQL store, from version 4 (the same
-- change as store/sqlite/006_map_index.sql). Never changes once released.
--
-- SPEC §8 and §10, dynamic mapping: a task instance is keyed by (run_id, task_id, map_index);
-- map_index is -1 in the tables for an unmapped task (and a mapped task's own row), NULL in the
-- views, which gain it as their last column (CREATE OR REPLACE VIEW may only add columns at the
-- end). run_edges' foreign keys to (run_id, task_id), no longer unique, become one to runs.

ALTER TABLE run_edges DROP CONSTRAINT run_edges_run_id_upstream_fkey;
ALTER TABLE run_edges DROP CONSTRAINT run_edges_run_id_downstream_fkey;
ALTER TABLE run_edges ADD FOREIGN KEY (run_id) REFERENCES runs (run_id) ON DELETE CASCADE;
ALTER TABLE task_event_log DROP CONSTRAINT task_event_log_run_id_task_id_fkey;
ALTER TABLE attempts DROP CONSTRAINT attempts_run_id_task_id_fkey;

ALTER TABLE task_instances ADD COLUMN map_index bigint NOT NULL DEFAULT -1
    CHECK (map_index >= -1);
ALTER TABLE task_instances DROP CONSTRAINT task_instances_pkey;
ALTER TABLE task_instances ADD PRIMARY KEY (run_id, task_id, map_index);
DROP INDEX task_instances_by_idx;
CREATE UNIQUE INDEX task_instances_by_idx ON task_instances (run_id, idx, map_index);

ALTER TABLE task_event_log ADD COLUMN map_index bigint NOT NULL DEFAULT -1;
ALTER TABLE task_event_log ADD FOREIGN KEY (run_id, task_id, map_index)
    REFERENCES task_instances (run_id, task_id, map_index) ON DELETE CASCADE;
DROP INDEX task_event_log_by_task;
CREATE INDEX task_event_log_by_task ON task_event_log (run_id, task_id, map_index, seq);

ALTER TABLE attempts ADD COLUMN map_index bigint NOT NULL DEFAULT -1;
ALTER TABLE attempts DROP CONSTRAINT attempts_pkey;
ALTER TABLE attempts ADD PRIMARY KEY (run_id, task_id, map_index, attempt);
ALTER TABLE attempts ADD FOREIGN KEY (run_id, task_id, map_index)
    REFERENCES task_instances (run_id, task_id, map_index) ON DELETE CASCADE;

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
       t.ended_at - t.started_at AS duration_ms,
       t.error AS error,
       NULLIF(t.map_index, -1) AS map_index
  FROM task_instances t
  JOIN runs r ON r.run_id = t.run_id;

CREATE OR REPLACE VIEW task_events AS
SELECT e.seq AS seq,
       e.run_id AS run_id,
       e.task_id AS task_id,
       e.from_state AS from_state,
       e.to_state AS to_state,
       dagflow_ts(e.at) AS at,
       e.attempt AS attempt,
       e.detail AS detail,
       NULLIF(e.map_index, -1) AS map_index
  FROM task_event_log e;

CREATE OR REPLACE VIEW attempt_history AS
SELECT a.run_id AS run_id,
       a.task_id AS task_id,
       a.attempt AS attempt,
       a.outcome AS outcome,
       dagflow_ts(a.started_at) AS started_at,
       dagflow_ts(a.ended_at) AS ended_at,
       a.ended_at - a.started_at AS duration_ms,
       a.error AS error,
       a.log AS log,
       NULLIF(a.map_index, -1) AS map_index
  FROM attempts a;


INSERT INTO dagflow_schema (version) VALUES (5);
