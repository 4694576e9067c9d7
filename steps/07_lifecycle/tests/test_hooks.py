"""Stage 07, the Application alone: its three lists of hooks, awaited in order with the app.

No server here: these tests call `await app.startup()` and friends directly, as the runner
will. Your Application lives in the process that imports your code; the recording hooks come
from tests/apps.py, imported there too (`sketch` and `apps` are handles).
"""

import pytest

from workshop.remote import is_a
from workshop.testing import expect

LOOK_APP = "sketch/app.py: Application"


@pytest.mark.parametrize("phase", ["startup", "shutdown", "cleanup"])
async def test_each_phase_awaits_its_hooks_in_order_with_the_app(sketch, apps, phase):
    app = sketch.app.Application()
    record = apps.HookCalls()
    hooks = getattr(app, f"on_{phase}")
    for name in ("first", "second", "third"):
        hooks.append(record.hook(name))
    await getattr(app, phase)()
    names = record.names()
    expect(
        names == ["first", "second", "third"],
        f"app.{phase}() must await every hook in app.on_{phase}, in the order they were added",
        sent=f"three hooks appended to app.on_{phase}, then `await app.{phase}()`",
        expected="['first', 'second', 'third']",
        got=names,
        look=f"{LOOK_APP}.{phase}",
    )
    given = [value for _, value in record.calls]
    expect(
        all(value is app for value in given),
        "each hook is called with the application itself, so it can read and set app[...]",
        expected="hook(app)",
        got=[getattr(value, "type_name", type(value).__name__) for value in given],
        look=f"{LOOK_APP}.{phase}",
    )


async def test_a_phase_runs_only_its_own_hooks(sketch, apps):
    app = sketch.app.Application()
    record = apps.HookCalls()
    app.on_startup.append(record.hook("startup"))
    app.on_shutdown.append(record.hook("shutdown"))
    app.on_cleanup.append(record.hook("cleanup"))
    await app.startup()
    after_startup = record.names()
    await app.shutdown()
    await app.cleanup()
    names = record.names()
    expect(
        after_startup == ["startup"] and names == ["startup", "shutdown", "cleanup"],
        "startup() runs app.on_startup, shutdown() app.on_shutdown, cleanup() app.on_cleanup",
        sent="one hook in each list; then startup(), shutdown(), cleanup()",
        expected="['startup'] after startup(), then ['startup', 'shutdown', 'cleanup']",
        got=f"{after_startup} after startup(), then {names}",
        look=f"{LOOK_APP}.startup / shutdown / cleanup",
    )


async def test_a_hook_that_raises_stops_the_phase_and_the_error_comes_out(sketch, apps):
    app = sketch.app.Application()
    record = apps.HookCalls()
    app.on_startup.append(apps.broken)  # raises apps.NoDatabase("no database")
    app.on_startup.append(record.hook("after"))
    try:
        await app.startup()
    except Exception as error:
        raised = is_a(error, "apps.NoDatabase")
    else:
        raised = False
    expect(
        raised and not record.calls,
        "a failing startup hook must not be swallowed: the error comes out of startup(), "
        "and the hooks after it do not run (the app is not ready, so the server must not start)",
        sent="app.on_startup = [broken, after]; await app.startup()",
        expected="NoDatabase('no database') raised, `after` never called",
        got=f"raised: {raised}, hooks called after it: {record.names()}",
        look=f"{LOOK_APP}.startup",
    )
