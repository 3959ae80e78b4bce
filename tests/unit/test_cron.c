/* test_cron: the cron parser and matcher (engine/cron.c) — every syntax form of SPEC §9 (fields,
 * lists, ranges, steps, names, 7 = Sunday, macros, 6 fields), each error with the field it names
 * and its "did you mean", and Vixie's day-of-month/day-of-week rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/civil.h"
#include "engine/cron.h"

static df_cron parse_ok(const char *expr)
{
    df_cron c;
    char err[256] = "";
    if (df_cron_parse(expr, &c, err, sizeof err) != 0)
        fail_msg("%s: %s", expr, err);
    return c;
}

static void parse_err(const char *expr, const char *want)
{
    df_cron c;
    char err[256] = "";
    if (df_cron_parse(expr, &c, err, sizeof err) == 0)
        fail_msg("%s: parsed, expected the error %s", expr, want);
    if (strcmp(err, want) != 0)
        fail_msg("%s: error \"%s\", expected \"%s\"", expr, err, want);
}

#define BIT(v) ((uint64_t)1 << (v))

static void test_fields_and_forms(void **state)
{
    (void)state;
    df_cron c = parse_ok("*/15 9-17 1,15 * MON-FRI");
    assert_int_equal(c.seconds, BIT(0));
    assert_int_equal(c.minutes, BIT(0) | BIT(15) | BIT(30) | BIT(45));
    assert_int_equal(c.hours, 0x3fe00); /* 9..17 */
    assert_int_equal(c.days, BIT(1) | BIT(15));
    assert_int_equal(c.months, 0x1ffe);
    assert_int_equal(c.weekdays, 0x3e);
    assert_false(c.days_star);
    assert_false(c.weekdays_star);
    assert_false(c.hours_star);
    c = parse_ok("1-10/2 */6 * jan-Mar/2 7");
    assert_int_equal(c.minutes, BIT(1) | BIT(3) | BIT(5) | BIT(7) | BIT(9));
    assert_int_equal(c.hours, BIT(0) | BIT(6) | BIT(12) | BIT(18));
    assert_true(c.hours_star);
    assert_true(c.days_star);
    assert_int_equal(c.months, BIT(1) | BIT(3));
    assert_int_equal(c.weekdays, BIT(0)); /* 7 is Sunday */
    c = parse_ok("0 0 * * 0,7");
    assert_int_equal(c.weekdays, BIT(0));
    c = parse_ok("0 0 * * 5-7"); /* Fri, Sat, Sun */
    assert_int_equal(c.weekdays, BIT(0) | BIT(5) | BIT(6));
    c = parse_ok("0 0 * * */2");
    assert_int_equal(c.weekdays, BIT(0) | BIT(2) | BIT(4) | BIT(6));
    c = parse_ok("  30 5  *\t* SUN,sat  "); /* spaces and tabs, names in any case */
    assert_int_equal(c.weekdays, BIT(0) | BIT(6));
    c = parse_ok("*/20 */5 * * * *"); /* 6 fields: seconds first */
    assert_int_equal(c.seconds, BIT(0) | BIT(20) | BIT(40));
    for (int m = 0; m < 60; m++)
        assert_int_equal((c.minutes >> m) & 1, m % 5 == 0);
    c = parse_ok("05 00 31 DEC *"); /* leading zeros */
    assert_int_equal(c.minutes, BIT(5));
    assert_int_equal(c.months, BIT(12));
    c = parse_ok("*/60 * * * *"); /* a step as large as the field: its first value only */
    assert_int_equal(c.minutes, BIT(0));
}

static void test_macros(void **state)
{
    (void)state;
    const char *m[][2] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
                          {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
                          {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                          {"@hourly", "0 * * * *"},  {"@DAILY", "0 0 * * *"}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        df_cron a = parse_ok(m[i][0]), b = parse_ok(m[i][1]);
        assert_memory_equal(&a, &b, sizeof a);
    }
    parse_err("@dialy", "unknown macro \"@dialy\"; did you mean \"@daily\"?");
    parse_err("@reboot", "macro \"@reboot\" is not supported (a schedule fires at times)");
    parse_err("@every", "unknown macro \"@every\" (expected @yearly, @annually, @monthly, "
                        "@weekly, @daily, @midnight or @hourly)");
    parse_err("@daily 5", "a macro stands alone (\"@daily 5\")");
}

static void test_errors(void **state)
{
    (void)state;
    const char *five = "expected 5 fields (minute hour day-of-month month day-of-week) or 6 "
                       "(seconds first), got ";
    char want[256];
    snprintf(want, sizeof want, "%s4", five);
    parse_err("* * * *", want);
    snprintf(want, sizeof want, "%s7", five);
    parse_err("* * * * * * *", want);
    snprintf(want, sizeof want, "%s0", five);
    parse_err("   ", want);
    parse_err("60 * * * *", "minute: 60 is out of range (0-59)");
    parse_err("* 24 * * *", "hour: 24 is out of range (0-23)");
    parse_err("* * 0 * *", "day-of-month: 0 is out of range (1-31)");
    parse_err("* * 32 * *", "day-of-month: 32 is out of range (1-31)");
    parse_err("* * * 13 *", "month: 13 is out of range (1-12)");
    parse_err("* * * * 8", "day-of-week: 8 is out of range (0-7)");
    parse_err("60 * * * * *", "second: 60 is out of range (0-59)");
    parse_err("0 9 * * MOM", "day-of-week: unknown name \"MOM\"; did you mean \"MON\"?");
    parse_err("0 9 * * MONDAY", "day-of-week: unknown name \"MONDAY\"; did you mean \"MON\"?");
    parse_err("0 9 * JNU *", "month: unknown name \"JNU\"; did you mean \"JUN\"?");
    parse_err("0 9 * MON *", "month: unknown name \"MON\" (MON is a day-of-week name)");
    parse_err("0 9 * * XYZ", "day-of-week: unknown name \"XYZ\" (expected SUN..SAT or a number)");
    parse_err("0 x * * *", "hour: \"x\" is not a number");
    parse_err("0 9 L * *", "day-of-month: \"L\" (the last day) is not supported");
    parse_err("0 9 * * 5L", "day-of-week: \"L\" (the last day) is not supported");
    parse_err("0 9 15W * *", "day-of-month: \"W\" (the nearest weekday) is not supported");
    parse_err("0 9 * * MON#2",
              "day-of-week: \"#\" (the nth weekday of the month) is not supported");
    parse_err("0 9 ? * MON", "day-of-month: \"?\" is not supported; use \"*\"");
    parse_err("1,,2 * * * *", "minute: empty list item in \"1,,2\"");
    parse_err("1, * * * *", "minute: empty list item in \"1,\"");
    parse_err("5-2 * * * *", "minute: range 5-2 goes backwards (ranges do not wrap around)");
    parse_err("5- * * * *", "minute: range \"5-\" has no end");
    parse_err("*/0 * * * *", "minute: step 0 must be at least 1");
    parse_err("*/61 * * * *", "minute: step 61 is larger than the field's 60 values");
    parse_err("*/x * * * *", "minute: step \"x\" is not a number");
    parse_err("*/ * * * *", "minute: a step is missing after \"*/\"");
    parse_err("5/15 * * * *", "minute: a step needs a range or \"*\" (write 5-59/15 or */15)");
    parse_err("-5 * * * *", "minute: a value is missing");
    parse_err("0 0 30 2 *", "day-of-month: no day allowed exists in the months allowed (the "
                            "expression never fires)");
    parse_err("0 0 31 4,6,9,11 *", "day-of-month: no day allowed exists in the months allowed "
                                   "(the expression never fires)");
    /* With both day fields restricted, weekdays give days: it fires. */
    parse_ok("0 0 30 2 MON");
    parse_ok("0 0 29 2 *");
}

/* The date matcher with Vixie's rule. */
static bool date_ok(const char *expr, int64_t y, int m, int d)
{
    df_cron c = parse_ok(expr);
    df_civil x;
    df_civil_from_seconds(df_civil_to_seconds(y, m, d, 0, 0, 0), &x);
    return df_cron_date_matches(&c, m, d, x.weekday);
}

static void test_vixie_rule(void **state)
{
    (void)state;
    /* Both restricted: either. 2027-02-01 is a Monday, 2028-02-29 a Tuesday. */
    assert_true(date_ok("0 0 29 2 MON", 2027, 2, 1));
    assert_true(date_ok("0 0 29 2 MON", 2028, 2, 29));
    assert_false(date_ok("0 0 29 2 MON", 2028, 2, 1)); /* a Tuesday, not the 29th */
    assert_false(date_ok("0 0 29 2 MON", 2027, 3, 1)); /* a Monday, but not February */
    /* Day-of-month starts with '*': both must match. */
    assert_true(date_ok("0 0 */10 * MON", 2027, 1, 11));
    assert_false(date_ok("0 0 */10 * MON", 2027, 1, 4));  /* a Monday, not 1/11/21/31 */
    assert_false(date_ok("0 0 */10 * MON", 2027, 1, 21)); /* the 21st, a Thursday */
    /* Day-of-week starts with '*': only the day of month counts. */
    assert_true(date_ok("0 0 13 * *", 2027, 8, 13));
    assert_false(date_ok("0 0 13 * *", 2027, 8, 12));
    /* Day-of-week starts with '*' (even weekdays): the 1st must also be one. */
    assert_true(date_ok("0 0 1 * */2", 2027, 6, 1));  /* a Tuesday */
    assert_false(date_ok("0 0 1 * */2", 2027, 2, 1)); /* a Monday */
}

static void test_next_local(void **state)
{
    (void)state;
    df_cron c = parse_ok("30 2 * * *");
    int64_t t0 = df_civil_to_seconds(2027, 1, 1, 0, 0, 0), out;
    assert_true(df_cron_next_local(&c, t0, t0 + 86400, &out));
    assert_int_equal(out, t0 + 2 * 3600 + 1800);
    assert_true(df_cron_next_local(&c, out, out, &out));             /* from is inclusive */
    assert_false(df_cron_next_local(&c, out + 1, out + 3600, &out)); /* until bounds it */
    c = parse_ok("0 0 29 2 *");
    assert_true(df_cron_next_local(&c, t0, t0 + 5 * 366 * 86400LL, &out));
    assert_int_equal(out, df_civil_to_seconds(2028, 2, 29, 0, 0, 0));
    c = parse_ok("59 59 23 31 12 *"); /* the year's last second */
    assert_true(df_cron_next_local(&c, t0, t0 + 366 * 86400LL, &out));
    assert_int_equal(out, df_civil_to_seconds(2027, 12, 31, 23, 59, 59));
}

/* A small deterministic generator (xorshift64*), so that a failure can be replayed. */
static uint64_t rnd(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ull;
}

/* Whether local seconds t match c, field by field. */
static bool matches(const df_cron *c, int64_t t)
{
    df_civil d;
    df_civil_from_seconds(t, &d);
    return ((c->seconds >> d.second) & 1) && ((c->minutes >> d.minute) & 1) &&
           ((c->hours >> d.hour) & 1) && df_cron_date_matches(c, d.month, d.day, d.weekday);
}

/* Random expressions made of cron's own characters: the parser never crashes and never accepts
 * what it cannot search; for each accepted one, the next match is a match, and nothing between
 * the start and it matches (checked second by second over short spans). */
static void test_random_expressions(void **state)
{
    (void)state;
    static const char *const junk[] = {"L", "W", "#", "?", "MON", "jan", "x", "", "-", "/"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t parsed = 0;
    for (int i = 0; i < 100000; i++) {
        char expr[256] = "";
        int nf = rnd(&x) % 8 ? 5 + (int)(rnd(&x) % 2) : 4 + (int)(rnd(&x) % 4);
        for (int f = 0; f < nf; f++) {
            static const int lo6[] = {0, 0, 0, 1, 1, 0}, hi6[] = {59, 59, 23, 31, 12, 7};
            int fi = nf == 6 ? f : f + 1 < 6 ? f + 1 : 5, lo = lo6[fi], hi = hi6[fi];
            int items = 1 + (int)(rnd(&x) % 3);
            for (int k = 0; k < items; k++) {
                char item[32];
                int span = hi - lo + 1, a = lo + (int)(rnd(&x) % span);
                int b = a + (int)(rnd(&x) % (hi - a + 1)), st = 1 + (int)(rnd(&x) % span);
                switch (rnd(&x) % 8) {
                case 0:
                case 1:
                    snprintf(item, sizeof item, "*");
                    break;
                case 2:
                    snprintf(item, sizeof item, "*/%d", st);
                    break;
                case 3:
                    snprintf(item, sizeof item, "%d", a);
                    break;
                case 4:
                    snprintf(item, sizeof item, "%d-%d", a, b);
                    break;
                case 5:
                    snprintf(item, sizeof item, "%d-%d/%d", a, b, st);
                    break;
                case 6:
                    snprintf(item, sizeof item, "%d", a + span); /* out of range */
                    break;
                default:
                    snprintf(item, sizeof item, "%s", rnd(&x) % 4 ? "*" : junk[rnd(&x) % 10]);
                    break;
                }
                strcat(expr, k ? "," : f ? " " : "");
                strcat(expr, item);
            }
        }
        df_cron c;
        char err[256];
        if (df_cron_parse(expr, &c, err, sizeof err) != 0) {
            assert_true(err[0] != '\0');
            continue;
        }
        parsed++;
        int64_t from = df_civil_to_seconds(2027, 1 + (int)(rnd(&x) % 12), 1, 0, 0, 0) +
                       (int64_t)(rnd(&x) % 86400),
                out;
        if (!df_cron_next_local(&c, from, from + 30 * 366 * 86400LL, &out))
            fail_msg("\"%s\" parsed but never matches after %lld", expr, (long long)from);
        assert_true(out >= from);
        assert_true(matches(&c, out));
        for (int64_t t = from; t < out && t < from + 7200; t++)
            if (matches(&c, t))
                fail_msg("\"%s\": %lld matches before the next match %lld", expr, (long long)t,
                         (long long)out);
    }
    print_message("random expressions: %zu of 100000 parsed\n", parsed);
    assert_true(parsed > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_forms), cmocka_unit_test(test_macros),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_vixie_rule),
        cmocka_unit_test(test_next_local),       cmocka_unit_test(test_random_expressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
