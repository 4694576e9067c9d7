"""The snapshot builder: one annotated source, a skeleton and a solution per stage."""

import textwrap
from pathlib import Path

import pytest

from workshop import build, manifest, markers

ORDER = ["one", "two", "three", "four"]  # the stages of these small examples


def render(source: str, stage: str, skeleton: bool = False, mistake: str | None = None):
    text = textwrap.dedent(source).lstrip("\n")
    parsed = markers.parse(text, "demo.py", ORDER)
    index = ORDER.index(stage)
    stage_id = f"{index + 1:02d}_{stage}"
    text = markers.render(parsed, index, stage_id, skeleton=skeleton, mistake=mistake)
    if text is None:
        return None
    return "".join(line for line in text.splitlines(True) if line.strip()) or "\n"  # ruff's job


def test_committed_snapshots_match_the_source():
    drift = build.drift()
    listing = "\n".join(f"  {d.path}: {d.problem}" for d in drift[:20])
    assert not drift, (
        f"{len(drift)} generated file(s) differ from what source/sketch makes:\n{listing}\n"
        "Snapshots are never edited by hand: change source/sketch, then run `invoke build`."
    )


def test_a_from_block_appears_from_its_stage_on():
    source = """
        a = 1
        #: from two
        b = 2
        #: from three
        c = 3
        #: end three
        #: end two
    """
    assert render(source, "one") == "a = 1\n"
    assert render(source, "two") == "a = 1\nb = 2\n"
    assert render(source, "four") == "a = 1\nb = 2\nc = 3\n"


def test_a_todo_is_stubbed_in_its_own_stage_skeleton_only():
    source = """
        class Router:
            def resolve(self, path):
                #: todo two Find the handler
                #:     for the path.
                return self.table[path]
                #: end two
    """
    skeleton = render(source, "two", skeleton=True)
    assert "return self.table[path]" not in skeleton
    assert "# TODO(02_two): Find the handler for the path." in skeleton
    message = "02_two: sketch/demo.py: Router.resolve: Find the handler for the path."
    assert f"raise NotImplementedError({message!r})" in skeleton
    assert "#:" not in skeleton
    assert "return self.table[path]" in render(source, "two")  # the solution
    assert "return self.table[path]" in render(source, "three", skeleton=True)  # later skeletons
    assert "resolve" in render(source, "one") and "table" not in render(source, "one")


def test_a_file_marker_limits_the_whole_file():
    source = "#: file from three\nx = 1\n"
    assert render(source, "two") is None
    assert render(source, "three").strip() == "x = 1"


def test_a_marked_unit_exists_only_in_its_stages():
    source = """
        #: until three
        import json
        #: from two until four
        def helper():
            return json.dumps(1)
        #: since three
        @property
        def later():
            return 3
    """
    assert render(source, "one") == "import json\n"
    assert "import json" in render(source, "two") and "def helper" in render(source, "two")
    assert "later" not in render(source, "two")
    three = render(source, "three")
    assert "import json" not in three and "helper" in three and "@property" in three
    assert render(source, "four") == "@property\ndef later():\n    return 3\n"


def test_a_variant_stands_in_for_its_sibling_under_its_name_in_its_stages():
    source = """
        class Server:
            def serve(self):
                return "final"

            #: variant serve until three
            def serve_simply(self):
                return "simple"

            def twice(self):
                return self.serve() * 2

            #: variant twice until three
            def twice_simply(self):
                return self.serve_simply() * 2


        #: variant Server from two until three
        class LoggingServer:
            def serve(self):
                return "logged"


        def main():
            return Server().serve()


        #: variant main until three
        def main_simply():
            return LoggingServer().twice() + other.serve_simply()
    """
    one = render(source, "one")
    assert 'class Server:\n    def serve(self):\n        return "simple"' in one
    assert "def twice(self):\n        return self.serve() * 2" in one
    # Another object's attribute keeps its name; LoggingServer is a variant of stage two only.
    assert "def main():\n    return LoggingServer().twice() + other.serve_simply()" in one
    two = render(source, "two")
    assert 'class Server:\n    def serve(self):\n        return "logged"' in two
    assert "def main():\n    return Server().twice() + other.serve_simply()" in two
    three = render(source, "three")
    assert '"final"' in three and "Logging" not in three and "simpl" not in three
    assert "#:" not in one + two + three


def test_a_todo_inside_a_variant_names_the_unit_it_stands_for():
    source = """
        class App:
            def handle(self):
                return 2

            #: variant handle until two
            def handle_plainly(self):
                #: todo one Return 1.
                return 1
                #: end one
    """
    assert "one: sketch/demo.py: App.handle: Return 1." in render(source, "one", skeleton=True)


def test_a_mistake_stands_in_for_its_unit_only_when_asked_and_in_its_stage():
    source = """
        def add(a, b):
            return a + b


        #: mistake off-by-one: add in two
        def add_wrongly(a, b):
            return a + b + 1
    """
    assert "a + b + 1" not in render(source, "two")
    assert "def add(a, b):\n    return a + b + 1" in render(source, "two", mistake="off-by-one")
    assert "a + b + 1" not in render(source, "three", mistake="off-by-one")
    mistakes = markers.parse(textwrap.dedent(source), "demo.py", ORDER).units
    assert [(u.mistake, u.target, u.lo) for u in mistakes] == [("off-by-one", "add", 1)]


def test_a_mistake_is_described_by_the_indented_lines_under_its_marker():
    source = """
        def add(a, b):
            return a + b


        #: mistake off-by-one: add in two
        #:     adds one too many,
        #:     every time
        def add_wrongly(a, b):
            return a + b + 1
    """
    (unit,) = markers.parse(textwrap.dedent(source), "demo.py", ORDER).units
    assert unit.description == "adds one too many, every time"
    assert render(source, "two", mistake="off-by-one").endswith(
        "def add(a, b):\n    return a + b + 1\n"
    )
    assert "too many" not in render(source, "two")


def test_a_mistake_in_place_of_a_variant_is_called_by_the_variants_name_too():
    source = """
        def serve():
            return "final"


        #: variant serve until three
        def serve_early():
            return "early"


        #: mistake wrong: serve in two
        def serve_wrongly():
            return "wrong"


        def main():
            return serve_early() if EARLY else serve()
    """
    text = render(source, "two", mistake="wrong")
    assert 'def serve():\n    return "wrong"' in text
    assert "return serve() if EARLY else serve()" in text


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("#: from two\nx = 1\n", "not closed by '#: end two'"),
        ("x = 1\n#: end two\n", "without an open block"),
        ("#: from two\n#: from three\nx = 1\n#: end two\n#: end three\n", "closes the block"),
        ("#: sometimes\nx = 1\n", "unknown marker"),
        ("#: from five\nx = 1\n#: end five\n", "no stage named 'five'"),
        ("#: until two\nx = 1\n", "goes above a def, class, import"),
        ("#: until two\n\ndef f(): pass\n", "right above"),
        ("#: variant g until two\ndef f(): pass\n", "no unit 'g'"),
        ("def f(): pass\n#: from three until two\ndef g(): pass\n", "exists in no stage"),
        ("#: from two\nx = 1\n#: until three\ndef g():\n    pass\n    #: end two\n", "crosses"),
        ("def f(:\n", "not valid Python"),
    ],
)
def test_a_bad_marker_is_an_error_naming_file_and_line(source, problem):
    with pytest.raises(markers.MarkerError, match=problem) as error:
        render(source, "one")
    assert "sketch/demo.py" in str(error.value)


def test_two_variants_of_one_unit_in_one_stage_are_an_error():
    source = """
        def f(): pass
        #: variant f until three
        def f_one(): pass
        #: variant f from two until four
        def f_two(): pass
    """
    assert "pass" in render(source, "one")
    with pytest.raises(markers.MarkerError, match="two variants of f"):
        render(source, "two")


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
        "def answer() -> int:\n    #: todo two Return 42.\n    return 42\n    #: end two\n\n\n"
        "#: variant answer until two\ndef no_answer() -> int:\n    return 0\n"
    )
    manifest._load.cache_clear()
    yield tmp_path
    manifest._load.cache_clear()


def test_mistakes_are_listed_with_the_file_and_function_to_point_the_learner_to(tiny_workshop):
    (tiny_workshop / "source/sketch/core.py").write_text(
        "class Core:\n    def answer(self) -> int:\n        return 42\n\n"
        "    #: mistake off-by-one: answer in two\n"
        "    def answer_wrongly(self) -> int:\n        return 41\n"
    )
    assert build.mistakes(tiny_workshop) == [
        build.Mistake("off-by-one", "two", "sketch/core.py", "Core.answer")
    ]
    made = build.with_mistakes(build.mistakes(tiny_workshop), tiny_workshop)
    assert made == {"off-by-one": {"core.py": "class Core:\n    def answer(self) -> int:\n"
                                               "        return 41\n"}}  # fmt: skip


def test_two_mistakes_of_one_name_are_an_error(tiny_workshop):
    (tiny_workshop / "source/sketch/core.py").write_text(
        "def answer() -> int:\n    return 42\n\n\n"
        "#: mistake wrong: answer in two\ndef answer_low() -> int:\n    return 41\n\n\n"
        "#: mistake wrong: answer in two\ndef answer_high() -> int:\n    return 43\n"
    )
    with pytest.raises(markers.MarkerError, match="a second mistake named 'wrong'"):
        build.mistakes(tiny_workshop)


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


def test_show_prints_a_stage_and_its_diff_from_the_stage_before():
    from tests.test_grading import run_invoke

    stages = manifest.stages()
    keepalive = manifest.find("keepalive")
    before = stages[stages.index(keepalive) - 1]
    done = run_invoke(manifest.ROOT, "show", keepalive.id, "protocol.py", "--diff")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"--- {before.id} reference: sketch/protocol.py" in done.stdout
    assert f"+++ {keepalive.id} reference: sketch/protocol.py" in done.stdout
    assert '-    """Reads an HTTP/1.1 request from a connection, answers it, and closes."""' in (
        done.stdout
    )
    listing = run_invoke(manifest.ROOT, "show", "keepalive", "--skeleton")
    assert "sketch/connections.py" in listing.stdout and "new" in listing.stdout
    one = run_invoke(manifest.ROOT, "show", "echo", "server.py", "--skeleton")
    assert "raise NotImplementedError(" in one.stdout and "#:" not in one.stdout
