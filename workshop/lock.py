"""`workshop.lock`: what was shipped, so that no tool overwrites a learner's work.

    {"about": "...", "files": {"steps/04_routing/sketch/router.py": sha256, ...}}

`invoke build` records the sha256 of every file it ships under steps/ and solutions/. A file
whose bytes still have that hash is untouched: `invoke build`, `invoke update` and `invoke
reset` may replace it. Any other file under steps/ is the learner's work.

The file is committed; `invoke build --check` fails when it drifts from the tree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from workshop import files

LOCK = "workshop.lock"
ABOUT = "sha256 of each file shipped under steps/ and solutions/, by invoke build"
TOPS = ("steps", "solutions")  # the folders whose files are shipped and recorded


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shipped_files(root: Path) -> Iterator[Path]:
    """Every file under steps/ and solutions/ that the workshop ships (caches left out)."""
    for top in TOPS:
        yield from files.walk(root / top)


def read(root: Path) -> dict[str, str]:
    """{path from ROOT: sha256} as the lock records it; {} when there is no lock."""
    path = root / LOCK
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["files"]


def text(root: Path, overrides: dict[str, str] | None = None) -> str:
    """The lock as it should be for the tree (with `overrides` standing in for files)."""
    hashes = {p.relative_to(root).as_posix(): digest(p.read_bytes()) for p in shipped_files(root)}
    for rel, content in (overrides or {}).items():
        hashes[rel] = digest(content.encode("utf-8"))
    body = {"about": ABOUT, "files": dict(sorted(hashes.items()))}
    return json.dumps(body, indent=1) + "\n"


def write(root: Path) -> None:
    """Record the lock for the tree as it is now."""
    files.write_atomic(root / LOCK, text(root))
