/* pg/backend: the PostgreSQL backend's entry point, for store/store.c (which picks a backend by
 * the --db value). Nothing outside store/ may include it. */
#ifndef DF_STORE_PG_BACKEND_H
#define DF_STORE_PG_BACKEND_H

#include <stddef.h>

#include "../store.h"

/* The schema version this build writes (the highest version in the dagflow_schema table). */
#define DF_PG_SCHEMA_VERSION 15

/* Connects to the PostgreSQL database uri names (a postgresql:// or postgres:// URI, as libpq
 * reads it; borrowed) and migrates it to this build's schema (store/pg/NNN_*.sql, in one
 * transaction under an advisory lock, so that engines starting together apply each migration
 * once). A server that does not answer is retried for DAGFLOW_PG_RETRY_MS (default 30000 ms); a
 * database whose schema is newer than this build's is refused. Returns DF_STORE_OK and sets
 * *out, or DF_STORE_ERROR with the message in err (errlen bytes; *out NULL). Messages never
 * repeat the URI (it may hold a password). */
int df_pg_open(const char *uri, df_store **out, char *err, size_t errlen);

#endif
