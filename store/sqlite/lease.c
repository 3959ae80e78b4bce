/* sqlite/lease: run leases in SQLite (SPEC §11, store.h's "run leases") — the fence that renews a
 * run's lease while this engine still owns it, adoption of a run whose lease ended, and the list
 * of such runs. Lease times are the local clock's (the caller's `at` / `now`); SQLite has one
 * writer at a time (BEGIN IMMEDIATE), so the fence, inside the caller's transaction, holds for
 * everything that transaction writes.
 *
 * A run renewed by a committed transaction of this store less than FRESH_MS ago (at most a third
 * of the lease) is not renewed again: the runs row holds the stored DAG (~850 KB for 10,000
 * tasks, ~90 MB for a million), and its UPDATE rewrote all of it in every transaction (issue 14:
 * 30% of a 10k-task run at --concurrency 8). Skipping it is safe here and only here: the lease
 * the committed renewal wrote still has two thirds of its time to run (by the same wall clock
 * adopters compare it with), so no engine can have adopted the run, and a resume that goes by the
 * heartbeat needs it 30 s old (DF_HEARTBEAT_STALE_MS); the transaction holds SQLite's one write
 * lock (BEGIN IMMEDIATE) to its end, so no adoption can come between this check and its commit.
 * (PostgreSQL's fence keeps renewing every time: there the fence's row lock is what orders a
 * transaction before an adoption.) */
#include "internal.h"

#include <stdlib.h>

#define FRESH_MS 1000

struct df_sqlite_renewal {
    long long run_id;
    int64_t at;       /* the wall ms the lease was renewed from */
    int64_t lease_ms; /* the lease then */
    bool committed;   /* by a committed transaction (else the open one's) */
};

static struct df_sqlite_renewal *renewal_find(df_sqlite_store *s, long long run_id)
{
    for (size_t i = 0; i < s->n_renewals; i++)
        if (s->renewals[i].run_id == run_id)
            return &s->renewals[i];
    return NULL;
}

static void renewal_drop(df_sqlite_store *s, struct df_sqlite_renewal *r)
{
    *r = s->renewals[--s->n_renewals];
}

/* Remembers the renewal of the open transaction; out of memory only costs renewing again. */
static void renewal_note(df_sqlite_store *s, long long run_id, int64_t at, int64_t lease_ms)
{
    struct df_sqlite_renewal *r = renewal_find(s, run_id);
    if (!r) {
        for (size_t i = s->n_renewals; i-- > 0;) /* runs not renewed for a while */
            if (s->renewals[i].at < at - FRESH_MS || s->renewals[i].at > at)
                renewal_drop(s, &s->renewals[i]);
        if (s->n_renewals == s->cap_renewals) {
            size_t cap = s->cap_renewals ? s->cap_renewals * 2 : 8;
            struct df_sqlite_renewal *v = realloc(s->renewals, cap * sizeof *v);
            if (!v)
                return;
            s->renewals = v;
            s->cap_renewals = cap;
        }
        r = &s->renewals[s->n_renewals++];
    }
    *r = (struct df_sqlite_renewal){
        .run_id = run_id, .at = at, .lease_ms = lease_ms, .committed = false};
}

/* See internal.h. */
void df_sqlite_renewals_end(df_sqlite_store *s, bool committed)
{
    for (size_t i = s->n_renewals; i-- > 0;) {
        if (committed)
            s->renewals[i].committed = true;
        else if (!s->renewals[i].committed)
            renewal_drop(s, &s->renewals[i]);
    }
}

/* See internal.h. */
int df_sqlite_lease_changed(df_store *store)
{
    df_sqlite_of(store)->n_renewals = 0;
    return DF_STORE_OK;
}

/* Whether run_id's lease was renewed by a committed transaction of this store, with this lease,
 * less than FRESH_MS (and a third of the lease) before now. */
static bool renewed_lately(df_sqlite_store *s, long long run_id, int64_t lease_ms, int64_t now)
{
    const struct df_sqlite_renewal *r = renewal_find(s, run_id);
    int64_t fresh = lease_ms / 3 < FRESH_MS ? lease_ms / 3 : FRESH_MS;
    return r && r->committed && r->lease_ms == lease_ms && now >= r->at && now - r->at < fresh;
}

/* See store.h (run_fence). */
int df_sqlite_run_fence(df_store *store, long long run_id, const df_engine_id *owner,
                        int64_t lease_ms, int64_t now)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "renew run lease";
    int code;
    if (renewed_lately(s, run_id, lease_ms, now))
        return DF_STORE_OK;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_FENCE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, lease_ms);
    sqlite3_bind_int64(st, 3, owner->pid);
    sqlite3_bind_text(st, 4, owner->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, owner->started_at);
    sqlite3_bind_int64(st, 6, run_id);
    code = df_sqlite_run_write(s, st, W);
    struct df_sqlite_renewal *old = renewal_find(s, run_id);
    if (old)
        renewal_drop(s, old);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) > 0)
        renewal_note(s, run_id, now, lease_ms);
    if (code != DF_STORE_OK || sqlite3_changes(s->db) > 0)
        return code;
    st = df_sqlite_stmt(s, ST_RUN_EXISTS, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    df_sqlite_done(st);
    if (rc == SQLITE_DONE)
        return df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    if (rc != SQLITE_ROW)
        return df_sqlite_fail(s, rc, W);
    return df_store_failf(&s->base, DF_STORE_CONFLICT,
                          "store: run %lld: this engine no longer holds the run's lease: another "
                          "engine adopted it",
                          run_id);
}

/* See store.h (run_adopt). */
int df_sqlite_run_adopt(df_store *store, long long run_id, const df_engine_id *expected,
                        const df_engine_id *engine, int64_t at, int64_t lease_ms)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "adopt run";
    int code;
    sqlite3_stmt *st = df_sqlite_engine_stmt(s, ST_RUN_ADOPT, run_id, engine, at, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 10, lease_ms);
    if (expected) {
        sqlite3_bind_int64(st, 6, expected->pid);
        df_sqlite_bind_text(st, 7, expected->host);
        df_sqlite_bind_ms(st, 8, expected->started_at);
    }
    code = df_sqlite_run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: run %lld is not adoptable (its owner renewed its lease, "
                              "another engine adopted it, or it ended)",
                              W, run_id);
    return code;
}

/* See store.h (adoptable_runs). */
int df_sqlite_adoptable_runs(df_store *store, const df_engine_id *me, int64_t now, long long **ids,
                             char ***workflows, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read adoptable runs";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ADOPTABLE_RUNS, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, me->pid);
    sqlite3_bind_text(st, 3, me->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, me->started_at);
    return df_sqlite_run_names(s, st, W, ids, workflows, n);
}
