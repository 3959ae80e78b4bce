/* test_proc: engine/proc (child processes on a libuv loop) — exit codes and signals, stdout and
 * stderr capture and truncation, stdin, environment, working directory, resource limits, spawn
 * and exec errors (PATH lookup, #!-less scripts), no engine descriptor or ignored/blocked signal
 * reaching the child, the engine's own stdio closed, SIGCHLD ignored, many children at once on
 * several loops and threads (next to plain uv_spawn children), and killing a process tree
 * (SIGTERM, then SIGKILL, with grandchildren holding the pipes); the main ones again through the
 * uv_spawn fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
    /* An entry without "=" passes that variable (or pattern) of the parent through. */
    const char *extra[] = {"BAR=extra wins", "DF_TEST_PAR*", NULL};
    o.argv = argv;
    o.env = env;
    char err[256];
    assert_int_equal(run(&o, extra, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "inherited opts one extra wins\n");
    df_spawn_result_free(&st.res);
    /* Without it the parent's variables stay out (SPEC §12): only the base environment. */
    setenv("DF_TEST_SECRET", "hunter2", 1);
    setenv("LC_DF_TEST", "c", 1);
    const char *extra_none[] = {"BAR=extra wins", NULL};
    const char *show[] = {"sh", "-c",
                          "echo [$DF_TEST_PARENT][$DF_TEST_SECRET][$LC_DF_TEST][${PATH:+p}]", NULL};
    o.argv = show;
    assert_int_equal(run(&o, extra_none, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "[][][c][p]\n");
    df_spawn_result_free(&st.res);
    /* An exact name passes through too, and is not mistaken for an override. */
    const char *extra_name[] = {"DF_TEST_SECRET", NULL};
    assert_int_equal(run(&o, extra_name, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "[][hunter2][c][p]\n");
    df_spawn_result_free(&st.res);
    o.argv = argv;
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
    /* a base folder that ends with '/' is joined with no second one (engine/path.c) */
    char base_slash[64], want_dir[128];
    snprintf(base_slash, sizeof base_slash, "%s/", base);
    snprintf(want_dir, sizeof want_dir, "working directory \"%s/missing\"", base);
    rc = run(&o, NULL, base_slash, 0, &st, err, sizeof err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, want_dir));
    /* sub/./hello.sh: "./" is kept as written, and runs */
    o.argv = rel;
    o.cwd = "sub/";
    assert_int_equal(run(&o, NULL, base_slash, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "hello from sub\n");
    df_spawn_result_free(&st.res);

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
    /* SIGTERM was enough (term_signal below); the bound only shows the kill ended it long before
     * `sleep 30` would have: a loaded machine may delay the wake-up by seconds */
    assert_true(st.done_at - t0 < 10000);
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
    assert_true(st.done_at - t0 >= 250);  /* waited for the pipe */
    assert_true(st.done_at - t0 < 10000); /* the kill reached the background child (not 30 s) */
    assert_int_equal(st.res.exit_code, 0);
    assert_int_equal(st.res.cancelled, 1);
    assert_string_equal(st.res.stdout_data, "started\n");
    df_spawn_result_free(&st.res);
}

/* ---- added with the posix_spawn backend ---- */

/* The fd numbers open in process pid, sorted ascending, into fds; returns how many. */
static int list_fds(int pid, int *fds, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            fds[n++] = atoi(e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort */
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    return n;
}

/* The line of /proc/pid/status starting with key, value only (e.g. "SigIgn"). */
static int status_field(int pid, const char *key, char *out, size_t outlen)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int found = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            char *v = line + kl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(out, outlen, "%s", v);
            found = 0;
            break;
        }
    fclose(f);
    return found;
}

/* The state letter of /proc/pid/stat ('R', 'S', ...), or 0. */
static char proc_state(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' ? rp[2] : 0;
}

static int backend_is_uv(void)
{
    const char *b = getenv("DAGFLOW_PROC_BACKEND");
    return b && strcmp(b, "uv_spawn") == 0;
}

/* A descriptor of the engine (even one opened without O_CLOEXEC on the posix_spawn backend) is
 * not in the child; the child's signals are at their defaults and unblocked even though the
 * engine ignores SIGPIPE and the spawning thread blocks SIGUSR1. */
static void test_child_gets_no_fds_and_default_signals(void **state)
{
    (void)state;
    int leaky = open("/dev/null", backend_is_uv() ? O_RDONLY | O_CLOEXEC : O_RDONLY);
    int cloexec = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(leaky >= 3 && cloexec >= 3);
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);

    uv_loop_t loop;
    uv_loop_init(&loop);
    run_state st;
    memset(&st, 0, sizeof st);
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *argv[] = {"sleep", "30", NULL};
    o.argv = argv;
    o.stdin_data = "x";
    o.stdin_len = 1;
    char err[256];
    assert_int_equal(df_proc_run(&loop, &o, NULL, NULL, on_done, &st, &st.proc, err, sizeof err),
                     0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int pid = df_proc_pid(st.proc);
    assert_true(pid > 0);
    /* let sleep's loader finish with its transient descriptors: wait until it sleeps */
    for (int i = 0; i < 300 && proc_state(pid) != 'S'; i++)
        usleep(10 * 1000);
    usleep(20 * 1000);
    int fds[64];
    int n = list_fds(pid, fds, 64);
    char ign[64] = "", blk[64] = "";
    assert_int_equal(status_field(pid, "SigIgn", ign, sizeof ign), 0);
    assert_int_equal(status_field(pid, "SigBlk", blk, sizeof blk), 0);
    assert_int_equal(getsid(pid), pid); /* a session leader */
    char link[300], target[300];
    snprintf(link, sizeof link, "/proc/%d/fd/1", pid);
    ssize_t tl = readlink(link, target, sizeof target - 1);
    df_proc_kill(st.proc);
    while (!st.done)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    df_spawn_result_free(&st.res);
    close(leaky);
    close(cloexec);

    assert_true(n >= 3);
    assert_int_equal(fds[0], 0);
    assert_int_equal(fds[1], 1);
    assert_int_equal(fds[2], 2);
    if (backend_is_uv()) { /* fork: only descriptors with O_CLOEXEC are kept out */
        for (int i = 3; i < n; i++)
            assert_true(fds[i] != leaky && fds[i] != cloexec);
    } else { /* whatever the engine inherited or opened */
        assert_int_equal(n, 3);
    }
    assert_string_equal(ign, "0000000000000000");
    assert_string_equal(blk, "0000000000000000");
    assert_true(tl > 0);
    target[tl] = '\0';
    if (!backend_is_uv()) /* libuv 1.44 gives its children socketpairs */
        assert_int_equal(strncmp(target, "pipe:", 5), 0);
}

/* Errors only exec itself can find (the checks before it pass) come back from df_proc_run with
 * the usual message; a script without #! is run by /bin/sh, as execvp does. */
static void test_exec_failures_and_shell_fallback(void **state)
{
    (void)state;
    char dir[] = "/tmp/df_test_exec_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char bad[600], plain[600], sub[600];
    snprintf(bad, sizeof bad, "%s/bad-interp", dir);
    snprintf(plain, sizeof plain, "%s/plain", dir);
    snprintf(sub, sizeof sub, "%s/bin", dir);
    FILE *f = fopen(bad, "w");
    fputs("#!/nonexistent/interpreter\necho never\n", f);
    fclose(f);
    chmod(bad, 0755);
    f = fopen(plain, "w");
    fputs("echo plain script \"$1\"\n", f);
    fclose(f);
    chmod(plain, 0755);
    assert_int_equal(mkdir(sub, 0755), 0);

    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    char err[256] = "";
    const char *badv[] = {"./bad-interp", NULL};
    o.argv = badv;
    int rc = run(&o, NULL, dir, 0, &st, err, sizeof err);
    assert_int_equal(rc, UV_ENOENT);
    assert_string_equal(err, "spawn ./bad-interp: no such file or directory");
    assert_int_equal(st.done, 0);

    const char *plainv[] = {"./plain", "arg", NULL};
    o.argv = plainv;
    assert_int_equal(run(&o, NULL, dir, 0, &st, err, sizeof err), 0);
    assert_int_equal(st.res.exit_code, 0);
    assert_string_equal(st.res.stdout_data, "plain script arg\n");
    df_spawn_result_free(&st.res);

    /* PATH is the child's: a program only in the PATH given to it is found; a directory of that
     * name is skipped with EACCES, as execvp reports */
    char path_env[700];
    snprintf(path_env, sizeof path_env, "PATH=%s/bin:%s", dir, dir);
    const char *env[] = {path_env, NULL};
    o.env = env;
    const char *byname[] = {"plain", "found", NULL};
    o.argv = byname;
    assert_int_equal(run(&o, NULL, NULL, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "plain script found\n");
    df_spawn_result_free(&st.res);
    const char *isdir[] = {"bin", NULL};
    o.argv = isdir;
    rc = run(&o, NULL, NULL, 0, &st, err, sizeof err);
    assert_int_equal(rc, UV_EACCES);
    assert_string_equal(err, "spawn bin: permission denied");
    /* a relative PATH entry is relative to the child's working directory */
    const char *relenv[] = {"PATH=.", NULL};
    o.env = relenv;
    o.argv = byname;
    assert_int_equal(run(&o, NULL, dir, 0, &st, err, sizeof err), 0);
    assert_string_equal(st.res.stdout_data, "plain script found\n");
    df_spawn_result_free(&st.res);
    rc = run(&o, NULL, "/", 0, &st, err, sizeof err);
    assert_int_equal(rc, UV_ENOENT);
    assert_string_equal(err, "spawn plain: no such file or directory");

    unlink(bad);
    unlink(plain);
    rmdir(sub);
    rmdir(dir);
}

/* The engine's own 0, 1 and 2 may be closed (a daemon): the pipes then get those numbers in the
 * parent, and the child must still see its stdin/stdout/stderr in the right places. */
static void test_engine_stdio_closed(void **state)
{
    (void)state;
    int save[3];
    for (int i = 0; i < 3; i++) {
        save[i] = fcntl(i, F_DUPFD_CLOEXEC, 10);
        assert_true(save[i] >= 10);
    }
    /* libuv asserts it never closes a fd <= 2 itself: let the loop open its own fds first (the
     * reserve fd for EMFILE is opened with the first stream) */
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_pipe_t warm;
    uv_pipe_init(&loop, &warm, 0);
    uv_close((uv_handle_t *)&warm, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    fflush(stdout);
    fflush(stderr);
    close(0);
    close(1);
    close(2);
    run_state st;
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    const char *argv[] = {"sh", "-c", "read x; echo \"out:$x\"; echo \"err:$x\" >&2", NULL};
    o.argv = argv;
    o.stdin_data = "hello\n";
    o.stdin_len = 6;
    char err[256] = "";
    memset(&st, 0, sizeof st);
    int rc = df_proc_run(&loop, &o, NULL, NULL, on_done, &st, &st.proc, err, sizeof err);
    while (rc == 0 && !st.done)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    int closed = uv_loop_close(&loop);
    for (int i = 0; i < 3; i++) {
        dup2(save[i], i);
        close(save[i]);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(closed, 0);
    assert_int_equal(st.res.exit_code, 0);
    assert_string_equal(st.res.stdout_data, "out:hello\n");
    assert_string_equal(st.res.stderr_data, "err:hello\n");
    df_spawn_result_free(&st.res);
}

/* SIGCHLD set to SIG_IGN would let the kernel discard exit statuses: df_proc_run restores it. */
static void test_sigchld_ignored_status_kept(void **state)
{
    (void)state;
    struct sigaction old, now;
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ign, &old);
    run_state st;
    const char *argv[] = {"sh", "-c", "exit 5", NULL};
    run_argv(argv, &st);
    sigaction(SIGCHLD, NULL, &now);
    sigaction(SIGCHLD, &old, NULL);
    assert_int_equal(st.res.exit_code, 5);
    assert_true(now.sa_handler != SIG_IGN);
    df_spawn_result_free(&st.res);
}

/* ---- many children at once, on several loops in several threads ---- */

#define MT_THREADS 4
#define MT_PER_THREAD 24

typedef struct mt_child {
    run_state st;
    int want_code, want_signal;
    int rc;
} mt_child;

typedef struct mt_thread {
    pthread_t th;
    int index;
    mt_child kids[MT_PER_THREAD];
    int uv_direct; /* also run children through plain uv_spawn on this loop */
    int uv_done, uv_status_ok;
} mt_thread;

static void on_uv_exit(uv_process_t *p, int64_t status, int sig)
{
    mt_thread *t = p->data;
    if (status == 7 && sig == 0)
        t->uv_status_ok++;
    t->uv_done++;
    uv_close((uv_handle_t *)p, (uv_close_cb)free);
}

static void *mt_main(void *arg)
{
    mt_thread *t = arg;
    uv_loop_t loop;
    uv_loop_init(&loop);
    int uv_started = 0;
    for (int i = 0; i < MT_PER_THREAD; i++) {
        mt_child *c = &t->kids[i];
        int code = (t->index * MT_PER_THREAD + i) % 200;
        char script[128];
        df_spawn_opts o;
        memset(&o, 0, sizeof o);
        if (i % 6 == 5) { /* some die of a signal */
            snprintf(script, sizeof script, "echo %d; kill -%d $$", code, i % 12 == 5 ? 15 : 9);
            c->want_code = -1;
            c->want_signal = i % 12 == 5 ? SIGTERM : SIGKILL;
        } else {
            snprintf(script, sizeof script, "echo %d; sleep 0.0%d; exit %d", code, i % 10, code);
            c->want_code = code;
        }
        const char *argv[] = {"sh", "-c", script, NULL};
        o.argv = argv;
        char err[256];
        c->rc = df_proc_run(&loop, &o, NULL, NULL, on_done, &c->st, &c->st.proc, err, sizeof err);
        if (t->uv_direct && i % 4 == 0) {
            uv_process_t *p = calloc(1, sizeof *p);
            const char *uargs[] = {"sh", "-c", "sleep 0.05; exit 7", NULL};
            uv_process_options_t po;
            memset(&po, 0, sizeof po);
            po.file = "sh";
            po.args = (char **)uargs;
            po.exit_cb = on_uv_exit;
            p->data = t;
            if (uv_spawn(&loop, p, &po) == 0)
                uv_started++;
            else
                uv_close((uv_handle_t *)p, (uv_close_cb)free);
        }
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (t->uv_done != uv_started)
        t->uv_status_ok = -1;
    uv_loop_close(&loop);
    return NULL;
}

static void run_many_concurrent(void)
{
    mt_thread *ts = calloc(MT_THREADS, sizeof *ts);
    for (int i = 0; i < MT_THREADS; i++) {
        ts[i].index = i;
        ts[i].uv_direct = i == 0; /* libuv's SIGCHLD handler active at the same time */
        assert_int_equal(pthread_create(&ts[i].th, NULL, mt_main, &ts[i]), 0);
    }
    for (int i = 0; i < MT_THREADS; i++)
        pthread_join(ts[i].th, NULL);
    for (int i = 0; i < MT_THREADS; i++) {
        for (int k = 0; k < MT_PER_THREAD; k++) {
            mt_child *c = &ts[i].kids[k];
            assert_int_equal(c->rc, 0);
            assert_int_equal(c->st.done, 1);
            assert_int_equal(c->st.res.exit_code, c->want_code);
            assert_int_equal(c->st.res.term_signal, c->want_signal);
            char want[16];
            snprintf(want, sizeof want, "%d\n", (i * MT_PER_THREAD + k) % 200);
            assert_string_equal(c->st.res.stdout_data, want);
            df_spawn_result_free(&c->st.res);
        }
    }
    assert_int_equal(ts[0].uv_status_ok, (MT_PER_THREAD + 3) / 4);
    free(ts);
}

static void test_many_children_on_many_loops(void **state)
{
    (void)state;
    run_many_concurrent();
}

/* Killing needs the SIGKILL, three children side by side on one loop (one grace period):
 * - a leader that ignores SIGTERM;
 * - a leader that exits at once while a grandchild in its group, ignoring SIGTERM, keeps its
 *   stdout open: the result waits for the pipe, the SIGKILL ends the grandchild, and the leader's
 *   own exit status is kept;
 * - a leader that exits at once while a grandchild that escaped to its own session keeps the pipe
 *   open: never signalled, so after the SIGKILL the pipes are closed without waiting for it. */
static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Waits up to 10000 ms for DIR/ok (written by a child once its SIGTERM trap is set), then removes
 * it and DIR. */
static bool wait_ready(const char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/ok", dir);
    uint64_t end = df_mono_ms() + 10000;
    while (access(path, F_OK) != 0 && df_mono_ms() < end)
        usleep(10 * 1000);
    bool ok = unlink(path) == 0;
    rmdir(dir);
    return ok;
}

static void test_sigterm_ignored_gets_sigkill(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    run_state leader, in_group, escaped;
    memset(&leader, 0, sizeof leader);
    memset(&in_group, 0, sizeof in_group);
    memset(&escaped, 0, sizeof escaped);
    df_spawn_opts o;
    memset(&o, 0, sizeof o);
    /* each SIGTERM-ignoring shell says when its trap is set (a loaded machine may start it late,
     * and a SIGTERM before the trap would end it at once) */
    char ready0[] = "/tmp/dagflow-test-proc-r0.XXXXXX",
         ready1[] = "/tmp/dagflow-test-proc-r1.XXXXXX";
    assert_true(mkdtemp(ready0) != NULL && mkdtemp(ready1) != NULL);
    const char *a1[] = {"sh", "-c",
                        "(trap '' TERM; : >\"$0/ok\"; sleep 30; echo late) & echo started; exit 4",
                        ready1, NULL};
    const char *a2[] = {"sh", "-c", "setsid sh -c 'echo $$; exec sleep 30' & exit 6", NULL};
    const char *a0[] = {"sh", "-c", "trap '' TERM; : >\"$0/ok\"; sleep 30", ready0, NULL};
    char err[256];
    o.argv = a0;
    assert_int_equal(
        df_proc_run(&loop, &o, NULL, NULL, on_done, &leader, &leader.proc, err, sizeof err), 0);
    o.argv = a1;
    assert_int_equal(
        df_proc_run(&loop, &o, NULL, NULL, on_done, &in_group, &in_group.proc, err, sizeof err), 0);
    o.argv = a2;
    assert_int_equal(
        df_proc_run(&loop, &o, NULL, NULL, on_done, &escaped, &escaped.proc, err, sizeof err), 0);
    int pgid = df_proc_pid(in_group.proc);
    uint64_t t0 = df_mono_ms();
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    /* give both leaders time to exit; neither callback may come while the pipes are held */
    uv_timer_start(&t, stop_loop, 300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(leader.done, 0);
    assert_int_equal(in_group.done, 0);
    assert_int_equal(escaped.done, 0);
    assert_true(wait_ready(ready0) && wait_ready(ready1));
    t0 = df_mono_ms(); /* the kills: the grace is counted from here */
    df_proc_kill(leader.proc);
    df_proc_kill(in_group.proc);
    df_proc_kill(escaped.proc);
    while (!leader.done || !in_group.done || !escaped.done)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    uint64_t took0 = leader.done_at - t0;
    assert_true(took0 >= DF_PROC_KILL_GRACE_MS - 100);
    assert_true(took0 < DF_PROC_KILL_GRACE_MS + 8000);
    assert_int_equal(leader.res.term_signal, SIGKILL);
    assert_int_equal(leader.res.exit_code, -1);
    assert_int_equal(leader.res.cancelled, 1);
    uint64_t took1 = in_group.done_at - t0, took2 = escaped.done_at - t0;
    assert_true(took1 >= DF_PROC_KILL_GRACE_MS - 100);
    assert_true(took1 < DF_PROC_KILL_GRACE_MS + 8000);
    assert_true(took2 >= DF_PROC_KILL_GRACE_MS - 100);
    assert_true(took2 < DF_PROC_KILL_GRACE_MS + 8000);
    assert_int_equal(in_group.res.exit_code, 4); /* the leader's own status, not lost */
    assert_int_equal(in_group.res.term_signal, 0);
    assert_int_equal(in_group.res.cancelled, 1);
    assert_string_equal(in_group.res.stdout_data, "started\n");
    assert_true(wait_group_gone(pgid, 2000));
    assert_int_equal(escaped.res.exit_code, 6);
    assert_int_equal(escaped.res.cancelled, 1);
    int esc = atoi(escaped.res.stdout_data);
    assert_true(esc > 0);
    assert_int_equal(kill(esc, 0), 0); /* it was left alone (another session) */
    kill(esc, SIGKILL);
    df_spawn_result_free(&leader.res);
    df_spawn_result_free(&in_group.res);
    df_spawn_result_free(&escaped.res);
}

/* The uv_spawn fallback keeps the same contract: the main behaviours again through it. */
static void test_uv_spawn_backend(void **state)
{
    setenv("DAGFLOW_PROC_BACKEND", "uv_spawn", 1);
    test_exit_code_and_output(state);
    test_stdin(state);
    test_spawn_errors(state);
    test_exec_failures_and_shell_fallback(state);
    test_child_gets_no_fds_and_default_signals(state);
    test_kill_process_tree(state);
    run_many_concurrent();
    unsetenv("DAGFLOW_PROC_BACKEND");
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
        cmocka_unit_test(test_child_gets_no_fds_and_default_signals),
        cmocka_unit_test(test_exec_failures_and_shell_fallback),
        cmocka_unit_test(test_engine_stdio_closed),
        cmocka_unit_test(test_sigchld_ignored_status_kept),
        cmocka_unit_test(test_many_children_on_many_loops),
        cmocka_unit_test(test_sigterm_ignored_gets_sigkill),
        cmocka_unit_test(test_uv_spawn_backend),
    };
    if (getenv("DF_TEST_FILTER"))
        cmocka_set_test_filter(getenv("DF_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
