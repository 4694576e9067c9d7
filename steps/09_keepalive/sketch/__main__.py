"""Run a server: python -m sketch [--host H] [--port P] [APP].

With --port 0 the system picks a free port; the line `Serving on http://HOST:PORT` says
which, once connections are accepted.
"""

import argparse
import importlib
import logging
import sys

from sketch.app import Application
from sketch.demo import make_app
from sketch.runner import run_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sketch", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free)")
    parser.add_argument(
        "app",
        nargs="?",
        help="the application, as module:attribute (an Application or a function making one)",
    )
    parser.add_argument(
        "--keepalive-timeout", type=float, default=75.0, help="seconds an idle connection stays"
    )
    parser.add_argument(
        "--header-timeout", type=float, default=15.0, help="seconds a client has to send a head"
    )
    parser.add_argument(
        "--body-timeout", type=float, default=60.0, help="seconds a client has to send a body"
    )
    parser.add_argument(
        "--max-connections", type=int, default=None, help="connections open at once (then 503)"
    )
    return parser.parse_args(argv)


def load_app(spec: str) -> Application:
    """Import `module:attribute`; call it if it is a function that makes the app."""
    module_name, _, attribute = spec.partition(":")
    target = getattr(importlib.import_module(module_name), attribute or "app")
    app = target if isinstance(target, Application) else target()
    if not isinstance(app, Application):
        raise SystemExit(f"{spec} is not an Application, nor a function returning one")
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = load_app(args.app) if args.app else make_app()
    options = {}
    options["keepalive_timeout"] = args.keepalive_timeout
    options["header_timeout"] = args.header_timeout
    options["body_timeout"] = args.body_timeout
    options["max_connections"] = args.max_connections
    try:
        run_app(app, host=args.host, port=args.port, **options)
    except KeyboardInterrupt:
        pass  # Ctrl-C before the signal handlers were in place
    except Exception as error:
        # A startup hook failed, or the port was taken: say so plainly, exit non-zero.
        logging.getLogger("sketch").exception("The server could not start")
        print(f"The server could not start: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
