/* template: ${...} references in task params (SPEC §4).
 *
 * References: ${params.NAME}, ${run.id}, ${run.workflow}, ${run.logical_time},
 * ${run.logical_date}, ${run.started_at}, ${run.trigger} (SPEC §10), ${task.id}, ${task.attempt},
 * ${env.NAME}, ${tasks.ID.result}, ${tasks.ID.result.KEY.KEY...}, in a mapped instance (SPEC §8)
 * ${item}, ${item.KEY...}, ${item_index} and ${task.map_index}, and in on_exit handlers
 * ${run.state} and ${run.failed_tasks} (SPEC §10). A string that is exactly one reference takes
 * the referenced JSON value with its type; references inside a longer string are replaced by their
 * text (strings as is, other JSON values in compact JSON form). `$${` is a
 * literal `${`. Object keys are never templated, only string values (at any depth). A KEY applied
 * to an array is a decimal index (`${tasks.a.result.rows.0.name}`); template.c has the grammar. */
#ifndef DF_TEMPLATE_H
#define DF_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What references resolve against. All pointers borrowed. */
typedef struct df_template_scope {
    const json_t *params; /* run parameters object, or NULL */
    long long run_id;     /* ${run.id} */
    const char *workflow; /* ${run.workflow} */
    /* SPEC §10's run context, each a string; NULL = leave the reference as it is (a run not
     * created yet): ${run.logical_time} and ${run.started_at} (ISO-8601 UTC with milliseconds),
     * ${run.logical_date} (YYYY-MM-DD in the schedule's zone, else UTC), ${run.trigger}. */
    const char *logical_time;
    const char *logical_date;
    const char *started_at;
    const char *trigger;
    const char *task_id; /* ${task.id}; NULL = leave ${task.*} references as they are */
    unsigned attempt;    /* ${task.attempt}; 0 = leave ${task.attempt} as it is */
    bool resolve_tasks;  /* false = leave ${tasks.*} references as they are (creation time) */
    bool mapped;         /* a mapped instance (SPEC §8): ${item}, ${item_index} and
                            ${task.map_index} resolve; false = leave them as written */
    const json_t *item;  /* its element (borrowed), for ${item} */
    long long map_index; /* its index, for ${item_index} and ${task.map_index} */
    const json_t *env;   /* the workflow's "env" (object of strings), read by ${env.NAME} before
                            the engine's environment (SPEC §8); or NULL */
    /* on_exit handlers (SPEC §10): ${run.state} (the run's final state without the handlers) and
     * ${run.failed_tasks} (array of ids); NULL elsewhere (the references then fail) */
    const char *run_state;
    const json_t *failed_tasks;
    bool missing_result_null; /* ${tasks.ID...} of a task without a result is null (handlers) */
    bool defer_run_id;        /* leave ${run.id} as written (dagflow plan: no run exists) */
    /* Returns the result of an upstream task (borrowed), or NULL when it has none. */
    const json_t *(*task_result)(void *ud, const char *task_id);
    void *ud;
} df_template_scope;

/* Returns a new JSON value: in with every reference resolved (or left as written where the scope
 * says so). On failure returns NULL and writes a message naming the reference into err, e.g.
 * `cannot resolve ${tasks.a.result.x}: task "a" result has no key "x"`. in is borrowed.
 * Thread-safe (pure apart from getenv). */
json_t *df_template_resolve(const json_t *in, const df_template_scope *scope, char *err,
                            size_t errlen);

/* Called for each reference found by df_template_scan: ref is the text between ${ and }
 * (borrowed, NUL-terminated). Return non-zero to stop the scan. */
typedef int (*df_template_ref_fn)(void *ud, const char *ref);

/* Checks the syntax of every reference in the string values of in (unterminated ${, an empty or
 * unknown namespace, a malformed path) and calls fn for each well-formed one. Returns 0 when all
 * are well formed, else -1 with the first syntax error in err. Thread-safe. */
int df_template_scan(const json_t *in, df_template_ref_fn fn, void *ud, char *err, size_t errlen);

/* Marks every reference in the string in (a `shell` plugin's script) with the place where it stands
 * in the script: outside quotes, inside double quotes, inside single quotes, or in a comment.
 * df_template_resolve then inserts each marked reference's value escaped for that place (SPEC
 * §12): as one single-quoted word; with \, ", $ and ` backslashed; with ' written '\''; with
 * newlines as spaces. A marked string that is exactly one reference also becomes text. Returns a
 * new reference (in itself, with a reference added, when in is not a string), or NULL with a
 * message when a reference stands where no escaping is safe (inside backquotes, a ${...}
 * expansion, a here-document, or right after a backslash) or has a syntax error. The marked
 * string is for df_template_resolve only (df_template_scan refuses it). in is borrowed.
 * Thread-safe. */
json_t *df_template_mark_shell(const json_t *in, char *err, size_t errlen);

#endif
