/* proc_registry: the process-wide list of proc.c's unreaped children (see proc_registry.c): the
 * kills that reach a child from any thread (used through proc.h, which includes this header),
 * and what proc.c tells it. Every function is thread-safe (one mutex). */
#ifndef DF_PROC_REGISTRY_H
#define DF_PROC_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds between the SIGTERM and the SIGKILL of df_proc_kill. */
#define DF_PROC_KILL_GRACE_MS 2000

/* ---- for every user of proc.h (which includes this header) ---- */

/* SIGKILLs the process group of every child started by df_proc_run in this process that has not
 * exited yet, at once (for an engine that must leave now: a second SIGINT). Thread-safe. */
void df_proc_kill_all_now(void);

/* From any thread: SIGTERM to the process group of every unreaped child of group with this id
 * (id 0: every child of group) not already asked, and SIGKILL DF_PROC_KILL_GRACE_MS later when
 * df_proc_escalate runs after that. Returns how many groups were signalled. The child's own loop
 * still reaps it and completes it as usual (df_proc_kill there is harmless). Thread-safe. */
size_t df_proc_kill_owned(const void *group, uint64_t id);

/* From any thread: SIGKILL now to the group of every unreaped child of group (a pool that shuts
 * down and leaves workers stuck behind), its control group removed, and the control groups that
 * tracked children left populated when they exited are killed and removed. Thread-safe. */
void df_proc_kill_owned_now(const void *group);

/* Milliseconds between two scans for adopted zombies by df_proc_escalate (proc_orphans.h). */
#define DF_PROC_ORPHAN_SCAN_MS 1000

/* SIGKILLs the groups whose df_proc_kill_owned grace has passed, and those of the children
 * whose control group used more CPU time than their whole-task cpu_seconds (see
 * df_proc_reg_cpu_limit); returns how many. Also reaps, at most once per
 * DF_PROC_ORPHAN_SCAN_MS, the zombies adopted as a child subreaper (df_proc_reap_orphans). Called
 * periodically by the engine's thread (every DF_PROC_ESCALATE_MS, so a group runs at most that long
 * past its cpu_seconds). Thread-safe. */
size_t df_proc_escalate(void);

/* A child listed for an owner (df_proc_reg_list). */
typedef struct df_proc_owned {
    int pid;      /* the child, leader of its process group */
    char *cgroup; /* its control group's directory (new), or NULL */
} df_proc_owned;

/* The unreaped children of group (NULL: every child of the process), for admission's memory
 * probe (admission_probe.c): sets *out to a new array of *n entries (free each cgroup, then the
 * array; NULL when none). Returns 0, or -1 out of memory. Thread-safe. */
int df_proc_reg_list(const void *group, df_proc_owned **out, size_t *n);

/* ---- for proc.c only ---- */

/* Lists a child just started (pid) with its control group's directory (borrowed: the df_proc
 * outlives the entry; NULL: none). On no memory the child is not listed (then only its own loop
 * can kill it). */
void df_proc_reg_add(int pid, const char *cgroup);

/* Gives the listed child pid a whole-task CPU limit: limit_usec microseconds of CPU time for
 * its control group, read from usage_file (borrowed, outlives the entry; v2: a cpu.stat, else a
 * v1 cpuacct.usage: df_limits_cpu_usec). */
void df_proc_reg_cpu_limit(int pid, const char *usage_file, int v2, uint64_t limit_usec);

/* Unlists a child once reaped (its pid may be reused from then on). Returns whether
 * df_proc_escalate killed it for its cpu limit. */
bool df_proc_reg_remove(int pid);

/* Whether pid is a child of proc.c not reaped yet. Thread-safe. */
bool df_proc_reg_has(int pid);

/* Keeps a control group's directory (dir: new, taken) whose child exited while processes it
 * started still ran in it, for df_proc_kill_owned_now to kill and remove. */
void df_proc_reg_linger(char *dir);

/* Tags the listed child pid with its owner (see df_proc_set_owner in proc.h). */
void df_proc_reg_set_owner(int pid, const void *group, uint64_t id);

/* Asks for the child pid's SIGKILL DF_PROC_KILL_GRACE_MS from now unless a kill was asked already;
 * returns whether one was (then its SIGTERM was sent already, and must not be sent again). */
bool df_proc_reg_mark_killed(int pid);

#endif
