/* cmd_graph: the `graph FILE [--format dot|mermaid] [--json]` command (SPEC §6): a workflow's DAG
 * as Graphviz DOT or a Mermaid flowchart, edges from upstream to downstream; with --json, that
 * text inside {"workflow", "format", "text"}. */
#include "cli.h"

#include <stdlib.h>

/* --json: {"workflow": NAME, "format": "dot"|"mermaid", "text": the graph text}, so that a
 * script asking for JSON gets JSON (the text is exactly what the command prints without --json).
 * Returns an exit code. */
static int print_graph_json(const df_cli *cli, const df_workflow *wf, const char *text, size_t len)
{
    json_t *obj = json_pack("{s:s, s:s, s:s%}", "workflow", df_workflow_name(wf), "format",
                            cli->format, "text", text, len);
    if (!obj) {
        df_cli_error("out of memory");
        return DF_EXIT_INTERNAL;
    }
    int code = df_cli_print_json(obj) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    json_decref(obj);
    return code;
}

/* `dagflow graph FILE [--format dot|mermaid] [--json]`. Returns 0, or 2 when the file cannot be
 * loaded (every load error printed; a directory or an unreadable file is said so up front) or on
 * bad usage, 3 when out of memory or stdout cannot be written. */
int df_cmd_graph(const df_cli *cli)
{
    int code;
    df_errlist errs = {0};
    df_workflow *wf = NULL;
    char *text = NULL;
    size_t len = 0;
    if ((code = df_cli_check_file(cli->operands[0])) != 0) {
        /* printed */
    } else if (df_workflow_load(cli->operands[0], &wf, &errs) != 0) {
        df_cli_print_errlist(&errs);
        code = DF_EXIT_USAGE;
    } else if (df_workflow_export(wf, cli->format, &text, &len) != 0) {
        df_cli_error("out of memory");
        code = DF_EXIT_INTERNAL;
    } else if (cli->json) {
        code = print_graph_json(cli, wf, text, len);
    } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        df_cli_error("cannot write to stdout");
        code = DF_EXIT_INTERNAL;
    }
    free(text);
    df_workflow_free(wf);
    df_errlist_clear(&errs);
    return code;
}
