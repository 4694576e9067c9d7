"""The board's memory: one SQLite file, so a restart (or a crash) loses nothing.

Only the standard library's `sqlite3`. The database runs in WAL mode: readers never wait for
the writer, and every change is one short transaction, so the file is consistent whenever
the process stops. This module knows nothing of HTTP; `invoke board --export` uses it alone.
The file holds the instructor token, so it is readable by its owner only (0600).

A learner is a name and a token. `join` hands out the token; every report must carry it,
so a report can only ever change its own learner's row. The database keeps a SHA-256 of
each token, never the token itself. Names are unique without regard to case.

Times are the board's own clock (`time.time()`): learners' clocks may be wrong, and "stuck
for ten minutes" must be measured on one clock.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from board import names

STUCK_AFTER = 10 * 60  # seconds failing the same stage before a learner counts as stuck
MAX_LEARNERS = 500  # a room is far smaller: this only bounds what strangers can fill
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a whiteboard
VERSION = 2  # PRAGMA user_version of this schema; 1 had no tokens

SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE learners (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,          -- as shown: normalized by board/names.py
    name_key   TEXT NOT NULL UNIQUE,   -- names.key(name): one learner per name, any case
    token_hash TEXT UNIQUE,            -- SHA-256 of the learner's token; NULL once released
    joined     REAL NOT NULL,
    last_seen  REAL NOT NULL
);
CREATE TABLE results (   -- the latest result of each learner on each stage
    learner       INTEGER NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
    stage         TEXT NOT NULL,
    passed        INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    failing_test  TEXT NOT NULL,
    client_time   TEXT NOT NULL,   -- when the learner's machine says the check ran
    reference     INTEGER NOT NULL,  -- 1: the check ran the reference solution swapped in
    updated       REAL NOT NULL,
    failing_since REAL,            -- since when this stage fails without a pass between
    PRIMARY KEY (learner, stage)
);
"""


@dataclass(frozen=True)
class Report:
    """One `invoke check` result, as a learner's machine sends it (already validated)."""

    stage: str
    passed: int
    failed: int
    failing_test: str = ""
    time: str = ""
    reference: bool = False  # the reference solution was in place, not the learner's code

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0


@dataclass(frozen=True)
class Joined:
    """Who joined: the name as the board shows it, and the token their reports carry."""

    name: str
    token: str


class TooManyLearners(Exception):
    """The board holds MAX_LEARNERS already; a new name is refused."""


class NameTaken(Exception):
    """Another learner has this name (in some case)."""


class UnknownLearner(Exception):
    """No learner holds this token: never given, or removed or released since."""


class OutdatedDatabase(Exception):
    """The file was written by an older board, whose learners had no tokens."""


class Store:
    """The database of one board."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        owner_only(self.path)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # transactions explicit
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")  # its -wal and -shm files copy the 0600
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint
        self.db.execute("PRAGMA busy_timeout=2000")  # `--export` may read while we write
        self.db.execute("PRAGMA foreign_keys=ON")
        self._create_or_check_schema()

    def _create_or_check_schema(self) -> None:
        (tables,) = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if tables == 0:
            self.db.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA}; PRAGMA user_version = {VERSION}; COMMIT;"
            )
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        if version != VERSION:
            raise OutdatedDatabase(
                f"{self.path} was written by an older board. Keep it aside "
                f"(mv {self.path} {self.path}.old) or choose another file with --db."
            )

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

    # --- learners --------------------------------------------------------------------

    def join(self, name: str, token: str | None = None, now: float | None = None) -> Joined:
        """NAME (normalized) joins; with the TOKEN of a learner, that learner, renamed.

        A name held by another learner raises NameTaken. A released name is taken over,
        with its results, by the next learner to join with it.
        """
        now = time.time() if now is None else now
        with self.transaction():
            mine = self._learner(token) if token else None
            holder = self.db.execute(
                "SELECT id, token_hash FROM learners WHERE name_key = ?", (names.key(name),)
            ).fetchone()
            if mine is not None:  # joining again from the same clone
                if holder is not None and holder["id"] != mine["id"]:
                    raise NameTaken(name)
                self._update(mine["id"], name, mine["token_hash"], now)
                return Joined(name, token)
            if holder is not None and holder["token_hash"] is not None:
                raise NameTaken(name)
            new = secrets.token_urlsafe(24)  # 192 bits: guessed never
            if holder is not None:
                self._update(holder["id"], name, token_hash(new), now)
            else:
                (count,) = self.db.execute("SELECT count(*) FROM learners").fetchone()
                if count >= MAX_LEARNERS:
                    raise TooManyLearners(
                        f"the board already follows {count} learners: ask the instructor "
                        "to remove those who have left"
                    )
                self.db.execute(
                    "INSERT INTO learners (name, name_key, token_hash, joined, last_seen)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (name, names.key(name), token_hash(new), now, now),
                )
            return Joined(name, new)

    def _update(self, learner: int, name: str, hashed: str, now: float) -> None:
        self.db.execute(
            "UPDATE learners SET name = ?, name_key = ?, token_hash = ?, last_seen = ?"
            " WHERE id = ?",
            (name, names.key(name), hashed, now, learner),
        )

    def _learner(self, token: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT id, name, token_hash FROM learners WHERE token_hash = ?", (token_hash(token),)
        ).fetchone()

    def learner_name(self, token: str) -> str | None:
        """The name of the learner holding TOKEN, or None."""
        found = self._learner(token)
        return found["name"] if found else None

    def release(self, name: str) -> bool:
        """Revoke NAME's token: whoever joins with the name next takes it over."""
        with self.transaction():
            changed = self.db.execute(
                "UPDATE learners SET token_hash = NULL WHERE name_key = ?", (names.key(name),)
            ).rowcount
        return changed > 0

    def remove(self, name: str) -> bool:
        """Forget a learner and their results; False if there was no such learner."""
        with self.transaction():
            gone = self.db.execute(
                "DELETE FROM learners WHERE name_key = ?", (names.key(name),)
            ).rowcount
        return gone > 0

    def prune(self, idle: float, now: float | None = None) -> list[str]:
        """Forget the learners not seen for IDLE seconds or more; their names."""
        now = time.time() if now is None else now
        with self.transaction():
            seen_before = (now - idle,)
            rows = self.db.execute("SELECT name FROM learners WHERE last_seen <= ?", seen_before)
            gone = sorted(row["name"] for row in rows)
            self.db.execute("DELETE FROM learners WHERE last_seen <= ?", seen_before)
        return gone

    def reset(self) -> None:
        """Forget every learner and result; the join code and token stay."""
        with self.transaction():
            self.db.execute("DELETE FROM learners")

    # --- results ---------------------------------------------------------------------

    def record(self, token: str, report: Report, now: float | None = None) -> str:
        """Keep REPORT as the latest result of TOKEN's learner on its stage; their name."""
        now = time.time() if now is None else now
        with self.transaction():
            learner = self._learner(token)
            if learner is None:
                raise UnknownLearner()
            self.db.execute("UPDATE learners SET last_seen = ? WHERE id = ?", (now, learner["id"]))
            before = self.db.execute(
                "SELECT failing_since FROM results WHERE learner = ? AND stage = ?",
                (learner["id"], report.stage),
            ).fetchone()
            # A failure continues the current failing streak; a pass ends it, and so does
            # the reference swapped in (the learner has stopped waiting on this stage).
            failing_since = None
            if not report.ok and not report.reference:
                streak = before["failing_since"] if before is not None else None
                failing_since = streak if streak is not None else now
            self.db.execute(
                "INSERT OR REPLACE INTO results (learner, stage, passed, failed, failing_test,"
                " client_time, reference, updated, failing_since)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    learner["id"],
                    report.stage,
                    report.passed,
                    report.failed,
                    report.failing_test,
                    report.time,
                    int(report.reference),
                    now,
                    failing_since,
                ),
            )
        return learner["name"]

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
        learners: dict[int, dict[str, Any]] = {}
        for row in self.db.execute("SELECT * FROM learners"):
            learners[row["id"]] = {
                "name": row["name"],
                "released": row["token_hash"] is None,
                "idle": max(0, round(now - row["last_seen"])),
                "results": {},
                "current": None,
            }
        latest: dict[int, float] = {}
        for row in self.db.execute("SELECT * FROM results ORDER BY updated"):
            learner = learners.get(row["learner"])
            if learner is None or row["stage"] not in order:
                continue
            learner["results"][row["stage"]] = cell(row, now)
            if row["updated"] >= latest.get(row["learner"], float("-inf")):
                latest[row["learner"]] = row["updated"]
                learner["current"] = row["stage"]
        for learner in learners.values():
            current = learner["results"].get(learner["current"])
            learner["failing"] = bool(current) and current["status"] == "failing"
            learner["failing_for"] = current["failing_for"] if learner["failing"] else 0
            learner["stuck"] = learner["failing"] and learner["failing_for"] >= stuck_after
            results = learner["results"].values()
            learner["stages_passed"] = sum(r["status"] == "passed" for r in results)
        rows = sorted(learners.values(), key=urgency)
        counts = {stage["id"]: dict.fromkeys(STATUSES, 0) for stage in stages}
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


STATUSES = ("passed", "failing", "reference")


def cell(row: sqlite3.Row, now: float) -> dict[str, Any]:
    """One learner's latest result on one stage, as the page draws it."""
    failing = row["failing_since"] is not None
    status = "reference" if row["reference"] else "failing" if failing else "passed"
    return {
        "status": status,
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


def token_hash(token: str) -> str:
    """What the database keeps of a token: a stolen file gives no learner's token away."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def owner_only(path: Path) -> None:
    """Make PATH (and SQLite's files beside it) readable and writable by its owner only."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            os.chmod(file, 0o600)


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
