/* admission: the pause/resume decision of resource-aware admission (see admission.h). */
#include "admission.h"

#include <stdio.h>
#include <string.h>

void df_admission_init(df_admission *a, uint64_t max_memory, double max_load,
                       df_admission_probe_fn probe, void *probe_ud)
{
    memset(a, 0, sizeof *a);
    a->max_memory = max_memory;
    a->max_load = max_load > 0 ? max_load : 0;
    a->probe = probe;
    a->probe_ud = probe_ud;
}

bool df_admission_enabled(const df_admission *a)
{
    return a->probe && (a->max_memory > 0 || a->max_load > 0);
}

void df_admission_size_text(uint64_t bytes, char *buf, size_t len)
{
    if (bytes >= (uint64_t)1 << 30)
        snprintf(buf, len, "%.1f GiB", (double)bytes / (1 << 30));
    else if (bytes >= (uint64_t)1 << 20)
        snprintf(buf, len, "%.1f MiB", (double)bytes / (1 << 20));
    else if (bytes >= 1024)
        snprintf(buf, len, "%.1f KiB", (double)bytes / 1024);
    else
        snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
}

/* Over a hard threshold: writes why into a->reason and returns true. */
static bool over_limit(df_admission *a, const df_admission_sample *s, bool describe)
{
    if (a->max_memory > 0 && s->memory_bytes > a->max_memory) {
        if (describe) {
            char have[32], max[32];
            df_admission_size_text(s->memory_bytes, have, sizeof have);
            df_admission_size_text(a->max_memory, max, sizeof max);
            snprintf(a->reason, sizeof a->reason,
                     "memory %s (engine and task processes) over --max-memory %s", have, max);
        }
        return true;
    }
    if (a->max_load > 0 && s->load_per_core > a->max_load) {
        if (describe)
            snprintf(a->reason, sizeof a->reason, "load %.2f per core over --max-load %g",
                     s->load_per_core, a->max_load);
        return true;
    }
    return false;
}

int df_admission_check(df_admission *a, int64_t now_ms)
{
    if (!df_admission_enabled(a))
        return DF_ADMISSION_SAME;
    df_admission_sample s;
    if (a->probe(a->probe_ud, &s) != 0)
        return DF_ADMISSION_SAME;
    a->last = s;
    a->soft = a->max_memory > 0 && s.memory_bytes > a->max_memory / 100 * DF_ADMISSION_SOFT_PCT;
    bool over = over_limit(a, &s, !a->paused);
    if (over == a->paused)
        return DF_ADMISSION_SAME;
    a->paused = over;
    if (over) {
        a->paused_at_ms = now_ms;
        a->pauses++;
        return DF_ADMISSION_PAUSED;
    }
    a->paused_total_ms += now_ms > a->paused_at_ms ? now_ms - a->paused_at_ms : 0;
    return DF_ADMISSION_RESUMED;
}
