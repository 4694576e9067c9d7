"""The learner's tasks: next, hint, solve, restore, backups, reset, diff, progress, watch, goto.

Every task says what happened and the one command to run next. The work itself lives in
workshop.swap (atomic swaps) and workshop.checkpoints (git tags, or .workshop/ outside git).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import time
from pathlib import Path

from invoke import Exit, task

from workshop import checkpoints, manifest, state, swap, todos
from workshop.console import console, esc
from workshop.files import Files
from workshop.manifest import Stage
from workshop.tasks import core
from workshop.tasks.core import pick_stage

ROOT = manifest.ROOT
STEP_HELP = "the stage: 04, 04_routing or routing (default: your current stage)"


def _rel(path: Path) -> str:
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


# --- next ------------------------------------------------------------------------------------


def first_todo(stage: Stage, root: Path = ROOT) -> tuple[str, int, str] | None:
    """(file, line, text) of the open `TODO(NN_name)` to do first in the stage's sketch/.

    "First" follows the lesson: its TODO list is the order the stage is meant to be built
    in (and the order its tests fail in). A TODO the lesson does not name comes after.
    """
    folder = stage.step_dir(root) / swap.PACKAGE
    try:
        lesson = stage.lesson(root).read_text(encoding="utf-8")
    except OSError:
        lesson = ""
    # Every lesson has a "## Your TODOs" section with a numbered list: rank by that list.
    section = lesson[lesson.find("## Your TODO") :].split("\n## ", 2)[:2]
    items = re.findall(r"^\d+\. .*(?:\n {3}.*)*", "\n## ".join(section), flags=re.MULTILINE)
    lesson = "\n".join(items) or lesson
    found_todos = []
    for path in sorted(folder.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for number, todo in todos.stubs(text):  # the format: workshop/todos.py
            if todo.stage_id != stage.id:
                continue
            name = todo.function.rsplit(".", 1)[-1]
            named = re.search(rf"[`.]{re.escape(name)}`", lesson)
            rank = named.start() if named else len(lesson) + len(found_todos)
            found_todos.append((rank, path.relative_to(root).as_posix(), number, todo.message))
    if not found_todos:
        return None
    _, file, number, message = min(found_todos, key=lambda todo: todo[0])
    return file, number, message


@task
def next(c):  # noqa: A001 - `invoke next` is the name a learner types
    """One line: your current stage, its lesson, the first open TODO, and the command to run."""
    stage = state.current_stage(ROOT)
    out = console()
    passed = state.load(ROOT).passed
    if stage.id == manifest.final(ROOT).id and stage.id in passed:
        left = [s for s in manifest.stages(ROOT) if s.id not in passed]
        if not left:
            out.print(
                f"[ok]You have finished the workshop[/]: all {len(passed)} stages passed, and "
                "sketch is a web framework. Each lesson ends with challenges to go further; "
                "[cmd]invoke progress[/] shows the whole way."
            )
            return
        names = ", ".join(s.id for s in left)
        out.print(
            f"The last stage passed; these have not yet: {esc(names)}. "
            f"[cmd]invoke goto {left[0].id}[/] makes the first your current stage."
        )
        return
    lesson = _rel(stage.lesson())
    todo = first_todo(stage)
    where = f", then open [path]{todo[0]}:{todo[1]}[/]" if todo else ""
    out.print(
        f"[stage]{stage.id}[/] ({stage.title}): read [path]{lesson}[/]{where}, "
        f"then run [cmd]invoke check[/]."
    )


# --- hint ------------------------------------------------------------------------------------


@task(
    positional=["step"],
    help={"step": STEP_HELP, "all": "show every hint of the stage at once"},
)
def hint(c, step=None, all=False):  # noqa: A002 - `--all` is the flag a learner types
    """Show the stage's next hint (from a nudge to a near-answer); they are remembered."""
    stage = pick_stage(step)
    out = console()
    hints = stage.hints
    if not hints:
        out.print(
            f"Stage {stage.id} has no hints yet. Its lesson is [path]{_rel(stage.lesson())}[/]; "
            f"[cmd]invoke solve {stage.id}[/] swaps in the reference (your work is backed up)."
        )
        return
    saved = state.load(ROOT)
    seen = saved.hints.get(stage.id, 0)
    if all:
        for number, text in enumerate(hints, start=1):
            out.print(f"[bold]Hint {number} of {len(hints)}[/] ({stage.id}): {esc(text)}")
        shown = len(hints)
    elif seen >= len(hints):
        out.print(f"[bold]Hint {len(hints)} of {len(hints)}[/] ({stage.id}): {esc(hints[-1])}")
        out.print(
            f"That was the last hint. [cmd]invoke hint {stage.id} --all[/] shows them all; "
            f"[cmd]invoke solve {stage.id}[/] swaps in the reference (your work is backed up)."
        )
        return
    else:
        shown = seen + 1
        out.print(f"[bold]Hint {shown} of {len(hints)}[/] ({stage.id}): {esc(hints[shown - 1])}")
    saved.hints[stage.id] = max(seen, shown)
    state.save(saved, ROOT)
    left = len(hints) - shown
    if left:
        more = "1 more hint" if left == 1 else f"{left} more hints"
        out.print(f"{more}: [cmd]invoke hint {stage.id}[/]. Try it: [cmd]invoke check[/].")
    else:
        out.print(
            f"No hints left. Try it: [cmd]invoke check {stage.id}[/]; still stuck, "
            f"[cmd]invoke solve {stage.id}[/] (your work is backed up first)."
        )


# --- solve, restore, reset, backups --------------------------------------------------------


def _fail(error: Exception) -> Exit:
    return Exit(f"✗ {error}", code=1)


def _say_backup(out, result: swap.SwapResult) -> None:
    where = "a git tag" if result.git else ".workshop/backups/ (this folder is not a git repo)"
    if result.backup_created:
        out.print(f"Your work was backed up as [path]{esc(result.backup)}[/] ({where}).")
    else:
        out.print(f"Your work was already backed up, unchanged, as [path]{esc(result.backup)}[/].")


@task(
    positional=["step"],
    help={
        "step": STEP_HELP,
        "file": "swap in only this module of the reference, e.g. router.py "
        "(default: the whole sketch/ package)",
    },
)
def solve(c, step=None, file=None):
    """Back up your stage folder, then swap in the reference solution (or one file of it)."""
    stage = pick_stage(step)
    out = console()
    try:
        result = swap.solve(stage, file, ROOT)
    except (LookupError, RuntimeError, OSError) as error:
        raise _fail(error) from None
    folder = _rel(stage.step_dir() / swap.PACKAGE)
    if not result.changed:
        what = f"{folder}/{file}" if file else folder
        out.print(f"{esc(what)} already is the reference: nothing to do. Run [cmd]invoke check[/].")
        return
    what = f"{folder}/{swap.normalise_file(stage, file, ROOT)}" if file else f"{folder}/"
    out.print(f"[ok]✓ The reference solution is now in {esc(what)}[/]")
    _say_backup(out, result)
    number = result.backup.rsplit("/", 1)[-1] if result.backup else ""
    out.print(f"  Compare yours with it: [cmd]invoke diff {stage.id} --against backup[/]")
    if result.git:
        out.print(f"      (or: [cmd]git diff {esc(result.backup)} -- {esc(folder)}[/])")
    out.print(f"  Get yours back:        [cmd]invoke restore {stage.id} --backup {number}[/]")


@task(
    positional=["step"],
    help={
        "step": "the stage: 04, 04_routing or routing (default: the stage of your last "
        "solve or reset, else your current stage)",
        "backup": "which backup: 3 or backup/04_routing/3 (default: the newest one "
        "not made by restore itself); `invoke backups` lists them",
    },
)
def restore(c, step=None, backup=None):
    """Bring a backup of your stage back, byte for byte, after backing up what is there now."""
    # With no STEP, undo the last swap: a pass with the reference in place has moved the
    # current stage on, but "invoke restore" right after "invoke solve" means that stage.
    stage = pick_stage(step or swap.last_swapped(ROOT))
    out = console()
    try:
        result = swap.restore(stage, backup, ROOT)
    except (LookupError, RuntimeError, OSError) as error:
        raise _fail(error) from None
    folder = _rel(stage.step_dir() / swap.PACKAGE)
    if not result.changed:
        out.print(f"{esc(folder)}/ already holds {esc(result.what)}: nothing to do.")
        return
    out.print(f"[ok]✓ {esc(folder)}/ is back as it was in {esc(result.what)}[/]")
    _say_backup(out, result)
    out.print(f"Next: [cmd]invoke check {stage.id}[/]")


@task(positional=["step"], help={"step": STEP_HELP})
def backups(c, step=None):
    """List the backups of a stage, newest last, with the command to restore each."""
    from rich import box
    from rich.table import Table

    stage = pick_stage(step)
    out = console()
    found = checkpoints.list_backups(stage, ROOT)
    if not found:
        out.print(f"Stage {stage.id} has no backups yet (solve, restore and reset make them).")
        return
    git = checkpoints.uses_git(ROOT)
    table = Table("backup", "taken", "why", title=f"backups of {stage.id}", box=box.SIMPLE)
    for snapshot in found:
        table.add_row(snapshot.name, snapshot.when.replace("T", " ")[:19], esc(snapshot.reason))
    out.print(table)
    if not git:
        out.print("They are kept under [path].workshop/backups/[/] (not a git repository).")
    usual = checkpoints.find_backup(stage, None, ROOT).number
    out.print(
        f"Bring one back: [cmd]invoke restore {stage.id} --backup N[/] "
        f"(with no --backup: {usual}, the newest not made by restore)"
    )


@task(positional=["step"], help={"step": STEP_HELP})
def reset(c, step=None):
    """Put the untouched skeleton back in your stage folder (your work is backed up first)."""
    stage = pick_stage(step)
    out = console()
    try:
        result = swap.reset(stage, ROOT)
    except (LookupError, RuntimeError, OSError) as error:
        raise _fail(error) from None
    folder = _rel(stage.step_dir() / swap.PACKAGE)
    if not result.changed:
        out.print(f"{esc(folder)}/ already is the untouched skeleton: nothing to do.")
        return
    out.print(f"[ok]✓ {esc(folder)}/ is the untouched skeleton again[/]")
    _say_backup(out, result)
    number = result.backup.rsplit("/", 1)[-1] if result.backup else ""
    out.print(f"Changed your mind? [cmd]invoke restore {stage.id} --backup {number}[/]")


# --- diff ------------------------------------------------------------------------------------

AGAINST = ("checkpoint", "skeleton", "reference", "backup")
SAME_AS = {"solution": "reference", "answer": "reference"}  # other words a learner may use


def unified_diff(theirs: Files, yours: Files, their_label: str, your_label: str) -> list[str]:
    """A unified diff of two sketch/ trees, file by file (binary files named, not shown)."""
    lines: list[str] = []
    for name in sorted(set(theirs) | set(yours)):
        a, b = theirs.get(name), yours.get(name)
        if a == b:
            continue
        a_data, b_data = (a.data if a else b""), (b.data if b else b"")
        a_name = f"{their_label}/{name}" if a else "/dev/null"
        b_name = f"{your_label}/{name}" if b else "/dev/null"
        try:
            a_text, b_text = a_data.decode("utf-8"), b_data.decode("utf-8")
        except UnicodeDecodeError:
            lines.append(f"Binary files {a_name} and {b_name} differ")
            continue
        if a_data == b_data:
            lines.append(f"mode changed: {name}")
            continue
        diff = difflib.unified_diff(
            a_text.splitlines(keepends=True),
            b_text.splitlines(keepends=True),
            a_name,
            b_name,
        )
        for line in diff:
            if not line.endswith("\n"):
                line += "\n\\ No newline at end of file\n"
            lines.extend(line.rstrip("\n").split("\n"))
    return lines


def compare_with(stage: Stage, against: str, backup: str | None = None, root: Path = ROOT):
    """(their files, their label) for `invoke diff --against AGAINST`."""
    if against == "reference":
        if not swap.reference(stage, root):
            from workshop import edition

            raise LookupError(edition.no_reference(stage, root))
        return swap.reference(stage, root), f"solutions/{stage.id}/sketch"
    if against == "skeleton":
        return swap.skeleton(stage, root), "skeleton"
    if against == "checkpoint":
        if not checkpoints.has_checkpoint(stage, root):
            raise LookupError(f"stage {stage.id} has no checkpoint yet: the first pass makes it")
        files = checkpoints.read_checkpoint(stage, root)
        return swap.sketch_of(files), checkpoints.checkpoint_name(stage)
    chosen = checkpoints.find_backup(stage, backup, root)
    return swap.sketch_of(checkpoints.read_backup(stage, chosen.name, root)), chosen.name


@task(
    positional=["step"],
    help={
        "step": STEP_HELP,
        "against": "compare with: checkpoint (your code when the stage first passed; the "
        "default once there is one), skeleton (the default before), reference (the answer) "
        "or backup",
        "backup": "compare with this backup, e.g. 3 (with --against backup and no --backup: "
        "the newest not made by restore)",
    },
)
def diff(c, step=None, against=None, backup=None):
    """Show what you changed: a unified diff of your sketch/ against your checkpoint, the
    skeleton, a backup, or (only when asked) the reference."""
    stage = pick_stage(step)
    out = console()
    if not against:
        if backup:
            against = "backup"  # naming a backup says what to compare with
        elif checkpoints.has_checkpoint(stage, ROOT):
            against = "checkpoint"
        else:
            against = "skeleton"
    against = SAME_AS.get(against, against)
    if against not in AGAINST:
        raise Exit(f"--against must be one of: {', '.join(AGAINST)}", code=2)
    try:
        theirs, label = compare_with(stage, against, backup)
    except (LookupError, RuntimeError, OSError) as error:
        raise _fail(error) from None
    yours = swap.learner_sketch(stage, ROOT)
    your_label = _rel(stage.step_dir() / swap.PACKAGE)
    if against == "reference":
        said = f"[warn]This is the answer[/]: the reference solution of {stage.id}"
    else:
        said = DIFF_BASES[against].format(label=esc(label))
    out.print(f"{said} (-), against {esc(your_label)}/ as it is now (+).")
    lines = unified_diff(theirs, yours, label, your_label)
    if not lines:
        out.print(f"{esc(your_label)}/ and {esc(label)} are the same.")
        return
    styles = {"+": "green", "-": "red", "@": "cyan"}
    for line in lines:
        style = "bold" if line.startswith(("+++", "---")) else styles.get(line[:1])
        out.print(line, style=style, markup=False, highlight=False)
    changed = sum(1 for line in lines if line.startswith("+++") or line.startswith("Binary"))
    out.print(f"\n[dim]{changed} file(s) differ: {esc(label)} (-) against yours (+).[/]")


DIFF_BASES = {  # the first line of a diff: what it compares your code with
    "checkpoint": "Your code when the stage first passed ({label})",
    "skeleton": "The skeleton as shipped",
    "backup": "The backup {label}",
}


# --- progress --------------------------------------------------------------------------------


def stage_status(stage: Stage, saved: state.State, root: Path = ROOT) -> str:
    """ "passed", "failing" (its last check), "not written", "in progress" (changed or
    current) or "not started"."""
    if stage.id in saved.passed:
        return "passed"
    if not stage.is_written(root):
        return "not written"
    if stage.id in saved.failing:
        return "failing"
    if state.current_stage(root).id == stage.id:
        return "in progress"
    return "not started" if swap.is_untouched(stage, root) else "in progress"


def reference_cell(stage: Stage, root: Path = ROOT) -> str:
    """Whether the reference is in the learner's folder now: all of it, some files, or none."""
    ref = swap.reference(stage, root)
    if not ref:
        return ""
    mine = swap.learner_sketch(stage, root)
    if mine == ref:
        return "swapped in"
    files = [name for name in swap.swapped_files(stage, root) if mine.get(name) == ref.get(name)]
    return files[0] if len(files) == 1 else f"{len(files)} files" if files else ""


@task
def progress(c):
    """A table of every stage: passed or not, reference swapped in, hints used, checkpoint."""
    from rich import box
    from rich.table import Table

    out = console()
    saved = state.load(ROOT)
    current = state.current_stage(ROOT)
    git = checkpoints.uses_git(ROOT)
    table = Table(box=box.SIMPLE, pad_edge=False)
    # Stage names and statuses never shrink; on a narrow terminal the last columns fold.
    width = max(len(stage.id) for stage in manifest.stages(ROOT))
    table.add_column("", no_wrap=True)
    table.add_column("stage", no_wrap=True, min_width=width)
    table.add_column("status", no_wrap=True, min_width=len("in progress"))
    table.add_column("reference", overflow="fold")
    table.add_column("hints", no_wrap=True)
    table.add_column("checkpoint", overflow="fold")
    marks = {
        "passed": "[ok]passed[/]",
        "failing": "[bad]failing[/]",
        "in progress": "[warn]in progress[/]",
        "not started": "not started",
        "not written": "[dim]not written[/]",
    }
    for stage in manifest.stages(ROOT):
        status = stage_status(stage, saved, ROOT)
        used = saved.hints.get(stage.id, 0)
        hints = f"{used}/{len(stage.hints)}" if stage.hints else "-"
        has = checkpoints.has_checkpoint(stage, ROOT)
        tag = checkpoints.checkpoint_name(stage) if has else ""
        if has and not git:
            tag = f".workshop/checkpoints/{stage.id}"
        table.add_row(
            "▶" if stage.id == current.id else "",
            stage.id,
            marks[status],
            reference_cell(stage, ROOT),
            hints,
            tag,
        )
    out.print(table)
    done = sum(1 for s in manifest.stages(ROOT) if s.id in saved.passed)
    total = len(manifest.stages(ROOT))
    out.print(f"{done} of {total} stages passed. Next: [cmd]invoke next[/]")


# --- goto ------------------------------------------------------------------------------------


@task(positional=["step"], help={"step": "the stage to move to: 04, 04_routing or routing"})
def goto(c, step=None):
    """Make STEP your current stage (for a class moving on together); no folder is touched."""
    if not step:
        raise Exit("Which stage? For example: invoke goto 04", code=2)
    stage = pick_stage(step)
    saved = state.load(ROOT)
    saved.current = stage.id
    state.save(saved, ROOT)
    console().print(
        f"Your current stage is now [stage]{stage.id}[/] ({stage.title}). "
        f"Read [path]{_rel(stage.lesson())}[/], then run [cmd]invoke check[/]."
    )


# --- watch -----------------------------------------------------------------------------------


@task(
    positional=["step"],
    help={
        "step": STEP_HELP,
        "keep_going": "run every test, not just up to the first failure",
    },
)
def watch(c, step=None, keep_going=False):
    """Rerun `invoke check` whenever a file of the stage changes; Ctrl-C stops."""
    from watchfiles import DefaultFilter
    from watchfiles import watch as watch_changes

    stage = pick_stage(step)
    out = console()
    folder = stage.step_dir(ROOT)
    # Tests bound a watch: stop after this many runs, or this many seconds without a change.
    runs_left = int(os.environ.get("WORKSHOP_WATCH_RUNS", "0")) or None
    idle = float(os.environ.get("WORKSHOP_WATCH_IDLE", "0")) or None

    def run_check() -> None:
        nonlocal runs_left
        out.clear()
        out.print(f"[dim]{time.strftime('%H:%M:%S')} invoke check {stage.id}[/]")
        try:
            core.check(c, step=stage.id, keep_going=keep_going)
        except Exit:
            pass  # the failure report was printed; keep watching
        out.print(f"\n[dim]Watching {esc(_rel(folder))}/ for changes. Ctrl-C stops.[/]")
        sys.stdout.flush()
        if runs_left is not None:
            runs_left -= 1

    try:
        run_check()
        if runs_left == 0:
            return
        changes = watch_changes(
            folder,
            watch_filter=DefaultFilter(),
            rust_timeout=int(idle * 1000) if idle else 5000,
            yield_on_timeout=bool(idle),
            raise_interrupt=True,
        )
        for batch in changes:
            if not batch:  # the idle time passed with no change (tests only)
                break
            run_check()
            if runs_left == 0:
                break
    except KeyboardInterrupt:
        out.print("\nStopped watching.")
