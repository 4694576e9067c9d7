"""Run a server: python -m sketch [--host H] [--port P] [APP].

With --port 0 the system picks a free port; the line `Serving on http://HOST:PORT` says
which, once connections are accepted.
"""

import argparse
import asyncio
import sys

from sketch.protocol import HttpProtocol
from sketch.server import serve_forever


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sketch", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free)")
    parser.add_argument(
        "app",
        nargs="?",
        help="the application, as module:attribute (an Application or a function making one)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.app:
        print("This stage serves its own demo only; applications come in 04.", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve_forever(HttpProtocol, args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
