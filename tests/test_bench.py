"""A smoke test of the benchmark: a short run of the reference with the built-in generator.

It checks that the benchmark works, never how fast anything is: timings on CI machines say
nothing. aiohttp and uvicorn are optional extras (`.[bench]`), so only sketch is run here.
"""

import json
import subprocess
import sys

import pytest

from workshop.manifest import ROOT

BENCH = ROOT / "benchmarks" / "bench.py"


def test_a_short_bench_of_the_reference_serves_every_endpoint_without_errors(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, str(BENCH), "--rounds", "1", "--duration", "0.3"]
    command += ["--generator", "builtin", "--servers", "sketch", "--connections", "8"]
    command += ["--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    report = json.loads(out.read_text())
    rows = {row["endpoint"]: row for row in report["results"]}
    assert set(rows) == {"GET /", "GET /users/{name}", "POST /echo (1 KiB JSON)"}, rows
    for name, row in rows.items():
        assert row["server"] == "sketch"
        assert row["rps_median"] > 0, f"{name}: no request was answered: {row}"
        assert row["errors"] == 0, f"{name}: errors under load: {row}"
    assert "built-in generator" in report["generator_limits"]
    assert "| GET / | sketch |" in done.stdout, done.stdout


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
        "  Socket errors: connect 0, read 2, write 0, timeout 1\n"
        "  Non-2xx or 3xx responses: 3\nRequests/sec:  35041.70\n"
    )
    sample = parse_wrk(text)
    assert (sample.rps, sample.p50_ms, sample.p99_ms, sample.errors) == (35041.7, 0.612, 4.5, 6)


def test_compare_takes_a_folder_or_a_revisions_last_reference(tmp_path):
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench import compared_sketch
    from workshop import manifest

    final = manifest.final()
    folder, name = compared_sketch(str(final.solution_dir()), tmp_path)
    assert folder == final.solution_dir() and name == f"sketch ({final.id})"
    folder, name = compared_sketch("HEAD", tmp_path)
    assert (folder / "sketch" / "__main__.py").is_file() and name.startswith("sketch@")
    with pytest.raises(SystemExit, match="neither a folder holding sketch/ nor a revision"):
        compared_sketch("no-such-revision", tmp_path)
