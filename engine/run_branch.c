/* run_branch: the run core's `branch` tasks (SPEC §8, as Airflow's branch operators): reading a
 * branch task's decision from its result, checking that it names only direct downstream tasks,
 * and skipping the direct downstream tasks it did not name. on_exit handlers are never a branch's
 * downstream. No I/O (see run.h). */
#include "run_internal.h"

#include <stdio.h>
#include <string.h>

#include "json_kind.h"

/* Whether task j is a direct downstream task of i that a branch may name (not a handler). */
static bool branch_target(const df_run_core *c, size_t i, size_t j)
{
    const df_task_def *d = &c->wf->tasks[i];
    if (c->wf->tasks[j].handler)
        return false;
    for (size_t k = 0; k < d->n_downstream; k++)
        if (d->downstream[k] == j)
            return true;
    return false;
}

/* The decision inside a branch task's result (borrowed): the result itself when it is a string,
 * an array or null; in an object, its "branch" member (noop), else its "json" member (shell with
 * parse_json_stdout, http), else its "stdout" (shell: one id a line). *lines is set when the
 * decision is stdout text. NULL when the result holds none. */
static const json_t *decision_of(const json_t *result, bool *lines)
{
    *lines = false;
    if (!result || json_is_null(result) || json_is_string(result) || json_is_array(result))
        return result ? result : json_null();
    if (!json_is_object(result))
        return NULL;
    const json_t *v;
    if ((v = json_object_get(result, "branch")) || (v = json_object_get(result, "json")))
        return v;
    if ((v = json_object_get(result, "stdout")) && json_is_string(v)) {
        *lines = true;
        return v;
    }
    return NULL;
}

/* Checks one named id (len bytes at id) of task i's decision. Returns 0, or -1 with err. */
static int check_name(const df_run_core *c, size_t i, const char *id, size_t len, char *err,
                      size_t errlen)
{
    char name[160];
    snprintf(name, sizeof name, "%.*s", (int)(len > 140 ? 140 : len), id);
    long j = len <= 128 ? df_workflow_find_task(c->wf, name) : -1;
    if (j >= 0 && branch_target(c, i, (size_t)j))
        return 0;
    size_t at = (size_t)snprintf(err, errlen,
                                 "branch: the result names \"%s\", which is not a direct "
                                 "downstream task of \"%s\" (it may name:",
                                 name, c->wf->tasks[i].id);
    const df_task_def *d = &c->wf->tasks[i];
    for (size_t k = 0; k < d->n_downstream && at < errlen; k++)
        if (!c->wf->tasks[d->downstream[k]].handler)
            at += (size_t)snprintf(err + at, errlen - at, " \"%s\"",
                                   c->wf->tasks[d->downstream[k]].id);
    if (at < errlen)
        snprintf(err + at, errlen - at, ")");
    return -1;
}

/* Calls fn for each id the decision names (lines: one id a line of the text, blank lines
 * ignored). Returns 0, or the first non-zero fn returned; -2 for a value that is not a decision
 * (err filled). */
static int each_name(const df_run_core *c, size_t i, const json_t *dec, bool lines,
                     int (*fn)(const df_run_core *c, size_t i, const char *id, size_t len,
                               void *ud),
                     void *ud, char *err, size_t errlen)
{
    if (json_is_null(dec))
        return 0;
    if (json_is_string(dec)) {
        const char *s = json_string_value(dec), *end = s + json_string_length(dec);
        if (!lines)
            return fn(c, i, s, (size_t)(end - s), ud);
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            const char *stop = nl ? nl : end, *a = s, *b = stop;
            while (a < b && (*a == ' ' || *a == '\t' || *a == '\r'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
                b--;
            int rc = b > a ? fn(c, i, a, (size_t)(b - a), ud) : 0;
            if (rc)
                return rc;
            s = nl ? nl + 1 : end;
        }
        return 0;
    }
    if (json_is_array(dec)) {
        for (size_t k = 0; k < json_array_size(dec); k++) {
            const json_t *v = json_array_get(dec, k);
            if (!json_is_string(v)) {
                snprintf(err, errlen,
                         "branch: element %zu of the result's task ids is %s, not a task id", k,
                         df_json_kind(v));
                return -2;
            }
            int rc = fn(c, i, json_string_value(v), json_string_length(v), ud);
            if (rc)
                return rc;
        }
        return 0;
    }
    snprintf(err, errlen,
             "branch: the result must be a task id, an array of task ids, null or [] (or an object "
             "with one of them as \"branch\" or \"json\", or shell's stdout), got %s",
             df_json_kind(dec));
    return -2;
}

typedef struct check_ctx {
    char *err;
    size_t errlen;
} check_ctx;

static int check_one(const df_run_core *c, size_t i, const char *id, size_t len, void *ud)
{
    check_ctx *x = ud;
    return check_name(c, i, id, len, x->err, x->errlen);
}

int df_run_branch_check(const df_run_core *c, size_t i, const json_t *result, char *err,
                        size_t errlen)
{
    bool lines;
    const json_t *dec = decision_of(result, &lines);
    if (!dec) {
        snprintf(err, errlen,
                 "branch: the result must be a task id, an array of task ids, null or [] (or an "
                 "object with one of them as \"branch\" or \"json\", or shell's stdout), got %s",
                 df_json_kind(result));
        return -1;
    }
    check_ctx x = {err, errlen};
    return each_name(c, i, dec, lines, check_one, &x, err, errlen) ? -1 : 0;
}

typedef struct find_ctx {
    size_t target;
} find_ctx;

static int find_one(const df_run_core *c, size_t i, const char *id, size_t len, void *ud)
{
    (void)i;
    const char *want = c->wf->tasks[((find_ctx *)ud)->target].id;
    return strlen(want) == len && memcmp(want, id, len) == 0;
}

/* Whether branch task i's result names task j. */
static bool names(const df_run_core *c, size_t i, size_t j)
{
    bool lines;
    const json_t *dec = decision_of(c->t[i].result, &lines);
    find_ctx x = {j};
    char err[256]; /* not read: big enough that GCC sees no truncation (-Wformat-truncation) */
    return dec && each_name(c, i, dec, lines, find_one, &x, err, sizeof err) == 1;
}

void df_run_branch_skip(df_run_core *c, size_t i, const df_run_clock *clk)
{
    const df_task_def *d = &c->wf->tasks[i];
    char detail[200];
    snprintf(detail, sizeof detail, "not chosen by branch \"%s\"", d->id);
    for (size_t k = 0; k < d->n_downstream && !c->fatal; k++) {
        size_t j = d->downstream[k];
        if (c->wf->tasks[j].handler || c->t[j].state != DF_TS_PENDING || names(c, i, j))
            continue;
        df_run_set_state(
            c, j,
            &(df_change){.to = DF_TS_SKIPPED, .to_attempt = c->t[j].attempt, .detail = detail},
            clk);
    }
}

const char *df_run_branch_unchosen(const df_run_core *c, size_t j)
{
    const df_task_def *d = &c->wf->tasks[j];
    if (d->handler)
        return NULL;
    for (size_t k = 0; k < d->n_upstream; k++) {
        size_t u = d->upstream[k];
        if (c->wf->tasks[u].branch && c->t[u].state == DF_TS_SUCCESS && !names(c, u, j))
            return c->wf->tasks[u].id;
    }
    return NULL;
}
