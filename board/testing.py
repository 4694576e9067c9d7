"""What the board's tests share: a real board process on a free port, and its secrets.

    board = BoardProcess(tmp_path / "board.sqlite3").start()
    board.url, board.code, board.token   # http://127.0.0.1:PORT, the join code, the token

It is the harness's ServerProcess (own process group, bounded output, waits for `Serving
on`) running `python -m board` instead of `python -m sketch`.

Every test client comes from 127.0.0.1, so the board would see one client doing everything.
`machine()` gives each simulated learner an address of its own, sent as X-Forwarded-For,
which the board believes from 127.0.0.1 as it does from the port forwarding of a Codespace.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path
from typing import Any

from workshop import manifest
from workshop.server import ServerProcess

_addresses = itertools.count(1)


def machine() -> dict[str, str]:
    """Headers that make a request come from a new machine: 10.x.y.z, never used before."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}


def as_learner(token: str) -> dict[str, str]:
    """The header a learner's reports carry: the token `invoke join` was given."""
    return {"Authorization": f"Bearer {token}"}


class BoardProcess(ServerProcess):
    """`python -m board --port 0 --db DB [ARGS]`, from the repository's root."""

    def __init__(self, db: Path, *args: str) -> None:
        super().__init__(manifest.ROOT)
        self.db = Path(db)
        self.command = [sys.executable, "-m", "board", "--host", "127.0.0.1", "--port", "0"]
        self.command += ["--db", str(self.db), *args]

    def _printed(self, label: str) -> str:
        found = re.search(rf"^\s*{label}:\s+(\S+)", self.output.since(0), re.M)
        assert found, f"the board did not print its {label}:\n{self.output.last_lines()}"
        return found[1]

    @property
    def code(self) -> str:
        return self._printed("Join code")

    @property
    def token(self) -> str:
        return self._printed("Instructor view").partition("#admin=")[2]

    @property
    def admin(self) -> dict[str, str]:
        """The header admin actions need."""
        return {"Authorization": f"Bearer {self.token}"}

    def report(self, **fields: Any) -> dict[str, Any]:
        """A valid report body; FIELDS override the defaults."""
        body = {
            "stage": "04_routing",
            "passed": 3,
            "failed": 1,
            "test": "test_unknown_path_returns_404",
            "time": "2026-03-01T10:00:00+00:00",
            "reference": False,
        }
        body.update(fields)
        return body
