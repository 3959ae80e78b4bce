/* admission: resource-aware admission of new attempts (issue 10; `--max-memory`, `--max-load`).
 * An engine given either limit samples, every DF_ADMISSION_MS, the memory of the engine and of
 * its task processes and the 1-minute load average per core (through a probe, injectable for
 * tests); above either limit (the hard threshold) the engine starts no new attempt until both are
 * back at or below their limit. Between DF_ADMISSION_SOFT_PCT % of --max-memory and the limit
 * (the soft threshold) dispatch goes on but the pool adds no worker thread for a backlog, so that
 * memory does not climb faster. Attempts in flight are never touched: a pause fails no task.
 * This file holds only the decision (pure: the probe and the time come from outside); the real
 * probe is admission_probe.c and the engine's use of it engine_admission.c.
 * Plain data, no locking: one thread at a time (the engine's). */
#ifndef DF_ADMISSION_H
#define DF_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How often an engine with a limit samples (ms). */
#define DF_ADMISSION_MS 250
/* The soft memory threshold, in percent of --max-memory. */
#define DF_ADMISSION_SOFT_PCT 80

/* One sample. */
typedef struct df_admission_sample {
    uint64_t memory_bytes; /* the engine's RSS plus its task processes' memory (bytes) */
    double load_per_core;  /* 1-minute load average divided by the online CPUs */
} df_admission_sample;

/* Fills *out; returns 0, or -1 when nothing could be measured (the decision then stays as it
 * was). The engine's probe is df_admission_probe_system (admission_probe.c). */
typedef int (*df_admission_probe_fn)(void *ud, df_admission_sample *out);

typedef struct df_admission {
    uint64_t max_memory; /* bytes; 0 = no memory limit */
    double max_load;     /* per core; 0 = no load limit */
    df_admission_probe_fn probe;
    void *probe_ud;
    bool paused;          /* over a hard threshold: no new attempt starts */
    bool soft;            /* memory over the soft threshold: the pool does not grow */
    int64_t paused_at_ms; /* when the pause began (the time given to df_admission_check) */
    char reason[200];     /* why the pause began, e.g. "load 3.10 per core over --max-load 2" */
    df_admission_sample last;
    unsigned long pauses;    /* pauses begun so far */
    int64_t paused_total_ms; /* length of the pauses that ended */
} df_admission;

/* Outcomes of df_admission_check. */
enum { DF_ADMISSION_SAME = 0, DF_ADMISSION_PAUSED = 1, DF_ADMISSION_RESUMED = 2 };

/* Sets a up with its limits (0: none) and probe; not paused. */
void df_admission_init(df_admission *a, uint64_t max_memory, double max_load,
                       df_admission_probe_fn probe, void *probe_ud);

/* Whether a has a limit at all. */
bool df_admission_enabled(const df_admission *a);

/* Takes one sample at now_ms and decides: DF_ADMISSION_PAUSED when a pause begins (reason set),
 * DF_ADMISSION_RESUMED when one ends (paused_total_ms grows by its length), DF_ADMISSION_SAME
 * otherwise (also when the probe fails). Updates soft either way. */
int df_admission_check(df_admission *a, int64_t now_ms);

/* Writes a size in bytes for people ("412.0 MiB") into buf. */
void df_admission_size_text(uint64_t bytes, char *buf, size_t len);

/* The probe of the running system: memory = this process's resident set (/proc/self/statm) plus,
 * for each task process the pool group (ud: the owner a pool gives its children, see
 * df_proc_set_owner) has started and not reaped, its control group's memory.current where it has
 * one, else the resident sets of the processes in its process group (/proc); load =
 * getloadavg(3)'s 1-minute figure over the online CPUs. Thread-safe. */
int df_admission_probe_system(void *ud, df_admission_sample *out);

#endif
