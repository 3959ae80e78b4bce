/* pg/pq_dl: libpq, loaded with dlopen when a PostgreSQL store is opened (df_pq_load), not linked
 * into the binary: libpq and what it pulls in (OpenSSL, Kerberos, LDAP, SASL) cost several
 * milliseconds of every process start, most of which use SQLite. The backend's files include this
 * after <libpq-fe.h>: each libpq function they call is a macro naming the pointer resolved from
 * the library, so they read as ordinary libpq calls. */
#ifndef DF_STORE_PG_PQ_DL_H
#define DF_STORE_PG_PQ_DL_H

#include <libpq-fe.h>
#include <stddef.h>

/* X(name) for each libpq function the backend calls. */
#define DF_PQ_FUNCS(X)                                                                             \
    X(PQclear)                                                                                     \
    X(PQcmdStatus)                                                                                 \
    X(PQcmdTuples)                                                                                 \
    X(PQconnectdbParams)                                                                           \
    X(PQconsumeInput)                                                                              \
    X(PQenterPipelineMode)                                                                         \
    X(PQerrorMessage)                                                                              \
    X(PQexec)                                                                                      \
    X(PQexecPrepared)                                                                              \
    X(PQexitPipelineMode)                                                                          \
    X(PQfinish)                                                                                    \
    X(PQflush)                                                                                     \
    X(PQfreemem)                                                                                   \
    X(PQgetResult)                                                                                 \
    X(PQgetisnull)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQmakeEmptyPGresult)                                                                         \
    X(PQnotifies)                                                                                  \
    X(PQntuples)                                                                                   \
    X(PQpingParams)                                                                                \
    X(PQpipelineSync)                                                                              \
    X(PQprepare)                                                                                   \
    X(PQresultErrorField)                                                                          \
    X(PQresultErrorMessage)                                                                        \
    X(PQresultStatus)                                                                              \
    X(PQsendFlushRequest)                                                                          \
    X(PQsendPrepare)                                                                               \
    X(PQsendQueryPrepared)                                                                         \
    X(PQsocket)                                                                                    \
    X(PQstatus)                                                                                    \
    X(PQtransactionStatus)

/* The resolved functions: member f_NAME has NAME's type. */
struct df_pq_api {
#define DF_PQ_MEMBER(name) __typeof__(name) *f_##name;
    DF_PQ_FUNCS(DF_PQ_MEMBER)
#undef DF_PQ_MEMBER
};
extern struct df_pq_api df_pq;

/* Loads libpq (dlopen of libpq.so.5, libpq's soname since PostgreSQL 8.2) and resolves every
 * function of DF_PQ_FUNCS, the first time it is called in the process. Returns 0, or -1 with
 * the reason in err (at most errlen bytes, NUL-terminated): libpq not installed, or a missing
 * symbol. Thread-safe (pthread_once); the outcome of the first call is kept. */
int df_pq_load(char *err, size_t errlen);

#ifndef DF_PQ_DL_IMPL
#define PQclear (df_pq.f_PQclear)
#define PQcmdStatus (df_pq.f_PQcmdStatus)
#define PQcmdTuples (df_pq.f_PQcmdTuples)
#define PQconnectdbParams (df_pq.f_PQconnectdbParams)
#define PQconsumeInput (df_pq.f_PQconsumeInput)
#define PQenterPipelineMode (df_pq.f_PQenterPipelineMode)
#define PQerrorMessage (df_pq.f_PQerrorMessage)
#define PQexec (df_pq.f_PQexec)
#define PQexecPrepared (df_pq.f_PQexecPrepared)
#define PQexitPipelineMode (df_pq.f_PQexitPipelineMode)
#define PQfinish (df_pq.f_PQfinish)
#define PQflush (df_pq.f_PQflush)
#define PQfreemem (df_pq.f_PQfreemem)
#define PQgetResult (df_pq.f_PQgetResult)
#define PQgetisnull (df_pq.f_PQgetisnull)
#define PQgetvalue (df_pq.f_PQgetvalue)
#define PQmakeEmptyPGresult (df_pq.f_PQmakeEmptyPGresult)
#define PQnotifies (df_pq.f_PQnotifies)
#define PQntuples (df_pq.f_PQntuples)
#define PQpingParams (df_pq.f_PQpingParams)
#define PQpipelineSync (df_pq.f_PQpipelineSync)
#define PQprepare (df_pq.f_PQprepare)
#define PQresultErrorField (df_pq.f_PQresultErrorField)
#define PQresultErrorMessage (df_pq.f_PQresultErrorMessage)
#define PQresultStatus (df_pq.f_PQresultStatus)
#define PQsendFlushRequest (df_pq.f_PQsendFlushRequest)
#define PQsendPrepare (df_pq.f_PQsendPrepare)
#define PQsendQueryPrepared (df_pq.f_PQsendQueryPrepared)
#define PQsocket (df_pq.f_PQsocket)
#define PQstatus (df_pq.f_PQstatus)
#define PQtransactionStatus (df_pq.f_PQtransactionStatus)
#endif

#endif
