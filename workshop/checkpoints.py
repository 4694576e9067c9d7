"""Snapshots of a learner's stage folder: checkpoints (a stage passed) and backups (a swap).

In a git repository a snapshot is a commit, pointed to by a tag:

    checkpoint/04_routing      the folder when stage 04 first passed (made once, never moved)
    backup/04_routing/3        the folder just before a swap (solve, restore, reset)

The commit is HEAD's tree with `steps/04_routing` replaced by the folder as it is on disk
(tracked, modified and untracked files; ignored ones such as `__pycache__` left out), so
`git diff checkpoint/04_routing` and `git checkout backup/04_routing/3 -- steps/04_routing`
do what a learner expects. It is built in a temporary index (GIT_INDEX_FILE, write-tree,
commit-tree): the learner's branch, HEAD, index and working tree are never touched. Blobs
are hashed with `--no-filters`, so line-ending settings cannot change a byte.

Outside git (a downloaded archive) the same snapshots are folders under `.workshop/`:
`.workshop/backups/04_routing/3/` and `.workshop/checkpoints/04_routing/`, each with the
files under `files/` and a `meta.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from workshop import manifest
from workshop.manifest import Stage

# Parts of a path that are never part of a snapshot outside git (inside git, .gitignore rules).
NOISE = {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".mypy_cache"}
NOISE_SUFFIXES = {".pyc", ".pyo"}
BACKUP_DIRS = Path(".workshop") / "backups"
CHECKPOINT_DIRS = Path(".workshop") / "checkpoints"
_FALLBACK_IDENTITY = {"name": "sketch workshop", "email": "workshop@localhost"}


@dataclass(frozen=True)
class File:
    """One file of a snapshot: its bytes and whether it is executable (or a symlink)."""

    data: bytes
    mode: str = "100644"  # git's modes: 100644, 100755, 120000 (a symlink: data is the target)


Files = dict[str, File]  # path relative to the stage folder ("sketch/router.py") -> File


@dataclass
class Snapshot:
    """A checkpoint or backup, as `invoke backups` lists it."""

    name: str  # "backup/04_routing/3", "checkpoint/04_routing"
    number: int  # 3 for a backup, 0 for a checkpoint
    when: str
    reason: str
    ref: str = ""  # the git commit, or the folder outside git
    extra: dict[str, str] = field(default_factory=dict)


# --- where we are ------------------------------------------------------------------------


def uses_git(root: Path = manifest.ROOT) -> bool:
    """True when ROOT is the top of a git work tree (and git is installed)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    if done.returncode != 0:
        return False
    return Path(done.stdout.strip()).resolve() == Path(root).resolve()


def _git(root: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> bytes:
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        input=input,
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"git {' '.join(args[:3])} failed: {problem}")
    return done.stdout


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def stage_rel(stage: Stage) -> str:
    """The stage folder, relative to the repository root, with forward slashes."""
    return f"steps/{stage.id}"


# --- reading a folder ----------------------------------------------------------------------


def read_folder(folder: Path) -> Files:
    """Every file under FOLDER (noise such as __pycache__ left out), keyed by relative path."""
    files: Files = {}
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if NOISE & set(rel.parts) or path.suffix in NOISE_SUFFIXES:
            continue
        if path.is_symlink():
            files[rel.as_posix()] = File(os.readlink(path).encode(), "120000")
        elif path.is_file():
            executable = path.stat().st_mode & stat.S_IXUSR
            files[rel.as_posix()] = File(path.read_bytes(), "100755" if executable else "100644")
    return files


def _git_folder_files(root: Path, rel: str) -> list[str]:
    """Files under REL that git would keep: tracked or untracked, not ignored, on disk."""
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", rel)
    names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\0") if n})
    return [n for n in names if os.path.lexists(root / n) and not (root / n).is_dir()]


# --- making a snapshot ---------------------------------------------------------------------


def _identity_env(root: Path) -> dict[str, str]:
    """Author and committer for commit-tree: the learner's, or a stand-in if git has none."""
    done = subprocess.run(
        ["git", "var", "GIT_COMMITTER_IDENT"], cwd=root, capture_output=True, timeout=30
    )
    if done.returncode == 0:
        return {}
    name, email = _FALLBACK_IDENTITY["name"], _FALLBACK_IDENTITY["email"]
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def _git_commit_of_folder(root: Path, rel: str, message: str) -> tuple[str, str]:
    """A commit of HEAD's tree with REL as it is on disk; (commit, tree id of REL)."""
    names = _git_folder_files(root, rel)
    regular = [n for n in names if not (root / n).is_symlink()]
    blobs: dict[str, str] = {}
    if regular:
        out = _git(root, "hash-object", "-w", "--no-filters", "--stdin-paths",
                   input="\n".join(regular).encode("utf-8", "surrogateescape") + b"\n")  # fmt: skip
        blobs = dict(zip(regular, out.decode().split(), strict=True))
    lines = []
    for name in names:
        path = root / name
        if path.is_symlink():
            target = os.readlink(path).encode("utf-8", "surrogateescape")
            blob = _git(root, "hash-object", "-w", "--stdin", input=target).decode().strip()
            mode = "120000"
        else:
            blob = blobs[name]
            mode = "100755" if path.stat().st_mode & stat.S_IXUSR else "100644"
        lines.append(f"{mode} {blob}\t{name}".encode("utf-8", "surrogateescape"))
    head = _head(root)
    with tempfile.TemporaryDirectory(prefix="workshop-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp, "index"))}
        if head:
            _git(root, "read-tree", head, env=env)
        else:
            _git(root, "read-tree", "--empty", env=env)
        _git(root, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", rel, env=env)
        if lines:
            _git(root, "update-index", "-z", "--add", "--index-info",
                 input=b"\0".join(lines) + b"\0", env=env)  # fmt: skip
        tree = _git(root, "write-tree", env=env).decode().strip()
    parents = ["-p", head] if head else []
    commit = _git(
        root, "commit-tree", "--no-gpg-sign", tree, *parents, "-m", message,
        env=_identity_env(root),
    ).decode().strip()  # fmt: skip
    return commit, _subtree(root, commit, rel)


def _head(root: Path) -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", "HEAD^{commit}"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _subtree(root: Path, commit: str, rel: str) -> str:
    done = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", f"{commit}:{rel}"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _create_tag(root: Path, tag: str, commit: str) -> bool:
    """Point refs/tags/TAG at COMMIT unless it exists already; True when it was created."""
    done = subprocess.run(
        ["git", "update-ref", f"refs/tags/{tag}", commit, ""],
        cwd=root,
        capture_output=True,
        timeout=30,
    )
    return done.returncode == 0


def _tag_exists(root: Path, tag: str) -> bool:
    done = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", f"refs/tags/{tag}"],
        cwd=root,
        capture_output=True,
        timeout=30,
    )
    return done.returncode == 0


def _write_copy(folder: Path, files: Files, meta: dict[str, str], tick=None) -> None:
    """Write FILES and meta.json into FOLDER, atomically: written beside it, then renamed."""
    partial = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    for rel, file in files.items():
        path = partial / "files" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if file.mode == "120000":
            os.symlink(file.data.decode("utf-8", "surrogateescape"), path)
        else:
            path.write_bytes(file.data)
            if file.mode == "100755":
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        if tick:
            tick(f"backup copy {rel}")
    partial.mkdir(parents=True, exist_ok=True)
    (partial / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    _fsync_tree(partial)
    os.replace(partial, folder)
    _fsync_dir(folder.parent)


def _fsync_tree(folder: Path) -> None:
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)


# --- backups -------------------------------------------------------------------------------


@dataclass
class BackupMade:
    name: str  # "backup/04_routing/3"
    created: bool  # False when the folder was already saved, unchanged, as NAME
    git: bool


def backup(stage: Stage, reason: str, root: Path = manifest.ROOT, tick=None) -> BackupMade:
    """Save the stage folder as the next backup, unless the newest one holds the same files."""
    rel = stage_rel(stage)
    if uses_git(root):
        existing = list_backups(stage, root)
        commit, tree = _git_commit_of_folder(root, rel, f"{stage.id}: backup {reason}")
        if tick:
            tick("backup objects written")
        if existing and _subtree(root, existing[-1].ref, rel) == tree:
            return BackupMade(existing[-1].name, created=False, git=True)
        number = existing[-1].number + 1 if existing else 1
        while not _create_tag(root, f"backup/{stage.id}/{number}", commit):
            number += 1  # someone else took that number meanwhile
        if tick:
            tick("backup tag created")
        return BackupMade(f"backup/{stage.id}/{number}", created=True, git=True)
    files = read_folder(stage.step_dir(root))
    existing = list_backups(stage, root)
    if existing and read_backup(stage, existing[-1].name, root) == files:
        return BackupMade(existing[-1].name, created=False, git=False)
    number = existing[-1].number + 1 if existing else 1
    meta = {"when": _now(), "reason": reason}
    _write_copy(root / BACKUP_DIRS / stage.id / str(number), files, meta, tick)
    if tick:
        tick("backup folder renamed into place")
    return BackupMade(f"backup/{stage.id}/{number}", created=True, git=False)


def list_backups(stage: Stage, root: Path = manifest.ROOT) -> list[Snapshot]:
    """Every backup of the stage, oldest first."""
    found: list[Snapshot] = []
    if uses_git(root):
        out = _git(
            root,
            "for-each-ref",
            "--format=%(refname:strip=2)%00%(objectname)%00%(creatordate:iso-strict)%00%(contents:subject)",
            f"refs/tags/backup/{stage.id}/",
        ).decode("utf-8", "replace")
        for line in out.splitlines():
            name, commit, when, subject = line.split("\0")
            number = name.rsplit("/", 1)[-1]
            if number.isdigit():
                reason = subject.split(": backup ", 1)[-1]
                found.append(Snapshot(name, int(number), when, reason, commit))
    else:
        base = root / BACKUP_DIRS / stage.id
        for folder in base.iterdir() if base.is_dir() else ():
            if folder.name.isdigit() and (folder / "meta.json").exists():
                meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                name = f"backup/{stage.id}/{folder.name}"
                found.append(
                    Snapshot(name, int(folder.name), meta["when"], meta["reason"], str(folder))
                )
    return sorted(found, key=lambda s: s.number)


def find_backup(stage: Stage, name: str | None, root: Path = manifest.ROOT) -> Snapshot:
    """The backup called NAME ("3" or "backup/04_routing/3"); by default the newest one
    that was not taken by `restore` itself (so `invoke restore` twice does not flip-flop)."""
    backups = list_backups(stage, root)
    if not backups:
        raise LookupError(f"stage {stage.id} has no backups yet")
    if not name:
        chosen = [b for b in backups if not b.reason.startswith("before restore")]
        return (chosen or backups)[-1]
    number = str(name).rstrip("/").rsplit("/", 1)[-1]
    for snapshot in backups:
        if str(snapshot.number) == number:
            return snapshot
    known = ", ".join(str(b.number) for b in backups)
    raise LookupError(f"stage {stage.id} has no backup {name!r}; it has: {known}")


def read_backup(stage: Stage, name: str, root: Path = manifest.ROOT) -> Files:
    """The stage folder's files as backup NAME holds them."""
    snapshot_number = name.rsplit("/", 1)[-1]
    if uses_git(root):
        return read_git_folder(root, f"refs/tags/backup/{stage.id}/{snapshot_number}", stage)
    return read_folder(root / BACKUP_DIRS / stage.id / snapshot_number / "files")


def read_git_folder(root: Path, rev: str, stage: Stage) -> Files:
    """The stage folder's files in commit REV, byte for byte (no smudge or eol filters)."""
    rel = stage_rel(stage)
    listing = _git(root, "ls-tree", "-r", "-z", "--full-tree", rev, "--", rel + "/")
    entries = []
    for item in listing.decode("utf-8", "surrogateescape").split("\0"):
        if not item:
            continue
        info, path = item.split("\t", 1)
        mode, kind, blob = info.split()
        if kind == "blob":
            entries.append((path, mode, blob))
    if not entries:
        return {}
    out = _git(root, "cat-file", "--batch", input="".join(f"{b}\n" for _, _, b in entries).encode())
    files: Files = {}
    position = 0
    for path, mode, _blob in entries:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        data = out[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1  # the content is followed by a newline
        files[path[len(rel) + 1 :]] = File(data, "100755" if mode == "100755" else mode)
    return files


# --- checkpoints ---------------------------------------------------------------------------


def checkpoint_name(stage: Stage) -> str:
    return f"checkpoint/{stage.id}"


def has_checkpoint(stage: Stage, root: Path = manifest.ROOT) -> bool:
    if uses_git(root):
        return _tag_exists(root, checkpoint_name(stage))
    return (root / CHECKPOINT_DIRS / stage.id / "meta.json").exists()


def make_checkpoint(stage: Stage, root: Path = manifest.ROOT) -> bool:
    """Record the stage folder as checkpoint/NN_name, once; True if it was made now."""
    if has_checkpoint(stage, root):
        return False
    if uses_git(root):
        commit, _ = _git_commit_of_folder(root, stage_rel(stage), f"{stage.id}: checkpoint")
        return _create_tag(root, checkpoint_name(stage), commit)
    meta = {"when": _now(), "reason": "passed"}
    _write_copy(root / CHECKPOINT_DIRS / stage.id, read_folder(stage.step_dir(root)), meta)
    return True


def read_checkpoint(stage: Stage, root: Path = manifest.ROOT) -> Files:
    if uses_git(root):
        return read_git_folder(root, f"refs/tags/{checkpoint_name(stage)}", stage)
    return read_folder(root / CHECKPOINT_DIRS / stage.id / "files")


def on_pass(stage: Stage, first_time: bool, root: Path = manifest.ROOT) -> None:
    """Called by `invoke check` when STAGE passes: record its checkpoint the first time."""
    from workshop import fingerprint
    from workshop.console import console, esc

    out = console()
    if fingerprint.verdict(stage, stage.step_dir(root), root) == "reference":
        out.print(
            "[warn]The reference solution is in place[/], so no checkpoint was recorded. "
            f"[cmd]invoke restore {stage.id}[/] brings your own code back."
        )
        return
    git = uses_git(root)
    try:
        made = make_checkpoint(stage, root)
    except (RuntimeError, OSError) as error:
        out.print(f"[warn]Could not record a checkpoint:[/] {esc(error)}")
        return
    if made and git:
        out.print(
            f"Checkpoint: git tag [path]{checkpoint_name(stage)}[/] holds your code "
            f"([cmd]git diff {checkpoint_name(stage)} -- {stage_rel(stage)}[/])."
        )
    elif made:
        where = (CHECKPOINT_DIRS / stage.id).as_posix()
        out.print(f"Checkpoint: your code is saved in [path]{where}/[/] (not a git repository).")
