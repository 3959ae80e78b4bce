/* proc: child processes on a libuv loop — start them with posix_spawn (or uv_spawn as a
 * fallback) in a new session and process group, watch their exit through a pidfd, capture
 * stdout/stderr, feed stdin, apply resource limits through a /bin/sh exec wrapper, kill the group
 * with SIGTERM then SIGKILL (see proc.h for the contract). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "path.h"
#include "proc_argv.h"
#include "proc_cgroup.h"
#include "proc_limits.h"
#include "proc_env.h"
#include "proc_registry.h"
#include "proc_spawn.h"

#define READ_CHUNK 65536

/* How long after the child's exit its pipes are still read when a process it left running holds
 * them open (see on_drain_timer). */
#define DF_PROC_DRAIN_MS 500

enum { BACKEND_SPAWN, BACKEND_UV };

typedef struct capture {
    uv_pipe_t pipe;
    int open; /* still reading (no EOF yet) */
    char *data;
    size_t len, cap;
    int truncated;
    char buf[READ_CHUNK];
} capture;

struct df_proc {
    uv_loop_t *loop;
    int backend;
    uv_process_t process; /* BACKEND_UV: libuv spawned and reaps the child */
    uv_poll_t exit_poll;  /* BACKEND_SPAWN: readable when the child has exited */
    int pidfd;            /* BACKEND_SPAWN: watched by exit_poll, closed with it */
    int exit_watch;       /* 1 once process or exit_poll must be closed */
    uv_pipe_t in;
    uv_write_t write_req;
    uv_timer_t kill_timer;
    capture out, err;
    char *stdin_copy;
    size_t capture_max;
    int in_open;
    int pid;
    int exited;
    int64_t exit_status;
    int term_signal;
    int kill_requested;
    int sigkill_sent;
    int completed;
    int handles;             /* handles initialised and not yet closed */
    char *cgroup;            /* its control group's directory (proc_cgroup.h), or NULL */
    df_limit_groups limits;  /* v1 groups holding its whole-task limits (proc_limits.h) */
    uint64_t cpu_limit_usec; /* whole-task cpu_seconds, watched by df_proc_escalate; 0: none */
    int cpu_killed;          /* df_proc_escalate SIGKILLed it for cpu_limit_usec */
    df_proc_done_fn done;
    void *ud;
};

/* See proc.h. */
void df_proc_set_owner(df_proc *p, const void *group, uint64_t id)
{
    if (p)
        df_proc_reg_set_owner(p->pid, group, id);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int pidfd_works; /* pidfd_open is available (probed once) */

static void init_process_wide(void)
{
    signal(SIGPIPE, SIG_IGN);
#if HAVE_SPAWN_BACKEND
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd >= 0) {
        pidfd_works = 1;
        close(fd);
    }
#endif
}

/* A SIGCHLD set to SIG_IGN (or SA_NOCLDWAIT) makes the kernel reap children itself and their
 * exit status is lost; put the default disposition back, as libuv's own SIGCHLD handler would. */
static void keep_exit_statuses(void)
{
    struct sigaction sa;
    if (sigaction(SIGCHLD, NULL, &sa) != 0)
        return;
    if (sa.sa_handler == SIG_IGN || (sa.sa_handler == SIG_DFL && (sa.sa_flags & SA_NOCLDWAIT))) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGCHLD, &sa, NULL);
    }
}

static void proc_free(df_proc *p)
{
    free(p->out.data);
    free(p->err.data);
    free(p->stdin_copy);
    free(p->cgroup);
    df_limits_release(&p->limits);
    free(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    df_proc *p = h->data;
    if (--p->handles == 0)
        proc_free(p);
}

static void on_exit_poll_closed(uv_handle_t *h)
{
    df_proc *p = h->data;
    if (p->pidfd >= 0) {
        close(p->pidfd);
        p->pidfd = -1;
    }
    on_handle_closed(h);
}

static void close_handle(df_proc *p, uv_handle_t *h)
{
    (void)p;
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* Closes every handle still open; the struct is freed when the last close callback ran. */
static void proc_close_all(df_proc *p)
{
    if (p->exit_watch) {
        if (p->backend == BACKEND_UV)
            close_handle(p, (uv_handle_t *)&p->process);
        else if (!uv_is_closing((uv_handle_t *)&p->exit_poll))
            uv_close((uv_handle_t *)&p->exit_poll, on_exit_poll_closed);
    }
    close_handle(p, (uv_handle_t *)&p->kill_timer);
    close_handle(p, (uv_handle_t *)&p->out.pipe);
    close_handle(p, (uv_handle_t *)&p->err.pipe);
    if (p->in_open >= 0)
        close_handle(p, (uv_handle_t *)&p->in);
}

static char *take_buffer(capture *c, size_t *len)
{
    char *d = c->data;
    if (!d || c->len + 1 > c->cap) {
        char *nd = realloc(d, c->len + 1);
        if (!nd) { /* cannot add the NUL: give up one byte rather than fail */
            if (d && c->len)
                c->len--;
            nd = d;
        }
        d = nd;
    }
    if (d)
        d[c->len] = '\0';
    *len = d ? c->len : 0;
    c->data = NULL;
    c->len = c->cap = 0;
    return d;
}

static void capture_append(df_proc *p, capture *c, const char *data, size_t n)
{
    size_t room = p->capture_max > c->len ? p->capture_max - c->len : 0;
    size_t take = n < room ? n : room;
    if (take < n)
        c->truncated = 1;
    if (!take)
        return;
    if (c->len + take > c->cap) {
        size_t ncap = c->cap ? c->cap : 4096;
        while (ncap < c->len + take)
            ncap *= 2;
        if (ncap > p->capture_max)
            ncap = p->capture_max;
        char *nd = realloc(c->data, ncap);
        if (!nd) { /* keep what we have; count the rest as dropped */
            c->truncated = 1;
            return;
        }
        c->data = nd;
        c->cap = ncap;
    }
    memcpy(c->data + c->len, data, take);
    c->len += take;
}

static void maybe_complete(df_proc *p)
{
    if (p->completed || !p->exited || p->out.open || p->err.open)
        return;
    p->completed = 1;
    uv_timer_stop(&p->kill_timer);
    if (p->cpu_killed) { /* said where a task's error shows it: the tail of stderr */
        char note[160];
        int n = snprintf(note, sizeof note,
                         "\ndagflow: killed: limits.cpu_seconds %llu used up by the task's "
                         "processes together\n",
                         (unsigned long long)(p->cpu_limit_usec / 1000000u));
        capture_append(p, &p->err, note, (size_t)n);
    }
    df_spawn_result res;
    memset(&res, 0, sizeof res);
    res.size = sizeof res; /* every field is there (df_spawn_result_free reads size) */
    res.term_signal = p->term_signal;
    res.exit_code = p->term_signal ? -1 : p->exit_status;
    res.cancelled = p->kill_requested;
    res.stdout_truncated = p->out.truncated;
    res.stderr_truncated = p->err.truncated;
    res.stdout_data = take_buffer(&p->out, &res.stdout_len);
    res.stderr_data = take_buffer(&p->err, &res.stderr_len);
    p->done(p, &res, p->ud);
    proc_close_all(p);
}

/* Stops reading a pipe (EOF, error, or giving up after SIGKILL). */
static void capture_stop(df_proc *p, capture *c)
{
    if (!c->open)
        return;
    c->open = 0;
    uv_read_stop((uv_stream_t *)&c->pipe);
    close_handle(p, (uv_handle_t *)&c->pipe);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    capture *c = (capture *)((char *)h - offsetof(capture, pipe));
    buf->base = c->buf;
    buf->len = sizeof c->buf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    df_proc *p = s->data;
    capture *c = (capture *)((char *)s - offsetof(capture, pipe));
    if (nread > 0) {
        capture_append(p, c, buf->base, (size_t)nread);
        return;
    }
    if (nread < 0) { /* UV_EOF or an error: either way this pipe is done */
        capture_stop(p, c);
        maybe_complete(p);
    }
}

/* Reads what is already in c's pipe (non-blocking, at most 64 reads: what the child wrote before
 * it exited is there whole, a background writer cannot keep this going). */
static void capture_drain(df_proc *p, capture *c)
{
    uv_os_fd_t fd;
    if (!c->open || uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0)
        return;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0))
        return; /* a blocking read would wait for the background holder */
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(fd, c->buf, sizeof c->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        capture_append(p, c, c->buf, (size_t)n);
    }
}

/* The child exited DF_PROC_DRAIN_MS ago and a pipe is still open: a process it left running in
 * the background holds it (a server started with "&", nohup or setsid). The attempt ends as the
 * shell did in a terminal: what is in the pipes is read, and reading stops. */
static void on_drain_timer(uv_timer_t *t)
{
    df_proc *p = t->data;
    capture_drain(p, &p->out);
    capture_drain(p, &p->err);
    capture_stop(p, &p->out);
    capture_stop(p, &p->err);
    maybe_complete(p);
}

static void child_exited(df_proc *p, int64_t exit_status, int term_signal)
{
    p->cpu_killed = df_proc_reg_remove(p->pid);
    /* What it left running in its control group (a server started in the background) may run
     * on; the group is removed when empty, else at the pool's end (df_proc_kill_owned_now). */
    if (p->cgroup) {
        if (rmdir(p->cgroup) != 0)
            df_proc_reg_linger(p->cgroup);
        else
            free(p->cgroup);
        p->cgroup = NULL;
    }
    for (size_t i = 0; i < p->limits.n; i++) /* likewise the groups of its limits */
        if (rmdir(p->limits.dirs[i]) != 0)
            df_proc_reg_linger(p->limits.dirs[i]);
        else
            free(p->limits.dirs[i]);
    p->limits.n = 0;
    p->exited = 1;
    p->exit_status = exit_status;
    p->term_signal = term_signal;
    if (p->sigkill_sent) { /* killed: do not wait for escaped holders of the pipes */
        capture_stop(p, &p->out);
        capture_stop(p, &p->err);
    } else if ((p->out.open || p->err.open) && !p->kill_requested) {
        /* EOF normally follows at once; a background holder of the pipes must not keep the
         * attempt running (a kill's own timer stops the reading after its grace) */
        uv_timer_start(&p->kill_timer, on_drain_timer, DF_PROC_DRAIN_MS, 0);
    }
    maybe_complete(p);
}

/* BACKEND_UV: libuv reaped the child (its SIGCHLD handler, waitpid on this pid). */
static void on_uv_child_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    child_exited(proc->data, exit_status, term_signal);
}

#if HAVE_SPAWN_BACKEND
/* BACKEND_SPAWN: the pidfd is readable once the child has exited; reap exactly this pid. */
static void on_pidfd(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    df_proc *p = h->data;
    if (p->exited)
        return;
    int st = 0;
    pid_t r;
    do
        r = waitpid(p->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) { /* not exited after all: keep watching (restarts a poll stopped by an error) */
        uv_poll_start(h, UV_READABLE, on_pidfd);
        return;
    }
    uv_poll_stop(h);
    if (r < 0) /* ECHILD: someone else reaped it and its status is gone */
        child_exited(p, -1, 0);
    else if (WIFSIGNALED(st))
        child_exited(p, 0, WTERMSIG(st));
    else
        child_exited(p, WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
}
#endif

static void on_write(uv_write_t *req, int status)
{
    (void)status; /* EPIPE (the child did not read) and ECANCELED are fine */
    df_proc *p = req->data;
    if (p->in_open > 0) {
        p->in_open = 0;
        close_handle(p, (uv_handle_t *)&p->in);
    }
}

static void signal_group(df_proc *p, int sig)
{
    /* The child leads its own group (setsid), so -pid reaches every process it started that did
     * not leave the group. The pid cannot be reused before we reaped it (exited). */
    if (kill(-p->pid, sig) != 0 && !p->exited)
        kill(p->pid, sig);
    df_cgroup_signal(p->cgroup, sig); /* what left the group (setsid) */
}

static void on_kill_timer(uv_timer_t *t)
{
    df_proc *p = t->data;
    p->sigkill_sent = 1;
    signal_group(p, SIGKILL);
    if (p->exited) {
        capture_stop(p, &p->out);
        capture_stop(p, &p->err);
        maybe_complete(p);
    }
}

/* See proc.h: SIGTERM to the group now, SIGKILL after DF_PROC_KILL_GRACE_MS. */
void df_proc_kill(df_proc *p)
{
    if (!p || p->completed || p->kill_requested)
        return;
    p->kill_requested = 1;
    /* SIGTERM once: df_proc_kill_owned (another thread) may have sent it already. */
    if (!df_proc_reg_mark_killed(p->pid))
        signal_group(p, SIGTERM);
    uv_timer_start(&p->kill_timer, on_kill_timer, DF_PROC_KILL_GRACE_MS, 0);
}

/* See proc.h; -1 for NULL. */
int df_proc_pid(const df_proc *p)
{
    return p ? p->pid : -1;
}

const char *df_proc_cgroup(const df_proc *p)
{
    return p ? p->cgroup : NULL;
}

/* ---- spawning ---- */

/* Lists the started child p->pid in the registry, with its whole-task cpu limit. */
static void listed(df_proc *p)
{
    df_proc_reg_add(p->pid, p->cgroup);
    if (p->cpu_limit_usec)
        df_proc_reg_cpu_limit(p->pid, p->limits.cpu_usage, p->limits.cpu_usage_v2,
                              p->cpu_limit_usec);
}

#if HAVE_SPAWN_BACKEND
/* Watches p's child for its exit through a pidfd. Only we reap this pid (libuv's SIGCHLD handler
 * waits for its own pids only), so it stays a zombie until then and the pidfd refers to it even
 * if it has already exited. Returns 0 or a libuv error. */
static int watch_exit(df_proc *p)
{
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    int rc = p->pidfd >= 0 ? 0 : uv_translate_sys_error(errno);
    if (rc)
        return rc;
    rc = uv_poll_init(p->loop, &p->exit_poll, p->pidfd);
    if (rc) {
        close(p->pidfd);
        p->pidfd = -1;
        return rc;
    }
    p->exit_poll.data = p;
    p->exit_watch = 1;
    p->handles++;
    return uv_poll_start(&p->exit_poll, UV_READABLE, on_pidfd);
}

/* Starts the child of p with posix_spawn and watches its pidfd. args[0] is what to look up.
 * 0, or a libuv error with err filled (the child is then not running, nothing of p is started
 * but its handles, which the caller closes). */
static int start_posix(df_proc *p, char **args, char **env, const char *cwd, const char *argv0,
                       int wrapped, char *err, size_t errlen)
{
    int rc;
    char *path = NULL;
    if (wrapped) { /* args[0] is /bin/sh; argv0 was checked by the caller */
        path = strdup(args[0]);
        rc = path ? 0 : UV_ENOMEM;
    } else {
        rc = df_proc_find_program(args[0], cwd, env, &path);
    }
    if (rc) {
        snprintf(err, errlen, "spawn %s: %s", argv0, uv_strerror(rc));
        return rc;
    }
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    rc = df_proc_pipe(out);
    if (!rc && (rc = df_proc_pipe(er)) != 0) {
        close(out[0]);
        close(out[1]);
    }
    if (!rc && p->in_open > 0 && (rc = df_proc_pipe(in)) != 0) {
        close(out[0]);
        close(out[1]);
        close(er[0]);
        close(er[1]);
    }
    if (rc) {
        free(path);
        snprintf(err, errlen, "spawn %s: %s", argv0, uv_strerror(rc));
        return rc;
    }
    /* the parent's ends go to the loop first: nothing can fail after the child runs but the
     * pidfd */
    int r1 = uv_pipe_open(&p->out.pipe, out[0]);
    int r2 = uv_pipe_open(&p->err.pipe, er[0]);
    int r3 = p->in_open > 0 ? uv_pipe_open(&p->in, in[1]) : 0;
    if (r1 || r2 || r3) {
        rc = r1 ? r1 : r2 ? r2 : r3;
        if (r1)
            close(out[0]); /* an opened one is closed with its handle */
        if (r2)
            close(er[0]);
        if (r3)
            close(in[1]);
        close(out[1]);
        close(er[1]);
        if (in[0] >= 0)
            close(in[0]);
        free(path);
        snprintf(err, errlen, "spawn %s: %s", argv0, uv_strerror(rc));
        return rc;
    }

    pid_t pid = 0;
    int e = df_proc_spawn(path, args, env, cwd, in[0], out[1], er[1], wrapped, &pid);
    free(path);
    close(out[1]);
    close(er[1]);
    if (in[0] >= 0)
        close(in[0]);
    if (e) {
        rc = uv_translate_sys_error(e);
        snprintf(err, errlen, "spawn %s: %s", argv0, uv_strerror(rc));
        return rc;
    }
    p->pid = pid;
    listed(p);
    rc = watch_exit(p);
    if (rc) { /* cannot watch it: do not leave it running unreaped */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        df_proc_reg_remove(pid);
        snprintf(err, errlen, "spawn %s: %s", argv0, uv_strerror(rc));
        return rc;
    }
    return 0;
}
#endif

/* Starts the child of p with uv_spawn (fork in libuv 1.44; libuv reaps it). Same contract as
 * start_posix. */
static int start_uv(df_proc *p, char **args, char **env, const char *cwd, const char *argv0,
                    char *err, size_t errlen)
{
    uv_stdio_container_t stdio[3];
    if (p->in_open > 0) {
        stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
        stdio[0].data.stream = (uv_stream_t *)&p->in;
    } else {
        stdio[0].flags = UV_IGNORE;
    }
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&p->out.pipe;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&p->err.pipe;

    uv_process_options_t po;
    memset(&po, 0, sizeof po);
    po.exit_cb = on_uv_child_exit;
    po.file = args[0];
    po.args = args;
    po.env = env;
    po.cwd = cwd;
    po.flags = UV_PROCESS_DETACHED;
    po.stdio_count = 3;
    po.stdio = stdio;
    p->exit_watch = 1;
    p->handles++; /* the process handle must be closed whether or not spawn succeeds */
    int rc = uv_spawn(p->loop, &p->process, &po);
    p->process.data = p;
    if (rc) {
        snprintf(err, errlen, "spawn %s: %s", argv0, uv_strerror(rc));
        return rc;
    }
    p->pid = p->process.pid;
    listed(p);
    return 0;
}

static int use_uv_backend(void)
{
    if (!pidfd_works || !HAVE_SPAWN_BACKEND)
        return 1;
    const char *b = getenv("DAGFLOW_PROC_BACKEND");
    return b && strcmp(b, "uv_spawn") == 0;
}

/* A tracked child's control group (proc_cgroup.h) and the groups of its whole-task limits
 * (proc_limits.h). Returns 0, or UV_EINVAL with err filled when a limit cannot be had. */
static int make_groups(df_proc *p, const df_spawn_opts *opts, int tracked, char *err, size_t errlen)
{
    if (!tracked)
        return 0;
    p->cgroup = df_cgroup_new();
    if ((opts->limit_memory_mb || opts->limit_max_processes || opts->limit_cpu_seconds) &&
        df_limits_apply(p->cgroup, opts->limit_memory_mb, opts->limit_max_processes,
                        opts->limit_cpu_seconds, &p->limits, err, errlen) != 0)
        return UV_EINVAL;
    p->cpu_limit_usec = p->limits.cpu_usage ? opts->limit_cpu_seconds * 1000000u : 0;
    return 0;
}

/* A new child record with its handles initialised (not started). NULL on allocation failure. */
static df_proc *proc_new(uv_loop_t *loop, const df_spawn_opts *opts, df_proc_done_fn done, void *ud)
{
    df_proc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    p->done = done;
    p->ud = ud;
    p->pidfd = -1;
    p->backend = use_uv_backend() ? BACKEND_UV : BACKEND_SPAWN;
    p->capture_max = opts->capture_max ? opts->capture_max : DF_PROC_CAPTURE_DEFAULT;
    p->in_open = -1; /* -1: no stdin pipe */
    uv_timer_init(loop, &p->kill_timer);
    uv_pipe_init(loop, &p->out.pipe, 0);
    uv_pipe_init(loop, &p->err.pipe, 0);
    p->kill_timer.data = p;
    p->out.pipe.data = p;
    p->err.pipe.data = p;
    p->handles = 3;
    if (opts->stdin_data) {
        uv_pipe_init(loop, &p->in, 0);
        p->in.data = p;
        p->handles++;
        p->in_open = 1;
    }
    p->write_req.data = p;
    return p;
}

/* A started child: read its output, write its stdin. */
static void start_io(df_proc *p, const df_spawn_opts *opts)
{
    p->out.open = p->err.open = 1;
    /* a pipe that cannot be read counts as closed, so completion never waits for it */
    if (uv_read_start((uv_stream_t *)&p->out.pipe, on_alloc, on_read) != 0)
        capture_stop(p, &p->out);
    if (uv_read_start((uv_stream_t *)&p->err.pipe, on_alloc, on_read) != 0)
        capture_stop(p, &p->err);
    if (!opts->stdin_data)
        return;
    int wr = -1;
    if (opts->stdin_len > 0) {
        p->stdin_copy = malloc(opts->stdin_len);
        if (p->stdin_copy) {
            memcpy(p->stdin_copy, opts->stdin_data, opts->stdin_len);
            uv_buf_t b = uv_buf_init(p->stdin_copy, (unsigned)opts->stdin_len);
            wr = uv_write(&p->write_req, (uv_stream_t *)&p->in, &b, 1, on_write);
        }
    }
    if (wr != 0) { /* nothing to write (or could not): close stdin now */
        p->in_open = 0;
        close_handle(p, (uv_handle_t *)&p->in);
    }
}

/* See proc.h. Order: resolve and check the working directory, build the environment, wrap
 * argv in the sh limits wrapper when a limit is set (checking argv[0] can be executed first,
 * since the wrapper would hide that error), spawn, start reading, write stdin. */
int df_proc_run(uv_loop_t *loop, const df_spawn_opts *opts, const char *const *extra_env,
                const char *base_dir, df_proc_done_fn done, void *ud, df_proc **out, char *err,
                size_t errlen)
{
    return df_proc_run_tracked(loop, opts, extra_env, base_dir, 0, done, ud, out, err, errlen);
}

int df_proc_run_tracked(uv_loop_t *loop, const df_spawn_opts *opts, const char *const *extra_env,
                        const char *base_dir, int tracked, df_proc_done_fn done, void *ud,
                        df_proc **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!loop || !opts || !opts->argv || !opts->argv[0] || !done) {
        snprintf(err, errlen, "spawn: no command given");
        return UV_EINVAL;
    }
    pthread_once(&init_once, init_process_wide);
    keep_exit_statuses();
    const char *argv0 = opts->argv[0];
    char *cwd = NULL;
    int rc = df_proc_resolve_cwd(opts, base_dir, &cwd, err, errlen);
    if (rc != 0)
        return rc;
    char **env = df_proc_build_env(opts->env, extra_env);
    char script[9000] = "", limit_err[512] = "";
    char **args = NULL;
    int wrap = 0;
    df_proc *p = NULL;
    if (!env)
        rc = UV_ENOMEM;
    else if (!(p = proc_new(loop, opts, done, ud)))
        rc = UV_ENOMEM;
    else if ((rc = make_groups(p, opts, tracked, limit_err, sizeof limit_err)) != 0 ||
             (rc = df_proc_build_argv(opts, cwd, env, p->cgroup, &p->limits, script, sizeof script,
                                      &args, &wrap)) != 0) {
        df_cgroup_remove(p->cgroup);
        p->completed = 1;
        p->out.open = p->err.open = 0;
        proc_close_all(p);
        p = NULL;
    }
    if (rc != 0) {
        snprintf(err, errlen, "spawn %s: %s", argv0,
                 limit_err[0]      ? limit_err
                 : rc == UV_ENOMEM ? "out of memory"
                                   : uv_strerror(rc));
        free(args);
        free(env);
        free(cwd);
        return rc;
    }
#if HAVE_SPAWN_BACKEND
    if (p->backend == BACKEND_SPAWN)
        rc = start_posix(p, args, env, cwd, argv0, wrap, err, errlen);
    else
#endif
        rc = start_uv(p, args, env, cwd, argv0, err, errlen);
    free(args);
    free(env);
    free(cwd);
    if (rc != 0) {
        df_cgroup_remove(p->cgroup);
        p->completed = 1;
        p->out.open = p->err.open = 0;
        proc_close_all(p);
        return rc;
    }
    start_io(p, opts);
    if (out)
        *out = p;
    return 0;
}
