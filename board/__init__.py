"""The room board: a live view of who in the room is stuck, and where.

Learners' `invoke check` posts each result here (see workshop/board_client.py); the
instructor runs `invoke board` and opens the page. The board is an application written on
the workshop's own final reference framework (the last stage's solution):

    store.py     the SQLite database: learners, their latest result per stage, the codes
    app.py       the sketch Application: routes, middlewares, hooks, validation
    __main__.py  `python -m board`: puts the reference framework on sys.path and runs the app
    static/      the page, its script and its style: no build step, no external assets
"""
