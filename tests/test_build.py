"""The snapshot builder: one annotated source, a skeleton and a solution per stage."""

import textwrap
from pathlib import Path

import pytest

from workshop import build, manifest


def render(source: str, stage: int, skeleton: bool = False) -> str | None:
    text = textwrap.dedent(source).lstrip("\n")
    return build.render(text, "demo.py", stage, skeleton=skeleton, stage_id=f"{stage:02d}_demo")


def test_committed_snapshots_match_the_source():
    drift = build.drift()
    listing = "\n".join(f"  {d.path}: {d.problem}" for d in drift[:20])
    assert not drift, (
        f"{len(drift)} generated file(s) differ from what source/sketch makes:\n{listing}\n"
        "Snapshots are never edited by hand: change source/sketch, then run `invoke build`."
    )


def test_from_and_to_blocks_appear_only_in_their_stages():
    source = """
        a = 1
        #: from 02
        b = 2
        #: end
        #: to 02
        c = 3
        #: end
        #: from 02 to 03
        d = 4
        #: end
    """
    assert render(source, 1) == "a = 1\nc = 3\n"
    assert render(source, 2) == "a = 1\nb = 2\nc = 3\nd = 4\n"
    assert render(source, 3) == "a = 1\nb = 2\nd = 4\n"
    assert render(source, 4) == "a = 1\nb = 2\n"


def test_a_todo_is_stubbed_in_its_own_stage_skeleton_only():
    source = """
        class Router:
            def resolve(self, path):
                #: todo 02 Find the handler.
                return self.table[path]
                #: end
    """
    skeleton = render(source, 2, skeleton=True)
    assert "return self.table[path]" not in skeleton
    assert "# TODO(02_demo): Find the handler." in skeleton
    message = "02_demo: sketch/demo.py: Router.resolve: Find the handler."
    assert f"raise NotImplementedError({message!r})" in skeleton
    assert "return self.table[path]" in render(source, 2)  # the solution
    assert "return self.table[path]" in render(source, 3, skeleton=True)  # later skeletons
    assert "resolve" in render(source, 1) and "table" not in render(source, 1)


def test_a_file_marker_limits_the_whole_file():
    source = "#: file from 03\nx = 1\n"
    assert render(source, 2) is None
    assert render(source, 3).strip() == "x = 1"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("#: from 02\nx = 1\n", "not closed"),
        ("x = 1\n#: end\n", "without an open block"),
        ("#: sometimes\n#: end\n", "unknown marker"),
        ("#: from two\n#: end\n", "expected 'from NN'"),
    ],
)
def test_a_bad_marker_is_an_error_naming_file_and_line(source, problem):
    with pytest.raises(build.MarkerError, match=problem) as error:
        render(source, 1)
    assert "sketch/demo.py" in str(error.value)


@pytest.fixture
def tiny_workshop(tmp_path: Path) -> Path:
    """A workshop of two stages and one source file, to build for real."""
    (tmp_path / "stages.toml").write_text(
        '[[stage]]\nid = "01_one"\ntitle = "One"\n\n[[stage]]\nid = "02_two"\ntitle = "Two"\n'
    )
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    source = tmp_path / "source" / "sketch"
    source.mkdir(parents=True)
    (source / "core.py").write_text(
        "def answer() -> int:\n    #: to 01\n    return 0\n    #: end\n"
        "    #: todo 02 Return 42.\n    return 42\n    #: end\n"
    )
    manifest._load.cache_clear()
    yield tmp_path
    manifest._load.cache_clear()


def test_build_writes_every_snapshot_and_a_lock(tiny_workshop):
    report = build.write(tiny_workshop)
    assert sorted(report.written) == [
        "solutions/01_one/sketch/core.py",
        "solutions/02_two/sketch/core.py",
        "steps/01_one/sketch/core.py",
        "steps/02_two/sketch/core.py",
    ]
    assert "NotImplementedError" in (tiny_workshop / "steps/02_two/sketch/core.py").read_text()
    assert build.drift(tiny_workshop) == []
    assert build.write(tiny_workshop).written == []  # nothing changed: nothing rewritten


def test_a_hand_edited_snapshot_is_reported_as_drift(tiny_workshop):
    build.write(tiny_workshop)
    edited = tiny_workshop / "solutions/02_two/sketch/core.py"
    edited.write_text(edited.read_text().replace("42", "41"))
    problems = {d.path: d.problem for d in build.drift(tiny_workshop)}
    assert "solutions/02_two/sketch/core.py" in problems
    assert "edited by hand" in problems["solutions/02_two/sketch/core.py"]


def test_build_never_overwrites_learner_work_without_force(tiny_workshop):
    build.write(tiny_workshop)
    learner_file = tiny_workshop / "steps/02_two/sketch/core.py"
    learner_file.write_text("def answer() -> int:\n    return 6 * 7\n")
    source = tiny_workshop / "source/sketch/core.py"
    source.write_text(source.read_text().replace("Return 42.", "Return the answer."))

    report = build.write(tiny_workshop)
    assert report.kept == ["steps/02_two/sketch/core.py"]
    assert "6 * 7" in learner_file.read_text()

    report = build.write(tiny_workshop, force=True)
    assert "steps/02_two/sketch/core.py" in report.written
    assert "Return the answer." in learner_file.read_text()
