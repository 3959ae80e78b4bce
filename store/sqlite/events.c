/* sqlite/events: the transitions' events of a transaction, appended in bulk (issue 14's append
 * layout). A transition's compare-and-set UPDATE runs at once (its outcome decides the caller's
 * next step); its event row waits in a queue and goes in with the others of the transaction by
 * multi-row INSERTs at the commit, in the order the transitions were made, so seq still orders
 * every transition of a run (SPEC §7). Anything that must see the events or write after them
 * flushes the queue first (stmt.c: commit, savepoints, the end of an operation, reads of events);
 * a rollback drops it. Nothing is dispatched before the commit, which includes the events. */
#include "internal.h"

#include <stdio.h>

typedef struct df_sqlite_event {
    long long run_id, map_index;
    char *task_id, *detail; /* owned */
    const char *from, *to;  /* static state names */
    int64_t at;
    unsigned attempt;
} df_sqlite_event;

static char *dup_or_null(const char *v, bool *oom)
{
    if (!v)
        return NULL;
    char *d = strdup(v);
    if (!d)
        *oom = true;
    return d;
}

/* See internal.h. */
int df_sqlite_events_add(df_sqlite_store *s, const df_transition *t)
{
    if (s->n_ev == s->cap_ev) {
        size_t cap = s->cap_ev ? s->cap_ev * 2 : 64;
        df_sqlite_event *ev = realloc(s->ev, cap * sizeof *ev);
        if (!ev)
            return df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: record transition: out of memory");
        s->ev = ev;
        s->cap_ev = cap;
    }
    bool oom = false;
    df_sqlite_event *e = &s->ev[s->n_ev];
    *e = (df_sqlite_event){.run_id = t->run_id,
                           .map_index = t->mapped ? t->map_index : DF_NO_MAP_INDEX,
                           .task_id = dup_or_null(t->task_id, &oom),
                           .detail = dup_or_null(t->detail, &oom),
                           .from = df_task_state_name(t->from),
                           .to = df_task_state_name(t->to),
                           .at = t->at,
                           .attempt = t->to_attempt};
    if (oom) {
        free(e->task_id);
        free(e->detail);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: record transition: out of memory");
    }
    s->n_ev++;
    return DF_STORE_OK;
}

#define EV_HEAD                                                                                    \
    "INSERT INTO task_event_log"                                                                   \
    " (run_id, task_id, from_state, to_state, at, attempt, detail, map_index) VALUES "
#define EV_ROW "(?,?,?,?,?,?,?,?)"
#define EV_COLS 8

/* The cached INSERT of 2^slot rows; NULL with *code. */
static sqlite3_stmt *ev_stmt(df_sqlite_store *s, int slot, const char *W, int *code)
{
    return df_sqlite_multirow_stmt(s, &s->ev_st[slot], EV_HEAD, EV_ROW, (size_t)1 << slot, W, code);
}

/* Writes events from .. from + 2^slot - 1 by one INSERT. */
static int write_chunk(df_sqlite_store *s, size_t from, int slot, const char *W)
{
    int code;
    sqlite3_stmt *st = ev_stmt(s, slot, W, &code);
    if (!st)
        return code;
    size_t n = (size_t)1 << slot;
    for (size_t k = 0; k < n; k++) {
        const df_sqlite_event *e = &s->ev[from + k];
        int b = (int)k * EV_COLS;
        sqlite3_bind_int64(st, b + 1, e->run_id);
        sqlite3_bind_text(st, b + 2, e->task_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, b + 3, e->from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, b + 4, e->to, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, b + 5, e->at);
        sqlite3_bind_int64(st, b + 6, e->attempt);
        df_sqlite_bind_text(st, b + 7, e->detail);
        sqlite3_bind_int64(st, b + 8, e->map_index);
    }
    code = df_sqlite_run_write(s, st, W);
    sqlite3_clear_bindings(st); /* the strings are freed once written */
    return code;
}

/* See internal.h. On failure the queue is dropped too: the caller rolls back. */
int df_sqlite_events_flush(df_sqlite_store *s, const char *what)
{
    int code = DF_STORE_OK;
    size_t i = 0;
    while (code == DF_STORE_OK && i < s->n_ev) {
        int slot = DF_SQLITE_EV_SLOTS - 1;
        while (((size_t)1 << slot) > s->n_ev - i)
            slot--;
        code = write_chunk(s, i, slot, what);
        i += (size_t)1 << slot;
    }
    df_sqlite_events_drop(s);
    return code;
}

/* See internal.h. */
void df_sqlite_events_drop(df_sqlite_store *s)
{
    for (size_t i = 0; i < s->n_ev; i++) {
        free(s->ev[i].task_id);
        free(s->ev[i].detail);
    }
    s->n_ev = 0;
}

/* See internal.h. */
void df_sqlite_events_free(df_sqlite_store *s)
{
    df_sqlite_events_drop(s);
    free(s->ev);
    s->ev = NULL;
    s->cap_ev = 0;
    for (int i = 0; i < DF_SQLITE_EV_SLOTS; i++) {
        sqlite3_finalize(s->ev_st[i]);
        s->ev_st[i] = NULL;
    }
}
