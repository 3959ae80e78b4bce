/* store/select: which backend a --db names (a postgres:// or postgresql:// URI: PostgreSQL;
 * anything else: an SQLite file), and opening it. The only file that knows every backend, so that
 * the interface (store.c) and the backends depend on store.h alone and never on each other, as
 * Redis's ae.c picks its poller in one place. */
#include "backend.h"

#include <stdbool.h>
#include <stdio.h>
#include <strings.h>

#include "pg/backend.h"
#include "sqlite/backend.h"

/* True when uri names a PostgreSQL database (URI schemes are case-insensitive, RFC 3986). */
static bool is_postgres(const char *uri)
{
    return strncasecmp(uri, "postgresql://", 13) == 0 || strncasecmp(uri, "postgres://", 11) == 0;
}

/* See store.h. The URI is not repeated in the PostgreSQL message: it may hold a password. */
int df_store_open(const char *uri, df_store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!uri || !*uri) {
        snprintf(err, errlen, "store: no database given");
        return DF_STORE_ERROR;
    }
    if (is_postgres(uri))
        return df_pg_open(uri, out, err, errlen);
    return df_sqlite_open(uri, out, err, errlen);
}

/* See store.h. */
bool df_store_is_path(const char *uri)
{
    return uri && !is_postgres(uri);
}

/* See store.h. */
bool df_store_exists(const char *uri)
{
    if (!uri || !*uri)
        return false;
    if (is_postgres(uri))
        return true;
    return df_sqlite_exists(uri);
}
