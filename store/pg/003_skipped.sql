-- store/pg/003_skipped.sql: schema version 3 of the PostgreSQL store, from version 2 (the same
-- change as store/sqlite/004_skipped.sql). Never changes once released.
--
-- SPEC §10 adds the attempt outcome SKIPPED (the plugin returned DF_TASK_SKIPPED): the CHECK list
-- of attempts.outcome gains it.

ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('RUNNING', 'SUCCESS', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'LOST',
                       'SKIPPED'));

INSERT INTO dagflow_schema (version) VALUES (3);
