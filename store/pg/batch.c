/* pg/batch: the transitions of a group commit gathered into multi-row statements. With deferred
 * checks (pipe.c), df_pg_transition adds its row here instead of sending a statement; the rows go
 * out as one PG_TRANSITIONS statement (a JSON array of rows, json_to_recordset) before any other
 * statement is sent or any answer read, at the latest at the commit, so the statements still
 * reach PostgreSQL in the order they were made — except attempt opens and closes, which touch
 * other tables and may pass the gathered transitions. Each row is the compare-and-set of
 * PG_TRANSITION (the task's state and attempt, as read in the same UPDATE) with its event, events
 * inserted in the order the transitions were made; the statement returns the numbers of the rows
 * that applied, so the first that did not is named by the same message as on its own. A batch
 * never holds two transitions of one task instance (the second waits for the next batch: one
 * UPDATE changes a row once). */
#include "internal.h"

#include <jansson.h>

/* Transitions per statement at most. */
#define DF_PG_BATCH_MAX 512

/* See internal.h. */
void df_pg_batch_clear(df_pg_store *s)
{
    for (size_t i = 0; i < s->tr_n; i++)
        free(s->tr_cas[i].task_id);
    s->tr_n = 0;
    if (s->tr_rows)
        json_array_clear(s->tr_rows);
}

/* See internal.h. */
void df_pg_batch_free(df_pg_store *s)
{
    df_pg_batch_clear(s);
    free(s->tr_cas);
    s->tr_cas = NULL;
    s->tr_cap = 0;
    json_decref(s->tr_rows);
    s->tr_rows = NULL;
}

/* See internal.h. The gathered rows become one queued statement; the answer's check gets the
 * rows' diagnostics (ownership of tr_cas moves to the queue). */
int df_pg_batch_flush(df_pg_store *s)
{
    if (s->tr_n == 0)
        return DF_STORE_OK;
    const char *W = "record transitions";
    char *text = json_dumps(s->tr_rows, JSON_COMPACT);
    if (!text) {
        df_pg_batch_clear(s);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    df_pg_params p = {0};
    df_pg_text(&p, text);
    df_pg_cas *rows = s->tr_cas;
    size_t n = s->tr_n;
    s->tr_cas = NULL;
    s->tr_cap = 0;
    s->tr_n = 0;
    json_array_clear(s->tr_rows);
    int code = df_pg_queue_rows(s, PG_TRANSITIONS, &p, W, df_pg_transition_refused, rows, n);
    free(text);
    return code;
}

/* Whether the batch holds a transition of this task instance already. */
static bool holds(const df_pg_store *s, long long run_id, const char *task_id, long long mi)
{
    for (size_t i = s->tr_n; i-- > 0;)
        if (s->tr_cas[i].run_id == run_id && s->tr_cas[i].map_index == mi &&
            strcmp(s->tr_cas[i].task_id, task_id) == 0)
            return true;
    return false;
}

/* The JSON row of t (numbered k); NULL when out of memory. */
static json_t *row_of(const df_transition *t, long long mi, size_t k)
{
    return json_pack("{s:I, s:s, s:I, s:I, s:b, s:s?, s:s?, s:o, s:b, s:I, s:s, s:s, s:I, s:s?, "
                     "s:I}",
                     "k", (json_int_t)k, "ts", df_task_state_name(t->to), "ta",
                     (json_int_t)t->to_attempt, "at", (json_int_t)t->at, "fin",
                     df_task_state_final(t->to), "err", t->error, "res", t->result_json, "nra",
                     t->next_retry_at ? json_integer(t->next_retry_at) : json_null(), "rst",
                     t->reset_retry_budget != 0, "run", (json_int_t)t->run_id, "task", t->task_id,
                     "fs", df_task_state_name(t->from), "fa", (json_int_t)t->from_attempt, "det",
                     t->detail, "mi", (json_int_t)mi);
}

/* See internal.h. */
int df_pg_batch_transition(df_pg_store *s, const df_transition *t)
{
    const char *W = "record transition";
    long long mi = t->mapped ? t->map_index : DF_NO_MAP_INDEX;
    if (s->tr_n >= DF_PG_BATCH_MAX || holds(s, t->run_id, t->task_id, mi)) {
        int code = df_pg_batch_flush(s);
        if (code != DF_STORE_OK)
            return code;
    }
    if (!s->tr_rows && !(s->tr_rows = json_array()))
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    if (s->tr_n == s->tr_cap) {
        size_t cap = s->tr_cap ? s->tr_cap * 2 : 64;
        df_pg_cas *v = realloc(s->tr_cas, cap * sizeof *v);
        if (!v)
            return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
        s->tr_cas = v;
        s->tr_cap = cap;
    }
    char *task = strdup(t->task_id);
    json_t *row = task ? row_of(t, mi, s->tr_n) : NULL;
    if (!row || json_array_append_new(s->tr_rows, row) != 0) {
        free(task);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    s->tr_cas[s->tr_n++] = (df_pg_cas){.run_id = t->run_id,
                                       .task_id = task,
                                       .map_index = mi,
                                       .attempt = t->from_attempt,
                                       .from = (int)t->from};
    return DF_STORE_OK;
}
