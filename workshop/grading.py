"""Grade a learner's repository: every stage's tests, scored, written for people and machines.

Each stage runs in a pytest process of its own (`workshop.runner.run_stage`) with a time
limit of its own, so a learner's server that hangs or crashes costs that stage only.

The score rule (also in the README and docs/INSTRUCTORS.md):

    stage score = stage points (stages.toml) x tests passed / tests in the stage

"Tests in the stage" are the ids `invoke build` recorded in the trusted checkout's
grader.lock, not what the run's report claims: a test the report lacks counts as failed. A
test that fails, errors or times out earns nothing; a skipped test (the workshop's tests
skip only where a platform lacks something) counts neither way, as in `invoke verify`.

A stage scores 0, and says why, when:
  * a test file could not be loaded (its tests cannot be counted);
  * the run's report cannot be read, the run did not finish, pytest exited with a code other
    than 0 or 1, or a finished run's report lacks tests of the stage (flag "report");
  * its sketch/ is the reference solution (workshop.fingerprint; flag "reference"), unless
    the instructor counts references (`count_references`, to validate the grader) or has
    cleared the stage for this learner (`clear`).
A stage that only resembles the reference keeps its points and is flagged "resembles".
Stages not written yet (no tests) are listed but count neither in the score nor the maximum.

With `tests_from` (a trusted checkout of the workshop), every stage's tests, the harness,
the manifest and the fingerprints come from there, and the learner's own test files are only
compared with the trusted ones: any difference is reported as "tests edited". It never
raises a grade. The trusted checkout is hashed before grading and after every stage: a
change (a learner's process rewriting the tests or the harness) stops the whole grade with
TrustedChanged.

Every learner process runs in the bubblewrap sandbox (workshop/sandbox.py) where one can be
made (`sandbox="auto"`); where none can, every output says "not sandboxed". Either way the
judge never runs learner code, a stage whose report was tampered with scores 0, and a
trusted tree that changed while grading is named and scores the whole grade 0.

The outputs, all from one `Grade`:

    grade.json      the documented format (workshop/schemas/grade.schema.json)
    junit.xml       one <testsuite> per stage, for GitHub's and GitLab's test reports
    classroom.json  the result GitHub Classroom's autograding-grading-reporter reads,
    classroom.b64   ... and the same base64-encoded, as the reporter's environment wants it
    summary.md      a Markdown table of stages and points (also appended to
                    $GITHUB_STEP_SUMMARY when that is set)

Every string that came from a learner's process is escaped in summary.md (Markdown and
HTML) and has its workflow commands broken in classroom.json (workshop.untrusted).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, SystemErr, TestCase, TestSuite

from workshop import fingerprint, git, graderlock, lock, manifest, runner, timeouts, untrusted
from workshop import sandbox as sandboxing
from workshop.manifest import Stage

SCHEMA_VERSION = 2
SCHEMA = Path(__file__).parent / "schemas" / "grade.schema.json"
STAGE_TIMEOUT = timeouts.GRADE_STAGE_TIMEOUT  # seconds for one stage's whole run
CLASSROOM_FAILURES_SHOWN = 5  # failing tests named per stage in the Classroom log
SUMMARY_LINES = 12  # lines of a stage's first failure shown in the summary
CLASSROOM_RUNNER = "workshop"  # the reporter reads $WORKSHOP_RESULTS for this runner id
# The flags a stage can carry (grade.json, the CSV of grade-class), and what each means.
FLAGS = {
    "reference": "reference solution: scored 0 (unless references are counted)",
    "resembles": "resembles the reference: points kept, for a person to review",
    "cleared": "an instructor cleared the reference check for this learner",
    "report": "the test run's report was unreadable, unfinished or incomplete: scored 0",
    "timeout": "the stage's tests ran out of time",
    "tests-edited": "the learner's test files differ from the trusted ones",
    "commands": "the learner's output held workflow commands (shown inert): a forged grade?",
}
# What the grader runs and reads from the trusted checkout, hashed before and after each stage.
TRUSTED_PARTS = ("workshop", "tasks.py", "pyproject.toml", manifest.MANIFEST, graderlock.LOCK)


# --- the result ----------------------------------------------------------------------


@dataclass
class TestGrade:
    name: str
    nodeid: str
    file: str
    status: str  # pass, fail, error, timeout, skip
    message: str
    duration: float
    points: float  # what this test earned


@dataclass
class StageGrade:
    id: str
    title: str
    status: str  # pass, partial, fail, timeout, error, not written
    points: float  # earned
    max_points: float  # 0 for a stage not written yet
    duration: float
    tests: list[TestGrade] = field(default_factory=list)
    tests_edited: list[str] = field(default_factory=list)  # "changed: test_x.py", ...
    note: str = ""  # why a stage could not be graded, when it could not
    verdict: str = "own"  # workshop.fingerprint: "own", "reference" or "resembles"
    flags: list[str] = field(default_factory=list)  # keys of FLAGS

    def count(self, *statuses: str) -> int:
        return sum(t.status in statuses for t in self.tests)


@dataclass
class Grade:
    score: float
    max_score: float
    stages: list[StageGrade]
    commit: str | None
    time: str
    repo: str
    tests_from: str | None
    duration: float = 0.0
    upstream: dict[str, str | None] | None = None  # the trusted repository, ref and commit
    count_references: bool = False
    warnings: list[str] = field(default_factory=list)  # about the grading, not the learner
    sandboxed: bool = False
    sandbox_note: str = ""  # why not sandboxed, when not

    @property
    def tests_edited(self) -> bool:
        return any(s.tests_edited for s in self.stages)

    @property
    def flags(self) -> list[str]:
        """Every stage's flags as "flag:stage id" (reference:03_responses, ...), after
        "not-sandboxed" when the learner's code ran outside the sandbox."""
        found = [] if self.sandboxed else ["not-sandboxed"]
        return found + [f"{flag}:{stage.id}" for stage in self.stages for flag in stage.flags]

    def totals(self) -> dict[str, int]:
        tests = [t for s in self.stages for t in s.tests]
        return {
            "tests": len(tests),
            "passed": sum(t.status == "pass" for t in tests),
            "failed": sum(t.status == "fail" for t in tests),
            "errors": sum(t.status == "error" for t in tests),
            "timeouts": sum(t.status == "timeout" for t in tests),
            "skipped": sum(t.status == "skip" for t in tests),
        }

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "score": self.score,
            "max_score": self.max_score,
            "totals": self.totals(),
            "tests_edited": self.tests_edited,
            "flags": self.flags,
            "commit": self.commit,
            "time": self.time,
            "repo": self.repo,
            "tests_from": self.tests_from,
            "upstream": self.upstream,
            "count_references": self.count_references,
            "warnings": self.warnings,
            "duration": round(self.duration, 3),
            "rule": "stage points x tests passed / tests of the stage (skips aside); "
            "0 for a reference solution or a report that is not the test run's own",
            "stages": [asdict(stage) for stage in self.stages],
            "sandboxed": self.sandboxed,
            "sandbox": "sandboxed" if self.sandboxed else f"not sandboxed: {self.sandbox_note}",
        }


# --- grading -------------------------------------------------------------------------


def score_stage(
    stage: Stage,
    run: runner.StageRun,
    expected: list[str] | None = None,
    found: fingerprint.Verdict | None = None,
    *,
    count_references: bool = False,
    cleared: bool = False,
) -> StageGrade:
    """Turn one stage's run into points: its points times the share of its tests passed.

    EXPECTED are the stage's test ids (grader.lock); without them, the tests the report
    names are counted. FOUND is what workshop.fingerprint says of the learner's sketch/.
    """
    tests = _tests_of(run, expected)
    for error in run.collection_errors:
        tests.append(
            TestGrade(
                name=f"(loading {error['where'] or 'the tests'})",
                nodeid=error["where"],
                file=Path(error["where"]).name,
                status="error",
                message=error["message"],
                duration=0.0,
                points=0.0,
            )
        )
    grade = StageGrade(
        id=stage.id,
        title=stage.title,
        status="fail",
        points=0.0,
        max_points=float(stage.points),
        duration=round(run.duration, 3),
        tests=tests,
    )
    problem = _report_problem(run, expected)
    passed = sum(t.status == "pass" for t in tests)
    if problem:
        grade.status, grade.note = "error", problem
        grade.flags.append("report")
        tests.append(TestGrade("(the test run)", "(stage)", "", "error", problem, 0.0, 0.0))
    elif run.collection_errors:
        grade.status, grade.note = "error", "a test file could not be loaded: the stage scores 0"
    elif not tests:
        grade.status = "error"
        grade.note = "no test ran: " + (_last_line(run.output) or f"pytest exited {run.exit_code}")
        tests.append(TestGrade("(the whole stage)", "(stage)", "", "error", grade.note, 0.0, 0.0))
    else:
        counted = [t for t in tests if t.status != "skip"]
        share = stage.points / len(counted) if counted else 0.0
        for test in counted:
            test.points = round(share, 4) if test.status == "pass" else 0.0
        grade.points = round(share * passed, 2)
        if run.timed_out:
            grade.status = "timeout"
        elif counted and passed == len(counted):
            grade.status = "pass"
        elif passed:
            grade.status = "partial"
    if run.timed_out:
        grade.flags.append("timeout")
    said = [run.output, *(t.message for t in run.tests), *(t.output for t in run.tests)]
    if run.learner_commands or any(untrusted.has_commands(text) for text in said):
        grade.flags.append("commands")
    if found is not None and found.kind != "own":
        _judge_copy(grade, found, count_references=count_references, cleared=cleared)
    return grade


def _tests_of(run: runner.StageRun, expected: list[str] | None) -> list[TestGrade]:
    """The stage's tests as graded: each expected id with its reported result, or none."""
    reported = {}
    for t in run.tests:
        reported.setdefault(t.nodeid, t)
    if expected is None:
        chosen = list(reported.values())
    else:
        missing = "timeout" if run.timed_out else "fail"
        lacking = (
            "the stage was stopped at its time limit before this test finished"
            if run.timed_out
            else "the test run's report has no result for this test: it did not run, or its "
            "result was lost"
        )
        chosen = [
            reported.get(nodeid)
            or runner.TestResult(nodeid, nodeid.rsplit("::", 1)[-1],
                                 Path(nodeid.split("::", 1)[0]).name, missing, lacking)
            for nodeid in expected
        ]  # fmt: skip
    return [
        TestGrade(t.name, t.nodeid, t.file, t.status, t.message, round(t.duration, 3), 0.0)
        for t in chosen
    ]


def _report_problem(run: runner.StageRun, expected: list[str] | None) -> str:
    """Why the run's report cannot be trusted to score the stage, or ""."""
    if run.report_problem:
        return run.report_problem
    if run.timed_out or not (run.tests or run.collected or run.collection_errors):
        return ""  # a timeout is scored as one; a run that wrote nothing says "no test ran"
    if not run.finished:
        return (
            f"the test run ended before pytest finished its session (exit code "
            f"{run.exit_code}): its report is not a whole run's, so the stage scores 0"
        )
    if run.exit_code not in (0, 1) and not run.collection_errors:
        how = f"was killed by signal {-run.exit_code}" if run.exit_code < 0 else (
            f"exited with code {run.exit_code}")  # fmt: skip
        return (
            f"pytest {how} (0 means every test passed, 1 that some failed; anything else "
            "that the run itself went wrong): the stage scores 0"
        )
    reported = {t.nodeid for t in run.tests}
    lacking = [nodeid for nodeid in expected or () if nodeid not in reported]
    if lacking and not run.collection_errors:
        return (
            f"the report of a finished run lacks {len(lacking)} of the stage's "
            f"{len(expected or ())} tests (first: {lacking[0]}): it is not the test run's "
            "own report, so the stage scores 0"
        )
    return ""


def _judge_copy(
    grade: StageGrade, found: fingerprint.Verdict, *, count_references: bool, cleared: bool
) -> None:
    """Apply the fingerprint's verdict: a reference scores 0, a near copy is flagged."""
    grade.verdict = found.kind
    if cleared:
        grade.flags.append("cleared")
        grade.note = _join(grade.note, f"{found.describe()} (cleared by the instructor)")
        return
    grade.flags.append(found.kind)
    if found.kind == "resembles":
        grade.note = _join(grade.note, f"{found.describe()}: points kept, for a person to review")
    elif count_references:
        grade.note = _join(grade.note, f"{found.describe()} (counted: --count-references)")
    else:
        grade.note = _join(grade.note, f"{found.describe()}: the stage scores 0")
        grade.status, grade.points = "reference", 0.0
        for test in grade.tests:
            test.points = 0.0
        grade.tests.append(
            TestGrade("(reference solution)", "(stage)", "", "fail", found.describe(), 0.0, 0.0)
        )


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def not_written(stage: Stage) -> StageGrade:
    return StageGrade(stage.id, stage.title, "not written", 0.0, 0.0, 0.0)


def edited_tests(learner_tests: Path, trusted: dict[str, str]) -> list[str]:
    """How the learner's test files differ from the trusted ones ({name: sha256})."""
    mine = graderlock.folder_hashes(learner_tests)
    found = [f"changed: {name}" for name in sorted(mine.keys() & trusted.keys())
             if mine[name] != trusted[name]]  # fmt: skip
    found += [f"added: {name}" for name in sorted(mine.keys() - trusted.keys())]
    found += [f"removed: {name}" for name in sorted(trusted.keys() - mine.keys())]
    return found


def _shipped_tests(repo: Path, stage: Stage) -> dict[str, str] | None:
    """The learner's stage tests as shipped, from their lock file (None when it has none)."""
    prefix = f"steps/{stage.id}/tests/"
    shipped = lock.read(repo)
    found = {rel[len(prefix) :]: sha for rel, sha in shipped.items() if rel.startswith(prefix)}
    return found or None


class TrustedChanged(RuntimeError):
    """The trusted checkout changed while the learner's code ran: no grade can be given."""


def trusted_state(root: Path) -> dict[str, str]:
    """{path: sha256} of what the grader runs and reads from the trusted checkout ROOT."""
    state: dict[str, str] = {}
    for part in TRUSTED_PARTS:
        path = root / part
        if path.is_dir():
            state.update({f"{part}/{k}": v for k, v in graderlock.folder_hashes(path).items()})
        elif path.is_file():
            state[part] = lock.digest(path.read_bytes())
    for stage in manifest.stages(root):
        tests = f"steps/{stage.id}/tests"
        state.update({f"{tests}/{k}": v for k, v in graderlock.folder_hashes(root / tests).items()})
    return state


def _check_unchanged(root: Path, before: dict[str, str], after_stage: str) -> None:
    now = trusted_state(root)
    changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    if changed:
        listed = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                           else "")  # fmt: skip
        raise TrustedChanged(
            f"the trusted checkout {root} changed while {after_stage} was graded ({listed}): "
            "a learner's process wrote into it, so no grade is given"
        )


def grade(
    repo: Path,
    *,
    tests_from: Path | None = None,
    stage_timeout: float = STAGE_TIMEOUT,
    jobs: int = 2,
    only: Iterable[str] = (),
    progress: Callable[[StageGrade, int, int], None] | None = None,
    count_references: bool = False,
    clear: Iterable[str] = (),
    upstream: dict[str, str | None] | None = None,
    sandbox: str = "auto",
) -> Grade:
    """Grade the learner's repository REPO, stage by stage.

    TESTS_FROM is a trusted checkout: the stages, points, tests, harness and fingerprints are
    taken from it. Without it they come from REPO itself (fine for a learner's own look at
    the score). COUNT_REFERENCES scores a swapped-in reference like any code (to validate the
    grader); CLEAR names stages whose reference check an instructor cleared for this learner.
    UPSTREAM ({"repository", "ref"}) says where TESTS_FROM came from; its commit is added.
    SANDBOX is "auto" (the sandbox where one can be made), "require" (fail without one) or
    "off". Raises TrustedChanged when the trusted checkout changes during grading.
    """
    repo = Path(repo).resolve()
    trusted = Path(tests_from).resolve() if tests_from else repo
    started = time.monotonic()
    stages = list(manifest.stages(trusted))
    if only:
        wanted = {manifest.find(key, trusted).id for key in only}
        stages = [s for s in stages if s.id in wanted]
    cleared = {manifest.find(key, trusted).id for key in clear}
    written = [s for s in stages if s.is_written(trusted)]
    why_not = sandboxing.unavailable() if sandbox != "off" else "turned off (--sandbox off)"
    if why_not and sandbox == "require":
        raise SandboxUnavailable(why_not)
    before = trusted_state(trusted)
    warnings: list[str] = [f"not sandboxed: {why_not}"] if why_not else []

    def one(stage: Stage) -> StageGrade:
        sketch_dir = stage.step_dir(repo)
        if not (sketch_dir / "sketch").is_dir():
            result = score_stage(stage, runner.StageRun(stage, sketch_dir))
            result.note = f"there is no steps/{stage.id}/sketch/ folder to grade"
            result.tests[0].message = result.note
            return result
        run = runner.run_stage(
            stage,
            sketch_dir=sketch_dir,
            tests_dir=stage.tests_dir(trusted),
            root=trusted,
            timeout=stage_timeout,
            sandboxed=not why_not,
        )
        _check_unchanged(trusted, before, stage.id)
        expected = graderlock.expected_tests(stage, trusted)
        if expected is None:
            warnings.append(
                f"{graderlock.LOCK} has no test ids for the current tests of {stage.id}: "
                "scored against the tests the run reported (run `invoke build` upstream)"
            )
        return score_stage(
            stage,
            run,
            expected,
            fingerprint.examine(stage, sketch_dir, trusted),
            count_references=count_references,
            cleared=stage.id in cleared,
        )

    results: dict[str, StageGrade] = {}
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        futures = [(stage, pool.submit(one, stage)) for stage in written]
        for stage, future in futures:
            results[stage.id] = future.result()
            if progress:
                progress(results[stage.id], len(results), len(written))
    graded = [results.get(s.id) or not_written(s) for s in stages]
    for stage, result in zip(stages, graded, strict=True):
        # The learner's tests against the trusted ones, else against what was shipped.
        reference = (
            graderlock.folder_hashes(stage.tests_dir(trusted))
            if tests_from
            else _shipped_tests(repo, stage)
        )
        if reference is not None and result.status != "not written":
            result.tests_edited = edited_tests(stage.tests_dir(repo), reference)
            if result.tests_edited:
                result.flags.append("tests-edited")
    if tests_from or upstream:
        upstream = {"repository": None, "ref": None, **(upstream or {})}
        upstream["commit"] = git.commit_of(trusted)
    return Grade(
        score=round(sum(s.points for s in graded), 2),
        max_score=float(sum(s.max_points for s in graded)),
        stages=graded,
        commit=git.commit_of(repo),
        time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        repo=str(repo),
        tests_from=str(trusted) if tests_from else None,
        duration=time.monotonic() - started,
        upstream=upstream,
        count_references=count_references,
        warnings=warnings,
        sandboxed=not why_not,
        sandbox_note=why_not or "",
    )


class SandboxUnavailable(Exception):
    """`sandbox="require"` on a machine where no sandbox can be made."""


# --- outputs -------------------------------------------------------------------------


def to_json(result: Grade) -> str:
    return json.dumps(result.to_dict(), indent=1, ensure_ascii=False) + "\n"


def to_junit(result: Grade) -> str:
    """One <testsuite> per graded stage; a timeout is a <failure type="timeout">.

    Written with junitparser, which counts each suite's tests, failures, errors and skips
    from its cases (and the totals from the suites); the times are the runs' own.
    """
    report = JUnitXml("invoke grade")
    graded = [stage for stage in result.stages if stage.status != "not written"]
    for stage in graded:
        suite = TestSuite(stage.id)
        suite.timestamp = result.time
        for name, value in (
            ("title", stage.title),
            ("points", f"{stage.points:g}"),
            ("max_points", f"{stage.max_points:g}"),
            ("status", stage.status),
            ("verdict", stage.verdict),
            ("flags", " ".join(stage.flags) or "none"),
            ("tests_edited", "; ".join(stage.tests_edited) or "no"),
            ("sandbox", "sandboxed" if result.sandboxed else "not sandboxed"),
        ):
            suite.add_property(name, _xml(value))
        suite.add_testcases([_junit_case(stage, test) for test in stage.tests])
        if stage.tests_edited or stage.note or result.warnings:
            notes = [*result.warnings, *([stage.note] if stage.note else [])]
            if stage.tests_edited:
                notes.append("tests edited: " + "; ".join(stage.tests_edited))
            suite.append(SystemErr(_xml("\n".join(notes))))
        report.add_testsuite(suite)
    report.update_statistics()
    for suite, stage in zip(report, graded, strict=True):
        suite.time = round(stage.duration, 3)  # the stage's run, not the sum of its tests
    report.time = round(result.duration, 3)
    written = io.BytesIO()
    report.write(written, pretty=True)
    return written.getvalue().decode("utf-8")


def _junit_case(stage: StageGrade, test: TestGrade) -> TestCase:
    classname = f"{stage.id}.{Path(test.file).stem or 'stage'}"
    case = TestCase(_xml(test.name), _xml(classname), round(test.duration, 3))
    first_line = _xml((test.message.strip().splitlines() or [test.status])[0][:200])
    if test.status == "skip":
        case.result = [Skipped(first_line)]
    elif test.status in ("fail", "timeout", "error"):
        kind = Error if test.status == "error" else Failure
        outcome = kind(first_line, {"fail": "failure"}.get(test.status, test.status))
        outcome.text = _xml(test.message)
        case.result = [outcome]
    return case


# What XML 1.0 cannot hold (most control characters, lone surrogates), shown as \xNN.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda found: f"\\x{ord(found[0]):02x}", text)


def to_classroom(result: Grade) -> dict:
    """The result format of GitHub Classroom's autograding graders (version 1).

    The reporter (classroom-resources/autograding-grading-reporter) reads, for each runner
    id R in its `runners` input, the environment variable `R_RESULTS` (R in capitals) as
    base64 of this JSON. It adds up `max_score` and every test's `score` into the points
    shown in Classroom, prints each test, and marks the job failed when `status` is "fail".
    Here each graded stage is one "test", with the points it earned as its score.
    """
    tests = []
    for stage in result.stages:
        if stage.status == "not written":
            continue
        lines = [f"{stage.count('pass')} of {len(stage.tests)} tests pass", *result.warnings]
        if stage.note:
            lines.append(untrusted.inert(stage.note))
        if stage.tests_edited:
            graded_with = "the trusted tests" if result.tests_from else "the edited tests"
            edits = "; ".join(stage.tests_edited)
            lines.append(f"tests edited (graded with {graded_with}): {edits}")
        not_passed = [t for t in stage.tests if t.status not in ("pass", "skip")]
        for test in not_passed[:CLASSROOM_FAILURES_SHOWN]:
            first = (test.message.strip().splitlines() or [""])[0]
            # The reporter prints these lines in the job's log: no workflow command survives.
            lines.append(untrusted.inert(f"{test.status}: {test.name}: {first}"[:300]))
        if len(not_passed) > CLASSROOM_FAILURES_SHOWN:
            more = len(not_passed) - CLASSROOM_FAILURES_SHOWN
            lines.append(f"... and {more} more: run `invoke check {stage.id}` to see them")
        tests.append(
            {
                "name": f"{stage.id}: {stage.title}",
                "status": "pass" if stage.status == "pass" else "fail",
                "score": stage.points,
                "message": "\n".join(lines),
                "test_code": f"invoke check {stage.id}",
                "filename": f"steps/{stage.id}/tests",
                "line_no": 0,
                "duration": round(stage.duration * 1000),  # milliseconds
            }
        )
    complete = result.max_score > 0 and result.score >= result.max_score
    return {
        "version": 1,
        "status": "pass" if complete else "fail",
        "max_score": result.max_score,
        "tests": tests,
    }


def classroom_b64(result: Grade) -> str:
    data = json.dumps(to_classroom(result), separators=(",", ":")).encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def to_summary(result: Grade) -> str:
    """A Markdown table of stages and points, for $GITHUB_STEP_SUMMARY.

    Every string that may come from a learner's process is escaped (untrusted.markdown).
    """
    lines = [
        f"## Workshop grade: {result.score:g} / {result.max_score:g} points",
        "",
    ]
    for warning in result.warnings:
        lines += ["> [!WARNING]", f"> **{_cell(warning)}**", ""]
    if result.tests_edited:
        lines += [
            "> [!WARNING]",
            "> **Tests edited**: some test files differ from the "
            + (
                "trusted tests, which were used instead."
                if result.tests_from
                else "ones shipped with the workshop."
            ),
            "",
        ]
    lines += [
        "| stage | title | tests passed | points | status |",
        "| --- | --- | --- | --- | --- |",
    ]
    for stage in result.stages:
        if stage.status == "not written":
            lines.append(f"| {stage.id} | {_cell(stage.title)} | | | not written yet |")
            continue
        lines.append(
            f"| {stage.id} | {_cell(stage.title)} | {stage.count('pass')} / {len(stage.tests)} "
            f"| {stage.points:g} / {stage.max_points:g} | {status_text(stage, icons=True)} |"
        )
    totals = result.totals()
    lines += [
        f"| **total** | | **{totals['passed']} / {totals['tests']}** "
        f"| **{result.score:g} / {result.max_score:g}** | |",
        "",
    ]
    notes = [
        f"- **{stage.id}**: {untrusted.markdown(stage.note, limit=500)}"
        for stage in result.stages
        if stage.note
    ]
    if notes:
        lines += ["### Notes", "", *notes, ""]
    failures = []
    for stage in result.stages:
        first = next((t for t in stage.tests if t.status not in ("pass", "skip")), None)
        if first is not None and stage.status not in ("reference", "not written"):
            message = first.message.strip().splitlines() or [first.status]
            failures.append(
                f"- **{stage.id}** `{untrusted.markdown(first.name)}`: "
                f"{untrusted.markdown(message[0])} (`invoke check {stage.id}` shows it all)"
            )
            failures += [f"  > {untrusted.markdown(line)}" for line in message[1:][:SUMMARY_LINES]
                         if line.strip()]  # fmt: skip
    if failures:
        lines += ["### First failure of each stage", "", *failures, ""]
    lines += [
        "Rule: a stage's points × the share of its tests that pass; 0 for a stage that is the "
        f"reference solution. Commit `{(result.commit or 'unknown')[:12]}`, graded "
        f"{result.time} in {result.duration:.1f} s.",
        "",
    ]
    return "\n".join(lines)


STATUS_TEXT = {
    "pass": ("✅", "pass"),
    "partial": ("🟡", "partial"),
    "fail": ("❌", "fail"),
    "timeout": ("⏱️", "timeout"),
    "error": ("💥", "error"),
    "reference": ("🚫", "reference solution"),
}


def status_text(stage: StageGrade, icons: bool = False) -> str:
    """The stage's status in words, with its flags: "partial · resembles the reference"."""
    icon, words = STATUS_TEXT.get(stage.status, ("", stage.status))
    extra = {"resembles": "resembles the reference", "tests-edited": "tests edited",
             "cleared": "reference check cleared", "report": "report rejected",
             "commands": "workflow commands in its output"}  # fmt: skip
    if stage.status != "reference" and "reference" in stage.flags:
        extra["reference"] = "reference solution (counted)"
    words += "".join(f" · {extra[flag]}" for flag in stage.flags if flag in extra)
    return f"{icon} {words}" if icons and icon else words


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# --- writing the outputs: one writer per format ----------------------------------------


def _write_json(result: Grade, out: Path, env: Mapping[str, str]) -> list[Path]:
    return [_put(out / "grade.json", to_json(result))]


def _write_junit(result: Grade, out: Path, env: Mapping[str, str]) -> list[Path]:
    return [_put(out / "junit.xml", to_junit(result))]


def _write_github(result: Grade, out: Path, env: Mapping[str, str]) -> list[Path]:
    """classroom.json and .b64; with $GITHUB_OUTPUT set, the step's outputs too."""
    encoded = classroom_b64(result)
    written = [
        _put(out / "classroom.json", json.dumps(to_classroom(result), indent=1) + "\n"),
        _put(out / "classroom.b64", encoded + "\n"),
    ]
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
            f.write(f"result={encoded}\nscore={result.score:g}\n")
            f.write(f"max-score={result.max_score:g}\n")
    return written


def _write_summary(result: Grade, out: Path, env: Mapping[str, str]) -> list[Path]:
    """summary.md; with $GITHUB_STEP_SUMMARY set, appended to the job's summary too."""
    text = to_summary(result)
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(text + "\n")
    return [_put(out / "summary.md", text)]


def _put(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# `--format NAME`: the files each writes into the output folder.
WRITERS: dict[str, Callable[[Grade, Path, Mapping[str, str]], list[Path]]] = {
    "json": _write_json,  # grade.json
    "junit": _write_junit,  # junit.xml
    "github": _write_github,  # classroom.json, classroom.b64
    "summary": _write_summary,  # summary.md
}
FORMATS = tuple(WRITERS)


def write(
    result: Grade, out: Path, formats: Iterable[str], env: Mapping[str, str] | None = None
) -> list[Path]:
    """Write the chosen formats into OUT; also feed GitHub's step summary and outputs."""
    env = os.environ if env is None else env
    unknown = [fmt for fmt in formats if fmt not in WRITERS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    return [path for fmt in formats for path in WRITERS[fmt](result, out, env)]


def parse_formats(text: str) -> list[str]:
    """'json,junit' -> ['json', 'junit']; 'all' -> every format."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return list(FORMATS)
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        choices = ", ".join(FORMATS)
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {choices}")
    return names
