-- store/sqlite/010_append_layout.sql: schema version 10 of the dagflow store, from version 9.
-- store/sqlite/open.c applies it inside the migration transaction with foreign key enforcement
-- off. Never changes once released (but for this header, which SQLite does not keep).
--
-- Why (issue 14, a store layout made for appending): a new run no longer writes rows that only
-- repeat its stored DAG (runs.dag):
--   run_edges         gets no rows for runs recorded from this version on (their edges are the
--                     depends_on lists in runs.dag); older runs keep theirs.
--   creation events   the NULL -> PENDING event of each task (map_index -1) is not stored: the
--                     view task_event_rows synthesises it from the task row, with seq
--                     runs.events_seq0 + task_instances.idx, at runs.started_at, attempt 0.
--                     A new run reserves that block of seq values when it is created, so every
--                     later event of the run has a higher seq (SPEC §7: seq increases with each
--                     transition within a run). runs.events_seq0 is NULL for runs recorded
--                     before this version, whose creation events stay stored.
-- The reservation needs task_event_log.seq to come from sqlite_sequence (AUTOINCREMENT: the
-- next seq is above the highest ever reserved, not the highest stored), so task_event_log is
-- rebuilt as 006_map_index.sql left it but for AUTOINCREMENT, every row kept, and its counter
-- set to the highest seq. The mapped instances' events (SPEC §8) are still stored.
--
-- The DAG snapshot moves out of the runs row into run_dags (run_id, dag): the engine rewrites its
-- run's row at every commit (the lease fence, the heartbeat), and SQLite reads and compares every
-- overflow page of a row it updates, so a big DAG in that row (8.8 MB for 100,000 tasks) cost
-- O(DAG) per commit, O(tasks x commits) per run. run_dags.dag is the file's bytes as loaded.
--
-- task_event_rows (internal): every event with raw values (at in ms, map_index -1 for none), the
-- stored ones and the synthesised ones; task_events (SPEC §7/§10) is created again over it with
-- the same columns and values as 006_map_index.sql's.

DROP VIEW IF EXISTS task_events;

CREATE TABLE dagflow_v10_task_event_log (
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
INSERT INTO dagflow_v10_task_event_log
    (seq, run_id, task_id, from_state, to_state, at, attempt, detail, map_index)
    SELECT seq, run_id, task_id, from_state, to_state, at, attempt, detail, map_index
      FROM task_event_log;
DROP TABLE task_event_log;
ALTER TABLE dagflow_v10_task_event_log RENAME TO task_event_log;
CREATE INDEX task_event_log_by_task ON task_event_log (run_id, task_id, map_index, seq);
DELETE FROM sqlite_sequence WHERE name IN ('task_event_log', 'dagflow_v10_task_event_log');
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'task_event_log', COALESCE(max(seq), 0) FROM task_event_log;

ALTER TABLE runs ADD COLUMN events_seq0 INTEGER;

CREATE TABLE run_dags (
    run_id INTEGER PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    dag    TEXT    NOT NULL CHECK (json_valid(dag))
);
INSERT INTO run_dags (run_id, dag) SELECT run_id, dag FROM runs;
ALTER TABLE runs DROP COLUMN dag;

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
