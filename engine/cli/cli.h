/* cli: the `dagflow` command line (SPEC §6), a program built on the embedding API alone
 * (include/dagflow/dagflow.h). This header is shared by its files:
 *   commands.c  the one command table: each command's handler, help texts and options
 *   args.c      the option table and the one option parser (getopt_long), operand checks
 *   help.c      `dagflow --help` and each command's --help
 *   output.c    `dagflow: ` errors, JSON, durations and times, text tables
 *   process.c   what the CLI sets process-wide for a run (limits, environment, signals)
 *   crash.c     the last words on a fatal signal in a task's code
 *   main.c      dispatch; cmd_*.c one command each (run, resume and retry in cmd_run.c)
 * Nothing here is thread-safe unless it says so: the CLI is single-threaded until a command
 * starts the engine. */
#ifndef DF_CLI_H
#define DF_CLI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <dagflow/dagflow.h>

/* Exit codes (SPEC §6). */
#define DF_EXIT_OK 0            /* success (run: the run ended SUCCESS) */
#define DF_EXIT_FAILED 1        /* the run ended FAILED */
#define DF_EXIT_USAGE 2         /* invalid or unusable input: bad usage, bad file, INVALID run */
#define DF_EXIT_INTERNAL 3      /* store or internal error */
#define DF_EXIT_INTERRUPTED 130 /* interrupted by a signal (128 + SIGINT) */

/* Returned by df_cli_parse when the command should go on (every other value is an exit code). */
#define DF_CLI_PROCEED (-1)

/* per-command options, as a 64-bit mask in df_cli_command.options. The common options (--db,
 * --plugin-dir, --json, --help) are accepted by every command. */
#define DF_OPT_PARAM (UINT64_C(1) << 0)          /* --param K=V | K:=JSON (repeatable) */
#define DF_OPT_WORKERS_MIN (UINT64_C(1) << 1)    /* --workers-min N */
#define DF_OPT_WORKERS_MAX (UINT64_C(1) << 2)    /* --workers-max N */
#define DF_OPT_CONCURRENCY (UINT64_C(1) << 3)    /* --concurrency N (default 256) */
#define DF_OPT_QUEUE_CAPACITY (UINT64_C(1) << 4) /* --queue-capacity N */
#define DF_OPT_STACK_SIZE (UINT64_C(1) << 5)     /* --stack-size BYTES (K/M suffix allowed) */
#define DF_OPT_TASK (UINT64_C(1) << 6)           /* --task ID */
#define DF_OPT_WORKFLOW (UINT64_C(1) << 7)       /* --workflow NAME */
#define DF_OPT_LIMIT (UINT64_C(1) << 8)          /* --limit N */
#define DF_OPT_FORMAT (UINT64_C(1) << 9)         /* --format dot|mermaid */
#define DF_OPT_FROM (UINT64_C(1) << 10)          /* --from TIME (ISO-8601 with an offset) */
#define DF_OPT_COUNT (UINT64_C(1) << 11)         /* --count N */
#define DF_OPT_PASS_ENV (UINT64_C(1) << 12)      /* --pass-env NAME|PATTERN (repeatable) */
#define DF_OPT_ATTEMPT (UINT64_C(1) << 14)       /* --attempt N */
#define DF_OPT_CAPS                                                                                \
    (UINT64_C(1) << 13) /* --max-params-bytes, --max-result-bytes, --max-log-bytes */
#define DF_OPT_STATE (UINT64_C(1) << 20)      /* --state S (history) */
#define DF_OPT_SINCE (UINT64_C(1) << 21)      /* --since TIME (history) */
#define DF_OPT_BEFORE (UINT64_C(1) << 22)     /* --before RUN_ID (history) */
#define DF_OPT_OLDER_THAN (UINT64_C(1) << 23) /* --older-than DAYS (gc) */
#define DF_OPT_DRY_RUN (UINT64_C(1) << 24)    /* --dry-run (gc) */
#define DF_OPT_WAIT (UINT64_C(1) << 27)       /* --wait (cancel) */
#define DF_OPT_EXPAND (UINT64_C(1) << 28)     /* --expand (status: mapped instances, SPEC §10) */
#define DF_OPT_WORKFLOWS (UINT64_C(1) << 30)  /* --workflows DIR (serve) */
#define DF_OPT_OUTPUT (UINT64_C(1) << 29)     /* -o, --output FILE (report) */
#define DF_OPT_EXECUTOR (UINT64_C(1) << 40)   /* --executor local|workers (SPEC §11) */
#define DF_OPT_QUEUE (UINT64_C(1) << 41)      /* --queue NAME (worker, repeatable) */
#define DF_OPT_LEASE_MS (UINT64_C(1) << 42)   /* --lease-ms MS (worker) */
#define DF_OPT_LISTEN (UINT64_C(1) << 50)     /* --listen HOST:PORT|off, --token-file F (serve) */
#define DF_OPT_RUN_LEASE (UINT64_C(1) << 45)  /* --run-lease-ms MS (SPEC §11) */
/* The engine options of run, resume and retry. */
#define DF_OPT_ADMISSION (UINT64_C(1) << 48) /* --max-memory SIZE, --max-load X (issue 10) */

#define DF_OPT_ENGINE                                                                              \
    (DF_OPT_WORKERS_MIN | DF_OPT_WORKERS_MAX | DF_OPT_CONCURRENCY | DF_OPT_QUEUE_CAPACITY |        \
     DF_OPT_STACK_SIZE | DF_OPT_PASS_ENV | DF_OPT_CAPS | DF_OPT_ADMISSION | DF_OPT_EXECUTOR |      \
     DF_OPT_RUN_LEASE)

/* The default of --concurrency (SPEC §6). */
#define DF_CLI_DEFAULT_CONCURRENCY 256

typedef struct df_cli df_cli;

/* ---- commands.c: the command table ---------------------------------------------------------- */

/* One command: its handler, what it accepts and its help text. Static data. */
typedef struct df_cli_command {
    const char *name; /* "run" */
    /* Runs the command on its parsed command line; returns the exit code. */
    int (*run)(const df_cli *cli);
    const char *summary;    /* one line for `dagflow --help` */
    const char *usage;      /* after "dagflow ": "run FILE [options]" */
    const char *operands;   /* help text describing the operands (may be NULL) */
    const char *details;    /* help text: what the command does (may be NULL) */
    const char *exit_codes; /* help text: the command's exit codes */
    uint64_t options;       /* DF_OPT_* accepted besides the common ones */
    size_t min_operands;
    size_t max_operands;
} df_cli_command;

/* The command by name ("run", "resume", "retry", "validate", "status", "history", "graph",
 * "plugins"), or NULL. Returns static data. */
const df_cli_command *df_cli_command_find(const char *name);

/* All commands, in the order `dagflow --help` lists them; *n receives the count. Static data. */
const df_cli_command *df_cli_commands(size_t *n);

/* The handlers (one file each; run/resume/retry in cmd_run.c). Each returns its exit code. */
int df_cmd_run(const df_cli *cli);
int df_cmd_resume(const df_cli *cli);
int df_cmd_retry(const df_cli *cli);
int df_cmd_validate(const df_cli *cli);
int df_cmd_status(const df_cli *cli);
int df_cmd_history(const df_cli *cli);
int df_cmd_graph(const df_cli *cli);
int df_cmd_plugins(const df_cli *cli);
int df_cmd_schedule(const df_cli *cli);
int df_cmd_serve(const df_cli *cli);
int df_cmd_logs(const df_cli *cli);
int df_cmd_gc(const df_cli *cli);
int df_cmd_plan(const df_cli *cli);
int df_cmd_cancel(const df_cli *cli);
int df_cmd_worker(const df_cli *cli);

/* cmd_run.c: `cancel` of a run no live engine owns (its cancel request stored): takes it over
 * as `resume` does (cli's engine options, progress, signals, summary), which cancels it and runs
 * its handlers. Returns the exit code: 0 when the run ended CANCELLED, otherwise as `resume`. */
int df_cli_cancel_by_resume(const df_cli *cli, long long run_id);
int df_cmd_report(const df_cli *cli);

/* cmd_logs.c: one task's attempts (df_engine_task_attempts) for `logs` and `status --task`,
 * printing why not: an unknown run or task (with "did you mean") is DF_EXIT_USAGE, a store error
 * DF_EXIT_INTERNAL. Returns DF_EXIT_OK and sets *out (json_decref it). */
int df_cli_read_attempts(df_engine *e, long long run_id, const char *task, json_t **out);

/* ---- serve_http.c: serve's HTTP API ---------------------------------------------------------- */

/* The address serve listens on without --listen (SPEC §9). */
#define DF_CLI_DEFAULT_LISTEN "127.0.0.1:8080"

/* The HTTP server of one serve and what its hooks need. */
typedef struct df_cli_http {
    df_service *service;     /* borrowed */
    _Atomic(df_http *) http; /* NULL until started, and with --listen off */
} df_cli_http;

/* Whether --listen is `off` (serve without the HTTP API). */
bool df_cli_http_off(const df_cli *cli);

/* Starts serve's HTTP API on cli's --listen and --token-file with every hook wired to s (ctx must
 * outlive the server; the service must run, or soon run, df_service_run). url (len bytes) gets
 * "http://HOST:PORT/" with the port bound, or "" with --listen off. Prints why it failed as
 * `dagflow: serve: ...` lines. Returns DF_EXIT_OK, DF_EXIT_USAGE (bad address, a non-loopback
 * address without --token-file, a bad token file, the address cannot be bound: all of them fixed
 * by changing the options) or DF_EXIT_INTERNAL (out of memory). Call after df_cli_signals_block
 * (the server's threads inherit the mask). */
int df_cli_http_start(const df_cli *cli, df_service *s, df_cli_http *ctx, char *url, size_t len);

/* The service engine's on_event (ud = the df_cli_http): wakes the long polls. Thread-safe. */
void df_cli_http_on_event(void *ud, const df_engine_event *ev);

/* Stops the server (requests in flight answer first). Before df_service_close. */
void df_cli_http_stop(df_cli_http *ctx);

/* ---- args.c: parsing ------------------------------------------------------------------------ */

/* The parsed command line of one command. Strings are borrowed from argv or the environment
 * (they live as long as the process) unless marked owned. */
struct df_cli {
    const df_cli_command *spec; /* the command (borrowed, static) */
    const char *command;        /* spec->name */
    const char *db_path; /* --db, else $DAGFLOW_DB when set and non-empty, else "./dagflow.db" */
    const char *
        *plugin_dirs; /* owned array (strings borrowed): the --plugin-dir values, in order */
    size_t n_plugin_dirs;
    bool json;        /* --json */
    bool help;        /* --help (df_cli_parse has printed the help and returned 0) */
    json_t *params;   /* owned reference, never NULL after a successful parse: the --param values,
                         an object {K: "V" | JSON value}; a key given twice keeps the last value */
    long workers_min; /* --workers-min, 0 when not given */
    long workers_max; /* --workers-max, 0 when not given */
    long concurrency; /* --concurrency, DF_CLI_DEFAULT_CONCURRENCY when not given */
    long queue_capacity;       /* --queue-capacity, 0 when not given */
    size_t stack_size;         /* --stack-size in bytes, 0 when not given */
    const char *task;          /* --task, or NULL */
    const char *workflow;      /* --workflow, or NULL */
    long limit;                /* --limit, 0 when not given */
    const char *format;        /* --format: "dot" (default) or "mermaid" */
    const char *from;          /* --from TIME as given, or NULL */
    const char *workflows_dir; /* serve's --workflows DIR, or NULL */
    const char *listen;        /* serve's --listen HOST:PORT or "off", or NULL (the default) */
    const char *token_file;    /* serve's --token-file F, or NULL */
    long count;                /* --count, 0 when not given */
    long attempt;              /* --attempt, 0 when not given (the latest) */
    const char *state;         /* --state, or NULL (checked by the engine) */
    const char *since;         /* --since TIME as given, or NULL (checked by the command) */
    long long before;          /* --before RUN_ID, 0 when not given */
    double older_than;         /* --older-than DAYS (>= 0), -1 when not given */
    bool dry_run;              /* --dry-run */
    bool wait;                 /* --wait */
    bool expand;               /* --expand */
    const char *output;        /* -o / --output FILE, or NULL */
    char **operands;           /* owned array (strings borrowed from argv), in the order given */
    size_t n_operands;
    bool allow_insecure_plugins; /* --allow-insecure-plugins */
    const char **pass_env; /* owned array (strings borrowed): the --pass-env values, in order */
    size_t n_pass_env;
    size_t max_params_bytes; /* --max-params-bytes, 0 when not given */
    size_t max_result_bytes; /* --max-result-bytes, 0 when not given */
    size_t max_log_bytes;    /* --max-log-bytes, 0 when not given */
    size_t max_memory;       /* --max-memory in bytes, 0 when not given */
    double max_load;         /* --max-load per core, 0 when not given */
    bool executor_workers;   /* --executor workers */
    const char **queues;     /* owned array (strings borrowed): worker's --queue values */
    size_t n_queues;
    long lease_ms;     /* worker's --lease-ms, 0 when not given */
    long run_lease_ms; /* --run-lease-ms, 0 when not given (30000) */
};

/* One option as the parser and the help know it. Static data. */
typedef struct df_cli_option {
    const char *name;
    const char *arg; /* NULL for a flag */
    int val;         /* getopt_long's value */
    uint64_t mask;   /* DF_OPT_* bit, or 0 for the common options (every command) */
    const char *help;
} df_cli_option;

/* Every option, in the order the help lists them; *n receives the count. Static data. */
const df_cli_option *df_cli_options(size_t *n);

/* True when cmd accepts o. */
bool df_cli_option_accepted(const df_cli_command *cmd, const df_cli_option *o);

/* Parses one command's arguments: argv[0] is the command name, options and operands follow in any
 * order (`--` ends the options). Fills *cli (zeroed first). Returns DF_CLI_PROCEED when the
 * command should run (release *cli with df_cli_free when done); otherwise *cli is already released
 * (calling df_cli_free on it again is harmless) and the result is the exit code the command must
 * return at once: DF_EXIT_OK after printing the help (--help), DF_EXIT_USAGE after
 * printing a `dagflow: CMD: ...` error (unknown or unaccepted option, missing or bad value, bad
 * --param JSON, wrong number of operands), DF_EXIT_INTERNAL when out of memory.
 * Validates values: N options are integers in [1, INT_MAX]; --stack-size is a positive byte count
 * with an optional K or M suffix (x1024); --format is dot or mermaid; --workers-min must not exceed
 * --workers-max when both are given. Uses getopt_long's global state (not reentrant). */
int df_cli_parse(const df_cli_command *spec, int argc, char **argv, df_cli *cli);

/* Releases what df_cli_parse allocated and zeroes *cli; safe on a zeroed struct. */
void df_cli_free(df_cli *cli);

/* The engine configuration cli's options give (what df_cli_open_engine opens), without an event
 * callback. */
void df_cli_engine_config(const df_cli *cli, df_engine_config *out);

/* Opens an engine configured by cli's options: --db, --plugin-dir, and the engine options
 * (--workers-min, --workers-max, --concurrency, --queue-capacity, --stack-size) where the command
 * has them; on_event and ud as given (may be NULL). Opening creates no file and starts no thread.
 * Returns the engine (df_engine_close it), or NULL after printing why. */
df_engine *df_cli_open_engine(const df_cli *cli,
                              void (*on_event)(void *ud, const df_engine_event *ev), void *ud);

/* Parses a run id operand (a positive integer). Returns 0 and sets *id, or -1. */
int df_cli_parse_run_id(const char *text, long long *id);

/* Checks up front that path names a workflow file that can be read, so that a directory or an
 * unreadable file gets a clear message instead of a JSON parse error. Writes the problem into msg
 * (NUL-terminated, at most len bytes) and returns DF_EXIT_USAGE: "PATH: is a directory", or
 * "PATH: cannot open: <strerror>" (missing, permission denied, ...); returns 0 (msg set to "")
 * when the file opens for reading, and for "-" (standard input). Opens with O_NONBLOCK so a FIFO
 * does not hang it; the file is closed again. Thread-safe. */
int df_cli_file_problem(const char *path, char *msg, size_t len);

/* df_cli_file_problem, printing the problem as a `dagflow: ` line on stderr. Returns
 * DF_EXIT_USAGE (the caller exits with it) or 0. Used by validate, graph and run before loading
 * FILE. */
int df_cli_check_file(const char *path);

/* ---- help.c --------------------------------------------------------------------------------- */

/* Prints the full --help text of a command (usage, operands, options with defaults, exit codes)
 * to out. */
void df_cli_print_help(const df_cli_command *spec, FILE *out);

/* Prints `dagflow --help` (the commands and the common options) to out. */
void df_cli_print_main_help(FILE *out);

/* ---- output.c ------------------------------------------------------------------------------- */

/* Prints one error line to stderr: "dagflow: " + the formatted message + "\n". Embedded newlines
 * are replaced by spaces so one error stays one line. Thread-safe (stdio locks the stream). */
void df_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints every message of errs as its own `dagflow: ` line (see df_cli_error). */
void df_cli_print_errlist(const df_errlist *errs);

/* Prints a JSON value to stdout, indented by 2, keys in insertion order, followed by a newline.
 * value is borrowed. Returns 0, or -1 when it could not be written (an error is printed). */
int df_cli_print_json(const json_t *value);

/* Writes a duration in milliseconds as short human text into buf: "850ms", "12.3s", "4m05s",
 * "2h03m"; "-" for a negative value (unknown). Returns buf. */
char *df_cli_format_duration(int64_t ms, char *buf, size_t len);

/* Parses an ISO-8601 UTC time as the store writes it ("2026-11-29T08:15:08.123Z"; milliseconds
 * optional) into milliseconds since the epoch. Returns 0, or -1 when it does not parse. */
int df_cli_parse_time(const char *iso, int64_t *ms);

/* Milliseconds of CLOCK_MONOTONIC (for throttling the progress line). Thread-safe. */
uint64_t df_cli_mono_ms(void);

/* What follows `dagflow resume RUN_ID` to continue a run of this command line: " --db 'PATH'"
 * (unless the default ./dagflow.db) and " --plugin-dir 'DIR'" for each one given, single-quoted
 * for a POSIX shell; "" when there are none. A static buffer, rewritten by each call (all calls
 * give the same text for one command line): call it from the main thread before the engine
 * starts; the text may then be read anywhere, a signal handler included. */
const char *df_cli_resume_args(const df_cli *cli);

/* The string obj[key] (borrowed from obj), or dflt when it is missing or not a string. obj may
 * be NULL. */
const char *df_cli_json_str(const json_t *obj, const char *key, const char *dflt);

/* The integer obj[key], or 0 when it is missing or not an integer. obj may be NULL. */
long long df_cli_json_int(const json_t *obj, const char *key);

/* Writes the duration of a run or task as the store reports them (status and history objects:
 * "duration_ms", and "started_at"/"ended_at" as ISO text) into buf, as df_cli_format_duration's
 * text: duration_ms when known, else from its times once ended_at is set. Without ended_at the
 * duration is unknown ("-"): a task left QUEUED, RUNNING or PENDING by an INTERRUPTED run has no
 * end, and a clock-based guess would grow for ever. The one exception is what is running right
 * now: when live is true (the run is RUNNING, i.e. its engine's heartbeat is fresh, and obj is
 * that run or one of its RUNNING tasks), the time since started_at is shown as "running for X".
 * Returns buf. */
char *df_cli_duration_text(const json_t *obj, bool live, char *buf, size_t len);

/* Makes text that came from a task (an error, a log line, a plugin's message) safe to print on a
 * terminal, in place: a task writing escape sequences, carriage returns or backspaces must not
 * rewrite the user's screen. Tab, newline, carriage return, vertical tab and form feed become a
 * space; every other C0 control byte (below 0x20, ESC included), DEL (0x7f), a C1 control
 * character (U+0080..U+009F, which some terminals obey as ESC sequences) and any byte that is not
 * part of valid UTF-8 become '?'. Valid UTF-8 (accents, CJK, emoji) is kept intact. The string
 * can only get shorter (a C1 character's two bytes become one '?'). NULL is fine. Thread-safe
 * (touches only s). For code that prints task output itself, e.g. cmd_run.c's progress lines:
 *     char msg[512]; snprintf(msg, sizeof msg, "%s", ev->error); df_cli_sanitize(msg); */
void df_cli_sanitize(char *s);

/* A text table printed with aligned columns (the last column is not padded). Cells are copied
 * and made safe for a terminal with df_cli_sanitize; columns are aligned by characters (UTF-8
 * code points), not bytes. */
typedef struct df_cli_table df_cli_table;

/* Creates a table with ncols columns and these headers (copied). NULL on allocation failure. */
df_cli_table *df_cli_table_new(size_t ncols, const char *const *headers);

/* Appends a row of ncols cells (copied; NULL shows as "-"). Returns 0, or -1 when out of memory. */
int df_cli_table_add(df_cli_table *t, const char *const *cells);

/* Prints the headers and rows to out, columns separated by two spaces. */
void df_cli_table_print(const df_cli_table *t, FILE *out);

/* Frees the table; NULL is fine. */
void df_cli_table_free(df_cli_table *t);

/* Ends a command's table output: when ok (every row was added), prints t to stdout and returns
 * DF_EXIT_OK; when t is NULL or ok is false (out of memory), prints `dagflow: out of memory` and
 * returns DF_EXIT_INTERNAL. Frees t either way. */
int df_cli_table_finish(df_cli_table *t, bool ok);

/* ---- process.c: what the CLI sets process-wide (the library sets nothing) ------------------- */

/* Process-wide settings for running workflows, called once before the engine opens: raises the
 * soft RLIMIT_NOFILE toward the hard limit (at most 65536: children inherit it, and some programs
 * walk every possible fd), since every task in flight may hold several descriptors (pipes,
 * sockets); and sets UV_THREADPOOL_SIZE=16 unless the user set it (df_task_run_blocking runs on
 * libuv's thread pool, 4 threads by default, sized once at its first use). */
void df_cli_process_setup(void);

/* SIGINT/SIGTERM for a command that drives an engine. df_cli_signals_block blocks both in the
 * calling thread, and so in every thread created after it (the pool's, libuv's), before the
 * engine opens. df_cli_signals_watch starts a thread that waits for them and makes each one a
 * df_engine_stop(e) call: the first stops gracefully (the run ends INTERRUPTED, exit 130), the
 * second at once (the engine records nothing more and the wait returns; the command then kills
 * the task processes and leaves with 130). Each signal first flushes stdout and stderr, and the
 * thread flushes stderr every 200 ms meanwhile (it is fully buffered when not a terminal), so
 * that no line printed before is lost, even to a pipe whose reader a Ctrl-C also ends. After
 * df_cli_signals_run_over (the wait returned: the summary is being written, the engine closes)
 * a signal, or a third one at any time, flushes, kills the task processes and leaves with 130
 * from that thread. df_cli_signals_received tells how many came (any thread).
 * df_cli_signals_stop ends that thread and unblocks the signals, so that one arriving later has
 * its default effect. Main thread only, except df_cli_signals_received. Watch returns 0, or -1
 * when the thread cannot start (an error is printed). */
void df_cli_signals_block(void);
int df_cli_signals_watch(df_engine *e);
int df_cli_signals_received(void);
void df_cli_signals_run_over(void);
void df_cli_signals_stop(void);

/* ---- crash.c -------------------------------------------------------------------------------- */

/* Installs the handler of fatal signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) that, when the
 * signal is raised by a thread running a task's plugin code (not sent by another process), writes
 * one line on stderr naming the task, its run and plugin, a coroutine stack overflow as such, and
 * the `dagflow resume` command that continues the run (with cli's --db and --plugin-dir, read
 * now: cli must be the parsed command line), leaves a crash record (not for `worker`) and, with a
 * PostgreSQL --db, runs the reporter (`__crash-report`) and waits for it; the process then dies
 * of the same signal. Faults elsewhere get no message.
 * Call once from the main thread before the engine starts; not thread-safe. Does nothing in a
 * sanitizer build (AddressSanitizer reports such faults itself). */
void df_cli_crash_install(const df_cli *cli);

/* Sends fi's culprit to the store as the fatal-signal handler does (the reporter, waited for),
 * for a crash that is not a signal: a plugin's exit() (cmd_run.c's guard). Nothing without a
 * PostgreSQL --db or in a sanitizer build. Async-signal-safe; after df_cli_crash_install. */
void df_cli_crash_report(const df_fault_info *fi);

/* The worker that `dagflow worker` runs (NULL before it is closed): when a task's code crashes
 * it, the handler stops it from claiming more (df_worker_stop) while the reporter runs. */
void df_cli_crash_worker(df_worker *w);

/* ---- cmd_crash_report.c --------------------------------------------------------------------- */

/* `dagflow __crash-report PID RUN_ID ATTEMPT MAP_INDEX TASK_ID` (argv whole, argv[1] the
 * command; the store in $DAGFLOW_DB): the reporter that crash.c's handler starts; sends the
 * culprit to the store (df_crash_report_send). Internal, not in the command table. Returns the
 * exit code. */
int df_cmd_crash_report(int argc, char **argv);

#endif
