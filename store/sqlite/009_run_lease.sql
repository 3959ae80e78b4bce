-- store/sqlite/009_run_lease.sql: schema version 9 of the dagflow store, from version 8.
-- store/sqlite/open.c applies it inside the migration transaction. Never changes once released
-- (but for this header, which SQLite does not keep).
--
-- Why (SPEC §11, issue 13): each run is owned by one engine with a lease. runs.lease_until (ms
-- since the epoch) is when the owner's lease on the run ends unless renewed: every write that
-- names the owner sets it to now + the lease (--run-lease-ms), and every write of the run's rows
-- first renews it as a compare-and-set on the owner (the fence). A `serve` engine adopts a run
-- whose lease ended. Runs recorded before this version have NULL: their heartbeat + 30 s counts.

ALTER TABLE runs ADD COLUMN lease_until INTEGER;
