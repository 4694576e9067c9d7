"""Is this stage the learner's own work, the reference swapped in, or a near copy of it?

One detector for every tool that counts a pass (`invoke check`, `grade`, `grade-class`, the
room board). It never needs the reference itself: it compares the learner's files with
fingerprints (sha256 hashes) that `invoke build` records in `grader.lock`, so a classroom
edition can ship it without shipping the answers.

The API (importing this module has no side effects):

    verdict(stage, sketch_dir, root=ROOT) -> "reference" | "resembles" | "own"
    examine(stage, sketch_dir, root=ROOT) -> Verdict   # the same, with the files and a sentence

`sketch_dir` is the folder that holds the `sketch/` package (`steps/NN_name`); `root` is the
checkout whose `grader.lock` holds the fingerprints (a trusted one, when grading).

What is compared: only the stage's *answer files*, those of its skeleton's `sketch/` that
hold one of its TODOs (`raise NotImplementedError("NN_name: ...")`). Files without a TODO
are the same in skeleton and reference, and a learner's extra files are their own business.
Each answer file has two fingerprints:

    tokens   its Python tokens, comments included, whitespace and blank lines left out:
             equal means the reference's text, at most re-indented or re-wrapped
    ast      its syntax tree without docstrings (comments never reach it): equal means the
             reference's code, whatever the formatting, comments and docstrings

A file is *distinctive* when the reference's answer in it carries a comment the skeleton
lacks: nobody writes that comment word for word by chance. A file whose answer is short and
plain (stage 01's `self.transport.write(data)`) is not: honest work written from the hints
can equal it, token for token, so on its own it never counts against anyone.

The verdict, per stage:

    "reference"  every answer file is the reference's tokens (what `invoke solve` leaves,
                 or a copied folder), or a distinctive one is (`invoke solve 03 --file
                 response.py`: the tests cannot say which parts of the pass are the
                 learner's). Grading scores the stage 0, and `check` records no pass.
    "resembles"  not that, but a distinctive answer file has the reference's syntax tree (a
                 copy reformatted, stripped of comments or docstrings), or every answer file
                 does. It keeps its points and is flagged for a person to look at.
    "own"        anything else, including a stage the lock knows nothing about.

Tokens and trees are serialised the same way on every Python from 3.10 on (3.12's f-string
tokens are folded back into one string; syntax-tree fields that are empty are left out), so
a lock written on one version judges on another; tests/test_fingerprint.py checks it.
"""

from __future__ import annotations

import ast
import hashlib
import io
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from workshop import files, graderlock, manifest, todos
from workshop.manifest import Stage

PACKAGE = "sketch"
KINDS = ("reference", "resembles", "own")
_SKIPPED = {tokenize.ENCODING, tokenize.NL, tokenize.ENDMARKER}
_STRUCTURE = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}  # their text is whitespace
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


# --- fingerprints of one file ----------------------------------------------------------


def tokens(text: str) -> list[tuple[str, str]]:
    """The file's tokens as (kind, text), comments included, whitespace left out.

    Raises SyntaxError (or tokenize.TokenError) for text Python cannot tokenize.
    """
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    found: list[tuple[str, str]] = []
    depth, opened = 0, (0, 0)
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = token.type
        if _FSTRING_START is not None and kind in (_FSTRING_START, _FSTRING_END):
            # 3.12 splits an f-string into many tokens; earlier versions give one STRING.
            if kind == _FSTRING_START:
                depth += 1
                if depth == 1:
                    opened = token.start
            else:
                depth -= 1
                if depth == 0:
                    begin = starts[opened[0] - 1] + opened[1]
                    end = starts[token.end[0] - 1] + token.end[1]
                    found.append(("STRING", text[begin:end]))
            continue
        if depth or kind in _SKIPPED:
            continue
        if kind in _STRUCTURE:
            found.append((tokenize.tok_name[kind], ""))
        elif kind == tokenize.COMMENT:
            found.append(("COMMENT", " ".join(token.string.split())))
        else:
            found.append((tokenize.tok_name[kind], token.string))
    return found


def token_print(text: str) -> str:
    """sha256 of the file's tokens (see `tokens`)."""
    return _digest(repr(tokens(text)))


def ast_print(text: str) -> str:
    """sha256 of the file's syntax tree, docstrings left out. Raises SyntaxError."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:]
    return _digest(_shape(tree))


def _shape(value: object) -> str:
    """A syntax tree as text, the same on every Python version: empty fields left out
    (3.12 added `type_params=[]` to every def; 3.13's ast.dump hides empty fields)."""
    if isinstance(value, ast.AST):
        fields = [
            f"{name}={_shape(field)}"
            for name, field in ast.iter_fields(value)
            if field is not None and field != [] and name != "type_comment"
        ]
        return f"{type(value).__name__}({','.join(fields)})"
    if isinstance(value, list):
        return "[" + ",".join(_shape(item) for item in value) + "]"
    return repr(value)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- what build records ----------------------------------------------------------------


def answer_files(stage_id: str, skeleton: Path) -> list[str]:
    """The files of a skeleton's sketch/ that hold a TODO of the stage, relative to sketch/."""
    package = skeleton / PACKAGE
    return sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if not files.ignored(path.relative_to(package))
        and any(todo.stage_id == stage_id for _, todo in todos.stubs(path.read_text("utf-8")))
    )


def record(stage_id: str, skeleton: Path, solution: Path) -> dict[str, dict]:
    """{answer file: {"tokens", "ast", "distinctive"}} for one stage (`invoke build`)."""
    prints = {}
    for name in answer_files(stage_id, skeleton):
        answer = (solution / PACKAGE / name).read_text(encoding="utf-8")
        stub = (skeleton / PACKAGE / name).read_text(encoding="utf-8")
        prints[name] = {
            "tokens": token_print(answer),
            "ast": ast_print(answer),
            "distinctive": bool(_comments(answer) - _comments(stub)),
        }
    return prints


def _comments(text: str) -> Counter[str]:
    return Counter(value for kind, value in tokens(text) if kind == "COMMENT")


# --- the verdict -----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    kind: str  # "reference", "resembles" or "own"
    files: tuple[str, ...] = ()  # the answer files that matched, relative to sketch/

    def describe(self) -> str:
        """One sentence for people: what matched, and what follows from it."""
        named = ", ".join(f"{PACKAGE}/{name}" for name in self.files)
        one = len(self.files) == 1
        if self.kind == "reference":
            verb = "is" if one else "are"
            return f"reference solution: {named} {verb} the reference's code, token for token"
        if self.kind == "resembles":
            verb = "has" if one else "have"
            return (
                f"resembles the reference: {named} {verb} the reference's code once comments, "
                "docstrings and formatting are set aside"
            )
        return "the learner's own code"


def examine(stage: Stage, sketch_dir: Path, root: Path = manifest.ROOT) -> Verdict:
    """Compare the sketch/ in SKETCH_DIR with the fingerprints in ROOT's grader.lock."""
    recorded = graderlock.answers(root, stage.id)
    if not recorded:
        return Verdict("own")
    package = Path(sketch_dir) / PACKAGE
    same_tokens, same_tree = [], []
    for name, prints in sorted(recorded.items()):
        try:
            text = (package / name).read_text(encoding="utf-8")
            if token_print(text) == prints["tokens"]:
                same_tokens.append(name)
                same_tree.append(name)
            elif ast_print(text) == prints["ast"]:
                same_tree.append(name)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, tokenize.TokenError):
            continue  # missing or unreadable: not the reference, whatever else it is
    distinctive = {name for name, prints in recorded.items() if prints.get("distinctive")}
    if swapped := [name for name in same_tokens if name in distinctive]:
        return Verdict("reference", tuple(swapped))
    if len(same_tokens) == len(recorded):
        return Verdict("reference", tuple(same_tokens))
    if near := [name for name in same_tree if name in distinctive]:
        return Verdict("resembles", tuple(near))
    if len(same_tree) == len(recorded):
        return Verdict("resembles", tuple(same_tree))
    return Verdict("own")


def verdict(stage: Stage, sketch_dir: Path, root: Path = manifest.ROOT) -> str:
    """ "reference", "resembles" or "own": see the module's docstring."""
    return examine(stage, sketch_dir, root).kind
