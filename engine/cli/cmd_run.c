/* cmd_run: the `run`, `resume` and `retry` commands (placeholder until the scheduler lands). */
#include <stdio.h>

int df_cmd_run(int argc, char **argv);
int df_cmd_resume(int argc, char **argv);
int df_cmd_retry(int argc, char **argv);

int df_cmd_run(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "dagflow: %s: not available in this build yet\n", argv[0]);
    return 3;
}

int df_cmd_resume(int argc, char **argv)
{
    return df_cmd_run(argc, argv);
}

int df_cmd_retry(int argc, char **argv)
{
    return df_cmd_run(argc, argv);
}
