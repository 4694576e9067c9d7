"""The detector of swapped-in references (workshop.fingerprint) and grader.lock's records."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from workshop import fingerprint, graderlock, graderrecord, manifest

ROOT = manifest.ROOT
STAGES = [s for s in manifest.stages() if s.is_written()]


def test_grader_lock_matches_what_invoke_build_records():
    # Run by CI on Python 3.10 to 3.13: a lock written on one version must judge on all.
    problems = graderrecord.drift(ROOT)
    assert not problems, "\n".join(problems) + "\nRun `invoke build` and commit grader.lock."


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_every_stage_has_test_ids_and_answer_fingerprints(stage):
    ids = graderlock.expected_tests(stage, ROOT)
    assert ids, f"grader.lock holds no test ids for the current tests of {stage.id}"
    assert all(i.startswith(f"steps/{stage.id}/tests/") for i in ids)
    answers = graderlock.answers(ROOT, stage.id)
    assert set(answers) == set(fingerprint.answer_files(stage.id, stage.step_dir()))


def copy_stage(stage: manifest.Stage, target: Path, files: list[str] | None = None) -> Path:
    """The stage's skeleton in TARGET, with FILES (default: all) of the reference swapped in."""
    shutil.copytree(stage.step_dir() / "sketch", target / "sketch")
    if files is None:
        files = fingerprint.answer_files(stage.id, stage.step_dir())
    for name in files:
        shutil.copy2(stage.solution_dir() / "sketch" / name, target / "sketch" / name)
    return target


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_the_skeleton_is_own_work_and_the_reference_is_the_reference(stage, tmp_path):
    assert fingerprint.verdict(stage, stage.step_dir()) == "own"
    assert fingerprint.verdict(stage, stage.solution_dir()) == "reference"
    # Re-indented and re-wrapped is still the reference: whitespace is not a change.
    copied = copy_stage(stage, tmp_path)
    for path in (copied / "sketch").glob("*.py"):
        heads = ("def ", "class ", "async def ", "try:", "if ", "for ")  # never inside a string
        lines = [("\n" + line + "   " if line.lstrip().startswith(heads) else line)
                 for line in path.read_text().splitlines()]  # fmt: skip
        path.write_text("\n".join(lines) + "\n\n")
    assert fingerprint.examine(stage, copied).kind == "reference"


def strip_comments(text: str) -> str:
    """TEXT without its comments (what a learner hiding a copy would do first)."""
    lines = text.splitlines(keepends=True)
    for token in reversed(list(tokenize.generate_tokens(io.StringIO(text).readline))):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            line = lines[row - 1]
            lines[row - 1] = line[:col].rstrip() + ("\n" if line.endswith("\n") else "")
    return "".join(lines)


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_a_copy_stripped_of_comments_and_reformatted_resembles_the_reference(stage, tmp_path):
    copied = copy_stage(stage, tmp_path)
    for path in (copied / "sketch").glob("*.py"):
        path.write_text(strip_comments(path.read_text()))
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--no-cache", "-q", str(copied / "sketch")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = fingerprint.examine(stage, copied)
    assert found.kind == "resembles", found
    assert "resembles the reference" in found.describe()


STUB = (  # a TODO's comment line, then its raise, whose message may span lines
    r"^(?P<indent>[ \t]*)# TODO\({stage}\)[^\n]*\n"
    r"[ \t]*raise NotImplementedError\(\s*(['\"]){stage}: .*?\2\s*\)\n"
)


def write_todos(sketch: Path, stage_id: str, answers: dict[str, list[str]]) -> None:
    """Replace each TODO stub (comment and raise) of STAGE_ID by the next answer, in order."""
    for name, bodies in answers.items():
        path = sketch / name
        left = list(bodies)

        def answer(found: re.Match, left: list[str] = left) -> str:
            return "".join(f"{found['indent']}{line}\n" for line in left.pop(0).splitlines())

        text = re.sub(STUB.format(stage=stage_id), answer, path.read_text(), flags=re.M | re.S)
        assert not left, f"{name}: fewer TODO stubs than answers"
        path.write_text(text)


def honest_01(skeleton: Path, target: Path) -> Path:
    """Stage 01 written from its hints, as a learner would: each stub replaced by the answer."""
    shutil.copytree(skeleton / "sketch", target / "sketch")
    write_todos(target / "sketch", "01_echo", HONEST_01)
    return target


HONEST_01 = {
    "protocol.py": ["self.transport = transport", "self.transport.write(data)"],
    "server.py": [
        "loop = asyncio.get_running_loop()\n"
        "server = await loop.create_server(protocol_factory, host, port)\n"
        "announce(server)\n"
        "return server"
    ],
}


HONEST_02 = {
    "parser.py": [
        "self.url += url",
        "self.headers.append((name, value))",
        "self.body += body",
        "self.on_request(\n"
        "    RawRequest(\n"
        "        method=self.parser.get_method().decode('ascii'),\n"
        "        target=bytes(self.url),\n"
        "        version=self.parser.get_http_version(),\n"
        "        headers=self.headers,\n"
        "        body=bytes(self.body),\n"
        "    )\n"
        ")",
    ],
    "protocol.py": [
        "try:\n"
        "    self.parser.feed(data)\n"
        "except httptools.HttpParserUpgrade:\n"  # what the upgrade test asks for
        "    pass\n"
        "except httptools.HttpParserError:\n"
        "    self.send_error(400, b'400: Bad Request\\n')"
    ],
}


def test_an_honest_stage_01_from_the_hints_is_own_work(tmp_path):
    stage = manifest.find("01")
    honest = honest_01(stage.step_dir(), tmp_path)
    # protocol.py is then the reference's tokens exactly: too short and plain to tell.
    protocol = fingerprint.token_print((honest / "sketch" / "protocol.py").read_text())
    assert protocol == graderlock.answers(ROOT, stage.id)["protocol.py"]["tokens"]
    assert fingerprint.examine(stage, honest) == fingerprint.Verdict("own")


def test_one_distinctive_file_swapped_in_makes_the_stage_the_reference(tmp_path):
    stage = manifest.find("03")
    distinctive = sorted(n for n, p in graderlock.answers(ROOT, stage.id).items()
                         if p["distinctive"])  # fmt: skip
    plain = sorted(set(graderlock.answers(ROOT, stage.id)) - set(distinctive))
    one = copy_stage(stage, tmp_path / "one", [distinctive[0]])
    assert fingerprint.examine(stage, one) == fingerprint.Verdict("reference", (distinctive[0],))
    short = copy_stage(stage, tmp_path / "short", plain)
    assert fingerprint.verdict(stage, short) == "own"


def test_unreadable_or_missing_files_are_never_the_reference(tmp_path):
    stage = manifest.find("01")
    copied = copy_stage(stage, tmp_path)
    (copied / "sketch" / "server.py").write_bytes(b"\xff\xfe not python (")
    (copied / "sketch" / "protocol.py").unlink()
    assert fingerprint.verdict(stage, copied) == "own"
    assert fingerprint.verdict(stage, tmp_path / "nowhere") == "own"


def test_a_checkout_without_grader_lock_calls_everything_own_work(tmp_path):
    stage = manifest.find("01")
    assert fingerprint.verdict(stage, stage.solution_dir(), root=tmp_path) == "own"
