-- store/pg/006_cancel_request.sql: schema version 6 of the PostgreSQL store, from version 5 (the
-- same change as store/sqlite/007_cancel_request.sql). Never changes once released.
--
-- SPEC §10's cancel requests: when the first one was made (ms) and who asked, cleared by
-- `retry`; a partial index for the engines' look at the RUNNING runs with a request.

ALTER TABLE runs ADD COLUMN cancel_requested_at bigint;
ALTER TABLE runs ADD COLUMN cancel_reason text;
CREATE INDEX runs_cancel_requested ON runs (run_id)
    WHERE cancel_requested_at IS NOT NULL AND state = 'RUNNING';

INSERT INTO dagflow_schema (version) VALUES (6);
