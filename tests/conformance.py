"""Client side of the conformance tests: the echo server, the corpora and their expectations.

The final reference serves tests/conformance_app.py, which answers every request with a JSON
echo of what the handler saw. tests/corpora/ holds third-party requests as data (see its
README) and expectations.toml, which says, from RFC 9110 and 9112, what each must get.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.reference import running_reference, still_serving
from workshop.server import ServerProcess
from workshop.testing import Connection, Reply, TeachingFailure, expect, fail

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TESTS = Path(__file__).resolve().parent
CORPORA = TESTS / "corpora"
EXPECTATIONS = CORPORA / "expectations.toml"

OPEN_WAIT = 0.25  # seconds of quiet after which a connection is taken to be kept open
CLOSE_WAIT = 2.0  # seconds a server may take to close a connection it said it would close
PAUSE = 0.05  # seconds between the pieces of a request sent in parts
AT_ONCE = 48  # cases in flight together (under the listen backlog of 100)


def serve_echo_app() -> Iterator[ServerProcess]:
    """The final reference serving the echo app: the body of a module-scoped fixture."""
    yield from running_reference("conformance_app:make_app", extra_path=[TESTS])


def echoed(reply: Reply) -> dict[str, Any] | None:
    """What the echo handler saw, or None if the reply is not its 200 JSON."""
    if reply.status != 200 or not reply.headers.get("Content-Type", "").startswith(
        "application/json"
    ):
        return None
    try:
        return json.loads(reply.body)
    except ValueError:
        return None


# --- the data ---------------------------------------------------------------------------


def decode(text: bytes) -> bytes:
    """The bytes an .http file stands for (the escapes of gunicorn's corpus format).

    Line breaks in the file are not data; the request's own line endings are written `\\r\\n`,
    and `\\n`, `\\t`, `\\0` and `\\xHH` stand for a bare LF, a tab, a NUL and any byte.
    """
    text = text.replace(b"\r\n", b"").replace(b"\n", b"").replace(b"\\r\\n", b"\r\n")
    text = text.replace(b"\\0", b"\0").replace(b"\\n", b"\n").replace(b"\\t", b"\t")
    text = re.sub(rb"\\x([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), text)
    if b"\\" in text:
        raise ValueError("an escape the corpus format does not define")
    return text


@dataclass(frozen=True)
class Expected:
    """One request the app must answer, as its handler must see it.

    A long path, header value or body is given by its size in bytes (`path_size`, an integer
    in place of a header's value, `body_size`) rather than copied into the expectations.
    """

    method: str
    path: str = "/"
    query: str = ""
    version: str = "1.1"
    headers: tuple[tuple[str, str | int], ...] = ()
    body: str = ""  # latin-1, one character per byte
    raw_path: str | None = None
    path_size: int | None = None
    body_size: int | None = None

    def describe(self) -> dict[str, Any]:
        """The fields this expects, as the echo names them."""
        fields: dict[str, Any] = {"method": self.method, "version": self.version}
        fields["path"] = self.path if self.path_size is None else f"{self.path_size} bytes"
        if self.raw_path is not None:
            fields["raw_path"] = self.raw_path
        fields["query_string"] = self.query
        fields["headers"] = [list(pair) for pair in self.headers]
        fields["body"] = self.body if self.body_size is None else f"{self.body_size} bytes"
        return fields

    def seen(self, echo: dict[str, Any]) -> dict[str, Any]:
        """The same fields of what the handler saw, sized where this gives sizes."""
        fields = {key: echo.get(key) for key in self.describe()}
        if self.path_size is not None:
            fields["path"] = f"{len(echo['path'])} bytes"
        if self.body_size is not None:
            fields["body"] = f"{len(echo['body'])} bytes"
        # Field names are case-insensitive (RFC 9110, 5.1): compare them as expected.
        wanted = list(self.headers) + [("", "")] * len(echo["headers"])
        fields["headers"] = [
            [want if want.lower() == name.lower() else name, size_of(value, like)]
            for (name, value), (want, like) in zip(echo["headers"], wanted, strict=False)
        ]
        return fields


def size_of(value: str, like: str | int) -> str | int:
    """VALUE, or its size if the expected value is a size."""
    return len(value) if isinstance(like, int) else value


KEYS = {"why", "note", "requests", "status", "then", "incomplete", "split", "xfail"}


@dataclass(frozen=True)
class Case:
    """One request file and what RFC 9110/9112 (and our limits table) say it must get."""

    id: str  # "gunicorn/valid/001"
    data: bytes
    why: str
    requests: tuple[Expected, ...] = ()  # answered by the app, in order
    status: int | None = None  # then refused with this status (and closed)
    then: str | None = None  # "open" or "close", after the answers
    incomplete: bool = False  # never a whole request: the client gives up (half-closes)
    split: tuple[int, ...] = ()  # offsets at which the sending pauses
    xfail: str | None = None
    note: str | None = None

    @property
    def pieces(self) -> list[bytes]:
        cuts = [0, *self.split, len(self.data)]
        return [self.data[a:b] for a, b in pairwise(cuts)]

    @property
    def closes(self) -> bool:
        return self.status is not None or self.incomplete or self.then == "close"

    def param(self) -> Any:
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.id, marks=marks)


def load_expectations() -> dict[str, Any]:
    with EXPECTATIONS.open("rb") as f:
        return tomllib.load(f)


def data_files() -> dict[str, Path]:
    """Every request file of the corpora, by case id ("uvicorn/simple_get")."""
    return {
        path.relative_to(CORPORA).with_suffix("").as_posix(): path
        for path in sorted(CORPORA.rglob("*.http"))
    }


def case_ids(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, entry) for every case in the expectations: a table holding `why`."""
    for key, value in table.items():
        if isinstance(value, dict) and key != "excluded":
            if "why" in value:
                yield prefix + key, value
            else:
                yield from case_ids(value, f"{prefix}{key}/")


def load_cases() -> list[Case]:
    files = data_files()
    cases = []
    for case_id, entry in case_ids(load_expectations()):
        unknown = set(entry) - KEYS
        ends = [key for key in ("status", "incomplete", "then") if key in entry]
        if unknown or len(ends) != 1 or entry.get("then", "open") not in ("open", "close"):
            raise ValueError(
                f"{EXPECTATIONS.name}: {case_id} needs a `why` and one of `status`, "
                f"`incomplete`, `then` (open or close); unknown keys: {sorted(unknown)}"
            )
        requests = tuple(
            Expected(**{**r, "headers": tuple(tuple(h) for h in r.get("headers", ()))})
            for r in entry.get("requests", ())
        )
        cases.append(
            Case(
                id=case_id,
                data=decode(files[case_id].read_bytes()),
                why=entry["why"],
                requests=requests,
                status=entry.get("status"),
                then=entry.get("then"),
                incomplete=entry.get("incomplete", False),
                split=tuple(entry.get("split", ())),
                xfail=entry.get("xfail"),
                note=entry.get("note"),
            )
        )
    return cases


# --- sending a case, all cases at once ----------------------------------------------------


@dataclass
class Outcome:
    """What came back for one case."""

    replies: list[Reply] = field(default_factory=list)  # final responses, in order
    closed: bool = False
    extra: bytes = b""  # bytes after the responses expected
    after_eof: bytes = b""  # for an incomplete request: what came once we half-closed
    error: str | None = None  # a read that failed: no answer, a malformed one, a timeout
    alive: str | None = None  # why the server failed the good request sent afterwards


async def run_case(server: ServerProcess, case: Case) -> Outcome:
    outcome = Outcome()
    async with await Connection.open(server) as conn:
        try:
            await conn.send(case.pieces, pause=PAUSE)
            if case.incomplete:
                conn.writer.write_eof()
                outcome.after_eof = await conn.read_until_close(CLOSE_WAIT)
                outcome.closed = True
            else:
                heads = [e.method == "HEAD" for e in case.requests]
                heads += [False] if case.status is not None else []
                for head in heads:
                    reply = await conn.read_response(head=head)
                    while reply.status < 200:  # 100 Continue before the final answer
                        reply = await conn.read_response(head=head)
                    outcome.replies.append(reply)
                before = len(conn.received)
                outcome.closed = await conn.is_closed(closing_time(outcome.replies))
                if len(conn.received) > before:  # more came: read what there is
                    await conn.is_closed(OPEN_WAIT)
                outcome.extra = conn.received[before:]
        except TeachingFailure as failure:
            outcome.error = str(failure)
    try:
        await still_serving(server)
    except TeachingFailure as failure:
        outcome.alive = str(failure)
    return outcome


def closing_time(replies: list[Reply]) -> float:
    """How long to wait for the server to close: long only if it said it would (or said
    nothing at all); a connection it means to keep is judged open after a short quiet."""
    says_close = not replies or "close" in replies[-1].headers.get("Connection", "").lower()
    return CLOSE_WAIT if says_close else OPEN_WAIT


async def run_all(server: ServerProcess, cases: list[Case]) -> dict[str, Outcome]:
    """Send every case, many at a time, each on its own connection."""
    limit = asyncio.Semaphore(AT_ONCE)

    async def one(case: Case) -> Outcome:
        async with limit:
            return await run_case(server, case)

    outcomes = await asyncio.gather(*(one(case) for case in cases))
    return {case.id: outcome for case, outcome in zip(cases, outcomes, strict=True)}


# --- judging an outcome -----------------------------------------------------------------


def check(case: Case, outcome: Outcome) -> None:
    """Fail, with what was sent, expected and got, unless OUTCOME is what CASE must get."""
    what = f"{case.id}: {case.why}"
    details = {"sent": case.data, "expected": expected_text(case), "look": LOOK}
    for number, (want, reply) in enumerate(zip(case.requests, outcome.replies, strict=False), 1):
        check_answer(f"{what}\nrequest {number} of {len(case.requests)}", want, reply, details)
    if outcome.error:  # its message already says what was sent and what came back
        answers = f"after {len(outcome.replies)} of the answers expected"
        fail(f"{what}\nexpected {details['expected']}; {answers}:\n{outcome.error}", look=LOOK)
    if case.status is not None:
        reply = outcome.replies[-1]
        expect(
            reply.status == case.status,
            f"{what}\nthe request must be refused with {case.status}",
            **details,
            got=reply.summary(),
        )
    if case.incomplete:
        expect(
            outcome.closed and not re.match(rb"HTTP/1\.[01] [123]", outcome.after_eof),
            f"{what}\nan incomplete request is never answered as if it were whole",
            **details,
            got=outcome.after_eof or "the connection closed with no answer",
        )
    else:
        expect(
            outcome.closed == case.closes and not outcome.extra,
            f"{what}\nafter the answers the connection must be "
            + ("closed" if case.closes else "kept open")
            + ", with nothing more sent",
            **details,
            got=("closed" if outcome.closed else "kept open")
            + (f", after {outcome.extra!r}" if outcome.extra else ""),
        )
    if outcome.alive:
        fail(f"{what}\n{outcome.alive}")


LOOK = "sketch/parser.py, sketch/limits.py, sketch/request.py and sketch/protocol.py"


def check_answer(what: str, want: Expected, reply: Reply, details: dict[str, Any]) -> None:
    """The app answered REPLY to a request it must have seen as WANT describes."""
    if want.method == "HEAD":  # no body to read the echo from: the status says enough
        expect(reply.status == 200, f"{what} must reach the app", **details, got=reply.summary())
        return
    echo = echoed(reply)
    expect(
        echo is not None,
        f"{what} must reach the app (a 200 with its JSON echo)",
        **details,
        got=reply.summary(),
    )
    expected, seen = want.describe(), want.seen(echo)
    wrong = [key for key in expected if seen[key] != expected[key]]
    expect(
        not wrong,
        f"{what} reached the app, but not as it was sent",
        **{**details, "expected": "; ".join(f"{key} {expected[key]!r}" for key in wrong)},
        got="; ".join(f"{key} {seen[key]!r}" for key in wrong),
    )


def expected_text(case: Case) -> str:
    steps = [
        f"{e.method} {e.path if e.path_size is None else f'({e.path_size}-byte path)'} "
        "answered by the app"
        for e in case.requests
    ]
    if case.status is not None:
        steps.append(f"{case.status}")
    if case.incomplete:
        steps.append("no answer; closed once the client gives up")
    elif case.then or case.status is not None:
        steps.append("closed" if case.closes else "kept open")
    return ", then ".join(steps)
