/* plugin_trust: may a plugin file be loaded? (SPEC §12; see plugin_trust.c for the rule). */
#ifndef DF_PLUGIN_TRUST_H
#define DF_PLUGIN_TRUST_H

#include <stdbool.h>
#include <stddef.h>

/* Checks the plugin file real (an absolute path without symbolic links, as realpath gives) and
 * each folder from its own up to "/": each must be owned by root or the effective user, and not
 * be writable by group or others, except a folder with the sticky bit (as /tmp). Returns 0 when
 * it may be loaded, or -1 with the reason in why, e.g. "its folder /srv/p is writable by others
 * (mode 0777)" or "/srv/p/x.so is owned by alice, not by root or the user running dagflow
 * (bob)". Reads only file status (lstat); thread-safe. */
int df_plugin_trust_check(const char *real, char *why, size_t len);

#endif
