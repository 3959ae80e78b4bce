/* cmd_history: the `history [--workflow NAME] [--limit N]` command (SPEC §6): recent runs from
 * the run_history view, as a table or (--json) an array. A missing database is an empty history
 * and is not created. */
#include "cli.h"

#include <stdlib.h>

#include "../../store/store.h"

static int print_table(const json_t *runs)
{
    if (json_array_size(runs) == 0) {
        printf("no runs\n");
        return DF_EXIT_OK;
    }
    static const char *const headers[] = {"RUN",     "WORKFLOW", "STATE",
                                          "STARTED", "DURATION", "TASKS (ok/failed/total)"};
    df_cli_table *t = df_cli_table_new(6, headers);
    if (!t)
        return df_cli_table_finish(NULL, false);
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        char id[24], dur[32], tasks[80];
        snprintf(id, sizeof id, "%lld", df_cli_json_int(r, "run_id"));
        df_cli_duration_text(r, false, dur, sizeof dur); /* "-" until the run ends */
        snprintf(tasks, sizeof tasks, "%lld/%lld/%lld", df_cli_json_int(r, "tasks_succeeded"),
                 df_cli_json_int(r, "tasks_failed"), df_cli_json_int(r, "tasks_total"));
        const char *cells[] = {id,
                               df_cli_json_str(r, "workflow", "?"),
                               df_cli_json_str(r, "state", "?"),
                               df_cli_json_str(r, "started_at", "-"),
                               dur,
                               tasks};
        if (df_cli_table_add(t, cells) != 0)
            return df_cli_table_finish(t, false);
    }
    return df_cli_table_finish(t, true);
}

/* `dagflow history [--workflow NAME] [--limit N] [--db PATH] [--json]`. Returns 0, 2 on bad
 * usage, 3 on a store error. */
int df_cmd_history(int argc, char **argv)
{
    df_cli cli;
    int code = df_cli_parse(df_cli_spec_find("history"), argc, argv, &cli);
    if (code != DF_CLI_PROCEED)
        return code;
    df_store *store = NULL;
    json_t *runs = NULL;
    char err[512];

    if (!df_store_exists(cli.db_path)) {
        runs = json_array();
    } else if (df_store_open(cli.db_path, &store, err, sizeof err) != DF_STORE_OK) {
        df_cli_error("%s", err);
        code = DF_EXIT_INTERNAL;
        goto out;
    } else if (df_store_history(store, cli.workflow, (int)cli.limit, &runs) != DF_STORE_OK) {
        df_cli_error("%s", df_store_error(store));
        code = DF_EXIT_INTERNAL;
        goto out;
    }
    if (!runs) {
        df_cli_error("out of memory");
        code = DF_EXIT_INTERNAL;
    } else if (cli.json) {
        code = df_cli_print_json(runs) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    } else {
        code = print_table(runs);
    }

out:
    json_decref(runs);
    df_store_close(store);
    df_cli_free(&cli);
    return code;
}
