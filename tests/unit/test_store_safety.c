/* test_store_safety: unit tests of the SQLite store's file safety (SPEC §12, issue 15): the
 * checkpoint that leaves a run's history in the database file itself (a copy of that file alone
 * holds it) without blocking readers; check_file noticing a database deleted, moved or replaced
 * under the store; no symbolic link followed for the database or its -wal/-shm (a dangling link
 * creates nothing); files created with mode 0600 whatever the umask; and read-only failures
 * named with the path and the cause (run as an unprivileged user in a child process, since root
 * ignores file modes). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store/sqlite/backend.h"
#include "store/store.h"

#include "store_fixture.h"

/* ---- helpers --------------------------------------------------------------------------------- */

/* dst = a byte copy of the file src (a user's `cp`). */
static void copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

/* The number of runs in the database file at path read alone (a copy without its -wal), or -1
 * when the file does not even hold the schema. */
static long long runs_in_copy(fx *f, const char *path)
{
    char copy[200];
    snprintf(copy, sizeof copy, "%s/copy.db", f->dir);
    static const char *const side[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[220];
        snprintf(p, sizeof p, "%s%s", copy, side[i]);
        unlink(p);
    }
    copy_file(path, copy);
    sqlite3 *db = raw_open(copy);
    long long n = -1;
    if (q_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'runs'") == 1)
        n = q_int(db, "SELECT count(*) FROM runs");
    sqlite3_close(db);
    return n;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static unsigned file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A run of 50 tasks, each through QUEUED, RUNNING and SUCCESS: enough pages in the -wal file. */
static long long busy_run(df_store *s)
{
    long long run = create(s, "wf", 50, 0, now_ms());
    assert_int_equal(df_store_begin(s), DF_STORE_OK);
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        tr_ok(s, run, id, DF_TS_PENDING, 0, DF_TS_QUEUED, 0, now_ms());
        tr_ok(s, run, id, DF_TS_QUEUED, 0, DF_TS_RUNNING, 1, now_ms());
        tr_ok(s, run, id, DF_TS_RUNNING, 1, DF_TS_SUCCESS, 1, now_ms());
    }
    assert_int_equal(df_store_commit(s), DF_STORE_OK);
    return run;
}

/* ---- checkpoint ------------------------------------------------------------------------------ */

/* Before the checkpoint the history is in the -wal file (a copy of the database file alone lacks
 * it: the issue); after it, the file holds it and the -wal file is empty. */
static void test_checkpoint_copy_alone(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    busy_run(f->s);
    busy_run(f->s);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_true(file_size(wal) > 0);
    assert_true(runs_in_copy(f, f->path) < 2);

    bool complete = false;
    assert_int_equal(df_store_checkpoint(f->s, &complete), DF_STORE_OK);
    assert_true(complete);
    assert_int_equal(runs_in_copy(f, f->path), 2);
    assert_int_equal(file_size(wal), 0);
    /* The store goes on writing after a checkpoint; NULL for complete is fine. */
    busy_run(f->s);
    assert_int_equal(df_store_checkpoint(f->s, NULL), DF_STORE_OK);
    assert_int_equal(runs_in_copy(f, f->path), 3);

    /* Not inside a transaction. */
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    complete = true;
    assert_int_equal(df_store_checkpoint(f->s, &complete), DF_STORE_ERROR);
    assert_false(complete);
    assert_non_null(strstr(df_store_error(f->s), "store: checkpoint: a transaction is open"));
    assert_int_equal(df_store_rollback(f->s), DF_STORE_OK);
}

/* A reader in a read transaction that started before the last writes keeps their frames in the
 * -wal file: the checkpoint neither blocks it nor waits for it long, says the file is not
 * complete, and a later one (the reader gone) completes it. */
static void test_checkpoint_reader(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    busy_run(f->s);
    sqlite3 *reader = raw_open(f->path);
    exec_raw(reader, "BEGIN");
    assert_int_equal(q_int(reader, "SELECT count(*) FROM runs"), 1);
    busy_run(f->s);

    bool complete = true;
    int64_t t0 = mono_ms();
    assert_int_equal(df_store_checkpoint(f->s, &complete), DF_STORE_OK);
    int64_t took = mono_ms() - t0;
    assert_false(complete);
    assert_true(took < 3000); /* waits 200 ms for the reader; generous for a loaded machine */
    /* The reader was not disturbed: it still reads its snapshot. */
    assert_int_equal(q_int(reader, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(runs_in_copy(f, f->path) < 2, 1);
    exec_raw(reader, "COMMIT");

    assert_int_equal(df_store_checkpoint(f->s, &complete), DF_STORE_OK);
    assert_true(complete);
    assert_int_equal(runs_in_copy(f, f->path), 2);
    /* A reader on the newest snapshot does not keep the file from being complete. */
    exec_raw(reader, "BEGIN");
    assert_int_equal(q_int(reader, "SELECT count(*) FROM runs"), 2);
    assert_int_equal(df_store_checkpoint(f->s, &complete), DF_STORE_OK);
    assert_true(complete);
    exec_raw(reader, "COMMIT");
    sqlite3_close(reader);
}

/* ---- check_file ------------------------------------------------------------------------------ */

/* Deleted: check_file says so; closing removes the -wal and -shm left at the path (a copy put back
 * there must not get the deleted file's log) and creates nothing. */
static void test_check_file_deleted(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    busy_run(f->s);
    assert_int_equal(df_store_check_file(f->s), DF_STORE_OK);
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(df_store_check_file(f->s), DF_STORE_ERROR);
    char want[300];
    snprintf(want, sizeof want,
             "store: the database file %s was deleted while dagflow was using it", f->path);
    assert_string_equal(df_store_error(f->s), want);
    df_store_close(f->s);
    f->s = NULL;
    char side[160];
    assert_false(exists(f->path));
    snprintf(side, sizeof side, "%s-wal", f->path);
    assert_false(exists(side));
    snprintf(side, sizeof side, "%s-shm", f->path);
    assert_false(exists(side));
}

/* Moved away and put back: the file moved is complete (the store checkpointed into it when it
 * closed), so the history is all there once it is back. */
static void test_check_file_moved_back(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    busy_run(f->s);
    char moved[160];
    snprintf(moved, sizeof moved, "%s/moved.db", f->dir);
    assert_int_equal(rename(f->path, moved), 0);
    assert_int_equal(df_store_check_file(f->s), DF_STORE_ERROR);
    assert_non_null(strstr(df_store_error(f->s), "was deleted while dagflow was using it"));
    df_store_close(f->s);
    f->s = NULL;
    assert_int_equal(runs_in_copy(f, moved), 1);
    assert_int_equal(rename(moved, f->path), 0);
    f->s = open_ok(f);
    long long latest = 0;
    assert_int_equal(df_store_latest_run(f->s, &latest), DF_STORE_OK);
    assert_int_equal(latest, 1);
}

/* Replaced by another file (an `mv` over it): check_file says so; closing leaves the path's files
 * alone (they may be the new file's). */
static void test_check_file_replaced(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    busy_run(f->s);
    char other[160];
    snprintf(other, sizeof other, "%s/other.db", f->dir);
    FILE *o = fopen(other, "w");
    assert_non_null(o);
    fclose(o);
    assert_int_equal(rename(other, f->path), 0);
    assert_int_equal(df_store_check_file(f->s), DF_STORE_ERROR);
    char want[300];
    snprintf(want, sizeof want,
             "store: the database file %s was replaced by another file while dagflow was using it",
             f->path);
    assert_string_equal(df_store_error(f->s), want);
    /* A write after that names the cause too. */
    df_store_close(f->s);
    f->s = NULL;
    char side[160];
    snprintf(side, sizeof side, "%s-wal", f->path);
    assert_true(exists(side));
    assert_true(exists(f->path));
}

/* ---- symbolic links and modes ---------------------------------------------------------------- */

static void expect_link_refused(fx *f, const char *path)
{
    df_store *s = NULL;
    char err[512] = "";
    assert_int_equal(df_store_open(path, &s, err, sizeof err), DF_STORE_ERROR);
    assert_null(s);
    char want[400];
    snprintf(want, sizeof want,
             "store: --db %s is a symbolic link; dagflow does not follow links for its database "
             "(use the real path)",
             path);
    assert_string_equal(err, want);
    (void)f;
}

/* A link to a file: refused, the file untouched and nothing created beside either. A dangling
 * link: refused, its target not created. df_store_exists sees the link itself. */
static void test_symlink_refused(void **state)
{
    fx *f = *state;
    char victim[160], link[160], dangling[160], target[160], side[200];
    snprintf(victim, sizeof victim, "%s/victim.txt", f->dir);
    snprintf(link, sizeof link, "%s/link.db", f->dir);
    snprintf(dangling, sizeof dangling, "%s/dangling.db", f->dir);
    snprintf(target, sizeof target, "%s/target.db", f->dir);
    FILE *v = fopen(victim, "w");
    assert_non_null(v);
    fputs("precious\n", v);
    fclose(v);
    chmod(victim, 0644);
    assert_int_equal(symlink(victim, link), 0);
    assert_int_equal(symlink(target, dangling), 0);

    expect_link_refused(f, link);
    assert_int_equal(file_size(victim), 9);
    assert_int_equal(file_mode(victim), 0644);
    snprintf(side, sizeof side, "%s-wal", victim);
    assert_false(exists(side));
    snprintf(side, sizeof side, "%s-wal", link);
    assert_false(exists(side));

    assert_true(df_store_exists(dangling));
    expect_link_refused(f, dangling);
    assert_false(exists(target));

    /* A relative link too. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->dir), 0);
    expect_link_refused(f, "dangling.db");
    assert_int_equal(chdir(cwd), 0);
    assert_false(exists(target));
}

/* A -wal or -shm that is a link is refused too (SQLite would follow it). */
static void test_side_symlink_refused(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    df_store_close(f->s);
    f->s = NULL;
    char wal[160], victim[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    snprintf(victim, sizeof victim, "%s/victim", f->dir);
    unlink(wal);
    assert_int_equal(symlink(victim, wal), 0);
    df_store *s = NULL;
    char err[512] = "";
    assert_int_equal(df_store_open(f->path, &s, err, sizeof err), DF_STORE_ERROR);
    assert_non_null(strstr(err, "-wal is a symbolic link"));
    assert_false(exists(victim));
    unlink(wal);
}

/* Whatever the umask, the database and its -wal and -shm are created 0600; a -wal left wider by an
 * earlier mode is narrowed to the database's mode. A path that is not a regular file (a FIFO,
 * which a plain open would block on) is refused. */
static void test_modes(void **state)
{
    fx *f = *state;
    mode_t old = umask(0277); /* 0600 & ~0277 = 0400: only an fchmod gives 0600 */
    f->s = open_ok(f);
    busy_run(f->s);
    umask(old);
    char wal[160], shm[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    snprintf(shm, sizeof shm, "%s-shm", f->path);
    assert_int_equal(file_mode(f->path), 0600);
    assert_int_equal(file_mode(wal), 0600);
    assert_int_equal(file_mode(shm), 0600);
    df_store_close(f->s);
    f->s = NULL;

    old = umask(0);
    chmod(wal, 0644);
    chmod(shm, 0666);
    f->s = open_ok(f);
    umask(old);
    assert_int_equal(file_mode(wal), 0600);
    assert_int_equal(file_mode(shm), 0600);
    df_store_close(f->s);
    f->s = NULL;

    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo.db", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    df_store *s = NULL;
    char err[512] = "";
    assert_int_equal(df_store_open(fifo, &s, err, sizeof err), DF_STORE_ERROR);
    assert_non_null(strstr(err, "is not a regular file"));
}

/* ---- read-only failures name the path and the cause ------------------------------------------ */

/* The checks below run as an unprivileged user in a child process (root ignores file modes);
 * a failure prints what went wrong and exits 1. */
#define CHILD_CHECK(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "child check failed (line %d): ", __LINE__);                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

static void readonly_checks(fx *f)
{
    char err[512] = "", want[400];
    df_store *s = NULL;
    CHILD_CHECK(df_store_open(f->path, &s, err, sizeof err) == DF_STORE_OK, "open: %s", err);
    long long run = 0;
    test_run *r = make_run("wf", 2, 0, now_ms(), now_ms());
    CHILD_CHECK(df_store_create_run(s, &r->rec, &run) == DF_STORE_OK, "create: %s",
                df_store_error(s));
    df_store_close(s);

    /* 1. The file read-only: it opens (reads work), a write names the file and its mode. */
    chmod(f->path, 0444);
    CHILD_CHECK(df_store_open(f->path, &s, err, sizeof err) == DF_STORE_OK, "open 0444: %s", err);
    CHILD_CHECK(df_store_create_run(s, &r->rec, &run) == DF_STORE_ERROR, "write to a 0444 file");
    snprintf(want, sizeof want,
             "store: create run: cannot write %s: the file is read-only (mode "
             "0444)",
             f->path);
    CHILD_CHECK(strcmp(df_store_error(s), want) == 0, "got [%s], want [%s]", df_store_error(s),
                want);
    /* Inside the group-commit transaction (SQLite's BEGIN IMMEDIATE on a read-only file
     * succeeds; the first write fails) the message is the same. */
    if (df_store_begin(s) == DF_STORE_OK)
        CHILD_CHECK(df_store_create_run(s, &r->rec, &run) == DF_STORE_ERROR, "write in a tx");
    CHILD_CHECK(strstr(df_store_error(s), "cannot write") && strstr(df_store_error(s), f->path) &&
                    strstr(df_store_error(s), "the file is read-only (mode 0444)"),
                "in a transaction: [%s]", df_store_error(s));
    df_store_rollback(s);
    df_store_close(s);
    chmod(f->path, 0600);

    /* 2. The folder read-only and no -wal file: it cannot be created. */
    char side[160];
    snprintf(side, sizeof side, "%s-wal", f->path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", f->path);
    unlink(side);
    chmod(f->dir, 0555);
    s = NULL;
    CHILD_CHECK(df_store_open(f->path, &s, err, sizeof err) == DF_STORE_ERROR, "open, folder 0555");
    snprintf(want, sizeof want,
             "cannot write %s: the folder %s is not writable (the -wal file "
             "cannot be created)",
             f->path, f->dir);
    CHILD_CHECK(strstr(err, want) != NULL, "got [%s], want [%s]", err, want);

    /* 3. A new database in a read-only folder. */
    char fresh[160];
    snprintf(fresh, sizeof fresh, "%s/fresh.db", f->dir);
    CHILD_CHECK(df_store_open(fresh, &s, err, sizeof err) == DF_STORE_ERROR, "create in 0555");
    snprintf(want, sizeof want, "store: cannot create %s: the folder %s is not writable", fresh,
             f->dir);
    CHILD_CHECK(strstr(err, want) == err, "got [%s], want [%s...]", err, want);
    chmod(f->dir, 0700);
    free_run(r);
}

static void test_readonly_messages(void **state)
{
    fx *f = *state;
    uid_t uid = 65534;
    if (geteuid() == 0 && chown(f->dir, uid, uid) != 0)
        skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(uid) != 0 || setuid(uid) != 0)) {
            fprintf(stderr, "cannot become uid %u: %s\n", (unsigned)uid, strerror(errno));
            _exit(77);
        }
        readonly_checks(f);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
    chmod(f->dir, 0700);
}

/* A database path in a folder that does not exist. */
static void test_missing_folder(void **state)
{
    fx *f = *state;
    char path[200], want[400], err[512] = "";
    snprintf(path, sizeof path, "%s/nope/dagflow.db", f->dir);
    df_store *s = NULL;
    assert_int_equal(df_store_open(path, &s, err, sizeof err), DF_STORE_ERROR);
    snprintf(want, sizeof want, "store: cannot create %s: the folder %s/nope does not exist", path,
             f->dir);
    assert_string_equal(err, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoint_copy_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_file_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_file_moved_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_file_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_side_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_folder, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
