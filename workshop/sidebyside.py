"""Tests that wait on the server's clocks, run side by side (`@pytest.mark.side_by_side`).

Some tests spend nearly all their time waiting: for a keep-alive timer to fire, for a slow
handler, for a signalled process to exit. Run one after another, those waits add up to
seconds of `invoke check`. So the harness starts every marked test of the session at once,
as the session begins, each on an event loop of its own in a thread of its own. When
pytest reaches such a test in its usual place, it waits for that test's own outcome and
reports it there: the same pass, the same failure message, the same server output.

What a test needs to be run this way:
- it is a coroutine (`async def test_...`) and stands alone: its own connections, its own
  fresh server when it signals one, nothing shared with the tests that run beside it;
- it asks only for `serve`, `tmp_path`, `sketch`, `apps` and `drivers`, made here, and for
  its own `parametrize` arguments, because pytest sets fixtures up for one test at a time
  and these tests have started long before their turn (the object child answers several
  threads at once).
Each one keeps its time limit, counted from the moment it starts.
"""

from __future__ import annotations

import asyncio
import inspect
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

MARKER = "side_by_side"
FIXTURES = ("serve", "tmp_path", "sketch", "apps", "drivers")
LEARNER_MODULES = ("sketch", "apps", "drivers")  # handles from the object child


def wanted(item: pytest.Item) -> bool:
    """Whether ITEM is to run side by side."""
    function = getattr(item, "function", None)
    return item.get_closest_marker(MARKER) is not None and inspect.iscoroutinefunction(function)


class _Run(threading.Thread):
    """One test, running to its end on an event loop of its own."""

    def __init__(self, item: pytest.Function, kwargs: dict, limit: float) -> None:
        super().__init__(name=f"side by side: {item.name}", daemon=True)
        # Taken now, before any test runs: when pytest reaches the item, pytest-asyncio swaps
        # `item.obj` for a wrapper that runs it on pytest's own loop, in pytest's thread.
        self.function = item.function
        self.kwargs = kwargs
        self.limit = limit
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._bounded())
        except BaseException as error:  # reported when pytest reaches the test
            self.error = error
        finally:
            self.finished.set()

    async def _bounded(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        kwargs = {
            name: await asyncio.to_thread(value) if isinstance(value, _Later) else value
            for name, value in self.kwargs.items()
        }
        test = asyncio.ensure_future(self.function(**kwargs))
        done, _ = await asyncio.wait({test}, timeout=self.limit)
        if not done:  # like pytest-timeout's message, so reports count it as a timeout
            test.cancel()
            await asyncio.gather(test, return_exceptions=True)
            pytest.fail(f"Timeout (>{self.limit}s) while running side by side", pytrace=False)
        test.result()  # the test's own failure, if any

    def stop(self) -> None:
        """Cancel the test if it is still running, and give it a moment to unwind."""
        if self.loop is not None and self.task is not None and not self.finished.is_set():
            self.loop.call_soon_threadsafe(self.task.cancel)
        if self.ident is not None:  # never started when the session stopped at a usage error
            self.join(timeout=1.0)


class _Later:
    """A fixture made in the test's own thread when it starts (a module of the object child)."""

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make

    def __call__(self) -> object:
        return self.make()


class SideBySide:
    """The session's side-by-side tests: started together, reported one at a time."""

    def __init__(
        self,
        make_serve: Callable,
        limit_of: Callable[[pytest.Item], float],
        learner_module: Callable[[pytest.Config, str], object],
    ) -> None:
        self.make_serve = make_serve  # item -> (serve function, its fresh servers)
        self.limit_of = limit_of
        self.learner_module = learner_module  # (config, name) -> handle to the module
        self.runs: dict[str, _Run] = {}
        self.fresh: list = []
        self._tmp = tempfile.TemporaryDirectory(prefix="sketch-side-by-side-")

    def start(self, items: list[pytest.Item]) -> None:
        for item in filter(wanted, items):
            assert isinstance(item, pytest.Function)
            kwargs = {}
            params = item.callspec.params if hasattr(item, "callspec") else {}
            for name in item.fixturenames:
                if name in params:  # @pytest.mark.parametrize: this item's own value
                    kwargs[name] = params[name]
                elif name == "serve":
                    kwargs[name], fresh = self.make_serve(item)
                    self.fresh.append(fresh)
                elif name == "tmp_path":
                    kwargs[name] = Path(tempfile.mkdtemp(dir=self._tmp.name))
                elif name in LEARNER_MODULES:
                    config = item.config
                    kwargs[name] = _Later(lambda c=config, n=name: self.learner_module(c, n))
                elif name in inspect.signature(item.function).parameters:
                    raise pytest.UsageError(
                        f"{item.nodeid} runs side by side, so it may ask only for "
                        f"{', '.join(FIXTURES[:-1])} and {FIXTURES[-1]}, not for {name!r}"
                    )
            self.runs[item.nodeid] = _Run(item, kwargs, self.limit_of(item))
        for run in self.runs.values():
            run.start()

    def __contains__(self, item: pytest.Item) -> bool:
        return item.nodeid in self.runs

    def outcome(self, item: pytest.Item) -> None:
        """Wait for ITEM's run to end, and raise its failure as if it had run here."""
        run = self.runs[item.nodeid]
        started = time.monotonic()
        while not run.finished.wait(0.1):  # short waits, so Ctrl-C and timeouts get through
            if time.monotonic() - started > run.limit + 5:
                # Only a test that blocks its thread outright gets here, past its own bound.
                pytest.fail(
                    f"Timeout (>{run.limit}s): the side-by-side run never ended", pytrace=False
                )
        if run.error is not None:
            raise run.error

    def close(self) -> None:
        for run in self.runs.values():
            run.stop()
        for servers in self.fresh:
            for server in servers:
                server.kill()
        self._tmp.cleanup()
