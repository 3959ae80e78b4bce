/* http/mhd_dl: libmicrohttpd, loaded with dlopen when an HTTP server starts (df_mhd_load), not
 * linked into the binary: it and the GnuTLS stack it pulls in cost several milliseconds of every
 * process start (issue 14), and only `serve` with the HTTP API uses it. server.c includes this
 * instead of <microhttpd.h>: each libmicrohttpd function it calls is a macro naming the pointer
 * resolved from the library, so it reads as ordinary libmicrohttpd calls. */
#ifndef DF_HTTP_MHD_DL_H
#define DF_HTTP_MHD_DL_H

#include <microhttpd.h>
#include <stddef.h>

/* X(name) for each libmicrohttpd function server.c calls. */
#define DF_MHD_FUNCS(X)                                                                            \
    X(MHD_add_response_header)                                                                     \
    X(MHD_create_response_from_buffer)                                                             \
    X(MHD_destroy_response)                                                                        \
    X(MHD_get_daemon_info)                                                                         \
    X(MHD_lookup_connection_value)                                                                 \
    X(MHD_queue_response)                                                                          \
    X(MHD_start_daemon)                                                                            \
    X(MHD_stop_daemon)

/* The resolved functions: member f_NAME has NAME's type. */
struct df_mhd_api {
#define DF_MHD_MEMBER(name) __typeof__(name) *f_##name;
    DF_MHD_FUNCS(DF_MHD_MEMBER)
#undef DF_MHD_MEMBER
};
extern struct df_mhd_api df_mhd;

/* Loads libmicrohttpd (dlopen of libmicrohttpd.so.12, its soname since 0.9.71) and resolves
 * every function of DF_MHD_FUNCS, the first time it is called in the process. Returns 0, or -1
 * with the reason in err (at most errlen bytes, NUL-terminated): the library not installed, or a
 * missing symbol. Thread-safe (pthread_once); the outcome of the first call is kept. */
int df_mhd_load(char *err, size_t errlen);

#ifndef DF_MHD_DL_IMPL
#define MHD_add_response_header (df_mhd.f_MHD_add_response_header)
#define MHD_create_response_from_buffer (df_mhd.f_MHD_create_response_from_buffer)
#define MHD_destroy_response (df_mhd.f_MHD_destroy_response)
#define MHD_get_daemon_info (df_mhd.f_MHD_get_daemon_info)
#define MHD_lookup_connection_value (df_mhd.f_MHD_lookup_connection_value)
#define MHD_queue_response (df_mhd.f_MHD_queue_response)
#define MHD_start_daemon (df_mhd.f_MHD_start_daemon)
#define MHD_stop_daemon (df_mhd.f_MHD_stop_daemon)
#endif

#endif
