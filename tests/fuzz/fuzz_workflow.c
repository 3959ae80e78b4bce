/* fuzz_workflow: libFuzzer target for the workflow loader (engine/workflow.c, workflow_task.c,
 * workflow_fields.c and what they use: dag.c, template.c, suggest.c, errlist.c, path.c). The input
 * is parsed as a JSON document the way df_workflow_load_file parses a file (JSON_REJECT_DUPLICATES)
 * and handed to df_workflow_load_json. Besides crashes and sanitizer reports, it aborts when a
 * promise of workflow.h is broken:
 *   - a failed load returns -1, *out NULL, and at least one error, each naming the file;
 *   - a successful load adds no error and returns a model whose ids are unique and found by
 *     df_workflow_find_task, whose upstream/downstream lists mirror each other, and whose topo
 *     array is a permutation with every upstream before its downstream tasks.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
