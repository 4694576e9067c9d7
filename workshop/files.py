"""Files as the workshop reads and writes them: one ignore list, a folder's files, atomic writes.

* `IGNORED`: the caches that are never part of anything the workshop ships, compares, hashes
  or backs up (`__pycache__`, `.pytest_cache`, ...). One list, so that a build, a backup, an
  update and the grader's hashes agree on what a folder holds.
* `read_folder`: every file of a folder, byte for byte, with git's idea of its mode.
* `write_atomic`: a file is replaced whole or not at all (written beside it, then renamed);
  with `sync`, it is on disk before the rename, and the rename is too.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

# Folders made by tools as they run: never part of a folder's content.
IGNORED = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".mypy_cache"})
IGNORED_SUFFIXES = (".pyc", ".pyo")  # compiled Python, wherever it lands
EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def ignored(path: PurePath | str) -> bool:
    """True when PATH (relative or absolute) is a cache or inside one."""
    path = PurePath(path)
    return bool(IGNORED.intersection(path.parts)) or path.suffix in IGNORED_SUFFIXES


def ignore_caches(folder: str, names: list[str]) -> set[str]:
    """`shutil.copytree(..., ignore=ignore_caches)`: leave the caches out of a copy."""
    return {name for name in names if ignored(name)}


def walk(folder: Path) -> Iterator[Path]:
    """Every file under FOLDER, sorted, caches left out (symlinks to files included)."""
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not ignored(path.relative_to(folder)):
                yield path


# --- a folder's files, as git sees them --------------------------------------------------------


@dataclass(frozen=True)
class File:
    """One file: its bytes and whether it is executable (or a symlink)."""

    data: bytes
    mode: str = "100644"  # git's modes: 100644, 100755, 120000 (a symlink: data is the target)


Files = dict[str, File]  # path relative to a folder ("sketch/router.py") -> File


def read_folder(folder: Path) -> Files:
    """Every file under FOLDER (caches left out), keyed by its path relative to FOLDER."""
    files: Files = {}
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if ignored(rel):
            continue
        if path.is_symlink():
            files[rel.as_posix()] = File(os.readlink(path).encode(), "120000")
        elif path.is_file():
            executable = path.stat().st_mode & stat.S_IXUSR
            files[rel.as_posix()] = File(path.read_bytes(), "100755" if executable else "100644")
    return files


def put(path: Path, file: File, *, sync: bool = False) -> None:
    """Create PATH as FILE says (a symlink, or bytes with its mode); SYNC: flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if file.mode == "120000":
        os.symlink(file.data.decode("utf-8", "surrogateescape"), path)
        return
    with open(path, "wb") as f:
        f.write(file.data)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    if file.mode == "100755":
        path.chmod(path.stat().st_mode | EXECUTABLE)


# --- writing whole or not at all -------------------------------------------------------------


def write_atomic(
    path: Path, data: bytes | str, *, executable: bool = False, sync: bool = False
) -> None:
    """Replace PATH with DATA in one rename: a reader (or a crash) sees the old file or the new.

    The new file is written beside PATH under a name of this process and thread, then renamed
    over it; EXECUTABLE sets its x bits (else they are clear). With SYNC the bytes, then the
    rename, are flushed to disk before this returns.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        mode = tmp.stat().st_mode
        tmp.chmod(mode | EXECUTABLE if executable else mode & ~EXECUTABLE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        fsync_dir(path.parent)


def fsync_tree(folder: Path) -> None:
    """Flush every file and folder under FOLDER to disk (symlinks need no flush)."""
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        fsync_dir(Path(dirpath))


def fsync_dir(folder: Path) -> None:
    """Flush FOLDER's entries (a rename into it) to disk, where the file system can."""
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


def hashes(folder: Path, digest: Callable[[bytes], str]) -> dict[str, str]:
    """{path relative to FOLDER: DIGEST(bytes)} of every file in it, caches left out."""
    return {path.relative_to(folder).as_posix(): digest(path.read_bytes()) for path in walk(folder)}


# --- how many files a process may hold open ---------------------------------------------------

MACOS_OPEN_MAX = 10240
RESERVED_FILES = 64  # beside its sockets, a process holds a few dozen files (Python, libraries)


def allow_open_files(sockets: int) -> int:
    """Let this process (and the processes it starts from now on) hold SOCKETS sockets at once.

    macOS's default soft limit on open files is 256; a load test or benchmark with hundreds
    of connections needs more. The soft limit is raised to SOCKETS plus `RESERVED_FILES`, at
    most to the hard limit; it is never lowered. Returns the soft limit in force (SOCKETS
    where the platform has none).
    """
    try:
        import resource  # POSIX only
    except ImportError:
        return sockets
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + RESERVED_FILES
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    # macOS refuses a soft limit above OPEN_MAX (10240), even under an "unlimited" hard limit.
    for candidate in (raised, min(raised, MACOS_OPEN_MAX)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (candidate, hard))
            return candidate
        except (ValueError, OSError):
            continue
    return soft


def need_open_files(sockets: int) -> None:
    """allow_open_files(SOCKETS), or exit saying why it cannot be done (benchmarks)."""
    allowed = allow_open_files(sockets)
    if allowed < sockets + RESERVED_FILES:
        raise SystemExit(
            f"{sockets:,} connections need about {sockets + RESERVED_FILES:,} open files, and "
            f"this system allows {allowed:,} (ulimit -n; raising the hard limit needs root)"
        )
