/* crash_record: the file a dying engine leaves to say which task's code crashed it (SPEC §12),
 * its reading by the engine that resumes the run on the same host, and the report of the same
 * culprit to the store (df_crash_report_send), which any engine on any host reads. Writing happens
 * in a fatal-signal handler, so everything it needs (the path, this process's start time) is
 * computed beforehand by df_crash_record_prepare, and the handler only formats integers and calls
 * open/write/close.
 *
 * The record, text, one "key value" a line:
 *   dagflow-crash 1
 *   process_started_at MS   (this process's start, /proc)
 *   crashed_at MS
 *   run RUN_ID
 *   attempt N
 *   map_index K             (-1: not a mapped instance)
 *   task TASK_ID            (last: the id may hold anything but a newline)
 */
#include "crash_record.h"

#include <dagflow/dagflow.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "liveness.h"

/* Set by df_crash_record_prepare, read by the handler. */
static char record_path[4096];
static long long process_started_at;

/* The folder of the records: $XDG_RUNTIME_DIR/dagflow, else ${TMPDIR:-/tmp}/dagflow-UID, made
 * (0700) when missing; "" when none is safe. */
static void records_dir(char *buf, size_t len, bool make)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, len, "%s/dagflow", xdg);
    else
        n = snprintf(buf, len, "%s/dagflow-%lu", tmp && tmp[0] == '/' ? tmp : "/tmp",
                     (unsigned long)getuid());
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return;
    }
    if (make && mkdir(buf, 0700) != 0 && errno != EEXIST) {
        buf[0] = '\0';
        return;
    }
    struct stat st;
    if (lstat(buf, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077) != 0)
        buf[0] = '\0';
}

static void record_file(char *buf, size_t len, long long pid, bool make)
{
    char dir[4000];
    records_dir(dir, sizeof dir, make);
    if (!dir[0] || snprintf(buf, len, "%s/crash.%lld", dir, pid) >= (int)len)
        buf[0] = '\0';
}

/* See dagflow.h. */
int df_crash_record_prepare(void)
{
    record_file(record_path, sizeof record_path, (long long)getpid(), true);
    process_started_at = df_process_start_ms((long long)getpid());
    return record_path[0] ? 0 : DF_EREFUSED;
}

/* ---- the handler's side: no stdio, no malloc ---- */

typedef struct rec_buf {
    char b[4600];
    size_t n;
} rec_buf;

static void put(rec_buf *m, const char *s)
{
    while (s && *s && m->n < sizeof m->b - 1)
        m->b[m->n++] = *s++;
}

static void put_num(rec_buf *m, long long v)
{
    char d[24];
    size_t k = 0;
    unsigned long long u = v < 0 ? 0 : (unsigned long long)v;
    do {
        d[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && k < sizeof d);
    while (k > 0 && m->n < sizeof m->b - 1)
        m->b[m->n++] = d[--k];
}

/* See dagflow.h. */
void df_crash_record_write(const df_fault_info *fi)
{
    if (!fi || !record_path[0] || !fi->task_id)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rec_buf m = {.n = 0};
    put(&m, "dagflow-crash 1\nprocess_started_at ");
    put_num(&m, process_started_at);
    put(&m, "\ncrashed_at ");
    put_num(&m, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    put(&m, "\nrun ");
    put_num(&m, fi->run_id);
    put(&m, "\nattempt ");
    put_num(&m, fi->attempt);
    put(&m, "\nmap_index ");
    if (fi->map_index < 0)
        put(&m, "-1");
    else
        put_num(&m, fi->map_index);
    put(&m, "\ntask ");
    for (const char *p = fi->task_id; *p && m.n < sizeof m.b - 2; p++)
        m.b[m.n++] = *p == '\n' ? ' ' : *p;
    m.b[m.n++] = '\n';
    int fd = open(record_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    ssize_t unused = write(fd, m.b, m.n);
    (void)unused;
    close(fd);
}

/* ---- the resuming engine's side ---- */

/* See crash_record.h. */
bool df_crash_record_take(const df_engine_id *owner, long long run_id, char **task_id,
                          long long *map_index, unsigned *attempt)
{
    char path[4096];
    if (!owner || owner->pid <= 0)
        return false;
    record_file(path, sizeof path, owner->pid, false);
    FILE *f = path[0] ? fopen(path, "re") : NULL;
    if (!f)
        return false;
    char line[4400], task[4400] = "";
    long long started = 0, crashed = 0, run = 0, att = 0, mi = -1;
    int version = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "dagflow-crash %d", &version) == 1 ||
            sscanf(line, "process_started_at %lld", &started) == 1 ||
            sscanf(line, "crashed_at %lld", &crashed) == 1 || sscanf(line, "run %lld", &run) == 1 ||
            sscanf(line, "attempt %lld", &att) == 1 || sscanf(line, "map_index %lld", &mi) == 1)
            continue;
        if (strncmp(line, "task ", 5) == 0)
            snprintf(task, sizeof task, "%s", line + 5);
    }
    fclose(f);
    /* That engine's process: it started before the engine did (2 s of slack) and crashed after. */
    bool same = version == 1 && started > 0 && started <= owner->started_at + 2000 &&
                crashed + 2000 >= owner->started_at;
    if (!same) {
        unlink(path);
        return false;
    }
    if (run != run_id || !task[0] || att <= 0)
        return false;
    *task_id = strdup(task);
    if (!*task_id)
        return false;
    *attempt = (unsigned)att;
    *map_index = mi;
    unlink(path);
    return true;
}

/* ---- the reporter's side: the culprit into the store, for every host ---- */

/* See dagflow.h. */
int df_crash_report_send(const char *db, long long pid, const df_fault_info *fi, char *err,
                         size_t errlen)
{
    if (!db || pid <= 0 || !fi || !fi->task_id || fi->attempt == 0 || fi->run_id <= 0) {
        snprintf(err, errlen, "crash report: incomplete");
        return DF_EINPUT;
    }
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    df_store *st = NULL;
    if (df_store_open(db, &st, err, errlen) != DF_STORE_OK)
        return DF_ESTORE;
    df_crash_report r = {.run_id = fi->run_id,
                         .task_id = fi->task_id,
                         .map_index = fi->map_index < 0 ? -1 : fi->map_index,
                         .attempt = fi->attempt,
                         .pid = pid,
                         .host = host};
    df_crash_mark mark = DF_CRASH_MARK_NONE;
    int code = df_store_crash_report(st, &r, &mark);
    int rc = code == DF_STORE_OK ? (int)mark : code == DF_STORE_NOTFOUND ? DF_ENOTFOUND : DF_ESTORE;
    if (rc < 0)
        snprintf(err, errlen, "%s", df_store_error(st));
    df_store_close(st);
    return rc;
}
