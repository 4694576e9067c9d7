"""Smoke tests of the benchmarks: short runs that prove the tools work and print what they
promise, never how fast anything is (timings on CI machines say nothing; a benchmark is a task
or a script, never a timed test). aiohttp and uvicorn are optional extras (`.[bench]`): where
they are missing, the runs say they were skipped and measure the other servers."""

import json
import subprocess
import sys
from importlib.util import find_spec

import pytest

from workshop import manifest
from workshop.manifest import ROOT

BENCH = ROOT / "benchmarks" / "bench.py"


def run(command: list[str], timeout: float = 90) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def test_a_short_bench_of_the_reference_serves_every_endpoint_without_errors(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, str(BENCH), "--rounds", "1", "--duration", "0.3"]
    command += ["--generator", "builtin", "--servers", "sketch", "--connections", "8"]
    command += ["--json", str(out)]
    printed = run(command)
    report = json.loads(out.read_text())
    rows = {row["endpoint"]: row for row in report["results"]}
    assert set(rows) == {"GET /", "GET /users/{name}", "POST /echo (1 KiB JSON)"}, rows
    for name, row in rows.items():
        assert row["server"] == "sketch" and row["connections"] == 8
        assert row["rps_median"] > 0, f"{name}: no request was answered: {row}"
        assert row["errors"] == 0, f"{name}: errors under load: {row}"
    assert "built-in generator" in report["generator_limits"]
    assert "| GET / | 8 | sketch |" in printed, printed


def test_a_sketch_dir_without_a_sketch_package_is_refused_in_one_line(tmp_path):
    command = [sys.executable, str(BENCH), "--sketch-dir", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 2, done
    assert f"no sketch/ package in {tmp_path}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_invoke_bench_prints_the_four_servers_and_sketchs_ratio_to_each(tmp_path):
    out = tmp_path / "bench.json"
    command = ["invoke", "bench", "--rounds", "1", "--duration", "0.5", "--endpoints", "/"]
    command += ["--connections", "8,20", "--generator", "builtin", "--json", str(out)]
    printed = run(command)
    servers = ["sketch", "limit"]
    servers += [name for name in ("aiohttp", "uvicorn") if find_spec(name)]
    for name in servers:
        for connections in (8, 20):
            assert f"| GET / | {connections} | {name} |" in printed, f"no {name} row:\n{printed}"
    others = [name for name in servers if name != "sketch"]
    for name in others:
        assert f"sketch ÷ {name}" in printed, f"no ratio to {name}:\n{printed}"
    for name in {"aiohttp", "uvicorn"} - set(servers):
        assert f"skipped: {name}" in printed, printed
    ratios = json.loads(out.read_text())["ratios"]
    assert [(r["endpoint"], r["connections"]) for r in ratios] == [("GET /", 8), ("GET /", 20)]
    for row in ratios:
        assert set(row["sketch_over"]) == set(others), row
        assert all(ratio > 0 for ratio in row["sketch_over"].values()), row


def test_the_scale_run_holds_every_connection_idle_and_prices_each_in_memory(tmp_path):
    out = tmp_path / "scale.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--connections", "200"]
    command += ["--idle", "0.3", "--json", str(out)]
    printed = run(command, timeout=60)
    report = json.loads(out.read_text())
    assert report["errors"] == 0, f"errors holding 200 connections: {report}"
    assert report["still_open"] == 200, report
    assert report["rss_after_mib"] >= report["rss_before_mib"] > 0, report
    assert "KiB per connection" in printed, printed


def test_the_busy_time_profile_sorts_the_servers_time_into_costs_per_request(tmp_path):
    out = tmp_path / "profile.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "busytime.py"), "--method", "cprofile"]
    command += ["--duration", "1", "--connections", "8", "--generator", "builtin"]
    # Relative to the current folder, as people type it: the profiled server runs elsewhere.
    command += ["--sketch-dir", f"solutions/{manifest.final().id}"]
    printed = run(command + ["--json", str(out)], timeout=60)
    report = json.loads(out.read_text())
    costs = {row["cost"]: row for row in report["costs"]}
    for cost in ("socket send (the system call)", "parser: httptools and its callbacks"):
        assert cost in costs and f"| {cost} |" in printed, f"no {cost!r} row:\n{printed}"
    assert abs(sum(row["share"] for row in report["costs"]) - 1) < 0.01, report["costs"]
    send = next(row for row in report["functions"] if "'send' of '_socket" in row["frame"])
    assert send["calls_per_request"] == pytest.approx(1, abs=0.2), send  # one write each


PERF_SCRIPT = """
\tffffffff82200809 _raw_spin_unlock_irqrestore+0x19 ([kernel.kallsyms])
\tffffffff81e327be sock_def_readable ([kernel.kallsyms])
\tffffffff8201fbb9 tcp_rcv_established ([kernel.kallsyms])
\tffffffff81e2edd0 __x64_sys_sendto ([kernel.kallsyms])
\t          10a9c9 __send (/usr/lib/x86_64-linux-gnu/libc.so.6)

\tffffffff81ffcc2b __ip_queue_xmit ([kernel.kallsyms])
\tffffffff81e2edd0 __x64_sys_sendto ([kernel.kallsyms])

\tffffffff81e2ecf2 __sys_recvfrom ([kernel.kallsyms])
\tffffffff81e2edd0 __x64_sys_recvfrom ([kernel.kallsyms])
\t          10a929 __libc_recv (/usr/lib/x86_64-linux-gnu/libc.so.6)

\t           fc370 _PyEval_EvalFrameDefault (/opt/lib/libpython3.11.so.1.0)
\t    7f9fece42880 [unknown] ([unknown])

\t           1a2b3 llhttp__internal__run (/venv/httptools/parser/parser.cpython-311.so)

\t           1a2b3 __memmove_avx_unaligned (/usr/lib/x86_64-linux-gnu/libc.so.6)
"""


def test_perf_samples_go_to_the_system_call_in_their_chain_else_to_their_library():
    from benchmarks.busytime import SEND, WAKING_THE_CLIENT, read_perf

    costs, frames, total = read_perf(PERF_SCRIPT)
    assert total == 6, costs
    assert costs[WAKING_THE_CLIENT] == 1 and costs[SEND] == 1, costs  # send, split in two
    assert costs["recv (the system call)"] == 1, costs  # not libc: the chain holds the call
    interpreter = next(name for name in costs if name.startswith("the Python interpreter"))
    assert costs[interpreter] == 1, costs
    assert costs["httptools (llhttp, the parser in C)"] == 1, costs
    assert frames[WAKING_THE_CLIENT, "_raw_spin_unlock_irqrestore ([kernel.kallsyms])"] == 1


def perf_works() -> bool:
    try:
        done = subprocess.run(
            ["perf", "record", "-o", "/dev/null", "-q", "true"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_the_perf_profile_splits_the_servers_cpu_time_into_system_calls_and_libraries():
    if not perf_works():
        pytest.skip("Linux perf is missing here, or not allowed (perf_event_paranoid)")
    # Through the task, as the docs say to run it (the load generator: wrk if installed).
    command = ["invoke", "bench-profile", "--method", "perf", "--rate", "500"]
    command += ["--duration", "1", "--connections", "8", "--top", "3"]
    printed = run(command, timeout=90)
    for cost in ("send: the rest of the system call", "the Python interpreter"):
        assert f"| {cost}" in printed, f"no {cost!r} row:\n{printed}"


def test_a_sample_goes_to_the_cost_of_its_innermost_frame_that_names_one():
    sys.path.insert(0, str(ROOT))
    from benchmarks.busytime import OTHER, Frame, Paths, deciding_frame, parse_spy_frame

    final = manifest.final().solution_dir()
    paths = Paths(final)
    native = parse_spy_frame("send (/usr/lib/x86_64-linux-gnu/libc.so.6)", paths)
    assert native == Frame("send", "libc.so.6") and native.cost().startswith("socket send")
    python = parse_spy_frame(f"Request.url ({final}/sketch/request.py:38)", paths)
    assert (python.path, python.line, python.cost()) == ("sketch/request.py", 38, "url (yarl)")
    helper = Frame("cached_property.__get__", "functools.py", 997, "val = self.func(instance)")
    handler = Frame("hello", "sketch_app.py", 18, "return Response(...)")
    response = Frame("Response.__init__", "sketch/response.py", 40, "self.body = body")
    assert deciding_frame([handler, response, helper]) == (
        "Response construction and encode",
        response,
    )  # the helper matches no cost: its time is its caller's
    transport = Frame("write", "asyncio/selector_events.py", 1057, "n = self._sock.send(data)")
    assert deciding_frame([transport])[0] == "socket send (the system call)"
    assert deciding_frame([helper]) == (OTHER, helper)


def test_ratios_divide_sketchs_rate_by_each_others_on_the_same_endpoint_and_load():
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench import ratio_cell, ratios

    def row(server, rps, cpu_us, connections=50):
        return {
            "server": server,
            "endpoint": "GET /",
            "connections": connections,
            "rps_median": rps,
            "cpu_us": cpu_us,
        }

    rows = [row("sketch", 30_000, 30.0), row("limit", 60_000, 15.0), row("aiohttp", 15_000, 45.0)]
    rows += [row("sketch", 20_000, None, 1000), row("limit", 40_000, 20.0, 1000)]
    found = ratios(rows, "sketch", ["aiohttp", "limit"])
    assert found == [
        {"endpoint": "GET /", "connections": 50, "rps": 30_000, "cpu_us": 30.0,
         "sketch_over": {"aiohttp": 2.0, "limit": 0.5},
         "sketch_over_by_cpu": {"aiohttp": 1.5, "limit": 0.5}},
        {"endpoint": "GET /", "connections": 1000, "rps": 20_000, "cpu_us": None,
         "sketch_over": {"aiohttp": None, "limit": 0.5},
         "sketch_over_by_cpu": {"aiohttp": None, "limit": None}},
    ]  # fmt: skip
    assert ratio_cell(2.0, "GET /", "aiohttp", 50) == "2.00× (≥ 2 ✓)"
    assert ratio_cell(0.5, "GET /", "limit", 50) == "0.50× (≥ 0.6 ✗)"
    assert ratio_cell(0.5, "GET /", "limit", 1000) == "0.50×"  # the targets are at 50
    assert ratio_cell(None, "GET /", "uvicorn", 50) == "–"
    assert ratio_cell(0.987, "GET /", "sketch@1a2b3c4", 50) == "0.987×"  # --compare


def test_the_load_generator_reads_content_length_in_any_case():
    sys.path.insert(0, str(ROOT))
    from benchmarks.loadgen import content_length

    response = b"HTTP/1.1 200 OK\r\ncontent-LENGTH: 13\r\nX: y\r\n\r\nHello, World!"
    assert content_length(response, response.index(b"\r\n\r\n")) == 13


def test_wrk_output_is_read_into_rate_latency_and_errors():
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench import parse_wrk

    text = (
        "  Latency Distribution\n     50%  612.00us\n     75%    1.20ms\n     99%    4.50ms\n"
        "  175208 requests in 5.00s, 15.54MB read\n"
        "  Socket errors: connect 0, read 2, write 0, timeout 1\n"
        "  Non-2xx or 3xx responses: 3\nRequests/sec:  35041.70\n"
    )
    sample = parse_wrk(text)
    assert (sample.rps, sample.p50_ms, sample.p99_ms) == (35041.7, 0.612, 4.5)
    assert (sample.errors, sample.requests) == (6, 175208)


def test_compare_takes_a_folder_or_a_revisions_last_reference(tmp_path):
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench import compared_sketch

    final = manifest.final()
    folder, name = compared_sketch(str(final.solution_dir()), tmp_path)
    assert folder == final.solution_dir() and name == f"sketch ({final.id})"
    folder, name = compared_sketch("HEAD", tmp_path)
    assert (folder / "sketch" / "__main__.py").is_file() and name.startswith("sketch@")
    with pytest.raises(SystemExit, match="neither a folder holding sketch/ nor a revision"):
        compared_sketch("no-such-revision", tmp_path)
