/* proc_orphans: reaping of the zombies adopted as a child subreaper (see proc_orphans.c). */
#ifndef DF_PROC_ORPHANS_H
#define DF_PROC_ORPHANS_H

#include <stddef.h>
#include <stdint.h>

/* Reaps (waitpid) every zombie child of this process that proc.c did not start and that is
 * not in the engine's session (a task's orphaned descendant: tasks run in sessions of their
 * own), once it has stayed a zombie for a whole scan; scans /proc at most once per period_ms
 * (ms), returning 0 at once otherwise. Returns how many were reaped. Children of plugins
 * (in the engine's session) are left to the plugin, and a process that is not a child
 * subreaper (PR_SET_CHILD_SUBREAPER) never scans. Thread-safe (a call while another thread
 * scans returns 0). No error return: an unreadable /proc reaps nothing. */
size_t df_proc_reap_orphans(uint64_t period_ms);

#endif
