/* sqlite_steps: an LD_PRELOAD shim for tests/bench/compare.sh that counts the SQLite statements a
 * process executes (calls of sqlite3_step) and those that may write (sqlite3_stmt_readonly false:
 * INSERT, UPDATE, DELETE; BEGIN and COMMIT count as read-only), and appends
 * "steps N writes W" to the file $DF_STEPS_OUT at exit. A multi-row INSERT counts once. Bench
 * tool only: it is never linked into dagflow. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT (the build may define it already) */
#endif
#include <dlfcn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

static long n_steps, n_writes;

int sqlite3_step(sqlite3_stmt *st)
{
    static int (*step)(sqlite3_stmt *);
    if (!step)
        step = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_step");
    n_steps++;
    if (!sqlite3_stmt_readonly(st))
        n_writes++;
    return step(st);
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("DF_STEPS_OUT");
    FILE *f = path && n_steps ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "steps %ld writes %ld\n", n_steps, n_writes);
        fclose(f);
    }
}
