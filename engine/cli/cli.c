/* cli: owns the command table and help texts, the common option parser (getopt_long), error
 * printing and the output helpers every command uses (see cli.h). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
};

#define DF_OPT_COMMON 0u /* mask value meaning "every command" */

typedef struct opt_info {
    const char *name;
    const char *arg; /* NULL for a flag */
    int val;
    unsigned mask; /* DF_OPT_* bit, or DF_OPT_COMMON */
    const char *help;
} opt_info;

static const opt_info OPTIONS[] = {
    {"param", "K=V|K:=JSON", OPT_PARAM, DF_OPT_PARAM,
     "run parameter overriding the workflow's \"params\" default (repeatable): K=V gives the "
     "string V, K:=JSON a typed JSON value (K:=3, K:='[1,2]', K:=true)"},
    {"task", "ID", OPT_TASK, DF_OPT_TASK,
     "reopen this task (whatever its state) and everything downstream of it instead"},
    {"workflow", "NAME", OPT_WORKFLOW, DF_OPT_WORKFLOW, "only runs of this workflow"},
    {"limit", "N", OPT_LIMIT, DF_OPT_LIMIT, "show at most N runs (default: 20)"},
    {"format", "dot|mermaid", OPT_FORMAT, DF_OPT_FORMAT,
     "output format: Graphviz DOT or Mermaid flowchart (default: dot)"},
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
    {"db", "PATH", OPT_DB, DF_OPT_COMMON,
     "SQLite history file (default: $DAGFLOW_DB, else ./dagflow.db; created on first use)"},
    {"plugin-dir", "DIR", OPT_PLUGIN_DIR, DF_OPT_COMMON,
     "look for plugins (NAME.so) in DIR first (repeatable; then $DAGFLOW_PLUGIN_PATH, then the "
     "built-in plugin folder)"},
    {"json", NULL, OPT_JSON, DF_OPT_COMMON, "machine-readable output (JSON) on stdout"},
    {"help", NULL, OPT_HELP, DF_OPT_COMMON, "show this help and exit"},
};
#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

/* ---- Commands --------------------------------------------------------------------------- */

#define EXIT_RUN                                                                                   \
    "  0    the run ended SUCCESS\n"                                                               \
    "  1    the run ended FAILED\n"                                                                \
    "  2    invalid or unusable input: bad usage, a file that cannot be loaded, an INVALID run,\n" \
    "       or a run this command refuses\n"                                                       \
    "  3    store or internal error\n"                                                             \
    "  130  interrupted (SIGINT/SIGTERM): the run is INTERRUPTED and can be resumed\n"

static const df_cli_spec SPECS[] = {
    {"run", "load, validate, record and run a workflow to the end", "run FILE [options]",
     "  FILE  the workflow file (JSON)\n",
     "Loads FILE strictly, checks every task's plugin and params, records the run in the\n"
     "history database and runs it to the end, showing progress on a terminal. A file that\n"
     "cannot be loaded records nothing; a workflow whose params a plugin's validate rejects is\n"
     "recorded as an INVALID run. With --json, prints the run's final status object (as\n"
     "`dagflow status --json`) on stdout.\n",
     EXIT_RUN, DF_OPT_PARAM | DF_OPT_ENGINE, 1, 1},
    {"validate", "check a workflow file without running or recording anything",
     "validate FILE [options]", "  FILE  the workflow file (JSON)\n",
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
    {"resume", "continue an interrupted run", "resume RUN_ID [options]",
     "  RUN_ID  the run to continue (see `dagflow history`)\n",
     "Continues an INTERRUPTED run, or a RUNNING one whose engine is dead, from its stored DAG:\n"
     "attempts lost with the dead engine are queued again. Refuses a run whose engine is alive\n"
     "or that has finished.\n",
     EXIT_RUN, DF_OPT_ENGINE, 1, 1},
    {"retry", "reopen the failed part of a finished run and run it again", "retry RUN_ID [options]",
     "  RUN_ID  the finished run to reopen\n",
     "Puts the run's FAILED and UPSTREAM_FAILED tasks, and the SKIPPED tasks downstream of\n"
     "them, back to PENDING with a fresh retry budget, and runs the run to the end again.\n"
     "With --task ID, that task (whatever its state) and everything downstream of it instead.\n"
     "Refuses a run that is not finished.\n",
     EXIT_RUN, DF_OPT_TASK | DF_OPT_ENGINE, 1, 1},
    {"status", "show a run's tasks, states, attempts, durations and errors",
     "status [RUN_ID] [options]", "  RUN_ID  the run to show (default: the latest run)\n",
     "Shows the run (id, workflow, state, start, end, duration) and a table of its tasks\n"
     "(state, attempts, duration, error). A RUNNING run whose engine stopped sending\n"
     "heartbeats more than 30 s ago shows as INTERRUPTED. With --json, prints\n"
     "{\"run_id\", \"workflow\", \"state\", \"started_at\", \"ended_at\", \"tasks\": [{\"id\", "
     "\"state\",\n"
     "\"attempts\", \"started_at\", \"ended_at\", \"duration_ms\", \"error\", \"result\"}]}.\n"
     "Never creates the database.\n",
     "  0    the run was shown\n"
     "  2    unknown run, no runs, or bad usage\n"
     "  3    store error\n",
     0, 0, 1},
    {"history", "list recent runs", "history [options]", NULL,
     "Lists recent runs, newest first: id, workflow, state, start, duration and task counts\n"
     "(succeeded/failed/total). With --json, prints an array of run_history rows. A missing\n"
     "database is an empty history (and is not created).\n",
     "  0    the history was shown\n"
     "  2    bad usage\n"
     "  3    store error\n",
     DF_OPT_WORKFLOW | DF_OPT_LIMIT, 0, 0},
    {"graph", "print a workflow's DAG as Graphviz DOT or Mermaid", "graph FILE [options]",
     "  FILE  the workflow file (JSON)\n",
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
    {"plugins", "list the plugins found, with version and description", "plugins [options]", NULL,
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
#define N_SPECS (sizeof SPECS / sizeof SPECS[0])

const df_cli_spec *df_cli_spec_find(const char *name)
{
    for (size_t i = 0; i < N_SPECS; i++)
        if (strcmp(SPECS[i].name, name) == 0)
            return &SPECS[i];
    return NULL;
}

const df_cli_spec *df_cli_specs(size_t *n)
{
    *n = N_SPECS;
    return SPECS;
}

/* ---- Help --------------------------------------------------------------------------------- */

static bool opt_accepted(const df_cli_spec *spec, const opt_info *o)
{
    return o->mask == DF_OPT_COMMON || (spec->options & o->mask) != 0;
}

/* Prints "  --name ARG   help", the help wrapped at about 100 columns under a fixed indent. */
static void print_option(FILE *out, const opt_info *o)
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

void df_cli_print_help(const df_cli_spec *spec, FILE *out)
{
    fprintf(out, "Usage: dagflow %s\n\n%c%s.\n", spec->usage,
            toupper((unsigned char)spec->summary[0]), spec->summary + 1);
    if (spec->details)
        fprintf(out, "\n%s", spec->details);
    if (spec->operands)
        fprintf(out, "\nOperands:\n%s", spec->operands);
    if (spec->options) {
        fprintf(out, "\nOptions:\n");
        for (size_t i = 0; i < N_OPTIONS; i++)
            if (OPTIONS[i].mask != DF_OPT_COMMON && opt_accepted(spec, &OPTIONS[i]))
                print_option(out, &OPTIONS[i]);
    }
    fprintf(out, "\nCommon options:\n");
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (OPTIONS[i].mask == DF_OPT_COMMON)
            print_option(out, &OPTIONS[i]);
    fprintf(out, "\nOptions and operands may come in any order; `--` ends the options.\n");
    fprintf(out, "\nExit codes:\n%s", spec->exit_codes);
}

void df_cli_print_main_help(FILE *out)
{
    fprintf(out, "Usage: dagflow COMMAND [options] [operands]\n\n"
                 "dagflow runs workflows (DAGs of tasks described in JSON) durably: every state\n"
                 "change is recorded in a SQLite history, so runs can be inspected, resumed and\n"
                 "retried.\n\nCommands:\n");
    for (size_t i = 0; i < N_SPECS; i++)
        fprintf(out, "  %-10s %s\n", SPECS[i].name, SPECS[i].summary);
    fprintf(out, "  %-10s %s\n", "help", "show this help, or a command's (dagflow help COMMAND)");
    fprintf(out, "\nCommon options:\n");
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (OPTIONS[i].mask == DF_OPT_COMMON)
            print_option(out, &OPTIONS[i]);
    fprintf(out, "  %-28s%s\n", "--version", "print the version and exit");
    fprintf(out, "\nRun `dagflow COMMAND --help` for a command's operands, options and exit "
                 "codes.\n"
                 "Errors go to stderr, one per line, starting with `dagflow: `.\n");
}

/* ---- Errors and output ------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence starting at p (1..4), or 0 when p does not start one
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

void df_cli_sanitize(char *s)
{
    if (!s)
        return;
    unsigned char *r = (unsigned char *)s, *w = r;
    while (*r) {
        unsigned char c = *r;
        if (c < 0x20 || c == 0x7f) {
            *w++ = (c >= '\t' && c <= '\r') ? ' ' : '?';
            r++;
            continue;
        }
        size_t n = utf8_len(r);
        if (n == 0) {
            *w++ = '?';
            r++;
        } else if (n == 2 && c == 0xC2 && r[1] < 0xA0) {
            *w++ = '?'; /* C1 control U+0080..U+009F */
            r += 2;
        } else {
            memmove(w, r, n);
            w += n;
            r += n;
        }
    }
    *w = '\0';
}

static void print_error_line(const char *msg)
{
    /* Messages may carry task or plugin output (an error, a validate message): sanitized. */
    char *copy = strdup(msg);
    fputs("dagflow: ", stderr);
    if (copy) {
        df_cli_sanitize(copy);
        fputs(copy, stderr);
        free(copy);
    } else {
        for (const char *p = msg; *p; p++)
            fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, stderr);
    }
    fputc('\n', stderr);
}

void df_cli_error(const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    print_error_line(n < 0 ? "out of memory" : msg);
    free(msg);
}

void df_cli_print_errlist(const df_errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_error_line(errs->msgs[i]);
}

int df_cli_print_json(const json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!text) {
        df_cli_error("out of memory");
        return -1;
    }
    int rc = (puts(text) == EOF || fflush(stdout) != 0) ? -1 : 0;
    free(text);
    if (rc)
        df_cli_error("cannot write to stdout: %s", strerror(errno));
    return rc;
}

char *df_cli_format_duration(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "-");
    else if (ms < 1000)
        snprintf(buf, len, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(buf, len, "%.1fs", (double)(ms / 100) / 10.0);
    else if (ms < 3600000)
        snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else
        snprintf(buf, len, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
    return buf;
}

int df_cli_parse_time(const char *iso, int64_t *ms)
{
    if (!iso)
        return -1;
    struct tm tm = {0};
    const char *p = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (*p == 'Z')
        p++;
    if (*p != '\0')
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

const char *df_cli_json_str(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

long long df_cli_json_int(const json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

/* Milliseconds since the epoch, now. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *df_cli_duration_text(const json_t *obj, bool live, char *buf, size_t len)
{
    json_t *d = json_object_get(obj, "duration_ms");
    int64_t start, end;
    if (json_is_integer(d)) {
        df_cli_format_duration(json_integer_value(d), buf, len);
    } else if (df_cli_parse_time(df_cli_json_str(obj, "started_at", NULL), &start) != 0) {
        snprintf(buf, len, "-");
    } else if (df_cli_parse_time(df_cli_json_str(obj, "ended_at", NULL), &end) == 0) {
        df_cli_format_duration(end - start, buf, len);
    } else if (live) {
        char t[32];
        int64_t now = now_ms();
        snprintf(buf, len, "running for %s",
                 df_cli_format_duration(now > start ? now - start : 0, t, sizeof t));
    } else {
        snprintf(buf, len, "-");
    }
    return buf;
}

int df_cli_parse_run_id(const char *text, long long *id)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end != '\0' || v <= 0)
        return -1;
    *id = v;
    return 0;
}

int df_cli_file_problem(const char *path, char *msg, size_t len)
{
    struct stat st;
    bool dir;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        dir = err == EISDIR || (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
        if (!dir) {
            snprintf(msg, len, "%s: cannot open: %s", path, strerror(err));
            return DF_EXIT_USAGE;
        }
    } else {
        dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        close(fd);
    }
    if (dir) {
        snprintf(msg, len, "%s: is a directory", path);
        return DF_EXIT_USAGE;
    }
    if (len)
        msg[0] = '\0';
    return 0;
}

int df_cli_check_file(const char *path)
{
    char msg[PATH_MAX + 128];
    int code = df_cli_file_problem(path, msg, sizeof msg);
    if (code)
        df_cli_error("%s", msg);
    return code;
}

/* ---- Tables ------------------------------------------------------------------------------- */

struct df_cli_table {
    size_t ncols;
    size_t nrows; /* including the header row */
    size_t cap;
    char **cells; /* nrows * ncols, row-major */
};

df_cli_table *df_cli_table_new(size_t ncols, const char *const *headers)
{
    df_cli_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    if (df_cli_table_add(t, headers) != 0) {
        df_cli_table_free(t);
        return NULL;
    }
    return t;
}

int df_cli_table_add(df_cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
        if (!c)
            return -1;
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "-");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
        df_cli_sanitize(row[i]); /* cells may hold task output (errors) */
    }
    t->nrows++;
    return 0;
}

/* Width of a sanitized cell in characters: its UTF-8 code points (continuation bytes do not
 * count). */
static size_t cell_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void df_cli_table_print(const df_cli_table *t, FILE *out)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t l = cell_width(t->cells[r * t->ncols + c]);
            if (l > w[c])
                w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols)
                fprintf(out, "%s\n", cell);
            else
                fprintf(out, "%s%*s  ", cell, (int)(w[c] - cell_width(cell)), "");
        }
    }
    free(w);
}

void df_cli_table_free(df_cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

int df_cli_table_finish(df_cli_table *t, bool ok)
{
    if (t && ok)
        df_cli_table_print(t, stdout);
    df_cli_table_free(t);
    if (t && ok)
        return DF_EXIT_OK;
    df_cli_error("out of memory");
    return DF_EXIT_INTERNAL;
}

/* ---- Parsing ------------------------------------------------------------------------------ */

static const opt_info *opt_by_val(int val)
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

/* Handles one recognised option. Returns 0, or an exit code. */
static int apply_option(df_cli *cli, int val, char *arg)
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
    case OPT_JSON:
        cli->json = true;
        return 0;
    case OPT_HELP:
        cli->help = true;
        return 0;
    case OPT_PARAM:
        return parse_param(cli, arg);
    case OPT_WORKERS_MIN:
        return parse_workers(cmd, "workers-min", arg, &cli->workers_min) ? DF_EXIT_USAGE : 0;
    case OPT_WORKERS_MAX:
        return parse_workers(cmd, "workers-max", arg, &cli->workers_max) ? DF_EXIT_USAGE : 0;
    case OPT_CONCURRENCY:
        return parse_count(cmd, "concurrency", arg, &cli->concurrency) ? DF_EXIT_USAGE : 0;
    case OPT_QUEUE_CAPACITY:
        return parse_count(cmd, "queue-capacity", arg, &cli->queue_capacity) ? DF_EXIT_USAGE : 0;
    case OPT_LIMIT:
        return parse_count(cmd, "limit", arg, &cli->limit) ? DF_EXIT_USAGE : 0;
    case OPT_STACK_SIZE:
        return parse_bytes(cmd, arg, &cli->stack_size) ? DF_EXIT_USAGE : 0;
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
    case OPT_FORMAT:
        if (strcmp(arg, "dot") != 0 && strcmp(arg, "mermaid") != 0) {
            df_cli_error("%s: --format must be dot or mermaid, got \"%s\"", cmd, arg);
            return DF_EXIT_USAGE;
        }
        cli->format = arg;
        return 0;
    }
    df_cli_error("%s: internal error: unhandled option %d", cmd, val);
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

/* df_cli_parse without the release of *cli on an early exit. */
static int parse_args(const df_cli_spec *spec, int argc, char **argv, df_cli *cli)
{
    memset(cli, 0, sizeof *cli);
    cli->spec = spec;
    cli->command = spec->name;
    const char *env_db = getenv("DAGFLOW_DB");
    cli->db_path = env_db && *env_db ? env_db : "./dagflow.db";
    cli->concurrency = DF_CLI_DEFAULT_CONCURRENCY;
    cli->format = "dot";
    cli->params = json_object();
    if (!cli->params) {
        df_cli_error("out of memory");
        return DF_EXIT_INTERNAL;
    }

    /* Only the options this command accepts are given to getopt_long, so any other is unknown. */
    struct option longopts[N_OPTIONS + 1];
    size_t n = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (!opt_accepted(spec, &OPTIONS[i]))
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
        int c = getopt_long(argc, argv, "-:h", longopts, &longindex);
        if (c == -1)
            break;
        const char *bad = argv[optind - 1];
        char text[128];
        switch (c) {
        case 1:
            rc = add_operand(cli, optarg);
            break;
        case 'h':
            cli->help = true;
            break;
        case ':':
            option_text(bad, text, sizeof text);
            df_cli_error("%s: option %s needs a value (see 'dagflow %s --help')", spec->name, text,
                         spec->name);
            rc = DF_EXIT_USAGE;
            break;
        case '?':
            option_text(bad, text, sizeof text);
            if (optopt != 0 && opt_by_val(optopt) && strchr(bad, '='))
                df_cli_error("%s: option --%s takes no value (see 'dagflow %s --help')", spec->name,
                             opt_by_val(optopt)->name, spec->name);
            else if (optopt != 0 && optopt < 256)
                df_cli_error("%s: unknown option -%c (see 'dagflow %s --help')", spec->name, optopt,
                             spec->name);
            else
                df_cli_error("%s: unknown option %s (see 'dagflow %s --help')", spec->name, text,
                             spec->name);
            rc = DF_EXIT_USAGE;
            break;
        default:
            rc = apply_option(cli, c, optarg);
            break;
        }
        if (rc)
            return rc;
    }
    /* Whatever follows `--` is operands. */
    for (int i = optind; i < argc; i++)
        if ((rc = add_operand(cli, argv[i])) != 0)
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

int df_cli_parse(const df_cli_spec *spec, int argc, char **argv, df_cli *cli)
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
    free(cli->operands);
    memset(cli, 0, sizeof *cli);
}
