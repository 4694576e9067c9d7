"""`invoke grade-class`: a class of twenty local repositories graded from the instructor's side,
one row each, every flag in place, within the time the issue allows (5 minutes, 2 cores)."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests import payloads
from tests.test_fingerprint import HONEST_01, HONEST_02, strip_comments, write_todos
from tests.test_grading import clone_to, run_invoke
from tests.test_instructor import commit_all, git, template_copy
from workshop import classgrade, graderlock, manifest, sandbox

STAGES = ("01_echo", "02_parsing")
# What each student did, and what their row must say: (points, flags).
KINDS = {
    "partial": (10, []),
    "full": (20, []),
    "solve": (0, ["reference:01_echo", "reference:02_parsing"]),
    "copied": (0, ["reference:01_echo", "reference:02_parsing"]),
    "resembles": (20, ["resembles:01_echo", "resembles:02_parsing"]),
    "hangs": (0, ["timeout:01_echo", "timeout:02_parsing"]),
    "untouched": (0, []),
    "unfetchable": (0, ["fetch-failed"]),
    # issue 13's table: a report rewritten (well-formed or not), fake workflow commands
    "forges": (0, ["report:01_echo"]),
    "misshapes": (0, ["report:01_echo"]),
    "announces": (0, ["commands:01_echo"]),
}
SANDBOXED = sandbox.unavailable() is None


def expected_row(kind: str) -> tuple[float, list[str]]:
    """KINDS[kind] as graded here: in the sandbox a forged report never reaches the judge
    (nothing to flag, nothing gained); without one every graded row says so."""
    points, flags = KINDS[kind]
    if SANDBOXED and kind in ("forges", "misshapes"):
        flags = []
    if not SANDBOXED and kind != "unfetchable":
        flags = ["not-sandboxed", *flags]
    return points, sorted(flags)


CLASS = (["partial"] * 3 + ["full"] * 3 + ["solve"] * 2 + ["copied"] * 2 + ["resembles"] * 2
         + ["hangs"] * 2 + ["untouched", "unfetchable", "forges", "misshapes", "announces"]
         + ["solve"])  # fmt: skip


def make_student(kind: str, base: Path, target: Path) -> str:
    """A learner's repository of KIND at TARGET (a clone of BASE); its roster URL."""
    if kind == "unfetchable":
        return str(target / "never-pushed.git")
    git(target.parent, "clone", "-q", str(base), target.name)
    steps = target / "steps"
    if kind in ("partial", "full"):
        write_todos(steps / "01_echo" / "sketch", "01_echo", HONEST_01)
    if kind == "full":
        write_todos(steps / "02_parsing" / "sketch", "02_parsing", HONEST_02)
    if kind == "solve":
        for stage in STAGES:
            done = subprocess.run([sys.executable, "-m", "invoke", "solve", stage], cwd=target,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
    if kind in ("copied", "resembles"):
        for stage in STAGES:
            shutil.rmtree(steps / stage / "sketch")
            shutil.copytree(target / "solutions" / stage / "sketch", steps / stage / "sketch")
            if kind == "resembles":
                for path in (steps / stage / "sketch").glob("*.py"):
                    path.write_text(strip_comments(path.read_text()))
                subprocess.run([sys.executable, "-m", "ruff", "format", "-q", "--no-cache",
                                str(steps / stage / "sketch")], check=True)  # fmt: skip
    if kind in ("forges", "misshapes"):
        stage = manifest.find("01", target)
        nodeid = graderlock.expected_tests(stage, target)[0]
        payloads.plant(steps / "01_echo" / "sketch",
                       payloads.forged_report(nodeid, well_formed=kind == "forges"))  # fmt: skip
    if kind == "announces":
        payloads.plant(steps / "01_echo" / "sketch", payloads.fake_announcements())
    if kind == "hangs":  # the server never gets as far as `Serving on`
        for stage in STAGES:
            (steps / stage / "sketch" / "__main__.py").write_text(
                "import time\n\nwhile True:\n    time.sleep(1)\n"
            )
    commit_all(target, f"{kind} work")
    return str(target)


@pytest.fixture(scope="module")
def trusted(tmp_path_factory) -> Path:
    repo = clone_to(tmp_path_factory.mktemp("instructor") / "workshop")
    commit_all(repo, "the workshop as it is being written")
    return repo


def test_grade_class_help_names_the_classroom_export_that_holds_the_urls(trusted):
    done = run_invoke(trusted, "--help", "grade-class")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "student_repository_url" in text and "gh classroom assignment-" in text
    assert "student roster CSV has none" in text


@pytest.mark.slow  # about a minute on 2 cores; CI runs it (.ci/run deselects nothing)
def test_a_class_of_twenty_repositories_gets_one_right_row_each(trusted, tmp_path):
    base = template_copy(trusted, tmp_path / "template")
    students = tmp_path / "students"
    students.mkdir()
    roster = ["assignment_name,assignment_url,starter_code_url,github_username,"
              "roster_identifier,student_repository_name,student_repository_url,"
              "submission_timestamp,points_awarded,points_available"]  # fmt: skip
    expected = {}
    for number, kind in enumerate(CLASS, start=1):
        name = f"{kind}-{number:02d}"
        url = make_student(kind, base, students / name)
        roster.append(f"sketch,,,{name},,{name},{url},,,")
        expected[name] = expected_row(kind)
    (tmp_path / "grades.csv").write_text("\n".join(roster) + "\n")

    out = tmp_path / "marks"
    started = time.monotonic()
    done = run_invoke(trusted, "grade-class", str(tmp_path / "grades.csv"), "--out", str(out),
                      "--only", ",".join(STAGES), "--stage-timeout", "8", "--jobs", "2",
                      timeout=300)  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert elapsed < 300, f"grading the class took {elapsed:.0f} s"
    print(f"grade-class of {len(CLASS)} repositories: {elapsed:.1f} s")

    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(classgrade.COLUMNS)
    assert [r["identifier"] for r in rows] == list(expected), "one row each, in roster order"
    wrong = {
        r["identifier"]: (r["points"], r["flags"], r["note"])
        for r in rows
        if (float(r["points"]), sorted(r["flags"].split())) != (expected[r["identifier"]][0],
                                                               expected[r["identifier"]][1])
    }  # fmt: skip
    assert not wrong, wrong
    assert all(r["max"] == "20" for r in rows)
    fetched = classgrade.read_fetched(out)
    for row in rows:
        if row["flags"] == "fetch-failed":
            assert row["commit"] == "" and "could not fetch" in row["note"]
            continue
        head = git(students / row["identifier"], "rev-parse", "HEAD").strip()
        assert row["commit"] == head == fetched[row["identifier"]]["commit"]
        report = out / "reports" / row["identifier"]
        assert (report / "summary.md").is_file() and (report / "grade.json").is_file()
    assert "reference solution" in (out / "reports" / "solve-07" / "summary.md").read_text()
    summary = (out / "reports" / "announces-19" / "summary.md").read_text()
    assert "<script>" not in summary and "&lt;script&gt;" in summary


def test_shards_merge_back_into_one_csv_in_roster_order(tmp_path):
    rows = [classgrade.Entry(f"s{i}", f"/nowhere/s{i}") for i in range(5)]
    parts = []
    for index in (1, 2):
        part = tmp_path / f"part-{index}"
        part.mkdir()
        mine = classgrade.shard(rows, f"{index}/2")
        classgrade.write_rows([classgrade.Row(e.identifier, 1.0, 2.0) for e in mine],
                              part / "grades.csv")  # fmt: skip
        parts.append(part)
    merged = classgrade.merge(rows, classgrade.parts_of(str(tmp_path / "part-*")), tmp_path / "m")
    assert [r.identifier for r in merged] == [e.identifier for e in rows]
    assert all(r.points == 1.0 for r in merged)
    with pytest.raises(classgrade.RosterError):
        classgrade.shard(rows, "3/2")


def test_the_matrix_workflow_fans_out_fetches_with_the_token_apart_and_passes_actionlint():
    path = Path(__file__).parent.parent / ".github" / "workflows" / "grade-class.yml"
    workflow = yaml.safe_load(path.read_text())
    jobs = workflow["jobs"]
    assert (
        jobs["grade"]["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    )
    assert jobs["merge"]["needs"] == "grade" and jobs["merge"]["if"] == "always()"
    steps = jobs["grade"]["steps"]
    with_token = [s for s in steps if "CLASSROOM_TOKEN" in str(s.get("env", {}))]
    assert len(with_token) == 1 and "--step fetch" in with_token[0]["run"]
    assert any("--step grade" in s.get("run", "") for s in steps)
    assert "--merge 'parts/*'" in jobs["merge"]["steps"][-2]["run"]
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (.ci/run installs it)")
    done = subprocess.run([actionlint, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
