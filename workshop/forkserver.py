"""Start a learner's processes from a warm Python: fork them instead of starting them cold.

A learner's server started as `python -I -c ...` spends about 85 ms (on a 2-core machine)
before it prints `Serving on`, and most of that is the same every time: Python starting,
then importing asyncio, httptools, yarl and multidict. Stage 10 starts seven servers per
check; on two cores that alone is a third of a second. The fork server does that work once
per check. It is a process of trusted code only, started (by `invoke check` just before the
judge, or else by the judge) with exactly the interpreter flags and sys.path a cold start
gets (workshop.sandbox.python_bootstrap), in the environment the judge gives one. Asked
for a learner's process, it forks; the child takes the output pipe and the descriptors it
was sent, a session of its own, the working folder, environment and `sys.argv` a cold start
would have, and runs the very `-c` code the cold start would have run. About 25 ms.

What a learner's code can tell apart: its parent is the fork server, not the judge; its
`sys.orig_argv` is the fork server's; `sys.modules` already holds what the fork server
imported (PRELOAD, and this module), and `__main__` the names `forkserver` and `watchdog`;
every forked child has the same hash seed; and the traceback of an error it does not catch
has one more `File "<string>"` line, the fork server's own. Nothing a test or a lesson
relies on (tests/test_forkserver.py compares the two ways).

The fork server decides nothing and never runs learner code: it forks, and only the child
goes on to the learner's code. Its answers (a child's pid, how it exited) are plain JSON,
read and checked, never evaluated. Used only where it can stand in for a cold start
exactly: on Linux (it waits for its children on pidfds), outside the grading sandbox (each
sandboxed process gets a bubblewrap of its own), and never when grading
(workshop.runner: `invoke check`, `watch` and `verify` ask for it; a grade does not).
When it cannot start a process, the caller starts it cold.
"""

from __future__ import annotations

import fcntl
import functools
import itertools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, NoReturn

# Imported once here, so that no forked child imports them again. A cold start would
# import the same modules from the same place: the learner's package cannot shadow them
# (the judge copies sketch/ alone into a folder of its own, workshop.harness).
PRELOAD = ("asyncio", "httptools", "yarl", "multidict")
MESSAGE_BYTES = 1024 * 1024  # the largest request or answer on the control socket
START_TIMEOUT = 5.0  # seconds to wait for the fork server to say it forked
ROOT = Path(__file__).resolve().parent.parent  # the trusted checkout


@functools.cache
def supported() -> bool:
    """Whether this platform has what the fork server needs (pidfds: Linux 5.3 and later)."""
    if sys.platform != "linux" or not hasattr(os, "pidfd_open"):
        return False
    try:  # Python may offer the call on a kernel that lacks it
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


# --- the fork server's side: trusted code only, in a process of its own -----------------


def serve(control_fd: int) -> str:
    """Fork a child for each request on CONTROL_FD, report each child's pid and exit code.

    Returns only in a forked child, once it looks as a cold start would: the code it is to
    run (the caller passes it to `exec`). Exits when the judge closes its end.
    """
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass  # a stage that does not use it (or a machine without it): imported cold
    control = socket.socket(fileno=control_fd)
    children: dict[int, int] = {}  # pidfd -> pid
    try:
        _answer(control, {"ready": os.getpid()})
        return _fork_when_asked(control, children)
    except OSError:  # the judge went away while we answered it
        _end(children)


def _fork_when_asked(control: socket.socket, children: dict[int, int]) -> str:
    """The fork server's loop (see `serve`); returns only in a forked child."""
    while True:
        ready, _, _ = select.select([control.fileno(), *children], [], [])
        for pidfd in [fd for fd in ready if fd in children]:
            pid = children.pop(pidfd)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            _answer(control, {"pid": pid, "exited": os.waitstatus_to_exitcode(status)})
        if control.fileno() not in ready:
            continue
        message, fds, _, _ = socket.recv_fds(control, MESSAGE_BYTES, 64)
        if not message:  # the judge is gone
            _end(children)
        request = json.loads(message)
        try:
            pid = os.fork()
        except OSError as error:
            _close(fds)
            _answer(control, {"id": request["id"], "error": str(error)})
            continue
        if pid == 0:
            control.close()
            _close(list(children))
            return _become(request, fds)
        _close(fds)
        try:
            children[os.pidfd_open(pid)] = pid
        except OSError as error:  # (out of descriptors): a child we could not watch, undone
            _kill(pid)
            os.waitpid(pid, 0)
            _answer(control, {"id": request["id"], "error": str(error)})
            continue
        _answer(control, {"id": request["id"], "pid": pid})


def _become(request: dict, fds: list[int]) -> str:
    """In the forked child: take the state a cold start of the request would have."""
    try:
        os.setsid()
        targets: list[int] = request["fds"]
        # Out of the way of every number the child must end up with, then into place.
        floor = max([2, *targets]) + 1
        output, *passed = [fcntl.fcntl(fd, fcntl.F_DUPFD, floor) for fd in fds]
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        for target, fd in zip(targets, passed, strict=True):
            os.dup2(fd, target)
        keep = {0, 1, 2, *targets}
        _close([int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) not in keep])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv[:] = ["-c", *request["args"]]
        return request["code"]
    except BaseException as error:  # never back into the fork server's loop
        os.write(2, f"workshop fork server: the child could not start: {error!r}\n".encode())
        os._exit(127)


def _end(children: dict[int, int]) -> NoReturn:
    """The judge is gone: so are its learner processes, and this fork server."""
    for pid in children.values():
        _kill(pid)
    os._exit(0)


def _answer(control: socket.socket, message: dict) -> None:
    control.send(json.dumps(message).encode())


def _close(fds: Sequence[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _ended(pid: int) -> bool:
    """Whether PID has ended (gone, or a zombie left for whoever reaps it: Linux's /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def _kill(pid: int) -> None:
    """Kill a forked child, and the process group it leads (once it has made it: a child
    just forked may not have called setsid yet, so it is killed by its pid first)."""
    for kill, target in ((os.kill, pid), (os.killpg, pid)):
        try:
            kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# The fork server's program, after workshop.sandbox.python_bootstrap's sys.path line. The
# trusted checkout is first on sys.path for this one import only, as for a server's
# watchdog (workshop.server); `exec` then runs, in a forked child, the code it returned.
CALL = (
    "sys.path.insert(0, {root!r}); from workshop import forkserver, watchdog; "
    "del sys.path[0]; exec(forkserver.serve({fd}))"
)


# --- the judge's side ----------------------------------------------------------------------


class ForkedProcess:
    """A learner's process forked by the fork server, with the part of Popen's API we use."""

    stdout: IO[bytes] | None  # as Popen's

    def __init__(self, args: list[str], stdout: IO[bytes]) -> None:
        self.args = args
        self.stdout = stdout
        self.pid = 0
        self.returncode: int | None = None
        self._ended = threading.Condition()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self._ended:
            if not self._ended.wait_for(lambda: self.returncode is not None, timeout):
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:  # a pid that exited may belong to another process now
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def _exited(self, code: int) -> None:
        with self._ended:
            self.returncode = code
            self._ended.notify_all()


def launch(
    start: Callable[[str, Sequence[int]], subprocess.Popen[bytes]],
) -> tuple[subprocess.Popen[bytes], socket.socket] | None:
    """Start a fork server: its process, and the judge's end of its control socket.

    START(call, pass_fds) starts `python FLAGS -c CALL` as a learner process is started
    (workshop.sandbox.Confinement), passing it the descriptors PASS_FDS. `invoke check`
    launches it before the judge, so that it warms up while pytest does (workshop.runner),
    and hands the judge the socket; a judge given none launches its own. None where there
    cannot be a fork server.
    """
    if not supported():
        return None
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        process = start(CALL.format(root=str(ROOT), fd=theirs.fileno()), (theirs.fileno(),))
    except OSError:
        ours.close()
        return None
    finally:
        theirs.close()
    return process, ours


class ForkServer:
    """The judge's handle on its fork server: `spawn` starts a learner process through it.

    PROCESS is the fork server's, when this judge started it (it then waits for its end);
    else the process that started it does (workshop.runner).
    """

    def __init__(
        self, control: socket.socket, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.process = process
        self._control = control
        self._lock = threading.Lock()
        self._answered = threading.Condition()
        self._ready = threading.Event()
        self._pid = 0  # the fork server's, once it says it is ready
        self._ids = itertools.count(1)
        self._waiting: dict[int, ForkedProcess] = {}  # request id -> process not yet forked
        self._running: dict[int, ForkedProcess] = {}  # pid -> process
        self._gone = False
        threading.Thread(target=self._read, name="fork server", daemon=True).start()
        if process is not None and process.stdout is not None:
            threading.Thread(target=self._drain, name="fork server output", daemon=True).start()

    @classmethod
    def start(
        cls, start: Callable[[str, Sequence[int]], subprocess.Popen[bytes]]
    ) -> ForkServer | None:
        """A fork server of this judge's own (see `launch`), or None."""
        launched = launch(start)
        return None if launched is None else cls(launched[1], launched[0])

    @property
    def pid(self) -> int:
        """The fork server's pid (0 if it has not said it is ready within START_TIMEOUT)."""
        self._ready.wait(START_TIMEOUT)
        return self._pid

    def spawn(
        self, argv: list[str], env: dict[str, str], cwd: str, pass_fds: Sequence[int] = ()
    ) -> ForkedProcess | None:
        """Start ARGV, a `python -I -u -X utf8 -c CODE ARGS...` command (the flags the fork
        server itself runs with: workshop.sandbox.python_bootstrap), forked; None if the
        fork server cannot (the caller then starts it cold)."""
        *flags, code = argv[: argv.index("-c") + 2]
        read, write = os.pipe()
        output = os.fdopen(read, "rb")
        process = ForkedProcess(argv, output)
        number = next(self._ids)
        request = {
            "id": number,
            "code": code,
            "args": argv[len(flags) + 1 :],
            "env": env,
            "cwd": str(cwd),
            "fds": list(pass_fds),
        }
        with self._answered:
            self._waiting[number] = process
        try:
            with self._lock:  # one request on the socket at a time
                socket.send_fds(self._control, [json.dumps(request).encode()], [write, *pass_fds])
            with self._answered:
                self._answered.wait_for(lambda: process.pid != 0 or self._gone, START_TIMEOUT)
        except OSError:
            pass
        finally:
            os.close(write)
            with self._answered:
                self._waiting.pop(number, None)  # an answer after this is too late
        if process.pid <= 0:
            output.close()
            return None
        return process

    def _read(self) -> None:
        while True:
            try:
                message = self._control.recv(MESSAGE_BYTES)
                answer = json.loads(message) if message else None
            except (OSError, ValueError):
                answer = None
            if not isinstance(answer, dict):
                break
            if isinstance(answer.get("ready"), int):
                self._pid = answer["ready"]
                self._ready.set()
                continue
            pid, code = answer.get("pid"), answer.get("exited")
            if isinstance(pid, int) and isinstance(code, int):
                process = self._running.pop(pid, None)
                if process is not None:
                    process._exited(code)
                continue
            number = answer.get("id")
            forked = pid if isinstance(pid, int) and pid > 0 else None
            with self._answered:  # registered before an answer that it exited can be read
                process = self._waiting.get(number) if isinstance(number, int) else None
                if process is None:
                    if forked:  # too late: the caller has started it cold instead
                        _kill(forked)
                else:
                    process.pid = forked or -1
                    if forked:
                        self._running[forked] = process
                self._answered.notify_all()
        self._lost()

    def _lost(self) -> None:
        """The fork server is gone: its children are killed, and count as killed."""
        with self._answered:
            self._gone = True
            self._answered.notify_all()
        self._ready.set()
        running, self._running = self._running, {}
        for pid in running:
            _kill(pid)
        deadline = time.monotonic() + START_TIMEOUT
        for pid, process in running.items():
            while not _ended(pid) and time.monotonic() < deadline:
                time.sleep(0.005)
            process._exited(-signal.SIGKILL)

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while self.process.stdout.read(65536):  # it prints nothing; a pipe must not fill
            pass

    def close(self) -> None:
        """Stop the fork server and any process of its still running."""
        try:
            self._control.shutdown(socket.SHUT_RDWR)  # it kills its children and exits
        except OSError:
            pass
        if self.process is not None:
            try:
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()
