/* pg/conn: the PostgreSQL backend's connection — connecting (retried while the server does not
 * answer), running prepared statements (prepared on each connection at first use), the
 * reconnect-and-retry rule for a connection lost between transactions, PostgreSQL errors as
 * DF_STORE_* codes with the server's message, the transaction or savepoint around one operation,
 * and group commit (begin/commit/rollback). */
#include "internal.h"

#include <time.h>

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* libpq's message on one line (its newlines and tabs as spaces, none at the end), in buf. */
static const char *trimmed(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg && *msg ? msg : "unknown error");
    char *w = buf;
    for (const char *c = buf; *c; c++) {
        char ch = (*c == '\n' || *c == '\t' || *c == '\r') ? ' ' : *c;
        if (ch != ' ' || (w > buf && w[-1] != ' '))
            *w++ = ch;
    }
    *w = '\0';
    size_t n = strlen(buf);
    while (n && buf[n - 1] == ' ')
        buf[--n] = '\0';
    return buf;
}

/* ---- connecting ---- */

/* The libpq settings every connection starts from, in keys/vals (room for 9 pairs and the NULL);
 * the URI (expanded from dbname) overrides them. A server that does not answer a connection
 * within the network timeout (2 to 10 s), data sent and not acknowledged for that timeout
 * (TCP_USER_TIMEOUT: a network cut in the middle of a statement), or an idle connection whose
 * peer stops answering TCP keepalives for about 25 s, counts as lost; a Unix socket ignores all
 * three. */
static void conn_params(const df_pg_store *s, const char **keys, const char **vals,
                        char timeout[16], char user_timeout[24])
{
    long net = s->net_timeout_ms > 0 ? s->net_timeout_ms : DF_PG_NET_TIMEOUT_MS;
    long secs = net / 1000 < 2 ? 2 : net / 1000 > 10 ? 10 : net / 1000;
    snprintf(timeout, 16, "%ld", secs);
    snprintf(user_timeout, 24, "%ld", net);
    const char *const k[] = {"connect_timeout", "tcp_user_timeout",          "keepalives",
                             "keepalives_idle", "keepalives_interval",       "keepalives_count",
                             "dbname",          "fallback_application_name", NULL};
    const char *const v[] = {timeout, user_timeout, "1", "10", "5", "3", s->uri, "dagflow", NULL};
    memcpy(keys, k, sizeof k);
    memcpy(vals, v, sizeof v);
}

/* One connection attempt; true when connected. */
static bool connect_once(df_pg_store *s)
{
    if (s->conn)
        PQfinish(s->conn);
    df_pg_pipe_reset(s);
    memset(s->prepared, 0, sizeof s->prepared);
    s->session_prepared = false;
    const char *keys[9], *vals[9];
    char timeout[16], user_timeout[24];
    conn_params(s, keys, vals, timeout, user_timeout);
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK || df_pg_session_setup(s) != DF_STORE_OK)
        return false;
    df_pg_work_relisten(s);
    return true;
}

/* Whether the server answers at all (with the same timeouts as a connection: a plain PQping of
 * an unreachable host waits for the system's TCP connect timeout, about two minutes). */
static PGPing ping(const df_pg_store *s)
{
    const char *keys[9], *vals[9];
    char timeout[16], user_timeout[24];
    conn_params(s, keys, vals, timeout, user_timeout);
    return PQpingParams(keys, vals, 1);
}

/* See internal.h. Prepared once per connection, on a connection new enough to have none. */
int df_pg_session_setup(df_pg_store *s)
{
    if (s->base.lease_ms <= 0 || !s->conn)
        return DF_STORE_OK;
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)(s->base.lease_ms < 5000 ? 5000 : s->base.lease_ms));
    const char *v[1] = {ms};
    PGresult *r = NULL;
    if (!s->session_prepared) {
        r = PQprepare(s->conn, "df_session",
                      "SELECT set_config('idle_in_transaction_session_timeout', $1::text, false)",
                      1, NULL);
        s->session_prepared = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        r = NULL;
    }
    if (s->session_prepared)
        r = PQexecPrepared(s->conn, "df_session", 1, v, NULL, NULL, 0);
    int code = r && PQresultStatus(r) == PGRES_TUPLES_OK ? DF_STORE_OK : DF_STORE_ERROR;
    PQclear(r);
    return code;
}

/* See internal.h. Only a server that does not answer (down, restarting, starting up) is waited
 * for; one that answers and refuses the connection (authentication, a missing database) fails at
 * once, as does a URI libpq cannot read. */
int df_pg_connect(df_pg_store *s, const char *what)
{
    long long deadline = mono_ms() + s->retry_ms;
    long delay = 50;
    char buf[DF_STORE_ERR_MAX];
    if (df_pq_load(buf, sizeof buf) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: PostgreSQL needs libpq: %s",
                              what, buf);
    for (;;) {
        if (connect_once(s))
            return DF_STORE_OK;
        trimmed(s->conn ? PQerrorMessage(s->conn) : "out of memory", buf, sizeof buf);
        PGPing answer = ping(s);
        bool down = answer == PQPING_NO_RESPONSE || answer == PQPING_REJECT;
        if (!down) {
            /* The server answers now: either it refuses us (fails at once), or it finished
             * starting up (or restarting) between the two, which one more try tells. */
            if (connect_once(s))
                return DF_STORE_OK;
            trimmed(s->conn ? PQerrorMessage(s->conn) : "out of memory", buf, sizeof buf);
            return df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: %s: cannot connect to PostgreSQL: %s", what, buf);
        }
        if (mono_ms() + delay > deadline) {
            if (s->retry_ms == 0)
                return df_store_failf(&s->base, DF_STORE_ERROR,
                                      "store: %s: cannot connect to PostgreSQL: %s", what, buf);
            return df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: %s: cannot connect to PostgreSQL (tried for %.1f s): %s",
                                  what, s->retry_ms / 1000.0, buf);
        }
        sleep_ms(delay);
        delay = delay * 2 > 1000 ? 1000 : delay * 2;
    }
}

/* ---- errors ---- */

/* The DF_STORE_* code of a failed result: lock waits and conflicts between transactions
 * (serialization failure, deadlock, lock not available, a cancelled statement) are
 * DF_STORE_BUSY, anything else DF_STORE_ERROR. */
static int code_of(const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (st && (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") ||
               !strcmp(st, "57014")))
        return DF_STORE_BUSY;
    return DF_STORE_ERROR;
}

/* See internal.h. */
int df_pg_fail_result(df_pg_store *s, const PGresult *r, const char *what)
{
    char buf[DF_STORE_ERR_MAX];
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn);
    return df_store_failf(&s->base, code_of(r), "store: %s: %s", what,
                          trimmed(msg, buf, sizeof buf));
}

/* ---- statements ---- */

bool df_pg_in_tx(const df_pg_store *s)
{
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return false;
    return PQtransactionStatus(s->conn) != PQTRANS_IDLE;
}

/* Prepares statement id on this connection if it is not yet; the failed result otherwise. */
static PGresult *prepare(df_pg_store *s, enum df_pg_stmt_id id, const char *name)
{
    if (s->prepared[id])
        return NULL;
    PGresult *r = PQprepare(s->conn, name, df_pg_sql(id), 0, NULL);
    if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        s->prepared[id] = true;
        return NULL;
    }
    if (!r)
        r = PQmakeEmptyPGresult(s->conn, PGRES_FATAL_ERROR);
    return r;
}

/* See internal.h. */
PGresult *df_pg_exec(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                     int *code)
{
    char name[16];
    snprintf(name, sizeof name, "df_%d", (int)id);
    long long deadline = 0;
    char buf[DF_STORE_ERR_MAX];
    /* the answers of the writes queued before it first (pipe.c) */
    if ((s->piped || s->pipe_failed || s->batched) &&
        (*code = df_pg_pipe_drain(s, what)) != DF_STORE_OK)
        return NULL;
    for (;;) {
        if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
            if ((*code = df_pg_connect(s, what)) != DF_STORE_OK)
                return NULL;
        }
        bool in_tx = PQtransactionStatus(s->conn) != PQTRANS_IDLE;
        PGresult *r = prepare(s, id, name);
        if (!r)
            r = PQexecPrepared(s->conn, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            *code = DF_STORE_OK;
            return r;
        }
        if (PQstatus(s->conn) == CONNECTION_OK) {
            *code = df_pg_fail_result(s, r, what);
            PQclear(r);
            return NULL;
        }
        /* The connection is gone (server restarted, network cut). */
        PQclear(r);
        trimmed(PQerrorMessage(s->conn), buf, sizeof buf);
        if (in_tx || id == PG_COMMIT) {
            s->base.tx_lost = true;
            *code = df_store_failf(&s->base, DF_STORE_ERROR,
                                   "store: %s: lost the connection to PostgreSQL during a "
                                   "transaction (%s); what it wrote may not be recorded, "
                                   "`dagflow resume` continues the run",
                                   what, buf);
            return NULL;
        }
        if (!deadline)
            deadline = mono_ms() + s->retry_ms;
        else if (mono_ms() > deadline) {
            *code = df_store_failf(&s->base, DF_STORE_ERROR,
                                   "store: %s: lost the connection to PostgreSQL (%s)", what, buf);
            return NULL;
        }
        /* Not inside a transaction: nothing is lost; reconnect (df_pg_connect waits for a server
         * that is restarting) and run the statement again. */
        PQfinish(s->conn);
        s->conn = NULL;
    }
}

/* See internal.h. */
int df_pg_write(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                long long *changes)
{
    int code;
    PGresult *r = df_pg_exec(s, id, p, what, &code);
    if (!r)
        return code;
    if (changes)
        *changes = df_pg_changes(r);
    PQclear(r);
    return DF_STORE_OK;
}

/* ---- transactions ---- */

int df_pg_op_begin(df_pg_store *s, int *mode, const char *what)
{
    *mode = df_pg_in_tx(s) ? DF_PG_OP_SAVEPOINT : DF_PG_OP_OWN;
    return df_pg_write(s, *mode == DF_PG_OP_OWN ? PG_BEGIN : PG_SAVEPOINT, NULL, what, NULL);
}

int df_pg_op_begin_read(df_pg_store *s, int *mode, const char *what)
{
    if (df_pg_in_tx(s)) {
        *mode = DF_PG_OP_NONE;
        return DF_STORE_OK;
    }
    *mode = DF_PG_OP_OWN;
    return df_pg_write(s, PG_BEGIN_READ, NULL, what, NULL);
}

/* COMMIT of a transaction that failed reports success with the tag "ROLLBACK". */
static int commit(df_pg_store *s, const char *what)
{
    int code;
    PGresult *r = df_pg_exec(s, PG_COMMIT, NULL, what, &code);
    if (!r)
        return code;
    if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
        code =
            df_store_failf(&s->base, DF_STORE_ERROR,
                           "store: %s: the transaction failed earlier and was rolled back", what);
    PQclear(r);
    return code;
}

int df_pg_op_end(df_pg_store *s, int mode, int code, const char *what)
{
    if (mode == DF_PG_OP_NONE)
        return code;
    if (code == DF_STORE_OK) {
        code =
            mode == DF_PG_OP_OWN ? commit(s, what) : df_pg_write(s, PG_RELEASE, NULL, what, NULL);
        if (code == DF_STORE_OK)
            return code;
    }
    if (!df_pg_in_tx(s))
        return code;
    char saved[sizeof s->base.err];
    memcpy(saved, s->base.err, sizeof saved);
    if (mode == DF_PG_OP_OWN)
        df_pg_write(s, PG_ROLLBACK, NULL, what, NULL);
    else if (df_pg_write(s, PG_ROLLBACK_TO, NULL, what, NULL) == DF_STORE_OK)
        df_pg_write(s, PG_RELEASE, NULL, what, NULL);
    memcpy(s->base.err, saved, sizeof saved);
    return code;
}

/* ---- group commit ---- */

/* See store.h. READ COMMITTED: every write the engine makes is a compare-and-set on one row,
 * which PostgreSQL re-checks on the row's newest version after waiting for its lock. */
int df_pg_begin(df_store *store)
{
    return df_pg_write(df_pg_of(store), PG_BEGIN, NULL, "begin transaction", NULL);
}

/* See store.h. The answers of the pipelined writes are read first: COMMIT is sent only when
 * every one of them did what it should. */
int df_pg_commit(df_store *store)
{
    df_pg_store *s = df_pg_of(store);
    int code = df_pg_pipe_drain(s, "commit");
    return code == DF_STORE_OK ? commit(s, "commit") : code;
}

/* See store.h. No open transaction (or none left: a lost connection took it) is not an error. */
int df_pg_rollback(df_store *store)
{
    df_pg_store *s = df_pg_of(store);
    df_pg_pipe_discard(s);
    if (!df_pg_in_tx(s))
        return DF_STORE_OK;
    return df_pg_write(s, PG_ROLLBACK, NULL, "rollback", NULL);
}
