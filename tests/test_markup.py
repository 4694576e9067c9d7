"""Nothing a test or a learner's process prints is read as rich markup.

Parametrized test ids hold brackets (`test_x[/files/{name}.txt-...]`, `[a line of text]`):
printed as markup they crashed `invoke check` and `invoke watch`, or vanished.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.learner_helpers import env_for
from workshop import manifest, runner
from workshop.tasks import core

NAMES = [
    "test_compile[/files/{name}.txt-/files/notesXtxt-the '.' is a literal dot (re.escape)]",
    "test_echo[a line of text]",
    "test_style[bold red]boom[/bold red]",
    "test_close[/]",
    "test_open[",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_failing_test_name_is_printed_as_it_is(name, capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    stage = manifest.find("05")
    run = runner.StageRun(stage, stage.step_dir())
    message = f"[red]not a tag[/red]\n  look at: sketch/router.py: compile_path[{name}]"
    run.tests = [runner.TestResult(nodeid=f"x::{name}", name=name, file="x.py", status="fail",
                            message=message, output="[/] server said [b]hi[/b]")]  # fmt: skip
    core.report_failure(stage, run)
    printed = capsys.readouterr().out
    assert name in printed, f"the test's whole name should be printed; got:\n{printed}"
    assert "[red]not a tag[/red]" in printed
    assert f"compile_path[{name}]" in printed, "the function to look at, verbatim"


def no_re_escape(clone: Path) -> None:
    """The most common stage 05 mistake: the failing test's id holds `[/files/...]`."""
    step = clone / "steps" / "05_params" / "sketch"
    shutil.rmtree(step)
    shutil.copytree(clone / "solutions" / "05_params" / "sketch", step)
    router = step / "router.py"
    text = router.read_text(encoding="utf-8")
    router.write_text(text.replace("re.escape(", "str("), encoding="utf-8")


def test_check_survives_the_most_common_stage_05_mistake(clone: Path):
    no_re_escape(clone)
    done = invoke(clone, "check", "05")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "MarkupError" not in done.stderr
    assert "[/files/" in done.stdout, f"the whole test id should be shown:\n{done.stdout}"


def test_watch_survives_it_too(clone: Path):
    no_re_escape(clone)
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "watch", "05"],
        cwd=clone,
        env=env_for(clone, WORKSHOP_WATCH_RUNS="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    failing = re.search(r"^(test_\w+\[/files/.*\])$", done.stdout, flags=re.MULTILINE)
    assert failing, f"the whole test id should be shown:\n{done.stdout}"
    assert "Watching steps/05_params/ for changes" in done.stdout
