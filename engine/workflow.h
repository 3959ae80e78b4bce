/* workflow: the in-memory model of a workflow file (SPEC §1) and its strict loader.
 *
 * Loading checks everything that does not need a plugin: JSON syntax (with line and column),
 * required keys, types and ranges, unknown keys (with the closest known key suggested), duplicate
 * ids, unknown dependencies, self-dependencies, cycles (printed as a path), unknown pools and
 * breakers, template syntax, and that ${tasks.X...} names an upstream of the task. Plugin lookup
 * and `validate` are the plugin module's (plugin.h: df_workflow_check_plugins). */
#ifndef DF_WORKFLOW_H
#define DF_WORKFLOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "errlist.h"
#include "model.h" /* df_trigger_rule and its names */

/* A task's "queue" is a name of 1 to DF_QUEUE_NAME_MAX - 1 bytes (SPEC §11). */
#define DF_QUEUE_NAME_MAX 64

typedef struct df_task_def {
    size_t index;     /* position in the file's "tasks" array */
    char *id;         /* owned */
    char *plugin;     /* name, or a path when it contains '/' (as written in the file); the
                         workflow's copy (wf->strings), one per distinct name */
    json_t *params;   /* owned reference: the task's params object, templates unresolved */
    size_t *upstream; /* owned: indexes of depends_on, in file order, no duplicates */
    size_t n_upstream;
    size_t *downstream; /* owned: indexes of tasks that depend on this one, ascending */
    size_t n_downstream;
    df_trigger_rule trigger_rule;
    int64_t retries;            /* >= 0 */
    int64_t retry_delay_ms;     /* >= 0 */
    double retry_backoff;       /* >= 1 */
    int64_t retry_max_delay_ms; /* >= 0 */
    bool retry_jitter;
    int64_t timeout_ms; /* 0 = none */
    int64_t priority;
    /* SPEC §8: a FAILED task counts as succeeded for its downstream tasks' trigger rules and
     * not for the run's final state (it stays FAILED in the history) */
    bool continue_on_failure;
    int64_t retry_max_total_ms; /* SPEC §8: no retry once this long since the first attempt
                                   started (0 = no limit) */
    struct df_expr *when;       /* owned: the compiled `when` condition (expr.h), or NULL */
    /* SPEC §8 dynamic mapping: the for_each value as written (owned reference: an array, or a
     * string that is exactly one reference yielding an array), or NULL for an unmapped task */
    json_t *for_each;
    int64_t max_parallel; /* with for_each: most instances in flight, 0 = no cap of its own */
    /* SPEC §8: the task's result names the direct downstream tasks to run; the others still
     * PENDING become SKIPPED (run_branch.c) */
    bool branch;
    bool handler;      /* an on_exit handler (SPEC §8), not a DAG task */
    int pool;          /* index into df_workflow.pools, or -1 */
    int breaker;       /* index into df_workflow.breakers, or -1 */
    const char *queue; /* SPEC §11: the workers' queue, NULL = "default"; the workflow's copy
                        * (wf->strings), so that `defaults` copies the pointer */
    bool params_ruled; /* the plugin's param rules were applied to params (plugin.h) */
} df_task_def;

typedef struct df_pool_def {
    char *name;    /* owned */
    int64_t slots; /* >= 1 */
} df_pool_def;

/* Circuit breaker settings (SPEC §3a), defaults filled in. */
typedef struct df_breaker_def {
    char *name;          /* owned */
    double failure_rate; /* 0 < r <= 1, default 0.5 */
    int64_t window;      /* >= 1, default 10 */
    int64_t min_calls;   /* >= 1, default 5 */
    int64_t open_ms;     /* >= 0, default 30000 */
} df_breaker_def;

typedef struct df_workflow {
    char *path;        /* owned: the file path as given (or "<stored>" for a stored DAG) */
    char *dir;         /* owned: absolute path of the file's folder (relative paths resolve here) */
    json_t *doc;       /* owned reference: the whole document as loaded; NULL once
                          df_workflow_drop_doc ran (a run's workflow after it was recorded) */
    char *source;      /* owned: the file's bytes the document was parsed from (byte order mark
                          skipped, NUL-terminated), stored as the run's DAG as they are instead of
                          a re-serialised document; NULL for a stored DAG, a deep copy, or after
                          df_workflow_drop_doc */
    size_t source_len; /* bytes in source */
    char *name;        /* owned */
    char *description; /* owned, or NULL */
    json_t *params;    /* owned reference: run parameter defaults (object, maybe empty) */
    int64_t max_active_tasks; /* 0 = no limit of its own */
    int64_t timeout_ms;       /* the run's own time limit (SPEC §8), 0 = none */
    df_pool_def *pools;
    size_t n_pools;
    df_breaker_def *breakers;
    size_t n_breakers;
    json_t *alerts;     /* owned reference: the validated "alerts" array (maybe empty) */
    df_task_def *tasks; /* the DAG's tasks, then the on_exit handlers (SPEC §8) */
    size_t n_tasks;     /* both */
    size_t n_dag;       /* the DAG's tasks: tasks[0 .. n_dag); handlers have .handler set */
    size_t *topo;       /* owned: task indexes in a topological order (upstreams first) */
    /* owned: id -> index for df_workflow_find_task, an open-addressing table of task index + 1
     * (0: free) over the tasks' own id strings, id_mask + 1 slots (a power of two, at least
     * twice the tasks); NULL in a workflow built by hand (lookups then scan the tasks) */
    uint32_t *id_slots;
    size_t id_mask;
    /* owned: the tasks' plugin names and queues, one copy of each distinct string (a GLib set,
     * workflow.c's df_wfl_intern): a million tasks of one plugin hold one name */
    struct _GHashTable *strings;
    struct df_schedule *schedule; /* owned, or NULL: the "schedule" object (SPEC §9, schedule.h) */
    json_t *env;                  /* owned reference: "env" (object of strings), or NULL */
    char **env_passthrough; /* owned: "env_passthrough" names and NAME* patterns, NULL-ended */
    size_t n_env_passthrough;
} df_workflow;

/* Loads and checks a workflow file. On success returns 0 and sets *out to a new workflow (free
 * with df_workflow_free). On failure returns -1, sets *out to NULL and appends every error found
 * to errs, each naming the file, and the task and key where there is one, e.g.
 *   wf.json: task "load": unknown key "depend_on"; did you mean "depends_on"?
 *   wf.json: line 3, column 5: JSON error: ...
 *   wf.json: cycle: a -> b -> c -> a
 * dir is resolved with realpath. path "-" reads standard input (messages then name the file
 * "<stdin>", and dir is the current folder). Not thread-safe with respect to errs only. */
int df_workflow_load_file(const char *path, df_workflow **out, df_errlist *errs);

/* Files of at least n bytes (default 4 MiB) are loaded as a stream (workflow_stream.c: one
 * task's JSON in memory at a time instead of the whole document; wf->doc then holds "tasks" as
 * an empty array); smaller ones as one jansson document. Both load the same workflow and give the
 * same messages. For tests and benchmarks; not thread-safe (set it before loading). */
void df_workflow_set_stream_bytes(size_t n);

/* The most bytes a workflow file (or standard input) may hold: 1 GiB (a 1,000,000-task DAG is
 * about 90 MB). A regular file over it is refused from its size, before any read. */
#define DF_WORKFLOW_MAX_BYTES ((size_t)1 << 30)

/* Reads all of f (named name in messages) into a new NUL-terminated buffer (*len bytes, the
 * caller frees it; f is not closed). NULL with the error appended to errs when f cannot be read,
 * holds more than DF_WORKFLOW_MAX_BYTES, or holds a NUL byte (not JSON text). Thread-safe. */
char *df_workflow_read_text(FILE *f, const char *name, size_t *len, df_errlist *errs);

/* The name messages give a workflow read from standard input (path "-"). */
#define DF_WORKFLOW_STDIN "<stdin>"

/* Reads a workflow document: the file at path, or standard input for "-" (read to its end). A
 * UTF-8 byte order mark at the start is skipped; a key given twice in one object is an error.
 * Returns a new reference, or NULL with the error (naming the file, and the line and column of
 * a JSON error) appended to errs. */
json_t *df_workflow_read_doc(const char *path, df_errlist *errs);

/* The same for a document already in memory (a stored DAG on resume). doc is borrowed (the
 * workflow takes its own reference); path is used in messages and dir as the base folder. */
int df_workflow_load_json(json_t *doc, const char *path, const char *dir, df_workflow **out,
                          df_errlist *errs);

/* The same for a document given as text (len bytes, not necessarily NUL-terminated; borrowed):
 * a stored DAG on resume, or a service's workflow started again from its file's bytes. A text of
 * df_workflow_set_stream_bytes or more is streamed when it can be; otherwise it is parsed by
 * jansson with flags (e.g. JSON_ALLOW_NUL). The workflow keeps a copy of the text as
 * wf->source. path NULL means "<stored>", dir NULL the current directory. Returns 0 or -1 with
 * errs filled, as df_workflow_load_file. */
int df_workflow_load_text(const char *text, size_t len, size_t flags, const char *path,
                          const char *dir, df_workflow **out, df_errlist *errs);

/* Index of the task with this id, or -1. */
long df_workflow_find_task(const df_workflow *wf, const char *id);

/* Frees everything; NULL is fine. */
void df_workflow_free(df_workflow *wf);

/* Frees wf->doc and wf->source and sets them to NULL: the compact model (tasks, params, ids)
 * stays. For a workflow whose run is recorded (the run keeps its own params references); at a
 * million tasks the document is ~0.9 GB of jansson nodes. Nothing reads wf->doc afterwards but
 * df_engine_start_workflow_opts (the service's own workflows, never dropped). NULL is fine. */
void df_workflow_drop_doc(df_workflow *wf);

/* Resolves a path from the workflow against wf->dir: absolute paths are returned as is.
 * Returns a new malloc'd string, or NULL on allocation failure. */
char *df_workflow_resolve_path(const df_workflow *wf, const char *path);

#endif
