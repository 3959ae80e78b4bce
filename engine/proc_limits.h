/* proc_limits: `limits` that hold for a task's child and everything it starts, as a whole
 * (SPEC §12): memory_mb (the memory controller: cgroup v2 memory.max, v1
 * memory.limit_in_bytes), max_processes (the pids controller: pids.max) and cpu_seconds (the
 * CPU time of the group: cgroup v2 cpu.stat usage_usec, v1 cpuacct.usage, read by the engine's
 * thread, see df_proc_escalate), through control groups made for the child where the machine
 * has those controllers and lets dagflow use them.
 * cgroup v2 is used when the child's own group (proc_cgroup.h) offers the controller (its parent
 * enables it in cgroup.subtree_control); else a cgroup v1 hierarchy of that controller
 * (/sys/fs/cgroup/memory, /sys/fs/cgroup/pids) where a group can be made under the engine's own.
 * DAGFLOW_CGROUP=off turns them off, as it does proc_cgroup's groups; DAGFLOW_CGROUP=v1 leaves
 * out cgroup v2 (proc_cgroup's groups too) and uses the v1 hierarchies alone. Elsewhere
 * memory_mb stays a per-process RLIMIT_AS, cpu_seconds a per-process RLIMIT_CPU, and
 * max_processes cannot be had (a load error: df_limits_check).
 * Thread-safety: every function may be called from any thread. */
#ifndef DF_PROC_LIMITS_H
#define DF_PROC_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/* What can be limited for a task as a whole (bits), probed once. */
#define DF_LIMIT_MEMORY 1u
#define DF_LIMIT_PIDS 2u
#define DF_LIMIT_CPU 4u
unsigned df_limits_available(void);

/* The groups holding one child's limits. */
typedef struct df_limit_groups {
    char *dirs[3]; /* v1 groups the child joins (new), or NULL */
    size_t n;
    char *cpu_usage;  /* file with the group's CPU time (new), or NULL: no whole-task cpu_seconds */
    int cpu_usage_v2; /* cpu_usage is a v2 cpu.stat (usage_usec), else v1 cpuacct.usage (ns) */
} df_limit_groups;

/* Applies memory_mb, max_processes and cpu_seconds (0: none) to a new child: written into v2dir
 * (its own v2 group, may be NULL) when that offers the controller, else into new v1 groups
 * listed in *out (which the child's exec wrapper joins). For cpu_seconds nothing is written: the
 * file to read the group's CPU time from is set in out->cpu_usage. Returns 0, or -1 with err
 * filled when a limit asked for cannot be applied (no controller: the loader refuses
 * max_processes then; memory_mb and cpu_seconds fall back to RLIMIT_AS and RLIMIT_CPU alone and
 * are not an error). */
int df_limits_apply(const char *v2dir, uint64_t memory_mb, uint64_t max_processes,
                    uint64_t cpu_seconds, df_limit_groups *out, char *err, size_t errlen);

/* The CPU time used so far by a group's processes together (living and exited), in
 * microseconds, read from g->cpu_usage; -1 when there is none or it cannot be read. */
int64_t df_limits_cpu_usec(const char *cpu_usage, int v2);

/* Removes the v1 groups of a child that exited (what it left running there is SIGKILLed) and
 * frees them and cpu_usage; g may be empty. */
void df_limits_release(df_limit_groups *g);

#endif
