"""Stage 09 without a network: HttpProtocol driven by hand, with a transport that records.

Flow control is about what the server does when the other side is slow: a client that
sends a lot and reads little must not make the server buffer without bound. The scenarios
in tests/drivers.py play the transport's part, in the process that imports your code: they
call pause_writing()/resume_writing() as asyncio would, watch for pause_reading() and
resume_reading(), and report what they saw. These tests judge those observations.
"""

from workshop.testing import expect, get

# The worker's loop: on_request queues, answer_queue writes and waits while not writable.
LOOK_FLOW = (
    "sketch/protocol.py: HttpProtocol.pause_writing, resume_writing, on_request and answer_queue"
)


async def test_a_full_write_buffer_makes_the_worker_wait_for_resume_writing(drivers):
    data = get("/hello") * 3
    seen = await drivers.paused_writing(data)
    expect(
        seen["while_paused"] == 1,
        "while the transport says pause_writing(), the worker may finish the response in "
        "hand but must wait before it answers the next: a client that does not read must "
        "not make us pile responses into memory",
        sent=data + b" (three pipelined requests, after pause_writing())",
        expected="1 response written, then a wait on self.writable",
        got=f"{seen['while_paused']} responses written",
        look=LOOK_FLOW,
    )
    expect(
        seen["after_resume"] == 3,
        "after resume_writing() the worker goes on with the requests still queued",
        sent=data,
        expected="3 responses written",
        got=f"{seen['after_resume']} responses written",
        look=LOOK_FLOW,
    )


async def test_a_backlog_of_pipelined_requests_pauses_reading_until_it_shrinks(drivers):
    data = get("/wait") + get("/hello") * 5
    seen = await drivers.backlog(data, max_pipeline=4, expected=6)
    expect(
        seen["paused_with_backlog"],
        "with max_pipeline=4, a connection holding 4 or more requests not yet answered must "
        "call transport.pause_reading(): the client's writes then back up in TCP, not in "
        "our memory",
        sent=data + b" (the first handler blocks)",
        expected="transport.pause_reading() called",
        got="reading never paused",
        look="sketch/protocol.py: HttpProtocol.on_request",
    )
    expect(
        seen["responses"] == 6 and not seen["paused_at_end"],
        "once the queue has shrunk, reading resumes (transport.resume_reading()) and every "
        "queued request is answered",
        sent=data,
        expected="6 responses, reading resumed",
        got=f"{seen['responses']} responses, reading "
        + ("still paused" if seen["paused_at_end"] else "resumed"),
        look="sketch/protocol.py: HttpProtocol.answer_queue",
    )


async def test_one_request_at_a_time_never_pauses_reading(drivers):
    seen = await drivers.one_at_a_time(get("/hello"), count=6, max_pipeline=4)
    expect(
        seen["responses"] == 6 and seen["pauses"] == 0,
        "a client that waits for each response never has a backlog: reading must not be "
        "paused for it",
        sent=get("/hello") + b" six times, one after the other",
        expected="6 responses, pause_reading() never called",
        got=f"{seen['responses']} responses, pause_reading() called {seen['pauses']} times",
        look="sketch/protocol.py: HttpProtocol.on_request (pause only at max_pipeline)",
    )
