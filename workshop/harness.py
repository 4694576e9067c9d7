"""The pytest plugin every stage's tests run under (loaded by `-p workshop.harness`).

This process is the judge: it holds only trusted code (the stage's tests, this harness and
their dependencies) and never imports the learner's `sketch`. It decides which `sketch`
package is under test, copies that one folder for the learner's processes to import, gives
each test a time limit, and offers the fixtures that reach the learner's code:

    async def test_something(serve):
        server = serve("apps:routing_app")         # python -m sketch --port 0 apps:routing_app

    def test_an_object(sketch):
        raw = sketch.Response(text="hi").encode()  # made and encoded in the object child

`sketch`, `apps` and `drivers` are handles to modules imported in the stage's object child
(workshop/child.py, workshop/remote.py), a process started once the tests are collected if
any of them asks for one of these, which imports the learner's package while the first
tests run. With `--sandbox` (grading) every learner process runs in the
bubblewrap sandbox of workshop/sandbox.py.

The package under test is, in order: `--sketch-dir DIR`; else the stage folder the tests sit
in (`steps/NN_name/`), or its reference (`solutions/NN_name/`) with `--target solutions`.

Tests marked `side_by_side` (those that mostly wait on the server's timers) all start when
the session does and are reported in their usual place: see workshop/sidebyside.py.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workshop import sandbox, sidebyside, todos, watchdog
from workshop.remote import RECURSION, ObjectChild, Remote
from workshop.report import DIAGNOSIS
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
    group.addoption(
        "--fork-server",
        action="store_true",
        help="fork learner processes from a warm Python (faster; workshop/forkserver.py)",
    )
    group.addoption(
        "--fork-server-fd",
        type=int,
        help="with --fork-server: the socket of a fork server already started (workshop.runner)",
    )
    group.addoption(
        "--sandbox",
        action="store_true",
        help="run every learner process in the bubblewrap sandbox (workshop/sandbox.py)",
    )


def _stage_of(path: Path) -> Path | None:
    """The stage folder (…/NN_name) a test path lies in, if any."""
    for parent in [path, *path.parents]:
        if STAGE_DIR.match(parent.name) and parent.parent.name in ("steps", "solutions"):
            return parent
    return None


MAX_SKETCH_BYTES = 20 * 1024**2  # a learner's sketch/ larger than this is not copied


class Stage:
    """What the harness knows about the stage under test, and the learner's processes."""

    def __init__(
        self,
        stage_dir: Path,
        sketch_dir: Path,
        sandboxed: bool = False,
        fork: bool = False,
        fork_fd: int | None = None,
    ) -> None:
        self.id = stage_dir.name
        self.tests_dir = stage_dir / "tests"
        self.sketch_dir = sketch_dir  # the folder holding the package under test
        self.root = Path(__file__).resolve().parent.parent  # the trusted checkout
        # Learner processes import a copy of sketch/ alone: never the stage folder itself.
        self._tmp = tempfile.TemporaryDirectory(prefix="sketch-learner-")
        self.copy_dir = Path(self._tmp.name)
        copy_sketch(sketch_dir / "sketch", self.copy_dir / "sketch")
        self.confinement = sandbox.Confinement(
            sandboxed,
            readable=[self.root, self.tests_dir, self.copy_dir],
            fork=fork,
            fork_fd=fork_fd,
        )
        self._child: ObjectChild | None = None
        self._child_lock = threading.Lock()

    def rename(self, text: str) -> str:
        """Text from a learner process, with the copy's paths turned into the learner's."""
        shown = _shown(self.sketch_dir / "sketch")
        return text.replace(str(self.copy_dir / "sketch"), shown)

    def start_child(self) -> ObjectChild:
        child = ObjectChild(
            self.copy_dir,
            self.tests_dir,
            self.root,
            confinement=self.confinement,
            rename=self.rename,
        ).start()
        child.send_ahead("import", name="sketch")  # imported while the first tests run
        self._child = child
        return child

    def child(self) -> ObjectChild:
        """The object child, a new one if the last one hung, died or flooded."""
        with self._child_lock:
            if self._child is None or not self._child.alive():
                if self._child is not None:
                    self._child.close()
                self.start_child()
            assert self._child is not None
            return self._child

    def server(self, app: str | None = None, args=(), env=None) -> ServerProcess:
        """A learner's server for this stage (not started)."""
        return ServerProcess(
            self.copy_dir,
            app,
            args,
            extra_path=[self.tests_dir],
            env=env,
            confinement=self.confinement,
            rename=self.rename,
        )

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
        self.confinement.close()
        self._tmp.cleanup()


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def copy_sketch(source: Path, target: Path) -> None:
    """Copy the learner's package (files only, no caches), refusing one that is too large."""
    total = 0
    for path in source.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            if total > MAX_SKETCH_BYTES:
                raise pytest.UsageError(
                    f"{source} holds more than {MAX_SKETCH_BYTES // 1024**2} MiB: "
                    "a sketch/ package is a few small .py files"
                )
    shutil.copytree(
        source,
        target,
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


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
    if config.getoption("sandbox") and sandbox.unavailable():
        raise pytest.UsageError(f"--sandbox: {sandbox.unavailable()}")
    # Nothing of the learner's goes on this process's sys.path: learner code runs only in
    # the servers and in the object child, started after collection when a test needs it.
    stage = Stage(
        stage_dir,
        sketch_dir,
        sandboxed=config.getoption("sandbox"),
        fork=config.getoption("fork_server"),
        fork_fd=config.getoption("fork_server_fd"),
    )
    config.stash[STAGE] = stage
    config.stash[POOL] = _Pool(stage)


STAGE = pytest.StashKey[Stage]()


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(POOL, None)
    if pool is not None:
        pool.close()
    stage = config.stash.get(STAGE, None)
    if stage is not None:
        stage.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    stage = config.stash.get(STAGE, None)
    if stage is None:
        return None
    how = "in the sandbox" if stage.confinement.sandboxed else "not sandboxed"
    return f"stage {stage.id}: testing {stage.sketch_dir / 'sketch'} ({how})"


LEARNER_FIXTURES = {"sketch", "apps", "drivers"}  # the fixtures the object child serves


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    stage = config.stash.get(STAGE, None)
    if stage is None:
        return
    if any(LEARNER_FIXTURES & set(getattr(item, "fixturenames", ())) for item in items):
        stage.child()  # started now, importing the learner's package while tests begin
    for item in items:
        marker = item.get_closest_marker("timeout")
        limit = float(marker.args[0]) if marker and marker.args else TEST_TIMEOUT
        item.stash[_LIMIT] = limit
        if sidebyside.wanted(item):
            # The side-by-side run enforces LIMIT itself, from the moment the test starts,
            # and reports it as a timeout. pytest-timeout's clock would start when pytest
            # reaches the item, which may be later or earlier than that: leave it a backstop.
            item.add_marker(pytest.mark.timeout(limit + SIDE_BY_SIDE_MARGIN), append=False)
        elif marker is None:
            item.add_marker(pytest.mark.timeout(limit))


_LIMIT = pytest.StashKey[float]()
SIDE_BY_SIDE_MARGIN = 10.0  # seconds pytest-timeout waits beyond a side-by-side test's limit


def _time_limit(item: pytest.Item) -> float:
    """The time limit of ITEM: its own `timeout` mark, else TEST_TIMEOUT."""
    return item.stash.get(_LIMIT, TEST_TIMEOUT)


# --- tests that run side by side (see workshop/sidebyside.py) ------------------------

_SIDE_BY_SIDE = pytest.StashKey[SideBySide]()


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    pool = session.config.stash.get(POOL, None)
    if pool is None or session.config.option.collectonly:
        return (yield)
    # Everything made so far (pytest, its plugins, the tests) lives as long as the judge:
    # frozen, it is left out of every garbage collection from now on. pytest collects in
    # full twice at the end of a session (for unraisable exceptions), which walked all of
    # it: ~35 ms of every check. What the tests make is collected as before.
    gc.freeze()
    side_by_side = SideBySide(lambda item: _make_serve(pool, item), _time_limit, _learner_module)
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
        # One lock for all: servers start one after another. Started at once, they share the
        # cores, and the one most tests wait for (the first asked for) is up later; forked
        # (workshop/forkserver.py), at once was no faster either (09: 1.14 s against 1.16 s,
        # medians of 8 interleaved checks).
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
        server = self.stage.server(app, args, env)
        try:
            server.start()
        except ServerFailed as error:
            server.kill()
            pytest.fail(str(error), pytrace=False)
        return server

    def close(self) -> None:
        servers = list(self.running.values())
        for server in servers:  # all killed first, then waited for: their ends overlap
            server.kill(wait=False)
        for server in servers:
            server.wait(2)


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
        told = False
        for server, mark in item.stash[_USED]:
            found = diagnosis(server, mark)
            if found and not told:  # workshop.report puts it before the test's own message
                report.sections.append((DIAGNOSIS, found))
                told = True
            death = server.describe_death()
            text = death or server.tail(30, mark)
            if text:
                report.sections.append(("server output", text))
            if found and watchdog.NOTE.search(found):
                server.kill()  # its loop is stuck for good: the next test gets a new one
    return report


def diagnosis(server: ServerProcess, mark: int) -> str | None:
    """What happened to SERVER while a test failed, in the words the failure should start
    with (and a `look at:` line where it knows better than the test), or None.

    The test saw only its side of the socket ("no response within 2 s", "the connection
    closed"); this says why, when the server's side tells: it flooded its output, its
    event loop was blocked (workshop.watchdog), the learner's code reached a TODO, or it
    exited when the test had not asked it to.
    """
    if server.flooded:
        return server.how_it_ended()
    output = server.output.since(mark)
    blocked = watchdog.NOTE.search(output)
    if blocked:
        said, where = watchdog.explain(blocked)
        return (
            f"{said}: no other connection is read, no timer fires, nothing is written."
            f"\n  look at:  {where}"
        )
    ended = None if server.expected_exit() else server.how_it_ended()
    todo = todos.raised(output)
    if todo is not None:
        where = f"{todo.file}: {todo.function}"
        stopped = f"Your code stopped at a TODO: {where} raised NotImplementedError."
        return "\n".join([stopped, *([ended] if ended else []), f"  look at:  {where}"])
    if ended is None and "RecursionError" in output:
        return f"The server logged a RecursionError (its output is below).\n{RECURSION}"
    return ended


# --- the learner's objects, in the object child -------------------------------------------


def _learner_module(config: pytest.Config, name: str) -> Remote:
    """The module NAME, imported in the stage's object child."""
    stage = config.stash.get(STAGE, None)
    if stage is None:
        pytest.fail(f"the {name} fixture is only for stage tests (steps/NN_name/tests)")
    return stage.child().module(name)


@pytest.fixture
def sketch(request: pytest.FixtureRequest) -> Remote:
    """The learner's `sketch` package, imported in the object child: `sketch.Response(...)`."""
    return _learner_module(request.config, "sketch")


@pytest.fixture
def apps(request: pytest.FixtureRequest) -> Remote:
    """The stage's tests/apps.py (handlers, hooks, middlewares), imported in the object child."""
    return _learner_module(request.config, "apps")


@pytest.fixture
def drivers(request: pytest.FixtureRequest) -> Remote:
    """The stage's tests/drivers.py (scenarios that return observations), in the object child."""
    return _learner_module(request.config, "drivers")


@pytest.fixture
def sketch_files(request: pytest.FixtureRequest) -> Path:
    """The folder of the learner's sketch/ package, to read as text (never to import)."""
    stage = request.config.stash.get(STAGE, None)
    if stage is None:
        pytest.fail("the sketch_files fixture is only for stage tests (steps/NN_name/tests)")
    return stage.copy_dir / "sketch"


@pytest.fixture
def make_server(request: pytest.FixtureRequest) -> Callable[..., ServerProcess]:
    """`make_server(app, *args, env=...)`: a learner's server not yet started, for a test that
    starts it itself (`server.start(timeout)`) and kills it (`server.kill()`)."""
    stage = request.config.stash.get(STAGE, None)
    if stage is None:
        pytest.fail("the make_server fixture is only for stage tests (steps/NN_name/tests)")
    return lambda app=None, *args, env=None: stage.server(app, args, env)
