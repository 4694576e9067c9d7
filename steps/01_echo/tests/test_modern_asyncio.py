"""Stage 01, read rather than run: the server starts the way current asyncio wants.

`asyncio.run()` creates the event loop, runs one coroutine, and closes the loop; inside it,
`asyncio.get_running_loop()` gives the loop and `loop.create_server()` listens. The older
idioms (`asyncio.get_event_loop()` outside a coroutine, passing `loop=` around) are
deprecated or gone: https://docs.python.org/3/library/asyncio-eventloop.html

Your code is read here as text (`sketch_files` is the folder of your sketch/ package), not
run: reading it is enough to see which calls it makes.
"""

import ast
from pathlib import Path

from workshop.testing import fail


def calls_in_sketch(folder: Path) -> list[tuple[str, int, ast.Call]]:
    """Every call in sketch/*.py, with where it is: `sketch/server.py: start_server`."""
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.is_symlink():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [
            (where(f"sketch/{path.name}", scope), node.lineno, node)
            for scope, node in nodes_in_scopes(tree)
            if isinstance(node, ast.Call)
        ]
    return found


def nodes_in_scopes(tree: ast.AST, scope: str = ""):
    """Every node under TREE, with the qualified name of the def or class it is in."""
    for child in ast.iter_child_nodes(tree):
        yield scope, child
        inner = scope
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = f"{scope}.{child.name}".lstrip(".")
        yield from nodes_in_scopes(child, inner)


def where(file: str, scope: str) -> str:
    return f"{file}: {scope}" if scope else file


def name_of(call: ast.Call) -> str:
    """`asyncio.run(...)` -> 'run'; `create_server(...)` -> 'create_server'."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def test_server_starts_with_asyncio_run_and_loop_create_server(sketch_files):
    calls = calls_in_sketch(sketch_files)
    for place, line, call in calls:
        if name_of(call) == "get_event_loop":
            fail(
                f"{place}, line {line}: asyncio.get_event_loop() is the old way to reach "
                "the loop (deprecated outside a running loop)",
                expected="asyncio.get_running_loop(), called inside a coroutine that "
                "asyncio.run() started",
                got=ast.unparse(call),
                look=place,
            )
        if any(keyword.arg == "loop" for keyword in call.keywords):
            fail(
                f"{place}, line {line}: asyncio functions no longer take a `loop=` argument "
                "(removed in Python 3.10)",
                expected="the call without loop=: code running in a coroutine already has its loop",
                got=ast.unparse(call),
                look=place,
            )
    names = {name_of(call) for _, _, call in calls}
    if "run" not in names:
        fail(
            "no call of asyncio.run() in sketch/: it is the one entry point that creates "
            "the loop, runs the server's coroutine and closes the loop",
            expected="asyncio.run(serve_forever(EchoProtocol, args.host, args.port))",
            look="sketch/__main__.py: main",
        )
    if "create_server" not in names:
        fail(
            "no call of loop.create_server() in sketch/: this stage builds the server on "
            "asyncio's protocol API (create_server calls the factory once per connection)",
            expected="loop = asyncio.get_running_loop(); "
            "server = await loop.create_server(protocol_factory, host, port)",
            look="sketch/server.py: start_server",
        )
