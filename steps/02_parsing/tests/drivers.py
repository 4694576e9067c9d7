"""What the stage 02 tests run in the process that imports your code.

The tests run in another process (the judge) and call these through the `drivers` fixture;
what they return comes back as plain data or as handles to your objects.
"""

import httptools


def parse(*pieces: bytes) -> list:
    """Feed the pieces to a new RequestParser one after the other; return every request it
    handed on (RawRequest objects, in order)."""
    from sketch.parser import RequestParser

    requests: list = []
    parser = RequestParser(requests.append)
    for piece in pieces:
        try:
            parser.feed(piece)
        except httptools.HttpParserCallbackError as error:
            # httptools wraps what a callback raised; show the callback's own error instead.
            if error.__context__ is not None:
                raise error.__context__ from None
            raise
    return requests
