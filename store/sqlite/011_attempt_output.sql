-- store/sqlite/011_attempt_output.sql: schema version 11 of the dagflow store, from version 10.
-- store/sqlite/open.c applies it inside the migration transaction. Never changes once released
-- (but for this header, which SQLite does not keep).
--
-- Why (SPEC §10, issue 11): every attempt keeps its own stdout, stderr and exit code, not only the
-- latest one (whose are in the task's result). attempts.output is a JSON object with the keys of a
-- `shell` result the attempt's plugin returned, those present of "exit_code", "stdout",
-- "stderr", "stdout_truncated", "stderr_truncated" (the texts capped by the plugin, 1 MiB each);
-- NULL when the plugin returned none of them, for an attempt still open or lost, and for the
-- attempts recorded before this version (their latest attempt's are read from the task's result).
-- The views are unchanged.

ALTER TABLE attempts ADD COLUMN output TEXT;
