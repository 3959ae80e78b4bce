/* run_dispatch: the run core's ready heap (higher priority first, then earlier in the file) and
 * dispatch within the limits (the engine's concurrency, the workflow's max_active_tasks, slot
 * pools, circuit breakers): starting attempts, their submission to the pool, and releasing
 * what a finished attempt held (see run.h). No I/O. */
#include "run_internal.h"

/* ---- the ready heap: higher priority first, then earlier in the file ---- */

static bool heap_before(const df_run_core *c, size_t a, size_t b)
{
    const df_task_def *ta = &c->wf->tasks[a], *tb = &c->wf->tasks[b];
    if (ta->priority != tb->priority)
        return ta->priority > tb->priority;
    return a < b;
}

void df_run_heap_push(df_run_core *c, size_t i)
{
    size_t k = c->heap_n++;
    c->heap[k] = i;
    while (k > 0) {
        size_t parent = (k - 1) / 2;
        if (!heap_before(c, c->heap[k], c->heap[parent]))
            break;
        size_t tmp = c->heap[k];
        c->heap[k] = c->heap[parent];
        c->heap[parent] = tmp;
        k = parent;
    }
}

static size_t heap_pop(df_run_core *c)
{
    size_t top = c->heap[0];
    c->heap[0] = c->heap[--c->heap_n];
    size_t k = 0;
    for (;;) {
        size_t l = 2 * k + 1, m = k;
        if (l < c->heap_n && heap_before(c, c->heap[l], c->heap[m]))
            m = l;
        if (l + 1 < c->heap_n && heap_before(c, c->heap[l + 1], c->heap[m]))
            m = l + 1;
        if (m == k)
            break;
        size_t tmp = c->heap[k];
        c->heap[k] = c->heap[m];
        c->heap[m] = tmp;
        k = m;
    }
    return top;
}

/* ---- dispatch ---- */

static bool slots_free(const df_run_core *c)
{
    if (c->limits->in_flight >= c->limits->concurrency)
        return false;
    if (c->wf->max_active_tasks > 0 && (int64_t)c->running >= c->wf->max_active_tasks)
        return false;
    return true;
}

/* Whether task i's breaker lets an attempt start now (SPEC §3a); a held task stays QUEUED and
 * uses no attempt. */
static bool breaker_allows(df_run_core *c, size_t i, bool *probe, const df_run_clock *clk)
{
    df_breaker *b = df_run_task_breaker(c, i);
    if (!b)
        return true;
    df_breaker_change ch;
    bool ok = df_breaker_allow(b, clk->mono_ms, probe, &ch);
    if (ch.from != ch.to)
        df_run_breaker_changed(c, i, &ch, clk);
    if (!ok) {
        df_effect *fx = df_run_fx_push(c, DF_FX_BREAKER_ARM, i);
        if (fx)
            fx->breaker = df_run_def(c, i)->breaker;
    }
    return ok;
}

/* Starts task i's next attempt: slots taken, RUNNING, the attempt opened, a submission asked. */
static int start_attempt(df_run_core *c, size_t i, df_slot_pool *sp, bool probe,
                         const df_run_clock *clk)
{
    df_task_rt *t = &c->t[i];
    unsigned attempt = t->attempt + 1;
    /* Counted before the change is reported, so progress shows it running. */
    if (sp)
        sp->used++;
    t->busy = true;
    t->submitted = t->in_pool = t->timed_out = false;
    t->probe = probe;
    /* The first attempt since the budget was (re)set starts retry_max_total_ms's clock. */
    if (t->attempt == t->retry_base || t->first_started_at == 0)
        t->first_started_at = clk->now_ms;
    c->running++;
    c->limits->in_flight++;
    c->unsubmitted++;
    df_run_map_in_flight(c, i, +1);
    c->fresh++;
    if (df_run_set_state(c, i, &(df_change){.to = DF_TS_RUNNING, .to_attempt = attempt}, clk) !=
        0) {
        df_run_release(c, i);
        return -1;
    }
    df_effect *fx = df_run_fx_push(c, DF_FX_ATTEMPT_OPEN, i);
    if (fx) {
        fx->attempt = attempt;
        fx->at = clk->now_ms;
    }
    /* Submitted by the shell once its transaction has committed. */
    if ((fx = df_run_fx_push(c, DF_FX_SUBMIT, i)))
        fx->attempt = attempt;
    return 0;
}

bool df_run_core_dispatch(df_run_core *c, size_t max, const df_run_clock *clk)
{
    /* After a run timeout or a cancel request only on_exit handlers are in the heap. */
    if (c->fatal || c->stopping || (c->cancelling && !c->timed_out && !c->cancelled))
        return false;
    /* Backpressure: while the pool's queue refuses attempts, start no more (attempts started in
     * this tick and waiting for its commit are not refused ones: fair dispatch calls again). */
    if (c->unsubmitted > c->fresh)
        return false;
    size_t n_held = 0, started = 0;
    bool more = false;
    while (c->heap_n > 0 && slots_free(c)) {
        if (started == max) {
            more = true;
            break;
        }
        size_t i = heap_pop(c), task = i;
        const df_task_def *d = &c->wf->tasks[i];
        df_slot_pool *sp = d->pool >= 0 ? c->pools[d->pool] : NULL;
        bool probe = false;
        if (d->for_each) { /* a mapped task stands for its QUEUED instances (run_map.c) */
            int r = df_run_map_next(c, task, &i);
            if (r < 0)
                continue;
            if (r == 0) {
                c->held[n_held++] = task;
                continue;
            }
        }
        if ((sp && sp->used >= sp->slots) ||
            (d->breaker >= 0 && !breaker_allows(c, i, &probe, clk))) {
            if (i != task) /* back to the front of its ring */
                df_run_map_unpop(c, task, i);
            c->held[n_held++] = task;
            continue;
        }
        if (start_attempt(c, i, sp, probe, clk) != 0)
            return false;
        if (i != task)
            df_run_heap_push(c, task); /* its next instance may follow at once */
        started++;
    }
    for (size_t k = 0; k < n_held; k++)
        df_run_heap_push(c, c->held[k]);
    return more;
}

bool df_run_core_wants_submit(const df_run_core *c, size_t task, unsigned attempt)
{
    const df_task_rt *t = &c->t[task];
    return t->busy && !t->submitted && t->attempt == attempt && !c->fatal;
}

void df_run_core_submitted(df_run_core *c, size_t task, bool in_pool)
{
    df_task_rt *t = &c->t[task];
    if (!t->busy || t->submitted)
        return;
    t->submitted = true;
    t->in_pool = in_pool;
    c->unsubmitted--;
    int64_t timeout = df_run_def(c, task)->timeout_ms;
    if (in_pool && timeout > 0)
        df_run_timer_arm(c, DF_RT_TIMEOUT, task, (uint64_t)timeout);
}

void df_run_core_submit_done(df_run_core *c)
{
    c->fresh = 0;
}

size_t df_run_core_unsubmitted(const df_run_core *c)
{
    return c->unsubmitted;
}

void df_run_release(df_run_core *c, size_t i)
{
    const df_task_def *d = df_run_def(c, i);
    df_task_rt *t = &c->t[i];
    if (!t->busy)
        return;
    df_run_map_in_flight(c, i, -1);
    if (d->pool >= 0 && c->pools[d->pool]->used > 0)
        c->pools[d->pool]->used--;
    df_run_timer_stop(c, DF_RT_TIMEOUT, i);
    if (!t->submitted)
        c->unsubmitted--;
    t->busy = t->submitted = t->in_pool = false;
    c->running--;
    if (!t->detached)
        c->limits->in_flight--;
    t->detached = false;
}

void df_run_core_detach(df_run_core *c, size_t task)
{
    df_task_rt *t = &c->t[task];
    if (!t->busy || t->detached)
        return;
    t->detached = true;
    c->limits->in_flight--;
}
