/* cmd_schedule: the `schedule FILE [--from TIME] [--count N] [--json]` command (SPEC §9): the
 * next fire times of a workflow's schedule, one a line as `UTC  LOCAL`, or a JSON array of UTC
 * times. */
#include "cli.h"

#include <time.h>

/* Most fire times one command prints (they are held in memory as JSON before printing). */
#define MAX_COUNT 100000

/* Prints the fire times (an array of {"utc", "local"}). Returns an exit code. */
static int print_times(const df_cli *cli, const json_t *times)
{
    size_t i;
    json_t *t;
    if (cli->json) {
        json_t *utc = json_array();
        json_array_foreach(times, i, t)
        {
            if (!utc || json_array_append(utc, json_object_get(t, "utc")) != 0) {
                json_decref(utc);
                df_cli_error("out of memory");
                return DF_EXIT_INTERNAL;
            }
        }
        int rc = df_cli_print_json(utc);
        json_decref(utc);
        return rc == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    }
    json_array_foreach(times, i, t)
    {
        printf("%s  %s\n", df_cli_json_str(t, "utc", "?"), df_cli_json_str(t, "local", "?"));
    }
    if (fflush(stdout) != 0) {
        df_cli_error("cannot write to stdout");
        return DF_EXIT_INTERNAL;
    }
    return DF_EXIT_OK;
}

/* `dagflow schedule FILE`. Returns 0, 2 for a file that cannot be loaded, has no schedule, or a
 * --from that is not a time with an offset, 3 when out of memory. */
int df_cmd_schedule(const df_cli *cli)
{
    const char *path = cli->operands[0];
    int64_t from;
    if (cli->count > MAX_COUNT) {
        df_cli_error("schedule: --count is at most %d, got %ld", MAX_COUNT, cli->count);
        return DF_EXIT_USAGE;
    }
    if (cli->from) {
        if (df_parse_time(cli->from, &from) != 0) {
            df_cli_error("schedule: --from needs an ISO-8601 time with its offset (such as "
                         "2027-03-28T01:00:00Z or 2027-03-28T03:00:00+02:00), got \"%s\"",
                         cli->from);
            return DF_EXIT_USAGE;
        }
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        from = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    int code = df_cli_check_file(path);
    if (code != 0)
        return code;
    df_errlist errs = {0};
    df_workflow *wf = NULL;
    json_t *times = NULL;
    int rc;
    if (df_workflow_load(path, &wf, &errs) != 0) {
        df_cli_print_errlist(&errs);
        code = DF_EXIT_USAGE;
    } else if ((rc = df_workflow_fire_times(wf, from, cli->count ? (size_t)cli->count : 10, &times,
                                            &errs)) != 0) {
        if (rc == DF_ENOMEM)
            df_cli_error("out of memory");
        else
            df_cli_print_errlist(&errs);
        code = rc == DF_ENOMEM ? DF_EXIT_INTERNAL : DF_EXIT_USAGE;
    } else {
        code = print_times(cli, times);
    }
    json_decref(times);
    df_workflow_free(wf);
    df_errlist_clear(&errs);
    return code;
}
