"""The pytest plugin every stage's tests run under (loaded by `-p workshop.harness`).

It decides which `sketch` package is under test, puts it first on `sys.path`, gives each
test a time limit, and offers the `serve` fixture that runs the learner's server:

    async def test_something(serve):
        server = serve("apps:routing_app")         # python -m sketch --port 0 apps:routing_app

The package under test is, in order: `--sketch-dir DIR`; else the stage folder the tests sit
in (`steps/NN_name/`), or its reference (`solutions/NN_name/`) with `--target solutions`.
One pytest process tests one stage, so two `sketch` packages never meet.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workshop.server import ServerFailed, ServerProcess

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
    # The package under test, and the tests' own helper modules (apps.py), come first.
    for path in (stage.tests_dir, sketch_dir):
        sys.path.insert(0, str(path))


STAGE = pytest.StashKey[Stage]()


def pytest_report_header(config: pytest.Config) -> str | None:
    stage = config.stash.get(STAGE, None)
    return stage and f"stage {stage.id}: testing {stage.sketch_dir / 'sketch'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if STAGE not in config.stash:
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


# --- the server fixture ----------------------------------------------------------------


class _Pool:
    """Running servers, reused by later tests that ask for the same app and arguments."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.running: dict[tuple, ServerProcess] = {}

    def get(self, app: str | None, args: tuple[str, ...], env: dict[str, str], fresh: bool):
        key = (app, args, tuple(sorted(env.items())))
        server = self.running.get(key)
        if fresh or server is None or not server.alive():
            if server is not None:
                server.kill()
            server = ServerProcess(
                self.stage.sketch_dir, app, args, extra_path=[self.stage.tests_dir], env=env
            )
            if not fresh:
                self.running[key] = server
            try:
                server.start()
            except ServerFailed as error:
                self.running.pop(key, None)
                pytest.fail(str(error), pytrace=False)
        return server

    def close(self) -> None:
        for server in self.running.values():
            server.kill()


@pytest.fixture(scope="session")
def _server_pool(pytestconfig: pytest.Config) -> Iterator[_Pool]:
    stage = pytestconfig.stash.get(STAGE, None)
    if stage is None:
        pytest.fail("the serve fixture is only for stage tests (steps/NN_name/tests)")
    pool = _Pool(stage)
    yield pool
    pool.close()


_USED = pytest.StashKey[list]()


@pytest.fixture
def serve(
    _server_pool: _Pool, request: pytest.FixtureRequest
) -> Iterator[Callable[..., ServerProcess]]:
    """Start (or reuse) `python -m sketch --port 0 [APP] [ARGS]` and return the server.

    `fresh=True` gives a process of the test's own, killed when the test ends: use it for
    tests that signal or stop the server.
    """
    own: list[ServerProcess] = []
    used: list[tuple[ServerProcess, int]] = []
    request.node.stash[_USED] = used

    def start(
        app: str | None = None,
        *args: str,
        env: dict[str, str] | None = None,
        fresh: bool = False,
    ) -> ServerProcess:
        server = _server_pool.get(app, tuple(args), env or {}, fresh)
        if fresh:
            own.append(server)
        used.append((server, server.output.total))
        return server

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
