"""The list of stages, read from `stages.toml` at the top of the repository."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "stages.toml"


@dataclass(frozen=True)
class Stage:
    """One stage of the workshop, as the manifest describes it."""

    id: str  # "04_routing": the folder name under steps/ and solutions/
    title: str
    summary: str = ""  # what the learner builds, for the README's table
    points: int = 10
    minutes: int = 30
    hints: tuple[str, ...] = field(default=())

    @property
    def number(self) -> int:
        return int(self.id.split("_", 1)[0])

    @property
    def name(self) -> str:
        return self.id.split("_", 1)[1]

    def step_dir(self, root: Path = ROOT) -> Path:
        """The learner's folder for this stage."""
        return root / "steps" / self.id

    def solution_dir(self, root: Path = ROOT) -> Path:
        """The reference solution's folder for this stage."""
        return root / "solutions" / self.id

    def tests_dir(self, root: Path = ROOT) -> Path:
        return self.step_dir(root) / "tests"

    def lesson(self, root: Path = ROOT) -> Path:
        return self.step_dir(root) / "README.md"

    def is_written(self, root: Path = ROOT) -> bool:
        """A stage is written once it has tests and a package: its reference solution, or,
        in a classroom edition that does not ship the reference yet, its skeleton."""
        return any(self.tests_dir(root).glob("test_*.py")) and (
            (self.solution_dir(root) / "sketch").is_dir()
            or (self.step_dir(root) / "sketch").is_dir()
        )


@cache
def _load(path: Path) -> tuple[Stage, ...]:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def parse(text: str) -> tuple[Stage, ...]:
    """The stages a manifest's TEXT lists (another revision's, say), in order."""
    data = tomllib.loads(text)
    stages = tuple(
        Stage(
            id=entry["id"],
            title=entry["title"],
            summary=entry.get("summary", ""),
            points=int(entry.get("points", 10)),
            minutes=int(entry.get("minutes", 30)),
            hints=tuple(entry.get("hints", ())),
        )
        for entry in data["stage"]
    )
    numbers = [s.number for s in stages]
    if numbers != sorted(set(numbers)):
        raise ValueError(f"stage numbers must be unique and in order, got {numbers}")
    return stages


def stages(root: Path = ROOT) -> tuple[Stage, ...]:
    """Every stage, in order."""
    return _load((root / MANIFEST).resolve())


def final(root: Path = ROOT) -> Stage:
    """The last stage: its solution is the finished framework (the board and the benchmark run on
    it). Ask here rather than naming it: `invoke new-step` may add a stage after it."""
    return stages(root)[-1]


def find(key: str | int, root: Path = ROOT) -> Stage:
    """Look a stage up by id ("04_routing"), number ("04", "4", 4) or name ("routing")."""
    text = str(key).strip().strip("/")
    text = text.rsplit("/", 1)[-1]
    for stage in stages(root):
        if text in (stage.id, stage.name) or (text.isdigit() and int(text) == stage.number):
            return stage
    known = ", ".join(s.id for s in stages(root))
    raise KeyError(f"no stage {key!r}; the stages are: {known}")


def by_number(number: int, root: Path = ROOT) -> Stage:
    for stage in stages(root):
        if stage.number == number:
            return stage
    raise KeyError(number)
