/* test_schedule: next fire times in time zones (engine/schedule.c over cron.c and tz.c) — SPEC
 * §9's DST rules in America/New_York, Europe/London, Australia/Lord_Howe (a 30-minute change) and
 * Asia/Kolkata (no DST), leap years, month ends, start_at/end_at, interval_ms — compared with
 * fire times computed independently: tests/data/schedule_oracle.tsv, made by
 * tests/unit/schedule_oracle.py with Python's zoneinfo (checked in; the e2e test
 * test_schedule_oracle.sh regenerates it at test time and points DF_SCHEDULE_ORACLE at the fresh
 * table). Then the decisions of catchup, max_active_runs and overlap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dagflow/dagflow.h>

#include "engine/civil.h"
#include "engine/errlist.h"
#include "engine/schedule.h"
#include "engine/workflow.h"

/* A schedule of one cron expression in a zone (asserts both are valid). */
static df_schedule *cron_in(const char *expr, const char *zone)
{
    df_schedule *s = df_schedule_new();
    char err[256] = "";
    assert_non_null(s);
    if (df_schedule_add_cron(s, expr, err, sizeof err) != 0)
        fail_msg("%s: %s", expr, err);
    df_tz_free(s->tz);
    s->tz = NULL;
    if (df_tz_open(zone, &s->tz, err, sizeof err) != 0)
        fail_msg("%s: %s", zone, err);
    return s;
}

static int64_t at(const char *iso)
{
    int64_t ms;
    if (df_tz_parse_time(iso, &ms) != 0)
        fail_msg("bad time %s", iso);
    return ms;
}

/* Asserts the next fire times after `after` are the n UTC strings given (fewer: then none). */
static void expect(const df_schedule *s, const char *after, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    int64_t t = at(after);
    for (int i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        int64_t next;
        char got[64] = "none";
        if (df_schedule_next(s, t, 0, &next) == 0)
            df_civil_format(next, 0, true, got, sizeof got);
        if (strcmp(got, want) != 0)
            fail_msg("%s after %s: fire %d is %s, expected %s",
                     s->n_crons ? s->cron_texts[0] : "interval", after, i + 1, got, want);
        t = next;
    }
    va_end(ap);
}

/* ---- DST, by hand from the tz rules -----------------------------------------------------------
 */

static void test_new_york_spring_forward(void **state)
{
    (void)state;
    /* 2027-03-14 02:00 EST -> 03:00 EDT. Restricted hour: 02:30 is skipped and fires once at the
     * first instant after the gap (03:00 EDT = 07:00Z). */
    df_schedule *s = cron_in("30 2 * * *", "America/New_York");
    expect(s, "2027-03-13T00:00:00Z", 3, "2027-03-13T07:30:00Z", "2027-03-14T07:00:00Z",
           "2027-03-15T06:30:00Z");
    df_schedule_free(s);
    /* Two skipped times in one gap fire once, together. */
    s = cron_in("0,15,45 2 * * *", "America/New_York");
    expect(s, "2027-03-14T06:59:00Z", 2, "2027-03-14T07:00:00Z", "2027-03-15T06:00:00Z");
    df_schedule_free(s);
    /* Unrestricted hour: a skipped local time does not occur. */
    s = cron_in("30 * * * *", "America/New_York");
    expect(s, "2027-03-14T06:00:00Z", 2, "2027-03-14T06:30:00Z", "2027-03-14T07:30:00Z");
    df_schedule_free(s);
}

static void test_new_york_fall_back(void **state)
{
    (void)state;
    /* 2027-11-07 02:00 EDT -> 01:00 EST: 01:00-01:59 happens twice. */
    df_schedule *s = cron_in("30 1 * * *", "America/New_York"); /* restricted: first only */
    expect(s, "2027-11-06T12:00:00Z", 2, "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z");
    /* Asked from inside the second pass, the repeated time does not fire again. */
    expect(s, "2027-11-07T06:10:00Z", 1, "2027-11-08T06:30:00Z");
    df_schedule_free(s);
    s = cron_in("30 * * * *", "America/New_York"); /* unrestricted: each occurrence */
    expect(s, "2027-11-07T04:00:00Z", 4, "2027-11-07T04:30:00Z", "2027-11-07T05:30:00Z",
           "2027-11-07T06:30:00Z", "2027-11-07T07:30:00Z");
    df_schedule_free(s);
}

static void test_london(void **state)
{
    (void)state;
    /* 2027-03-28 01:00 GMT -> 02:00 BST; 2027-10-31 02:00 BST -> 01:00 GMT. */
    df_schedule *s = cron_in("30 1 * * *", "Europe/London");
    expect(s, "2027-03-27T12:00:00Z", 2, "2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z");
    expect(s, "2027-10-30T12:00:00Z", 2, "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z");
    df_schedule_free(s);
}

static void test_lord_howe_half_hour(void **state)
{
    (void)state;
    /* Lord Howe: 2026-10-04 02:00 +10:30 -> 02:30 +11:00; 2027-04-04 02:00 +11 -> 01:30 +10:30. */
    df_schedule *s = cron_in("0,15,30,45 2 * * *", "Australia/Lord_Howe");
    expect(s, "2026-10-03T12:00:00Z", 3, "2026-10-03T15:30:00Z", "2026-10-03T15:45:00Z",
           "2026-10-04T15:00:00Z");
    df_schedule_free(s);
    s = cron_in("45 1 * * *", "Australia/Lord_Howe"); /* 01:45 repeats: first occurrence */
    expect(s, "2027-04-03T00:00:00Z", 2, "2027-04-03T14:45:00Z", "2027-04-04T15:15:00Z");
    df_schedule_free(s);
    s = cron_in("45 * * * *", "Australia/Lord_Howe"); /* each occurrence */
    expect(s, "2027-04-03T14:00:00Z", 3, "2027-04-03T14:45:00Z", "2027-04-03T15:15:00Z",
           "2027-04-03T16:15:00Z");
    df_schedule_free(s);
}

static void test_no_dst_zone(void **state)
{
    (void)state;
    df_schedule *s = cron_in("0 9 * * *", "Asia/Kolkata"); /* +05:30 all year */
    expect(s, "2027-03-28T00:00:00Z", 2, "2027-03-28T03:30:00Z", "2027-03-29T03:30:00Z");
    expect(s, "2027-10-31T00:00:00Z", 1, "2027-10-31T03:30:00Z");
    df_schedule_free(s);
}

/* ---- calendar ----------------------------------------------------------------------------------
 */

static void test_leap_years_and_month_ends(void **state)
{
    (void)state;
    df_schedule *s = cron_in("0 0 29 2 *", "UTC");
    expect(s, "2026-01-01T00:00:00Z", 3, "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z",
           "2036-02-29T00:00:00Z");
    expect(s, "2096-03-01T00:00:00Z", 1, "2104-02-29T00:00:00Z"); /* 2100 is not a leap year */
    df_schedule_free(s);
    s = cron_in("0 0 31 * *", "UTC"); /* months with 31 days only */
    expect(s, "2027-01-31T00:00:00Z", 3, "2027-03-31T00:00:00Z", "2027-05-31T00:00:00Z",
           "2027-07-31T00:00:00Z");
    df_schedule_free(s);
    s = cron_in("0 0 29 2 MON", "UTC"); /* Vixie: Feb 29, or any Monday of February */
    expect(s, "2027-02-25T00:00:00Z", 2, "2028-02-07T00:00:00Z", "2028-02-14T00:00:00Z");
    expect(s, "2028-02-28T00:00:00Z", 1, "2028-02-29T00:00:00Z");
    df_schedule_free(s);
    s = cron_in("0 0 */10 * MON", "UTC"); /* day-of-month starts with '*': both must match */
    expect(s, "2027-01-01T00:00:00Z", 3, "2027-01-11T00:00:00Z", "2027-02-01T00:00:00Z",
           "2027-03-01T00:00:00Z");
    df_schedule_free(s);
}

static void test_start_end_interval(void **state)
{
    (void)state;
    df_schedule *s = cron_in("0 * * * *", "UTC");
    s->has_start = s->has_end = true;
    s->start_ms = at("2027-01-01T05:00:00Z");
    s->end_ms = at("2027-01-01T07:00:00Z");
    expect(s, "2026-01-01T00:00:00Z", 4, "2027-01-01T05:00:00Z", "2027-01-01T06:00:00Z",
           "2027-01-01T07:00:00Z", "none");
    df_schedule_free(s);
    s = df_schedule_new();
    s->interval_ms = 90000;
    int64_t next;
    assert_int_equal(df_schedule_next(s, 1000, 1000, &next), 0); /* anchor + k x N, k >= 1 */
    assert_int_equal(next, 91000);
    assert_int_equal(df_schedule_next(s, 91000, 1000, &next), 0);
    assert_int_equal(next, 181000);
    assert_int_equal(df_schedule_next(s, -5000, 1000, &next), 0);
    assert_int_equal(next, 91000);
    s->has_start = true; /* start_at is the anchor */
    s->start_ms = 500000;
    assert_int_equal(df_schedule_next(s, 0, 1000, &next), 0);
    assert_int_equal(next, 590000);
    df_schedule_free(s);
    /* Strictly after, to the millisecond. */
    s = cron_in("* * * * * *", "UTC");
    assert_int_equal(df_schedule_next(s, 1500, 0, &next), 0);
    assert_int_equal(next, 2000);
    assert_int_equal(df_schedule_next(s, 2000, 0, &next), 0);
    assert_int_equal(next, 3000);
    assert_int_equal(df_schedule_next(s, -1500, 0, &next), 0);
    assert_int_equal(next, -1000);
    df_schedule_free(s);
}

static void test_several_crons(void **state)
{
    (void)state;
    df_schedule *s = cron_in("0 9 * * *", "Europe/Berlin");
    char err[128];
    assert_int_equal(df_schedule_add_cron(s, "30 9 * * *", err, sizeof err), 0);
    assert_int_equal(df_schedule_add_cron(s, "0 9 * * *", err, sizeof err), 0); /* same twice */
    expect(s, "2027-06-01T00:00:00Z", 3, "2027-06-01T07:00:00Z", "2027-06-01T07:30:00Z",
           "2027-06-02T07:00:00Z");
    df_schedule_free(s);
}

/* ---- the oracle -------------------------------------------------------------------------------
 */

static void test_oracle(void **state)
{
    (void)state;
    const char *path = getenv("DF_SCHEDULE_ORACLE");
    char buf[1024];
    if (!path || !*path) {
        snprintf(buf, sizeof buf, "%s/tests/data/schedule_oracle.tsv",
                 getenv("DF_SOURCE_DIR") ? getenv("DF_SOURCE_DIR") : ".");
        path = buf;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    static char line[8192];
    size_t cases = 0, times = 0, wrong = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *expr = strtok(line, "\t"), *zone = strtok(NULL, "\t"), *after = strtok(NULL, "\t");
        char *list = strtok(NULL, "\t");
        assert_non_null(after);
        df_schedule *s = cron_in(expr, zone);
        int64_t t = at(after);
        for (char *save = NULL, *w = list ? strtok_r(list, ",", &save) : NULL; w;
             w = strtok_r(NULL, ",", &save)) {
            int64_t next = 0;
            char got[64] = "none";
            if (df_schedule_next(s, t, 0, &next) == 0)
                df_civil_format(next, 0, true, got, sizeof got);
            times++;
            if (strcmp(got, w) != 0 && wrong++ < 20)
                print_error("oracle: %s in %s after %s: got %s, expected %s\n", expr, zone, after,
                            got, w);
            t = next;
        }
        cases++;
        df_schedule_free(s);
    }
    fclose(f);
    print_message("oracle: %zu cases, %zu fire times compared, %zu differ\n", cases, times, wrong);
    assert_true(cases >= 300);
    assert_int_equal(wrong, 0);
}

/* ---- decisions --------------------------------------------------------------------------------
 */

static void test_place_and_overlap(void **state)
{
    (void)state;
    df_schedule *s = df_schedule_new();
    s->max_active_runs = 2;
    assert_int_equal(df_schedule_place(s, 0, 0, false), DF_FIRE_RUN);
    assert_int_equal(df_schedule_place(s, 1, 0, false), DF_FIRE_RUN);
    assert_int_equal(df_schedule_place(s, 1, 1, false), DF_FIRE_SKIP); /* queued go first */
    assert_int_equal(df_schedule_place(s, 2, 0, false), DF_FIRE_SKIP);
    assert_int_equal(df_schedule_place(s, 2, 0, true), DF_FIRE_QUEUE); /* catch-up waits */
    s->overlap = DF_OVERLAP_QUEUE;
    assert_int_equal(df_schedule_place(s, 5, 3, false), DF_FIRE_QUEUE);
    s->overlap = DF_OVERLAP_CANCEL_RUNNING;
    assert_int_equal(df_schedule_place(s, 2, 0, false), DF_FIRE_CANCEL_OLDEST);
    assert_int_equal(df_schedule_place(s, 2, 0, true), DF_FIRE_QUEUE);
    assert_string_equal(df_fire_decision(DF_FIRE_CANCEL_OLDEST), "queued");
    assert_string_equal(df_fire_decision(DF_FIRE_SKIP), "skipped");
    assert_string_equal(df_fire_decision(DF_FIRE_DROP), "dropped");
    assert_string_equal(df_fire_decision(DF_FIRE_RUN), "run");
    assert_true(df_schedule_can_start_queued(s, 1));
    assert_false(df_schedule_can_start_queued(s, 2));
    df_schedule_free(s);
}

static void test_catchup(void **state)
{
    (void)state;
    df_schedule *s = cron_in("0 * * * *", "UTC"); /* hourly */
    int64_t since = at("2027-01-01T00:30:00Z"), now = at("2027-01-01T04:10:00Z");
    df_missed m[8];
    size_t n;
    bool more;
    /* latest (the default): 01:00, 02:00, 03:00 dropped, 04:00 run. */
    assert_int_equal(df_schedule_missed(s, since, now, 0, m, 8, &n, &more), 0);
    assert_int_equal(n, 4);
    assert_false(more);
    assert_int_equal(m[0].at_ms, at("2027-01-01T01:00:00Z"));
    assert_int_equal(m[0].action, DF_FIRE_DROP);
    assert_int_equal(m[2].action, DF_FIRE_DROP);
    assert_int_equal(m[3].at_ms, at("2027-01-01T04:00:00Z"));
    assert_int_equal(m[3].action, DF_FIRE_RUN);
    /* In batches of 2, the decisions are the same. */
    assert_int_equal(df_schedule_missed(s, since, now, 0, m, 2, &n, &more), 0);
    assert_true(more);
    assert_int_equal(n, 2);
    assert_int_equal(m[1].action, DF_FIRE_DROP);
    assert_int_equal(df_schedule_missed(s, m[1].at_ms, now, 0, m, 2, &n, &more), 0);
    assert_false(more);
    assert_int_equal(n, 2);
    assert_int_equal(m[1].action, DF_FIRE_RUN);
    s->catchup = DF_CATCHUP_NONE;
    assert_int_equal(df_schedule_missed(s, since, now, 0, m, 8, &n, &more), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(m[i].action, DF_FIRE_DROP);
    s->catchup = DF_CATCHUP_ALL;
    assert_int_equal(df_schedule_missed(s, since, now, 0, m, 8, &n, &more), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(m[i].action, DF_FIRE_RUN);
    /* A fire time exactly at now counts as missed; nothing after it. */
    assert_int_equal(df_schedule_missed(s, since, at("2027-01-01T01:00:00Z"), 0, m, 8, &n, &more),
                     0);
    assert_int_equal(n, 1);
    /* Where counting starts: the last decision, else the first load, else a past start_at. */
    assert_int_equal(df_schedule_catchup_since(s, true, 5, 10), 5);
    assert_int_equal(df_schedule_catchup_since(s, false, 0, 10), 10);
    s->has_start = true;
    s->start_ms = 7;
    assert_int_equal(df_schedule_catchup_since(s, false, 0, 10), 6);
    s->start_ms = 70;
    assert_int_equal(df_schedule_catchup_since(s, false, 0, 10), 10);
    df_schedule_free(s);
}

static void test_zone_names(void **state)
{
    (void)state;
    df_tz *tz = NULL;
    char err[256];
    assert_int_equal(df_tz_open("Europe/Berln", &tz, err, sizeof err), DF_EINPUT);
    assert_string_equal(err, "unknown time zone \"Europe/Berln\"; did you mean \"Europe/Berlin\"?");
    /* POSIX rules and offsets are not zone names, though GLib would read them. */
    assert_int_equal(df_tz_open("EST5EDT,M3.2.0,M11.1.0", &tz, err, sizeof err), DF_EINPUT);
    assert_int_equal(df_tz_open("+02:00", &tz, err, sizeof err), DF_EINPUT);
    assert_int_equal(df_tz_open("Foo3", &tz, err, sizeof err), DF_EINPUT);
    assert_int_equal(df_tz_open("../../etc/passwd", &tz, err, sizeof err), DF_EINPUT);
    assert_int_equal(df_tz_open("", &tz, err, sizeof err), DF_EINPUT);
    assert_null(tz);
    assert_int_equal(df_tz_open("Australia/Lord_Howe", &tz, err, sizeof err), 0);
    assert_int_equal(df_tz_offset(tz, at("2027-01-01T00:00:00Z") / 1000), 11 * 3600);
    assert_int_equal(df_tz_offset(tz, at("2027-07-01T00:00:00Z") / 1000), 10 * 3600 + 1800);
    /* Past the last transition of the file: the POSIX rule of its footer. */
    assert_int_equal(df_tz_offset(tz, at("2100-07-01T00:00:00Z") / 1000), 10 * 3600 + 1800);
    df_tz_free(tz);
    int64_t ms;
    assert_int_equal(df_tz_parse_time("2027-03-28T03:00:00+02:00", &ms), 0);
    assert_int_equal(ms, at("2027-03-28T01:00:00Z"));
    assert_int_equal(df_tz_parse_time("2027-03-28T03:00:00.250Z", &ms), 0);
    assert_int_equal(ms % 1000, 250);
    assert_int_equal(df_tz_parse_time("2027-03-28T03:00:00", &ms), DF_EINPUT); /* no offset */
    assert_int_equal(df_tz_parse_time("tomorrow", &ms), DF_EINPUT);
}

static void test_civil(void **state)
{
    (void)state;
    char buf[64];
    /* ${run.logical_date}: the date in the schedule's zone, else UTC. */
    df_schedule *s = cron_in("@daily", "Australia/Lord_Howe");
    assert_string_equal(df_schedule_local_date(s, at("2027-01-01T13:00:00Z"), buf, sizeof buf),
                        "2027-01-02");
    assert_string_equal(df_schedule_local_date(NULL, at("2027-01-01T13:00:00Z"), buf, sizeof buf),
                        "2027-01-01");
    df_schedule_free(s);
    assert_string_equal(df_civil_format(0, 0, true, buf, sizeof buf), "1970-01-01T00:00:00Z");
    assert_string_equal(df_civil_format(-1, 0, true, buf, sizeof buf), "1969-12-31T23:59:59Z");
    assert_string_equal(df_civil_format(at("2027-03-28T01:00:00Z"), 7200, false, buf, sizeof buf),
                        "2027-03-28T03:00:00+02:00");
    assert_string_equal(df_civil_format(0, -(4 * 3600 + 56 * 60 + 2), false, buf, sizeof buf),
                        "1969-12-31T19:03:58-04:56:02");
    for (int64_t d = -800000; d < 800000; d += 997) { /* round trips, Gregorian eras included */
        df_civil c;
        df_civil_from_seconds(d * 86400, &c);
        assert_int_equal(df_civil_days_from_date(c.year, c.month, c.day), d);
        assert_true(c.day <= df_civil_days_in_month(c.year, c.month));
    }
    assert_true(df_civil_is_leap(2000));
    assert_false(df_civil_is_leap(2100));
    assert_int_equal(df_civil_days_in_month(2028, 2), 29);
}

/* ---- the loader -------------------------------------------------------------------------------
 */

static df_workflow *load_doc(const char *text, df_errlist *errs)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    df_workflow *wf = NULL;
    if (!doc)
        fail_msg("bad JSON in the test: %s", jerr.text);
    df_workflow_load_json(doc, "wf.json", "/tmp", &wf, errs);
    json_decref(doc);
    return wf;
}

static void test_loader(void **state)
{
    (void)state;
    df_errlist errs = {0};
    df_workflow *wf = load_doc(
        "{\"name\": \"w\", \"params\": {\"day\": \"x\"}, \"tasks\": [{\"id\": \"a\", "
        "\"plugin\": \"noop\"}], \"schedule\": {\"cron\": [\"@daily\", \"0 12 * * *\"], "
        "\"timezone\": \"Australia/Lord_Howe\", \"start_at\": \"2027-01-01T00:00:00+11:00\", "
        "\"end_at\": \"2028-01-01T00:00:00Z\", \"catchup\": \"all\", \"overlap\": "
        "\"cancel_running\", \"max_active_runs\": 3, \"params\": {\"day\": \"y\"}}}",
        &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("%s\n", errs.msgs[i]);
    assert_non_null(wf);
    const df_schedule *s = wf->schedule;
    assert_non_null(s);
    assert_int_equal(s->n_crons, 2);
    assert_string_equal(s->cron_texts[0], "@daily");
    assert_string_equal(df_tz_name(s->tz), "Australia/Lord_Howe");
    assert_true(s->has_start && s->has_end);
    assert_int_equal(s->start_ms, at("2026-12-31T13:00:00Z"));
    assert_int_equal(s->catchup, DF_CATCHUP_ALL);
    assert_int_equal(s->overlap, DF_OVERLAP_CANCEL_RUNNING);
    assert_int_equal(s->max_active_runs, 3);
    assert_string_equal(json_string_value(json_object_get(s->params, "day")), "y");
    int64_t next;
    assert_int_equal(df_schedule_next(s, 0, 0, &next), 0); /* start_at: midnight there */
    assert_int_equal(next, at("2026-12-31T13:00:00Z"));
    df_workflow_free(wf);
    /* Defaults; a workflow without a schedule has none. */
    wf = load_doc("{\"name\": \"w\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"}], "
                  "\"schedule\": {\"interval_ms\": 1000}}",
                  &errs);
    assert_non_null(wf);
    s = wf->schedule;
    assert_int_equal(s->interval_ms, 1000);
    assert_int_equal(s->n_crons, 0);
    assert_string_equal(df_tz_name(s->tz), "UTC");
    assert_int_equal(s->catchup, DF_CATCHUP_LATEST);
    assert_int_equal(s->overlap, DF_OVERLAP_SKIP);
    assert_int_equal(s->max_active_runs, 1);
    assert_int_equal(json_object_size(s->params), 0);
    df_workflow_free(wf);
    wf = load_doc("{\"name\": \"w\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"}]}", &errs);
    assert_null(wf->schedule);
    df_workflow_free(wf);
    assert_int_equal(errs.n, 0);
    /* Errors: all of them, each naming the file and key. */
    wf = load_doc("{\"name\": \"w\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"}], "
                  "\"schedule\": {\"cron\": [], \"interval_ms\": 999, \"end_at\": 5, "
                  "\"overlapp\": 1, \"timezone\": \"+02:00\"}, \"schedul\": {}}",
                  &errs);
    assert_null(wf);
    const char *want[] = {
        "wf.json: unknown key \"schedul\"; did you mean \"schedule\"?",
        "wf.json: schedule: cron: must be a string or a non-empty array of strings, got an empty "
        "array",
        "wf.json: schedule: interval_ms: must be an integer >= 1000, got 999",
        "wf.json: schedule: end_at: must be a string, got an integer (5)",
        "wf.json: schedule: unknown key \"overlapp\"; did you mean \"overlap\"?",
        "wf.json: schedule: timezone: unknown time zone \"+02:00\" (an IANA name such as "
        "\"Europe/Berlin\" or \"UTC\")",
        "wf.json: schedule: give \"cron\" or \"interval_ms\", not both"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool found = false;
        for (size_t j = 0; j < errs.n; j++)
            found = found || strcmp(errs.msgs[j], want[i]) == 0;
        if (!found) {
            for (size_t j = 0; j < errs.n; j++)
                print_error("got: %s\n", errs.msgs[j]);
            fail_msg("missing error: %s", want[i]);
        }
    }
    df_errlist_clear(&errs);
}

/* Properties over random instants, zones and expressions: the next fire time is strictly after;
 * with an unrestricted hour field its wall-clock time matches; with a restricted one it matches
 * or is the first instant after a forward change; and asking again from any instant before it
 * gives the same fire time (no fire time is skipped or invented by where the search starts). */
static void test_random_properties(void **state)
{
    (void)state;
    static const char *const zones[] = {
        "UTC",          "Europe/Berlin",    "America/New_York", "Australia/Lord_Howe",
        "Asia/Kolkata", "America/Santiago", "Pacific/Chatham"};
    static const char *const crons[] = {"*/15 * * * *", "30 2 * * *",   "0,30 1,2 * * *",
                                        "45 * * * *",   "0 0 29 2 MON", "*/20 * 1-3 * * *",
                                        "0 3 * * SUN",  "15 */2 * * *"};
    uint64_t x = 88172645463325252ull;
    size_t checked = 0;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++)
        for (size_t k = 0; k < sizeof crons / sizeof crons[0]; k++) {
            df_schedule *s = cron_in(crons[k], zones[z]);
            for (int i = 0; i < 60; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                int64_t t = at("2026-01-01T00:00:00Z") + (int64_t)(x % (2 * 366 * 86400LL)) * 1000;
                int64_t n, n2;
                assert_int_equal(df_schedule_next(s, t, 0, &n), 0);
                assert_true(n > t);
                int64_t ns = n / 1000;
                df_civil d;
                df_civil_from_seconds(ns + df_tz_offset(s->tz, ns), &d);
                const df_cron *c = &s->crons[0];
                bool wall = ((c->minutes >> d.minute) & 1) && ((c->hours >> d.hour) & 1) &&
                            ((c->seconds >> d.second) & 1) &&
                            df_cron_date_matches(c, d.month, d.day, d.weekday);
                bool change = df_tz_offset(s->tz, ns - 1) != df_tz_offset(s->tz, ns);
                if (!wall && (c->hours_star || !change))
                    fail_msg("%s in %s after %lld: %lld does not match", crons[k], zones[z],
                             (long long)t, (long long)n);
                int64_t t2 = t + (int64_t)(x % (uint64_t)(n - t));
                assert_int_equal(df_schedule_next(s, t2, 0, &n2), 0);
                if (n2 != n)
                    fail_msg("%s in %s: after %lld -> %lld, after %lld -> %lld", crons[k], zones[z],
                             (long long)t, (long long)n, (long long)t2, (long long)n2);
                checked++;
            }
            df_schedule_free(s);
        }
    print_message("random properties: %zu fire times checked\n", checked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_york_spring_forward),
        cmocka_unit_test(test_new_york_fall_back),
        cmocka_unit_test(test_london),
        cmocka_unit_test(test_lord_howe_half_hour),
        cmocka_unit_test(test_no_dst_zone),
        cmocka_unit_test(test_leap_years_and_month_ends),
        cmocka_unit_test(test_start_end_interval),
        cmocka_unit_test(test_several_crons),
        cmocka_unit_test(test_oracle),
        cmocka_unit_test(test_place_and_overlap),
        cmocka_unit_test(test_catchup),
        cmocka_unit_test(test_zone_names),
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_loader),
        cmocka_unit_test(test_random_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
