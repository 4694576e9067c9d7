"""Atomic swaps of a stage's `sketch/` folder: solve, restore and reset.

A swap never eats work and never leaves a mix of two trees:

1. the stage folder is backed up (workshop.checkpoints) before anything is touched;
2. a journal, `.workshop/swap.json`, says what is about to happen;
3. the new tree is written beside the old one (`steps/NN/.sketch.swap-new`) and synced;
4. the journal is marked "ready": from here on the swap can only go forward;
5. two renames: `sketch` -> `.sketch.swap-old`, `.sketch.swap-new` -> `sketch`;
6. the old tree and the journal are removed.

Killed at any instant, the next task run finds the journal and rolls the swap back (before
step 4: the new tree is removed, the old one was never touched) or forward (after it). With
`--file` only one file is replaced, by a single `os.replace`.

Tests inject faults: with WORKSHOP_FAULT_AFTER=k in the environment, the process kills itself
with SIGKILL right after its k-th file operation.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from workshop import checkpoints, files, git, lock, manifest, processes, state
from workshop.files import File, Files
from workshop.manifest import Stage

JOURNAL = Path(".workshop") / "swap.json"
PACKAGE = "sketch"
NEW_SUFFIX = ".swap-new"
OLD_SUFFIX = ".swap-old"


# --- fault injection -----------------------------------------------------------------------

_operations = 0


def tick(what: str) -> None:
    """Count one file operation; die here if WORKSHOP_FAULT_AFTER says so (tests only)."""
    global _operations
    _operations += 1
    limit = os.environ.get("WORKSHOP_FAULT_AFTER")
    if limit and _operations == int(limit):
        processes.kill_self()


# --- the journal ---------------------------------------------------------------------------


def _write_journal(root: Path, entry: dict) -> None:
    files.write_atomic(root / JOURNAL, json.dumps(entry), sync=True)
    tick(f"journal {entry['phase']}")


def recover(root: Path = manifest.ROOT) -> str | None:
    """Finish or undo a swap that was interrupted; a sentence saying which, or None."""
    path = root / JOURNAL
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        path.unlink()  # a torn journal is never "ready": the old tree was not touched
        return None
    target, new, old = (root / entry[k] for k in ("target", "new", "old"))
    if entry["phase"] != "ready":
        _remove(new)
        _remove(old)  # cannot exist before "ready"; kept for safety against odd states
        path.unlink()
        return f"An interrupted swap of {entry['target']} was undone: nothing had changed."
    if new.exists() or new.is_symlink():
        if entry["kind"] == "dir" and target.exists() and not old.exists():
            os.replace(target, old)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, target)
    _remove(old)
    path.unlink()
    return f"An interrupted swap of {entry['target']} was completed ({entry['why']})."


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# --- the swap itself -----------------------------------------------------------------------


def replace_tree(root: Path, target: Path, new_files: Files, why: str) -> None:
    """Make TARGET (a folder) hold exactly NEW_FILES, atomically (see the module docstring)."""
    recover(root)
    new = target.with_name(f".{target.name}{NEW_SUFFIX}")
    old = target.with_name(f".{target.name}{OLD_SUFFIX}")
    rel = {k: p.relative_to(root).as_posix() for k, p in (("target", target), ("new", new),
                                                          ("old", old))}  # fmt: skip
    _write_journal(root, {"kind": "dir", "phase": "staging", "why": why, **rel})
    _remove(new)
    new.mkdir(parents=True)
    for name, file in sorted(new_files.items()):
        files.put(new / name, file, sync=True)
        tick(f"wrote {name}")
    files.fsync_tree(new)
    _write_journal(root, {"kind": "dir", "phase": "ready", "why": why, **rel})
    if target.exists():
        os.replace(target, old)
        tick("moved the old tree aside")
    os.replace(new, target)
    files.fsync_dir(target.parent)
    tick("moved the new tree in")
    _remove(old)
    tick("removed the old tree")
    (root / JOURNAL).unlink()
    tick("journal removed")


def replace_file(root: Path, target: Path, file: File | None, why: str, beside: Path) -> None:
    """Make the one file TARGET hold FILE (or not exist, for None), atomically.

    The new file is written in BESIDE (the stage folder, outside sketch/, on the same file
    system), so sketch/ never holds a half-written or stray file.
    """
    recover(root)
    new = beside / f".{PACKAGE}-file{NEW_SUFFIX}"
    rel = {k: p.relative_to(root).as_posix() for k, p in (("target", target), ("new", new))}
    rel["old"] = rel["new"] + ".unused"
    _write_journal(root, {"kind": "file", "phase": "staging", "why": why, **rel})
    if file is None:
        target.unlink(missing_ok=True)
        tick(f"removed {target.name}")
    else:
        _remove(new)
        files.put(new, file, sync=True)
        tick(f"wrote {new.name}")
        _write_journal(root, {"kind": "file", "phase": "ready", "why": why, **rel})
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, target)
        files.fsync_dir(target.parent)
        tick(f"moved {target.name} in")
    (root / JOURNAL).unlink()
    tick("journal removed")


# --- what gets swapped in ------------------------------------------------------------------


def sketch_of(files: Files) -> Files:
    """The `sketch/` part of a stage folder's files, keyed relative to sketch/."""
    prefix = PACKAGE + "/"
    return {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}


def reference(stage: Stage, root: Path = manifest.ROOT) -> Files:
    return files.read_folder(stage.solution_dir(root) / PACKAGE)


def learner_sketch(stage: Stage, root: Path = manifest.ROOT) -> Files:
    return files.read_folder(stage.step_dir(root) / PACKAGE)


def is_untouched(stage: Stage, root: Path = manifest.ROOT) -> bool:
    """True when the learner's sketch/ is exactly the shipped skeleton (checked by the lock)."""
    prefix = f"steps/{stage.id}/{PACKAGE}/"
    wanted = {r[len(prefix) :]: sha for r, sha in lock.read(root).items()
              if r.startswith(prefix)}  # fmt: skip
    mine = learner_sketch(stage, root)
    return (
        bool(wanted)
        and set(mine) == set(wanted)
        and all(lock.digest(mine[name].data) == sha for name, sha in wanted.items())
    )


def skeleton(stage: Stage, root: Path = manifest.ROOT) -> Files:
    """The stage's sketch/ exactly as shipped (the bytes `workshop.lock` records).

    Each file comes from the first of these whose bytes match the lock: the file on disk (if
    untouched), the commits of the stage folder (a clone or a template repository holds the
    one that shipped it), or the new version `invoke update` left beside a file the learner
    kept. Nothing is rebuilt: that is the instructor's builder, not a learner's task.
    """
    prefix = f"steps/{stage.id}/{PACKAGE}/"
    wanted = {rel: sha for rel, sha in lock.read(root).items() if rel.startswith(prefix)}
    if not wanted:
        raise LookupError(f"workshop.lock lists no files for {prefix}: cannot rebuild it")
    found: dict[str, bytes] = {}
    for rel, sha in wanted.items():
        path = root / rel
        if path.is_file() and lock.digest(path.read_bytes()) == sha:
            found[rel] = path.read_bytes()
    missing = {rel: sha for rel, sha in wanted.items() if rel not in found}
    if missing:
        found.update(_shipped_elsewhere(root, stage, missing))
    missing = {rel: sha for rel, sha in wanted.items() if rel not in found}
    if missing:
        why = "not in git history" if checkpoints.uses_git(root) else "not a git repository"
        raise LookupError(
            f"cannot find the shipped bytes of {', '.join(sorted(missing))} ({why}): "
            "copy them from a fresh download of the workshop, then run this again"
        )
    return {rel[len(prefix) :]: File(data) for rel, data in sorted(found.items())}


SEARCHED_COMMITS = 50  # commits of a stage folder searched for its shipped bytes


def _shipped_elsewhere(root: Path, stage: Stage, wanted: dict[str, str]) -> dict[str, bytes]:
    """The shipped bytes of WANTED ({path: sha256}), from the stage folder's git history:
    the commit that last changed the lock first, then older ones (a learner may have
    committed their work together with an update), then the new versions that
    `invoke update` left beside files the learner kept (.workshop/update/)."""
    last = older = ""
    if checkpoints.uses_git(root):
        try:
            last = git.text(root, "rev-list", "-1", "HEAD", "--", lock.LOCK)
            older = git.text(root, "rev-list", f"-{SEARCHED_COMMITS}", "HEAD", "--",
                             checkpoints.stage_rel(stage))  # fmt: skip
        except git.GitError:
            pass
    found: dict[str, bytes] = {}
    prefix = f"steps/{stage.id}/"
    for commit in dict.fromkeys((last + older).split()):
        shipped = checkpoints.read_git_folder(root, commit, stage)
        for rel, sha in wanted.items():
            file = shipped.get(rel[len(prefix) :])
            if rel not in found and file is not None and lock.digest(file.data) == sha:
                found[rel] = file.data
        if len(found) == len(wanted):
            return found
    for rel, sha in wanted.items():
        for path in sorted((root / ".workshop" / "update").glob(f"*/{rel}")):
            if rel not in found and lock.digest(path.read_bytes()) == sha:
                found[rel] = path.read_bytes()
    return found


# --- the three swaps ------------------------------------------------------------------------


@dataclass
class SwapResult:
    stage: Stage
    backup: str | None  # the backup taken first (None when nothing needed to change)
    backup_created: bool
    git: bool
    changed: bool
    what: str  # "the reference solution", "sketch/router.py from the reference", ...


def _swap_in(stage: Stage, new: Files, why: str, root: Path, only: str | None = None) -> SwapResult:
    """Back the stage folder up, then make its sketch/ hold NEW (or just file ONLY of it)."""
    recover(root)
    target = stage.step_dir(root) / PACKAGE
    current = learner_sketch(stage, root)
    unchanged = current.get(only) == new.get(only) if only else current == new
    git = checkpoints.uses_git(root)
    if unchanged:
        return SwapResult(stage, None, False, git, False, why)
    made = checkpoints.backup(stage, f"before {why}", root, tick=tick)
    if only:
        replace_file(root, target / only, new.get(only), why, beside=stage.step_dir(root))
    else:
        replace_tree(root, target, new, why)
    return SwapResult(stage, made.name, made.created, made.git, True, why)


def normalise_file(stage: Stage, path: str, root: Path = manifest.ROOT) -> str:
    """'router.py', 'sketch/router.py' or 'steps/04_routing/sketch/router.py' -> 'router.py'."""
    text = path.replace("\\", "/").strip("/")
    for prefix in (f"steps/{stage.id}/", f"solutions/{stage.id}/", f"{PACKAGE}/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text not in reference(stage, root):
        known = ", ".join(sorted(reference(stage, root)))
        raise LookupError(f"the reference of {stage.id} has no file {path!r}; it has: {known}")
    return text


def solve(stage: Stage, file: str | None = None, root: Path = manifest.ROOT) -> SwapResult:
    """Swap the reference solution in (one file with FILE), after a backup."""
    ref = reference(stage, root)
    if not ref:
        from workshop import edition

        raise LookupError(edition.no_reference(stage, root))
    only = normalise_file(stage, file, root) if file else None
    why = f"solve ({only})" if only else "solve"
    result = _swap_in(stage, ref, why, root, only)
    if result.changed:
        saved = state.load(root)
        saved.solved.setdefault(stage.id, []).append(result.backup or "")
        swapped = _swapped(saved)
        names = set(swapped.get(stage.id, [])) | ({only} if only else set(ref))
        swapped[stage.id] = sorted(names)
        saved.extra["last_swap"] = stage.id
        state.save(saved, root)
    return result


def _swapped(saved: state.State) -> dict[str, list[str]]:
    """state.extra["swapped"]: stage id -> the files `solve` put in (until restore or reset)."""
    swapped = saved.extra.setdefault("swapped", {})
    assert isinstance(swapped, dict)
    return swapped


def last_swapped(root: Path = manifest.ROOT) -> str | None:
    """The stage of the last solve or reset that has not been restored since."""
    value = state.load(root).extra.get("last_swap")
    return value if isinstance(value, str) else None


def _remember_swap(stage: Stage, root: Path) -> None:
    saved = state.load(root)
    saved.extra["last_swap"] = stage.id
    state.save(saved, root)


def swapped_files(stage: Stage, root: Path = manifest.ROOT) -> list[str]:
    return list(_swapped(state.load(root)).get(stage.id, []))


def _forget_swapped(stage: Stage, root: Path) -> None:
    saved = state.load(root)
    _swapped(saved).pop(stage.id, None)
    if saved.extra.get("last_swap") == stage.id:
        del saved.extra["last_swap"]
    state.save(saved, root)


def restore(stage: Stage, name: str | None = None, root: Path = manifest.ROOT) -> SwapResult:
    """Bring a backup's sketch/ back byte for byte (default: the newest not made by restore)."""
    recover(root)
    chosen = checkpoints.find_backup(stage, name, root)
    files = sketch_of(checkpoints.read_backup(stage, chosen.name, root))
    result = _swap_in(stage, files, f"restore of {chosen.name}", root)
    result.what = chosen.name
    if result.changed:
        _forget_swapped(stage, root)
    return result


def reset(stage: Stage, root: Path = manifest.ROOT) -> SwapResult:
    """Put the untouched skeleton back, after a backup."""
    result = _swap_in(stage, skeleton(stage, root), "reset", root)
    if result.changed:
        _forget_swapped(stage, root)
        _remember_swap(stage, root)
    return result
