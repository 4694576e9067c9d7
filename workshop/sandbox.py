"""How a learner's process is started: plain, or inside a bubblewrap sandbox when grading.

Two layers, both from Debian's `bubblewrap` (`bwrap`) package:

- the judge (the pytest process of one stage) runs in an outer sandbox with a network
  namespace of its own, which has nothing but loopback; the whole file system is
  read-only to it except its report folder, which is also its TMPDIR;
- every learner process the judge starts (servers, the object child) runs in an inner
  sandbox that shares that loopback, with its own PID namespace (the judge's processes
  and their /proc are out of sight), a private /tmp, read-only binds of only what Python
  needs, the trusted tree and the copy of the learner's `sketch/`, no environment but a
  few set variables, and limits on memory, CPU time, file size and open files (prlimit:
  bubblewrap sets none). `tini` is its PID 1 and passes SIGINT and SIGTERM on, which
  stages 07 and 10 send; the judge signals tini's pid, read from bwrap's `--info-fd`.
  Killing the process group (bwrap and tini) ends the PID namespace and all in it. (No
  `--die-with-parent` there: it ties the sandbox to the *thread* that started it, and
  tests running side by side start shared servers from threads that end before them.)

Without a sandbox (a learner's own `invoke check`, or a machine where user namespaces are
not allowed) the same commands run plainly, and the grade says "not sandboxed".
"""

from __future__ import annotations

import functools
import json
import os
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

from workshop import forkserver

# Limits for each learner process in the sandbox.
MEMORY = 2 * 1024**3  # bytes of address space
CPU_SECONDS = 120
FILE_SIZE = 64 * 1024**2  # bytes, the largest file it may write
OPEN_FILES = 1024
PATH = "/usr/local/bin:/usr/bin:/bin"
ETC_FILES = ("/etc/hosts", "/etc/localtime", "/etc/nsswitch.conf")
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")


def tools() -> tuple[str, str, str] | None:
    """The paths of bwrap, tini and prlimit, or None if one is missing."""
    found = (shutil.which("bwrap"), shutil.which("tini") or shutil.which("tini-static"),
             shutil.which("prlimit"))  # fmt: skip
    return found if all(found) else None  # type: ignore[return-value]


def python_dirs() -> list[str]:
    """What the Python running us needs to start: its prefixes and its sys.path folders."""
    dirs = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent)}
    dirs |= {p for p in sys.path if p and Path(p).is_absolute() and Path(p).exists()}
    return sorted(dirs)


# How every learner process (and the fork server) starts Python: see python_bootstrap.
PYTHON = [sys.executable, "-I", "-u", "-X", "utf8", "-c"]


def python_bootstrap(path: Sequence[Path], call: str) -> list[str]:
    """`python -I -c ...` that puts PATH after the trusted folders on sys.path, then runs CALL.

    -I ignores PYTHON* variables, the user's site-packages and the current folder, so no
    learner's sitecustomize.py, usercustomize.py or shadowing module loads before us.
    """
    code = (
        f"import sys; sys.path[:] = [p for p in sys.path if p] + {[str(p) for p in path]!r}; {call}"
    )
    return [*PYTHON, code]


class LearnerProcess(Protocol):
    """What we use of a learner's process: a subprocess.Popen, or a forked one."""

    pid: int
    returncode: int | None
    stdout: IO[bytes] | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...


class Confinement:
    """Starts learner processes, sandboxed or not, always with the same view of Python.

    With FORK (and no sandbox) they are forked from a warm Python where the platform allows
    (workshop/forkserver.py): the same processes, started in a fraction of the time. The fork
    server is this process's own, or the one at the end of the socket FORK_FD (launched by
    workshop.runner with `launch_fork_server` before this judge started).
    """

    def __init__(
        self,
        sandboxed: bool,
        readable: Sequence[Path] = (),
        fork: bool = False,
        fork_fd: int | None = None,
    ) -> None:
        self.sandboxed = sandboxed
        self.readable = [str(Path(p)) for p in readable]
        self.forks: forkserver.ForkServer | None = None
        if fork and not sandboxed and forkserver.supported():
            if fork_fd is not None:
                self.forks = forkserver.ForkServer(socket.socket(fileno=fork_fd))
            else:
                self.forks = forkserver.ForkServer.start(self._start_fork_server)

    def wrap(
        self,
        argv: list[str],
        env: dict[str, str],
        *,
        writable: Sequence[Path] = (),
        info_fd: int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """The command and environment that run ARGV as a learner process of a process whose
        environment is ENVIRON (this one's by default)."""
        if not self.sandboxed:
            environ = os.environ if environ is None else environ
            base = {k: v for k, v in environ.items() if not k.startswith(("PYTEST", "COV_"))}
            return argv, {**base, **env}
        found = tools()
        assert found is not None, "sandboxed without bwrap, tini and prlimit"
        bwrap, tini, prlimit = found
        command = [
            prlimit, f"--as={MEMORY}", f"--cpu={CPU_SECONDS}", f"--fsize={FILE_SIZE}",
            f"--nofile={OPEN_FILES}", "--",
            bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--as-pid-1", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        ]  # fmt: skip
        for folder in SYSTEM_DIRS + ETC_FILES:
            command += ["--ro-bind-try", folder, folder]
        for folder in [*python_dirs(), *self.readable]:
            command += ["--ro-bind", folder, folder]
        for folder in writable:
            command += ["--bind", str(folder), str(folder)]
        variables = {"PATH": PATH, "HOME": "/tmp", "LANG": "C.UTF-8", **env}
        for name, value in variables.items():
            command += ["--setenv", name, value]
        if info_fd is not None:
            command += ["--info-fd", str(info_fd)]
        command += ["--chdir", "/tmp", "--", tini, "-s", "-g", "--", *argv]
        return command, {"PATH": os.environ.get("PATH", PATH)}

    def popen(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        *,
        writable: Sequence[Path] = (),
        pass_fds: Sequence[int] = (),
        info_fd: int | None = None,
    ) -> LearnerProcess:
        """Start ARGV as a learner process: its own session and process group (killed as
        one), no stdin, stdout and stderr together on a pipe."""
        command, environment = self.wrap(argv, env, writable=writable, info_fd=info_fd)
        fds = [*pass_fds, *([] if info_fd is None else [info_fd])]
        # Forked only when it is the bootstrap: the fork server runs with those very flags.
        if self.forks is not None and command[: len(PYTHON)] == PYTHON:
            forked = self.forks.spawn(command, environment, str(cwd), fds)
            if forked is not None:
                return forked
        return self._start(command, environment, cwd, pass_fds=fds)

    def launch_fork_server(
        self, environ: Mapping[str, str]
    ) -> tuple[subprocess.Popen[bytes], socket.socket] | None:
        """A fork server for the learner processes of a judge whose environment is ENVIRON,
        and the socket to hand that judge (`fork_fd`); None where there cannot be one."""
        return forkserver.launch(
            lambda call, fds: self._start_fork_server(call, fds, environ=environ)
        )

    def _start_fork_server(
        self, call: str, pass_fds: Sequence[int], environ: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        # As a learner process would start, so that what its children inherit is the same.
        command, environment = self.wrap(python_bootstrap([], call), {}, environ=environ)
        return self._start(command, environment, Path("/"), pass_fds=pass_fds)

    def close(self) -> None:
        """Stop the fork server, if there is one."""
        if self.forks is not None:
            self.forks.close()

    @staticmethod
    def _start(
        command: list[str], environment: dict[str, str], cwd: Path, *, pass_fds: Sequence[int]
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            start_new_session=True,
        )


def read_child_pid(fd: int, timeout: float = 2.0) -> int | None:
    """The pid of the sandbox's PID 1 (tini), as bwrap reports it on its --info-fd."""
    data = b""
    while b"}" not in data:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    try:
        return int(json.loads(data.decode())["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None


# --- the judge's sandbox ----------------------------------------------------------------


def judge_command(argv: list[str], writable: Sequence[Path]) -> list[str]:
    """ARGV (the judge) in the outer sandbox: loopback only, a read-only file system but for
    WRITABLE (its report folder, which is also its TMPDIR)."""
    found = tools()
    assert found is not None
    command = [
        found[0], "--unshare-user", "--unshare-net", "--unshare-ipc", "--die-with-parent",
        "--ro-bind", "/", "/", "--dev", "/dev", "--bind", "/proc", "/proc",
    ]  # fmt: skip
    for folder in writable:
        command += ["--bind", str(folder), str(folder)]
    return [*command, "--", *argv]


@functools.cache
def unavailable() -> str | None:
    """Why no sandbox can be made here, or None when it can (tried once per process)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux, this is {sys.platform}"
    if tools() is None:
        return "bwrap, tini or prlimit is not installed (apt-get install bubblewrap tini)"
    inner, _ = Confinement(True).wrap([sys.executable, "-I", "-c", "pass"], {})
    command = judge_command(inner, ())
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not run: {error}"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return f"bwrap could not make a sandbox here: {why}"
    return None
