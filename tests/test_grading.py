"""`invoke grade`: scores, time limits, trusted tests, and every output format."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from junitparser import JUnitXml, SystemErr

from workshop import files, grading, manifest

ROOT = manifest.ROOT
TOOLING = ("workshop", "tasks.py", "pyproject.toml", "grader.lock")


def clone_to(target: Path) -> Path:
    """A clone of the committed workshop, with this tree's tooling (committed or not) on top.

    Stage folders come from the commit only: other people's half-written stages in the
    working tree do not leak into these tests.
    """
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True, timeout=60)
    for name in TOOLING:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, dirs_exist_ok=True, ignore=files.ignore_caches)
        else:
            shutil.copy2(source, target / name)
    return target


def run_invoke(cwd: Path, *args: str, env: dict | None = None, timeout: float = 120):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "GITHUB_"))}
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
    )


def written(root: Path) -> list[manifest.Stage]:
    return [s for s in manifest.stages(root) if s.is_written(root)]


def solve(root: Path, stages: list[manifest.Stage]) -> None:
    """Swap each stage's skeleton for its reference solution."""
    for stage in stages:
        shutil.rmtree(stage.step_dir(root) / "sketch")
        shutil.copytree(stage.solution_dir(root) / "sketch", stage.step_dir(root) / "sketch")


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    return clone_to(tmp_path_factory.mktemp("shipped") / "repo")


@pytest.fixture(scope="module")
def graded(shipped, tmp_path_factory):
    """The shipped tree graded once with every output on, as CI would."""
    out = tmp_path_factory.mktemp("grade")
    github = {"GITHUB_STEP_SUMMARY": str(out / "step-summary.md"),
              "GITHUB_OUTPUT": str(out / "github-output")}  # fmt: skip
    started = time.monotonic()
    done = run_invoke(
        shipped,
        "grade",
        "--jobs",
        "4",
        "--format",
        "json,junit,github,summary",
        "--out",
        str(out),
        env=github,
    )
    return done, out, time.monotonic() - started


def test_grading_the_shipped_skeletons_gives_zero_points_within_a_minute(shipped, graded):
    done, out, elapsed = graded
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "grade.json").read_text())
    assert result["score"] == 0, [(s["id"], s["points"]) for s in result["stages"]]
    assert result["max_score"] == sum(s.points for s in written(shipped)) > 0
    assert result["totals"]["passed"] == 0
    assert f"Score: 0 / {result['max_score']:g} points" in done.stdout
    for name in ("grade.json", "junit.xml", "classroom.json", "classroom.b64", "summary.md"):
        assert (out / name).is_file(), f"invoke grade did not write {name}"
    assert elapsed < 60, f"grading the skeletons took {elapsed:.0f} s"


def test_grade_json_validates_against_its_committed_schema(graded):
    _, out, _ = graded
    schema = json.loads(grading.SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    result = json.loads((out / "grade.json").read_text())
    jsonschema.validate(result, schema)
    assert result["commit"] and len(result["commit"]) == 40
    statuses = {t["status"] for s in result["stages"] for t in s["tests"]}
    assert statuses <= {"fail", "error", "timeout"}, statuses


def test_junit_has_a_suite_per_stage_and_the_same_counts_as_the_json(graded):
    _, out, _ = graded
    result = json.loads((out / "grade.json").read_text())
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    suites = {suite.name: suite for suite in xml}
    graded_stages = [s for s in result["stages"] if s["status"] != "not written"]
    assert sorted(suites) == [s["id"] for s in graded_stages]
    totals = result["totals"]
    assert sum(s.tests for s in suites.values()) == totals["tests"]
    assert sum(s.failures for s in suites.values()) == totals["failed"] + totals["timeouts"]
    assert sum(s.errors for s in suites.values()) == totals["errors"]
    for stage in graded_stages:
        assert suites[stage["id"]].tests == len(stage["tests"])


def test_junit_says_each_outcome_as_junit_readers_expect_and_holds_what_xml_cannot():
    test = grading.TestGrade
    tests = [
        test("test_passes", "t::a", "steps/01_echo/tests/test_x.py", "pass", "", 0.1234, 1),
        test("test_fails", "t::b", "steps/01_echo/tests/test_x.py", "fail", "got 1\n<&>", 0.5, 0),
        test("test_hangs", "t::c", "steps/01_echo/tests/test_x.py", "timeout", "slow", 2.0, 0),
        test("test_breaks", "t::d", "", "error", "bad \x00 byte", 0.0, 0),
        test("test_skips", "t::e", "steps/01_echo/tests/test_y.py", "skip", "no browser", 0, 0),
    ]
    stages = [
        grading.StageGrade("01_echo", "Echo", "partial", 2.5, 10, 3.25, tests, ["changed: t.py"]),
        grading.StageGrade("02_parsing", "Parsing", "not written", 0, 0, 0.0),
    ]
    result = grading.Grade(2.5, 10, stages, None, "2025-01-01T00:00:00+00:00", "r", None, 9.5)
    (suite,) = JUnitXml.fromstring(grading.to_junit(result))
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped, suite.time) == (
        "01_echo", 5, 2, 1, 1, 3.25), "the stage's counts, and its run's time"  # fmt: skip
    properties = {p.name: p.value for p in suite.properties()}
    assert properties["points"] == "2.5" and properties["tests_edited"] == "changed: t.py"
    assert properties["sandbox"] == "not sandboxed"
    cases = {case.name: case for case in suite}
    assert cases["test_passes"].is_passed and cases["test_passes"].classname == "01_echo.test_x"
    (failure,) = cases["test_fails"].result
    assert (failure.type, failure.message, failure.text) == ("failure", "got 1", "got 1\n<&>")
    assert cases["test_hangs"].result[0].type == "timeout"
    assert cases["test_breaks"].is_error and cases["test_breaks"].classname == "01_echo.stage"
    assert cases["test_breaks"].result[0].text == "bad \\x00 byte", "XML 1.0 has no NUL"
    assert cases["test_skips"].is_skipped
    assert "tests edited: changed: t.py" in suite.child(SystemErr).text


def test_classroom_result_decodes_to_the_fields_the_reporter_reads(graded):
    _, out, _ = graded
    result = json.loads((out / "grade.json").read_text())
    encoded = (out / "classroom.b64").read_text().strip()
    outputs = dict(line.split("=", 1) for line in (out / "github-output").read_text().splitlines())
    assert outputs["result"] == encoded, "the step output must carry the same result"
    classroom = json.loads(base64.b64decode(encoded))
    assert classroom == json.loads((out / "classroom.json").read_text())
    assert classroom["version"] == 1
    assert classroom["status"] in ("pass", "fail", "error")
    assert classroom["max_score"] == result["max_score"]
    fields = {"name", "status", "score", "message", "test_code", "filename", "line_no"}
    for test in classroom["tests"]:
        assert fields <= test.keys(), fields - test.keys()
    assert sum(t["score"] for t in classroom["tests"]) == result["score"]


def test_step_summary_gets_a_markdown_table_of_stages_and_points(graded):
    _, out, _ = graded
    result = json.loads((out / "grade.json").read_text())
    summary = (out / "step-summary.md").read_text()
    assert summary.strip() == (out / "summary.md").read_text().strip()
    assert "| stage | title | tests passed | points | status |" in summary
    for stage in result["stages"]:
        assert f"| {stage['id']} |" in summary
    assert f"**0 / {result['max_score']:g}**" in summary


def test_min_score_fails_the_job_only_when_asked(shipped):
    first = written(shipped)[0].id
    assert run_invoke(shipped, "grade", "--only", first).returncode == 0
    done = run_invoke(shipped, "grade", "--only", first, "--min-score", "1")
    assert done.returncode == 1
    assert "below --min-score 1" in done.stdout


def test_stages_swapped_to_their_solution_score_zero_and_say_reference_solution(tmp_path):
    repo = clone_to(tmp_path / "repo")
    swapped = written(repo)[::4]  # a few, early and late (every stage: the test below)
    solve(repo, swapped)
    result = grading.grade(repo, jobs=4, only=[s.id for s in swapped])
    assert result.score == 0 < result.max_score
    for stage in (s for s in result.stages if s.status != "not written"):
        assert (stage.status, stage.verdict, stage.flags) == ("reference", "reference",
                                                              ["reference"]), stage.id  # fmt: skip
        assert "reference solution" in stage.note and stage.points == 0
        assert stage.tests[-1].name == "(reference solution)"
    summary = grading.to_summary(result)
    assert "🚫 reference solution" in summary and "**0 / " in summary
    classroom = grading.to_classroom(result)
    assert sum(t["score"] for t in classroom["tests"]) == 0
    assert all("reference solution" in t["message"] for t in classroom["tests"])
    for suite in JUnitXml.fromstring(grading.to_junit(result)):
        properties = {p.name: p.value for p in suite.properties()}
        assert (properties["verdict"], properties["points"]) == ("reference", "0"), suite.name


def test_counting_references_shows_the_maximum_and_keeps_the_flags(tmp_path):
    repo = clone_to(tmp_path / "repo")
    solve(repo, written(repo))
    result = grading.grade(repo, jobs=4, count_references=True)
    missing = [(s.id, s.points, s.max_points, s.status) for s in result.stages
               if s.points != s.max_points]  # fmt: skip
    assert result.score == result.max_score > 0, missing
    assert result.count_references and all(f.startswith("reference:") for f in result.flags)
    assert len(result.flags) == len(written(repo))


def test_stages_01_to_04_solved_get_exactly_their_points(tmp_path):
    repo = clone_to(tmp_path / "repo")
    early = [s for s in written(repo) if s.number <= 4]
    later = [s for s in written(repo) if s.number > 4][:1]  # one unsolved stage beside them
    solve(repo, early)
    only = [s.id for s in early + later]
    result = grading.grade(repo, jobs=4, only=only, count_references=True)
    assert result.score == sum(s.points for s in early)
    points = {s.id: s.points for s in result.stages if s.status != "not written"}
    assert points == {**{s.id: s.points for s in early}, **{s.id: 0 for s in later}}


def test_a_stage_whose_server_hangs_times_out_and_grading_stays_within_the_limits(tmp_path):
    repo = clone_to(tmp_path / "repo")
    hanging = written(repo)[:2]
    for stage in hanging:  # the server never gets as far as `Serving on`
        main = stage.step_dir(repo) / "sketch" / "__main__.py"
        main.write_text("import time\n\nwhile True:\n    time.sleep(1)\n")
    limit = 3.0
    started = time.monotonic()
    result = grading.grade(repo, stage_timeout=limit, jobs=1, only=[s.id for s in hanging])
    elapsed = time.monotonic() - started
    assert elapsed < limit * len(hanging) + 3, f"grading took {elapsed:.1f} s"
    for stage in (s for s in result.stages if s.status != "not written"):
        assert stage.status == "timeout", (stage.id, stage.status)
        assert stage.count("timeout") >= 1
        assert stage.points == 0
    jsonschema.validate(json.loads(grading.to_json(result)), json.loads(grading.SCHEMA.read_text()))
    if shutil.which("pgrep"):
        left = subprocess.run(["pgrep", "-f", str(repo)], capture_output=True, text=True)
        assert not left.stdout.strip(), "a learner's server outlived its stage"


def test_edited_tests_are_replaced_by_the_trusted_ones_and_reported(shipped, tmp_path):
    learner = clone_to(tmp_path / "learner")
    stage = written(learner)[0]
    for test_file in stage.tests_dir(learner).glob("test_*.py"):
        test_file.write_text("def test_everything_passes():\n    pass\n")
    out = tmp_path / "out"
    # As the Classroom workflow runs it: the trusted checkout's tasks, tests and harness.
    done = run_invoke(
        learner, "--search-root", str(shipped), "grade", "--repo", str(learner),
        "--tests-from", str(shipped), "--only", stage.id, "--format", "all", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "grade.json").read_text())
    (graded_stage,) = [s for s in result["stages"] if s["id"] == stage.id]
    assert graded_stage["points"] == 0, "the trusted tests must fail the untouched skeleton"
    assert graded_stage["tests_edited"] and result["tests_edited"] is True
    assert "tests edited" in done.stdout
    assert "tests edited" in (out / "summary.md").read_text().lower()
    assert "tests edited" in (out / "junit.xml").read_text()
    assert "tests edited" in json.loads((out / "classroom.json").read_text())["tests"][0]["message"]
    # Graded with their own edited tests instead, they would pass, and still be flagged.
    own = grading.grade(learner, only=[stage.id])
    assert own.score == stage.points and own.tests_edited


def workflow_grade_command() -> str:
    """The `invoke grade` command line of .github/workflows/classroom.yml (a folded block)."""
    lines = (ROOT / ".github" / "workflows" / "classroom.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "id: grade")
    run = next(i for i in range(start, len(lines)) if lines[i].strip() == "run: >-")
    indent = len(lines[run + 1]) - len(lines[run + 1].lstrip())
    words = []
    for line in lines[run + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        words.append(line.strip())
    return " ".join(w for w in words if w)
