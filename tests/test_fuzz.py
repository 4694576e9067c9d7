"""Random and mutated requests against the final reference (solutions/10_shutdown), over TCP.

Whatever bytes arrive, the server must answer with well-formed HTTP responses or close the
connection cleanly; it must never die, hang half-way through a response, or leave a task
failing in its log; and a good request afterwards must still get 200.

Bounded and reproducible: a fixed number of examples, derandomized, no example database.
"""

import re
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reference import running_reference
from workshop.server import ServerProcess

QUIET = 0.05  # seconds of silence after which a connection with nothing half-sent is done
STALL = 2.0  # seconds a response begun may take to finish

STATUS_LINE = re.compile(rb"HTTP/1\.[01] [1-5]\d\d [\x20-\x7e]*")
HEADER_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+: [\x20-\x7e\x80-\xff]*")

TEMPLATES = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /alice?x=1&y=%20 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HEAD / HTTP/1.0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /bob HTTP/1.1\r\nHost: x\r\n\r\n",
]
PIECES = [
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b":",
    b" ",
    b"\x00",
    b"\xff",
    b"Content-Length: 3\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Expect: 100-continue\r\n",
    b"Connection: close\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
]


@st.composite
def mutated_requests(draw: st.DrawFn) -> bytes:
    """A valid request, then a few flips, insertions, deletions, copies or a cut."""
    data = bytearray(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "copy", "cut"]))
        at = draw(st.integers(0, len(data)))
        end = min(len(data), at + draw(st.integers(0, 12)))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(PIECES) | st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at:end]
        elif kind == "copy":
            data[at:at] = data[at:end]
        elif kind == "cut":
            del data[at:]
    return bytes(data)


hostile_bytes = st.one_of(st.binary(min_size=1, max_size=300), mutated_requests())


@pytest.fixture(scope="module")
def server():
    yield from running_reference()  # the reference's own demo app


def split_responses(data: bytes, head: bool = False) -> tuple[list[bytes], bytes]:
    """Whole responses at the front of DATA, and what is left (a response begun, or b"").

    Fails the test on anything that is not well-formed HTTP/1.1 as our server writes it.
    With HEAD (a HEAD request was sent), a response may have a Content-Length and no body.
    """
    responses = []
    while data:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            assert len(data) < 65536, f"a response head that never ends: {data[:200]!r}"
            return responses, data
        status_line, *header_lines = data[:head_end].split(b"\r\n")
        assert STATUS_LINE.fullmatch(status_line), f"not a status line: {status_line!r}"
        status = int(status_line[9:12])
        lengths = []
        for line in header_lines:
            assert HEADER_LINE.fullmatch(line), f"not a header line: {line!r} in {data[:300]!r}"
            name, _, value = line.partition(b": ")
            if name.lower() == b"content-length":
                lengths.append(int(value))
        after = data[head_end + 4 :]
        if status < 200 or status in (204, 304):
            size = 0
        elif head and (not after or after.startswith(b"HTTP/1.")):
            size = 0  # the answer to HEAD: the headers a GET would get, no body
        else:
            assert len(lengths) == 1, f"a {status} needs one Content-Length: {data[:300]!r}"
            size = lengths[0]
        end = head_end + 4 + size
        if len(data) < end:
            return responses, data
        responses.append(data[:end])
        data = data[end:]
    return responses, b""


def exchange(server: ServerProcess, data: bytes) -> tuple[list[bytes], str]:
    """Send DATA on a new connection; read until the server closes or falls quiet."""
    received = b""
    with socket.create_connection((server.host, server.port), timeout=STALL) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server already answered and closed: read what it sent
        while True:
            responses, partial = split_responses(received, head=b"HEAD" in data)
            sock.settimeout(STALL if partial else QUIET)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                assert not partial, f"a response stopped half-way: {partial[:300]!r}"
                return responses, "quiet"
            except ConnectionResetError:
                return responses, "reset"  # a close with our unread bytes still queued
            if not chunk:
                assert not partial, f"the connection closed mid-response: {partial[:300]!r}"
                return responses, "closed"
            received += chunk


def good_request_works(server: ServerProcess) -> None:
    responses, _ = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert server.alive(), f"the server died:\n{server.describe_death()}"
    assert responses and responses[0].startswith(b"HTTP/1.1 200 "), responses


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=hostile_bytes)
def test_any_bytes_get_well_formed_responses_or_a_clean_close(server, data):
    exchange(server, data)
    good_request_works(server)


def test_the_fuzzer_reaches_both_good_and_rejected_requests(server):
    # The strategies are worth something only if they produce both kinds of answer.
    statuses = set()
    for template in TEMPLATES:
        for responses, _ in [exchange(server, template), exchange(server, template[:-3] + b"\x00")]:
            statuses.update(r[9:12] for r in responses)
    assert b"200" in statuses and b"400" in statuses, statuses
