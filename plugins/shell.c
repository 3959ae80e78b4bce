/* shell: the built-in TaskUnit that runs a command (SPEC §2).
 *
 * params: exactly one of "argv" (non-empty array, run directly, argv[0] looked up in PATH) or
 * "script" (string, run by /bin/sh -c); optional "env" (object of strings, added to the
 * environment), "cwd" (string; relative to the workflow's folder), "stdin" (a string written to
 * the child's stdin; any other JSON value is written as compact JSON text), "parse_json_stdout"
 * (boolean), "retry_on_exit_codes" (array of integers: when set, a non-zero exit code not in it
 * fails the task permanently instead of being retried), "limits" ({"cpu_seconds", "memory_mb",
 * "open_files", "max_processes"}, integers >= 1: the first three applied with setrlimit in the
 * child, memory_mb as RLIMIT_AS; where the machine gives dagflow control groups, memory_mb and
 * max_processes also hold for the child and everything it starts as a whole, SPEC §12).
 * argv elements and env values may also be numbers or booleans (written as their JSON text), so
 * a reference like "${tasks.a.result.exit_code}" works where a string is expected.
 *
 * result: {"exit_code", "stdout", "stderr"} (each output capped at 1 MiB, one trailing newline
 * removed, invalid UTF-8 replaced by U+FFFD) plus "json" (stdout parsed) with parse_json_stdout,
 * and "stdout_truncated": true / "stderr_truncated": true when that output was longer than the
 * cap and only its first 1 MiB is kept. With parse_json_stdout, a cut stdout fails the attempt
 * permanently with an error saying so (not as invalid JSON at column 1048576).
 * Success is exit status 0. A failure's error names the exit code or signal and ends with the
 * last lines of stderr (at most 1 KiB): `exit code 3: <stderr tail>`. A command that ran and
 * failed returns the same result (SPEC §10), exit_code null when a signal killed it.
 *
 * The child runs in its own process group with DAGFLOW_RUN_ID, DAGFLOW_TASK_ID and
 * DAGFLOW_ATTEMPT set; on cancellation (timeout, shutdown) the group gets SIGTERM, then SIGKILL
 * 2 s later (df_task_spawn). A command the kernel refuses as too long (E2BIG: one argument or
 * environment string over 128 KiB, or all of them over the limit) fails permanently: every retry
 * would build the same command. */
#include <dagflow/taskunit.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/plugin_util.h"

#define TAIL_MAX 1024

static const char *const known_keys[] = {
    "argv",   "script", "env", "cwd", "stdin", "parse_json_stdout", "retry_on_exit_codes",
    "limits", NULL};
static const char *const limit_keys[] = {"cpu_seconds", "memory_mb", "open_files", "max_processes",
                                         NULL};

/* ---- validation ---- */

/* "argv": a non-empty array of strings whose first is the program (non-empty). */
static int check_argv(const json_t *argv, char *err, size_t errlen)
{
    if (!json_is_array(argv) || json_array_size(argv) == 0) {
        snprintf(err, errlen, "\"argv\" must be a non-empty array of strings");
        return 1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(argv, i, v)
    {
        if (!dfp_is_scalar_text(v)) {
            snprintf(err, errlen, "\"argv\"[%zu] must be a string", i);
            return 1;
        }
    }
    if (!json_is_string(json_array_get(argv, 0)) || !*json_string_value(json_array_get(argv, 0))) {
        snprintf(err, errlen, "\"argv\"[0] must be a non-empty string (the program)");
        return 1;
    }
    return 0;
}

/* "env": an object of variable names (non-empty, no '=') to strings. */
static int check_env(const json_t *env, char *err, size_t errlen)
{
    if (!json_is_object(env)) {
        snprintf(err, errlen, "\"env\" must be an object of strings");
        return 1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v)
    {
        if (!*k || strchr(k, '=')) {
            snprintf(err, errlen, "\"env\" key \"%s\" is not a valid variable name", k);
            return 1;
        }
        if (!dfp_is_scalar_text(v)) {
            snprintf(err, errlen, "\"env\".\"%s\" must be a string", k);
            return 1;
        }
    }
    return 0;
}

/* "retry_on_exit_codes": an array of integers (or templates, at creation). */
static int check_codes(const json_t *codes, int templates, char *err, size_t errlen)
{
    if (!json_is_array(codes)) {
        snprintf(err, errlen, "\"retry_on_exit_codes\" must be an array of integers");
        return 1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(codes, i, v)
    {
        if (!json_is_integer(v) && !(templates && dfp_is_template(v))) {
            snprintf(err, errlen, "\"retry_on_exit_codes\"[%zu] must be an integer", i);
            return 1;
        }
    }
    return 0;
}

/* "limits": an object of the limit keys, each an integer >= 1 (or a template, at creation). */
static int check_limits(const json_t *limits, int templates, char *err, size_t errlen)
{
    if (!json_is_object(limits)) {
        snprintf(err, errlen,
                 "\"limits\" must be an object with cpu_seconds, memory_mb, open_files, "
                 "max_processes");
        return 1;
    }
    if (dfp_check_keys(limits, limit_keys, " in \"limits\"", 0, "known:", err, errlen))
        return 1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)limits, k, v)
    {
        if (templates && dfp_is_template(v))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            snprintf(err, errlen, "\"limits\".\"%s\" must be an integer >= 1", k);
            return 1;
        }
    }
    return 0;
}

/* The checks of validate; with templates, a ${...} string is accepted wherever a value is
 * expected (run creation); without, every value must have its final type (execute). */
static int check_params(const json_t *params, int templates, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object with \"argv\" or \"script\"");
        return 1;
    }
    if (dfp_check_keys(params, known_keys, "", 0, "known:", err, errlen))
        return 1;
    json_t *argv = json_object_get(params, "argv");
    json_t *script = json_object_get(params, "script");
    if (argv && script) {
        snprintf(err, errlen, "give either \"argv\" or \"script\", not both");
        return 1;
    }
    if (!argv && !script) {
        snprintf(err, errlen, "missing \"argv\" (array of strings) or \"script\" (string)");
        return 1;
    }
#define TEMPLATE_OK(v) (templates && dfp_is_template(v))
    if (argv && !TEMPLATE_OK(argv) && check_argv(argv, err, errlen))
        return 1;
    if (script && !json_is_string(script)) {
        snprintf(err, errlen, "\"script\" must be a string");
        return 1;
    }
    json_t *env = json_object_get(params, "env");
    if (env && !TEMPLATE_OK(env) && check_env(env, err, errlen))
        return 1;
    json_t *cwd = json_object_get(params, "cwd");
    if (cwd && !json_is_string(cwd)) {
        snprintf(err, errlen, "\"cwd\" must be a string");
        return 1;
    }
    json_t *pj = json_object_get(params, "parse_json_stdout");
    if (pj && !json_is_boolean(pj) && !TEMPLATE_OK(pj)) {
        snprintf(err, errlen, "\"parse_json_stdout\" must be a boolean");
        return 1;
    }
    json_t *codes = json_object_get(params, "retry_on_exit_codes");
    if (codes && !TEMPLATE_OK(codes) && check_codes(codes, templates, err, errlen))
        return 1;
    json_t *limits = json_object_get(params, "limits");
    if (limits && !TEMPLATE_OK(limits) && check_limits(limits, templates, err, errlen))
        return 1;
#undef TEMPLATE_OK
    return 0;
}

static int shell_validate(const json_t *params, char *err, size_t errlen)
{
    return check_params(params, 1, err, errlen);
}

/* ---- execution ---- */

/* A scalar as the text a command line would carry. malloc'd. */
static char *scalar_text(const json_t *v)
{
    char buf[64];
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) {
        /* The shortest text that reads back as the same double (19.99, not 19.989999999999998). */
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
    } else
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    return strdup(buf);
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Removes one trailing newline ("\n" or "\r\n"). */
static size_t strip_newline(const char *d, size_t n)
{
    if (n && d[n - 1] == '\n') {
        n--;
        if (n && d[n - 1] == '\r')
            n--;
    }
    return n;
}

/* The last lines of stderr, at most TAIL_MAX bytes, as valid UTF-8. malloc'd, maybe "". */
static char *stderr_tail(const char *d, size_t n)
{
    while (n && (d[n - 1] == '\n' || d[n - 1] == '\r' || d[n - 1] == ' ' || d[n - 1] == '\t'))
        n--;
    size_t start = 0;
    if (n > TAIL_MAX) {
        start = n - TAIL_MAX;
        const char *nl = memchr(d + start, '\n', n - start);
        if (nl && (size_t)(nl - d) + 1 < n)
            start = (size_t)(nl - d) + 1; /* whole lines */
        else
            while (start < n && ((unsigned char)d[start] & 0xC0) == 0x80)
                start++; /* one long line: start at a character boundary */
    }
    json_t *j = dfp_text_json(d + start, n - start);
    char *r = strdup(j ? json_string_value(j) : "");
    json_decref(j);
    return r;
}

/* The command's argv (argv as given, or /bin/sh -c script) and the environment entries of "env"
 * ("K=V"), NULL-terminated and malloc'd into *argv_out and *env_out (NULL without "env"), freed by
 * the caller with free_strv even on failure. Returns 0, or -1 on no memory. */
static int build_command(const json_t *params, char ***argv_out, char ***env_out)
{
    json_t *jargv = json_object_get(params, "argv");
    size_t argc = jargv ? json_array_size(jargv) : 3;
    char **argv = *argv_out = calloc(argc + 1, sizeof *argv);
    if (!argv)
        return -1;
    if (jargv) {
        for (size_t i = 0; i < argc; i++)
            if (!(argv[i] = scalar_text(json_array_get(jargv, i))))
                return -1;
    } else {
        argv[0] = strdup("/bin/sh");
        argv[1] = strdup("-c");
        argv[2] = strdup(json_string_value(json_object_get(params, "script")));
        if (!argv[0] || !argv[1] || !argv[2])
            return -1;
    }
    json_t *jenv = json_object_get(params, "env");
    if (!jenv)
        return 0;
    char **env = *env_out = calloc(json_object_size(jenv) + 1, sizeof *env);
    if (!env)
        return -1;
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(jenv, key, v)
    {
        char *val = scalar_text(v);
        int rc = val ? asprintf(&env[k], "%s=%s", key, val) : -1;
        free(val);
        if (rc < 0) {
            env[k] = NULL;
            return -1;
        }
        k++;
    }
    return 0;
}

/* Fills opts's cwd, stdin (a string as is, any other JSON compacted into *stdin_text, malloc'd)
 * and limits from params. Returns 0, or -1 on no memory. */
static int spawn_settings(const json_t *params, df_spawn_opts *opts, char **stdin_text)
{
    json_t *cwd = json_object_get(params, "cwd");
    opts->cwd = cwd ? json_string_value(cwd) : NULL;
    json_t *jin = json_object_get(params, "stdin");
    if (jin && json_is_string(jin)) {
        opts->stdin_data = json_string_value(jin);
        opts->stdin_len = json_string_length(jin);
    } else if (jin) {
        *stdin_text = json_dumps(jin, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!*stdin_text)
            return -1;
        opts->stdin_data = *stdin_text;
        opts->stdin_len = strlen(*stdin_text);
    }
    json_t *limits = json_object_get(params, "limits");
    json_t *v;
    if (limits && (v = json_object_get(limits, "cpu_seconds")))
        opts->limit_cpu_seconds = (uint64_t)json_integer_value(v);
    if (limits && (v = json_object_get(limits, "memory_mb")))
        opts->limit_memory_mb = (uint64_t)json_integer_value(v);
    if (limits && (v = json_object_get(limits, "open_files")))
        opts->limit_open_files = (uint64_t)json_integer_value(v);
    if (limits && (v = json_object_get(limits, "max_processes")))
        opts->limit_max_processes = (uint64_t)json_integer_value(v);
    return 0;
}

/* {exit_code, stdout, stderr} and the truncation flags of a command that ran (out_n, err_n:
 * the outputs' lengths without their last newline): a new reference, or NULL on no memory. A
 * command killed by a signal has exit_code null. Success and failure both return it (SPEC §10:
 * a failed task's result is kept, so handlers and all_done tasks can read it). */
static json_t *base_result(const df_spawn_result *res, size_t out_n, size_t err_n)
{
    json_t *r = json_object();
    json_t *jout = dfp_text_json(res->stdout_data, out_n);
    json_t *jerr = dfp_text_json(res->stderr_data, err_n);
    json_t *code = res->term_signal ? json_null() : json_integer(res->exit_code);
    if (!r || !jout || !jerr || !code) {
        json_decref(r);
        json_decref(jout);
        json_decref(jerr);
        json_decref(code);
        return NULL;
    }
    if (json_object_set_new(r, "exit_code", code) || json_object_set_new(r, "stdout", jout) ||
        json_object_set_new(r, "stderr", jerr) ||
        (res->stdout_truncated && json_object_set_new(r, "stdout_truncated", json_true()) != 0) ||
        (res->stderr_truncated && json_object_set_new(r, "stderr_truncated", json_true()) != 0)) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* The result of a command that exited 0: base_result and "json" with parse_json_stdout, a new
 * reference into *result. Returns the task status, or -1 on no memory. */
static int success(df_task_ctx *ctx, const json_t *params, const df_spawn_result *res, size_t out_n,
                   size_t err_n, json_t **result)
{
    json_t *r = base_result(res, out_n, err_n);
    if (!r)
        return -1;
    if (json_is_true(json_object_get(params, "parse_json_stdout"))) {
        if (res->stdout_truncated) {
            df_task_set_error(ctx,
                              "stdout is longer than 1 MiB, the most a shell task keeps, so it was "
                              "cut and cannot be parsed (parse_json_stdout); write large output "
                              "to a file and pass its path instead");
            *result = r; /* kept with the failure (SPEC §10) */
            return DF_TASK_FAILED_PERMANENT;
        }
        json_error_t je;
        json_t *parsed = json_loadb(res->stdout_data, out_n, JSON_DECODE_ANY, &je);
        if (!parsed) {
            df_task_set_error(ctx,
                              "stdout is not valid JSON (parse_json_stdout): %s at line %d, "
                              "column %d",
                              je.text, je.line, je.column);
            *result = r; /* kept with the failure (SPEC §10) */
            return DF_TASK_FAILED_PERMANENT;
        }
        json_object_set_new(r, "json", parsed);
    }
    *result = r;
    return DF_TASK_OK;
}

/* The error of a command that did not exit 0 (its exit code or signal, and the tail of stderr),
 * and whether to retry it: not when retry_on_exit_codes is given and lacks its exit code. */
static int failure(df_task_ctx *ctx, const json_t *params, const df_spawn_result *res, size_t err_n)
{
    char what[96];
    if (res->term_signal) {
        const char *abbr = sigabbrev_np(res->term_signal);
        snprintf(what, sizeof what, "killed by signal %d%s%s%s", res->term_signal,
                 abbr ? " (SIG" : "", abbr ? abbr : "", abbr ? ")" : "");
    } else {
        snprintf(what, sizeof what, "exit code %lld", (long long)res->exit_code);
    }
    char *tail = stderr_tail(res->stderr_data, err_n);
    df_task_set_error(ctx, "%s%s%s%s", res->cancelled ? "cancelled: " : "", what,
                      tail && *tail ? ": " : "", tail ? tail : "");
    free(tail);
    json_t *codes = json_object_get(params, "retry_on_exit_codes");
    if (!res->cancelled && !res->term_signal && codes && !dfp_int_in_array(codes, res->exit_code))
        return DF_TASK_FAILED_PERMANENT;
    return DF_TASK_FAILED;
}

static int shell_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    char err[1024];
    if (dfp_check_final(ctx, check_params, params, sizeof err))
        return DF_TASK_FAILED_PERMANENT;
    int status = DF_TASK_FAILED;
    char **argv = NULL, **env = NULL, *stdin_text = NULL;
    df_spawn_opts opts = DF_SPAWN_OPTS_INIT;
    if (build_command(params, &argv, &env) != 0 ||
        spawn_settings(params, &opts, &stdin_text) != 0) {
        df_task_set_error(ctx, "shell: out of memory");
        goto out;
    }
    opts.argv = (const char *const *)argv;
    opts.env = (const char *const *)env;
    df_spawn_result res = DF_SPAWN_RESULT_INIT;
    int src = df_task_spawn(ctx, &opts, &res, err, sizeof err);
    if (src == -E2BIG) {
        /* The same command is as long on every attempt: retrying cannot help. */
        df_task_set_error(ctx,
                          "%s (the kernel takes at most 128 KiB in one argument or environment "
                          "variable and about a quarter of the stack limit in all: give a large "
                          "value to the command through \"stdin\")",
                          err);
        status = DF_TASK_FAILED_PERMANENT;
        goto out;
    }
    if (src != 0) {
        df_task_set_error(ctx, "%s", err);
        goto out;
    }
    if (res.stdout_truncated)
        df_task_log(ctx, "stdout was longer than 1 MiB: only its first 1 MiB is kept");
    if (res.stderr_truncated)
        df_task_log(ctx, "stderr was longer than 1 MiB: only its first 1 MiB is kept");
    size_t out_n = strip_newline(res.stdout_data, res.stdout_len);
    size_t err_n = strip_newline(res.stderr_data, res.stderr_len);
    if (res.exit_code == 0 && !res.term_signal && !res.cancelled) {
        status = success(ctx, params, &res, out_n, err_n, result);
        if (status < 0) {
            df_task_set_error(ctx, "shell: out of memory");
            status = DF_TASK_FAILED;
        }
    } else {
        status = failure(ctx, params, &res, err_n);
        *result = base_result(&res, out_n, err_n); /* kept with the failure (SPEC §10) */
    }
    df_task_log(ctx, "exit code %lld%s", (long long)res.exit_code,
                res.term_signal ? " (signal)" : "");
    df_spawn_result_free(&res);
out:
    free_strv(argv);
    free_strv(env);
    free(stdin_text);
    return status;
}

/* The plugin's descriptor and its entry point, dagflow_taskunit (lives as long as the .so). */
/* "script" is a /bin/sh script: the engine escapes each reference for where it stands (SPEC §12).
 */
static const df_param_rule shell_rules[] = {{.param = "script", .rule = DF_PARAM_SHELL_SCRIPT},
                                            {.param = "env", .rule = DF_PARAM_ENV},
                                            {.param = NULL}};

DF_TASKUNIT_DEFINE(
        .name = "shell", .version = "1.0.0", .param_rules = shell_rules,
        .description =
            "runs a command (argv) or a /bin/sh script; result {exit_code, stdout, stderr}",
        .validate = shell_validate, .execute = shell_execute);
