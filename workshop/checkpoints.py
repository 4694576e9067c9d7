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
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from workshop import files, git, manifest
from workshop.files import File, Files, read_folder
from workshop.manifest import Stage

# Outside git, caches are left out of snapshots by workshop.files.IGNORED (inside git, by
# .gitignore rules).
BACKUP_DIRS = Path(".workshop") / "backups"
CHECKPOINT_DIRS = Path(".workshop") / "checkpoints"


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
    """True when snapshots are git tags: ROOT is the top of a git work tree."""
    return git.is_top(root)


def _git(root: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> bytes:
    return git.run(root, *args, input=input, env=env)


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def stage_rel(stage: Stage) -> str:
    """The stage folder, relative to the repository root, with forward slashes."""
    return f"steps/{stage.id}"


# --- reading a folder in git ---------------------------------------------------------------


def _git_folder_files(root: Path, rel: str) -> list[str]:
    """Files under REL that git would keep: tracked or untracked, not ignored, on disk."""
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", rel)
    names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\0") if n})
    return [n for n in names if os.path.lexists(root / n) and not (root / n).is_dir()]


# --- making a snapshot ---------------------------------------------------------------------


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
    head = git.head(root)
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
        env=git.identity_env(root),
    ).decode().strip()  # fmt: skip
    return commit, _subtree(root, commit, rel)


def _subtree(root: Path, commit: str, rel: str) -> str:
    return (git.attempt(root, "rev-parse", "-q", "--verify", f"{commit}:{rel}") or "").strip()


def _create_tag(root: Path, tag: str, commit: str) -> bool:
    """Point refs/tags/TAG at COMMIT unless it exists already; True when it was created."""
    return git.attempt(root, "update-ref", f"refs/tags/{tag}", commit, "") is not None


def _tag_exists(root: Path, tag: str) -> bool:
    return git.attempt(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}") is not None


def _write_copy(folder: Path, snapshot: Files, meta: dict[str, str], tick=None) -> None:
    """Write SNAPSHOT and meta.json into FOLDER, atomically: written beside it, then renamed."""
    partial = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    for rel, file in snapshot.items():
        files.put(partial / "files" / rel, file)
        if tick:
            tick(f"backup copy {rel}")
    partial.mkdir(parents=True, exist_ok=True)
    (partial / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    files.fsync_tree(partial)
    os.replace(partial, folder)
    files.fsync_dir(folder.parent)


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
    current = read_folder(stage.step_dir(root))
    existing = list_backups(stage, root)
    if existing and read_backup(stage, existing[-1].name, root) == current:
        return BackupMade(existing[-1].name, created=False, git=False)
    number = existing[-1].number + 1 if existing else 1
    meta = {"when": _now(), "reason": reason}
    _write_copy(root / BACKUP_DIRS / stage.id / str(number), current, meta, tick)
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
    found: Files = {}
    position = 0
    for path, mode, _blob in entries:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        data = out[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1  # the content is followed by a newline
        found[path[len(rel) + 1 :]] = File(data, "100755" if mode == "100755" else mode)
    return found


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
