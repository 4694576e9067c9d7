"""The snapshot builder: one annotated source, twenty snapshots.

The framework is written once, in `source/sketch/`, as ordinary Python. Comment lines that
start with `#:` say in which stages a block of lines exists:

    #: file from 04            (first line) the whole file exists from stage 04 on
    #: from 05                 the lines up to `#: end` exist from stage 05 on
    #: to 08                   ... exist up to and including stage 08, then go away
    #: from 05 to 08           ... exist in stages 05 to 08
    #: todo 04 Match the path  ... exist from stage 04 on, and in stage 04's skeleton are
                               replaced by `raise NotImplementedError(...)`: the learner's TODO
    #: end

Blocks nest. For every stage NN the builder writes two snapshots:

    solutions/NN_name/sketch/   the reference at the end of the stage
    steps/NN_name/sketch/       the same, with stage NN's `todo` blocks stubbed out

Every generated file is formatted with ruff, and `workshop.lock` records the hash of every
file shipped under steps/ and solutions/, so `invoke build` can refuse to overwrite a file a
learner changed, and `invoke update` can tell shipped files from edited ones.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workshop import manifest

SOURCE = Path("source") / "sketch"
LOCK = "workshop.lock"
PACKAGE = "sketch"
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache"}

_MARKER = re.compile(r"^\s*#:\s*(?P<body>.*?)\s*$")
_RANGE = re.compile(r"^(?:from\s+(?P<lo>\d+))?\s*(?:to\s+(?P<hi>\d+))?$")
_TODO = re.compile(r"^todo\s+(?P<stage>\d+)\s+(?P<message>\S.*)$")
_FILE = re.compile(r"^file\s+(?P<range>.*)$")
_DEF = re.compile(r"^(?P<indent>\s*)(?:async\s+)?def\s+(?P<name>\w+)")
_CLASS = re.compile(r"^(?P<indent>\s*)class\s+(?P<name>\w+)")


class MarkerError(ValueError):
    """A `#:` marker the builder cannot read; the message names the file and line."""


@dataclass(frozen=True)
class Block:
    lo: int  # first stage the lines exist in
    hi: int  # last stage they exist in
    todo: str | None = None  # the TODO message, for `#: todo` blocks
    where: str = ""  # "sketch/router.py: UrlDispatcher.resolve", for the stub's message
    indent: str = ""

    def visible(self, stage: int) -> bool:
        return self.lo <= stage <= self.hi


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _qualname(lines: list[str], index: int) -> str:
    """The function (and class) that line `index` sits in, for a TODO's message."""
    width = len(_indent(lines[index]))
    names: list[str] = []
    for line in reversed(lines[:index]):
        pattern = _CLASS if names else _DEF
        found = pattern.match(line)
        if found and len(found["indent"]) < width:
            names.insert(0, found["name"])
            width = len(found["indent"])
            if pattern is _CLASS or width == 0:
                break
    return ".".join(names) or "module level"


def _parse_range(text: str, where: str) -> tuple[int, int]:
    found = _RANGE.match(text)
    if not text or not found:
        raise MarkerError(f"{where}: expected 'from NN', 'to NN' or 'from NN to MM', got {text!r}")
    return int(found["lo"] or 0), int(found["hi"] or 999)


def render(text: str, rel_path: str, stage: int, *, skeleton: bool, stage_id: str) -> str | None:
    """The file as it stands in one stage's snapshot, or None when it does not exist there."""
    lines = text.splitlines()
    if lines and (head := _MARKER.match(lines[0])) and (whole := _FILE.match(head["body"])):
        lo, hi = _parse_range(whole["range"], f"{rel_path}:1")
        if not lo <= stage <= hi:
            return None
        lines[0] = ""  # keep line numbers in messages right

    out: list[str] = []
    stack: list[Block] = []
    for number, line in enumerate(lines, start=1):
        marker = _MARKER.match(line)
        if not marker:
            if all(b.visible(stage) for b in stack) and not any(
                b.todo is not None and skeleton and b.lo == stage for b in stack
            ):
                out.append(line)
            continue
        body, where = marker["body"], f"{PACKAGE}/{rel_path}:{number}"
        if body == "end":
            if not stack:
                raise MarkerError(f"{where}: '#: end' without an open block")
            stack.pop()
            continue
        if todo := _TODO.match(body):
            block = Block(
                lo=int(todo["stage"]),
                hi=999,
                todo=todo["message"],
                where=f"{PACKAGE}/{rel_path}: {_qualname(lines, number - 1)}",
                indent=_indent(line),
            )
            outer_visible = all(b.visible(stage) for b in stack)
            if skeleton and block.lo == stage and outer_visible:
                out.extend(_stub(block, stage_id))
        elif body.startswith(("from", "to")):
            block = Block(*_parse_range(body, where))
        else:
            raise MarkerError(f"{where}: unknown marker {body!r}")
        stack.append(block)
    if stack:
        raise MarkerError(f"{PACKAGE}/{rel_path}: {len(stack)} block(s) not closed by '#: end'")
    return "\n".join(out).rstrip() + "\n"


def _stub(block: Block, stage_id: str) -> list[str]:
    message = f"{stage_id}: {block.where}: {block.todo}"
    return [
        f"{block.indent}# TODO({stage_id}): {block.todo}",
        f"{block.indent}raise NotImplementedError({message!r})",
    ]


def _source_files(root: Path) -> list[Path]:
    base = root / SOURCE
    return sorted(p for p in base.rglob("*") if p.is_file() and not IGNORED_PARTS & set(p.parts))


def generate(root: Path = manifest.ROOT) -> dict[str, str]:
    """Every generated file, as {path relative to root: text}, formatted with ruff."""
    files: dict[str, str] = {}
    for stage in manifest.stages(root):
        targets = {"solutions": False, "steps": True}
        for folder, skeleton in targets.items():
            for source in _source_files(root):
                rel = source.relative_to(root / SOURCE).as_posix()
                text = render(
                    source.read_text(encoding="utf-8"),
                    rel,
                    stage.number,
                    skeleton=skeleton,
                    stage_id=stage.id,
                )
                if text is not None:
                    files[f"{folder}/{stage.id}/{PACKAGE}/{rel}"] = text
    return _formatted(files, root)


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


# --- the lock file: what was shipped --------------------------------------------------


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shipped_files(root: Path) -> Iterable[Path]:
    """Every file under steps/ and solutions/ that the workshop ships."""
    for top in ("steps", "solutions"):
        base = root / top
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                ignored = IGNORED_PARTS & set(path.parts) or path.suffix in {".pyc", ".pyo"}
                if path.is_file() and not ignored:
                    yield path


def read_lock(root: Path) -> dict[str, str]:
    path = root / LOCK
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["files"]


def lock_text(root: Path, overrides: dict[str, str] | None = None) -> str:
    """The lock as it should be for the tree (with `overrides` standing in for files)."""
    hashes = {p.relative_to(root).as_posix(): digest(p.read_bytes()) for p in shipped_files(root)}
    for rel, text in (overrides or {}).items():
        hashes[rel] = digest(text.encode("utf-8"))
    body = {
        "about": "sha256 of each file shipped under steps/ and solutions/, by invoke build",
        "files": dict(sorted(hashes.items())),
    }
    return json.dumps(body, indent=1) + "\n"


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


def stale_files(root: Path, files: dict[str, str]) -> list[str]:
    """Files inside generated packages that the source no longer makes."""
    stale = []
    for folder in _generated_dirs(root):
        if folder.is_dir():
            for path in folder.rglob("*"):
                rel = path.relative_to(root).as_posix()
                if path.is_file() and not IGNORED_PARTS & set(path.parts) and rel not in files:
                    stale.append(rel)
    return sorted(stale)


def write(root: Path = manifest.ROOT, *, force: bool = False) -> BuildReport:
    """Regenerate every snapshot; rewrite only what changed; never overwrite learner work.

    A file under steps/ whose bytes differ both from what was shipped (the lock) and from
    what the build makes is the learner's work: it is kept, unless `force` is set.
    """
    files = generate(root)
    shipped = read_lock(root)
    report = BuildReport(written=[], removed=[], kept=[])

    def learner_changed(rel: str, path: Path) -> bool:
        if force or not rel.startswith("steps/") or not path.exists():
            return False
        current = digest(path.read_bytes())
        return rel in shipped and current != shipped[rel]

    for rel, text in files.items():
        path = root / rel
        new = text.encode("utf-8")
        if path.exists() and path.read_bytes() == new:
            continue
        if learner_changed(rel, path):
            report.kept.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".build-tmp")
        tmp.write_bytes(new)
        tmp.replace(path)
        report.written.append(rel)
    for rel in stale_files(root, files):
        if learner_changed(rel, root / rel):
            report.kept.append(rel)
            continue
        (root / rel).unlink()
        report.removed.append(rel)
    for folder in _generated_dirs(root):
        if folder.is_dir() and not any(folder.rglob("*.py")):
            shutil.rmtree(folder)
    (root / LOCK).write_text(lock_text(root), encoding="utf-8")
    return report


@dataclass
class Drift:
    path: str
    problem: str


def drift(root: Path = manifest.ROOT) -> list[Drift]:
    """Every way the committed snapshots and lock differ from what `invoke build` makes."""
    files = generate(root)
    found = []
    for rel, text in files.items():
        path = root / rel
        if not path.exists():
            found.append(Drift(rel, "missing"))
        elif path.read_text(encoding="utf-8") != text:
            found.append(Drift(rel, "differs from the source (edited by hand?)"))
    found += [Drift(rel, "not made by the source any more") for rel in stale_files(root, files)]
    lock = root / LOCK
    if not lock.exists() or lock.read_text(encoding="utf-8") != lock_text(root):
        found.append(Drift(LOCK, "out of date"))
    return found
