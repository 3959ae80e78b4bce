/* tz: IANA time zones through GLib's GTimeZone, and ISO-8601 times through GDateTime (see tz.h).
 * GLib reads the system's tz database itself (TZif files, with the POSIX rule of their footer
 * for the years past their last transition), keeps each zone immutable and reference counted,
 * and its zone cache is locked: nothing here touches the TZ environment variable or any other
 * process-wide state. */
#include "tz.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <dagflow/dagflow.h>

#include "suggest.h"

struct df_tz {
    GTimeZone *zone;
    char *name;
};

/* The folder of the tz database, as GLib and the C library look for it. */
static const char *tz_dir(void)
{
    const char *d = getenv("TZDIR");
    return d && *d ? d : "/usr/share/zoneinfo";
}

/* Whether name looks like a database name: letters, digits, '_', '-', '+' and '/' between
 * non-empty components, starting with a letter (so no offset, no POSIX rule, no path games). */
static bool name_shape_ok(const char *name)
{
    if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
        return false;
    size_t n = strlen(name);
    if (n > 255 || name[n - 1] == '/' || strstr(name, "//") || strstr(name, ".."))
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '+' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

/* Whether the database holds a zone file by that name. */
static bool zone_file_exists(const char *name)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/%s", tz_dir(), name);
    return n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The database name closest to name, from tzdata.zi's zone ("Z NAME ...") and link
 * ("L TARGET NAME") lines, copied into buf; false when none is close or the file is missing. */
static bool closest_zone(const char *name, char *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tzdata.zi", tz_dir());
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[512], best[256] = "";
    size_t limit = strlen(name) / 3, best_d = (size_t)-1;
    limit = limit < 1 ? 1 : limit > 3 ? 3 : limit; /* as df_suggest_best */
    while (fgets(line, sizeof line, f)) {
        char a[256], b[256];
        const char *cand = NULL;
        if (line[0] == 'Z' && sscanf(line, "Z %255s", a) == 1)
            cand = a;
        else if (line[0] == 'L' && sscanf(line, "L %255s %255s", a, b) == 2)
            cand = b;
        if (!cand || strcmp(cand, name) == 0)
            continue;
        size_t d = df_edit_distance(name, cand);
        if (d <= limit && d < best_d) {
            best_d = d;
            snprintf(best, sizeof best, "%s", cand);
        }
    }
    fclose(f);
    if (!best[0])
        return false;
    snprintf(buf, len, "%s", best);
    return true;
}

int df_tz_open(const char *name, df_tz **out, char *err, size_t len)
{
    *out = NULL;
    GTimeZone *zone = NULL;
    if (name && strcmp(name, "UTC") == 0)
        zone = g_time_zone_new_utc();
    else if (name && name_shape_ok(name) && zone_file_exists(name))
        zone = g_time_zone_new_identifier(name);
    if (!zone) {
        char s[256];
        if (name && closest_zone(name, s, sizeof s) && strcmp(s, name) != 0)
            snprintf(err, len, "unknown time zone \"%.200s\"; did you mean \"%s\"?", name, s);
        else
            snprintf(err, len,
                     "unknown time zone \"%.200s\" (an IANA name such as "
                     "\"Europe/Berlin\" or \"UTC\")",
                     name ? name : "");
        return DF_EINPUT;
    }
    df_tz *tz = calloc(1, sizeof *tz);
    if (!tz || !(tz->name = strdup(name))) {
        free(tz);
        g_time_zone_unref(zone);
        snprintf(err, len, "out of memory");
        return DF_ENOMEM;
    }
    tz->zone = zone;
    *out = tz;
    return 0;
}

void df_tz_free(df_tz *tz)
{
    if (!tz)
        return;
    g_time_zone_unref(tz->zone);
    free(tz->name);
    free(tz);
}

const char *df_tz_name(const df_tz *tz)
{
    return tz->name;
}

/* GLib's interval (an index that grows with time) holding instant t. */
static int interval_at(const df_tz *tz, int64_t t)
{
    return g_time_zone_find_interval(tz->zone, G_TIME_TYPE_UNIVERSAL, (gint64)t);
}

int32_t df_tz_offset(const df_tz *tz, int64_t t)
{
    return g_time_zone_get_offset(tz->zone, interval_at(tz, t));
}

/* Intervals are ordered, so "the interval at x differs from the one at t" is false then true as
 * x grows: bisection finds the first x where it turns true. An interval may change without the
 * offset changing (only the abbreviation or the DST flag): the search then goes on from there. */
int64_t df_tz_next_change(const df_tz *tz, int64_t t, int64_t horizon)
{
    int64_t end = t + horizon;
    int32_t off = df_tz_offset(tz, t);
    while (t < end) {
        int i0 = interval_at(tz, t);
        if (interval_at(tz, end) == i0)
            return end;
        int64_t lo = t, hi = end; /* interval_at(lo) == i0, interval_at(hi) != i0 */
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (interval_at(tz, mid) == i0)
                lo = mid;
            else
                hi = mid;
        }
        if (df_tz_offset(tz, hi) != off)
            return hi;
        t = hi;
    }
    return end;
}

int df_tz_parse_time(const char *text, int64_t *ms)
{
    if (!text || !*text)
        return DF_EINPUT;
    GDateTime *dt = g_date_time_new_from_iso8601(text, NULL); /* NULL: an offset is required */
    if (!dt)
        return DF_EINPUT;
    *ms = (int64_t)g_date_time_to_unix(dt) * 1000 + g_date_time_get_microsecond(dt) / 1000;
    g_date_time_unref(dt);
    return 0;
}
