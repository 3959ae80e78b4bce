-- store/pg/011_attempt_output.sql: schema version 11 of the dagflow PostgreSQL store, from
-- version 10.
-- Why (SPEC §10, issue 11): as store/sqlite/011_attempt_output.sql — attempts.output is the JSON
-- text of the `shell` keys ("exit_code", "stdout", "stderr", "stdout_truncated",
-- "stderr_truncated") the attempt's plugin returned, so that every attempt keeps its own output;
-- NULL when none, and for attempts recorded before. The views are unchanged.

ALTER TABLE attempts ADD COLUMN output text;

INSERT INTO dagflow_schema (version) VALUES (11);
