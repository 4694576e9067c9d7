"""A deadline that moves often and cheaply: the timers of a connection.

A connection is closed when it stays idle too long, or when a client takes too long to send
a request head. Every request moves that deadline, and a busy server answers thousands of
requests a second. Cancelling a timer handle and making a new one each time would cost more
than a small request itself, so the deadline is a number that moves freely; one timer
handle fires at the earliest deadline ever set and, if the deadline has moved on since,
sets itself again for the new one. (nginx and uvicorn keep their timers cheap the same way.)
"""

import asyncio
from collections.abc import Callable


class Deadline:
    """Calls `callback` once the deadline set by `start` passes, unless moved or stopped."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.loop = asyncio.get_running_loop()
        self.when: float | None = None  # the loop time at which the callback runs, if any
        self.timer: asyncio.TimerHandle | None = None

    def start(self, seconds: float) -> None:
        """Call back SECONDS from now (whatever the deadline was)."""
        self.when = self.loop.time() + seconds
        if self.timer is None or self.timer.when() > self.when:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(self.when, self.expire)

    def stop(self) -> None:
        """No deadline: a timer still pending finds none, and does nothing."""
        self.when = None

    def cancel(self) -> None:
        """No deadline, and no timer left holding the callback (the connection is gone)."""
        self.when = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def expire(self) -> None:
        self.timer = None
        if self.when is None:
            return
        if self.loop.time() < self.when:  # moved on meanwhile: wait for the new one
            self.timer = self.loop.call_at(self.when, self.expire)
            return
        self.when = None
        self.callback()
