/* path: the one rule for paths written relative to a folder: workflow paths against the
 * workflow's folder (SPEC §1 "Paths"), alert sink files and commands, a child's working
 * directory and executable, plugin references and plugin files in a search folder, and the paths
 * of the built-in plugins (plugins/common/plugin_util.h: dfp_resolve_path).
 *
 * The rule: an absolute path (one starting with '/'), or any path when there is no folder (NULL
 * or ""), is kept as it is; a relative one is the folder, one '/' (none when the folder already
 * ends with '/'), then the path. Nothing else is normalised ("./x" stays "./x"), and nothing is
 * looked up on disk.
 *
 * engine/path.c is also compiled into the built-in plugins (see hidden.h). Both functions are
 * pure and thread-safe. */
#ifndef DF_PATH_H
#define DF_PATH_H

#include <stddef.h>

#include "hidden.h"

/* Writes path resolved against the folder dir (see the rule above) into out, a buffer of cap
 * bytes, NUL-terminated. dir may be NULL. Returns 0; -ENAMETOOLONG when the result and its NUL
 * need more than cap bytes (out then holds "" when cap > 0); -EINVAL when out or path is NULL. */
DF_HIDDEN int df_path_join(char *out, size_t cap, const char *dir, const char *path);

/* The same into a new malloc'd string, which the caller frees. Returns NULL when path is NULL or
 * out of memory. */
DF_HIDDEN char *df_path_resolve(const char *dir, const char *path);

#endif
