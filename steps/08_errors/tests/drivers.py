"""What the stage 08 tests run in the process that imports your code (the `drivers` fixture).

Raising and catching must happen where your classes live, so `caught` does both there and
hands back what was caught.
"""


def caught(cls, *args, **kwargs):
    """Raise `cls(*args, **kwargs)` and return what `except Exception` catches."""
    try:
        raise cls(*args, **kwargs)
    except Exception as error:
        return error


def status_class(name: str, status_code: int):
    """A new subclass of your HTTPException that sets nothing but `status_code`."""
    from sketch.exceptions import HTTPException

    return type(name, (HTTPException,), {"status_code": status_code})
