/* main: the `dagflow` entry point: top-level --help/--version, `help [COMMAND]`, and dispatch
 * through the command table (commands.c): the command's arguments parsed, then its handler run
 * (an unknown command is a usage error suggesting the nearest one). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#ifndef DF_VERSION
#define DF_VERSION "unknown"
#endif

/* Levenshtein distance, case-sensitive, for suggestions (command names are short): the engine's
 * one edit distance. */
static size_t edit_distance(const char *a, const char *b)
{
    return df_levenshtein(a, b);
}

/* The command nearest to name (within about half its length in edits, at most 3; a prefix of a
 * command counts as 1 edit), or NULL. */
static const char *nearest_command(const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, n;
    const df_cli_command *cmds = df_cli_commands(&n);
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(name, cmds[i].name);
        if (*name && strncmp(cmds[i].name, name, strlen(name)) == 0)
            d = d < 1 ? d : 1;
        if (d < best_d) {
            best_d = d;
            best = cmds[i].name;
        }
    }
    const char *help = "help";
    if (edit_distance(name, help) < best_d) {
        best_d = edit_distance(name, help);
        best = help;
    }
    size_t len = strlen(name);
    size_t limit = len <= 2 ? 1 : (len + 1) / 2;
    if (limit > 3)
        limit = 3;
    return best_d <= limit ? best : NULL;
}

static int unknown_command(const char *name)
{
    const char *near = nearest_command(name);
    if (near)
        df_cli_error("unknown command \"%s\"; did you mean \"%s\"? (see 'dagflow --help')", name,
                     near);
    else
        df_cli_error("unknown command \"%s\" (see 'dagflow --help')", name);
    return DF_EXIT_USAGE;
}

/* `dagflow help [COMMAND]`. */
static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        df_cli_print_main_help(stdout);
        return DF_EXIT_OK;
    }
    if (argc > 2) {
        df_cli_error("help: unexpected operand \"%s\": usage: dagflow help [COMMAND]", argv[2]);
        return DF_EXIT_USAGE;
    }
    const df_cli_command *spec = df_cli_command_find(argv[1]);
    if (!spec) {
        if (strcmp(argv[1], "help") == 0) {
            df_cli_print_main_help(stdout);
            return DF_EXIT_OK;
        }
        return unknown_command(argv[1]);
    }
    df_cli_print_help(spec, stdout);
    return DF_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        df_cli_error("no command given: usage: dagflow COMMAND [options] [operands] (see "
                     "'dagflow --help')");
        return DF_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return cmd_help(1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("dagflow %s\n", DF_VERSION);
        return DF_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0)
        return cmd_help(argc - 1, argv + 1);
    if (strcmp(cmd, "__crash-report") == 0) /* internal: a crashing dagflow's reporter */
        return df_cmd_crash_report(argc, argv);
    if (cmd[0] == '-') {
        df_cli_error("unknown option %s: the command comes first: dagflow COMMAND [options] "
                     "[operands] (see 'dagflow --help')",
                     cmd);
        return DF_EXIT_USAGE;
    }
    const df_cli_command *command = df_cli_command_find(cmd);
    if (!command)
        return unknown_command(cmd);
    df_cli cli;
    int code = df_cli_parse(command, argc - 1, argv + 1, &cli);
    if (code != DF_CLI_PROCEED)
        return code;
    code = command->run(&cli);
    df_cli_free(&cli);
    return code;
}
