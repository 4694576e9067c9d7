"""What the stage 01 tests hand to your code, in the process that imports it.

The tests themselves run in another process (the judge) and reach these through the `drivers`
fixture: `transport = drivers.RecordingTransport()`.
"""

from workshop.doubles import RecordingTransport

__all__ = ["RecordingTransport"]
