/* workflow_map: the workflow loader's part of dynamic mapping (SPEC §8): the task keys for_each
 * and max_parallel (types, ranges), the rules that tie them to the rest of the task (max_parallel
 * only with for_each, no branch with for_each, a for_each reference naming an upstream), and
 * ${item}, ${item_index} and ${task.map_index} allowed only in a mapped task's params. Called by
 * workflow_task.c; see workflow_loader.h. */
#include "workflow_loader.h"

#include <stdio.h>
#include <string.h>

#include "suggest.h"
#include "template.h"

/* See workflow_loader.h. */
bool df_wfl_map_key(df_wfl_loader *L, const char *where, const char *key, const json_t *v,
                    df_task_def *t)
{
    char d[128];
    if (strcmp(key, "max_parallel") == 0) {
        df_wfl_want_int(L, where, key, v, 1, true, &t->max_parallel);
        return true;
    }
    if (strcmp(key, "for_each") != 0)
        return false;
    if (json_is_array(v)) {
        if (json_array_size(v) > DF_MAP_MAX)
            df_wfl_err(L, where, "for_each: %zu elements, over the limit of %d", json_array_size(v),
                       DF_MAP_MAX);
        else
            t->for_each = json_incref((json_t *)v);
    } else if (json_is_string(v)) {
        t->for_each = json_incref((json_t *)v);
    } else {
        df_wfl_err(
            L, where,
            "for_each: must be an array or a string that is one reference (\"${params.xs}\", "
            "\"${tasks.ID.result}\"), got %s",
            df_wfl_describe(v, d, sizeof d));
    }
    return true;
}

/* What the one reference of a for_each string is checked with. */
typedef struct map_ref {
    int n;          /* references seen */
    char ref[1024]; /* the first one */
} map_ref;

static int take_ref(void *ud, const char *ref)
{
    map_ref *m = ud;
    if (m->n++ == 0)
        snprintf(m->ref, sizeof m->ref, "%s", ref);
    return 0;
}

/* The task named by a ${tasks.ID...} reference must be an upstream of task self. */
static void check_task_ref(df_wfl_loader *L, const char *where, const char *ref,
                           const df_workflow *wf, const size_t *stamp, size_t self)
{
    const char *id = ref + 6;
    char name[129];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(id, "."), id);
    long idx = df_workflow_find_task(wf, name);
    if (idx < 0) {
        df_suggester sg;
        df_suggest_init(&sg, name);
        df_wfl_ids_suggest(wf, &sg);
        const char *s = df_suggest_best(&sg);
        df_wfl_err(L, where, "for_each: ${%s} references task \"%s\", which does not exist%s%s%s",
                   ref, name, s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
    } else if (stamp[idx] != self + 1) {
        df_wfl_err(L, where,
                   "for_each: ${%s} references task \"%s\", which is not an upstream (add it to "
                   "depends_on)",
                   ref, name);
    }
}

/* See workflow_loader.h. */
void df_wfl_map_check(df_wfl_loader *L, const char *where, const df_task_def *t, const json_t *obj,
                      const df_workflow *wf, const size_t *stamp, size_t self)
{
    if (!t->for_each) {
        if (json_object_get(obj, "max_parallel") && t->max_parallel > 0)
            df_wfl_err(L, where, "max_parallel: only a task with for_each may have it");
        return;
    }
    if (json_is_true(json_object_get(obj, "branch")))
        df_wfl_err(L, where, "branch: a task with for_each cannot be a branch");
    if (!json_is_string(t->for_each))
        return;
    const char *s = json_string_value(t->for_each);
    size_t len = strlen(s);
    map_ref m = {0};
    char err[512];
    if (df_template_scan(t->for_each, take_ref, &m, err, sizeof err) != 0) {
        df_wfl_err(L, where, "for_each: %s", err);
        return;
    }
    if (m.n != 1 || len < 3 || strncmp(s, "${", 2) != 0 || s[len - 1] != '}' ||
        strlen(m.ref) + 3 != len) {
        df_wfl_err(L, where,
                   "for_each: \"%.200s\" must be exactly one reference yielding an array "
                   "(\"${params.xs}\", \"${tasks.ID.result}\")",
                   s);
        return;
    }
    if (strncmp(m.ref, "tasks.", 6) == 0)
        check_task_ref(L, where, m.ref, wf, stamp, self);
    else if (strncmp(m.ref, "params.", 7) != 0 && strncmp(m.ref, "env.", 4) != 0)
        df_wfl_err(L, where,
                   "for_each: ${%s} cannot give the array (use ${params.NAME...} or "
                   "${tasks.ID.result...})",
                   m.ref);
}

/* See workflow_loader.h. */
void df_wfl_map_check_ref(df_wfl_loader *L, const char *where, const char *path,
                          const df_task_def *t, const char *ref)
{
    if (t->for_each)
        return;
    bool item = strcmp(ref, "item") == 0 || strncmp(ref, "item.", 5) == 0 ||
                strcmp(ref, "item_index") == 0 || strcmp(ref, "task.map_index") == 0;
    if (item)
        df_wfl_err(L, where, "%s: ${%s} is only known in a task with for_each", path, ref);
}
