/* commands: the one command table of `dagflow` — each command's name, handler, help texts
 * (summary, usage, operands, details, exit codes) and the options it accepts besides the common
 * ones. main.c dispatches through it, help.c prints from it, args.c parses by it. */
#include "cli.h"

#include <string.h>

#define EXIT_RUN                                                                                   \
    "  0    the run ended SUCCESS\n"                                                               \
    "  1    the run ended FAILED or CANCELLED\n"                                                   \
    "  2    invalid or unusable input: bad usage, a file that cannot be loaded, an INVALID run,\n" \
    "       or a run this command refuses\n"                                                       \
    "  3    store or internal error\n"                                                             \
    "  130  interrupted (SIGINT/SIGTERM): the run is INTERRUPTED and can be resumed\n"

static const df_cli_command COMMANDS[] = {
    {"run", df_cmd_run, "load, validate, record and run a workflow to the end",
     "run FILE [options]", "  FILE  the workflow file (JSON); - reads it from standard input\n",
     "Loads FILE strictly, checks every task's plugin and params, records the run in the\n"
     "history database and runs it to the end, showing progress on a terminal. A file that\n"
     "cannot be loaded records nothing; a workflow whose params a plugin's validate rejects is\n"
     "recorded as an INVALID run. With --json, prints the run's final status object (as\n"
     "`dagflow status --json`) on stdout.\n",
     EXIT_RUN, DF_OPT_PARAM | DF_OPT_ENGINE, 1, 1},
    {"validate", df_cmd_validate, "check a workflow file without running or recording anything",
     "validate FILE [options]",
     "  FILE  the workflow file (JSON); - reads it from standard input\n",
     "Runs every check of loading (JSON syntax, keys, types, ids, dependencies, cycles, pools,\n"
     "breakers, templates), loads each task's plugin and calls its validate with the run\n"
     "params (the workflow's defaults overlaid with --param). Every error is printed as its own\n"
     "`dagflow: ` line on stderr. Nothing is recorded: the database is not even opened.\n"
     "Prints `FILE: valid (N tasks)`, or with --json {\"valid\": true, \"tasks\": N} or\n"
     "{\"valid\": false, \"errors\": [...]}.\n",
     "  0    the workflow is valid\n"
     "  2    it is not (or bad usage)\n"
     "  3    internal error\n",
     DF_OPT_PARAM, 1, 1},
    {"plan", df_cmd_plan, "show the order a workflow's tasks would run in, without running it",
     "plan FILE [options]", "  FILE  the workflow file (JSON); - reads it from standard input\n",
     "A dry run: loads and checks FILE as `validate` does, then prints its tasks in the order\n"
     "they would become ready if every task succeeded (STEP 1 = ready at the start; within a\n"
     "step, higher priority first, then file order; on_exit handlers last), each with its params\n"
     "resolved as far as they can be before running: run params (--param), env, ${run.workflow},\n"
     "${task.id} and ${task.attempt} (1); ${run.id} and upstream results stay as written. A\n"
     "task's `when` is shown, not evaluated; a branch task is assumed to choose every path. A\n"
     "task that would not run even then (trigger_rule all_failed, one_failed, all_skipped, or\n"
     "downstream of one) comes last with STEP -. Nothing runs and nothing is recorded: the\n"
     "database is not opened. With --json, prints {\"workflow\", \"params\", \"tasks\":\n"
     "[{\"step\", \"id\", \"plugin\", \"depends_on\", \"trigger_rule\", \"params\", and\n"
     "\"when\", \"branch\", \"on_exit\", \"skipped\" where they apply}]}.\n",
     "  0    the plan was printed\n"
     "  2    the file does not load (or a plugin rejects its params), or bad usage\n"
     "  3    internal error\n",
     DF_OPT_PARAM, 1, 1},
    {"resume", df_cmd_resume, "continue an interrupted run", "resume RUN_ID [options]",
     "  RUN_ID  the run to continue (see `dagflow history`)\n",
     "Continues an INTERRUPTED run, or a RUNNING one whose engine is dead, from its stored DAG:\n"
     "attempts lost with the dead engine are queued again. Refuses a run whose engine is alive\n"
     "or that has finished.\n",
     EXIT_RUN, DF_OPT_ENGINE, 1, 1},
    {"retry", df_cmd_retry, "reopen the failed part of a finished run and run it again",
     "retry RUN_ID [options]", "  RUN_ID  the finished run to reopen\n",
     "Puts the run's FAILED and UPSTREAM_FAILED tasks, and the SKIPPED tasks downstream of\n"
     "them, back to PENDING with a fresh retry budget, and runs the run to the end again.\n"
     "With --task ID, that task (whatever its state) and everything downstream of it instead.\n"
     "Refuses a run that is not finished.\n",
     EXIT_RUN, DF_OPT_TASK | DF_OPT_ENGINE, 1, 1},
    {"cancel", df_cmd_cancel, "cancel a run: stop its tasks, run its handlers, end it CANCELLED",
     "cancel RUN_ID [options]", "  RUN_ID  the run to cancel (see `dagflow history`)\n",
     "Stores a cancel request on the run. The engine running it acts on it within 1 s: running\n"
     "tasks are cancelled (shell process groups get SIGTERM, then SIGKILL 2 s later), tasks not\n"
     "finished become CANCELLED, the on_exit handlers run, the run ends CANCELLED and the alert\n"
     "run_cancelled is raised. A run no live engine owns (INTERRUPTED, or its engine dead) is\n"
     "cancelled by this command itself, as `resume` would continue it (it takes resume's\n"
     "options). With --wait, waits until the run has ended. With --json, prints the run's\n"
     "status object (as `dagflow status --json`) at the end.\n",
     "  0    the cancel request is stored (with --wait, or when this command cancelled the run:\n"
     "       the run ended CANCELLED)\n"
     "  1    the run ended in another state before the cancel took effect\n"
     "  2    a finished or unknown run, or bad usage\n"
     "  3    store or internal error\n"
     "  130  interrupted (SIGINT/SIGTERM) while this command was cancelling the run\n",
     DF_OPT_WAIT | DF_OPT_ENGINE, 1, 1},
    {"status", df_cmd_status, "show a run's tasks, states, attempts, durations and errors",
     "status [RUN_ID] [options]", "  RUN_ID  the run to show (default: the latest run)\n",
     "Shows the run (id, workflow, state, start, end, duration) and a table of its tasks\n"
     "(state, attempts, duration, error). A RUNNING run whose engine stopped sending\n"
     "heartbeats more than 30 s ago shows as INTERRUPTED. With --json, prints\n"
     "{\"run_id\", \"workflow\", \"state\", \"started_at\", \"ended_at\", \"tasks\": [{\"id\", "
     "\"state\",\n"
     "\"attempts\", \"started_at\", \"ended_at\", \"duration_ms\", \"error\", \"result\"}]}.\n"
     "With --task TASK, shows that task's attempts instead (number, outcome, start, duration,\n"
     "exit code when the plugin gave one, error); with --json, {\"run_id\", \"task_id\",\n"
     "\"state\", \"attempts\": [{\"attempt\", \"outcome\", \"started_at\", \"ended_at\",\n"
     "\"duration_ms\", \"error\", \"log\", \"stdout\", \"stderr\", \"exit_code\",\n"
     "\"stdout_truncated\", \"stderr_truncated\"}]}. Never creates the database.\n",
     "  0    the run was shown\n"
     "  2    unknown run or task, no runs, or bad usage\n"
     "  3    store error\n",
     DF_OPT_TASK | DF_OPT_EXPAND, 0, 1},
    {"logs", df_cmd_logs, "show an attempt's log lines, stdout and stderr",
     "logs RUN_ID TASK [options]",
     "  RUN_ID  the run (see `dagflow history`)\n"
     "  TASK    the task's id\n",
     "Prints the attempt's header (number, outcome, exit code, start, duration, error), then\n"
     "the lines its plugin logged (at most --max-log-bytes of the run, newest kept), then its\n"
     "stdout and stderr as that attempt's plugin returned them (the shell plugin's, cut at\n"
     "1 MiB each; every attempt keeps its own). Default: the latest attempt. With --json, prints "
     "{\"run_id\", \"task_id\",\n"
     "\"state\", \"attempt\", \"outcome\", \"started_at\", \"ended_at\", \"duration_ms\",\n"
     "\"error\", \"log\", \"stdout\", \"stderr\", \"exit_code\", \"stdout_truncated\",\n"
     "\"stderr_truncated\"} (null where not kept). Never creates the database.\n",
     "  0    the attempt was shown\n"
     "  2    unknown run, task or attempt, or bad usage\n"
     "  3    store error\n",
     DF_OPT_ATTEMPT, 2, 2},
    {"history", df_cmd_history, "list recent runs", "history [options]", NULL,
     "Lists recent runs, newest first: id, workflow, state, start, duration and task counts\n"
     "(succeeded/failed/total). --workflow, --state, --since and --before narrow the list\n"
     "(all of them together); --before RUN_ID with the last id shown gives the next page.\n"
     "With --json, prints an array of run_history rows. A missing database is an empty\n"
     "history (and is not created).\n",
     "  0    the history was shown\n"
     "  2    bad usage (an unknown state, a time that does not parse)\n"
     "  3    store error\n",
     DF_OPT_WORKFLOW | DF_OPT_LIMIT | DF_OPT_STATE | DF_OPT_SINCE | DF_OPT_BEFORE, 0, 0},
    {"report", df_cmd_report, "write a run's page (graph, Gantt chart, logs) as one HTML file",
     "report RUN_ID [-o FILE.html] [options]", "  RUN_ID  the run (see `dagflow history`)\n",
     "Writes one self-contained HTML file (inline CSS and JavaScript; it opens from disk with no\n"
     "network): the run's DAG with each task coloured by its state and named with it, a Gantt\n"
     "chart with one bar per attempt (retries visible), and a table of the tasks; choosing a\n"
     "task shows its attempts, errors, log lines, stdout, stderr and result. To standard output,\n"
     "or to FILE with -o. Never creates the database.\n",
     "  0    the page was written\n"
     "  2    unknown run, or bad usage\n"
     "  3    store error, or FILE cannot be written\n",
     DF_OPT_OUTPUT, 1, 1},
    {"gc", df_cmd_gc, "delete old finished runs and all their rows",
     "gc --older-than DAYS [options]", NULL,
     "Deletes every finished run (SUCCESS, FAILED, INVALID, CANCELLED) that ended more than\n"
     "DAYS days ago, with all its rows (tasks, events, attempts and their logs, alerts), in one\n"
     "transaction, and prints how many runs and bytes that freed. RUNNING and INTERRUPTED runs\n"
     "are never deleted. Bytes: with SQLite, the database pages the deletion freed (the file\n"
     "keeps its size and reuses them; `sqlite3 DB VACUUM` shrinks it); with PostgreSQL, the\n"
     "on-disk size of the deleted rows. With --dry-run, prints the same figures and deletes\n"
     "nothing. With --json, prints {\"runs\", \"rows\", \"bytes\", \"dry_run\", \"cutoff\"}.\n"
     "Never creates the database.\n",
     "  0    done (or nothing to delete)\n"
     "  2    bad usage (--older-than missing or not a number from 0 to 36525)\n"
     "  3    store error\n",
     DF_OPT_OLDER_THAN | DF_OPT_DRY_RUN, 0, 0},
    {"graph", df_cmd_graph, "print a workflow's DAG as Graphviz DOT or Mermaid",
     "graph FILE [options]", "  FILE  the workflow file (JSON); - reads it from standard input\n",
     "Loads FILE (no plugins are loaded) and prints its DAG, edges going from upstream to\n"
     "downstream. DOT node ids are the task ids (quoted), labelled with the task's plugin.\n"
     "Mermaid node ids are the task ids when Mermaid can take them; any other id (a keyword such\n"
     "as `end`, or one with `-`) gets a generated id labelled with the task id: n3[\"a-b\"].\n"
     "With --json, prints {\"workflow\": NAME, \"format\": \"dot\"|\"mermaid\", \"text\": the "
     "same\n"
     "text}.\n",
     "  0    the graph was printed\n"
     "  2    the file cannot be loaded, or bad usage\n",
     DF_OPT_FORMAT, 1, 1},
    {"serve", df_cmd_serve, "serve a folder of workflows: schedules, many runs at once",
     "serve --workflows DIR [options]", "",
     "A long-running engine (SPEC §9). Loads every *.json workflow in DIR, reloads a file within\n"
     "2 s when it changes and forgets it when it is removed; a file that does not load is\n"
     "reported with its errors and the others go on. Fires each workflow's schedule (every fire\n"
     "time decided once, recorded in the schedule_history view with its run, even with several\n"
     "serve processes on one database), catches up fire times missed while no serve ran (per\n"
     "the schedule's catchup), and runs any number of runs at once on one pool, sharing pools,\n"
     "breakers and --concurrency, fairly between runs. At start it resumes the runs a serve\n"
     "that died left RUNNING or INTERRUPTED for these workflows (runs of `dagflow run` are left\n"
     "to their owner). Writes one line on stderr per run start and end and per error.\n"
     "SIGINT or SIGTERM: starts no more runs, interrupts the runs in flight (resumable by the\n"
     "next serve) and exits 0; a second signal leaves at once.\n"
     "The HTTP API (SPEC §9: /api/v1/..., /metrics, /healthz) and the web UI listen on --listen\n"
     "(default 127.0.0.1:8080); the log says the URL (\"HTTP API and web UI on http://...\").\n"
     "With --token-file, /api/ and /metrics need \"Authorization: Bearer TOKEN\"; an address\n"
     "that is not loopback is refused without it.\n",
     "  0    stopped by SIGINT/SIGTERM\n"
     "  2    bad usage, DIR is not a folder, or the HTTP API cannot listen as --listen and\n"
     "       --token-file say (bad address, address in use, no token file for a non-loopback\n"
     "       address, unreadable or empty token file)\n"
     "  3    store or internal error\n",
     DF_OPT_WORKFLOWS | DF_OPT_LISTEN | DF_OPT_ENGINE, 0, 0},
    {"worker", df_cmd_worker, "run tasks for engines started with --executor workers",
     "worker --db URI [options]", "",
     "A worker process (SPEC §11): claims queued attempts of its queues (--queue, default\n"
     "`default`) from the PostgreSQL database --db names, each with a lease (--lease-ms,\n"
     "renewed every third of it), runs them on its own coroutine pool with its own plugins\n"
     "(--plugin-dir) and sends the outcomes back; the engine that owns each run records them.\n"
     "An attempt whose lease is lost (this worker was paused or cut off past its expiry) is\n"
     "cancelled here and its late result refused (a line on stderr says so); the engines\n"
     "queue it again. Writes one line on stderr at start, per refused result or lost lease,\n"
     "and at the end. SIGINT or SIGTERM: claims nothing more, finishes the attempts in flight\n"
     "and exits 0; a second signal leaves at once (their leases expire and they run\n"
     "elsewhere).\n",
     "  0    stopped by SIGINT/SIGTERM\n"
     "  2    bad usage, or --db is not a PostgreSQL URI\n"
     "  3    store or internal error\n",
     DF_OPT_QUEUE | DF_OPT_LEASE_MS | DF_OPT_CONCURRENCY | DF_OPT_WORKERS_MIN | DF_OPT_WORKERS_MAX |
         DF_OPT_STACK_SIZE | DF_OPT_PASS_ENV,
     0, 0},
    {"schedule", df_cmd_schedule, "print the next fire times of a workflow's schedule",
     "schedule FILE [options]", "  FILE  the workflow file (JSON), with a \"schedule\"\n",
     "Loads FILE (no plugins are loaded) and prints the next N fire times of its schedule\n"
     "strictly after --from (default: now), one a line: the UTC time, then the wall-clock time\n"
     "with its offset in the schedule's timezone:\n"
     "  2027-03-28T01:00:00Z  2027-03-28T03:00:00+02:00\n"
     "Cron expressions are read in that zone: a local time skipped by a DST change fires at the\n"
     "first instant after the gap and a repeated one at its first occurrence when the hour\n"
     "field is restricted; with an hour field starting with *, only the instants whose local time\n"
     "matches fire. For interval_ms without start_at, --from is also the anchor. Fewer lines\n"
     "when the schedule ends (end_at). With --json, prints an array of UTC times\n"
     "[\"YYYY-MM-DDTHH:MM:SSZ\", ...].\n",
     "  0    the fire times were printed\n"
     "  2    the file cannot be loaded, has no schedule, or bad usage\n"
     "  3    internal error\n",
     DF_OPT_FROM | DF_OPT_COUNT, 1, 1},
    {"plugins", df_cmd_plugins, "list the plugins found, with version and description",
     "plugins [options]", NULL,
     "Loads every NAME.so along the plugin search path (each --plugin-dir, each folder of\n"
     "$DAGFLOW_PLUGIN_PATH, then the built-in plugin folder; the first of each name wins) and\n"
     "lists name, version, description and path. A file that fails to load is reported as a\n"
     "warning on stderr. With --json, prints an array of\n"
     "{\"name\", \"version\", \"description\", \"path\"}.\n",
     "  0    the plugins were listed (even if some failed to load)\n"
     "  2    bad usage\n"
     "  3    internal error\n",
     0, 0, 0},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

const df_cli_command *df_cli_command_find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

const df_cli_command *df_cli_commands(size_t *n)
{
    *n = N_COMMANDS;
    return COMMANDS;
}
