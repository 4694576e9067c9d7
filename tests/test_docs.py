"""The manifest, the lessons and the docs say true things about the repository."""

import re

import pytest

from workshop import doctables, manifest
from workshop.tasks import namespace
from workshop.todos import stubs

ROOT = manifest.ROOT
STAGES = manifest.stages()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_manifest_numbers_its_stages_one_by_one_and_names_every_stage_folder():
    assert [s.number for s in STAGES] == list(range(1, len(STAGES) + 1))
    for top in ("steps", "solutions"):
        folders = sorted(p.name for p in (ROOT / top).iterdir() if p.is_dir())
        assert folders == [s.id for s in STAGES], f"{top}/ and stages.toml disagree"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_every_stage_has_a_lesson_tests_hints_and_a_solution(stage):
    assert stage.lesson().is_file(), f"{stage.id} has no lesson at {stage.lesson()}"
    assert any(stage.tests_dir().glob("test_*.py")), f"{stage.id} has no tests"
    assert (stage.solution_dir() / "sketch" / "__main__.py").is_file()
    assert len(stage.hints) >= 3, f"{stage.id} has {len(stage.hints)} hints in stages.toml"


def todos(stage: manifest.Stage) -> list[tuple[str, str]]:
    """(file, function) of every TODO in the stage's skeleton."""
    found = []
    for path in sorted((stage.step_dir() / "sketch").rglob("*.py")):
        for _, todo in stubs(path.read_text(encoding="utf-8")):
            if todo.stage_id == stage.id:
                found.append((todo.file, todo.function))
    return found


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_every_skeleton_has_todos_of_its_own_stage(stage):
    assert todos(stage), f"steps/{stage.id}/sketch has no TODO for stage {stage.id}"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_every_lesson_names_each_todo_by_file_and_function(stage):
    lesson = stage.lesson().read_text(encoding="utf-8")
    missing = [
        f"{file}: {function}"
        for file, function in todos(stage)
        if function.split(".")[-1] not in lesson or file.split("/")[-1] not in lesson
    ]
    assert not missing, f"{stage.id}'s lesson does not mention these TODOs: {missing}"


ITEM = re.compile(r"^\d+\. `(?:(?P<file>sketch/[\w/]+\.py)(?:`: `|: ))?(?P<function>[\w.]+)`", re.M)


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.id)
def test_every_todo_the_lesson_lists_is_a_todo_of_the_skeleton(stage):
    """`1. sketch/router.py: UrlDispatcher.resolve: ...`: that function has this stage's TODO
    in the skeleton (an item may leave the file to the list's introduction)."""
    lesson = stage.lesson().read_text(encoding="utf-8")
    section = lesson[lesson.index("## Your TODO") :].split("\n## ", 2)[0]
    items = list(ITEM.finditer(section))
    assert items, f"{stage.id}'s TODO list names no function as `sketch/file.py: Function`"
    present = set(todos(stage))
    for item in items:
        before = section[: item.start()]
        files = re.findall(r"sketch/[\w/]+\.py", before)
        file = item["file"] or (files[-1] if files else "")
        assert (file, item["function"]) in present, (
            f"{stage.id}'s lesson lists {file}: {item['function']}, which is not a TODO of the "
            f"skeleton; its TODOs are {sorted(present)}"
        )
    assert len(items) == len(present), (
        f"{stage.id}'s lesson lists {len(items)} TODOs; the skeleton has {len(present)}"
    )


def test_the_stage_tables_of_the_docs_say_what_the_manifest_says():
    stale = doctables.stale()
    assert not stale, f"{stale}: a table of stages differs from stages.toml; run `invoke build`"


def test_every_invoke_command_in_the_docs_exists():
    tasks = set(namespace().task_names)
    for doc in DOCS:
        for command in re.findall(r"`invoke ([a-z][a-z-]*)", doc.read_text(encoding="utf-8")):
            assert command in tasks, f"{doc.name} mentions `invoke {command}`, which does not exist"


def test_every_relative_link_in_the_docs_points_at_a_file():
    for doc in [*DOCS, *(s.lesson() for s in STAGES if s.lesson().exists())]:
        for target in re.findall(r"\]\(([^)#\s]+)\)", doc.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to {target}"


def test_the_quickstart_says_how_to_join_a_class_that_is_further_on():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme[readme.index("## Quickstart") :].split("\n## ", 1)[0]
    assert "invoke goto 06" in quickstart, "a learner joining at stage 06 starts with goto"


def todo_section(stage: manifest.Stage) -> str:
    lesson = stage.lesson().read_text(encoding="utf-8")
    return lesson[lesson.index("## Your TODO") :].split("\n## ", 2)[0]


def test_stage_02_says_everywhere_that_an_upgrade_is_caught():
    """02's tests require `except httptools.HttpParserUpgrade`: its TODO list, its TODO and
    its hints say so too."""
    stage = manifest.find("parsing")
    skeleton = (stage.step_dir() / "sketch" / "protocol.py").read_text(encoding="utf-8")
    tests = (stage.tests_dir() / "test_server.py").read_text(encoding="utf-8")
    assert "HttpParserUpgrade" in tests
    assert "HttpParserUpgrade" in todo_section(stage)
    assert any("HttpParserUpgrade" in t.message for _, t in stubs(skeleton))
    assert any("HttpParserUpgrade" in hint for hint in stage.hints)
    assert "your stage 01 code" not in stage.lesson().read_text(encoding="utf-8")


def test_stage_03_names_the_same_statuses_without_a_body_everywhere():
    stage = manifest.find("responses")
    skeleton = (stage.step_dir() / "sketch" / "response.py").read_text(encoding="utf-8")
    end = skeleton.index("\n", skeleton.index("NO_BODY = "))
    comment = skeleton[:end].rsplit("\n\n", 1)[-1]  # the comment, and the line it is about
    (todo,) = [t for _, t in stubs(skeleton) if t.function == "Response.encode"]
    for said in (comment, todo.message, todo_section(stage)):
        assert "1xx" in said and "204" in said and "304" in said, said


def test_stage_09_hints_do_not_say_on_request_only_queues():
    stage = manifest.find("keepalive")
    assert "pause reading" in todo_section(stage)
    assert not any("only queues" in hint for hint in stage.hints)


def unit_source(path, qualname: str) -> str | None:
    """The source of the def or class QUALNAME (`Class.method`) in PATH, or None."""
    import ast

    if not path.is_file():
        return None
    nodes, node = ast.parse(path.read_text(encoding="utf-8")).body, None
    for part in qualname.split("."):
        node = next((n for n in nodes if getattr(n, "name", None) == part), None)
        if node is None:
            return None
        nodes = getattr(node, "body", [])
    return ast.unparse(node)


@pytest.mark.parametrize("stage", STAGES[:-1], ids=lambda s: s.id)
def test_what_a_todo_taught_reaches_the_next_skeleton_as_taught(stage):
    """The next stage starts from this one's reference: a function a TODO here had the
    learner write is there as the reference wrote it, or gone, or the next lesson says why
    it changed (09 taught the worker without a guard that 10's skeleton then had)."""
    following = STAGES[STAGES.index(stage) + 1]
    lesson = following.lesson().read_text(encoding="utf-8")
    for file, function in todos(stage):
        taught = unit_source(stage.solution_dir() / file, function)
        then = unit_source(following.step_dir() / file, function)
        assert then in (None, taught) or function.split(".")[-1] in lesson, (
            f"{file}: {function}, a TODO of {stage.id}, differs in {following.id}'s skeleton "
            f"from {stage.id}'s reference, and {following.id}'s lesson does not say so"
        )
