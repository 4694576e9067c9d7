"""`invoke check`, on a learner's clone: what it says, what it exits with, how fast."""

import shutil
import time

from tests.conftest import invoke


def test_check_on_the_untouched_skeleton_fails_and_names_the_file_and_function(clone):
    started = time.monotonic()
    done = invoke(clone, "check", "01_echo")
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Stage 01_echo" in done.stdout
    assert "Open steps/01_echo/sketch/server.py, start_server" in done.stdout
    assert "TODO: " in done.stdout
    assert "invoke hint 01_echo" in done.stdout
    assert elapsed < 5, f"invoke check took {elapsed:.1f} s; it should answer in about a second"


def test_check_with_a_finished_stage_passes_and_names_the_next_stage(clone):
    step = clone / "steps" / "01_echo" / "sketch"
    shutil.rmtree(step)
    shutil.copytree(clone / "solutions" / "01_echo" / "sketch", step)
    with open(step / "server.py", "a", encoding="utf-8") as mine:
        mine.write("# finished by the learner\n")  # not the reference's tokens any more
    done = invoke(clone, "check", "01")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ Stage 01_echo passed" in done.stdout
    assert "Next: stage 02_parsing" in done.stdout
    assert "steps/02_parsing/README.md" in done.stdout


def test_check_verbose_shows_the_tests_and_no_warning_of_the_workshops_own(clone):
    done = invoke(clone, "check", "01", "--solution", "--verbose")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout  # pytest's own lines, one per test
    assert "warning" not in done.stdout.lower(), done.stdout  # nothing the learner can act on


def test_check_with_the_reference_swapped_in_passes_but_counts_for_nothing(clone):
    step = clone / "steps" / "01_echo" / "sketch"
    shutil.rmtree(step)
    shutil.copytree(clone / "solutions" / "01_echo" / "sketch", step)
    done = invoke(clone, "check", "01")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the reference solution passing" in done.stdout
    assert "invoke restore 01_echo" in done.stdout and "invoke goto 02_parsing" in done.stdout
    assert "Stage 01_echo" in invoke(clone, "check").stdout, "the current stage stays 01"


def test_check_without_a_stage_checks_the_current_one(clone):
    done = invoke(clone, "check")
    assert done.returncode == 1
    assert "Stage 01_echo" in done.stdout


def test_check_names_unknown_stages_and_lists_the_real_ones(clone):
    done = invoke(clone, "check", "99_nope")
    assert done.returncode == 2
    assert "no stage '99_nope'" in done.stderr + done.stdout
    assert "01_echo" in done.stderr + done.stdout


def test_every_task_has_a_docstring_and_help_for_every_argument(clone):
    from invoke import Task

    from workshop.tasks import namespace

    tasks = namespace().tasks
    assert tasks, "no tasks found"
    for name, task in tasks.items():
        assert isinstance(task, Task)
        assert (task.__doc__ or "").strip(), f"invoke {name} has no docstring"
        missing = [a.name for a in task.get_arguments() if not (a.help or "").strip()]
        assert not missing, f"invoke {name}: no help= for {missing}"


def test_help_of_a_task_shows_its_positional_stage(clone):
    shown = invoke(clone, "--help", "check").stdout
    assert "Usage: invoke check [STAGE] [--options]" in shown, shown
    assert "STAGE  the stage: 04, 04_routing or routing" in shown
    listed = invoke(clone, "--list").stdout
    assert "Usage:" not in listed, "the list keeps one line per task"
    assert "invoke goto STAGE [--options]" in invoke(clone, "--help", "goto").stdout
