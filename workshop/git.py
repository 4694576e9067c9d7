"""Git as the workshop runs it: one command at a time, bounded in time, never interactive.

Every git command of the tooling goes through `run` (or `text`, `attempt`): a failure, a
timeout or a missing git is one exception, `GitError`, whose message says which command failed
and what git said. Nothing here changes a learner's branch, HEAD, index or working tree by
itself: the callers say what to run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

TIMEOUT = 60.0  # seconds for one git command, unless the caller says otherwise
# Author and committer for commits the workshop makes where git has no identity configured.
FALLBACK_IDENTITY = {"name": "sketch workshop", "email": "workshop@localhost"}


class GitError(RuntimeError):
    """A git command failed, did not finish in time, or git is not installed."""

    def __init__(self, args: tuple[str, ...], problem: str, timed_out: bool = False) -> None:
        self.command = args
        self.problem = problem  # what git said (its last lines), or why it could not run
        self.timed_out = timed_out
        super().__init__(f"git {' '.join(args[:3])} failed: {problem}")


def run(
    cwd: Path | str | None,
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    inherit_env: bool = True,
    timeout: float = TIMEOUT,
) -> bytes:
    """What `git ARGS`, run in CWD, prints; GitError when it fails.

    ENV adds to this process's environment, or with `inherit_env=False` is all of it (a
    learner's repository fetched without this process's secrets).
    """
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **(env or {})} if inherit_env else env,
        )
    except subprocess.TimeoutExpired:
        raise GitError(args, f"it did not finish within {timeout:g} s", timed_out=True) from None
    except OSError as error:
        raise GitError(args, f"git could not be run ({error})") from None
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip()
        raise GitError(args, problem or f"exit code {done.returncode}")
    return done.stdout


def text(cwd: Path | str | None, *args: str, **options) -> str:
    """`run`, decoded as UTF-8 (bytes that are not UTF-8 kept as surrogates)."""
    return run(cwd, *args, **options).decode("utf-8", "surrogateescape")


def attempt(cwd: Path | str, *args: str, timeout: float = 30.0) -> str | None:
    """What `git ARGS` prints, or None when it fails (for questions: a tag exists? HEAD?)."""
    try:
        return text(cwd, *args, timeout=timeout)
    except GitError:
        return None


def is_top(root: Path | str) -> bool:
    """True when ROOT is the top of a git work tree (and git is installed)."""
    top = attempt(root, "rev-parse", "--show-toplevel")
    return top is not None and Path(top.strip()).resolve() == Path(root).resolve()


def head(root: Path | str) -> str | None:
    """The commit HEAD points to, or None (no commit yet, or not a repository)."""
    found = (attempt(root, "rev-parse", "-q", "--verify", "HEAD^{commit}") or "").strip()
    return found or None


def commit_of(repo: Path | str) -> str | None:
    """REPO's HEAD commit, when REPO is the top of a git work tree (not a folder inside one)."""
    found = attempt(repo, "rev-parse", "--show-toplevel", "HEAD", timeout=10)
    lines = (found or "").split("\n")
    if len(lines) < 2 or Path(lines[0]).resolve() != Path(repo).resolve():
        return None
    return lines[1].strip()


def identity_env(root: Path | str) -> dict[str, str]:
    """Author and committer for a commit in ROOT: git's own, or a stand-in if it has none."""
    if attempt(root, "var", "GIT_COMMITTER_IDENT") is not None:
        return {}
    name, email = FALLBACK_IDENTITY["name"], FALLBACK_IDENTITY["email"]
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
