"""The final reference server, run for the workshop's own tests of hostile input, fuzzing and
conformance.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path

from workshop import manifest
from workshop.server import ServerProcess
from workshop.testing import Reply, expect, get, request

REFERENCE = manifest.final().solution_dir()  # the finished framework

# Lines asyncio logs when a callback or task failed: none may appear, whatever was sent.
BAD_LOG_LINES = ("never retrieved", "Fatal error", "Exception in callback", "socket.send()")


def failures_logged(log: str) -> list[str]:
    return [line for line in log.splitlines() if any(word in line for word in BAD_LOG_LINES)]


def running_reference(
    app: str | None = None, args: Sequence[str] = (), extra_path: Sequence[Path] = ()
) -> Iterator[ServerProcess]:
    """Serve the reference for a module's tests, then check it survived and logged no failure.

    Use as the body of a module-scoped fixture: `yield from running_reference(...)`.
    """
    process = ServerProcess(REFERENCE, app, args, extra_path=extra_path)
    process.start()
    yield process
    alive = process.alive()
    log = process.output.since(0)
    process.kill()
    assert alive, f"the server died:\n{process.describe_death()}"
    bad = failures_logged(log)
    assert not bad, "the server's log shows a callback or task that failed:\n" + "\n".join(bad)


async def still_serving(server: ServerProcess) -> None:
    """A good request on a new connection still gets 200 (the apps served here answer /ok)."""
    reply = await request(server, get("/ok"))
    expect(
        reply.status == 200 and server.alive(),
        "whatever a client sent, the server must go on serving others",
        sent=reply.sent,
        expected="200 OK",
        got=reply.summary(),
    )


async def refused(
    server: ServerProcess,
    data: bytes,
    status: int,
    why: str,
    look: str = "sketch/parser.py and sketch/limits.py",
) -> Reply:
    """Send DATA; expect STATUS, then the connection closed; then a good request works."""
    reply = await request(server, data)
    expect(
        reply.status == status and reply.closed,
        why,
        sent=data,
        expected=f"{status}, then the connection closed",
        got=reply.summary() + ("; closed" if reply.closed else "; left open"),
        look=look,
    )
    await still_serving(server)
    return reply
