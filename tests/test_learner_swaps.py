"""solve, restore and reset never lose a byte, and never touch the learner's git state."""

from pathlib import Path

import pytest

from tests.learner_helpers import (
    folder_files,
    git,
    git_state,
    make_learner_work,
    stage,
    without_git,
    work_state,
)
from workshop import checkpoints, swap


def test_solve_then_restore_gives_back_every_file_byte_for_byte(clone: Path):
    make_learner_work(clone)
    before = folder_files(clone)
    kept = git_state(clone)

    solved = swap.solve(stage(clone), root=clone)

    assert solved.backup == "backup/01_echo/1" and solved.git
    assert swap.learner_sketch(stage(clone), clone) == swap.reference(stage(clone), clone)
    assert git(clone, "tag", "--list", "backup/*").split() == ["backup/01_echo/1"]
    swap.restore(stage(clone), root=clone)
    after = folder_files(clone)
    assert sorted(after) == sorted(before)
    for name in before:
        assert after[name] == before[name], f"{name} came back different"
    assert after["sketch/run.sh"].mode == "100755"
    assert git_state(clone) == kept, "the branch, HEAD or index changed"


def test_a_backup_is_a_commit_on_top_of_head_that_git_checkout_can_bring_back(clone: Path):
    make_learner_work(clone)
    before = folder_files(clone)
    head = git(clone, "rev-parse", "HEAD").strip()
    swap.solve(stage(clone), root=clone)

    assert git(clone, "rev-parse", "backup/01_echo/1^").strip() == head
    changed = git(clone, "diff", "--name-only", "HEAD", "backup/01_echo/1").split()
    assert changed and all(name.startswith("steps/01_echo/sketch/") for name in changed)
    assert "steps/01_echo/sketch/__pycache__/protocol.cpython-311.pyc" not in git(
        clone, "ls-tree", "-r", "--name-only", "backup/01_echo/1"
    )
    git(clone, "checkout", "backup/01_echo/1", "--", "steps/01_echo")
    assert folder_files(clone) == before


def test_dirty_work_staged_changes_and_a_detached_head_are_left_exactly_as_they_were(
    clone: Path,
):
    make_learner_work(clone)
    (clone / "README.md").write_text("my own notes\n", encoding="utf-8")  # dirty elsewhere
    lesson = clone / "steps" / "02_parsing" / "README.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "staged\n", encoding="utf-8")
    protocol = clone / "steps" / "01_echo" / "sketch" / "protocol.py"
    git(clone, "add", str(lesson), str(protocol))  # staged, in and out of the stage
    git(clone, "checkout", "-q", "--detach")
    work = work_state(clone)
    kept = git_state(clone)  # read after `git diff`, which may refresh the index's stat data
    before = folder_files(clone)

    swap.solve(stage(clone), root=clone)
    swap.restore(stage(clone), root=clone)

    assert git_state(clone) == kept
    assert kept["branch"] == "", "HEAD should still be detached"
    assert work_state(clone) == work
    assert folder_files(clone) == before


def test_two_solves_in_a_row_keep_two_backups_and_each_restores(clone: Path):
    make_learner_work(clone)
    first = folder_files(clone)
    one = swap.solve(stage(clone), file="sketch/protocol.py", root=clone)
    between = folder_files(clone)
    assert between["sketch/protocol.py"] == swap.reference(stage(clone), clone)["protocol.py"]
    assert between["sketch/notes.txt"] == first["sketch/notes.txt"]
    two = swap.solve(stage(clone), root=clone)
    assert (one.backup, two.backup) == ("backup/01_echo/1", "backup/01_echo/2")

    swap.restore(stage(clone), "1", root=clone)
    assert folder_files(clone) == first
    swap.restore(stage(clone), "backup/01_echo/2", root=clone)
    assert folder_files(clone) == between
    names = [b.name for b in checkpoints.list_backups(stage(clone), clone)]
    assert names[:2] == ["backup/01_echo/1", "backup/01_echo/2"]


def test_restore_by_default_undoes_the_last_solve_not_the_last_restore(clone: Path):
    make_learner_work(clone)
    mine = folder_files(clone)
    swap.solve(stage(clone), root=clone)
    swap.restore(stage(clone), root=clone)  # takes backup 2 (the reference) first
    swap.restore(stage(clone), root=clone)  # still means backup 1: no flip-flop
    assert folder_files(clone) == mine


def test_solving_an_already_solved_stage_changes_nothing_and_makes_no_backup(clone: Path):
    swap.solve(stage(clone), root=clone)
    again = swap.solve(stage(clone), root=clone)
    assert not again.changed and again.backup is None
    assert len(checkpoints.list_backups(stage(clone), clone)) == 1


def test_reset_brings_back_the_skeleton_as_shipped_after_a_backup(clone: Path):
    shipped = folder_files(clone)
    make_learner_work(clone)
    mine = folder_files(clone)
    done = swap.reset(stage(clone), root=clone)
    assert done.backup == "backup/01_echo/1"
    assert folder_files(clone) == shipped
    swap.restore(stage(clone), root=clone)
    assert folder_files(clone) == mine


def test_reset_finds_the_shipped_skeleton_in_git_even_after_the_learner_committed(
    clone: Path,
):
    shipped = folder_files(clone)
    make_learner_work(clone)
    git(clone, "add", "steps/01_echo")
    git(clone, "commit", "-q", "-m", "my work")
    swap.reset(stage(clone), root=clone)
    assert folder_files(clone) == shipped


def test_solve_of_an_unknown_file_names_the_files_that_exist(clone: Path):
    with pytest.raises(LookupError, match="protocol.py"):
        swap.solve(stage(clone), file="nope.py", root=clone)


# --- the same flows in a folder that is not a git repository -------------------------------


def test_without_git_solve_and_restore_keep_backups_as_files(clone: Path, tmp_path: Path):
    root = without_git(clone, tmp_path / "archive")
    make_learner_work(root)
    mine = folder_files(root)

    one = swap.solve(stage(root), file="protocol.py", root=root)
    between = folder_files(root)
    two = swap.solve(stage(root), root=root)
    assert not one.git and (one.backup, two.backup) == ("backup/01_echo/1", "backup/01_echo/2")
    assert (root / ".workshop/backups/01_echo/2/files/sketch/logo.bin").exists()
    assert swap.learner_sketch(stage(root), root) == swap.reference(stage(root), root)

    swap.restore(stage(root), "1", root=root)
    assert folder_files(root) == mine
    swap.restore(stage(root), "2", root=root)
    assert folder_files(root) == between


def test_without_git_reset_names_a_changed_file_it_cannot_find_and_changes_nothing(
    clone: Path, tmp_path: Path
):
    root = without_git(clone, tmp_path / "archive")
    shipped = folder_files(root)
    make_learner_work(root)  # protocol.py changed: outside git its shipped bytes are nowhere
    mine = folder_files(root)
    # Nothing is rebuilt from source/ (the instructor's builder, not a learner's task).
    with pytest.raises(LookupError, match=r"protocol\.py \(not a git repository\)"):
        swap.reset(stage(root), root=root)
    assert folder_files(root) == mine and not checkpoints.list_backups(stage(root), root)
    protocol = root / "steps/01_echo/sketch/protocol.py"
    protocol.write_bytes(shipped["sketch/protocol.py"].data)  # from a fresh download
    fixed = folder_files(root)
    swap.reset(stage(root), root=root)
    assert folder_files(root) == shipped
    swap.restore(stage(root), root=root)
    assert folder_files(root) == fixed


def test_without_git_a_checkpoint_is_a_folder_made_once(clone: Path, tmp_path: Path):
    root = without_git(clone, tmp_path / "archive")
    make_learner_work(root)
    mine = folder_files(root)
    assert checkpoints.make_checkpoint(stage(root), root)
    assert (root / ".workshop/checkpoints/01_echo/files/sketch/logo.bin").exists()
    (root / "steps/01_echo/sketch/empty.py").write_text("# later\n", encoding="utf-8")
    assert not checkpoints.make_checkpoint(stage(root), root), "a checkpoint is never moved"
    assert checkpoints.read_checkpoint(stage(root), root) == mine


def test_untouched_means_byte_for_byte_the_shipped_skeleton(clone: Path):
    assert swap.is_untouched(stage(clone), clone)
    (clone / "steps/01_echo/sketch/extra.py").write_bytes(b"")
    assert not swap.is_untouched(stage(clone), clone)
