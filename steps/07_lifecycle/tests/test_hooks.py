"""Stage 07, the Application alone: its three lists of hooks, awaited in order with the app.

No server here: these tests call `await app.startup()` and friends directly, as the runner
will.
"""

import asyncio

import pytest
from sketch.app import Application

from workshop.testing import expect

LOOK_APP = "sketch/app.py: Application"


def recording_hook(name: str, calls: list[tuple[str, object]]):
    async def hook(app: Application) -> None:
        await asyncio.sleep(0)  # a hook is a coroutine: it only runs if it is awaited
        calls.append((name, app))

    return hook


@pytest.mark.parametrize("phase", ["startup", "shutdown", "cleanup"])
async def test_each_phase_awaits_its_hooks_in_order_with_the_app(phase):
    app = Application()
    calls: list[tuple[str, object]] = []
    hooks = getattr(app, f"on_{phase}")
    for name in ("first", "second", "third"):
        hooks.append(recording_hook(name, calls))
    await getattr(app, phase)()
    names = [name for name, _ in calls]
    expect(
        names == ["first", "second", "third"],
        f"app.{phase}() must await every hook in app.on_{phase}, in the order they were added",
        sent=f"three hooks appended to app.on_{phase}, then `await app.{phase}()`",
        expected="['first', 'second', 'third']",
        got=names,
        look=f"{LOOK_APP}.{phase}",
    )
    expect(
        all(given is app for _, given in calls),
        "each hook is called with the application itself, so it can read and set app[...]",
        expected="hook(app)",
        got=[type(given).__name__ for _, given in calls],
        look=f"{LOOK_APP}.{phase}",
    )


async def test_a_phase_runs_only_its_own_hooks():
    app = Application()
    calls: list[tuple[str, object]] = []
    app.on_startup.append(recording_hook("startup", calls))
    app.on_shutdown.append(recording_hook("shutdown", calls))
    app.on_cleanup.append(recording_hook("cleanup", calls))
    await app.startup()
    after_startup = [name for name, _ in calls]
    await app.shutdown()
    await app.cleanup()
    names = [name for name, _ in calls]
    expect(
        after_startup == ["startup"] and names == ["startup", "shutdown", "cleanup"],
        "startup() runs app.on_startup, shutdown() app.on_shutdown, cleanup() app.on_cleanup",
        sent="one hook in each list; then startup(), shutdown(), cleanup()",
        expected="['startup'] after startup(), then ['startup', 'shutdown', 'cleanup']",
        got=f"{after_startup} after startup(), then {names}",
        look=f"{LOOK_APP}.startup / shutdown / cleanup",
    )


class NoDatabase(Exception):
    """The error our broken hook raises (its own class, so nothing else is mistaken for it)."""


async def test_a_hook_that_raises_stops_the_phase_and_the_error_comes_out():
    app = Application()
    calls: list[tuple[str, object]] = []

    async def broken(app: Application) -> None:
        raise NoDatabase("no database")

    app.on_startup.append(broken)
    app.on_startup.append(recording_hook("after", calls))
    try:
        await app.startup()
    except NoDatabase:
        raised = True
    else:
        raised = False
    expect(
        raised and not calls,
        "a failing startup hook must not be swallowed: the error comes out of startup(), "
        "and the hooks after it do not run (the app is not ready, so the server must not start)",
        sent="app.on_startup = [broken, after]; await app.startup()",
        expected="NoDatabase('no database') raised, `after` never called",
        got=f"raised: {raised}, hooks called after it: {[n for n, _ in calls]}",
        look=f"{LOOK_APP}.startup",
    )
