"""The instructor's tasks: review a stage, add a stage, release a classroom edition, and
bring a newer release into a learner's repo."""

from __future__ import annotations

import difflib
from pathlib import Path

from invoke import Exit, task

from workshop import manifest
from workshop.console import console, esc
from workshop.tasks.core import pick_stage
from workshop.tasks.grading import learner_repo


@task(
    positional=["step", "file"],
    help={
        "step": "the stage: 04, 04_routing or routing",
        "file": "one file of its sketch/, e.g. protocol.py (default: a list of them all)",
        "diff": "show what the stage changes: a diff against the previous stage's reference",
        "skeleton": "the learner's skeleton (this stage's TODOs stubbed) instead of the reference",
    },
)
def show(c, step, file=None, diff=False, skeleton=False):
    """Render a stage's sketch/ from source/sketch in memory, or its diff from the stage
    before: the way to review a lesson (instructors). Nothing is written."""
    from rich.text import Text

    from workshop import build, markers

    stage = pick_stage(step)
    stages = manifest.stages()
    before = stages[stages.index(stage) - 1] if stages.index(stage) else None
    wanted = [stage] + ([before] if before else [])
    try:
        made = build.snapshots(wanted, skeleton=skeleton)
    except markers.MarkerError as error:
        raise Exit(f"show: {error}", code=2) from None
    if skeleton and before:  # a skeleton is the reference before it plus the stage's TODOs
        made[before.id] = build.snapshots([before])[before.id]
    now, then = made[stage.id], made[before.id] if before else {}
    out = console()
    name = (file or "").removeprefix("sketch/")
    if name and name not in now and name not in then:
        raise Exit(f"show: {stage.id} has no sketch/{name}; it has {', '.join(now)}", code=2)
    what = "skeleton" if skeleton else "reference"
    if not diff and name:
        out.print(now[name], markup=False, end="")
        return
    if not diff:
        out.print(f"[stage]{stage.id}[/] {what}, sketch/ as source/sketch makes it:")
        for each in sorted(now):
            change = "new" if each not in then else "changed" if now[each] != then[each] else ""
            lines = now[each].count("\n")
            out.print(f"  sketch/{esc(each):20} {lines:5} lines  [warn]{change}[/]")
        for each in sorted(set(then) - set(now)):
            out.print(f"  sketch/{esc(each):20}        gone  [warn]removed[/]")
        out.print(f"[cmd]invoke show {stage.id} FILE[/] prints one; [cmd]--diff[/] the changes.")
        return
    since = f"{before.id} reference" if before else "nothing"
    for each in [name] if name else sorted(set(now) | set(then)):
        old, new = then.get(each, ""), now.get(each, "")
        lines = difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            f"{since}: sketch/{each}" if each in then else "/dev/null",
            f"{stage.id} {what}: sketch/{each}" if each in now else "/dev/null",
        )
        for line in lines:
            style = {"+": "green", "-": "red", "@": "cyan"}.get(line[0], "")
            out.print(
                Text(line.rstrip("\n"), style=style if line[:3] not in ("+++", "---") else "bold")
            )


@task(
    positional=["name"],
    help={
        "name": "the new stage's name: lower case, e.g. cookies (its id becomes NN_cookies)",
        "after": "the stage it follows: 04, 04_routing or routing; later stages move up one",
        "title": "its one-line title in stages.toml (default: a TODO)",
        "points": "what it is worth in invoke grade (default 10)",
        "minutes": "a typical time for a room (default 30)",
    },
)
def new_step(c, name, after, title="", points=10, minutes=30):
    """Add a stage after another: manifest, source module with a TODO, lesson, test."""
    from workshop import newstep

    out = console()
    try:
        result = newstep.new_step(
            manifest.ROOT, name, after, title=title, points=int(points), minutes=int(minutes)
        )
    except (ValueError, KeyError) as error:
        raise Exit(f"new-step: {error.args[0]}", code=2) from None
    for old, new in result.renamed.items():
        out.print(f"renumbered {old} -> {new}", markup=False)
    for rel in result.rewritten:
        out.print(f"rewrote    {rel}", markup=False)
    for rel in result.written:
        out.print(f"wrote      {rel}", markup=False)
    out.print(f"[ok]✓ Added stage {result.stage_id}.[/] Next:")
    out.print(f"  [cmd]invoke build[/]  (makes steps/{result.stage_id}/sketch and its solution)")
    out.print(f"  [cmd]invoke verify {result.stage_id}[/]  (the placeholder test proves it)")
    out.print("  then replace the TODO(instructor) parts: the module, the lesson, the tests.")
    if result.renamed:
        out.print("[warn]Prose naming stages by number alone (stage 05) was not changed.[/]")


@task(
    help={
        "from_": "where the newer release is: a git URL, a local clone, or an unpacked folder",
        "ref": "the branch, tag or commit to take (default: the default branch)",
        "repo": "the learner repository to update (default: the one you are in)",
        "dry_run": "only say what would change",
    },
)
def update(c, from_, ref=None, repo=None, dry_run=False):
    """Bring a newer workshop release in, replacing only files you never changed."""
    from workshop import update as updater

    out = console()
    target = learner_repo(repo)
    try:
        report = updater.update(target, from_, ref, dry_run=dry_run)
    except (RuntimeError, ValueError) as error:
        raise Exit(f"update: {error}", code=2) from None
    verb = "would " if dry_run else ""
    out.print(f"Release [bold]{report.release[:12]}[/] into [path]{esc(target)}[/]")
    for rel in report.updated:
        out.print(f"{verb}update  {rel}", markup=False)
    for rel in report.added:
        out.print(f"{verb}add     {rel}", markup=False)
    for rel in report.removed:
        out.print(f"{verb}remove  {rel}", markup=False)
    for mine, new in report.kept:
        out.print(
            f"[warn]kept    {esc(mine)}[/] (you changed it); the new version: [path]{esc(new)}[/]"
        )
    for rel in report.kept_dropped:
        out.print(f"[warn]kept    {esc(rel)}[/] (you changed it; the new release no longer has it)")
    if report.readded:
        out.print(f"[warn]{verb}re-add these files you had deleted[/] (the release has them):")
        for rel in report.readded:
            out.print(f"  {rel}", markup=False)
    changes = len(report.updated) + len(report.added) + len(report.readded) + len(report.removed)
    out.print(
        f"[ok]✓[/] {changes} file(s) {'would change' if dry_run else 'changed'}, "
        f"{len(report.kept)} of yours kept beside a new version, {report.yours} of yours "
        f"the release leaves alone, {report.unchanged} already up to date."
    )
    if report.kept:
        out.print("Compare each kept file with its new version (git diff --no-index A B).")
    for folder, problem, files in report.broken:
        out.print(f"[bad]✗ {esc(folder)}/sketch no longer imports:[/] {esc(problem)}")
        out.print("  Your kept file(s) there may use what the release changed. For each:")
        for mine, new in files:
            mine, new = esc(mine), esc(new)
            out.print(f"    see the new version: [cmd]git diff --no-index {mine} {new}[/]")
            out.print(f"    take it (commit yours first to keep it): [cmd]cp {new} {mine}[/]")
    if not dry_run and report.changed:
        out.print("Review with [cmd]git status[/], then commit.")
        if any(rel == "pyproject.toml" for rel in report.updated + report.added):
            out.print('pyproject.toml changed: reinstall with [cmd]pip install -e ".[dev]"[/].')


@task(
    positional=["kind", "out"],
    help={
        "kind": "the edition to write: classroom (the only kind so far)",
        "out": "the edition's git repository (created on the first release); each release is "
        "one new commit there, which you push as the Classroom template",
        "through": "the last stage released: 03, 03_responses or responses",
        "first": "the first stage released (default: the first stage); --first 04 --through 04 "
        "makes a repository for one assignment per stage",
        "references": "references to release: none (default), closed (every stage before "
        "--through) or a list such as 01,02",
    },
)
def release(c, kind, out, through, first=None, references="none"):
    """Write the classroom edition through a stage: no reference of a stage still open."""
    from workshop import edition

    console_out = console()
    if kind != edition.KIND:
        raise Exit(f"release: the only edition is {edition.KIND!r}, not {kind!r}", code=2)
    try:
        made = edition.release(
            manifest.ROOT, Path(out), through, first=first, references=references
        )
    except (edition.EditionError, KeyError) as error:
        raise Exit(f"release: {error.args[0]}", code=2) from None
    for rel in made.left_out:
        console_out.print(f"[warn]left out[/] {esc(rel)} (it shows an open stage's reference)")
    stages = f"{made.stages[0]}..{made.stages[-1]}"
    if made.commit is None:
        console_out.print(f"[ok]✓[/] {esc(made.out)} already holds the release of {stages}.")
        return
    console_out.print(
        f"[ok]✓ Released {stages}[/] into [path]{esc(made.out)}[/] as commit "
        f"{made.commit[:12]}: {len(made.added)} file(s) added, {len(made.changed)} changed, "
        f"{len(made.removed)} removed; references: {', '.join(made.references) or 'none'}."
    )
    console_out.print(
        "Push it (the first time: as the template of the Classroom assignment); learners take "
        "a later release with [cmd]invoke update --from URL[/]."
    )
