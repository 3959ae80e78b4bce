-- store/sqlite/007_cancel_request.sql: schema version 7 of the dagflow store, from version 6.
-- Never changes once released (but for this header, which SQLite does not keep).
--
-- Why: SPEC §10's `dagflow cancel` stores a cancel request on a run, which the engine owning the
-- run acts on (it looks at least once a second), and which `resume` finds when the run's engine
-- is gone. Two columns of runs:
--   cancel_requested_at  when the first cancel request was made (ms), or NULL for none
--   cancel_reason        who asked ("dagflow cancel", "parent run 4 was cancelled"), or NULL
-- `retry` clears both. The partial index keeps the engines' look (the RUNNING runs with a
-- request) cheap however long the history is. No view changes. Compatible (store/sqlite/open.c):
-- a version 6 file not upgraded yet is used as it is and takes no cancel request
-- (store/sqlite/cancel.c).

ALTER TABLE runs ADD COLUMN cancel_requested_at INTEGER;
ALTER TABLE runs ADD COLUMN cancel_reason TEXT;
CREATE INDEX runs_cancel_requested ON runs (run_id)
    WHERE cancel_requested_at IS NOT NULL AND state = 'RUNNING';
