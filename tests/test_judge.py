"""The judge never runs learner code: for every stage, the pytest process that decides the
verdict never imports a module from the learner's folder.

Each stage's reference gets a `sketch/__init__.py` that records the pid of every process
that imports it. The stage is checked as `invoke check` does (learner processes forked from
a fork server) and as a grade does (started cold), with a probe plugin in the judge
reporting its own pid, its fork server's, and any learner module in its sys.modules.
"""

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from workshop import forkserver, manifest, runner

RECORD_PID = """\
import os as _os
with open({path!r}, "a") as _pids:
    _pids.write(f"{{_os.getpid()}}\\n")
"""


def probed_run(
    stage: manifest.Stage, tmp_path: Path, fork_server: bool
) -> tuple[runner.StageRun, list[int], dict]:
    learner = tmp_path / stage.id
    shutil.copytree(stage.solution_dir() / "sketch", learner / "sketch")
    pids = tmp_path / f"{stage.id}.pids"
    init = learner / "sketch" / "__init__.py"
    init.write_text(RECORD_PID.format(path=str(pids)) + init.read_text())
    probe = tmp_path / f"{stage.id}.probe.json"
    run = runner.run_stage(
        stage,
        sketch_dir=learner,
        pytest_args=["-p", "tests.judge_probe"],
        env={"JUDGE_PROBE": str(probe), "JUDGE_LEARNER_DIRS": str(learner)},
        fork_server=fork_server,
    )
    imported = [int(line) for line in pids.read_text().split()] if pids.exists() else []
    return run, imported, json.loads(probe.read_text()) if probe.exists() else {}


@pytest.mark.parametrize("fork_server", [True, False], ids=["as-check", "as-grade"])
def test_no_stage_judge_imports_a_learner_module(tmp_path, fork_server):
    stages = [s for s in manifest.stages() if s.is_written()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda s: (s, *probed_run(s, tmp_path, fork_server)), stages))
    for stage, run, imported, probe in results:
        assert run.passed, f"{stage.id}: {run.summary()}\n{run.output[-2000:]}"
        assert probe, f"{stage.id}: the probe plugin did not report"
        assert imported, f"{stage.id}: no process imported the learner's sketch at all"
        assert probe["pid"] not in imported, f"{stage.id}: the judge imported the learner's sketch"
        if fork_server and forkserver.supported():
            assert probe["fork_server_pid"], f"{stage.id}: no fork server"
            assert probe["fork_server_pid"] not in imported, f"{stage.id}: the fork server did"
            # Launched by the runner (this process) before the judge, to warm up meanwhile.
            assert probe["fork_server_parent"] == os.getpid(), stage.id
        assert probe["learner_modules"] == [], f"{stage.id}: {probe['learner_modules']}"
        assert os.getpid() not in imported


def test_a_learner_module_in_the_judge_would_be_seen(tmp_path):
    """The probe itself works: a judge that imports the learner's package is caught."""
    stage = manifest.find("01_echo")
    learner = tmp_path / "learner"
    shutil.copytree(stage.solution_dir() / "sketch", learner / "sketch")
    tests_dir = tmp_path / "steps" / "01_echo" / "tests"
    tests_dir.mkdir(parents=True)
    (tests_dir / "test_imports.py").write_text(
        f"import sys\nsys.path.insert(0, {str(learner)!r})\nimport sketch\n\n"
        "def test_nothing():\n    pass\n"
    )
    probe = tmp_path / "probe.json"
    run = runner.run_stage(
        stage,
        sketch_dir=learner,
        tests_dir=tests_dir,
        pytest_args=["-p", "tests.judge_probe"],
        env={"JUDGE_PROBE": str(probe), "JUDGE_LEARNER_DIRS": str(learner)},
    )
    assert run.passed, run.output
    assert "sketch" in json.loads(probe.read_text())["learner_modules"]


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch):
    monkeypatch.delenv("JUDGE_PROBE", raising=False)
