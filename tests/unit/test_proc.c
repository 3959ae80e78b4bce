/* test_proc: engine/proc (child processes on a libuv loop) — exit codes and signals, stdout and
 * stderr capture and truncation, stdin, environment, working directory, resource limits, spawn
 * errors, and killing a process tree (SIGTERM, then SIGKILL for a child that ignores it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/proc.h"

typedef struct run_state {
    int done;
    df_spawn_result res;
    df_proc *proc;
    uint64_t done_at;
} run_state;

static void on_done(df_proc *proc, df_spawn_result *res, void *ud)
{
    run_state *st = ud;
    (void)proc;
    st->res = *res;
    st->done = 1;
    st->done_at = df_mono_ms();
}

static void on_kill_timer(uv_timer_t *t)
{
    run_state *st = t->data;
    if (!st->done)
        df_proc_kill(st->proc);
}

/* Runs one child to completion on a private loop. kill_after_ms > 0 kills it then. Returns
 * df_proc_run's code; on 0, st->res holds the result (free with df_spawn_result_free). */
static int run(const df_spawn_opts *opts, const char *const *extra, const char *base,
               uint64_t kill_after_ms, run_state *st, char *err, size_t errlen)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(st, 0, sizeof *st);
    int rc = df_proc_run(&loop, opts, extra, base, on_done, st, &st->proc, err, errlen);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = st;
    if (rc == 0 && kill_after_ms)
        uv_timer_start(&t, on_kill_timer, kill_after_ms, 0);
    while (!st->done && rc == 0)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT); /* let the proc's handles close */
    assert_int_equal(uv_loop_close(&loop), 0);
    return rc;
}

static int run_argv(const char *const *argv, run_state *st)
{
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.argv = argv;
    char err[256];
    int rc = run(&o, NULL, NULL, 0, st, err, sizeof err);
    if (rc)
        fail_msg("spawn failed: %s", err);
    return rc;
}

/* Whether any process of group pgid is alive (not a zombie), from /proc. */
static int group_alive(int pgid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return kill(-pgid, 0) == 0;
    struct dirent *e;
    int alive = 0;
    while (!alive && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
            state != 'Z' && state != 'X')
            alive = 1;
    }
    closedir(d);
    return alive;
}

static int wait_group_gone(int pgid, uint64_t timeout_ms)
{
    uint64_t end = df_mono_ms() + timeout_ms;
    while (group_alive(pgid) && df_mono_ms() < end)
        usleep(10000);
    return !group_alive(pgid);
}

static void test_exit_code_and_output(void **state)
{
    (void)state;
    run_state st;
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2; printf 'no newline'; exit 3", NULL};
    run_argv(argv, &st);
    assert_int_equal(st.res.exit_code, 3);
    assert_int_equal(st.res.term_signal, 0);
    assert_int_equal(st.res.cancelled, 0);
    assert_string_equal(st.res.stdout_data, "out\nno newline");
    assert_int_equal(st.res.stdout_len, strlen("out\nno newline"));
    assert_string_equal(st.res.stderr_data, "err\n");
    assert_int_equal(st.res.stdout_truncated, 0);
    df_spawn_result_free(&st.res);

    const char *ok[] = {"true", NULL};
    run_argv(ok, &st);
    assert_int_equal(st.res.exit_code, 0);
    assert_string_equal(st.res.stdout_data, ""); /* always an allocated, NUL-terminated buffer */
    assert_string_equal(st.res.stderr_data, "");
    df_spawn_result_free(&st.res);

    const char *sig[] = {"sh", "-c", "kill -9 $$", NULL};
    run_argv(sig, &st);
    assert_int_equal(st.res.exit_code, -1);
    assert_int_equal(st.res.term_signal, SIGKILL);
    df_spawn_result_free(&st.res);
}

static void test_capture_truncation_keeps_first_bytes(void **state)
{
    (void)state;
    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    /* 300 KB on stdout (more than a pipe holds), a little on stderr */
    const char *argv[] = {"sh", "-c",
                          "i=0; while [ $i -lt 3000 ]; do printf '%099d\\n' $i; i=$((i+1)); done; "
                          "echo tail >&2",
                          NULL};
    o.argv = argv;
    o.capture_max = 1000;
    char err[256];
    assert_int_equal(run(&o, NULL, NULL, 0, &st, err, sizeof err), 0);
    assert_int_equal(st.res.exit_code, 0); /* the child was never blocked */
    assert_int_equal(st.res.stdout_len, 1000);
    assert_int_equal(strlen(st.res.stdout_data), 1000);
    assert_int_equal(st.res.stdout_truncated, 1);
    assert_int_equal(strncmp(st.res.stdout_data, "000000", 6), 0); /* the first bytes */
    assert_string_equal(st.res.stderr_data, "tail\n");
    assert_int_equal(st.res.stderr_truncated, 0);
    df_spawn_result_free(&st.res);

    /* default cap: 1 MiB */
    const char *big[] = {"sh", "-c", "head -c 1200000 /dev/zero | tr '\\0' a", NULL};
    run_argv(big, &st);
    assert_int_equal(st.res.stdout_len, DF_PROC_CAPTURE_DEFAULT);
    assert_int_equal(st.res.stdout_truncated, 1);
    df_spawn_result_free(&st.res);
}

static void test_stdin(void **state)
{
    (void)state;
    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *cat[] = {"cat", NULL};
    o.argv = cat;
    o.stdin_data = "hello\nworld";
    o.stdin_len = strlen(o.stdin_data);
    char err[256];
    assert_int_equal(run(&o, NULL, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "hello\nworld");
    df_spawn_result_free(&st.res);

    /* more than a pipe buffer */
    size_t n = 300000;
    char *data = malloc(n);
    memset(data, 'z', n);
    const char *wc[] = {"wc", "-c", NULL};
    o.argv = wc;
    o.stdin_data = data;
    o.stdin_len = n;
    assert_int_equal(run(&o, NULL, NULL, 0, &st, err, sizeof err), 0);
    assert_int_equal(atol(st.res.stdout_data), (long)n);
    df_spawn_result_free(&st.res);

    /* a child that never reads its stdin: no SIGPIPE for us */
    const char *tr[] = {"true", NULL};
    o.argv = tr;
    assert_int_equal(run(&o, NULL, NULL, 0, &st, err, sizeof err), 0);
    assert_int_equal(st.res.exit_code, 0);
    df_spawn_result_free(&st.res);
    free(data);

    /* no stdin data: /dev/null, so cat ends at once */
    o.argv = cat;
    o.stdin_data = NULL;
    o.stdin_len = 0;
    assert_int_equal(run(&o, NULL, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "");
    df_spawn_result_free(&st.res);
}

static void test_environment(void **state)
{
    (void)state;
    setenv("DF_TEST_PARENT", "inherited", 1);
    setenv("DF_TEST_OVERRIDE", "parent", 1);
    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *argv[] = {"sh", "-c", "echo $DF_TEST_PARENT $DF_TEST_OVERRIDE $FOO $BAR", NULL};
    const char *env[] = {"FOO=one", "DF_TEST_OVERRIDE=opts", "BAR=x", NULL};
    const char *extra[] = {"BAR=extra wins", NULL};
    o.argv = argv;
    o.env = env;
    char err[256];
    assert_int_equal(run(&o, extra, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "inherited opts one extra wins\n");
    df_spawn_result_free(&st.res);
    /* each key once */
    const char *count[] = {"sh", "-c", "env | grep -c '^DF_TEST_OVERRIDE='", NULL};
    o.argv = count;
    assert_int_equal(run(&o, extra, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "1\n");
    df_spawn_result_free(&st.res);
}

static void test_working_directory(void **state)
{
    (void)state;
    char base[] = "/tmp/df_test_proc_XXXXXX";
    assert_non_null(mkdtemp(base));
    char sub[512];
    snprintf(sub, sizeof sub, "%s/sub", base);
    assert_int_equal(mkdir(sub, 0755), 0);
    char base_real[4096], sub_real[4096];
    assert_non_null(realpath(base, base_real));
    assert_non_null(realpath(sub, sub_real));

    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *argv[] = {"pwd", "-P", NULL};
    o.argv = argv;
    char err[256], want[4200];
    assert_int_equal(run(&o, NULL, base, 0, &st, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s\n", base_real);
    assert_string_equal(st.res.stdout_data, want);
    df_spawn_result_free(&st.res);

    o.cwd = "sub"; /* relative to base */
    assert_int_equal(run(&o, NULL, base, 0, &st, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s\n", sub_real);
    assert_string_equal(st.res.stdout_data, want);
    df_spawn_result_free(&st.res);

    o.cwd = "/";
    assert_int_equal(run(&o, NULL, base, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "/\n");
    df_spawn_result_free(&st.res);

    /* a script relative to the working directory */
    char script[600];
    snprintf(script, sizeof script, "%s/hello.sh", sub);
    FILE *f = fopen(script, "w");
    fputs("#!/bin/sh\necho hello from $(basename $(pwd))\n", f);
    fclose(f);
    chmod(script, 0755);
    const char *rel[] = {"./hello.sh", NULL};
    o.argv = rel;
    o.cwd = "sub";
    assert_int_equal(run(&o, NULL, base, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "hello from sub\n");
    df_spawn_result_free(&st.res);

    o.argv = argv;
    o.cwd = "missing";
    int rc = run(&o, NULL, base, 0, &st, err, sizeof err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, "working directory"));
    assert_non_null(strstr(err, "no such file or directory"));

    unlink(script);
    rmdir(sub);
    rmdir(base);
}

static void test_spawn_errors(void **state)
{
    (void)state;
    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *argv[] = {"./definitely-not-here", NULL};
    o.argv = argv;
    char err[256] = "";
    int rc = run(&o, NULL, "/tmp", 0, &st, err, sizeof err);
    assert_int_equal(rc, UV_ENOENT);
    assert_string_equal(err, "spawn ./definitely-not-here: no such file or directory");
    assert_int_equal(st.done, 0);

    const char *inpath[] = {"no-such-program-dagflow", NULL};
    o.argv = inpath;
    rc = run(&o, NULL, NULL, 0, &st, err, sizeof err);
    assert_int_equal(rc, UV_ENOENT);
    assert_string_equal(err, "spawn no-such-program-dagflow: no such file or directory");

    /* the same through the limits wrapper */
    o.argv = argv;
    o.limit_open_files = 64;
    rc = run(&o, NULL, "/tmp", 0, &st, err, sizeof err);
    assert_int_equal(rc, UV_ENOENT);
    assert_string_equal(err, "spawn ./definitely-not-here: no such file or directory");

    /* not executable */
    char path[] = "/tmp/df_test_noexec_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *noexec[] = {path, NULL};
    o.argv = noexec;
    o.limit_open_files = 0;
    rc = run(&o, NULL, NULL, 0, &st, err, sizeof err);
    assert_int_equal(rc, UV_EACCES);
    assert_non_null(strstr(err, "permission denied"));
    unlink(path);
}

static void test_resource_limits(void **state)
{
    (void)state;
    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *argv[] = {"sh", "-c", "ulimit -t; ulimit -v; ulimit -n", NULL};
    o.argv = argv;
    o.limit_cpu_seconds = 7;
    o.limit_memory_mb = 64;
    o.limit_open_files = 16;
    char err[256];
    assert_int_equal(run(&o, NULL, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "7\n65536\n16\n");
    df_spawn_result_free(&st.res);

    /* a greedy child fails under a memory limit */
    const char *greedy[] = {"awk",
                            "BEGIN { s = \"x\"; for (i = 0; i < 28; i++) s = s s; "
                            "print length(s) }",
                            NULL};
    o.argv = greedy;
    o.limit_cpu_seconds = 0;
    o.limit_open_files = 0;
    o.limit_memory_mb = 64;
    assert_int_equal(run(&o, NULL, NULL, 0, &st, err, sizeof err), 0);
    assert_int_not_equal(st.res.exit_code, 0);
    df_spawn_result_free(&st.res);
}

/* `sh -c 'sleep 30 & sleep 30'` killed: SIGTERM reaches the whole group, nothing survives. */
static void test_kill_process_tree(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    run_state st;
    memset(&st, 0, sizeof st);
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
    o.argv = argv;
    char err[256];
    assert_int_equal(df_proc_run(&loop, &o, NULL, NULL, on_done, &st, &st.proc, err, sizeof err),
                     0);
    int pgid = df_proc_pid(st.proc);
    assert_true(pgid > 0);
    assert_int_equal(getpgid(pgid), pgid); /* leads its own group */
    assert_int_not_equal(getpgid(pgid), getpgrp());
    usleep(200 * 1000);
    assert_true(group_alive(pgid));
    uint64_t t0 = df_mono_ms();
    df_proc_kill(st.proc);
    df_proc_kill(st.proc); /* idempotent */
    while (!st.done)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_true(st.done_at - t0 < 1500); /* no SIGKILL needed */
    assert_int_equal(st.res.cancelled, 1);
    assert_int_equal(st.res.term_signal, SIGTERM);
    assert_int_equal(st.res.exit_code, -1);
    assert_true(wait_group_gone(pgid, 2000));
    df_spawn_result_free(&st.res);
}

static void test_kill_after_leader_exited_with_pipe_held(void **state)
{
    (void)state;
    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    /* the leader exits at once; a background child keeps stdout open */
    const char *argv[] = {"sh", "-c", "sleep 30 & echo started", NULL};
    o.argv = argv;
    char err[256];
    uint64_t t0 = df_mono_ms();
    assert_int_equal(run(&o, NULL, NULL, 300, &st, err, sizeof err), 0);
    assert_true(st.done_at - t0 >= 250); /* waited for the pipe */
    assert_true(st.done_at - t0 < 1500); /* the kill reached the background child */
    assert_int_equal(st.res.exit_code, 0);
    assert_int_equal(st.res.cancelled, 1);
    assert_string_equal(st.res.stdout_data, "started\n");
    df_spawn_result_free(&st.res);
}

static void test_sigterm_ignored_gets_sigkill(void **state)
{
    (void)state;
    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *argv[] = {"sh", "-c", "trap '' TERM; sleep 30", NULL};
    o.argv = argv;
    char err[256];
    uint64_t t0 = df_mono_ms();
    assert_int_equal(run(&o, NULL, NULL, 100, &st, err, sizeof err), 0);
    uint64_t took = st.done_at - t0;
    assert_true(took >= 100 + DF_PROC_KILL_GRACE_MS - 100);
    assert_true(took < 100 + DF_PROC_KILL_GRACE_MS + 1500);
    assert_int_equal(st.res.term_signal, SIGKILL);
    assert_int_equal(st.res.cancelled, 1);
    df_spawn_result_free(&st.res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_code_and_output),
        cmocka_unit_test(test_capture_truncation_keeps_first_bytes),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_working_directory),
        cmocka_unit_test(test_spawn_errors),
        cmocka_unit_test(test_resource_limits),
        cmocka_unit_test(test_kill_process_tree),
        cmocka_unit_test(test_kill_after_leader_exited_with_pipe_held),
        cmocka_unit_test(test_sigterm_ignored_gets_sigkill),
    };
    if (getenv("DF_TEST_FILTER"))
        cmocka_set_test_filter(getenv("DF_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
