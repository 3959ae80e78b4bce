/* sqlite/open: opening a SQLite store — the connection (the file itself is files.c's: no symbolic
 * link, mode 0600, read-only fallback), WAL mode, and the schema: schema.sql and the later
 * migrations (embedded as df_sql_* strings by embed_sql.cmake), applied in one transaction,
 * upgrading an older file only when that is safe; a new file gets fresh_011.sql instead of the
 * first eleven. Also the backend's table of operations and closing. */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Generated from the store/sqlite/ .sql files by store/sqlite/embed_sql.cmake. */
extern const char df_sql_schema[];
extern const char df_sql_002_check_lists[];
extern const char df_sql_003_cancelled[];
extern const char df_sql_004_skipped[];
extern const char df_sql_005_service[];
extern const char df_sql_006_map_index[];
extern const char df_sql_007_cancel_request[];
extern const char df_sql_008_harden[];
extern const char df_sql_009_run_lease[];
extern const char df_sql_010_append_layout[];
extern const char df_sql_011_attempt_output[];
extern const char df_sql_fresh_011[];

/* The migrations, in order: applying entries 1..N to an empty file yields schema version N.
 * Entry i brings the file from version i-1 to version i. A migration is "compatible" when this
 * store's statements work unchanged on the version before it (version 2 only rewrites CHECK
 * constraints): a file that only needs compatible migrations is upgraded when that can be done
 * at once and safely, and otherwise used as it is (see migrate). */
static const struct {
    int version;
    int compatible;
    const char *sql;
} migrations[] = {
    {1, 0, df_sql_schema},
    {2, 1, df_sql_002_check_lists},
    /* Only CHECK lists widened: older files are read as they are until upgraded (a CANCELLED
     * written to a version 2 file that could not be upgraded yet fails its CHECK). */
    {3, 1, df_sql_003_cancelled},
    {4, 1, df_sql_004_skipped}, /* likewise: the attempt outcome SKIPPED */
    /* Columns added (the statements name them; version 6 needs the upgrade anyway). */
    {5, 0, df_sql_005_service},
    /* Task instances keyed by (run, task, map_index): the statements need the new column. */
    {6, 0, df_sql_006_map_index},
    /* Columns added (cancel requests): an older file not upgraded yet records none (cancel.c
     * refuses a request, and finds none). */
    {7, 1, df_sql_007_cancel_request},
    /* New tables, a column and views: a file not upgraded yet is used without SPEC §12's records
     * (store/sqlite/safety.c does nothing on it, loads count no charged losses). */
    {8, 1, df_sql_008_harden},
    /* A column the statements name (run leases, SPEC §11). */
    {9, 0, df_sql_009_run_lease},
    /* A column the statements name (runs.events_seq0) and task_event_log rebuilt with
     * AUTOINCREMENT (the append layout, issue 14). */
    {10, 0, df_sql_010_append_layout},
    /* A column the statements name (each attempt's output, SPEC §10). */
    {11, 0, df_sql_011_attempt_output},
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* fresh_011.sql: what migrations 1..FRESH_VERSION make of an empty file, in one script (issue 14,
 * start-up: those migrations rebuild tables and views in turn, and SQLite parses the whole schema
 * again after each change, ~35 ms of CPU for a new file). unit test_store_fresh checks that both
 * ways give the same schema. */
#define FRESH_VERSION 11
bool df_sqlite_fresh_schema = true;
_Static_assert(sizeof migrations / sizeof migrations[0] == DF_STORE_SCHEMA_VERSION,
               "one migration per schema version");

#define BUSY_TIMEOUT_MS DF_SQLITE_BUSY_TIMEOUT_MS

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One-row, one-column query (PRAGMA or SELECT) into *text (copied, at most len bytes) or *num. */
static int query1(df_sqlite_store *s, const char *sql, long long *num, char *text, size_t len,
                  const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return df_sqlite_fail(s, rc, what);
    rc = sqlite3_step(st);
    int code = DF_STORE_OK;
    if (rc == SQLITE_ROW) {
        if (num)
            *num = sqlite3_column_int64(st, 0);
        if (text) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            snprintf(text, len, "%s", t ? t : "");
        }
    } else if (rc == SQLITE_DONE) {
        if (num)
            *num = 0;
        if (text && len)
            text[0] = '\0';
    } else {
        code = df_sqlite_fail(s, rc, what);
    }
    sqlite3_finalize(st);
    return code;
}

/* Switches the file to WAL. On a brand-new file several processes may try at once, and the
 * switch can report SQLITE_BUSY without waiting: retry with a short backoff for up to the busy
 * timeout. A read-only file keeps its mode. */
static int set_wal(df_sqlite_store *s, const char *path)
{
    long long deadline = mono_ms() + BUSY_TIMEOUT_MS;
    long delay = 2;
    char mode[32];
    for (;;) {
        int code = query1(s, "PRAGMA journal_mode=WAL", NULL, mode, sizeof mode, "set WAL mode");
        if (code == DF_STORE_OK)
            break;
        if (code != DF_STORE_BUSY || mono_ms() >= deadline)
            return code;
        sleep_ms(delay + (long)getpid() % (delay + 1));
        if (delay < 50)
            delay *= 2;
    }
    if (strcmp(mode, "wal") != 0 && !sqlite3_db_readonly(s->db, "main"))
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: cannot switch to WAL mode (journal mode is %s)", path,
                              mode);
    return DF_STORE_OK;
}

/* The indexes and triggers of the file (user-made ones included: a migration that rebuilds a
 * table drops those on it), as "name\0sql" pairs in a new array of *n strings. */
static char **schema_objects(df_sqlite_store *s, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT name, sql FROM sqlite_schema WHERE type IN ('index', 'trigger')"
                           " AND sql IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    char **v = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *sql = (const char *)sqlite3_column_text(st, 1);
        size_t ln = strlen(name), ls = strlen(sql);
        char *e = malloc(ln + ls + 2);
        char **nv = e ? realloc(v, (*n + 1) * sizeof *v) : NULL;
        if (!nv) {
            free(e);
            break;
        }
        v = nv;
        memcpy(e, name, ln + 1);
        memcpy(e + ln + 1, sql, ls + 1);
        v[(*n)++] = e;
    }
    sqlite3_finalize(st);
    return v;
}

/* Creates again the indexes and triggers of objs that the migration dropped with their tables.
 * Returns DF_STORE_OK or an error naming the object. */
static int restore_objects(df_sqlite_store *s, char **objs, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = objs[i], *sql = objs[i] + strlen(objs[i]) + 1;
        long long present = 0;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_schema WHERE name = ?1", -1, &st,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                present = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        if (present)
            continue;
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            int code =
                df_store_failf(&s->base, DF_STORE_ERROR,
                               "store: %s: migrating to schema version %d: cannot create \"%s\" "
                               "again on the rebuilt table: %s",
                               path, DF_STORE_SCHEMA_VERSION, name, msg ? msg : "?");
            sqlite3_free(msg);
            return code;
        }
    }
    return DF_STORE_OK;
}

static void free_objects(char **objs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(objs[i]);
    free(objs);
}

/* Whether an engine may be alive on the file: a RUNNING run whose heartbeat is newer than
 * DF_HEARTBEAT_STALE_MS (the views' INTERRUPTED threshold), or a run that ended less than that
 * ago (its engine may still be about to read the file, e.g. to print the run's summary). An older
 * dagflow among them would stop at its next open if the schema moved past it. */
static bool engine_alive(df_sqlite_store *s)
{
    sqlite3_stmt *st = NULL;
    bool alive = false;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM runs WHERE (state = 'RUNNING'"
                           " AND heartbeat_at >= ?1 - ?2) OR ended_at >= ?1 - ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return true; /* cannot tell: leave the file alone */
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL) * 1000);
    sqlite3_bind_int64(st, 2, DF_HEARTBEAT_STALE_MS);
    alive = sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    return alive;
}

/* The error for a file whose schema version is newer than this dagflow's. */
static int newer_schema(df_sqlite_store *s, const char *path, long long version)
{
    return df_store_failf(&s->base, DF_STORE_ERROR,
                          "store: %s has schema version %lld, newer than this dagflow's %d; "
                          "use a newer dagflow to read it",
                          path, version, DF_STORE_SCHEMA_VERSION);
}

/* A file without a schema version must be empty (a new file), not someone else's database. */
static int check_empty(df_sqlite_store *s, const char *path)
{
    long long tables = 0;
    int code =
        query1(s, "SELECT count(*) FROM sqlite_schema", &tables, NULL, 0, "read schema version");
    if (code == DF_STORE_OK && tables > 0)
        code = df_store_failf(
            &s->base, DF_STORE_ERROR,
            "store: %s is not a dagflow store (it has tables but no schema version)", path);
    return code;
}

/* One migration script, bringing the file to schema version `to`. */
static int run_script(df_sqlite_store *s, const char *path, const char *sql, int to)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    int code = DF_STORE_OK;
    if (rc != SQLITE_OK)
        code = df_store_failf(&s->base,
                              df_sqlite_code(rc) == DF_STORE_BUSY ? DF_STORE_BUSY : DF_STORE_ERROR,
                              "store: %s: migrating to schema version %d: %s", path, to,
                              msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return code;
}

/* Inside migrate's transaction: the migrations after version (for a new file, fresh_011.sql
 * first), the indexes and triggers users
 * added put back (an upgrade of an existing file), and the new version set. */
static int apply_migrations(df_sqlite_store *s, const char *path, long long version)
{
    char **objs = NULL;
    size_t n_objs = 0;
    long long unused;
    if (version > 0)
        objs = schema_objects(s, &n_objs);
    int code = query1(s, "PRAGMA legacy_alter_table=ON", &unused, NULL, 0, "migrate schema");
    if (code == DF_STORE_OK && version == 0 && df_sqlite_fresh_schema) {
        code = run_script(s, path, df_sql_fresh_011, FRESH_VERSION);
        version = FRESH_VERSION;
    }
    for (int i = 0; code == DF_STORE_OK && i < N_MIGRATIONS; i++)
        if (migrations[i].version > version)
            code = run_script(s, path, migrations[i].sql, migrations[i].version);
    if (code == DF_STORE_OK)
        code = restore_objects(s, objs, n_objs, path);
    free_objects(objs, n_objs);
    if (code != DF_STORE_OK)
        return code;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", DF_STORE_SCHEMA_VERSION);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return df_sqlite_fail(s, sqlite3_errcode(s->db), "set schema version");
    return DF_STORE_OK;
}

/* Brings the file to DF_STORE_SCHEMA_VERSION: a new (empty) file gets every migration (the
 * version is read again inside BEGIN IMMEDIATE, so of several processes opening a new file at
 * once exactly one creates it); an older file gets the ones it lacks, in one transaction,
 * keeping the indexes and triggers users added (views survive on their own: legacy_alter_table
 * keeps table renames from checking them). When every missing migration is compatible, the
 * upgrade is only attempted when it is safe right now (the file is writable, no engine is alive
 * on it, nobody holds the write lock); otherwise the file is used as it is and upgraded by a
 * later open. A newer file is refused. */
static int migrate(df_sqlite_store *s, const char *path)
{
    long long version = 0, unused;
    int code = query1(s, "PRAGMA user_version", &version, NULL, 0, "read schema version");
    if (code != DF_STORE_OK)
        return code;
    if (version == DF_STORE_SCHEMA_VERSION)
        return DF_STORE_OK;
    if (version > DF_STORE_SCHEMA_VERSION)
        return newer_schema(s, path, version);
    bool optional = version > 0;
    for (int i = 0; i < N_MIGRATIONS; i++)
        if (migrations[i].version > version && !migrations[i].compatible)
            optional = false;
    if (optional && (sqlite3_db_readonly(s->db, "main") == 1 || engine_alive(s)))
        return DF_STORE_OK;
    if (version > 0 && sqlite3_db_readonly(s->db, "main") == 1) {
        char cause[DF_STORE_ERR_MAX];
        df_sqlite_unwritable_cause(s, cause, sizeof cause);
        return df_store_failf(
            &s->base, DF_STORE_ERROR,
            "store: %s has schema version %lld and needs upgrading to version %d, which "
            "needs write access to the file%s%s",
            path, version, DF_STORE_SCHEMA_VERSION, cause[0] ? ": " : "", cause);
    }

    /* An optional upgrade does not wait for the write lock: whoever holds it (possibly another
     * dagflow upgrading the file) is left alone, and this connection works on the file as is. */
    if (optional)
        sqlite3_busy_timeout(s->db, 0);
    code = df_sqlite_exec(s, ST_BEGIN, "migrate schema");
    if (optional)
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (code == DF_STORE_BUSY && optional)
        return DF_STORE_OK;
    if (code != DF_STORE_OK)
        return code;
    code = query1(s, "PRAGMA user_version", &version, NULL, 0, "read schema version");
    if (code != DF_STORE_OK)
        goto rollback;
    if (version > DF_STORE_SCHEMA_VERSION) {
        df_sqlite_exec(s, ST_ROLLBACK, "migrate schema");
        return newer_schema(s, path, version);
    }
    if (version == DF_STORE_SCHEMA_VERSION) /* another process got there first */
        return df_sqlite_exec(s, ST_COMMIT, "migrate schema");
    if ((version == 0 && (code = check_empty(s, path)) != DF_STORE_OK) ||
        (code = apply_migrations(s, path, version)) != DF_STORE_OK ||
        (code = df_sqlite_exec(s, ST_COMMIT, "migrate schema")) != DF_STORE_OK)
        goto rollback;
    query1(s, "PRAGMA legacy_alter_table=OFF", &unused, NULL, 0, "migrate schema");
    return DF_STORE_OK;
rollback:
    if (!sqlite3_get_autocommit(s->db)) {
        char saved[sizeof s->base.err];
        memcpy(saved, s->base.err, sizeof saved);
        df_sqlite_exec(s, ST_ROLLBACK, "migrate schema");
        memcpy(s->base.err, saved, sizeof saved);
    }
    sqlite3_exec(s->db, "PRAGMA legacy_alter_table=OFF", NULL, NULL, NULL);
    /* An optional upgrade that fails (a full disk, say) leaves the file as it was, usable. */
    if (optional && sqlite3_get_autocommit(s->db)) {
        s->base.err[0] = '\0';
        return DF_STORE_OK;
    }
    return code;
}

static const df_store_ops sqlite_ops;
static void sqlite_close(df_store *store);

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

/* Once per process, before SQLite is first used (SQLite refuses it after that, harmlessly): no
 * memory statistics. With them on, every allocation SQLite makes takes a global mutex to count
 * it (issue 14: pthread_mutex_lock and unlock were ~7% of a one-task run's CPU and ~2% of a
 * 100,000-task run's); nothing here reads them (sqlite3_memory_used, sqlite3_status). */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* See backend.h. The file is created with open(2) and mode 0600 before SQLite opens it (SQLite
 * then gives its -wal and -shm files the same mode), never through a symbolic link (files.c;
 * SQLITE_OPEN_NOFOLLOW tells SQLite the same); a file that exists but cannot be written opens
 * read-only, so that reads (status, history) still work and writes fail with a message. */
int df_sqlite_open(const char *path, df_store **out, char *err, size_t errlen)
{
    *out = NULL;
    df_sqlite_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "store: out of memory");
        return DF_STORE_ERROR;
    }
    s->base.ops = &sqlite_ops;
    int code = DF_STORE_OK;
    if (!path || !*path) {
        code = df_store_failf(&s->base, DF_STORE_ERROR, "store: no database path given");
        goto out;
    }
    code = df_sqlite_file_open(s, path);
    if (code != DF_STORE_OK)
        goto out;
    pthread_once(&sqlite_once, sqlite_setup);

    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        if (s->db)
            code = df_store_failf(&s->base, DF_STORE_ERROR, "store: cannot open %s: %s", path,
                                  sqlite3_errmsg(s->db));
        else
            code = df_store_failf(&s->base, DF_STORE_ERROR, "store: cannot open %s: %s", path,
                                  sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* No checkpoint when the engine closes its connection: that checkpoint takes an exclusive
     * lock, and a user's `sqlite3` reading at that moment would get "database is locked". The
     * WAL is checkpointed as it grows (SQLite's automatic checkpoint) and when a run ends
     * (df_store_checkpoint, which never blocks readers). */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);

    long long unused;
    code = set_wal(s, path);
    if (code == DF_STORE_OK)
        code = query1(s, "PRAGMA synchronous=NORMAL", &unused, NULL, 0, "set synchronous");
    /* Off while migrating: a migration that rebuilds a table drops the old one, and with
     * enforcement on that drop would delete every row referring to it. */
    if (code == DF_STORE_OK)
        code = query1(s, "PRAGMA foreign_keys=OFF", &unused, NULL, 0, "disable foreign keys");
    if (code == DF_STORE_OK)
        code = migrate(s, path);
    long long schema = 0;
    if (code == DF_STORE_OK)
        code = query1(s, "PRAGMA user_version", &schema, NULL, 0, "read schema version");
    s->schema = (int)schema;
    if (code == DF_STORE_OK)
        code = query1(s, "PRAGMA foreign_keys=ON", &unused, NULL, 0, "enable foreign keys");
    /* The file SQLite opened is the one checked above (nothing swapped it in between). */
    if (code == DF_STORE_OK)
        code = df_sqlite_check_file(&s->base);
    if (code == DF_STORE_OK)
        df_sqlite_file_opened(s);

out:
    if (code != DF_STORE_OK) {
        snprintf(err, errlen, "%s", s->base.err);
        sqlite_close(&s->base);
        return code;
    }
    s->base.err[0] = '\0';
    *out = &s->base;
    return DF_STORE_OK;
}

/* Finalizes the cached statements and closes the connection (an open transaction is rolled
 * back). */
static void sqlite_close(df_store *store)
{
    df_sqlite_store *s = df_sqlite_of(store);
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (int j = 0; j < 2; j++)
        sqlite3_finalize(s->rows_st[j]);
    df_sqlite_events_free(s);
    df_sqlite_file_close(s);
    free(s->renewals);
    free(s->path);
    free(s->abs_path);
    free(s);
}

/* See backend.h. lstat: a symbolic link exists (and opening it is refused with a message),
 * even a dangling one. */
bool df_sqlite_exists(const char *path)
{
    struct stat st;
    return path && lstat(path, &st) == 0;
}

/* See backend.h. */
sqlite3 *df_store_sqlite(df_store *s)
{
    return s && s->ops == &sqlite_ops ? df_sqlite_of(s)->db : NULL;
}

/* The SQLite backend's table of operations. */
static const df_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .begin = df_sqlite_begin,
    .commit = df_sqlite_commit,
    .rollback = df_sqlite_rollback,
    .create_run = df_sqlite_create_run,
    .transition = df_sqlite_transition,
    .attempt_open = df_sqlite_attempt_open,
    .attempt_close = df_sqlite_attempt_close,
    .map_expand = df_sqlite_map_expand,
    .task_attempts = df_sqlite_task_attempts,
    .run_set_state = df_sqlite_run_set_state,
    .run_set_error = df_sqlite_run_set_error,
    .schedule_anchor = df_sqlite_schedule_anchor,
    .schedule_last = df_sqlite_schedule_last,
    .schedule_claim = df_sqlite_schedule_claim,
    .schedule_set_run = df_sqlite_schedule_set_run,
    .schedule_queued = df_sqlite_schedule_queued,
    .active_runs = df_sqlite_active_runs,
    .serve_runs = df_sqlite_serve_runs,
    .run_set_engine = df_sqlite_run_set_engine,
    .run_claim = df_sqlite_run_claim,
    .run_fence = df_sqlite_run_fence,
    .lease_changed = df_sqlite_lease_changed,
    .run_adopt = df_sqlite_run_adopt,
    .adoptable_runs = df_sqlite_adoptable_runs,
    .run_heartbeat = df_sqlite_run_heartbeat,
    .run_set_metrics = df_sqlite_run_set_metrics,
    .breaker_event = df_sqlite_breaker_event,
    .alert_add = df_sqlite_alert_add,
    .alert_update = df_sqlite_alert_update,
    .alerts_pending = df_sqlite_alerts_pending,
    .run_status = df_sqlite_run_status,
    .run_summary = df_sqlite_run_summary,
    .latest_run = df_sqlite_latest_run,
    .history = df_sqlite_history,
    .gc = df_sqlite_gc,
    .run_events = df_sqlite_run_events,
    .state_counts = df_sqlite_state_counts,
    .load_run = df_sqlite_load_run,
    .checkpoint = df_sqlite_checkpoint,
    .check_file = df_sqlite_check_file,
    .cancel_request = df_sqlite_cancel_request,
    .cancel_clear = df_sqlite_cancel_clear,
    .cancel_requests = df_sqlite_cancel_requests,
    .child_run = df_sqlite_child_run,
    .attempt_proc_add = df_sqlite_attempt_proc_add,
    .attempt_procs = df_sqlite_attempt_procs,
    .attempt_procs_forget = df_sqlite_attempt_procs_forget,
    .attempt_charge = df_sqlite_attempt_charge,
    .crash_report = df_sqlite_crash_report,
    .run_period_start = df_sqlite_run_period_start,
    .run_period_end = df_sqlite_run_period_end,
    .run_periods = df_sqlite_run_periods,
};
