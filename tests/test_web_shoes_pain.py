"""Web shoes and pain diary: add/edit/default/retire/restore shoes; log pain on the body map; bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store
from strideguard.training.pain import PainEntry


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def token(client: TestClient, path: str = "/shoes") -> str:
    return soup(client.get(path)).select_one('meta[name="csrf-token"]')["content"]


def test_add_shoe_shows_wear_bar_and_escapes_the_name(client, session, athlete_id):
    response = client.post(
        "/shoes",
        data={
            "csrf_token": token(client),
            "name": "<b>Pegasus</b>",
            "brand": "Nike",
            "start_km": "420",
            "retire_km": "450",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "<b>Pegasus</b>" not in response.text
    row = soup(response).select_one("table.shoes tbody tr")
    assert row.select_one("td.name a").get_text() == "<b>Pegasus</b>"
    assert float(row.select_one("progress")["value"]) == pytest.approx(93.333, abs=0.01)
    assert row.select_one(".tag").get_text() == "Check"  # 420 of 450 km is over 90%
    assert [s.name for s in shoe_store.list_shoes(session, athlete_id)] == ["<b>Pegasus</b>"]


def test_bad_shoe_form_keeps_input_and_stores_nothing(client, session, athlete_id):
    response = client.post(
        "/shoes",
        data={"csrf_token": token(client), "name": "Clifton", "start_km": "lots", "retire_km": "600"},
    )
    assert response.status_code == 422
    page = soup(response)
    assert "Already run: enter a distance in kilometres" in page.select_one("div.error").get_text()
    assert page.select_one("#add-name")["value"] == "Clifton"
    assert page.select_one("#add-start")["value"] == "lots"
    assert shoe_store.list_shoes(session, athlete_id) == []


def test_edit_default_retire_and_restore_a_shoe(client, session, athlete_id):
    shoe = shoe_store.add_shoe(session, athlete_id, "Old name")
    session.commit()
    csrf = token(client)
    client.post(
        f"/shoes/{shoe.id}",
        data={"csrf_token": csrf, "name": "Novablast", "start_km": "0", "retire_km": "700"},
    )
    client.post(f"/shoes/{shoe.id}/default", data={"csrf_token": csrf, "sport": "trail_run"})
    session.expire_all()
    assert shoe_store.get_shoe(session, athlete_id, shoe.id).retire_at_m == 700_000
    assert shoe_store.defaults(session, athlete_id) == {"trail_run": shoe.id}
    page = soup(client.get("/shoes"))
    assert page.select_one("table.shoes tbody tr td:nth-of-type(5)").get_text() == "trail run"
    retired = soup(client.post(f"/shoes/{shoe.id}/retire", data={"csrf_token": csrf}, follow_redirects=True))
    # Retiring clears the pair's defaults: the page says which, so the runner can choose another.
    assert retired.select_one("p.ok").get_text() == "Shoe retired."
    assert retired.select_one("p.shoe-note").get_text() == (
        "Novablast was the default for trail run; choose another default with Make default."
    )
    page = soup(client.get("/shoes"))
    assert page.select_one("p.shoe-note") is None  # said once, after the retirement
    assert page.select_one("h2").get_text() == "Retired"
    assert page.select_one('form[action$="/restore"]') is not None
    restored = soup(
        client.post(f"/shoes/{shoe.id}/restore", data={"csrf_token": csrf}, follow_redirects=True)
    )
    assert "default for no sport" in restored.select_one("p.shoe-note").get_text()
    session.expire_all()
    assert not shoe_store.get_shoe(session, athlete_id, shoe.id).retired
    assert client.post("/shoes/999/retire", data={"csrf_token": csrf}).status_code == 404


def test_body_map_regions_are_links_that_preselect_region_and_side(client):
    page = soup(client.get("/pain"))
    links = page.select("svg.bodymap a.region-link")
    regions = {a["data-region"] for a in links}
    assert {"groin-hip-front", "buttock", "hip-lateral", "lower-back", "calf"} <= regions
    assert all(a.get("aria-label") for a in links)
    hip = next(a for a in links if a["data-region"] == "groin-hip-front" and a["data-side"] == "left")
    chosen = soup(client.get(hip["href"]))
    assert chosen.select_one("#p-region option[selected]")["value"] == "groin-hip-front"
    assert chosen.select_one('input[name="side"][checked]')["value"] == "left"
    assert chosen.select_one('svg.bodymap a[data-region="groin-hip-front"][data-side="left"] rect.selected')


def test_logging_pain_stores_it_and_shows_the_region_history(client, session, athlete_id):
    today = date.today()
    run = Activity(
        sport="run",
        start_utc=datetime.now(UTC) - timedelta(days=1),
        source_format="manual",
        distance_m=8000.0,
        moving_time_s=2400.0,
    )
    store.save_activity(session, athlete_id, run)
    session.commit()
    response = client.post(
        "/pain",
        data={
            "csrf_token": token(client, "/pain"),
            "region": "hip-lateral",
            "side": "right",
            "score": "4",
            "timing": "after",
            "date": today.isoformat(),
            "note": "<i>sore</i>",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("p.ok").get_text() == "Pain entry saved."
    assert page.select_one("#history h2").get_text().startswith("Side of hip")
    assert page.select_one("#chart-pain svg path.line") is not None
    assert "<i>sore</i>" not in response.text and "&lt;i&gt;sore&lt;/i&gt;" in response.text
    entries = pain_store.list_pain(session, athlete_id)
    assert [(e.region, e.side, e.score, e.timing) for e in entries] == [("hip-lateral", "right", 4, "after")]


def test_bad_pain_entry_is_explained_keeps_choices_and_stores_nothing(client, session, athlete_id):
    response = client.post(
        "/pain",
        data={
            "csrf_token": token(client, "/pain"),
            "region": "buttock",
            "side": "left",
            "score": "11",
            "timing": "after",
            "note": "kept",
        },
    )
    assert response.status_code == 422
    page = soup(response)
    assert "Pain score '11'" in page.select_one("div.error").get_text()
    assert page.select_one("#p-region option[selected]")["value"] == "buttock"
    assert page.select_one("#p-note").get_text() == "kept"
    assert pain_store.list_pain(session, athlete_id) == []


def test_pain_post_without_csrf_is_refused(client, session, athlete_id):
    client.get("/pain")
    response = client.post(
        "/pain", data={"region": "buttock", "side": "left", "score": "3", "timing": "after"}
    )
    assert response.status_code == 403
    assert pain_store.list_pain(session, athlete_id) == []


def test_bad_shoe_edit_keeps_what_was_typed_and_changes_nothing(client, session, athlete_id):
    shoe = shoe_store.add_shoe(session, athlete_id, "Clifton", retire_at_m=600_000)
    session.commit()
    response = client.post(
        f"/shoes/{shoe.id}",
        data={"csrf_token": token(client), "name": "Clifton 9", "start_km": "12", "retire_km": "-3"},
    )
    assert response.status_code == 422
    page = soup(response)
    assert "Retire at" in page.select_one("div.error").get_text()
    assert page.select_one("#edit-name")["value"] == "Clifton 9"
    assert page.select_one("#edit-retire")["value"] == "-3"
    session.expire_all()
    kept = shoe_store.get_shoe(session, athlete_id, shoe.id)
    assert (kept.name, kept.retire_at_m) == ("Clifton", 600_000)
    saved = client.post(
        f"/shoes/{shoe.id}",
        data={"csrf_token": token(client), "name": "Clifton 9", "brand": "Hoka", "retire_km": "650"},
        follow_redirects=True,
    )
    assert soup(saved).select_one("p.ok").get_text() == "Saved."
    session.expire_all()
    changed = shoe_store.get_shoe(session, athlete_id, shoe.id)
    assert (changed.name, changed.brand, changed.retire_at_m) == ("Clifton 9", "Hoka", 650_000)


def test_deleting_a_pain_entry_says_so_and_removes_only_it(client, session, athlete_id):
    day = date.today()
    first = pain_store.add_pain(session, athlete_id, PainEntry(day, "calf", "left", 3, "after"))
    pain_store.add_pain(session, athlete_id, PainEntry(day, "shin", "right", 2, "during"))
    session.commit()
    page = soup(client.get("/pain"))
    # The list's Delete only asks (a GET form, no script): the confirmation page shows the entry.
    ask = page.select_one(f'form[action^="/pain/{first.id}/delete"]')
    assert ask["method"] == "get"
    assert ask.select_one("button")["aria-label"] == f"Delete the entry of {day.isoformat()}"
    confirm = soup(client.get(f"/pain/{first.id}/delete"))
    box = confirm.select_one("#confirm-delete")
    assert "Calf (left), 3/10" in box.get_text()
    form = box.select_one(f'form[method="post"][action="/pain/{first.id}/delete"]')
    assert form.select_one('input[name="csrf_token"]')["value"]
    assert box.select_one('a[href^="/pain"]').get_text() == "Keep it"
    # A POST without the confirmation deletes nothing and asks instead.
    unconfirmed = client.post(
        f"/pain/{first.id}/delete", data={"csrf_token": token(client, "/pain")}, follow_redirects=False
    )
    assert unconfirmed.status_code == 303 and unconfirmed.headers["location"].startswith(
        f"/pain/{first.id}/delete"
    )
    assert len(pain_store.list_pain(session, athlete_id)) == 2
    # Without the CSRF token even a confirmed delete is refused.
    assert client.post(f"/pain/{first.id}/delete", data={"confirm": "yes"}).status_code == 403
    response = client.post(
        f"/pain/{first.id}/delete",
        data={"csrf_token": form.select_one('input[name="csrf_token"]')["value"], "confirm": "yes"},
        follow_redirects=True,
    )
    assert soup(response).select_one("p.ok[role=status]").get_text() == "Pain entry deleted."
    assert [e.region for e in pain_store.list_pain(session, athlete_id)] == ["shin"]


# --- QA round: wear levels in words, limits already passed, recent runs, hit areas, confirmation ---------


def _run_in(session, athlete_id, shoe_id, km, days_ago, name=None):
    run = Activity(
        sport="run",
        start_utc=datetime.now(UTC) - timedelta(days=days_ago),
        source_format="manual",
        distance_m=km * 1000,
        moving_time_s=km * 330,
        name=name,
        shoe_id=shoe_id,
    )
    return store.save_activity(session, athlete_id, run).activity_id


def test_wear_bar_is_coloured_by_level_and_says_the_level(client, session, athlete_id):
    shoe_store.add_shoe(session, athlete_id, "Worn", start_distance_m=1_125_000)  # 250%
    shoe_store.add_shoe(session, athlete_id, "Watch me", start_distance_m=445_000)  # 99%
    fresh = shoe_store.add_shoe(session, athlete_id, "Fresh", start_distance_m=10_000)
    shoe_store.set_default(session, athlete_id, fresh.id, "trail_run")
    shoe_store.set_default(session, athlete_id, fresh.id, "run")
    session.commit()
    rows = {
        r.select_one("td.name a").get_text(): r
        for r in soup(client.get("/shoes")).select("table.shoes tbody tr")
    }
    assert "wear-replace" in rows["Worn"].select_one("progress")["class"]
    assert rows["Worn"].select_one(".tag").get_text() == "Replace"
    assert "wear-check" in rows["Watch me"].select_one("progress")["class"]
    assert rows["Watch me"].select_one(".tag").get_text() == "Check"
    assert (
        rows["Fresh"].select_one(".tag") is None
        and "wear-ok" in rows["Fresh"].select_one("progress")["class"]
    )
    assert rows["Fresh"].select_one('td[data-label="Default for"]').get_text() == "run, trail run"
    # every cell is labelled, so the rows can become cards on a phone
    assert all(td.get("data-label") for td in rows["Fresh"].select("td"))


def test_limit_below_the_distance_run_is_accepted_but_said(client, session, athlete_id):
    shoe = shoe_store.add_shoe(session, athlete_id, "Pegasus")
    _run_in(session, athlete_id, shoe.id, 12.0, 1)
    session.commit()
    response = client.post(
        f"/shoes/{shoe.id}",
        data={"csrf_token": token(client), "name": "Pegasus", "start_km": "300", "retire_km": "250"},
        follow_redirects=True,
    )
    page = soup(response)
    assert page.select_one("p.ok").get_text() == "Saved."
    assert (
        page.select_one("p.shoe-note")
        .get_text()
        .startswith("Pegasus is already past its limit: 312 of 250 km.")
    )
    session.expire_all()
    assert shoe_store.get_shoe(session, athlete_id, shoe.id).retire_at_m == 250_000
    added = soup(
        client.post(
            "/shoes",
            data={"csrf_token": token(client), "name": "Old pair", "start_km": "600", "retire_km": "500"},
            follow_redirects=True,
        )
    )
    assert "Old pair is already past its limit" in added.select_one("p.shoe-note").get_text()
    edit = soup(client.get(f"/shoes/{shoe.id}"))
    assert "already past its limit" in edit.select_one("p.warning").get_text()


def test_shoe_page_lists_its_recent_runs_with_the_count_of_the_list(client, session, athlete_id):
    shoe = shoe_store.add_shoe(session, athlete_id, "Daily")
    other = shoe_store.add_shoe(session, athlete_id, "Other")
    for i in range(12):
        _run_in(session, athlete_id, shoe.id, 5.0, 20 - i, name=f"Run {i}")
    _run_in(session, athlete_id, other.id, 5.0, 1, name="Elsewhere")
    session.commit()
    listed = soup(client.get("/shoes")).select_one("table.shoes tbody tr td.num").get_text()
    page = soup(client.get(f"/shoes/{shoe.id}"))
    assert listed == "12"
    summary = page.select_one("p.shoe-summary").get_text()
    assert summary.startswith("12 activities in this shoe; 60 km of 450 km")
    runs = [a.get_text() for a in page.select("ul.shoe-runs a")]
    assert len(runs) == 10 and runs[0].endswith("Run 11") and not any("Elsewhere" in r for r in runs)
    assert "10 most recent of 12" in page.get_text()
    empty = soup(client.get(f"/shoes/{shoe_store.add_shoe(session, athlete_id, 'New').id}"))
    assert empty.select_one("ul.shoe-runs") is None


def test_limit_hint_explains_the_default(client):
    hint = soup(client.get("/shoes")).select_one("#add-retire-help").get_text()
    assert "default limit is 450 km" in hint and "about 500 km" in hint and "Check at 90%" in hint


def test_body_map_hit_areas_are_large_enough_for_a_finger(client):
    page = soup(client.get("/pain"))
    links = page.select("svg.bodymap a.region-link")
    assert links
    for link in links:
        hit = link.select_one("rect.hit")
        # 20 units is 25.6 CSS px at the map's 256 px width (a 375 px phone).
        assert float(hit["width"]) >= 20 and float(hit["height"]) >= 20, link["aria-label"]
    assert "Dotted outline" in page.select_one(".bodymap-legend").get_text()


def test_region_history_heading_names_the_side_and_keeps_to_it(client, session, athlete_id):
    day = date.today()
    pain_store.add_pain(session, athlete_id, PainEntry(day, "hip-lateral", "left", 4, "after"))
    pain_store.add_pain(session, athlete_id, PainEntry(day, "hip-lateral", "right", 2, "after"))
    session.commit()
    page = soup(client.get("/pain?region=hip-lateral&side=left"))
    assert page.select_one("#history h2").get_text().startswith("Side of hip, left side:")
    assert [li.get_text()[:16] for li in page.select("#history ul.pain-list li")] == [
        f"{day.isoformat()}: 4/10"
    ]


def test_unknown_entry_has_no_confirmation_page(client):
    assert client.get("/pain/9999/delete").status_code == 404


def test_restore_refused_when_an_active_pair_has_its_name(client, session, athlete_id):
    old = shoe_store.add_shoe(session, athlete_id, "Clifton")
    shoe_store.retire(session, athlete_id, old.id)
    shoe_store.add_shoe(session, athlete_id, "Clifton")
    session.commit()
    response = client.post(f"/shoes/{old.id}/restore", data={"csrf_token": token(client)})
    assert response.status_code == 422
    assert "already called 'Clifton'" in soup(response).select_one("div.error").get_text()


def test_pain_history_keeps_run_pain_and_morning_pain_apart_over_the_distance_chart_weeks(
    client, session, athlete_id
):
    today = date.today()
    for days_ago, score, timing in (
        (9, 4, "during"),
        (8, 2, "next-morning"),
        (2, 5, "after"),
        (1, 1, "next-morning"),
    ):
        pain_store.add_pain(
            session,
            athlete_id,
            PainEntry(today - timedelta(days=days_ago), "knee-front", "left", score, timing),
        )
    session.commit()
    page = soup(client.get("/pain", params={"region": "knee-front", "side": "left"}))
    lines = page.select("#chart-pain svg path.line")
    labels = sorted(line.select_one("title").get_text() for line in lines)
    assert labels == ["before a run or the next morning", "during or after a run"]
    # The 5/10 limit is a labelled line of its own, on the 0-10 pain axis.
    assert page.select_one("#chart-pain svg text.limit-label").get_text().startswith("5/10")
    bars = page.select("#chart-pain-load svg rect.bar")
    assert len(bars) > 1  # the weeks the pain chart spans
