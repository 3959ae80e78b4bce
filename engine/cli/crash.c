/* crash: the CLI's last words when a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT)
 * hits a thread running a task's plugin code: one line on stderr naming the task, its run and
 * plugin, whether it overflowed its coroutine stack, and how to continue the run, and a crash
 * record naming the task for the engine that resumes the run (df_crash_record_write: the lost
 * attempt is charged to that task alone, SPEC §12); then the process dies of the same signal,
 * as it would have. The run itself is safe: every state change
 * it made was committed, and `dagflow resume` records the interrupted attempt as LOST and runs
 * it again. Faults outside task code get no message. Not installed under AddressSanitizer, whose
 * own report is more precise. */
#include "cli.h"

#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

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
    if (df_pool_fault_info(si ? si->si_addr : NULL, sp, &fi)) {
        /* For the resume: this crash is the task's own code's (SPEC §12). */
        df_crash_record_write(&fi);
        msg m = {.n = 0};
        put(&m, "dagflow: task \"");
        put(&m, fi.task_id);
        put(&m, "\" (run ");
        put_num(&m, (unsigned long long)fi.run_id);
        put(&m, ", attempt ");
        put_num(&m, fi.attempt);
        if (fi.plugin) {
            put(&m, ", plugin \"");
            put(&m, fi.plugin);
            put(&m, "\"");
        }
        if (fi.stack_overflow && sig == SIGSEGV) {
            put(&m, ") overflowed its ");
            put_num(&m, fi.stack_size / 1024);
            /* four times the size, within --stack-size's 1G */
            size_t kib = fi.stack_size / 1024, next = kib * 4 > 1024 * 1024 ? 1024 * 1024 : kib * 4;
            if (next > kib) {
                put(&m, " KiB coroutine stack and the engine stopped; continue the run with "
                        "bigger stacks: dagflow resume ");
                put_num(&m, (unsigned long long)fi.run_id);
                put(&m, resume_args);
                put(&m, " --stack-size ");
                put_num(&m, next);
                put(&m, "K\n");
            } else {
                put(&m, " KiB coroutine stack (the largest --stack-size) and the engine "
                        "stopped; the plugin must keep big data off its stack (malloc it), then "
                        "continue the run: dagflow resume ");
                put_num(&m, (unsigned long long)fi.run_id);
                put(&m, resume_args);
                put(&m, "\n");
            }
        } else {
            put(&m, ") crashed the engine with ");
            put(&m, signal_name(sig));
            put(&m, " in the plugin's code; once the plugin is fixed, continue the run: dagflow "
                    "resume ");
            put_num(&m, (unsigned long long)fi.run_id);
            put(&m, resume_args);
            put(&m, "\n");
        }
        if (m.buf[m.n - 1] != '\n')
            m.buf[m.n++] = '\n';
        ssize_t unused = write(STDERR_FILENO, m.buf, m.n);
        (void)unused;
    }
    /* Die of the same signal: its default action back, then raised (a fault would also re-fault
     * on return; a signal sent by kill(2) would not). */
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

void df_cli_crash_install(const df_cli *cli)
{
    df_crash_record_prepare(); /* without a safe folder, crashes are charged to nobody */
#ifndef DF_SANITIZE
    resume_args = df_cli_resume_args(cli);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
#else
    (void)cli;
#endif
}
