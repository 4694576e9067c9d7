"""Known mistakes, proven caught: each one swapped into its stage's reference and judged.

A known mistake is a named variant of one unit of `source/sketch/` (`#: mistake NAME: UNIT in
STAGE`, docs/DEVELOPING.md): what a learner of that stage writes when they get it wrong.
`invoke verify --mistakes` builds the stage's reference with each mistake in place (in a
temporary folder), runs the stage's tests on it up to the first failure, and proves four
things, as a learner would meet them:

1. the stage fails;
2. the first failure sends the learner to the mistake: what `invoke check` shows as
   "Open FILE, FUNCTION" (the TODO the run stopped at, else the failure's `look at:` line)
   names the file and the function the mistake is in;
3. the workshop's own code printed no traceback: rendering the failure as `invoke check`
   does raises nothing, and nothing in what the run reported is a traceback of the judge's
   tooling (the learner's own tracebacks are fine);
4. graded (`grading.score_stage`), the stage scores below its maximum.

The mistakes run side by side, a few at a time: each is a pytest process of its own, which
spends most of its time waiting on servers. A mistake that fails proof 2 or 3 runs once more,
alone, before it is believed: a loaded machine can make an unrelated timing test fail first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from workshop import build, grading, manifest, runner
from workshop.build import Mistake
from workshop.manifest import Stage

# A frame of a traceback printed by the workshop's own tooling or by pytest itself.
TOOL_FRAME = re.compile(r'File "[^"]*/(?:workshop|_pytest|pluggy|invoke|rich)/[^"]*", line \d+')
SKETCH_FILE = re.compile(r"\bsketch/[\w/]+\.py\b")


@dataclass
class Verdict:
    """What running one mistake showed."""

    mistake: Mistake
    shown: str = ""  # the "Open FILE, FUNCTION" pointer the learner would see
    first_failure: str = ""  # the name of the test that failed first
    problems: list[str] = field(default_factory=list)  # empty: caught, with a true pointer
    passed: bool = False  # the stage passed with the mistake in place: not caught at all
    seconds: float = 0.0
    runs: int = 0

    @property
    def caught(self) -> bool:
        return not self.problems


def stage_of(mistake: Mistake, root: Path = manifest.ROOT) -> Stage:
    return next(s for s in manifest.stages(root) if s.name == mistake.stage)


def known(stages: Sequence[Stage] | None = None, root: Path = manifest.ROOT) -> list[Mistake]:
    """The known mistakes of STAGES (default: every stage), in stage order."""
    names = [s.name for s in (stages if stages is not None else manifest.stages(root))]
    found = [m for m in build.mistakes(root) if m.stage in names]
    return sorted(found, key=lambda m: names.index(m.stage))


# How `invoke check` shows a failure (workshop.tasks.core.report_failure): passed in by the
# task, so this module stays below the tasks (tests/test_layers.py).
Render = Callable[[Stage, runner.StageRun], None]


def prove(
    mistakes: Sequence[Mistake],
    render: Render,
    *,
    jobs: int = 0,
    root: Path = manifest.ROOT,
) -> list[Verdict]:
    """Run each mistake's stage on its reference with the mistake in place; judge each run,
    showing its failure with RENDER as `invoke check` would."""
    jobs = jobs or max(2, os.cpu_count() or 2)
    changed = build.with_mistakes(mistakes, root)
    with tempfile.TemporaryDirectory(prefix="workshop-mistakes-") as tmp:
        folders = {}
        for mistake in mistakes:  # the stage's reference, and the mistake's file over it
            folder = Path(tmp, mistake.name, build.PACKAGE)
            reference = stage_of(mistake, root).solution_dir(root) / build.PACKAGE
            shutil.copytree(reference, folder, ignore=shutil.ignore_patterns("__pycache__"))
            for name, text in changed[mistake.name].items():
                (folder / name).write_text(text, encoding="utf-8")
            folders[mistake.name] = folder.parent

        def attempt(mistake: Mistake) -> tuple[Mistake, runner.StageRun]:
            stage = stage_of(mistake, root)
            return mistake, runner.run_stage(
                stage,
                sketch_dir=folders[mistake.name],
                root=root,
                first_failure=True,
                fork_server=True,
            )

        verdicts: dict[str, Verdict] = {}
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for mistake, run in pool.map(attempt, mistakes):
                verdicts[mistake.name] = judge(mistake, run, render, root)
        for mistake in mistakes:  # a second run, alone, before a wrong pointer is believed
            first = verdicts[mistake.name]
            if first.problems and not first.passed:  # a pass is no accident of load
                again = judge(*attempt(mistake), render, root)
                again.runs += first.runs
                again.seconds += first.seconds
                verdicts[mistake.name] = again
    return [verdicts[m.name] for m in mistakes]


def judge(
    mistake: Mistake, run: runner.StageRun, render: Render, root: Path = manifest.ROOT
) -> Verdict:
    """The four proofs, on one run of the stage with MISTAKE in place."""
    verdict = Verdict(mistake, seconds=run.duration, runs=1)
    stage = stage_of(mistake, root)
    if run.passed:
        verdict.passed, verdict.shown = True, "(the stage passes)"
        verdict.problems.append("not caught: every test passes with this mistake in place")
        return verdict
    failure = run.first_failure
    verdict.first_failure = failure.name if failure else "(the tests did not load)"
    where = run.where_to_look()
    verdict.shown = f"{where.file}: {where.function}" if where else "(no pointer)"
    if where is None:
        verdict.problems.append(
            f"{verdict.first_failure} fails without a pointer (no TODO, no `look at:` line)"
        )
    elif not points_to(where, mistake):
        verdict.problems.append(
            f"{verdict.first_failure} points to {verdict.shown}, not {mistake.pointer}"
        )
    verdict.problems += tool_tracebacks(stage, run, render)
    grade = grading.score_stage(stage, run)
    if "report" in grade.flags or grade.points >= grade.max_points:
        verdict.problems.append(
            f"graded {grade.points:g} of {grade.max_points:g} ({grade.status}: {grade.note})"
        )
    return verdict


def points_to(where: runner.Where, mistake: Mistake) -> bool:
    """Whether WHERE names the mistake's file and, after it, every part of its function.

    `look at:` lines may name several places ("sketch/connections.py: Connections.shutdown
    and sketch/protocol.py: HttpProtocol.shutdown"): any one of them may be the mistake's.
    """
    if where.todo:
        return where.file == mistake.file and where.function == mistake.function
    text = f"{where.file}: {where.function}"
    starts = [found.start() for found in SKETCH_FILE.finditer(text)] + [len(text)]
    for start, end in zip(starts, starts[1:], strict=False):
        part = text[start:end]
        if not part.startswith(mistake.file):
            continue
        words = part[len(mistake.file) :]
        if all(re.search(rf"\b{re.escape(name)}\b", words) for name in mistake.function.split(".")):
            return True
    return False


def tool_tracebacks(stage: Stage, run: runner.StageRun, render: Render) -> list[str]:
    """Tracebacks of the workshop's own code: rendering the failure as `invoke check` does
    (RENDER), and in what the run reported (its pytest output, the failure's message and
    output)."""
    problems = []
    shown = io.StringIO()
    # As the learner's own folder would be shown: the mistake's copy lives outside the tree.
    as_checked = dataclasses.replace(run, sketch_dir=stage.step_dir())
    try:
        with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(shown):
            render(stage, as_checked)
    except Exception as error:  # the very thing this proof is for
        problems.append(f"`invoke check` crashed showing the failure: {error!r}")
    failure = run.first_failure
    texts = [shown.getvalue(), run.output]
    texts += [failure.message, failure.output] if failure else []
    for text in texts:
        frame = TOOL_FRAME.search(text)
        if frame or "INTERNALERROR" in text:
            problems.append(
                "the workshop's own code printed a traceback: "
                + (frame.group(0) if frame else "pytest INTERNALERROR")
            )
            break
    return problems


def check(out: Console, stages: Sequence[Stage], jobs: int, render: Render) -> list[str]:
    """Prove the known mistakes of STAGES, list them, and return what is wrong (a line per
    proof a mistake failed); `invoke verify --mistakes` calls this."""
    from workshop.console import esc

    chosen = known(stages)
    started = time.monotonic()
    # No live status line: proving renders each failure as `invoke check` would, with
    # stdout caught meanwhile, which a refreshing status line would write into.
    out.print(f"Running {len(chosen)} known mistakes, {jobs} at a time...")
    verdicts = prove(chosen, render, jobs=jobs)
    took = time.monotonic() - started
    out.print(f"[bold]Known mistakes[/], each in its stage's reference ({len(verdicts)}):")
    wrong = []
    for verdict in verdicts:
        mistake = verdict.mistake
        stage = stage_of(mistake).id
        if verdict.caught:
            out.print(
                f"[ok]✓[/] {stage} {esc(mistake.name)}: [path]{esc(mistake.pointer)}[/], "
                f"[dim]by {esc(verdict.first_failure)}[/]"
            )
            continue
        out.print(f"[bad]✗[/] {stage} {esc(mistake.name)}: [bad]{esc(verdict.problems[0])}[/]")
        wrong += [f"{stage}: known mistake {mistake.name!r} ({mistake.description}): {problem}"
                  for problem in verdict.problems]  # fmt: skip
    caught = sum(v.caught for v in verdicts)
    out.print(
        f"{caught} of {len(verdicts)} known mistakes caught with a true pointer, "
        f"in {took:.1f} s ({jobs} at a time)."
    )
    return wrong
