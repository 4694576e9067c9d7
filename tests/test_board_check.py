"""`invoke join` and `invoke check` on a learner's clone, with the board up, and with it hung.

A report must reach a board that is up, and must cost a check nothing when the board is
down or hangs: same output, same exit code, same time (within noise).
"""

import socket
import time

import httpx

from board.testing import BoardProcess
from tests.conftest import invoke
from workshop import state

NOISE = 0.6  # seconds: two runs of the same check differ by less than this on a quiet machine


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
        assert state.load(clone).extra["board"]["name"] == "Ada"

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


def test_a_hung_board_changes_neither_the_result_nor_the_time_of_a_check(clone):
    invoke(clone, "join", "--leave")  # warm up: compile the clone's modules once
    started = time.monotonic()
    alone = invoke(clone, "check", "01_echo")
    alone_time = time.monotonic() - started

    # A "board" that accepts connections and never answers: the worst case for a client.
    with socket.create_server(("127.0.0.1", 0)) as hung:
        hung.settimeout(5)
        port = hung.getsockname()[1]
        saved = state.load(clone)
        saved.extra["board"] = {"url": f"http://127.0.0.1:{port}", "code": "X", "name": "Ada"}
        state.save(saved, clone)

        started = time.monotonic()
        joined = invoke(clone, "check", "01_echo")
        joined_time = time.monotonic() - started
        reporter, _ = hung.accept()  # the report was really attempted, in the background
        reporter.close()

    assert joined.returncode == alone.returncode == 1
    assert joined.stdout == alone.stdout, "a board must not change what check prints"
    assert joined_time < alone_time + NOISE, (
        f"check took {joined_time:.2f} s with a hung board, {alone_time:.2f} s without"
    )
