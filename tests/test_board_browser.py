"""The board page in a real browser: headless Chromium, driven over the DevTools protocol.

No browser download and no extra package: Debian's `chromium` is started with
`--remote-debugging-pipe`, which speaks the protocol as NUL-terminated JSON messages on file
descriptors 3 (to the browser) and 4 (from it). The test loads the board, posts a result
and sees it appear without a reload, checks that markup in a name stays text, and saves a
screenshot as an artifact: .workshop/artifacts/board-browser-test.png.

Without Chromium the test skips, saying why; with BOARD_REQUIRE_BROWSER=1 (CI) it fails.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from board.testing import BoardProcess
from workshop import manifest

ARTIFACT = manifest.ROOT / ".workshop" / "artifacts" / "board-browser-test.png"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,720",
    "--remote-debugging-pipe",
]
EVIL = '<img src=x onerror="document.title=1">'  # 38 characters: within the limit


def find_chromium() -> str | None:
    return os.environ.get("BOARD_CHROMIUM") or next(
        filter(None, map(shutil.which, ("chromium", "google-chrome", "chromium-browser"))), None
    )


class DevTools:
    """A headless Chromium and the DevTools protocol over its pipe; every read is bounded."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # runs in the child, before exec
            read, write = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # our other descriptors are close-on-exec anyway (PEP 446)
            preexec_fn=pipes_on_3_and_4,
            start_new_session=True,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, session: str | None = None, timeout: float = 5, **params):
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline, f"the answer to {method}")
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_event(self, method: str, timeout: float = 5) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._read(deadline, f"the event {method}"))

    def _read(self, deadline: float, what: str) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"Chromium did not send {what} in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ConnectionError(f"Chromium closed the pipe before {what}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=2)
            self.proc.wait(3)
        except Exception:
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(3)
        os.close(self._to_browser)
        os.close(self._from_browser)


class Page:
    """One tab, attached in "flat" mode: commands carry its sessionId."""

    def __init__(self, browser: DevTools) -> None:
        self.browser = browser
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = browser.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable")

    def call(self, method: str, **params):
        return self.browser.call(method, self.session, **params)

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.browser.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        found = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in found:
            raise RuntimeError(f"{expression!r} raised: {found['exceptionDetails']}")
        return found["result"].get("value")

    def wait_for_text(self, text: str, timeout_ms: int = 4000) -> bool:
        """True once TEXT shows in the learners' table: a MutationObserver, not a poll."""
        return self.evaluate(
            f"""new Promise((resolve) => {{
                const body = document.getElementById("learners");
                const seen = () => body.textContent.includes({json.dumps(text)});
                if (seen()) return resolve(true);
                const watch = new MutationObserver(() => {{
                    if (seen()) {{ watch.disconnect(); resolve(true); }}
                }});
                watch.observe(body, {{ childList: true, subtree: true, characterData: true }});
                setTimeout(() => {{ watch.disconnect(); resolve(false); }}, {timeout_ms});
            }})"""
        )

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


@pytest.fixture
def browser(tmp_path):
    executable = find_chromium()
    if executable is None:
        reason = "no Chromium installed (Debian: apt-get install -y chromium)"
        if os.environ.get("BOARD_REQUIRE_BROWSER"):
            pytest.fail(f"BOARD_REQUIRE_BROWSER is set, but {reason}")
        pytest.skip(reason)
    devtools = DevTools(executable, tmp_path / "profile")
    yield devtools
    devtools.close()


@pytest.mark.timeout(30)
def test_the_page_shows_a_new_result_without_reload_and_markup_as_text(browser, tmp_path):
    board = BoardProcess(tmp_path / "board.sqlite3").start()
    try:
        with httpx.Client(base_url=board.url, timeout=2) as http:
            for body in (
                board.report(name="Ada", stage="03_responses", passed=9, failed=0, test=""),
                board.report(name=EVIL, stage="02_parsing"),
            ):
                assert http.post("/api/report", json=body).status_code == 200
            page = Page(browser)
            page.goto(board.url + "/")
            assert page.wait_for_text("Ada"), "the page never showed the learners reported"
            page.evaluate("window.sameDocument = true")  # gone if the page reloads

            posted = board.report(name="Grace Hopper", stage="05_params")
            assert http.post("/api/report", json=posted).status_code == 200
            assert page.wait_for_text("Grace Hopper"), "a new result never appeared on the page"
        assert page.evaluate("window.sameDocument === true"), "the page reloaded to show it"

        names = page.evaluate(
            '[...document.querySelectorAll("#learners td.name")].map(td => td.textContent)'
        )
        assert EVIL in names, f"the name with markup must be shown as text, got {names}"
        assert (
            page.evaluate('document.querySelectorAll("#learners img, #learners script").length')
            == 0
        )
        assert page.evaluate("document.title") != "1", "markup in a name ran in the page"
        hover = page.evaluate('document.querySelector("#learners td.failing").title')
        assert "test_unknown_path_returns_404" in hover, hover
        page.screenshot(ARTIFACT)
        assert ARTIFACT.read_bytes().startswith(b"\x89PNG")
    finally:
        board.kill()
