/* plugin_trust: whether a plugin file may be loaded (SPEC §12), checked before dlopen, since
 * loading runs the plugin's constructors. As OpenSSH's StrictModes does for authorized_keys: the
 * file, and every folder from its own up to "/", must be owned by root or by the user running
 * dagflow and not be writable by group or others. One difference, so that plugins under /tmp (a
 * test's mkdtemp folder) work: a folder writable by others that has the sticky bit (like /tmp)
 * is accepted when root or the user owns it, because there nobody else can remove or rename the
 * entries we own, so the folders and files below it stay ours. */
#include "plugin_trust.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The user's name for messages ("uid N" when it has none). */
static void user_name(uid_t uid, char *buf, size_t len)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(buf, len, "%s", res->pw_name);
    else
        snprintf(buf, len, "uid %u", (unsigned)uid);
}

/* Checks one path's status: owner and mode. what is "" for the file, else "folder ". Returns 0
 * or -1 with the reason in why. */
static int check_one(const char *path, const struct stat *st, bool folder, char *why, size_t len)
{
    uid_t me = geteuid();
    if (st->st_uid != 0 && st->st_uid != me) {
        char owner[128], self[128];
        user_name(st->st_uid, owner, sizeof owner);
        user_name(me, self, sizeof self);
        snprintf(why, len, "%s%s is owned by %s, not by root or the user running dagflow (%s)",
                 folder ? "its folder " : "", path, owner, self);
        return -1;
    }
    mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);
    if (w && folder && (st->st_mode & S_ISVTX))
        return 0; /* sticky, owned by root or us: others cannot replace what we own in it */
    if (w) {
        snprintf(why, len, "%s%s is writable by %s (mode %04o)", folder ? "its folder " : "", path,
                 (w & S_IWOTH) ? "others" : "its group", (unsigned)(st->st_mode & 07777));
        return -1;
    }
    return 0;
}

int df_plugin_trust_check(const char *real, char *why, size_t len)
{
    struct stat st;
    if (real[0] != '/') {
        snprintf(why, len, "%s is not an absolute path", real);
        return -1;
    }
    if (lstat(real, &st) != 0) {
        snprintf(why, len, "cannot check %s: %s", real, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, len, "%s is not a regular file", real);
        return -1;
    }
    if (check_one(real, &st, false, why, len) != 0)
        return -1;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", real);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            break;
        if (slash == dir)
            slash[1] = '\0'; /* "/" itself */
        else
            *slash = '\0';
        if (lstat(dir, &st) != 0) {
            snprintf(why, len, "cannot check its folder %s: %s", dir, strerror(errno));
            return -1;
        }
        if (check_one(dir, &st, true, why, len) != 0)
            return -1;
        if (strcmp(dir, "/") == 0)
            break;
    }
    return 0;
}
