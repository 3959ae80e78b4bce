/* plugin: finds, loads and checks TaskUnit plugins (SPEC §2), runs their init and fini hooks, and
 * keeps them loaded in a registry for the engine's lifetime. Plugins built against any ABI from 1
 * to DF_TASKUNIT_ABI load; the engine reads only the df_taskunit fields of the plugin's ABI.
 * Refusals are clear errors, never crashes: a missing file, a file that is not a shared object
 * (with dlerror's message), no `dagflow_taskunit` symbol, an ABI this build does not know (0 or
 * less, or above DF_TASKUNIT_ABI), a NULL execute, a `name` that does not match the file, an init
 * hook that fails (with its message). */
#ifndef DF_PLUGIN_H
#define DF_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include <dagflow/taskunit.h>

#include "errlist.h"
#include "workflow.h"

typedef struct df_plugin {
    char *name;   /* owned: the plugin's name */
    char *path;   /* owned: absolute path of the .so */
    void *handle; /* dlopen handle */
    /* The plugin's descriptor as this engine reads it: the fields of the plugin's ABI, later
     * ones NULL (init and fini of an ABI-1 plugin). Borrowed; valid for the process's life. */
    const df_taskunit *unit;
    struct df_unit_hold *hold; /* the process-wide record of unit and its init (plugin.c) */
} df_plugin;

typedef struct df_plugin_registry df_plugin_registry;

/* Creates a registry whose search path is: each of dirs (the --plugin-dir options, in order),
 * each folder of $DAGFLOW_PLUGIN_PATH (colon-separated), then the built-in plugin folders
 * (<folder of the dagflow binary>/plugins, <that folder>/../lib/dagflow/plugins, then
 * DF_PLUGIN_INSTALL_DIR; a folder already listed is not added twice). dirs is borrowed.
 * Returns NULL on allocation failure. Not thread-safe: use from the engine thread. */
df_plugin_registry *df_plugin_registry_new(const char *const *dirs, size_t n_dirs);

/* Frees the registry (after the pool is gone). NULL is fine. Each plugin's fini runs when this
 * was the last registry of the process holding it (init ran when the first one loaded it), unless
 * df_plugin_registry_left_behind said that plugin code may still run. Plugins are never
 * dlclose'd: their code and descriptors stay for the process's life. */
void df_plugin_registry_free(df_plugin_registry *r);

/* With allow true, the registry loads plugin files that fail the trust check (a file or folder
 * writable by group or others, or owned by someone other than root or the user; plugin_trust.h);
 * by default they are refused before dlopen with a message naming the file and the reason
 * (SPEC §12). NULL is fine. Engine thread. */
void df_plugin_registry_allow_insecure(df_plugin_registry *r, bool allow);

/* Says that `workers` workers were left behind by the pool (df_pool_destroy's answer), possibly
 * still running plugin code: when workers > 0, df_plugin_registry_free calls no fini and the
 * registry's plugins stay initialised for the process's life. NULL is fine. */
void df_plugin_registry_left_behind(df_plugin_registry *r, size_t workers);

/* Finds and loads a plugin: `ref` is a name (searched as NAME.so along the search path) or, when
 * it contains '/', a path to a .so (relative paths resolve against base_dir). A plugin already
 * loaded is returned again. The first load of a plugin in the process runs its init hook (after
 * the process's curl_global_init when the plugin links libcurl, curl_global.h). Returns 0 and sets
 * *out (borrowed from the registry), or -1 with a message in err, e.g. `unknown plugin "foo" (no
 * foo.so in: a, b)` or `plugin "x": /p/x.so was built for plugin ABI 7, this dagflow supports
 * plugin ABI 1 to 2` or `plugin "x": /p/x.so: init failed: <the plugin's message>`. */
int df_plugin_get(df_plugin_registry *r, const char *ref, const char *base_dir,
                  const df_plugin **out, char *err, size_t errlen);

/* Loads every NAME.so found along the search path (first of each name wins); ones that fail to
 * load are reported in errs. Sets *out to a borrowed array of the loaded plugins, sorted by name.
 */
int df_plugin_list(df_plugin_registry *r, const df_plugin *const **out, size_t *n,
                   df_errlist *errs);

/* Applies plugin p's param rules (df_param_rule) to task t, once: a DF_PARAM_NO_TEMPLATES param
 * with a reference is an error naming the param and the reference; a DF_PARAM_SHELL_SCRIPT param
 * has its references marked with their place in the script (df_template_mark_shell), so that
 * resolving t->params escapes their values (SPEC §12); a DF_PARAM_ENV param gets wf's "env" and
 * its env_passthrough variables (as ${env.NAME} references) under the task's own keys. t->params is
 * replaced by a new object when something changed (the old one, which the workflow's document may
 * share, is left as it was). Returns 0, or -1 with a message in err (e.g. `param "sql" of plugin
 * sqlite takes no ${...} reference (found ${params.name}): pass values with "bind"...`). Engine
 * thread. */
int df_plugin_apply_rules(const df_plugin *p, const df_workflow *wf, df_task_def *t, char *err,
                          size_t errlen);

/* Resolves every task's plugin, applies its param rules (df_plugin_apply_rules: the tasks'
 * params may be replaced; a refusal is a load error), and calls its validate with params resolved
 * against the scope (run params, run id/workflow, env; ${tasks.*} left as strings). Load errors go
 * to load_errs (the workflow cannot run); validate rejections go to invalid (one message per
 * rejected task, "task \"x\": <plugin's message>"), and invalid_mask[i] is set for each rejected
 * task i (caller-allocated, wf->n_tasks entries, zeroed). plugins_out (caller-allocated, n_tasks
 * entries) receives each task's plugin (borrowed). run_params: the run's params object
 * (borrowed). Returns 0 when there were no load errors. */
int df_workflow_check_plugins(df_plugin_registry *r, const df_workflow *wf,
                              const json_t *run_params, long long run_id,
                              const df_plugin **plugins_out, unsigned char *invalid_mask,
                              df_errlist *load_errs, df_errlist *invalid);

/* When a workflow file fails to load (so there is no model to check), still reports what its
 * tasks' plugins would say, so that every error in the file is reported at once (SPEC §1): for
 * each element of the document's "tasks" that is an object with string "id" and "plugin", a
 * plugin that cannot be found or loaded, and a `validate` that rejects its "params" object as
 * written (templates unresolved, which plugins accept in place of values). Messages have the
 * same form as df_workflow_check_plugins'. path: the workflow file (a file that is not JSON is
 * skipped: its error is the loader's). Appends to errs; returns the number of errors added. */
size_t df_plugin_check_raw(df_plugin_registry *r, const char *path, df_errlist *errs);

#endif
