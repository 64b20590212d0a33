"""The report renders offline (no script or stylesheet from the network) as HTML and PNG, and the demo extras
give every chart something to show."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from bs4 import BeautifulSoup

from strideguard.demo.extras import add_demo_extras
from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.training import charts, load, report, risk
from strideguard.training.pain import PainEntry
from strideguard.training.shoes import Shoe, shoe_wear

END = date(2026, 6, 30)


def history() -> tuple[list[Activity], list[Shoe], list[PainEntry]]:
    """Ten weeks of three runs a week (8, 8, 12 km), then a 20 km spike, on one shoe, with hip pain after."""
    runs: list[Activity] = []
    day = END - timedelta(weeks=10)
    n = 0
    while day < END - timedelta(days=5):
        for offset, km in ((0, 8), (2, 8), (5, 12)):
            n += 1
            start = datetime.combine(day + timedelta(days=offset), datetime.min.time(), UTC) + timedelta(
                hours=7
            )
            runs.append(
                Activity(
                    sport="run",
                    start_utc=start,
                    source_format="manual",
                    distance_m=km * 1000,
                    moving_time_s=km * 330,
                    rpe=4 if n % 3 else None,
                    id=n,
                    shoe_id=1,
                )
            )
        day += timedelta(weeks=1)
    spike_day = END - timedelta(days=3)
    runs.append(
        Activity(
            sport="run",
            start_utc=datetime.combine(spike_day, datetime.min.time(), UTC) + timedelta(hours=8),
            source_format="manual",
            distance_m=20_000,
            moving_time_s=6600,
            rpe=7,
            id=n + 1,
            shoe_id=1,
        )
    )
    pain = [
        PainEntry(spike_day, "hip-lateral", "left", 6, "during", n + 1),
        PainEntry(END, "hip-lateral", "left", 3, "next-morning"),
    ]
    return runs, [Shoe(1, "Daily", start_distance_m=100_000)], pain


@pytest.fixture(scope="module")
def built() -> report.Report:
    runs, shoes, pain = history()
    return report.build_report(runs, END, shoes, pain, weeks=12)


def svg(markup: str) -> BeautifulSoup:
    return BeautifulSoup(markup, "html.parser")


def test_report_has_the_four_charts_with_their_data(built):
    assert set(built.charts) == {"weekly_volume", "load_trend", "pain_load", "shoe_wear"}
    weekly = svg(built.charts["weekly_volume"])
    bars = weekly.select("rect.bar")
    assert len(bars) == 12  # the 12 calendar weeks to END, this week included
    # First week: 12 km against 8 km (+50%); the 20 km spike's week: both marked "!" (a shape, not colour).
    marked = [i for i, b in enumerate(bars) if "bar-warn" in b["class"]]
    assert len(weekly.select("text.mark")) == len(marked) == 2 and marked[-1] >= 10
    pain = svg(built.charts["pain_load"])
    assert len(pain.select("circle.dot")) == 2  # the 6/10 during the spike and the 3/10 next morning
    assert pain.select_one("text.limit-label").get_text() == charts.PAIN_LIMIT_LABEL
    shoe = svg(built.charts["shoe_wear"]).get_text()
    assert "400 km of 450 km (89%)" in shoe  # 100 km before + 10 weeks x 28 km + the 20 km spike
    assert any(f.rule == "session_spike" for f in built.flags)


def test_the_report_draws_the_dashboards_charts_not_a_second_renderer(built):
    # One chart system: the report's weekly chart is the one the dashboard draws for the same weeks.
    runs, _, _ = history()
    spikes = load.session_spikes(runs)
    monday = END - timedelta(days=END.weekday())
    weeks = load.calendar_weeks(runs, monday - timedelta(weeks=11), monday)
    same = charts.weekly_distance_chart(
        weeks, "km", spikes, monday, "Running distance per week (km); weeks with a long-run spike marked !"
    )
    assert built.charts["weekly_volume"] == same


def test_html_report_is_self_contained_and_names_no_network_script(built):
    page = report.report_html(built)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find_all("script") == []  # SVG drawn in Python: nothing to run
    assert not soup.find_all("link", href=True) and not soup.find_all(src=True)
    assert len(soup.select("figure svg.chart")) == 4
    headings = [h.get_text() for h in soup.find_all("h2")]
    assert "Weekly distance and single-run spikes" in headings and "Shoe wear" in headings
    assert "Guidance, not diagnosis" in soup.find("p", class_="sub").get_text()
    assert ".chart .limit" in soup.find("style").get_text()  # the charts' colours travel with the file


def test_png_report_is_a_real_png(built):
    png = report.report_png(built)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 50_000


def test_empty_history_still_renders():
    empty = report.build_report([], END)
    assert empty.charts["weekly_volume"] == ""
    page = BeautifulSoup(report.report_html(empty), "html.parser")
    assert "No runs in this period." in [p.get_text() for p in page.select("p.empty")]
    assert report.report_png(empty)[:4] == b"\x89PNG"


def test_report_text_cannot_break_out_of_the_page():
    runs, shoes, pain = history()
    shoes = [Shoe(1, "</figure><script>x</script>", start_distance_m=100_000)]
    page = report.report_html(report.build_report(runs, END, shoes, pain, weeks=4))
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def test_report_in_miles_draws_miles(built):
    runs, shoes, pain = history()
    miles = report.build_report(runs, END, shoes, pain, weeks=12, unit="mi")
    weekly = svg(miles.charts["weekly_volume"])
    assert weekly.select_one("text.axis-label").get_text() == "mi"
    assert "249 mi of 280 mi (89%)" in svg(miles.charts["shoe_wear"]).get_text()
    assert "distances in miles" in miles.subtitle


def test_report_cli_writes_html_and_png_and_refuses_other_suffixes(run_cli, session, athlete_id, tmp_path):
    for n, km in enumerate((8, 8, 12, 8, 16)):
        start = datetime(2026, 6, 1 + 3 * n, 7, tzinfo=UTC)
        store.save_activity(session, athlete_id, store.manual_activity(start, km * 1000, km * 330, rpe=5))
    session.commit()
    html_path, png_path = tmp_path / "r.html", tmp_path / "r.png"
    made = run_cli("report", "--out", str(html_path), "--date", "2026-06-20", "--weeks", "4")
    assert made.returncode == 0, made.stderr
    soup = BeautifulSoup(html_path.read_text(), "html.parser")
    assert soup.find_all("script") == [] and len(soup.select("figure svg.chart")) >= 2
    assert run_cli("report", "--out", str(png_path), "--date", "2026-06-20").returncode == 0
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png_path.stat().st_size > 30_000
    bad = run_cli("report", "--out", str(tmp_path / "r.pdf"))
    assert bad.returncode == 2 and "written as .html or .png" in bad.stderr


def test_demo_extras_give_shoes_ratings_a_spike_and_a_settling_hip_episode(session, athlete_id):
    # A year of 4 runs a week building slowly, saved like the demo's imports.
    first = date(2025, 7, 7)
    for week in range(52):
        for weekday, km in ((1, 7), (3, 8), (4, 6), (6, 10 + week * 0.1)):
            day = first + timedelta(weeks=week, days=weekday)
            start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=6)
            store.save_activity(
                session, athlete_id, store.manual_activity(start, km * 1000, km * 340, utc_offset_s=7200)
            )
    activities = store.list_activities(session, athlete_id, newest_first=False)
    extras = add_demo_extras(session, athlete_id, activities, np.random.default_rng(7))
    session.commit()
    after = store.list_activities(session, athlete_id, newest_first=False)
    shoes = shoe_store.list_shoes(session, athlete_id)
    assert len(shoes) == 2 and shoe_store.defaults(session, athlete_id)["run"] == extras.daily_shoe_id
    levels = {w.shoe.name: w.level for w in shoe_wear(shoes, after)}
    assert levels["Daily trainer"] == "check"
    rated = [a for a in after if a.rpe is not None]
    assert len(rated) > 0.6 * len(after) and all(a.feel for a in rated)
    spikes = [s for s in load.session_spikes(after) if s.activity_id == extras.spike_activity_id]
    assert spikes and spikes[0].category == "moderate"
    entries = pain_store.list_pain(session, athlete_id)
    during = [e.score for e in entries if e.timing == "during"]
    assert during == [3, 4, 5, 6, 5, 4, 3, 2, 1]
    assert all(e.activity_id for e in entries)
    assert (entries[-1].day - entries[0].day).days <= 21
    flags = risk.evaluate(after, after[-1].local_date, since=after[0].local_date, shoes=shoes, pain=entries)
    assert {"session_spike", "pain_rising", "shoe_retirement"} <= {f.rule for f in flags}
