/* takeover: an attempt never runs twice at once, and a frozen engine never blocks the one that
 * takes its run over (SPEC §12; issue 15 items 4 and 5). See takeover.c. Engine thread only. */
#ifndef DF_TAKEOVER_H
#define DF_TAKEOVER_H

#include <stddef.h>

#include "engine_internal.h"

/* Writes into the group-commit transaction the process groups that this engine's attempts
 * started since the last call (proc_notes.h), so that a later engine can confirm them gone.
 * Called from the engine's 100 ms timer; does nothing once the engine is fatal. */
void df_engine_record_procs(df_engine *e);

/* Before a run is taken over from its recorded owner (loaded: as read from the store; its
 * heartbeat is stale or the process gone): when that owner runs on this host and its pid still is
 * that engine (start time checked, so no other process is hit), it is frozen (SIGSTOP, a
 * debugger, a hung read) and may hold the store's write lock: it is killed (SIGKILL) and waited
 * for (up to 10 s), after committing the group-commit transaction if one is open. Returns 0,
 * DF_EREFUSED with err filled when it would not die, DF_ESTORE when that commit failed. */
int df_takeover_stop_owner(df_engine *e, const df_stored_run *loaded, char *err, size_t errlen);

/* Before the run's attempts run again: every process group recorded for the run on this host
 * that is still alive (its leader's start time checked; a group whose leader exited is still
 * the attempt's, since its id cannot be reused while it has members) is SIGKILLed, with its
 * control group, and waited for (up to 10 s). Groups recorded on another host cannot be checked
 * from here and are left (their engine's heartbeat went stale long ago). Returns 0,
 * DF_EREFUSED with err filled when a group would not die, DF_ESTORE when the store cannot be
 * read (err filled). */
int df_takeover_clear_procs(df_engine *e, long long run_id, char *err, size_t errlen);

/* Forgets the run's process groups of this host in the store (confirmed gone by
 * df_takeover_clear_procs), in the group-commit transaction. Returns 0 or DF_ESTORE. */
int df_takeover_forget_procs(df_engine *e, long long run_id);

#endif
