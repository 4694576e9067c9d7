"""A pytest plugin that writes each test's outcome to JSON (`-p workshop.report`).

`invoke check`, `verify` and `grade` read this file instead of pytest's text output:

    {"tests": [{"name", "file", "status", "message", "duration", "output"}], "collected": N,
     "items": [{"nodeid", "name", "file"}], "finished": true}

The file is rewritten after collection and after every test, so a run that is killed at its
time limit still tells which tests finished and which never did ("finished" is then false).
With `--report-key-fd FD` (the runner's pipe) every write carries a "signature": an HMAC of
the rest with the key read from FD once, at start, before any learner process exists.
Messages and outputs are plain text (workshop.plain): what a learner's process printed
never acts on a terminal or a CI log.

status is one of pass, fail, error, timeout, skip. `message` is the failure's teaching
message (the assertion text, without pytest's traceback); `output` is what the server
printed meanwhile (its traceback names the TODO the learner has to fill in).

PYTEST_DONT_REWRITE: it has no asserts to rewrite, and the harness imports it before pytest
loads it as a plugin (which would otherwise warn that it cannot be rewritten).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workshop import server
from workshop.runner import LOOK_AT
from workshop.untrusted import plain

_RESULTS = pytest.StashKey[dict]()
# The report section workshop.harness adds when the server's side explains a failure: it
# goes first in the message (what the server did, then what the test saw).
DIAGNOSIS = "what happened"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("workshop").addoption(
        "--report-json", help="write every test's outcome to this JSON file"
    )
    parser.getgroup("workshop").addoption(
        "--report-key-fd", type=int, help="read the key that signs the report from this fd"
    )


_CONFIG: list[pytest.Config] = []  # the running session's config, for collection reports
_KEY = pytest.StashKey[bytes]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    fd = config.getoption("report_key_fd", None)
    if fd is not None:  # read it all and close it before any learner process starts
        with os.fdopen(fd, "rb") as pipe:
            config.stash[_KEY] = bytes.fromhex(pipe.read(200).decode())
    config.stash[_RESULTS] = {
        "tests": [],
        "collected": 0,
        "items": [],
        "errors": [],
        "finished": False,
    }
    _CONFIG[:] = [config]


def _write(config: pytest.Config) -> None:
    """Write the results so far, atomically: a reader sees the old file or the new one."""
    path = config.getoption("report_json", None)
    if path:
        data = dict(config.stash[_RESULTS])
        key = config.stash.get(_KEY, None)
        if key is not None:
            from workshop.runner import sign

            data["signature"] = sign(data, key)
        tmp = Path(path + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)


def _message(call: pytest.CallInfo) -> str:
    if call.excinfo is None:
        return ""
    error = call.excinfo.value
    if isinstance(error, AssertionError) and any(
        cls.__name__ == "TeachingFailure" for cls in type(error).__mro__
    ):
        return str(error)
    if call.excinfo.typename == "Failed":  # pytest.fail(...)
        text = str(error)
        if text.startswith("Timeout"):
            return f"the test did not finish within its time limit ({text})"
        return text
    report = getattr(error, "report", None)  # a LearnerError: with the learner's traceback
    text = report() if type(error).__module__ == "learner" and callable(report) else str(error)
    return f"{call.excinfo.typename}: {text}"


def _status(report: pytest.TestReport, message: str) -> str:
    if report.passed:
        return "pass"
    if report.skipped:
        return "skip"
    if message.startswith("the test did not finish"):
        return "timeout"
    return "fail" if report.when == "call" else "error"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # One entry per test: its call, or the setup/teardown step that went wrong.
    if report.when != "call" and report.passed:
        return report
    results = item.config.stash[_RESULTS]["tests"]
    if results and results[-1]["nodeid"] == item.nodeid:
        return report  # setup already failed, or teardown after a failure: keep the first
    message = _message(call) if not report.passed else ""
    told = "\n".join(text for name, text in report.sections if name == DIAGNOSIS)
    if message and told:  # what happened on the server's side comes first (harness.diagnosis)
        if LOOK_AT.search(told):  # it knows better where to look: one pointer, not two
            message = LOOK_AT.sub("", message).replace("\n\n", "\n").rstrip()
        message = f"{told}\nThen the test failed: {message}"
    results.append(
        {
            "nodeid": item.nodeid,
            "name": item.name,
            "file": Path(str(item.path)).name,
            "status": _status(report, message),
            "message": plain(message),
            "output": plain(
                "\n".join(text for name, text in report.sections if name == "server output")
            ),
            "duration": round(call.duration, 3),
        }
    )
    _write(item.config)
    return report


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed and _CONFIG:
        _CONFIG[0].stash[_RESULTS]["errors"].append(
            {"where": report.nodeid, "message": plain(str(report.longrepr)[-3000:])}
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    results = session.config.stash[_RESULTS]
    results["collected"] = len(session.items)
    results["items"] = [
        {"nodeid": item.nodeid, "name": item.name, "file": Path(str(item.path)).name}
        for item in session.items
    ]
    _write(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    session.config.stash[_RESULTS]["finished"] = True
    session.config.stash[_RESULTS]["commands"] = server.COMMANDS_PRINTED.is_set()
    _write(session.config)
