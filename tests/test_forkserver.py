"""A learner's process forked by the fork server is the process a cold start would give.

workshop/forkserver.py forks `invoke check`'s learner processes from a warm Python. These
tests start the same `python -I -c ...` command both ways (workshop.sandbox.Confinement)
and compare what the program sees and how it ends.
"""

import ast
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from unittest import mock

import psutil
import pytest

from workshop import forkserver, sandbox

pytestmark = pytest.mark.skipif(not forkserver.supported(), reason="no fork server here")

# What a learner's process could look at: its arguments, folder, environment, session,
# open descriptors, stdin, sys.path, sys.flags, then an error it does not catch.
LOOK_AROUND = """\
import os, sys
print(sys.argv, os.getcwd(), os.environ.get("WORKSHOP_TEST"), sorted(os.environ) == {names!r})
print(os.getsid(0) == os.getpid(), os.getpgid(0) == os.getpid(), repr(sys.stdin.read()))
print(sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) != {passed}))
os.write({passed}, b"passed on")
print(sys.path == {path!r}, sys.flags.isolated, sys.flags.utf8_mode, sys.stdout.line_buffering)
print(signal_dispositions())
raise SystemExit(3)
"""


@pytest.fixture
def forked():
    confinement = sandbox.Confinement(False, fork=True)
    assert confinement.forks is not None
    yield confinement
    confinement.close()


def run(confinement, code: str, tmp_path: Path, pass_fds=()) -> tuple[str, int]:
    argv = sandbox.python_bootstrap([tmp_path], code) + ["one", "two"]
    process = confinement.popen(argv, {"WORKSHOP_TEST": "yes"}, tmp_path, pass_fds=pass_fds)
    assert process.stdout is not None
    output = process.stdout.read().decode()
    return output, process.wait(5)


def test_a_forked_process_sees_what_a_cold_one_sees(forked, tmp_path):
    cold = sandbox.Confinement(False)
    names = sorted({**cold.wrap([], {})[1], "WORKSHOP_TEST": "yes"})
    seen = {}
    for way, confinement in (("cold", cold), ("forked", forked)):
        read, write = os.pipe()
        prelude = (
            "import signal\n"
            "def signal_dispositions():\n"
            "    return [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM,"
            " signal.SIGPIPE, signal.SIGCHLD)]\n"
        )
        path = subprocess.run(
            sandbox.python_bootstrap([tmp_path], "print(sys.path)"),
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        code = prelude + LOOK_AROUND.format(names=names, passed=write, path=ast.literal_eval(path))
        output, code_ = run(confinement, code, tmp_path, pass_fds=(write,))
        os.close(write)
        assert os.read(read, 100) == b"passed on", f"{way}: the passed descriptor"
        os.close(read)
        seen[way] = (output, code_)
    assert seen["forked"] == seen["cold"]
    output, exit_code = seen["forked"]
    assert exit_code == 3
    assert "['-c', 'one', 'two']" in output and str(tmp_path) in output
    assert "True True ''" in output and "[0, 1, 2, 3]" in output  # 3: the listing's own


def test_an_uncaught_error_prints_its_traceback_and_exits_1(forked, tmp_path):
    output, code = run(forked, "1/0", tmp_path)
    assert code == 1
    assert output.startswith("Traceback (most recent call last):")
    assert output.rstrip().endswith("ZeroDivisionError: division by zero")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signal_ends_it_as_it_ends_a_cold_one(forked, tmp_path, sig):
    codes = {}
    for way, confinement in (("cold", sandbox.Confinement(False)), ("forked", forked)):
        code = "import time; print('ready', flush=True); time.sleep(30)"
        argv = sandbox.python_bootstrap([tmp_path], code)
        process = confinement.popen(argv, {}, tmp_path)
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        assert process.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(0.05)
        process.send_signal(sig)
        codes[way] = process.wait(5)
    assert codes["forked"] == codes["cold"]
    assert codes["forked"] in (-sig, 1 if sig == signal.SIGINT else -sig)


def test_closing_the_fork_server_ends_its_children(tmp_path):
    confinement = sandbox.Confinement(False, fork=True)
    argv = sandbox.python_bootstrap([tmp_path], "print('ready', flush=True); input()")
    process = confinement.popen(argv, {}, tmp_path)
    assert isinstance(process, forkserver.ForkedProcess)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    child = psutil.Process(process.pid)
    confinement.close()
    assert process.wait(5) == -signal.SIGKILL
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_a_fork_server_that_dies_leaves_no_child_and_the_next_start_is_cold(tmp_path):
    confinement = sandbox.Confinement(False, fork=True)
    assert confinement.forks is not None
    argv = sandbox.python_bootstrap([tmp_path], "print('ready', flush=True); input()")
    process = confinement.popen(argv, {}, tmp_path)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    os.kill(confinement.forks.pid, signal.SIGKILL)  # as a learner's process could
    assert process.wait(5) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while psutil.pid_exists(process.pid) and time.monotonic() < deadline:
        if psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.02)
    later = confinement.popen(sandbox.python_bootstrap([tmp_path], "pass"), {}, tmp_path)
    assert isinstance(later, subprocess.Popen), "started cold once the fork server is gone"
    assert later.wait(5) == 0
    confinement.close()


def test_the_fork_server_imports_no_learner_code(forked, tmp_path):
    # Each process that imports this `sketch` writes down its pid: only the forked child may.
    (tmp_path / "sketch").mkdir()
    record = tmp_path / "pids"
    (tmp_path / "sketch" / "__init__.py").write_text(
        f"import os\nopen({str(record)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
    )
    argv = sandbox.python_bootstrap([tmp_path], "import sketch, os; print(os.getpid())")
    process = forked.popen(argv, {}, tmp_path)
    assert process.stdout is not None
    child = int(process.stdout.read())
    assert process.wait(5) == 0
    assert forked.forks is not None
    assert record.read_text().split() == [str(child)]
    assert child != forked.forks.pid


def test_a_fork_server_closed_right_after_a_fork_leaves_no_child(tmp_path):
    # A child just forked may not lead its process group yet: it is killed by its pid too.
    left = []
    for _ in range(30):
        confinement = sandbox.Confinement(False, fork=True)
        argv = sandbox.python_bootstrap([tmp_path], "import time; time.sleep(30)")
        process = confinement.popen(argv, {}, tmp_path)
        assert isinstance(process, forkserver.ForkedProcess)
        confinement.close()  # the judge goes away at once
        assert process.wait(5) == -signal.SIGKILL
        try:
            if psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE:
                left.append(process.pid)
        except psutil.NoSuchProcess:
            pass
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "children outlived their fork server"


def test_an_answer_that_comes_too_late_goes_to_no_other_request():
    # A stand-in fork server answers the first request only after the second was sent. The
    # first start has given up by then (and is started cold by its caller): its late child
    # is killed, and the second request gets its own child, not that one.
    late, own = (subprocess.Popen(["sleep", "30"]) for _ in range(2))
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server = forkserver.ForkServer(ours)
    theirs.send(json.dumps({"ready": os.getpid()}).encode())

    def stand_in() -> None:
        requests = []
        for _ in range(2):
            message, fds, _, _ = socket.recv_fds(theirs, 1 << 20, 8)
            for fd in fds:
                os.close(fd)
            requests.append(json.loads(message)["id"])
        theirs.send(json.dumps({"id": requests[0], "pid": late.pid}).encode())
        theirs.send(json.dumps({"id": requests[1], "pid": own.pid}).encode())

    threading.Thread(target=stand_in, daemon=True).start()
    try:
        with mock.patch.object(forkserver, "START_TIMEOUT", 0.2):
            first = server.spawn(["python", "-c", "first"], {}, "/")
            second = server.spawn(["python", "-c", "second"], {}, "/")
        assert first is None
        assert second is not None and second.pid == own.pid
        assert late.wait(5) == -signal.SIGKILL, "the late child is killed"
    finally:
        for process in (late, own):
            process.kill()
            process.wait()
        server.close()
        theirs.close()
