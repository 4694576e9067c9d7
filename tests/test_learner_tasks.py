"""The learner's tasks, run as a learner runs them (`invoke ...` in a clone)."""

import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.learner_helpers import env_for, git, make_learner_work, stage, without_git
from workshop import checkpoints, manifest
from workshop.manifest import stages


def put_solution_in_by_hand(root: Path) -> None:
    mine = root / "steps" / "01_echo" / "sketch"
    for path in (root / "solutions" / "01_echo" / "sketch").glob("*.py"):
        shutil.copy2(path, mine / path.name)
    for name in ("protocol.py", "server.py"):  # no longer the reference's tokens
        with open(mine / name, "a", encoding="utf-8") as f:
            f.write("# written by me\n")


def test_check_creates_the_checkpoint_tag_once_on_the_first_pass(clone: Path):
    put_solution_in_by_hand(clone)
    first = invoke(clone, "check", "01")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Checkpoint: git tag checkpoint/01_echo" in first.stdout
    assert "Next: stage 02_parsing" in first.stdout
    tagged = git(clone, "rev-parse", "checkpoint/01_echo").strip()
    shown = git(clone, "show", "checkpoint/01_echo:steps/01_echo/sketch/protocol.py")
    assert shown.endswith("# written by me\n")

    with open(clone / "steps/01_echo/sketch/protocol.py", "a", encoding="utf-8") as f:
        f.write("# later\n")
    again = invoke(clone, "check", "01")
    assert again.returncode == 0
    assert "Checkpoint" not in again.stdout
    assert git(clone, "rev-parse", "checkpoint/01_echo").strip() == tagged
    diff = invoke(clone, "diff", "01", "--against", "checkpoint")
    assert "+# later" in diff.stdout


def test_a_pass_with_the_reference_swapped_in_makes_no_checkpoint(clone: Path):
    solved = invoke(clone, "solve", "01")
    assert "backup/01_echo/1" in solved.stdout
    assert "invoke restore 01_echo --backup 1" in solved.stdout
    assert "invoke diff 01_echo --against backup" in solved.stdout
    checked = invoke(clone, "check", "01")
    assert checked.returncode == 0
    assert "not marked passed" in checked.stdout
    assert not checkpoints.has_checkpoint(stage(clone), clone)
    table = invoke(clone, "progress").stdout
    row = next(line for line in table.splitlines() if "01_echo" in line.split())
    assert "passed" not in row, f"a pass of the reference counted as the learner's: {row}"
    # The current stage is still 01, so `invoke restore` means stage 01.
    restored = invoke(clone, "restore")
    assert "steps/01_echo/sketch/ is back as it was in backup/01_echo/1" in restored.stdout


def test_hint_walks_through_the_hints_and_remembers_them(clone: Path):
    total = len(stage(clone).hints)
    assert total >= 2, "stage 01 should have hints in stages.toml"
    first = invoke(clone, "hint", "01")
    assert f"Hint 1 of {total}" in first.stdout
    assert f"{total - 1} more hint" in first.stdout
    second = invoke(clone, "hint", "01")
    assert f"Hint 2 of {total}" in second.stdout
    every = invoke(clone, "hint", "01", "--all")
    assert all(f"Hint {n} of {total}" in every.stdout for n in range(1, total + 1))
    past_the_end = invoke(clone, "hint", "01")
    assert f"Hint {total} of {total}" in past_the_end.stdout
    assert "That was the last hint" in past_the_end.stdout


def test_progress_shows_passes_swaps_hints_and_checkpoints(clone: Path):
    put_solution_in_by_hand(clone)
    assert invoke(clone, "check", "01").returncode == 0
    invoke(clone, "hint", "01")
    invoke(clone, "solve", "02", "--file", "parser.py")
    table = invoke(clone, "progress").stdout
    ids = [s.id for s in stages(clone)]
    rows = {word: line for line in table.splitlines() for word in line.split() if word in ids}
    assert "passed" in rows["01_echo"] and "checkpoint/01_echo" in rows["01_echo"]
    assert f"1/{len(stage(clone).hints)}" in rows["01_echo"]
    assert "parser.py" in rows["02_parsing"] and "▶" in rows["02_parsing"]
    assert "not started" in rows["03_responses"]
    assert f"1 of {len(ids)} stages passed" in table


def test_progress_keeps_every_name_whole_in_80_columns(clone: Path, tmp_path: Path):
    from workshop import state

    root = without_git(clone, tmp_path / "archive")  # the longest checkpoint names
    ids = [s.id for s in stages(root)]
    state.save(state.State(passed={i: state.now() for i in ids[:5]}), root)
    for stage_id in ids[:5]:
        checkpoints.make_checkpoint(manifest.find(stage_id, root), root)
    for stage_id in ids[5:]:
        with open(root / "steps" / stage_id / "sketch" / "app.py", "a", encoding="utf-8") as f:
            f.write("# started\n")  # "in progress": the longest status
    table = subprocess.run(
        [sys.executable, "-m", "invoke", "progress"],
        cwd=root,
        env=env_for(root, COLUMNS="80"),
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert max(len(line) for line in table.splitlines()) <= 80, table
    assert "…" not in table, table
    for stage_id in ids:
        assert re.search(rf"\b{stage_id}\b +(passed|in progress)", table), table


def test_progress_says_failing_after_a_failed_check_until_it_passes(clone: Path):
    def row(stage_id: str) -> str:
        table = invoke(clone, "progress").stdout
        return next(line for line in table.splitlines() if stage_id in line.split())

    assert "not started" in row("03_responses")
    assert invoke(clone, "check", "03").returncode == 1
    assert "failing" in row("03_responses")
    assert "not started" in row("04_routing")


def test_next_names_the_lesson_the_first_todo_and_the_command(clone: Path):
    said = invoke(clone, "next").stdout.strip()
    assert said.startswith("01_echo (")
    assert "steps/01_echo/README.md" in said
    assert "steps/01_echo/sketch/server.py:" in said, "the lesson's first TODO: start_server"
    assert said.endswith("then run invoke check.")


def test_next_after_the_last_stage_says_the_workshop_is_finished(clone: Path):
    from workshop import state

    final = manifest.final(clone)
    saved = state.State(current=final.id, passed={s.id: state.now() for s in stages(clone)})
    state.save(saved, clone)
    said = invoke(clone, "next").stdout
    assert said.startswith("You have finished the workshop"), said
    assert "README.md" not in said
    third = stages(clone)[2].id
    saved.passed.pop(third)
    state.save(saved, clone)
    said = invoke(clone, "next").stdout
    assert said.startswith(f"The last stage passed; these have not yet: {third}"), said
    assert f"invoke goto {third}" in said


@pytest.mark.parametrize("stage", manifest.stages(), ids=lambda s: s.id)
def test_next_points_at_the_first_todo_of_the_lessons_list(stage):
    from workshop.tasks.learner import first_todo

    lesson = stage.lesson().read_text(encoding="utf-8")
    todo_list = lesson[lesson.index("## Your TODO") :]
    first_item = re.search(r"^1\. .*$", todo_list, flags=re.MULTILINE)
    assert first_item, f"{stage.id}'s lesson has no numbered TODO list"
    # The item names its file, or the list's introduction does ("All in sketch/protocol.py").
    named = re.search(r"sketch/[\w/]+\.py", first_item[0]) or re.search(
        r"sketch/[\w/]+\.py", todo_list[: first_item.start()]
    )
    assert named, f"{stage.id}'s first TODO item names no file"
    found = first_todo(stage)
    assert found is not None
    assert found[0] == f"steps/{stage.id}/{named[0]}", (
        f"invoke next would open {found[0]}, but the lesson starts with {named[0]}"
    )


def test_goto_moves_the_current_stage_without_touching_any_folder(clone: Path):
    before = git(clone, "status", "--porcelain", "--", "steps")
    moved = invoke(clone, "goto", "03")
    assert "current stage is now 03_responses" in moved.stdout
    assert "03_responses (" in invoke(clone, "next").stdout
    assert git(clone, "status", "--porcelain", "--", "steps") == before


def test_diff_shows_your_changes_and_the_answer_only_when_asked(clone: Path):
    make_learner_work(clone)
    first = invoke(clone, "diff", "01").stdout  # no checkpoint yet: against the skeleton
    assert first.startswith("The skeleton as shipped (-), against steps/01_echo/sketch/ as it")
    assert first == invoke(clone, "diff", "01", "--against", "skeleton").stdout
    assert "+# my attempt, no newline at the end" in first
    assert "\\ No newline at end of file" in first
    assert "Binary files /dev/null and steps/01_echo/sketch/logo.bin differ" in first
    assert "solutions/" not in first, "the answer is shown only when asked for"
    answer = invoke(clone, "diff", "01", "--against", "reference").stdout
    assert answer.startswith("This is the answer: the reference solution of 01_echo")
    assert "--- solutions/01_echo/sketch/protocol.py" in answer
    assert "-        self.transport.write(data)" in answer
    assert invoke(clone, "diff", "01", "--against", "solution").stdout == answer
    bad = invoke(clone, "diff", "01", "--against", "yesterday")
    assert bad.returncode == 2 and "checkpoint, skeleton, reference, backup" in bad.stderr


def test_diff_compares_with_the_checkpoint_once_there_is_one(clone: Path):
    put_solution_in_by_hand(clone)
    assert invoke(clone, "check", "01").returncode == 0
    with open(clone / "steps/01_echo/sketch/server.py", "a", encoding="utf-8") as f:
        f.write("# since the pass\n")
    since = invoke(clone, "diff", "01").stdout
    assert since.startswith("Your code when the stage first passed (checkpoint/01_echo) (-),")
    assert "+# since the pass" in since and "protocol.py" not in since


def test_help_of_solve_explains_each_flag(clone: Path):
    shown = invoke(clone, "--help", "solve").stdout
    assert "--file" in shown and "swap in only this module" in shown
    assert "--step" in shown and "your current stage" in shown


def test_without_git_the_tasks_say_where_backups_are_kept(clone: Path, tmp_path: Path):
    root = without_git(clone, tmp_path / "archive")
    solved = invoke(root, "solve", "01")
    assert "not a git repo" in solved.stdout
    listed = invoke(root, "backups", "01").stdout
    assert "backup/01_echo/1" in listed and ".workshop/backups/" in listed
    assert invoke(root, "restore", "01").returncode == 0


def test_a_task_run_repairs_a_swap_that_was_killed_half_way(clone: Path):
    code = "from workshop import manifest, swap; from pathlib import Path; root = Path.cwd(); "
    code += "swap.solve(manifest.find('01_echo', root), root=root)"
    killed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=clone,
        env=env_for(clone, WORKSHOP_FAULT_AFTER="9"),  # after the old tree moved aside
        timeout=30,
    )
    assert killed.returncode < 0
    assert not (clone / "steps/01_echo/sketch").exists()
    repaired = invoke(clone, "progress")
    assert "An interrupted swap of steps/01_echo/sketch was completed" in repaired.stderr
    assert (clone / "steps/01_echo/sketch/protocol.py").exists()


def test_watch_reruns_check_when_a_file_of_the_stage_changes(clone: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", "watch", "01"],
        cwd=clone,
        env=env_for(clone, WORKSHOP_WATCH_RUNS="2", WORKSHOP_WATCH_IDLE="20"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    seen: list[str] = []

    def runs() -> int:
        while not lines.empty():
            seen.append(lines.get())
        return sum("Watching steps/01_echo/ for changes" in line for line in seen)

    try:
        deadline = time.monotonic() + 30
        while runs() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runs() == 1, "the first check never finished:\n" + "".join(seen)
        target = clone / "steps/01_echo/sketch/protocol.py"
        # The watcher may start a moment after the line above: touch until it notices.
        while runs() < 2 and time.monotonic() < deadline:
            target.write_text(target.read_text(encoding="utf-8") + "\n", encoding="utf-8")
            time.sleep(0.3)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert runs() == 2, "".join(seen)
    headers = [line for line in seen if re.match(r"\d\d:\d\d:\d\d invoke check 01_echo", line)]
    assert len(headers) == 2, "".join(seen)
