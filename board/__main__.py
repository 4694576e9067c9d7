"""Run the board: python -m board [--host H] [--port P] [--db FILE].

Once the port is bound, it prints the join code and the instructor token, then `Serving on
http://HOST:PORT` (the reference framework's line, which tests wait for). If it cannot
bind, it says why and prints neither secret. SIGINT or SIGTERM stops it gracefully.
"""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys
from pathlib import Path

from board.framework import use_reference
from workshop import manifest

DEFAULT_DB = manifest.ROOT / ".workshop" / "board.sqlite3"
BODY_TIMEOUT = 10.0  # seconds to send a body of 4 KiB at most (board/app.py): ample anywhere
MAX_CONNECTIONS = 1000  # open at once: a room of learners, each with its checks and its page


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m board", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free)")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="the SQLite file")
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=BODY_TIMEOUT,
        help="seconds a client has to send a request's body",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=MAX_CONNECTIONS,
        help="connections open at once; beyond them, 503",
    )
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
    """What the instructor needs, once PORT (the one bound) is known."""
    url = f"http://{room_address(host)}:{port}"
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
        lines.append(
            "  Only this machine (and a port forwarder on it) can reach it: --host 0.0.0.0 "
            "opens it to the network; docs/BOARD.md says how a Codespace room reaches it."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_reference()
    from board.app import make_app
    from board.serving import run
    from board.store import OutdatedDatabase

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = make_app(args.db, stuck_after=args.stuck_minutes * 60)
    try:
        run(
            app,
            host=args.host,
            port=args.port,
            banner=lambda port: banner(app["store"], args.host, port, args.db),
            shutdown_timeout=5.0,
            body_timeout=args.body_timeout,
            max_connections=args.max_connections,
        )
    except KeyboardInterrupt:
        pass
    except OutdatedDatabase as problem:
        print(f"The board could not start: {problem}", file=sys.stderr)
        return 1
    except OSError as problem:
        print(
            f"The board could not start: {why_not(problem, args.host, args.port)}", file=sys.stderr
        )
        return 1
    return 0


def why_not(problem: OSError, host: str, port: int) -> str:
    if problem.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another board?). Stop it, or "
            "choose another port with --port (0 picks a free one)."
        )
    return str(problem)


if __name__ == "__main__":
    sys.exit(main())
