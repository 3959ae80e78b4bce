/* sqlite: the built-in TaskUnit that runs one SQL statement on a SQLite database (SPEC §2).
 *
 * params:
 *   "database"  string, required: the database file, relative to the workflow's folder (created
 *               when missing, as the sqlite3 shell does; ":memory:" is a private in-memory one).
 *   "sql"       string, required: exactly one statement (a trailing ';', whitespace and comments
 *               are fine; a second statement is rejected).
 *   "bind"      optional: an array of values for the statement's parameters in order (?, ?NNN,
 *               and named ones by position), or an object whose keys are written as in the SQL
 *               (":name", "@name", "$name"; a bare "name" means ":name"). Every parameter of the
 *               statement must receive a value and every key must name one.
 *               Values: integer -> INTEGER, real -> REAL, string -> TEXT, true/false -> 1/0,
 *               null -> NULL, an array or object -> its compact JSON text.
 *
 * result: {"rows": [one object per row, column name -> value], "changes": sqlite3_changes()}
 * (changes is 0 for statements that change no row). Types are kept: INTEGER -> JSON integer,
 * REAL -> JSON real, TEXT -> string (invalid UTF-8 replaced by U+FFFD), NULL -> null, BLOB -> a
 * base64 string (RFC 4648, with padding). When two columns share a name the later one wins (use
 * AS). At most 100000 rows are returned: a statement yielding more fails permanently.
 *
 * Errors carry SQLite's own message (sqlite3_errmsg) and the database path. SQLITE_BUSY and
 * SQLITE_LOCKED (after a 5000 ms busy timeout), and the transient SQLITE_IOERR, SQLITE_FULL,
 * SQLITE_NOMEM and SQLITE_PROTOCOL fail the attempt so it may be retried; every other error (SQL
 * syntax, constraint, missing table, cannot open the file, a bad bind) fails permanently.
 *
 * The statement runs on df_task_run_blocking's thread (libuv's thread pool, UV_THREADPOOL_SIZE
 * threads, 4 by default: at most that many sqlite tasks and other blocking calls run at once in
 * the process; more wait their turn without holding a worker). A cancellation (timeout_ms,
 * shutdown) interrupts the statement through a progress handler and ends a busy wait early:
 * both read df_task_cancelled(), an atomic flag that is safe to read from that thread. */
#include <dagflow/taskunit.h>

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/plugin_util.h"

#define BUSY_TIMEOUT_MS 5000
#define MAX_ROWS 100000
/* VM instructions between two checks of the cancellation flag. */
#define PROGRESS_OPS 10000

static const char *const known_keys[] = {"database", "sql", "bind", NULL};

/* ---- validation ---- */

static int check_keys(const json_t *params, char *err, size_t errlen)
{
    const char *key = dfp_unknown_key(params, known_keys);
    if (!key)
        return 0;
    const char *hint = NULL;
    if (strstr(key, "db") || strstr(key, "data") || strstr(key, "file") || strstr(key, "path"))
        hint = "database";
    else if (strstr(key, "sql") || strstr(key, "query") || strstr(key, "statement"))
        hint = "sql";
    else if (strstr(key, "bind") || strstr(key, "param") || strstr(key, "arg"))
        hint = "bind";
    dfp_unknown_key_error(err, errlen, key, "", hint,
                          "sqlite takes \"database\", \"sql\" and \"bind\"");
    return 1;
}

/* Skips whitespace, comments and ';' from s; returns where something else starts (or the end). */
static const char *skip_blank(const char *s)
{
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == ';')
            s++;
        if (s[0] == '-' && s[1] == '-') {
            s = strchr(s, '\n');
            if (!s)
                return "";
        } else if (s[0] == '/' && s[1] == '*') {
            const char *end = strstr(s + 2, "*/");
            if (!end)
                return ""; /* an unterminated comment at the end is allowed by SQLite */
            s = end + 2;
        } else {
            return s;
        }
    }
}

/* Checks without a database that sql holds exactly one statement: finds the first ';' that ends
 * a complete statement (sqlite3_complete knows strings, comments and trigger bodies), and checks
 * that only blanks and comments follow. Returns 0 when fine, else writes err. */
static int check_one_statement(const char *sql, char *err, size_t errlen)
{
    const char *first = skip_blank(sql);
    if (!*first) {
        snprintf(err, errlen, "\"sql\" holds no statement");
        return 1;
    }
    size_t n = strlen(sql);
    char *buf = malloc(n + 1);
    if (!buf)
        return 0; /* execute checks again with the real parser */
    int rc = 0;
    for (const char *semi = strchr(sql, ';'); semi; semi = strchr(semi + 1, ';')) {
        size_t len = (size_t)(semi - sql) + 1;
        memcpy(buf, sql, len);
        buf[len] = '\0';
        if (!sqlite3_complete(buf))
            continue;
        const char *rest = skip_blank(semi + 1);
        if (*rest) {
            snprintf(err, errlen,
                     "\"sql\" must be exactly one statement; found more after the first ';': "
                     "\"%.40s%s\"",
                     rest, strlen(rest) > 40 ? "..." : "");
            rc = 1;
        }
        break;
    }
    free(buf);
    return rc;
}

/* The checks of validate. With templates (run creation), a ${...} string is accepted in place of
 * any value, and sql holding one is not parsed; without (execute), everything must be final. */
static int check_params(const json_t *params, int templates, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object with \"database\" and \"sql\"");
        return 1;
    }
    if (check_keys(params, err, errlen))
        return 1;
    json_t *db = json_object_get(params, "database");
    if (!db) {
        snprintf(err, errlen, "missing required key \"database\" (path of the database file)");
        return 1;
    }
    if (!json_is_string(db) || json_string_length(db) == 0) {
        snprintf(err, errlen, "\"database\" must be a non-empty string (a file path)");
        return 1;
    }
    json_t *sql = json_object_get(params, "sql");
    if (!sql) {
        snprintf(err, errlen, "missing required key \"sql\" (one SQL statement)");
        return 1;
    }
    if (!json_is_string(sql)) {
        snprintf(err, errlen, "\"sql\" must be a string (one SQL statement)");
        return 1;
    }
    if (strlen(json_string_value(sql)) != json_string_length(sql)) {
        snprintf(err, errlen, "\"sql\" must not contain a NUL character");
        return 1;
    }
    if (!(templates && dfp_is_template(sql)) &&
        check_one_statement(json_string_value(sql), err, errlen))
        return 1;
    json_t *bind = json_object_get(params, "bind");
    if (bind && !(templates && dfp_is_template(bind)) && !json_is_array(bind) &&
        !json_is_object(bind)) {
        snprintf(err, errlen,
                 "\"bind\" must be an array (values for ?) or an object (\":name\" -> value)");
        return 1;
    }
    return 0;
}

static int sq_validate(const json_t *params, char *err, size_t errlen)
{
    return check_params(params, 1, err, errlen);
}

/* ---- execution (on df_task_run_blocking's thread) ---- */

typedef struct job {
    df_task_ctx *ctx;
    const char *path; /* resolved database path */
    const char *sql;
    const json_t *bind;
    long long start_ms;
    long long busy_start_ms; /* when the current busy wait began */
    /* outcome */
    int status;     /* DF_TASK_* */
    char *error;    /* malloc'd */
    json_t *result; /* new reference */
} job;

static void set_error(job *j, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(job *j, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(j->error);
    if (vasprintf(&j->error, fmt, ap) < 0)
        j->error = NULL;
    va_end(ap);
    j->status = status;
}

/* Whether an error code (primary or extended) is worth a retry. */
static int transient(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        return 1;
    default:
        return 0;
    }
}

/* Records SQLite's error for rc on db: "sqlite PATH: MESSAGE (CODE NAME)". */
static void sql_error(job *j, sqlite3 *db, int rc, const char *what)
{
    if ((rc & 0xff) == SQLITE_INTERRUPT && df_task_cancelled(j->ctx)) {
        set_error(j, DF_TASK_FAILED, "sqlite %s: cancelled after %lld ms (%s)", j->path,
                  dfp_mono_ms() - j->start_ms, what);
        return;
    }
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    set_error(j, transient(rc) ? DF_TASK_FAILED : DF_TASK_FAILED_PERMANENT,
              "sqlite %s: %s: %s (%s)", j->path, what, msg, sqlite3_errstr(rc));
}

/* Progress handler: non-zero interrupts the statement once the attempt is cancelled.
 * df_task_cancelled reads atomic flags, so calling it from this thread is safe. */
static int on_progress(void *arg)
{
    return df_task_cancelled(((job *)arg)->ctx) != 0;
}

/* Busy handler: waits up to BUSY_TIMEOUT_MS in steps of at most 20 ms, giving up early when the
 * attempt is cancelled (a plain sqlite3_busy_timeout could not be cut short). */
static int on_busy(void *arg, int count)
{
    job *j = arg;
    long long now = dfp_mono_ms();
    if (count == 0)
        j->busy_start_ms = now;
    long long busy_start = j->busy_start_ms;
    if (df_task_cancelled(j->ctx) || now - busy_start >= BUSY_TIMEOUT_MS)
        return 0;
    long long step = count < 5 ? (1LL << count) : 20;
    if (step > BUSY_TIMEOUT_MS - (now - busy_start))
        step = BUSY_TIMEOUT_MS - (now - busy_start);
    struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 1;
}

static int bind_value(job *j, sqlite3 *db, sqlite3_stmt *st, int idx, const json_t *v,
                      const char *name)
{
    int rc;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        rc = sqlite3_bind_int64(st, idx, (sqlite3_int64)json_integer_value(v));
        break;
    case JSON_REAL:
        rc = sqlite3_bind_double(st, idx, json_real_value(v));
        break;
    case JSON_STRING:
        rc = sqlite3_bind_text64(st, idx, json_string_value(v), json_string_length(v),
                                 SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        rc = sqlite3_bind_int(st, idx, json_is_true(v));
        break;
    case JSON_NULL:
        rc = sqlite3_bind_null(st, idx);
        break;
    default: {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) {
            set_error(j, DF_TASK_FAILED, "sqlite %s: out of memory", j->path);
            return 1;
        }
        rc = sqlite3_bind_text64(st, idx, text, strlen(text), free, SQLITE_UTF8);
        break;
    }
    }
    if (rc != SQLITE_OK) {
        char what[160];
        snprintf(what, sizeof what, "cannot bind %s", name);
        sql_error(j, db, rc, what);
        return 1;
    }
    return 0;
}

/* Binds j->bind to st; returns 0, or 1 with the error recorded. */
static int bind_all(job *j, sqlite3 *db, sqlite3_stmt *st)
{
    int count = sqlite3_bind_parameter_count(st);
    const json_t *bind = j->bind;
    if (!bind || (json_is_array(bind) && json_array_size(bind) == 0) ||
        (json_is_object(bind) && json_object_size(bind) == 0)) {
        if (count > 0) {
            const char *p = sqlite3_bind_parameter_name(st, 1);
            set_error(j, DF_TASK_FAILED_PERMANENT,
                      "sqlite %s: the statement has %d parameter%s (first: %s) but \"bind\" "
                      "gives no value",
                      j->path, count, count == 1 ? "" : "s", p ? p : "?1");
            return 1;
        }
        return 0;
    }
    if (json_is_array(bind)) {
        if (json_array_size(bind) != (size_t)count) {
            set_error(j, DF_TASK_FAILED_PERMANENT,
                      "sqlite %s: the statement has %d parameter%s but \"bind\" gives %zu value%s",
                      j->path, count, count == 1 ? "" : "s", json_array_size(bind),
                      json_array_size(bind) == 1 ? "" : "s");
            return 1;
        }
        for (int i = 1; i <= count; i++) {
            char name[32];
            snprintf(name, sizeof name, "bind[%d]", i - 1);
            if (bind_value(j, db, st, i, json_array_get(bind, (size_t)i - 1), name))
                return 1;
        }
        return 0;
    }
    /* object: every key must name a parameter, and every parameter must get a value */
    unsigned char *seen = calloc((size_t)count + 1, 1);
    if (!seen) {
        set_error(j, DF_TASK_FAILED, "sqlite %s: out of memory", j->path);
        return 1;
    }
    const char *key;
    json_t *v;
    int failed = 0;
    json_object_foreach((json_t *)bind, key, v)
    {
        char name[256];
        if (key[0] == ':' || key[0] == '@' || key[0] == '$' || key[0] == '?')
            snprintf(name, sizeof name, "%s", key);
        else
            snprintf(name, sizeof name, ":%s", key);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx == 0) {
            set_error(j, DF_TASK_FAILED_PERMANENT,
                      "sqlite %s: \"bind\" key \"%s\" names no parameter of the statement (looked "
                      "for %s)",
                      j->path, key, name);
            failed = 1;
            break;
        }
        if (bind_value(j, db, st, idx, v, name)) {
            failed = 1;
            break;
        }
        seen[idx] = 1;
    }
    for (int i = 1; !failed && i <= count; i++) {
        if (!seen[i]) {
            const char *p = sqlite3_bind_parameter_name(st, i);
            set_error(j, DF_TASK_FAILED_PERMANENT,
                      "sqlite %s: parameter %s of the statement has no value in \"bind\"", j->path,
                      p ? p : "(positional)");
            failed = 1;
        }
    }
    free(seen);
    return failed;
}

/* A blob as base64 text (RFC 4648 alphabet, '=' padding). New reference. */
static json_t *blob_value(const unsigned char *b, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)b[i + 1] << 8;
        if (i + 2 < n)
            v |= b[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    json_t *r = json_stringn(out, o);
    free(out);
    return r;
}

static json_t *column_value(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer((json_int_t)sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        return dfp_text_json(t ? t : "", (size_t)sqlite3_column_bytes(st, i));
    }
    case SQLITE_BLOB: {
        const unsigned char *b = sqlite3_column_blob(st, i);
        return blob_value(b, (size_t)sqlite3_column_bytes(st, i));
    }
    default:
        return json_null();
    }
}

/* Runs the statement; fills j->result or j->error. */
static void run_statement(job *j, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, j->sql, -1, &st, &tail);
    if (rc != SQLITE_OK) {
        sql_error(j, db, rc, "cannot prepare the statement");
        return;
    }
    if (!st) {
        set_error(j, DF_TASK_FAILED_PERMANENT, "sqlite %s: \"sql\" holds no statement", j->path);
        return;
    }
    /* The rest must be blanks and comments only: preparing it must yield no statement. */
    if (tail && *tail) {
        sqlite3_stmt *more = NULL;
        int rc2 = sqlite3_prepare_v2(db, tail, -1, &more, NULL);
        if (rc2 != SQLITE_OK || more) {
            sqlite3_finalize(more);
            sqlite3_finalize(st);
            const char *rest = skip_blank(tail);
            set_error(j, DF_TASK_FAILED_PERMANENT,
                      "sqlite %s: \"sql\" must be exactly one statement; found more after the "
                      "first: \"%.40s%s\"",
                      j->path, rest, strlen(rest) > 40 ? "..." : "");
            return;
        }
    }
    if (bind_all(j, db, st)) {
        sqlite3_finalize(st);
        return;
    }
    json_t *rows = json_array();
    int ncol = sqlite3_column_count(st);
    size_t nrows = 0;
    while (rows && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (++nrows > MAX_ROWS) {
            set_error(j, DF_TASK_FAILED_PERMANENT,
                      "sqlite %s: the statement returns more than %d rows; add a LIMIT", j->path,
                      MAX_ROWS);
            break;
        }
        json_t *row = json_object();
        for (int i = 0; row && i < ncol; i++) {
            const char *name = sqlite3_column_name(st, i);
            json_t *v = column_value(st, i);
            if (!v || json_object_set_new(row, name ? name : "", v) != 0) {
                json_decref(row);
                row = NULL;
            }
        }
        if (!row || json_array_append_new(rows, row) != 0) {
            set_error(j, DF_TASK_FAILED, "sqlite %s: out of memory building the rows", j->path);
            break;
        }
    }
    if (!rows)
        set_error(j, DF_TASK_FAILED, "sqlite %s: out of memory", j->path);
    else if (!j->error && rc != SQLITE_DONE)
        sql_error(j, db, rc, "cannot run the statement");
    if (j->error) {
        sqlite3_finalize(st);
        json_decref(rows);
        return;
    }
    /* sqlite3_changes counts the rows of the last INSERT/UPDATE/DELETE on this connection,
     * which is this statement's when it was one (a fresh connection starts at 0). */
    long long changes = sqlite3_stmt_readonly(st) ? 0 : (long long)sqlite3_changes64(db);
    sqlite3_finalize(st);
    j->result = json_pack("{s:o, s:I}", "rows", rows, "changes", (json_int_t)changes);
    if (!j->result)
        set_error(j, DF_TASK_FAILED, "sqlite %s: out of memory", j->path);
    else
        j->status = DF_TASK_OK;
}

/* df_task_run_blocking's function: opens, runs, closes. */
static void sq_work(void *arg)
{
    job *j = arg;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(j->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        sql_error(j, db, rc, "cannot open the database");
        sqlite3_close(db);
        return;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_handler(db, on_busy, j);
    sqlite3_progress_handler(db, PROGRESS_OPS, on_progress, j);
    run_statement(j, db);
    sqlite3_close(db);
}

static int sq_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    if (dfp_check_final(ctx, check_params, params, 256))
        return DF_TASK_FAILED_PERMANENT;
    job j = {
        .ctx = ctx,
        .sql = json_string_value(json_object_get(params, "sql")),
        .bind = json_object_get(params, "bind"),
        .status = DF_TASK_FAILED,
    };
    const char *database = json_string_value(json_object_get(params, "database"));
    char *path = strcmp(database, ":memory:") == 0
                     ? strdup(database)
                     : dfp_resolve_path(df_task_workdir(ctx), database);
    if (!path) {
        df_task_set_error(ctx, "out of memory");
        return DF_TASK_FAILED;
    }
    j.path = path;
    j.start_ms = dfp_mono_ms();
    if (df_task_run_blocking(ctx, sq_work, &j) != 0) {
        df_task_set_error(ctx, "sqlite %s: cannot start the blocking call", path);
        free(path);
        return DF_TASK_FAILED;
    }
    int status = j.status;
    if (status == DF_TASK_OK) {
        df_task_log(ctx, "sqlite %s: %zu row(s), %lld change(s) in %lld ms", path,
                    json_array_size(json_object_get(j.result, "rows")),
                    (long long)json_integer_value(json_object_get(j.result, "changes")),
                    dfp_mono_ms() - j.start_ms);
        *result = j.result;
    } else {
        df_task_set_error(ctx, "%s", j.error ? j.error : "sqlite: failed");
        json_decref(j.result);
    }
    free(j.error);
    free(path);
    return status;
}

/* The plugin's descriptor and its entry point, dagflow_taskunit (lives as long as the .so). */
/* No reference in "sql": values go through "bind" (SPEC §12). */
static const df_param_rule sq_rules[] = {
    {.param = "sql",
     .rule = DF_PARAM_NO_TEMPLATES,
     .hint = "pass values with \"bind\" (write ? or :name in the SQL, e.g. \"sql\": \"... WHERE "
             "name = :name\", \"bind\": {\"name\": \"${params.name}\"})"},
    {.param = NULL}};

DF_TASKUNIT_DEFINE(.name = "sqlite", .version = "1.0.0", .param_rules = sq_rules,
                   .description =
                       "runs one SQL statement on a SQLite database file; result {\"rows\", "
                       "\"changes\"}",
                   .validate = sq_validate, .execute = sq_execute);
