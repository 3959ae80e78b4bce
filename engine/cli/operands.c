/* operands: checks of a command's operands — run ids (positive decimal integers) and workflow
 * files (readable, not a directory; "-" is standard input), with the messages the CLI prints. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int df_cli_parse_run_id(const char *text, long long *id)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end != '\0' || v <= 0)
        return -1;
    *id = v;
    return 0;
}

int df_cli_file_problem(const char *path, char *msg, size_t len)
{
    struct stat st;
    bool dir;
    if (strcmp(path, "-") == 0) { /* standard input */
        if (len)
            msg[0] = '\0';
        return 0;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        dir = err == EISDIR || (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
        if (!dir) {
            snprintf(msg, len, "%s: cannot open: %s", path, strerror(err));
            return DF_EXIT_USAGE;
        }
    } else {
        dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        close(fd);
    }
    if (dir) {
        snprintf(msg, len, "%s: is a directory", path);
        return DF_EXIT_USAGE;
    }
    if (len)
        msg[0] = '\0';
    return 0;
}

int df_cli_check_file(const char *path)
{
    char msg[PATH_MAX + 128];
    int code = df_cli_file_problem(path, msg, sizeof msg);
    if (code)
        df_cli_error("%s", msg);
    return code;
}
