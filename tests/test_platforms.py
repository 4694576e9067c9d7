"""Where learners work: a Codespace in one click, Linux and macOS, and a clear answer on
native Windows (issue: platforms)."""

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import _env
from workshop import manifest
from workshop.tasks import namespace

ROOT = manifest.ROOT
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
POST_CREATE = ROOT / ".devcontainer" / "post-create.sh"


def readme_install_line() -> str:
    """The one install command of the README's Quickstart."""
    quickstart = (ROOT / "README.md").read_text(encoding="utf-8").split("## Quickstart", 1)[1]
    block = re.search(r"```sh\n(.*?)```", quickstart, re.DOTALL)
    assert block, "the README's Quickstart has no ```sh block"
    return block[1].strip().splitlines()[0]


def test_the_devcontainer_runs_the_readmes_install_and_forwards_the_lessons_ports():
    config = json.loads(DEVCONTAINER.read_text(encoding="utf-8"))  # plain JSON, no comments
    assert config["postCreateCommand"] == "bash .devcontainer/post-create.sh"
    install = readme_install_line()
    assert install.startswith("python3 -m venv .venv")
    assert install in POST_CREATE.read_text(encoding="utf-8").splitlines(), (
        f"post-create.sh must run the README's install line as it is: {install}"
    )
    assert {8080, 8765} <= set(config["forwardPorts"]), "the lessons' 8080 and the board's 8765"
    assert ".venv/bin" in config["remoteEnv"]["PATH"], "every terminal finds invoke"


def _run(command: list[str], cwd, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, env={**_env(), **env}
    )


@pytest.mark.slow
def test_the_post_create_command_leaves_the_learner_one_command_from_invoke_check(clone):
    done = _run(["bash", ".devcontainer/post-create.sh"], clone, WORKSHOP_SKIP_APT="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "invoke check" in done.stdout
    check = _run([str(clone / ".venv" / "bin" / "invoke"), "check", "01"], clone, NO_COLOR="1")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "Open steps/01_echo/sketch/" in check.stdout


# Native Windows, simulated: sys.platform says win32 once invoke itself is imported (invoke
# picks its own terminal code by platform at import).
SIMULATE_WINDOWS = """
import sys
from invoke.main import program
sys.platform = "win32"
program.run(["invoke", *sys.argv[1:]])
"""


def _as_on_windows(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SIMULATE_WINDOWS, *args],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        env={**_env(), "PYTHONIOENCODING": "cp1252"},
        text=True,
        encoding="cp1252",
    )


def test_every_task_answers_native_windows_in_one_line_with_the_way_out():
    tasks = sorted(namespace().tasks)
    commands = [[name] for name in tasks] + [["--list"], ["--help", "check"]]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda words: (words, _as_on_windows(*words)), commands))
    for words, done in results:
        said = f"invoke {' '.join(words)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        assert done.returncode == 2, said
        assert "Traceback" not in done.stdout + done.stderr, said
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "native Windows" in lines[0], said
        assert "WSL 2" in lines[0] and "Codespace" in lines[0], said
        assert lines[0].isascii(), "any console code page must print it"


def test_ci_runs_the_learners_path_on_macos_and_python_314_and_checks_windows():
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert '"3.14"' in workflow, "Python 3.14 in the test matrix"
    assert "runs-on: macos-latest" in workflow and ".ci/learner-path" in workflow
    assert "runs-on: windows-latest" in workflow and "native Windows" in workflow
    assert os.access(ROOT / ".ci" / "learner-path", os.X_OK)


def test_the_readme_says_where_the_workshop_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where it runs", 1)
    assert len(section) == 2, "README.md needs a 'Where it runs' section"
    text = section[1].split("\n## ", 1)[0]
    for needed in ("Linux", "macOS", "WSL 2", "Codespace", "native Windows", "3.14"):
        assert needed in text, f"'Where it runs' should mention {needed}"
