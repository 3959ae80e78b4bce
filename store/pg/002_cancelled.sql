-- store/pg/002_cancelled.sql: schema version 2 of the PostgreSQL store, from version 1 (the same
-- change as store/sqlite/003_cancelled.sql). Never changes once released.
--
-- SPEC §10 adds the state CANCELLED, for a task instance (stopped, or never started, because its
-- run was cancelled or timed out) and for a run: the CHECK lists of runs.state and
-- task_instances.state gain it. PostgreSQL changes a CHECK in place (the names are the ones it
-- gave the column constraints of 001_schema.sql).

ALTER TABLE runs DROP CONSTRAINT runs_state_check;
ALTER TABLE runs ADD CONSTRAINT runs_state_check
    CHECK (state IN ('RUNNING', 'SUCCESS', 'FAILED', 'INVALID', 'INTERRUPTED', 'CANCELLED'));

ALTER TABLE task_instances DROP CONSTRAINT task_instances_state_check;
ALTER TABLE task_instances ADD CONSTRAINT task_instances_state_check
    CHECK (state IN ('PENDING', 'QUEUED', 'RUNNING', 'UP_FOR_RETRY', 'SUCCESS', 'FAILED',
                     'UPSTREAM_FAILED', 'SKIPPED', 'INVALID', 'CANCELLED'));

INSERT INTO dagflow_schema (version) VALUES (2);
