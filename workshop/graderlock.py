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

The file is committed; tests/test_graderlock.py fails when it drifts from what the source
makes.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from workshop import manifest
from workshop.manifest import Stage

LOCK = "grader.lock"
IGNORED = {"__pycache__", ".pytest_cache"}
ABOUT = (
    "Recorded by invoke build: each stage's test ids (what the grader scores against) and "
    "fingerprints of its reference's answer files (what tells a swapped-in reference)."
)


def folder_hashes(folder: Path) -> dict[str, str]:
    """{path relative to FOLDER: sha256} of every file in it, caches left out."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not IGNORED & set(path.parts) and path.suffix != ".pyc"
    }


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


# --- recording (invoke build) --------------------------------------------------------------


def collect_ids(stage: Stage, root: Path) -> list[str]:
    """The stage's test ids, collected against its reference in a pytest process of its own."""
    from workshop import runner

    run = runner.run_stage(
        stage, sketch_dir=stage.solution_dir(root), root=root, pytest_args=["--collect-only"]
    )
    if run.collection_errors or run.exit_code != 0 or not run.collected:
        problem = (run.collection_errors or [{"message": run.output}])[0]["message"]
        raise RuntimeError(f"could not collect the tests of {stage.id}:\n{problem[-2000:]}")
    return [item["nodeid"] for item in run.collected]


def compute(root: Path = manifest.ROOT, jobs: int = 2) -> dict[str, dict]:
    """Every built stage's entry, as `write` records it."""
    from workshop import fingerprint  # it reads this module's file

    root = Path(root)
    stages = [
        s
        for s in manifest.stages(root)
        if (s.solution_dir(root) / "sketch").is_dir() and any(s.tests_dir(root).glob("test_*.py"))
    ]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        ids = dict(
            zip(
                [s.id for s in stages],
                pool.map(lambda s: collect_ids(s, root), stages),
                strict=True,
            )
        )
    return {
        stage.id: {
            "tests": {"digest": tests_digest(stage.tests_dir(root)), "ids": ids[stage.id]},
            "answers": fingerprint.record(stage.id, stage.step_dir(root), stage.solution_dir(root)),
        }
        for stage in stages
    }


def text(stages: dict[str, dict]) -> str:
    return json.dumps({"about": ABOUT, "stages": stages}, indent=1, sort_keys=True) + "\n"


def write(root: Path = manifest.ROOT) -> bool:
    """Record grader.lock for the tree as built; True when it changed."""
    new = text(compute(root))
    path = Path(root) / LOCK
    if path.is_file() and path.read_text(encoding="utf-8") == new:
        return False
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)
    return True


def drift(root: Path = manifest.ROOT) -> list[str]:
    """How the committed grader.lock differs from what `invoke build` would record."""
    path = Path(root) / LOCK
    if not path.is_file():
        return [f"{LOCK} is missing"]
    committed, wanted = read(root), compute(root)
    problems = [f"{LOCK}: {stage} is not recorded" for stage in wanted if stage not in committed]
    problems += [f"{LOCK}: {stage} is recorded but not built" for stage in committed
                 if stage not in wanted]  # fmt: skip
    for stage, entry in wanted.items():
        old = committed.get(stage)
        if old is None:
            continue
        if old.get("tests") != entry["tests"]:
            problems.append(f"{LOCK}: the tests of {stage} changed")
        if old.get("answers") != entry["answers"]:
            problems.append(f"{LOCK}: the reference of {stage} changed")
    return problems
