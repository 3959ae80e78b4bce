/* proc_limits: `limits` that hold for a task's child and everything it starts, as a whole
 * (SPEC §12): memory_mb (the memory controller: cgroup v2 memory.max, v1
 * memory.limit_in_bytes) and max_processes (the pids controller: pids.max), through control
 * groups made for the child where the machine has those controllers and lets dagflow use them.
 * cgroup v2 is used when the child's own group (proc_cgroup.h) offers the controller (its parent
 * enables it in cgroup.subtree_control); else a cgroup v1 hierarchy of that controller
 * (/sys/fs/cgroup/memory, /sys/fs/cgroup/pids) where a group can be made under the engine's own.
 * DAGFLOW_CGROUP=off turns them off, as it does proc_cgroup's groups. Elsewhere memory_mb stays
 * a per-process RLIMIT_AS and max_processes cannot be had (a load error: df_limits_check).
 * Thread-safety: every function may be called from any thread. */
#ifndef DF_PROC_LIMITS_H
#define DF_PROC_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/* What can be limited for a task as a whole (bits), probed once. */
#define DF_LIMIT_MEMORY 1u
#define DF_LIMIT_PIDS 2u
unsigned df_limits_available(void);

/* The groups holding one child's limits. */
typedef struct df_limit_groups {
    char *dirs[2]; /* v1 groups the child joins (new), or NULL */
    size_t n;
} df_limit_groups;

/* Applies memory_mb and max_processes (0: none) to a new child: written into v2dir (its own v2
 * group, may be NULL) when that offers the controller, else into new v1 groups listed in *out
 * (which the child's exec wrapper joins). Returns 0, or -1 with err filled when a limit asked
 * for cannot be applied (no controller: the loader refuses max_processes then; memory_mb falls
 * back to RLIMIT_AS alone and is not an error). */
int df_limits_apply(const char *v2dir, uint64_t memory_mb, uint64_t max_processes,
                    df_limit_groups *out, char *err, size_t errlen);

/* Removes the v1 groups of a child that exited (what it left running there is SIGKILLed) and
 * frees them; g may be empty. */
void df_limits_release(df_limit_groups *g);

#endif
