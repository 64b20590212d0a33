"""The one chart system (training/charts.py, used by the pages and the report): escaped text, readable axis
labels, marks that are not only colour, ticks that never repeat."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from bs4 import BeautifulSoup

from strideguard.training import charts
from strideguard.training.charts import Series, bar_chart, line_chart
from strideguard.training.pain import PainEntry


def svg(markup: str) -> BeautifulSoup:
    return BeautifulSoup(markup, "html.parser")


def test_bar_chart_labels_the_current_week_and_never_crowds_labels():
    labels = [f"W{i:02d}" for i in range(16)]
    chart = svg(bar_chart(labels, [float(i) for i in range(16)], "Weekly", "km", current=15))
    ticks = [t.get_text() for t in chart.select("text.tick") if t.get_text().startswith("W")]
    # every second week counted back from the last, so the last two bars never both carry a label
    assert ticks == [f"W{i:02d}" for i in range(1, 16, 2)]
    assert "bar-current" in chart.select("rect.bar")[-1]["class"]
    # On a phone every other label is hidden (app.css), again counted back from the last week.
    phone = [t.get_text() for t in chart.select("text.tick:not(.tick-alt)") if t.get_text().startswith("W")]
    assert phone == [f"W{i:02d}" for i in range(3, 16, 4)]


def test_bar_chart_marks_spike_weeks_with_a_shape_not_only_colour():
    chart = svg(bar_chart(["a", "b", "c"], [3.0, 5.0, 4.0], "Weekly", "km", marked=[False, True, False]))
    assert [m.get_text() for m in chart.select("text.mark")] == ["!"]
    assert "bar-warn" in chart.select("rect.bar")[1]["class"]


def test_line_chart_leaves_out_x_ticks_that_would_run_into_the_axis_name():
    x = np.arange(-112.0, 1.0)
    chart = svg(line_chart([Series(x, np.sin(x), "s-ctl", "CTL")], "Load", "days ago", "AU"))
    name = chart.select("text.axis-label")[-1]
    assert name.get_text() == "days ago"
    name_left = float(name["x"]) - 6.5 * len("days ago")
    tick_xs = [float(t["x"]) for t in chart.select("text.tick") if t.get_text().lstrip("-").isdigit()]
    assert tick_xs and max(tick_xs) + 12 < name_left
    assert chart.select_one("path.line.s-ctl")["d"].startswith("M")


def test_chart_text_is_escaped():
    markup = bar_chart(["<b>"], [1.0], "<script>x</script>", "<i>")
    assert "<script>" not in markup and "<b>" not in markup and "&lt;script&gt;" in markup


def test_one_pain_entry_gets_a_0_to_10_axis_with_distinct_ticks_and_a_labelled_limit():
    # One entry of 4/10 with the old auto-scaled axis printed the ticks "4, 4, 5" (4, 4.5, 5 at no decimals).
    today = date(2026, 5, 20)
    chart = svg(
        charts.pain_chart(
            [PainEntry(today, "hip-lateral", "left", 4, "during")],
            today - timedelta(weeks=4),
            today,
            today,
            "Side of hip: pain",
        )
    )
    y_ticks = [t.get_text() for t in chart.select("text.tick") if t["text-anchor"] == "end"]
    x_ticks = [t.get_text() for t in chart.select("text.tick") if t["text-anchor"] == "middle"]
    assert y_ticks == ["0", "2", "4", "6", "8", "10"] and len(set(x_ticks)) == len(x_ticks)
    assert chart.select_one("text.limit-label").get_text() == "5/10: acceptable limit during a run"
    assert len(chart.select("circle.dot")) == 1


def test_tick_labels_get_the_decimals_their_step_needs():
    ticks, decimals = charts.nice_ticks(3.92, 5.08)
    assert ticks == [4.0, 4.5, 5.0] and decimals == 1
    labels = [
        t.get_text()
        for t in svg(
            line_chart([Series(np.array([0.0, 1.0]), np.array([4.0, 5.0]), "s-hr", "x")], "t", "d", "y")
        ).select("text.tick")
        if t["text-anchor"] == "end"
    ]
    assert len(labels) == len(set(labels)) and "4.5" in labels


def test_the_stylesheet_colours_every_class_the_charts_draw():
    drawn = {
        "bar",
        "bar-warn",
        "bar-current",
        "grid",
        "tick",
        "axis-label",
        "line",
        "s-ctl",
        "s-atl",
        "s-tsb",
        "s-pace",
        "s-hr",
        "s-cad",
        "s-alt",
        "s-pain-run",
        "s-pain-rest",
        "dot",
        "limit",
        "limit-label",
        "mark",
        "spike",
        "bar-ok",
        "bar-check",
        "bar-replace",
        "bar-retired",
        "limit-tick",
        "legend",
    }
    for name in drawn:
        assert f".{name}" in charts.CHART_CSS, name


def test_one_chart_system_for_the_pages_and_the_report(client, session, athlete_id, monkeypatch):
    import importlib.util
    import tomllib
    from pathlib import Path

    from histories import TODAY, add, day
    from strideguard.training import load

    # No second renderer: the pages' hand-drawn module moved here, the Vega-Lite specs and Altair are gone.
    assert importlib.util.find_spec("strideguard.web.svgcharts") is None
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert not any(d.startswith("altair") for d in project["project"]["dependencies"])
    # The dashboard's weekly chart is the chart the report draws for the same weeks.
    for n in (20, 13, 6, 2):
        add(session, athlete_id, day(n), 8.0 + n / 4)
    session.commit()
    monkeypatch.setenv("STRIDEGUARD_TODAY", TODAY.isoformat())
    page = BeautifulSoup(client.get("/").text, "html.parser")
    runs = store_runs(session, athlete_id)
    monday = TODAY - timedelta(days=TODAY.weekday())
    weeks = load.calendar_weeks(runs, monday - timedelta(weeks=15), monday)
    drawn = charts.weekly_distance_chart(
        weeks,
        "km",
        load.session_spikes(runs),
        monday,
        "Running distance per week (km), last 16 weeks; a long-run spike's week marked !",
    )
    assert str(page.select_one("#chart-weekly svg")) == str(BeautifulSoup(drawn, "html.parser").svg)


def store_runs(session, athlete_id):
    from strideguard.storage import activities as store

    return store.list_activities(session, athlete_id, newest_first=False)


def test_charts_are_csp_clean_and_styled_by_the_shared_stylesheet(client, session, athlete_id):
    from histories import add, day

    for n in (9, 6, 2):
        add(session, athlete_id, day(n) + timedelta(days=(date.today() - day(0)).days), 8.0)
    session.commit()
    page = client.get("/")
    main = BeautifulSoup(page.text, "html.parser").select_one("main")
    assert main.select("svg.chart") and not main.select("[style]") and not main.select("script")
    href = BeautifulSoup(page.text, "html.parser").select_one('link[href^="/charts.css"]')["href"]
    css = client.get(href)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.text == charts.CHART_CSS


def test_the_axis_range_is_numpys_percentiles_to_the_last_bit():
    # line_chart's y axis spans the 1st-99th percentile; charts.percentile_range computes it without
    # np.percentile's per-call cost and must give its floats exactly (ties, one value, rounded data).
    rng = np.random.default_rng(7)
    for n in [*range(1, 40), 336, 1001]:
        for rounded in (False, True):
            values = rng.normal(size=n) * rng.uniform(0.1, 500)
            values = np.round(values) if rounded else values
            for low, high in ((1, 99), (0, 100), (25, 75)):
                expected = (float(np.percentile(values, low)), float(np.percentile(values, high)))
                assert charts.percentile_range(values, low, high) == expected, (n, low, high)
