"""A learner's server that misbehaves gives a clear failure, in bounded time.

Each case is a small fake `sketch` package run through the real runner against stage 01's
tests, both ways a learner's process starts: forked from the fork server, as `invoke check`
starts it, and cold, as a grade does (workshop/forkserver.py).
"""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import WAYS
from workshop import forkserver, manifest
from workshop.server import ServerFailed, ServerProcess

SERVING = """
import asyncio, sys

class Protocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        {data_received}

async def main():
    server = await asyncio.get_running_loop().create_server(Protocol, "127.0.0.1", 0)
    {before_serving}
    print(f"Serving on http://127.0.0.1:{{server.sockets[0].getsockname()[1]}}", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def fake_sketch(tmp_path: Path, main: str) -> Path:
    package = tmp_path / "sketch"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(textwrap.dedent(main))
    return tmp_path


def serving(data_received: str = "self.transport.write(data)", before: str = "pass") -> str:
    return SERVING.format(data_received=data_received, before_serving=before)


def test_a_server_that_exits_at_import_fails_at_once_with_its_error(tmp_path, check_stage_01):
    run = check_stage_01(fake_sketch(tmp_path, "import no_such_module\n"))
    failure = run.first_failure
    assert failure is not None and failure.status == "error"
    assert "exited with code 1 before it printed `Serving on" in failure.message
    assert "ModuleNotFoundError: No module named 'no_such_module'" in failure.message
    assert run.duration < 10


def test_a_server_that_hangs_before_serving_fails_after_the_start_timeout(tmp_path, check_stage_01):
    run = check_stage_01(fake_sketch(tmp_path, serving(before="await asyncio.sleep(3600)")))
    failure = run.first_failure
    assert failure is not None
    assert "did not print `Serving on http://HOST:PORT` within 5 s" in failure.message
    assert run.duration < 15


def test_a_server_that_raises_in_data_received_fails_with_the_traceback_shown(
    tmp_path, check_stage_01
):
    run = check_stage_01(fake_sketch(tmp_path, serving("raise RuntimeError('boom')")))
    failure = run.first_failure
    assert failure is not None and failure.status == "fail"
    assert "RuntimeError: boom" in failure.output, "the server's traceback is attached"
    assert "data_received" in failure.output
    assert run.duration < 10


def test_a_server_that_prints_10_mb_is_stopped_and_named_as_flooding(tmp_path, check_stage_01):
    flood = "sys.stdout.write('x' * 10_000_000); sys.stdout.flush()"
    run = check_stage_01(fake_sketch(tmp_path, serving(before=flood)))
    failure = run.first_failure
    assert failure is not None
    assert "more than 1024 KiB of output" in failure.message
    assert len(failure.message) < 5000, "the message shows a tail of the output, not all of it"
    assert run.duration < 10


def test_server_process_kills_its_whole_process_group(tmp_path, confinement):
    pid_file = tmp_path / "child.pid"
    spawn = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
    )
    server = ServerProcess(fake_sketch(tmp_path, spawn + serving()), confinement=confinement)
    server.start()
    assert isinstance(server.proc, forkserver.ForkedProcess) == (confinement.forks is not None)
    child_pid = int(pid_file.read_text())
    server.kill()
    assert not server.alive()
    deadline = time.monotonic() + 3
    while Path(f"/proc/{child_pid}").exists() and time.monotonic() < deadline:
        stat = Path(f"/proc/{child_pid}/stat").read_text().split()
        if stat[2] == "Z":  # killed, waiting for its parent (init) to reap it
            break
        time.sleep(0.05)
    else:
        assert not Path(f"/proc/{child_pid}").exists(), "the server's child survived the kill"


def test_server_process_start_failure_is_an_exception_with_the_output(tmp_path, confinement):
    sketch_dir = fake_sketch(tmp_path, "print('hello'); raise SystemExit(3)\n")
    with pytest.raises(ServerFailed, match="exited with code 3") as error:
        ServerProcess(sketch_dir, confinement=confinement).start(timeout=3)
    assert "hello" in str(error.value)


@pytest.mark.parametrize("way", WAYS)
def test_a_server_whose_judge_is_killed_outright_exits_on_its_own(tmp_path, way):
    # A judge killed by SIGKILL (or a closed pipe) cannot stop its servers: each one's
    # watchdog (workshop/watchdog.py) sees it has lost its parent, and ends it; a fork
    # server sees the judge's end of its socket close, and kills its children.
    if way == "forked" and not forkserver.supported():
        pytest.skip("no fork server on this platform")
    sketch_dir = fake_sketch(tmp_path, serving())
    judge = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from workshop.sandbox import Confinement
            from workshop.server import ServerProcess
            confinement = Confinement(False, fork={way == "forked"})
            server = ServerProcess({str(sketch_dir)!r}, confinement=confinement).start()
            assert (type(server.proc).__name__ == "ForkedProcess") == {way == "forked"}
            print(server.proc.pid, flush=True)
            time.sleep(60)
        """)],
        cwd=manifest.ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert judge.stdout is not None
        line = judge.stdout.readline()
        assert line.strip().isdigit(), f"the stand-in judge started no server: {line!r}"
        server = psutil.Process(int(line))
    finally:
        judge.kill()
        judge.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if server.status() == psutil.STATUS_ZOMBIE:  # ended, waiting to be reaped
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    else:
        server.kill()
        pytest.fail("the server outlived the judge that started it by 5 s")
