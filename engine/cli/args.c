/* args: the command line of one command — the option table (each option's name, value, the
 * commands that accept it and its help line), the one parser (getopt_long: options and operands
 * in any order after COMMAND, `--` ends the options; values checked). The engine
 * configuration the options give is engine_config.c's, the checks of operands operands.c's. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- Options ---------------------------------------------------------------------------- */

/* getopt_long values of the long options (above the char range). */
enum {
    OPT_DB = 256,
    OPT_PLUGIN_DIR,
    OPT_JSON,
    OPT_HELP,
    OPT_PARAM,
    OPT_WORKERS_MIN,
    OPT_WORKERS_MAX,
    OPT_CONCURRENCY,
    OPT_QUEUE_CAPACITY,
    OPT_STACK_SIZE,
    OPT_TASK,
    OPT_WORKFLOW,
    OPT_LIMIT,
    OPT_FORMAT,
    OPT_FROM,
    OPT_COUNT,
    OPT_ALLOW_INSECURE_PLUGINS,
    OPT_PASS_ENV,
    OPT_MAX_PARAMS_BYTES,
    OPT_MAX_RESULT_BYTES,
    OPT_MAX_LOG_BYTES,
    OPT_ATTEMPT,
    OPT_STATE,
    OPT_SINCE,
    OPT_BEFORE,
    OPT_OLDER_THAN,
    OPT_DRY_RUN,
    OPT_WAIT,
    OPT_EXPAND,
    OPT_WORKFLOWS,
    OPT_OUTPUT,
    OPT_MAX_MEMORY,
    OPT_MAX_LOAD,
    OPT_EXECUTOR,
    OPT_QUEUE,
    OPT_LEASE_MS,
    OPT_LISTEN,
    OPT_TOKEN_FILE,
    OPT_RUN_LEASE_MS,
};

#define DF_OPT_COMMON UINT64_C(0) /* mask value meaning "every command" */

static const df_cli_option OPTIONS[] = {
    {"param", "K=V|K:=JSON", OPT_PARAM, DF_OPT_PARAM,
     "run parameter overriding the workflow's \"params\" default (repeatable): K=V gives the "
     "string V, K:=JSON a typed JSON value (K:=3, K:='[1,2]', K:=true)"},
    {"task", "ID", OPT_TASK, DF_OPT_TASK,
     "retry: reopen this task (whatever its state) and everything downstream of it instead; "
     "status: show this task's attempts"},
    {"attempt", "N", OPT_ATTEMPT, DF_OPT_ATTEMPT,
     "show attempt number N (1 is the first; default: the latest)"},
    {"wait", NULL, OPT_WAIT, DF_OPT_WAIT,
     "wait until the run has ended (exit 0 once it is CANCELLED)"},
    {"workflow", "NAME", OPT_WORKFLOW, DF_OPT_WORKFLOW, "only runs of this workflow"},
    {"limit", "N", OPT_LIMIT, DF_OPT_LIMIT, "show at most N runs (default: 20)"},
    {"state", "STATE", OPT_STATE, DF_OPT_STATE,
     "only runs in this state (RUNNING, SUCCESS, FAILED, INVALID, INTERRUPTED, CANCELLED)"},
    {"since", "TIME", OPT_SINCE, DF_OPT_SINCE,
     "only runs started at or after TIME: an ISO-8601 time with its offset "
     "(2026-12-01T08:00:00Z) or a date (2026-12-01, midnight UTC)"},
    {"before", "RUN_ID", OPT_BEFORE, DF_OPT_BEFORE,
     "only runs whose id is below RUN_ID (the next page after a listing that ended at RUN_ID)"},
    {"older-than", "DAYS", OPT_OLDER_THAN, DF_OPT_OLDER_THAN,
     "delete the finished runs that ended more than DAYS days ago (a number >= 0, decimals "
     "allowed: 0.5 is 12 hours; 0 is every finished run)"},
    {"expand", NULL, OPT_EXPAND, DF_OPT_EXPAND,
     "list a mapped task's instances one a line (ID[N]) under it, instead of one line with "
     "counts by state"},
    {"output", "FILE", OPT_OUTPUT, DF_OPT_OUTPUT,
     "write to FILE instead of standard output (-o FILE too)"},
    {"dry-run", NULL, OPT_DRY_RUN, DF_OPT_DRY_RUN,
     "say what would be deleted and freed, and delete nothing"},
    {"workflows", "DIR", OPT_WORKFLOWS, DF_OPT_WORKFLOWS,
     "the folder of workflow files (*.json) to serve (required)"},
    {"executor", "local|workers", OPT_EXECUTOR, DF_OPT_EXECUTOR,
     "where tasks run: local (this process's pool, the default) or workers (`dagflow worker` "
     "processes, through each task's queue; needs a PostgreSQL --db)"},
    {"queue", "NAME", OPT_QUEUE, DF_OPT_QUEUE,
     "claim attempts of this queue (repeatable; default: default)"},
    {"lease-ms", "MS", OPT_LEASE_MS, DF_OPT_LEASE_MS,
     "lease of each claimed attempt, renewed every third of it; an attempt whose lease expires "
     "is LOST and queued again (default: 15000, at least 300)"},
    {"listen", "HOST:PORT|off", OPT_LISTEN, DF_OPT_LISTEN,
     "where the HTTP API and web UI listen (default: 127.0.0.1:8080; [::1]:8080 for IPv6; port 0: "
     "any free port, the log says which; off: no HTTP server); an address that is not loopback "
     "needs --token-file"},
    {"token-file", "FILE", OPT_TOKEN_FILE, DF_OPT_LISTEN,
     "a file holding the bearer token the HTTP API asks for (Authorization: Bearer TOKEN) on "
     "/api/ and /metrics; keep it readable by you alone"},
    {"format", "dot|mermaid", OPT_FORMAT, DF_OPT_FORMAT,
     "output format: Graphviz DOT or Mermaid flowchart (default: dot)"},
    {"from", "TIME", OPT_FROM, DF_OPT_FROM,
     "fire times strictly after TIME, an ISO-8601 time with its offset (2027-03-28T01:00:00Z, "
     "2027-03-28T03:00:00+02:00) (default: now; for interval_ms without start_at, TIME is also "
     "the anchor)"},
    {"count", "N", OPT_COUNT, DF_OPT_COUNT, "print N fire times, at most 100000 (default: 10)"},
    {"workers-min", "N", OPT_WORKERS_MIN, DF_OPT_WORKERS_MIN,
     "OS threads the coroutine pool keeps at least, 1 to 1024 (default: the number of online "
     "CPUs, at least 2, at most --workers-max)"},
    {"workers-max", "N", OPT_WORKERS_MAX, DF_OPT_WORKERS_MAX,
     "OS threads the coroutine pool grows to at most, 1 to 1024, counting workers stuck in a task "
     "that does not yield (default: 2 x the number of online CPUs, at least --workers-min)"},
    {"concurrency", "N", OPT_CONCURRENCY, DF_OPT_CONCURRENCY,
     "task instances in flight at most (default: 256); a workflow's max_active_tasks can only "
     "lower it"},
    {"queue-capacity", "N", OPT_QUEUE_CAPACITY, DF_OPT_QUEUE_CAPACITY,
     "task attempts the pool holds waiting to start at most (default: 65536)"},
    {"stack-size", "BYTES", OPT_STACK_SIZE, DF_OPT_STACK_SIZE,
     "stack size of each task coroutine, 16K to 1G, K, M or G suffix allowed (default: 256K); a "
     "plugin needing big buffers should malloc them"},
    {"pass-env", "NAME|PATTERN", OPT_PASS_ENV, DF_OPT_PASS_ENV,
     "pass this variable of dagflow's environment to tasks and alert commands (repeatable; a "
     "pattern like 'AWS_*' matches several); they get only PATH, HOME, USER, LOGNAME, LANG, LC_*, "
     "TZ, TMPDIR and DAGFLOW_* otherwise, plus the workflow's and task's env"},
    {"max-params-bytes", "BYTES", OPT_MAX_PARAMS_BYTES, DF_OPT_CAPS,
     "largest run params (as JSON) a run accepts, K, M or G suffix allowed (default: 1M)"},
    {"max-result-bytes", "BYTES", OPT_MAX_RESULT_BYTES, DF_OPT_CAPS,
     "largest task result (as JSON); a bigger one fails the attempt permanently (default: 4M)"},
    {"max-log-bytes", "BYTES", OPT_MAX_LOG_BYTES, DF_OPT_CAPS,
     "most of an attempt's log kept, its newest lines (default: 64K)"},
    {"max-memory", "SIZE", OPT_MAX_MEMORY, DF_OPT_ADMISSION,
     "start no new task attempt while dagflow and its task processes use more memory than SIZE "
     "(K, M or G suffix allowed); over 80% of it the pool adds no thread (default: no limit)"},
    {"max-load", "X", OPT_MAX_LOAD, DF_OPT_ADMISSION,
     "start no new task attempt while the 1-minute load average per CPU is over X, a number "
     "above 0 (default: no limit)"},
    {"run-lease-ms", "MS", OPT_RUN_LEASE_MS, DF_OPT_RUN_LEASE,
     "the lease this engine holds on each run it owns, 100 to 3600000 ms (default: 30000), renewed "
     "every third of it; another serve adopts a serve's run whose lease ended"},
    {"db", "PATH", OPT_DB, DF_OPT_COMMON,
     "SQLite history file (default: $DAGFLOW_DB, else ./dagflow.db; created on first use)"},
    {"plugin-dir", "DIR", OPT_PLUGIN_DIR, DF_OPT_COMMON,
     "look for plugins (NAME.so) in DIR first (repeatable; then $DAGFLOW_PLUGIN_PATH, then the "
     "built-in plugin folder)"},
    {"allow-insecure-plugins", NULL, OPT_ALLOW_INSECURE_PLUGINS, DF_OPT_COMMON,
     "load plugin files even when they or a folder above them are writable by group or others, "
     "or owned by a user other than root or you (refused by default)"},
    {"json", NULL, OPT_JSON, DF_OPT_COMMON, "machine-readable output (JSON) on stdout"},
    {"help", NULL, OPT_HELP, DF_OPT_COMMON, "show this help and exit"},
};
#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

const df_cli_option *df_cli_options(size_t *n)
{
    *n = N_OPTIONS;
    return OPTIONS;
}

bool df_cli_option_accepted(const df_cli_command *cmd, const df_cli_option *o)
{
    return o->mask == DF_OPT_COMMON || (cmd->options & o->mask) != 0;
}

/* ---- Parsing ------------------------------------------------------------------------------ */

static const df_cli_option *opt_by_val(int val)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (OPTIONS[i].val == val)
            return &OPTIONS[i];
    return NULL;
}

/* A positive integer in [1, INT_MAX]; prints a usage error naming the option otherwise. */
static int parse_count(const char *cmd, const char *opt, const char *text, long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = isdigit((unsigned char)text[0]) ? strtoll(text, &end, 10) : -1;
    if (v < 1 || errno || *end != '\0' || v > INT_MAX) {
        df_cli_error("%s: --%s needs a positive integer, got \"%s\"", cmd, opt, text);
        return -1;
    }
    *out = (long)v;
    return 0;
}

/* Most worker threads --workers-min/--workers-max take: far past any use (each worker is an OS
 * thread with its own event loop and file descriptors) and small enough that every size derived
 * from it stays sane. */
#define DF_CLI_MAX_WORKERS 1024

/* A worker count in [1, DF_CLI_MAX_WORKERS]. */
static int parse_workers(const char *cmd, const char *opt, const char *text, long *out)
{
    if (parse_count(cmd, opt, text, out) != 0)
        return -1;
    if (*out > DF_CLI_MAX_WORKERS) {
        df_cli_error("%s: --%s is at most %d worker threads, got %s", cmd, opt, DF_CLI_MAX_WORKERS,
                     text);
        return -1;
    }
    return 0;
}

/* Coroutine stack sizes --stack-size takes: from the pool's smallest usable stack to 1 GiB. */
#define DF_CLI_MIN_STACK (16ull * 1024)
#define DF_CLI_MAX_STACK (1024ull * 1024 * 1024)

/* A byte count with an optional K, M or G suffix (x1024, x1024^2, x1024^3), at least 1 and at
 * most 1 T, for the size caps (--max-params-bytes, ...). */
static int parse_cap(const char *cmd, const char *opt, const char *text, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 10) : 0;
    unsigned long long mul = 1;
    const char *units = "kKmMgG";
    const char *u = end && *end ? strchr(units, *end) : NULL;
    if (u) {
        mul = 1ull << (10 * (1 + (u - units) / 2));
        end++;
    }
    if (v == 0 || errno || *end != '\0' || v > (1ull << 40) / mul) {
        df_cli_error(
            "%s: --%s needs a number of bytes from 1 to 1T (K, M or G suffix allowed), got "
            "\"%s\"",
            cmd, opt, text);
        return -1;
    }
    *out = (size_t)(v * mul);
    return 0;
}

/* A byte count with an optional K, M or G suffix (x1024, x1024^2, x1024^3), between
 * DF_CLI_MIN_STACK and DF_CLI_MAX_STACK. */
static int parse_bytes(const char *cmd, const char *text, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 10) : 0;
    unsigned long long mul = 1;
    if (end && (*end == 'k' || *end == 'K')) {
        mul = 1024;
        end++;
    } else if (end && (*end == 'm' || *end == 'M')) {
        mul = 1024 * 1024;
        end++;
    } else if (end && (*end == 'g' || *end == 'G')) {
        mul = 1024 * 1024 * 1024;
        end++;
    }
    if (v == 0 || errno || *end != '\0') {
        df_cli_error("%s: --stack-size needs a number of bytes (K, M or G suffix allowed), got "
                     "\"%s\"",
                     cmd, text);
        return -1;
    }
    if (v > DF_CLI_MAX_STACK / mul || v * mul < DF_CLI_MIN_STACK) {
        df_cli_error("%s: --stack-size must be between 16K and 1G, got \"%s\"", cmd, text);
        return -1;
    }
    *out = (size_t)(v * mul);
    return 0;
}

/* --param K=V or K:=JSON into cli->params. Returns 0, or an exit code. */
static int parse_param(df_cli *cli, const char *text)
{
    const char *eq = strchr(text, '=');
    bool typed = eq && eq > text && eq[-1] == ':';
    size_t klen = eq ? (size_t)(eq - text) - (typed ? 1 : 0) : 0;
    if (!eq || klen == 0) {
        df_cli_error("%s: --param needs K=V or K:=JSON, got \"%s\"", cli->command, text);
        return DF_EXIT_USAGE;
    }
    char *key = strndup(text, klen);
    if (!key) {
        df_cli_error("out of memory");
        return DF_EXIT_INTERNAL;
    }
    json_t *value;
    if (typed) {
        json_error_t jerr;
        value = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
        if (!value) {
            df_cli_error("%s: --param %s: invalid JSON for param \"%s\" (column %d): %s",
                         cli->command, text, key, jerr.column, jerr.text);
            free(key);
            return DF_EXIT_USAGE;
        }
    } else {
        value = json_string(eq + 1);
        if (!value) {
            df_cli_error("%s: --param %s: the value is not valid UTF-8", cli->command, text);
            free(key);
            return DF_EXIT_USAGE;
        }
    }
    int rc = json_object_set_new(cli->params, key, value);
    free(key);
    if (rc != 0) {
        df_cli_error("%s: --param %s: the name is not valid UTF-8", cli->command, text);
        return DF_EXIT_USAGE;
    }
    return 0;
}

/* --older-than DAYS: a finite number >= 0 (decimals allowed), at most 100 years. Returns 0, or
 * -1 after printing why. */
static int parse_days(const char *cmd, const char *arg, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(arg, &end);
    if (!*arg || errno || *end || !(d >= 0 && d <= 36525)) {
        df_cli_error("%s: --older-than needs a number of days from 0 to 36525 (100 years; such "
                     "as 30 or 0.5), got "
                     "\"%s\"",
                     cmd, arg);
        return -1;
    }
    *out = d;
    return 0;
}

static int add_operand(df_cli *cli, char *arg)
{
    char **o = realloc(cli->operands, (cli->n_operands + 1) * sizeof *o);
    if (!o) {
        df_cli_error("out of memory");
        return DF_EXIT_INTERNAL;
    }
    cli->operands = o;
    cli->operands[cli->n_operands++] = arg;
    return 0;
}

/* apply_*: the options of one kind; NOT_MINE for an option of another kind. */
#define NOT_MINE (-1)

/* Flags: no value. Returns 0 or NOT_MINE. */
static int apply_flag(df_cli *cli, int val)
{
    switch (val) {
    case OPT_JSON:
        cli->json = true;
        return 0;
    case OPT_WAIT:
        cli->wait = true;
        return 0;
    case OPT_ALLOW_INSECURE_PLUGINS:
        cli->allow_insecure_plugins = true;
        return 0;
    case OPT_HELP:
        cli->help = true;
        return 0;
    case OPT_DRY_RUN:
        cli->dry_run = true;
        return 0;
    case OPT_EXPAND:
        cli->expand = true;
        return 0;
    }
    return NOT_MINE;
}

/* Numbers, sizes, loads and run ids. Returns 0, DF_EXIT_USAGE (printed), or NOT_MINE. */
static int apply_number(df_cli *cli, int val, char *arg)
{
    const char *cmd = cli->command;
    switch (val) {
    case OPT_MAX_PARAMS_BYTES:
        return parse_cap(cmd, "max-params-bytes", arg, &cli->max_params_bytes) ? DF_EXIT_USAGE : 0;
    case OPT_MAX_RESULT_BYTES:
        return parse_cap(cmd, "max-result-bytes", arg, &cli->max_result_bytes) ? DF_EXIT_USAGE : 0;
    case OPT_MAX_LOG_BYTES:
        return parse_cap(cmd, "max-log-bytes", arg, &cli->max_log_bytes) ? DF_EXIT_USAGE : 0;
    case OPT_MAX_MEMORY:
        return parse_cap(cmd, "max-memory", arg, &cli->max_memory) ? DF_EXIT_USAGE : 0;
    case OPT_MAX_LOAD: {
        char *end = NULL;
        errno = 0;
        double v = strtod(arg, &end);
        if (!*arg || errno || *end != '\0' || !(v > 0) || v > 1e6) {
            df_cli_error("%s: --max-load needs a load average per CPU above 0 (like 1.5), got "
                         "\"%s\"",
                         cmd, arg);
            return DF_EXIT_USAGE;
        }
        cli->max_load = v;
        return 0;
    }
    case OPT_WORKERS_MIN:
        return parse_workers(cmd, "workers-min", arg, &cli->workers_min) ? DF_EXIT_USAGE : 0;
    case OPT_WORKERS_MAX:
        return parse_workers(cmd, "workers-max", arg, &cli->workers_max) ? DF_EXIT_USAGE : 0;
    case OPT_RUN_LEASE_MS:
        if (parse_count(cmd, "run-lease-ms", arg, &cli->run_lease_ms) != 0)
            return DF_EXIT_USAGE;
        if (cli->run_lease_ms < 100 || cli->run_lease_ms > 3600000) {
            df_cli_error("%s: --run-lease-ms is 100 to 3600000 ms, got %s", cmd, arg);
            return DF_EXIT_USAGE;
        }
        return 0;
    case OPT_CONCURRENCY:
        return parse_count(cmd, "concurrency", arg, &cli->concurrency) ? DF_EXIT_USAGE : 0;
    case OPT_QUEUE_CAPACITY:
        return parse_count(cmd, "queue-capacity", arg, &cli->queue_capacity) ? DF_EXIT_USAGE : 0;
    case OPT_LIMIT:
        return parse_count(cmd, "limit", arg, &cli->limit) ? DF_EXIT_USAGE : 0;
    case OPT_COUNT:
        return parse_count(cmd, "count", arg, &cli->count) ? DF_EXIT_USAGE : 0;
    case OPT_ATTEMPT:
        return parse_count(cmd, "attempt", arg, &cli->attempt) ? DF_EXIT_USAGE : 0;
    case OPT_LEASE_MS:
        if (parse_count(cmd, "lease-ms", arg, &cli->lease_ms))
            return DF_EXIT_USAGE;
        if (cli->lease_ms < 300) {
            df_cli_error("%s: --lease-ms must be at least 300, got %s", cmd, arg);
            return DF_EXIT_USAGE;
        }
        return 0;
    case OPT_BEFORE:
        if (df_cli_parse_run_id(arg, &cli->before) != 0) {
            df_cli_error("%s: --before needs a run id (a positive integer), got \"%s\"", cmd, arg);
            return DF_EXIT_USAGE;
        }
        return 0;
    case OPT_OLDER_THAN:
        return parse_days(cmd, arg, &cli->older_than) ? DF_EXIT_USAGE : 0;
    case OPT_STACK_SIZE:
        return parse_bytes(cmd, arg, &cli->stack_size) ? DF_EXIT_USAGE : 0;
    }
    return NOT_MINE;
}

/* Options that add to a list (repeatable). Returns 0, an exit code (printed), or NOT_MINE. */
static int apply_list(df_cli *cli, int val, char *arg)
{
    const char *cmd = cli->command;
    switch (val) {
    case OPT_PLUGIN_DIR: {
        const char **d =
            realloc(cli->plugin_dirs, (cli->n_plugin_dirs + 1) * sizeof *cli->plugin_dirs);
        if (!d) {
            df_cli_error("out of memory");
            return DF_EXIT_INTERNAL;
        }
        cli->plugin_dirs = d;
        cli->plugin_dirs[cli->n_plugin_dirs++] = arg;
        return 0;
    }
    case OPT_PASS_ENV: {
        if (!*arg || strchr(arg, '=')) {
            df_cli_error("%s: --pass-env needs a variable name or pattern, got \"%s\"", cmd, arg);
            return DF_EXIT_USAGE;
        }
        const char **l = realloc(cli->pass_env, (cli->n_pass_env + 1) * sizeof *l);
        if (!l) {
            df_cli_error("out of memory");
            return DF_EXIT_INTERNAL;
        }
        cli->pass_env = l;
        cli->pass_env[cli->n_pass_env++] = arg;
        return 0;
    }
    case OPT_PARAM:
        return parse_param(cli, arg);
    }
    return NOT_MINE;
}

/* Values from a fixed set (--executor, --format) and queue names (--queue, repeatable). Returns
 * 0, DF_EXIT_USAGE or DF_EXIT_INTERNAL (printed), or NOT_MINE. */
static int apply_choice(df_cli *cli, int val, char *arg)
{
    const char *cmd = cli->command;
    switch (val) {
    case OPT_EXECUTOR:
        if (strcmp(arg, "local") != 0 && strcmp(arg, "workers") != 0) {
            df_cli_error("%s: --executor must be local or workers, got \"%s\"", cmd, arg);
            return DF_EXIT_USAGE;
        }
        cli->executor_workers = strcmp(arg, "workers") == 0;
        return 0;
    case OPT_QUEUE: {
        if (!*arg || strlen(arg) > 63) {
            df_cli_error("%s: --queue needs a name of 1 to 63 bytes, got \"%s\"", cmd, arg);
            return DF_EXIT_USAGE;
        }
        const char **l = realloc(cli->queues, (cli->n_queues + 1) * sizeof *l);
        if (!l) {
            df_cli_error("out of memory");
            return DF_EXIT_INTERNAL;
        }
        cli->queues = l;
        cli->queues[cli->n_queues++] = arg;
        return 0;
    }
    case OPT_FORMAT:
        if (strcmp(arg, "dot") != 0 && strcmp(arg, "mermaid") != 0) {
            df_cli_error("%s: --format must be dot or mermaid, got \"%s\"", cmd, arg);
            return DF_EXIT_USAGE;
        }
        cli->format = arg;
        return 0;
    }
    return NOT_MINE;
}

/* Text values (paths, names, times), checked here when a bad one is plain. Returns 0,
 * DF_EXIT_USAGE (printed), or NOT_MINE. */
static int apply_text(df_cli *cli, int val, char *arg)
{
    const char *cmd = cli->command;
    switch (val) {
    case OPT_DB:
        if (!*arg) {
            df_cli_error("%s: --db needs a non-empty path", cmd);
            return DF_EXIT_USAGE;
        }
        cli->db_path = arg;
        return 0;
    case OPT_FROM:
        cli->from = arg; /* checked by the command (df_parse_time) */
        return 0;
    case OPT_WORKFLOWS:
        cli->workflows_dir = arg; /* checked by the service */
        return 0;
    case OPT_LISTEN:
        cli->listen = arg; /* checked by the HTTP server */
        return 0;
    case OPT_TOKEN_FILE:
        cli->token_file = arg; /* read by the HTTP server */
        return 0;
    case OPT_STATE:
        cli->state = arg; /* checked by the engine */
        return 0;
    case OPT_SINCE:
        cli->since = arg; /* checked by the command */
        return 0;
    case OPT_OUTPUT:
        if (!*arg) {
            df_cli_error("%s: --output needs a file name", cmd);
            return DF_EXIT_USAGE;
        }
        cli->output = arg;
        return 0;
    case OPT_TASK:
        if (!*arg) {
            df_cli_error("%s: --task needs a task id", cmd);
            return DF_EXIT_USAGE;
        }
        cli->task = arg;
        return 0;
    case OPT_WORKFLOW:
        if (!*arg) {
            df_cli_error("%s: --workflow needs a workflow name", cmd);
            return DF_EXIT_USAGE;
        }
        cli->workflow = arg;
        return 0;
    }
    return NOT_MINE;
}

/* Handles one recognised option. Returns 0, or an exit code. */
static int apply_option(df_cli *cli, int val, char *arg)
{
    int rc = apply_flag(cli, val);
    if (rc == NOT_MINE)
        rc = apply_number(cli, val, arg);
    if (rc == NOT_MINE)
        rc = apply_list(cli, val, arg);
    if (rc == NOT_MINE)
        rc = apply_choice(cli, val, arg);
    if (rc == NOT_MINE)
        rc = apply_text(cli, val, arg);
    if (rc != NOT_MINE)
        return rc;
    df_cli_error("%s: internal error: unhandled option %d", cli->command, val);
    return DF_EXIT_INTERNAL;
}

/* The option as the user wrote it, without any "=value" (for messages). */
static void option_text(const char *arg, char *buf, size_t len)
{
    size_t n = strcspn(arg, "=");
    if (n >= len)
        n = len - 1;
    memcpy(buf, arg, n);
    buf[n] = '\0';
}

/* Reports an option getopt_long did not take: '?' (unknown, or a value given to a flag) or ':'
 * (a value missing). Returns DF_EXIT_USAGE. */
static int bad_option(const df_cli_command *spec, int c, const char *bad)
{
    char text[128];
    option_text(bad, text, sizeof text);
    if (c == ':')
        df_cli_error("%s: option %s needs a value (see 'dagflow %s --help')", spec->name, text,
                     spec->name);
    else if (optopt != 0 && opt_by_val(optopt) && strchr(bad, '='))
        df_cli_error("%s: option --%s takes no value (see 'dagflow %s --help')", spec->name,
                     opt_by_val(optopt)->name, spec->name);
    else if (optopt != 0 && optopt < 256)
        df_cli_error("%s: unknown option -%c (see 'dagflow %s --help')", spec->name, optopt,
                     spec->name);
    else
        df_cli_error("%s: unknown option %s (see 'dagflow %s --help')", spec->name, text,
                     spec->name);
    return DF_EXIT_USAGE;
}

/* Runs getopt_long over argv with the options spec accepts (so any other is unknown), filling
 * cli. Returns 0, or an exit code after printing why. */
static int read_options(const df_cli_command *spec, int argc, char **argv, df_cli *cli)
{
    struct option longopts[N_OPTIONS + 1];
    size_t n = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (!df_cli_option_accepted(spec, &OPTIONS[i]))
            continue;
        longopts[n++] =
            (struct option){OPTIONS[i].name, OPTIONS[i].arg ? required_argument : no_argument, NULL,
                            OPTIONS[i].val};
    }
    longopts[n] = (struct option){NULL, 0, NULL, 0};

    /* "-": operands come back in order as value 1 (so any order works even under
     * POSIXLY_CORRECT); ":": no messages from getopt, a missing value returns ':'. */
    opterr = 0;
    optind = 0; /* glibc: full re-initialisation */
    int rc = 0;
    for (;;) {
        int longindex = -1;
        int c = getopt_long(argc, argv, (spec->options & DF_OPT_OUTPUT) ? "-:ho:" : "-:h", longopts,
                            &longindex);
        if (c == -1)
            break;
        if (c == 1)
            rc = add_operand(cli, optarg);
        else if (c == 'h')
            cli->help = true;
        else if (c == 'o')
            rc = apply_option(cli, OPT_OUTPUT, optarg);
        else if (c == ':' || c == '?')
            rc = bad_option(spec, c, argv[optind - 1]);
        else
            rc = apply_option(cli, c, optarg);
        if (rc)
            return rc;
    }
    /* Whatever follows `--` is operands. */
    for (int i = optind; i < argc; i++)
        if ((rc = add_operand(cli, argv[i])) != 0)
            return rc;
    return 0;
}

/* df_cli_parse without the release of *cli on an early exit. */
static int parse_args(const df_cli_command *spec, int argc, char **argv, df_cli *cli)
{
    memset(cli, 0, sizeof *cli);
    cli->spec = spec;
    cli->command = spec->name;
    const char *env_db = getenv("DAGFLOW_DB");
    cli->db_path = env_db && *env_db ? env_db : "./dagflow.db";
    cli->concurrency = DF_CLI_DEFAULT_CONCURRENCY;
    cli->format = "dot";
    cli->older_than = -1;
    cli->params = json_object();
    if (!cli->params) {
        df_cli_error("out of memory");
        return DF_EXIT_INTERNAL;
    }
    int rc = read_options(spec, argc, argv, cli);
    if (rc)
        return rc;
    if (cli->help) {
        df_cli_print_help(spec, stdout);
        return DF_EXIT_OK;
    }
    if (cli->n_operands < spec->min_operands) {
        df_cli_error("%s: missing operand: usage: dagflow %s (see 'dagflow %s --help')", spec->name,
                     spec->usage, spec->name);
        return DF_EXIT_USAGE;
    }
    if (cli->n_operands > spec->max_operands) {
        df_cli_error("%s: unexpected operand \"%s\": usage: dagflow %s (see 'dagflow %s --help')",
                     spec->name, cli->operands[spec->max_operands], spec->usage, spec->name);
        return DF_EXIT_USAGE;
    }
    if (cli->workers_min && cli->workers_max && cli->workers_min > cli->workers_max) {
        df_cli_error("%s: --workers-min (%ld) is greater than --workers-max (%ld)", spec->name,
                     cli->workers_min, cli->workers_max);
        return DF_EXIT_USAGE;
    }
    return DF_CLI_PROCEED;
}

int df_cli_parse(const df_cli_command *spec, int argc, char **argv, df_cli *cli)
{
    int rc = parse_args(spec, argc, argv, cli);
    if (rc != DF_CLI_PROCEED)
        df_cli_free(cli);
    return rc;
}

void df_cli_free(df_cli *cli)
{
    json_decref(cli->params);
    free(cli->plugin_dirs);
    free(cli->pass_env);
    free(cli->queues);
    free(cli->operands);
    memset(cli, 0, sizeof *cli);
}
