/* sqlite/backend: the SQLite backend's entry points, for store/store.c (which picks a backend by
 * the --db value) and for the store's own unit tests (tests/unit/test_store*.c, which also look
 * at the file through the connection). Nothing outside store/ and those tests may include it. */
#ifndef DF_STORE_SQLITE_BACKEND_H
#define DF_STORE_SQLITE_BACKEND_H

#include <sqlite3.h>
#include <stdbool.h>

#include "../store.h"

/* The schema version this build writes (PRAGMA user_version). */
#define DF_STORE_SCHEMA_VERSION 11

/* Opens (creating with mode 0600 if needed) and migrates the SQLite file at path: WAL mode, a
 * busy timeout of 10000 ms, foreign keys on. Safe when several processes create the same new
 * file at the same moment; a file that exists but cannot be written opens read-only (reads work,
 * writes fail with a message). A file whose user_version is newer than this build's is refused
 * with a clear message. Returns DF_STORE_OK and sets *out, or an error code with the message in
 * err (and *out NULL). */
int df_sqlite_open(const char *path, df_store **out, char *err, size_t errlen);

/* Whether a new (empty) file gets its schema from store/sqlite/fresh_011.sql and then the later
 * migrations (true, the default) or from every migration in turn (false). Not thread-safe: set
 * it before opening. For unit test_store_fresh only, which compares the two. */
extern bool df_sqlite_fresh_schema;

/* True when a file (of any kind) exists at path. */
bool df_sqlite_exists(const char *path);

/* The store's SQLite connection (borrowed; valid until df_store_close), or NULL when s is not a
 * SQLite store. Same thread rules as the store. For the store's unit tests only. */
sqlite3 *df_store_sqlite(df_store *s);

#endif
