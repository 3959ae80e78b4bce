/* cmd_plugins: the `plugins` command (SPEC §6): every plugin found along the search path with its
 * version, description and path; files that fail to load are warnings, not failures. */
#include "cli.h"

#include <stdlib.h>

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* The table of the plugins (an array as df_engine_plugins returns it). Returns an exit code. */
static int print_table(const json_t *list)
{
    if (json_array_size(list) == 0) {
        printf("no plugins found\n");
        return DF_EXIT_OK;
    }
    static const char *const headers[] = {"NAME", "VERSION", "DESCRIPTION", "PATH"};
    df_cli_table *t = df_cli_table_new(4, headers);
    bool ok = t != NULL;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        if (!ok)
            break;
        const char *cells[] = {
            df_cli_json_str(p, "name", NULL), or_dash(df_cli_json_str(p, "version", NULL)),
            or_dash(df_cli_json_str(p, "description", NULL)), df_cli_json_str(p, "path", NULL)};
        ok = df_cli_table_add(t, cells) == 0;
    }
    return df_cli_table_finish(t, ok);
}

/* `dagflow plugins [--plugin-dir DIR]... [--json]`. Returns 0 (even when some files failed to
 * load), 2 on bad usage, 3 when the plugins cannot be listed. */
int df_cmd_plugins(const df_cli *cli)
{
    df_engine *e = df_cli_open_engine(cli, NULL, NULL);
    if (!e)
        return DF_EXIT_INTERNAL;
    df_errlist warnings = {0};
    json_t *list = NULL;
    int code = DF_EXIT_OK;
    int rc = df_engine_plugins(e, &list, &warnings);
    for (size_t i = 0; i < warnings.n; i++)
        df_cli_error("warning: %s", warnings.msgs[i]);
    if (rc != 0) {
        df_cli_error("cannot list plugins (out of memory?)");
        code = DF_EXIT_INTERNAL;
    } else if (cli->json) {
        code = df_cli_print_json(list) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    } else {
        code = print_table(list);
    }
    json_decref(list);
    df_errlist_clear(&warnings);
    df_engine_close(e);
    return code;
}
