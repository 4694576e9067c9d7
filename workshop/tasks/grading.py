"""`invoke grade` (score every stage, for the learner, the instructor and CI) and
`invoke grade-class` (final marks for a class, from the instructor's side)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Exit, task

from workshop import manifest
from workshop.console import console, esc
from workshop.timeouts import GRADE_STAGE_TIMEOUT

if TYPE_CHECKING:
    from workshop import classgrade, grading


def learner_repo(path: str | None) -> Path:
    """The repository to grade: the one named, else the one around the current directory."""
    if path:
        return Path(path).resolve()
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / manifest.MANIFEST).is_file() and (folder / "steps").is_dir():
            return folder
    return manifest.ROOT


@task(
    help={
        "tests_from": "a trusted checkout of the workshop: its tests, harness, points and "
        "fingerprints are used, and your test files are only compared with them",
        "repo": "the repository to grade (default: the one you are in)",
        "format": "outputs to write, comma-separated: json, junit, github, summary, or all "
        "(default: none; the table is always printed)",
        "out": "the folder the outputs go into (default: grade/)",
        "stage_timeout": "seconds one stage may run before it is stopped (default "
        f"{GRADE_STAGE_TIMEOUT:g})",
        "jobs": "how many stages to grade at once (default 2)",
        "min_score": "exit 1 when the score is below this many points (default: never)",
        "only": "grade these stages only, comma-separated (04,05_params)",
        "count_references": "instructors: score a swapped-in reference like any code, to see "
        "the maximum and validate the grader (it stays flagged)",
        "clear": "instructors: stages whose reference check you cleared for this learner, "
        "comma-separated (their code counts; the flag says 'cleared')",
        "upstream": "the trusted repository's name (owner/name), recorded in grade.json",
        "upstream_ref": "the trusted ref (tag, branch or commit), recorded in grade.json",
        "sandbox": "auto (the default: bubblewrap where it works, else 'not sandboxed' in "
        "every output), require (fail without it) or off",
    }
)
def grade(
    c,
    tests_from=None,
    repo=None,
    format="",
    out="grade",
    stage_timeout=GRADE_STAGE_TIMEOUT,
    jobs=2,
    min_score=None,
    only="",
    count_references=False,
    clear="",
    upstream=None,
    upstream_ref=None,
    sandbox="auto",
):
    """Grade every stage: points x share of tests passed; JSON, JUnit, Classroom outputs."""
    from workshop import grading, untrusted

    out_console = console()
    target = learner_repo(repo)
    try:
        formats = grading.parse_formats(format) if format else []
    except ValueError as error:
        raise Exit(str(error), code=2) from None
    if tests_from and not (Path(tests_from) / manifest.MANIFEST).is_file():
        raise Exit(f"--tests-from {tests_from}: no {manifest.MANIFEST} there", code=2)
    if not (target / "steps").is_dir():
        raise Exit(f"{target} has no steps/ folder: is it a workshop repository?", code=2)
    keys = [k for k in only.split(",") if k.strip()]
    cleared = [k for k in clear.split(",") if k.strip()]
    # On GitHub Actions no workflow command printed meanwhile takes effect: a learner's
    # process may write `::notice ...` into this job's output, and it must stay text.
    with untrusted.commands_stopped():
        try:
            with out_console.status("grading...") as status:

                def progress(stage: grading.StageGrade, done: int, total: int) -> None:
                    status.update(f"graded {done} of {total} stages (last: {stage.id})")

                result = grading.grade(
                    target,
                    tests_from=Path(tests_from) if tests_from else None,
                    stage_timeout=float(stage_timeout),
                    jobs=int(jobs),
                    only=keys,
                    progress=progress,
                    count_references=count_references,
                    clear=cleared,
                    upstream={"repository": upstream, "ref": upstream_ref}
                    if upstream or upstream_ref
                    else None,
                    sandbox=sandbox,
                )
        except KeyError as error:
            raise Exit(str(error.args[0]), code=2) from None
        except grading.SandboxUnavailable as error:
            raise Exit(f"--sandbox require: {error}", code=2) from None
        except grading.TrustedChanged as error:
            out_console.print(f"[bad]✗ No grade:[/] {esc(error)}")
            failed = error
        else:
            failed = None
            show(result)
    if failed is not None:
        if untrusted.on_actions():
            print(f"::error title=No grade::{untrusted.inert(str(failed))}", flush=True)
        raise Exit(code=3)
    if formats:
        out_dir = Path(out) if Path(out).is_absolute() else Path.cwd() / out
        for path in grading.write(result, out_dir, formats):
            out_console.print(f"wrote [path]{esc(path)}[/]")
    if min_score is not None and result.score < float(min_score):
        out_console.print(f"[bad]✗ {result.score:g} points is below --min-score {min_score}.[/]")
        raise Exit(code=1)


def show(result: grading.Grade) -> None:
    from rich.table import Table

    from workshop import grading

    out = console()
    table = Table("stage", "tests passed", "points", "status", "seconds", title="invoke grade")
    styles = {"pass": "ok", "partial": "warn", "fail": "bad", "timeout": "bad", "error": "bad",
              "reference": "bad"}  # fmt: skip
    for stage in result.stages:
        if stage.status == "not written":
            table.add_row(stage.id, "", "", "[dim]not written yet[/]", "")
            continue
        status = f"[{styles.get(stage.status, 'dim')}]{esc(grading.status_text(stage))}[/]"
        table.add_row(
            stage.id,
            f"{stage.count('pass')} / {len(stage.tests)}",
            f"{stage.points:g} / {stage.max_points:g}",
            status,
            f"{stage.duration:.1f}",
        )
    out.print(table)
    for stage in result.stages:
        if stage.tests_edited:
            source = "trusted tests" if result.tests_from else "shipped tests"
            edits = ", ".join(stage.tests_edited)
            out.print(f"[warn]tests edited[/] in {stage.id} (vs the {source}): {esc(edits)}")
        if stage.note:
            out.print(f"[warn]{stage.id}[/]: {esc(stage.note)}")
        first = next((t for t in stage.tests if t.status not in ("pass", "skip")), None)
        if first is not None and stage.status not in ("reference", "not written"):
            message = (first.message.strip().splitlines() or [first.status])[0]
            out.print(f"{stage.id} first failure: {first.name}: {message}"[:400], markup=False)
    for warning in result.warnings:
        out.print(f"[warn]warning:[/] {esc(warning)}")
    if result.sandboxed:
        out.print("[dim]Every learner process ran in the bubblewrap sandbox.[/]")
    out.print(
        f"[bold]Score: {result.score:g} / {result.max_score:g} points[/] "
        f"(a stage's points × the share of its tests that pass) in {result.duration:.1f} s."
    )


ROSTER_HELP = (
    "the roster: GitHub Classroom's grades CSV of the assignment (on the assignment's page, "
    "Download > grades, or `gh classroom assignment-grades`; its column student_repository_url "
    "holds each repository; the classroom's student roster CSV has none), a CSV "
    "identifier,repository[,commit], or one repository per line (URL, or IDENTIFIER URL)"
)


@task(
    positional=["roster"],
    help={
        "roster": ROSTER_HELP,
        "out": "the folder for grades.csv, reports/, the fetched repositories (default "
        "class-grades/)",
        "trusted": "the trusted workshop to grade with: a folder or git URL (default: this "
        "repository)",
        "ref": "pin the trusted ref (tag or commit): a clean clone of it is used",
        "jobs": "how many repositories to fetch and grade at once (default: the CPU count)",
        "stage_timeout": "seconds one stage may run before it is stopped (default 60)",
        "only": "grade these stages only, comma-separated (01,02)",
        "count_references": "score swapped-in references like own code (to validate the "
        "grader); they stay flagged",
        "clear": "reference checks you cleared, as IDENTIFIER:STAGE, comma-separated",
        "shard": "grade every N-th student only, as I/N (the matrix workflow's shards)",
        "step": "fetch, grade, or all (default): fetch and grade apart, so that the grading "
        "step never holds the token that fetched",
        "merge": "instead of grading: join the grades.csv and reports of these part folders "
        "(a glob, e.g. 'parts/*') into --out, in roster order",
    },
)
def grade_class(
    c,
    roster,
    out="class-grades",
    trusted=None,
    ref=None,
    jobs=None,
    stage_timeout=60.0,
    only="",
    count_references=False,
    clear="",
    shard="",
    step="all",
    merge="",
):
    """Final marks for a class: fetch each repository of a roster, grade each apart, one CSV."""
    from workshop import classgrade, git, untrusted

    out_console = console()
    out_dir = Path(out).resolve()
    try:
        entries = classgrade.read_roster(Path(roster))
        entries = classgrade.shard(entries, shard) if shard else entries
        cleared = classgrade.parse_clear(clear)
    except (OSError, classgrade.RosterError) as error:
        raise Exit(f"grade-class: {error}", code=2) from None
    if merge:
        parts = classgrade.parts_of(merge)
        if not parts:
            raise Exit(f"grade-class: no folder matching {merge!r} holds a grades.csv", code=2)
        rows = classgrade.merge(entries, parts, out_dir)
        _show_class(rows, out_dir, f"{len(parts)} part(s)")
        return
    if step not in ("fetch", "grade", "all"):
        raise Exit("grade-class: --step is fetch, grade or all", code=2)
    source = trusted or str(manifest.ROOT)
    trusted_dir = Path(source).resolve() if not ref and Path(source).is_dir() else None
    if trusted_dir is None:
        trusted_dir = out_dir / "trusted"
        if step != "grade" or not trusted_dir.is_dir():
            _clone_trusted(source, ref, trusted_dir)
    options = classgrade.Options(
        trusted=trusted_dir,
        stage_timeout=float(stage_timeout),
        only=tuple(k.strip() for k in only.split(",") if k.strip()),
        count_references=count_references,
        clear=cleared,
        upstream=source,
        ref=ref or "",
    )
    started = time.monotonic()
    with untrusted.commands_stopped(), out_console.status("grading the class...") as status:

        def progress(row: classgrade.Row, done: int, total: int) -> None:
            status.update(f"graded {done} of {total} (last: {row.identifier})")

        rows = classgrade.grade_class(
            entries, out_dir, options, jobs=int(jobs or os.cpu_count() or 2), step=step,
            progress=progress,
        )  # fmt: skip
    if step == "fetch":
        out_console.print(f"[ok]✓[/] fetched {len(entries)} repositories into "
                          f"[path]{esc(out_dir / 'repos')}[/] (see fetched.csv)")  # fmt: skip
        return
    commit = git.commit_of(trusted_dir) or "a folder"
    _show_class(rows, out_dir, f"{esc(trusted_dir)} at {commit[:12]}",
                f" in {time.monotonic() - started:.0f} s")  # fmt: skip


def _clone_trusted(source: str, ref: str | None, target: Path) -> None:
    import shutil

    from workshop import git

    if target.exists():
        shutil.rmtree(target)
    url = str(Path(source).resolve()) if Path(source).is_dir() else source
    steps = [["clone", "--quiet", url, str(target)]]
    if ref:
        steps.append(["-C", str(target), "-c", "advice.detachedHead=false", "checkout",
                      "--quiet", ref])  # fmt: skip
    for args in steps:
        try:
            git.run(None, *args, timeout=600)
        except git.GitError as error:
            raise Exit(f"grade-class: git {args[0]} of the trusted repository failed: "
                       f"{error.problem}", code=2) from None  # fmt: skip


def _show_class(rows: list[classgrade.Row], out_dir: Path, against: str, took: str = "") -> None:
    from rich.table import Table

    from workshop import classgrade

    out = console()
    table = Table("identifier", "points", "flags", "note", title="invoke grade-class")
    for row in rows:
        table.add_row(esc(row.identifier), f"{row.points:g} / {row.max:g}",
                      esc(" ".join(row.flags)), esc(row.note[:80]))  # fmt: skip
    out.print(table)
    (out_dir / "summary.md").write_text(classgrade.to_markdown(rows, against), encoding="utf-8")
    flagged = sum(bool(row.flags) for row in rows)
    out.print(
        f"[ok]✓[/] {len(rows)} students graded against {against}{took}; {flagged} with flags. "
        f"Wrote [path]{esc(out_dir / 'grades.csv')}[/] and [path]{esc(out_dir / 'reports')}/[/]."
    )
