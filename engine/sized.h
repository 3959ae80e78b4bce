/* sized: how much of a plugin's struct is there. A plugin built against an older header passes
 * (or points to) a shorter struct than the engine's: a df_taskunit of an older ABI, or a sized
 * struct (df_spawn_opts, df_spawn_result) whose leading size field says how many bytes it has.
 * The engine reads and writes a field only when those bytes cover it (taskunit.h, ABI rules). */
#ifndef DF_SIZED_H
#define DF_SIZED_H

#include <stddef.h>

/* Bytes from the start of type to the end of its member field. */
#define DF_END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* Whether a struct of type that has size bytes holds its member field. */
#define DF_COVERS(size, type, field) ((size) >= DF_END_OF(type, field))

#endif
