#!/usr/bin/env python3
"""serve_api_check: the HTTP API (SPEC §9) of a real `dagflow serve`, checked with a real HTTP
client (Python's http.client; the request helpers, the checks that do not depend on the host and
the strict /metrics parser come from http_api_check.py). Beyond what the test host can show:
runs started through the API and seen to finish (trigger api), 404/409/400 on starting them,
cancel of a running run (its shell process group gone), of a finished run (409) and of an
INTERRUPTED run (taken over, CANCELLED), retry and resume through the API, the workflow list
(schedule, next fire time, last run, an invalid file with its errors), the long poll answering
within a bound of the event (the figure printed), and every /metrics series of SPEC §9 from the
serve's own engine, the schedule lateness included.

Driven by tests/e2e/test_serve_api.sh, through the environment:
  API_PORT, API_TOKEN  the serve (token: the one of its --token-file)
  DF_BIN, API_DB       to make INTERRUPTED runs with `dagflow run` (SIGINT)
  API_WF               the served folder (slow.json is run from there)
  API_WORK             a scratch folder (pid files written by the slow task)
Prints one line per check group; exits 1 at the first failure.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_api_check as hc  # noqa: E402

hc.PORT = int(os.environ["API_PORT"])
hc.TOKEN = os.environ["API_TOKEN"]
check, request, expect_error = hc.check, hc.request, hc.expect_error
WORK = os.environ["API_WORK"]
FINAL = {"SUCCESS", "FAILED", "INVALID", "CANCELLED"}


def start(workflow, params=None):
    body = {} if params is None else {"params": params}
    s, h, run = request("POST", f"/api/v1/workflows/{workflow}/runs", body=body)
    check(s == 201, f"start {workflow}: {s} {run}")
    check(h.get("location") == f"/api/v1/runs/{run['run_id']}", f"Location {h}")
    check(run["trigger"] == "api" and run["workflow"] == workflow, f"run object {run}")
    return run["run_id"]


def wait_state(run, states, limit=60.0):
    """Polls GET /api/v1/runs/ID until its state is in states; returns the run object."""
    t0 = time.monotonic()
    while True:
        s, _, body = request("GET", f"/api/v1/runs/{run}")
        check(s == 200, f"GET run {run}: {s} {body}")
        if body["state"] in states:
            return body
        check(time.monotonic() - t0 < limit, f"run {run} still {body['state']} after {limit}s")
        time.sleep(0.05)


def wait_task_running(run, task, limit=60.0):
    t0 = time.monotonic()
    while True:
        _, _, body = request("GET", f"/api/v1/runs/{run}")
        if any(t["id"] == task and t["state"] == "RUNNING" for t in body["tasks"]):
            return
        check(time.monotonic() - t0 < limit, f"task {task} of run {run} never RUNNING")
        time.sleep(0.05)


def check_start_runs():
    ok = start("hello")
    bad = start("bad")
    run = wait_state(ok, FINAL)
    check(run["state"] == "SUCCESS", f"hello ended {run['state']}")
    check(wait_state(bad, FINAL)["state"] == "FAILED", "bad ended FAILED")
    typed = start("slow", {"n": 0, "tag": {"k": [1, 2]}})
    run = wait_state(typed, FINAL)
    check(run["state"] == "SUCCESS", f"params typed as --param K:=JSON: {run}")
    s, _, att = request("GET", f"/api/v1/runs/{typed}/tasks/after/attempts")
    check(s == 200 and '{"k":[1,2]}' in (att[0]["stdout"] or ""), f"the object param: {att}")
    s, _, body = request("POST", "/api/v1/workflows/nope/runs")
    expect_error(s, 404, body, "start an unknown workflow")
    s, _, body = request("POST", "/api/v1/workflows/broken/runs")
    expect_error(s, 409, body, "start an invalid workflow")
    s, _, body = request("POST", "/api/v1/workflows/hello/runs", body={"params": {"nope": 1}})
    expect_error(s, 400, body, "start with an undeclared param")
    s, _, body = request("POST", "/api/v1/workflows/hello/runs", body='{"params": {}} x')
    expect_error(s, 400, body, "start with a body that is not one JSON object")
    print(f"ok: runs started through the API finish (SUCCESS {ok}, FAILED {bad}); 404/409/400")
    return ok, bad


def check_workflows(ok):
    # The list is a snapshot the engine thread republishes after a run's end (within its next
    # housekeeping turn), so on a loaded machine it may trail the run's own page for a moment.
    t0 = time.monotonic()
    while True:
        s, _, body = request("GET", "/api/v1/workflows")
        last = [w.get("last_run") for w in body if w.get("name") == "hello"] if s == 200 else []
        if last == [{"run_id": ok, "state": "SUCCESS"}] or time.monotonic() - t0 > 10:
            break
        time.sleep(0.1)
    check(s == 200 and isinstance(body, list), f"workflows: {body}")
    by = {w["name"]: w for w in body if w["name"]}
    keys = {"name", "file", "valid", "errors", "schedule", "next_fire_at", "last_run"}
    check(all(set(w) == keys for w in body), f"workflow keys {body}")
    check(set(by) >= {"hello", "bad", "slow", "sched", "broken"}, f"names {sorted(by)}")
    sched = by["sched"]
    check(sched["valid"] and sched["schedule"]["cron"] == "*/5 * * * * *", f"sched {sched}")
    check(hc.ISO.match(sched["next_fire_at"] or ""), f"next_fire_at {sched['next_fire_at']}")
    check(by["hello"]["schedule"] is None and by["hello"]["next_fire_at"] is None, "no schedule")
    check(by["hello"]["last_run"] == {"run_id": ok, "state": "SUCCESS"},
          f"last_run {by['hello']['last_run']}")
    check(not by["broken"]["valid"] and by["broken"]["errors"], f"broken {by['broken']}")
    s, _, body = request("GET", "/api/v1/workflows/sched/schedule?count=3")
    check(s == 200 and len(body["fire_times"]) == 3, f"schedule {body}")
    s, _, body = request("GET", "/api/v1/workflows/sched/schedule?from=2027-01-01T00:00:00Z&count=2")
    check(body == {"fire_times": ["2027-01-01T00:00:05Z", "2027-01-01T00:00:10Z"]}, f"{body}")
    print("ok: GET /api/v1/workflows (schedule, next_fire_at, last_run, errors) and schedule")


def pgid_of(pidfile, limit=30.0):
    t0 = time.monotonic()
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        check(time.monotonic() - t0 < limit, f"{pidfile} never written")
        time.sleep(0.05)
    return os.getpgid(int(open(pidfile).read()))


def live_in_group(pgid):
    """The processes of group pgid that are not zombies (a zombie has ended: serve, a child
    subreaper, adopted it when its shell died and has not reaped it)."""
    live = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(d))
    return live


def group_gone(pgid, limit=10.0):
    t0 = time.monotonic()
    while live_in_group(pgid):
        if time.monotonic() - t0 > limit:
            return False
        time.sleep(0.05)
    return True


def check_cancel_running():
    pidfile = os.path.join(WORK, "cancel.pid")
    run = start("slow", {"n": 60, "pidfile": pidfile})
    wait_task_running(run, "nap")
    pgid = pgid_of(pidfile)
    s, _, body = request("POST", f"/api/v1/runs/{run}/resume")
    expect_error(s, 409, body, "resume of a run its engine runs")
    s, _, body = request("POST", f"/api/v1/runs/{run}/retry")
    expect_error(s, 409, body, "retry of a running run")
    t0 = time.monotonic()
    s, h, body = request("POST", f"/api/v1/runs/{run}/cancel")
    check(s == 202 and body["run_id"] == run, f"cancel: {s} {body}")
    check(h.get("location") == f"/api/v1/runs/{run}", f"cancel Location {h}")
    end = wait_state(run, FINAL, 30)
    took = time.monotonic() - t0
    check(end["state"] == "CANCELLED", f"cancelled run ended {end['state']}")
    check("HTTP API" in (end["error"] or ""), f"the reason is kept: {end['error']}")
    check(group_gone(pgid), f"no process of the task's group {pgid} left: {live_in_group(pgid)}")
    s, _, body = request("POST", f"/api/v1/runs/{run}/cancel")
    expect_error(s, 409, body, "cancel of the cancelled run")
    print(f"ok: cancel of a running run: CANCELLED in {took:.2f}s, process group gone; 409s")
    return run


def interrupted_run(n):
    """A run of slow.json by `dagflow run`, stopped by SIGINT while its task runs."""
    pidfile = os.path.join(WORK, f"int{n}.pid")
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    wf = os.path.join(os.environ["API_WF"], "slow.json")
    p = subprocess.Popen([os.environ["DF_BIN"], "run", wf, "--db", os.environ["API_DB"],
                          "--param", f"n:={n}", "--param", f"pidfile={pidfile}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pgid_of(pidfile)
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=60)
    check(rc == 130, f"dagflow run interrupted: exit {rc}")
    _, _, body = request("GET", "/api/v1/runs?workflow=slow&state=INTERRUPTED&limit=1")
    check(body["runs"], f"an INTERRUPTED run: {body}")
    return body["runs"][0]["run_id"]


def check_retry_resume(bad):
    wait_state(bad, FINAL)  # check_413's body of 1 MiB of blanks was {}: a retry
    s, _, before = request("GET", f"/api/v1/runs/{bad}/tasks/a/attempts")
    s, _, body = request("POST", f"/api/v1/runs/{bad}/retry", body={"task": "nope"})
    expect_error(s, 409, body, "retry of an unknown task")
    s, _, body = request("POST", f"/api/v1/runs/{bad}/retry")
    check(s == 202 and body["run_id"] == bad, f"retry: {s} {body}")
    # committed before the answer: the reply (read back from the store) shows it reopened
    check(body["state"] == "RUNNING", f"retry's reply shows the run RUNNING: {body['state']}")
    end = wait_state(bad, FINAL)
    s, _, after = request("GET", f"/api/v1/runs/{bad}/tasks/a/attempts")
    check(end["state"] == "FAILED" and len(after) == len(before) + 1,
          f"retried: {end['state']}, attempts {len(before)} -> {len(after)}")
    run = interrupted_run(1)
    s, _, body = request("POST", f"/api/v1/runs/{run}/resume")
    check(s == 202 and body["run_id"] == run, f"resume: {s} {body}")
    check(body["state"] == "RUNNING", f"resume's reply shows the run RUNNING: {body['state']}")
    end = wait_state(run, FINAL)
    check(end["state"] == "SUCCESS", f"resumed run ended {end['state']}")
    run2 = interrupted_run(60)
    s, _, body = request("POST", f"/api/v1/runs/{run2}/cancel")
    check(s == 202, f"cancel of an INTERRUPTED run: {s} {body}")
    end = wait_state(run2, FINAL, 30)
    check(end["state"] == "CANCELLED", f"INTERRUPTED run cancelled: {end['state']}")
    print("ok: retry (a new attempt), resume of an INTERRUPTED run, cancel of an INTERRUPTED run")


def check_long_poll():
    run = start("slow", {"n": 2})
    wait_task_running(run, "nap")
    _, body, _ = hc.events(run, 0)
    last = body["last_seq"]
    s, body, took = hc.events(run, last, 300)
    check(s == 200 and body["events"] == [] and 0.25 <= took < 5, f"idle wait {took:.3f}s {body}")
    delays = []
    while True:
        s, body, took = hc.events(run, last, 20000)
        got = time.time()
        check(s == 200, f"events {s} {body}")
        if not body["events"]:
            break  # the run is final
        if took > 0.2:  # this poll waited for the event
            delays.append((got - hc.event_time(body["events"][0])) * 1000)
        last = body["last_seq"]
    check(delays, "a long poll waited for an event")
    worst = max(delays)
    print(f"long poll: answered {min(delays):.0f}..{worst:.0f} ms after the events' times "
          f"({len(delays)} waits; SPEC: 100 ms)")
    # SPEC: within 100 ms; a loaded shared machine gets a generous bound
    check(worst < 1000, f"long poll answered {worst:.0f} ms after the event")
    check(wait_state(run, FINAL)["state"] == "SUCCESS", "the polled run ended SUCCESS")
    print("ok: long poll on a serve run")


def check_metrics():
    t0 = time.monotonic()  # sched fires every 5 s: wait for its first run
    while not request("GET", "/api/v1/runs?workflow=sched")[2]["runs"]:
        check(time.monotonic() - t0 < 30, "the scheduled workflow never fired")
        time.sleep(0.1)
    s, h, text = request("GET", "/metrics")
    check(s == 200 and h["content-type"].startswith("text/plain; version=0.0.4"), "metrics")
    fams = hc.parse_metrics(text)
    for fam in ["dagflow_runs", "dagflow_task_instances", "dagflow_attempts_started_total",
                "dagflow_attempts_finished_total", "dagflow_ready_to_running_seconds",
                "dagflow_queue_depth", "dagflow_pool_workers", "dagflow_breaker_open",
                "dagflow_store_commit_seconds", "dagflow_schedule_lateness_seconds",
                "dagflow_admission_paused"]:
        check(fam in fams, f"family {fam}")
    val = {(x[0], tuple(sorted(x[1].items()))): x[2] for f in fams.values() for x in f[1]}
    check(val[("dagflow_runs", (("state", "SUCCESS"),))] >= 2, "dagflow_runs SUCCESS")
    check(val[("dagflow_runs", (("state", "CANCELLED"),))] >= 2, "dagflow_runs CANCELLED")
    check(val[("dagflow_attempts_started_total", ())] >= 5, "attempts started")
    check(val[("dagflow_attempts_finished_total", (("outcome", "FAILED"),))] >= 2, "FAILED")
    check(val[("dagflow_ready_to_running_seconds_count", ())] >= 5, "ready->running observed")
    check(val[("dagflow_store_commit_seconds_count", ())] >= 1, "store commits observed")
    late = val[("dagflow_schedule_lateness_seconds_count", ())]
    check(late >= 1, f"schedule lateness observed ({late})")
    kinds = {x[1]["kind"] for x in fams["dagflow_pool_workers"][1]}
    check(kinds == {"current", "busy", "peak"}, f"pool_workers kinds {kinds}")
    print(f"ok: /metrics of serve: {len(fams)} families, every SPEC §9 series, "
          f"{late:.0f} scheduled start(s) in the lateness histogram")


def main():
    hc.OK_RUN = 1  # any id: 401 comes first
    hc.check_public_and_token()
    ok, bad = check_start_runs()
    hc.OK_RUN, hc.BAD_RUN = ok, bad
    hc.check_runs_list()
    hc.check_run_and_attempts()
    hc.check_actions()
    hc.check_413()
    check_workflows(ok)
    hc.check_events()
    check_long_poll()
    check_cancel_running()
    check_retry_resume(bad)
    check_metrics()
    print(f"PASS: {hc.CHECKS} checks")


main()
