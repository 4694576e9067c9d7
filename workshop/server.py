"""Run a learner's `python -m sketch` as a child process, bounded in time and output.

The server runs in its own process group; a kill stops it and everything it started
(workshop.processes). Its stdout and stderr are read by a thread into a capped buffer: a server that
prints megabytes cannot fill the pipe and stall, nor flood the terminal.

It starts as `python -I -c ...` with only the trusted dependencies, the stage's tests/
folder and the folder holding the learner's `sketch/` on sys.path, the learner's last
(workshop.sandbox.python_bootstrap), and inside the grading sandbox when there is one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from workshop import processes, sandbox, untrusted
from workshop.untrusted import plain

SERVING = re.compile(rb"Serving on http://(?P<host>[^:\s]+):(?P<port>\d+)")
START_TIMEOUT = 5.0  # seconds for `Serving on` to appear
KEEP = 64 * 1024  # bytes of output kept (the most recent)
FLOOD = 1024 * 1024  # bytes of output after which the server is stopped as flooding
# The watchdog (workshop/watchdog.py) comes from the trusted checkout, first on sys.path
# for that one import, then taken off again: the learner's server then runs as it would.
RUN_SKETCH = (
    "sys.path.insert(0, {root!r}); from workshop import watchdog; del sys.path[0]; "
    "watchdog.start(sys.path[-1]); "
    "import runpy; sys.argv[0] = 'sketch'; "
    "runpy.run_module('sketch', run_name='__main__', alter_sys=True)"
)
ROOT = Path(__file__).resolve().parent.parent  # the trusted checkout


class ServerFailed(Exception):
    """The server could not be started, or died; the message teaches what happened."""


# Set once any learner process of this judge printed a GitHub Actions workflow command
# (`::notice ...`): the text itself is made inert wherever it is shown, and the report says
# it happened, so the grade can flag the stage for the instructor (workshop.report).
COMMANDS_PRINTED = threading.Event()


class Output:
    """The tail of a process's output, filled by a reader thread."""

    def __init__(self) -> None:
        self.total = 0  # bytes read in all
        self._tail = bytearray()
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    def feed(self, chunk: bytes) -> None:
        with self._lock:
            if not COMMANDS_PRINTED.is_set():
                seen = bytes(self._tail[-200:]) + chunk  # a line may span two reads
                if untrusted.has_commands(seen.decode("utf-8", "replace")):
                    COMMANDS_PRINTED.set()
            self.total += len(chunk)
            self._tail += chunk
            if len(self._tail) > KEEP:
                del self._tail[: len(self._tail) - KEEP]
            self.changed.notify_all()

    def since(self, mark: int = 0) -> str:
        """What was printed after `mark` (a value of `total`), as far as it is still kept."""
        with self._lock:
            start = max(0, len(self._tail) - (self.total - mark))
            return self._tail[start:].decode("utf-8", "replace")

    def last_lines(self, count: int = 20, mark: int = 0, width: int = 200) -> str:
        """The last COUNT lines, each cut to WIDTH characters: a message, not a flood."""
        lines = self.since(mark).rstrip().splitlines()[-count:]
        return "\n".join(
            line if len(line) <= width else f"{line[:width]}... ({len(line)} characters)"
            for line in lines
        )


class ServerProcess:
    """One `python -m sketch --port 0 [APP]` process."""

    def __init__(
        self,
        sketch_dir: Path,
        app: str | None = None,
        args: Sequence[str] = (),
        *,
        extra_path: Sequence[Path] = (),
        env: dict[str, str] | None = None,
        confinement: sandbox.Confinement | None = None,
        rename=lambda text: text,
    ) -> None:
        self.sketch_dir = Path(sketch_dir)
        self.app = app
        self.shown = ["python", "-m", "sketch", "--host", "127.0.0.1", "--port", "0"]
        self.shown += [*args, *([app] if app else [])]
        self.output = Output()
        self.host = "127.0.0.1"
        self.port = 0
        self.flooded = False
        self.signals: list[int] = []  # the signals a test sent it, in order
        self.rename = rename
        self.confinement = confinement or sandbox.Confinement(False)
        run = RUN_SKETCH.format(root=str(ROOT))
        argv = sandbox.python_bootstrap([*extra_path, self.sketch_dir], run)
        self.command = argv + self.shown[3:]  # subclasses may run another program
        path = os.pathsep.join(str(p) for p in [self.sketch_dir, *extra_path])
        # For such other programs; `python -I` ignores them.
        self._env = {
            "PYTHONPATH": path,
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
            **(env or {}),
        }
        # The folders of files named in ENV (marker files) are the only ones it may write.
        self._writable = sorted(
            {Path(v).parent for v in (env or {}).values() if os.path.isabs(v)}, key=str
        )
        self._pid_fd: int | None = None
        self._signal_pid: int | None = None
        self.proc: sandbox.LearnerProcess | None = None

    # --- life --------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        """Start the process and wait until it prints `Serving on`, or fail with a reason."""
        info_r = info_w = None
        if self.confinement.sandboxed:
            info_r, info_w = os.pipe()
        try:
            self.proc = self.confinement.popen(
                self.command, self._env, self.sketch_dir, writable=self._writable, info_fd=info_w
            )
        finally:
            if info_w is not None:
                os.close(info_w)
        self._pid_fd = info_r
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        with self.output.changed:
            while True:
                found = SERVING.search(bytes(self.output._tail))
                if found:
                    self.host = found["host"].decode()
                    self.port = int(found["port"])
                    return self
                if self.flooded or self.proc.poll() is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.output.changed.wait(min(left, 0.05))
        why = self._why_not_serving(timeout)  # before the kill, which sets an exit code
        self.kill()
        raise ServerFailed(why)

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        read_output(self.proc.stdout.fileno(), self.output, self._flooding)
        with self.output.changed:
            self.output.changed.notify_all()

    def _flooding(self) -> None:
        self.flooded = True
        self.kill()

    def _why_not_serving(self, timeout: float) -> str:
        where = f"`{' '.join(self.shown)}`"
        if self.flooded:
            why = (
                f"printed more than {FLOOD // 1024} KiB of output, so it was stopped. "
                "Is something printed in a loop, or for every byte received?"
            )
        elif self.proc is not None and self.proc.returncode is not None:
            why = f"exited with code {self.exit_code} before it printed `Serving on ...`."
        else:
            why = (
                f"did not print `Serving on http://HOST:PORT` within {timeout:g} s. "
                "It must print that line (flushed) once it accepts connections: "
                "see sketch/server.py."
            )
        tail = self.tail(25) or "(no output)"
        return f"The server {where} {why}\nIts last output:\n{_indent(tail)}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and not self.flooded

    def send_signal(self, sig: int = signal.SIGINT) -> None:
        """Signal the server. In the sandbox, its PID 1 (tini) passes the signal on."""
        assert self.proc is not None
        self.signals.append(sig)
        if self._pid_fd is not None and self._signal_pid is None:
            self._signal_pid = sandbox.read_child_pid(self._pid_fd)
            os.close(self._pid_fd)
            self._pid_fd = None
        if self._signal_pid is None:
            self.proc.send_signal(sig)
            return
        try:
            os.kill(self._signal_pid, sig)
        except ProcessLookupError:
            pass

    @property
    def exit_code(self) -> int | None:
        """The server's exit code; a death by signal N is -N, sandboxed or not."""
        code = self.proc.returncode if self.proc else None
        if code is not None and self.confinement.sandboxed and code > 128:
            return -(code - 128)  # tini reports a child killed by signal N as 128 + N
        return code

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if the process is still running after `timeout` s."""
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code

    def tail(self, count: int = 20, mark: int = 0) -> str:
        """The last COUNT lines it printed, as plain text with the learner's file names."""
        return plain(self.rename(self.output.last_lines(count, mark)))

    def kill(self, wait: bool = True) -> None:
        """Kill the server and everything it started; safe to call twice. With WAIT, return
        once it has ended (2 s at most)."""
        if self._pid_fd is not None:
            os.close(self._pid_fd)
            self._pid_fd = None
        if self.proc is None or self.proc.poll() is not None:
            return
        processes.kill_tree(self.proc.pid)
        if wait:
            self.wait(2)

    # --- what tests use ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def how_it_ended(self) -> str | None:
        """One true line on how the server stopped, or None while it runs."""
        if self.flooded:
            return (
                f"The server printed more than {FLOOD // 1024} KiB of output, so it was "
                "stopped: is something printed in a loop, or for every byte received?"
            )
        if self.proc is None or self.proc.poll() is None:
            return None
        code = self.exit_code
        if not self.signals:
            return f"The server {_ended(code)} while it was serving: the test did not stop it."
        if code is not None and -code in self.signals:
            killer = _signal_name(-code)
            return f"The {killer} the test sent killed the server: nothing in it handled {killer}."
        return f"The server {_ended(code)} after the test sent it {_signal_name(self.signals[-1])}."

    def expected_exit(self) -> bool:
        """Whether it exited with code 0 after a test signalled it: the exit a test asks for."""
        return bool(self.signals) and not self.flooded and self.exit_code == 0

    def describe_death(self) -> str | None:
        """How the server ended and its last output, or None while it runs."""
        ended = self.how_it_ended()
        if ended is None:
            return None
        return f"{ended}\nIts last output:\n{_indent(self.tail(15) or '(none)')}"


def _ended(code: int | None) -> str:
    if code is not None and code < 0:
        return f"was killed by {_signal_name(-code)}"
    return f"exited with code {code}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def read_output(fd: int, output: Output, on_flood) -> None:
    """Feed what FD carries into OUTPUT until it ends; call ON_FLOOD once past FLOOD bytes."""
    flooded = False
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            return
        output.feed(chunk)
        if output.total > FLOOD and not flooded:
            flooded = True
            on_flood()


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
