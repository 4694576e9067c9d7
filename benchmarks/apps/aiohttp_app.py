"""The benchmark app on aiohttp.web: `python aiohttp_app.py --port 0`.

Runs on asyncio's own event loop (no uvloop) with the access log off, like the others,
and prints `Serving on http://HOST:PORT` once it accepts connections.
"""

import argparse
import asyncio

from aiohttp import web


@web.middleware
async def stamp(request: web.Request, handler):
    response = await handler(request)
    response.headers["X-Bench"] = "1"
    return response


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, World!")


async def user(request: web.Request) -> web.Response:
    return web.Response(text=f"Hello, {request.match_info['name']}!")


async def echo(request: web.Request) -> web.Response:
    return web.json_response(await request.json())


def make_app() -> web.Application:
    app = web.Application(middlewares=[stamp])
    app.router.add_get("/", hello)
    app.router.add_get("/users/{name}", user)
    app.router.add_post("/echo", echo)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()  # the port the system picked
    print(f"Serving on http://{bound[0]}:{bound[1]}", flush=True)
    await asyncio.Event().wait()  # until the process is killed


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))
