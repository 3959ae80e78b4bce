-- store/pg/009_run_lease.sql: schema version 9 of the dagflow PostgreSQL store, from version 8.
-- Why (SPEC §11, issue 13): as store/sqlite/009_run_lease.sql — runs.lease_until (ms since the
-- epoch, by the database's clock, dagflow_now_ms()) is when the owner's lease on the run ends
-- unless renewed; a `serve` engine adopts a run whose lease ended. NULL (runs recorded before):
-- their heartbeat + 30 s counts.

ALTER TABLE runs ADD COLUMN lease_until bigint;

INSERT INTO dagflow_schema (version) VALUES (9);
