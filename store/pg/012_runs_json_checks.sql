-- store/pg/012_runs_json_checks.sql: schema version 12 of the dagflow PostgreSQL store, from 11.
-- Why (issue 13, speed): PostgreSQL evaluates every CHECK constraint of a row on every UPDATE of
-- it, so the lease renewal that fences each group commit (UPDATE runs SET heartbeat_at, lease_until)
-- parsed the run's whole DAG as JSON each time: 20-40 ms for a 10,000-task DAG, a third of the
-- time of such a run. SQLite checks a CHECK only when a column it names changes; the same rule
-- here: the runs' JSON columns are checked by triggers when they are written (INSERT, or an
-- UPDATE naming them), with the same casts and so the same errors. No view changes.

ALTER TABLE runs DROP CONSTRAINT runs_dag_check;
ALTER TABLE runs DROP CONSTRAINT runs_params_check;
ALTER TABLE runs DROP CONSTRAINT runs_plugins_check;
ALTER TABLE runs DROP CONSTRAINT runs_metrics_check;

CREATE FUNCTION dagflow_runs_json_check() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM NEW.dag::jsonb, NEW.params::jsonb, NEW.plugins::jsonb;
    RETURN NEW;
END
$$;

CREATE FUNCTION dagflow_runs_metrics_check() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM NEW.metrics::jsonb;
    RETURN NEW;
END
$$;

CREATE TRIGGER runs_json_check BEFORE INSERT OR UPDATE OF dag, params, plugins ON runs
    FOR EACH ROW EXECUTE FUNCTION dagflow_runs_json_check();
CREATE TRIGGER runs_metrics_check BEFORE INSERT OR UPDATE OF metrics ON runs
    FOR EACH ROW EXECUTE FUNCTION dagflow_runs_metrics_check();

INSERT INTO dagflow_schema (version) VALUES (12);
