"""Applications the stage 05 tests serve (`python -m sketch --port 0 apps:params_app`), and
the handlers its object-level tests route to."""

from sketch import Application, Request, Response, json_response


def params_app() -> Application:
    """Routes with {name} and {name:regex} parameters; each handler says who it is."""
    app = Application()

    def answer(name: str):
        async def handler(request: Request) -> Response:
            return json_response({"handler": name, "match_info": request.match_info})

        return handler

    app.router.add_get("/users/me", answer("me"))  # added first: wins over /users/{name}
    app.router.add_get("/users/{name}", answer("user"))
    app.router.add_put("/users/{name}", answer("put user"))
    app.router.add_get(r"/items/{id:\d+}", answer("item"))
    app.router.add_get("/repos/{owner}/{repo}", answer("repo"))
    app.router.add_get("/lang/{code:[a-z]{2}}", answer("lang"))
    app.router.add_get("/files/{name}.txt", answer("text file"))
    app.router.add_get("/shadow/{anything}", answer("shadow param"))  # added first: wins
    app.router.add_get("/shadow/never", answer("shadow plain"))
    app.router.add_post("/forms/{form}", answer("form"))
    return app


# Handlers the object-level tests (test_compile_path.py) route to, in the same process as
# your code; the tests reach them through the `apps` fixture.


async def users(request: Request) -> Response:
    return Response(text="users")


async def me(request: Request) -> Response:
    return Response(text="me")


async def create(request: Request) -> Response:
    return Response(text="create")
