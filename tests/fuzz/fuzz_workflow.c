/* fuzz_workflow: libFuzzer target for the workflow loader (engine/workflow.c, workflow_task.c,
 * workflow_fields.c and what they use: dag.c, template.c, suggest.c, errlist.c, path.c). The input
 * is parsed as a JSON document the way df_workflow_load_file parses a file (JSON_REJECT_DUPLICATES)
 * and handed to df_workflow_load_json. Besides crashes and sanitizer reports, it aborts when a
 * promise of workflow.h is broken:
 *   - a failed load returns -1, *out NULL, and at least one error, each naming the file;
 *   - a successful load adds no error and returns a model whose ids are unique and found by
 *     df_workflow_find_task, whose upstream/downstream lists mirror each other, and whose topo
 *     array is a permutation with every upstream before its downstream tasks.
 * The same bytes are then loaded by df_workflow_load_text twice, once as a stream (the yajl loader
 * of workflow_stream.c, every size streamed) and once as a jansson document: both must give the
 * same result, the same messages in the same order and, when they load, the same model and the
 * same kept bytes (workflow.h promises it; test_workflow_stream checks it on the fixtures).
 * Build: tests/fuzz/build.sh (clang -fsanitize=fuzzer,address,undefined). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/errlist.h"
#include "engine/template.h"
#include "engine/workflow.h"

#define FUZZ_PATH "fuzz.json"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_workflow: broken promise: %s (%s:%d)\n", #cond, __FILE__,        \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int count_ref(void *ud, const char *ref)
{
    CHECK(ref != NULL);
    ++*(size_t *)ud;
    return 0;
}

/* Checks the model of a successful load. */
static void check_model(const df_workflow *wf)
{
    CHECK(wf->name && wf->path && wf->dir && wf->doc);
    CHECK(wf->n_tasks > 0 && wf->tasks && wf->topo);
    size_t n = wf->n_tasks;
    unsigned char *seen = calloc(n, 1);
    size_t *pos = calloc(n, sizeof *pos);
    CHECK(seen && pos);
    for (size_t k = 0; k < n; k++) {
        CHECK(wf->topo[k] < n);
        CHECK(!seen[wf->topo[k]]);
        seen[wf->topo[k]] = 1;
        pos[wf->topo[k]] = k;
    }
    for (size_t i = 0; i < n; i++) {
        const df_task_def *t = &wf->tasks[i];
        CHECK(t->id && t->plugin && t->params);
        CHECK(t->index == i);
        CHECK(df_workflow_find_task(wf, t->id) == (long)i);
        CHECK((unsigned)t->trigger_rule < DF_TR__COUNT);
        CHECK(t->retries >= 0 && t->retry_delay_ms >= 0 && t->retry_backoff >= 1 &&
              t->retry_max_delay_ms >= 0 && t->timeout_ms >= 0);
        CHECK(t->pool < (int)wf->n_pools && t->breaker < (int)wf->n_breakers);
        for (size_t j = 0; j < t->n_upstream; j++) {
            size_t u = t->upstream[j];
            CHECK(u < n && u != i);
            CHECK(pos[u] < pos[i]);
            for (size_t k = 0; k < j; k++)
                CHECK(t->upstream[k] != u);
            /* i is in u's downstream list */
            const df_task_def *ut = &wf->tasks[u];
            size_t found = 0;
            for (size_t k = 0; k < ut->n_downstream; k++)
                found += ut->downstream[k] == i;
            CHECK(found == 1);
        }
        for (size_t k = 0; k < t->n_downstream; k++) {
            size_t d = t->downstream[k];
            CHECK(d < n);
            CHECK(k == 0 || t->downstream[k - 1] < d);
        }
        /* Creation-time template handling of the params must not fail on a loaded workflow's
         * syntax (the loader checked it). */
        char err[512];
        size_t refs = 0;
        CHECK(df_template_scan(t->params, count_ref, &refs, err, sizeof err) == 0);
        json_t *params = json_object();
        json_object_set_new(params, "p", json_string("v"));
        df_template_scope scope = {.params = wf->params ? wf->params : params,
                                   .run_id = 1,
                                   .workflow = wf->name,
                                   .task_id = t->id,
                                   .attempt = 0,
                                   .resolve_tasks = false};
        json_t *r = df_template_resolve(t->params, &scope, err, sizeof err);
        if (!r)
            CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        json_decref(r);
        json_decref(params);
        char *p = df_workflow_resolve_path(wf, t->plugin);
        CHECK(p != NULL);
        free(p);
    }
    CHECK(df_workflow_find_task(wf, "") == -1);
    free(seen);
    free(pos);
}

static void same_json(const json_t *a, const json_t *b)
{
    CHECK((a == NULL) == (b == NULL));
    CHECK(!a || json_equal(a, b));
}

static void same_sizes(const size_t *a, size_t na, const size_t *b, size_t nb)
{
    CHECK(na == nb);
    CHECK(na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* The streamed model s is the document's model d (what a run reads of them). */
static void same_model(const df_workflow *d, const df_workflow *s)
{
    CHECK(strcmp(d->name, s->name) == 0);
    CHECK(d->n_tasks == s->n_tasks && d->n_dag == s->n_dag);
    CHECK(d->n_pools == s->n_pools && d->n_breakers == s->n_breakers);
    CHECK(d->max_active_tasks == s->max_active_tasks && d->timeout_ms == s->timeout_ms);
    same_json(d->params, s->params);
    same_json(d->alerts, s->alerts);
    same_json(d->env, s->env);
    for (size_t i = 0; i < d->n_tasks; i++) {
        const df_task_def *x = &d->tasks[i], *y = &s->tasks[i];
        CHECK(strcmp(x->id, y->id) == 0 && strcmp(x->plugin, y->plugin) == 0);
        same_json(x->params, y->params);
        same_json(x->for_each, y->for_each);
        same_sizes(x->upstream, x->n_upstream, y->upstream, y->n_upstream);
        same_sizes(x->downstream, x->n_downstream, y->downstream, y->n_downstream);
        CHECK(x->trigger_rule == y->trigger_rule && x->retries == y->retries);
        CHECK(x->retry_delay_ms == y->retry_delay_ms && x->retry_backoff == y->retry_backoff);
        CHECK(x->timeout_ms == y->timeout_ms && x->priority == y->priority);
        CHECK(x->pool == y->pool && x->breaker == y->breaker && x->handler == y->handler);
        CHECK(x->branch == y->branch && x->continue_on_failure == y->continue_on_failure);
        CHECK(x->max_parallel == y->max_parallel && (x->when == NULL) == (y->when == NULL));
    }
    CHECK((d->topo == NULL) == (s->topo == NULL));
    if (d->topo)
        CHECK(memcmp(d->topo, s->topo, d->n_tasks * sizeof *d->topo) == 0);
    CHECK(d->source && s->source && d->source_len == s->source_len);
    CHECK(memcmp(d->source, s->source, d->source_len) == 0);
}

/* Loads data by df_workflow_load_text as a stream and as a document: the same outcome. */
static void stream_vs_document(const uint8_t *data, size_t size)
{
    df_errlist ed = {0}, es = {0};
    df_workflow *d = NULL, *s = NULL;
    df_workflow_set_stream_bytes(SIZE_MAX);
    int rd = df_workflow_load_text((const char *)data, size, JSON_REJECT_DUPLICATES, FUZZ_PATH,
                                   "/tmp", &d, &ed);
    df_workflow_set_stream_bytes(0);
    int rs = df_workflow_load_text((const char *)data, size, JSON_REJECT_DUPLICATES, FUZZ_PATH,
                                   "/tmp", &s, &es);
    CHECK(rd == rs);
    CHECK(ed.n == es.n);
    for (size_t i = 0; i < ed.n; i++)
        CHECK(strcmp(ed.msgs[i], es.msgs[i]) == 0);
    if (rd == 0)
        same_model(d, s);
    df_workflow_free(d);
    df_workflow_free(s);
    df_errlist_clear(&ed);
    df_errlist_clear(&es);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stream_vs_document(data, size);
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return 0;
    df_errlist errs = {0};
    df_workflow *wf = (df_workflow *)1;
    int rc = df_workflow_load_json(doc, FUZZ_PATH, "/tmp", &wf, &errs);
    if (rc == 0) {
        CHECK(wf != NULL);
        CHECK(errs.n == 0);
        check_model(wf);
        df_workflow_free(wf);
    } else {
        CHECK(rc == -1);
        CHECK(wf == NULL);
        CHECK(errs.n > 0);
        for (size_t i = 0; i < errs.n; i++) {
            CHECK(errs.msgs[i] != NULL);
            CHECK(strncmp(errs.msgs[i], FUZZ_PATH ":", strlen(FUZZ_PATH) + 1) == 0);
        }
    }
    df_errlist_clear(&errs);
    json_decref(doc);
    return 0;
}
