"""Run one stage's tests in a pytest process of its own, bounded in time, and read the result.

One process per stage means two `sketch` packages never meet in one interpreter, and a
learner's server that hangs or crashes costs that stage only. That process is the judge: it
never imports learner code (workshop/harness.py). With `sandbox=True` it runs inside the
bubblewrap sandbox of workshop/sandbox.py, and so does every learner process it starts.

Its report is signed: the runner hands the judge a fresh key through a pipe, the judge
signs the report with it (workshop/report.py), and a report whose signature does not
match, or a judge killed by a signal it was not sent, marks the run as tampered with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workshop import manifest, processes, sandbox, timeouts, todos, untrusted
from workshop.manifest import Stage
from workshop.untrusted import plain

STAGE_TIMEOUT = timeouts.CHECK_STAGE_TIMEOUT  # seconds for one stage's whole run
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
    finished: bool = False  # the report says pytest reached the end of its session
    learner_commands: bool = False  # a learner process printed a workflow command
    sandboxed: bool = False  # the judge and the learner's processes ran in the sandbox
    report_problem: str = ""  # why the report cannot be trusted (tampered, unreadable)

    def count(self, *statuses: str) -> int:
        return sum(t.status in statuses for t in self.tests)

    @property
    def passed(self) -> bool:
        """Every test ran and passed (skips aside)."""
        return (
            not self.timed_out
            and not self.report_problem
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


def _stop(fork_server: subprocess.Popen[bytes]) -> None:
    """Wait for a fork server whose judge has ended (it ends too), or kill it and its own."""
    try:
        fork_server.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        processes.kill_tree(fork_server.pid)
        fork_server.communicate()


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
    sandboxed: bool = False,
    fork_server: bool = False,
) -> StageRun:
    """Run STAGE's tests against the sketch/ in SKETCH_DIR (default: the learner's folder).

    TESTS_DIR defaults to the stage's own tests; ROOT is the checkout whose pytest
    configuration and `workshop` package are used (a trusted one, when grading). SANDBOXED
    runs the judge and every learner process in bubblewrap (workshop/sandbox.py).
    FORK_SERVER forks learner processes from a warm Python (workshop/forkserver.py): the
    feedback loop asks for it; a grade starts every learner process cold, as it always has.
    """
    sketch_dir = Path(sketch_dir or stage.step_dir()).resolve()
    tests_dir = Path(tests_dir or stage.tests_dir(root)).resolve()
    run = StageRun(stage, sketch_dir, sandboxed=sandboxed)
    key = secrets.token_bytes(32)
    key_r, key_w = os.pipe()
    os.write(key_w, key.hex().encode())
    os.close(key_w)
    with tempfile.TemporaryDirectory(prefix="workshop-") as tmp:
        report = Path(tmp, "report.json")
        command = [
            sys.executable, "-m", "pytest", str(tests_dir),
            "-c", str(root / "pyproject.toml"), "--rootdir", str(root),
            "-p", "workshop.report", "--report-json", str(report),
            "--report-key-fd", str(key_r),
            "--sketch-dir", str(sketch_dir),
            *(["--sandbox"] if sandboxed else []),
            *(["--fork-server"] if fork_server and not sandboxed else []),
            "-p", "no:cacheprovider",
            # Exactly the plugins stage tests use (PYTEST_DISABLE_PLUGIN_AUTOLOAD, below):
            # whatever else is installed (hypothesis, xdist, ...) costs imports on every
            # check, and a plugin the judge did not choose has no business in it.
            "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout",
            "-v" if verbose else "-q",
            *(["-x"] if first_failure else []),
            *pytest_args,
        ]  # fmt: skip
        # No token, and no file of the CI job's (GITHUB_OUTPUT ...), reaches a learner's process.
        process_env = {
            **untrusted.child_env(),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            **(env or {}),
        }
        process_env["PYTHONPATH"] = os.pathsep.join(
            [str(root), *filter(None, [process_env.get("PYTHONPATH")])]
        )
        if sandboxed:
            command = sandbox.judge_command(command, writable=[Path(tmp)])
            judge_tmp = Path(tmp, "tmp")
            judge_tmp.mkdir()
            process_env["TMPDIR"] = str(judge_tmp)
        forks = None
        if fork_server and not sandboxed:
            # Launched first, the fork server warms up (Python, asyncio, httptools ...) on
            # another core while the judge's pytest starts: the judge's first learner
            # process is forked at once, not after that warm-up.
            forks = sandbox.Confinement(False).launch_fork_server(process_env)
        fds = [key_r]
        if forks is not None:
            fds.append(forks[1].fileno())
            command += ["--fork-server-fd", str(forks[1].fileno())]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                command,
                cwd=root,
                env=process_env,
                stdin=subprocess.DEVNULL,
                stdout=None if verbose else subprocess.PIPE,
                stderr=None if verbose else subprocess.STDOUT,
                pass_fds=fds,
                start_new_session=True,
            )
        finally:
            os.close(key_r)
            if forks is not None:
                forks[1].close()  # the judge's now: the fork server ends when the judge does
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            processes.kill_tree(proc.pid)
            out, _ = proc.communicate()
            run.timed_out = True
        except KeyboardInterrupt:
            # pytest runs in a session of its own, so Ctrl-C does not reach it: stop it here.
            processes.kill_tree(proc.pid)
            proc.wait()
            raise
        finally:
            if forks is not None:
                _stop(forks[0])
        run.duration = time.monotonic() - started
        run.exit_code = proc.returncode
        run.output = plain((out or b"").decode("utf-8", "replace")[-20000:])
        if proc.returncode is not None and proc.returncode < 0 and not run.timed_out:
            run.report_problem = (
                f"tampered with: the judge (pytest) was killed by signal {-proc.returncode}, "
                "which the workshop never sends it: its report is not trusted"
            )
        if report.exists():
            try:
                data = read_report(report, key)
            except ValueError as error:
                run.report_problem = run.report_problem or str(error)
            else:
                run.tests = [TestResult(**_known(t)) for t in data["tests"]]
                run.collection_errors = data["errors"]
                run.collected = data["items"]
                run.finished = data["finished"]
                run.learner_commands = data["commands"]
                run.stopped_early = first_failure and len(run.tests) < data["collected"]
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


STATUSES = ("pass", "fail", "error", "timeout", "skip")


def read_report(path: Path, key: bytes) -> dict:
    """The judge's report, signed with KEY and checked field by field.

    ValueError says why it is not to be trusted: it is not the judge's (its signature does
    not match: something else wrote it), or it is not a report at all.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        signature = data.pop("signature")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(
            "tampered with: the judge's report is not in its format: something else wrote it"
        ) from None
    if not isinstance(signature, str) or not hmac.compare_digest(signature, sign(data, key)):
        raise ValueError(
            "tampered with: the judge's report does not carry the judge's signature: "
            "it was rewritten"
        )
    try:
        return _checked(data)
    except ValueError as error:
        raise ValueError(f"the test run's report could not be read: {error}") from None


def _checked(data: dict) -> dict:
    """DATA's fields, each of the type workshop.report writes (defence in depth: a signed
    report is the judge's own, but a reader never takes a shape on trust)."""
    tests, errors, items = data.get("tests"), data.get("errors", []), data.get("items", [])
    text = ("nodeid", "name", "file", "status")
    if not isinstance(tests, list) or not all(
        isinstance(t, dict)
        and all(isinstance(t.get(k), str) for k in text)
        and t["status"] in STATUSES
        and all(isinstance(t.get(k, ""), str) for k in ("message", "output"))
        and isinstance(t.get("duration", 0.0), (int, float))
        for t in tests
    ):
        raise ValueError("its 'tests' are not a list of test results")
    if not isinstance(errors, list) or not all(
        isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("where", "message"))
        for e in errors
    ):
        raise ValueError("its 'errors' are not a list of collection errors")
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and all(isinstance(i.get(k), str) for k in ("nodeid", "name", "file"))
        for i in items
    ):
        raise ValueError("its 'items' are not a list of tests")
    collected, finished = data.get("collected", 0), data.get("finished", False)
    commands = data.get("commands", False)
    if not isinstance(collected, int) or not all(isinstance(b, bool) for b in (finished, commands)):
        raise ValueError("its 'collected', 'finished' or 'commands' has the wrong type")
    return {"tests": tests, "errors": errors, "items": items, "collected": collected,
            "finished": finished, "commands": commands}  # fmt: skip


def sign(data: dict, key: bytes) -> str:
    """HMAC-SHA256 of DATA's canonical JSON with KEY (the key the runner gave the judge)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key.hex().encode(), text.encode(), hashlib.sha256).hexdigest()


def _known(entry: dict) -> dict:
    names = TestResult.__dataclass_fields__
    return {k: v for k, v in entry.items() if k in names}
