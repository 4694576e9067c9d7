"""A room's worth of load: 200 learners posting every second, on loopback, for a fixed time.

Every post must be answered 200, and the page's poll must stay quick meanwhile. The test
bounds itself: a fixed number of rounds, every request with a 2-second timeout.
"""

import asyncio
import os
import time

import httpx

from board.testing import BoardProcess
from workshop import manifest

LEARNERS = 200
# Posts per learner, one a second: 600 posts in about three seconds. The minute-long
# flood is BOARD_LOAD_ROUNDS=60 (12,000 posts); the suite keeps to a few seconds.
ROUNDS = int(os.environ.get("BOARD_LOAD_ROUNDS", "3"))
PAGE_EVERY = 0.25  # seconds between the page's polls while the flood runs
STAGES = [stage.id for stage in manifest.stages()]
SLOWEST_PAGE = 2.0  # seconds: the page polls every 2 s; it must never wait longer than that


async def learner(http: httpx.AsyncClient, board: BoardProcess, n: int) -> list[str]:
    """One learner: ROUNDS reports a second apart, failing until the last. Their errors."""
    errors = []
    await asyncio.sleep(n / LEARNERS)  # spread the room over the first second, as in life
    for round_ in range(ROUNDS):
        last = round_ == ROUNDS - 1
        body = board.report(
            name=f"learner {n:03d}",
            stage=STAGES[n % len(STAGES)],
            passed=round_ + 1,
            failed=0 if last else 1,
            test="" if last else f"test_{round_}",
        )
        started = time.monotonic()
        try:
            reply = await http.post("/api/report", json=body)
            if reply.status_code != 200:
                errors.append(f"learner {n}: {reply.status_code} {reply.text[:80]}")
        except httpx.HTTPError as problem:
            errors.append(f"learner {n}: {problem!r}")
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    return errors


async def page(http: httpx.AsyncClient, done: asyncio.Event) -> list[float]:
    """The board page's polling, timed, until the flood is over."""
    waits = []
    while not done.is_set():
        started = time.monotonic()
        reply = await http.get("/api/progress")
        reply.raise_for_status()
        waits.append(time.monotonic() - started)
        try:
            await asyncio.wait_for(done.wait(), PAGE_EVERY)
        except asyncio.TimeoutError:
            pass
    return waits


async def test_two_hundred_learners_posting_every_second_get_no_errors(tmp_path):
    board = BoardProcess(tmp_path / "board.sqlite3").start()
    limits = httpx.Limits(max_connections=LEARNERS + 1, max_keepalive_connections=LEARNERS + 1)
    try:
        async with httpx.AsyncClient(base_url=board.url, timeout=2, limits=limits) as http:
            done = asyncio.Event()
            poller = asyncio.create_task(page(http, done))
            started = time.monotonic()
            results = await asyncio.gather(*(learner(http, board, n) for n in range(LEARNERS)))
            elapsed = time.monotonic() - started
            done.set()
            waits = await poller
            final = (await http.get("/api/progress")).json()
    finally:
        board.kill()
    errors = [e for found in results for e in found]
    print(f"{LEARNERS * ROUNDS} posts in {elapsed:.1f} s; page waits: max {max(waits):.3f} s")
    assert not errors, f"{len(errors)} of {LEARNERS * ROUNDS} posts failed: {errors[:5]}"
    assert elapsed < ROUNDS * 1.1 + 3, f"the flood took {elapsed:.1f} s; the board fell behind"
    assert len(final["learners"]) == LEARNERS
    assert all(row["stages_passed"] == 1 for row in final["learners"])
    assert max(waits) < SLOWEST_PAGE, f"the page waited up to {max(waits):.2f} s for its data"
