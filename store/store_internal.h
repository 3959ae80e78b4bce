/* store_internal: access to the store's SQLite connection, for the store's own unit tests only
 * (e.g. to make the connection read-only or the file full and check how writes fail). Nothing
 * outside store/ and tests/unit/test_store*.c may include this: all SQL lives in store/. */
#ifndef DF_STORE_INTERNAL_H
#define DF_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* The store's connection (borrowed; valid until df_store_close). Same thread rules as the
 * store itself. */
sqlite3 *df_store_sqlite(df_store *s);

#endif
