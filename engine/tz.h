/* tz: IANA time zones from the system's tz database (/usr/share/zoneinfo, or $TZDIR), and
 * ISO-8601 times with an offset. The one file of dagflow that knows GLib, which reads the
 * database (see the README, "Schedules: time zones", for why GLib's GTimeZone and not glibc's
 * localtime_r, ICU or a TZif reader of our own).
 *
 * A df_tz is immutable once opened: any number of threads may read one at once. Times are
 * seconds since the epoch (UTC); offsets are seconds east of UTC. */
#ifndef DF_TZ_H
#define DF_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct df_tz df_tz;

/* Opens the IANA zone `name` ("Europe/Berlin", "UTC"): only names of the tz database, not POSIX
 * TZ strings ("EST5EDT,M3.2.0,M11.1.0") nor offsets ("+02:00"). Returns 0 and sets *out (free
 * with df_tz_free); DF_EINPUT when the name is not a zone of the database, with
 * `unknown time zone "Europe/Berln"; did you mean "Europe/Berlin"?` in err (len bytes; the
 * suggestion comes from the database's tzdata.zi, read only then); DF_ENOMEM. Thread-safe. */
int df_tz_open(const char *name, df_tz **out, char *err, size_t len);

/* Frees a zone; NULL is fine. */
void df_tz_free(df_tz *tz);

/* The zone's name as opened (borrowed, valid as long as tz). */
const char *df_tz_name(const df_tz *tz);

/* The UTC offset in force at instant t (seconds east of UTC: +3600 for CET). Thread-safe. */
int32_t df_tz_offset(const df_tz *tz, int64_t t);

/* The first instant in (t, t + horizon] at which the UTC offset differs from the one in force at
 * t, or t + horizon when the offset does not change in between (horizon > 0, seconds). Exact:
 * the database's transitions are searched by bisection over GLib's ordered intervals.
 * Thread-safe. */
int64_t df_tz_next_change(const df_tz *tz, int64_t t, int64_t horizon);

/* Parses an ISO-8601 date and time that carries its offset (`2027-03-28T01:00:00Z`,
 * `2027-03-28T03:00:00+02:00`, fractions of a second allowed) into milliseconds since the epoch.
 * Returns 0, or DF_EINPUT for text that is not such a time (one without an offset included).
 * Thread-safe. */
int df_tz_parse_time(const char *text, int64_t *ms);

#endif
