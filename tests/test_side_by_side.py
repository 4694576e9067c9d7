"""Tests marked side_by_side start together and are reported in their place, in bounded time.

Each case is a fake stage (steps/99_fake/tests) run through the real runner against an echo
server, as `invoke check` would run it.
"""

import textwrap
from pathlib import Path

from tests.test_harness import fake_sketch, serving
from workshop import manifest, runner

HEAD = """
import asyncio
import pytest
from workshop.testing import Connection, expect

pytestmark = pytest.mark.side_by_side


async def echoed(serve, data: bytes, wait: float) -> bytes:
    async with await Connection.open(serve()) as conn:
        await conn.send(data)
        await asyncio.sleep(wait)
        return await conn.read_exactly(len(data))
"""


def fake_stage(tmp_path: Path, tests: str) -> tuple[Path, Path]:
    """A stage folder holding TESTS, and a learner's folder with an echo server."""
    tests_dir = tmp_path / "steps" / "99_fake" / "tests"
    tests_dir.mkdir(parents=True)
    (tests_dir / "test_fake.py").write_text(HEAD + textwrap.dedent(tests))
    (tmp_path / "learner").mkdir()
    return tests_dir, fake_sketch(tmp_path / "learner", serving())


def run(tests_dir: Path, sketch_dir: Path, **options) -> runner.StageRun:
    stage = manifest.find("01_echo")  # any stage: the tests and the package are ours
    return runner.run_stage(stage, sketch_dir=sketch_dir, tests_dir=tests_dir, **options)


def test_waiting_tests_overlap_and_each_is_reported_in_its_place(tmp_path):
    tests = "".join(
        f"""
async def test_{n}(serve):
    got = await echoed(serve, b"{n}", 0.6)
    expect(got == b"{n}" and {n} != 3, "test 3 fails on purpose", sent=b"{n}", got=got)
"""
        for n in range(1, 6)
    )
    result = run(*fake_stage(tmp_path, tests))
    statuses = [(t.name, t.status) for t in result.tests]
    assert statuses == [
        ("test_1", "pass"),
        ("test_2", "pass"),
        ("test_3", "fail"),
        ("test_4", "pass"),
        ("test_5", "pass"),
    ], result.output
    assert "test 3 fails on purpose" in result.tests[2].message
    assert "sent:     b'3'" in result.tests[2].message
    # One after another the waits alone would take 3.0 s.
    assert result.duration < 2.2, f"five 0.6 s waits took {result.duration:.2f} s in all"


def test_a_hung_test_times_out_alone_and_a_first_failure_stops_the_rest(tmp_path):
    tests = """
@pytest.mark.timeout(1)
async def test_hangs(serve):
    await echoed(serve, b"x", 60)


async def test_passes(serve):
    assert await echoed(serve, b"y", 0.1) == b"y"
"""
    tests_dir, sketch_dir = fake_stage(tmp_path, tests)
    result = run(tests_dir, sketch_dir)
    assert [(t.name, t.status) for t in result.tests] == [
        ("test_hangs", "timeout"),
        ("test_passes", "pass"),
    ], result.output
    assert result.duration < 5, f"took {result.duration:.1f} s"

    # With -x (invoke check's default) the session ends at the first failure, and a test
    # still running beside it is cancelled rather than waited for.
    (tests_dir / "test_fake.py").write_text(
        HEAD
        + """
async def test_fails(serve):
    expect(False, "fails at once")


async def test_would_wait_a_minute(serve):
    await echoed(serve, b"x", 60)
"""
    )
    result = run(tests_dir, sketch_dir, first_failure=True)
    assert [(t.name, t.status) for t in result.tests] == [("test_fails", "fail")], result.output
    assert result.duration < 5, f"took {result.duration:.1f} s"


def test_a_side_by_side_test_may_ask_only_for_serve_and_tmp_path(tmp_path):
    tests = """
@pytest.fixture
def answer():
    return 42


async def test_wants_a_fixture(serve, answer):
    pass
"""
    result = run(*fake_stage(tmp_path, tests))
    assert (
        "may ask only for serve, tmp_path, sketch, apps and drivers, not for 'answer'"
        in result.output
    )
    assert result.exit_code not in (0, None)


def test_an_error_as_the_judge_shuts_down_fails_the_run(tmp_path):
    # The judge's exit code is pytest's, to the very end of its shutdown: an error there
    # (here a hook of the stage's conftest) must not be lost. (A faster exit, os._exit once
    # the report was written, once hid it: a run that should fail passed.)
    tests = """
async def test_passes(serve):
    assert await echoed(serve, b"hi", 0) == b"hi"
"""
    tests_dir, sketch_dir = fake_stage(tmp_path, tests)
    fine = run(tests_dir, sketch_dir)
    assert fine.passed and fine.exit_code == 0, fine.output
    (tests_dir / "conftest.py").write_text(
        "def pytest_unconfigure(config):\n    raise RuntimeError('broken at shutdown')\n"
    )
    broken = run(tests_dir, sketch_dir)
    assert broken.exit_code != 0 and not broken.passed, broken.output
