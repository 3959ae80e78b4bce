/* cmd_report: the `report RUN_ID [-o FILE.html]` command (SPEC §10): the run page of the web UI
 * as one self-contained HTML file (df_run_page_html), from the run's status, its stored DAG and
 * every task's attempts. A missing database is not created. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* {"run", "dag", "attempts": {TASK: [...]}} of the run, or NULL after printing why (*code). */
static json_t *run_data(df_engine *e, long long id, int *code)
{
    df_errlist errs = {0};
    json_t *run = NULL, *dag = NULL, *att = json_object();
    int rc = df_engine_run_status(e, id, &run, &errs);
    if (!rc)
        rc = df_engine_run_dag(e, id, &dag, &errs);
    size_t i;
    json_t *t;
    json_array_foreach(rc ? NULL : json_object_get(run, "tasks"), i, t)
    {
        json_t *a = NULL;
        const char *tid = json_string_value(json_object_get(t, "id"));
        if (tid && df_engine_task_attempts(e, id, tid, &a, NULL) == 0)
            json_object_set(att, tid, json_object_get(a, "attempts"));
        json_decref(a);
    }
    if (rc) {
        df_cli_print_errlist(&errs);
        *code = rc == DF_ENOTFOUND ? DF_EXIT_USAGE : DF_EXIT_INTERNAL;
        json_decref(run);
        json_decref(dag);
        json_decref(att);
        df_errlist_clear(&errs);
        return NULL;
    }
    df_errlist_clear(&errs);
    return json_pack("{so so so}", "run", run, "dag", dag, "attempts", att);
}

/* Writes html to path (or stdout for NULL). Returns an exit code. */
static int write_page(const char *path, const char *html)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f) {
        df_cli_error("report: %s: cannot write: %s", path, strerror(errno));
        return DF_EXIT_INTERNAL;
    }
    bool ok = fputs(html, f) >= 0;
    ok = (path ? fclose(f) == 0 : fflush(f) == 0) && ok;
    if (!ok) {
        df_cli_error("report: %s: cannot write: %s", path ? path : "standard output",
                     strerror(errno));
        return DF_EXIT_INTERNAL;
    }
    return DF_EXIT_OK;
}

int df_cmd_report(const df_cli *cli)
{
    long long id;
    if (df_cli_parse_run_id(cli->operands[0], &id) != 0) {
        df_cli_error("report: RUN_ID must be a positive integer, got \"%s\"", cli->operands[0]);
        return DF_EXIT_USAGE;
    }
    if (!df_db_exists(cli->db_path)) {
        df_cli_error("report: unknown run %lld (no database at %s)", id, cli->db_path);
        return DF_EXIT_USAGE;
    }
    df_engine *e = df_cli_open_engine(cli, NULL, NULL);
    if (!e)
        return DF_EXIT_INTERNAL;
    int code = DF_EXIT_OK;
    json_t *data = run_data(e, id, &code);
    char *html = NULL;
    if (data && df_run_page_html(data, &html) != 0) {
        df_cli_error("report: out of memory");
        code = DF_EXIT_INTERNAL;
    }
    if (html)
        code = write_page(cli->output, html);
    free(html);
    json_decref(data);
    df_engine_close(e);
    return code;
}
