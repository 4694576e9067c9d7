"""`grader.lock`: what the grader trusts about each stage, recorded by `invoke build`.

    {"about": "...", "stages": {"04_routing": {
        "tests":   {"digest": sha256 of the stage's test files, "ids": [pytest node ids]},
        "answers": {"router.py": {"tokens": sha256, "ast": sha256, "distinctive": true}}}}}

`tests.ids` are the tests the stage has, collected from the reference (pytest
`--collect-only` in a process of its own: collecting never imports a learner's code). The
grader scores against them, not against what a run's report claims: a test the report
lacks counts as failed. `tests.digest` says which test files the ids belong to; when the
tests change without a rebuild the ids are not used (and `invoke build --check` fails).

`answers` are the fingerprints of the reference's answer files (workshop.fingerprint), so
the detector of swapped-in references works where the references are not shipped.

This module reads the file; workshop/graderrecord.py records it (`invoke build`). The file is
committed; `invoke build --check` fails when it drifts from what the source makes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from workshop import files, manifest
from workshop.manifest import Stage

LOCK = "grader.lock"
ABOUT = (
    "Recorded by invoke build: each stage's test ids (what the grader scores against) and "
    "fingerprints of its reference's answer files (what tells a swapped-in reference)."
)


def folder_hashes(folder: Path) -> dict[str, str]:
    """{path relative to FOLDER: sha256} of every file in it, caches left out."""
    return files.hashes(folder, lambda data: hashlib.sha256(data).hexdigest())


def tests_digest(folder: Path) -> str:
    """One sha256 for a stage's test files: their names and bytes."""
    return hashlib.sha256(json.dumps(folder_hashes(folder)).encode()).hexdigest()


# --- reading -------------------------------------------------------------------------------


def read(root: Path = manifest.ROOT) -> dict[str, dict]:
    """{stage id: entry}; empty when the checkout has no grader.lock (or an unreadable one)."""
    try:
        data = json.loads((Path(root) / LOCK).read_text(encoding="utf-8"))
        stages = data["stages"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return stages if isinstance(stages, dict) else {}


def answers(root: Path, stage_id: str) -> dict[str, dict]:
    """The fingerprints of the stage's answer files (workshop.fingerprint), or {}."""
    found = read(root).get(stage_id, {}).get("answers", {})
    return found if isinstance(found, dict) else {}


def expected_tests(stage: Stage, root: Path = manifest.ROOT) -> list[str] | None:
    """The stage's test ids, if the lock holds them for the test files ROOT has now."""
    entry = read(root).get(stage.id, {}).get("tests", {})
    ids = entry.get("ids") if isinstance(entry, dict) else None
    if not isinstance(ids, list) or entry.get("digest") != tests_digest(stage.tests_dir(root)):
        return None
    return [str(i) for i in ids]


# --- the file's text ------------------------------------------------------------------------


def text(stages: dict[str, dict]) -> str:
    return json.dumps({"about": ABOUT, "stages": stages}, indent=1, sort_keys=True) + "\n"
