"""Performance tasks: how fast the server is (`bench`), where its busy time goes
(`bench-profile`), how many idle connections it holds (`bench-scale`), and how fast the
feedback loop is (`bench-check`). The benchmarks themselves are scripts in benchmarks/."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

from invoke import Exit, task

from workshop import manifest, state
from workshop.console import console
from workshop.manifest import ROOT

FIRST_BENCHABLE = 6  # the benchmark app needs middlewares (stage 06) and route parameters


def _benchmark(name: str):
    """benchmarks/NAME.py, a script of the repository rather than an installed module."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"benchmarks.{name}")


def _say(line: str) -> None:
    """Print a line of a benchmark's output as it is (it is never rich markup)."""
    console().print(line, markup=False, highlight=False)


def target_dir(target: str) -> Path:
    """The folder holding the sketch/ to measure: the reference, your current stage, or NN."""
    if target == "solutions":
        return manifest.final().solution_dir()
    stage = state.current_stage() if target == "steps" else manifest.find(target)
    if stage.number < FIRST_BENCHABLE:
        raise Exit(
            f"Stage {stage.id} has no middlewares yet: the benchmark app needs stage "
            f"{FIRST_BENCHABLE:02d} or later.",
            code=2,
        )
    return stage.step_dir()


@task(
    help={
        "target": "solutions (the reference, default), steps (your current stage) or a stage NN",
        "rounds": "how many times each server is measured on each endpoint (default 3)",
        "duration": "seconds per measurement (default 5)",
        "connections": "concurrent keep-alive connections, one level or several: each "
        "endpoint is measured at each (default 50,1000)",
        "pipeline": "requests in flight per connection; above 1 uses the built-in generator",
        "generator": "auto (wrk when on PATH), wrk, or builtin",
        "servers": "comma-separated: sketch,aiohttp,uvicorn,limit (default: all four; the "
        "limit is a bare httptools protocol, benchmarks/apps/bare_protocol.py)",
        "compare": "also measure another sketch beside it, interleaved: a git revision (its "
        "last stage's reference, e.g. main) or a folder holding sketch/",
        "endpoints": "comma-separated paths to measure, e.g. / (default: all three)",
        "json": "write the results to this JSON file",
        "plot": "draw a bar chart into this PNG file (needs matplotlib)",
    }
)
def bench(
    c,
    target="solutions",
    rounds=3,
    duration=5.0,
    connections="50,1000",
    pipeline=1,
    generator="auto",
    servers="sketch,aiohttp,uvicorn,limit",
    compare=None,
    endpoints=None,
    json=None,
    plot=None,
):
    """Measure sketch against aiohttp, uvicorn and the limit: requests/s, latency, ratios."""
    import argparse

    bench_module = _benchmark("bench")
    sketch_dir = target_dir(target)
    try:
        levels = bench_module.connection_levels(str(connections))
    except argparse.ArgumentTypeError as error:
        raise Exit(f"--connections: {error}", code=2) from None
    args = argparse.Namespace(
        rounds=int(rounds),
        duration=float(duration),
        connections=levels,
        pipeline=int(pipeline),
        generator=generator,
        servers=servers,
        compare=compare,
        endpoints=endpoints.split(",") if endpoints else None,
        json=Path(json) if json else None,
        plot=Path(plot) if plot else None,
        command_line="invoke bench " + " ".join(sys.argv[2:]),
    )
    console().print(f"Benchmarking [path]{sketch_dir.relative_to(ROOT)}[/] ...")
    report = bench_module.measure(args, sketch_dir, _say)
    bench_module.finish(report, args, _say)


@task(
    help={
        "connections": "keep-alive connections held at once, each after one request "
        "(default 10000)",
        "server": "sketch (the reference, default), aiohttp, uvicorn or limit",
        "burst": "connections connecting at the same time (default 200)",
        "idle": "seconds the connections stay idle before the memory is read (default 2)",
        "json": "write the report to this JSON file",
    }
)
def bench_scale(c, connections=10_000, server="sketch", burst=200, idle=2.0, json=None):
    """Hold thousands of idle keep-alive connections: errors, and memory per connection."""
    argv = [f"--connections={connections}", f"--server={server}", f"--burst={burst}"]
    argv += [f"--idle={idle}", *([f"--json={json}"] if json else [])]
    if _benchmark("scale").main(argv, _say) != 0:
        raise Exit(code=1)


@task(
    help={
        "method": "py-spy (default: samples from outside, needs py-spy and ptrace), cprofile "
        "(exact calls per request, inflates Python) or perf (Linux: the CPU's own samples, "
        "kernel included; system calls, interpreter and C libraries apart)",
        "endpoint": "the path under load: /, /users/ada or /echo (default /)",
        "duration": "seconds profiled (default 10)",
        "connections": "keep-alive connections of the load (default 50)",
        "server": "sketch (the reference, default), aiohttp, uvicorn or limit",
        "native": "py-spy: sample the C frames too (which C call inside a Python line)",
        "rate": "py-spy's or perf's samples a second (default 200)",
        "top": "how many functions to list (default 15)",
        "json": "write the report to this JSON file",
    }
)
def bench_profile(
    c,
    method="py-spy",
    endpoint="/",
    duration=10.0,
    connections=50,
    server="sketch",
    native=False,
    rate=200,
    top=15,
    json=None,
):
    """Where the server's busy time goes under load, the idle wait left out: a cost table."""
    argv = [f"--method={method}", f"--endpoint={endpoint}", f"--duration={duration}"]
    argv += [f"--connections={connections}", f"--server={server}", f"--top={top}"]
    argv += [f"--rate={rate}"]
    argv += ["--native"] if native else []
    argv += [f"--json={json}"] if json else []
    _benchmark("busytime").main(argv, _say)


# --- the feedback loop --------------------------------------------------------------------


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, timeout=300, env={**os.environ, **(env or {})}
    )
    return time.perf_counter() - started, done.returncode


def _watch_rerun(stage: manifest.Stage) -> float | None:
    """Seconds from a save (touching a file) to the end of the rerun `invoke watch` starts."""
    env = {**os.environ, "WORKSHOP_WATCH_RUNS": "2", "WORKSHOP_WATCH_IDLE": "10"}
    process = subprocess.Popen(
        ["invoke", "watch", stage.id],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    saved = None
    try:
        assert process.stdout is not None
        for line in process.stdout:  # bounded: the watch stops after 2 runs or 10 s idle
            if "Watching" in line:
                if saved is not None:
                    return time.perf_counter() - saved
                target = next(stage.step_dir().joinpath("sketch").glob("*.py"))
                # The line is printed just before the watcher arms: a save in that instant
                # would go unseen, as it would for a learner typing faster than that.
                time.sleep(0.3)
                saved = time.perf_counter()
                target.write_bytes(target.read_bytes())  # a save that changes no byte
    finally:
        process.kill()
        process.wait(5)
    return None


@task(
    help={
        "repeat": "runs per measurement; the median is shown (default 3)",
        "verify": "also time `invoke verify` of all stages (default: yes)",
    }
)
def bench_check(c, repeat=3, verify=True):
    """Time the feedback loop: `invoke check` per stage, `invoke verify`, `invoke watch`."""
    import statistics

    from rich.table import Table

    out = console()
    repeat = max(1, int(repeat))
    table = Table("measurement", "median s", "min–max s", "target", title="feedback loop")
    stages = [s for s in manifest.stages() if s.is_written()]
    worst = 0.0
    for stage in stages:
        for where, flag in (("reference", ["--solution"]), ("skeleton", [])):
            times = [_timed(["invoke", "check", stage.id, *flag])[0] for _ in range(repeat)]
            median = statistics.median(times)
            worst = max(worst, median)
            table.add_row(
                f"invoke check {stage.id} ({where})",
                f"{median:.2f}",
                f"{min(times):.2f}–{max(times):.2f}",
                "≤ 1.0" + (" [bad]✗[/]" if median > 1.0 else " [ok]✓[/]"),
            )
    if verify:
        times = [_timed(["invoke", "verify"])[0] for _ in range(repeat)]
        median = statistics.median(times)
        table.add_row(
            f"invoke verify ({len(stages)} stages)",
            f"{median:.2f}",
            f"{min(times):.2f}–{max(times):.2f}",
            "≤ 30" + (" [bad]✗[/]" if median > 30 else " [ok]✓[/]"),
        )
    reruns = [r for r in (_watch_rerun(stages[0]) for _ in range(repeat)) if r is not None]
    if reruns:
        median = statistics.median(reruns)
        table.add_row(
            f"invoke watch {stages[0].id}: save to rerun done",
            f"{median:.2f}",
            f"{min(reruns):.2f}–{max(reruns):.2f}",
            "≤ 1.0" + (" [bad]✗[/]" if median > 1.0 else " [ok]✓[/]"),
        )
    else:
        table.add_row("invoke watch: rerun", "[warn]not measured[/]", "", "≤ 1.0")
    floor = [_timed([sys.executable, "-c", "import workshop.tasks"])[0] for _ in range(repeat)]
    table.add_row(
        "python startup + import of the tasks (floor)",
        f"{statistics.median(floor):.2f}",
        f"{min(floor):.2f}–{max(floor):.2f}",
        "",
    )
    out.print(table)
    python = sys.version.split()[0]
    out.print(f"{repeat} runs each; machine: {os.cpu_count()} cores, Python {python}")
