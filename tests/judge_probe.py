"""A pytest plugin for tests/test_judge.py: what the judge process itself held at the end.

Loaded into a stage's judge with `-p tests.judge_probe`; writes its pid, its fork server's
(if it has one), and every module of its sys.modules that was loaded from a learner's
folder to $JUDGE_PROBE (JSON).
"""

import json
import os
import sys
from pathlib import Path

import psutil

from workshop import harness


def pytest_sessionfinish(session) -> None:
    out = os.environ.get("JUDGE_PROBE")
    if not out:
        return
    folders = [
        Path(p).resolve() for p in os.environ.get("JUDGE_LEARNER_DIRS", "").split(os.pathsep) if p
    ]
    learner = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if (
            name == "sketch"
            or name.startswith("sketch.")
            or file
            and any(Path(file).resolve().is_relative_to(f) for f in folders)
        ):
            learner.append(name)
    stage = session.config.stash.get(harness.STAGE, None)
    forks = stage.confinement.forks if stage is not None else None
    Path(out).write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "fork_server_pid": forks.pid if forks is not None else None,
                "fork_server_parent": psutil.Process(forks.pid).ppid() if forks else None,
                "learner_modules": learner,
            }
        )
    )
