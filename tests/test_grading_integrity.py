"""A grade counts only the learner's own work (issue 13's table), graded as the Classroom
workflow grades it: the trusted checkout's `invoke grade` on the learner's repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import payloads
from tests.test_fingerprint import HONEST_01, write_todos
from tests.test_grading import ROOT, clone_to, workflow_grade_command
from workshop import git, graderlock, manifest

WORKFLOW = ROOT / ".github" / "workflows" / "classroom.yml"


@pytest.fixture(scope="module")
def trusted(tmp_path_factory) -> Path:
    return clone_to(tmp_path_factory.mktemp("trusted") / "upstream")


def learner_with(trusted: Path, where: Path) -> Path:
    learner = clone_to(where)
    (learner / ".trusted").symlink_to(trusted)
    return learner


def workflow_grade(learner: Path, *extra: str, env: dict | None = None):
    """The workflow's grading step, run by bash in LEARNER as on GitHub Actions."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "GITHUB_"))}
    env = {
        **clean,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "GITHUB_ACTIONS": "true",
        "UPSTREAM_REPOSITORY": "teacher/workshop-edition",
        "UPSTREAM_REF": "v1",
        **(env or {}),
    }
    command = " ".join([workflow_grade_command(), *extra])
    done = subprocess.run(["bash", "-c", command], cwd=learner, env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip
    results = learner / "grade-results"
    graded = json.loads((results / "grade.json").read_text()) if done.returncode == 0 else None
    return done, graded, results


def stage_of(graded: dict, stage_id: str) -> dict:
    return next(s for s in graded["stages"] if s["id"] == stage_id)


# --- the table's rows ----------------------------------------------------------------------


def test_invoke_solve_then_commit_scores_zero_and_says_reference_solution(trusted, tmp_path):
    learner = learner_with(trusted, tmp_path / "learner")
    for stage in ("01", "02"):
        done = subprocess.run([sys.executable, "-m", "invoke", "solve", stage], cwd=learner,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    subprocess.run(["git", "-c", "user.name=L", "-c", "user.email=l@example.com", "commit",
                    "-qam", "solved"], cwd=learner, check=True)  # fmt: skip
    done, graded, results = workflow_grade(learner, "--only 01,02")
    assert done.returncode == 0, done.stdout + done.stderr
    assert graded["score"] == 0 and graded["max_score"] == 20
    for stage_id in ("01_echo", "02_parsing"):
        stage = stage_of(graded, stage_id)
        assert (stage["status"], stage["points"], stage["flags"]) == ("reference", 0, ["reference"])
        assert f"reference:{stage_id}" in graded["flags"]
    assert "reference solution" in done.stdout
    assert "🚫 reference solution" in (results / "summary.md").read_text()
    assert graded["upstream"] == {"repository": "teacher/workshop-edition", "ref": "v1",
                                  "commit": git.commit_of(trusted)}  # fmt: skip


def test_a_copied_solutions_folder_scores_zero_and_says_reference_solution(trusted, tmp_path):
    learner = learner_with(trusted, tmp_path / "learner")
    stage = manifest.find("03", learner)
    shutil.rmtree(stage.step_dir(learner) / "sketch")
    shutil.copytree(stage.solution_dir(learner) / "sketch", stage.step_dir(learner) / "sketch")
    done, graded, _ = workflow_grade(learner, "--only 03")
    assert done.returncode == 0, done.stdout + done.stderr
    graded_stage = stage_of(graded, stage.id)
    assert graded_stage["status"] == "reference" and graded_stage["points"] == 0
    assert graded_stage["tests"][-1]["name"] == "(reference solution)"
    # The instructor can still see the maximum, and clear the flag for this learner.
    counted, graded, _ = workflow_grade(learner, "--only 03 --count-references")
    assert stage_of(graded, stage.id)["points"] == 10, counted.stdout
    assert stage_of(graded, stage.id)["flags"] == ["reference"]
    cleared, graded, _ = workflow_grade(learner, "--only 03 --clear 03")
    assert stage_of(graded, stage.id)["points"] == 10, cleared.stdout
    assert stage_of(graded, stage.id)["flags"] == ["cleared"]


@pytest.mark.parametrize("well_formed", [True, False], ids=["one-passing-test", "another-shape"])
def test_a_report_rewritten_by_the_learners_code_scores_zero_and_says_why(
    trusted, tmp_path, well_formed
):
    learner = learner_with(trusted, tmp_path / "learner")
    stage = manifest.find("01", learner)
    nodeid = graderlock.expected_tests(stage, learner)[0]
    payloads.plant(stage.step_dir(learner) / "sketch", payloads.forged_report(nodeid, well_formed))
    # Outside the sandbox the learner's server can find the judge and its report (inside it,
    # it cannot: tests/test_attacks.py); the report's signature gives the forgery away.
    done, graded, _ = workflow_grade(learner, "--only 01", "--sandbox off")
    assert done.returncode == 0, done.stdout + done.stderr  # a grade, never a crash
    graded_stage = stage_of(graded, stage.id)
    assert graded_stage["points"] == 0, graded_stage
    assert graded_stage["flags"] == ["report"], graded_stage["note"]
    assert graded_stage["status"] == "error"
    assert re.search(r"tampered with", graded_stage["note"]), graded_stage["note"]


def test_no_dispatch_input_can_repoint_the_trusted_source_and_the_learners_own_is_refused():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert not (on.get("workflow_dispatch") or {}).get("inputs"), "no input may choose the tests"
    job = workflow["jobs"]["run-autograding-tests"]
    assert job["env"]["UPSTREAM_REPOSITORY"] == "${{ vars.WORKSHOP_UPSTREAM }}"
    assert "inputs." not in WORKFLOW.read_text()
    check = next(s for s in job["steps"] if s.get("name") == "Check the trusted repository")
    assert check["env"]["LEARNER_REPOSITORY"] == "${{ github.repository }}"
    script = check["run"]
    for same, code in (("me/ws", 1), ("other/ws", 0)):
        env = {"UPSTREAM_REPOSITORY": same.upper(), "LEARNER_REPOSITORY": "me/ws",
               "PATH": os.environ["PATH"]}  # fmt: skip
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
        assert done.returncode == code, (same, done.stdout)
    checkouts = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout")]
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)
    assert '--upstream "$UPSTREAM_REPOSITORY"' in workflow_grade_command()
    assert '--upstream-ref "$UPSTREAM_REF"' in workflow_grade_command()


def test_fake_workflow_commands_and_html_from_the_learner_stay_inert(trusted, tmp_path):
    learner = learner_with(trusted, tmp_path / "learner")
    stage = manifest.find("01", learner)
    payloads.plant(stage.step_dir(learner) / "sketch", payloads.fake_announcements())
    summary, output = tmp_path / "step-summary.md", tmp_path / "step-output"
    # Outside the sandbox, where the learner's process can also write into the grader's log.
    done, graded, results = workflow_grade(
        learner,
        "--only 01",
        "--sandbox off",
        env={
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_TOKEN": "ghs_secret",
        },  # fmt: skip
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert graded["score"] == 0
    assert graded["flags"] == ["not-sandboxed", "commands:01_echo"], graded["flags"]
    # The log: every fake line sits where workflow commands are stopped.
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("::stop-commands::"))
    token = lines[start].split("::")[2]
    end = lines.index(f"::{token}::")
    fakes = [i for i, line in enumerate(lines) if "::notice" in line or "<script>" in line]
    assert fakes, "the learner's lines should reach the log (inert), not vanish"
    assert all(start < i < end for i in fakes), done.stdout
    assert token not in "".join(lines[start + 1 : end])
    # The summary page and the step outputs: nothing forged, the learner's text escaped.
    text = summary.read_text()
    assert "forged" not in text and "<script>" not in text
    assert "&lt;script&gt;" in text, text
    assert text.strip() == (results / "summary.md").read_text().strip()
    assert "forged" not in output.read_text()
    assert {line.split("=")[0] for line in output.read_text().splitlines()} == {
        "result", "score", "max-score"}  # fmt: skip
    # The Classroom reporter prints these messages in the log: no command survives in them.
    classroom = json.loads((results / "classroom.json").read_text())
    for test in classroom["tests"]:
        for line in test["message"].splitlines():
            assert not line.lstrip().startswith("::") and "##[" not in line, line


# --- near copies and honest work -----------------------------------------------------------


def test_a_reformatted_copy_without_comments_keeps_its_points_and_is_flagged(trusted, tmp_path):
    from tests.test_fingerprint import strip_comments

    learner = learner_with(trusted, tmp_path / "learner")
    stage = manifest.find("02", learner)
    sketch = stage.step_dir(learner) / "sketch"
    shutil.rmtree(sketch)
    shutil.copytree(stage.solution_dir(learner) / "sketch", sketch)
    for path in sketch.glob("*.py"):
        path.write_text(strip_comments(path.read_text()))
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", "--no-cache", str(sketch)],
                   check=True, timeout=60)  # fmt: skip
    done, graded, _ = workflow_grade(learner, "--only 02")
    assert done.returncode == 0, done.stdout + done.stderr
    graded_stage = stage_of(graded, stage.id)
    assert graded_stage["points"] == 10 and graded_stage["flags"] == ["resembles"]
    assert "resembles the reference" in graded_stage["note"]
    assert "resembles the reference" in done.stdout


def test_an_honest_stage_01_written_from_the_hints_gets_full_points_unflagged(trusted, tmp_path):
    learner = learner_with(trusted, tmp_path / "learner")
    write_todos(learner / "steps" / "01_echo" / "sketch", "01_echo", HONEST_01)
    done, graded, _ = workflow_grade(learner, "--only 01")
    assert done.returncode == 0, done.stdout + done.stderr
    graded_stage = stage_of(graded, "01_echo")
    assert (graded_stage["points"], graded_stage["flags"]) == (10, []), graded_stage
    assert graded["flags"] == []


# --- the report and the trusted checkout -----------------------------------------------------


def test_a_trusted_checkout_changed_during_grading_fails_the_whole_grade(tmp_path):
    trusted = clone_to(tmp_path / "trusted")
    learner = learner_with(trusted, tmp_path / "learner")
    stage = manifest.find("01", learner)
    test_file = sorted(stage.tests_dir(trusted).glob("test_*.py"))[0]
    payloads.plant(
        stage.step_dir(learner) / "sketch",
        f"open({str(test_file)!r}, 'a').write('\\ndef test_planted():\\n    pass\\n')\n",
    )
    # Only without the sandbox can it write there (the sandbox binds the trusted tree read-only).
    done, _, results = workflow_grade(learner, "--only 01", "--sandbox off")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "No grade" in done.stdout and test_file.name in done.stdout
    assert "::error title=No grade::" in done.stdout
    assert not (results / "grade.json").exists()
