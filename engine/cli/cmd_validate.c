/* cmd_validate: the `validate FILE` command (SPEC §6): every check of loading, plugins' validate
 * included, with every error reported; records nothing (the database is never opened). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* msg as a JSON string: a message that is not UTF-8 (it quotes a file name that is not) gets each
 * byte above 0x7f as '?', so that no error is left out of the list (json_string refuses it). */
static json_t *message_json(const char *msg)
{
    json_t *j = json_string(msg);
    char *copy = j ? NULL : strdup(msg);
    for (char *p = copy; p && *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    if (copy)
        j = json_string(copy);
    free(copy);
    return j;
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
            if (json_array_append_new(list, message_json(errs->msgs[i])) != 0) {
                json_decref(list);
                list = NULL;
            }
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
        printf("%s: valid (%zu %s)\n", strcmp(path, "-") == 0 ? "<stdin>" : path, n_tasks,
               n_tasks == 1 ? "task" : "tasks");
    }
    return code;
}

/* `dagflow validate FILE [--param K=V]... [--plugin-dir DIR]... [--json]`. Returns 0 when the
 * workflow is valid, 2 when it is not (or on bad usage), 3 on an internal error. */
int df_cmd_validate(const df_cli *cli)
{
    const char *path = cli->operands[0];
    df_errlist errs = {0};
    size_t n_tasks = 0;
    int code;
    /* A directory or an unreadable file: a clear message, not a JSON parse error. */
    char problem[4200];
    if (df_cli_file_problem(path, problem, sizeof problem) != 0) {
        df_errlist all = {.msgs = (char *[]){problem}, .n = 1, .cap = 1};
        return report(cli, path, &all, 0);
    }
    /* The store is not opened: validating records nothing. */
    df_engine *e = df_cli_open_engine(cli, NULL, NULL);
    if (!e)
        return DF_EXIT_INTERNAL;
    int rc = df_engine_validate_file(e, path, cli->params, &n_tasks, &errs);
    if (rc == 0 || rc == DF_EINPUT) {
        code = report(cli, path, &errs, n_tasks);
    } else {
        df_cli_print_errlist(&errs);
        code = DF_EXIT_INTERNAL;
    }
    df_engine_close(e);
    df_errlist_clear(&errs);
    return code;
}
