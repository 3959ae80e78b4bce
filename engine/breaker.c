/* breaker: circuit breaker state machine (SPEC §3a). */
#include "breaker.h"

#include <stdlib.h>
#include <string.h>

df_breaker *df_breaker_new(const df_breaker_def *def)
{
    df_breaker *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cfg = *def;
    if (b->cfg.window < 1)
        b->cfg.window = 1;
    b->name = strdup(def->name ? def->name : "");
    b->ring = calloc((size_t)b->cfg.window, 1);
    if (!b->name || !b->ring) {
        df_breaker_free(b);
        return NULL;
    }
    b->cfg.name = b->name;
    return b;
}

void df_breaker_free(df_breaker *b)
{
    if (!b)
        return;
    free(b->name);
    free(b->ring);
    free(b);
}

static double rate(const df_breaker *b)
{
    return b->count ? (double)b->failures / (double)b->count : 0.0;
}

static void change_to(df_breaker *b, df_breaker_state to, df_breaker_change *c)
{
    c->from = b->state;
    c->to = to;
    c->failure_rate = rate(b);
    c->calls = b->count;
    b->state = to;
}

static void open_now(df_breaker *b, uint64_t now, df_breaker_change *c)
{
    change_to(b, DF_BREAKER_OPEN, c);
    b->open_until = now + (uint64_t)(b->cfg.open_ms > 0 ? b->cfg.open_ms : 0);
    b->probe_out = false;
}

bool df_breaker_allow(df_breaker *b, uint64_t now, bool *probe, df_breaker_change *change)
{
    change->from = change->to = b->state;
    change->failure_rate = rate(b);
    change->calls = b->count;
    *probe = false;
    if (b->state == DF_BREAKER_OPEN) {
        if (now < b->open_until)
            return false;
        change_to(b, DF_BREAKER_HALF_OPEN, change);
    }
    if (b->state == DF_BREAKER_HALF_OPEN) {
        if (b->probe_out)
            return false;
        b->probe_out = true;
        *probe = true;
    }
    return true;
}

bool df_breaker_record(df_breaker *b, bool failed, bool probe, uint64_t now,
                       df_breaker_change *change)
{
    change->from = change->to = b->state;
    if (b->state == DF_BREAKER_HALF_OPEN && probe) {
        if (failed) {
            open_now(b, now, change);
        } else {
            change_to(b, DF_BREAKER_CLOSED, change);
            memset(b->ring, 0, (size_t)b->cfg.window);
            b->count = b->pos = b->failures = 0;
            b->probe_out = false;
        }
        return true;
    }
    if (b->state != DF_BREAKER_CLOSED)
        return false;
    size_t window = (size_t)b->cfg.window;
    if (b->count == window)
        b->failures -= b->ring[b->pos];
    else
        b->count++;
    b->ring[b->pos] = failed ? 1 : 0;
    b->failures += b->ring[b->pos];
    b->pos = (b->pos + 1) % window;
    if ((int64_t)b->count >= b->cfg.min_calls && rate(b) >= b->cfg.failure_rate) {
        open_now(b, now, change);
        return true;
    }
    return false;
}

void df_breaker_probe_aborted(df_breaker *b)
{
    if (b->state == DF_BREAKER_HALF_OPEN)
        b->probe_out = false;
}
