"""The pytest plugin every stage's tests run under (loaded by `-p workshop.harness`).

It decides which `sketch` package is under test, puts it first on `sys.path`, gives each
test a time limit, and offers the `serve` fixture that runs the learner's server:

    async def test_something(serve):
        server = serve("apps:routing_app")         # python -m sketch --port 0 apps:routing_app

The package under test is, in order: `--sketch-dir DIR`; else the stage folder the tests sit
in (`steps/NN_name/`), or its reference (`solutions/NN_name/`) with `--target solutions`.
One pytest process tests one stage, so two `sketch` packages never meet.

Tests marked `side_by_side` (those that mostly wait on the server's timers) all start when
the session does and are reported in their usual place: see workshop/sidebyside.py.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workshop.server import ServerFailed, ServerProcess
from workshop.sidebyside import SideBySide

STAGE_DIR = re.compile(r"^\d\d_[a-z0-9_]+$")
TEST_TIMEOUT = 10.0  # seconds for one stage test, unless it sets its own


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("workshop")
    group.addoption("--sketch-dir", help="the folder holding the sketch/ package under test")
    group.addoption(
        "--target",
        choices=["steps", "solutions"],
        default="steps",
        help="test the learner's folder (steps, the default) or the reference (solutions)",
    )


def _stage_of(path: Path) -> Path | None:
    """The stage folder (…/NN_name) a test path lies in, if any."""
    for parent in [path, *path.parents]:
        if STAGE_DIR.match(parent.name) and parent.parent.name in ("steps", "solutions"):
            return parent
    return None


class Stage:
    """What the harness knows about the stage under test."""

    def __init__(self, stage_dir: Path, sketch_dir: Path) -> None:
        self.id = stage_dir.name
        self.tests_dir = stage_dir / "tests"
        self.sketch_dir = sketch_dir


def pytest_configure(config: pytest.Config) -> None:
    stage_dirs = {
        found
        for arg in config.args
        if (found := _stage_of(Path(arg.split("::")[0]).resolve())) is not None
    }
    if not stage_dirs:
        return  # the workshop's own tests: nothing to set up
    if len(stage_dirs) > 1:
        names = ", ".join(sorted(d.name for d in stage_dirs))
        raise pytest.UsageError(f"test one stage per run, not several: {names}")
    (stage_dir,) = stage_dirs
    option = config.getoption("sketch_dir")
    if option:
        sketch_dir = Path(option).resolve()
    else:
        sketch_dir = stage_dir.parent.parent / config.getoption("target") / stage_dir.name
    if not (sketch_dir / "sketch").is_dir():
        raise pytest.UsageError(f"there is no sketch/ package in {sketch_dir}")
    stage = Stage(stage_dir, sketch_dir)
    config.stash[STAGE] = stage
    config.stash[POOL] = _Pool(stage)
    # The package under test, and the tests' own helper modules (apps.py), come first.
    for path in (stage.tests_dir, sketch_dir):
        sys.path.insert(0, str(path))


STAGE = pytest.StashKey[Stage]()


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(POOL, None)
    if pool is not None:
        pool.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    stage = config.stash.get(STAGE, None)
    return stage and f"stage {stage.id}: testing {stage.sketch_dir / 'sketch'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if STAGE not in config.stash:
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


def _time_limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker and marker.args else TEST_TIMEOUT


# --- tests that run side by side (see workshop/sidebyside.py) ------------------------

_SIDE_BY_SIDE = pytest.StashKey[SideBySide]()


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    pool = session.config.stash.get(POOL, None)
    if pool is None or session.config.option.collectonly:
        return (yield)
    side_by_side = SideBySide(lambda item: _make_serve(pool, item), _time_limit)
    session.config.stash[_SIDE_BY_SIDE] = side_by_side
    try:
        side_by_side.start(session.items)
        return (yield)
    finally:
        side_by_side.close()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    side_by_side = pyfuncitem.config.stash.get(_SIDE_BY_SIDE, None)
    if side_by_side is None or pyfuncitem not in side_by_side:
        return None  # run as usual
    side_by_side.outcome(pyfuncitem)  # raises what the test raised
    return True


# --- the server fixture ----------------------------------------------------------------


class _Pool:
    """Running servers, reused by later tests that ask for the same app and arguments.

    Tests that run side by side (workshop.sidebyside) ask from several threads at once.
    """

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.running: dict[tuple, ServerProcess] = {}
        self.lock = threading.Lock()

    def get(self, app: str | None, args: tuple[str, ...], env: dict[str, str], fresh: bool):
        if fresh:  # a process of the test's own: no need to hold up the other threads
            return self._start(app, args, env)
        key = (app, args, tuple(sorted(env.items())))
        with self.lock:
            server = self.running.get(key)
            if server is None or not server.alive():
                if server is not None:
                    server.kill()
                self.running.pop(key, None)
                server = self._start(app, args, env)
                self.running[key] = server
            return server

    def _start(self, app: str | None, args: tuple[str, ...], env: dict[str, str]):
        server = ServerProcess(
            self.stage.sketch_dir, app, args, extra_path=[self.stage.tests_dir], env=env
        )
        try:
            server.start()
        except ServerFailed as error:
            server.kill()
            pytest.fail(str(error), pytrace=False)
        return server

    def close(self) -> None:
        for server in self.running.values():
            server.kill()


POOL = pytest.StashKey[_Pool]()
_USED = pytest.StashKey[list]()


def _make_serve(pool: _Pool, item: pytest.Item) -> tuple[Callable[..., ServerProcess], list]:
    """The `serve` function for ITEM, and the list of the fresh servers it started."""
    own: list[ServerProcess] = []
    used: list[tuple[ServerProcess, int]] = item.stash.setdefault(_USED, [])

    def start(
        app: str | None = None,
        *args: str,
        env: dict[str, str] | None = None,
        fresh: bool = False,
    ) -> ServerProcess:
        server = pool.get(app, tuple(args), env or {}, fresh)
        if fresh:
            own.append(server)
        used.append((server, server.output.total))
        return server

    return start, own


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Iterator[Callable[..., ServerProcess]]:
    """Start (or reuse) `python -m sketch --port 0 [APP] [ARGS]` and return the server.

    `fresh=True` gives a process of the test's own, killed when the test ends: use it for
    tests that signal or stop the server.
    """
    pool = request.config.stash.get(POOL, None)
    if pool is None:
        pytest.fail("the serve fixture is only for stage tests (steps/NN_name/tests)")
    start, own = _make_serve(pool, request.node)
    yield start
    for server in own:
        server.kill()


@pytest.fixture
def server(serve: Callable[..., ServerProcess]) -> ServerProcess:
    """The stage's own demo server (`python -m sketch --port 0`)."""
    return serve()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed and _USED in item.stash:
        for server, mark in item.stash[_USED]:
            death = server.describe_death()
            text = death or server.output.last_lines(30, mark)
            if text:
                report.sections.append(("server output", text))
    return report
