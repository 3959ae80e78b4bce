/* run_map: the run core's dynamic mapping (SPEC §8, §10; see run.h). A task with for_each
 * becomes, when it is ready, one mapped instance per element: the instances are units of the
 * core after its tasks (df_run_core.t grows), each with its own state, attempts, retries and
 * timeout through the same code as a task's. The task itself goes PENDING -> RUNNING at its
 * expansion and ends when every instance is final: FAILED when one failed, SKIPPED when all were
 * skipped, else SUCCESS, with the array of the instances' results (index order, null for none)
 * as its result. Its QUEUED instances wait in a ring of its own; the task stands for them in the
 * ready heap, so max_parallel holds back one heap entry, not 100,000. No I/O. */
#include "run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_kind.h"
#include "template.h"

/* Most elements of a for_each (SPEC §8). */
#define MAP_MAX 100000

static const json_t *upstream_result(void *ud, const char *task_id)
{
    const df_run_core *c = ud;
    long i = df_workflow_find_task(c->wf, task_id);
    return i < 0 ? NULL : c->t[i].result;
}

/* Task i's for_each value as a new reference, or NULL with err filled. */
static json_t *resolve_items(const df_run_core *c, size_t i, char *err, size_t errlen)
{
    const df_task_def *d = &c->wf->tasks[i];
    df_template_scope scope = {.params = c->params,
                               .run_id = c->id,
                               .workflow = c->wf->name,
                               .resolve_tasks = true,
                               .env = c->wf->env,
                               .task_result = upstream_result,
                               .ud = (void *)c};
    return df_template_resolve(d->for_each, &scope, err, errlen);
}

/* Makes room for `more` units; false when out of memory (c->t may have moved). */
static bool grow_units(df_run_core *c, size_t more)
{
    if (c->n_units + more <= c->cap_units)
        return true;
    size_t cap = c->cap_units * 2 > c->n_units + more ? c->cap_units * 2 : c->n_units + more;
    df_task_rt *t = realloc(c->t, cap * sizeof *t);
    if (!t)
        return false;
    c->t = t;
    c->cap_units = cap;
    return true;
}

/* Gives task i units for instances old .. n - 1 (after the ones it has): a new range at the end
 * holding the old instances' state. */
static int alloc_instances(df_run_core *c, size_t i, size_t n)
{
    df_map_rt *m = &c->map[i];
    if (n <= m->n)
        return 0;
    size_t *q = realloc(m->q, n * sizeof *q);
    if (!q || !grow_units(c, n)) {
        if (q)
            m->q = q;
        return -1;
    }
    m->q = q;
    size_t first = c->n_units;
    if (m->n > 0)
        memcpy(&c->t[first], &c->t[m->first], m->n * sizeof *c->t);
    for (size_t k = m->n; k < n; k++) {
        df_task_rt *t = &c->t[first + k];
        memset(t, 0, sizeof *t);
        t->task = i;
        t->map_index = (long long)k;
        t->state = DF_TS_PENDING;
    }
    /* The old range stays behind, unused (no attempt is in flight while a task expands). */
    for (size_t k = 0; k < m->n; k++)
        c->t[m->first + k].result = NULL;
    /* Nothing waits in the ring: a task expands (again) only when none of its instances is
     * QUEUED (at its first expansion, after a retry, at a restore). */
    m->q_len = 0;
    m->q_head = 0;
    m->first = first;
    m->n = n;
    c->n_units += n;
    return 0;
}

void df_run_ready_push(df_run_core *c, size_t u)
{
    if (!df_run_is_instance(c, u)) {
        df_run_heap_push(c, u);
        return;
    }
    size_t i = c->t[u].task;
    df_map_rt *m = &c->map[i];
    m->q[(m->q_head + m->q_len++) % m->n] = u;
    if (!m->in_heap) {
        m->in_heap = true;
        df_run_heap_push(c, i);
    }
}

int df_run_map_next(df_run_core *c, size_t i, size_t *u)
{
    df_map_rt *m = &c->map[i];
    const df_task_def *d = &c->wf->tasks[i];
    if (m->q_len == 0) {
        m->in_heap = false;
        return -1;
    }
    if (d->max_parallel > 0 && (int64_t)m->in_flight >= d->max_parallel)
        return 0;
    *u = m->q[m->q_head];
    m->q_head = (m->q_head + 1) % m->n;
    m->q_len--;
    return 1;
}

void df_run_map_unpop(df_run_core *c, size_t i, size_t u)
{
    df_map_rt *m = &c->map[i];
    m->q_head = (m->q_head + m->n - 1) % m->n;
    m->q[m->q_head] = u;
    m->q_len++;
}

void df_run_map_in_flight(df_run_core *c, size_t u, int delta)
{
    if (!df_run_is_instance(c, u))
        return;
    df_map_rt *m = &c->map[c->t[u].task];
    if (delta > 0)
        m->in_flight++;
    else if (m->in_flight > 0)
        m->in_flight--;
}

/* Task i's result: its instances' results in index order (null for none). A new reference. */
static json_t *map_result(const df_run_core *c, size_t i)
{
    const df_map_rt *m = &c->map[i];
    json_t *a = json_array();
    for (size_t k = 0; a && k < m->n; k++) {
        const json_t *r = c->t[m->first + k].result;
        if (json_array_append_new(a, r ? json_incref((json_t *)r) : json_null()) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Every instance of task i is final: the task ends (SPEC §8). */
static void map_finish(df_run_core *c, size_t i, const df_run_clock *clk)
{
    df_map_rt *m = &c->map[i];
    df_task_rt *t = &c->t[i];
    if (t->state != DF_TS_RUNNING)
        return;
    df_task_state to = m->n_failed > 0              ? DF_TS_FAILED
                       : m->n_skipped == m->n_final ? DF_TS_SKIPPED
                                                    : DF_TS_SUCCESS;
    json_t *res = map_result(c, i);
    char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
    if (!text) {
        json_decref(res);
        c->oom = true;
        return;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "%zu of %zu mapped instances failed", m->n_failed, m->n);
    if (df_run_set_state(c, i,
                         &(df_change){.to = to,
                                      .to_attempt = t->attempt,
                                      .detail = "mapped instances final",
                                      .error = to == DF_TS_FAILED ? msg : "",
                                      .result_json = text},
                         clk) == 0) {
        t = &c->t[i];
        json_decref(t->result);
        t->result = res;
        res = NULL;
        if (to == DF_TS_FAILED)
            df_run_alert(c, "task_failed", i, "FAILED", msg, t->attempt);
    }
    json_decref(res);
    free(text);
}

void df_run_map_changed(df_run_core *c, size_t u, df_task_state from, const df_run_clock *clk)
{
    size_t i = c->t[u].task;
    df_map_rt *m = &c->map[i];
    df_task_state to = c->t[u].state;
    if (df_task_state_final(from)) {
        m->n_final--;
        m->n_failed -= df_task_state_failed(from);
        m->n_skipped -= from == DF_TS_SKIPPED;
    }
    if (df_task_state_final(to)) {
        m->n_final++;
        m->n_failed += df_task_state_failed(to);
        m->n_skipped += to == DF_TS_SKIPPED;
        if (m->n_final == m->n)
            map_finish(c, i, clk);
    }
}

/* PENDING -> FAILED (no attempt) with msg, before any expansion. */
static void map_fail(df_run_core *c, size_t i, const char *msg, const df_run_clock *clk)
{
    if (df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_FAILED,
                                      .to_attempt = c->t[i].attempt,
                                      .detail = "for_each failed",
                                      .error = msg},
                         clk) == 0)
        df_run_alert(c, "task_failed", i, "FAILED", msg, c->t[i].attempt);
}

/* The resolved for_each value, checked: an array of at most MAP_MAX elements. NULL after the task
 * failed. */
static json_t *checked_items(df_run_core *c, size_t i, const df_run_clock *clk)
{
    char err[600], msg[700];
    json_t *items = resolve_items(c, i, err, sizeof err);
    if (!items) {
        snprintf(msg, sizeof msg, "for_each: %s", err);
        map_fail(c, i, msg, clk);
        return NULL;
    }
    if (!json_is_array(items) || json_array_size(items) > MAP_MAX) {
        if (json_is_array(items))
            snprintf(msg, sizeof msg, "for_each: %zu elements, over the limit of %d",
                     json_array_size(items), MAP_MAX);
        else
            snprintf(msg, sizeof msg, "for_each: the value is %s, not an array",
                     df_json_kind(items));
        json_decref(items);
        map_fail(c, i, msg, clk);
        return NULL;
    }
    return items;
}

/* Instances below old existed (a retry reopened them): PENDING ones are queued again, those past
 * the new length skipped. */
static void requeue_old(df_run_core *c, size_t i, size_t old, size_t n, const df_run_clock *clk)
{
    for (size_t k = 0; k < old && !c->fatal; k++) {
        size_t u = c->map[i].first + k;
        if (c->t[u].state != DF_TS_PENDING)
            continue;
        bool gone = k >= n;
        if (df_run_set_state(c, u,
                             &(df_change){.to = gone ? DF_TS_SKIPPED : DF_TS_QUEUED,
                                          .to_attempt = c->t[u].attempt,
                                          .detail = gone ? "past the end of for_each" : NULL},
                             clk) == 0 &&
            !gone)
            df_run_ready_push(c, u);
    }
}

void df_run_map_expand(df_run_core *c, size_t i, const df_run_clock *clk)
{
    json_t *items = checked_items(c, i, clk);
    if (!items)
        return;
    size_t n = json_array_size(items);
    df_map_rt *m = &c->map[i];
    size_t old = m->n;
    if (n == 0 && old == 0) {
        json_decref(items);
        df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_SKIPPED,
                                      .to_attempt = c->t[i].attempt,
                                      .detail = "for_each is empty"},
                         clk);
        return;
    }
    if (alloc_instances(c, i, n) != 0) {
        json_decref(items);
        c->oom = true;
        return;
    }
    json_decref(m->items);
    m->items = items;
    char detail[64];
    snprintf(detail, sizeof detail, "mapped over %zu elements", n);
    if (df_run_set_state(c, i,
                         &(df_change){.to = DF_TS_RUNNING,
                                      .to_attempt = c->t[i].attempt,
                                      .cause = DF_TC_MAP,
                                      .detail = detail,
                                      .error = "",
                                      .result_json = "null"},
                         clk) != 0)
        return;
    if (n > old) {
        df_effect *fx = df_run_fx_push(c, DF_FX_MAP_EXPAND, i);
        if (fx) {
            fx->map_from = (long long)old;
            fx->map_n = (long long)n;
            fx->at = clk->now_ms;
        }
        for (size_t k = old; k < n; k++) {
            c->t[m->first + k].state = DF_TS_QUEUED;
            df_run_ready_push(c, m->first + k);
        }
    }
    requeue_old(c, i, old, n, clk);
    if (m->n_final == m->n)
        map_finish(c, i, clk);
}

void df_run_map_reopen(df_run_core *c, size_t i, bool all, const df_run_clock *clk)
{
    df_map_rt *m = &c->map[i];
    json_decref(m->items);
    m->items = NULL;
    for (size_t k = 0; k < m->n && !c->fatal; k++) {
        size_t u = m->first + k;
        df_task_rt *t = &c->t[u];
        if (!df_task_state_final(t->state) || (t->state == DF_TS_SUCCESS && !all))
            continue;
        if (df_run_set_state(c, u,
                             &(df_change){.to = DF_TS_PENDING,
                                          .to_attempt = t->attempt,
                                          .cause = DF_TC_RETRY_CMD,
                                          .detail = all ? "retry --task" : "retry",
                                          .error = "",
                                          .result_json = "null",
                                          .reset_budget = true},
                             clk) != 0)
            return;
        t = &c->t[u];
        json_decref(t->result);
        t->result = NULL;
        t->lost_streak = 0;
    }
}

void df_run_map_clear_queues(df_run_core *c)
{
    for (size_t i = 0; i < c->wf->n_tasks; i++) {
        c->map[i].q_len = 0;
        c->map[i].in_heap = false;
    }
}

void df_run_map_free(df_run_core *c)
{
    for (size_t i = 0; c->map && i < c->wf->n_tasks; i++) {
        free(c->map[i].q);
        json_decref(c->map[i].items);
    }
    free(c->map);
}

long df_run_map_unit(const df_run_core *c, const df_task_snapshot *st)
{
    long i = df_workflow_find_task(c->wf, st->id);
    if (i < 0 || !st->mapped)
        return i;
    const df_map_rt *m = &c->map[i];
    return (size_t)st->map_index < m->n ? (long)(m->first + (size_t)st->map_index) : -1;
}

int df_run_map_restore(df_run_core *c, const df_task_snapshot *tasks, size_t n, char *err,
                       size_t errlen)
{
    size_t *count = calloc(c->wf->n_tasks ? c->wf->n_tasks : 1, sizeof *count);
    if (!count) {
        snprintf(err, errlen, "out of memory");
        return DF_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        long i = tasks[k].mapped ? df_workflow_find_task(c->wf, tasks[k].id) : -1;
        if (i >= 0 && (size_t)tasks[k].map_index + 1 > count[i])
            count[i] = (size_t)tasks[k].map_index + 1;
    }
    int rc = 0;
    for (size_t i = 0; i < c->wf->n_tasks && rc == 0; i++)
        if (count[i] && (!c->wf->tasks[i].for_each || alloc_instances(c, i, count[i]) != 0)) {
            snprintf(err, errlen,
                     c->wf->tasks[i].for_each ? "out of memory"
                                              : "run %lld: stored instances of task \"%s\", which "
                                                "has no for_each in its stored DAG",
                     c->id, c->wf->tasks[i].id);
            rc = c->wf->tasks[i].for_each ? DF_ENOMEM : DF_EREFUSED;
        }
    free(count);
    return rc;
}

void df_run_map_resume(df_run_core *c, const df_run_clock *clk)
{
    for (size_t i = 0; i < c->wf->n_tasks && !c->fatal; i++) {
        const df_map_rt *m = &c->map[i];
        if (c->wf->tasks[i].for_each && m->n > 0 && m->n_final == m->n)
            map_finish(c, i, clk);
    }
}

size_t df_run_core_units(const df_run_core *c)
{
    return c->n_units;
}

size_t df_run_core_unit_task(const df_run_core *c, size_t u, long long *map_index)
{
    if (map_index)
        *map_index = c->t[u].map_index;
    return c->t[u].task;
}

const json_t *df_run_core_item(df_run_core *c, size_t u)
{
    if (!df_run_is_instance(c, u))
        return NULL;
    df_map_rt *m = &c->map[c->t[u].task];
    if (!m->items) {
        char err[256];
        m->items = resolve_items(c, c->t[u].task, err, sizeof err);
    }
    const json_t *v = json_array_get(m->items, (size_t)c->t[u].map_index);
    return v ? v : json_null();
}
