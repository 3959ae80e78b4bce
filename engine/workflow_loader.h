/* workflow_loader: the internals of the strict workflow loader shared by its three files:
 * workflow.c (the document, its top-level keys and sections, and the public functions of
 * workflow.h), workflow_schedule.c (the `schedule` object), workflow_task.c (task defaults, the
 * tasks array, dependencies, template references and cycles) and workflow_fields.c (messages and
 * typed fields). Not an interface outside those files.
 *
 * Every check appends `FILE: WHERE: KEY: PROBLEM` to the loader's df_errlist and goes on with
 * what it could read (see workflow.c). Functions here are called on the loading thread only. */
#ifndef DF_WORKFLOW_LOADER_H
#define DF_WORKFLOW_LOADER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errlist.h"
#include "workflow.h"

#define DF_WFL_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One load in progress. */
typedef struct df_wfl_loader {
    const char *file; /* borrowed: the file's name, for messages */
    df_errlist *errs; /* borrowed: where messages go */
    size_t nerr0;     /* errs->n when loading began */
    df_workflow *wf;  /* the workflow being filled in (owned by the caller of the load) */
    /* A streamed load (workflow_stream.c): the text whose top-level "tasks" array is read
     * element by element (the document holds it empty), and its element count; text NULL
     * otherwise. */
    const char *stream_text;
    size_t stream_len;
    size_t stream_n;
} df_wfl_loader;

/* ---- workflow.c: the id index (wf->id_slots) ---- */

/* Allocates the index for n tasks. Returns 0, or -1 when out of memory. */
int df_wfl_ids_init(df_workflow *wf, size_t n);

/* The workflow's copy of s (wf->strings, created on first use; borrowed, valid until
 * df_workflow_free), or NULL when out of memory. */
char *df_wfl_intern(df_workflow *wf, const char *s);

/* Adds task i (its id set, not in the index yet: look it up first) to the index. */
void df_wfl_ids_add(df_workflow *wf, size_t i);

/* Feeds the indexed task ids, in file order, to sg (suggest.h). */
struct df_suggester;
void df_wfl_ids_suggest(const df_workflow *wf, struct df_suggester *sg);

/* ---- workflow_stream.c: a big file's tasks one at a time ---- */

/* Called with task element i (borrowed; freed when the call returns). Returns 0 to go on, -1 to
 * stop the parse. */
typedef int (*df_wfl_task_fn)(void *ctx, size_t i, json_t *task);

/* Parses text (len bytes) as the loader's json_loadb(JSON_REJECT_DUPLICATES) would, but builds
 * the elements of the top-level object's "tasks" array one at a time, each handed to fn (when
 * not NULL) in order and freed; *skeleton (when not NULL) gets the document (a new reference)
 * with "tasks" an empty array, *n_tasks (when not NULL) the number of elements. Returns 0, or -1
 * when the text is not a JSON object with a "tasks" array, is not what jansson would accept
 * (syntax, duplicate key, "\u0000", number range, depth), fn stopped it, or memory ran out: the
 * caller then uses jansson for the document and its message. */
int df_wfl_stream(const char *text, size_t len, json_t **skeleton, size_t *n_tasks,
                  df_wfl_task_fn fn, void *ctx);

/* ---- workflow_fields.c: messages and typed fields ---- */

/* Appends `FILE: WHERE: message` (or `FILE: message` when where is NULL or ""), the message
 * formatted printf-style; "out of memory" when formatting fails. */
void df_wfl_err(df_wfl_loader *L, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short description of a JSON value for "got ..." in messages ("an object", "a string (x)",
 * "an integer (3)", ...), written into buf (len bytes) and returned. */
const char *df_wfl_describe(const json_t *v, char *buf, size_t len);

/* A number as written in JSON, for range errors ("0.5", "3"), written into buf and returned. */
const char *df_wfl_num_text(const json_t *v, char *buf, size_t len);

/* Whether s is one of the n strings of list. */
bool df_wfl_in_list(const char *s, const char *const *list, size_t n);

/* Whether s matches [A-Za-z0-9_.-]{1,128} (workflow names, with allow_dot) or
 * [A-Za-z0-9_-]{1,128} (task ids). */
bool df_wfl_valid_name(const char *s, bool allow_dot);

/* Reports `unknown key "k"; did you mean "x"?` (the suggestion among the n known keys, when one
 * is close) or `unknown key "k"`. */
void df_wfl_unknown_key(df_wfl_loader *L, const char *where, const char *key,
                        const char *const *known, size_t n);

/* Checks that v is an integer (>= min when bounded). Returns true and sets *out when valid;
 * otherwise reports `KEY: must be an integer[ >= MIN], got ...` and returns false. */
bool df_wfl_want_int(df_wfl_loader *L, const char *where, const char *key, const json_t *v,
                     int64_t min, bool bounded, int64_t *out);

/* Checks that v is a string (non-empty with nonempty); otherwise reports it and returns false. */
bool df_wfl_want_string(df_wfl_loader *L, const char *where, const char *key, const json_t *v,
                        bool nonempty);

/* Looks a pool or breaker name up among n names (what: "pool", plural: "pools"). Returns its
 * index, or -1 after reporting an unknown name, with a suggestion when one is close. */
int df_wfl_find_named(df_wfl_loader *L, const char *where, const char *key, const char *what,
                      const char *plural, const char *name, const char *const *names, size_t n);

/* ---- workflow_map.c: dynamic mapping (SPEC §8) ---- */

/* Most elements a for_each expands into (SPEC §8). */
#define DF_MAP_MAX 100000

/* Reads the task key `key` into t when it is for_each or max_parallel (type-checked, reported).
 * Returns whether it was one of them. */
bool df_wfl_map_key(df_wfl_loader *L, const char *where, const char *key, const json_t *v,
                    df_task_def *t);

/* Once task self's keys and depends_on are read (stamp[j] == self + 1 for its upstreams j; obj is
 * its object in the file): max_parallel only with for_each, no `branch` with for_each, and a
 * for_each string that is exactly one ${params...}, ${env...} or ${tasks.ID...} reference, ID
 * an upstream. */
void df_wfl_map_check(df_wfl_loader *L, const char *where, const df_task_def *t, const json_t *obj,
                      const df_workflow *wf, const size_t *stamp, size_t self);

/* A reference in t's params (at path): ${item...}, ${item_index} and ${task.map_index} need
 * for_each. */
void df_wfl_map_check_ref(df_wfl_loader *L, const char *where, const char *path,
                          const df_task_def *t, const char *ref);

/* ---- workflow_task.c: task defaults and tasks ---- */

/* Fills *base with the task defaults of SPEC §1, then applies the `defaults` object (NULL when
 * the document has none), reporting keys that cannot have a default and unknown keys.
 * pool_names and breaker_names (wf->n_pools and wf->n_breakers entries, may be NULL when there
 * are none) resolve the `pool` and `breaker` keys. */
void df_wfl_load_defaults(df_wfl_loader *L, const json_t *defaults, df_task_def *base,
                          const char *const *pool_names, const char *const *breaker_names);

/* Loads the `tasks` array into wf->tasks, each task starting from *base: ids, keys, params,
 * depends_on (into upstream and downstream lists), template references, and finally cycles
 * (filling wf->topo when there are none). wf->id_slots maps ids to indexes afterwards. */
void df_wfl_load_tasks(df_wfl_loader *L, const json_t *tasks, const json_t *on_exit,
                       const df_task_def *base, const char *const *pool_names,
                       const char *const *breaker_names);

/* ---- workflow_cycles.c: cycles among the dependencies ---- */

/* Reports cycles among the tasks' dependencies (every task has an id), each as a path. After a
 * cycle is found its tasks are left out and the search repeats, so disjoint cycles are all
 * reported (at most 20). On an acyclic graph fills wf->topo (allocated here) and returns 0;
 * otherwise -1 (reported, or out of memory). */
int df_wfl_check_cycles(df_wfl_loader *L);

/* ---- workflow_on_exit.c: on_exit handlers (SPEC §8) ---- */

/* Handler i's key that handlers may not have (depends_on, trigger_rule, for_each, max_parallel,
 * branch): reports it and returns true; false for any other key. */
bool df_wfl_handler_key(df_wfl_loader *L, const char *where, const char *key);

/* Handler i's upstream list: every DAG task (indexes 0 .. n_dag-1), each stamped in stamp (i +
 * 1) as depends_on would. Returns 0, or -1 when out of memory (reported). */
int df_wfl_handler_upstream(df_wfl_loader *L, size_t i, size_t n_dag, size_t *stamp);

/* Checks a reference (text inside ${}) of a task's params against the handlers' rules: in a DAG
 * task, ${run.state} and ${run.failed_tasks} are errors; in a handler, ${tasks.ID...} may name
 * any DAG task but no handler. Returns true when the reference is fully checked here (an error
 * was reported, or a handler's task reference is fine); false to go on with the usual checks. */
bool df_wfl_handler_ref(df_wfl_loader *L, const char *where, const char *path, const char *ref,
                        bool handler, const df_workflow *wf, size_t n_dag);

/* ---- workflow_schedule.c: the `schedule` object (SPEC §9) ---- */

/* Loads the `schedule` object into wf->schedule (a new df_schedule, kept even when it has
 * errors, so that it is freed with the workflow), reporting every problem under `schedule`.
 * Needs wf->params (schedule params must name declared params). */
void df_wfl_load_schedule(df_wfl_loader *L, const json_t *schedule);

#endif
