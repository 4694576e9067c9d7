"""The attacks of issue 14, each as a learner's tree graded with the Classroom command.

Every row: the payload in a learner's repository, `invoke --search-root TRUSTED grade --repo
LEARNER --tests-from TRUSTED`, the attacked stages (untouched skeletons, worth 0) score 0,
an honest stage (03, the learner's own finished code) keeps its 10 points, and the trusted
checkout is unchanged afterwards (compared by the sha256 of every file). With the sandbox
every row holds; with `--sandbox off` the judge still never runs learner code (rows 1, 2, 4,
5 score 0), a killed or rewritten report is flagged as tampered, and a trusted tree that
changed stops the grade (no grade, the file named, exit 3) — and every output says "not
sandboxed".

Set WORKSHOP_REQUIRE_SANDBOX=1 (CI does) to make the sandboxed rows fail, not skip, on a
machine where bubblewrap cannot run.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.test_grading import clone_to, run_invoke
from workshop import files, lock, sandbox

HONEST = "03_responses"
REQUIRED = os.environ.get("WORKSHOP_REQUIRE_SANDBOX") == "1"

# Row 1: the learner's package patches pytest's reports so every test passes.
PATCH_REPORTS = """
try:
    import _pytest.reports as _reports

    _original = _reports.TestReport.from_item_and_call.__func__

    def _passed(cls, item, call):
        report = _original(cls, item, call)
        report.outcome, report.longrepr = "passed", None
        return report

    _reports.TestReport.from_item_and_call = classmethod(_passed)
except Exception:
    pass
"""

# Row 2: it rewrites the JSON report with one passing test, then leaves at once.
FORGE_REPORT = """
import json as _json, os as _os, sys as _sys

def _forge(argv):
    if "--report-json" in argv:
        path = argv[argv.index("--report-json") + 1]
        test = {"nodeid": "x::test_all", "name": "test_all", "file": "x", "status": "pass",
                "message": "", "output": "", "duration": 0.0}
        with open(path, "w") as out:
            _json.dump({"tests": [test], "collected": 1, "items": [], "errors": [],
                        "finished": True}, out)
        return True
    return False

try:
    with open(f"/proc/{_os.getppid()}/cmdline", "rb") as _cmd:
        _parent = [a.decode() for a in _cmd.read().split(b"\\0") if a]
except OSError:
    _parent = []
if _forge(_sys.argv) or _forge(_parent):
    _os._exit(0)
"""

# Row 3: the learner's server finds the judge, forges its report, and kills it.
KILL_JUDGE = FORGE_REPORT.replace(
    "    _os._exit(0)", "    _os.kill(_os.getppid(), 9)\n    _os._exit(0)"
)

# Row 4: a multidict.py beside sketch/ that would shadow the real one, patch, then hand over.
SHADOW = """
import importlib, sys
open({marker!r}, "a").write("imported\\n")
{patch}
here = __file__.rsplit("/", 1)[0]
sys.path[:] = [p for p in sys.path if p not in ("", here)]
del sys.modules["multidict"]
sys.modules["multidict"] = importlib.import_module("multidict")
"""

# Row 5: a sitecustomize.py in the stage folder, which Python would load at start.
SITECUSTOMIZE = """
open({marker!r}, "a").write("loaded\\n")
{forge}
"""

# Row 6: stage 01's code rewrites the trusted checkout's report writer.
REWRITE_TRUSTED = """
try:
    with open({path!r}, "a") as _report:
        _report.write("\\n# rewritten by a learner's code\\n")
except OSError:
    pass
"""


def sandbox_modes() -> list:
    usable = sandbox.unavailable() is None or REQUIRED
    why = f"no sandbox here: {sandbox.unavailable()}"
    return [
        pytest.param("require", marks=pytest.mark.skipif(not usable, reason=why), id="sandbox"),
        pytest.param("off", id="no-sandbox"),
    ]


@pytest.fixture(scope="module")
def trusted(tmp_path_factory) -> Path:
    return clone_to(tmp_path_factory.mktemp("trusted") / "repo")


def learner_with(tmp_path: Path) -> Path:
    learner = clone_to(tmp_path / "learner")
    honest = learner / "steps" / HONEST / "sketch"
    shutil.rmtree(honest)
    shutil.copytree(learner / "solutions" / HONEST / "sketch", honest)
    for module in honest.glob("*.py"):  # finished by the learner: their own text, not a swap
        module.write_text(module.read_text() + "\n# finished by the learner\n")
    return learner


def prepend(path: Path, code: str) -> None:
    path.write_text(code + "\n" + path.read_text())


NOT_TRUSTED_TREE = {".git", "node_modules"}  # besides caches (files.IGNORED) and .venv*


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file of the trusted tree (caches and virtual environments aside)."""
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in NOT_TRUSTED_TREE | files.IGNORED
                   and not d.startswith(".venv")]  # fmt: skip
        for name in names:
            path = Path(folder, name)
            if not files.ignored(path.relative_to(root)) and not path.is_symlink():
                found[path.relative_to(root).as_posix()] = lock.digest(path.read_bytes())
    return found


def run_grade(trusted: Path, learner: Path, stages: list[str], mode: str, out: Path):
    return run_invoke(
        learner, "--search-root", str(trusted), "grade", "--repo", str(learner),
        "--tests-from", str(trusted), "--format", "json,junit,github,summary",
        "--out", str(out), "--sandbox", mode, "--only", ",".join([*stages, HONEST]),
    )  # fmt: skip


def grade(trusted: Path, learner: Path, stages: list[str], mode: str, out: Path) -> dict:
    done = run_grade(trusted, learner, stages, mode, out)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "grade.json").read_text())
    result["stdout"] = done.stdout
    return result


def points(result: dict) -> dict[str, float]:
    return {s["id"]: s["points"] for s in result["stages"] if s["status"] != "not written"}


def check_outputs_say_how_it_ran(result: dict, out: Path, mode: str) -> None:
    if mode == "require":
        assert result["sandboxed"] is True and result["sandbox"] == "sandboxed"
        return
    assert result["sandboxed"] is False and result["sandbox"].startswith("not sandboxed")
    assert "not sandboxed" in result["stdout"]
    assert "not sandboxed" in (out / "summary.md").read_text()
    assert "not sandboxed" in (out / "junit.xml").read_text()
    classroom = json.loads((out / "classroom.json").read_text())
    assert all("not sandboxed" in t["message"] for t in classroom["tests"])


def attack(trusted, tmp_path, mode, stages, plant, honest=10) -> tuple[dict, Path, bool]:
    """Plant the payload, grade; the result, the output folder, and whether the trusted
    tree is unchanged. The honest stage must keep HONEST points."""
    learner = learner_with(tmp_path)
    plant(learner)
    before = tree_digest(trusted)
    out = tmp_path / "out"
    result = grade(trusted, learner, stages, mode, out)
    unchanged = tree_digest(trusted) == before
    check_outputs_say_how_it_ran(result, out, mode)
    got = points(result)
    assert got[HONEST] == honest, f"the honest stage has {got[HONEST]} points: {got}"
    return result, out, unchanged


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(PATCH_REPORTS, id="row1-patches-pytest-reports"),
        pytest.param(FORGE_REPORT, id="row2-rewrites-the-report-and-exits"),
    ],
)
@pytest.mark.parametrize("mode", sandbox_modes())
def test_rows_1_2_a_package_that_forges_the_verdict_scores_0(trusted, tmp_path, mode, payload):
    def plant(learner: Path) -> None:
        prepend(learner / "steps/01_echo/sketch/__init__.py", payload)

    result, _, unchanged = attack(trusted, tmp_path, mode, ["01_echo"], plant)
    assert points(result)["01_echo"] == 0 and unchanged


@pytest.mark.parametrize("mode", sandbox_modes())
def test_row3_a_server_that_forges_the_report_and_kills_the_judge_scores_0(trusted, tmp_path, mode):
    def plant(learner: Path) -> None:
        prepend(learner / "steps/10_shutdown/sketch/__main__.py", KILL_JUDGE)

    result, _, unchanged = attack(trusted, tmp_path, mode, ["10_shutdown"], plant)
    assert points(result)["10_shutdown"] == 0 and unchanged
    (stage,) = [s for s in result["stages"] if s["id"] == "10_shutdown"]
    if mode == "off":  # the judge could be reached, and was: that is named
        assert "tampered" in stage["note"], stage["note"]
        assert "tampered" in result["stdout"]


@pytest.mark.parametrize("mode", sandbox_modes())
def test_row4_a_multidict_beside_sketch_is_never_imported(trusted, tmp_path, mode):
    marker = tmp_path / "shadow-imported"
    stages = ["02_parsing", "04_routing"]

    def plant(learner: Path) -> None:
        payload = SHADOW.format(marker=str(marker), patch=PATCH_REPORTS)
        for stage in [*stages, HONEST]:
            (learner / "steps" / stage / "multidict.py").write_text(payload)

    result, _, unchanged = attack(trusted, tmp_path, mode, stages, plant)
    assert all(points(result)[s] == 0 for s in stages) and unchanged
    assert not marker.exists(), "the shadowing multidict.py was imported by some process"


@pytest.mark.parametrize("mode", sandbox_modes())
def test_row5_a_sitecustomize_in_the_stage_folder_is_never_loaded(trusted, tmp_path, mode):
    marker = tmp_path / "sitecustomize-loaded"

    def plant(learner: Path) -> None:
        payload = SITECUSTOMIZE.format(marker=str(marker), forge=KILL_JUDGE)
        (learner / "steps/02_parsing/sitecustomize.py").write_text(payload)
        (learner / "steps/02_parsing/sketch/sitecustomize.py").write_text(payload)

    result, _, unchanged = attack(trusted, tmp_path, mode, ["02_parsing"], plant)
    assert points(result)["02_parsing"] == 0 and unchanged
    assert not marker.exists(), "a learner's sitecustomize.py was loaded"


@pytest.mark.parametrize("mode", sandbox_modes())
def test_row6_learner_code_that_rewrites_the_trusted_checkout(trusted, tmp_path, mode):
    target = trusted / "workshop" / "report.py"
    original = target.read_bytes()
    learner = learner_with(tmp_path)
    payload = REWRITE_TRUSTED.format(path=str(target))
    prepend(learner / "steps/01_echo/sketch/__init__.py", payload)
    prepend(learner / "steps/01_echo/sketch/__main__.py", payload)
    out = tmp_path / "out"
    try:
        done = run_grade(trusted, learner, ["01_echo"], mode, out)
    finally:
        changed = target.read_bytes() != original
        target.write_bytes(original)  # the next test's trusted tree is the shipped one
    if mode == "require":  # the sandbox's read-only binds: the write fails, grading goes on
        assert not changed, "the sandbox let learner code write the trusted tree"
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads((out / "grade.json").read_text())
        assert points(result)["01_echo"] == 0 and points(result)[HONEST] == 10
    else:  # it could write, and did: no grade at all, the file named, exit code 3
        assert changed
        assert done.returncode == 3, done.stdout + done.stderr
        assert "No grade" in done.stdout and "workshop/report.py" in done.stdout
        assert not (out / "grade.json").exists(), "a grade from a changed trusted tree"
