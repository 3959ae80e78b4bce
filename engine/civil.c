/* civil: proleptic Gregorian calendar arithmetic and ISO-8601 text of instants (see civil.h).
 * Dates are converted to and from a count of days through 400-year eras of 146097 days (the
 * Gregorian cycle), which keeps every step integer arithmetic and exact for any year. */
#include "civil.h"

#include <stdio.h>
#include <stdlib.h>

bool df_civil_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int df_civil_days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return month == 2 && df_civil_is_leap(year) ? 29 : days[month - 1];
}

int64_t df_civil_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Years are counted from March (so that February, with its leap day, ends the year) in eras of
 * 400 years starting 0000-03-01. */
int64_t df_civil_days_from_date(int64_t year, int month, int day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = df_civil_floor_div(y, 400);
    int64_t yoe = y - era * 400;                         /* [0, 399] */
    int64_t mp = month > 2 ? month - 3 : month + 9;      /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + day - 1;          /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

int64_t df_civil_to_seconds(int64_t year, int month, int day, int hour, int minute, int second)
{
    return df_civil_days_from_date(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

void df_civil_from_seconds(int64_t s, df_civil *out)
{
    int64_t days = df_civil_floor_div(s, 86400);
    int64_t sod = s - days * 86400;
    out->hour = (int)(sod / 3600);
    out->minute = (int)(sod / 60 % 60);
    out->second = (int)(sod % 60);
    out->weekday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    int64_t z = days + 719468;
    int64_t era = df_civil_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    out->year = yoe + era * 400 + (out->month <= 2);
}

char *df_civil_format(int64_t t_ms, int32_t offset_s, bool utc, char *buf, size_t len)
{
    df_civil c;
    df_civil_from_seconds(df_civil_floor_div(t_ms, 1000) + (utc ? 0 : offset_s), &c);
    int n = snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)c.year, c.month, c.day,
                     c.hour, c.minute, c.second);
    if (n < 0 || (size_t)n >= len)
        return buf;
    if (utc) {
        snprintf(buf + n, len - (size_t)n, "Z");
        return buf;
    }
    int32_t a = abs(offset_s);
    if (a % 60)
        snprintf(buf + n, len - (size_t)n, "%c%02d:%02d:%02d", offset_s < 0 ? '-' : '+', a / 3600,
                 a / 60 % 60, a % 60);
    else
        snprintf(buf + n, len - (size_t)n, "%c%02d:%02d", offset_s < 0 ? '-' : '+', a / 3600,
                 a / 60 % 60);
    return buf;
}
