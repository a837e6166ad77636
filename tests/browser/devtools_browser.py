"""A headless Chromium driven over the DevTools protocol, for the browser tests (the
dashboard's, the Prefect UI's). Chromium is Debian's `chromium` package (`make test` installs
it); without it a test fails rather than skips, so CI always runs it."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from websockets.sync.client import ClientConnection


class Browser:
    """A headless Chromium driven over the DevTools protocol (its websocket), for what a
    one-shot --dump-dom cannot do: type into a form, submit it, read the history and cookies.
    DevTools' own evaluations are not bound by the page's Content-Security-Policy."""

    def __init__(self, profile: Path) -> None:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        assert chromium, "chromium is missing: `make test` installs it"
        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-port=0", f"--user-data-dir={profile}",
             "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self._ids = 0
        self.failed_requests: list[str] = []
        try:
            self.socket = self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> ClientConnection:
        import httpx
        from websockets.sync.client import connect

        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            found = re.search(r"DevTools listening on ws://127.0.0.1:(\d+)/", line)
            if found:
                port = found.group(1)
                break
        else:
            raise AssertionError("chromium did not open its DevTools port")
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", trust_env=False).json()
        target = next(p for p in pages if p["type"] == "page")
        return connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=30)

    def call(self, method: str, **params: object) -> dict:
        """One DevTools command and its result (events in between are noted, see
        `watch_requests`, or skipped)."""
        self._ids += 1
        self.socket.send(json.dumps({"id": self._ids, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == self._ids:
                assert "error" not in message, message
                return message["result"]
            self._note(message)

    def watch_requests(self) -> None:
        """From now on, note in `failed_requests` every request of the page that got a 4xx
        or 5xx answer or none: when a page says only "something went wrong", this says what."""
        self.call("Network.enable")

    def _note(self, event: dict) -> None:
        params = event.get("params", {})
        if event.get("method") == "Network.responseReceived":
            response = params["response"]
            if response["status"] >= 400:
                self.failed_requests.append(f"{response['status']} {response['url']}")
        elif event.get("method") == "Network.loadingFailed" and not params.get("canceled"):
            self.failed_requests.append(f"{params.get('errorText')} ({params['requestId']})")

    def evaluate(self, expression: str) -> object:
        return self.call("Runtime.evaluate", expression=expression,
                         returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while not self.evaluate(expression):
            assert time.monotonic() < deadline, f"never true: {expression}"
            time.sleep(0.1)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot")["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
