"""The page cache (web/pagecache.py): keyed by the athlete's data version that revision 0014's triggers
raise on every change, so a page never outlives a change made by any writer (another server process, the
CLI); one computation per key while other requests wait; each browser gets its own CSRF token."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from strideguard.model import Activity
from strideguard.storage import activities as store
from strideguard.storage import engine as db
from strideguard.storage import pain as pain_store
from strideguard.storage import settings as settings_store
from strideguard.storage import shoes as shoe_store
from strideguard.storage.tables import ActivityRow, AthleteRow
from strideguard.training.pain import PainEntry
from strideguard.web import pagecache

START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


def run(start: datetime = START, name: str = "Morning run") -> Activity:
    return Activity(
        sport="run",
        start_utc=start,
        source_format="fit",
        distance_m=10_000.0,
        moving_time_s=3000.0,
        elapsed_time_s=3000.0,
        name=name,
    )


def test_data_version_rises_on_every_change_to_what_pages_show(session):
    me = store.local_athlete(session)
    other = AthleteRow(name="Other")
    session.add(other)
    session.commit()
    seen = [pagecache.data_version(session, me)]

    def changed() -> None:
        session.commit()
        seen.append(pagecache.data_version(session, me))
        assert seen[-1] > seen[-2], seen

    activity_id = store.save_activity(session, me, run()).activity_id
    changed()
    store.update_activity(session, me, activity_id, rpe=6.0)
    changed()
    shoe = shoe_store.add_shoe(session, me, "Pegasus")
    changed()
    shoe_store.set_default(session, me, shoe.id, "run")
    changed()
    pain_store.add_pain(session, me, PainEntry(date(2026, 11, 2), "knee-front", "left", 3, "during"))
    changed()
    settings_store.set_distance_unit(session, me, "mi")
    changed()
    session.execute(sa.delete(ActivityRow).where(ActivityRow.id == activity_id))
    changed()
    # Another athlete's version is not touched by any of it.
    assert pagecache.data_version(session, other.id) == 0
    # Deleting an athlete with data still works (the triggers find no row to raise).
    store.save_activity(session, other.id, run(name="Theirs"))
    session.commit()
    session.execute(sa.delete(AthleteRow).where(AthleteRow.id == other.id))
    session.commit()


def test_a_page_follows_a_change_made_outside_this_process(client, engine):
    """The CLI (or a second server process) writes to the database; the cached page shows it next time."""
    with db.session_factory(engine)() as outside:
        me = store.local_athlete(outside)
        activity_id = store.save_activity(outside, me, run(name="First name")).activity_id
        outside.commit()
    cache = client.app.state.page_cache
    assert "First name" in client.get("/activities").text
    computed = cache.computed
    assert "First name" in client.get("/activities").text
    assert cache.computed == computed  # nothing changed: served from the cache
    with db.session_factory(engine)() as outside:
        store.update_activity(outside, me, activity_id, name="Second name")
        outside.commit()
    page = client.get("/activities").text
    assert "Second name" in page and "First name" not in page
    assert cache.computed == computed + 1
    detail = client.get(f"/activities/{activity_id}").text
    assert "Second name" in detail


def test_each_browser_gets_its_own_csrf_token_from_one_rendering(client):
    first = client.get("/shoes")
    computed = client.app.state.page_cache.computed
    with TestClient(client.app) as other_browser:
        second = other_browser.get("/shoes")
        tokens = [
            BeautifulSoup(page.text, "html.parser").select_one('meta[name="csrf-token"]')["content"]
            for page in (first, second)
        ]
        assert tokens[0] == client.cookies.get("sg_csrf")
        assert tokens[1] == other_browser.cookies.get("sg_csrf")
        assert tokens[0] != tokens[1]
        assert pagecache.TOKEN_PLACEHOLDER not in second.text
    assert client.app.state.page_cache.computed == computed  # the second browser's page came from the cache
    # A form posted with the token from the cached page is accepted.
    response = client.post("/shoes", data={"name": "Ghost", "csrf_token": tokens[0]}, follow_redirects=False)
    assert response.status_code == 303


def test_one_computation_per_key_while_others_wait():
    cache = pagecache.PageCache()
    entered, release = threading.Event(), threading.Event()
    calls = []

    def compute() -> bytes:
        calls.append(1)
        entered.set()
        assert release.wait(120)
        return b"<html>page</html>"

    results: list[bytes | None] = []
    start = threading.Barrier(8)

    def request() -> None:
        start.wait(120)
        results.append(cache.get_or_compute(("key",), compute))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert entered.wait(120)
    release.set()
    for thread in threads:
        thread.join(120)
    # Whether a request arrived while the first computed (it waited) or after (the page was stored),
    # the page was computed once.
    assert len(calls) == 1
    assert results == [b"<html>page</html>"] * 8


def test_the_newest_page_of_a_lane_serves_every_request_that_read_its_version_or_an_older_one():
    cache = pagecache.PageCache()
    calls: list[int] = []

    def build(version: int):
        def compute(waited: bool) -> tuple[int, bytes]:
            calls.append(version)
            return version, f"page {version}".encode()

        return compute

    lane = ("viewer", "/", (), "day")
    assert cache.get_or_compute_latest(lane, 5, build(5)) == b"page 5"
    assert cache.get_or_compute_latest(lane, 3, build(3)) == b"page 5"  # newer than it read: it holds it all
    assert cache.get_or_compute_latest(lane, 5, build(5)) == b"page 5"
    assert calls == [5]
    assert cache.get_or_compute_latest(lane, 6, build(6)) == b"page 6"  # a change it has not seen: built
    assert calls == [5, 6]
    assert cache.get_or_compute_latest(("viewer", "/shoes", (), "day"), 6, build(6)) == b"page 6"
    assert calls == [5, 6, 6]  # another page is another lane


def test_requests_that_need_a_newer_page_than_the_one_being_built_wait_and_share_one_build():
    """Uploads raise the version faster than the dashboard renders: eight requests that each read a newer
    version than the build under way wait for it, then one build from the newest data serves all eight."""
    cache = pagecache.PageCache()
    lane = ("viewer", "/", (), "day")
    entered, release = threading.Event(), threading.Event()
    builds: list[int] = []
    latest = [5]  # the athlete's version in the database

    def compute(waited: bool) -> tuple[int, bytes]:
        built = latest[0]  # read before the page's data, as cached_page does after waiting
        builds.append(built)
        if len(builds) == 1:
            entered.set()
            assert release.wait(120)
        return built, f"page {built}".encode()

    first = threading.Thread(target=lambda: cache.get_or_compute_latest(lane, 5, compute))
    first.start()
    assert entered.wait(120)
    results: dict[int, bytes | None] = {}

    def request(version: int) -> None:
        results[version] = cache.get_or_compute_latest(lane, version, compute)

    waiting = []
    for version in range(6, 14):  # eight changes committed while the first build runs
        latest[0] = version
        waiting.append(threading.Thread(target=request, args=(version,)))
        waiting[-1].start()
    # Whether each arrives while the first build runs (it waits) or after (it finds page 5 too old), every
    # build after the first reads the version once all eight changes are in.
    release.set()
    for thread in [first, *waiting]:
        thread.join(120)
    assert builds == [5, 13]  # one build for the eight, from the newest data
    assert results == {version: b"page 13" for version in range(6, 14)}


def test_a_build_is_told_whether_its_request_waited_for_another_build():
    """A request that builds at once may use the version it read a moment ago; one that waited for another
    build must read the version again, or the one build could not serve everyone who waited."""
    cache = pagecache.PageCache()
    lane = ("viewer", "/", (), "day")
    entered, release = threading.Event(), threading.Event()
    told: list[bool] = []

    def compute(waited: bool) -> tuple[int, bytes]:
        told.append(waited)
        if len(told) == 1:
            entered.set()
            assert release.wait(120)
        return (6 if waited else 5), b"page"

    first = threading.Thread(target=lambda: cache.get_or_compute_latest(lane, 5, compute))
    first.start()
    assert entered.wait(120)
    second = threading.Thread(target=lambda: cache.get_or_compute_latest(lane, 6, compute))
    second.start()
    flight = cache._flights[lane]
    for _ in range(12_000):  # until the second request waits on the build under way (a condition, no clock)
        if flight._cond._waiters:  # type: ignore[attr-defined]
            break
        second.join(0.01)
    assert flight._cond._waiters  # type: ignore[attr-defined]
    release.set()
    first.join(120)
    second.join(120)
    assert told == [False, True]
    assert cache.get_or_compute_latest(lane, 6, compute) == b"page" and told == [False, True]


def test_a_page_that_cannot_be_kept_does_not_make_the_others_queue_for_it_one_by_one():
    cache = pagecache.PageCache()
    lane = ("viewer", "/", (), "day")
    assert cache.get_or_compute_latest(lane, 5, lambda waited: (5, None)) is None
    assert cache.get_or_compute_latest(lane, 5, lambda waited: (5, b"ok")) == b"ok"


def test_a_failed_computation_does_not_leave_the_others_waiting():
    cache = pagecache.PageCache()

    def fails() -> bytes:
        raise RuntimeError("database gone")

    try:
        cache.get_or_compute(("key",), fails)
    except RuntimeError:
        pass
    assert cache.get_or_compute(("key",), lambda: b"ok") == b"ok"


def test_the_cache_is_bounded_in_bytes():
    cache = pagecache.PageCache(max_bytes=4000)
    for k in range(10):
        cache.get_or_compute((k,), lambda: b"x" * 900)
    assert sum(len(body) for body in cache._pages.values()) <= 4000
    assert (9,) in cache._pages and (0,) not in cache._pages


def test_pages_of_one_day_are_not_served_the_next(client, monkeypatch):
    """Today is part of the key: the dashboard's 'this week' moves on at midnight without any change."""
    from strideguard import config

    client.get("/")
    computed = client.app.state.page_cache.computed
    tomorrow = config.today_local() + timedelta(days=1)
    monkeypatch.setattr(config, "today_local", lambda: tomorrow)
    client.get("/")
    assert client.app.state.page_cache.computed == computed + 1


def test_an_activity_page_stays_cached_while_other_runs_change_and_follows_its_own_rows(client, engine):
    """An activity's page is keyed on the rows it shows (its own, the shoes, its day's pain entries): an
    import or edit of another run leaves it cached, and every change it shows is on it at the next view."""
    day = START.date()
    with db.session_factory(engine)() as outside:
        me = store.local_athlete(outside)
        shoe = shoe_store.add_shoe(outside, me, "Pegasus")
        shown = store.save_activity(outside, me, run(name="Tempo by the river")).activity_id
        other = store.save_activity(outside, me, run(START - timedelta(days=1), "Other run")).activity_id
        outside.commit()
    cache = client.app.state.page_cache

    def page() -> str:
        return BeautifulSoup(client.get(f"/activities/{shown}").text, "html.parser").get_text(" ", strip=True)

    def changed(change) -> str:
        with db.session_factory(engine)() as outside:
            change(outside)
            outside.commit()
        computed = cache.computed
        text = page()
        assert cache.computed == computed + 1, "the page did not follow a change it shows"
        return text

    assert "Tempo by the river" in page()
    computed = cache.computed
    # Another run edited, a new run imported: this page is served as it was.
    with db.session_factory(engine)() as outside:
        store.update_activity(outside, me, other, rpe=8.0)
        store.save_activity(outside, me, run(START + timedelta(days=1), "Newer run"))
        outside.commit()
    assert "Tempo by the river" in page()
    assert cache.computed == computed
    # The list of runs does change, and shows the new one.
    assert "Newer run" in client.get("/activities").text
    # Each change this page shows is on it at once.
    assert "Hill reps" in changed(lambda s: store.update_activity(s, me, shown, name="Hill reps"))
    assert "Ghost 16" in changed(
        lambda s: shoe_store.update_shoe(
            s,
            me,
            shoe.id,
            name="Ghost 16",
            brand=None,
            model=None,
            start_distance_m=0.0,
            retire_at_m=450_000.0,
        )
    )
    text = changed(lambda s: pain_store.add_pain(s, me, PainEntry(day, "knee-front", "left", 4, "during")))
    assert "4/10" in text and f"No pain logged on {day.isoformat()}" not in text
    assert "(retired)" not in text
    text = changed(lambda s: store.update_activity(s, me, shown, shoe_id=shoe.id))
    assert "Shoe Ghost 16" in text
    assert "(retired)" in changed(lambda s: shoe_store.retire(s, me, shoe.id))


def test_an_activity_page_built_while_the_data_changed_is_shown_but_not_kept(client, engine, monkeypatch):
    """Its rows are read before the page is built: a change committed in between could pair the key of the
    old rows with a page of the new ones, so such a page answers its request and is built again next time."""
    from strideguard.web import activities as activity_pages

    with db.session_factory(engine)() as outside:
        me = store.local_athlete(outside)
        shown = store.save_activity(outside, me, run(name="Long run")).activity_id
        other = store.save_activity(outside, me, run(START - timedelta(days=1), "Other run")).activity_id
        outside.commit()
    real_load = activity_pages._load
    writes = []

    def load_then_someone_writes(session, athlete_id, activity_id, *args, **kwargs):
        activity = real_load(session, athlete_id, activity_id, *args, **kwargs)
        if not writes:  # another writer commits while this page is being built
            with db.session_factory(engine)() as outside:
                store.update_activity(outside, me, other, rpe=5.0)
                outside.commit()
            writes.append(1)
        return activity

    monkeypatch.setattr(activity_pages, "_load", load_then_someone_writes)
    cache = client.app.state.page_cache
    computed = cache.computed
    assert "Long run" in client.get(f"/activities/{shown}").text
    assert "Long run" in client.get(f"/activities/{shown}").text
    assert cache.computed == computed + 2  # the first was not kept
    assert "Long run" in client.get(f"/activities/{shown}").text
    assert cache.computed == computed + 2  # the second was


def _import_rows(client) -> list[list[str]]:
    page = BeautifulSoup(client.get("/import").text, "html.parser")
    rows = page.select("table.imports tbody tr")
    return [[td.get_text(strip=True) for td in tr.find_all("td")] for tr in rows]


def test_the_import_page_is_kept_while_its_imports_stay_and_follows_each_change_to_them(client, engine):
    """The import page lists the newest imports and nothing else of the athlete's: it stays cached through
    an edit of a run, and shows at once an import the worker (another process) finishes or adds."""
    from strideguard.importing.service import list_imports
    from strideguard.storage.tables import ImportRow
    from strideguard.web.imports import HISTORY_ROWS

    outside = db.session_factory(engine)()
    me = store.local_athlete(outside)
    first = ImportRow(athlete_id=me, source="/somewhere/runs", status="running", n_total=3)
    outside.add(first)
    activity_id = store.save_activity(outside, me, run()).activity_id
    outside.commit()
    cache = client.app.state.page_cache

    assert _import_rows(client)[0][3] == "running"
    computed = cache.computed
    assert _import_rows(client)[0][3] == "running"
    store.update_activity(outside, me, activity_id, rpe=7.0)  # the athlete's data changes, not the imports
    outside.commit()
    assert _import_rows(client)[0][3] == "running"
    assert cache.computed == computed  # served from the cache all along

    first.status, first.n_imported, first.n_duplicates = "done", 2, 1  # the worker finishes it
    outside.commit()
    assert _import_rows(client)[0][3:] == ["done", "2", "1", "0"]
    assert cache.computed == computed + 1

    for k in range(HISTORY_ROWS):  # more imports than the page lists: the newest, newest first
        outside.add(ImportRow(athlete_id=me, source=f"/somewhere/more-{k}", status="failed", n_failed=1))
    outside.commit()
    shown = _import_rows(client)
    expected = list_imports(outside, me, limit=HISTORY_ROWS)
    assert [row[0] for row in shown] == [str(r.id) for r in expected]
    assert shown[0][2] == f"/somewhere/more-{HISTORY_ROWS - 1}" and shown[0][3] == "failed"
    outside.close()


def test_an_activity_page_built_from_its_keys_rows_shows_what_the_queries_show(client, engine):
    """The page is built from the rows its cache key was read from; they give the same picker (active
    shoes by name), shoe names (retired included) and pain entries (in the order recorded) as asking."""
    from strideguard.web import activities as activity_pages
    from strideguard.web import queries

    day = START.date()
    with db.session_factory(engine)() as session:
        me = store.local_athlete(session)
        for name in ("zoom", "Adios", "boston"):
            shoe_store.add_shoe(session, me, name)
        retired = shoe_store.add_shoe(session, me, "Old pair")
        shoe_store.retire(session, me, retired.id)
        shown = store.save_activity(session, me, run(name="Tempo")).activity_id
        for score in (5, 2, 7):
            pain_store.add_pain(session, me, PainEntry(day, "hip-lateral", "right", score, "after"))
        session.commit()
        activity = store.get_activity(session, me, shown)
        asked = activity_pages.detail_context(session, me, activity)
        rows = queries.activity_page_rows(session, me, shown)
        from_rows = activity_pages.detail_context(session, me, activity, rows=rows)
    assert [name for _, name in asked["shoes"]] == ["Adios", "boston", "zoom"]
    assert from_rows["shoes"] == asked["shoes"]
    assert from_rows["shoe_names"] == asked["shoe_names"] and "Old pair" in asked["shoe_names"].values()
    assert [p.score for p in from_rows["pain"]] == [p.score for p in asked["pain"]] == [5, 2, 7]
    page = client.get(f"/activities/{shown}").text
    assert page.index("5/10") < page.index("2/10") < page.index("7/10")
    assert page.index(">Adios<") < page.index(">boston<") < page.index(">zoom<")
