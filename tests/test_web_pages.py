"""Web dashboard core: app factory, security headers, CSRF, dashboard and activity pages (in-process)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.model import Activity, Lap, Streams
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.training.pain import PainEntry


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf(client: TestClient) -> str:
    """The CSRF token of this browser (the cookie set on its first page view)."""
    response = client.get("/activities")
    return soup(response).select_one('meta[name="csrf-token"]')["content"]


def make_run(
    start: datetime, km: float = 10.0, name: str | None = "Morning run", with_streams: bool = True, **kw
):
    n = 1200
    streams = None
    if with_streams:
        t = np.arange(n, dtype=float)
        streams = Streams(
            time_s=t,
            lat_deg=52.0 + 0.01 * np.sin(t / n * 2 * np.pi),
            lon_deg=4.0 + 0.015 * np.cos(t / n * 2 * np.pi),
            altitude_m=10 + 5 * np.sin(t / 100),
            distance_m=np.linspace(0, km * 1000, n),
            speed_m_s=np.full(n, km * 1000 / n),
            heart_rate_bpm=np.full(n, 148.0),
            cadence_spm=np.full(n, 172.0),
        )
    return Activity(
        sport=kw.pop("sport", "run"),
        start_utc=start,
        source_format="fit",
        distance_m=km * 1000,
        moving_time_s=float(n) * 3,
        elapsed_time_s=float(n) * 3,
        avg_heart_rate_bpm=148.0,
        name=name,
        streams=streams,
        laps=(
            Lap(start_utc=start, distance_m=km * 500, elapsed_time_s=1800.0),
            Lap(start_utc=start, distance_m=km * 500),
        ),
        **kw,
    )


@pytest.fixture
def runs(session, athlete_id):
    """Twelve runs on consecutive days ending today, the last with a hostile name."""
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    ids = []
    for i in range(12):
        name = "<script>alert(1)</script>" if i == 11 else f"Run {i}"
        outcome = store.save_activity(
            session, athlete_id, make_run(today - timedelta(days=11 - i), km=5 + i, name=name, utc_offset_s=0)
        )
        ids.append(outcome.activity_id)
    session.commit()
    return ids


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/activities", "/no-such-page", "/static/app.css"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_pages_have_no_inline_scripts_or_style_attributes(client, runs):
    for path in ("/", "/activities", f"/activities/{runs[0]}"):
        page = soup(client.get(path))
        assert all(script.get("src") for script in page.find_all("script")), path
        assert not page.select("[style]"), path
        assert not page.find_all("style"), path


def test_empty_dashboard_invites_an_import(client):
    page = soup(client.get("/"))
    assert page.select_one("h1").get_text().startswith("Dashboard")
    assert page.select_one('.empty a[href="/import"]') is not None
    assert page.select("svg.chart") == []  # no empty axes labelled "0 0 0"


def test_dashboard_shows_this_week_and_a_weekly_chart(client, runs):
    response = client.get("/")
    assert response.status_code == 200
    page = soup(response)
    this_week = page.select_one("#this-week .big-number").get_text()
    # runs 5..16 km on consecutive days ending today: this ISO week holds the last weekday()+1 of them
    today = date.today()
    expected_km = sum(
        5 + i
        for i in range(12)
        if (today - timedelta(days=11 - i)) >= today - timedelta(days=today.weekday())
    )
    assert this_week == f"{expected_km:.1f} km"
    bars = page.select("#chart-weekly svg rect.bar")
    assert len(bars) == 16
    assert "bar-current" in bars[-1]["class"]


def test_dashboard_explains_spike_warnings_with_sources_and_tomorrows_safe_run(client, runs):
    page = soup(client.get("/"))
    flags = page.select("#warnings article.flag")
    # 6 km after a 5 km longest is a 20% spike: the run-spike rule must fire, with its citation
    assert flags, "expected long-run spike warnings"
    spike = [f for f in flags if "spike" in f.select_one("h3").get_text().lower()]
    assert spike and spike[0].select_one("p.sources a")["href"].startswith("http")
    # the longest run of the last 30 days is 16 km (today): tomorrow's safe maximum is 10% more
    assert page.select_one("#safe-run .big-number").get_text() == "17.6 km"
    assert page.select_one("#chart-load svg path.line.s-ctl") is not None
    assert page.select("#chart-weekly svg text.mark"), "spike weeks are marked with a '!'"


def test_dashboard_holds_back_the_longest_run_while_pain_is_outside_the_limits(
    client, runs, session, athlete_id
):
    pain_store.add_pain(session, athlete_id, PainEntry(date.today(), "knee-front", "left", 7, "during"))
    session.commit()
    card = soup(client.get("/")).select_one("#safe-run")
    assert card.select_one(".big-number").get_text() == "Hold back"
    assert "Front of knee pain on" in card.select_one(".hold-message").get_text()
    assert "17.6 km" not in card.get_text()
    data = client.get("/api/dashboard").json()["longest_safe_run"]
    # The API says what the page says: held back, no figure.
    assert data["hold_back"]["reason"] == "pain" and data["max_distance_m"] is None
    assert data["longest_30d_m"] == pytest.approx(16_000)


def test_dashboard_api_matches_the_page(client, runs):
    data = client.get("/api/dashboard").json()
    assert data["longest_safe_run"]["hold_back"] is None
    assert data["longest_safe_run"]["max_distance_m"] == pytest.approx(17_600)
    assert len(data["weeks"]) == 16
    assert any(w["rule"].endswith("spike") for w in data["warnings"])
    assert data["load"]["ctl"] > 0


def test_activity_names_from_files_are_escaped_everywhere(client, runs):
    for path in ("/", "/activities", f"/activities/{runs[-1]}"):
        text = client.get(path).text
        assert "<script>alert(1)</script>" not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path


def test_activity_list_sorts_filters_and_paginates(client, session, athlete_id, runs):
    page = soup(client.get("/activities?sort=distance&order=desc"))
    first = page.select("table.activities tbody tr")[0]
    assert first.select("td.num")[0].get_text() == "16.00"
    page = soup(client.get("/activities?sort=distance&order=asc"))
    assert page.select("table.activities tbody tr")[0].select("td.num")[0].get_text() == "5.00"
    assert page.select_one('th[aria-sort="ascending"]') is not None
    page = soup(client.get("/activities?q=Run 1"))
    names = [td.get_text() for td in page.select("td.name")]
    assert sorted(names) == ["Run 1", "Run 10"]
    # 60 more runs make two pages of 50
    base = datetime(2020, 1, 1, 7, tzinfo=UTC)
    for i in range(60):
        store.save_activity(
            session, athlete_id, make_run(base + timedelta(days=i), with_streams=False, name=f"old {i}")
        )
    session.commit()
    page = soup(client.get("/activities"))
    assert len(page.select("table.activities tbody tr")) == 50
    assert page.select_one("#list-summary").get_text().startswith("72 activities")
    assert page.select_one(".pager a.first") is None and page.select_one('.pager a[rel="prev"]') is None
    second = soup(client.get(page.select_one('.pager a[rel="next"]')["href"]))
    assert len(second.select("table.activities tbody tr")) == 22
    assert "Page 2 of 2" in second.select_one(".pager").get_text()
    assert second.select_one(".pager a.first")["href"].endswith("page=1")
    # paging keeps the filter and the sort: the last page of old runs by distance, shortest first
    page = soup(client.get("/activities?q=old&sort=distance&order=asc"))
    last = page.select_one(".pager a.last")["href"]
    assert "q=old" in last and "sort=distance" in last and "order=asc" in last and last.endswith("page=2")
    tail = soup(client.get(last))
    assert [td.get_text() for td in tail.select("td.name")] == [f"old {i}" for i in range(50, 60)]


def test_bad_list_filters_are_explained_not_fatal(client, runs):
    response = client.get("/activities?since=yesterday&sport=swim&sort=colour&page=x")
    assert response.status_code == 200
    alerts = [p.get_text() for p in soup(response).select("p.error")]
    assert any("'yesterday' is not a date" in a for a in alerts)
    assert any("Unknown sport 'swim'" in a for a in alerts)
    assert len(soup(response).select("table.activities tbody tr")) == 12


def test_activity_detail_draws_route_charts_and_laps(client, runs):
    page = soup(client.get(f"/activities/{runs[0]}"))
    path = page.select_one("svg.route path.route-line")["d"]
    assert path.startswith("M") and path.count("L") > 100
    assert page.select_one("svg.route circle.route-start") is not None
    charts = {fig["id"] for fig in page.select("figure.chart-card")}
    assert charts == {"chart-pace", "chart-heart_rate_bpm", "chart-cadence_spm", "chart-altitude_m"}
    assert page.select_one("#chart-pace svg path.line")["d"].startswith("M")
    assert len(page.select("table.laps tbody tr")) == 2


def test_activity_without_positions_says_so(client, session, athlete_id):
    outcome = store.save_activity(
        session,
        athlete_id,
        make_run(datetime(2024, 1, 1, 7, tzinfo=UTC), with_streams=False, sport="treadmill"),
    )
    session.commit()
    page = soup(client.get(f"/activities/{outcome.activity_id}"))
    assert page.select_one("svg.route") is None
    assert "No positions recorded" in page.get_text()
    assert not page.select("figure.chart-card")


def test_unknown_activity_is_a_404_page(client):
    response = client.get("/activities/99999")
    assert response.status_code == 404
    assert soup(response).select_one("p.error").get_text() == "No activity #99999."


def test_editing_rpe_feel_and_name_saves_them(client, session, athlete_id, runs):
    token = csrf(client)
    response = client.post(
        f"/activities/{runs[0]}",
        data={
            "csrf_token": token,
            "name": "Park loop",
            "rpe": "6",
            "feel": "good",
            "sport": "run",
            "shoe_id": "",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert soup(response).select_one("p.ok").get_text() == "Saved."
    session.expire_all()
    saved = store.get_activity(session, athlete_id, runs[0], with_streams=False)
    assert (saved.name, saved.rpe, saved.feel) == ("Park loop", 6.0, "good")


def test_bad_rpe_keeps_what_was_typed_and_stores_nothing(client, session, athlete_id, runs):
    token = csrf(client)
    response = client.post(
        f"/activities/{runs[0]}",
        data={"csrf_token": token, "name": "Renamed <b>", "rpe": "eleven", "feel": "good", "sport": "run"},
    )
    assert response.status_code == 422
    page = soup(response)
    assert "RPE 'eleven'" in page.select_one("div.error").get_text()
    assert page.select_one("#e-name")["value"] == "Renamed <b>"
    assert page.select_one("#e-rpe")["value"] == "eleven"
    session.expire_all()
    assert store.get_activity(session, athlete_id, runs[0], with_streams=False).name == "Run 0"


def test_post_without_csrf_token_is_refused(client, session, athlete_id, runs):
    csrf(client)  # the browser has a cookie, but the form does not carry the token
    response = client.post(f"/activities/{runs[0]}", data={"name": "Hacked", "rpe": "1"})
    assert response.status_code == 403
    assert "security token" in soup(response).select_one("p.error").get_text()
    forged = client.post(f"/activities/{runs[0]}", data={"csrf_token": "x" * 43, "name": "Hacked"})
    assert forged.status_code == 403
    session.expire_all()
    assert store.get_activity(session, athlete_id, runs[0], with_streams=False).name == "Run 0"


def has_label(page: BeautifulSoup, field) -> bool:
    """A form field has an accessible name: a <label for>, a wrapping <label>, or aria-label(ledby)."""
    if field.get("aria-label") or field.get("aria-labelledby"):
        return True
    if field.get("id") and page.select_one(f'label[for="{field["id"]}"]') is not None:
        return True
    return field.find_parent("label") is not None


def test_every_form_carries_a_csrf_token_and_labelled_fields(client, session, athlete_id, runs):
    shoe = shoe_store.add_shoe(session, athlete_id, "Daily")
    session.commit()
    pages = ("/", "/activities", f"/activities/{runs[0]}", "/shoes", f"/shoes/{shoe.id}", "/pain", "/import")
    for path in pages:
        page = soup(client.get(path))
        for form in page.select('form[method="post"]'):
            assert form.select_one('input[name="csrf_token"]')["value"], path
        for field in page.select("input:not([type=hidden]), select, textarea"):
            assert has_label(page, field), (path, str(field)[:120])
        for radio in page.select("input[type=radio]"):  # a group of choices is named by its legend
            assert radio.find_parent("fieldset").select_one("legend"), (path, str(radio)[:120])


# --- QA round: readable names, one pace formatter, charts that state what they draw, filter wording -------


def test_detail_shows_labels_not_internal_ids(client, session, athlete_id):
    day = datetime(2024, 3, 2, 7, tzinfo=UTC)
    trail = store.save_activity(
        session, athlete_id, make_run(day, sport="trail_run", device="development 0", utc_offset_s=0)
    ).activity_id
    pain_store.add_pain(session, athlete_id, PainEntry(day.date(), "hip-lateral", "left", 3, "after"))
    manual = store.save_activity(
        session, athlete_id, store.manual_activity(datetime(2024, 3, 5, 7, tzinfo=UTC), 8000.0, 2700.0)
    ).activity_id
    session.commit()
    page = soup(client.get(f"/activities/{trail}"))
    subtitle = page.select_one("p.subtitle").get_text()
    assert "Trail run" in subtitle and "trail_run" not in subtitle
    assert "development" not in subtitle  # a FIT file that names no real device
    assert page.select_one('#e-sport option[value="trail_run"]').get_text() == "Trail run"
    assert page.select_one("ul.pain-list strong").get_text() == "Side of hip"
    by_hand = soup(client.get(f"/activities/{manual}"))
    assert "Entered by hand: no route." in by_hand.select_one("section.card").get_text()
    assert "No positions recorded" not in by_hand.get_text()
    listed = soup(client.get("/activities?sport=trail_run"))
    assert listed.select_one("table.activities tbody td:nth-of-type(3)").get_text() == "Trail run"


def test_web_and_cli_print_the_same_rounded_pace(client, session, athlete_id, run_cli):
    # 10 km in 55:36 is 5:33.6 per km: 5:34 everywhere (the CLI used to cut it to 5:33).
    run_id = store.save_activity(
        session, athlete_id, store.manual_activity(datetime(2024, 4, 1, 7, tzinfo=UTC), 10_000.0, 3336.0)
    ).activity_id
    session.commit()
    page = soup(client.get(f"/activities/{run_id}"))
    pace = next(d for d in page.select(".stats div") if d.dt.get_text() == "Pace").dd.get_text()
    assert pace == "5:34/km"
    assert soup(client.get("/activities")).select("table.activities tbody td.num")[2].get_text() == "5:34/km"
    listed = run_cli("runs")
    assert listed.returncode == 0, listed.stderr
    assert "5:34/km" in listed.stdout and "5:33" not in listed.stdout


def test_pace_formatter_rounds_once():
    from strideguard import units

    assert units.format_pace(1000.0, 332.6) == "5:33/km"
    assert units.format_pace(1000.0, 359.6) == "6:00/km"  # not "5:00" (seconds rounded to 60)
    assert units.format_pace(5.0, 30.0) == ""  # too short a distance to mean anything
    assert units.format_pace_s(None) == ""


def test_laps_show_metre_distances_and_cadence_from_the_samples(client, session, athlete_id):
    start = datetime(2024, 5, 1, 7, tzinfo=UTC)
    run = make_run(start, km=2.006, utc_offset_s=0)
    run = replace(
        run,
        laps=(
            Lap(start_utc=start, distance_m=1003.0, elapsed_time_s=333.0),
            Lap(start_utc=start + timedelta(seconds=333), distance_m=1003.0, elapsed_time_s=600.0),
        ),
    )
    run_id = store.save_activity(session, athlete_id, run).activity_id
    session.commit()
    page = soup(client.get(f"/activities/{run_id}"))
    headers = [th.get_text() for th in page.select("table.laps th")]
    assert headers[-1] == "Cadence"
    first = [td.get_text() for td in page.select("table.laps tbody tr")[0].select("td")]
    # 1.003 km in 5:33 is 5:32/km: the distance is shown to the metre so the pace adds up.
    assert first[1:4] == ["1.003", "5:33", "5:32/km"]
    assert first[-1] == "172"  # the file's laps have no cadence; the samples inside the lap do


def test_lap_cadence_column_is_hidden_when_no_lap_has_one(client, session, athlete_id):
    run_id = store.save_activity(
        session, athlete_id, make_run(datetime(2024, 5, 2, 7, tzinfo=UTC), with_streams=False)
    ).activity_id
    session.commit()
    page = soup(client.get(f"/activities/{run_id}"))
    assert "Cadence" not in [th.get_text() for th in page.select("table.laps th")]
    assert all(len(tr.select("td")) == 6 for tr in page.select("table.laps tbody tr"))


def test_chart_captions_state_the_range_drawn_and_ignore_zero_cadence(client, session, athlete_id):
    start = datetime(2024, 5, 3, 7, tzinfo=UTC)
    run = make_run(start, km=6.0, utc_offset_s=0)
    cadence = np.full(1200, 170.0)
    cadence[:30] = 0.0  # standing at the start: the sensor reports 0
    cadence[500:600] = 180.0
    streams = Streams(**{**{c: getattr(run.streams, c) for c in Streams.COLUMNS}, "cadence_spm": cadence})
    run = replace(run, streams=streams)
    run_id = store.save_activity(session, athlete_id, run).activity_id
    session.commit()
    page = soup(client.get(f"/activities/{run_id}"))
    cad = page.select_one("#chart-cadence_spm figcaption").get_text()
    assert "; range 170–180)" in cad  # the zeros are not cadence; every sample left is on the axis
    # Even speed (5 m/s): no slow "pace" at both ends from smoothing against zeros.
    assert "range 3:20–3:20" in page.select_one("#chart-pace figcaption").get_text()


def test_filter_messages_use_the_form_labels_and_explain_empty_results(client, runs):
    page = soup(client.get("/activities?since=2024-13-01"))
    assert any(p.get_text().startswith("From '2024-13-01' is not a date") for p in page.select("p.error"))
    page = soup(client.get("/activities?until=soon"))
    assert any(p.get_text().startswith("To 'soon' is not a date") for p in page.select("p.error"))
    reversed_range = soup(client.get("/activities?since=2024-06-01&until=2024-05-01"))
    assert any("is after To 2024-05-01" in p.get_text() for p in reversed_range.select("p.error"))
    assert reversed_range.select_one("p.empty").get_text().startswith("No activities match this filter")
    nothing = soup(client.get("/activities?q=no+such+run"))
    assert "Import some files" not in nothing.select_one("p.empty").get_text()


def test_empty_list_without_a_filter_invites_an_import(client):
    page = soup(client.get("/activities"))
    assert page.select_one('p.empty a[href="/import"]') is not None


def test_rpe_halves_are_kept_and_shown(client, session, athlete_id, runs):
    response = client.post(
        f"/activities/{runs[0]}",
        data={"csrf_token": csrf(client), "rpe": "5.5", "sport": "run"},
        follow_redirects=True,
    )
    page = soup(response)
    assert next(d for d in page.select(".stats div") if d.dt.get_text() == "RPE").dd.get_text() == "5.5"
    assert page.select_one("#e-rpe")["value"] == "5.5"
    session.expire_all()
    assert store.get_activity(session, athlete_id, runs[0], with_streams=False).rpe == 5.5


def test_edit_form_posts_to_its_own_anchor_so_an_error_is_in_view(client, runs):
    page = soup(client.get(f"/activities/{runs[0]}"))
    forms = page.select('form[method="post"]')
    assert forms and all(f["action"].endswith("#edit") for f in forms)
    rejected = client.post(
        f"/activities/{runs[0]}", data={"csrf_token": csrf(client), "rpe": "15", "sport": "run"}
    )
    assert rejected.status_code == 422
    assert soup(rejected).select_one("#edit div.error") is not None  # the error sits inside #edit


def test_head_is_answered_like_get_without_a_body(client, runs):
    for path in ("/", "/activities", "/api/activities", f"/activities/{runs[0]}"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
        assert "content-security-policy" in head.headers
    assert client.head("/no-such-page").status_code == 404
