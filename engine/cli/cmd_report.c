/* cmd_report: the `report RUN_ID [-o FILE.html]` command (SPEC §10): the run page of the web UI
 * as one self-contained HTML file (df_run_page_html), from the run's status, its stored DAG and
 * every task's attempts (df_run_page_data). A missing database is not created. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* df_run_page_data's object of the run, or NULL after printing why (*code). */
static json_t *run_data(df_engine *e, long long id, int *code)
{
    df_errlist errs = {0};
    json_t *data = NULL;
    int rc = df_run_page_data(e, id, true, &data, &errs);
    if (rc) {
        df_cli_print_errlist(&errs);
        *code = rc == DF_ENOTFOUND ? DF_EXIT_USAGE : DF_EXIT_INTERNAL;
    }
    df_errlist_clear(&errs);
    return data;
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
