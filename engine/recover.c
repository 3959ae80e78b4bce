/* recover: a stored run reopened by `resume` or `retry` — the checks on the run as a whole (a
 * finished run, a live engine, nothing to retry), the claim on it in the store (a
 * compare-and-set, so of two resumes at once only one wins), and alerts the dead engine left
 * undelivered. What the store holds of each task is fed to the run's core as events
 * (run_recover.c decides what becomes of each state); the shell performs the effects. */
#include "runner.h"

#include "../store/work.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "crash_record.h"
#include "liveness.h"
#include "takeover.h"

/* The task whose code crashed the dead engine, as its crash record says (crash_record.h). */
typedef struct culprit {
    char *task_id; /* or NULL: none known */
    long long map_index;
    unsigned attempt;
} culprit;

/* Whether the open attempt of st is charged to its task: the crashed engine's reporter said so
 * in the store (any host), or its crash record on this host names it (SPEC §12). */
static bool open_charged(const df_stored_task *st, const culprit *who)
{
    if (!who || st->open_attempt == 0)
        return false; /* restore, not resume: nothing is closed */
    if (st->open_charged)
        return true;
    return who->task_id && st->open_attempt == who->attempt && st->map_index == who->map_index &&
           strcmp(who->task_id, st->id) == 0;
}

/* The stored tasks as the core takes them (borrowing loaded's strings); the open attempt of the
 * culprit (may be NULL) is charged to its task. NULL on allocation failure. */
static df_task_snapshot *snapshots(const df_stored_run *loaded, const culprit *who)
{
    df_task_snapshot *s = calloc(loaded->n_tasks ? loaded->n_tasks : 1, sizeof *s);
    for (size_t k = 0; s && k < loaded->n_tasks; k++) {
        const df_stored_task *st = &loaded->tasks[k];
        s[k] = (df_task_snapshot){.id = st->id,
                                  .mapped = st->map_index >= 0,
                                  .map_index = st->map_index,
                                  .state = st->state,
                                  .attempts = st->attempts,
                                  .retry_base = st->retry_base,
                                  .failures = st->failures,
                                  .lost_streak = st->lost_streak,
                                  .charged_streak = st->charged_streak,
                                  .open_attempt = st->open_attempt,
                                  .open_charged = open_charged(st, who),
                                  .next_retry_at = st->next_retry_at,
                                  .first_started_at = st->retry_base == 0 ? st->started_at : 0,
                                  .result_json = st->result_json};
    }
    return s;
}

/* Restores the core's tasks from the store. Returns 0, DF_EREFUSED or DF_ENOMEM (err filled). */
static int restore(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    df_task_snapshot *s = snapshots(loaded, NULL);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return DF_ENOMEM;
    }
    int rc = df_run_core_restore(r->core, s, loaded->n_tasks, err, errlen);
    free(s);
    if (rc == 0 && df_run_map_restored(r) != 0) {
        snprintf(err, errlen, "out of memory");
        rc = DF_ENOMEM;
    }
    return rc;
}

/* Whether the engine recorded for a RUNNING run is still alive. */
static bool engine_alive(const df_stored_run *loaded, char *who, size_t wholen)
{
    long long pid = loaded->engine.pid;
    const char *host = loaded->has_engine ? loaded->engine.host : NULL;
    int64_t age = loaded->heartbeat_at ? df_now_ms() - loaded->heartbeat_at : INT64_MAX;
    char me[256] = "";
    gethostname(me, sizeof me - 1);
    snprintf(who, wholen, "pid %lld on %s", pid, host ? host : "?");
    if (host && strcmp(host, me) == 0 && pid > 0) {
        if (pid == (long long)getpid())
            return false;
        if (df_engine_owner_gone(&loaded->engine))
            return false; /* that process is gone, or its pid is another process's now */
    }
    return age < DF_HEARTBEAT_STALE_MS;
}

/* Why the claim of run_id found the run changed since it was read (inside the claim's
 * transaction): deleted meanwhile (`gc` of a finished run that `retry` was reopening), or owned
 * by another engine (two resumes or retries at once). */
static void conflict_error(df_engine *e, long long run_id, char *err, size_t errlen)
{
    df_stored_run *now = NULL;
    int rc = df_store_load_run(e->store, run_id, &now);
    if (rc == DF_STORE_NOTFOUND)
        snprintf(err, errlen,
                 "run %lld was deleted just now (by `dagflow gc`, or another command on the "
                 "database); not resuming",
                 run_id);
    else
        snprintf(err, errlen, "run %lld was taken over by another engine just now; not resuming",
                 run_id);
    df_stored_run_free(now);
}

/* Takes ownership of the run in the store: this engine (a compare-and-set against the engine
 * read with the run, so of two resumes at once only one wins), state RUNNING. Returns 0,
 * DF_EREFUSED with err filled when another engine claimed it first, DF_ESTORE (err filled) on a
 * store failure. */
static int take_over(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    df_engine *e = r->e;
    if (df_engine_tx(e) != 0) {
        snprintf(err, errlen, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    int rc = df_store_run_claim(e->store, r->id, loaded->has_engine ? &loaded->engine : NULL,
                                &e->engine_info, df_now_ms());
    if (rc == DF_STORE_CONFLICT) {
        conflict_error(e, r->id, err, errlen);
        df_store_rollback(e->store);
        e->in_tx = false;
        return DF_EREFUSED;
    }
    /* A new running period; one the dead engine left open ends at its last heartbeat. */
    int64_t now = df_now_ms();
    int64_t last = loaded->heartbeat_at && loaded->heartbeat_at < now ? loaded->heartbeat_at : now;
    if (rc != DF_STORE_OK ||
        df_store_run_set_state(e->store, r->id, DF_RS_RUNNING, 0) != DF_STORE_OK ||
        df_store_run_period_start(e->store, r->id, now, last) != DF_STORE_OK ||
        /* what the dead engine handed to workers is no longer waited for (SPEC §11): its
         * RUNNING attempts are closed LOST below and run again as new attempts */
        (df_store_has_work(e->store) &&
         df_store_work_forget(e->store, r->id, -1, 0) != DF_STORE_OK)) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        snprintf(err, errlen, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    return 0;
}

static int redeliver_pending_alerts(df_run *r)
{
    df_pending_alert *pending = NULL;
    size_t n = 0;
    if (df_store_alerts_pending(r->e->store, r->id, &pending, &n) != DF_STORE_OK) {
        df_engine_fail(r->e, "%s", df_store_error(r->e->store));
        return DF_ESTORE;
    }
    for (size_t k = 0; k < n; k++)
        df_engine_redeliver_alert(r->e, r->wf, pending[k].alert_id, pending[k].sink_index,
                                  pending[k].payload, pending[k].tries);
    df_pending_alerts_free(pending, n);
    return 0;
}

/* A finished run: only alerts its engine died before delivering are left to do. */
static int resume_finished(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    df_run_state st = loaded->state;
    df_pending_alert *pending = NULL;
    size_t n_pending = 0;
    if (df_store_alerts_pending(r->e->store, r->id, &pending, &n_pending) == DF_STORE_OK &&
        n_pending > 0) {
        df_pending_alerts_free(pending, n_pending);
        int rc = restore(r, loaded, err, errlen);
        if (rc != 0)
            return rc;
        df_run_core_finished(r->core, st);
        return redeliver_pending_alerts(r);
    }
    df_pending_alerts_free(pending, n_pending);
    snprintf(err, errlen,
             "run %lld has finished (%s); nothing to resume (use `dagflow retry %lld` to re-run "
             "its failed tasks)",
             r->id, df_run_state_name(st), r->id);
    return DF_EREFUSED;
}

/* A cancel request stored on the run (`dagflow cancel` of an INTERRUPTED run, or of one whose
 * engine died): the resumed run is cancelled before anything starts (SPEC §10). */
static int apply_cancel_request(df_run *r)
{
    df_cancel_request *v = NULL;
    size_t n = 0;
    if (df_store_cancel_requests(r->e->store, r->id, &v, &n) != DF_STORE_OK) {
        df_engine_fail(r->e, "%s", df_store_error(r->e->store));
        return DF_ESTORE;
    }
    if (n > 0) {
        df_run_request_cancel(r, v[0].reason);
        df_subworkflow_cancel_orphans(r, v[0].reason);
    }
    df_cancel_requests_free(v, n);
    return r->e->fatal ? DF_ESTORE : 0;
}

static int resume_owned(df_run *r, const df_stored_run *loaded);

int df_run_resume_prepare(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    df_run_state st = loaded->state;
    if (st == DF_RS_SUCCESS || st == DF_RS_FAILED || st == DF_RS_INVALID || st == DF_RS_CANCELLED)
        return resume_finished(r, loaded, err, errlen);
    char who[300];
    if (st == DF_RS_RUNNING && engine_alive(loaded, who, sizeof who)) {
        snprintf(err, errlen, "run %lld is still being run by a live engine (%s); not resuming",
                 r->id, who);
        return DF_EREFUSED;
    }
    int rc = restore(r, loaded, err, errlen);
    /* A frozen owner on this host is killed, and the processes of its attempts too, before the
     * run is claimed: no write lock held by it, no attempt running twice (SPEC §12). */
    if (rc == 0)
        rc = df_takeover_stop_owner(r->e, loaded, err, errlen);
    if (rc == 0)
        rc = df_takeover_clear_procs(r->e, r->id, err, errlen);
    if (rc == 0)
        rc = take_over(r, loaded, err, errlen);
    if (rc == 0)
        rc = df_takeover_forget_procs(r->e, r->id);
    if (rc != 0)
        return rc;
    return resume_owned(r, loaded);
}

/* Adoption's claim (SPEC §11): in a transaction of its own (what the engine had open is
 * committed first), the compare-and-set of df_store_run_adopt, then the run RUNNING in a new
 * running period, committed. Returns 0, DF_EREFUSED (err filled) when the run is not adoptable,
 * DF_ESTORE (err filled). */
static int adopt_claim(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    df_engine *e = r->e;
    if (df_engine_commit(e) != 0 || df_engine_tx(e) != 0) {
        snprintf(err, errlen, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    int64_t now = df_now_ms();
    int rc = df_store_run_adopt(e->store, r->id, loaded->has_engine ? &loaded->engine : NULL,
                                &e->engine_info, now);
    if (rc == DF_STORE_CONFLICT) {
        snprintf(err, errlen, "%s", df_store_error(e->store));
        return df_engine_commit(e) != 0 ? DF_ESTORE : DF_EREFUSED;
    }
    int64_t last = loaded->heartbeat_at && loaded->heartbeat_at < now ? loaded->heartbeat_at : now;
    if (rc != DF_STORE_OK ||
        df_store_run_set_state(e->store, r->id, DF_RS_RUNNING, 0) != DF_STORE_OK ||
        df_store_run_period_start(e->store, r->id, now, last) != DF_STORE_OK ||
        /* what the old owner handed to workers is no longer waited for, as on resume */
        (df_store_has_work(e->store) &&
         df_store_work_forget(e->store, r->id, -1, 0) != DF_STORE_OK)) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        snprintf(err, errlen, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    if (df_engine_commit(e) != 0) {
        snprintf(err, errlen, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    return 0;
}

int df_run_adopt_prepare(df_run *r, const df_stored_run *loaded, char *err, size_t errlen)
{
    df_run_state st = loaded->state;
    if (st != DF_RS_RUNNING && st != DF_RS_INTERRUPTED) {
        snprintf(err, errlen, "run %lld has finished (%s); nothing to adopt", r->id,
                 df_run_state_name(st));
        return DF_EREFUSED;
    }
    /* The claim first, committed: only then are the old owner's attempts' processes on this host
     * killed (its engine, if it still runs, is not: its writes are fenced off from now on). */
    int rc = restore(r, loaded, err, errlen);
    if (rc == 0)
        rc = adopt_claim(r, loaded, err, errlen);
    if (rc == 0)
        rc = df_takeover_clear_procs(r->e, r->id, err, errlen);
    if (rc == 0)
        rc = df_takeover_forget_procs(r->e, r->id);
    if (rc != 0)
        return rc;
    return resume_owned(r, loaded);
}

/* Resume and adoption, once the run is this engine's: open attempts closed as LOST (charged to
 * the task its dead owner's crash record names), the core resumed, a stored cancel request
 * applied, pending alerts delivered again. */
static int resume_owned(df_run *r, const df_stored_run *loaded)
{
    /* The owner is gone now: whether its crash was attributed to a task (SPEC §12). */
    culprit crashed = {0};
    if (loaded->has_engine)
        df_crash_record_take(&loaded->engine, r->id, &crashed.task_id, &crashed.map_index,
                             &crashed.attempt);
    df_task_snapshot *s = snapshots(loaded, &crashed);
    free(crashed.task_id);
    if (!s) {
        df_engine_fail(r->e, "out of memory");
        return DF_ESTORE;
    }
    df_run_clock clk = df_run_now();
    /* The run's own timeout counts from its creation, time spent INTERRUPTED included. */
    df_run_core_set_deadline_base(r->core, loaded->started_at);
    df_run_core_resume(r->core, s, loaded->n_tasks, &clk);
    free(s);
    df_run_perform(r);
    if (r->e->fatal)
        return DF_ESTORE;
    int rc = apply_cancel_request(r);
    return rc != 0 ? rc : redeliver_pending_alerts(r);
}

int df_run_retry_prepare(df_run *r, const df_stored_run *loaded, const char *task, char *err,
                         size_t errlen)
{
    df_run_state st = loaded->state;
    if (st == DF_RS_RUNNING || st == DF_RS_INTERRUPTED) {
        snprintf(err, errlen,
                 "run %lld has not finished (%s); use `dagflow resume %lld` to continue it", r->id,
                 df_run_state_name(st), r->id);
        return DF_EREFUSED;
    }
    if (st == DF_RS_INVALID) {
        snprintf(err, errlen,
                 "run %lld is INVALID (a plugin rejected its params); fix the workflow and run "
                 "it again",
                 r->id);
        return DF_EREFUSED;
    }
    int rc = restore(r, loaded, err, errlen);
    if (rc == 0)
        rc = df_run_core_retry_plan(r->core, task, err, errlen);
    if (rc == 0) /* what an engine killed during its stop's grace left running */
        rc = df_takeover_clear_procs(r->e, r->id, err, errlen);
    if (rc == 0)
        rc = take_over(r, loaded, err, errlen);
    if (rc == 0)
        rc = df_takeover_forget_procs(r->e, r->id);
    if (rc != 0)
        return rc;
    /* A CANCELLED run reopened: its cancel request is spent. */
    if (df_store_cancel_clear(r->e->store, r->id) != DF_STORE_OK) {
        df_engine_fail(r->e, "%s", df_store_error(r->e->store));
        snprintf(err, errlen, "%s", r->e->fatal_msg);
        return DF_ESTORE;
    }
    df_run_clock clk = df_run_now();
    df_run_core_retry_apply(r->core, task != NULL, &clk);
    df_run_perform(r);
    return r->e->fatal ? DF_ESTORE : 0;
}
