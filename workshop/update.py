"""Bring a newer release of the workshop into a learner's repository, never over their work.

A learner's repository often shares no history with the workshop's (GitHub's "use this
template" makes a fresh first commit), so git cannot merge the two. Instead, each file of the
new release is compared with what the learner was *shipped*:

* `workshop.lock` (committed, written by `invoke build`) holds the sha256 of every file
  shipped under steps/ and solutions/: a learner's file with that hash is untouched;
* for other files (tooling, docs, the manifest), a file whose bytes the upstream repository
  ever held at that path is untouched too (found in the upstream history).

An untouched file is replaced by the new version; a file the learner changed is kept as it
is, and the new version goes into `.workshop/update/<release>/<path>` for them to compare.
A file the release no longer has is removed only if untouched. Nothing is committed: the
learner reviews `git status` and commits.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from workshop import build

SKIPPED_TOP = {".git", ".workshop", ".venv", "venv", "grade", "build", "dist"}
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
NEW_VERSIONS = Path(".workshop") / "update"


@dataclass
class UpdateReport:
    release: str  # the upstream commit (or folder) brought in
    updated: list[str] = field(default_factory=list)  # untouched files replaced
    added: list[str] = field(default_factory=list)  # files new to the learner
    removed: list[str] = field(default_factory=list)  # untouched files the release dropped
    kept: list[tuple[str, str]] = field(default_factory=list)  # (learner's file, new version)
    kept_dropped: list[str] = field(default_factory=list)  # changed files the release dropped
    unchanged: int = 0  # files already as in the release

    @property
    def changed(self) -> bool:
        return bool(self.updated or self.added or self.removed or self.kept)


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def fetch(source: str, ref: str | None = None) -> Iterator[tuple[Path, str, bool]]:
    """The release as a folder: (path, release id, whether it has git history).

    SOURCE is a git URL or path (cloned, full history, then REF checked out), or a plain
    folder holding an unpacked release (no history: only the lock can tell shipped files).
    """
    folder = Path(source).expanduser()
    if folder.is_dir() and not (folder / ".git").exists():
        if ref:
            raise ValueError(f"--ref needs a git repository; {source} is a plain folder")
        yield folder.resolve(), folder.resolve().name, False
        return
    with tempfile.TemporaryDirectory(prefix="workshop-update-") as tmp:
        target = Path(tmp, "release")
        url = str(folder.resolve()) if folder.is_dir() else source
        _git(Path(tmp), "clone", "--quiet", "--no-checkout", url, str(target))
        _git(target, "-c", "advice.detachedHead=false", "checkout", "--quiet", ref or "HEAD")
        commit = _git(target, "rev-parse", "HEAD").strip()
        yield target, commit, True


def release_files(release: Path, has_git: bool) -> list[str]:
    """The files a release ships, relative to its root."""
    if has_git:
        names = _git(release, "ls-files", "-z").split("\0")
    else:
        names = [p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()]
    return sorted(n for n in names if n and _managed(n))


def _managed(rel: str) -> bool:
    parts = rel.split("/")
    return (
        parts[0] not in SKIPPED_TOP
        and not SKIPPED_PARTS & set(parts)
        and not parts[0].endswith(".egg-info")
        and not rel.endswith((".pyc", ".pyo"))
    )


def history_blobs(release: Path) -> dict[str, set[str]]:
    """{path: every git blob id the upstream repository ever held at that path}."""
    log = _git(release, "log", "--all", "--raw", "--no-abbrev", "--no-renames", "--root",
               "--format=")  # fmt: skip
    blobs: dict[str, set[str]] = {}
    for line in log.splitlines():
        # ":100644 100644 <old blob> <new blob> M\tpath"
        meta, tab, path = line.partition("\t")
        fields = meta.split()
        if line.startswith(":") and tab and len(fields) == 5:
            blobs.setdefault(path, set()).add(fields[3])
    return blobs


def blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Shipped:
    """Tells whether a learner's file is exactly as the workshop shipped it."""

    def __init__(self, learner: Path, release: Path, has_git: bool) -> None:
        self.lock = build.read_lock(learner)
        self.history = history_blobs(release) if has_git else {}

    def known(self, rel: str) -> bool:
        return rel in self.lock or rel in self.history

    def untouched(self, rel: str, data: bytes) -> bool:
        if rel in self.lock:
            return build.digest(data) == self.lock[rel]
        return blob_id(data) in self.history.get(rel, set())


def update(learner: Path, source: str, ref: str | None = None, dry_run: bool = False):
    """Bring the release at SOURCE (at REF) into the repository LEARNER."""
    learner = Path(learner).resolve()
    with fetch(source, ref) as (release, release_id, has_git):
        shipped = Shipped(learner, release, has_git)
        report = UpdateReport(release=release_id)
        backup = NEW_VERSIONS / release_id[:12]
        files = release_files(release, has_git)
        for rel in files:
            new = (release / rel).read_bytes()
            mine_path = learner / rel
            if not mine_path.is_file():
                report.added.append(rel)
                _put(mine_path, new, dry_run)
                continue
            mine = mine_path.read_bytes()
            if mine == new:
                report.unchanged += 1
            elif rel == build.LOCK or shipped.untouched(rel, mine):
                report.updated.append(rel)
                _put(mine_path, new, dry_run)
            else:
                # The learner's version stays; the new one waits beside it, in the backup.
                report.kept.append((rel, (backup / rel).as_posix()))
                _put(learner / backup / rel, new, dry_run)
        releasing = set(files)
        for rel in _learner_files(learner):
            if rel in releasing or not shipped.known(rel):
                continue
            if shipped.untouched(rel, (learner / rel).read_bytes()):
                report.removed.append(rel)
                if not dry_run:
                    (learner / rel).unlink()
                    _prune(learner, (learner / rel).parent)
            else:
                report.kept_dropped.append(rel)
        return report


def _learner_files(learner: Path) -> list[str]:
    found = [
        p.relative_to(learner).as_posix()
        for p in learner.rglob("*")
        if p.is_file() and not p.is_symlink()
    ]
    return sorted(rel for rel in found if _managed(rel))


def _put(path: Path, data: bytes, dry_run: bool) -> None:
    if dry_run:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".update-tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _prune(root: Path, folder: Path) -> None:
    """Remove folders left empty by a removal, up to (not including) ROOT."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
