/* http/auth: who may use the HTTP API (SPEC §9): the bearer token of --token-file, kept as its
 * SHA-256 digest (GLib's GChecksum) and compared with the digest of what a request sends in
 * constant time, so that neither the token's bytes nor its length leak through timing; which
 * paths need it; and the listen address, resolved, with whether it is loopback (a server on any
 * other address needs a token file). */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "../errlist.h"

/* The SHA-256 of len bytes as 64 hex digits into out[65]. */
static void digest(const char *data, size_t len, char out[65])
{
    gchar *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
    snprintf(out, 65, "%s", hex ? hex : "");
    g_free(hex);
}

/* Whether the open token file is a regular file that only its owner can read or write, as ssh
 * asks of a private key: a token its group or others can read is no secret (SPEC §12's spirit,
 * the check plugin_trust.c makes of plugins). Fills errs when not. */
static bool private_file(FILE *f, const char *path, df_errlist *errs)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        df_errlist_add(errs, "--token-file %s: cannot stat: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        df_errlist_add(errs, "--token-file %s: not a regular file", path);
        return false;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        df_errlist_add(errs,
                       "--token-file %s: its group or others may read or write it (mode %04o), so "
                       "the token is no secret: chmod 600 %s",
                       path, (unsigned)(st.st_mode & 07777), path);
        return false;
    }
    return true;
}

int df_http_auth_load(df_http *h, const char *path, df_errlist *errs)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        df_errlist_add(errs, "--token-file %s: cannot open: %s", path, strerror(errno));
        return DF_EINPUT;
    }
    if (!private_file(f, path, errs)) {
        fclose(f);
        return DF_EINPUT;
    }
    char buf[4097];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more) {
        df_errlist_add(errs, "--token-file %s: the token is over 4096 bytes", path);
        return DF_EINPUT;
    }
    buf[n] = '\0';
    char *start = buf;
    while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
        start++;
    size_t len = strlen(start);
    while (len && (start[len - 1] == ' ' || start[len - 1] == '\t' || start[len - 1] == '\n' ||
                   start[len - 1] == '\r'))
        start[--len] = '\0';
    if (!len || strpbrk(start, " \t\r\n")) {
        df_errlist_add(errs, "--token-file %s: %s", path,
                       len ? "the token holds blanks or several lines" : "the file is empty");
        return DF_EINPUT;
    }
    digest(start, len, h->token_digest);
    h->has_token = true;
    memset(buf, 0, sizeof buf);
    return 0;
}

bool df_http_auth_ok(const df_http *h, const char *authorization)
{
    if (!h->has_token)
        return true;
    const char *prefix = "Bearer ";
    if (!authorization || strncasecmp(authorization, prefix, strlen(prefix)) != 0)
        return false;
    const char *token = authorization + strlen(prefix);
    char d[65];
    digest(token, strlen(token), d);
    unsigned char diff = 0;
    for (size_t i = 0; i < 64; i++)
        diff |= (unsigned char)(d[i] ^ h->token_digest[i]);
    return diff == 0;
}

bool df_http_auth_needed(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
           strcmp(path, "/metrics") == 0;
}

/* Whether one resolved address is loopback: 127.0.0.0/8, ::1, or ::ffff:127.x.y.z. */
static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

/* Splits "HOST:PORT" or "[HOST]:PORT" into host and port. Returns 0 or -1. */
static int split(const char *listen, char *host, size_t hl, char *port, size_t pl)
{
    const char *colon;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':')
            return -1;
        snprintf(host, hl, "%.*s", (int)(end - listen - 1), listen + 1);
        colon = end + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon)
            return -1;
        snprintf(host, hl, "%.*s", (int)(colon - listen), listen);
    }
    snprintf(port, pl, "%s", colon + 1);
    char *end = NULL;
    long p = strtol(port, &end, 10);
    if (!*host || !*port || *end || p < 0 || p > 65535)
        return -1;
    return 0;
}

int df_http_resolve(const char *listen, struct sockaddr_storage *addr, unsigned *addr_len,
                    bool *loopback, df_errlist *errs)
{
    char host[256], port[16];
    if (split(listen, host, sizeof host, port, sizeof port) != 0) {
        df_errlist_add(errs, "--listen %s: not HOST:PORT (such as 127.0.0.1:8080 or [::1]:8080)",
                       listen);
        return DF_EINPUT;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        df_errlist_add(errs, "--listen %s: cannot resolve %s: %s", listen, host, gai_strerror(rc));
        return DF_EINPUT;
    }
    *loopback = true;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (!is_loopback(a->ai_addr))
            *loopback = false;
    memset(addr, 0, sizeof *addr);
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addr_len = (unsigned)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}
