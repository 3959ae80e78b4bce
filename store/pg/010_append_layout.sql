-- store/pg/010_append_layout.sql: schema version 10 of the dagflow PostgreSQL store, from
-- version 9. Why (issue 14, a store layout made for appending): as
-- store/sqlite/010_append_layout.sql — a new run writes no run_edges rows (its edges are the
-- depends_on lists of runs.dag) and no creation events: the view task_event_rows synthesises the
-- NULL -> PENDING event of each task (map_index -1) with seq runs.events_seq0 + idx, at
-- runs.started_at, attempt 0. A new run takes that block of seq values from the identity
-- sequence of task_event_log.seq (store/pg/runs.c), so every later event of the run has a higher
-- seq; when another session's nextval made the block not contiguous, the run stores its creation
-- events as before and leaves events_seq0 NULL (so do the runs recorded before this version).
-- task_event_rows (internal): every event with raw values (at in ms, map_index -1 for none);
-- task_events (SPEC §7/§10) is created again over it with the columns of 005_map_index.sql.

ALTER TABLE runs ADD COLUMN events_seq0 bigint;

CREATE VIEW task_event_rows AS
SELECT e.seq AS seq, e.run_id AS run_id, e.task_id AS task_id, e.from_state AS from_state,
       e.to_state AS to_state, e.at AS at, e.attempt AS attempt, e.detail AS detail,
       e.map_index AS map_index
  FROM task_event_log e
UNION ALL
SELECT r.events_seq0 + t.idx, t.run_id, t.task_id, NULL, 'PENDING', r.started_at, 0, NULL,
       -1::bigint
  FROM runs r
  JOIN task_instances t ON t.run_id = r.run_id AND t.map_index = -1
 WHERE r.events_seq0 IS NOT NULL;

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
  FROM task_event_rows e;

INSERT INTO dagflow_schema (version) VALUES (10);
