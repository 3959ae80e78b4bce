/* pg/batch: the rows of a group commit gathered into multi-row statements. With deferred checks
 * (pipe.c), a transition, an attempt's opening and an attempt's closing add their row here
 * instead of sending a statement each; the rows go out as one statement per kind (PG_TRANSITIONS,
 * PG_ATTEMPTS_OPEN, PG_ATTEMPTS_CLOSE: a JSON array of rows read by json_to_recordset) before any
 * other statement is sent or any answer read, at the latest at the commit, in that order
 * (transitions, then openings, then closings: an attempt is opened before it is closed; the
 * kinds write different tables, so their relative order is otherwise free), so every other
 * statement still sees them all. Each row is its single-row statement's compare-and-set (a
 * transition's state and attempt, an attempt that must not exist yet, an attempt still RUNNING);
 * transitions' events are inserted in the order the transitions were made; each statement
 * returns the numbers of the rows that applied, so the first that did not gets the message it
 * gets on its own. A batch never holds two transitions of one task instance (one UPDATE changes
 * a row once: the second waits for the next statement). */
#include "internal.h"

#include <jansson.h>

/* Rows per statement at most, and text (results, errors, logs) per statement before it is sent
 * early. */
#define DF_PG_BATCH_MAX 512
#define DF_PG_BATCH_BYTES (1 << 20)

static const enum df_pg_stmt_id batch_stmt[DF_PG_B__COUNT] = {
    [DF_PG_B_TRANSITION] = PG_TRANSITIONS,
    [DF_PG_B_OPEN] = PG_ATTEMPTS_OPEN,
    [DF_PG_B_CLOSE] = PG_ATTEMPTS_CLOSE,
};

static const char *const batch_what[DF_PG_B__COUNT] = {
    [DF_PG_B_TRANSITION] = "record transition",
    [DF_PG_B_OPEN] = "open attempt",
    [DF_PG_B_CLOSE] = "close attempt",
};

static void clear_one(df_pg_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->cas[i].task_id);
    b->n = 0;
    b->bytes = 0;
    if (b->rows)
        json_array_clear(b->rows);
}

/* See internal.h. */
void df_pg_batch_clear(df_pg_store *s)
{
    for (int k = 0; k < DF_PG_B__COUNT; k++)
        clear_one(&s->batch[k]);
    s->batched = 0;
}

/* See internal.h. */
void df_pg_batch_free(df_pg_store *s)
{
    df_pg_batch_clear(s);
    for (int k = 0; k < DF_PG_B__COUNT; k++) {
        free(s->batch[k].cas);
        json_decref(s->batch[k].rows);
        s->batch[k] = (df_pg_batch){0};
    }
}

/* Sends batch kind as one queued statement; the check of its answer gets the rows' diagnostics
 * (their ownership moves to the queue). */
static int flush_one(df_pg_store *s, int kind)
{
    df_pg_batch *b = &s->batch[kind];
    if (b->n == 0)
        return DF_STORE_OK;
    const char *W = batch_what[kind];
    char *text = json_dumps(b->rows, JSON_COMPACT);
    size_t n = b->n;
    df_pg_cas *rows = b->cas;
    s->batched -= n;
    b->cas = NULL;
    b->cap = 0;
    b->n = 0;
    b->bytes = 0;
    json_array_clear(b->rows);
    if (!text) {
        for (size_t i = 0; i < n; i++)
            free(rows[i].task_id);
        free(rows);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    df_pg_refused_fn why[DF_PG_B__COUNT] = {df_pg_transition_refused, df_pg_open_refused,
                                            df_pg_close_refused};
    df_pg_params p = {0};
    df_pg_text(&p, text);
    int code = df_pg_queue_rows(s, batch_stmt[kind], &p, W, why[kind], rows, n);
    free(text);
    return code;
}

/* See internal.h. */
int df_pg_batch_flush(df_pg_store *s)
{
    int code = DF_STORE_OK;
    for (int k = 0; k < DF_PG_B__COUNT && code == DF_STORE_OK; k++)
        code = flush_one(s, k);
    if (code != DF_STORE_OK)
        df_pg_batch_clear(s);
    return code;
}

/* Whether batch kind holds a row of this task instance already (transitions only). */
static bool holds(const df_pg_batch *b, const df_pg_cas *c)
{
    for (size_t i = b->n; i-- > 0;)
        if (b->cas[i].run_id == c->run_id && b->cas[i].map_index == c->map_index &&
            strcmp(b->cas[i].task_id, c->task_id) == 0)
            return true;
    return false;
}

/* Adds row (a new reference, numbered by the caller with "k") of kind, with its diagnostics c
 * (task_id copied). No row (its text is not UTF-8, which JSON cannot carry): DF_PG_UNBATCHED,
 * the gathered rows sent first, so that the caller's own statement comes after them. */
static int add(df_pg_store *s, int kind, json_t *row, const df_pg_cas *c, size_t bytes)
{
    df_pg_batch *b = &s->batch[kind];
    const char *W = batch_what[kind];
    if (!row) {
        int code = df_pg_batch_flush(s);
        return code == DF_STORE_OK ? DF_PG_UNBATCHED : code;
    }
    if (!b->rows && !(b->rows = json_array())) {
        json_decref(row);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        df_pg_cas *v = realloc(b->cas, cap * sizeof *v);
        if (!v) {
            json_decref(row);
            return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
        }
        b->cas = v;
        b->cap = cap;
    }
    df_pg_cas copy = *c;
    copy.task_id = strdup(c->task_id);
    if (!copy.task_id || json_array_append_new(b->rows, row) != 0) {
        free(copy.task_id);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    b->cas[b->n++] = copy;
    b->bytes += bytes;
    s->batched++;
    if (b->n >= DF_PG_BATCH_MAX || b->bytes >= DF_PG_BATCH_BYTES)
        return df_pg_batch_flush(s);
    return DF_STORE_OK;
}

static size_t len(const char *t)
{
    return t ? strlen(t) : 0;
}

/* See internal.h. */
int df_pg_batch_transition(df_pg_store *s, const df_transition *t)
{
    long long mi = t->mapped ? t->map_index : DF_NO_MAP_INDEX;
    df_pg_cas c = {.run_id = t->run_id,
                   .task_id = (char *)t->task_id,
                   .map_index = mi,
                   .attempt = t->from_attempt,
                   .from = (int)t->from};
    df_pg_batch *b = &s->batch[DF_PG_B_TRANSITION];
    if (holds(b, &c)) {
        int code = df_pg_batch_flush(s);
        if (code != DF_STORE_OK)
            return code;
    }
    json_t *row = json_pack(
        "{s:I, s:s, s:I, s:I, s:b, s:s?, s:s?, s:o, s:b, s:I, s:s, s:s, s:I, s:s?, s:I}", "k",
        (json_int_t)b->n, "ts", df_task_state_name(t->to), "ta", (json_int_t)t->to_attempt, "at",
        (json_int_t)t->at, "fin", df_task_state_final(t->to), "err", t->error, "res",
        t->result_json, "nra", t->next_retry_at ? json_integer(t->next_retry_at) : json_null(),
        "rst", t->reset_retry_budget != 0, "run", (json_int_t)t->run_id, "task", t->task_id, "fs",
        df_task_state_name(t->from), "fa", (json_int_t)t->from_attempt, "det", t->detail, "mi",
        (json_int_t)mi);
    return add(s, DF_PG_B_TRANSITION, row, &c, len(t->result_json) + len(t->error));
}

/* See internal.h. */
int df_pg_batch_open(df_pg_store *s, long long run_id, const char *task_id, long long map_index,
                     unsigned attempt, int64_t started_at)
{
    df_pg_cas c = {
        .run_id = run_id, .task_id = (char *)task_id, .map_index = map_index, .attempt = attempt};
    df_pg_batch *b = &s->batch[DF_PG_B_OPEN];
    json_t *row = json_pack("{s:I, s:I, s:s, s:I, s:I, s:I}", "k", (json_int_t)b->n, "run",
                            (json_int_t)run_id, "task", task_id, "mi", (json_int_t)map_index, "a",
                            (json_int_t)attempt, "at", (json_int_t)started_at);
    return add(s, DF_PG_B_OPEN, row, &c, 0);
}

/* See internal.h. */
int df_pg_batch_close(df_pg_store *s, long long run_id, const char *task_id, long long map_index,
                      unsigned attempt, const char *outcome, int64_t ended_at, const char *error,
                      const char *log, const char *output)
{
    df_pg_cas c = {
        .run_id = run_id, .task_id = (char *)task_id, .map_index = map_index, .attempt = attempt};
    df_pg_batch *b = &s->batch[DF_PG_B_CLOSE];
    json_t *row = json_pack("{s:I, s:s, s:I, s:s?, s:s?, s:I, s:s, s:I, s:I, s:s?}", "k",
                            (json_int_t)b->n, "o", outcome, "at", (json_int_t)ended_at, "err",
                            error, "log", log, "run", (json_int_t)run_id, "task", task_id, "a",
                            (json_int_t)attempt, "mi", (json_int_t)map_index, "out", output);
    return add(s, DF_PG_B_CLOSE, row, &c, len(error) + len(log) + len(output));
}
