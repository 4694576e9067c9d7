"""The core tasks: check a stage, verify every stage, build the snapshots."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from invoke import Exit, task

from workshop import manifest, state
from workshop.console import console, esc

if TYPE_CHECKING:
    from workshop.manifest import Stage
    from workshop.runner import StageRun, TestResult


def pick_stage(step: str | None) -> Stage:
    """The stage a task is about: the one named, else the learner's current stage."""
    if not step:
        return state.current_stage()
    try:
        return manifest.find(step)
    except KeyError as error:
        raise Exit(str(error.args[0]), code=2) from None


@task(
    positional=["step"],
    help={
        "step": "the stage: 04, 04_routing or routing (default: your current stage)",
        "verbose": "show pytest's full output as the tests run",
        "keep_going": "run every test, not just up to the first failure",
        "solution": "check the reference solution instead of your own folder",
    },
)
def check(c, step=None, verbose=False, keep_going=False, solution=False):
    """Run the tests of a stage against your code, and say what to do next."""
    from workshop import board_client, runner

    stage = pick_stage(step)
    out = console()
    if not stage.is_written():
        out.print(f"[warn]Stage {stage.id} is not written yet.[/] Nothing to check.")
        raise Exit(code=1)
    sketch_dir = stage.solution_dir() if solution else stage.step_dir()
    run = runner.run_stage(
        stage,
        sketch_dir=sketch_dir,
        first_failure=not keep_going,
        verbose=verbose,
        fork_server=True,
    )
    board_client.notify(stage, run)  # to the room board, if joined; returns at once
    if run.passed:
        report_pass(stage, run, solution)
        return
    report_failure(stage, run)
    if not solution:
        failure = run.first_failure
        state.record_failure(stage, failure.name if failure else "(the tests did not load)")
    raise Exit(code=1)


def report_pass(stage: Stage, run: StageRun, solution: bool) -> None:
    out = console()
    out.print(f"[ok]✓ Stage {stage.id} passed[/]: {run.summary()} in {run.duration:.1f} s.")
    if solution:
        return  # the reference passing says nothing about the learner's progress
    from workshop import fingerprint

    found = fingerprint.examine(stage, stage.step_dir())
    if found.kind == "reference":
        # After `invoke solve` (or a copy), the pass is the reference's: it moves nothing on.
        following = [s for s in manifest.stages() if s.number > stage.number]
        move_on = f" To move on anyway: [cmd]invoke goto {following[0].id}[/]." if following else ""
        files = ", ".join(f"sketch/{name}" for name in found.files)
        out.print(
            f"[warn]That is the reference solution passing[/] ({esc(files)}), not your code, so "
            f"the stage is not marked passed. [cmd]invoke restore {stage.id}[/] brings your "
            "code back." + move_on
        )
        return
    first_time = state.record_pass(stage)
    after_pass(stage, run, first_time)
    later = [s for s in manifest.stages() if s.number > stage.number]
    if later:
        following = later[0]
        out.print(
            f"Next: stage [stage]{following.id}[/] ({esc(following.title)}). "
            f"Read [path]{following.lesson().relative_to(manifest.ROOT)}[/], "
            f"then run [cmd]invoke check[/]."
        )
    else:
        out.print("That was the last stage: you have built a web framework. Well done!")


def after_pass(stage: Stage, run: StageRun, first_time: bool) -> None:
    """What else happens when the learner's own code passes: its checkpoint, made once."""
    from workshop import checkpoints

    out = console()
    try:
        made = checkpoints.make_checkpoint(stage)
    except (RuntimeError, OSError) as error:
        out.print(f"[warn]Could not record a checkpoint:[/] {esc(error)}")
        return
    name = checkpoints.checkpoint_name(stage)
    if made and checkpoints.uses_git():
        out.print(
            f"Checkpoint: git tag [path]{name}[/] holds your code "
            f"([cmd]git diff {name} -- {checkpoints.stage_rel(stage)}[/])."
        )
    elif made:
        where = (checkpoints.CHECKPOINT_DIRS / stage.id).as_posix()
        out.print(f"Checkpoint: your code is saved in [path]{where}/[/] (not a git repository).")


def report_failure(stage: Stage, run: StageRun) -> None:
    out = console()
    folder = run.sketch_dir
    if folder.is_relative_to(manifest.ROOT):
        folder = folder.relative_to(manifest.ROOT)
    stopped = " (stopped at the first failure)" if run.stopped_early else ""
    out.print(f"[stage]Stage {stage.id}[/] · {esc(stage.title)}")
    out.print(f"[bad]✗ {run.summary()}{stopped}[/]\n")
    failure = run.first_failure
    if failure is not None:
        out.print(f"[bold]{esc(failure.name)}[/]")
        message = failure.message or "(no message)"
        out.print(_indent(_short(message, run)), markup=False)
        where = run.where_to_look()
        printed = _unsaid(failure.output, message)
        if printed and not (where and where.todo):
            out.print("\n[dim]The server printed:[/]")
            out.print(_indent(_tail(printed, 12)), markup=False)
        _list_other_failures(run, failure)
    elif run.collection_errors:
        out.print("[bold]The tests could not be loaded:[/]")
        out.print(_indent(_tail(run.collection_errors[0]["message"], 15)), markup=False)
    where = run.where_to_look()
    out.print()
    if where is not None:
        function = f", [bold]{esc(where.function)}[/]" if where.function else ""
        out.print(f"Open [path]{esc(folder)}/{esc(where.file)}[/]{function}")
        if where.todo:
            out.print(f"  TODO: {where.todo}", markup=False)
    hints = len(stage.hints)
    out.print(
        f"Then run [cmd]invoke check {stage.id}[/] again. "
        f"Stuck? [cmd]invoke hint {stage.id}[/] ({hints} hints) or "
        f"[cmd]invoke solve {stage.id}[/] (your work is backed up). "
        "More detail: [cmd]--verbose[/]."
    )


def _unsaid(output: str, message: str) -> str:
    """OUTPUT without its first line when the message already says it (how the server
    ended: workshop.server.ServerProcess.describe_death), and without the heading after it."""
    lines = output.rstrip().splitlines()
    if lines and lines[0].strip() and lines[0].strip() in message:
        lines = lines[1:]
        if lines and lines[0] == "Its last output:":
            lines = [line.removeprefix("    ") for line in lines[1:]]
    return "\n".join(lines)


def _list_other_failures(run: StageRun, shown: TestResult, width: int = 100) -> None:
    """One line for each failure after the first: the summary's count, all of it named."""
    others = [test for test in run.tests if not test.ok and test is not shown]
    if not others:
        return
    out = console()
    out.print(f"\n[bad]And {len(others)} more:[/]")
    for test in others:
        first = (test.message or "(no message)").strip().splitlines()[0]
        if len(first) > width:
            first = first[: width - 3] + "..."
        status = "" if test.status == "fail" else f"({test.status}) "
        out.print(f"  ✗ {test.name}: {status}{first}", markup=False, highlight=False)


def _short(message: str, run: StageRun, most: int = 25) -> str:
    """The failure's message without a wall of traceback: the TODO line sums it up."""
    where = run.where_to_look()
    if where is not None and where.todo and "Its last output:" in message:
        head = message.split("Its last output:")[0].rstrip()
        return f"{head}\nIt stopped at a TODO (below); `--verbose` shows its whole output."
    lines = message.splitlines()
    if len(lines) > most:
        lines = [*lines[:most], f"... {len(lines) - most} more lines: `--verbose` shows them"]
    return "\n".join(lines)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# --- verify ----------------------------------------------------------------------------


def _verify_stage(stage: Stage) -> tuple[StageRun, StageRun]:
    from workshop import runner

    solution = runner.run_stage(stage, sketch_dir=stage.solution_dir(), fork_server=True)
    skeleton = runner.run_stage(stage, sketch_dir=stage.step_dir(), fork_server=True)
    return solution, skeleton


@task(
    positional=["step"],
    help={
        "step": "verify this stage only (default: every stage)",
        "jobs": "how many stages to verify at once (default 2; twice as many mistakes)",
        "strict": "also fail when any single test passes on a skeleton",
        "mistakes": "also prove each known mistake caught, with a true pointer (~1 min)",
    },
)
def verify(c, step=None, jobs=2, strict=False, mistakes=False):
    """Prove every written stage: its solution passes and its skeleton fails; with
    --mistakes, that each known mistake fails it too, pointing at the mistake."""
    from rich.table import Table

    out = console()
    stages = [manifest.find(step)] if step else list(manifest.stages())
    written = [s for s in stages if s.is_written()]
    if any(not (s.solution_dir() / "sketch").is_dir() for s in written):
        raise Exit("invoke verify needs every stage's reference: this is a classroom edition, "
                   "verify in the instructor's repository.", code=2)  # fmt: skip
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        futures = {s.id: pool.submit(_verify_stage, s) for s in written}
        with out.status("verifying...") as status:
            results: dict[str, tuple[StageRun, StageRun]] = {}
            for stage in written:
                results[stage.id] = futures[stage.id].result()
                status.update(f"verified {len(results)} of {len(written)} stages")
    table = Table("stage", "solution", "skeleton", "seconds", title="invoke verify")
    wrong: list[str] = []
    for stage in stages:
        if stage.id not in results:
            table.add_row(stage.id, "[dim]not written yet[/]", "[dim]not written yet[/]", "")
            continue
        solution, skeleton = results[stage.id]
        total = len(solution.tests)
        if solution.passed:
            sol_cell = f"[ok]passes[/] ({total} tests)"
        else:
            sol_cell = f"[bad]FAILS[/] ({solution.summary()})"
            wrong.append(f"{stage.id}: the solution fails: {_first(solution)}")
        passing = [t.name for t in skeleton.tests if t.status == "pass"]
        if skeleton.passed:
            skel_cell = "[bad]PASSES[/]"
            wrong.append(f"{stage.id}: the skeleton passes every test")
        elif passing:
            skel_cell = f"[warn]fails[/] ({len(passing)} of {len(skeleton.tests)} pass)"
            if strict:
                wrong.append(f"{stage.id}: on the skeleton these pass: {', '.join(passing)}")
        else:
            skel_cell = f"[ok]fails[/] (all {len(skeleton.tests)})"
        seconds = f"{solution.duration:.1f} + {skeleton.duration:.1f}"
        table.add_row(stage.id, sol_cell, skel_cell, seconds)
    out.print(table)
    out.print(f"{len(written)} stages verified in {time.monotonic() - started:.1f} s.")
    if mistakes:
        from workshop import mistakes as known_mistakes

        wrong += known_mistakes.check(out, written, 2 * max(1, int(jobs)), report_failure)
    if wrong:
        for line in wrong:
            out.print(f"[bad]✗[/] {esc(line)}")
        raise Exit(code=1)


def _first(run: StageRun) -> str:
    failure = run.first_failure
    if failure is None:
        return run.output.strip().splitlines()[-1] if run.output.strip() else "no tests ran"
    return f"{failure.name}: {failure.message.splitlines()[0] if failure.message else ''}"


# --- build -----------------------------------------------------------------------------


@task(
    help={
        "force": "overwrite files under steps/ even where they differ from what was shipped",
        "check": "write nothing; fail if any snapshot differs from what the source makes",
    }
)
def build(c, force=False, check=False):
    """Regenerate every stage's skeleton and solution from source/sketch, and the stage tables
    of the docs from stages.toml (instructors)."""
    from workshop import build as builder
    from workshop import doctables, graderrecord

    out = console()
    if check:
        drift = builder.drift()
        drift += [builder.Drift(rel, "its stage table differs from stages.toml")
                  for rel in doctables.stale()]  # fmt: skip
        for item in drift:
            out.print(f"[bad]✗[/] {esc(item.path)}: {esc(item.problem)}")
        stale = graderrecord.drift()  # the grader's test ids and fingerprints
        for problem in stale:
            out.print(f"[bad]✗[/] {esc(problem)}")
        if drift or stale:
            out.print("Run [cmd]invoke build[/] to regenerate them from source/sketch.")
            raise Exit(code=1)
        out.print("[ok]✓ Every snapshot matches source/sketch, every stage table stages.toml.[/]")
        return
    if not (manifest.ROOT / builder.SOURCE).is_dir():
        raise Exit(f"There is no {builder.SOURCE}/ here: a classroom edition is not built.", 1)
    for rel in doctables.write():
        out.print(f"wrote   {rel} (its table of stages)", markup=False)
    report = builder.write(force=force)
    graderrecord.write(manifest.ROOT)  # test ids and reference fingerprints, for the grader
    for rel in report.written:
        out.print(f"wrote   {rel}", markup=False)
    for rel in report.removed:
        out.print(f"removed {rel}", markup=False)
    for rel in report.kept:
        out.print(f"[warn]kept    {esc(rel)}[/] (changed by hand; --force overwrites it)")
    changed = len(report.written) + len(report.removed)
    out.print(f"[ok]✓ Built:[/] {changed} file(s) changed, {len(report.kept)} kept.")
