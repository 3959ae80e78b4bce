/* remote: the engine's side of --executor workers (SPEC §11) — attempts handed to `dagflow
 * worker` processes through the store's queue (store/work.h) instead of the engine's pool, their
 * outcomes collected (NOTIFY "dagflow_done", a poll as fallback) into the group-commit
 * transaction that records them, and attempts whose worker's lease expired recorded LOST and
 * queued again. Not a public header. Engine thread only. */
#ifndef DF_REMOTE_H
#define DF_REMOTE_H

#include "runner.h"

typedef struct df_remote df_remote;

/* With the loop's handles: LISTEN, the socket's poll and the timers. Returns 0, or DF_EINPUT
 * (the store has no queue: SQLite) / DF_ESTORE with the message in errs. */
int df_remote_open(df_engine *e, df_errlist *errs);
void df_remote_close(df_engine *e);
void df_remote_free(df_engine *e);

/* Hands a RUNNING attempt to the queue (sent by df_remote_flush): rec is the run shell's;
 * params is taken over. Returns 0, or DF_ENOMEM. */
int df_remote_submit(df_run *r, df_attempt_rec *rec, size_t task_index, long long map_index,
                     json_t *params);

/* Enqueues what df_remote_submit gathered (one statement, after the commit that recorded the
 * attempts RUNNING), and collects outcomes notified meanwhile. */
void df_remote_flush(df_engine *e);

/* DF_FX_CANCEL_JOB / DF_FX_ABANDON of a remote attempt (writes into the open transaction). */
void df_remote_cancel(df_engine *e, const df_attempt_rec *rec);
void df_remote_forget(df_engine *e, const df_attempt_rec *rec);

#endif
