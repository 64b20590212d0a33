"""What a chart costs to draw: StrideGuard's hand-drawn SVG (training/charts.py) against the same charts as
Vega-Lite specs rendered to SVG on the server by vl-convert, the other way the report used to draw them.

    python bench/chart_render.py            # 30 renders per chart
    python bench/chart_render.py --runs 100

Prints, per chart and per page (the dashboard draws 2 charts, an activity page 4), the median and p95 of
each renderer, vl-convert's first render in a fresh process (its JavaScript engine starts then), and both
renderers' throughput with 4 threads (a web server serves several pages at once). The page target of the
server work is p95 < 300 ms with 30 clients on 2 cores: a renderer that costs tens of milliseconds per chart
on every changed page cannot share that budget; a cache only helps the pages nobody changed. Figures only,
not a test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from strideguard.training import charts, load  # noqa: E402

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def data() -> dict[str, object]:
    """Sixteen weeks of running, 112 days of load, and a 2-hour run at 1 Hz."""
    rng = np.random.default_rng(1)
    today = date(2026, 6, 30)
    monday = today - timedelta(days=today.weekday())
    weeks = [
        load.WeekVolume(
            *(monday - timedelta(weeks=15 - i)).isocalendar()[:2],
            monday - timedelta(weeks=15 - i),
            float(rng.uniform(20_000, 60_000)),
            14_000.0,
            4,
        )
        for i in range(16)
    ]
    fitness = []
    ctl = atl = 0.0
    for i in range(112):
        daily = float(rng.uniform(0, 500))
        ctl += (daily - ctl) / 42
        atl += (daily - atl) / 7
        fitness.append(load.FitnessPoint(today - timedelta(days=111 - i), ctl, atl, ctl - atl))
    n = 7200
    distance = np.cumsum(rng.uniform(2.5, 3.2, n))
    stream = {
        "pace": 1000.0 / rng.uniform(2.6, 3.4, n),
        "heart_rate": rng.uniform(130, 170, n),
        "cadence": rng.uniform(160, 180, n),
        "altitude": np.cumsum(rng.normal(0, 0.3, n)) + 100,
    }
    return {"weeks": weeks, "fitness": fitness, "distance_km": distance / 1000, "stream": stream}


def hand_drawn(d: dict[str, object]) -> dict[str, object]:
    """The charts as the pages draw them: a callable per chart."""
    weeks, fitness, x = d["weeks"], d["fitness"], d["distance_km"]
    out: dict[str, object] = {
        "weekly": lambda: charts.weekly_distance_chart(weeks, "km"),  # type: ignore[arg-type]
        "load": lambda: charts.load_chart(fitness),  # type: ignore[arg-type]
    }
    for name, y in d["stream"].items():  # type: ignore[union-attr]
        out[name] = lambda y=y, name=name: charts.line_chart(
            [charts.Series(x, y, "s-pace", name)], name, "km", name
        )  # type: ignore[arg-type]
    return out


def specs(d: dict[str, object]) -> dict[str, dict[str, object]]:
    """The same charts as Vega-Lite specs (what vl-convert would render on the server)."""
    size = {"width": 640, "height": 200}
    weekly = {
        "$schema": SCHEMA,
        **size,
        "mark": "bar",
        "data": {"values": [{"week": w.monday.isoformat(), "km": w.distance_m / 1000} for w in d["weeks"]]},  # type: ignore[union-attr]
        "encoding": {"x": {"field": "week", "type": "ordinal"}, "y": {"field": "km", "type": "quantitative"}},
    }
    rows = [
        {"day": p.day.isoformat(), "metric": m, "value": v}
        for p in d["fitness"]  # type: ignore[union-attr]
        for m, v in (("CTL", p.ctl), ("ATL", p.atl), ("TSB", p.tsb))
    ]
    loadspec = {
        "$schema": SCHEMA,
        **size,
        "mark": "line",
        "data": {"values": rows},
        "encoding": {
            "x": {"field": "day", "type": "temporal"},
            "y": {"field": "value", "type": "quantitative"},
            "color": {"field": "metric", "type": "nominal"},
        },
    }
    out: dict[str, dict[str, object]] = {"weekly": weekly, "load": loadspec}
    for name, y in d["stream"].items():  # type: ignore[union-attr]
        xs, ys = charts.downsample(np.asarray(d["distance_km"]), np.asarray(y))  # the same 500 points
        out[name] = {
            "$schema": SCHEMA,
            **size,
            "mark": "line",
            "data": {"values": [{"km": float(a), "v": float(b)} for a, b in zip(xs, ys, strict=True)]},
            "encoding": {
                "x": {"field": "km", "type": "quantitative"},
                "y": {"field": "v", "type": "quantitative"},
            },
        }
    return out


def timings(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def cold_vl_convert() -> float:
    """The first vl-convert render in a fresh process (import and JavaScript engine start included)."""
    code = (
        "import time, vl_convert; t = time.perf_counter(); "
        "vl_convert.vegalite_to_svg({'mark': 'bar', 'data': {'values': [{'a': 1}]}, "
        "'encoding': {'y': {'field': 'a', 'type': 'quantitative'}}}); print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    import vl_convert

    d = data()
    ours = hand_drawn(d)
    theirs = {k: (lambda s=s: vl_convert.vegalite_to_svg(s)) for k, s in specs(d).items()}
    cold = cold_vl_convert()
    theirs["weekly"]()  # warm the engine in this process before timing
    print(f"Chart render times, {args.runs} renders each (ms): median / p95")
    print(f"{'chart':<12}{'hand-drawn SVG':>20}{'Vega-Lite + vl-convert':>28}")
    results: dict[str, tuple[list[float], list[float]]] = {}
    for name in ours:
        a, b = timings(ours[name], args.runs), timings(theirs[name], args.runs)
        results[name] = (a, b)
        print(
            f"{name:<12}{statistics.median(a) * 1e3:>11.2f} / {p95(a) * 1e3:6.2f}"
            f"{statistics.median(b) * 1e3:>17.1f} / {p95(b) * 1e3:7.1f}"
        )
    for page, names in (
        ("dashboard", ("weekly", "load")),
        ("activity", ("pace", "heart_rate", "cadence", "altitude")),
    ):
        mine = sum(statistics.median(results[n][0]) for n in names) * 1e3
        other = sum(statistics.median(results[n][1]) for n in names) * 1e3
        print(f"{page + ' page':<12}{mine:>20.2f}{other:>28.1f}   (sum of medians, {len(names)} charts)")
    print(f"vl-convert first render in a fresh process: {cold * 1e3:.0f} ms (once per server process)")
    for label, table in (("hand-drawn", ours), ("vl-convert", theirs)):
        jobs = [table[n] for n in ("weekly", "load")] * 20
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda f: f(), jobs))
        took = time.perf_counter() - start
        print(f"{label:<12} 4 threads: {len(jobs) / took:8.1f} charts/s")
    print("Decision: keep the hand-drawn module (one renderer for the pages and the report).")


if __name__ == "__main__":
    main()
