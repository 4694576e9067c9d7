"""The snapshot builder: one source, a skeleton and a solution for every stage.

For every stage the builder writes `solutions/NN_name/sketch/` (the reference at the end of
the stage) and `steps/NN_name/sketch/` (the same, with the stage's own `todo` blocks stubbed
out), each file made from `source/sketch/` by its `#:` markers (workshop/markers.py) and
formatted with ruff. `workshop.lock` records the hash of every file shipped under steps/
and solutions/, so a build never overwrites a learner's work.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workshop import files, lock, manifest
from workshop.markers import PACKAGE, MarkerError, Source, parse, renames, render

SOURCE = Path("source") / "sketch"


# --- every stage, every file --------------------------------------------------------------


def sources(root: Path = manifest.ROOT) -> list[Source]:
    """Every source file, parsed."""
    order = [stage.name for stage in manifest.stages(root)]
    found: list[Source] = []
    owners: dict[str, str] = {}  # a variant's own name -> the file it is in
    for path in files.walk(root / SOURCE):
        rel = path.relative_to(root / SOURCE).as_posix()
        source = parse(path.read_text(encoding="utf-8"), rel, order)
        for unit in source.units:
            if unit.own and owners.setdefault(unit.own, rel) != rel:
                raise MarkerError(
                    f"{PACKAGE}/{rel}:{unit.marker + 1}: {PACKAGE}/{owners[unit.own]} has a "
                    f"variant named {unit.own!r} too: snapshots rename them by that name"
                )
        found.append(source)
    for source in found:
        for qualname in source.spans:
            name = qualname.rsplit(".", 1)[-1]
            if owners.get(name, source.path) != source.path:
                raise MarkerError(
                    f"{PACKAGE}/{owners[name]}: a variant is named {name!r}, as a unit of "
                    f"{PACKAGE}/{source.path} is: snapshots would rename that one too"
                )
    return found


@dataclass(frozen=True)
class Mistake:
    """A known mistake (`#: mistake`): which stage's tests must catch it, and where a failing
    test should point the learner: the file and the function the mistake stands in for."""

    name: str
    stage: str  # the stage's name, as markers write it
    file: str  # "sketch/app.py"
    function: str  # "Application.handle", as the snapshot names it
    description: str = ""  # what the learner did wrong, in a line

    @property
    def pointer(self) -> str:
        """Where a failing test should send the learner: "sketch/app.py: Application.handle"."""
        return f"{self.file}: {self.function}"


def mistakes(root: Path = manifest.ROOT) -> list[Mistake]:
    """Every known mistake in the source; `render(..., mistake=NAME)` puts one in place."""
    order = [stage.name for stage in manifest.stages(root)]
    found: list[Mistake] = []
    for source in sources(root):
        renamed = {u.own: u.target.rsplit(".", 1)[-1] for u in source.units if u.target}
        for unit in source.units:
            if unit.mistake and unit.target:
                if any(m.name == unit.mistake for m in found):
                    raise MarkerError(f"{PACKAGE}/{source.path}:{unit.marker + 1}: a second "
                                      f"mistake named {unit.mistake!r}")  # fmt: skip
                function = ".".join(renamed.get(n, n) for n in unit.target.split("."))
                where = f"{PACKAGE}/{source.path}"
                stage = order[unit.lo]
                found.append(Mistake(unit.mistake, stage, where, function, unit.description))
    return found


def with_mistakes(
    chosen: Sequence[Mistake], root: Path = manifest.ROOT
) -> dict[str, dict[str, str]]:
    """The file each mistake changes, as it stands in the reference of the mistake's stage
    with the mistake in place, formatted as `invoke build` formats it: {name: {file: text}}.

    Every other file of that stage is the stage's reference as built: a mistake renames
    only its own unit and the variant it stands in for, both in its own file.
    """
    parsed = sources(root)
    stages = list(manifest.stages(root))
    files: dict[str, str] = {}
    for mistake in chosen:
        index = next(i for i, stage in enumerate(stages) if stage.name == mistake.stage)
        made = _stage_files(parsed, index, stages[index], False, mistake.name,
                            f"solutions/{mistake.name}")  # fmt: skip
        rel = f"solutions/{mistake.name}/{mistake.file}"
        files[rel] = made[rel]
    changed: dict[str, dict[str, str]] = {mistake.name: {} for mistake in chosen}
    for rel, text in _formatted(files, root).items():
        _, name, _, file = rel.split("/", 3)
        changed[name][file] = text
    return changed


def generate(
    root: Path = manifest.ROOT, only: Sequence[manifest.Stage] | None = None
) -> dict[str, str]:
    """Every generated file (of the stages ONLY, default all), as {path from root: text}."""
    files: dict[str, str] = {}
    parsed = sources(root)
    for index, stage in enumerate(manifest.stages(root)):
        if only is not None and stage not in only:
            continue
        for folder, skeleton in (("solutions", False), ("steps", True)):
            files.update(_stage_files(parsed, index, stage, skeleton, None, f"{folder}/{stage.id}"))
    return _formatted(files, root)


def _stage_files(
    parsed: list[Source],
    index: int,
    stage: manifest.Stage,
    skeleton: bool,
    mistake: str | None,
    folder: str,
) -> dict[str, str]:
    """One stage's sketch/ as {FOLDER/sketch/file: text}, before formatting."""
    names = {
        own: name for source in parsed for own, name in renames(source, index, mistake).items()
    }
    files = {}
    for source in parsed:
        text = render(source, index, stage.id, skeleton=skeleton, mistake=mistake, names=names)
        if text is not None:
            files[f"{folder}/{PACKAGE}/{source.path}"] = text
    return files


def snapshots(
    stages: Sequence[manifest.Stage], *, skeleton: bool = False, root: Path = manifest.ROOT
) -> dict[str, dict[str, str]]:
    """Some stages' sketch/ packages, made in memory: {stage id: {file name: text}}.

    The reference at the end of each stage, or with SKELETON what the learner starts from.
    Nothing is written: this is how a maintainer reviews a stage (`invoke show`).
    """
    folder = "steps" if skeleton else "solutions"
    made: dict[str, dict[str, str]] = {stage.id: {} for stage in stages}
    for rel, text in generate(root, only=stages).items():
        top, stage_id, _, name = rel.split("/", 3)
        if top == folder:
            made[stage_id][name] = text
    return made


def _formatted(files: dict[str, str], root: Path) -> dict[str, str]:
    """Tidy the generated files with ruff, so removed blocks leave clean code."""
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in files.items():
            path = Path(tmp, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        config = ["--no-cache", "--config", str(root / "pyproject.toml")]
        tidy = [
            # Markers cut code, so imports may end up unsorted or, in a solution, unused.
            # Skeletons keep unused imports: the TODOs will need them.
            ["check", *config, "--fix", "--exit-zero", "--quiet", "--select", "I", tmp],
            ["check", *config, "--fix", "--exit-zero", "--quiet", "--select", "F401",
             str(Path(tmp, "solutions"))],
            ["format", *config, tmp],
        ]  # fmt: skip
        for args in tidy:
            if args[-1] != tmp and not Path(args[-1]).exists():
                continue
            done = subprocess.run(
                [sys.executable, "-m", "ruff", *args], capture_output=True, text=True
            )
            if done.returncode != 0:
                problem = done.stdout + done.stderr  # ruff names the file that does not parse
                raise RuntimeError(f"ruff {args[0]} failed on the generated files:\n{problem}")
        return {rel: Path(tmp, rel).read_text(encoding="utf-8") for rel in files}


# --- writing and checking --------------------------------------------------------------


@dataclass
class BuildReport:
    written: list[str]
    removed: list[str]
    kept: list[str]  # learner-changed files that were not overwritten


def _generated_dirs(root: Path) -> list[Path]:
    return [
        stage_root / stage.id / PACKAGE
        for stage in manifest.stages(root)
        for stage_root in (root / "solutions", root / "steps")
    ]


def stale_files(root: Path, made: dict[str, str]) -> list[str]:
    """Files inside generated packages that the source no longer makes."""
    stale = []
    for folder in _generated_dirs(root):
        if folder.is_dir():
            for path in files.walk(folder):
                rel = path.relative_to(root).as_posix()
                if rel not in made:
                    stale.append(rel)
    return sorted(stale)


def write(root: Path = manifest.ROOT, *, force: bool = False) -> BuildReport:
    """Regenerate every snapshot; rewrite only what changed; never overwrite learner work.

    A file under steps/ whose bytes differ both from what was shipped (the lock) and from
    what the build makes is the learner's work: it is kept, unless `force` is set.
    """
    made = generate(root)
    shipped = lock.read(root)
    report = BuildReport(written=[], removed=[], kept=[])

    def learner_changed(rel: str, path: Path) -> bool:
        if force or not rel.startswith("steps/") or not path.exists():
            return False
        current = lock.digest(path.read_bytes())
        return rel in shipped and current != shipped[rel]

    for rel, text in made.items():
        path = root / rel
        new = text.encode("utf-8")
        if path.exists() and path.read_bytes() == new:
            continue
        if learner_changed(rel, path):
            report.kept.append(rel)
            continue
        files.write_atomic(path, new)
        report.written.append(rel)
    for rel in stale_files(root, made):
        if learner_changed(rel, root / rel):
            report.kept.append(rel)
            continue
        (root / rel).unlink()
        report.removed.append(rel)
    for folder in _generated_dirs(root):
        if folder.is_dir() and not any(folder.rglob("*.py")):
            shutil.rmtree(folder)
    lock.write(root)
    return report


@dataclass
class Drift:
    path: str
    problem: str


def drift(root: Path = manifest.ROOT) -> list[Drift]:
    """Every way the committed snapshots and lock differ from what `invoke build` makes."""
    made = generate(root)
    found = []
    for rel, text in made.items():
        path = root / rel
        if not path.exists():
            found.append(Drift(rel, "missing"))
        elif path.read_text(encoding="utf-8") != text:
            found.append(Drift(rel, "differs from the source (edited by hand?)"))
    found += [Drift(rel, "not made by the source any more") for rel in stale_files(root, made)]
    recorded = root / lock.LOCK
    if not recorded.exists() or recorded.read_text(encoding="utf-8") != lock.text(root):
        found.append(Drift(lock.LOCK, "out of date"))
    return found
