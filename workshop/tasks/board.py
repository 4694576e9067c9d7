"""The room board's tasks: the instructor runs `invoke board`, learners `invoke join`.

The board itself is the `board/` package, an application on the final reference framework;
it is imported only when `invoke board` runs, so no other task ever loads a `sketch`.
"""

from __future__ import annotations

from pathlib import Path

from invoke import Exit, task

from workshop import manifest
from workshop.console import console, esc


@task(
    help={
        "host": "address to listen on (default 127.0.0.1; 0.0.0.0 for the whole room)",
        "port": "port to listen on (default 8765; 0 picks a free one)",
        "db": "the SQLite file (default .workshop/board.sqlite3)",
        "export": "write the board to this CSV file and exit, instead of serving",
        "stuck_minutes": "minutes failing the same stage before a learner shows as stuck",
    }
)
def board(c, host="127.0.0.1", port=8765, db="", export="", stuck_minutes=10.0):
    """Run the room board (instructors): who is stuck, and where. Ctrl-C stops it."""
    from board.__main__ import DEFAULT_DB, main

    database = Path(db) if db else DEFAULT_DB
    if export:
        _export(database, Path(export))
        return
    code = main(
        ["--host", host, "--port", str(port), "--db", str(database)]
        + ["--stuck-minutes", str(stuck_minutes)]
    )
    if code:
        raise Exit(code=code)


def _export(database: Path, target: Path) -> None:
    from board.store import OutdatedDatabase, Store

    if not database.is_file():
        raise Exit(f"There is no board database at {database}: run `invoke board` first.", 1)
    stages = [{"id": s.id, "title": s.title} for s in manifest.stages()]
    try:
        store = Store(database)
    except OutdatedDatabase as problem:
        raise Exit(str(problem), 1)
    try:
        with target.open("w", newline="", encoding="utf-8") as out:
            lines = store.export_csv(stages, out)
    finally:
        store.close()
    console().print(f"[ok]✓ Wrote {lines} result(s) to[/] [path]{esc(target)}[/]")


@task(
    positional=["url", "code"],
    help={
        "url": "the board's address, as the instructor shows it: http://HOST:PORT",
        "code": "the join code the instructor gives the room",
        "name": "the name the board shows for you (default: your git user.name); "
        "joining again with another name renames you",
        "leave": "stop reporting to the board (no URL or CODE needed)",
    },
)
def join(c, url=None, code=None, name="", leave=False):
    """Report your checks to the instructor's room board: stage, counts, failing test, time."""
    from workshop import board_client

    out = console()
    if leave:
        left = board_client.leave()
        if left:
            where = esc(left["url"])
            out.print(f"[ok]✓ Left the board at {where}.[/] Checks are no longer reported.")
        else:
            out.print("You had not joined a board: nothing to leave.")
        return
    if not url or not code:
        raise Exit("Give the board's address and code: invoke join http://HOST:PORT CODE", 2)
    try:
        shown_as = board_client.join(url, code, name or board_client.default_name())
    except board_client.BoardError as problem:
        raise Exit(f"Could not join: {problem}", 1)
    out.print(f"[ok]✓ Joined the board at {esc(url)}[/] as [bold]{esc(shown_as)}[/].")
    out.print(
        "From now on, each [cmd]invoke check[/] sends the board: the stage, how many tests "
        "passed and failed, the first failing test's name, the time, and whether the "
        "reference solution was in place. Nothing else. [cmd]invoke join --leave[/] stops it."
    )
