"""The classroom edition: the repository an instructor hands out, released stage by stage.

    invoke release classroom ../edition --through 03          # the first release
    invoke release classroom ../edition --through 04 --references closed

writes, as one new commit on the edition repository OUT (created on the first release):

* `steps/` of the released stages (lessons, skeletons, tests), and nothing of later ones;
* the tooling (`workshop/`, `tasks.py`, `pyproject.toml`), the grading workflow, a learner's
  README and `docs/WORKFLOW.md` (only once it gives no open stage away);
* `stages.toml` with the released stages only, and an `[edition]` table saying so;
* `workshop.lock` and `grader.lock` for exactly these files (the detector of swapped-in
  references works from grader.lock's hashes, never from the references);
* `solutions/` of the closed stages only if the instructor releases them (`--references`).

Never: `source/`, `solutions/` of an open stage, `board/`, `benchmarks/`, the workshop's own
`tests/`, `.ci/`, CI for the workshop itself. A stage is *open* while its reference is
secret: the last stage released (each skeleton holds the previous stage's reference, so the
stages before it are closed by construction) and every stage not yet released. `release`
refuses to write an edition in which the body of an open stage's TODO appears anywhere.

Releases are successive commits on one repository, so a learner's `invoke update --from
<edition>` tells shipped files from theirs (workshop.update) and adds each new stage folder.
With `--first NN --through NN` the edition holds one stage alone (one assignment per stage).
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from workshop import git, graderlock, lock, manifest
from workshop.files import ignored
from workshop.manifest import Stage

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KIND = "classroom"
# Files of the workshop that every edition ships, as they are (a prefix ends with "/").
SHIPPED = ("workshop/", "tasks.py", "pyproject.toml", ".gitignore", ".devcontainer/",
           ".github/workflows/classroom.yml")  # fmt: skip
# Shipped only when no open stage's reference shows in them.
OPTIONAL = ("docs/WORKFLOW.md",)
GENERATED = ("README.md", manifest.MANIFEST, lock.LOCK, graderlock.LOCK)
_STUB = "raise NotImplementedError"
_DIFF_MARK = re.compile(r"^[+-]\s+")  # a line of a diff in a doc: "+        self.x = x"


class EditionError(ValueError):
    """A release that cannot be made; the message says why and what to do."""


@dataclass
class Release:
    out: Path
    stages: list[str]
    references: list[str]
    commit: str | None  # None when nothing changed since the last release
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # optional files that gave a stage away


# --- what an edition is --------------------------------------------------------------------


def info(root: Path = manifest.ROOT) -> dict | None:
    """The `[edition]` table of ROOT's stages.toml, or None for the self-paced workshop."""
    try:
        with (Path(root) / manifest.MANIFEST).open("rb") as f:
            table = tomllib.load(f).get("edition")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return table if isinstance(table, dict) else None


def no_reference(stage: Stage, root: Path = manifest.ROOT) -> str:
    """Why STAGE has no reference here: one sentence with the command to run instead."""
    if info(root):
        return (
            f"In this classroom edition the reference of {stage.id} is released by your "
            f"instructor once the stage closes (`invoke update` then brings it in). Until "
            f"then: `invoke hint {stage.id}` shows a hint at a time."
        )
    return f"stage {stage.id} has no reference solution yet"


def plan(root: Path, through: str, first: str | None = None, references: str = "none"
         ) -> tuple[list[Stage], list[Stage]]:  # fmt: skip
    """(the stages to release, the stages whose reference to release)."""
    stages = manifest.stages(root)
    last = manifest.find(through, root)
    start = manifest.find(first, root) if first else stages[0]
    if start.number > last.number:
        raise EditionError(f"--first {start.id} comes after --through {last.id}")
    released = [s for s in stages if start.number <= s.number <= last.number]
    if references in ("", "none"):
        chosen: list[Stage] = []
    elif references == "closed":
        chosen = released[:-1]
    else:
        chosen = [manifest.find(key, root) for key in references.split(",") if key.strip()]
    still_open = [s.id for s in chosen if s.number >= last.number or s not in released]
    if still_open:
        raise EditionError(
            f"the reference of {', '.join(still_open)} would give an open stage away: release "
            f"references of stages before {last.id} only"
        )
    return released, chosen


# --- the files ------------------------------------------------------------------------------


def _tracked(root: Path) -> dict[str, bool]:
    """{tracked file: executable} of the source repository (git's modes)."""
    try:
        listed = git.text(root, "ls-files", "-s", "-z")
    except git.GitError as error:
        raise EditionError(f"{root} is not a git repository: {error.problem}") from None
    entries = [item.split("\t", 1) for item in listed.split("\0") if "\t" in item]
    return {path: meta.split()[0] == "100755" for meta, path in entries}


def files(root: Path, released: list[Stage], references: list[Stage]
          ) -> tuple[dict[str, tuple[bytes, bool]], list[str]]:  # fmt: skip
    """({path: (bytes, executable)} of the edition, optional files left out)."""
    root = Path(root)
    folders = [f"steps/{s.id}/" for s in released] + [f"solutions/{s.id}/" for s in references]
    chosen: dict[str, tuple[bytes, bool]] = {}
    for rel, executable in _tracked(root).items():
        wanted = rel.startswith(tuple(folders)) or any(
            rel == item or (item.endswith("/") and rel.startswith(item))
            for item in SHIPPED + OPTIONAL
        )
        if wanted and (root / rel).is_file() and not ignored(rel):
            chosen[rel] = ((root / rel).read_bytes(), executable)
    chosen[manifest.MANIFEST] = (manifest_text(root, released, references).encode(), False)
    chosen["README.md"] = (readme(released).encode(), False)
    recorded = graderlock.read(root)
    kept = {s.id: recorded[s.id] for s in released if s.id in recorded}
    chosen[graderlock.LOCK] = (graderlock.text(kept).encode(), False)
    shipped = lock.read(root)
    edited = sorted(rel for rel, (data, _) in chosen.items() if rel.startswith(("steps/",
                    "solutions/")) and shipped.get(rel) != lock.digest(data))  # fmt: skip
    if edited:
        raise EditionError(
            "these files differ from what workshop.lock says was built (edited by hand, or "
            f"work in progress?): {', '.join(edited[:5])}; run `invoke build`, or release "
            "from a clean checkout"
        )
    bodies = open_bodies(root, released)
    left_out = [rel for rel in OPTIONAL if rel in chosen and _shows(chosen[rel][0], bodies)]
    for rel in left_out:
        del chosen[rel]
    leaking = sorted(rel for rel, (data, _) in chosen.items() if _shows(data, bodies))
    if leaking:
        raise EditionError(
            "these files would give an open stage's reference away: " + ", ".join(leaking)
        )
    return chosen, left_out


def manifest_text(root: Path, released: list[Stage], references: list[Stage]) -> str:
    """stages.toml with only the released stages, and the `[edition]` table."""
    text = (Path(root) / manifest.MANIFEST).read_text(encoding="utf-8")
    head, *blocks = re.split(r"(?m)^(?=\[\[stage\]\])", text)
    head = re.sub(r"(?ms)^\[edition\].*?(?=^\[|\Z)", "", head).rstrip() + "\n\n"
    ids = {s.id for s in released}
    kept = [b for b in blocks if (found := re.search(r'(?m)^id = "([^"]+)"', b)) and
            found[1] in ids]  # fmt: skip
    listing = ", ".join(f'"{s.id}"' for s in references)
    table = (
        "# The classroom edition: the stages released so far; the next ones come with\n"
        "# `invoke update`, from the instructor's edition repository.\n"
        f'[edition]\nkind = "{KIND}"\nthrough = "{released[-1].id}"\nreferences = [{listing}]\n\n'
    )
    return head + table + "".join(kept).rstrip() + "\n"


def readme(released: list[Stage]) -> str:
    rows = "\n".join(f"| {s.id} | {s.title} | [lesson](steps/{s.id}/README.md) |" for s in released)
    return f"""# sketch: build an async web framework from scratch (classroom edition)

In this course you build **sketch**, a small web framework in the style of `aiohttp.web`, on
asyncio, httptools and yarl, one tested stage at a time. Your instructor releases the stages
one after another; this repository holds those released so far.

## Quickstart

With Python 3.10 or newer:

```sh
python3 -m venv .venv && . .venv/bin/activate && pip install -e .
invoke check
```

`invoke check` runs the tests of your current stage and tells you what to do next. Then open
the lesson of the first stage and start. Run `. .venv/bin/activate` in every new terminal.

## The stages released so far

| stage | title | lesson |
| --- | --- | --- |
{rows}

## The commands

| command | what it does |
| --- | --- |
| `invoke check [STAGE]` | run a stage's tests against your code (default: your current stage) |
| `invoke hint [STAGE]` | the next hint, from a nudge to a near-answer |
| `invoke diff [STAGE] --against skeleton` | your code against the skeleton you started from |
| `invoke reset [STAGE]` | the untouched skeleton again (your work is backed up first) |
| `invoke progress` | every stage at a glance |
| `invoke grade` | your points, as the grader counts them |

A STAGE is written `01`, `01_echo` or `echo`. The reference solution of a stage is released
by your instructor once the stage closes; until then `invoke solve` says so.

## The next stage

When your instructor releases the next stage, bring it in (your own files are never
touched; a file of yours that the release also changed is kept, and the new version is put
beside it for you to compare):

```sh
invoke update --from URL-OF-THE-EDITION    # your instructor gives you the URL
git status && git commit -am "next stage"
```

## Grading

Every push is graded by the workflow in `.github/workflows/classroom.yml`, against tests
from your instructor's repository: a stage's points times the share of its tests that pass.
A stage whose code is the reference solution scores 0; your own work is what counts.
"""


# --- the bodies of open TODOs ---------------------------------------------------------------


def open_bodies(root: Path, released: list[Stage]) -> list[str]:
    """The reference bodies of the open stages' TODOs (the last released stage and later
    ones), each as its lines stripped and joined, for `_shows`."""
    last = released[-1].number
    bodies = []
    for stage in manifest.stages(root):
        if stage.number < last or not (stage.solution_dir(root) / "sketch").is_dir():
            continue
        skeleton, solution = stage.step_dir(root) / "sketch", stage.solution_dir(root) / "sketch"
        for path in sorted(skeleton.rglob("*.py")):
            rel = path.relative_to(skeleton)
            stub = _lines(path.read_text(encoding="utf-8"))
            if not any(line.startswith(_STUB) for line in stub):
                continue
            answer = _lines((solution / rel).read_text(encoding="utf-8"))
            matcher = difflib.SequenceMatcher(None, stub, answer, autojunk=False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag == "replace" and any(line.startswith(_STUB) for line in stub[i1:i2]):
                    bodies.append("\n".join(answer[j1:j2]))
    return [body for body in bodies if body]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _shows(data: bytes, bodies: list[str]) -> bool:
    """Whether DATA holds one of BODIES as whole lines (whitespace and diff markers aside)."""
    try:
        lines = [_DIFF_MARK.sub("", line) for line in _lines(data.decode("utf-8"))]
    except UnicodeDecodeError:
        return False
    text = "\n" + "\n".join(lines) + "\n"
    return any(f"\n{body}\n" in text for body in bodies)


# --- writing a release ----------------------------------------------------------------------


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    try:
        return git.text(repo, *args, timeout=120, env=env)
    except git.GitError as error:
        raise EditionError(f"git {' '.join(args[:2])} in {repo} failed: {error.problem}") from None


def release(
    root: Path,
    out: Path,
    through: str,
    *,
    first: str | None = None,
    references: str = "none",
) -> Release:
    """Write the edition through stage THROUGH into the git repository OUT, as one commit."""
    root, out = Path(root).resolve(), Path(out).resolve()
    released, chosen = plan(root, through, first, references)
    new, left_out = files(root, released, chosen)
    if out == root or root in out.parents:
        raise EditionError(f"{out} is inside the workshop itself: choose a folder beside it")
    if not out.exists():
        out.mkdir(parents=True)
        _git(out, "init", "-q", "-b", "main")
    elif not (out / ".git").exists():
        if any(out.iterdir()):
            raise EditionError(f"{out} exists and is not a git repository")
        _git(out, "init", "-q", "-b", "main")
    if _git(out, "status", "--porcelain"):
        raise EditionError(f"{out} has uncommitted changes: commit or remove them first")
    has_commits = git.head(out) is not None
    if has_commits and not info(out):
        raise EditionError(f"{out} holds something other than a classroom edition")
    old = set(_git(out, "ls-files", "-z").split("\0")) - {""}
    report = Release(out, [s.id for s in released], [s.id for s in chosen], None, left_out=left_out)
    for rel in sorted(old - set(new)):
        (out / rel).unlink()
        report.removed.append(rel)
    for rel, (data, executable) in sorted(new.items()):
        path = out / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        (report.changed if path.exists() else report.added).append(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if executable else 0o644)
    lock.write(out)
    _git(out, "add", "-A")
    if not _git(out, "status", "--porcelain"):
        return report
    source = (git.attempt(root, "rev-parse", "--short=12", "HEAD") or "").strip()
    message = (
        f"Release {released[0].id}..{released[-1].id}"
        + (f", references of {', '.join(report.references)}" if chosen else "")
        + (f" (from {source})" if source else "")
    )
    _git(out, "commit", "-q", "-m", message, env=git.identity_env(out))
    report.commit = _git(out, "rev-parse", "HEAD").strip()
    return report
