"""Where learners work: a Codespace in one click, Linux and macOS, and a clear answer on
native Windows (issue: platforms)."""

import ast
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


# --- no Linux-only call on the learner's path --------------------------------------------------

# The learner's tasks; the judge's modules `invoke check` starts (its pytest plugins and the
# object child); what only grading runs (the sandbox is Linux's by nature).
LEARNER_TASKS = ("check", "hint", "solve", "restore", "reset", "diff", "progress", "next",
                 "watch", "goto", "update", "join")  # fmt: skip
JUDGE = ("workshop.harness", "workshop.report", "workshop.child")
GRADING_ONLY = {"workshop.sandbox", "workshop.grading", "workshop.classgrade",
                "workshop.tasks.grading"}  # fmt: skip
LINUX_ONLY = {("os", "killpg"), ("os", "getpgid"), ("os", "setsid"), ("os", "getpgrp"),
              ("signal", "SIGKILL")}  # fmt: skip
PLATFORM_WORDS = ("sys.platform", "os.name", "platform.system")


def learner_path() -> set[str]:
    """The modules the learner's tasks import (lazily or not), grading's own aside."""
    from tests.test_layers import MODULES, imported

    tasks = namespace().tasks
    todo = [tasks[name].body.__module__ for name in LEARNER_TASKS] + list(JUDGE)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name in GRADING_ONLY:
            continue
        seen.add(name)
        todo += imported(name, MODULES[name])
    return seen


def linux_only_calls(path) -> list[str]:
    """`os.killpg`, `signal.SIGKILL`, `/proc`, `pgrep` ... in PATH outside a platform check:
    an `if` on sys.platform or os.name (or on a module constant made from one)."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    checks = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(word in ast.get_source_segment(source, node.value) for word in PLATFORM_WORDS)
        for target in node.targets
        if isinstance(target, ast.Name)
    }

    def is_check(test: ast.expr) -> bool:
        text = ast.get_source_segment(source, test) or ""
        names = {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}
        return any(word in text for word in PLATFORM_WORDS) or bool(names & checks)

    found = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a docstring may name /proc
        if isinstance(node, (ast.If, ast.IfExp)) and is_check(node.test):
            visit(node.test, guarded)
            for child in (
                [*node.body, *node.orelse] if isinstance(node, ast.If) else [node.body, node.orelse]
            ):
                visit(child, True)
            return
        bad = (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in LINUX_ONLY
        ) or (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and ("/proc" in node.value or node.value == "pgrep")
        )
        if bad and not guarded:
            found.append(f"{path.name}:{node.lineno}: {ast.get_source_segment(source, node)}")
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return found


def test_the_learners_path_makes_no_linux_only_call_outside_a_platform_check():
    from tests.test_layers import MODULES

    path = learner_path()
    assert {"workshop.runner", "workshop.server", "workshop.swap", "workshop.remote"} <= path
    assert "workshop.sandbox" not in path
    found = [line for name in sorted(path) for line in linux_only_calls(MODULES[name])]
    assert not found, "Linux-only calls on the learner's path (use workshop.processes): " + (
        "; ".join(found)
    )


def test_the_linux_only_finder_sees_a_bare_killpg_and_lets_a_guarded_one_be(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "import os, signal, sys\n"
        "POSIX = os.name == 'posix'\n"
        "os.killpg(1, signal.SIGKILL)\n"
        "if POSIX:\n    os.killpg(1, 9)\n"
        "if sys.platform == 'linux':\n    open('/proc/1/stat')\n"
        "children = open('/proc/self/stat')\n"
    )
    assert linux_only_calls(module) == [
        "m.py:3: os.killpg",
        "m.py:3: signal.SIGKILL",
        "m.py:8: '/proc/self/stat'",
    ]


# --- macOS starts a process with a soft limit of 256 open files -----------------------------

MACOS_SOFT_LIMIT = 256
HOLD_SOCKETS = 400  # more than the limit allows: what the load tests and benchmarks need

HOLD = f"""
import resource, socket
from workshop import files
files.allow_open_files({HOLD_SOCKETS})
held = [socket.socket() for _ in range({HOLD_SOCKETS})]
print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no file limits to raise")
def test_a_process_that_holds_hundreds_of_sockets_raises_a_soft_limit_of_256():
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < HOLD_SOCKETS + 100:
        pytest.skip(f"the hard limit here ({hard}) is below what the test needs")

    def as_on_macos() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (MACOS_SOFT_LIMIT, hard))

    done = subprocess.run(
        [sys.executable, "-c", HOLD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        preexec_fn=as_on_macos,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > HOLD_SOCKETS
