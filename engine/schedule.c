/* schedule: next fire times in a time zone and the decisions of catchup, max_active_runs and
 * overlap (see schedule.h).
 *
 * The next fire time of a cron expression walks the real timeline one stretch of constant UTC
 * offset at a time ([s, e): tz.h finds e exactly). Inside a stretch, wall-clock time is
 * instant + offset, so the cron search (cron.c) runs on wall-clock seconds there and maps back.
 * What SPEC §9 says of DST changes then falls out of two things the walk keeps:
 *   - a restricted hour field fires a repeated wall-clock time once: `hi`, the latest wall-clock
 *     time already shown, is a floor for the search (the second pass over repeated times finds
 *     nothing new); an unrestricted one has no floor, so each occurrence fires;
 *   - at a forward change (offset grows at e), the wall-clock times [e + old, e + new) are
 *     never shown: a restricted hour field that matches one of them fires once, at e. */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dagflow/dagflow.h>

#include "civil.h"

const char *const df_catchup_names[3] = {"latest", "none", "all"};
const char *const df_overlap_names[3] = {"skip", "queue", "cancel_running"};

/* The stretches examined: the first one day long (a frequent schedule fires in it, and finding
 * that the offset does not change over it costs two look-ups), each next one 4 times longer, up
 * to a year (a rare schedule gets there in a few steps). */
#define STRETCH_FIRST 86400LL
#define STRETCH_MAX (366 * 86400LL)
/* How far the search looks for a fire time before giving up (Feb 29 on a Monday is rarer than
 * once in 28 years, a Gregorian cycle is 400). */
#define SEARCH_YEARS 400LL

df_schedule *df_schedule_new(void)
{
    df_schedule *s = calloc(1, sizeof *s);
    char err[128];
    if (!s)
        return NULL;
    s->max_active_runs = 1;
    s->catchup = DF_CATCHUP_LATEST;
    s->overlap = DF_OVERLAP_SKIP;
    if (!(s->params = json_object()) || df_tz_open("UTC", &s->tz, err, sizeof err) != 0) {
        df_schedule_free(s);
        return NULL;
    }
    return s;
}

void df_schedule_free(df_schedule *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_crons; i++)
        free(s->cron_texts[i]);
    free(s->cron_texts);
    free(s->crons);
    df_tz_free(s->tz);
    json_decref(s->params);
    free(s);
}

int df_schedule_add_cron(df_schedule *s, const char *expr, char *err, size_t len)
{
    df_cron c;
    if (df_cron_parse(expr, &c, err, len) != 0)
        return -1;
    df_cron *crons = realloc(s->crons, (s->n_crons + 1) * sizeof *crons);
    if (!crons)
        return DF_ENOMEM;
    s->crons = crons;
    char **texts = realloc(s->cron_texts, (s->n_crons + 1) * sizeof *texts);
    if (!texts)
        return DF_ENOMEM;
    s->cron_texts = texts;
    if (!(texts[s->n_crons] = strdup(expr)))
        return DF_ENOMEM;
    crons[s->n_crons++] = c;
    return 0;
}

/* The latest wall-clock time shown at any instant <= t (it is t's own, unless a backward change
 * in the two days before t showed a later one). */
static int64_t latest_wall_time(const df_tz *tz, int64_t t)
{
    int64_t s = t - 2 * 86400, best = INT64_MIN;
    while (s <= t) {
        int32_t off = df_tz_offset(tz, s);
        int64_t e = df_tz_next_change(tz, s, t - s + 1);
        int64_t last = e > t ? t : e - 1;
        if (last + off > best)
            best = last + off;
        s = e;
    }
    return best;
}

bool df_schedule_cron_next(const df_cron *c, const df_tz *tz, int64_t after, int64_t limit,
                           int64_t *at)
{
    bool restricted = !c->hours_star;
    int64_t s = after + 1, L;
    int32_t off = df_tz_offset(tz, s);
    /* Wall-clock times below hi were already shown (restricted hour fields only). */
    int64_t hi = restricted ? latest_wall_time(tz, after) + 1 : INT64_MIN;
    int64_t stretch = STRETCH_FIRST;
    while (s <= limit) {
        int64_t e = df_tz_next_change(tz, s, stretch); /* the offset is `off` on [s, e) */
        stretch = stretch * 4 < STRETCH_MAX ? stretch * 4 : STRETCH_MAX;
        int64_t lo = s + off > hi ? s + off : hi;
        if (lo <= e - 1 + off && df_cron_next_local(c, lo, e - 1 + off, &L)) {
            *at = L - off;
            return *at <= limit;
        }
        int32_t off2 = df_tz_offset(tz, e);
        if (restricted && off2 > off) { /* wall-clock times [e + off, e + off2) are skipped */
            int64_t from = e + off > hi ? e + off : hi;
            if (from <= e + off2 - 1 && df_cron_next_local(c, from, e + off2 - 1, &L)) {
                *at = e;
                return e <= limit;
            }
        }
        if (restricted && e + off > hi)
            hi = e + off;
        s = e;
        off = off2;
    }
    return false;
}

int df_schedule_next(const df_schedule *s, int64_t after_ms, int64_t anchor_ms, int64_t *at_ms)
{
    int64_t after = after_ms, best = INT64_MAX;
    if (s->has_start && after < s->start_ms - 1)
        after = s->start_ms - 1; /* no fire time before start_at */
    if (s->interval_ms > 0) {
        int64_t a = s->has_start ? s->start_ms : anchor_ms, n = s->interval_ms;
        int64_t k = after < a ? 1 : df_civil_floor_div(after - a, n) + 1;
        best = a + k * n;
    } else {
        int64_t after_s = df_civil_floor_div(after, 1000);
        int64_t limit_s = after_s + SEARCH_YEARS * 366 * 86400;
        for (size_t i = 0; i < s->n_crons; i++) {
            int64_t at;
            if (df_schedule_cron_next(&s->crons[i], s->tz, after_s, limit_s, &at) &&
                at * 1000 < best)
                best = at * 1000;
        }
    }
    if (best == INT64_MAX || (s->has_end && best > s->end_ms))
        return DF_ENOTFOUND;
    *at_ms = best;
    return 0;
}

char *df_schedule_local_date(const df_schedule *s, int64_t t_ms, char *buf, size_t len)
{
    int64_t t = df_civil_floor_div(t_ms, 1000);
    df_civil c;
    df_civil_from_seconds(t + (s ? df_tz_offset(s->tz, t) : 0), &c);
    snprintf(buf, len, "%04lld-%02d-%02d", (long long)c.year, c.month, c.day);
    return buf;
}

/* ---- decisions ---------------------------------------------------------------------------- */

const char *df_fire_decision(df_fire_action a)
{
    switch (a) {
    case DF_FIRE_RUN:
        return "run";
    case DF_FIRE_QUEUE:
    case DF_FIRE_CANCEL_OLDEST:
        return "queued";
    case DF_FIRE_SKIP:
        return "skipped";
    case DF_FIRE_DROP:
        return "dropped";
    }
    return "?";
}

df_fire_action df_schedule_place(const df_schedule *s, size_t active, size_t queued, bool catchup)
{
    /* Queued fire times take the free places first (oldest first). */
    if ((int64_t)(active + queued) < s->max_active_runs)
        return DF_FIRE_RUN;
    if (catchup)
        return DF_FIRE_QUEUE;
    switch (s->overlap) {
    case DF_OVERLAP_QUEUE:
        return DF_FIRE_QUEUE;
    case DF_OVERLAP_CANCEL_RUNNING:
        return DF_FIRE_CANCEL_OLDEST;
    case DF_OVERLAP_SKIP:
        break;
    }
    return DF_FIRE_SKIP;
}

bool df_schedule_can_start_queued(const df_schedule *s, size_t active)
{
    return (int64_t)active < s->max_active_runs;
}

int64_t df_schedule_catchup_since(const df_schedule *s, bool has_last, int64_t last_ms,
                                  int64_t first_load_ms)
{
    if (has_last)
        return last_ms;
    if (s->has_start && s->start_ms <= first_load_ms)
        return s->start_ms - 1;
    return first_load_ms;
}

int df_schedule_missed(const df_schedule *s, int64_t since_ms, int64_t now_ms, int64_t anchor_ms,
                       df_missed *out, size_t max, size_t *n, bool *more)
{
    int64_t t = since_ms, at, next;
    *n = 0;
    *more = false;
    while (df_schedule_next(s, t, anchor_ms, &at) == 0 && at <= now_ms) {
        if (*n == max) {
            *more = true;
            break;
        }
        bool latest = df_schedule_next(s, at, anchor_ms, &next) != 0 || next > now_ms;
        df_fire_action a = DF_FIRE_DROP;
        if (s->catchup == DF_CATCHUP_ALL || (s->catchup == DF_CATCHUP_LATEST && latest))
            a = DF_FIRE_RUN;
        out[(*n)++] = (df_missed){at, a};
        t = at;
    }
    return 0;
}
