"""Headless Chromium for the tests, driven through the DevTools protocol over ``--remote-debugging-pipe``
(JSON messages ending in a NUL byte on file descriptors 3 and 4): no websocket library, no playwright.

``open_page`` loads a page at a given viewport width and returns what a person would see and what a
developer would worry about: the full-page screenshot, the console errors and uncaught exceptions, the
failed loads, whether the page scrolls sideways, and where the images are.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Flags for a quiet, isolated, offline-friendly headless browser.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)
BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary on PATH, or None."""
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Page:
    """A page as loaded at one viewport width."""

    screenshot: bytes  # PNG of the whole page
    problems: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads
    scroll_width: int = 0  # document width: > viewport width means the page scrolls sideways
    images: list[dict[str, Any]] = field(default_factory=list)  # class, loaded, x, y, width, height (CSS px)


class Chromium:
    """One browser process; use as a context manager."""

    def __init__(self, binary: str, user_data_dir: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # the protocol's fixed descriptors in the child
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=pipes_on_3_and_4,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.call("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its result; events that arrive meanwhile go to ``events``."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """Wait for an event of the session (events already received count)."""
        while True:
            for event in self.events:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            self.events.append(self._read())

    def open_page(self, url: str, width: int, height: int = 800) -> Page:
        """Load ``url`` in a new tab with a viewport ``width`` CSS px wide (a phone below 500 px)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500}
        self.call("Emulation.setDeviceMetricsOverride", metrics, session)
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired", session)
        layout = self._evaluate(session, _LAYOUT_SCRIPT)
        size = self.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1}
        shot = self.call(
            "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}, session
        )
        return Page(
            screenshot=base64.b64decode(shot["data"]),
            problems=_problems(e for e in self.events if e.get("sessionId") == session),
            scroll_width=layout["scrollWidth"],
            images=layout["images"],
        )

    def _evaluate(self, session: str, script: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": script, "returnByValue": True}, session)
        return result["result"]["value"]

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)


_LAYOUT_SCRIPT = """(() => ({
  scrollWidth: document.documentElement.scrollWidth,
  images: Array.from(document.images).map(i => {
    const r = i.getBoundingClientRect();
    return {cls: i.className, loaded: i.complete && i.naturalWidth > 0,
            x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};
  }),
}))()"""


def _problems(events: Any) -> list[str]:
    """Console errors and assertions, uncaught exceptions, and error log entries (failed loads)."""
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            out.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    return out
