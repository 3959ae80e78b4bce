/* crash: the CLI's last words when a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT)
 * raised by a thread running a task's plugin code (a fault, or its own abort(): not a signal sent
 * from outside, which names no culprit) ends the process: one line on stderr naming the task,
 * its run and plugin, whether it overflowed its coroutine stack, and how to continue the run; a
 * crash record naming the task for an engine that resumes the run on this host
 * (df_crash_record_write); and, with a PostgreSQL store, the same culprit sent to the store by a
 * reporter process (`dagflow __crash-report`, cmd_crash_report.c) that the handler starts
 * (_Fork and execve, both async-signal-safe) and waits for (at most DF_CRASH_REPORT_WAIT_MS), so
 * that the engine on any host charges the lost attempt to that task alone (SPEC §12): a worker's
 * claim is marked and recorded LOST and charged at once, an engine's open attempt is charged by
 * whichever engine resumes the run. Then the process dies of the same signal, as it would have.
 * The run itself is safe: every state change it made was committed, and `dagflow resume` (or the
 * engine, for a worker) records the interrupted attempt as LOST and runs it again. A SQLite store
 * gets no reporter: it is used on one host, where the record does, and the dying engine may hold
 * its write lock. Faults outside task code get no message. Not installed under AddressSanitizer,
 * whose own report is more precise. */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* How long a crashing process waits for its reporter (which stops itself after
 * DF_CRASH_REPORT_LIMIT_S, cmd_crash_report.c) before it dies anyway (ms). */
#define DF_CRASH_REPORT_WAIT_MS 12000

#ifndef DF_SANITIZE
/* Appending to a fixed buffer with nothing but stores: the handler may use no stdio. */
typedef struct msg {
    char buf[1024];
    size_t n;
} msg;

static void put(msg *m, const char *s)
{
    while (s && *s && m->n < sizeof m->buf - 1)
        m->buf[m->n++] = *s++;
}

static void put_num(msg *m, unsigned long long v)
{
    char digits[24];
    size_t k = 0;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && k < sizeof digits);
    while (k > 0 && m->n < sizeof m->buf - 1)
        m->buf[m->n++] = digits[--k];
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGILL:
        return "SIGILL";
    case SIGFPE:
        return "SIGFPE";
    case SIGABRT:
        return "SIGABRT";
    default:
        return "a fatal signal";
    }
}

/* " --db PATH --plugin-dir DIR ..." of the command that runs (df_cli_resume_args), for the
 * resume command the message suggests; set once at install time (the handler only copies it). */
static const char *resume_args = "";

/* Set by the first thread that takes a fatal signal: the others wait for it to finish. */
static volatile sig_atomic_t crashing;

/* Prepared by df_cli_crash_install: whether this command is a `dagflow worker` (its crashes are
 * not resumed: no record file, another message), and the reporter's environment (this process's,
 * with DAGFLOW_DB set to the PostgreSQL store; NULL: no reporter). */
static bool is_worker;
static char **report_env;
static df_worker *volatile worker; /* df_cli_crash_worker: stopped from claiming when it crashes */

/* Whether the signal came from this process's own code (a fault, or its own abort()/raise()),
 * not from another process's kill(2) (SPEC §12: an outside signal is charged to nobody). */
static bool own_signal(const siginfo_t *si)
{
    return si && (si->si_code > 0 || si->si_pid == getpid());
}

/* A number in decimal into buf (24 bytes); async-signal-safe. */
static char *num(char *buf, long long v)
{
    msg m = {.n = 0};
    if (v < 0) {
        put(&m, "-");
        v = -v;
    }
    put_num(&m, (unsigned long long)v);
    size_t n = m.n < 23 ? m.n : 23;
    memcpy(buf, m.buf, n);
    buf[n] = '\0';
    return buf;
}

/* Starts the reporter (`dagflow __crash-report PID RUN ATTEMPT MAP_INDEX TASK_ID`, the store in
 * its environment's DAGFLOW_DB) and waits for it, at most DF_CRASH_REPORT_WAIT_MS. Meanwhile
 * the other threads go on (a worker keeps renewing its other leases). Async-signal-safe:
 * _Fork (no atfork handlers, no locks), execve, waitpid, nanosleep, kill. */
static void report(const df_fault_info *fi)
{
    if (!report_env)
        return;
    char pid[24], run[24], att[24], mi[24];
    char *argv[] = {"dagflow",
                    "__crash-report",
                    num(pid, (long long)getpid()),
                    num(run, fi->run_id),
                    num(att, (long long)fi->attempt),
                    num(mi, fi->map_index < 0 ? -1 : fi->map_index),
                    (char *)fi->task_id,
                    NULL};
    pid_t child = _Fork();
    if (child == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the handler's mask is not the reporter's */
        execve("/proc/self/exe", argv, report_env);
        _exit(127);
    }
    if (child < 0)
        return;
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(child, &st, WNOHANG);
        if (r == child || (r < 0 && errno != EINTR))
            return;
        if (waited >= DF_CRASH_REPORT_WAIT_MS) {
            kill(child, SIGKILL);
            while (waitpid(child, &st, 0) < 0 && errno == EINTR)
                ;
            return;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The line that names the crashing task fi in m, for a worker or an engine (async-signal-safe:
 * m's buffer only). */
static void crash_message(msg *m, int sig, const df_fault_info *fi)
{
    put(m, "dagflow: task \"");
    put(m, fi->task_id);
    put(m, "\" (run ");
    put_num(m, (unsigned long long)fi->run_id);
    put(m, ", attempt ");
    put_num(m, fi->attempt);
    if (fi->plugin) {
        put(m, ", plugin \"");
        put(m, fi->plugin);
        put(m, "\"");
    }
    if (fi->stack_overflow && sig == SIGSEGV) {
        put(m, ") overflowed its ");
        put_num(m, fi->stack_size / 1024);
        /* four times the size, within --stack-size's 1G */
        size_t kib = fi->stack_size / 1024, next = kib * 4 > 1024 * 1024 ? 1024 * 1024 : kib * 4;
        if (next > kib) {
            put(m, " KiB coroutine stack and the engine stopped; continue the run with "
                   "bigger stacks: dagflow resume ");
            put_num(m, (unsigned long long)fi->run_id);
            put(m, resume_args);
            put(m, " --stack-size ");
            put_num(m, next);
            put(m, "K\n");
        } else {
            put(m, " KiB coroutine stack (the largest --stack-size) and the engine "
                   "stopped; the plugin must keep big data off its stack (malloc it), then "
                   "continue the run: dagflow resume ");
            put_num(m, (unsigned long long)fi->run_id);
            put(m, resume_args);
            put(m, "\n");
        }
    } else if (is_worker) {
        put(m, ") crashed this worker with ");
        put(m, signal_name(sig));
        put(m, " in the plugin's code; the run's engine records the attempt LOST, charged "
               "to the task (three such losses in a row fail it)\n");
    } else {
        put(m, ") crashed the engine with ");
        put(m, signal_name(sig));
        put(m, " in the plugin's code; once the plugin is fixed, continue the run: dagflow "
               "resume ");
        put_num(m, (unsigned long long)fi->run_id);
        put(m, resume_args);
        put(m, "\n");
    }
    if (m->buf[m->n - 1] != '\n')
        m->buf[m->n++] = '\n';
}

static void on_fatal(int sig, siginfo_t *si, void *uctx)
{
    /* Several threads may fault at once (tasks crashing together): the first one speaks and
     * ends the process; the others stop here, so that neither a second line nor an early death
     * by the default action gets in its way. */
    if (__atomic_exchange_n(&crashing, 1, __ATOMIC_SEQ_CST)) {
        for (;;)
            pause();
    }
    const void *sp = NULL;
#if defined(__x86_64__)
    if (uctx)
        sp = (const void *)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RSP];
#else
    (void)uctx;
#endif
    df_fault_info fi;
    if (own_signal(si) && df_pool_fault_info(si->si_addr, sp, &fi)) {
        /* For the resume on this host: this crash is the task's own code's (SPEC §12). */
        if (!is_worker)
            df_crash_record_write(&fi);
        msg m = {.n = 0};
        crash_message(&m, sig, &fi);
        ssize_t unused = write(STDERR_FILENO, m.buf, m.n);
        (void)unused;
        df_worker *w = worker;
        if (w) /* no more claims while the reporter runs: they would be lost with this process */
            df_worker_stop(w);
        report(&fi); /* for every host: the store */
    }
    /* Die of the same signal: its default action back, then raised (a fault would also re-fault
     * on return; a signal sent by kill(2) would not). */
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

void df_cli_crash_report(const df_fault_info *fi)
{
#ifndef DF_SANITIZE
    if (fi)
        report(fi);
#else
    (void)fi;
#endif
}

void df_cli_crash_worker(df_worker *w)
{
#ifndef DF_SANITIZE
    worker = w;
#else
    (void)w;
#endif
}

#ifndef DF_SANITIZE
extern char **environ;

/* The reporter's environment: this one's, DAGFLOW_DB replaced by db (copied now: the handler may
 * not allocate). NULL when out of memory. */
static char **reporter_env(const char *db)
{
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    char **env = calloc(n + 2, sizeof *env);
    size_t k = 0;
    if (!env)
        return NULL;
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "DAGFLOW_DB=", 11) != 0 && !(env[k++] = strdup(*e)))
            return NULL; /* (a few bytes kept: the process runs on without a reporter) */
    size_t len = strlen(db) + 12;
    if (!(env[k] = malloc(len)))
        return NULL;
    snprintf(env[k], len, "DAGFLOW_DB=%s", db);
    return env;
}
#endif

void df_cli_crash_install(const df_cli *cli)
{
    bool worker = cli->command && strcmp(cli->command, "worker") == 0;
    if (!worker) /* a worker's crash is reported to the store only: no resume reads a record */
        df_crash_record_prepare(); /* without a safe folder, crashes are charged to nobody */
#ifndef DF_SANITIZE
    is_worker = worker;
    const char *db = cli->db_path;
    if (db &&
        (strncasecmp(db, "postgresql://", 13) == 0 || strncasecmp(db, "postgres://", 11) == 0))
        report_env = reporter_env(db);
    resume_args = df_cli_resume_args(cli);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
#endif
}
