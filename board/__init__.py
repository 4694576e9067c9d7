"""The room board: a live view of who in the room is stuck, and where.

Learners' `invoke check` posts each result here (see workshop/board_client.py); the
instructor runs `invoke board` and opens the page. The board is an application written on
the workshop's own final reference framework (the last stage's solution):

    store.py     the SQLite database: learners and their tokens, latest results, the codes
    names.py     display names: normalized, nothing invisible, unique without case
    throttle.py  per-client limits: a burst, then a wait that doubles
    access.py    who may do what: client address, join code, learner and instructor tokens
    errors.py    HTTP errors with a JSON body that says what was wrong
    app.py       the sketch Application: routes, middlewares, hooks, validation
    serving.py   run_app, with the banner printed once the port is bound
    __main__.py  `python -m board`: puts the reference framework on sys.path and runs the app
    static/      the page, its script and its style: no build step, no external assets
    testing.py   a board process for tests; loadtest.py: a room's worth of load, measured
"""
