-- store/pg/008_work_queue.sql: schema version 8 of the PostgreSQL store, from version 7: the
-- queue of attempts handed to `dagflow worker` processes (SPEC §11, store/work.h). Rows are
-- transient: the engine deletes a row in the transaction that records its outcome as history
-- (attempts, task_events), so nothing here is history and no view reads it. SQLite has no queue
-- (--executor workers needs PostgreSQL), so this migration has no SQLite twin. Times are ms of
-- the database's clock. Never changes once released.
--
-- state: 0 queued, 1 claimed (lease_until), 2 claimed and cancellation asked, 3 done (status,
-- result, error, log). claim: the token of the current claim (work_claim_seq); a worker's
-- renewal and completion change nothing unless they carry it (fencing).

CREATE TABLE work_queue (
    id          bigserial PRIMARY KEY,
    queue       text     NOT NULL,
    run_id      bigint   NOT NULL,
    unit        bigint   NOT NULL,
    attempt     bigint   NOT NULL,
    task_id     text     NOT NULL,
    map_index   bigint   NOT NULL DEFAULT -1,
    plugin      text     NOT NULL,
    params      text     NOT NULL,
    workdir     text     NOT NULL,
    state       smallint NOT NULL DEFAULT 0,
    claim       bigint,
    worker      text,
    lease_until bigint,
    enqueued_at bigint   NOT NULL,
    claimed_at  bigint,
    done_at     bigint,
    status      integer,
    result      text,
    error       text,
    log         text
);

CREATE INDEX work_queue_ready ON work_queue (queue, id) WHERE state = 0;
CREATE INDEX work_queue_run ON work_queue (run_id, state);
CREATE SEQUENCE work_claim_seq;

INSERT INTO dagflow_schema (version) VALUES (8);
