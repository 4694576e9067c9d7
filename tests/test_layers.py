"""The tooling's shape: no module of workshop/ imports another in a cycle, and none does work
when it is imported (every `invoke --list` and every pytest run imports them)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import _env
from workshop import manifest

PACKAGE = manifest.ROOT / "workshop"


def module_name(path: Path) -> str:
    parts = path.relative_to(manifest.ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The workshop modules NAME imports, anywhere in it (a function's lazy import counts)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m in MODULES and m != name and m != "workshop"}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or round a loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_the_tooling_imports_another_in_a_cycle():
    graph = {name: imported(name, path) for name, path in MODULES.items()}
    assert len(graph) > 30 and graph["workshop.swap"], "the import graph was not read"
    found = cycles(graph)
    assert not found, "these modules import each other (lazily or not); make one of them " + (
        "depend on the other only, or move what both need into a module below them: "
        + "; ".join(" <-> ".join(group) for group in found)
    )


def test_the_cycle_finder_finds_a_loop_through_three_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


# Imports every module named on the command line with an audit hook that refuses writing a
# file, reading the learner's state (.workshop/), removing or renaming a file, making a
# folder, starting a process and opening a socket: prints {module: what it tried} for those
# that did such work when imported.
TRAP = r"""
import importlib, json, os, sys, traceback

WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
REFUSED = ("os.remove", "os.rename", "os.mkdir", "os.rmdir", "shutil.rmtree", "os.symlink",
           "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork",
           "os.kill", "os.killpg", "socket.connect", "socket.bind", "os.chmod", "os.utime")


class ImportTimeWork(Exception):
    pass


def hook(event, args):
    if event == "open" and len(args) > 2 and args[0] is not None:
        mode, flags = args[1], args[2]
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (flags & WRITING):
            raise ImportTimeWork(f"opened {args[0]} for writing")
        if ".workshop" in str(args[0]).replace(os.sep, "/").split("/"):
            raise ImportTimeWork(f"read the learner's state: {args[0]}")
    elif event.startswith(REFUSED):
        raise ImportTimeWork(f"{event} {args[:2]}")


sys.dont_write_bytecode = True
sys.addaudithook(hook)
found = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ImportTimeWork as error:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if "workshop" in f.filename]
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        found[name] = f"{error} (at {where})"
print(json.dumps(found))
"""


def test_importing_any_module_of_the_tooling_writes_no_file_and_starts_no_process():
    done = subprocess.run(
        [sys.executable, "-c", TRAP, *MODULES],
        cwd=manifest.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**_env(), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    worked = json.loads(done.stdout.strip().splitlines()[-1])
    assert not worked, "these modules do work when imported (do it when a task runs): " + (
        "; ".join(f"{name}: {what}" for name, what in worked.items())
    )


def test_the_import_trap_catches_a_module_that_writes_when_imported(tmp_path):
    (tmp_path / "busy.py").write_text("open('made-at-import.txt', 'w').close()\n")
    done = subprocess.run(
        [sys.executable, "-c", TRAP, "busy"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**_env(), "PYTHONPATH": str(tmp_path)},
    )
    assert "made-at-import.txt" in json.loads(done.stdout.strip().splitlines()[-1])["busy"]
    assert not (tmp_path / "made-at-import.txt").exists()


# What only some tasks need, and costs every command milliseconds when a task module imports
# it at its top (workshop/tasks/__init__.py): `invoke --list` (which runs no task) imports none.
# asyncio and ssl are not here: invoke itself imports them (invoke.context -> unittest.mock).
HEAVY = ("workshop.grading", "workshop.classgrade", "workshop.board_client", "workshop.build",
         "workshop.markers", "workshop.newstep", "workshop.edition", "workshop.update",
         "workshop.graderrecord", "workshop.doctables", "workshop.runner", "tomlkit",
         "junitparser", "psutil", "rich", "urllib.request", "statistics", "watchfiles")  # fmt: skip


def test_invoke_list_imports_none_of_what_only_some_tasks_need():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "invoke", "--list"],
        cwd=manifest.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    # -X importtime writes one line per module imported: "import time: self | total | name".
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "check" in done.stdout and "workshop.manifest" in loaded, "nothing was listed"
    heavy = sorted(m for m in HEAVY if m in loaded)
    assert not heavy, (
        f"`invoke --list` imports {', '.join(heavy)}: a task module imports it at its top; "
        "import it inside the task (or helper) that uses it"
    )
