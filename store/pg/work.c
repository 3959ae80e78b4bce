/* pg/work: the worker queue in PostgreSQL (store/work.h, SPEC §11) — the work_queue table of
 * 008_work_queue.sql. Claims take rows FOR UPDATE SKIP LOCKED (workers never wait for each
 * other), leases and their expiry are judged by the database's clock (clock_timestamp), every
 * renewal and completion compares the claim token (fencing), batches travel as one JSON array or
 * two bigint arrays per statement, and NOTIFY wakes workers ("dagflow_work", payload the queue)
 * and engines ("dagflow_done") when the writing transaction commits. */
#include "internal.h"

#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "../work.h"

#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/* The CTE that records the rows d took off the queue in work_history (013_work_history.sql):
 * DONE_AT the SQL of their end, LOST "true" or "false". */
#define WORK_HISTORY(DONE_AT, LOST)                                                                \
    "h AS (INSERT INTO work_history (run_id, task_id, map_index, attempt, queue, worker,"          \
    " enqueued_at, claimed_at, done_at, lost) SELECT d.run_id, d.task_id, d.map_index,"            \
    " d.attempt, d.queue, d.worker, d.enqueued_at, d.claimed_at, " DONE_AT ", " LOST " FROM d"     \
    " WHERE d.worker IS NOT NULL ON CONFLICT DO NOTHING)"

static const char *const work_sql[] = {
    [PG_WORK_ENQUEUE - PG_WORK_ENQUEUE] =
        "WITH ins AS (INSERT INTO work_queue (queue, run_id, unit, attempt, task_id, map_index,"
        " plugin, params, workdir, enqueued_at)"
        " SELECT x.queue, x.run_id, x.unit, x.attempt, x.task_id, x.map_index, x.plugin,"
        " x.params, x.workdir, " NOW_MS " FROM json_to_recordset($1::json) AS x(queue text,"
        " run_id bigint, unit bigint, attempt bigint, task_id text, map_index bigint,"
        " plugin text, params text, workdir text) RETURNING queue)"
        " SELECT pg_notify('dagflow_work', q) FROM (SELECT DISTINCT queue AS q FROM ins) d",
    [PG_WORK_CLAIM - PG_WORK_ENQUEUE] =
        "UPDATE work_queue w SET state = 1, claim = nextval('work_claim_seq'), worker = $4::text,"
        " claimed_at = " NOW_MS ", lease_until = " NOW_MS " + $3::bigint"
        " FROM (SELECT id FROM work_queue q WHERE state = 0 AND queue IN"
        " (SELECT json_array_elements_text($1::json)) AND EXISTS (SELECT 1 FROM runs r"
        " WHERE r.run_id = q.run_id AND r.state = 'RUNNING' AND COALESCE(r.lease_until,"
        " r.heartbeat_at + 30000) > " NOW_MS ") ORDER BY id LIMIT $2::bigint"
        " FOR UPDATE OF q SKIP LOCKED) c WHERE w.id = c.id"
        " RETURNING w.id, w.claim, w.run_id, w.unit, w.attempt, w.map_index, w.task_id,"
        " w.plugin, w.params, w.workdir",
    [PG_WORK_RENEW - PG_WORK_ENQUEUE] =
        "UPDATE work_queue w SET lease_until = " NOW_MS " + $3::bigint"
        " FROM unnest($1::bigint[], $2::bigint[]) AS u(id, claim)"
        " WHERE w.id = u.id AND w.claim = u.claim AND w.state IN (1, 2)"
        " AND w.lease_until > " NOW_MS " RETURNING w.id, w.state",
    /* A row with a NULL id says the notification went out. */
    [PG_WORK_COMPLETE - PG_WORK_ENQUEUE] =
        "WITH d AS (SELECT * FROM json_to_recordset($1::json) AS x(id bigint, claim bigint,"
        " status integer, result text, error text, log text)),"
        " up AS (UPDATE work_queue w SET state = 3, status = d.status, result = d.result,"
        " error = d.error, log = d.log, done_at = " NOW_MS " FROM d"
        " WHERE w.id = d.id AND w.claim = d.claim AND w.state IN (1, 2)"
        " AND w.lease_until > " NOW_MS " RETURNING w.id)"
        " SELECT id FROM up UNION ALL SELECT NULL FROM (SELECT pg_notify('dagflow_done', ''))"
        " n WHERE EXISTS (SELECT 1 FROM up)",
    [PG_WORK_COLLECT - PG_WORK_ENQUEUE] =
        "WITH d AS (DELETE FROM work_queue w WHERE w.id IN (SELECT id FROM work_queue"
        " WHERE state = 3 AND run_id = ANY($1::bigint[]) ORDER BY id LIMIT $2::bigint"
        " FOR UPDATE SKIP LOCKED) RETURNING w.*), " WORK_HISTORY(
            "d.done_at", "false") " SELECT d.run_id, d.unit, d.attempt, d.status, d.result, "
                                  "d.error, d.log, d.worker,"
                                  " d.claimed_at - d.enqueued_at, false FROM d",
    /* A row whose worker reported a crash in the attempt's own code (crashed_at, set by
     * safety.c's PG_CRASH_WORK with its lease ended) comes back charged. */
    [PG_WORK_EXPIRE - PG_WORK_ENQUEUE] =
        "WITH d AS (DELETE FROM work_queue w WHERE w.state IN (1, 2)"
        " AND w.run_id = ANY($1::bigint[]) AND (w.lease_until <= " NOW_MS
        " OR w.crashed_at IS NOT NULL) RETURNING w.*), " WORK_HISTORY(
            NOW_MS,
            "true") " SELECT d.run_id, d.unit, d.attempt, NULL::integer, NULL::text, NULL::text,"
                    " NULL::text, d.worker, d.claimed_at - d.enqueued_at,"
                    " d.crashed_at IS NOT NULL FROM d",
    [PG_WORK_CANCEL - PG_WORK_ENQUEUE] =
        "WITH up AS (UPDATE work_queue SET state = CASE WHEN state = 0 THEN 3 ELSE 2 END,"
        " status = CASE WHEN state = 0 THEN $4::integer ELSE status END,"
        " error = CASE WHEN state = 0 THEN 'cancelled before a worker claimed it' ELSE error END,"
        " claimed_at = COALESCE(claimed_at, " NOW_MS ")"
        " WHERE run_id = $1::bigint AND unit = $2::bigint AND attempt = $3::bigint"
        " AND state IN (0, 1) RETURNING state)"
        " SELECT pg_notify('dagflow_done', '') FROM up WHERE state = 3",
    [PG_WORK_FORGET - PG_WORK_ENQUEUE] =
        "DELETE FROM work_queue WHERE run_id = $1::bigint AND ($2::bigint < 0"
        " OR (unit = $2::bigint AND attempt = $3::bigint))",
    [PG_WORK_PRUNE - PG_WORK_ENQUEUE] =
        "DELETE FROM work_queue w WHERE NOT EXISTS (SELECT 1 FROM runs r"
        " WHERE r.run_id = w.run_id AND r.state = 'RUNNING')",
};

const char *df_pg_work_sql(enum df_pg_stmt_id id)
{
    return work_sql[id - PG_WORK_ENQUEUE];
}

static int oom(df_pg_store *s, const char *W)
{
    return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
}

/* "{1,2,3}": a bigint[] in text form (numbers only: nothing to quote). NULL when out of
 * memory; free it. */
static char *bigint_array(const long long *v, size_t n)
{
    char *buf = malloc(n * 22 + 3), *w = buf;
    if (!buf)
        return NULL;
    *w++ = '{';
    for (size_t k = 0; k < n; k++)
        w += sprintf(w, k ? ",%lld" : "%lld", v[k]);
    *w++ = '}';
    *w = '\0';
    return buf;
}

/* A JSON string member, or null for NULL. */
static int set_str(json_t *o, const char *key, const char *v)
{
    return json_object_set_new(o, key, v ? json_string(v) : json_null());
}

static int pg_enqueue(df_store *store, const df_work_item *items, size_t n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "enqueue attempts";
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (size_t k = 0; ok && k < n; k++) {
        const df_work_item *it = &items[k];
        json_t *o = json_object();
        ok = o && !set_str(o, "queue", it->queue ? it->queue : "default") &&
             !json_object_set_new(o, "run_id", json_integer(it->run_id)) &&
             !json_object_set_new(o, "unit", json_integer(it->unit)) &&
             !json_object_set_new(o, "attempt", json_integer(it->attempt)) &&
             !set_str(o, "task_id", it->task_id) &&
             !json_object_set_new(o, "map_index", json_integer(it->map_index)) &&
             !set_str(o, "plugin", it->plugin) && !set_str(o, "params", it->params) &&
             !set_str(o, "workdir", it->workdir ? it->workdir : ".") &&
             !json_array_append_new(arr, o);
    }
    char *text = ok ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!text)
        return oom(s, W);
    df_pg_params p = {0};
    df_pg_text(&p, text);
    int code = df_pg_write_cas(s, PG_WORK_ENQUEUE, &p, W, NULL, NULL);
    free(text);
    return code;
}

static int pg_claim(df_store *store, const char *worker, const char *const *queues, size_t nq,
                    size_t max, int64_t lease_ms, df_work_claim **out, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "claim attempts";
    json_t *qs = json_array();
    for (size_t k = 0; qs && k < nq; k++)
        if (json_array_append_new(qs, json_string(queues[k])) != 0) {
            json_decref(qs);
            qs = NULL;
        }
    char *qtext = qs ? json_dumps(qs, JSON_COMPACT) : NULL;
    json_decref(qs);
    if (!qtext)
        return oom(s, W);
    df_pg_params p = {0};
    df_pg_text(&p, qtext);
    df_pg_i64(&p, (long long)max);
    df_pg_i64(&p, (long long)lease_ms);
    df_pg_text(&p, worker);
    int code;
    PGresult *r = df_pg_exec(s, PG_WORK_CLAIM, &p, W, &code);
    free(qtext);
    if (!r)
        return code;
    int rows = PQntuples(r);
    df_work_claim *c = rows ? calloc((size_t)rows, sizeof *c) : NULL;
    bool bad = rows && !c;
    for (int i = 0; !bad && i < rows; i++) {
        c[i].id = df_pg_ll(r, i, 0);
        c[i].claim = df_pg_ll(r, i, 1);
        c[i].run_id = df_pg_ll(r, i, 2);
        c[i].unit = df_pg_ll(r, i, 3);
        c[i].attempt = (unsigned)df_pg_ll(r, i, 4);
        c[i].map_index = df_pg_ll(r, i, 5);
        c[i].task_id = df_pg_strdup(r, i, 6, &bad);
        c[i].plugin = df_pg_strdup(r, i, 7, &bad);
        c[i].params = df_pg_strdup(r, i, 8, &bad);
        c[i].workdir = df_pg_strdup(r, i, 9, &bad);
    }
    PQclear(r);
    if (bad) {
        /* The rows stay claimed: their leases expire and the engines queue them again. */
        df_work_claims_free(c, (size_t)rows);
        return oom(s, W);
    }
    *out = c;
    *n = (size_t)rows;
    return DF_STORE_OK;
}

static int pg_renew(df_store *store, const long long *ids, const long long *claims, size_t n,
                    int64_t lease_ms, unsigned char *state)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "renew leases";
    char *a = bigint_array(ids, n), *b = bigint_array(claims, n);
    if (!a || !b) {
        free(a);
        free(b);
        return oom(s, W);
    }
    df_pg_params p = {0};
    df_pg_text(&p, a);
    df_pg_text(&p, b);
    df_pg_i64(&p, (long long)lease_ms);
    int code;
    PGresult *r = df_pg_exec(s, PG_WORK_RENEW, &p, W, &code);
    free(a);
    free(b);
    if (!r)
        return code;
    for (size_t k = 0; k < n; k++)
        state[k] = 1;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        long long id = df_pg_ll(r, i, 0);
        for (size_t k = 0; k < n; k++)
            if (ids[k] == id)
                state[k] = df_pg_ll(r, i, 1) == 2 ? 2 : 0;
    }
    PQclear(r);
    return DF_STORE_OK;
}

static int pg_complete(df_store *store, const df_work_done *done, size_t n, bool *accepted)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "complete attempts";
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (size_t k = 0; ok && k < n; k++) {
        json_t *o = json_object();
        ok = o && !json_object_set_new(o, "id", json_integer(done[k].id)) &&
             !json_object_set_new(o, "claim", json_integer(done[k].claim)) &&
             !json_object_set_new(o, "status", json_integer(done[k].status)) &&
             !set_str(o, "result", done[k].result) && !set_str(o, "error", done[k].error) &&
             !set_str(o, "log", done[k].log) && !json_array_append_new(arr, o);
    }
    char *text = ok ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!text)
        return oom(s, W);
    df_pg_params p = {0};
    df_pg_text(&p, text);
    int code;
    PGresult *r = df_pg_exec(s, PG_WORK_COMPLETE, &p, W, &code);
    free(text);
    if (!r)
        return code;
    for (size_t k = 0; k < n; k++)
        accepted[k] = false;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(r, i, 0))
            continue;
        long long id = df_pg_ll(r, i, 0);
        for (size_t k = 0; k < n; k++)
            if (done[k].id == id)
                accepted[k] = true;
    }
    PQclear(r);
    return DF_STORE_OK;
}

static int pg_collect(df_store *store, const long long *runs, size_t nruns, size_t max,
                      bool expired, df_work_outcome **out, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = expired ? "expire leases" : "collect outcomes";
    char *a = bigint_array(runs, nruns);
    if (!a)
        return oom(s, W);
    df_pg_params p = {0};
    df_pg_text(&p, a);
    if (!expired)
        df_pg_i64(&p, (long long)max);
    int code;
    PGresult *r = df_pg_exec(s, expired ? PG_WORK_EXPIRE : PG_WORK_COLLECT, &p, W, &code);
    free(a);
    if (!r)
        return code;
    int rows = PQntuples(r);
    df_work_outcome *o = rows ? calloc((size_t)rows, sizeof *o) : NULL;
    bool bad = rows && !o;
    for (int i = 0; !bad && i < rows; i++) {
        o[i].run_id = df_pg_ll(r, i, 0);
        o[i].unit = df_pg_ll(r, i, 1);
        o[i].attempt = (unsigned)df_pg_ll(r, i, 2);
        o[i].lost = expired;
        o[i].status = (int)df_pg_ll(r, i, 3);
        o[i].result = df_pg_strdup(r, i, 4, &bad);
        o[i].error = df_pg_strdup(r, i, 5, &bad);
        o[i].log = df_pg_strdup(r, i, 6, &bad);
        o[i].worker = df_pg_strdup(r, i, 7, &bad);
        o[i].wait_ms = df_pg_ll(r, i, 8);
        o[i].charged = expired && strcmp(PQgetvalue(r, i, 9), "t") == 0;
    }
    PQclear(r);
    if (bad) {
        df_work_outcomes_free(o, (size_t)rows);
        return oom(s, W);
    }
    *out = o;
    *n = (size_t)rows;
    return DF_STORE_OK;
}

static int pg_cancel(df_store *store, long long run_id, long long unit, unsigned attempt,
                     int status)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_i64(&p, unit);
    df_pg_i64(&p, attempt);
    df_pg_i64(&p, status);
    return df_pg_write(df_pg_of(store), PG_WORK_CANCEL, &p, "cancel a queued attempt", NULL);
}

static int pg_forget(df_store *store, long long run_id, long long unit, unsigned attempt)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_i64(&p, unit);
    df_pg_i64(&p, attempt);
    return df_pg_write(df_pg_of(store), PG_WORK_FORGET, &p, "forget a queued attempt", NULL);
}

static int pg_prune(df_store *store, long long *dropped)
{
    return df_pg_write(df_pg_of(store), PG_WORK_PRUNE, NULL, "drop queue rows of ended runs",
                       dropped);
}

/* LISTEN on a fixed channel name (checked: letters and underscores only, so it may be pasted
 * into the statement). */
static bool listen_now(df_pg_store *s, const char *channel)
{
    char sql[64];
    snprintf(sql, sizeof sql, "LISTEN %s", channel);
    PGresult *r = PQexec(s->conn, sql);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

void df_pg_work_relisten(df_pg_store *s)
{
    for (size_t k = 0; k < sizeof s->listen / sizeof s->listen[0]; k++)
        if (s->listen[k][0])
            listen_now(s, s->listen[k]);
}

static int pg_listen(df_store *store, const char *channel)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "listen for notifications";
    if (strcmp(channel, "dagflow_work") != 0 && strcmp(channel, "dagflow_done") != 0)
        return df_store_failf(store, DF_STORE_ERROR, "store: %s: unknown channel", W);
    size_t free_slot = SIZE_MAX;
    for (size_t k = 0; k < sizeof s->listen / sizeof s->listen[0]; k++) {
        if (strcmp(s->listen[k], channel) == 0)
            return DF_STORE_OK;
        if (!s->listen[k][0] && free_slot == SIZE_MAX)
            free_slot = k;
    }
    if (free_slot == SIZE_MAX)
        return df_store_failf(store, DF_STORE_ERROR, "store: %s: too many channels", W);
    snprintf(s->listen[free_slot], sizeof s->listen[free_slot], "%s", channel);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        int code = df_pg_connect(s, W); /* connect_once LISTENs */
        return code;
    }
    if (!listen_now(s, channel))
        return df_store_failf(store, DF_STORE_ERROR, "store: %s: %s", W, PQerrorMessage(s->conn));
    return DF_STORE_OK;
}

/* See work.h: kept for the next connections (conn.c passes it to libpq), and set on the open
 * one's socket, where a Unix socket refuses it harmlessly. */
static int pg_set_timeout(df_store *store, int64_t ms)
{
    df_pg_store *s = df_pg_of(store);
    s->net_timeout_ms = (long)ms;
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK && PQsocket(s->conn) >= 0) {
        unsigned int v = (unsigned int)ms;
        (void)setsockopt(PQsocket(s->conn), IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v);
    }
    return DF_STORE_OK;
}

static int pg_fd(df_store *store)
{
    df_pg_store *s = df_pg_of(store);
    return s->conn && PQstatus(s->conn) == CONNECTION_OK ? PQsocket(s->conn) : -1;
}

static int pg_notified(df_store *store)
{
    df_pg_store *s = df_pg_of(store);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return 0;
    PQconsumeInput(s->conn);
    int n = 0;
    PGnotify *nt;
    while ((nt = PQnotifies(s->conn)) != NULL) {
        n++;
        PQfreemem(nt);
    }
    return n;
}

const df_store_work_ops df_pg_work_ops = {
    .enqueue = pg_enqueue,
    .claim = pg_claim,
    .renew = pg_renew,
    .complete = pg_complete,
    .collect = pg_collect,
    .cancel = pg_cancel,
    .forget = pg_forget,
    .prune = pg_prune,
    .listen = pg_listen,
    .set_timeout = pg_set_timeout,
    .fd = pg_fd,
    .notified = pg_notified,
};
