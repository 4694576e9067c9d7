"""The `#:` markers of source/sketch/: how each stage's version of a file is made from it.

`source/sketch/` is the framework as it stands at the end of the last stage: valid Python,
linted and type-checked like any other code. Comment lines starting with `#:` say how the
earlier stages differ. They name stages as stages.toml does, without the number (`routing`
for 04_routing), so inserting a stage rewrites no marker.

Blocks of lines, added in a stage (each end names the stage of the block it closes):

    #: file from routing              (first line) the whole file exists from routing on
    #: from params                    the lines up to `#: end params` exist from params on
    #: todo params Match the path.    ... and, in params' skeleton, they are the learner's TODO
    #: end params                     (see workshop/todos.py for what the TODO becomes)

Units (a def, a class or an import, found with the AST) that earlier stages have otherwise;
the marker sits right above the unit, and no end is needed:

    #: since shutdown                 the unit exists from shutdown on
    #: until errors                   the unit exists only before errors
    #: from params until errors       ... from params on, and before errors
    #: variant resolve until errors   this def stands for its sibling `resolve` before errors:
                                      it takes that name, in its own place, and `resolve` is out
    #: variant resolve from params until errors
    #: mistake NAME: resolve in params   a known mistake in `resolve`, for stage params' tests;
    #:     what the learner did wrong    only a build that asks for NAME swaps it in; the
                                      indented `#:` lines under it describe it (optional)

`parse` reads one file once; `render` makes its text for any stage. docs/DEVELOPING.md has
the how-to; tests/test_build.py the small examples.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from workshop.todos import MODULE_LEVEL, Todo

PACKAGE = "sketch"

_MARKER = re.compile(r"^(?P<indent>\s*)#:\s*(?P<body>.*?)\s*$")
_NAME = r"[a-z][a-z0-9_]*"
_FILE = re.compile(rf"^file from (?P<lo>{_NAME})$")
_FROM = re.compile(rf"^from (?P<lo>{_NAME})$")
_TODO = re.compile(rf"^todo (?P<lo>{_NAME}) (?P<message>\S.*)$")
_END = re.compile(rf"^end (?P<stage>{_NAME})$")
_UNTIL = re.compile(rf"^(?:from (?P<lo>{_NAME}) )?until (?P<hi>{_NAME})$")
_SINCE = re.compile(rf"^since (?P<lo>{_NAME})$")
_VARIANT = re.compile(rf"^variant (?P<target>\w+) (?:from (?P<lo>{_NAME}) )?until (?P<hi>{_NAME})$")
_CONTINUED = re.compile(r"^\s*#:\s\s+(?P<more>\S.*?)\s*$")  # a TODO's message, continued
_MISTAKE = re.compile(rf"^mistake (?P<name>[\w-]+): (?P<target>\w+) in (?P<lo>{_NAME})$")


class MarkerError(ValueError):
    """A `#:` marker the builder cannot follow; the message names the file and line."""


@dataclass
class Block:
    """Lines added in a stage: `#: from` or `#: todo`, up to its `#: end`."""

    opens: int  # line index of the marker
    closes: int  # line index of its `#: end`
    lo: int  # the first stage (its index in the manifest) the lines exist in
    todo: str | None = None  # the TODO's message, for `#: todo` blocks
    indent: str = ""
    where: str = MODULE_LEVEL  # the function the lines are in, as the snapshot names it


@dataclass
class Unit:
    """A def, class or import with a marker right above it."""

    marker: int  # line index of the marker
    first: int  # line index of its first line (a decorator, or the def itself)
    last: int  # line index of its last line
    lo: int  # the first stage it exists in
    hi: int  # the first stage it no longer exists in
    target: str | None = None  # a variant or mistake: the qualname of the unit it stands for
    mistake: str | None = None  # a mistake: its name
    description: str = ""  # a mistake: what the learner did wrong (its `#:` lines)
    own: str = ""  # a variant or mistake: its own name in the source


@dataclass
class Source:
    """One source file, read once and rendered for any stage."""

    path: str  # relative to source/sketch: "router.py"
    lines: list[str]
    lo: int = 0  # the first stage the file exists in (`#: file from`, on the first line)
    blocks: list[Block] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # qualname -> lines
    file_marker: bool = False
    continued: set[int] = field(default_factory=set)  # lines that continue a TODO's message


def _stage_index(name: str, order: Sequence[str], where: str) -> int:
    if name not in order:
        known = ", ".join(order)
        raise MarkerError(f"{where}: no stage named {name!r} (stages.toml has: {known})")
    return order.index(name)


def _statements(tree: ast.Module) -> Iterable[tuple[ast.stmt, str]]:
    """Every statement at module or class level, with the qualname of its scope ("" or "C")."""
    todo: list[tuple[list[ast.stmt], str]] = [(tree.body, "")]
    while todo:
        body, scope = todo.pop()
        for node in body:
            yield node, scope
            if isinstance(node, ast.ClassDef):
                todo.append((node.body, f"{scope}.{node.name}".lstrip(".")))


def _last_line(node: ast.stmt, lines: list[str]) -> int:
    """The index of a statement's last line, with the comments that close its body (`#: end`)."""
    last = node.end_lineno - 1  # type: ignore[operator]
    indent = len(lines[node.lineno - 1]) - len(lines[node.lineno - 1].lstrip())
    for index in range(last + 1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue  # a blank line: the comments after it may still be the body's
        if not line.lstrip().startswith("#") or len(line) - len(line.lstrip()) <= indent:
            break
        last = index
    return last


def _named(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    return None


def parse(text: str, path: str, order: Sequence[str]) -> Source:
    """Read the markers of one source file; ORDER is every stage's name, in order."""
    lines = text.split("\n")
    source = Source(path, lines)
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise MarkerError(f"{PACKAGE}/{path}:{error.lineno}: not valid Python: {error.msg}")
    starts: dict[int, tuple[ast.stmt, str]] = {}  # first line index -> (statement, scope)
    qualnames: dict[str, ast.stmt] = {}
    for node, scope in _statements(tree):
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        starts[first] = (node, scope)
        if name := _named(node):
            qualnames[f"{scope}.{name}".lstrip(".")] = node
            source.spans[f"{scope}.{name}".lstrip(".")] = (first, _last_line(node, lines))

    stack: list[tuple[int, str, str | None]] = []  # open blocks: line, stage, TODO message
    for index, line in enumerate(lines):
        marker = _MARKER.match(line)
        if not marker or index in source.continued:
            continue
        body, where = marker["body"], f"{PACKAGE}/{path}:{index + 1}"
        if index == 0 and (whole := _FILE.match(body)):
            source.lo = _stage_index(whole["lo"], order, where)
            source.file_marker = True
        elif opened := (_FROM.match(body) or _TODO.match(body)):
            _stage_index(opened["lo"], order, where)
            message = opened.groupdict().get("message")
            if message:
                message = " ".join([message, *_continued(lines, index, source.continued)])
            stack.append((index, opened["lo"], message))
        elif end := _END.match(body):
            if not stack:
                raise MarkerError(f"{where}: '#: end {end['stage']}' without an open block")
            opens, stage, opened = stack.pop()
            if stage != end["stage"]:
                raise MarkerError(
                    f"{where}: '#: end {end['stage']}' closes the block of {stage!r} "
                    f"opened on line {opens + 1}"
                )
            source.blocks.append(
                Block(
                    opens=opens,
                    closes=index,
                    lo=order.index(stage),
                    todo=opened,
                    indent=_MARKER.match(lines[opens])["indent"],  # type: ignore[index]
                )
            )
        elif unit := (
            _UNTIL.match(body) or _SINCE.match(body) or _VARIANT.match(body) or _MISTAKE.match(body)
        ):
            mistake = "name" in unit.re.groupindex
            described = _continued(lines, index, source.continued) if mistake else []
            found = _unit(unit, index + len(described), where, starts, qualnames, lines, order)
            found.marker, found.description = index, " ".join(described)
            source.units.append(found)
        else:
            raise MarkerError(f"{where}: unknown marker {body!r} (docs/DEVELOPING.md)")
    if stack:
        opens, stage, _ = stack[-1]
        raise MarkerError(
            f"{PACKAGE}/{path}:{opens + 1}: the block of {stage!r} is not closed by "
            f"'#: end {stage}'"
        )
    _check_nesting(source)
    for block in source.blocks:
        block.where = _function_at(tree, block.opens + 1, source.units, starts)
    return source


def _continued(lines: list[str], index: int, continued: set[int]) -> list[str]:
    """The text of the indented `#:` lines that continue the marker on line INDEX (a TODO's
    message, a mistake's description); their indexes go into CONTINUED."""
    found = []
    following = index + 1
    while following < len(lines) and (more := _CONTINUED.match(lines[following])):
        continued.add(following)
        found.append(more["more"])
        following += 1
    return found


def _unit(
    marker: re.Match[str],
    index: int,
    where: str,
    starts: dict[int, tuple[ast.stmt, str]],
    qualnames: dict[str, ast.stmt],
    lines: list[str],
    order: Sequence[str],
) -> Unit:
    found = starts.get(index + 1)
    if found is None:
        raise MarkerError(f"{where}: a unit marker must sit right above a def, class or import")
    node, scope = found
    values = marker.groupdict()
    lo = _stage_index(values["lo"], order, where) if values.get("lo") else 0
    hi = _stage_index(values["hi"], order, where) if values.get("hi") else len(order)
    unit = Unit(index, index + 1, _last_line(node, lines), lo, hi)
    if lo >= hi:
        raise MarkerError(f"{where}: the unit exists in no stage ({values['lo']} is not before "
                          f"{values['hi']})")  # fmt: skip
    if "target" not in values:
        if not isinstance(node, (ast.Import, ast.ImportFrom)) and _named(node) is None:
            raise MarkerError(f"{where}: '#: until' or '#: since' goes above a def, class, import")
        return unit
    own = _named(node)
    if own is None:
        raise MarkerError(f"{where}: a variant or mistake is a def or a class")
    target = f"{scope}.{values['target']}".lstrip(".")
    if target not in qualnames or qualnames[target] is node:
        raise MarkerError(f"{where}: no unit {target!r} beside it to stand for")
    unit.target, unit.mistake = target, values.get("name")
    if unit.mistake:
        unit.hi = lo + 1
    unit.own = own
    return unit


def _check_nesting(source: Source) -> None:
    """A block and a unit are apart, or one holds the other whole."""
    for block in source.blocks:
        for unit in source.units:
            apart = block.closes < unit.marker or unit.last < block.opens
            block_inside = unit.marker < block.opens and block.closes <= unit.last
            unit_inside = block.opens < unit.marker and unit.last < block.closes
            if not (apart or block_inside or unit_inside):
                raise MarkerError(
                    f"{PACKAGE}/{source.path}:{block.opens + 1}: the block crosses the edge of "
                    f"the unit marked on line {unit.marker + 1}"
                )


def _function_at(
    tree: ast.Module, line: int, units: list[Unit], starts: dict[int, tuple[ast.stmt, str]]
) -> str:
    """The function LINE sits in, and its class, named as in the snapshot (variants renamed)."""
    renamed = {u.own: u.target.rsplit(".", 1)[-1] for u in units if u.target}
    function = cls = None
    for node in ast.walk(tree):
        inside = node.lineno <= line <= node.end_lineno if isinstance(node, ast.stmt) else False
        if not inside:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if function is None or node.lineno > function.lineno:
                function = node
        elif isinstance(node, ast.ClassDef) and (cls is None or node.lineno > cls.lineno):
            cls = node
    if function is None:
        return MODULE_LEVEL
    names = [function.name]
    if cls is not None and cls.lineno < function.lineno:
        names.insert(0, cls.name)
    return ".".join(renamed.get(name, name) for name in names)


def _chosen(source: Source, stage: int, mistake: str | None) -> dict[str, Unit]:
    """For each unit some variant (or the mistake asked for) stands in for: that one."""
    chosen: dict[str, Unit] = {}  # target qualname -> the unit standing for it
    for unit in source.units:
        if not unit.target or not unit.lo <= stage < unit.hi:
            continue
        if unit.mistake and unit.mistake != mistake:
            continue
        other = chosen.get(unit.target)
        if other is not None and not other.mistake and not unit.mistake:
            raise MarkerError(
                f"{PACKAGE}/{source.path}:{unit.marker + 1}: two variants of "
                f"{unit.target} in one stage (the other on line {other.marker + 1})"
            )
        if other is None or unit.mistake:
            chosen[unit.target] = unit
    return chosen


def renames(source: Source, stage: int, mistake: str | None = None) -> dict[str, str]:
    """The names a stage's snapshot gives the variants in it: {own name: the unit's name}.

    Other files use them too (`from sketch.protocol import OneShotHttpProtocol` in __main__
    becomes `... import HttpProtocol`), so a variant's own name is unique in the source.
    """
    if stage < source.lo:
        return {}
    chosen = _chosen(source, stage, mistake)
    names = {u.own: t.rsplit(".", 1)[-1] for t, u in chosen.items()}
    for unit in source.units:  # a mistake stands in for the stage's variant: take its calls too
        if unit.target in chosen and not unit.mistake and unit.lo <= stage < unit.hi:
            names[unit.own] = unit.target.rsplit(".", 1)[-1]
    return names


def render(
    source: Source,
    stage: int,
    stage_id: str,
    *,
    skeleton: bool,
    mistake: str | None = None,
    names: dict[str, str] | None = None,
) -> str | None:
    """The file as it stands in stage STAGE (its index), or None where it does not exist.

    With SKELETON, the stage's own `todo` blocks become TODO stubs; with MISTAKE, the named
    mistake stands in for its unit. NAMES renames variants (default: this file's, `renames`).
    """
    if stage < source.lo:
        return None
    chosen = _chosen(source, stage, mistake)
    skip: dict[int, int] = {0: 0} if source.file_marker else {}  # first -> last line left out
    for unit in source.units:
        present = unit in chosen.values() or (not unit.target and unit.lo <= stage < unit.hi)
        skip[unit.marker] = unit.marker if present else unit.last
    for target in chosen:
        first, last = source.spans[target]
        skip[next((u.marker for u in source.units if u.first == first), first)] = last
    if names is None:
        names = renames(source, stage, mistake)

    opens = {b.opens: b for b in source.blocks}
    closes = {b.closes for b in source.blocks}
    out: list[str] = []
    hidden = 0  # how many open blocks hide their lines
    stack: list[bool] = []  # for each open block: does it hide its lines?
    index = 0
    while index < len(source.lines):
        line = source.lines[index]
        if index in source.continued:
            index += 1
            continue
        if index in skip:
            index = skip[index] + 1
            if index == 1 and source.file_marker:
                out.append("")  # line numbers in messages stay right
            continue
        if index in opens:
            block = opens[index]
            stub = skeleton and block.todo is not None and block.lo == stage
            if stub and not hidden:
                todo = Todo(stage_id, f"{PACKAGE}/{source.path}", block.where, block.todo or "")
                out.extend(todo.stub(block.indent))
            hides = stub or stage < block.lo
            stack.append(hides)
            hidden += hides
        elif index in closes:
            hidden -= stack.pop()
        elif not hidden:
            out.append(line)
        index += 1
    text = "\n".join(out).rstrip() + "\n"
    return _renamed(text, names) if names else text


def _renamed(text: str, names: dict[str, str]) -> str:
    """TEXT with each name in NAMES (a variant's, where it is defined or used) replaced.

    Only code is touched, not strings or comments; an attribute only as `self.name` (a method
    calling its variant sibling), so `server.serve_forever()` keeps its name beside a variant
    of that name.
    """
    lines = text.split("\n")
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    found = []
    for index, token in enumerate(tokens):
        if token.type != tokenize.NAME or token.string not in names:
            continue
        before = tokens[index - 2 : index]
        attribute = len(before) == 2 and before[1].string == "."
        if not attribute or before[0].string in ("self", "cls"):
            found.append(token)
    for token in reversed(found):  # right to left: earlier columns stay where they are
        row, column = token.start[0] - 1, token.start[1]
        line = lines[row]
        lines[row] = line[:column] + names[token.string] + line[token.end[1] :]
    return "\n".join(lines)
