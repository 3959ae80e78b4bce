/* civil: proleptic Gregorian calendar arithmetic on plain integers — days since 1970-01-01 from a
 * date and back, weekdays, month lengths, leap years — and the ISO-8601 text of an instant in UTC
 * or at a given UTC offset. No time zone, no I/O, no global state: every function is pure and
 * thread-safe. The schedule code (schedule.c, cron.c) reads local wall-clock times as "local
 * seconds": the seconds since 1970-01-01T00:00:00 of that wall clock, as if it were UTC. */
#ifndef DF_CIVIL_H
#define DF_CIVIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A broken-down date and time (no zone). */
typedef struct df_civil {
    int64_t year; /* proleptic Gregorian, e.g. 2027 */
    int month;    /* 1..12 */
    int day;      /* 1..31 */
    int hour;     /* 0..23 */
    int minute;   /* 0..59 */
    int second;   /* 0..59 */
    int weekday;  /* 0 = Sunday .. 6 = Saturday */
} df_civil;

/* Whether year is a leap year (divisible by 4, except centuries not divisible by 400). */
bool df_civil_is_leap(int64_t year);

/* Days in month (1..12) of year: 28..31. */
int df_civil_days_in_month(int64_t year, int month);

/* Days since 1970-01-01 of a date (month 1..12, day 1..31; not checked). */
int64_t df_civil_days_from_date(int64_t year, int month, int day);

/* Seconds since 1970-01-01T00:00:00 of a date and time of day (as if UTC). */
int64_t df_civil_to_seconds(int64_t year, int month, int day, int hour, int minute, int second);

/* Breaks seconds since 1970-01-01T00:00:00 (negative allowed) into *out, weekday included. */
void df_civil_from_seconds(int64_t s, df_civil *out);

/* floor(a / b) for b > 0 (C's division truncates toward zero). */
int64_t df_civil_floor_div(int64_t a, int64_t b);

/* Writes the instant t_ms (milliseconds since the epoch) into buf (len >= 32 bytes) as
 * `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, the milliseconds dropped) when offset_s is 0 and utc is
 * true, else as the wall-clock time at UTC offset offset_s (seconds east of UTC) followed by the
 * offset: `2027-03-28T03:00:00+02:00` (`+05:30`, `-04:56:02` when the offset has seconds).
 * Returns buf. */
char *df_civil_format(int64_t t_ms, int32_t offset_s, bool utc, char *buf, size_t len);

#endif
