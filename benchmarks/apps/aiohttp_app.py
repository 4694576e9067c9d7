"""The benchmark app on aiohttp.web: `python aiohttp_app.py --port 0`.

Runs on asyncio's own event loop (no uvloop) with the access log off, like the others,
and prints `Serving on http://HOST:PORT` once it accepts connections.
"""

import asyncio

from aiohttp import web
from listen import address  # beside this file


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
    # backlog: as the other servers, so a thousand clients connecting at once all get in.
    site = web.TCPSite(runner, host, port, backlog=2048)
    await site.start()
    bound = site._server.sockets[0].getsockname()  # the port the system picked
    print(f"Serving on http://{bound[0]}:{bound[1]}", flush=True)
    await asyncio.Event().wait()  # until the process is killed


if __name__ == "__main__":
    asyncio.run(serve(*address()))
