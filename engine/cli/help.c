/* help: the help texts of `dagflow` — `dagflow --help` (the commands and the common options)
 * and each command's --help (usage, operands, options wrapped under a fixed indent, exit codes),
 * printed from the command table (commands.c) and the option table (args.c). */
#include "cli.h"

#include <ctype.h>
#include <string.h>

/* Prints "  --name ARG   help", the help wrapped at about 100 columns under a fixed indent. */
static void print_option(FILE *out, const df_cli_option *o)
{
    char head[64];
    if (o->arg)
        snprintf(head, sizeof head, "--%s %s", o->name, o->arg);
    else
        snprintf(head, sizeof head, "--%s", o->name);
    const int indent = 30;
    fprintf(out, "  %-*s", indent - 2, head);
    int col = indent;
    if ((int)strlen(head) > indent - 4) {
        fprintf(out, "\n%*s", indent, "");
    }
    const char *p = o->help;
    while (*p) {
        size_t w = strcspn(p, " ");
        if (col > indent && col + 1 + (int)w > 98) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += (int)w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

void df_cli_print_help(const df_cli_command *spec, FILE *out)
{
    fprintf(out, "Usage: dagflow %s\n\n%c%s.\n", spec->usage,
            toupper((unsigned char)spec->summary[0]), spec->summary + 1);
    if (spec->details)
        fprintf(out, "\n%s", spec->details);
    if (spec->operands)
        fprintf(out, "\nOperands:\n%s", spec->operands);
    size_t n;
    const df_cli_option *opts = df_cli_options(&n);
    if (spec->options) {
        fprintf(out, "\nOptions:\n");
        for (size_t i = 0; i < n; i++)
            if (opts[i].mask != 0 && df_cli_option_accepted(spec, &opts[i]))
                print_option(out, &opts[i]);
    }
    fprintf(out, "\nCommon options:\n");
    for (size_t i = 0; i < n; i++)
        if (opts[i].mask == 0)
            print_option(out, &opts[i]);
    fprintf(out, "\nOptions and operands may come in any order; `--` ends the options.\n");
    fprintf(out, "\nExit codes:\n%s", spec->exit_codes);
}

void df_cli_print_main_help(FILE *out)
{
    fprintf(out, "Usage: dagflow COMMAND [options] [operands]\n\n"
                 "dagflow runs workflows (DAGs of tasks described in JSON) durably: every state\n"
                 "change is recorded in a SQLite history, so runs can be inspected, resumed and\n"
                 "retried.\n\nCommands:\n");
    size_t n_cmds, n;
    const df_cli_command *cmds = df_cli_commands(&n_cmds);
    for (size_t i = 0; i < n_cmds; i++)
        fprintf(out, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(out, "  %-10s %s\n", "help", "show this help, or a command's (dagflow help COMMAND)");
    fprintf(out, "\nCommon options:\n");
    const df_cli_option *opts = df_cli_options(&n);
    for (size_t i = 0; i < n; i++)
        if (opts[i].mask == 0)
            print_option(out, &opts[i]);
    fprintf(out, "  %-28s%s\n", "--version", "print the version and exit");
    fprintf(out, "\nRun `dagflow COMMAND --help` for a command's operands, options and exit "
                 "codes.\n"
                 "Errors go to stderr, one per line, starting with `dagflow: `.\n");
}
