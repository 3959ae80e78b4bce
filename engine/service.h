/* service: what the three files of `serve` as a library share (SPEC §9) — service.c (the
 * service's life: open, run, stop, the loop's handles, requests from other threads, the
 * snapshot of the workflow list, the log), service_dir.c (the folder of workflow files: scan,
 * load, reload, forget, global pools/breakers/names) and service_fire.c (schedules: fire times
 * decided once with their runs, catch-up, queued fire times, resuming a dead serve's runs).
 * Not a public header; the public calls are df_service_* in dagflow.h. */
#ifndef DF_SERVICE_H
#define DF_SERVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "engine_internal.h"
#include "schedule.h"

/* How many runs a workflow remembers having asked to cancel (overlap cancel_running). */
#define DF_SVC_ASKED 8

/* One file of the folder. */
typedef struct df_svc_wf {
    char *file; /* the path (folder/NAME.json) */
    dev_t dev;  /* what stat said when it was last loaded: a change reloads it */
    ino_t ino;
    off_t size;
    struct timespec mtime;
    unsigned long long seq; /* load order: an earlier file keeps a name, pool or breaker */
    df_workflow *wf;        /* loaded (syntax, plugins' validate), or NULL */
    char *name;             /* the workflow's name once its file parsed (even with plugin errors) */
    df_errlist errs;        /* why it is invalid: load errors, or a conflict with another file */
    bool valid;             /* wf loaded and no conflict: it is served */
    bool seen;              /* scan's mark */
    bool reported;          /* its errors were logged (once per verdict) */
    /* schedules (service_fire.c); valid while `valid` and wf->schedule */
    bool scheduled;    /* anchor read and missed fire times caught up since it became valid */
    int64_t anchor_ms; /* the first load on this store (interval_ms without start_at) */
    int64_t next_fire; /* ms, or 0 for none */
    bool maybe_queued; /* fire times may be queued in the store */
    long long cancel_asked[DF_SVC_ASKED]; /* runs overlap cancel_running asked to cancel (the latest
                                             ones) */
    size_t n_asked;
    long long last_run_id; /* newest run seen, 0 none */
    df_run_state last_state;
} df_svc_wf;

/* What another thread asks the engine thread for. */
typedef enum df_svc_req_kind {
    DF_SVC_REQ_START,  /* df_service_start_run */
    DF_SVC_REQ_CANCEL, /* df_service_cancel_run */
    DF_SVC_REQ_RETRY,  /* df_service_retry_run */
    DF_SVC_REQ_RESUME  /* df_service_resume_run */
} df_svc_req_kind;

/* A request of another thread (df_service_start_run, _cancel_run, _retry_run, _resume_run). */
typedef struct df_svc_req {
    df_svc_req_kind kind;
    char *workflow; /* START: the workflow's name */
    json_t *params; /* START: params, or NULL */
    char *task;     /* RETRY: the task, or NULL */
    int rc;
    long long run_id; /* START: set by the engine thread; the others: the run asked about */
    df_errlist errs;
    bool done;      /* answered (guarded by the service's mutex) */
    bool abandoned; /* the asker gave up waiting: the engine thread frees it */
    struct df_svc_req *next;
} df_svc_req;

struct df_service {
    df_engine *e;
    char *dir;
    df_service_log_fn log;
    void *log_ud;
    unsigned rescan_ms;
    void (*user_event)(void *ud, const df_engine_event *ev); /* the caller's on_event */
    void *user_ud;

    df_svc_wf **wfs;
    size_t n_wfs;
    unsigned long long next_seq;

    uv_fs_event_t dir_watch;
    bool watching;
    uv_timer_t rescan;    /* stat scan every rescan_ms; also a short one after an fs event */
    uv_timer_t fire;      /* the next fire time */
    uv_timer_t housekeep; /* every 100 ms: ended runs freed, queued fire times, snapshot, stop */
    uv_check_t stop_check;
    uv_async_t req_async;
    bool handles_open;
    bool stopping;          /* no new run starts; waiting for the runs in flight to end */
    bool place_freed;       /* a run ended: queued fire times may start */
    bool dirty;             /* the snapshot is out of date */
    bool starting;          /* the first scan: schedules wait until the runs left behind resumed */
    unsigned lost_txs_seen; /* e->lost_txs when the schedules were last decided again */
    uint64_t next_adopt_ms; /* monotonic ms of the next look for runs to adopt (SPEC §11) */

    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    bool accepting;   /* df_service_run is serving: requests are taken */
    df_svc_req *reqs; /* not taken yet */
    json_t *snapshot; /* df_service_workflows' answer */
};

/* ---- service.c ---- */

/* Writes one log line (printf format). */
void df_svc_log(df_service *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The served (valid) workflow named name, or NULL. */
df_svc_wf *df_svc_find(df_service *s, const char *name);

/* Starts a run of w's workflow now (a copy of it), records where it comes from, logs it.
 * Returns as df_engine_start_workflow_opts. */
int df_svc_start(df_service *s, df_svc_wf *w, const df_run_options *o, long long *run_id,
                 df_errlist *errs);

/* ---- service_dir.c ---- */

/* Looks at the folder: loads new files, reloads changed ones, forgets removed ones, and decides
 * again which files conflict. Returns true when anything changed. */
bool df_svc_scan(df_service *s);

/* Frees one file's entry. */
void df_svc_wf_free(df_svc_wf *w);

/* ---- service_fire.c ---- */

/* A file became valid (new, or reloaded): reads its anchor, catches up the fire times missed
 * since the last one decided (its `catchup`), computes its next fire time. */
void df_svc_schedule_init(df_service *s, df_svc_wf *w);

/* Decides every fire time that is due, starts queued fire times where places are free, and arms
 * the fire timer for the next one. */
void df_svc_fire_due(df_service *s);

/* Arms the fire timer for the earliest next fire time of the workflows served. */
void df_svc_arm(df_service *s);

/* Starts the queued fire times of the workflows that may have some, while places are free. */
void df_svc_start_queued(df_service *s);

/* Resumes the runs a serve engine left RUNNING (its engine dead) or INTERRUPTED for the
 * workflows served. */
void df_svc_resume_left(df_service *s);

/* Adopts the runs of a `serve` (another, or this one's dropped) whose lease ended or that a
 * serve left INTERRUPTED, for the workflows served (SPEC §11); each is logged. Called from the
 * housekeeping timer every quarter of the run lease (250 ms .. 5 s). */
void df_svc_adopt(df_service *s);

#endif
