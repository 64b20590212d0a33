"""The JSON API under /api (in-process): activities, shoes and pain, their errors, and that docs/web.md
lists every route of the OpenAPI document."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from strideguard.model import Activity, Lap, Streams
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage import shoes as shoe_store

DOCS = Path(__file__).resolve().parent.parent / "docs" / "web.md"


def run(day: date, km: float, name: str, streams: bool = False, sport: str = "run") -> Activity:
    start = datetime(day.year, day.month, day.day, 7, tzinfo=UTC)
    samples = None
    if streams:
        t = np.arange(4, dtype=float)
        samples = Streams(time_s=t, distance_m=t * 3.0, heart_rate_bpm=np.array([140.0, np.nan, 142, 143]))
    return Activity(
        sport=sport,
        start_utc=start,
        source_format="fit",
        distance_m=km * 1000,
        moving_time_s=km * 330,
        name=name,
        streams=samples,
        laps=(Lap(start_utc=start, distance_m=km * 1000, elapsed_time_s=km * 330),) if streams else (),
    )


@pytest.fixture
def ids(session, athlete_id) -> list[int]:
    """Three runs and a walk in May 2026: 5, 12 and 8 km runs and a 3 km walk."""
    out = []
    for i, (km, name, sport) in enumerate([(5, "Easy", "run"), (12, "Long", "run"), (8, "Tempo", "run")]):
        out.append(
            store.save_activity(
                session, athlete_id, run(date(2026, 5, 1 + i), km, name, i == 0, sport)
            ).activity_id
        )
    out.append(
        store.save_activity(session, athlete_id, run(date(2026, 5, 9), 3, "Stroll", sport="walk")).activity_id
    )
    session.commit()
    return out


def test_activity_list_filters_sorts_and_pages(client, ids):
    data = client.get("/api/activities", params={"sport": "run", "sort": "distance", "order": "asc"}).json()
    assert [a["name"] for a in data["activities"]] == ["Easy", "Tempo", "Long"]
    assert data["total"] == 3 and data["distance_m"] == 25_000
    page = client.get("/api/activities", params={"per_page": 2, "page": 2}).json()
    assert (page["pages"], [a["name"] for a in page["activities"]]) == (2, ["Long", "Easy"])
    window = client.get("/api/activities", params={"since": "2026-05-02", "until": "2026-05-03"}).json()
    assert {a["name"] for a in window["activities"]} == {"Long", "Tempo"}
    assert client.get("/api/activities", params={"q": "stro"}).json()["activities"][0]["sport"] == "walk"
    bad = client.get("/api/activities", params={"sport": "swim"})
    assert bad.status_code == 422 and "unknown sport 'swim'" in bad.json()["detail"]
    assert client.get("/api/activities", params={"sort": "colour"}).status_code == 422


def test_api_and_cli_describe_an_activity_with_the_same_json(client, ids, run_cli):
    # Scripts move between `strideguard runs --json` and the API: one shape, local `date` included.
    cli = run_cli("runs", "--json")
    assert cli.returncode == 0, cli.stderr
    by_id = {a["id"]: a for a in json.loads(cli.stdout)}
    api = client.get("/api/activities", params={"per_page": 100}).json()["activities"]
    assert sorted(by_id) == sorted(a["id"] for a in api) == sorted(ids)
    for entry in api:
        assert entry == by_id[entry["id"]]
    assert by_id[ids[1]]["date"] == "2026-05-02" and "descent_m" in by_id[ids[1]]


def test_activity_detail_with_laps_and_streams_nan_as_null(client, ids):
    plain = client.get(f"/api/activities/{ids[0]}").json()
    assert plain["distance_m"] == 5000 and len(plain["laps"]) == 1 and "streams" not in plain
    full = client.get(f"/api/activities/{ids[0]}", params={"streams": "true"}).json()
    assert full["streams"]["heart_rate_bpm"] == [140.0, None, 142.0, 143.0]
    assert full["streams"]["distance_m"] == [0.0, 3.0, 6.0, 9.0]
    missing = client.get("/api/activities/99999")
    assert missing.status_code == 404 and missing.json() == {"detail": "no activity #99999"}


def test_patch_activity_changes_only_what_is_sent_and_refuses_bad_values(client, session, athlete_id, ids):
    changed = client.patch(f"/api/activities/{ids[1]}", json={"rpe": 7, "feel": "tired"})
    assert changed.status_code == 200
    assert (changed.json()["rpe"], changed.json()["feel"], changed.json()["name"]) == (7.0, "tired", "Long")
    bad = client.patch(f"/api/activities/{ids[1]}", json={"feel": "meh", "sport": "swim", "shoe_id": 999})
    assert bad.status_code == 422
    assert len(bad.json()["detail"]) == 3
    assert client.patch(f"/api/activities/{ids[1]}", json={"rpe": 11}).status_code == 422
    session.expire_all()
    kept = store.get_activity(session, athlete_id, ids[1], with_streams=False)
    assert (kept.rpe, kept.feel, kept.sport) == (7.0, "tired", "run")


def test_shoes_api_adds_lists_edits_retires_and_restores(client, session, athlete_id, ids):
    added = client.post(
        "/api/shoes", json={"name": "Daily", "start_distance_m": 100_000, "retire_at_m": 500_000}
    )
    assert added.status_code == 201
    shoe_id = added.json()["id"]
    shoe_store.assign(session, athlete_id, ids[1], shoe_id)
    session.commit()
    (listed,) = client.get("/api/shoes").json()
    assert (listed["distance_m"], listed["activities"], listed["fraction"]) == (112_000, 1, 0.224)
    edited = client.patch(f"/api/shoes/{shoe_id}", json={"brand": "Hoka", "retire_at_m": 800_000})
    assert edited.status_code == 200
    body = edited.json()
    assert (body["name"], body["brand"], body["retire_at_m"], body["fraction"]) == (
        "Daily",
        "Hoka",
        800_000,
        0.14,
    )
    assert client.patch(f"/api/shoes/{shoe_id}", json={"retired": True}).json()["retired"] is True
    assert client.patch(f"/api/shoes/{shoe_id}", json={"retired": False}).json()["retired"] is False
    assert client.patch(f"/api/shoes/{shoe_id}", json={"retire_at_m": 0}).status_code == 422
    assert client.patch(f"/api/shoes/{shoe_id}", json={"name": ""}).status_code == 422
    assert client.patch("/api/shoes/9999", json={"name": "X"}).status_code == 404
    session.expire_all()
    assert shoe_store.get_shoe(session, athlete_id, shoe_id).retire_at_m == 800_000


def test_pain_api_logs_lists_and_refuses_bad_entries(client, session, athlete_id, ids):
    entry = {"date": "2026-05-02", "region": "hip-lateral", "side": "left", "score": 4, "timing": "during"}
    saved = client.post("/api/pain", json={**entry, "activity_id": ids[1], "note": "<b>ouch</b>"})
    assert saved.status_code == 201 and saved.json()["note"] == "<b>ouch</b>"
    assert client.post("/api/pain", json={**entry, "region": "elbow"}).status_code == 422
    assert client.post("/api/pain", json={**entry, "score": 11}).status_code == 422
    assert client.post("/api/pain", json={**entry, "activity_id": 99999}).status_code == 422
    listed = client.get("/api/pain", params={"region": "hip-lateral"}).json()
    assert [(e["date"], e["score"], e["activity_id"]) for e in listed] == [("2026-05-02", 4, ids[1])]
    assert client.get("/api/pain", params={"since": "2026-06-01"}).json() == []
    assert len(pain_store.list_pain(session, athlete_id)) == 1


def test_json_api_needs_no_csrf_token_but_a_form_post_to_it_does(client, ids):
    # A browser cannot send JSON cross-site without a preflight, but it can send a form: that is refused.
    forged = client.post("/api/shoes", data={"name": "Forged"})
    assert forged.status_code == 403
    assert client.get("/api/shoes").json() == []


def test_docs_list_every_api_route(client):
    spec = client.get("/api/openapi.json").json()
    served = {
        (method.upper(), re.sub(r"\{[a-z_]*id\}", "{id}", path))
        for path, methods in spec["paths"].items()
        for method in methods
    }
    text = DOCS.read_text(encoding="utf-8")
    documented = {
        (method, path)
        for methods, path in re.findall(
            r"`((?:GET|POST|PATCH|PUT|DELETE)(?:\|[A-Z]+)*) (/api/[^`\s]*)`", text
        )
        for method in methods.split("|")
    }
    assert served == documented, f"served only: {served - documented}; documented only: {documented - served}"
