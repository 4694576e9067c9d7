"""A swap killed with SIGKILL after any of its file operations loses nothing.

WORKSHOP_FAULT_AFTER=k makes the process kill itself right after its k-th file operation
(workshop.swap.tick). For every k, in a fresh copy of a learner's repository, the folder is
afterwards the old tree or the new one (or, between the two renames, not there at all); the
next task run's recovery leaves exactly the old or the new tree; and a backup, if one was
taken, restores the old tree.
"""

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.learner_helpers import env_for, folder_files, git, make_learner_work, stage, without_git
from workshop import checkpoints, files, swap

SOLVE = "from workshop import manifest, swap; from pathlib import Path; root = Path.cwd(); "
SWAPS = {
    "solve": SOLVE + "swap.solve(manifest.find('01_echo', root), root=root)",
    "solve --file": SOLVE + "swap.solve(manifest.find('01_echo', root), 'server.py', root=root)",
}
MAX_OPERATIONS = 60  # far more than a swap of stage 01 makes: the loop must end before


def sketch(root: Path) -> dict | None:
    folder = stage(root).step_dir(root) / "sketch"
    return files.read_folder(folder) if folder.exists() else None


def kill_every_operation(template: Path, workdir: Path, code: str, git_repo: bool) -> int:
    old = sketch(template)
    old_folder = folder_files(template)
    for k in range(1, MAX_OPERATIONS):
        root = workdir / f"k{k}"
        shutil.copytree(template, root, symlinks=True)
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env=env_for(root, WORKSHOP_FAULT_AFTER=str(k)),
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode == 0:
            new = sketch(root)
            assert new != old and not (root / swap.JOURNAL).exists()
            return k - 1  # k is past the last operation: the swap ran to the end
        assert done.returncode == -signal.SIGKILL, done.stderr
        right_after = sketch(root)
        new = swap.reference(stage(root), root)
        if "server.py" in code:
            new = {**old, "server.py": new["server.py"]}
        assert right_after in (old, new, None), f"killed after operation {k}: a mix of trees"

        swap.recover(root)
        recovered = sketch(root)
        assert recovered in (old, new), f"killed after operation {k}: recovery left a mix"
        assert not (root / swap.JOURNAL).exists()
        leftovers = [p.name for p in stage(root).step_dir(root).iterdir() if "swap-" in p.name]
        assert not leftovers, f"killed after operation {k}: {leftovers} left behind"

        backups = checkpoints.list_backups(stage(root), root)
        if recovered == new:
            assert backups, f"killed after operation {k}: the tree changed with no backup"
        if backups:
            swap.restore(stage(root), backups[0].name, root=root)
            assert folder_files(root) == old_folder, f"backup taken before op {k} is wrong"
        if git_repo:
            assert git(root, "status", "--porcelain", "--", "steps/01_echo/tests") == ""
        shutil.rmtree(root)
    pytest.fail(f"the swap did not finish within {MAX_OPERATIONS} operations")


@pytest.mark.slow
@pytest.mark.parametrize("swap_kind", list(SWAPS))
def test_a_swap_killed_after_any_operation_leaves_the_old_or_the_new_tree(
    clone: Path, tmp_path: Path, swap_kind: str
):
    make_learner_work(clone)
    runs = kill_every_operation(clone, tmp_path, SWAPS[swap_kind], git_repo=True)
    assert runs >= 5, "the swap should count its backup, journal, writes and renames"


def test_without_git_a_killed_swap_also_leaves_the_old_or_the_new_tree(clone: Path, tmp_path: Path):
    root = without_git(clone, tmp_path / "archive")
    make_learner_work(root)
    runs = kill_every_operation(root, tmp_path / "runs", SWAPS["solve"], git_repo=False)
    assert runs >= 10
