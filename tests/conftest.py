"""Fixtures for the workshop's own tests."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workshop import files, forkserver, manifest, runner, sandbox

ROOT = manifest.ROOT
# The two ways a learner's process starts: forked from the fork server (`invoke check`),
# or cold (a grade). workshop/forkserver.py.
WAYS = ["forked", "cold"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the slow tests first (a stable sort: the rest keep their order).

    Run in parallel (`python -m pytest -n auto --dist worksteal`, as CI does), a test of a
    minute that started last would hold the whole run up while the other workers sit idle.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh clone of this repository's committed state, plus uncommitted tooling.

    Tests that run tasks work here, never in the developer's own tree. The working tree's
    current `workshop/`, `tasks.py`, `stages.toml` and stage folders are copied over the
    clone, so the tests check what is being written, committed or not.
    """
    target = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True, timeout=60)
    copied = (
        "workshop",
        "tasks.py",
        "stages.toml",
        "steps",
        "solutions",
        "workshop.lock",
        ".devcontainer",
        "grader.lock",
    )
    for name in copied:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                target / name,
                dirs_exist_ok=True,
                ignore=files.ignore_caches,
            )
        elif source.exists():
            shutil.copy2(source, target / name)
    for command in (
        ["git", "config", "user.email", "learner@example.com"],
        ["git", "config", "user.name", "Learner"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "--allow-empty", "-m", "the workshop as shipped"],
    ):
        subprocess.run(command, cwd=target, check=True, timeout=30, capture_output=True)
    return target


def invoke(repo: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `invoke ARGS` in REPO as a learner would, with colour off."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**_env(), "NO_COLOR": "1", "COLUMNS": "200"},
    )


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}


@pytest.fixture(params=WAYS)
def check_stage_01(request):
    """Run stage 01's tests on a sketch folder, with learner processes started one WAY."""
    if request.param == "forked" and not forkserver.supported():
        pytest.skip("no fork server on this platform")

    def check(sketch_dir: Path) -> runner.StageRun:
        stage = manifest.find("01_echo")
        started = time.monotonic()
        run = runner.run_stage(
            stage,
            sketch_dir=sketch_dir,
            first_failure=True,
            timeout=30,
            fork_server=request.param == "forked",
        )
        run.duration = time.monotonic() - started
        return run

    return check


@pytest.fixture(params=WAYS)
def confinement(request):
    """How a ServerProcess starts: forked from a fork server, or cold."""
    if request.param == "forked" and not forkserver.supported():
        pytest.skip("no fork server on this platform")
    started = sandbox.Confinement(False, fork=request.param == "forked")
    yield started
    started.close()
