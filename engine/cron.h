/* cron: cron expressions as SPEC §9 defines them — 5 fields (minute hour day-of-month month
 * day-of-week) or 6 (seconds first); `*`, lists, ranges, steps (`*` + `/N`, `A-B/N`), month and
 * weekday names (JAN..DEC, SUN..SAT, any case), weekday 0 or 7 = Sunday, the macros @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight and @hourly — parsed into bit sets, and the
 * search for the next matching wall-clock time. As in Vixie cron, when both day-of-month and
 * day-of-week are restricted (neither starts with `*`), a day matching either matches; otherwise
 * a day must match both.
 *
 * Pure: no time zone (schedule.c maps wall-clock times to instants), no I/O, no global state;
 * every function is thread-safe. */
#ifndef DF_CRON_H
#define DF_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed expression: bit v of a set means value v matches. */
typedef struct df_cron {
    uint64_t seconds;   /* 0..59; {0} for a 5-field expression or a macro */
    uint64_t minutes;   /* 0..59 */
    uint32_t hours;     /* 0..23 */
    uint32_t days;      /* 1..31 (day of month) */
    uint16_t months;    /* 1..12 */
    uint8_t weekdays;   /* 0..6, 0 = Sunday (a 7 in the expression is stored as 0) */
    bool days_star;     /* the day-of-month field starts with '*' (unrestricted) */
    bool weekdays_star; /* the day-of-week field starts with '*' */
    bool hours_star;    /* the hour field starts with '*': SPEC §9's DST rule for such fields */
} df_cron;

/* Parses expr into *out. Returns 0, or -1 with the reason in err (len bytes), naming the field
 * and the value: `day-of-week: unknown name "MOM"; did you mean "MON"?`, `minute: 60 is out of
 * range (0-59)`, `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds
 * first), got 4`, `day-of-month: "L" (last day of the month) is not supported`. An expression
 * that can never fire (`0 0 30 2 *`) is an error too. Thread-safe. */
int df_cron_parse(const char *expr, df_cron *out, char *err, size_t len);

/* Whether the date (month 1..12, day 1..31, weekday 0..6) matches the month, day-of-month and
 * day-of-week fields, with Vixie's rule for the two day fields. */
bool df_cron_date_matches(const df_cron *c, int month, int day, int weekday);

/* The first wall-clock time L with from <= L <= until (local seconds, see civil.h) that matches
 * the expression. Returns true and sets *out, or false when there is none in that range. Work is
 * proportional to the number of days in the range, not seconds. */
bool df_cron_next_local(const df_cron *c, int64_t from, int64_t until, int64_t *out);

#endif
