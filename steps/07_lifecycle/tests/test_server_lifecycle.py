"""Stage 07 over a real server process: hooks around the life of `python -m sketch`.

The app in apps.py records every hook in a marker file (one line each) and prints it. So
after the server has run, the file tells which hooks ran, in which order, and the server's
output tells whether the startup hooks ran before it began to serve.
"""

import asyncio
import signal
from pathlib import Path

import pytest

from workshop.server import ServerFailed
from workshop.testing import expect, get, request

LOOK_RUNNER = "sketch/runner.py: serve"
STARTED = ["startup 1", "startup 2"]
STOPPED = ["shutdown 1", "shutdown 2", "cleanup 1", "cleanup 2"]
EXIT_WAIT = 3.0  # seconds a signalled server gets to run its hooks and exit


def events(marker: Path) -> list[str]:
    """The hooks recorded so far, in order."""
    return marker.read_text(encoding="utf-8").splitlines() if marker.exists() else []


@pytest.fixture(scope="module")
def shared_marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One marker for the server the non-signal tests share (same env: same process)."""
    return tmp_path_factory.mktemp("lifecycle") / "marker"


async def test_startup_hooks_run_in_order_before_the_server_accepts_connections(
    serve, shared_marker
):
    server = serve("apps:lifecycle_app", env={"MARKER": str(shared_marker)})
    recorded = events(shared_marker)
    expect(
        recorded[:2] == STARTED,
        "by the time the server says `Serving on ...`, both startup hooks must have run, "
        "in the order they were added",
        sent="(nothing: the server has just started)",
        expected=f"the marker file starts with {STARTED}",
        got=recorded,
        look=LOOK_RUNNER,
    )
    output = server.output.since(0)
    serving = output.find("Serving on")
    last_hook = output.find("hook: startup 2")
    expect(
        0 <= last_hook < serving,
        "await app.startup() first, then start the server: a request must never reach an app "
        "whose startup hooks have not finished",
        expected="`hook: startup 2` printed before `Serving on ...`",
        got=output.strip() or "(no output)",
        look=LOOK_RUNNER,
    )


async def test_handlers_see_the_state_startup_hooks_put_on_the_app(serve, shared_marker):
    server = serve("apps:lifecycle_app", env={"MARKER": str(shared_marker)})
    data = get("/state")
    reply = await request(server, data)
    want = "config=settings.toml; database=connected with settings.toml\n"
    expect(
        reply.status == 200 and reply.text == want,
        "a handler reads request.app[...] set by the startup hooks: the runner must start "
        "the very app it serves, once, before serving",
        sent=data,
        expected=f"200 OK, body {want!r}",
        got=reply.summary(),
        look=f"{LOOK_RUNNER} and sketch/app.py: Application.startup",
    )


# The tests with a server of their own mostly wait for it to start and exit: they run side by
# side (workshop/sidebyside.py), each on its own process, so the stage checks in the time of one.
@pytest.mark.side_by_side
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_runs_shutdown_then_cleanup_hooks_and_exits_0(serve, tmp_path, signum):
    marker, listening = tmp_path / "marker", tmp_path / "listening"
    env = {"MARKER": str(marker), "LISTENING": str(listening)}
    server = serve("apps:lifecycle_app", env=env, fresh=True)
    listening.write_text(f"{server.port}\n", encoding="utf-8")  # for its first shutdown hook
    data = get("/state")
    reply = await request(server, data, look=LOOK_RUNNER)  # a server that has served, then stops
    expect(
        reply.status == 200,
        "before the signal, GET /state must answer 200",
        sent=data,
        expected="200 OK",
        got=reply.summary(),
        look=LOOK_RUNNER,
    )
    server.send_signal(signum)
    code = await asyncio.to_thread(server.wait, EXIT_WAIT)
    name = signal.Signals(signum).name
    expect(
        code == 0,
        f"on {name} the server stops in an orderly way and exits with code 0: "
        "wait for the signal (stop_event() in runner.py), then close the server and run "
        "the hooks",
        sent=f"{name} to the server process",
        expected="exit code 0",
        got="still running" if code is None else f"exit code {code}",
        look=LOOK_RUNNER,
    )
    recorded = events(marker)
    expect(
        recorded == STARTED + STOPPED,
        f"after {name}, the shutdown hooks run in order, then the cleanup hooks in order",
        sent=f"{name} to the server process",
        expected=STARTED + STOPPED,
        got=recorded,
        look=f"{LOOK_RUNNER}, sketch/app.py: Application.shutdown and Application.cleanup",
    )
    probed = listening.read_text(encoding="utf-8").split()[1:]
    expect(
        probed == ["refused"],
        f"after {name}, close the listening socket (server.close()) before the shutdown "
        "hooks run: they release what the handlers use, so no new connection may come in "
        "meanwhile",
        sent=f"{name}, then, from the first shutdown hook, a new connection to the server",
        expected="the connection refused",
        got="the connection was accepted" if probed == ["accepted"] else f"{probed}",
        look=f"{LOOK_RUNNER} (server.close())",
    )


@pytest.mark.side_by_side
async def test_the_hooks_run_however_the_wait_for_the_signal_ends(serve, tmp_path):
    marker = tmp_path / "marker"
    server = serve("apps:cancelling_app", env={"MARKER": str(marker)}, fresh=True)
    data = get("/cancel")
    reply = await request(server, data, look=LOOK_RUNNER)
    code = await asyncio.to_thread(server.wait, EXIT_WAIT)
    recorded = events(marker)
    expect(
        reply.status == 200 and code is not None and recorded == STARTED + STOPPED,
        "the wait for a signal may end another way: here the task running serve is "
        "cancelled (as asyncio.run does on Ctrl-C without signal handlers, or a program that "
        "embeds the server does to stop it). The shutdown and cleanup hooks must run all the "
        "same: put them in the `finally:` of a try around the wait",
        sent=f"{data!r}, whose handler cancels the task that runs serve",
        expected=f"the process exits, the marker file {STARTED + STOPPED}",
        got=f"{reply.summary()}; "
        + ("still running" if code is None else f"exit code {code}")
        + f"; marker file {recorded}",
        look=f"{LOOK_RUNNER} (try: await stop.wait() finally: ...)",
    )


def test_a_failing_startup_hook_stops_the_server_with_a_clear_message(make_server, tmp_path):
    marker = tmp_path / "marker"
    server = make_server("apps:failing_app", env={"MARKER": str(marker)})
    try:
        server.start(timeout=EXIT_WAIT)
    except ServerFailed:
        started = False
    else:
        started = True
    finally:
        server.kill()
    output = server.output.since(0)
    code = server.exit_code
    expect(
        not started,
        "a startup hook that raises means the app is not ready: the server must not serve",
        sent="python -m sketch --port 0 apps:failing_app (its 2nd startup hook raises)",
        expected="no `Serving on ...`: the process exits",
        got=output.strip(),
        look=LOOK_RUNNER,
    )
    expect(
        code not in (0, None, -signal.SIGKILL),
        "the process must exit by itself with a non-zero code, so scripts and supervisors "
        "see that it failed",
        sent="python -m sketch --port 0 apps:failing_app",
        expected="a non-zero exit code, promptly",
        got="killed after waiting" if code == -signal.SIGKILL else f"exit code {code}",
        look=f"{LOOK_RUNNER} (let the hook's error propagate)",
    )
    expect(
        "ConnectionRefusedError" in output and "db.example:5432 is not answering" in output,
        "the message must say what failed: the hook's own exception and its text",
        sent="python -m sketch --port 0 apps:failing_app",
        expected="ConnectionRefusedError: the database at db.example:5432 is not answering",
        got=output.strip()[-600:],
        look=f"{LOOK_RUNNER} (let the hook's error propagate)",
    )
    expect(
        events(marker) == ["startup 1"],
        "the hooks before the failing one ran; nothing after it did",
        expected=["startup 1"],
        got=events(marker),
        look="sketch/app.py: Application.startup",
    )
