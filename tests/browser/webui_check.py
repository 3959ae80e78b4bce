"""webui_check: the web UI's browser checks (issue 11's acceptance), in headless Chromium driven
through the DevTools protocol (cdp.py), against a running server; tests/e2e/test_webui.sh
prepares the runs and calls it with:
  UI_URL       http://127.0.0.1:PORT/ of the server (dagflow serve, or the test host)
  UI_TOKEN     its API token
  UI_RUN       a finished run of 20 tasks; UI_RUN_STATES "task=STATE ..." from the store;
               UI_RUN_ATTEMPTS its number of attempts; UI_LOG_TASK a task whose stdout holds
               UI_LOG_TEXT in each of its UI_LOG_ATTEMPTS attempts; UI_RETRIED a task with
               two attempts
  UI_RUNS      "ID=STATE ..." of every run, newest first (the runs page)
  UI_LIVE_CMD  a shell command that runs a workflow named UI_LIVE_WF for a few seconds: started
               here, its run's page must follow it to SUCCESS without a reload
  UI_WORKFLOWS the workflow names the server lists
  UI_MAPPED    a finished run whose task "m" is mapped over 3 items (its instance 1 failed, with
               "item-1" on stdout)
  UI_BIGLIVE_CMD a shell command that runs the workflow "biglive" (BIG_LIVE_TASKS tasks) for some
               seconds: its live page must read the whole report once, then only changes
  UI_ART       the folder for screenshots
With the argument "serve" (tests/e2e/test_webui_serve.sh, against `dagflow serve`) it checks
instead: the token prompt, a scheduled workflow's next fire time, "run now" with params
(UI_RUN_NOW: a workflow whose task "hello" echoes "hello ${params.who}"), and the cancel and retry
buttons on a run of UI_CANCEL_WF (a few seconds long) started with "run now".
Prints one line per check and "PASS: ..." at the end; raises (exit 1) on the first failure.
"""
import http.client
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

URL = os.environ["UI_URL"].rstrip("/") + "/"
TOKEN = os.environ["UI_TOKEN"]
ART = os.environ["UI_ART"]
BIG_LIVE_TASKS = 2400  # tests/e2e/test_webui.sh's biglive.json
checks = 0


def ok(what):
    global checks
    checks += 1
    print("ok %d - %s" % (checks, what), flush=True)


def expect(cond, what, got=None):
    if not cond:
        raise AssertionError(what + ("" if got is None else ": got %r" % (got,)))
    ok(what)


def js(b, expr):
    return b.eval(expr)


def only_local(b):
    bad = [u for u in b.requests() if not u.startswith(URL) and not u.startswith("data:")]
    expect(not bad, "every request goes to the server itself (no CDN, no network)", bad)


def token_and_workflows(b):
    b.open(URL)
    b.wait_for("!document.getElementById('tokenbox').hidden", what="the token prompt")
    ok("without a token the UI asks for it")
    b.eval("document.getElementById('token-input').focus()")
    b.type_text(TOKEN)
    b.key("Enter")
    b.wait_for("document.querySelectorAll('#workflows tr[data-workflow]').length > 0",
               what="the workflow list")
    names = js(b, "[...document.querySelectorAll('#workflows tr[data-workflow]')]"
                  ".map(r => r.dataset.workflow).sort().join(' ')")
    want = " ".join(sorted(os.environ["UI_WORKFLOWS"].split()))
    expect(names == want, "the workflows page lists " + want, names)
    expect(js(b, "localStorage.getItem('dagflow-token')") == TOKEN, "the token is kept")
    cells = js(b, "[...document.querySelectorAll('#workflows tr[data-workflow] td')]"
                  ".map(td => td.textContent).join('|')")
    expect("manual only" in cells or "cron" in cells, "the schedule column", cells)
    b.screenshot(os.path.join(ART, "webui_workflows.png"))
    only_local(b)


def runs_page(b):
    runs = [r.split("=") for r in os.environ["UI_RUNS"].split()]
    b.navigate(URL + "#runs?limit=2")
    b.wait_for("document.querySelectorAll('#runs tr[data-run]').length", what="the runs table")
    got = js(b, "[...document.querySelectorAll('#runs tr[data-run]')].map(r => r.dataset.run).join(' ')")
    expect(got == " ".join(r[0] for r in runs[:2]), "runs, newest first, 2 a page", got)
    b.click("#page-older")
    b.wait_for("[...document.querySelectorAll('#runs tr[data-run]')].map(r => r.dataset.run).join(' ') == %s"
               % json.dumps(" ".join(r[0] for r in runs[2:4])), what="the next page")
    ok("the older page holds the next runs")
    failed = [r[0] for r in runs if r[1] == "FAILED"]
    b.navigate(URL + "#runs")
    b.wait_for("document.querySelectorAll('#runs tr[data-run]').length == %d" % len(runs),
               what="every run on the first page")
    b.eval("document.getElementById('filter-state').value = 'FAILED';"
           "document.getElementById('run-filters').requestSubmit()")
    b.wait_for("location.hash.includes('state=FAILED') && document.querySelectorAll('#runs tr[data-run]').length"
               " && [...document.querySelectorAll('#runs tr[data-run]')].map(r => r.dataset.run).join(' ') == %s"
               % json.dumps(" ".join(failed)), what="the FAILED runs only " + " ".join(failed),
               show="location.hash + ' ' + [...document.querySelectorAll('#runs tr[data-run]')].map(r => r.dataset.run).join(' ')")
    ok("filter by state: the FAILED runs only (%s)" % " ".join(failed))
    wf = js(b, "document.querySelector('#runs tr[data-run] td:nth-child(2)').textContent")
    b.navigate(URL + "#runs?workflow=" + wf)
    cells = "[...document.querySelectorAll('#runs tr[data-run] td:nth-child(2)')].map(t => t.textContent)"
    b.wait_for("%s.length && %s.every(w => w == %s)" % (cells, cells, json.dumps(wf)), what="runs of " + wf)
    n = js(b, cells + ".length")
    ok("filter by workflow %s: %d run(s), all of it" % (wf, n))
    b.screenshot(os.path.join(ART, "webui_runs.png"))


def finished_run(b):
    run = os.environ["UI_RUN"]
    states = dict(kv.split("=") for kv in os.environ["UI_RUN_STATES"].split())
    b.navigate(URL + "runs/" + run)
    b.wait_for("performance.getEntriesByName('dagflow-drawn').length", what="the run page drawn")
    table = js(b, "Object.fromEntries([...document.querySelectorAll('#tasks tr[data-task]')]"
                  ".map(r => [r.dataset.task, r.querySelector('.state').textContent]))")
    expect(table == states, "the table shows every one of the %d tasks with its state" % len(states), table)
    nodes = js(b, "Object.fromEntries([...document.querySelectorAll('#graph g[data-task]')]"
                  ".map(g => [g.dataset.task, g.querySelectorAll('text')[1].textContent]))")
    expect(nodes == states, "the graph draws every task with its state's name", nodes)
    fills = js(b, "new Set([...document.querySelectorAll('#graph g[data-task] rect')].map(r => r.getAttribute('fill'))).size")
    expect(fills >= 2, "and coloured by state", fills)
    bars = js(b, "document.querySelectorAll('#gantt rect.bar').length")
    expect(bars == int(os.environ["UI_RUN_ATTEMPTS"]), "the Gantt has one bar per attempt", bars)
    retried = os.environ["UI_RETRIED"]
    rb = js(b, "document.querySelectorAll('#gantt rect.bar[data-task=%s]').length" % json.dumps(retried))
    waits = js(b, "document.querySelectorAll('#gantt line.wait').length")
    expect(rb == 2 and waits >= 1, "task %s's retry: two bars and its wait drawn" % retried, (rb, waits))
    b.screenshot(os.path.join(ART, "webui_run.png"))
    task = os.environ["UI_LOG_TASK"]
    b.click("#tasks tr[data-task=%s] button" % json.dumps(task))
    b.wait_for("[...document.querySelectorAll('#panel pre.stdout')].some(p => p.textContent.includes(%s))"
               % json.dumps(os.environ["UI_LOG_TEXT"]), what="the task's log in its panel")
    ok("clicking task %s shows its log (stdout, stderr, log lines)" % task)
    per = js(b, "[...document.querySelectorAll('#panel pre.stdout')].filter(p => p.textContent.includes(%s)).length"
             % json.dumps(os.environ["UI_LOG_TEXT"]))
    expect(per == int(os.environ["UI_LOG_ATTEMPTS"]), "every attempt of %s shows its own stdout" % task, per)
    expect(js(b, "document.querySelectorAll('#panel pre.log').length") >= 1, "its log lines too")
    b.eval("document.getElementById('panel').scrollIntoView()")
    b.screenshot(os.path.join(ART, "webui_task.png"))
    # the keyboard: a graph node takes the focus, Enter opens it
    first = js(b, "document.querySelector('#graph g[data-task]').dataset.task")
    b.eval("window.scrollTo(0, 0); document.querySelector('#graph g[data-task]').focus()")
    b.key("Enter")
    b.wait_for("document.querySelector('#panel h2') && document.querySelector('#panel h2').textContent == %s"
               % json.dumps("Task " + first), what="Enter on a focused node")
    ok("keyboard: Enter on the focused graph node %s opens it" % first)
    b.eval("document.getElementById('find').focus()")
    b.type_text(task)
    rows = b.wait_for("(n => n >= 1 && n < %d && n)(document.querySelectorAll('#tasks tr[data-task]').length)"
                      % len(states), what="the find box to narrow the table")
    ok("the find box narrows the table to %d row(s)" % rows)
    only_local(b)


def mapped_run(b):
    run = os.environ["UI_MAPPED"]
    b.navigate(URL + "runs/" + run)
    b.wait_for("performance.getEntriesByName('dagflow-drawn').length", what="the mapped run's page")
    label = js(b, "document.querySelector('#graph g[data-task=m]').querySelectorAll('text')[1].textContent")
    expect(label == "FAILED (3 mapped)", "a mapped task's node: its state and instance count", label)
    bars = js(b, "[...document.querySelectorAll('#gantt rect.bar')].map(r => r.dataset.task).filter(t => t.startsWith('m[')).sort().join(' ')")
    expect(bars == "m[0] m[1] m[2]", "one Gantt bar per instance's attempt", bars)
    b.click("#tasks tr[data-task=m] button")
    b.wait_for("document.querySelectorAll('#panel ul.instances li').length == 3", what="the instances listed")
    ok("the mapped task's panel lists its 3 instances with their states")
    b.eval("[...document.querySelectorAll('#panel ul.instances button')].find(x => x.textContent == 'm[1]').click()")
    b.wait_for("[...document.querySelectorAll('#panel pre.stdout')].some(p => p.textContent.includes('item-1'))",
               what="instance m[1]'s stdout")
    ok("clicking instance m[1] shows its attempt's stdout")


def big_run(b):
    run = os.environ["UI_BIG"]
    b.navigate(URL + "runs/" + run)
    b.wait_for("performance.getEntriesByName('dagflow-drawn').length", timeout=120, what="the 5,000-task page drawn")
    m = json.loads(js(b, "JSON.stringify({fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,"
                         " drawn: performance.getEntriesByName('dagflow-drawn')[0].startTime,"
                         " elements: document.getElementsByTagName('*').length})"))
    print("figure: 5,000-task run page: first-contentful-paint %s ms, drawn %.0f ms, %d DOM elements"
          % (m["fcp"] and round(m["fcp"]), m["drawn"], m["elements"]))
    expect(m["elements"] < 3000, "5,000 tasks: only what is in sight is drawn (%d elements)" % m["elements"])
    summary = js(b, "document.getElementById('summary').textContent")
    expect(summary.startswith("5000 task(s): 5000 SUCCESS"), "the summary counts every task", summary)
    b.eval("const t = document.getElementById('tasksbox'); t.scrollTop = t.scrollHeight")
    last = "[...document.querySelectorAll('#tasks tr[data-task]')].map(r => r.dataset.task).slice(-3).join(' ')"
    b.wait_for("document.querySelector('#tasks tr[data-task=t49_099]')",
               what="the table's last row after scrolling", show=last)
    ok("scrolling the table to its end draws the last task")
    b.eval("const g = document.getElementById('graph'); g.scrollTop = g.scrollHeight; g.scrollLeft = g.scrollWidth")
    ids = "[...document.querySelectorAll('#graph g[data-task]')].map(g => g.dataset.task)"
    b.wait_for("%s.some(t => t.startsWith('t49_')) && !%s.some(t => t.startsWith('t00_'))" % (ids, ids),
               what="the graph's last layer after scrolling", show=ids)
    ok("scrolling the graph to its far corner draws the last layer, no longer the first")
    b.eval("document.getElementById('find').focus()")
    b.type_text("t37_042")
    b.key("Enter")
    b.wait_for("document.querySelector('#panel h2') && document.querySelector('#panel h2').textContent == 'Task t37_042'",
               what="the found task's panel")
    ok("find + Enter opens a task among 5,000")
    b.screenshot(os.path.join(ART, "webui_big.png"))


def api_get(path):
    host, port = URL.split("/")[2].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return body


def live_run(b, wf=None, cmd=None, big=False):
    wf = wf or os.environ["UI_LIVE_WF"]
    before = api_get("/api/v1/runs?limit=1")["runs"]
    newest = before[0]["run_id"] if before else 0
    proc = subprocess.Popen(cmd or os.environ["UI_LIVE_CMD"], shell=True, stdout=subprocess.DEVNULL)
    try:
        live_page(b, wf, newest, big)
    finally:
        proc.wait(timeout=180)


def report_reads(b):
    """(url, bytes received) of each GET .../report the page made since its navigation."""
    urls = {p["requestId"]: p["request"]["url"] for s, m, p in b.events
            if m == "Network.requestWillBeSent"}
    return [(urls[p["requestId"]], p["encodedDataLength"]) for s, m, p in b.events
            if m == "Network.loadingFinished" and "/report" in urls.get(p["requestId"], "")]


def live_reads(b):
    """A live big run's page read the whole report once, then only what changed (?since=)."""
    reads = report_reads(b)
    full = [n for u, n in reads if "since=" not in u]
    deltas = [n for u, n in reads if "since=" in u]
    print("figure: live %d-task run page: first read %s bytes, then %d refreshes of %s bytes"
          " (each: %s)" % (BIG_LIVE_TASKS, full, len(deltas), sum(deltas), deltas))
    expect(len(full) == 1, "the live page read the whole report once", reads)
    expect(len(deltas) >= 2, "then refreshed with what changed since the last event (?since=)", reads)
    # before ?since=, each refresh read the whole report again
    median = sorted(deltas)[len(deltas) // 2] if deltas else full[0]
    expect(median < full[0] / 10, "a refresh reads what changed, not the whole report (median %d"
           " of %d bytes)" % (median, full[0]))


def live_page(b, wf, newest, big=False):
    deadline = time.monotonic() + 60
    run = None
    while not run:
        rs = api_get("/api/v1/runs?limit=1&workflow=" + wf)["runs"]
        if rs and rs[0]["run_id"] > newest and rs[0]["state"] == "RUNNING":
            run = str(rs[0]["run_id"])
        elif time.monotonic() > deadline:
            raise AssertionError("the live run did not start: %r" % rs)
        else:
            time.sleep(0.1)
    while big:  # the live big run's page opens once its chain started (its quick tasks done)
        ts = {t["id"]: t["state"] for t in api_get("/api/v1/runs/" + run)["tasks"]}
        if ts.get("c00", "PENDING") != "PENDING":
            break
        if time.monotonic() > deadline + 120:
            raise AssertionError("the live big run's chain did not start")
        time.sleep(0.2)
    b.navigate(URL + "runs/" + run)
    b.wait_for("performance.getEntriesByName('dagflow-drawn').length", what="the live page drawn")
    b.eval("window.dfMark = 42")
    first = js(b, "document.getElementById('run-state').textContent")
    expect(first == "RUNNING", "the live run's page opens while it runs", first)
    expect(not js(b, "document.getElementById('act-cancel').disabled"), "cancel is offered while it runs")
    b.screenshot(os.path.join(ART, "webui_live.png"))
    b.wait_for("document.getElementById('run-state').textContent == 'SUCCESS'", timeout=120,
               what="the page to show the run's end")
    expect(js(b, "window.dfMark") == 42, "the page updated without a reload")
    states = js(b, "[...document.querySelectorAll('#tasks tr[data-task] .state')].map(s => s.textContent).join(' ')")
    expect(set(states.split()) == {"SUCCESS"}, "every task of the live run SUCCESS now", states)
    if big:
        summary = js(b, "document.getElementById('summary').textContent")
        expect(summary.startswith("%d task(s): %d SUCCESS" % (BIG_LIVE_TASKS, BIG_LIVE_TASKS)),
               "the summary counts every task SUCCESS", summary)
        live_reads(b)
        b.screenshot(os.path.join(ART, "webui_live_big.png"))
        return
    evs = [u for u in b.requests() if "/events?" in u]
    expect(len(evs) >= 1, "it followed the events long poll (%d requests)" % len(evs))
    expect(js(b, "document.getElementById('act-cancel').disabled"), "cancel is off once it ended")
    b.screenshot(os.path.join(ART, "webui_live_end.png"))


def start_from_ui(b, wf, params):
    """Run now on workflow wf with params (a JSON text); returns the new run's id, its page open."""
    b.navigate(URL + "#workflows")
    sel = "#workflows tr[data-workflow=%s]" % json.dumps(wf)
    b.wait_for("document.querySelector(%s)" % json.dumps(sel + " button.run-now"), what="run now")
    b.click(sel + " button.run-now")
    b.eval("document.querySelector(%s).nextElementSibling.querySelector('textarea').value = %s;"
           "document.querySelector(%s).nextElementSibling.querySelector('form').requestSubmit()"
           % (json.dumps(sel), json.dumps(params), json.dumps(sel)))
    b.wait_for("/\\/runs\\/\\d+$/.test(location.pathname) && performance.getEntriesByName('dagflow-drawn').length",
               what="the new run's page")
    rid = js(b, "location.pathname.split('/').pop()")
    ok("run now on %s started run %s and opened its page" % (wf, rid))
    return rid


def serve_workflows(b):
    b.open(URL)
    b.wait_for("!document.getElementById('tokenbox').hidden", what="the token prompt")
    b.eval("document.getElementById('token-input').focus()")
    b.type_text(TOKEN)
    b.key("Enter")
    b.wait_for("document.querySelectorAll('#workflows tr[data-workflow]').length >= 3", what="the workflow list")
    row = js(b, "[...document.querySelectorAll('#workflows tr[data-workflow=sched] td')].map(t => t.textContent)")
    expect("cron 0 3 * * *" in row[1], "the scheduled workflow's schedule", row)
    expect("T03:00:00" in row[2], "and its next fire time (03:00 UTC)", row)
    bad = js(b, "[...document.querySelectorAll('#workflows a')].map(a => a.getAttribute('href'))"
                ".filter(h => /workflow=(null|undefined)?$/.test(h))")
    expect(not bad, "no link to the runs of a workflow without a name", bad)
    row = js(b, "[...document.querySelectorAll('#workflows tr[data-file$=\"noname.json\"] td')].map(t => t.textContent)")
    expect(row and "(no name)" in row[0] and "invalid" in row[0], "the file without a name: shown as such, invalid", row)
    b.screenshot(os.path.join(ART, "webui_serve_workflows.png"))


def run_now(b):
    wf = os.environ["UI_RUN_NOW"]
    rid = start_from_ui(b, wf, '{"who": "from-the-ui"}')
    b.wait_for("document.getElementById('run-state').textContent == 'SUCCESS'", timeout=120,
               what="the started run to succeed")
    meta = js(b, "document.getElementById('meta').textContent")
    expect("trigger: api" in meta, "its trigger is api", meta)
    b.click("#tasks tr[data-task=hello] button")
    b.wait_for("[...document.querySelectorAll('#panel pre.stdout')].some(p => p.textContent.includes('hello from-the-ui'))",
               what="the params reached the task")
    ok("the params given in the UI reached the task (its stdout)")


def cancel_retry(b):
    rid = start_from_ui(b, os.environ["UI_CANCEL_WF"], "{}")
    b.wait_for("document.getElementById('run-state').textContent == 'RUNNING' && !document.getElementById('act-cancel').disabled",
               what="the run running, cancel offered")
    b.click("#act-cancel")  # confirm() is answered yes by cdp.py
    b.wait_for("document.getElementById('run-state').textContent == 'CANCELLED'", timeout=120,
               what="the run cancelled")
    states = js(b, "[...document.querySelectorAll('#tasks tr[data-task] .state')].map(s => s.textContent).join(' ')")
    expect("CANCELLED" in states, "cancel: run %s CANCELLED, its tasks too" % rid, states)
    b.screenshot(os.path.join(ART, "webui_cancelled.png"))
    b.wait_for("!document.getElementById('act-retry').disabled", what="retry offered")
    b.click("#act-retry")
    b.wait_for("document.getElementById('run-state').textContent == 'SUCCESS'", timeout=120,
               what="the retried run to succeed")
    ok("retry: the cancelled run reopened and ended SUCCESS, followed live")
    expect(not js(b, "document.getElementById('msg').textContent"), "no error shown")


def main():
    if sys.argv[1:] == ["serve"]:
        with cdp.Browser() as b:
            serve_workflows(b)
            run_now(b)
            cancel_retry(b)
        print("PASS: %d checks" % checks)
        return
    with cdp.Browser() as b:
        token_and_workflows(b)
        runs_page(b)
        finished_run(b)
        mapped_run(b)
        big_run(b)
        live_run(b)
        live_run(b, "biglive", os.environ["UI_BIGLIVE_CMD"], big=True)
    print("PASS: %d checks" % checks)


if __name__ == "__main__":
    main()
