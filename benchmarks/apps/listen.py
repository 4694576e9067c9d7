"""The command line of every benchmark app run as a script: where it listens."""

import argparse


def address() -> tuple[str, int]:
    """`--host H --port P` from the command line; port 0 lets the system pick a free one."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    return args.host, args.port
