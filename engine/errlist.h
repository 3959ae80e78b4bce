/* errlist: a growing list of error messages, used where every error must be reported (workflow
 * loading) instead of only the first. */
#ifndef DF_ERRLIST_H
#define DF_ERRLIST_H

#include <stddef.h>

/* df_errlist and df_errlist_clear are public (dagflow.h). */
#include <dagflow/dagflow.h>

/* Appends one message (printf format). On allocation failure the message is dropped silently but
 * n still grows by one with a fixed "out of memory" text, so callers never mistake a failure for
 * success. Not thread-safe. */
void df_errlist_add(df_errlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns s when it fits in len bytes (NUL included); otherwise copies into buf (len bytes) as
 * much of s as fits with a trailing "..." without splitting a UTF-8 character, and returns buf.
 * Thread-safe. */
const char *df_utf8_cut(const char *s, char *buf, size_t len);

#endif
