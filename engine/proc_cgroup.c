/* proc_cgroup: one cgroup v2 control group per child process, created under the engine's own
 * (see proc_cgroup.h for where, and when there is none). */
#include "proc_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static char *base; /* the engine's own group's directory, or NULL: no cgroups */
static atomic_uint serial;

/* The cgroup v2 mount: /sys/fs/cgroup (pure v2) or /sys/fs/cgroup/unified (hybrid). */
static const char *v2_mount(void)
{
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
        return "/sys/fs/cgroup";
    if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0)
        return "/sys/fs/cgroup/unified";
    return NULL;
}

/* The engine's own v2 group path ("0::/path" in /proc/self/cgroup), new, or NULL. */
static char *own_group(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return NULL;
    char line[4096];
    char *path = NULL;
    while (!path && fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            path = strdup(line + 3);
        }
    fclose(f);
    return path;
}

/* Removes the empty groups that engines no longer running left under dir (one killed with
 * SIGKILL cannot clean up). rmdir fails on a group that still holds processes: those stay. */
static void sweep_dead(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long pid;
        unsigned n;
        if (sscanf(de->d_name, "dagflow.%ld.%u", &pid, &n) != 2 || pid <= 0 ||
            (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        rmdir(path);
    }
    closedir(d);
}

static void probe(void)
{
    const char *off = getenv("DAGFLOW_CGROUP"); /* v1: the v1 limit groups alone */
    if (off && (strcmp(off, "off") == 0 || strcmp(off, "v1") == 0))
        return;
    const char *mnt = v2_mount();
    char *own = mnt ? own_group() : NULL;
    if (!own)
        return;
    size_t n = strlen(mnt) + strlen(own) + 2;
    char *dir = malloc(n);
    if (dir && !strchr(own, '\'')) {
        snprintf(dir, n, "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
        /* usable when a group can be made there and a process moved into it (ourselves would
         * move the whole engine: check the file is writable instead) */
        char test[4200];
        snprintf(test, sizeof test, "%s/dagflow.%ld.probe", dir, (long)getpid());
        if (mkdir(test, 0755) == 0) {
            char procs[4300];
            snprintf(procs, sizeof procs, "%s/cgroup.procs", test);
            if (access(procs, W_OK) == 0)
                base = dir;
            rmdir(test);
            if (base)
                sweep_dead(base);
        }
    }
    if (base != dir)
        free(dir);
    free(own);
}

int df_cgroup_available(void)
{
    pthread_once(&probe_once, probe);
    return base != NULL;
}

char *df_cgroup_new(void)
{
    if (!df_cgroup_available())
        return NULL;
    size_t n = strlen(base) + 64;
    char *dir = malloc(n);
    if (!dir)
        return NULL;
    snprintf(dir, n, "%s/dagflow.%ld.%u", base, (long)getpid(), atomic_fetch_add(&serial, 1) + 1);
    if (mkdir(dir, 0755) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

size_t df_cgroup_signal(const char *dir, int sig)
{
    if (!dir)
        return 0;
    char path[4400];
    if (sig == SIGKILL) {
        snprintf(path, sizeof path, "%s/cgroup.kill", dir);
        FILE *k = fopen(path, "we");
        if (k) {
            int ok = fputs("1", k) >= 0;
            if (fclose(k) == 0 && ok)
                return 1;
        }
    }
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = 0;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1)
        if (pid > 0 && kill((pid_t)pid, sig) == 0)
            n++;
    fclose(f);
    return n;
}

int df_cgroup_remove(const char *dir)
{
    if (!dir)
        return 0;
    for (int i = 0; i < 50; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return -1;
        df_cgroup_signal(dir, SIGKILL);
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}
