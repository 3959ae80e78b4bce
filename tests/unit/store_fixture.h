/* store_fixture: what the store's unit tests share (included by test_store.c and
 * test_store_schema.c): a fresh directory per test with the store's file in it, opening the
 * store, and raw SQL on a connection of one's own, like a user's sqlite3 shell. Static, one copy
 * per test program. */
#ifndef DF_TEST_STORE_FIXTURE_H
#define DF_TEST_STORE_FIXTURE_H

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"

/* A test program need not use every helper. */
#define STORE_FIXTURE_FN __attribute__((unused))

/* ---- fixture: a fresh directory per test ---------------------------------------------------- */

typedef struct fx {
    char dir[64];
    char path[128];
    df_store *s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/df_store_test_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/dagflow.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    df_store_close(f->s);
    /* Everything a test left in its folder (databases, -wal, -shm), even after a failure. */
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[400];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static STORE_FIXTURE_FN df_store *open_ok(fx *f)
{
    char err[256] = "";
    df_store *s = NULL;
    int rc = df_store_open(f->path, &s, err, sizeof err);
    if (rc != DF_STORE_OK)
        fail_msg("df_store_open: %d %s", rc, err);
    assert_non_null(s);
    return s;
}

static STORE_FIXTURE_FN int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- helpers: raw SQL on a separate read-only connection, like a user's sqlite3 shell -------- */

static STORE_FIXTURE_FN sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Prepares the SQL made from fmt and its arguments and steps it once; fails the test unless it
 * gives a row. The statement is the caller's to finalize. */
static STORE_FIXTURE_FN sqlite3_stmt *q_row(sqlite3 *db, const char *fmt, va_list ap)
{
    char sql[1024];
    vsnprintf(sql, sizeof sql, fmt, ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        fail_msg("no row for %s: %d %s", sql, rc, sqlite3_errmsg(db));
    return st;
}

/* First column of the first row as an integer. */
static STORE_FIXTURE_FN long long q_int(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = q_row(db, fmt, ap);
    va_end(ap);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* First column of the first row as a new string ("(null)" for NULL). */
static STORE_FIXTURE_FN char *q_text(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = q_row(db, fmt, ap);
    va_end(ap);
    const char *t = (const char *)sqlite3_column_text(st, 0);
    char *v = strdup(t ? t : "(null)");
    sqlite3_finalize(st);
    return v;
}

static STORE_FIXTURE_FN void exec_raw(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("exec %s: %s", sql, msg);
}

#endif
