"""cdp: drives headless Chromium through the DevTools protocol over --remote-debugging-pipe
(file descriptors 3 and 4, messages are JSON texts each ended by a NUL byte), with Python's
standard library only: no websocket client is needed. The browser tests of the web UI use it to
load a page, wait for a condition in it, read its DOM, click, type and take screenshots.

Browser(...) starts one Chromium in its own process group with a fresh profile and a dead proxy
(nothing but loopback is reachable); close() kills that process group and removes the profile.
Use it as a context manager so that no Chromium outlives the test.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time


class CDPError(Exception):
    pass


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, chromium=None, width=1280, height=1000, timeout=90):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="df-chromium-")
        chromium = chromium or find_chromium()
        if not chromium:
            raise CDPError("chromium is not installed")
        # our end reads what Chromium writes on its fd 4 and writes what it reads on its fd 3
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--metrics-recording-only", "--mute-audio",
                "--proxy-server=127.0.0.1:9", "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % (width, height), "--remote-debugging-pipe",
                "about:blank"]

        def child_fds():
            # above 4 first, so that neither dup2 overwrites the other's source
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=child_fds,
                                     close_fds=False,  # Python's own fds are not inheritable
                                     start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events = []  # (session id, method, params) not yet consumed
        self.session = None
        self.dialogs_accept = True

    # ---- the pipe ----
    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._w, data)
            data = data[n:]

    def _read_one(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise CDPError("Chromium closed the pipe (exit %s)" % self.proc.poll())
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _on_event(self, msg):
        if msg.get("method") == "Page.javascriptDialogOpening":
            # answer confirm() and alert() at once (the UI asks before cancelling a run)
            self._send({"id": self._new_id(), "method": "Page.handleJavaScriptDialog",
                        "params": {"accept": self.dialogs_accept},
                        "sessionId": msg.get("sessionId")})
        self.events.append((msg.get("sessionId"), msg.get("method"), msg.get("params")))

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    def send(self, method, params=None, session=True, timeout=None):
        """Sends a command (to the page's session unless session is None) and returns its
        result; raises CDPError on an error reply or after timeout seconds."""
        mid = self._new_id()
        msg = {"id": mid, "method": method, "params": params or {}}
        if session is True:
            session = self.session
        if session:
            msg["sessionId"] = session
        self._send(msg)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_one(deadline)
            if "id" not in reply:
                self._on_event(reply)
            elif reply["id"] == mid:
                if "error" in reply:
                    raise CDPError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    # ---- a page ----
    def open(self, url):
        """Opens url in a new tab attached as this browser's page; returns after its load event
        (or raises after the timeout)."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=None)
        att = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                        session=None)
        self.session = att["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.send(domain + ".enable")
        self.navigate(url)

    def navigate(self, url):
        self.events = []
        self.send("Page.navigate", {"url": url})
        # a new document fires load; a change of the hash only is a navigation within it
        self.wait_event("Page.loadEventFired", "Page.navigatedWithinDocument")

    def wait_event(self, *methods, timeout=None):
        """Waits for one of methods on the page's session; returns its params."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, (sess, m, params) in enumerate(self.events):
                if m in methods and sess == self.session:
                    del self.events[i]
                    return params
            self._on_event(self._read_one(deadline))

    def requests(self):
        """URLs the page requested so far (Network.requestWillBeSent)."""
        return [p["request"]["url"] for s, m, p in self.events if m == "Network.requestWillBeSent"]

    def eval(self, expr):
        """The value of a JavaScript expression in the page (promises awaited)."""
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CDPError("%s: %s" % (expr, r["exceptionDetails"].get("exception", {})
                                       .get("description", r["exceptionDetails"])))
        return r["result"].get("value")

    def wait_for(self, expr, timeout=None, what=None, show=None):
        """Polls expr until it is truthy; returns its value, or raises CDPError after timeout
        seconds naming what (or expr), with the value of the expression show then."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            # a DOM node comes back as {} (falsy in Python): make it true
            v = self.eval("(v => v instanceof Node ? true : v)(%s)" % expr)
            if v:
                return v
            if time.monotonic() > deadline:
                seen = "; the page shows: %r" % (self.eval(show),) if show else ""
                raise CDPError("timed out waiting for %s%s" % (what or expr, seen))
            time.sleep(0.1)

    def dom(self):
        return self.eval("document.documentElement.outerHTML")

    def click(self, selector):
        """Clicks the first element matching selector (its click(): a real user's click ends
        there too)."""
        ok = self.eval("(() => { const e = document.querySelector(%s); if (!e) return false;"
                       " e.dispatchEvent(new MouseEvent('click', {bubbles: true})); return true; })()"
                       % json.dumps(selector))
        if not ok:
            raise CDPError("nothing matches %s" % selector)

    def key(self, key, code=None, text=None):
        """Presses and releases one key (Tab, Enter, ...) where the focus is."""
        vk = {"Tab": 9, "Enter": 13, " ": 32, "Escape": 27}.get(key, 0)
        base = {"key": key, "code": code or key, "windowsVirtualKeyCode": vk,
                "nativeVirtualKeyCode": vk}
        text = text or {"Enter": "\r", " ": " "}.get(key)
        down = dict(base, type="keyDown")
        if text:
            down["text"] = text
        self.send("Input.dispatchKeyEvent", down)
        self.send("Input.dispatchKeyEvent", dict(base, type="keyUp"))

    def type_text(self, text):
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path, full_page=False):
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params)["data"]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    # ---- the end ----
    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
