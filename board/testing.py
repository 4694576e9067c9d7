"""What the board's tests share: a real board process on a free port, and its secrets.

    board = BoardProcess(tmp_path / "board.sqlite3").start()
    board.url, board.code, board.token   # http://127.0.0.1:PORT, the join code, the token

It is the harness's ServerProcess (own process group, bounded output, waits for `Serving
on`) running `python -m board` instead of `python -m sketch`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from workshop import manifest
from workshop.server import ServerProcess


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

    def report(self, **fields: Any) -> dict[str, Any]:
        """A valid report body for this board; FIELDS override the defaults."""
        body = {
            "code": self.code,
            "name": "Ada",
            "stage": "04_routing",
            "passed": 3,
            "failed": 1,
            "test": "test_unknown_path_returns_404",
            "time": "2026-03-01T10:00:00+00:00",
        }
        body.update(fields)
        return body
