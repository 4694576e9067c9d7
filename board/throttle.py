"""Per-client limits: a few attempts at once, then a wait that doubles while the client pushes.

Each client has a bucket that fills by one at each attempt counted (a join, a wrong code)
and drains by one every EVERY seconds. While the bucket holds fewer than BURST, a client
goes ahead. When it is full, the client must wait EVERY seconds; each time it is made to
wait again before the bucket has drained, the wait doubles (up to MAX_WAIT); and coming
back before the wait is over counts as pushing too. A room joining at once fits in the
burst; a script posting thousands of names, or guessing the code, is slowed at once and
then exponentially, and only its own address is (OWASP's advice for rate limiting).

A client is an address. IPv6 clients are counted by their /64 network: one machine may
hold millions of addresses in it. The table of clients is bounded: the least recently
seen are forgotten first.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass

MAX_CLIENTS = 10_000  # clients remembered at once (a room is far fewer)


@dataclass
class _Client:
    level: float = 0.0  # attempts in the bucket; drains one every `every` seconds
    stamp: float = 0.0  # when `level` was last brought up to date
    strikes: int = 0  # waits imposed since the bucket last ran empty
    free_at: float = 0.0  # before this time, the client is refused


class Throttle:
    """`retry_after(client, now)` before acting; `count(client, now)` for each attempt."""

    def __init__(self, burst: int, every: float, max_wait: float) -> None:
        self.burst = burst
        self.every = every
        self.max_wait = max_wait
        self.clients: OrderedDict[str, _Client] = OrderedDict()

    def retry_after(self, client: str, now: float) -> int:
        """0 if CLIENT may go ahead; else the whole seconds it must wait (the wait grows)."""
        state = self.clients.get(client)
        if state is None or now >= state.free_at:
            return 0
        self._make_wait(state, now)  # it came back too early: that is pushing
        return math.ceil(state.free_at - now)

    def count(self, client: str, now: float) -> None:
        """CLIENT made one attempt; once its bucket is full, it must wait."""
        state = self._client(client, now)
        state.level += 1
        if state.level >= self.burst:
            self._make_wait(state, now)

    def _make_wait(self, state: _Client, now: float) -> None:
        state.strikes += 1
        wait = min(self.max_wait, self.every * 2 ** min(state.strikes - 1, 30))
        state.free_at = max(state.free_at, now + wait)

    def _client(self, client: str, now: float) -> _Client:
        state = self.clients.pop(client, None)
        if state is None:
            state = _Client(stamp=now)
            while len(self.clients) >= MAX_CLIENTS:
                self.clients.popitem(last=False)  # the least recently seen
        self.clients[client] = state  # most recently seen last
        state.level = max(0.0, state.level - (now - state.stamp) / self.every)
        state.stamp = now
        if state.level == 0:
            state.strikes = 0  # quiet for long enough: start again from the burst
        return state


def client_key(address: str) -> str:
    """How an address is counted: itself, or its /64 network for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:10.0.0.5 is 10.0.0.5
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
