/* plugin_util: helpers shared by the built-in plugins (plugins/NAME.c): the template test of
 * validate, unknown-key checks with "did you mean" suggestions, bytes as a JSON string with
 * invalid UTF-8 replaced, paths resolved against the workflow's folder, the monotonic clock.
 *
 * plugins/common/plugin_util.c is compiled into every built-in plugin (CMakeLists.txt, the plugin
 * loop), so each .so carries its own copy. Every function here has hidden visibility and the
 * dfp_ prefix: none is exported from the .so, and none can be interposed by a symbol the dagflow
 * binary exports (the engine's public symbols use df_). A plugin still exports only
 * dagflow_taskunit. Like the plugins, this file uses nothing of the engine's binary but
 * <dagflow/taskunit.h>: the edit distance of dfp_suggest_key and the path rule of
 * dfp_resolve_path are the engine's own sources (engine/suggest.c, engine/path.c), compiled into
 * each plugin alongside this file with hidden visibility too (engine/hidden.h), so that there is
 * one implementation of each. Every function is thread-safe (no shared state). */
#ifndef DFP_PLUGIN_UTIL_H
#define DFP_PLUGIN_UTIL_H

#include <dagflow/taskunit.h>

#include <stddef.h>

/* Not exported from the plugin's shared object. */
#define DFP_HIDDEN __attribute__((visibility("hidden")))

/* The checks of a plugin's validate: with templates non-zero (run creation), a ${...} string is
 * accepted in place of a value; with 0 (execute), every value must have its final type. Writes a
 * NUL-terminated message of at most errlen bytes into err and returns non-zero when params are
 * not valid, else returns 0. */
typedef int (*dfp_check_fn)(const json_t *params, int templates, char *err, size_t errlen);

/* Milliseconds of CLOCK_MONOTONIC, for measuring how long something took. */
DFP_HIDDEN long long dfp_mono_ms(void);

/* Whether v is a string holding a ${...} reference still to be resolved: validate sees
 * ${tasks.*} references as strings at run creation (SPEC §2). v is borrowed (NULL is fine). */
DFP_HIDDEN int dfp_is_template(const json_t *v);

/* Whether v is a string, number or boolean: a value that stands for text (its JSON text), as
 * argv elements, env values and header values may be. */
DFP_HIDDEN int dfp_is_scalar_text(const json_t *v);

/* Whether arr (a JSON array, borrowed) holds the integer n. */
DFP_HIDDEN int dfp_int_in_array(const json_t *arr, long long n);

/* The first key of the object obj (in its order) that is not in keys (NULL-terminated), or NULL
 * when every key is known. The key is borrowed from obj. */
DFP_HIDDEN const char *dfp_unknown_key(const json_t *obj, const char *const *keys);

/* The entry of keys (NULL-terminated) closest to key by edit distance (Levenshtein), when it is
 * a likely typo: at most 3 edits, and fewer than key's length. NULL otherwise. With fold_case,
 * letters are compared without regard to case (for keys that are lower-case). Keys longer than 64
 * bytes are never close. Returns a pointer into keys. */
DFP_HIDDEN const char *dfp_suggest_key(const char *key, const char *const *keys, int fold_case);

/* Writes the error for an unknown key into err (at most errlen bytes, NUL-terminated):
 * `unknown key "KEY"WHERE; did you mean "HINT"?` when hint is not NULL, else
 * `unknown key "KEY"WHERE (ABOUT)`. where is "" or e.g. ` in "limits"`. */
DFP_HIDDEN void dfp_unknown_key_error(char *err, size_t errlen, const char *key, const char *where,
                                      const char *hint, const char *about);

/* Rejects the first key of obj not in keys (NULL-terminated): writes dfp_unknown_key_error's
 * message into err, with dfp_suggest_key's hint when there is one, else ABOUT = lead followed by
 * the known keys, e.g. "known: argv, script" (lead "known:"). Returns 1 when a key is unknown,
 * else 0. */
DFP_HIDDEN int dfp_check_keys(const json_t *obj, const char *const *keys, const char *where,
                              int fold_case, const char *lead, char *err, size_t errlen);

/* Runs check(params, 0, ...) (the checks of execute: every value final) with an error buffer of
 * errlen bytes (at most 1024). When params are not valid, sets the message as the attempt's
 * error (df_task_set_error) and returns 1, which the plugin turns into DF_TASK_FAILED_PERMANENT;
 * else returns 0. Call from execute only. */
DFP_HIDDEN int dfp_check_final(df_task_ctx *ctx, dfp_check_fn check, const json_t *params,
                               size_t errlen);

/* n bytes of s as a JSON string, each byte that does not start a valid UTF-8 sequence (overlong
 * forms, surrogates and code points past U+10FFFF are invalid; NUL is kept) replaced by U+FFFD.
 * New reference, or NULL when out of memory. */
DFP_HIDDEN json_t *dfp_text_json(const char *s, size_t n);

/* path resolved against the workflow's folder workdir (df_task_workdir) by the engine's rule
 * (engine/path.h: df_path_resolve): an absolute path, or any path when workdir is NULL or "", is
 * kept as it is; a relative one is joined to workdir with one '/'. Returns a malloc'd string (the
 * caller frees it), or NULL when out of memory. */
DFP_HIDDEN char *dfp_resolve_path(const char *workdir, const char *path);

#endif
