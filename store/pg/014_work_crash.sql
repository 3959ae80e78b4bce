-- store/pg/014_work_crash.sql: schema version 14 of the PostgreSQL store, from version 13: a
-- `dagflow worker` whose task's own plugin code crashed it (SPEC §12, issue 15 item 6) has the
-- attempt's queue row marked, so that the run's engine, on whatever host, records the attempt
-- LOST and charged to that task (three charged losses in a row fail it), and at once rather than
-- at the lease's end. The crashed worker's reporter (engine/cli/crash.c, a process it starts from
-- its fatal-signal handler) sets crashed_at and ends the row's lease (store/pg/safety.c); the
-- engine's expiry takes the row and reads the mark (store/pg/work.c). A worker killed from
-- outside (kill -9, the OOM killer) runs no handler and leaves no mark: its attempts are LOST
-- uncharged when their lease expires. The same reporter marks attempts.charged on the RUNNING
-- attempt of an engine's own crash (no schema change: 007_harden.sql's column). SQLite has no
-- queue (as 008), so this migration has no SQLite twin. Times are ms of the database's clock.
-- Never changes once released.

ALTER TABLE work_queue ADD COLUMN crashed_at bigint;

INSERT INTO dagflow_schema (version) VALUES (14);
