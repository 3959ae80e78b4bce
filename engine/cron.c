/* cron: parses cron expressions into bit sets and finds the next matching wall-clock time (see
 * cron.h). Each field is a comma-separated list of items; an item is `*`, `*` + `/N`, a value, or
 * a range `A-B` with an optional `/N`. Values are numbers or, in the month and day-of-week fields,
 * three-letter names. Errors name the field and the text that is wrong, with "did you mean" for
 * misspelt names and macros. */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "civil.h"
#include "suggest.h"

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const weekday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* One field of the expression. */
typedef struct field {
    const char *name;
    int min, max;             /* values allowed (day-of-week: 0..7) */
    int star_max;             /* the last value `*` covers (day-of-week: 6) */
    const char *const *names; /* month or weekday names, or NULL */
    int n_names;
    int names_base; /* the value of names[0] */
} field;

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };
static const field FIELDS[] = {
    {"second", 0, 59, 59, NULL, 0, 0},        {"minute", 0, 59, 59, NULL, 0, 0},
    {"hour", 0, 23, 23, NULL, 0, 0},          {"day-of-month", 1, 31, 31, NULL, 0, 0},
    {"month", 1, 12, 12, month_names, 12, 1}, {"day-of-week", 0, 7, 6, weekday_names, 7, 0},
};

static const struct {
    const char *name;
    const char *expr;
} MACROS[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};
#define N_MACROS (sizeof MACROS / sizeof MACROS[0])

/* Writes "FIELD: message" into err. */
static int field_err(char *err, size_t len, const field *f, const char *fmt, const char *a, int b)
{
    char msg[200], a40[48];
    snprintf(a40, sizeof a40, "%.40s", a);
    snprintf(msg, sizeof msg, fmt, a40, b);
    snprintf(err, len, "%s: %s", f->name, msg);
    return -1;
}

/* The reason a token that is neither a number nor a name is refused: the extensions of other
 * crons that SPEC §9 leaves out get a message of their own. */
static int bad_token(const field *f, const char *tok, char *err, size_t len)
{
    size_t n = strlen(tok);
    if (strchr(tok, '?'))
        return field_err(err, len, f, "\"%s\" is not supported; use \"*\"", "?", 0);
    if (strchr(tok, '#'))
        return field_err(err, len, f, "\"%s\" (the nth weekday of the month) is not supported", "#",
                         0);
    if (n > 0 && toupper((unsigned char)tok[n - 1]) == 'W' &&
        (n == 1 || isdigit((unsigned char)tok[0]) || strcasecmp(tok, "LW") == 0))
        return field_err(err, len, f, "\"%s\" (the nearest weekday) is not supported", "W", 0);
    if (n > 0 && toupper((unsigned char)tok[n - 1]) == 'L' &&
        (n == 1 || isdigit((unsigned char)tok[0])))
        return field_err(err, len, f, "\"%s\" (the last day) is not supported", "L", 0);
    if (!f->names)
        return field_err(err, len, f, "\"%s\" is not a number", tok, 0);
    /* A misspelt name: the closest name of this field, or a full name's first three letters,
     * or a name of the other named field. */
    const char *s = df_suggest(tok, f->names, (size_t)f->n_names);
    for (int i = 0; !s && n > 3 && i < f->n_names; i++)
        if (strncasecmp(tok, f->names[i], 3) == 0)
            s = f->names[i];
    if (s) {
        char msg[120];
        snprintf(msg, sizeof msg, "unknown name \"%.40s\"; did you mean \"%s\"?", tok, s);
        snprintf(err, len, "%s: %s", f->name, msg);
        return -1;
    }
    const field *other = f == &FIELDS[F_MON] ? &FIELDS[F_DOW] : &FIELDS[F_MON];
    for (int i = 0; i < other->n_names; i++)
        if (strcasecmp(tok, other->names[i]) == 0) {
            snprintf(err, len, "%s: unknown name \"%s\" (%s is a %s name)", f->name, tok,
                     other->names[i], other->name);
            return -1;
        }
    snprintf(err, len, "%s: unknown name \"%.40s\" (expected %s..%s or a number)", f->name, tok,
             f->names[0], f->names[f->n_names - 1]);
    return -1;
}

/* One value: digits, or a name of the field (any case). */
static int parse_value(const field *f, const char *tok, int *v, char *err, size_t len)
{
    if (!*tok) {
        snprintf(err, len, "%s: a value is missing", f->name);
        return -1;
    }
    if (isdigit((unsigned char)tok[0])) {
        long x = 0;
        const char *p = tok;
        for (; isdigit((unsigned char)*p) && x < 100000; p++)
            x = x * 10 + (*p - '0');
        if (*p && !isdigit((unsigned char)*p))
            return bad_token(f, tok, err, len);
        if (x < f->min || x > f->max) {
            snprintf(err, len, "%s: %.20s is out of range (%d-%d)", f->name, tok, f->min, f->max);
            return -1;
        }
        *v = (int)x;
        return 0;
    }
    for (int i = 0; f->names && i < f->n_names; i++)
        if (strcasecmp(tok, f->names[i]) == 0) {
            *v = f->names_base + i;
            return 0;
        }
    return bad_token(f, tok, err, len);
}

/* One list item: `*`, `*` + `/N`, `A`, `A-B`, `A-B/N`. Adds its values to *set. */
static int parse_item(const field *f, char *item, uint64_t *set, char *err, size_t len)
{
    int lo, hi, step = 1;
    char *slash = strchr(item, '/');
    if (slash) {
        *slash = '\0';
        const char *s = slash + 1;
        long x = 0;
        if (!*s)
            return field_err(err, len, f, "a step is missing after \"%s/\"", item, 0);
        for (const char *p = s; *p; p++) {
            if (!isdigit((unsigned char)*p))
                return field_err(err, len, f, "step \"%s\" is not a number", s, 0);
            if (x < 100000)
                x = x * 10 + (*p - '0');
        }
        int span = f->star_max - f->min + 1;
        if (x < 1)
            return field_err(err, len, f, "step %s must be at least 1", s, 0);
        if (x > span)
            return field_err(err, len, f, "step %s is larger than the field's %d values", s, span);
        step = (int)x;
    }
    if (strcmp(item, "*") == 0) {
        lo = f->min;
        hi = f->star_max;
    } else {
        char *dash = strchr(item, '-');
        if (dash)
            *dash = '\0';
        if (parse_value(f, item, &lo, err, len) != 0)
            return -1;
        hi = lo;
        if (dash) {
            if (!dash[1])
                return field_err(err, len, f, "range \"%s-\" has no end", item, 0);
            if (parse_value(f, dash + 1, &hi, err, len) != 0)
                return -1;
            if (hi < lo) {
                snprintf(err, len,
                         "%s: range %.20s-%.20s goes backwards (ranges do not wrap around)",
                         f->name, item, dash + 1);
                return -1;
            }
        } else if (slash) {
            snprintf(err, len,
                     "%s: a step needs a range or \"*\" (write %.20s-%d/%.20s or */%.20s)", f->name,
                     item, f->star_max, slash + 1, slash + 1);
            return -1;
        }
    }
    for (int v = lo; v <= hi; v += step)
        *set |= (uint64_t)1 << v;
    return 0;
}

/* One field: a comma-separated list. Sets *set and *star (the field starts with '*'). */
static int parse_field(const field *f, const char *text, uint64_t *set, bool *star, char *err,
                       size_t len)
{
    char buf[256];
    if (strlen(text) >= sizeof buf)
        return field_err(err, len, f, "too long%s", "", 0);
    snprintf(buf, sizeof buf, "%s", text);
    *set = 0;
    *star = text[0] == '*';
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p)
            return field_err(err, len, f, "empty list item in \"%s\"", text, 0);
        if (parse_item(f, p, set, err, len) != 0)
            return -1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* Whether some allowed month has some allowed day of the month (February: up to the 29th). */
static bool some_date_exists(const df_cron *c)
{
    for (int m = 1; m <= 12; m++) {
        if (!(c->months & (1u << m)))
            continue;
        int days = m == 2 ? 29 : df_civil_days_in_month(2001, m);
        for (int d = 1; d <= days; d++)
            if (c->days & (1u << d))
                return true;
    }
    return false;
}

/* A macro (`@daily`), replaced by its 5-field expression. */
static const char *macro_expr(const char *expr, char *err, size_t len)
{
    for (size_t i = 0; i < N_MACROS; i++)
        if (strcasecmp(expr, MACROS[i].name) == 0)
            return MACROS[i].expr;
    const char *names[N_MACROS];
    for (size_t i = 0; i < N_MACROS; i++)
        names[i] = MACROS[i].name;
    const char *s = df_suggest(expr, names, N_MACROS);
    if (strcasecmp(expr, "@reboot") == 0)
        snprintf(err, len, "macro \"@reboot\" is not supported (a schedule fires at times)");
    else if (s)
        snprintf(err, len, "unknown macro \"%.40s\"; did you mean \"%s\"?", expr, s);
    else
        snprintf(err, len,
                 "unknown macro \"%.40s\" (expected @yearly, @annually, @monthly, @weekly, "
                 "@daily, @midnight or @hourly)",
                 expr);
    return NULL;
}

int df_cron_parse(const char *expr, df_cron *out, char *err, size_t len)
{
    memset(out, 0, sizeof *out);
    char buf[512];
    if (!expr || strlen(expr) >= sizeof buf) {
        snprintf(err, len, "the expression is too long (at most %zu bytes)", sizeof buf - 1);
        return -1;
    }
    while (isspace((unsigned char)*expr))
        expr++;
    snprintf(buf, sizeof buf, "%s", expr);
    for (size_t n = strlen(buf); n > 0 && isspace((unsigned char)buf[n - 1]); n--)
        buf[n - 1] = '\0';
    if (buf[0] == '@') {
        if (strpbrk(buf, " \t")) {
            snprintf(err, len, "a macro stands alone (\"%.60s\")", buf);
            return -1;
        }
        const char *m = macro_expr(buf, err, len);
        if (!m)
            return -1;
        snprintf(buf, sizeof buf, "%s", m);
    }
    char *fields[6];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save), n++)
        if (n < 6)
            fields[n] = tok;
    if (n != 5 && n != 6) {
        snprintf(err, len,
                 "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds "
                 "first), got %d",
                 n);
        return -1;
    }
    uint64_t sets[6] = {1, 0, 0, 0, 0, 0}; /* seconds: {0} unless given */
    bool stars[6] = {false};
    for (int i = 0; i < n; i++) {
        int fi = n == 6 ? i : i + 1;
        if (parse_field(&FIELDS[fi], fields[i], &sets[fi], &stars[fi], err, len) != 0)
            return -1;
    }
    out->seconds = sets[F_SEC];
    out->minutes = sets[F_MIN];
    out->hours = (uint32_t)sets[F_HOUR];
    out->days = (uint32_t)sets[F_DOM];
    out->months = (uint16_t)sets[F_MON];
    out->weekdays = (uint8_t)((sets[F_DOW] | (sets[F_DOW] >> 7)) & 0x7f); /* 7 = Sunday = 0 */
    out->days_star = stars[F_DOM];
    out->weekdays_star = stars[F_DOW];
    out->hours_star = stars[F_HOUR];
    if ((out->days_star || out->weekdays_star) && !some_date_exists(out)) {
        snprintf(err, len,
                 "day-of-month: no day allowed exists in the months allowed (the "
                 "expression never fires)");
        return -1;
    }
    return 0;
}

bool df_cron_date_matches(const df_cron *c, int month, int day, int weekday)
{
    if (!(c->months & (1u << month)))
        return false;
    bool dom = (c->days >> day) & 1u, dow = (c->weekdays >> weekday) & 1u;
    if (!c->days_star && !c->weekdays_star)
        return dom || dow; /* both restricted: either (Vixie cron) */
    return dom && dow;
}

/* The smallest value >= from in set (bits 0..63), or -1. */
static int next_in(uint64_t set, int from)
{
    if (from > 63)
        return -1;
    uint64_t rest = set & (~(uint64_t)0 << from);
    return rest ? __builtin_ctzll(rest) : -1;
}

bool df_cron_next_local(const df_cron *c, int64_t from, int64_t until, int64_t *out)
{
    int64_t t = from;
    while (t <= until) {
        df_civil d;
        df_civil_from_seconds(t, &d);
        int64_t day0 = t - (d.hour * 3600 + d.minute * 60 + d.second);
        if (!(c->months & (1u << d.month))) { /* the first day of the next month allowed */
            int m = next_in(c->months, d.month + 1);
            int64_t y = d.year;
            if (m < 0 || m > 12) {
                y++;
                m = next_in(c->months, 1);
            }
            t = df_civil_to_seconds(y, m, 1, 0, 0, 0);
            continue;
        }
        if (!df_cron_date_matches(c, d.month, d.day, d.weekday)) {
            t = day0 + 86400;
            continue;
        }
        int h = next_in(c->hours, d.hour);
        if (h < 0) {
            t = day0 + 86400;
            continue;
        }
        if (h != d.hour) {
            t = day0 + h * 3600;
            continue;
        }
        int m = next_in(c->minutes, d.minute);
        if (m < 0) {
            t = day0 + (h + 1) * 3600;
            continue;
        }
        if (m != d.minute) {
            t = day0 + h * 3600 + m * 60;
            continue;
        }
        int s = next_in(c->seconds, d.second);
        if (s < 0) {
            t = day0 + h * 3600 + (m + 1) * 60;
            continue;
        }
        t += s - d.second;
        if (t > until)
            return false;
        *out = t;
        return true;
    }
    return false;
}
