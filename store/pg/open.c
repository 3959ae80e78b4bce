/* pg/open: opening a PostgreSQL store — the connection (conn.c), the schema: store/pg/NNN_*.sql
 * (embedded as df_pgsql_* strings by store/sqlite/embed_sql.cmake), applied in order in one
 * transaction under an advisory lock and recorded in dagflow_schema; the backend's table of
 * operations, closing, and the file operations that have nothing to do on a server. */
#include "internal.h"

/* Generated from the store/pg/ .sql files by store/sqlite/embed_sql.cmake. */
extern const char df_pgsql_001_schema[];
extern const char df_pgsql_002_cancelled[];
extern const char df_pgsql_003_skipped[];
extern const char df_pgsql_004_service[];
extern const char df_pgsql_005_map_index[];
extern const char df_pgsql_006_cancel_request[];
extern const char df_pgsql_007_harden[];
extern const char df_pgsql_008_work_queue[];
extern const char df_pgsql_009_run_lease[];
extern const char df_pgsql_010_append_layout[];
extern const char df_pgsql_011_attempt_output[];
extern const char df_pgsql_012_runs_json_checks[];
extern const char df_pgsql_013_work_history[];
extern const char df_pgsql_014_work_crash[];
extern const char df_pgsql_015_hot_history[];

/* The migrations, in order: entry i brings a database from version i-1 to version i. */
static const char *const migrations[] = {
    df_pgsql_001_schema,        df_pgsql_002_cancelled,      df_pgsql_003_skipped,
    df_pgsql_004_service,       df_pgsql_005_map_index,      df_pgsql_006_cancel_request,
    df_pgsql_007_harden,        df_pgsql_008_work_queue,     df_pgsql_009_run_lease,
    df_pgsql_010_append_layout, df_pgsql_011_attempt_output, df_pgsql_012_runs_json_checks,
    df_pgsql_013_work_history,  df_pgsql_014_work_crash,     df_pgsql_015_hot_history};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(sizeof migrations / sizeof migrations[0] == DF_PG_SCHEMA_VERSION,
               "one migration per schema version");

/* The advisory lock taken while migrating (any constant; "dagflow" in ASCII). */
#define MIGRATE_LOCK "110382837085303"

/* Runs one SQL text without parameters; the result on success (PQclear it), else NULL with the
 * failure recorded. Only for the fixed text of the migrations and their bookkeeping. */
static PGresult *run_fixed(df_pg_store *s, const char *sql, const char *what, int *code)
{
    PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *code = DF_STORE_OK;
        return r;
    }
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char buf[DF_STORE_ERR_MAX];
    snprintf(buf, sizeof buf, "%s", msg ? msg : PQerrorMessage(s->conn));
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    *code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: %s", what, buf);
    PQclear(r);
    return NULL;
}

/* The schema version of the database (0: no dagflow schema yet). */
static int schema_version(df_pg_store *s, int *version, const char *W)
{
    int code;
    PGresult *r = run_fixed(s, "SELECT to_regclass('dagflow_schema') IS NOT NULL", W, &code);
    if (!r)
        return code;
    bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    *version = 0;
    if (!exists)
        return DF_STORE_OK;
    r = run_fixed(s, "SELECT COALESCE(max(version), 0) FROM dagflow_schema", W, &code);
    if (!r)
        return code;
    *version = (int)df_pg_ll(r, 0, 0);
    PQclear(r);
    return DF_STORE_OK;
}

/* Brings the database to DF_PG_SCHEMA_VERSION: one transaction, the advisory lock first, so that
 * engines opening a new database together apply each migration once and the others then see it
 * applied. A newer schema than this build's is refused. */
static int migrate(df_pg_store *s)
{
    const char *W = "migrate schema";
    int code;
    PGresult *r = run_fixed(s, "BEGIN", W, &code);
    if (!r)
        return code;
    PQclear(r);
    int version = 0;
    r = run_fixed(s, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", W, &code);
    if (r) {
        PQclear(r);
        code = schema_version(s, &version, W);
    }
    if (code == DF_STORE_OK && version > DF_PG_SCHEMA_VERSION)
        code = df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: the database has dagflow schema version %d, newer than "
                              "this dagflow's (%d): use a newer dagflow",
                              version, DF_PG_SCHEMA_VERSION);
    for (int v = version; code == DF_STORE_OK && v < N_MIGRATIONS; v++) {
        char what[64];
        snprintf(what, sizeof what, "%s to version %d", W, v + 1);
        r = run_fixed(s, migrations[v], what, &code);
        PQclear(r);
    }
    r = run_fixed(s, code == DF_STORE_OK ? "COMMIT" : "ROLLBACK", W,
                  code == DF_STORE_OK ? &code : &(int){0});
    PQclear(r);
    return code;
}

static const df_store_ops pg_ops;

static void pg_close(df_store *store)
{
    df_pg_store *s = df_pg_of(store);
    if (s->conn)
        PQfinish(s->conn);
    df_pg_pipe_free(s);
    free(s->uri);
    free(s);
}

/* The retry time of a lost connection: DAGFLOW_PG_RETRY_MS when set to a number of ms, else
 * DF_PG_RETRY_MS. */
static long retry_ms(void)
{
    const char *v = getenv("DAGFLOW_PG_RETRY_MS");
    if (v && *v) {
        char *end;
        long ms = strtol(v, &end, 10);
        if (*end == '\0' && ms >= 0 && ms <= 24L * 3600 * 1000)
            return ms;
    }
    return DF_PG_RETRY_MS;
}

/* See backend.h. */
int df_pg_open(const char *uri, df_store **out, char *err, size_t errlen)
{
    *out = NULL;
    df_pg_store *s = calloc(1, sizeof *s);
    if (!s || !(s->uri = strdup(uri))) {
        free(s);
        snprintf(err, errlen, "store: out of memory");
        return DF_STORE_ERROR;
    }
    s->base.ops = &pg_ops;
    s->retry_ms = retry_ms();
    s->pipe_on = df_pg_pipe_wanted();
    /* The scheme in lower case: libpq reads only "postgresql://" and "postgres://". */
    for (char *c = s->uri; *c && *c != ':'; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    int code = df_pg_connect(s, "open");
    if (code == DF_STORE_OK)
        code = migrate(s);
    if (code != DF_STORE_OK) {
        snprintf(err, errlen, "%s", s->base.err);
        pg_close(&s->base);
        return code;
    }
    s->base.err[0] = '\0';
    *out = &s->base;
    return DF_STORE_OK;
}

/* See store.h: everything committed is in the database already. */
static int pg_checkpoint(df_store *store, bool *complete)
{
    (void)store;
    *complete = true;
    return DF_STORE_OK;
}

/* See store.h: no file to watch. */
static int pg_check_file(df_store *store)
{
    (void)store;
    return DF_STORE_OK;
}

static const df_store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .begin = df_pg_begin,
    .commit = df_pg_commit,
    .rollback = df_pg_rollback,
    .create_run = df_pg_create_run,
    .transition = df_pg_transition,
    .attempt_open = df_pg_attempt_open,
    .attempt_close = df_pg_attempt_close,
    .map_expand = df_pg_map_expand,
    .task_attempts = df_pg_task_attempts,
    .run_set_state = df_pg_run_set_state,
    .run_set_error = df_pg_run_set_error,
    .schedule_anchor = df_pg_schedule_anchor,
    .schedule_last = df_pg_schedule_last,
    .schedule_claim = df_pg_schedule_claim,
    .schedule_set_run = df_pg_schedule_set_run,
    .schedule_queued = df_pg_schedule_queued,
    .active_runs = df_pg_active_runs,
    .serve_runs = df_pg_serve_runs,
    .run_set_engine = df_pg_run_set_engine,
    .run_claim = df_pg_run_claim,
    .run_fence = df_pg_run_fence,
    .run_adopt = df_pg_run_adopt,
    .adoptable_runs = df_pg_adoptable_runs,
    .lease_changed = df_pg_lease_changed,
    .run_heartbeat = df_pg_run_heartbeat,
    .run_set_metrics = df_pg_run_set_metrics,
    .breaker_event = df_pg_breaker_event,
    .alert_add = df_pg_alert_add,
    .alert_update = df_pg_alert_update,
    .alerts_pending = df_pg_alerts_pending,
    .run_status = df_pg_run_status,
    .run_summary = df_pg_run_summary,
    .latest_run = df_pg_latest_run,
    .history = df_pg_history,
    .gc = df_pg_gc,
    .run_events = df_pg_run_events,
    .state_counts = df_pg_state_counts,
    .load_run = df_pg_load_run,
    .checkpoint = pg_checkpoint,
    .check_file = pg_check_file,
    .cancel_request = df_pg_cancel_request,
    .cancel_clear = df_pg_cancel_clear,
    .cancel_requests = df_pg_cancel_requests,
    .child_run = df_pg_child_run,
    .attempt_proc_add = df_pg_attempt_proc_add,
    .attempt_procs = df_pg_attempt_procs,
    .attempt_procs_forget = df_pg_attempt_procs_forget,
    .attempt_charge = df_pg_attempt_charge,
    .crash_report = df_pg_crash_report,
    .run_period_start = df_pg_run_period_start,
    .run_period_end = df_pg_run_period_end,
    .run_periods = df_pg_run_periods,
    .work = &df_pg_work_ops,
};
