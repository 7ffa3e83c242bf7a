"""The benchmarks import, their smallest run works, and the page shows targets missed."""

from __future__ import annotations

import pytest

from bench import flow40, overhead, queues, report, windmill


def test_the_page_puts_each_figure_beside_its_comparison_and_target() -> None:
    page = report.Page(quick=True, load_before=(1.0, 1.0, 1.0))
    page.overhead = (0.040, 0.080, 20)
    page.windmill = windmill.Figures(
        rounds={"light": 1, "heavy": 1},
        seconds={
            "tidemill": {"light": 2.0, "heavy": 20.0},
            "tidemill warm": {"light": 0.2, "heavy": 19.0},
            "prefect": {"light": 1.0, "heavy": 15.0},
        },
        prefect_version="3.0.0",
    )
    page.queues = queues.Figures(
        jobs=100,
        samples=5,
        latency_ms={"tidemill": 2.0, "tidemill warm": 1.0, "pgqueuer": 4.0},
        throughput={"tidemill": 90.0, "tidemill warm": 500.0, "pgqueuer": 1000.0},
        worker_idle_mb={"tidemill": 50.0, "tidemill warm": 50.0},
        worker_growth_mb={"tidemill": 0.0, "tidemill warm": 0.0},
        server_idle_mb=100.0,
        server_after_mb=100.0,
        versions={"pgqueuer": "1.0"},
        errors={"procrastinate": "no such database"},
    )
    text = report.render(page)
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    light = rows["| 40 x fib(10), one after another, process per job (median of 1)"]
    assert "Prefect 3.0.0: 1.00 s" in light and "2.00x" in light and "**no**" in light
    warm = rows["| 40 x fib(10), one after another, warm mode (median of 1)"]
    assert "0.20x" in warm and warm.endswith("| yes |")
    drain = rows["| Drain 100 trivial jobs with 2 workers, warm mode"]
    assert "0.50x" in drain and "**no**" in drain
    assert "procrastinate could not be measured in this run: `no such database`" in text


def test_flow_rows_compare_with_jobs_and_prefect_against_their_targets() -> None:
    page = report.Page(quick=True, load_before=(1.0, 1.0, 1.0))
    page.flow40 = flow40.Figures(
        rounds={"light": 3, "heavy": 1},
        seconds={
            "flow": {"light": 1.5, "heavy": 20.0},
            "flow warm": {"light": 0.2, "heavy": 18.0},
            "jobs": {"light": 2.0, "heavy": 21.0},
            "jobs warm": {"light": 0.25, "heavy": 18.5},
            "prefect": {"light": 3.0, "heavy": 15.0},
        },
        prefect_version="3.0.0",
    )
    text = report.render(page)
    rows = [line for line in text.splitlines() if line.startswith("| Flow of ")]
    assert len(rows) == 8  # 2 shapes x 2 modes x (jobs, Prefect)
    light = [r for r in rows if "40 x fib(10) steps, process per job (median of 3)" in r]
    assert "the same as 40 separate jobs: 2.00 s" in light[0] and "0.75x" in light[0]
    assert "Prefect 3.0.0: 3.00 s" in light[1] and "0.50x" in light[1]
    assert all(r.endswith("| ≤ 1 s | **no** |") for r in light)
    warm = [r for r in rows if "40 x fib(10) steps, warm mode" in r]
    assert all(r.endswith("| ≤ 0.3 s | yes |") for r in warm)
    heavy = [r for r in rows if "10 x fib(33)" in r]
    assert all(r.endswith("| — | — |") for r in heavy)


@pytest.mark.e2e
def test_the_smallest_overhead_run_works(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDEMILL_DATABASE_URL", dsn)
    ours, bare = overhead.measure(2)
    assert len(ours) == len(bare) == 2
    assert all(0 < seconds < 30 for seconds in ours + bare)
