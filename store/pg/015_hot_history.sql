-- store/pg/015_hot_history.sql: schema version 15 of the dagflow PostgreSQL store, from 14.
-- Why (issue 13, speed): each transition appends a task_event_log row and each attempt an
-- attempts row, and PostgreSQL checked their foreign keys to task_instances row by row, one
-- internal query (SELECT ... FOR KEY SHARE) per appended row: 40% of the time of the multi-row
-- transition statement (EXPLAIN ANALYZE, 400 rows: the FK trigger 10.2 ms of 24 ms), and the
-- largest single cost of a no-op task run by a worker. Every statement that appends these rows
-- takes them from task_instances itself (the transition's UPDATE ... RETURNING, an attempt's
-- WHERE EXISTS, a mapped task's inserted instances, a run's inserted tasks), so the per-row check
-- is dropped; what the constraint also did, deleting a task instance's events and attempts with
-- it (ON DELETE CASCADE, as when a run row is deleted by hand), is kept by one statement-level
-- trigger. task_instances (three updates per task: QUEUED, RUNNING, final) and attempts (one)
-- leave room in each page, so that an update can stay on its page without new index entries
-- (HOT); it applies to pages written from now on. SQLite keeps its foreign keys (it checks them
-- by the parent's index within the same call). No view changes.

DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
             WHERE contype = 'f' AND confrelid = 'task_instances'::regclass
               AND conrelid IN ('task_event_log'::regclass, 'attempts'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
    END LOOP;
END
$$;

CREATE FUNCTION dagflow_instances_deleted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM task_event_log e USING gone g
        WHERE e.run_id = g.run_id AND e.task_id = g.task_id AND e.map_index = g.map_index;
    DELETE FROM attempts a USING gone g
        WHERE a.run_id = g.run_id AND a.task_id = g.task_id AND a.map_index = g.map_index;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_instances_deleted AFTER DELETE ON task_instances
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION dagflow_instances_deleted();

ALTER TABLE task_instances SET (fillfactor = 50);
ALTER TABLE attempts SET (fillfactor = 70);

INSERT INTO dagflow_schema (version) VALUES (15);
