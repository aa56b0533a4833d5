"""benchmarks/bench_ingest.py stays runnable (figures are not checked here: BENCHMARKS.md has them)."""

import json

from tests.test_benchmarks import _run, bench_database_url  # noqa: F401


def test_ingest_benchmark_runs(bench_database_url):  # noqa: F811
    out = _run("benchmarks/bench_ingest.py", "--count", "120", "--database-url", bench_database_url,
               url=bench_database_url)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [line["messages"] for line in lines] == [120]
    assert sum(lines[0]["outcomes"].values()) == 120 and lines[0]["outcomes"].get("created", 0) > 0
    assert "failed" not in lines[0]["outcomes"]
    assert lines[0]["rss_mb"] > 0 and lines[0]["queries_per_message"] > 0
