/* proc_notes: the hand-over of the process groups that attempts started, from the worker that
 * started each one to the engine thread that records it in the store (see proc_notes.h). */
#include "proc_notes.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "liveness.h"

static pthread_mutex_t notes_mu = PTHREAD_MUTEX_INITIALIZER;
static df_proc_note *notes;
static size_t notes_n, notes_cap;

static void note_free(df_proc_note *n)
{
    free(n->task_id);
    free(n->cgroup);
}

/* See proc_notes.h. */
void df_proc_note_add(const void *group, long long run_id, const char *task_id, long long map_index,
                      unsigned attempt, int pid, const char *cgroup)
{
    df_proc_note n = {.group = group,
                      .run_id = run_id,
                      .task_id = strdup(task_id ? task_id : ""),
                      .map_index = map_index,
                      .attempt = attempt,
                      .pgid = pid,
                      .pid_started_at = df_process_start_ms(pid),
                      .cgroup = cgroup ? strdup(cgroup) : NULL};
    if (n.pid_started_at < 0)
        n.pid_started_at = 0;
    if (!n.task_id || (cgroup && !n.cgroup)) {
        note_free(&n);
        return;
    }
    pthread_mutex_lock(&notes_mu);
    if (notes_n == notes_cap) {
        size_t cap = notes_cap ? notes_cap * 2 : 32;
        df_proc_note *g = realloc(notes, cap * sizeof *g);
        if (g) {
            notes = g;
            notes_cap = cap;
        }
    }
    if (notes_n < notes_cap)
        notes[notes_n++] = n;
    else
        note_free(&n);
    pthread_mutex_unlock(&notes_mu);
}

/* See proc_notes.h. */
size_t df_proc_notes_take(const void *group, df_proc_note **out)
{
    *out = NULL;
    pthread_mutex_lock(&notes_mu);
    size_t mine = 0;
    for (size_t i = 0; i < notes_n; i++)
        mine += notes[i].group == group;
    df_proc_note *v = mine ? malloc(mine * sizeof *v) : NULL;
    size_t k = 0, kept = 0;
    for (size_t i = 0; v && i < notes_n; i++) {
        if (notes[i].group == group)
            v[k++] = notes[i];
        else
            notes[kept++] = notes[i];
    }
    if (v)
        notes_n = kept;
    pthread_mutex_unlock(&notes_mu);
    *out = v;
    return v ? k : 0;
}

/* See proc_notes.h. */
void df_proc_notes_free(df_proc_note *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        note_free(&v[i]);
    free(v);
}
