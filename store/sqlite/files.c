/* sqlite/files: the database file on disk (SPEC §12) — opening it without following a symbolic
 * link (created with mode 0600), its identity (was it deleted or replaced while in use), the
 * modes of its -wal and -shm files, why it cannot be written (for messages that name the file
 * and the cause), and the checkpoint that moves the history out of the -wal file into the
 * database file itself. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The longest a checkpoint waits for readers that still use the -wal file (ms): long enough for a
 * short read to finish, short enough that no reader is held up noticeably (while it waits, the
 * checkpoint holds the write lock, so other writers wait too; readers never do). */
#define CHECKPOINT_WAIT_MS 200

static const char *const side_suffixes[] = {"-wal", "-shm"};

/* The folder of path, into buf ("." when path has no slash). */
static void folder_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, len, ".");
    else if (slash == path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* path with a suffix ("-wal", "-shm") into buf; false when it does not fit. */
static bool side_path(const char *path, const char *suffix, char *buf, size_t len)
{
    return snprintf(buf, len, "%s%s", path, suffix) < (int)len;
}

/* Whether the calling process may write path (its effective ids and capabilities; root without
 * CAP_DAC_OVERRIDE is refused like anyone else). Sets errno when not. */
static bool may_write(const char *path)
{
    return faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0;
}

/* Why the existing file path (the database, or its -wal or -shm named by what) cannot be written
 * by this process, into buf; "" when it can. */
static void file_cause(const char *path, const char *what, char *buf, size_t len)
{
    buf[0] = '\0';
    struct stat st;
    if (may_write(path))
        return;
    int err = errno;
    if (lstat(path, &st) != 0)
        return;
    if (err == EROFS)
        snprintf(buf, len, "the file system %s is on is mounted read-only", what);
    else if ((st.st_mode & 0222) == 0)
        snprintf(buf, len, "%s is read-only (mode %04o)", what, (unsigned)(st.st_mode & 07777));
    else
        snprintf(buf, len,
                 "%s may not be written by this user (uid %u; the file has mode %04o and "
                 "belongs to uid %u)",
                 what, (unsigned)geteuid(), (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
}

/* See internal.h. Checked in the order a user would fix things: the file system, the database
 * file, its -wal and -shm files, and the folder they must be created in. */
void df_sqlite_unwritable_cause(const df_sqlite_store *s, char *buf, size_t len)
{
    buf[0] = '\0';
    struct statvfs vfs;
    struct stat st;
    if (lstat(s->abs_path, &st) != 0) {
        if (errno == ENOENT && s->have_id)
            snprintf(buf, len, "the file was deleted while dagflow was using it");
        return;
    }
    if (s->have_id && (st.st_dev != s->dev || st.st_ino != s->ino)) {
        snprintf(buf, len, "the file was replaced by another file while dagflow was using it");
        return;
    }
    if (statvfs(s->abs_path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
        snprintf(buf, len, "the file system it is on is mounted read-only");
        return;
    }
    file_cause(s->abs_path, "the file", buf, len);
    for (int i = 0; i < 2 && !buf[0]; i++) {
        char side[PATH_MAX], what[PATH_MAX + 16];
        if (!side_path(s->abs_path, side_suffixes[i], side, sizeof side))
            continue;
        if (lstat(side, &st) == 0) {
            snprintf(what, sizeof what, "its %s file %s%s", side_suffixes[i], s->path,
                     side_suffixes[i]);
            file_cause(side, what, buf, len);
        } else if (errno == ENOENT) {
            char dir[PATH_MAX], shown[PATH_MAX];
            folder_of(s->abs_path, dir, sizeof dir);
            folder_of(s->path, shown, sizeof shown);
            if (!may_write(dir))
                snprintf(buf, len, "the folder %s is not writable (the %s file cannot be created)",
                         shown, side_suffixes[i]);
        }
    }
}

/* See internal.h. */
bool df_sqlite_unwritable_rc(const df_sqlite_store *s, int rc)
{
    int sys = s->db ? sqlite3_system_errno(s->db) : 0;
    switch (rc & 0xff) {
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        return true;
    case SQLITE_IOERR:
        return sys == EACCES || sys == EROFS || sys == EPERM;
    default:
        return false;
    }
}

/* The message for a database path that is a symbolic link (SPEC §12). */
static int refuse_link(df_sqlite_store *s, const char *shown)
{
    return df_store_failf(&s->base, DF_STORE_ERROR,
                          "store: --db %s is a symbolic link; dagflow does not follow links for "
                          "its database (use the real path)",
                          shown);
}

/* The message for a database file that cannot be opened or created (errno err). */
static int refuse_open(df_sqlite_store *s, int err, bool creating)
{
    char dir[PATH_MAX];
    folder_of(s->path, dir, sizeof dir);
    if (err == ELOOP)
        return refuse_link(s, s->path);
    if (creating && err == ENOENT)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: cannot create %s: the folder %s does not exist", s->path,
                              dir);
    if (creating && (err == EACCES || err == EPERM))
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: cannot create %s: the folder %s is not writable (%s)",
                              s->path, dir, strerror(err));
    if (creating && err == EROFS)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: cannot create %s: the file system %s is on is mounted "
                              "read-only",
                              s->path, dir);
    return df_store_failf(&s->base, DF_STORE_ERROR, "store: cannot open %s: %s", s->path,
                          strerror(err));
}

/* SQLite creates the -wal and -shm files with the database file's mode at that moment (whatever
 * the umask): 0600 for a database dagflow created. Files of ours that differ from the database's
 * mode are given it back: wider ones (left by an earlier mode of the database) are narrowed, and
 * read-only ones (made while the database was chmod 0400) would fail every later write. Only
 * regular files are touched, through a descriptor opened without following links. */
static void repair_side_modes(const char *path)
{
    struct stat db;
    if (stat(path, &db) != 0 || !may_write(path))
        return;
    mode_t want = db.st_mode & 0777;
    for (int i = 0; i < 2; i++) {
        char side[PATH_MAX];
        struct stat st;
        if (!side_path(path, side_suffixes[i], side, sizeof side) || lstat(side, &st) != 0 ||
            !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0777) == want)
            continue;
        if ((st.st_mode & 0777 & ~want) == 0 && may_write(side))
            continue; /* narrower but writable: leave it */
        int fd = open(side, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            fchmod(fd, want);
            close(fd);
        }
    }
}

/* Opens path without following a link: O_CREAT|O_EXCL first (mode 0600, fchmod'ed so that the
 * umask does not matter), an existing file otherwise, read-only when it may not be written.
 * Returns the descriptor, or -1 with the failure recorded. */
static int open_nofollow(df_sqlite_store *s)
{
    const int common = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | common, 0600);
    if (fd >= 0) {
        fchmod(fd, 0600);
        return fd;
    }
    bool creating = errno != EEXIST;
    if (creating) {
        refuse_open(s, errno, true);
        return -1;
    }
    fd = open(s->path, O_RDWR | common);
    int open_errno = errno;
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        fd = open(s->path, O_RDONLY | common);
    if (fd < 0)
        refuse_open(s, errno == ELOOP ? ELOOP : open_errno, false);
    return fd;
}

/* See internal.h. */
int df_sqlite_file_open(df_sqlite_store *s, const char *path)
{
    s->path = strdup(path);
    if (path[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd)) {
            size_t n = strlen(cwd) + strlen(path) + 2;
            s->abs_path = malloc(n);
            if (s->abs_path)
                snprintf(s->abs_path, n, "%s/%s", cwd, path);
        }
    } else {
        s->abs_path = strdup(path);
    }
    if (!s->path || (!s->abs_path && !(s->abs_path = strdup(path))))
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: out of memory");

    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        return refuse_link(s, path);
    for (int i = 0; i < 2; i++) {
        char side[PATH_MAX];
        if (side_path(path, side_suffixes[i], side, sizeof side) && lstat(side, &st) == 0 &&
            S_ISLNK(st.st_mode))
            return df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: %s is a symbolic link; dagflow does not follow links "
                                  "for its database's files (remove it)",
                                  side);
    }
    int fd = open_nofollow(s);
    if (fd < 0)
        return DF_STORE_ERROR;
    int rc = fstat(fd, &st);
    close(fd);
    if (rc != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: cannot open %s: %s", path,
                              strerror(errno));
    if (!S_ISREG(st.st_mode))
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s is not a regular file", path);
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->have_id = true;
    repair_side_modes(path);
    return DF_STORE_OK;
}

/* See internal.h. */
void df_sqlite_file_opened(df_sqlite_store *s)
{
    for (int i = 0; i < 2; i++) {
        char side[PATH_MAX];
        struct stat st;
        s->side_id[i] = side_path(s->abs_path, side_suffixes[i], side, sizeof side) &&
                        lstat(side, &st) == 0 && S_ISREG(st.st_mode);
        if (s->side_id[i]) {
            s->side_dev[i] = st.st_dev;
            s->side_ino[i] = st.st_ino;
        }
    }
}

/* See internal.h. A file replaced by another is left alone: the -wal at the path may be the new
 * file's. */
void df_sqlite_file_close(df_sqlite_store *s)
{
    struct stat st;
    bool gone = s->db && s->have_id && lstat(s->abs_path, &st) != 0 && errno == ENOENT;
    if (gone) {
        int log, done;
        sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    }
    sqlite3_close(s->db);
    s->db = NULL;
    if (!gone || lstat(s->abs_path, &st) == 0) /* something was put back meanwhile */
        return;
    for (int i = 0; i < 2; i++) {
        char side[PATH_MAX];
        if (s->side_id[i] && side_path(s->abs_path, side_suffixes[i], side, sizeof side) &&
            lstat(side, &st) == 0 && st.st_dev == s->side_dev[i] && st.st_ino == s->side_ino[i])
            unlink(side);
    }
}

/* See store.h. */
int df_sqlite_check_file(df_store *store)
{
    df_sqlite_store *s = df_sqlite_of(store);
    struct stat st;
    if (!s->have_id)
        return DF_STORE_OK;
    if (lstat(s->abs_path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return df_store_failf(store, DF_STORE_ERROR,
                                  "store: the database file %s was deleted while dagflow was "
                                  "using it",
                                  s->path);
        return df_store_failf(store, DF_STORE_ERROR, "store: cannot check the database file %s: %s",
                              s->path, strerror(errno));
    }
    if (st.st_dev != s->dev || st.st_ino != s->ino)
        return df_store_failf(store, DF_STORE_ERROR,
                              "store: the database file %s was replaced by another file while "
                              "dagflow was using it",
                              s->path);
    return DF_STORE_OK;
}

/* One checkpoint of the given mode, waiting at most wait_ms for the locks and readers it needs
 * (the store's usual busy timeout comes back after). Sets *all when every frame of the -wal file
 * is in the database file. Returns SQLite's result code. */
static int checkpoint_once(df_sqlite_store *s, int mode, int wait_ms, bool *all)
{
    int log = 0, done = 0;
    sqlite3_busy_timeout(s->db, wait_ms);
    int rc = sqlite3_wal_checkpoint_v2(s->db, "main", mode, &log, &done);
    sqlite3_busy_timeout(s->db, DF_SQLITE_BUSY_TIMEOUT_MS);
    /* log is -1 when the file is not in WAL mode: then the file holds everything. */
    *all = rc == SQLITE_OK && (log < 0 || log == done);
    return rc;
}

/* See store.h. A PASSIVE checkpoint copies what no reader needs from the -wal file and never
 * waits; a reader still using an older snapshot keeps the frames after it in the -wal file, and a
 * TRUNCATE checkpoint then waits for it at most CHECKPOINT_WAIT_MS. When the PASSIVE one copied
 * everything, a TRUNCATE that does not wait at all empties the -wal file if nobody uses it. */
int df_sqlite_checkpoint(df_store *store, bool *complete)
{
    df_sqlite_store *s = df_sqlite_of(store);
    if (!sqlite3_get_autocommit(s->db))
        return df_store_failf(store, DF_STORE_ERROR,
                              "store: checkpoint: a transaction is open (commit it first)");
    bool all = false;
    int rc = checkpoint_once(s, SQLITE_CHECKPOINT_PASSIVE, 0, &all);
    if (rc != SQLITE_OK && df_sqlite_code(rc) != DF_STORE_BUSY)
        return df_sqlite_fail(s, rc, "checkpoint");
    bool truncated = false;
    rc = checkpoint_once(s, SQLITE_CHECKPOINT_TRUNCATE, all ? 0 : CHECKPOINT_WAIT_MS, &truncated);
    if (rc != SQLITE_OK && df_sqlite_code(rc) != DF_STORE_BUSY && !all)
        return df_sqlite_fail(s, rc, "checkpoint");
    *complete = all || truncated;
    return DF_STORE_OK;
}
