/* proc_registry: the process-wide list of proc.c's unreaped children (see proc_registry.c), for
 * proc.c only. Every function is thread-safe (one mutex). */
#ifndef DF_PROC_REGISTRY_H
#define DF_PROC_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

/* Lists a child just started (pid) with its control group's directory (borrowed: the df_proc
 * outlives the entry; NULL: none). On no memory the child is not listed (then only its own loop
 * can kill it). */
void df_proc_reg_add(int pid, const char *cgroup);

/* Unlists a child once reaped (its pid may be reused from then on). */
void df_proc_reg_remove(int pid);

/* Keeps a control group's directory (dir: new, taken) whose child exited while processes it
 * started still ran in it, for df_proc_kill_owned_now to kill and remove. */
void df_proc_reg_linger(char *dir);

/* Tags the listed child pid with its owner (see df_proc_set_owner in proc.h). */
void df_proc_reg_set_owner(int pid, const void *group, uint64_t id);

/* Asks for the child pid's SIGKILL DF_PROC_KILL_GRACE_MS from now unless a kill was asked already;
 * returns whether one was (then its SIGTERM was sent already, and must not be sent again). */
bool df_proc_reg_mark_killed(int pid);

#endif
