/* proc: child processes on a libuv loop — spawn in a new process group, capture stdout/stderr,
 * feed stdin, apply resource limits through a /bin/sh exec wrapper, kill the group with
 * SIGTERM then SIGKILL (see proc.h for the contract). */
#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define READ_CHUNK 65536

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
    uv_process_t process;
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
    int handles; /* handles initialised and not yet closed */
    df_proc_done_fn done;
    void *ud;
};

static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;

static void ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static void proc_free(df_proc *p)
{
    free(p->out.data);
    free(p->err.data);
    free(p->stdin_copy);
    free(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    df_proc *p = h->data;
    if (--p->handles == 0)
        proc_free(p);
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
    close_handle(p, (uv_handle_t *)&p->process);
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

static void maybe_complete(df_proc *p)
{
    if (p->completed || !p->exited || p->out.open || p->err.open)
        return;
    p->completed = 1;
    uv_timer_stop(&p->kill_timer);
    df_spawn_result res;
    memset(&res, 0, sizeof res);
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

static void on_child_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    df_proc *p = proc->data;
    p->exited = 1;
    p->exit_status = exit_status;
    p->term_signal = term_signal;
    if (p->sigkill_sent) { /* killed: do not wait for escaped holders of the pipes */
        capture_stop(p, &p->out);
        capture_stop(p, &p->err);
    }
    maybe_complete(p);
}

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
     * not leave the group. */
    if (kill(-p->pid, sig) != 0 && !p->exited)
        kill(p->pid, sig);
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
    signal_group(p, SIGTERM);
    uv_timer_start(&p->kill_timer, on_kill_timer, DF_PROC_KILL_GRACE_MS, 0);
}

/* See proc.h; -1 for NULL. */
int df_proc_pid(const df_proc *p)
{
    return p ? p->pid : -1;
}

/* ---- spawning ---- */

static size_t key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

static int same_key(const char *a, const char *b)
{
    size_t la = key_len(a);
    return la == key_len(b) && strncmp(a, b, la) == 0;
}

/* The child's environment: environ minus the keys overridden, then the extras (last wins).
 * Borrowed pointers, NULL-terminated; free the array only. */
static char **build_env(const char *const *e1, const char *const *e2)
{
    size_t n = 0, n1 = 0, n2 = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    for (; e1 && e1[n1]; n1++)
        ;
    for (; e2 && e2[n2]; n2++)
        ;
    char **env = calloc(n + n1 + n2 + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    const char *const *lists[2] = {e1, e2};
    size_t lens[2] = {n1, n2};
    for (char **e = environ; e && *e; e++) {
        int overridden = 0;
        for (int l = 0; l < 2 && !overridden; l++)
            for (size_t i = 0; i < lens[l] && !overridden; i++)
                overridden = same_key(*e, lists[l][i]);
        if (!overridden)
            env[k++] = *e;
    }
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lens[l]; i++) {
            if (!strchr(lists[l][i], '='))
                continue;
            /* a later extra with the same key wins: drop earlier extras already copied */
            size_t j = 0;
            for (size_t r = 0; r < k; r++)
                if (!same_key(env[r], lists[l][i]))
                    env[j++] = env[r];
            k = j;
            env[k++] = (char *)lists[l][i];
        }
    env[k] = NULL;
    return env;
}

static const char *env_lookup(char **env, const char *key)
{
    size_t kl = strlen(key);
    for (; env && *env; env++)
        if (strncmp(*env, key, kl) == 0 && (*env)[kl] == '=')
            return *env + kl + 1;
    return NULL;
}

/* Path joined against a base folder when relative. malloc'd. */
static char *resolve_path(const char *base, const char *path)
{
    if (!path)
        return base ? strdup(base) : NULL;
    if (path[0] == '/' || !base || !*base)
        return strdup(path);
    size_t lb = strlen(base), lp = strlen(path);
    char *r = malloc(lb + lp + 2);
    if (!r)
        return NULL;
    memcpy(r, base, lb);
    r[lb] = '/';
    memcpy(r + lb + 1, path, lp + 1);
    return r;
}

/* Whether file can be executed in the child (PATH lookup like execvp). 0 or a libuv error. Only
 * used when the sh wrapper hides exec errors from libuv. */
static int check_executable(const char *file, const char *cwd, char **env)
{
    if (!*file)
        return UV_ENOENT;
    if (strchr(file, '/')) {
        char *p = resolve_path(cwd, file);
        if (!p)
            return UV_ENOMEM;
        int r = access(p, X_OK) == 0 ? 0 : uv_translate_sys_error(errno);
        free(p);
        return r;
    }
    const char *path = env_lookup(env, "PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int best = UV_ENOENT;
    const char *s = path;
    for (;;) {
        const char *colon = strchr(s, ':');
        size_t dl = colon ? (size_t)(colon - s) : strlen(s);
        char dir[4096];
        if (dl == 0)
            snprintf(dir, sizeof dir, ".");
        else
            snprintf(dir, sizeof dir, "%.*s", (int)dl, s);
        char *full = malloc(strlen(dir) + strlen(file) + 2);
        if (!full)
            return UV_ENOMEM;
        sprintf(full, "%s/%s", dir, file);
        char *p = resolve_path(cwd, full);
        free(full);
        if (!p)
            return UV_ENOMEM;
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(p, X_OK) == 0) {
                free(p);
                return 0;
            }
            best = UV_EACCES;
        }
        free(p);
        if (!colon)
            break;
        s = colon + 1;
    }
    return best;
}

/* See proc.h. Order: resolve and check the working directory, build the environment, wrap
 * argv in the sh limits wrapper when a limit is set (checking argv[0] can be executed first,
 * since the wrapper would hide that error), spawn, start reading, write stdin. */
int df_proc_run(uv_loop_t *loop, const df_spawn_opts *opts, const char *const *extra_env,
                const char *base_dir, df_proc_done_fn done, void *ud, df_proc **out, char *err,
                size_t errlen)
{
    if (out)
        *out = NULL;
    if (!loop || !opts || !opts->argv || !opts->argv[0] || !done) {
        snprintf(err, errlen, "spawn: no command given");
        return UV_EINVAL;
    }
    pthread_once(&sigpipe_once, ignore_sigpipe);
    const char *argv0 = opts->argv[0];

    char *cwd = resolve_path(base_dir, opts->cwd);
    if ((opts->cwd || base_dir) && !cwd) {
        snprintf(err, errlen, "spawn %s: out of memory", argv0);
        return UV_ENOMEM;
    }
    if (cwd) {
        struct stat st;
        if (stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
            int e = stat(cwd, &st) != 0 ? uv_translate_sys_error(errno) : UV_ENOTDIR;
            snprintf(err, errlen, "spawn %s: working directory \"%s\": %s", argv0, cwd,
                     uv_strerror(e));
            free(cwd);
            return e;
        }
    }
    char **env = build_env(opts->env, extra_env);
    if (!env) {
        free(cwd);
        snprintf(err, errlen, "spawn %s: out of memory", argv0);
        return UV_ENOMEM;
    }

    /* argv, possibly behind the limits wrapper */
    size_t argc = 0;
    while (opts->argv[argc])
        argc++;
    int wrap = opts->limit_cpu_seconds || opts->limit_memory_mb || opts->limit_open_files;
    char **args = calloc(argc + 4, sizeof *args);
    char script[256] = "";
    int rc = 0;
    if (!args) {
        rc = UV_ENOMEM;
        snprintf(err, errlen, "spawn %s: out of memory", argv0);
        goto fail_early;
    }
    if (wrap) {
        rc = check_executable(argv0, cwd, env);
        if (rc) {
            snprintf(err, errlen, "spawn %s: %s", argv0, uv_strerror(rc));
            goto fail_early;
        }
        size_t o = 0;
        if (opts->limit_cpu_seconds)
            o += (size_t)snprintf(script + o, sizeof script - o, "ulimit -t %llu && ",
                                  (unsigned long long)opts->limit_cpu_seconds);
        if (opts->limit_memory_mb)
            o += (size_t)snprintf(script + o, sizeof script - o, "ulimit -v %llu && ",
                                  (unsigned long long)opts->limit_memory_mb * 1024ull);
        if (opts->limit_open_files)
            o += (size_t)snprintf(script + o, sizeof script - o, "ulimit -n %llu && ",
                                  (unsigned long long)opts->limit_open_files);
        snprintf(script + o, sizeof script - o, "exec \"$0\" \"$@\"");
        args[0] = "/bin/sh";
        args[1] = "-c";
        args[2] = script;
        for (size_t i = 0; i < argc; i++)
            args[3 + i] = (char *)opts->argv[i];
    } else {
        for (size_t i = 0; i < argc; i++)
            args[i] = (char *)opts->argv[i];
    }

    df_proc *p = calloc(1, sizeof *p);
    if (!p) {
        rc = UV_ENOMEM;
        snprintf(err, errlen, "spawn %s: out of memory", argv0);
        goto fail_early;
    }
    p->loop = loop;
    p->done = done;
    p->ud = ud;
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

    uv_stdio_container_t stdio[3];
    if (opts->stdin_data) {
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
    po.exit_cb = on_child_exit;
    po.file = args[0];
    po.args = args;
    po.env = env;
    po.cwd = cwd;
    po.flags = UV_PROCESS_DETACHED;
    po.stdio_count = 3;
    po.stdio = stdio;
    p->handles++; /* the process handle must be closed whether or not spawn succeeds */
    rc = uv_spawn(loop, &p->process, &po);
    p->process.data = p;
    free(args);
    free(env);
    free(cwd);
    if (rc != 0) {
        snprintf(err, errlen, "spawn %s: %s", argv0, uv_strerror(rc));
        p->completed = 1;
        p->out.open = p->err.open = 0;
        proc_close_all(p);
        return rc;
    }
    p->pid = p->process.pid;
    p->out.open = p->err.open = 1;
    /* a pipe that cannot be read counts as closed, so completion never waits for it */
    if (uv_read_start((uv_stream_t *)&p->out.pipe, on_alloc, on_read) != 0)
        capture_stop(p, &p->out);
    if (uv_read_start((uv_stream_t *)&p->err.pipe, on_alloc, on_read) != 0)
        capture_stop(p, &p->err);
    if (opts->stdin_data) {
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
    if (out)
        *out = p;
    return 0;

fail_early:
    free(args);
    free(env);
    free(cwd);
    return rc;
}
