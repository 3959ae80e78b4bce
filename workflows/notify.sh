#!/bin/sh
# An alert sink for the examples: appends one line per alert to out/alerts.log.
# dagflow passes the alert JSON on stdin and its fields in DAGFLOW_* variables.
mkdir -p out
printf '%s run=%s task=%s state=%s error=%s\n' "$DAGFLOW_EVENT" "$DAGFLOW_RUN_ID" \
    "${DAGFLOW_TASK_ID:--}" "$DAGFLOW_STATE" "$DAGFLOW_ERROR" >> out/alerts.log
