"""The reference's shortcuts for speed (issue 19) behave exactly as the long way round.

Each shortcut skips work most requests do not need: a path without a %-escape is not
decoded by yarl, the middleware chain is built once. These tests pin that the short way
gives what the long way gives, in the final reference, run in a child process of its own
(its `sketch` never enters this process).
"""

import json
import subprocess
import sys
import textwrap

from tests.reference import REFERENCE


def in_reference(script: str) -> object:
    """Run SCRIPT with the reference's `sketch` importable; what it prints, read as JSON."""
    preamble = f"import sys; sys.path.insert(0, {str(REFERENCE)!r})\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", preamble + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_request_path_is_what_yarl_decodes_with_or_without_escapes():
    targets = [
        "/",
        "/users/ada",
        "/a/../b?x=1",
        "//about",
        "/a+b;c=d",
        "/J%C3%BCrgen",
        "/a%2Fb",
        "/%zz",
        "/caf%C3%A9?q=%C3%A9",
        "http://example.com/x%20y?z",
        "*",
    ]
    seen = in_reference(
        f"""
        import json
        from sketch.parser import RawRequest
        from sketch.request import Request
        pairs = []
        for target in {targets!r}:
            request = Request(RawRequest("GET", target.encode(), "1.1", [], b""))
            pairs.append((target, request.path, request.rel_url.path))
        print(json.dumps(pairs))
        """
    )
    for target, path, decoded in seen:  # type: ignore[union-attr]
        assert path == decoded, f"{target}: path {path!r}, yarl decodes {decoded!r}"


def test_a_middleware_added_after_the_first_request_is_used_from_the_next():
    seen = in_reference(
        """
        import asyncio, json
        from sketch import Application, Response
        from sketch.parser import RawRequest
        from sketch.request import Request

        def tag(name):
            async def middleware(request, handler):
                response = await handler(request)
                response.headers.add("X-Tag", name)
                return response
            return middleware

        async def hello(request):
            return Response(text="hi")

        async def main():
            app = Application(middlewares=[tag("a")])
            app.router.add_get("/", hello)
            tags = []
            for change in (None, lambda: app.middlewares.append(tag("b")),
                           lambda: app.middlewares.clear()):
                if change:
                    change()
                request = Request(RawRequest("GET", b"/", "1.1", [], b""), app)
                response = await app.handle(request)
                tags.append(response.headers.getall("X-Tag", []))
            return tags

        print(json.dumps(asyncio.run(main())))
        """
    )
    assert seen == [["a"], ["b", "a"], []], seen
