-- store/pg/013_work_history.sql: schema version 13 of the PostgreSQL store, from version 12: which
-- `dagflow worker` ran each attempt handed to workers (SPEC §11, store/work.h). The engine writes
-- a row in the statement that takes a finished attempt off work_queue (collected: lost false) or
-- takes one whose lease expired (lost true), so it commits with the attempt's outcome. Attempts
-- no worker claimed (cancelled while queued) have no row. Rows go with their run (gc). SQLite has
-- no workers, so no twin (as 008). Times are ms of the database's clock. Never changes once
-- released.

CREATE TABLE work_history (
    run_id      bigint  NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id     text    NOT NULL,
    map_index   bigint  NOT NULL DEFAULT -1,
    attempt     bigint  NOT NULL,
    queue       text    NOT NULL,
    worker      text    NOT NULL,
    enqueued_at bigint  NOT NULL,
    claimed_at  bigint,
    done_at     bigint,
    lost        boolean NOT NULL,
    PRIMARY KEY (run_id, task_id, map_index, attempt)
);

INSERT INTO dagflow_schema (version) VALUES (13);
