/* sqlite_steps: an LD_PRELOAD shim for tests/bench/compare.sh and profile.sh that counts the SQLite
 * statements a process executes (calls of sqlite3_step) and those that may write
 * (sqlite3_stmt_readonly false: INSERT, UPDATE, DELETE; BEGIN and COMMIT count as read-only), and
 * appends "steps N writes W" to the file $DF_STEPS_OUT at exit. A multi-row INSERT counts once.
 * With DF_STEPS_BY_SQL set, it also appends one line per kind of statement, "  COUNT  SQL", the
 * SQL cut to its first 72 characters (so the multi-row INSERTs of any row count are one kind),
 * most frequent first. Bench tool only: it is never linked into dagflow. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT (the build may define it already) */
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN 72
#define MAX_KINDS 4096

static long n_steps, n_writes;

/* The kinds of statements seen, by their first KEY_LEN characters (DF_STEPS_BY_SQL). */
static struct kind {
    char key[KEY_LEN + 1];
    long n;
} kinds[MAX_KINDS];
static int n_kinds;
static pthread_mutex_t kinds_mu = PTHREAD_MUTEX_INITIALIZER;

static void count_kind(sqlite3_stmt *st)
{
    const char *sql = sqlite3_sql(st);
    char key[KEY_LEN + 1];
    snprintf(key, sizeof key, "%s", sql ? sql : "?");
    for (char *p = key; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    pthread_mutex_lock(&kinds_mu);
    int i = 0;
    while (i < n_kinds && strcmp(kinds[i].key, key) != 0)
        i++;
    if (i == n_kinds && n_kinds < MAX_KINDS)
        memcpy(kinds[n_kinds++].key, key, sizeof key);
    if (i < n_kinds)
        kinds[i].n++;
    pthread_mutex_unlock(&kinds_mu);
}

int sqlite3_step(sqlite3_stmt *st)
{
    static int (*step)(sqlite3_stmt *);
    static int by_sql = -1;
    if (!step)
        step = (int (*)(sqlite3_stmt *))dlsym(RTLD_NEXT, "sqlite3_step");
    if (by_sql < 0)
        by_sql = getenv("DF_STEPS_BY_SQL") != NULL;
    n_steps++;
    if (!sqlite3_stmt_readonly(st))
        n_writes++;
    if (by_sql)
        count_kind(st);
    return step(st);
}

static int by_count(const void *a, const void *b)
{
    long x = ((const struct kind *)a)->n, y = ((const struct kind *)b)->n;
    return x < y ? 1 : x > y ? -1 : 0;
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("DF_STEPS_OUT");
    FILE *f = path && n_steps ? fopen(path, "a") : NULL;
    if (!f)
        return;
    fprintf(f, "steps %ld writes %ld\n", n_steps, n_writes);
    qsort(kinds, (size_t)n_kinds, sizeof kinds[0], by_count);
    for (int i = 0; i < n_kinds; i++)
        fprintf(f, "  %9ld  %s\n", kinds[i].n, kinds[i].key);
    fclose(f);
}
