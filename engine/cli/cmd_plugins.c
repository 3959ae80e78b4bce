/* cmd_plugins: the `plugins` command (SPEC §6): every plugin found along the search path with its
 * version, description and path; files that fail to load are warnings, not failures. */
#include "cli.h"

#include <stdlib.h>

#include "../plugin.h"

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* `dagflow plugins [--plugin-dir DIR]... [--json]`. Returns 0 (even when some files failed to
 * load), 2 on bad usage, 3 when the registry cannot be built. */
int df_cmd_plugins(int argc, char **argv)
{
    df_cli cli;
    int code = df_cli_parse(df_cli_spec_find("plugins"), argc, argv, &cli);
    if (code != DF_CLI_PROCEED)
        return code;
    code = DF_EXIT_OK;
    df_errlist errs = {0};
    const df_plugin *const *list = NULL;
    size_t n = 0;
    json_t *arr = NULL;
    df_plugin_registry *reg = df_plugin_registry_new(cli.plugin_dirs, cli.n_plugin_dirs);
    if (!reg) {
        df_cli_error("out of memory");
        code = DF_EXIT_INTERNAL;
        goto out;
    }
    int rc = df_plugin_list(reg, &list, &n, &errs);
    for (size_t i = 0; i < errs.n; i++)
        df_cli_error("warning: %s", errs.msgs[i]);
    if (rc != 0 && errs.n == 0) {
        df_cli_error("cannot list plugins (out of memory?)");
        code = DF_EXIT_INTERNAL;
        goto out;
    }
    if (cli.json) {
        arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
            const df_taskunit *u = list[i]->unit;
            json_t *o = json_pack("{s:s, s:s?, s:s?, s:s}", "name", list[i]->name, "version",
                                  u->version, "description", u->description, "path", list[i]->path);
            if (!o || json_array_append_new(arr, o) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        if (!arr) {
            df_cli_error("out of memory");
            code = DF_EXIT_INTERNAL;
            goto out;
        }
        code = df_cli_print_json(arr) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
        goto out;
    }
    if (n == 0) {
        printf("no plugins found\n");
        goto out;
    }
    static const char *const headers[] = {"NAME", "VERSION", "DESCRIPTION", "PATH"};
    df_cli_table *t = df_cli_table_new(4, headers);
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const df_taskunit *u = list[i]->unit;
        const char *cells[] = {list[i]->name, or_dash(u->version), or_dash(u->description),
                               list[i]->path};
        ok = df_cli_table_add(t, cells) == 0;
    }
    code = df_cli_table_finish(t, ok);

out:
    json_decref(arr);
    df_plugin_registry_free(reg);
    df_errlist_clear(&errs);
    df_cli_free(&cli);
    return code;
}
