"""The lessons' "Try it" transcripts are what the reference really answers.

A lesson shows a learner what to type and what comes back. Each HTTP response a transcript
shows (`$ curl -i ...`, or a `python -c` client) is checked against a real run: the
stage's reference serves, started as the transcript starts it (`python -m sketch --port
8080 [OPTIONS] [APP]`, with `PYTHONPATH=tests` or `MARKER=...` as given, on a free port), the
request is sent as curl sends it (a `kill -TERM %1` after `sleep S` included), and the
response must match the transcript line for line. A `...` line stands for any lines; the
value of a `Date:` header is the only thing that may differ, and the header must be there.
The Python shell examples (`>>>`) run as doctests.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from workshop import manifest
from workshop.server import ServerProcess
from workshop.testing import Connection

STAGES = manifest.stages()
SERVER = re.compile(r"^(?P<env>(?:\w+=\S+ )*)python -m sketch(?P<args>(?: \S+)*?)(?: &)?$")
DATE = re.compile(r"^Date: .*$", re.MULTILINE)


def try_it(stage: manifest.Stage) -> str:
    """The lesson's "Try it" section."""
    lesson = stage.lesson().read_text(encoding="utf-8")
    start = lesson.find("\n## Try it")
    assert start >= 0, f"{stage.id}'s lesson has no '## Try it' section"
    return lesson[start:].split("\n## ", 2)[1]


@dataclass
class Step:
    """One thing a transcript does: start a server, or run a command and show its output."""

    server: str = ""  # `ENV=... python -m sketch ARGS`
    command: str = ""
    output: list[str] = field(default_factory=list)


def steps(section: str) -> list[Step]:
    """The servers started and the commands run in SECTION's code blocks, in order."""
    found: list[Step] = []
    for kind, body in re.findall(r"```(\w*)\n(.*?)```", section, flags=re.DOTALL):
        lines = body.splitlines()
        while lines:
            line = lines.pop(0)
            typed = line.removeprefix("$ ")
            if SERVER.match(typed):
                found.append(Step(server=typed))
            elif kind == "console" and line.startswith("$ "):
                while _unbalanced(typed) and lines:  # a command over several lines
                    typed += "\n" + lines.pop(0)
                step = Step(command=typed)
                while lines and not lines[0].startswith("$ "):
                    step.output.append(lines.pop(0))
                found.append(step)
    return found


def _unbalanced(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:
        return True
    return False


def words(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


# --- running what the transcript runs -----------------------------------------------------


def start(stage: manifest.Stage, server_line: str, tmp_path: Path) -> ServerProcess:
    found = SERVER.match(server_line)
    assert found, server_line
    env = dict(pair.split("=", 1) for pair in found["env"].split())
    args = found["args"].split()
    args = [a for i, a in enumerate(args) if a != "--port" and args[i - 1 : i] != ["--port"]]
    app = args.pop() if args and ":" in args[-1] else None
    extra = [stage.tests_dir()] if "PYTHONPATH" in env else []
    marker = {"MARKER": str(tmp_path / "marker")} if "MARKER" in env else {}
    return ServerProcess(stage.solution_dir(), app, args, extra_path=extra, env=marker).start()


@dataclass
class Curl:
    method: str
    target: str
    headers: list[tuple[str, str]]
    data: bytes | None
    show_head: bool
    head_lines: int | None  # `| head -N`
    term_after: float | None  # `& sleep S; kill -TERM %1`


def parse_curl(command: str) -> Curl | None:
    """The request a curl command line sends, or None for one this test does not replay."""
    argv = words(command)
    if argv[0] != "curl" or "-v" in argv or "-sv" in argv:
        return None
    method, headers, data, show_head, url = "GET", [], None, False, ""
    rest = iter(argv[1:])
    for arg in rest:
        if arg in ("&", ";", "|"):
            break
        if arg == "-X":
            method = next(rest)
        elif arg == "-H":
            name, _, value = next(rest).partition(":")
            headers.append((name.strip(), value.strip()))
        elif arg in ("-d", "--data"):
            data = next(rest).encode()
            method = "POST" if method == "GET" else method
        elif arg == "-I":
            method, show_head = "HEAD", True
        elif arg.startswith("-") and not arg.startswith("--"):
            show_head = show_head or "i" in arg
        elif not arg.startswith("-"):
            url = arg
    target = "/" + url.split("://")[-1].split("/", 1)[-1] if "/" in url else "/"
    after = argv[argv.index(url) + 1 :] if url in argv else []
    term = None
    if "kill" in after and "-TERM" in after and "sleep" in after:
        term = float(after[after.index("sleep") + 1])
    lines = int(after[after.index("head") + 1].lstrip("-n")) if "head" in after else None
    return Curl(method, target, headers, data, show_head, lines, term)


async def replay(curl: Curl, server: ServerProcess) -> str:
    """What curl prints for CURL against SERVER (responses as text, LF line ends)."""
    given = {name.lower() for name, _ in curl.headers}  # a -H header replaces curl's own
    defaults = [("Host", f"localhost:{server.port}"), ("User-Agent", "curl/8.5.0"),
                ("Accept", "*/*")]  # fmt: skip
    head = [f"{curl.method} {curl.target} HTTP/1.1"]
    head += [f"{n}: {v}" for n, v in defaults if n.lower() not in given]
    head += [f"{name}: {value}" for name, value in curl.headers]
    if curl.data is not None:
        head += [f"Content-Length: {len(curl.data)}",
                 "Content-Type: application/x-www-form-urlencoded"]  # fmt: skip
    continues = any(n.lower() == "expect" for n, _ in curl.headers) and curl.data is not None
    shown = b""
    async with await Connection.open(server) as conn:
        await conn.send(("\r\n".join(head) + "\r\n\r\n").encode())
        if curl.term_after is not None:
            await asyncio.sleep(curl.term_after)
            server.send_signal(signal.SIGTERM)
        if continues:
            interim = await conn.read_response()
            shown += interim.raw
        if curl.data is not None:
            await conn.send(curl.data)
        reply = await conn.read_response(head=curl.method == "HEAD", timeout=5)
        shown += reply.raw if curl.show_head else reply.body
    text = shown.decode("utf-8").replace("\r\n", "\n")
    if curl.head_lines is not None:
        text = "\n".join(text.split("\n")[: curl.head_lines])
    return text


def run_python(command: str, server: ServerProcess) -> str:
    argv = shlex.split(command.replace("8080", str(server.port)))
    assert argv[:2] == ["python", "-c"], command
    done = subprocess.run(
        [sys.executable, "-c", argv[2]], capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.replace("\r\n", "\n")


# --- comparing ----------------------------------------------------------------------------


def shown_response(output: list[str]) -> list[str]:
    """The HTTP response(s) in a transcript's OUTPUT (server log lines around them left out)."""
    start = next((i for i, line in enumerate(output) if line.startswith("HTTP/")), None)
    if start is None:
        return []
    lines = output[start:]
    if "..." in lines:
        return lines
    taken: list[str] = []
    while lines and lines[0].startswith("HTTP/"):
        blank = lines.index("") if "" in lines else len(lines)
        taken += lines[: blank + 1]
        length = next((int(x.split(":")[1]) for x in lines[:blank]
                       if x.lower().startswith("content-length:")), 0)  # fmt: skip
        lines = lines[blank + 1 :]
        body = 0
        while lines and body < length:
            body += len(lines[0].encode()) + 1
            taken.append(lines.pop(0))
    return taken


def matches(expected: list[str], got: list[str]) -> bool:
    """Whether GOT has EXPECTED's lines, a `...` line standing for any number of lines."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and matches(expected[1:], got[1:])


def normalised(text: str) -> list[str]:
    return DATE.sub("Date: (any date)", text).rstrip("\n").split("\n")


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_every_response_in_try_it_is_what_the_reference_answers(stage, tmp_path):
    server: ServerProcess | None = None
    server_line = ""
    checked = 0
    try:
        for step in steps(try_it(stage)):
            if step.server:
                if server is not None:
                    server.kill()
                server, server_line = None, step.server
                continue
            expected = shown_response(step.output)
            if not expected:
                continue
            assert server_line, f"{stage.id}: `{step.command}` runs before any server starts"
            if server is None or not server.alive():
                server = start(stage, server_line, tmp_path)
            curl = parse_curl(step.command)
            if curl is not None:
                got = asyncio.run(replay(curl, server))
            elif step.command.startswith("python -c"):
                got = run_python(step.command, server)
            else:
                continue
            want = normalised("\n".join(expected))
            if any(line.startswith("Date:") for line in normalised(got)):
                assert "Date: (any date)" in want, (
                    f"{stage.id}: the transcript of `{step.command}` lacks the Date header "
                    f"every response has:\n{got}"
                )
            assert matches(want, normalised(got)), (
                f"{stage.id}: `{step.command}` shows\n" + "\n".join(expected)
                + f"\nbut the reference answers\n{got}"
            )  # fmt: skip
            checked += 1
    finally:
        if server is not None:
            server.kill()
    if re.search(r"^HTTP/1\.1 \d{3} ", try_it(stage), flags=re.MULTILINE):
        assert checked, f"{stage.id}: its transcripts show responses, but none was checked"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_every_python_shell_example_in_try_it_runs_as_shown(stage):
    blocks = [b for b in re.findall(r"```python\n(.*?)```", try_it(stage), re.DOTALL) if ">>>" in b]
    if not blocks:
        pytest.skip("no >>> examples")
    code = (
        "import doctest, sys; "
        f"sys.path.insert(0, {str(stage.solution_dir())!r}); "
        f"t = doctest.DocTestParser().get_doctest(sys.stdin.read(), {{}}, {stage.id!r}, '', 0); "
        "r = doctest.DocTestRunner(); r.run(t); sys.exit(bool(r.failures))"
    )
    for block in blocks:
        done = subprocess.run(
            [sys.executable, "-c", code], input=block, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, f"{stage.id}'s lesson shows a >>> example that differs:\n" + (
            done.stdout
        )


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_try_it_runs_the_learners_own_code_not_the_answer(stage):
    """The reference is the answer (and a classroom edition ships it late): a lesson has the
    learner try their own folder, and shows what the reference answers."""
    assert "solutions/" not in try_it(stage), f"{stage.id}'s Try it sends the learner there"
