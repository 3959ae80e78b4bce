/* pg/pipe: the writes of the caller's transaction (df_store_begin .. df_store_commit) sent in
 * libpq's pipeline mode: each write is queued on the connection without waiting for its answer,
 * and the answers are read at the next point that needs one — a read, a savepoint, the run fence,
 * the commit — so that a group commit of hundreds of statements costs a few round trips instead
 * of one per statement. The guarantees are the synchronous path's: every statement still runs in
 * order inside the same transaction; a compare-and-set that changed no row is found when the
 * answers are read, before COMMIT is sent, and fails the transaction with the message the
 * synchronous path gives (its diagnostic reads run then, inside the transaction); a failed
 * statement, or a connection lost while answers are outstanding, fails the transaction (the
 * latter as a lost transaction, df_store_tx_lost). What changes is when a failure is reported:
 * at the next point that reads answers, not by the write itself; a failure found by any call
 * other than the write is reported as DF_STORE_ERROR (never as a conflict of another run).
 * On by default; DAGFLOW_PG_PIPELINE=0 in the environment turns it off (every write then waits
 * for its answer). A serve test once seemed to hang with it under load (the engine inside a libpq
 * round trip, its backend idle after COMMIT), most likely the serve loop fixed by 929d2c5, which
 * committed a transaction every few ms while stopping; it has not been seen again (the pg label
 * and the serve tests repeated under stress-ng with pipelining on).
 * Everything here runs on the store's thread, as the rest of the backend. */
#include "internal.h"

/* Statements queued at most before their answers are read: the server writes every answer
 * (~100 bytes) into the socket before it reads on, so the answers outstanding must fit the
 * socket's buffers or both sides would wait on each other. */
#define DF_PG_PIPE_MAX 256

/* One queued statement: what it is for the messages, and how to judge its answer. */
struct df_pg_pend {
    const char *what;         /* static text: "record transition" */
    enum df_pg_stmt_id id;    /* statement; for prepare entries the one being prepared */
    bool prepare;             /* the answer of a PQsendPrepare */
    df_pg_refused_fn refused; /* called when the statement changed no row; NULL: any count */
    df_pg_cas cas;            /* its arguments for refused (task_id owned) */
    df_pg_cas *rows;          /* a multi-row statement's rows instead (owned; batch.c) */
    size_t n_rows;
    size_t bad_row; /* the first of rows that did not apply */
    bool sync;      /* a Sync follows it */
};

bool df_pg_pipe_wanted(void)
{
    const char *v = getenv("DAGFLOW_PG_PIPELINE");
    return !v || strcmp(v, "0") != 0;
}

static void rows_free(df_pg_cas *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i].task_id);
    free(rows);
}

static void pend_clear(df_pg_store *s)
{
    for (size_t i = 0; i < s->n_pend; i++) {
        free(s->pend[i].cas.task_id);
        rows_free(s->pend[i].rows, s->pend[i].n_rows);
    }
    s->n_pend = 0;
}

void df_pg_pipe_reset(df_pg_store *s)
{
    df_pg_batch_clear(s);
    pend_clear(s);
    s->piped = false;
    s->pipe_failed = 0;
}

void df_pg_pipe_free(df_pg_store *s)
{
    df_pg_batch_free(s);
    pend_clear(s);
    free(s->pend);
    s->pend = NULL;
    s->cap_pend = 0;
}

/* Records the failure of the transaction (the first one wins): later writes and the commit report
 * it again. */
static int pipe_fail(df_pg_store *s, int code)
{
    if (!s->pipe_failed) {
        s->pipe_failed = code;
        memcpy(s->pipe_err, s->base.err, sizeof s->pipe_err);
    }
    return s->pipe_failed;
}

/* The connection died with answers outstanding: the transaction is gone with it. */
static int pipe_lost(df_pg_store *s, const char *what)
{
    char buf[DF_STORE_ERR_MAX];
    snprintf(buf, sizeof buf, "%s", s->conn ? PQerrorMessage(s->conn) : "no connection");
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\t' || *c == '\r')
            *c = ' ';
    s->base.tx_lost = true;
    pend_clear(s);
    s->piped = false;
    int code = df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: lost the connection to PostgreSQL during a "
                              "transaction (%s); what it wrote may not be recorded, "
                              "`dagflow resume` continues the run",
                              what, buf);
    return pipe_fail(s, code);
}

static bool connected(const df_pg_store *s)
{
    return s->conn && PQstatus(s->conn) == CONNECTION_OK;
}

/* Room for two more queued statements (a prepare and its execution). */
static int reserve(df_pg_store *s)
{
    if (s->n_pend + 2 <= s->cap_pend)
        return 0;
    size_t cap = s->cap_pend ? s->cap_pend * 2 : 64;
    struct df_pg_pend *v = realloc(s->pend, cap * sizeof *v);
    if (!v)
        return -1;
    s->pend = v;
    s->cap_pend = cap;
    return 0;
}

/* Whether statement p's answer r says a compare-and-set did not apply: no row changed, or, for a
 * multi-row statement, fewer row numbers returned (ascending) than rows sent (p->bad_row set to
 * the first missing one). */
static bool refused(struct df_pg_pend *p, const PGresult *r)
{
    if (!p->rows)
        return df_pg_changes(r) == 0;
    size_t got = (size_t)PQntuples(r);
    if (got >= p->n_rows)
        return false;
    p->bad_row = got;
    for (size_t k = 0; k < got; k++)
        if ((size_t)df_pg_ll(r, (int)k, 0) != k) {
            p->bad_row = k;
            break;
        }
    return true;
}

/* Reads the answers of every queued statement (each execution is followed by its Sync: see
 * queue()). Returns DF_STORE_OK, or the first failure (recorded with pipe_fail); *refused_at is
 * the first statement that changed no row when it should have (-1: none). */
static int read_answers(df_pg_store *s, long *refused_at)
{
    *refused_at = -1;
    int code = DF_STORE_OK;
    for (size_t i = 0; i < s->n_pend; i++) {
        struct df_pg_pend *p = &s->pend[i];
        PGresult *r = PQgetResult(s->conn);
        if (!r)
            return connected(s) ? pipe_fail(s, df_store_failf(&s->base, DF_STORE_ERROR,
                                                              "store: %s: PostgreSQL sent no "
                                                              "answer to a pipelined statement",
                                                              p->what))
                                : pipe_lost(s, p->what);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (p->refused && *refused_at < 0 && code == DF_STORE_OK && refused(p, r))
                *refused_at = (long)i;
        } else if (st != PGRES_PIPELINE_ABORTED && code == DF_STORE_OK) {
            if (!connected(s)) {
                PQclear(r);
                return pipe_lost(s, p->what);
            }
            if (p->prepare)
                s->prepared[p->id] = false;
            /* the statements after it fail too: the transaction is aborted */
            code = pipe_fail(s, df_pg_fail_result(s, r, p->what));
        }
        PQclear(r);
        /* each statement's answers end with a NULL */
        while ((r = PQgetResult(s->conn)) != NULL)
            PQclear(r);
        if (p->sync) {
            r = PQgetResult(s->conn);
            bool ok = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
            PQclear(r);
            if (!ok)
                return connected(s) ? pipe_fail(s, df_store_failf(&s->base, DF_STORE_ERROR,
                                                                  "store: %s: PostgreSQL's "
                                                                  "answers are out of step",
                                                                  p->what))
                                    : pipe_lost(s, p->what);
        }
    }
    return code;
}

/* See internal.h. */
int df_pg_pipe_drain(df_pg_store *s, const char *what)
{
    if (s->batched && !s->pipe_failed && df_pg_batch_flush(s) != DF_STORE_OK)
        pipe_fail(s, DF_STORE_ERROR);
    if (!s->piped) {
        if (s->pipe_failed)
            memcpy(s->base.err, s->pipe_err, sizeof s->pipe_err);
        return s->pipe_failed ? DF_STORE_ERROR : DF_STORE_OK;
    }
    if (!connected(s))
        return pipe_lost(s, what);
    long refused_at = -1;
    int code = s->n_pend ? read_answers(s, &refused_at) : DF_STORE_OK;
    if (!s->piped) /* lost with the connection */
        return DF_STORE_ERROR;
    struct df_pg_pend bad = {0};
    if (refused_at >= 0) {
        bad = s->pend[refused_at];
        s->pend[refused_at].cas.task_id = NULL;
        s->pend[refused_at].rows = NULL;
        s->pend[refused_at].n_rows = 0;
    }
    pend_clear(s);
    if (PQexitPipelineMode(s->conn) != 1) {
        free(bad.cas.task_id);
        if (connected(s))
            pipe_fail(s, df_store_failf(&s->base, DF_STORE_ERROR,
                                        "store: %s: cannot leave pipeline mode: %s", what,
                                        PQerrorMessage(s->conn)));
        else
            pipe_lost(s, what);
        return DF_STORE_ERROR;
    }
    s->piped = false;
    if (code == DF_STORE_OK && bad.refused) {
        /* the diagnostic reads of the synchronous path, in the same transaction */
        code = pipe_fail(s, bad.refused(s, bad.rows ? &bad.rows[bad.bad_row] : &bad.cas, bad.what));
    }
    free(bad.cas.task_id);
    rows_free(bad.rows, bad.n_rows);
    return code == DF_STORE_OK ? code : DF_STORE_ERROR;
}

/* Whether a write may be queued: its caller let checks be deferred (df_store_defer_checks), its
 * transaction is open on a live connection. */
bool df_pg_can_defer(const df_pg_store *s)
{
    return s->pipe_on && s->base.defer_checks && s->base.in_tx && connected(s) &&
           PQtransactionStatus(s->conn) != PQTRANS_IDLE;
}

/* Queues statement id (prepared first on this connection if it is not yet). */
static int queue(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                 df_pg_refused_fn refused, const df_pg_cas *cas)
{
    char name[16];
    snprintf(name, sizeof name, "df_%d", (int)id);
    if (!s->piped) {
        if (PQenterPipelineMode(s->conn) != 1)
            return df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: %s: cannot enter pipeline mode: %s", what,
                                  PQerrorMessage(s->conn));
        s->piped = true;
    }
    if (reserve(s) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", what);
    if (!s->prepared[id]) {
        if (PQsendPrepare(s->conn, name, df_pg_sql(id), 0, NULL) != 1)
            return pipe_lost(s, what);
        s->prepared[id] = true;
        s->pend[s->n_pend++] = (struct df_pg_pend){.what = what, .id = id, .prepare = true};
    }
    /* A Sync after each statement (it does not end the transaction, BEGIN opened it): the server
     * then reports the transaction idle between statements, so idle_in_transaction_session_timeout
     * still ends the transaction of an engine paused past its lease (conn.c), and libpq sends the
     * statement at once. */
    if (PQsendQueryPrepared(s->conn, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0) != 1 ||
        PQpipelineSync(s->conn) != 1)
        return pipe_lost(s, what);
    struct df_pg_pend e = {.what = what, .id = id, .refused = refused, .sync = true};
    if (refused && cas) {
        e.cas = *cas;
        e.cas.task_id = NULL;
        if (cas->task_id && !(e.cas.task_id = strdup(cas->task_id))) {
            /* the statement went out unchecked: the transaction must not commit */
            e.refused = NULL;
            s->pend[s->n_pend++] = e;
            return pipe_fail(
                s, df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", what));
        }
    }
    s->pend[s->n_pend++] = e;
    return DF_STORE_OK;
}

/* See internal.h. */
int df_pg_write_cas(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                    df_pg_refused_fn refused, const df_pg_cas *cas)
{
    if (s->pipe_failed)
        return df_pg_pipe_drain(s, what);
    if (!df_pg_can_defer(s)) {
        long long n = 0;
        int code = df_pg_write(s, id, p, what, &n);
        if (code == DF_STORE_OK && n == 0 && refused)
            code = refused(s, cas, what);
        return code;
    }
    /* after the rows gathered before it */
    int code = df_pg_batch_flush(s);
    if (code == DF_STORE_OK)
        code = queue(s, id, p, what, refused, cas);
    if (code == DF_STORE_OK && s->n_pend >= DF_PG_PIPE_MAX)
        code = df_pg_pipe_drain(s, what);
    return code;
}

/* See internal.h. */
void df_pg_pipe_discard(df_pg_store *s)
{
    if (s->piped && connected(s)) {
        long refused_at;
        if (s->n_pend)
            read_answers(s, &refused_at);
        pend_clear(s);
        if (s->piped && connected(s) && PQexitPipelineMode(s->conn) != 1) {
            /* a connection stuck in pipeline mode is of no further use */
            PQfinish(s->conn);
            s->conn = NULL;
        }
    }
    df_pg_pipe_reset(s);
}

/* See internal.h. */
int df_pg_queue_rows(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                     df_pg_refused_fn refused, df_pg_cas *rows, size_t n)
{
    int code = queue(s, id, p, what, NULL, NULL);
    if (code != DF_STORE_OK) {
        rows_free(rows, n);
        return code;
    }
    struct df_pg_pend *e = &s->pend[s->n_pend - 1];
    e->refused = refused;
    e->rows = rows;
    e->n_rows = n;
    if (s->n_pend >= DF_PG_PIPE_MAX)
        code = df_pg_pipe_drain(s, what);
    return code;
}
