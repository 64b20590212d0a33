"""The pages' hand-drawn SVG charts: escaped text, readable axis labels, marks that are not only colour."""

from __future__ import annotations

import numpy as np
from bs4 import BeautifulSoup

from strideguard.web.svgcharts import Series, bar_chart, line_chart


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
