/* proc_notes: the process groups that tasks' attempts started, noted by the worker that started
 * them and taken by the engine's thread, which records them in the store (SPEC §12, issue 15
 * item 4): a later engine that takes the run over confirms them gone before the attempt runs
 * again. Pool threads never touch the store; this list is the hand-over.
 * Thread-safety: every function may be called from any thread (one mutex). */
#ifndef DF_PROC_NOTES_H
#define DF_PROC_NOTES_H

#include <stddef.h>
#include <stdint.h>

/* One child started by an attempt. Strings belong to the note. */
typedef struct df_proc_note {
    const void *group; /* the pool whose worker started it */
    long long run_id;
    char *task_id;
    long long map_index; /* -1 (DF_NO_MAP_INDEX), or a mapped instance's index */
    unsigned attempt;
    long long pgid;         /* the child's process group (its pid: it leads its session) */
    int64_t pid_started_at; /* when it started (ms since the epoch; /proc), or 0 if unknown */
    char *cgroup;           /* its control group's directory, or NULL */
} df_proc_note;

/* Notes that attempt `attempt` of task_id (instance map_index) in run_id (strings copied) started
 * child pid (its own process group) in control group cgroup (may be NULL); group is the owner (the
 * pool). On no memory the note is dropped (the processes are then only killed by their own engine).
 */
void df_proc_note_add(const void *group, long long run_id, const char *task_id, long long map_index,
                      unsigned attempt, int pid, const char *cgroup);

/* Takes the notes of group: sets *out to a new array of them (NULL when none; free with
 * df_proc_notes_free) and returns how many. */
size_t df_proc_notes_take(const void *group, df_proc_note **out);

/* Frees an array from df_proc_notes_take; NULL is fine. */
void df_proc_notes_free(df_proc_note *notes, size_t n);

#endif
