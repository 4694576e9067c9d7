"""The room board over real TCP: join, report, read back, and every way a stranger can fail.

One board process serves the module (`board`); tests that stop a board start their own.
Each test uses names of its own, so the order of tests does not matter.
"""

import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from board.store import STUCK_AFTER, Report, Store
from board.testing import BoardProcess
from workshop import manifest

STAGES = [{"id": s.id, "title": s.title} for s in manifest.stages()]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    process = BoardProcess(tmp_path_factory.mktemp("board") / "board.sqlite3").start()
    yield process
    process.kill()


def client(board: BoardProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=board.url, timeout=2)


async def learner(http: httpx.AsyncClient, name: str) -> dict | None:
    progress = (await http.get("/api/progress")).json()
    return next((row for row in progress["learners"] if row["name"] == name), None)


# --- the happy path --------------------------------------------------------------------


async def test_join_checks_the_code_and_answers_the_name(board):
    async with client(board) as http:
        reply = await http.post("/api/join", json={"code": board.code, "name": "  Grace  "})
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"name": "Grace", "stages": len(STAGES)}
        assert await learner(http, "Grace") is not None


async def test_a_posted_report_is_read_back_from_the_progress_api(board):
    async with client(board) as http:
        reply = await http.post("/api/report", json=board.report(name="Linus"))
        assert reply.status_code == 200, reply.text
        row = await learner(http, "Linus")
    assert row is not None, "the report was accepted but the learner is not on the board"
    cell = row["results"]["04_routing"]
    assert cell["status"] == "failing"
    assert (cell["passed"], cell["failed"]) == (3, 1)
    assert cell["test"] == "test_unknown_path_returns_404"
    assert row["current"] == "04_routing" and row["failing"] and not row["stuck"]


async def test_a_pass_after_a_failure_turns_the_cell_green_and_counts_it(board):
    async with client(board) as http:
        await http.post("/api/report", json=board.report(name="Barbara"))
        ok = board.report(name="Barbara", passed=4, failed=0, test="")
        assert (await http.post("/api/report", json=ok)).status_code == 200
        row = await learner(http, "Barbara")
        counts = (await http.get("/api/progress")).json()["counts"]["04_routing"]
    assert row["results"]["04_routing"]["status"] == "passed"
    assert row["stages_passed"] == 1 and not row["failing"]
    assert counts["passed"] >= 1


async def test_the_join_code_is_accepted_without_case_or_dash(board):
    sloppy = board.code.lower().replace("-", " ")
    async with client(board) as http:
        reply = await http.post("/api/report", json=board.report(name="Ken", code=sloppy))
    assert reply.status_code == 200, reply.text


# --- strangers and mistakes ------------------------------------------------------------


async def test_a_wrong_join_code_gets_403_and_nothing_is_stored(board):
    async with client(board) as http:
        for body in (board.report(name="Mallory", code="AAAA-AAAA"), {"name": "Mallory"}):
            reply = await http.post("/api/report", json=body)
            assert reply.status_code == 403, reply.text
            assert "join code" in reply.json()["error"]
        joined = await http.post("/api/join", json={"code": "nope", "name": "Mallory"})
        assert joined.status_code == 403
        assert await learner(http, "Mallory") is None


async def test_a_body_over_4_kib_gets_413_before_it_is_parsed(board):
    async with client(board) as http:
        huge = board.report(name="Bulky", test="x" * 5000)
        reply = await http.post("/api/report", json=huge)
        assert reply.status_code == 413, reply.text
        assert "4096 bytes" in reply.json()["error"]
        assert await learner(http, "Bulky") is None


async def test_malformed_json_gets_400_with_a_clear_message(board):
    async with client(board) as http:
        broken = await http.post(
            "/api/report", content=b'{"code": ', headers={"Content-Type": "application/json"}
        )
        listed = await http.post("/api/report", json=["not", "an", "object"])
        binary = await http.post("/api/report", content=b"\xff\xfe")
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    assert listed.status_code == 400 and "JSON object" in listed.json()["error"]
    assert binary.status_code == 400 and "UTF-8" in binary.json()["error"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "n" * 41, "longer than 40"),
        ("name", "", "must not be empty"),
        ("name", "tab\there", "control characters"),
        ("test", "t" * 201, "longer than 200"),
        ("stage", "99_nope", "no stage"),
        ("passed", -1, "whole number"),
        ("failed", True, "whole number"),
        ("passed", "3", "whole number"),
        ("time", "yesterday", "ISO 8601"),
        ("source_code", "import os", "unknown fields"),
    ],
)
async def test_each_field_is_validated_with_a_400_naming_it(board, field, value, message):
    async with client(board) as http:
        reply = await http.post("/api/report", json=board.report(**{"name": "Valid", field: value}))
    assert reply.status_code == 400, f"{field}={value!r} was accepted: {reply.text}"
    assert message in reply.json()["error"], reply.text


async def test_markup_in_a_name_is_kept_as_text_and_the_page_embeds_no_data(board):
    evil = "<script>alert(1)</script>"
    async with client(board) as http:
        assert (await http.post("/api/report", json=board.report(name=evil))).status_code == 200
        row = await learner(http, evil)
        page = await http.get("/")
        script = await http.get("/board.js")
    assert row is not None and row["name"] == evil  # stored as given; the page escapes it
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "alert(1)" not in page.text, "the page must hold no learner data: it is fetched"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "innerHTML" not in script.text, "the page must build its DOM with textContent"
    assert "http://" not in page.text + script.text, "no external assets: a room may be offline"


async def test_admin_actions_need_the_instructor_token_not_the_join_code(board):
    async with client(board) as http:
        await http.post("/api/report", json=board.report(name="Removable"))
        for auth in ("", f"Bearer {board.code}", "Bearer wrong"):
            reply = await http.post(
                "/api/admin/remove", json={"name": "Removable"}, headers={"Authorization": auth}
            )
            assert reply.status_code == 403, f"Authorization {auth!r} was let through"
        assert await learner(http, "Removable") is not None
        token = {"Authorization": f"Bearer {board.token}"}
        reply = await http.post("/api/admin/remove", json={"name": "Removable"}, headers=token)
        assert reply.status_code == 200, reply.text
        assert await learner(http, "Removable") is None
        again = await http.post("/api/admin/remove", json={"name": "Removable"}, headers=token)
        assert again.status_code == 404


# --- a board of its own: restart and reset ---------------------------------------------


async def test_sigint_stops_the_board_cleanly_and_a_restart_keeps_data_and_code(tmp_path):
    db = tmp_path / "board.sqlite3"
    first = BoardProcess(db).start()
    try:
        code = first.code
        async with client(first) as http:
            assert (
                await http.post("/api/report", json=first.report(name="Persistent"))
            ).status_code == 200
        first.send_signal(signal.SIGINT)
        assert first.wait(5) == 0, first.output.last_lines()
        assert "database closed cleanly" in first.output.since(0)
    finally:
        first.kill()
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    second = BoardProcess(db).start()
    try:
        assert second.code == code, "learners joined with the old code: it must survive a restart"
        async with client(second) as http:
            row = await learner(http, "Persistent")
            assert row is not None and row["results"]["04_routing"]["failed"] == 1
            reset = await http.post(
                "/api/admin/reset", headers={"Authorization": f"Bearer {second.token}"}
            )
            assert reset.status_code == 200
            assert (await http.get("/api/progress")).json()["learners"] == []
    finally:
        second.kill()


async def test_stuck_minutes_sets_when_a_failing_learner_counts_as_stuck(tmp_path):
    quick = BoardProcess(tmp_path / "board.sqlite3", "--stuck-minutes", "0").start()
    try:
        async with client(quick) as http:
            await http.post("/api/report", json=quick.report(name="Instantly stuck"))
            await http.post("/api/report", json=quick.report(name="Passing", failed=0))
            board = (await http.get("/api/progress")).json()
    finally:
        quick.kill()
    assert board["stuck_after"] == 0
    assert [(r["name"], r["stuck"]) for r in board["learners"]] == [
        ("Instantly stuck", True),
        ("Passing", False),
    ]


# --- the store alone: who is stuck -----------------------------------------------------


def test_learners_failing_one_stage_for_ten_minutes_are_stuck_and_sorted_first(tmp_path: Path):
    store = Store(tmp_path / "board.sqlite3")
    start = 1_000_000.0
    fail = {"passed": 2, "failed": 1, "failing_test": "test_x"}
    store.record(Report(name="fine", stage="03_responses", passed=5, failed=0), now=start)
    store.record(Report(name="just failing", stage="02_parsing", **fail), now=start + 500)
    store.record(Report(name="stuck long", stage="05_params", **fail), now=start)
    store.record(Report(name="stuck long", stage="05_params", **fail), now=start + 400)
    store.record(Report(name="stuck less", stage="04_routing", **fail), now=start + 100)
    board = store.progress(STAGES, now=start + STUCK_AFTER + 150)
    order = [(row["name"], row["stuck"]) for row in board["learners"]]
    assert order == [
        ("stuck long", True),  # the streak started at the first failure, not the latest
        ("stuck less", True),
        ("just failing", False),
        ("fine", False),
    ]
    assert board["counts"]["05_params"] == {"passed": 0, "failing": 1}
    store.record(Report(name="stuck long", stage="05_params", passed=3, failed=0), now=start + 800)
    store.record(Report(name="stuck long", stage="05_params", **fail), now=start + 801)
    again = store.progress(STAGES, now=start + 810)
    row = next(r for r in again["learners"] if r["name"] == "stuck long")
    assert row["failing_for"] == 9 and not row["stuck"], "a pass must end a failing streak"
    store.close()


def test_export_writes_one_csv_line_per_result(tmp_path: Path):
    import io

    store = Store(tmp_path / "board.sqlite3")
    store.record(Report(name="Ada, Countess", stage="01_echo", passed=2, failed=0), now=time.time())
    store.record(
        Report(name="Ada, Countess", stage="02_parsing", passed=1, failed=2, failing_test="test_y")
    )
    out = io.StringIO()
    assert store.export_csv(STAGES, out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == "learner,stage,status,passed,failed,failing_test,updated_utc"
    assert lines[1].startswith('"Ada, Countess",01_echo,passed,2,0,,')
    assert lines[2].startswith('"Ada, Countess",02_parsing,failing,1,2,test_y,')
    store.close()
