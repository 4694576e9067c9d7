"""Helpers for the learner-task tests: a learner's messy stage folder, and git's state."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from workshop import checkpoints, files, manifest
from workshop.manifest import Stage

STAGE_ID = "01_echo"


def stage(root: Path, key: str = STAGE_ID) -> Stage:
    return manifest.find(key, root)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def make_learner_work(root: Path, key: str = STAGE_ID) -> None:
    """Edit a stage the way a learner does: a changed file, and untracked files of every kind."""
    sketch = stage(root, key).step_dir(root) / "sketch"
    protocol = sketch / "protocol.py"
    protocol.write_bytes(protocol.read_bytes() + b"\n# my attempt, no newline at the end")
    (sketch / "notes.txt").write_bytes(b"untracked notes\r\nwith CRLF\r\n")
    (sketch / "empty.py").write_bytes(b"")
    (sketch / "logo.bin").write_bytes(bytes(range(256)) * 3)
    script = sketch / "run.sh"
    script.write_bytes(b"#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    cache = sketch / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "protocol.cpython-311.pyc").write_bytes(b"ignored")


def folder_files(root: Path, key: str = STAGE_ID) -> files.Files:
    """The whole stage folder, byte for byte (with the executable bit), noise left out."""
    return files.read_folder(stage(root, key).step_dir(root))


def git_state(root: Path) -> dict[str, object]:
    """What a learner's git must keep: branch, HEAD, the index's bytes, the work tree's diff."""
    branch = subprocess.run(
        ["git", "symbolic-ref", "-q", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    return {
        "branch": branch,
        "head": git(root, "rev-parse", "HEAD").strip(),
        "index": (root / ".git" / "index").read_bytes(),
    }


def work_state(root: Path) -> dict[str, str]:
    """Staged and unstaged changes, read after git_state (these commands may touch the index)."""
    return {
        "staged": git(root, "diff", "--cached", "--binary"),
        "unstaged": git(root, "diff", "--binary", "--", ".", ":!steps/01_echo"),
    }


def without_git(root: Path, target: Path) -> Path:
    """A copy of ROOT with no .git: a workshop downloaded as an archive."""
    shutil.copytree(root, target, ignore=shutil.ignore_patterns(".git"), symlinks=True)
    assert not checkpoints.uses_git(target)
    return target


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "WORKSHOP_"))}
    return {**env, "PYTHONPATH": str(root), "NO_COLOR": "1", "COLUMNS": "200", **extra}
