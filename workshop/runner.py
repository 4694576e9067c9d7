"""Run one stage's tests in a pytest process of its own, bounded in time, and read the result.

One process per stage means two `sketch` packages never meet in one interpreter, and a
learner's server that hangs or crashes costs that stage only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workshop import manifest, todos
from workshop.manifest import Stage

STAGE_TIMEOUT = 90.0  # seconds for one stage's whole run
LOOK_AT = re.compile(r"^\s*look at:\s*(?P<where>.+)$", re.MULTILINE)


@dataclass
class TestResult:
    nodeid: str
    name: str
    file: str
    status: str  # pass, fail, error, timeout, skip
    message: str = ""
    output: str = ""  # what the server printed meanwhile, for failures
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "skip")


@dataclass
class Where:
    """Where a learner should look: a file, a function, and what to do there."""

    file: str
    function: str = ""
    todo: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.function}" if self.function else self.file


@dataclass
class StageRun:
    stage: Stage
    sketch_dir: Path
    tests: list[TestResult] = field(default_factory=list)
    collection_errors: list[dict] = field(default_factory=list)
    exit_code: int = 0
    duration: float = 0.0
    timed_out: bool = False
    output: str = ""  # pytest's own output (kept short)
    stopped_early: bool = False  # -x: stopped at the first failure
    collected: list[dict] = field(default_factory=list)  # every test found: nodeid, name, file

    def count(self, *statuses: str) -> int:
        return sum(t.status in statuses for t in self.tests)

    @property
    def passed(self) -> bool:
        """Every test ran and passed (skips aside)."""
        return (
            not self.timed_out
            and not self.collection_errors
            and self.exit_code == 0
            and bool(self.tests)
            and all(t.ok for t in self.tests)
        )

    @property
    def first_failure(self) -> TestResult | None:
        return next((t for t in self.tests if not t.ok), None)

    def where_to_look(self) -> Where | None:
        """The TODO the failure ran into, else the test's own `look at:` line."""
        failure = self.first_failure
        texts = [failure.message, failure.output] if failure else []
        texts += [e["message"] for e in self.collection_errors]
        for text in texts:
            if todo := todos.raised(text):  # a TODO's stub, raised (workshop/todos.py)
                return Where(todo.file, todo.function, todo.message)
        for text in texts:
            if found := LOOK_AT.search(text):
                file, _, function = found["where"].partition(": ")
                return Where(file.strip(), function.strip())
        return None

    def summary(self) -> str:
        parts = [f"{self.count('pass')} passed"]
        for status in ("fail", "error", "timeout", "skip"):
            if n := self.count(status):
                parts.append(f"{n} {'failed' if status == 'fail' else status}")
        if self.collection_errors:
            parts.append(f"{len(self.collection_errors)} file(s) could not be loaded")
        return ", ".join(parts)


def run_stage(
    stage: Stage,
    *,
    sketch_dir: Path | None = None,
    tests_dir: Path | None = None,
    root: Path = manifest.ROOT,
    first_failure: bool = False,
    timeout: float = STAGE_TIMEOUT,
    verbose: bool = False,
    pytest_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> StageRun:
    """Run STAGE's tests against the sketch/ in SKETCH_DIR (default: the learner's folder).

    TESTS_DIR defaults to the stage's own tests; ROOT is the checkout whose pytest
    configuration and `workshop` package are used (a trusted one, when grading).
    """
    sketch_dir = Path(sketch_dir or stage.step_dir()).resolve()
    tests_dir = Path(tests_dir or stage.tests_dir(root)).resolve()
    run = StageRun(stage, sketch_dir)
    with tempfile.TemporaryDirectory(prefix="workshop-") as tmp:
        report = Path(tmp, "report.json")
        command = [
            sys.executable, "-m", "pytest", str(tests_dir),
            "-c", str(root / "pyproject.toml"), "--rootdir", str(root),
            "-p", "workshop.report", "--report-json", str(report),
            "--sketch-dir", str(sketch_dir),
            "-p", "no:cacheprovider",
            # Plugins no stage test uses; hypothesis's alone costs ~0.6 s of imports a run.
            "-p", "no:hypothesispytest", "-p", "no:anyio",
            "-v" if verbose else "-q",
            *(["-x"] if first_failure else []),
            *pytest_args,
        ]  # fmt: skip
        process_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        process_env["PYTHONPATH"] = os.pathsep.join(
            [str(root), *filter(None, [process_env.get("PYTHONPATH")])]
        )
        started = time.monotonic()
        proc = subprocess.Popen(
            command,
            cwd=root,
            env=process_env,
            stdin=subprocess.DEVNULL,
            stdout=None if verbose else subprocess.PIPE,
            stderr=None if verbose else subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            run.timed_out = True
        except KeyboardInterrupt:
            # pytest runs in a session of its own, so Ctrl-C does not reach it: stop it here.
            _kill_group(proc)
            proc.wait()
            raise
        run.duration = time.monotonic() - started
        run.exit_code = proc.returncode
        run.output = (out or b"").decode("utf-8", "replace")[-20000:]
        if report.exists():
            data = json.loads(report.read_text())
            run.tests = [TestResult(**_known(t)) for t in data["tests"]]
            run.collection_errors = data.get("errors", [])
            run.collected = data.get("items", [])
            run.stopped_early = first_failure and len(run.tests) < data.get("collected", 0)
    if run.timed_out and run.collected and not first_failure:
        # Every test that had not finished when the stage was stopped timed out with it.
        done = {t.nodeid for t in run.tests}
        run.tests += [
            TestResult(
                nodeid=item["nodeid"],
                name=item["name"],
                file=item["file"],
                status="timeout",
                message=f"the stage's tests did not finish within {timeout:g} s and were "
                "stopped before this test finished",
            )
            for item in run.collected
            if item["nodeid"] not in done
        ]
    elif run.timed_out:
        run.tests.append(
            TestResult(
                nodeid="(stage)",
                name="(the whole stage)",
                file="",
                status="timeout",
                message=f"the stage's tests did not finish within {timeout:g} s and were stopped",
            )
        )
    return run


def _known(entry: dict) -> dict:
    names = TestResult.__dataclass_fields__
    return {k: v for k, v in entry.items() if k in names}


def _kill_group(proc: subprocess.Popen) -> None:
    # The learner's servers run in process groups of their own (so a test can signal one):
    # find them before pytest dies, or they would outlive it.
    groups = [proc.pid, *_children(proc.pid)]
    for pid in groups:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if pid == proc.pid:
                proc.kill()


def _children(pid: int) -> list[int]:
    """The processes whose parent is PID (Linux /proc, else `pgrep -P`)."""
    proc = Path("/proc")
    if proc.is_dir():
        found = []
        for stat in proc.glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == str(pid):
                found.append(int(stat.parent.name))
        return found
    try:
        done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [int(line) for line in done.stdout.split()]
