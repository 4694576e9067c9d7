"""Run the board: python -m board [--host H] [--port P] [--db FILE].

It prints the join code and the instructor token, then `Serving on http://HOST:PORT` (the
reference framework's line, which tests wait for). SIGINT or SIGTERM stops it gracefully.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

from board.framework import use_reference
from workshop import manifest

DEFAULT_DB = manifest.ROOT / ".workshop" / "board.sqlite3"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m board", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free)")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="the SQLite file")
    parser.add_argument(
        "--stuck-minutes",
        type=float,
        default=10,
        help="minutes failing the same stage before a learner shows as stuck",
    )
    return parser.parse_args(argv)


def room_address(host: str) -> str:
    """The address learners should use: this machine's, when listening on every address."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    try:
        return socket.gethostbyname(socket.gethostname())  # a local lookup, no traffic
    except OSError:
        return "THIS-MACHINE"


def banner(store: object, host: str, port: int, db: Path) -> str:
    url = f"http://{room_address(host)}:{port or 'PORT'}"
    code, token = store.join_code(), store.instructor_token()  # type: ignore[attr-defined]
    lines = [
        "Room board for the sketch workshop",
        f"  Board page:       {url}/",
        f"  Join code:        {code}",
        f"  Learners run:     invoke join {url} {code} --name 'Their Name'",
        f"  Instructor view:  {url}/#admin={token}   (keep this one to yourself)",
        f"  Data:             {db}",
    ]
    if host in ("127.0.0.1", "localhost", "::1"):
        lines.append("  Only this machine can reach it: use --host 0.0.0.0 for the room.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_reference()
    from sketch import run_app

    from board.app import make_app
    from board.store import Store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = Store(args.db)  # made here too, so the codes exist before we print them
    print(banner(store, args.host, args.port, args.db), flush=True)
    store.close()
    try:
        app = make_app(args.db, stuck_after=args.stuck_minutes * 60)
        run_app(app, host=args.host, port=args.port, shutdown_timeout=5.0)
    except KeyboardInterrupt:
        pass
    except OSError as problem:
        print(f"The board could not start: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
