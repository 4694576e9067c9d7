"""Recording `grader.lock` (workshop/graderlock.py says what it holds): `invoke build` runs
this after the snapshots are made.

Each built stage's test ids are collected against its reference, by pytest in a process of
its own (collecting never imports a learner's code), and its reference's answer files are
fingerprinted (workshop.fingerprint).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from workshop import files, fingerprint, graderlock, manifest, runner
from workshop.graderlock import LOCK
from workshop.manifest import Stage


def collect_ids(stage: Stage, root: Path) -> list[str]:
    """The stage's test ids, collected against its reference in a pytest process of its own."""
    run = runner.run_stage(
        stage, sketch_dir=stage.solution_dir(root), root=root, pytest_args=["--collect-only"]
    )
    if run.collection_errors or run.exit_code != 0 or not run.collected:
        problem = (run.collection_errors or [{"message": run.output}])[0]["message"]
        raise RuntimeError(f"could not collect the tests of {stage.id}:\n{problem[-2000:]}")
    return [item["nodeid"] for item in run.collected]


def compute(root: Path = manifest.ROOT, jobs: int = 2) -> dict[str, dict]:
    """Every built stage's entry, as `write` records it."""
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
            "tests": {
                "digest": graderlock.tests_digest(stage.tests_dir(root)),
                "ids": ids[stage.id],
            },
            "answers": fingerprint.record(stage.id, stage.step_dir(root), stage.solution_dir(root)),
        }
        for stage in stages
    }


def write(root: Path = manifest.ROOT) -> bool:
    """Record grader.lock for the tree as built; True when it changed."""
    new = graderlock.text(compute(root))
    path = Path(root) / LOCK
    if path.is_file() and path.read_text(encoding="utf-8") == new:
        return False
    files.write_atomic(path, new)
    return True


def drift(root: Path = manifest.ROOT) -> list[str]:
    """How the committed grader.lock differs from what `invoke build` would record."""
    path = Path(root) / LOCK
    if not path.is_file():
        return [f"{LOCK} is missing"]
    committed, wanted = graderlock.read(root), compute(root)
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
