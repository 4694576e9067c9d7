"""Every message `invoke check` prints tells the truth, first line first.

Each case is a learner's sketch with one thing wrong (the reference with a change, or a small
fake server), run through the real runner as `invoke check` runs it. The first line of the
failure must say what happened: the server flooded its output, its event loop was blocked,
the learner's code reached a TODO, the server exited when nobody asked it to. And where it
points the learner (`look at:`, `Open ...`) is one place, the learner's own code.
"""

from __future__ import annotations

import importlib.util
import shutil
import signal
from pathlib import Path

import pytest

from tests.test_harness import fake_sketch, serving
from workshop import manifest, runner
from workshop.remote import ChildFailed, ObjectChild, learner_error
from workshop.server import ServerProcess
from workshop.tasks import core
from workshop.testing import TeachingFailure

ROOT = manifest.ROOT


def changed_reference(tmp_path: Path, stage_id: str, file: str, old: str, new: str) -> Path:
    """A copy of STAGE's reference with OLD replaced by NEW in FILE: a learner's mistake."""
    stage = manifest.find(stage_id)
    shutil.copytree(stage.solution_dir() / "sketch", tmp_path / "sketch")
    path = tmp_path / "sketch" / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {stage_id}'s {file}: update this test"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


def check(stage_id: str, sketch_dir: Path, keep_going: bool = False) -> runner.StageRun:
    """STAGE_ID's tests on SKETCH_DIR, run as `invoke check` runs them."""
    stage = manifest.find(stage_id)
    return runner.run_stage(
        stage, sketch_dir=sketch_dir, first_failure=not keep_going, fork_server=True
    )


def shown(run: runner.StageRun, capsys, monkeypatch) -> str:
    """What `invoke check` prints for RUN."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    core.report_failure(run.stage, run)
    return capsys.readouterr().out


def first_line(run: runner.StageRun) -> str:
    failure = run.first_failure
    assert failure is not None, f"the stage passed: {run.summary()}"
    return failure.message.splitlines()[0]


def test_a_server_that_floods_while_serving_says_so_first(
    tmp_path, capsys, monkeypatch, check_stage_01
):
    flood = "[print('got', i) for i in range(200_000)]; self.transport.write(data)"
    run = check_stage_01(fake_sketch(tmp_path, serving(flood)))
    assert first_line(run).startswith("The server printed more than 1024 KiB of output, so it")
    printed = shown(run, capsys, monkeypatch)
    assert "closed the connection" in printed, "what the test saw comes after"
    assert printed.count("printed more than 1024 KiB") == 1, "said once, not again in the tail"


def test_a_data_received_that_never_returns_is_named_as_blocking_the_loop(
    tmp_path, capsys, monkeypatch, check_stage_01
):
    run = check_stage_01(fake_sketch(tmp_path, serving("import time; time.sleep(3600)")))
    assert first_line(run).startswith("The event loop was blocked: sketch/__main__.py: ")
    assert "Protocol.data_received did not return for 1 s" in first_line(run)
    assert "time.sleep(3600)" in first_line(run), "the line it is stuck on"
    where = run.where_to_look()
    assert where is not None and where.function == "Protocol.data_received"
    printed = shown(run, capsys, monkeypatch)
    assert printed.count("look at:") == 1, f"one pointer, not two:\n{printed}"


def test_a_server_that_exits_unasked_says_so_first(tmp_path, check_stage_01):
    run = check_stage_01(fake_sketch(tmp_path, serving("import os; os._exit(3)")))
    assert first_line(run) == (
        "The server exited with code 3 while it was serving: the test did not stop it."
    )


def test_an_exit_the_test_asked_for_is_not_called_a_death(tmp_path):
    """07's hook order, 10's cancel order: the test sends SIGINT and expects the exit."""
    handled = serving(
        before="asyncio.get_running_loop().add_signal_handler(2, server.close)",
    ).replace("await server.serve_forever()", "await server.wait_closed()")
    server = ServerProcess(fake_sketch(tmp_path, handled)).start()
    try:
        server.send_signal(signal.SIGINT)
        assert server.wait(5) == 0
        assert server.expected_exit()
        said = server.describe_death() or ""
        assert said.startswith("The server exited with code 0 after the test sent it SIGINT.")
        assert "while it was serving" not in said
    finally:
        server.kill()


def test_a_server_killed_by_the_signal_the_test_sent_says_nothing_handled_it(tmp_path):
    server = ServerProcess(fake_sketch(tmp_path, serving())).start()
    try:
        server.send_signal(signal.SIGTERM)
        assert server.wait(5) is not None
        assert not server.expected_exit()
        assert server.how_it_ended() == (
            "The SIGTERM the test sent killed the server: nothing in it handled SIGTERM."
        )
    finally:
        server.kill()


def test_hooks_in_the_wrong_order_after_sigint_say_the_test_stopped_the_server(tmp_path):
    old = "        await app.shutdown()\n        await app.cleanup()\n"
    new = "        await app.cleanup()\n        await app.shutdown()\n"
    run = check("lifecycle", changed_reference(tmp_path, "lifecycle", "runner.py", old, new))
    failure = run.first_failure
    assert failure is not None, "the wrong order passed"
    assert "shutdown hooks run in order, then the cleanup hooks" in first_line(run)
    assert "while it was serving" not in failure.message + failure.output
    assert "exited with code 0 after the test sent it SIG" in failure.output


def test_the_untouched_stage_10_says_it_stopped_at_a_todo(capsys, monkeypatch):
    stage = manifest.find("shutdown")
    run = runner.run_stage(stage, sketch_dir=stage.step_dir(), first_failure=True)
    assert first_line(run).startswith("Your code stopped at a TODO: sketch/connections.py: ")
    printed = shown(run, capsys, monkeypatch)
    assert f"Open steps/{stage.id}/sketch/connections.py, Connections.shutdown" in printed


def test_an_untouched_todo_in_a_callback_and_the_test_point_at_the_same_place(tmp_path):
    """01: start_server done, connection_made not: `look at:` and `Open` agree on it."""
    echo = manifest.find("echo")
    shutil.copytree(echo.step_dir() / "sketch", tmp_path / "sketch")
    shutil.copy(echo.solution_dir() / "sketch/server.py", tmp_path / "sketch/server.py")
    run = check("echo", tmp_path)
    assert first_line(run).startswith("Your code stopped at a TODO: sketch/protocol.py: ")
    pointers = runner.LOOK_AT.findall(run.first_failure.message)
    assert pointers == ["sketch/protocol.py: EchoProtocol.connection_made"], pointers
    where = run.where_to_look()
    assert where is not None and where.function == "EchoProtocol.connection_made"


def test_a_shutdown_that_waits_out_its_timeout_points_at_the_learners_code(tmp_path):
    """10: `drain` is given; a slow one is the learner's HttpProtocol.shutdown."""
    old = "        done, _ = await asyncio.wait([self.closed], timeout=timeout)\n"
    new = "        await asyncio.sleep(timeout)\n        done = self.closed.done()\n"
    run = check("shutdown", changed_reference(tmp_path, "shutdown", "protocol.py", old, new))
    where = run.where_to_look()
    assert where is not None, run.first_failure
    assert where.file in ("sketch/connections.py", "sketch/protocol.py"), where
    assert "runner.py" not in str(where)


def test_keep_going_names_every_failure_the_summary_counts(tmp_path, capsys, monkeypatch):
    old = "for signum in (signal.SIGINT, signal.SIGTERM):"
    new = "for signum in (signal.SIGINT,):"
    sketch_dir = changed_reference(tmp_path, "shutdown", "runner.py", old, new)
    run = check("shutdown", sketch_dir, keep_going=True)
    failed = [t for t in run.tests if not t.ok]
    assert len(failed) >= 2, run.summary()
    printed = shown(run, capsys, monkeypatch)
    assert f"And {len(failed) - 1} more:" in printed
    for test in failed:
        assert test.name in printed, f"{test.name} is counted but not named:\n{printed}"


def test_a_recursion_error_explains_the_late_binding_trap():
    error = learner_error(
        {"type": "builtins.RecursionError", "mro": ["builtins.RecursionError"],
         "message": "maximum recursion depth exceeded", "traceback": "..."},
        lambda text: text,
    )  # fmt: skip
    assert isinstance(error, RecursionError)
    assert "late binding" in error.report()
    assert "functools.partial" in error.report()


def test_a_call_into_the_object_child_that_blocks_its_loop_says_where(tmp_path):
    """A driver's scenario stuck in the learner's data_received: the child's watchdog
    noted where (workshop/child.py starts it), and the timeout says so first."""
    child = ObjectChild(tmp_path, tmp_path, ROOT)
    note = (
        "workshop watchdog: the event loop is blocked: sketch/protocol.py: "
        "HttpProtocol.data_received has not returned for 1 s; it is at sketch/protocol.py "
        "line 60: `time.sleep(30)`\n"
    )
    child.output.feed(note.encode())
    with pytest.raises(ChildFailed) as failure:
        child._timed_out("await", {}, 5.0)
    message = str(failure.value)
    assert message.startswith("The event loop was blocked: sketch/protocol.py: HttpProtocol.")
    assert "did not return within 5 s." in message.splitlines()[0]
    assert runner.LOOK_AT.findall(message) == ["sketch/protocol.py: HttpProtocol.data_received"]


def test_a_recursion_error_in_the_server_is_explained_first(tmp_path, check_stage_01):
    run = check_stage_01(fake_sketch(tmp_path, serving("self.data_received(data)")))
    assert first_line(run).startswith("The server logged a RecursionError")
    assert "late binding" in run.first_failure.message


def test_a_response_with_no_empty_line_is_not_shown_a_body_it_never_had():
    path = manifest.find("responses").tests_dir() / "test_response.py"
    spec = importlib.util.spec_from_file_location("stage_03_test_response", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class NoEmptyLine:
        def encode(self, head=False):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"

    with pytest.raises(TeachingFailure) as failure:
        module.read_wire(NoEmptyLine())
    expected = next(line for line in str(failure.value).splitlines() if "expected:" in line)
    assert "hi" not in expected and "Content-Length" not in expected, expected
