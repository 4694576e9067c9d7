"""The classroom edition (`invoke release classroom`): released stage by stage, no open
reference in it, usable as a learner's repository, and updated with `invoke update`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.test_fingerprint import HONEST_01, write_todos
from tests.test_grading import clone_to, run_invoke
from tests.test_instructor import commit_all, git, template_copy
from workshop import edition, fingerprint, manifest


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The self-paced workshop, committed (a release takes the tracked files)."""
    repo = clone_to(tmp_path_factory.mktemp("source") / "workshop")
    commit_all(repo, "the workshop as it is being written")
    return repo


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(folder).parts}  # fmt: skip


def test_the_edition_through_03_holds_no_open_reference_and_works_for_a_learner(source, tmp_path):
    out = tmp_path / "edition"
    done = run_invoke(source, "release", "classroom", str(out), "--through", "03")
    assert done.returncode == 0, done.stdout + done.stderr
    shipped = files_of(out)
    tops = {rel.split("/")[0] for rel in shipped}
    assert {"solutions", "source", "board", "benchmarks", "tests", ".ci"}.isdisjoint(tops), tops
    assert {rel.split("/")[1] for rel in shipped if rel.startswith("steps/")} == {
        "01_echo", "02_parsing", "03_responses"}  # fmt: skip
    manifest_text = shipped["stages.toml"].decode()
    for later in manifest.stages(source)[3:]:
        assert later.id not in manifest_text and later.title not in manifest_text
        assert all(hint not in manifest_text for hint in later.hints)
    # No body of a stage 03 TODO anywhere: each is checked to be in the reference first.
    bodies = edition.open_bodies(source, list(manifest.stages(source)[:3]))
    stage_03 = manifest.find("03", source)
    answers = "\n".join("\n".join(edition._lines(p.read_text())) for p in
                        (stage_03.solution_dir(source) / "sketch").glob("*.py"))  # fmt: skip
    assert len([body for body in bodies if body in answers]) >= 5, "03's five TODOs' bodies"
    for rel, data in shipped.items():
        assert not edition._shows(data, bodies), f"{rel} shows a stage 03 answer"
    # The locks describe exactly this edition; the fingerprints are hashes only.
    lock = json.loads(shipped["workshop.lock"])["files"]
    assert set(lock) == {rel for rel in shipped if rel.startswith("steps/")}
    grader = json.loads(shipped["grader.lock"])["stages"]
    assert sorted(grader) == ["01_echo", "02_parsing", "03_responses"]

    # Installed as a learner would (a repository made from the template).
    learner = template_copy(out, tmp_path / "learner")
    checked = run_invoke(learner, "check")
    assert checked.returncode == 1 and "Stage 01_echo" in checked.stdout, checked.stdout
    assert "Traceback" not in checked.stdout + checked.stderr
    solved = run_invoke(learner, "solve", "03")
    assert solved.returncode == 1
    assert "released by your instructor" in solved.stdout + solved.stderr
    write_todos(learner / "steps" / "01_echo" / "sketch", "01_echo", HONEST_01)
    passed = run_invoke(learner, "check", "01")
    assert passed.returncode == 0 and "✓ Stage 01_echo passed" in passed.stdout, passed.stdout
    # reset works from the lock and git alone: there is no source/ to rebuild from.
    mine = learner / "steps" / "03_responses" / "sketch" / "request.py"
    shipped_03 = mine.read_bytes()
    mine.write_text(mine.read_text() + "\n# my attempt\n")
    commit_all(learner, "my attempt at 03")
    reset = run_invoke(learner, "reset", "03")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert mine.read_bytes() == shipped_03


def test_the_next_release_reaches_a_learner_through_invoke_update(source, tmp_path):
    out = tmp_path / "edition"
    assert run_invoke(source, "release", "classroom", str(out), "--through", "03").returncode == 0
    learner = template_copy(out, tmp_path / "learner")
    sketch = learner / "steps"
    write_todos(sketch / "01_echo" / "sketch", "01_echo", HONEST_01)
    for stage in ("02_parsing", "03_responses"):
        for path in (sketch / stage / "sketch").glob("*.py"):
            path.write_text(path.read_text() + f"\n# my work on {stage}\n")
    commit_all(learner, "my work on 01-03")
    before = {rel: data for rel, data in files_of(sketch).items() if "/sketch/" in rel}

    done = run_invoke(source, "release", "classroom", str(out), "--through", "04",
                      "--references", "closed")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(git(out, "log", "--format=%H").split()) == 2, "one commit per release"
    assert (out / "solutions" / "03_responses").is_dir() and not (
        out / "solutions" / "04_routing"
    ).exists()

    updated = run_invoke(learner, "update", "--from", str(out))
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert (learner / "steps" / "04_routing" / "sketch").is_dir()
    assert re.search(r"^add +steps/04_routing/", updated.stdout, re.M)
    after = {rel: data for rel, data in files_of(sketch).items() if "/sketch/" in rel}
    assert {rel: after[rel] for rel in before} == before, "the learner's files changed"
    assert "04_routing" in (learner / "stages.toml").read_text()
    assert run_invoke(learner, "check", "04").returncode == 1
    # 02's reference (in 03's skeleton) copied back is still found, from the edition's hashes.
    stage_02 = manifest.find("02", out)
    copied = tmp_path / "copied"
    shutil.copytree(stage_02.step_dir(learner) / "sketch", copied / "sketch")
    for name in fingerprint.answer_files(stage_02.id, stage_02.step_dir(out)):
        shutil.copy2(out / "solutions" / stage_02.id / "sketch" / name, copied / "sketch" / name)
    assert fingerprint.verdict(stage_02, copied, out) == "reference"


def test_a_release_refuses_to_give_an_open_reference_away(source, tmp_path):
    done = run_invoke(source, "release", "classroom", str(tmp_path / "e"), "--through", "03",
                      "--references", "03")  # fmt: skip
    assert done.returncode == 2 and "open stage" in done.stdout + done.stderr
    one = run_invoke(source, "release", "classroom", str(tmp_path / "one"), "--first", "04",
                     "--through", "04")  # fmt: skip
    assert one.returncode == 0, one.stdout + one.stderr
    assert sorted(p.name for p in (tmp_path / "one" / "steps").iterdir()) == ["04_routing"]
    # docs/WORKFLOW.md walks through stage 01 with its reference: left out while 01 is open.
    first = run_invoke(source, "release", "classroom", str(tmp_path / "01"), "--through", "01")
    assert first.returncode == 0 and "left out docs/WORKFLOW.md" in first.stdout, first.stdout
    assert not (tmp_path / "01" / "docs" / "WORKFLOW.md").exists()
    assert (tmp_path / "one" / "docs" / "WORKFLOW.md").exists()
