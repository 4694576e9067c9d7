"""Bring a newer release of the workshop into a learner's repository, never over their work.

A learner's repository often shares no history with the workshop's (GitHub's "use this
template" makes a fresh first commit), so git cannot merge the two. Instead, each file of the
new release is compared with what the learner was *shipped*:

* `workshop.lock` (committed, written by `invoke build`) holds the sha256 of every file
  shipped under steps/ and solutions/: a learner's file with that hash is untouched;
* for other files (tooling, docs, the manifest), a file whose bytes the upstream repository
  ever held at that path is untouched too (found in the upstream history).

An untouched file is replaced by the new version, with the release's mode (the executable
bit of `.ci/run` survives); a file the learner changed is kept as it is, and the new version
goes into `.workshop/update/<release>/<path>` for them to compare. A file the release no
longer has is removed only if untouched. A shipped file the learner deleted comes back, and
is listed apart ("re-added"). After an update, every stage whose sketch/ kept a learner's
file is imported in a process of its own: one that no longer imports (its neighbours moved
to a new API) is named, with the kept files and the command that shows the new versions.
Nothing is committed: the learner reviews `git status` and commits.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from workshop import files, git, graderlock, lock, untrusted

# Top-level folders that are not the workshop's: git's, the tools' state, environments, output.
NOT_RELEASED = {".git", ".workshop", ".venv", "venv", "grade", "build", "dist"}
NEW_VERSIONS = Path(".workshop") / "update"
GENERATED = {lock.LOCK, graderlock.LOCK}  # never edited by hand: always the release's
IMPORT_TIMEOUT = 30.0  # seconds to import one stage's package after an update


@dataclass
class UpdateReport:
    release: str  # the upstream commit (or folder) brought in
    updated: list[str] = field(default_factory=list)  # untouched files replaced
    added: list[str] = field(default_factory=list)  # files new to the learner
    removed: list[str] = field(default_factory=list)  # untouched files the release dropped
    kept: list[tuple[str, str]] = field(default_factory=list)  # (learner's file, new version)
    kept_dropped: list[str] = field(default_factory=list)  # changed files the release dropped
    readded: list[str] = field(default_factory=list)  # shipped files the learner had deleted
    unchanged: int = 0  # files already as in the release
    yours: int = 0  # files the learner changed and the release did not
    # (stage folder, the error importing its sketch/, the learner's kept files in it)
    broken: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.updated or self.added or self.readded or self.removed or self.kept)


GIT_TIMEOUT = 300.0  # seconds for one git command on the release (a clone may be slow)


def _git(cwd: Path, *args: str) -> str:
    return git.text(cwd, *args, timeout=GIT_TIMEOUT)


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


def release_files(release: Path, has_git: bool) -> dict[str, bool]:
    """{file the release ships, relative to its root: whether it is executable}."""
    if has_git:
        # "100755 <blob> 0\tpath": the mode git recorded, whatever the checkout's umask did.
        entries = [line.split("\t", 1) for line in _git(release, "ls-files", "-s", "-z")
                   .split("\0") if "\t" in line]  # fmt: skip
        names = {path: meta.split()[0] == "100755" for meta, path in entries}
    else:
        names = {p.relative_to(release).as_posix(): os.access(p, os.X_OK)
                 for p in release.rglob("*") if p.is_file()}  # fmt: skip
    return {n: names[n] for n in sorted(names) if n and _managed(n)}


def _managed(rel: str) -> bool:
    parts = rel.split("/")
    return (
        parts[0] not in NOT_RELEASED
        and not parts[0].endswith(".egg-info")
        and not files.ignored(rel)
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
        self.lock = lock.read(learner)
        self.history = history_blobs(release) if has_git else {}
        self.learner_history = _paths_ever(learner)

    def had(self, rel: str) -> bool:
        """The learner's repository once held REL (their lock or their own git history)."""
        return rel in self.lock or rel in self.learner_history

    def known(self, rel: str) -> bool:
        return rel in self.lock or rel in self.history

    def untouched(self, rel: str, data: bytes) -> bool:
        if rel in self.lock:
            return lock.digest(data) == self.lock[rel]
        return blob_id(data) in self.history.get(rel, set())


def _paths_ever(repo: Path) -> set[str]:
    """Every path REPO's git history ever held (empty outside git)."""
    if not (repo / ".git").exists():
        return set()
    log = git.attempt(repo, "log", "--all", "--format=", "--name-only", "--no-renames",
                      timeout=GIT_TIMEOUT)  # fmt: skip
    return {line for line in (log or "").splitlines() if line}


def update(learner: Path, source: str, ref: str | None = None, dry_run: bool = False):
    """Bring the release at SOURCE (at REF) into the repository LEARNER."""
    learner = Path(learner).resolve()
    with fetch(source, ref) as (release, release_id, has_git):
        shipped = Shipped(learner, release, has_git)
        report = UpdateReport(release=release_id)
        backup = NEW_VERSIONS / release_id[:12]
        released = release_files(release, has_git)
        for rel, executable in released.items():
            new = (release / rel).read_bytes()
            mine_path = learner / rel
            if not mine_path.is_file():
                (report.readded if shipped.had(rel) else report.added).append(rel)
                _put(mine_path, new, dry_run, executable)
                continue
            mine = mine_path.read_bytes()
            if mine == new and _executable(mine_path) == executable:
                report.unchanged += 1
            elif rel in GENERATED or mine == new or shipped.untouched(rel, mine):
                report.updated.append(rel)
                _put(mine_path, new, dry_run, executable)
            elif shipped.lock.get(rel) == lock.digest(new):
                report.yours += 1  # the learner's work, on a file this release leaves as it was
            else:
                # The learner's version stays; the new one waits beside it, in the backup.
                report.kept.append((rel, (backup / rel).as_posix()))
                _put(learner / backup / rel, new, dry_run, executable)
        releasing = set(released)
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
        if not dry_run:
            report.broken = broken_stages(learner, report.kept)
        return report


def broken_stages(learner: Path, kept: list[tuple[str, str]]) -> list:
    """Stages whose sketch/ kept a learner's file and no longer imports, with the error."""
    by_stage: dict[str, list[tuple[str, str]]] = {}
    for mine, new in kept:
        parts = mine.split("/")
        if len(parts) > 3 and parts[0] == "steps" and parts[2] == "sketch":
            by_stage.setdefault("/".join(parts[:2]), []).append((mine, new))
    broken = []
    for folder, kept_here in sorted(by_stage.items()):
        problem = import_problem(learner / folder)
        if problem:
            broken.append((folder, problem, kept_here))
    return broken


# Imports every module of the sketch/ package in FOLDER (not __main__, which serves).
_IMPORT_ALL = """
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import sketch
for module in pkgutil.iter_modules(sketch.__path__):
    if module.name != "__main__":
        importlib.import_module("sketch." + module.name)
"""


def import_problem(folder: Path) -> str | None:
    """The last line of the error importing FOLDER's sketch/ package, or None if it imports."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_ALL, str(folder)],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT,
            env={**untrusted.child_env(), "PYTHONDONTWRITEBYTECODE": "1"},
        )
    except subprocess.TimeoutExpired:
        return f"importing it did not finish within {IMPORT_TIMEOUT:g} s"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"python exited with code {done.returncode}"


def _learner_files(learner: Path) -> list[str]:
    found = [
        p.relative_to(learner).as_posix()
        for p in learner.rglob("*")
        if p.is_file() and not p.is_symlink()
    ]
    return sorted(rel for rel in found if _managed(rel))


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def _put(path: Path, data: bytes, dry_run: bool, executable: bool = False) -> None:
    if not dry_run:
        files.write_atomic(path, data, executable=executable)


def _prune(root: Path, folder: Path) -> None:
    """Remove folders left empty by a removal, up to (not including) ROOT."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
