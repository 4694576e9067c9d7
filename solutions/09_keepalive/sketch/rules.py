"""The rules a request head must follow before anyone acts on it (RFC 9110 and RFC 9112).

llhttp checks the syntax: a method it knows, header lines with a colon, a Content-Length
that is a number, chunked framing. Rules about what the parts mean are left to the server:
which version, which kind of target, how many Host fields and what is in them. They are
checked here once the head is in; a request that breaks one is refused with a
RequestRejected, and the limits table of the lesson says why each answer is the one it is.
"""

import re
from functools import lru_cache

from sketch.limits import RequestRejected, body_too_large
from sketch.target import split_target

# Host = uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2): an IPv6 address in brackets,
# or a name or an IPv4 address (letters, digits, `-._~`, sub-delims, %-escapes), then a port.
HOST = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]|(?:[\w.~!$&'()*+,;=-]+|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?", re.ASCII
)


# A server hears the same few Host values again and again (each keep-alive client sends its
# own with every request): the regex runs once per value, a dict lookup answers the rest.
# At most 128 values are kept (at most 8 KiB each: max_field_size), the least recent dropped.
@lru_cache(maxsize=128)
def valid_host(host: str) -> bool:
    """HOST is a host name or address, and an optional port: 'example.com:8080'."""
    return HOST.fullmatch(host) is not None


def check_request_line(method: bytes, target: bytes | bytearray, version: str) -> None:
    """The version, the method and the kind of target llhttp let through."""
    if version not in ("1.1", "1.0"):
        # llhttp reads `GET /` with no version as HTTP/0.9, and lets HTTP/2.0 through.
        if version == "0.9":
            raise RequestRejected(400, "the request line has no HTTP version")
        raise RequestRejected(505, f"this server speaks HTTP/1.1, not HTTP/{version}")
    if method == b"CONNECT":  # a tunnel, for a proxy to open (RFC 9110 9.3.6)
        raise RequestRejected(501, "this server opens no tunnels (CONNECT)")
    if target == b"*":  # the server as a whole (RFC 9112 3.2.4)
        if method != b"OPTIONS":
            raise RequestRejected(400, "only OPTIONS may ask about the whole server, *")
    elif b"#" in target:  # clients keep the fragment to themselves (RFC 9110 7.1)
        raise RequestRejected(400, "a request target has no #fragment")
    elif not target.startswith(b"/"):  # then it must be a whole URL (RFC 9112 3.2.2)
        authority = split_target(target.decode("latin-1")).authority
        if "@" in authority:  # user:password@host, made to look like another host's
            raise RequestRejected(400, "a request target has no user:password@")
        if not authority or not valid_host(authority):
            raise RequestRejected(400, "a request target is a path, a whole URL, or *")


def check_fields(version: str, headers: list[tuple[bytes, bytes]], client_max_size: int) -> bool:
    """The header fields that decide who the request is for and how its body is framed.

    Returns whether the client waits for `100 Continue` before it sends the body (RFC 9110,
    10.1.1): the one pass over the fields that checks `Expect` finds that out too.
    """
    hosts: list[bytes] = []
    content_types = 0
    codings: list[bytes] = []  # the transfer codings, in the order they were applied
    expects_continue = False
    for name, value in headers:
        name = name.lower()
        if name == b"host":
            hosts.append(value)
        elif name == b"content-type":
            content_types += 1
        elif name == b"content-length" and int(value) > client_max_size:
            raise body_too_large(client_max_size)  # before a byte of it is read
        elif name == b"transfer-encoding":
            codings += [coding.strip().lower() for coding in value.split(b",")]
        elif name == b"expect":
            if value.lower() != b"100-continue":
                raise RequestRejected(417, "the only expectation we meet is 100-continue")
            expects_continue = True
    if len(hosts) > 1:  # which one would the handler believe? (RFC 9112 3.2)
        raise RequestRejected(400, "a request has one Host header, not several")
    if hosts and not valid_host(hosts[0].decode("latin-1")):
        raise RequestRejected(400, "the Host header is not a host name and port")
    if version == "1.1" and not hosts:
        raise RequestRejected(400, "an HTTP/1.1 request must have a Host header")
    if content_types > 1:  # which one would the handler believe? (RFC 9110 8.3)
        raise RequestRejected(400, "a request has one Content-Type header, not several")
    if codings:
        check_transfer_codings(version, codings)
    return expects_continue


def check_transfer_codings(version: str, codings: list[bytes]) -> None:
    """Only a body in chunks, as HTTP/1.1 frames it: never one still coded otherwise."""
    if version == "1.0":  # HTTP/1.0 has no chunks: what frames this body? (RFC 9112 6.1)
        raise RequestRejected(400, "HTTP/1.0 has no Transfer-Encoding")
    if codings[-1] != b"chunked":  # then nothing says where the body ends (RFC 9112 6.3)
        raise RequestRejected(400, "chunked must be the last transfer coding")
    if len(codings) > 1:  # gzip, chunked: the handler would get a body still gzipped
        raise RequestRejected(501, "the only transfer coding we read is chunked")
