"""The instructor's tools: `invoke new-step` and `invoke update`, each in a throwaway clone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.test_grading import clone_to, run_invoke
from workshop import lock, manifest


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    who = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    git(repo, *who, "commit", "-q", "--allow-empty", "-m", message)


# --- new-step --------------------------------------------------------------------------


def test_new_step_then_build_and_verify_gives_a_consistent_tree(tmp_path):
    repo = clone_to(tmp_path / "repo")
    commit_all(repo, "tooling as in the working tree")
    before = [s.id for s in manifest.stages(repo)]
    first = manifest.stages(repo)[0]
    done = run_invoke(repo, "new-step", "cookies", "--after", first.id)
    assert done.returncode == 0, done.stdout + done.stderr
    new_id = f"{first.number + 1:02d}_cookies"
    manifest._load.cache_clear()  # the manifest changed on disk under this process
    stages = manifest.stages(repo)
    ids = [s.id for s in stages]
    assert ids[1] == new_id and len(ids) == len(before) + 1
    # Every later stage moved up by one, in the manifest and on disk.
    assert [i.split("_", 1)[1] for i in ids[2:]] == [i.split("_", 1)[1] for i in before[1:]]
    assert [s.number for s in stages] == list(range(1, len(stages) + 1))
    for old in before[1:]:
        assert not (repo / "steps" / old).exists() and not (repo / "solutions" / old).exists()
    assert (repo / "steps" / new_id / "README.md").is_file()
    assert (repo / "steps" / new_id / "tests" / "test_cookies.py").is_file()
    assert "TODO" in (repo / "source" / "sketch" / "cookies.py").read_text()

    built = run_invoke(repo, "build")
    assert built.returncode == 0, built.stdout + built.stderr
    assert run_invoke(repo, "build", "--check").returncode == 0
    folders = {p.name for p in (repo / "solutions").iterdir()}
    assert folders == set(ids), "solutions/ must hold exactly the manifest's stages"
    assert {p.name for p in (repo / "steps").iterdir()} == set(ids)
    changed = git(repo, "status", "--porcelain", "--", "source").split("\n")
    assert [line[3:] for line in changed if line] == ["source/sketch/cookies.py"], (
        "markers name stages without numbers: adding a stage rewrites none of them"
    )
    # The new stage's placeholder fails on its skeleton and passes on its solution, and the
    # stage that moved still verifies under its new number.
    moved = next((s for s in stages[2:] if s.is_written(repo)), None)
    for stage_id in [new_id] + ([moved.id] if moved else []):
        verified = run_invoke(repo, "verify", stage_id)
        assert verified.returncode == 0, verified.stdout + verified.stderr


# The workshop's own tests that read the list of stages or ask which stage is the last: the
# ones a new stage broke when "the final stage" and "ten stages" were written out by hand.
# (The whole suite, run again inside a clone, would double CI's time.)
STAGE_AWARE_TESTS = [
    "tests/test_docs.py",
    "tests/test_build.py",
    "tests/test_board_api.py",
    "tests/test_bench.py",
    "tests/test_hostile_input.py",
    "tests/test_learner_tasks.py",
    "tests/test_lessons.py",
    "tests/test_tasks_core.py",
]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_new_stage_leaves_tests_verify_board_and_bench_green(tmp_path):
    repo = clone_to(tmp_path / "repo")
    commit_all(repo, "tooling as in the working tree")
    done = run_invoke(repo, "new-step", "cookies", "--after", "05")
    assert done.returncode == 0, done.stdout + done.stderr
    built = run_invoke(repo, "build")
    assert built.returncode == 0, built.stdout + built.stderr

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "GITHUB_"))}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *STAGE_AWARE_TESTS],
        cwd=repo, capture_output=True, text=True, timeout=400, env=clean,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-5000:] + tests.stderr[-2000:]

    verified = run_invoke(repo, "verify", timeout=400)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "06_cookies" in verified.stdout and "11_shutdown" in verified.stdout

    board = subprocess.Popen(
        [sys.executable, "-m", "invoke", "board", "--port", "0", "--db", str(tmp_path / "b.db")],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean,
        start_new_session=True,
    )  # fmt: skip
    try:
        url = _serving_url(board, timeout=60)
        with urllib.request.urlopen(url + "/", timeout=10) as page:
            assert page.status == 200
        os.killpg(board.pid, signal.SIGINT)
        assert board.wait(timeout=20) == 0
    finally:
        if board.poll() is None:
            os.killpg(board.pid, signal.SIGKILL)
            board.wait()

    bench = run_invoke(repo, "bench", "--duration", "1", "--rounds", "1", timeout=400)
    assert bench.returncode == 0, bench.stdout + bench.stderr
    assert (
        "| GET / | 50 | sketch |" in bench.stdout and "| GET / | 1,000 | sketch |" in bench.stdout
    )
    assert "11_shutdown" in bench.stdout  # the reference it measured: the last stage's


def _serving_url(process: subprocess.Popen, timeout: float) -> str:
    """The address in the `Serving on http://...` line PROCESS prints, read in a thread."""
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("Serving on "):
                found.append(line.split()[-1])
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert found, f"the board printed no `Serving on` line within {timeout:g} s"
    return found[0]


def test_new_step_refuses_a_name_that_is_taken(tmp_path):
    repo = clone_to(tmp_path / "repo")
    taken = manifest.stages(repo)[1].name
    done = run_invoke(repo, "new-step", taken, "--after", "01")
    assert done.returncode == 2
    assert "already" in done.stdout + done.stderr


# --- update ----------------------------------------------------------------------------


def template_copy(upstream: Path, target: Path) -> Path:
    """What GitHub's "use this template" makes: the files, one fresh commit, no history."""
    target.mkdir()
    for rel in git(upstream, "ls-files").splitlines():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(upstream / rel, target / rel)
    git(target, "init", "-q")
    commit_all(target, "Initial commit")
    return target


def refresh_lock(repo: Path) -> None:
    lock.write(repo)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def test_update_brings_a_fixed_test_and_lesson_and_keeps_the_learners_stage_03_code(tmp_path):
    upstream = clone_to(tmp_path / "upstream")
    first = manifest.stages(upstream)[0]
    work = manifest.find("03", upstream)
    lesson = first.lesson(upstream)
    lesson.write_text("# Echo\n\nThe first version of the lesson.\n")
    refresh_lock(upstream)
    commit_all(upstream, "release 1")

    learner = template_copy(upstream, tmp_path / "learner")
    work_sketch = work.step_dir(learner) / "sketch"
    edited = sorted(work_sketch.glob("*.py"))[0]
    edited.write_text(edited.read_text() + "\n# my work on stage 03\n")
    (work_sketch / "notes.py").write_text("# a file of my own\n")
    commit_all(learner, "my stage 03 work")
    mine_before = snapshot(work.step_dir(learner) / "sketch")

    # Release 2: a fixed test, a changed lesson, and a new skeleton for the file the learner
    # changed (theirs must win), plus an untouched skeleton file changed (it must follow).
    test_file = sorted(first.tests_dir(upstream).glob("test_*.py"))[0]
    test_file.write_text(test_file.read_text() + "\n# fixed in release 2\n")
    lesson.write_text("# Echo\n\nThe second version of the lesson.\n")
    rel_edited = edited.relative_to(learner).as_posix()
    (upstream / rel_edited).write_text((upstream / rel_edited).read_text() + "\n# release 2\n")
    untouched = sorted((first.step_dir(upstream) / "sketch").glob("*.py"))[0]
    untouched.write_text(untouched.read_text() + "\n# release 2\n")
    (upstream / "docs" / "NEW.md").write_text("A page new in release 2.\n")
    refresh_lock(upstream)
    commit_all(upstream, "release 2")

    done = run_invoke(learner, "update", "--from", str(upstream))
    assert done.returncode == 0, done.stdout + done.stderr
    for path in (test_file, lesson, untouched, upstream / "docs" / "NEW.md", upstream / lock.LOCK):
        rel = path.relative_to(upstream).as_posix()
        assert (learner / rel).read_bytes() == path.read_bytes(), f"{rel} was not brought in"
    assert snapshot(work.step_dir(learner) / "sketch") == mine_before, "stage 03 work changed"
    release = git(upstream, "rev-parse", "HEAD").strip()[:12]
    new_version = learner / ".workshop" / "update" / release / rel_edited
    assert new_version.read_bytes() == (upstream / rel_edited).read_bytes()
    assert f"kept    {rel_edited}" in done.stdout
    assert new_version.relative_to(learner).as_posix() in done.stdout
    # A second run finds nothing left to do, and still keeps the learner's work.
    again = run_invoke(learner, "update", "--from", str(upstream))
    assert again.returncode == 0 and "0 file(s) changed" in again.stdout
    assert snapshot(work.step_dir(learner) / "sketch") == mine_before


def test_update_keeps_modes_names_a_kept_file_that_breaks_its_stage_and_lists_readded_files(
    tmp_path,
):
    upstream = clone_to(tmp_path / "upstream")
    commit_all(upstream, "release 1")
    learner = template_copy(upstream, tmp_path / "learner")
    sketch = "steps/08_errors/sketch"
    # The learner works on exceptions.py (which imports reason_phrase) and deletes a doc.
    mine = learner / sketch / "exceptions.py"
    mine.write_text(mine.read_text() + "\n# my work on stage 08\n")
    (learner / "docs" / "BOARD.md").unlink()
    commit_all(learner, "my work")
    mine_before = mine.read_bytes()

    # Release 2 renames reason_phrase in stage 08's package and changes the CI script.
    for name in ("response.py", "exceptions.py", "error_pages.py"):
        path = upstream / sketch / name
        path.write_text(path.read_text().replace("reason_phrase", "phrase_of"))
    run = upstream / ".ci" / "run"
    run.write_text(run.read_text() + "\n# release 2\n")
    tool = upstream / ".ci" / "tool"
    tool.write_text("#!/bin/sh\necho new in release 2\n")
    tool.chmod(0o755)
    refresh_lock(upstream)
    commit_all(upstream, "release 2")

    dry = run_invoke(learner, "update", "--from", str(upstream), "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "file(s) would change" in dry.stdout and "would changed" not in dry.stdout
    done = run_invoke(learner, "update", "--from", str(upstream))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # Modes: as the release has them (git's 100755), for replaced and new files alike.
    assert (learner / ".ci" / "run").stat().st_mode & 0o111 == 0o111
    assert (learner / ".ci" / "tool").stat().st_mode & 0o111 == 0o111
    assert git(learner, "diff", "--summary", "--", ".ci/run") == "", "the mode must not change"
    # The kept file is the learner's, byte for byte, and the stage's import error names it
    # with the commands that show and take the new version.
    assert mine.read_bytes() == mine_before
    release = git(upstream, "rev-parse", "HEAD").strip()[:12]
    new = f".workshop/update/{release}/{sketch}/exceptions.py"
    assert f"✗ {sketch} no longer imports: ImportError: cannot import name 'reason_phrase'" in out
    assert f"git diff --no-index {sketch}/exceptions.py {new}" in out
    assert f"cp {new} {sketch}/exceptions.py" in out
    # The deleted file comes back, listed apart from the new ones.
    assert (learner / "docs" / "BOARD.md").is_file()
    readded = out[out.index("re-add these files you had deleted") :]
    assert "docs/BOARD.md" in readded.split("file(s) changed")[0]
    assert "add     docs/BOARD.md" not in out
    assert "add     .ci/tool" in out
