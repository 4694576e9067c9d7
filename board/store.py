"""The board's memory: one SQLite file, so a restart (or a crash) loses nothing.

Only the standard library's `sqlite3`. The database runs in WAL mode: readers never wait for
the writer, and every report is one short transaction, so the file is consistent whenever
the process stops. This module knows nothing of HTTP; `invoke board --export` uses it alone.

Times are the board's own clock (`time.time()`): learners' clocks may be wrong, and "stuck
for ten minutes" must be measured on one clock.
"""

from __future__ import annotations

import csv
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

STUCK_AFTER = 10 * 60  # seconds failing the same stage before a learner counts as stuck
MAX_LEARNERS = 500  # a room is far smaller: this only bounds what a stranger can fill
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a whiteboard

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS learners (
    name      TEXT PRIMARY KEY,   -- the display name, as given to `invoke join`
    joined    REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (   -- the latest result of each learner on each stage
    name          TEXT NOT NULL,
    stage         TEXT NOT NULL,
    passed        INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    failing_test  TEXT NOT NULL,
    client_time   TEXT NOT NULL,   -- when the learner's machine says the check ran
    updated       REAL NOT NULL,
    failing_since REAL,            -- since when this stage fails without a pass between
    PRIMARY KEY (name, stage)
);
"""


@dataclass(frozen=True)
class Report:
    """One `invoke check` result, as a learner's machine sends it (already validated)."""

    name: str
    stage: str
    passed: int
    failed: int
    failing_test: str = ""
    time: str = ""

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0


class TooManyLearners(Exception):
    """The board holds MAX_LEARNERS already; a new name is refused."""


class Store:
    """The database of one board."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # transactions explicit
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint
        self.db.execute("PRAGMA busy_timeout=2000")  # `--export` may read while we write
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        """Fold the WAL back into the database file and close it."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    # --- the two secrets -------------------------------------------------------------

    def secret(self, key: str, make: Any) -> str:
        """The stored value of KEY, made (once, for the board's whole life) by MAKE()."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return row["value"]
        value = make()
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        return value

    def join_code(self) -> str:
        """What learners type to join: short, read off a whiteboard, kept across restarts."""
        return self.secret("join_code", new_join_code)

    def instructor_token(self) -> str:
        """What admin actions need: long, never shown to the room."""
        return self.secret("instructor_token", lambda: secrets.token_urlsafe(18))

    def code_matches(self, given: str) -> bool:
        return hmac.compare_digest(normalise_code(given), normalise_code(self.join_code()))

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.instructor_token().encode())

    # --- writing ---------------------------------------------------------------------

    def join(self, name: str, now: float | None = None) -> None:
        """Note a learner (again); raise TooManyLearners when the board is full."""
        now = time.time() if now is None else now
        with self.transaction():
            self._ensure_learner(name, now)

    def record(self, report: Report, now: float | None = None) -> None:
        """Keep REPORT as the learner's latest result on its stage, in one transaction."""
        now = time.time() if now is None else now
        with self.transaction():
            self._ensure_learner(report.name, now)
            before = self.db.execute(
                "SELECT failing_since FROM results WHERE name = ? AND stage = ?",
                (report.name, report.stage),
            ).fetchone()
            # A failure continues the current failing streak; a pass ends it.
            failing_since = None
            if not report.ok:
                streak = before["failing_since"] if before is not None else None
                failing_since = streak if streak is not None else now
            self.db.execute(
                "INSERT OR REPLACE INTO results (name, stage, passed, failed, failing_test,"
                " client_time, updated, failing_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    report.name,
                    report.stage,
                    report.passed,
                    report.failed,
                    report.failing_test,
                    report.time,
                    now,
                    failing_since,
                ),
            )

    def remove(self, name: str) -> bool:
        """Forget a learner and their results; False if there was no such learner."""
        with self.transaction():
            self.db.execute("DELETE FROM results WHERE name = ?", (name,))
            gone = self.db.execute("DELETE FROM learners WHERE name = ?", (name,)).rowcount
        return gone > 0

    def reset(self) -> None:
        """Forget every learner and result; the join code and token stay."""
        with self.transaction():
            self.db.execute("DELETE FROM results")
            self.db.execute("DELETE FROM learners")

    def _ensure_learner(self, name: str, now: float) -> None:
        updated = self.db.execute(
            "UPDATE learners SET last_seen = ? WHERE name = ?", (now, name)
        ).rowcount
        if updated:
            return
        (count,) = self.db.execute("SELECT count(*) FROM learners").fetchone()
        if count >= MAX_LEARNERS:
            raise TooManyLearners(f"the board already follows {count} learners")
        self.db.execute(
            "INSERT INTO learners (name, joined, last_seen) VALUES (?, ?, ?)", (name, now, now)
        )

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    # --- reading ---------------------------------------------------------------------

    def progress(
        self,
        stages: list[dict[str, str]],
        now: float | None = None,
        stuck_after: float = STUCK_AFTER,
    ) -> dict[str, Any]:
        """The whole board, as the page and `GET /api/progress` show it.

        STAGES is the manifest's list ({"id", "title"}), in order. Learners come sorted so
        the stuck (failing their stage for STUCK_AFTER seconds or more) are on top: stuck
        longest first, then failing, then the least advanced.
        """
        now = time.time() if now is None else now
        order = {stage["id"]: i for i, stage in enumerate(stages)}
        learners: dict[str, dict[str, Any]] = {}
        for row in self.db.execute("SELECT name, last_seen FROM learners"):
            learners[row["name"]] = {"name": row["name"], "last_seen": row["last_seen"]}
            learners[row["name"]].update(results={}, current=None)
        latest: dict[str, float] = {}
        for row in self.db.execute("SELECT * FROM results ORDER BY updated"):
            learner = learners.get(row["name"])
            if learner is None or row["stage"] not in order:
                continue
            learner["results"][row["stage"]] = cell(row, now)
            if row["updated"] >= latest.get(row["name"], float("-inf")):
                latest[row["name"]] = row["updated"]
                learner["current"] = row["stage"]
        for learner in learners.values():
            current = learner["results"].get(learner["current"])
            learner["failing"] = bool(current) and current["status"] == "failing"
            learner["failing_for"] = current["failing_for"] if learner["failing"] else 0
            learner["stuck"] = learner["failing"] and learner["failing_for"] >= stuck_after
            results = learner["results"].values()
            learner["stages_passed"] = sum(r["status"] == "passed" for r in results)
        rows = sorted(learners.values(), key=urgency)
        counts = {stage["id"]: {"passed": 0, "failing": 0} for stage in stages}
        for learner in rows:
            for stage_id, result in learner["results"].items():
                counts[stage_id][result["status"]] += 1
        return {
            "now": now,
            "stuck_after": stuck_after,
            "stages": stages,
            "counts": counts,
            "learners": rows,
        }

    def export_csv(self, stages: list[dict[str, str]], out: TextIO) -> int:
        """Write one line per learner and stage reported; return how many lines."""
        board = self.progress(stages)
        writer = csv.writer(out)
        writer.writerow(
            ["learner", "stage", "status", "passed", "failed", "failing_test", "updated_utc"]
        )
        lines = 0
        for learner in board["learners"]:
            for stage in stages:
                result = learner["results"].get(stage["id"])
                if result is None:
                    continue
                updated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(result["updated"]))
                writer.writerow(
                    [
                        learner["name"],
                        stage["id"],
                        result["status"],
                        result["passed"],
                        result["failed"],
                        result["test"],
                        updated,
                    ]
                )
                lines += 1
        return lines


def cell(row: sqlite3.Row, now: float) -> dict[str, Any]:
    """One learner's latest result on one stage, as the page draws it."""
    failing = row["failing_since"] is not None
    return {
        "status": "failing" if failing else "passed",
        "passed": row["passed"],
        "failed": row["failed"],
        "test": row["failing_test"],
        "time": row["client_time"],
        "updated": row["updated"],
        "failing_for": max(0, round(now - row["failing_since"])) if failing else 0,
    }


def urgency(learner: dict[str, Any]) -> tuple[int, float, int, str]:
    """Sort key: stuck first, then failing, then the least advanced; longest waits first."""
    rank = 0 if learner["stuck"] else 1 if learner["failing"] else 2
    return (rank, -learner["failing_for"], learner["stages_passed"], learner["name"].lower())


def new_join_code() -> str:
    """Eight letters and digits in two groups: `K7QF-M2XP`."""
    letters = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalise_code(code: str) -> bytes:
    """Codes compare without case, spaces or dashes: `k7qf m2xp` is `K7QF-M2XP`."""
    return "".join(ch for ch in code.upper() if ch.isalnum()).encode("ascii", "replace")


class _Transaction:
    """`with store.transaction():` BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
