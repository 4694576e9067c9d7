"""The room board over real TCP: join, report, read back, and every way a stranger can fail.

One board process serves the module (`board`); tests that stop a board, or need one set up
in a particular way, start their own. Each test uses names of its own, and each simulated
machine its own address (`machine()`), so the order of tests does not matter.
"""

import asyncio
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from board.store import STUCK_AFTER, Report, Store
from board.testing import BoardProcess, as_learner, machine
from workshop import manifest

STAGES = [{"id": s.id, "title": s.title} for s in manifest.stages()]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    process = BoardProcess(tmp_path_factory.mktemp("board") / "board.sqlite3").start()
    yield process
    process.kill()


def client(board: BoardProcess, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """One simulated machine: a client whose requests all come from one new address."""
    return httpx.AsyncClient(base_url=board.url, timeout=2, headers=headers or machine())


async def join(http: httpx.AsyncClient, board: BoardProcess, name: str) -> str:
    """Join as NAME; the learner's token."""
    reply = await http.post("/api/join", json={"code": board.code, "name": name})
    assert reply.status_code == 200, f"joining as {name!r}: {reply.status_code} {reply.text}"
    return reply.json()["token"]


async def learner(http: httpx.AsyncClient, name: str) -> dict | None:
    progress = (await http.get("/api/progress")).json()
    return next((row for row in progress["learners"] if row["name"] == name), None)


# --- the happy path --------------------------------------------------------------------


async def test_join_answers_the_name_and_a_token_of_the_learners_own(board):
    async with client(board) as http:
        reply = await http.post("/api/join", json={"code": board.code, "name": "  Grace  "})
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert answer["name"] == "Grace" and answer["stages"] == len(STAGES)
        assert len(answer["token"]) >= 32, "a token must be too long to guess"
        assert await learner(http, "Grace") is not None
        other = await join(http, board, "Grace's neighbour")
    assert other != answer["token"], "each learner has a token of their own"


async def test_a_report_with_the_learners_token_is_read_back_from_the_progress_api(board):
    async with client(board) as http:
        token = await join(http, board, "Linus")
        reply = await http.post("/api/report", json=board.report(), headers=as_learner(token))
        assert reply.status_code == 200, reply.text
        assert reply.json()["name"] == "Linus"
        row = await learner(http, "Linus")
    assert row is not None, "the report was accepted but the learner is not on the board"
    cell = row["results"]["04_routing"]
    assert cell["status"] == "failing"
    assert (cell["passed"], cell["failed"]) == (3, 1)
    assert cell["test"] == "test_unknown_path_returns_404"
    assert row["current"] == "04_routing" and row["failing"] and not row["stuck"]


async def test_a_pass_after_a_failure_turns_the_cell_green_and_counts_it(board):
    async with client(board) as http:
        token = await join(http, board, "Barbara")
        await http.post("/api/report", json=board.report(), headers=as_learner(token))
        ok = board.report(passed=4, failed=0, test="")
        assert (await http.post("/api/report", json=ok, headers=as_learner(token))).is_success
        row = await learner(http, "Barbara")
        counts = (await http.get("/api/progress")).json()["counts"]["04_routing"]
    assert row["results"]["04_routing"]["status"] == "passed"
    assert row["stages_passed"] == 1 and not row["failing"]
    assert counts["passed"] >= 1


async def test_a_check_of_the_reference_shows_as_reference_and_counts_as_no_pass(board):
    async with client(board) as http:
        token = await join(http, board, "Solver")
        await http.post("/api/report", json=board.report(), headers=as_learner(token))
        swapped = board.report(passed=4, failed=0, test="", reference=True)
        assert (await http.post("/api/report", json=swapped, headers=as_learner(token))).is_success
        row = await learner(http, "Solver")
        counts = (await http.get("/api/progress")).json()["counts"]["04_routing"]
    assert row["results"]["04_routing"]["status"] == "reference", row
    assert row["stages_passed"] == 0, "the reference passing is not the learner passing"
    assert not row["failing"], "a learner who swapped the reference in is not waiting on it"
    assert counts["reference"] >= 1


async def test_the_join_code_is_accepted_without_case_or_dash(board):
    sloppy = board.code.lower().replace("-", " ")
    async with client(board) as http:
        reply = await http.post("/api/join", json={"code": sloppy, "name": "Ken"})
    assert reply.status_code == 200, reply.text


async def test_joining_again_with_the_token_keeps_the_learner_and_may_rename_them(board):
    async with client(board) as http:
        token = await join(http, board, "Dennis R")
        await http.post("/api/report", json=board.report(), headers=as_learner(token))
        again = await http.post(
            "/api/join",
            json={"code": board.code, "name": "Dennis Ritchie"},
            headers=as_learner(token),
        )
        assert again.status_code == 200, again.text
        assert again.json()["token"] == token, "the same clone keeps its token"
        assert await learner(http, "Dennis R") is None
        row = await learner(http, "Dennis Ritchie")
    assert row is not None and row["results"]["04_routing"]["failed"] == 1, "results are kept"


async def test_the_page_says_it_shows_self_reported_progress_not_a_grade(board):
    async with client(board) as http:
        page = (await http.get("/")).text.lower()
    assert "self-reported" in page and "not a grade" in page


# --- identity: a learner's row is theirs -----------------------------------------------


async def test_a_report_in_another_learners_name_is_refused_and_changes_nothing(board):
    async with client(board) as ada_machine, client(board) as mallory_machine:
        await ada_machine.post("/api/join", json={"code": board.code, "name": "Ada Victim"})
        # All it took once: the join code and her name, with a pass on her stage.
        forged = {"code": board.code, "name": "Ada Victim", "stage": "04_routing"}
        forged.update(passed=9, failed=0, test="", time="2026-03-01T10:00:00+00:00")
        reply = await mallory_machine.post("/api/report", json=forged)
        assert reply.status_code == 403, f"a report with only the code and a name: {reply.text}"
        mallory = await join(mallory_machine, board, "Mallory")
        reply = await mallory_machine.post("/api/report", json=forged, headers=as_learner(mallory))
        assert reply.is_client_error, f"a report naming someone else: {reply.text}"
        ada = await learner(ada_machine, "Ada Victim")
        joined_over = await mallory_machine.post(
            "/api/join", json={"code": board.code, "name": "Ada Victim"}
        )
    assert ada is not None and ada["results"] == {}, f"Ada's row was written by Mallory: {ada}"
    assert joined_over.status_code == 409, "joining under a name in use must not take it over"


async def test_a_report_without_a_token_the_board_knows_gets_403_saying_to_join_again(board):
    async with client(board) as http:
        for headers in ({}, as_learner("made-up-token"), {"Authorization": "Basic eA=="}):
            reply = await http.post("/api/report", json=board.report(), headers=headers)
            assert reply.status_code == 403, reply.text
            assert "invoke join" in reply.json()["error"]


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("\u202eeman live", "U+202E"),  # RIGHT-TO-LEFT OVERRIDE: shows as "evil name"
        ("Eve\u2066x\u2069", "U+2066"),  # a bidi isolate
        ("\u200b\u200b\u200b", "U+200B"),  # only zero-width spaces: a blank row
        ("Ada\u200dTest", "U+200D"),  # a zero-width joiner inside a name
        ("\ufeffBOM", "U+FEFF"),
        ("   ", "must not be empty"),
        ("\u3000\u00a0", "must not be empty"),  # ideographic and no-break spaces only
        ("\u0301\u0301", "letter"),  # combining accents with nothing to sit on
        ("tab\there", "U+0009"),
        ("n" * 41, "longer than 40"),
    ],
)
async def test_a_name_with_invisible_controls_or_nothing_to_show_is_refused(board, given, why):
    async with client(board) as http:
        reply = await http.post("/api/join", json={"code": board.code, "name": given})
        progress = (await http.get("/api/progress")).json()
    assert reply.status_code == 400, f"the name {given!r} was accepted: {reply.text}"
    assert why in reply.json()["error"], reply.text
    assert given.strip() not in [row["name"] for row in progress["learners"]]


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("\uff27\uff52\uff41\uff43\uff45 NFKC", "Grace NFKC"),  # fullwidth letters
        ("  Hedy   \u00a0Lamarr  ", "Hedy Lamarr"),  # runs of spaces are one space
        ("ﬁne ligature", "fine ligature"),
        ("Jürgen Müller", "Jürgen Müller"),  # composed or not, one spelling
    ],
)
async def test_a_name_is_normalized_nfkc_with_spaces_collapsed(board, given, shown):
    async with client(board) as http:
        reply = await http.post("/api/join", json={"code": board.code, "name": given})
        assert reply.status_code == 200, reply.text
        assert reply.json()["name"] == shown
        assert await learner(http, shown) is not None


async def test_names_are_unique_without_regard_to_case(board):
    async with client(board) as first, client(board) as second:
        reply = await first.post("/api/join", json={"code": board.code, "name": "ada test"})
        assert reply.status_code == 200, reply.text
        for twin in ("Ada Test", "ADA  TEST", "ada test"):
            reply = await second.post("/api/join", json={"code": board.code, "name": twin})
            assert reply.status_code == 409, f"{twin!r} next to 'ada test': {reply.text}"
            assert "taken" in reply.json()["error"] and "instructor" in reply.json()["error"]
        names = [row["name"] for row in (await first.get("/api/progress")).json()["learners"]]
    assert [n for n in names if n.casefold() == "ada test"] == ["ada test"]


async def test_the_instructor_releases_a_name_and_its_next_join_takes_it_over(board):
    async with client(board) as old_clone, client(board) as new_clone:
        old = await join(old_clone, board, "Margaret")
        await old_clone.post("/api/report", json=board.report(), headers=as_learner(old))
        released = await new_clone.post(
            "/api/admin/release", json={"name": "margaret"}, headers=board.admin
        )
        assert released.status_code == 200, released.text
        assert (await learner(new_clone, "Margaret"))["released"]
        new = await join(new_clone, board, "Margaret")
        assert new != old
        refused = await old_clone.post("/api/report", json=board.report(), headers=as_learner(old))
        assert refused.status_code == 403, "a released token must no longer report"
        row = await learner(new_clone, "Margaret")
    assert not row["released"]
    assert row["results"]["04_routing"]["failed"] == 1, "the results come with the name"


async def test_admin_actions_need_the_instructor_token_not_the_join_code(board):
    async with client(board) as http:
        await join(http, board, "Removable")
        for auth in ("", f"Bearer {board.code}", "Bearer wrong"):
            for action in ("remove", "release"):
                reply = await http.post(
                    f"/api/admin/{action}",
                    json={"name": "Removable"},
                    headers={"Authorization": auth},
                )
                assert reply.status_code == 403, f"Authorization {auth!r} was let through"
        assert await learner(http, "Removable") is not None
        reply = await http.post(
            "/api/admin/remove", json={"name": "Removable"}, headers=board.admin
        )
        assert reply.status_code == 200, reply.text
        assert await learner(http, "Removable") is None
        again = await http.post(
            "/api/admin/remove", json={"name": "Removable"}, headers=board.admin
        )
        assert again.status_code == 404


async def test_the_instructor_removes_the_learners_not_seen_for_a_while(tmp_path):
    db = tmp_path / "board.sqlite3"
    store = Store(db)
    store.join("Gone Home", now=time.time() - 3600)
    store.close()
    board = BoardProcess(db).start()
    try:
        async with client(board) as http:
            await join(http, board, "Still Here")
            pruned = await http.post(
                "/api/admin/prune", json={"idle_minutes": 30}, headers=board.admin
            )
            names = [row["name"] for row in (await http.get("/api/progress")).json()["learners"]]
    finally:
        board.kill()
    assert pruned.status_code == 200, pruned.text
    assert pruned.json()["removed"] == ["Gone Home"]
    assert names == ["Still Here"]


# --- no lock-outs: one client cannot fill the board or guess the code -------------------


async def test_one_client_posting_thousands_of_names_is_refused_and_a_learner_still_joins(board):
    accepted, refused = 0, None
    async with client(board) as script:
        for n in range(600):  # the board follows at most 500 learners: more than it can hold
            reply = await script.post("/api/join", json={"code": board.code, "name": f"bot {n}"})
            if reply.status_code == 429:
                refused = reply
                break
            assert reply.status_code == 200, reply.text
            accepted += 1
    assert refused is not None and accepted <= 100, (
        f"one client joined {accepted} names and was never slowed down"
    )
    assert int(refused.headers["Retry-After"]) >= 1, refused.headers
    async with client(board) as learner_machine:
        reply = await learner_machine.post(
            "/api/join", json={"code": board.code, "name": "Real Learner"}
        )
    assert reply.status_code == 200, f"a learner was locked out by someone else: {reply.text}"


async def test_guessing_the_join_code_gets_429_with_a_retry_after_that_grows(board):
    waits = []
    async with client(board) as guesser:
        for n in range(40):
            reply = await guesser.post("/api/join", json={"code": f"GUES-S{n:03d}", "name": "G"})
            if reply.status_code == 429:
                waits.append(int(reply.headers["Retry-After"]))
            else:
                assert reply.status_code == 403, reply.text
        right = await guesser.post("/api/join", json={"code": board.code, "name": "Lucky"})
    assert waits, "40 wrong codes in a row, and the board never slowed the guesser down"
    assert len(waits) >= 25, f"only {len(waits)} of 40 guesses were refused"
    assert waits[-1] > waits[0], f"the wait does not grow: {waits}"
    assert right.status_code == 429, "while it must wait, even the right code is not tried"
    async with client(board) as someone_else:
        reply = await someone_else.post("/api/join", json={"code": board.code, "name": "Honest"})
    assert reply.status_code == 200, f"another machine was locked out: {reply.text}"


def can_bind(address: str) -> bool:
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=0.1, source_address=(address, 0))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return True


@pytest.mark.skipif(not can_bind("127.0.0.2"), reason="127.0.0.2 is not a loopback address here")
async def test_x_forwarded_for_is_believed_only_on_connections_from_this_machine(board):
    elsewhere = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=board.url, timeout=2, transport=elsewhere) as http:
        statuses = []
        for _ in range(20):  # a new X-Forwarded-For each time: it must not reset the count
            reply = await http.post(
                "/api/join", json={"code": "WRONG", "name": "X"}, headers=machine()
            )
            statuses.append(reply.status_code)
    assert 429 in statuses, f"a forged X-Forwarded-For dodged the limit: {statuses}"


# --- strangers and mistakes ------------------------------------------------------------


async def test_a_wrong_join_code_gets_403_and_nothing_is_stored(board):
    async with client(board) as http:
        for body in ({"code": "AAAA-AAAA", "name": "Mallory2"}, {"name": "Mallory2"}):
            reply = await http.post("/api/join", json=body)
            assert reply.status_code == 403, reply.text
            assert "join code" in reply.json()["error"]
        assert await learner(http, "Mallory2") is None


async def test_a_body_over_4_kib_gets_413_before_it_is_parsed(board):
    async with client(board) as http:
        token = await join(http, board, "Bulky")
        huge = board.report(test="x" * 5000)
        reply = await http.post("/api/report", json=huge, headers=as_learner(token))
        assert reply.status_code == 413, reply.text
        assert "4096 bytes" in reply.text, "the framework's answer names the board's limit"
        assert (await learner(http, "Bulky"))["results"] == {}


async def test_malformed_json_gets_400_with_a_clear_message(board):
    async with client(board) as http:
        broken = await http.post(
            "/api/join", content=b'{"code": ', headers={"Content-Type": "application/json"}
        )
        listed = await http.post("/api/join", json=["not", "an", "object"])
        binary = await http.post("/api/join", content=b"\xff\xfe")
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    assert listed.status_code == 400 and "JSON object" in listed.json()["error"]
    assert binary.status_code == 400 and "UTF-8" in binary.json()["error"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("test", "t" * 201, "longer than 200"),
        ("test", "tab\there", "control characters"),
        ("stage", "99_nope", "no stage"),
        ("passed", -1, "whole number"),
        ("failed", True, "whole number"),
        ("passed", "3", "whole number"),
        ("time", "yesterday", "ISO 8601"),
        ("reference", "yes", "true or false"),
        ("name", "Someone Else", "unknown fields"),
        ("source_code", "import os", "unknown fields"),
    ],
)
async def test_each_field_is_validated_with_a_400_naming_it(board, field, value, message):
    async with client(board) as http:
        token = await join(http, board, f"Valid {field} {value!r}"[:40])
        body = board.report(**{field: value})
        reply = await http.post("/api/report", json=body, headers=as_learner(token))
    assert reply.status_code == 400, f"{field}={value!r} was accepted: {reply.text}"
    assert message in reply.json()["error"], reply.text


async def test_markup_in_a_name_is_kept_as_text_and_the_page_embeds_no_data(board):
    evil = "<script>alert(1)</script>"
    async with client(board) as http:
        await join(http, board, evil)
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


# --- input capped where it arrives (the framework's limits) ----------------------------


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


async def first_line(reader: asyncio.StreamReader, timeout: float) -> bytes:
    try:
        return await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError:
        return b"(nothing within %.1f s)" % timeout


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
async def test_fifty_clients_sending_1_mib_bodies_get_413_before_the_board_reads_them(board):
    before = rss_kib(board.proc.pid)
    head = (
        b"POST /api/report HTTP/1.1\r\nHost: board\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1048576\r\n\r\n"
    )
    chunked = (
        b"POST /api/report HTTP/1.1\r\nHost: board\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"2000\r\n" + b"x" * 0x2000 + b"\r\n"

    async def sender(announced: bool) -> bytes:
        reader, writer = await asyncio.open_connection(board.host, board.port)
        try:
            # The head, then 64 KiB of a body that would be 1 MiB: far past the board's 4 KiB.
            writer.write((head + b"x" * 65536) if announced else (chunked + chunk * 8))
            await writer.drain()
            return await first_line(reader, 2.0)
        except ConnectionError:
            return b"(the board closed the connection without an answer)"
        finally:
            writer.close()

    answers = await asyncio.gather(*(sender(n % 2 == 0) for n in range(50)))
    grown = rss_kib(board.proc.pid) - before
    assert all(a.startswith(b"HTTP/1.1 413") for a in answers), sorted(set(answers))
    assert grown < 16 * 1024, f"the board grew by {grown} KiB for bodies it refuses"


async def test_a_body_sent_one_byte_every_3_s_is_cut_off_by_the_body_timeout(tmp_path):
    # `python -m board --body-timeout S` passes S to run_app(body_timeout=...).
    board = BoardProcess(tmp_path / "board.sqlite3", "--body-timeout", "1").start()
    try:
        reader, writer = await asyncio.open_connection(board.host, board.port)
        writer.write(b"POST /api/report HTTP/1.1\r\nHost: board\r\nContent-Length: 100\r\n\r\n{")
        started = time.monotonic()
        answer = b""
        for _ in range(3):  # a byte every 3 s, until the board stops waiting
            try:
                answer = await asyncio.wait_for(reader.read(1024), 3)
                break
            except asyncio.TimeoutError:
                writer.write(b" ")
        waited = time.monotonic() - started
        writer.close()
    finally:
        board.kill()
    assert waited < 4, f"the board was still reading a trickling body after {waited:.1f} s"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer


# --- the process: banner, port, database ------------------------------------------------


def run_board(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "board", *args],
        cwd=manifest.ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_busy_port_fails_saying_so_without_printing_the_join_code_or_token(tmp_path):
    db = tmp_path / "board.sqlite3"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run_board("--port", str(port), "--db", str(db))
    printed = done.stdout + done.stderr
    assert done.returncode == 1, printed
    assert str(port) in printed and "in use" in printed, printed
    assert db.exists(), "the board opened its database before binding: the codes exist"
    store = Store(db)
    code, token = store.join_code(), store.instructor_token()
    store.close()
    assert code not in printed and token not in printed, f"a board that failed printed:\n{printed}"
    assert "#admin=" not in printed


def test_with_port_0_the_banner_shows_the_port_actually_bound(tmp_path):
    board = BoardProcess(tmp_path / "board.sqlite3").start()
    try:
        page = board._printed("Board page")
        printed = board.output.since(0)
    finally:
        board.kill()
    assert page == f"{board.url}/", f"the banner says {page}, the board serves {board.url}"
    assert f"invoke join {board.url} {board.code}" in printed
    assert printed.index("Join code") < printed.index("Serving on"), "the harness waits for it"


def test_the_database_is_readable_and_writable_by_its_owner_only(tmp_path):
    db = tmp_path / "board.sqlite3"
    older = tmp_path / "older.sqlite3"
    older.touch(mode=0o644)  # a database left world-readable by an older board
    umask = os.umask(0o022)
    try:
        for path in (db, older):
            board = BoardProcess(path).start()
            with httpx.Client(base_url=board.url, headers=machine()) as http:
                http.post("/api/join", json={"code": board.code, "name": "Perm"})
            board.kill()
    finally:
        os.umask(umask)
    for path in (db, older):
        for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if file.exists():
                mode = stat.S_IMODE(file.stat().st_mode)
                assert mode == 0o600, f"{file.name} is {mode:o}: it holds the instructor token"


async def test_sigint_stops_the_board_cleanly_and_a_restart_keeps_data_and_code(tmp_path):
    db = tmp_path / "board.sqlite3"
    first = BoardProcess(db).start()
    try:
        code = first.code
        async with client(first) as http:
            token = await join(http, first, "Persistent")
            reply = await http.post("/api/report", json=first.report(), headers=as_learner(token))
            assert reply.status_code == 200
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
            again = await http.post("/api/report", json=second.report(), headers=as_learner(token))
            assert again.status_code == 200, "a learner's token must survive a restart"
            reset = await http.post("/api/admin/reset", headers=second.admin)
            assert reset.status_code == 200
            assert (await http.get("/api/progress")).json()["learners"] == []
    finally:
        second.kill()


async def test_stuck_minutes_sets_when_a_failing_learner_counts_as_stuck(tmp_path):
    quick = BoardProcess(tmp_path / "board.sqlite3", "--stuck-minutes", "0").start()
    try:
        async with client(quick) as http:
            for name, failed in (("Instantly stuck", 1), ("Passing", 0)):
                token = await join(http, quick, name)
                body = quick.report(failed=failed)
                await http.post("/api/report", json=body, headers=as_learner(token))
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
    tokens = {
        name: store.join(name, now=start).token
        for name in ("fine", "just failing", "stuck long", "stuck less")
    }
    fail = {"passed": 2, "failed": 1, "failing_test": "test_x"}
    store.record(tokens["fine"], Report(stage="03_responses", passed=5, failed=0), now=start)
    store.record(tokens["just failing"], Report(stage="02_parsing", **fail), now=start + 500)
    store.record(tokens["stuck long"], Report(stage="05_params", **fail), now=start)
    store.record(tokens["stuck long"], Report(stage="05_params", **fail), now=start + 400)
    store.record(tokens["stuck less"], Report(stage="04_routing", **fail), now=start + 100)
    board = store.progress(STAGES, now=start + STUCK_AFTER + 150)
    order = [(row["name"], row["stuck"]) for row in board["learners"]]
    assert order == [
        ("stuck long", True),  # the streak started at the first failure, not the latest
        ("stuck less", True),
        ("just failing", False),
        ("fine", False),
    ]
    assert board["counts"]["05_params"] == {"passed": 0, "failing": 1, "reference": 0}
    passed = Report(stage="05_params", passed=3, failed=0)
    store.record(tokens["stuck long"], passed, now=start + 800)
    store.record(tokens["stuck long"], Report(stage="05_params", **fail), now=start + 801)
    again = store.progress(STAGES, now=start + 810)
    row = next(r for r in again["learners"] if r["name"] == "stuck long")
    assert row["failing_for"] == 9 and not row["stuck"], "a pass must end a failing streak"
    store.close()


def test_export_writes_one_csv_line_per_result(tmp_path: Path):
    import io

    store = Store(tmp_path / "board.sqlite3")
    token = store.join("Ada, Countess").token
    store.record(token, Report(stage="01_echo", passed=2, failed=0), now=time.time())
    store.record(token, Report(stage="02_parsing", passed=1, failed=2, failing_test="test_y"))
    store.record(token, Report(stage="03_responses", passed=5, failed=0, reference=True))
    out = io.StringIO()
    assert store.export_csv(STAGES, out) == 3
    lines = out.getvalue().splitlines()
    assert lines[0] == "learner,stage,status,passed,failed,failing_test,updated_utc"
    assert lines[1].startswith('"Ada, Countess",01_echo,passed,2,0,,')
    assert lines[2].startswith('"Ada, Countess",02_parsing,failing,1,2,test_y,')
    assert lines[3].startswith('"Ada, Countess",03_responses,reference,5,0,,')
    store.close()


# --- the throttle alone ----------------------------------------------------------------


def test_the_throttle_allows_a_burst_then_waits_that_double_and_forgets_a_quiet_client():
    from board.throttle import Throttle

    limit = Throttle(burst=3, every=10.0, max_wait=60.0)
    for _ in range(3):
        assert limit.retry_after("a", now=0) == 0
        limit.count("a", now=0)
    assert limit.retry_after("b", now=0) == 0, "another client is not held up"
    waits = [limit.retry_after("a", now=0) for _ in range(4)]
    assert waits == [20, 40, 60, 60], "pushing doubles the wait, up to max_wait"
    assert limit.retry_after("a", now=59) == 60, "coming back early is pushing too"
    assert limit.retry_after("a", now=200) == 0, "once the wait is over, the client may try"
    limit.count("a", now=200)  # the bucket has drained: the strikes are forgotten
    assert limit.retry_after("a", now=200) == 0


def test_an_ipv6_client_is_counted_by_its_64_network():
    from board.throttle import client_key

    assert client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::5") != client_key("2001:db8:1:3::5")
    assert client_key("::ffff:10.0.0.5") == client_key("10.0.0.5") == "10.0.0.5"
