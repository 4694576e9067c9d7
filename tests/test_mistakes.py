"""Known mistakes, proven caught (issue 16): the proofs, and `invoke verify --mistakes`.

Each known mistake (`#: mistake` in source/sketch, docs/DEVELOPING.md) is swapped into its
stage's reference and judged by workshop/mistakes.py. These tests check the judge on runs
made by hand, and, in a clone, that verify fails on a mistake no test can catch.
"""

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, invoke
from workshop import build, manifest, mistakes, runner
from workshop.tasks.core import report_failure

MISTAKE = build.Mistake("wrong", "params", "sketch/router.py", "Resource.match", "matches less")
LOOK = "sketch/router.py: Resource.match (fullmatch, not match or search)"


def run_of(*results: runner.TestResult) -> runner.StageRun:
    run = runner.StageRun(manifest.find("05"), ROOT / "solutions" / "05_params")
    run.tests, run.finished = list(results), True
    run.exit_code = 0 if all(t.ok for t in results) else 1
    return run


def failed(message: str, output: str = "") -> runner.TestResult:
    return runner.TestResult("t.py::test_x", "test_x", "t.py", "fail", message, output)


def passed(name: str = "test_ok") -> runner.TestResult:
    return runner.TestResult(f"t.py::{name}", name, "t.py", "pass")


@pytest.mark.parametrize(
    "look",
    [
        LOOK,
        "sketch/router.py: Resource.match",
        "sketch/app.py: Application.handle and sketch/router.py: Resource.match, in turn",
    ],
)
def test_a_look_at_line_naming_the_file_and_function_points_to_the_mistake(look):
    verdict = mistakes.judge(
        MISTAKE, run_of(passed(), failed(f"no\n  look at:  {look}")), report_failure
    )
    assert verdict.caught, verdict.problems
    assert verdict.first_failure == "test_x"


@pytest.mark.parametrize(
    ("look", "problem"),
    [
        ("sketch/router.py: compile_path", "points to sketch/router.py: compile_path, not"),
        ("sketch/app.py: Resource.match", "points to"),  # the function, in another file
        ("sketch/router.py: Resource.matches", "points to"),  # whole words only
        (None, "fails without a pointer"),
    ],
)
def test_a_pointer_elsewhere_or_none_is_a_problem(look, problem):
    message = "wrong" + (f"\n  look at:  {look}" if look else "")
    verdict = mistakes.judge(MISTAKE, run_of(failed(message)), report_failure)
    assert not verdict.caught
    assert problem in verdict.problems[0]


def test_a_todo_is_a_pointer_too():
    todo = "NotImplementedError: 05_params: sketch/router.py: Resource.match: Match it."
    assert mistakes.judge(MISTAKE, run_of(failed(todo)), report_failure).caught


def test_a_stage_that_passes_has_not_caught_the_mistake():
    verdict = mistakes.judge(MISTAKE, run_of(passed(), passed("test_two")), report_failure)
    assert verdict.problems == ["not caught: every test passes with this mistake in place"]


def test_a_traceback_of_the_workshops_own_code_is_a_problem():
    trace = 'Traceback (most recent call last):\n  File "/x/workshop/harness.py", line 3, in f'
    verdict = mistakes.judge(
        MISTAKE, run_of(failed(f"boom\n  look at:  {LOOK}", trace)), report_failure
    )
    assert verdict.problems == [
        'the workshop\'s own code printed a traceback: File "/x/workshop/harness.py", line 3'
    ]
    learner = 'Traceback (most recent call last):\n  File "sketch/router.py", line 3, in match'
    assert mistakes.judge(
        MISTAKE, run_of(failed(f"boom\n  look at:  {LOOK}", learner)), report_failure
    ).caught


def test_a_failure_the_grader_does_not_count_is_a_problem():
    run = run_of(failed(f"wrong\n  look at:  {LOOK}"))
    run.finished = False  # a report cut short: the grader scores 0 and flags it
    verdict = mistakes.judge(MISTAKE, run, report_failure)
    assert any(problem.startswith("graded 0 of 10") for problem in verdict.problems)


def test_every_stage_declares_at_least_five_known_mistakes_each_described():
    counts = {stage.name: 0 for stage in manifest.stages()}
    for mistake in build.mistakes():
        counts[mistake.stage] += 1
        assert mistake.description, f"{mistake.name}: say what the learner did wrong"
    assert all(n >= 5 for n in counts.values()), counts


def test_every_known_mistake_changes_its_file_of_its_stages_reference_and_no_other():
    known = build.mistakes()
    changed = build.with_mistakes(known)
    for mistake in known:
        stage = mistakes.stage_of(mistake)
        name = mistake.file.removeprefix("sketch/")
        assert list(changed[mistake.name]) == [name], mistake
        reference = (stage.solution_dir() / mistake.file).read_text(encoding="utf-8")
        assert changed[mistake.name][name] != reference, f"{mistake.name} changes nothing"
        compile(changed[mistake.name][name], mistake.name, "exec")
    # Every other file stays the stage's reference (so verify copies those as built).
    parsed, stages = build.sources(), list(manifest.stages())
    for mistake in known:
        index = next(i for i, s in enumerate(stages) if s.name == mistake.stage)
        rendered = [
            build._stage_files(parsed, index, stages[index], False, wrong, "x")
            for wrong in (None, mistake.name)
        ]
        differ = [f for f in rendered[0] if rendered[0][f] != rendered[1][f]]
        assert differ == [f"x/{mistake.file}"], mistake


UNCATCHABLE = """

#: mistake announces-another-way: announce in echo
#:     prints the same line by other means: no test can tell it from the reference
def announce_another_way(server: asyncio.Server) -> None:
    host, port = server.sockets[0].getsockname()[:2]
    print("Serving on http://" + f"{host}:{port}", flush=True)
"""


def test_verify_fails_on_a_known_mistake_that_no_test_catches(clone: Path):
    shutil.copytree(ROOT / "source", clone / "source", dirs_exist_ok=True)
    server = clone / "source" / "sketch" / "server.py"
    text = server.read_text(encoding="utf-8")
    end = text.index("\n\n#: until routing")
    server.write_text(text[:end] + UNCATCHABLE + text[end:], encoding="utf-8")

    done = invoke(clone, "verify", "01", "--mistakes", timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "✗ 01_echo announces-another-way: not caught" in out, out
    assert "known mistake 'announces-another-way'" in out, out
    others = [m for m in build.mistakes() if m.stage == "echo"]
    for mistake in others:  # the others are still proven, each with its pointer
        assert f"✓ 01_echo {mistake.name}: {mistake.pointer}, by test_" in out, out
    assert f"{len(others)} of {len(others) + 1} known mistakes caught" in out, out
    assert "Traceback" not in out, out
