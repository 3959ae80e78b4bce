/* liveness: whether a run's owning engine process is gone, as seen from this host (liveness.c). */
#ifndef DF_LIVENESS_H
#define DF_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../store/store.h"

/* True when the engine id names a process on this host (same host name) that is gone: no process
 * has its pid, or the one that has it started after that engine did (the pid was reused; Linux's
 * /proc start time). False when it may be alive, or runs on another host (only its heartbeat
 * tells then), or id has no host or pid. The caller's own process is never "gone". Thread-safe. */
bool df_engine_owner_gone(const df_engine_id *id);

/* When process pid started (ms since the epoch, to the precision of the boot time: about 1 s),
 * from Linux's /proc; -1 when it cannot be told (no such process, no /proc). Thread-safe. */
long long df_process_start_ms(long long pid);

/* Whether process pid still is the process that existed at started_at (ms: its start as
 * df_process_start_ms gave it, or a time just after it, as an engine records its own): false when
 * there is no such process, it is a zombie, or it started more than 2 s after started_at (the pid
 * was reused); true when started_at is 0 and a live process has the pid. Thread-safe. */
bool df_process_is(long long pid, int64_t started_at);

/* Whether the process group pgid still has a member that is not a zombie (/proc is read: a
 * killed process whose parent is gone stays a zombie until a reaper takes it). Thread-safe. */
bool df_process_group_alive(long long pgid);

/* The fields of /proc/PID/stat that follow the command name (which may hold spaces and ')'): a
 * pointer into buf (len bytes, filled with the file's start), at " STATE PPID PGRP SESSION ...";
 * NULL when there is no such process or no /proc. Thread-safe. */
const char *df_proc_stat_fields(long long pid, char *buf, size_t len);

#endif
