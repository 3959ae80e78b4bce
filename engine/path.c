/* path: joins a path onto the folder it is relative to (see path.h). Compiled into the engine
 * and into each built-in plugin, so it uses nothing but the C library. */
#include "path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* How path goes onto dir: *dl bytes of dir, then a '/' when *sep. (0, 0) keeps path as it is. */
static void join_parts(const char *dir, const char *path, size_t *dl, int *sep)
{
    *dl = 0;
    *sep = 0;
    if (path[0] == '/' || !dir || !dir[0])
        return;
    *dl = strlen(dir);
    *sep = dir[*dl - 1] != '/';
}

int df_path_join(char *out, size_t cap, const char *dir, const char *path)
{
    if (!out || !path)
        return -EINVAL;
    size_t dl, pl = strlen(path);
    int sep;
    join_parts(dir, path, &dl, &sep);
    if (dl + (size_t)sep + pl >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return -ENAMETOOLONG;
    }
    if (dl)
        memcpy(out, dir, dl);
    if (sep)
        out[dl] = '/';
    memcpy(out + dl + sep, path, pl + 1);
    return 0;
}

char *df_path_resolve(const char *dir, const char *path)
{
    if (!path)
        return NULL;
    size_t dl;
    int sep;
    join_parts(dir, path, &dl, &sep);
    size_t cap = dl + (size_t)sep + strlen(path) + 1;
    char *out = malloc(cap);
    if (out && df_path_join(out, cap, dir, path) != 0) {
        free(out);
        return NULL;
    }
    return out;
}
