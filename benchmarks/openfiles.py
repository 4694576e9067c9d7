"""Raise this process's soft limit on open files, for benchmarks with many connections.

Every connection is a file descriptor, in the load generator and in the server alike, and
the soft limit is often far below what a benchmark needs: 1,024 on many Linux systems, 256
on macOS. Children inherit the limit, so raising it in the benchmark process before the
servers and the load generator start raises it for all of them.
"""

from __future__ import annotations

try:
    import resource
except ImportError:  # Windows has no such limit to raise
    resource = None  # type: ignore[assignment]

# macOS refuses a soft limit above OPEN_MAX (10240), even under an "unlimited" hard limit.
MACOS_OPEN_MAX = 10240


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft limit on open files to at least WANTED, as far as the hard limit allows.

    Returns the soft limit now in force: the caller compares it with what it needs and says
    so, rather than failing later with "Too many open files".
    """
    if resource is None:
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted if soft == resource.RLIM_INFINITY else soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    for candidate in (target, min(target, MACOS_OPEN_MAX)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (candidate, hard))
            return candidate
        except (ValueError, OSError):
            continue
    return soft


def allow_connections(connections: int) -> None:
    """Make room for CONNECTIONS sockets in this process and its children, or exit saying
    why not: a few more files than that, for the pipes and the listening socket."""
    wanted = connections + 64
    allowed = raise_open_file_limit(wanted)
    if allowed < wanted:
        raise SystemExit(
            f"{connections:,} connections need about {wanted:,} open files, and this system "
            f"allows {allowed:,} (ulimit -n; raising the hard limit needs root)"
        )
