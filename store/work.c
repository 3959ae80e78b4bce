/* store/work: the worker queue's calls (work.h) — arguments checked, then the backend's
 * operations (df_store_ops.work), or a refusal for a backend without a queue (SQLite). */
#include "work.h"

#include <stdlib.h>

#include "backend.h"

#define DF_WORK_REFUSED "store: the worker queue needs a PostgreSQL --db (postgresql://...)"

bool df_store_has_work(const df_store *s)
{
    return s && s->ops->work != NULL;
}

static int refused(df_store *s)
{
    return df_store_failf(s, DF_STORE_ERROR, "%s", DF_WORK_REFUSED);
}

int df_store_work_enqueue(df_store *s, const df_work_item *items, size_t n)
{
    if (!s->ops->work)
        return refused(s);
    if (n == 0)
        return DF_STORE_OK;
    return s->ops->work->enqueue(s, items, n);
}

int df_store_work_claim(df_store *s, const char *worker, const char *const *queues, size_t nq,
                        size_t max, int64_t lease_ms, df_work_claim **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!s->ops->work)
        return refused(s);
    if (!worker || nq == 0 || max == 0 || lease_ms <= 0)
        return df_store_failf(s, DF_STORE_ERROR, "store: claim attempts: invalid arguments");
    return s->ops->work->claim(s, worker, queues, nq, max, lease_ms, out, n);
}

void df_work_claims_free(df_work_claim *c, size_t n)
{
    for (size_t k = 0; c && k < n; k++) {
        free(c[k].task_id);
        free(c[k].plugin);
        free(c[k].params);
        free(c[k].workdir);
    }
    free(c);
}

int df_store_work_renew(df_store *s, const long long *ids, const long long *claims, size_t n,
                        int64_t lease_ms, unsigned char *state)
{
    if (!s->ops->work)
        return refused(s);
    if (n == 0)
        return DF_STORE_OK;
    return s->ops->work->renew(s, ids, claims, n, lease_ms, state);
}

int df_store_work_complete(df_store *s, const df_work_done *done, size_t n, bool *accepted)
{
    if (!s->ops->work)
        return refused(s);
    if (n == 0)
        return DF_STORE_OK;
    return s->ops->work->complete(s, done, n, accepted);
}

int df_store_work_collect(df_store *s, const long long *runs, size_t nruns, size_t max,
                          df_work_outcome **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!s->ops->work)
        return refused(s);
    if (nruns == 0 || max == 0)
        return DF_STORE_OK;
    return s->ops->work->collect(s, runs, nruns, max, false, out, n);
}

int df_store_work_expire(df_store *s, const long long *runs, size_t nruns, df_work_outcome **out,
                         size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!s->ops->work)
        return refused(s);
    if (nruns == 0)
        return DF_STORE_OK;
    return s->ops->work->collect(s, runs, nruns, 100000, true, out, n);
}

void df_work_outcomes_free(df_work_outcome *o, size_t n)
{
    for (size_t k = 0; o && k < n; k++) {
        free(o[k].result);
        free(o[k].error);
        free(o[k].log);
        free(o[k].worker);
    }
    free(o);
}

int df_store_work_cancel(df_store *s, long long run_id, long long unit, unsigned attempt,
                         int status)
{
    if (!s->ops->work)
        return refused(s);
    return s->ops->work->cancel(s, run_id, unit, attempt, status);
}

int df_store_work_forget(df_store *s, long long run_id, long long unit, unsigned attempt)
{
    if (!s->ops->work)
        return refused(s);
    return s->ops->work->forget(s, run_id, unit, attempt);
}

int df_store_work_prune(df_store *s, long long *dropped)
{
    long long n = 0;
    if (!s->ops->work)
        return refused(s);
    int code = s->ops->work->prune(s, &n);
    if (dropped)
        *dropped = code == DF_STORE_OK ? n : 0;
    return code;
}

int df_store_work_listen(df_store *s, const char *channel)
{
    if (!s->ops->work)
        return refused(s);
    return s->ops->work->listen(s, channel);
}

int df_store_work_set_timeout(df_store *s, int64_t ms)
{
    if (!s->ops->work)
        return refused(s);
    if (ms < 1000 || ms > 24LL * 3600 * 1000)
        return df_store_failf(s, DF_STORE_ERROR,
                              "store: network timeout: %lld ms is not between 1000 and 86400000",
                              (long long)ms);
    return s->ops->work->set_timeout(s, ms);
}

int df_store_work_fd(df_store *s)
{
    return s->ops->work ? s->ops->work->fd(s) : -1;
}

int df_store_work_notified(df_store *s)
{
    return s->ops->work ? s->ops->work->notified(s) : 0;
}
