/* proc_cgroup: a control group per child process (SPEC §12), where the machine lets dagflow
 * create one, so that no process a task started outlives its attempt, even one that left the
 * task's process group (`setsid`). cgroup v2 is used: the engine's own group (from
 * /proc/self/cgroup, line "0::") under /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid
 * v1/v2 machine. Where neither can be written (no cgroup2 mount, a read-only /sys, a user
 * without delegation) children get none and the process group (plus the CLI's child subreaper)
 * does its best. DAGFLOW_CGROUP=off (or v1: proc_limits.h) in the engine's environment turns
 * them off.
 * The first use also removes the empty groups left by engines no longer running (SIGKILLed).
 *
 * A child is put into its group by the /bin/sh exec wrapper of proc.c before it execs the
 * program (`echo $$ > DIR/cgroup.procs`), so it cannot fork before it is tracked.
 *
 * Thread-safety: every function may be called from any thread. */
#ifndef DF_PROC_CGROUP_H
#define DF_PROC_CGROUP_H

#include <stddef.h>

/* Non-zero when children get control groups (probed once: a group can be created and removed
 * under the engine's own). */
int df_cgroup_available(void);

/* Creates a new, empty control group for one child; returns its directory (new: free it) or
 * NULL when there are none (see df_cgroup_available) or it could not be made. The path holds no
 * single quote (it is inserted into a shell wrapper between single quotes). */
char *df_cgroup_new(void);

/* Sends sig to every process in the group dir (SIGKILL: through cgroup.kill where the kernel
 * has it, 5.14+). Returns how many processes were signalled (cgroup.kill: 1 when written). */
size_t df_cgroup_signal(const char *dir, int sig);

/* SIGKILLs what is left in dir and removes it (rmdir; retried briefly while the killed
 * processes exit). Returns 0 when removed, -1 otherwise (dir is then left behind, empty or not).
 * Does not free dir. */
int df_cgroup_remove(const char *dir);

#endif
