/* liveness: whether a run's owning engine process is gone, as seen from this host (liveness.c). */
#ifndef DF_LIVENESS_H
#define DF_LIVENESS_H

#include <stdbool.h>

#include "../store/store.h"

/* True when the engine id names a process on this host (same host name) that is gone: no process
 * has its pid, or the one that has it started after that engine did (the pid was reused; Linux's
 * /proc start time). False when it may be alive, or runs on another host (only its heartbeat
 * tells then), or id has no host or pid. The caller's own process is never "gone". Thread-safe. */
bool df_engine_owner_gone(const df_engine_id *id);

#endif
