"""Helpers for the server-mode tests: register users, share at a level, add runs, pain and hip checks."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard import config
from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import pain as pain_store
from strideguard.storage.tables import AthleteRow, TriageRow, UserRow
from strideguard.training.pain import PainEntry

PASSWORD = "correct horse"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf(client: TestClient, path: str = "/login") -> str:
    return soup(client.get(path)).select_one('meta[name="csrf-token"]')["content"]


def register(app, email: str, name: str = "") -> TestClient:
    # Each person registers from their own device (address): registrations are throttled per address.
    digest = hashlib.sha256(email.encode()).digest()
    client = TestClient(app, client=(f"10.{digest[0]}.{digest[1]}.{digest[2]}", 50000))
    response = client.post(
        "/register",
        data={
            "csrf_token": csrf(client, "/register"),
            "email": email,
            "password": PASSWORD,
            "password2": PASSWORD,
            "name": name,
        },
    )
    assert response.status_code == 200, response.text
    # Registering never logs in (the answer must not tell whether the address had an account): log in.
    response = client.post(
        "/login", data={"csrf_token": csrf(client, "/login"), "email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return client


def athlete_of(session, email: str) -> int:
    user = session.query(UserRow).filter_by(email=email).one()
    return session.query(AthleteRow).filter_by(user_id=user.id).one().id


def share(client: TestClient, email: str, level: str, show_flags: bool = True) -> None:
    data = {"csrf_token": csrf(client, "/account/sharing"), "email": email, "level": level}
    if show_flags:
        data["show_flags"] = "1"
    response = client.post("/account/sharing", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text


def view(client: TestClient, athlete_id: int) -> None:
    response = client.get(f"/coach/athletes/{athlete_id}", follow_redirects=False)
    assert response.status_code == 303, response.text


def today() -> date:
    return config.today_local()


def add_run(session, athlete_id: int, day: date, km: float, name: str = "Run") -> int:
    run = Activity(
        sport="run",
        start_utc=datetime.combine(day, time(7), tzinfo=UTC),
        source_format="manual",
        distance_m=km * 1000,
        moving_time_s=km * 330,
        name=name,
    )
    outcome = store.save_activity(session, athlete_id, run)
    session.commit()
    return outcome.activity_id


def steady_weeks(session, athlete_id: int, weeks: int = 5, km: float = 8.0, end: date | None = None) -> None:
    """Three runs a week for `weeks` weeks, ending yesterday."""
    end = end or today() - timedelta(days=1)
    day = end - timedelta(weeks=weeks)
    while day <= end:
        if day.weekday() in (0, 2, 5):
            add_run(session, athlete_id, day, km)
        day += timedelta(days=1)


def add_pain(
    session, athlete_id: int, score: int = 8, region: str = "groin-hip-front", note: str = "sharp"
) -> None:
    pain_store.add_pain(session, athlete_id, PainEntry(today(), region, "left", score, "during", note=note))
    session.commit()


def add_urgent_triage(session, athlete_id: int) -> None:
    session.add(
        TriageRow(
            athlete_id=athlete_id,
            created_at=datetime.now(UTC),
            findings={"age": 30},
            triage_level="urgent",
            result={"conditions": [{"name": "Secret condition"}], "red_flags": []},
        )
    )
    session.commit()
