/* schedule_api: the schedule functions of the embedding API (include/dagflow/dagflow.h, SPEC §9
 * `dagflow schedule`): a loaded workflow's next fire times as UTC and local ISO-8601 text, and the
 * parsing of ISO-8601 times. The decisions themselves are schedule.c's. */
#include <dagflow/dagflow.h>

#include "civil.h"
#include "errlist.h"
#include "schedule.h"
#include "workflow.h"

bool df_workflow_has_schedule(const df_workflow *wf)
{
    return wf && wf->schedule;
}

int df_parse_time(const char *text, int64_t *ms)
{
    return df_tz_parse_time(text, ms);
}

/* {"at_ms", "utc", "local"} for one fire time. */
static json_t *fire_time_json(const df_schedule *s, int64_t at)
{
    char utc[48], local[48];
    int32_t off = df_tz_offset(s->tz, df_civil_floor_div(at, 1000));
    df_civil_format(at, 0, true, utc, sizeof utc);
    df_civil_format(at, off, false, local, sizeof local);
    return json_pack("{s:I, s:s, s:s}", "at_ms", (json_int_t)at, "utc", utc, "local", local);
}

int df_workflow_fire_times(const df_workflow *wf, int64_t from_ms, size_t count, json_t **out,
                           df_errlist *errs)
{
    *out = NULL;
    if (!df_workflow_has_schedule(wf)) {
        if (errs)
            df_errlist_add(errs, "%s: the workflow has no \"schedule\"",
                           wf && wf->path ? wf->path : "workflow");
        return DF_EINPUT;
    }
    const df_schedule *s = wf->schedule;
    json_t *arr = json_array();
    if (!arr)
        return DF_ENOMEM;
    int64_t t = from_ms, at;
    for (size_t i = 0; i < count && df_schedule_next(s, t, from_ms, &at) == 0; i++) {
        json_t *o = fire_time_json(s, at);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return DF_ENOMEM;
        }
        t = at;
    }
    *out = arr;
    return 0;
}
