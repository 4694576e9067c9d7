"""The wire between the judge and the learner's object child: plain data, framed, bounded.

Each message is a 4-byte big-endian length and that many bytes of UTF-8 JSON. Only plain
data travels: None, booleans, numbers, strings, lists, and tagged objects for what JSON
lacks (bytes, tuples, dicts with any keys, sets, a yarl URL, a read-only multidict), a
handle to an object that stays in the child, or an exception described as its type's
name, its class hierarchy's names, its message and its traceback as text. Nothing is
pickled and nothing received is evaluated: decoding builds only the types listed here.

This module is imported on both sides, so it needs nothing but the standard library at
import time (yarl and multidict are imported where a value needs them).
"""

from __future__ import annotations

import base64
import json
import os
import struct
from typing import Any

MAX_FRAME = 32 * 1024 * 1024  # bytes in one message, either way
MAX_TEXT = 20_000  # characters kept of a message or a traceback from the child
HEADER = struct.Struct(">I")


class WireError(Exception):
    """The other side sent something that is not a well-formed message."""


# --- framing --------------------------------------------------------------------------


def frame(message: dict) -> bytes:
    """MESSAGE as the bytes of one frame."""
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_FRAME:
        raise WireError(f"a message of {len(data)} bytes is over the {MAX_FRAME} byte limit")
    return HEADER.pack(len(data)) + data


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_frame(fd: int, message: dict) -> None:
    write_all(fd, frame(message))


def parse(data: bytes) -> dict:
    """One frame's JSON body as a message."""
    try:
        message = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise WireError(f"a message that is not JSON: {error}") from None
    if not isinstance(message, dict):
        raise WireError("a message that is not a JSON object")
    return message


class FrameReader:
    """Frames out of a byte stream that arrives in pieces (for a non-blocking pipe)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> list[dict]:
        self.buffer += chunk
        messages = []
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if size > MAX_FRAME:
                raise WireError(f"a message of {size} bytes is over the {MAX_FRAME} byte limit")
            end = HEADER.size + size
            if len(self.buffer) < end:
                break
            messages.append(parse(bytes(self.buffer[HEADER.size : end])))
            del self.buffer[:end]
        return messages


def read_exactly(fd: int, size: int) -> bytes:
    """SIZE bytes from FD, or b"" if it ends first."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return b""
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict | None:
    """The next message from FD, None when the other side closed it."""
    head = read_exactly(fd, HEADER.size)
    if not head:
        return None
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME:
        raise WireError(f"a message of {size} bytes is over the {MAX_FRAME} byte limit")
    data = read_exactly(fd, size)
    if len(data) != size:
        return None
    return parse(data)


# --- values ---------------------------------------------------------------------------


class Ref:
    """A handle to an object that lives in the child: its number and what kind it is."""

    __slots__ = ("id", "type", "mro", "callable", "awaitable")

    def __init__(self, id: int, type: str = "", mro: tuple[str, ...] = (), **flags: bool):
        self.id = id
        self.type = type
        self.mro = mro
        self.callable = flags.get("callable", False)
        self.awaitable = flags.get("awaitable", False)


def encode(value: Any, ref_of) -> Any:
    """VALUE as JSON-able data; REF_OF(value) makes a handle for anything else."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if value == value and value not in (float("inf"), float("-inf")) else {
            "$": "float", "repr": repr(value)}  # fmt: skip
    if kind is bytes:
        return {"$": "bytes", "b64": base64.b64encode(value).decode("ascii")}
    if kind is bytearray:
        return {"$": "bytearray", "b64": base64.b64encode(value).decode("ascii")}
    if kind is list:
        return [encode(item, ref_of) for item in value]
    if kind is tuple:
        return {"$": "tuple", "items": [encode(item, ref_of) for item in value]}
    if kind in (set, frozenset):
        return {"$": kind.__name__, "items": [encode(item, ref_of) for item in value]}
    if kind is dict:
        items = [[encode(k, ref_of), encode(v, ref_of)] for k, v in value.items()]
        return {"$": "dict", "items": items}
    # A subclass of a plain type (multidict's istr, an IntEnum) travels as its plain value,
    # read through the base type's own slots, so no method of the subclass runs.
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return encode(bytes.__bytes__(value) if hasattr(bytes, "__bytes__") else
                      bytes(memoryview(value)), ref_of)  # fmt: skip
    name = f"{kind.__module__}.{kind.__qualname__}"
    if name == "yarl.URL":
        return {"$": "url", "text": str(value)}
    if name in ("multidict._multidict.CIMultiDictProxy", "multidict.CIMultiDictProxy"):
        return {"$": "cimultidictproxy", "items": [[k, v] for k, v in value.items()]}
    return ref_of(value)


def decode(data: Any, resolve) -> Any:
    """The value DATA describes; RESOLVE(message) turns a handle message into an object."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(item, resolve) for item in data]
    if not isinstance(data, dict):
        raise WireError(f"an unknown value: {type(data).__name__}")
    tag = data.get("$")
    if tag == "bytes":
        return base64.b64decode(data["b64"])
    if tag == "bytearray":
        return bytearray(base64.b64decode(data["b64"]))
    if tag == "tuple":
        return tuple(decode(item, resolve) for item in data["items"])
    if tag == "set":
        return {decode(item, resolve) for item in data["items"]}
    if tag == "frozenset":
        return frozenset(decode(item, resolve) for item in data["items"])
    if tag == "dict":
        return {decode(k, resolve): decode(v, resolve) for k, v in data["items"]}
    if tag == "float":
        return float(str(data["repr"]))  # only 'nan', 'inf', '-inf' get here
    if tag == "url":
        from yarl import URL

        return URL(str(data["text"]), encoded=True)
    if tag == "cimultidictproxy":
        from multidict import CIMultiDict, CIMultiDictProxy

        return CIMultiDictProxy(CIMultiDict((str(k), str(v)) for k, v in data["items"]))
    if tag == "ref":
        return resolve(data)
    raise WireError(f"an unknown value tag: {str(tag)[:40]!r}")


def type_names(cls: type) -> list[str]:
    """`module.QualName` for CLS and every class it inherits from, in MRO order."""
    return [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__]


def describe_error(error: BaseException, hidden: str = "", limit: int = MAX_TEXT) -> dict:
    """An exception as plain data: type name, class hierarchy, message, traceback text.

    The traceback's first frames from the file HIDDEN (the child's own code) are left out,
    so it starts where the learner's code was called.
    """
    import traceback

    tb = error.__traceback__
    while tb is not None and hidden and tb.tb_frame.f_code.co_filename == hidden:
        tb = tb.tb_next
    error = error.with_traceback(tb)
    try:
        message = str(error)
    except Exception as failed:  # a learner's __str__ that raises
        message = f"(str() of the exception failed: {type(failed).__name__})"
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {
        "type": type(error).__qualname__,
        "mro": type_names(type(error)),
        "message": message[:limit],
        "traceback": text[-limit:],
    }
