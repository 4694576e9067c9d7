"""Display names: one spelling per name, nothing invisible, and no two that look the same.

A name is shown to the whole room, so it must be what it looks like. Unicode allows a name
to hide characters that change how the text around it is drawn (U+202E turns "eman live"
into "evil name"), characters that draw nothing (a row of zero-width spaces is a blank
row), and several encodings of one look ("Ｇｒａｃｅ" and "Grace"; "ü" as one code point
or two). So a name is put in NFKC form, with runs of spaces made one space, and refused if
it holds a character of the "Other" categories (controls, formats such as the bidi and
zero-width ones, unassigned and private ones) or nothing a person could read.

Two names are the same name if they are equal after case folding: "ada test", "Ada Test".
"""

from __future__ import annotations

import unicodedata

MAX_NAME = 40  # characters, after normalizing

INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, formats, no glyph at all
READABLE = {"L", "N", "P", "S"}  # letters, digits, punctuation, symbols (first letter)


class BadName(ValueError):
    """The name cannot be shown; the message says why, in words for the learner."""


def normalize(name: str) -> str:
    """NAME as the board keeps and shows it, or BadName."""
    name = unicodedata.normalize("NFKC", name)
    for char in name:
        if unicodedata.category(char) in INVISIBLE:
            what = unicodedata.name(char, "a control or unassigned character")
            raise BadName(
                f"a name must not contain invisible or control characters: U+{ord(char):04X} {what}"
            )
    name = " ".join(name.split())  # str.split() splits on every Unicode space
    if not name:
        raise BadName("'name' must not be empty")
    if not any(unicodedata.category(char)[0] in READABLE for char in name):
        raise BadName("a name needs at least one letter, digit or sign to show")
    if len(name) > MAX_NAME:
        raise BadName(f"'name' is longer than {MAX_NAME} characters")
    return name


def key(name: str) -> str:
    """What makes two names the same name: case folded (ß is ss), then NFKC again."""
    return unicodedata.normalize("NFKC", name.casefold())
