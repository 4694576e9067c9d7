"""`invoke grade`: score every stage, for the learner, the instructor and CI."""

from __future__ import annotations

from pathlib import Path

from invoke import Exit, task
from rich.table import Table

from workshop import grading, manifest
from workshop.console import console, esc


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
        "tests_from": "a trusted checkout of the workshop: its tests, harness and points are "
        "used, and your test files are only compared with them",
        "repo": "the repository to grade (default: the one you are in)",
        "format": "outputs to write, comma-separated: json, junit, github, summary, or all "
        "(default: none; the table is always printed)",
        "out": "the folder the outputs go into (default: grade/)",
        "stage_timeout": f"seconds one stage may run before it is stopped (default "
        f"{grading.STAGE_TIMEOUT:g})",
        "jobs": "how many stages to grade at once (default 2)",
        "min_score": "exit 1 when the score is below this many points (default: never)",
        "only": "grade these stages only, comma-separated (04,05_params)",
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
    stage_timeout=grading.STAGE_TIMEOUT,
    jobs=2,
    min_score=None,
    only="",
    sandbox="auto",
):
    """Grade every stage: points x share of tests passed; JSON, JUnit, Classroom outputs."""
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
                sandbox=sandbox,
            )
    except KeyError as error:
        raise Exit(str(error.args[0]), code=2) from None
    except grading.SandboxUnavailable as error:
        raise Exit(f"--sandbox require: {error}", code=2) from None
    show(result)
    if formats:
        out_dir = Path(out) if Path(out).is_absolute() else Path.cwd() / out
        for path in grading.write(result, out_dir, formats):
            out_console.print(f"wrote [path]{esc(path)}[/]")
    if min_score is not None and result.score < float(min_score):
        out_console.print(f"[bad]✗ {result.score:g} points is below --min-score {min_score}.[/]")
        raise Exit(code=1)


def show(result: grading.Grade) -> None:
    out = console()
    table = Table("stage", "tests passed", "points", "status", "seconds", title="invoke grade")
    styles = {"pass": "ok", "partial": "warn", "fail": "bad", "timeout": "bad", "error": "bad"}
    for stage in result.stages:
        if stage.status == "not written":
            table.add_row(stage.id, "", "", "[dim]not written yet[/]", "")
            continue
        status = f"[{styles.get(stage.status, 'dim')}]{stage.status}[/]"
        if stage.tests_edited:
            status += " [warn]· tests edited[/]"
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
    for warning in result.warnings():
        out.print(f"[bad]{esc(warning)}[/]")
    if result.sandboxed:
        out.print("[dim]Every learner process ran in the bubblewrap sandbox.[/]")
    out.print(
        f"[bold]Score: {result.score:g} / {result.max_score:g} points[/] "
        f"(a stage's points × the share of its tests that pass) in {result.duration:.1f} s."
    )
