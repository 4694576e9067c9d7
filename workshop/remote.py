"""The judge's side of the object child: proxies that read like the learner's objects.

    sketch = ObjectChild(...).start().module("sketch")
    response = sketch.Response(text="hi")      # made in the child; `response` is a handle
    raw = response.encode()                     # bytes, copied back as plain data
    text = await request.text()                 # awaited in the child, on its event loop

Plain values (None, bools, numbers, str, bytes, lists, tuples, dicts, a yarl URL, a
read-only multidict) come back as real values of those types; anything else stays in the
child and is used through a `Remote` handle. Passing a handle back sends its number. An
exception raised in the learner's code is raised here as a `LearnerError` of a class named
like the learner's, which also inherits the built-in exception it derives from, so
`except ValueError:` and `except NotImplementedError:` work; its text is the learner's
message and traceback, with the learner's own file names, as plain text.

Every call has a deadline. A child that does not answer in time, exits or prints too much
is stopped, the call fails with a message saying so, and the next test gets a new child.
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
import os
import re
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workshop import processes, sandbox, watchdog, wire
from workshop.server import FLOOD, Output, read_output
from workshop.testing import TeachingFailure
from workshop.untrusted import plain

ASKED_DUNDERS = {"__name__", "__qualname__", "__module__", "__doc__", "__file__"}
CALL_TIMEOUT = 5.0  # seconds one call into the learner's code may take
# The trusted checkout goes first, so `workshop` is the judge's own, however it is installed.
START_CALL = (
    "sys.path.insert(0, {root!r}); from workshop.child import main; main({requests}, {replies})"
)


# What a bare RecursionError means, and the trap behind it that the lessons warn about
# (stage 06 builds its chain of middlewares in a loop).
RECURSION = (
    "Calls went round in a loop until Python's limit: the lines that repeat are the loop.\n"
    "A function made in a loop (a lambda, an inner def) that reads the loop's variable when\n"
    "it is called, not when it was made, does this: every one of them sees the variable's\n"
    "last value (late binding), so they all call the same one. Bind the value when you make\n"
    "the function: functools.partial(function, name=value), or a default argument."
)


class ChildFailed(TeachingFailure):
    """The learner's object process hung, exited or flooded: the test fails saying which."""


# --- exceptions from the learner's code -------------------------------------------------


class LearnerError(Exception):
    """An exception raised by the learner's code in the child, described as plain data."""

    type_name = "Exception"
    mro: tuple[str, ...] = ()
    message = ""
    learner_traceback = ""

    def __init__(self, message: str = "") -> None:
        BaseException.__init__(self, message)

    def __str__(self) -> str:
        return self.message

    def report(self) -> str:
        """The message and, below it, where the learner's code raised it."""
        text = self.message
        if self.is_a("RecursionError"):
            text += "\n" + RECURSION
        if not self.learner_traceback:
            return text
        return f"{text}\n\nWhere your code raised it:\n{self.learner_traceback}"

    def is_a(self, name: str) -> bool:
        """Whether the learner's exception class is NAME or inherits from it (by name)."""
        return any(full == name or full.rsplit(".", 1)[-1] == name for full in self.mro)


_CLASSES: dict[tuple[str, type], type] = {}
_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


def _builtin_base(mro: Sequence[str]) -> type[BaseException]:
    """The first built-in exception class in the learner's class hierarchy."""
    for name in mro:
        module, _, qualname = name.rpartition(".")
        found = getattr(builtins, qualname, None) if module == "builtins" else None
        if isinstance(found, type) and issubclass(found, BaseException):
            if issubclass(found, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                return Exception  # never let the learner's code stop the judge
            return found
    return Exception


def learner_error(data: dict, rename: Callable[[str], str]) -> LearnerError:
    """The LearnerError for an exception the child described."""
    mro = tuple(str(n)[:200] for n in data.get("mro", []) if isinstance(n, str))[:50]
    name = _IDENTIFIER.sub("_", str(data.get("type", "Exception")).rsplit(".", 1)[-1])[:80]
    base = _builtin_base(mro)
    key = (name or "Exception", base)
    cls = _CLASSES.get(key)
    if cls is None:
        try:
            cls = type(key[0], (LearnerError, base), {"__module__": "learner"})
        except TypeError:  # a built-in whose layout cannot be mixed in
            cls = type(key[0], (LearnerError,), {"__module__": "learner"})
        _CLASSES[key] = cls
    error = cls()
    error.type_name = name
    error.mro = mro
    error.message = plain(rename(str(data.get("message", ""))))
    error.learner_traceback = plain(rename(str(data.get("traceback", ""))))
    error.args = (error.message,)
    return error


# --- handles ----------------------------------------------------------------------------


class Remote:
    """An object in the learner's process; every use is a request to it."""

    __slots__ = ("_child", "_ref", "__weakref__")

    def __init__(self, child: ObjectChild, ref: wire.Ref) -> None:
        object.__setattr__(self, "_child", child)
        object.__setattr__(self, "_ref", ref)

    def _ask(self, op: str, *args: Any, **fields: Any) -> Any:
        return self._child.call(op, target=self, args=list(args), **fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in ASKED_DUNDERS:
            raise AttributeError(name)  # what Python and pytest probe for: not the learner's
        return self._child.call("getattr", target=self, name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._child.call("setattr", target=self, name=name, args=[value])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._child.call("call", target=self, args=list(args), kwargs=kwargs)

    def __await__(self):
        return self._child.call_async("await", target=self).__await__()

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ask("setitem", key, value)

    def __len__(self) -> int:
        return self._ask("len")

    def __iter__(self):
        return iter(self._ask("list"))

    def __contains__(self, item: Any) -> bool:
        return self._ask("contains", item)

    def __bool__(self) -> bool:
        return self._ask("bool")

    def __eq__(self, other: object) -> bool:
        return self is other or self._ask("eq", other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((id(self._child), self._ref.id))

    def __repr__(self) -> str:
        try:
            return plain(self._ask("repr"))[:500]
        except Exception as error:  # a learner's __repr__ that fails: say so, do not raise
            return f"<{self._ref.type} (repr failed: {type(error).__name__})>"

    def __str__(self) -> str:
        return plain(self._ask("str"))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __instancecheck__(self, instance: Any) -> bool:
        return self._child.call("isinstance", target=instance, args=[self])

    # --- what tests may ask without a request ---

    @property
    def type_name(self) -> str:
        """`module.QualName` of the object's class, as the learner's process reports it."""
        return self._ref.type

    def is_a(self, name: str) -> bool:
        """Whether the object's class is NAME or inherits from it (compared by name)."""
        return any(full == name or full.rsplit(".", 1)[-1] == name for full in self._ref.mro)


def type_name(value: Any) -> str:
    """`module.QualName` of VALUE's class, whether it is a handle or a plain value."""
    if isinstance(value, Remote):
        return value.type_name
    return f"{type(value).__module__}.{type(value).__qualname__}"


def is_a(value: Any, name: str) -> bool:
    """Whether VALUE (a handle, or a LearnerError) is of the class NAME or a subclass of it,
    compared by name: `is_a(error, "HTTPNotFound")`, `is_a(error, "apps.NoDatabase")`."""
    if isinstance(value, (Remote, LearnerError)):
        return value.is_a(name)
    return any(
        f"{c.__module__}.{c.__qualname__}" == name or c.__qualname__ == name
        for c in type(value).__mro__
    )


# --- the process --------------------------------------------------------------------------


class _Pending:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop
        self.future: asyncio.Future | None = loop.create_future() if loop else None
        self.event = threading.Event()
        self.reply: dict | None = None

    def settle(self, reply: dict) -> None:
        self.reply = reply
        self.event.set()
        if self.loop is not None and self.future is not None:
            self.loop.call_soon_threadsafe(_set_result, self.future, reply)


def _set_result(future: asyncio.Future, reply: dict) -> None:
    if not future.done():
        future.set_result(reply)


class ObjectChild:
    """One long-lived process that imports the learner's package and answers requests."""

    def __init__(
        self,
        sketch_parent: Path,
        tests_dir: Path,
        root: Path,
        *,
        confinement: sandbox.Confinement | None = None,
        rename: Callable[[str], str] = lambda text: text,
        timeout: float = CALL_TIMEOUT,
    ) -> None:
        self.sketch_parent = Path(sketch_parent)
        self.tests_dir = Path(tests_dir)
        self.root = Path(root)
        self.confinement = confinement or sandbox.Confinement(False)
        self.rename = rename
        self.timeout = timeout
        self.output = Output()
        self.proc: sandbox.LearnerProcess | None = None
        self.broken: str | None = None  # why the child can no longer be used
        self.flooded = False
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._proxies: dict[int, Remote] = {}
        self._requests_w = self._replies_r = -1

    def start(self) -> ObjectChild:
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        call = START_CALL.format(root=str(self.root), requests=requests_r, replies=replies_w)
        path = [self.tests_dir, self.sketch_parent]  # the learner's last
        argv = sandbox.python_bootstrap(path, call)
        try:
            self.proc = self.confinement.popen(
                argv, {}, self.sketch_parent, pass_fds=(requests_r, replies_w)
            )
        finally:
            os.close(requests_r)
            os.close(replies_w)
        self._requests_w, self._replies_r = requests_w, replies_r
        threading.Thread(target=self._read_replies, name="replies", daemon=True).start()
        threading.Thread(target=self._read_output, name="child output", daemon=True).start()
        return self

    # --- requests ---

    def module(self, name: str) -> Remote:
        """The module NAME imported in the child (`sketch`, `apps`, `drivers`)."""
        return self.call("import", name=name)

    def _send(self, op: str, pending: _Pending, fields: dict) -> int:
        if self.broken:
            raise ChildFailed(self.broken)
        number = next(self._ids)
        message = {"id": number, "op": op}
        for key, value in fields.items():
            message[key] = wire.encode(value, self._ref_of)
        with self._lock:
            self._pending[number] = pending
        try:
            with self._write_lock:
                wire.write_frame(self._requests_w, message)
        except (OSError, wire.WireError) as error:
            self._pending.pop(number, None)
            self._fail(f"the learner's process could not be sent a request: {error}")
            raise ChildFailed(self.broken or "") from None
        return number

    def send_ahead(self, op: str, **fields: Any) -> None:
        """Ask for OP without waiting for the answer (the child gets on with it meanwhile)."""
        self._send(op, _Pending(), fields)

    def call(self, op: str, *, timeout: float | None = None, **fields: Any) -> Any:
        """Ask the child to do OP, and wait for its answer (at most TIMEOUT seconds)."""
        pending = _Pending()
        number = self._send(op, pending, fields)
        limit = self.timeout if timeout is None else timeout
        if not pending.event.wait(limit):
            self._timed_out(op, fields, limit)
        with self._lock:
            self._pending.pop(number, None)
        return self._result(pending.reply)

    async def call_async(self, op: str, *, timeout: float | None = None, **fields: Any) -> Any:
        pending = _Pending(asyncio.get_running_loop())
        number = self._send(op, pending, fields)
        limit = self.timeout if timeout is None else timeout
        try:
            reply = await asyncio.wait_for(asyncio.shield(pending.future), limit)
        except asyncio.TimeoutError:
            self._timed_out(op, fields, limit)
        finally:
            with self._lock:
                self._pending.pop(number, None)
        return self._result(reply)

    def _timed_out(self, op: str, fields: dict, limit: float) -> None:
        what = f"{_describe(op, fields)} in the learner's code did not return within {limit:g} s"
        notes = list(watchdog.NOTE.finditer(self.output.since()))
        if notes:  # its event loop is stuck in one callback: say where, first
            said, where = watchdog.explain(notes[-1])
            what = f"{said}, so {what}.\n  look at:  {where}"
        self._fail(what)
        raise ChildFailed(self._message(self.broken or ""))

    def _result(self, reply: dict | None) -> Any:
        if reply is None or "broken" in reply:
            raise ChildFailed(self._message(self.broken or "the learner's process stopped"))
        if "error" in reply:
            data = reply["error"] if isinstance(reply["error"], dict) else {}
            raise learner_error(data, self.rename)
        try:
            return wire.decode(reply.get("value"), self._resolve)
        except (wire.WireError, ValueError, TypeError, KeyError, RecursionError) as error:
            self._fail(f"the learner's process sent an answer that is not well formed: {error}")
            raise ChildFailed(self._message(self.broken or "")) from None

    def _ref_of(self, value: Any) -> dict:
        if isinstance(value, Remote):
            if value._child is not self:
                raise TypeError("a handle from another learner process")
            return {"$": "ref", "id": value._ref.id}
        raise TypeError(
            f"cannot send a {type(value).__name__} to the learner's process: only plain data "
            "and handles travel. Put the function or class in the stage's tests/apps.py and "
            "use it through the `apps` fixture"
        )

    def _resolve(self, data: dict) -> Remote:
        number = int(data["id"])
        proxy = self._proxies.get(number)
        if proxy is None:
            ref = wire.Ref(
                number,
                str(data.get("type", ""))[:300],
                tuple(str(n)[:300] for n in data.get("mro", []))[:50],
                callable=bool(data.get("callable")),
                awaitable=bool(data.get("awaitable")),
            )
            proxy = self._proxies.setdefault(number, Remote(self, ref))
        return proxy

    # --- reading ---

    def _read_replies(self) -> None:
        while True:
            try:
                reply = wire.read_frame(self._replies_r)
            except (OSError, wire.WireError) as error:
                self._fail(f"the learner's process sent something that is not an answer: {error}")
                return
            if reply is None:
                code = self.proc.wait() if self.proc else None
                self._fail(self._death(code))
                return
            number = reply.get("id")
            with self._lock:
                pending = self._pending.pop(number, None) if isinstance(number, int) else None
            if pending is not None:
                pending.settle(reply)

    def _read_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        read_output(self.proc.stdout.fileno(), self.output, self._flooding)

    def _flooding(self) -> None:
        self.flooded = True
        self._fail(
            f"the learner's process printed more than {FLOOD // 1024} KiB of output, "
            "so it was stopped. Is something printed in a loop?"
        )

    def _death(self, code: int | None) -> str:
        if self.broken:
            return self.broken
        return f"the learner's process (which imports your sketch package) exited with code {code}"

    def _fail(self, why: str) -> None:
        """Stop the child for good: every call waiting gets WHY."""
        with self._lock:
            if self.broken is None:
                self.broken = why
            waiting, self._pending = list(self._pending.values()), {}
        for pending in waiting:
            pending.settle({"broken": True})
        self.kill()

    def _message(self, why: str) -> str:
        tail = self.output.last_lines(15)
        first, *rest = why.split("\n")  # a sentence, then perhaps a `look at:` line
        text = "\n".join([first if first.endswith(".") else first + ".", *rest])
        if tail:
            text += "\nIt printed:\n" + "\n".join("    " + line for line in tail.splitlines())
        return plain(self.rename(text))

    def alive(self) -> bool:
        return self.broken is None and self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        processes.kill_tree(proc.pid)
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        self.broken = self.broken or "the test session ended"
        for fd in (self._requests_w,):
            try:
                os.close(fd)
            except OSError:
                pass
        self.kill()


def _describe(op: str, fields: dict) -> str:
    target = fields.get("target")
    name = fields.get("name")
    on = f" of a {target.type_name}" if isinstance(target, Remote) else ""
    if op == "import":
        return f"importing {name}"
    if op in ("getattr", "callmethod"):
        return f"`.{name}`{on}"
    if op == "await":
        return f"awaiting a {type_name(target).removeprefix('builtins.')}"
    if op == "call":
        return f"calling a {type_name(target).removeprefix('builtins.')}"
    return f"`{op}`{on}"
