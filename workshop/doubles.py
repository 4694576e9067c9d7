"""Stand-ins the stage tests hand to the learner's code, inside the object child.

Imported by a stage's tests/apps.py or tests/drivers.py, which run in the learner's
process (workshop/child.py): what these record comes back to the judge as plain data.
"""

from __future__ import annotations

import asyncio


class RecordingTransport(asyncio.Transport):
    """A transport that keeps what is written to it, and whether reading is paused."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.reading_paused = False
        self.pauses = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def pause_reading(self) -> None:
        self.reading_paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading_paused = False

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def responses(self) -> int:
        """How many `200 OK` status lines were written."""
        return self.written.count(b"HTTP/1.1 200 OK\r\n")
