/* cmd_validate: the `validate FILE` command (SPEC §6): every check of loading, plugins' validate
 * included, with every error reported; records nothing (the database is never opened). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "../plugin.h"
#include "../workflow.h"

/* Adds msg to out, prefixed with "path: " unless it already names the file that way. */
static void add_named(df_errlist *out, const char *path, const char *msg)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':')
        df_errlist_add(out, "%s", msg);
    else
        df_errlist_add(out, "%s: %s", path, msg);
}

/* Prints the outcome: the errors on stderr and, with --json, the result object on stdout. */
static int report(const df_cli *cli, const char *path, const df_errlist *errs, size_t n_tasks)
{
    df_cli_print_errlist(errs);
    int code = errs->n ? DF_EXIT_USAGE : DF_EXIT_OK;
    if (cli->json) {
        json_t *out = json_object();
        json_t *list = errs->n ? json_array() : NULL;
        for (size_t i = 0; list && i < errs->n; i++)
            json_array_append_new(list, json_string(errs->msgs[i]));
        if (!out || (errs->n && !list)) {
            json_decref(out);
            json_decref(list);
            df_cli_error("out of memory");
            return DF_EXIT_INTERNAL;
        }
        json_object_set_new(out, "valid", json_boolean(errs->n == 0));
        if (errs->n)
            json_object_set_new(out, "errors", list);
        else
            json_object_set_new(out, "tasks", json_integer((json_int_t)n_tasks));
        if (df_cli_print_json(out) != 0 && code == DF_EXIT_OK)
            code = DF_EXIT_INTERNAL;
        json_decref(out);
    } else if (code == DF_EXIT_OK) {
        printf("%s: valid (%zu tasks)\n", path, n_tasks);
    }
    return code;
}

/* `dagflow validate FILE [--param K=V]... [--plugin-dir DIR]... [--json]`. Returns 0 when the
 * workflow is valid, 2 when it is not (or on bad usage), 3 on an internal error. */
int df_cmd_validate(int argc, char **argv)
{
    df_cli cli;
    int code = df_cli_parse(df_cli_spec_find("validate"), argc, argv, &cli);
    if (code != DF_CLI_PROCEED)
        return code;
    const char *path = cli.operands[0];
    df_errlist load = {0}, invalid = {0}, all = {0};
    df_workflow *wf = NULL;
    df_plugin_registry *reg = NULL;
    json_t *run_params = NULL;
    const df_plugin **plugins = NULL;
    unsigned char *mask = NULL;
    size_t n_tasks = 0;

    /* A directory or an unreadable file: a clear message, not a JSON parse error. */
    char problem[4200];
    if (df_cli_file_problem(path, problem, sizeof problem) != 0) {
        df_errlist_add(&all, "%s", problem);
        code = report(&cli, path, &all, 0);
        goto out;
    }
    if (df_workflow_load_file(path, &wf, &load) != 0) {
        if (load.n == 0)
            df_errlist_add(&load, "%s: cannot be loaded", path);
        /* Every error at once: what the plugins say about the tasks, too. */
        df_plugin_registry *raw = df_plugin_registry_new(cli.plugin_dirs, cli.n_plugin_dirs);
        if (raw)
            df_plugin_check_raw(raw, path, &load);
        df_plugin_registry_free(raw);
        for (size_t i = 0; i < load.n; i++)
            add_named(&all, path, load.msgs[i]);
        code = report(&cli, path, &all, 0);
        goto out;
    }
    n_tasks = wf->n_tasks;
    reg = df_plugin_registry_new(cli.plugin_dirs, cli.n_plugin_dirs);
    run_params = wf->params ? json_deep_copy(wf->params) : json_object();
    plugins = calloc(n_tasks ? n_tasks : 1, sizeof *plugins);
    mask = calloc(n_tasks ? n_tasks : 1, 1);
    if (!reg || !run_params || !plugins || !mask || json_object_update(run_params, cli.params)) {
        df_cli_error("out of memory");
        code = DF_EXIT_INTERNAL;
        goto out;
    }
    df_workflow_check_plugins(reg, wf, run_params, 0, plugins, mask, &load, &invalid);
    for (size_t i = 0; i < load.n; i++)
        add_named(&all, path, load.msgs[i]);
    for (size_t i = 0; i < invalid.n; i++)
        add_named(&all, path, invalid.msgs[i]);
    code = report(&cli, path, &all, n_tasks);

out:
    free(mask);
    free(plugins);
    json_decref(run_params);
    df_workflow_free(wf);
    df_plugin_registry_free(reg);
    df_errlist_clear(&load);
    df_errlist_clear(&invalid);
    df_errlist_clear(&all);
    df_cli_free(&cli);
    return code;
}
