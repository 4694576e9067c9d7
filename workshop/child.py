"""The object child: the one process of a stage's run that imports the learner's `sketch`.

The judge (the pytest process) never imports learner code. Tests that work with objects
(`Response(...).encode()`, `compile_path(...)`, a protocol driven by hand) send requests
here over a pipe (workshop.wire); this process does what is asked in the learner's code
and answers with plain data, or with a handle to an object it keeps. Requests carry ids
and are answered on one event loop as they arrive; an `await` runs as a task of its own, so
tests running side by side can wait on coroutines here at the same time.

Started by workshop.remote as `python -I -c BOOT`, with only the trusted dependencies, the
stage's trusted tests/ folder (apps.py, drivers.py) and a copy of the learner's sketch/
on sys.path, in that order. Its stdout and stderr are the learner's; answers go to a
separate pipe.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import sys
import threading
import types
from typing import Any

from workshop import watchdog, wire

# An attribute or item that is a mutable container stays here, as a handle, so that
# `app.on_startup.append(hook)` changes the app's own list; what a call returns is a copy.
LIVE_OPS = ("getattr", "getitem")
MUTABLE = (list, dict, set, bytearray)


class ObjectServer:
    """Answers the judge's requests, keeping the objects it hands out by number."""

    def __init__(self, requests_fd: int, replies_fd: int) -> None:
        self.requests_fd = requests_fd
        self.replies_fd = replies_fd
        self.objects: dict[int, Any] = {}
        self.numbers: dict[int, int] = {}  # id(object) -> its number: one handle per object
        self.write_lock = threading.Lock()
        self.tasks: set[asyncio.Task] = set()

    # --- handles -----------------------------------------------------------------------

    def ref(self, value: Any) -> dict:
        number = self.numbers.get(id(value))
        if number is None:
            number = len(self.objects) + 1
            self.objects[number] = value
            self.numbers[id(value)] = number
        return {
            "$": "ref",
            "id": number,
            "type": f"{type(value).__module__}.{type(value).__qualname__}",
            "mro": wire.type_names(type(value)),
            "callable": callable(value),
            "awaitable": inspect.isawaitable(value),
        }

    def resolve(self, data: dict) -> Any:
        try:
            return self.objects[int(data["id"])]
        except (KeyError, ValueError, TypeError):
            raise wire.WireError(f"no object with handle {data.get('id')!r}") from None

    def value(self, data: Any) -> Any:
        return wire.decode(data, self.resolve)

    # --- the requests ------------------------------------------------------------------

    def run_sync(self, message: dict) -> Any:
        op = message["op"]
        if op == "import":
            return importlib.import_module(str(message["name"]))
        target = self.value(message.get("target"))
        args = self.value(message.get("args", []))
        kwargs = self.value(message["kwargs"]) if "kwargs" in message else {}
        if op == "getattr":
            return attribute(target, str(message["name"]))
        if op == "setattr":
            setattr(target, str(message["name"]), args[0])
            return None
        if op == "call":
            return target(*args, **kwargs)
        if op == "callmethod":
            return attribute(target, str(message["name"]))(*args, **kwargs)
        if op == "getitem":
            return target[args[0]]
        if op == "setitem":
            target[args[0]] = args[1]
            return None
        if op == "len":
            return len(target)
        if op == "list":
            return list(target)
        if op == "contains":
            return args[0] in target
        if op == "repr":
            return repr(target)
        if op == "str":
            return str(target)
        if op == "bool":
            return bool(target)
        if op == "eq":
            return bool(target == args[0])
        if op == "isinstance":
            return isinstance(target, args[0])
        if op == "await":
            return target  # awaited by handle()
        raise wire.WireError(f"unknown request {op!r}")

    def reply(self, message: dict, result: object) -> None:
        if message["op"] in LIVE_OPS and type(result) in MUTABLE:
            value = self.ref(result)
        else:
            value = wire.encode(result, self.ref)
        self.send({"id": message["id"], "value": value})

    def fail(self, message: dict, error: BaseException) -> None:
        self.send({"id": message.get("id"), "error": wire.describe_error(error, __file__)})

    def handle(self, message: dict) -> None:
        """Answer one request: at once, or, for `await`, when the awaitable is done."""
        try:
            result = self.run_sync(message)
            if message["op"] == "await":
                task = asyncio.ensure_future(self.finish(message, result))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                return
            self.reply(message, result)
        except BaseException as error:  # everything the learner's code raises goes back
            self.fail(message, error)

    async def finish(self, message: dict, awaitable: object) -> None:
        try:
            result = await awaitable  # type: ignore[misc]
            self.reply(message, result)
        except BaseException as error:
            self.fail(message, error)

    def send(self, reply: dict) -> None:
        try:
            data = wire.frame(reply)
        except (wire.WireError, ValueError, TypeError) as error:
            data = wire.frame({"id": reply.get("id"), "error": wire.describe_error(error)})
        with self.write_lock:
            wire.write_all(self.replies_fd, data)

    async def serve(self) -> None:
        """Read requests as they come (a non-blocking pipe watched by the event loop)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        frames = wire.FrameReader()
        os.set_blocking(self.requests_fd, False)

        def readable() -> None:
            try:
                chunk = os.read(self.requests_fd, 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            try:
                messages = frames.feed(chunk) if chunk else None
            except wire.WireError:
                messages = None
            if messages is None:
                loop.remove_reader(self.requests_fd)
                if not done.done():
                    done.set_result(None)
                return
            for message in messages:
                self.handle(message)

        loop.add_reader(self.requests_fd, readable)
        await done


def attribute(target: Any, name: str) -> Any:
    """getattr, and for a package, its submodule of that name (`sketch.response`)."""
    try:
        return getattr(target, name)
    except AttributeError:
        if isinstance(target, types.ModuleType) and hasattr(target, "__path__"):
            return importlib.import_module(f"{target.__name__}.{name}")
        raise


def main(requests_fd: int, replies_fd: int) -> None:
    sys.argv = ["(sketch object child)"]
    watchdog.start(sys.path[-1])  # the folder of the learner's sketch/ comes last
    asyncio.run(ObjectServer(requests_fd, replies_fd).serve())
