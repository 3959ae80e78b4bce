/* crash_record: the reading side of the crash records of dagflow.h (df_crash_record_prepare,
 * df_crash_record_write): which task a dead engine's crash was attributed to. See crash_record.c.
 */
#ifndef DF_CRASH_RECORD_H
#define DF_CRASH_RECORD_H

#include <stdbool.h>

#include "../store/store.h"

/* Looks for the crash record that engine owner (borrowed; it died on this host) left for run_id.
 * When there is one written by that very process (its start time and the crash's time checked
 * against owner's start), sets *task_id (new: free it), *map_index (-1: not a mapped instance)
 * and *attempt, removes the record, and
 * returns true. A record of that process for another run is left for that run's resume; one
 * that is not that process's (an older process that had the pid) is removed. Thread-safe. */
bool df_crash_record_take(const df_engine_id *owner, long long run_id, char **task_id,
                          long long *map_index, unsigned *attempt);

#endif
