"""`invoke join` and `invoke check` on a learner's clone, with the board up, and with it hung.

A report must reach a board that is up, and must cost a check nothing when the board is
down or hangs: same output, same exit code, same time (within noise).
"""

import socket
import time

import httpx

from board.testing import BoardProcess
from tests.conftest import invoke
from workshop import board_client, manifest, state
from workshop.runner import StageRun
from workshop.runner import TestResult as Result

NOISE = 1.0  # seconds; a report that waited for a hung board would cost POST_TIMEOUT (2 s)


def wait_for_learner(board: BoardProcess, name: str, timeout: float = 5.0) -> dict | None:
    """The learner's row once the background report has landed (it is not awaited by check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = httpx.get(f"{board.url}/api/progress", timeout=2).json()["learners"]
        found = next((row for row in rows if row["name"] == name), None)
        if found and found["results"]:
            return found
        time.sleep(0.05)  # the report comes from a detached process: nothing to await
    return None


def test_a_joined_clone_reports_each_check_and_leave_stops_it(clone, tmp_path):
    board = BoardProcess(tmp_path / "board.sqlite3").start()
    try:
        wrong = invoke(clone, "join", board.url, "AAAA-AAAA", "--name", "Ada")
        assert wrong.returncode == 1 and "wrong join code" in wrong.stderr, wrong.stderr
        joined = invoke(clone, "join", board.url, board.code, "--name", "Ada")
        assert joined.returncode == 0, joined.stdout + joined.stderr
        assert "Joined the board" in joined.stdout
        saved = state.load(clone).extra["board"]
        assert saved["name"] == "Ada" and len(saved["token"]) >= 32, saved
        assert "code" not in saved, "the token replaces the join code: the code stays on the board"

        checked = invoke(clone, "check", "01_echo")
        assert checked.returncode == 1  # the untouched skeleton fails
        row = wait_for_learner(board, "Ada")
        assert row is not None, "the check's result never reached the board"
        cell = row["results"]["01_echo"]
        assert cell["status"] == "failing" and cell["failed"] >= 1
        assert cell["test"].startswith("test_"), cell

        left = invoke(clone, "join", "--leave")
        assert left.returncode == 0 and "Left the board" in left.stdout
        assert "board" not in state.load(clone).extra
    finally:
        board.kill()


def test_a_check_with_the_reference_swapped_in_shows_as_reference_not_passed(clone, tmp_path):
    board = BoardProcess(tmp_path / "board.sqlite3").start()
    try:
        joined = invoke(clone, "join", board.url, board.code, "--name", "Grace")
        assert joined.returncode == 0, joined.stdout + joined.stderr
        solved = invoke(clone, "solve", "01_echo")
        assert solved.returncode == 0, solved.stdout + solved.stderr
        checked = invoke(clone, "check", "01_echo")
        assert "reference solution passing" in checked.stdout, checked.stdout
        row = wait_for_learner(board, "Grace")
    finally:
        board.kill()
    assert row is not None, "the check's result never reached the board"
    cell = row["results"]["01_echo"]
    assert cell["status"] == "reference", f"the board shows the reference's pass as {cell}"
    assert row["stages_passed"] == 0


def timed_check(clone, board_url: str | None):
    """Run `invoke check 01_echo` joined to BOARD_URL (or to none): the result and seconds."""
    saved = state.load(clone)
    saved.extra.pop("board", None)
    if board_url:
        saved.extra["board"] = {"url": board_url, "name": "Ada", "token": "t" * 32}
    state.save(saved, clone)
    started = time.monotonic()
    done = invoke(clone, "check", "01_echo")
    return done, time.monotonic() - started


def test_a_hung_board_changes_neither_the_result_nor_the_time_of_a_check(clone):
    invoke(clone, "join", "--leave")  # warm up: compile the clone's modules once
    # A "board" that accepts connections and never answers: the worst case for a client.
    with socket.create_server(("127.0.0.1", 0)) as hung:
        hung.settimeout(5)
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        # Interleaved, and the fastest of each kind compared: other work on the machine
        # slows single runs, not the fastest of two.
        runs = [timed_check(clone, board) for board in (None, url, None, url)]
        for _ in range(2):
            reporter, _ = hung.accept()  # each report was really attempted, in the background
            reporter.close()
    alone, joined = runs[0][0], runs[1][0]
    alone_time = min(runs[0][1], runs[2][1])
    joined_time = min(runs[1][1], runs[3][1])
    assert joined.returncode == alone.returncode == 1
    assert joined.stdout == alone.stdout, "a board must not change what check prints"
    assert joined_time < alone_time + NOISE, (
        f"check took {joined_time:.2f} s with a hung board, {alone_time:.2f} s without"
    )


def test_a_report_holds_only_the_fields_the_board_may_see(tmp_path):
    stage = manifest.find("04_routing")
    run = StageRun(stage, stage.step_dir())
    run.tests = [
        Result("t::a", "test_a", "f.py", "pass"),
        Result("t::b", "test_unknown_path_returns_404", "f.py", "fail", message="secret"),
    ]
    sent = board_client.report(stage, run)
    assert set(sent) == {"stage", "passed", "failed", "test", "time", "reference"}
    assert sent["reference"] is False, "the skeleton in place is the learner's own code"
    assert (sent["passed"], sent["failed"]) == (1, 1)
    assert sent["test"] == "test_unknown_path_returns_404"
    assert "secret" not in str(sent), "failure messages may hold code: they stay home"

    broken = StageRun(stage, stage.step_dir(), collection_errors=[{"message": "SyntaxError"}])
    sent = board_client.report(stage, broken)
    assert sent["failed"] == 1 and sent["test"] == "(the tests could not be loaded)"
