"""The benchmark app as a bare ASGI app on uvicorn: `python asgi_app.py --port 0`.

No framework: a dict of routes, a regex for `/users/{name}`, and an ASGI middleware that
adds a header. uvicorn runs with `loop="asyncio"` and `http="httptools"`: no uvloop, the
same parser as ours.
"""

import json
import re
import socket

import uvicorn
from listen import address  # beside this file

USER = re.compile(r"/users/(?P<name>[^/]+)")
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
JSON = [(b"content-type", b"application/json; charset=utf-8")]


async def send_body(send, status: int, headers: list, body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def endpoints(scope, receive, send) -> None:
    path, method = scope["path"], scope["method"]
    if path == "/" and method in ("GET", "HEAD"):
        return await send_body(send, 200, TEXT, b"Hello, World!")
    if path == "/echo" and method == "POST":
        data = json.loads(await read_body(receive))
        return await send_body(send, 200, JSON, json.dumps(data, ensure_ascii=False).encode())
    found = USER.fullmatch(path)
    if found and method in ("GET", "HEAD"):
        return await send_body(send, 200, TEXT, f"Hello, {found['name']}!".encode())
    await send_body(send, 404, TEXT, b"404: Not Found")


def stamp(app):
    """One ASGI middleware: adds X-Bench to every response's headers."""

    async def middleware(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def stamped_send(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-bench", b"1")]
            await send(message)

        await app(scope, receive, stamped_send)

    return middleware


app = stamp(endpoints)


if __name__ == "__main__":
    host, port = address()
    # IPPROTO_TCP said explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on sockets whose proto is TCP, and a bare socket.socket() has proto 0.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    host, port = sock.getsockname()
    config = uvicorn.Config(
        app,
        loop="asyncio",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=75,  # as sketch's and aiohttp's default (uvicorn's own is 5 s)
    )
    print(f"Serving on http://{host}:{port}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
