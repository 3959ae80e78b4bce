/* cmd_crash_report: `dagflow __crash-report PID RUN_ID ATTEMPT MAP_INDEX TASK_ID`, the reporter a
 * crashing `dagflow` process starts from its fatal-signal handler (crash.c) and waits for: it
 * sends the culprit to the store named by $DAGFLOW_DB (df_crash_report_send: a worker's claim
 * marked crashed, or the crashed engine's open attempt marked charged), so that the engine on
 * any host charges the lost attempt to that task alone (SPEC §12). Internal: not in the command
 * table or --help. It stops itself after DF_CRASH_REPORT_LIMIT_S (SIGALRM's default action), so
 * a store that does not answer delays the crashed process's death by that much at most. Prints
 * one `dagflow: ` line on stderr (the crashed process's) for a worker's marked claim, or why
 * nothing was marked; nothing for an engine's attempt (the engine's own line is the one).
 * Exit 0 when marked, 1 when nothing applied, 2 on bad usage, 3 on a store error. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define DF_CRASH_REPORT_LIMIT_S 10

/* A decimal number operand, or false. */
static bool number(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

int df_cmd_crash_report(int argc, char **argv)
{
    alarm(DF_CRASH_REPORT_LIMIT_S);
    long long pid, run, attempt, map_index;
    const char *db = getenv("DAGFLOW_DB");
    if (argc != 7 || !number(argv[2], &pid) || !number(argv[3], &run) ||
        !number(argv[4], &attempt) || !number(argv[5], &map_index) || attempt <= 0 ||
        attempt > 0xffffffffLL || !db || !*db) {
        df_cli_error("__crash-report: internal command: usage: DAGFLOW_DB=URI dagflow "
                     "__crash-report PID RUN_ID ATTEMPT MAP_INDEX TASK_ID");
        return DF_EXIT_USAGE;
    }
    df_fault_info fi = {.task_id = argv[6],
                        .run_id = run,
                        .attempt = (unsigned)attempt,
                        .map_index = map_index < 0 ? -1 : map_index};
    char err[1024] = "";
    int rc = df_crash_report_send(db, pid, &fi, err, sizeof err);
    if (rc == 1)
        df_cli_error("the crash is recorded in the store: attempt %lld of task \"%s\" (run %lld) "
                     "is charged to it when its engine records it LOST",
                     attempt, fi.task_id, run);
    else if (rc != 2) /* (an engine's: its own line said it all, SPEC keeps it one line) */
        df_cli_error("the crash of task \"%s\" (run %lld, attempt %lld) is not recorded in the "
                     "store, so it is charged to nobody: %s",
                     fi.task_id, run, attempt, err);
    return rc > 0 ? DF_EXIT_OK : rc == DF_ENOTFOUND ? DF_EXIT_FAILED : DF_EXIT_INTERNAL;
}
