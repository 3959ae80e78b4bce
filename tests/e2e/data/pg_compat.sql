-- pg_compat.sql: SQLite functions the e2e tests' queries use, for the DAGFLOW_TEST_DB=pg runs
-- (installed by lib.sh's df_pg_new_db in each test's own database; not part of dagflow's
-- schema): group_concat(x [, sep]), ifnull(a, b), and julianday(time) for times written the way
-- the views show them.
CREATE FUNCTION df_gc_step(acc text, v anyelement, sep text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v::text
                      ELSE acc || sep || v::text END $$;
CREATE FUNCTION df_gc_step1(acc text, v anyelement) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v::text
                      ELSE acc || ',' || v::text END $$;
CREATE AGGREGATE group_concat(anyelement, text) (SFUNC = df_gc_step, STYPE = text);
CREATE AGGREGATE group_concat(anyelement) (SFUNC = df_gc_step1, STYPE = text);
CREATE FUNCTION ifnull(a anycompatible, b anycompatible) RETURNS anycompatible
    LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(a, b) $$;
CREATE FUNCTION julianday(t timestamptz) RETURNS double precision
    LANGUAGE sql IMMUTABLE AS $$ SELECT extract(epoch FROM t)::double precision / 86400 + 2440587.5 $$;
-- ifnull(time or number, '') as SQLite answers it: text.
CREATE FUNCTION ifnull(a timestamptz, b text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(a::text, b) $$;
CREATE FUNCTION ifnull(a bigint, b text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(a::text, b) $$;
