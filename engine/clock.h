/* clock: the engine's two clocks, in milliseconds (the monotonic one in microseconds too). */
#ifndef DF_CLOCK_H
#define DF_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock time: milliseconds since the Unix epoch (UTC). Thread-safe. */
int64_t df_now_ms(void);

/* Monotonic time in milliseconds (for deadlines and durations). Thread-safe. */
uint64_t df_mono_ms(void);

/* Monotonic time in microseconds, the same clock as df_mono_ms (for latencies). Thread-safe. */
uint64_t df_mono_us(void);

/* Formats ms since the epoch as ISO-8601 UTC with milliseconds ("2026-11-29T08:15:08.123Z")
 * into buf (at least 25 bytes). Returns buf. Thread-safe. */
char *df_iso8601(int64_t ms, char *buf, size_t len);

#endif
