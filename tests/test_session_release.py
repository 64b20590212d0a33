"""How a request's session ends (`engine.release`, issue 13): a transaction that only read is committed on
PostgreSQL, so psycopg keeps the statements it prepared (a ROLLBACK makes it forget them all, and then every
page's queries were parsed and planned again); anything that wrote, or left changes pending, is still rolled
back, on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi import APIRouter

from strideguard.storage import activities as store
from strideguard.storage import engine as db
from strideguard.storage.tables import AthleteRow, ShoeRow
from strideguard.web.common import DbSession, ReleasingRoute

pytestmark = pytest.mark.db

VERSION = sa.select(AthleteRow.data_version).where(AthleteRow.id == sa.bindparam("id"))


@pytest.fixture(params=["transactions", "reads outside transactions"])
def one_connection(db_url: str, request):
    """An engine with one pooled connection, so every session below runs on the same one; its sessions
    as the CLI's, or as the web's (reads outside transaction blocks on PostgreSQL)."""
    engine = db.make_engine(db_url, pool_size=1)
    db.upgrade(engine)
    lazy = request.param == "reads outside transactions"
    factory = db.session_factory(db.reads_outside_transactions(engine) if lazy else engine)
    with factory() as session:
        athlete = store.local_athlete(session)
        session.commit()
    yield engine, factory, athlete
    engine.dispose()


def _prepared(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        count = int(connection.scalar(sa.text("SELECT count(*) FROM pg_prepared_statements")))
        connection.commit()  # a rollback here would make psycopg forget them itself
        return count


def _name(factory, athlete: int) -> str:
    with factory() as session:
        return session.scalar(sa.select(AthleteRow.name).where(AthleteRow.id == athlete))


def _shoes(factory) -> int:
    with factory() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(ShoeRow)))


def test_read_only_requests_keep_their_prepared_statements_on_postgresql(one_connection):
    engine, factory, athlete = one_connection
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are psycopg's (PostgreSQL)")
    commits: list[object] = []
    note = commits.append
    sa.event.listen(engine, "commit", note)
    for _ in range(7):  # psycopg prepares a statement the fifth time a connection runs it
        session = factory()
        session.execute(VERSION, {"id": athlete}).scalar()
        db.release(session)
    sa.event.remove(engine, "commit", note)
    # a read outside a transaction block has nothing to commit: the session is closed at once
    assert len(commits) == (7 if factory.kw["bind"] is engine else 0)
    assert _prepared(engine) >= 1
    session = factory()
    session.execute(VERSION, {"id": athlete}).scalar()
    session.close()
    if factory.kw["bind"] is engine:  # what every request did before: close() rolls back, psycopg forgets
        assert _prepared(engine) == 0
    else:  # reads outside a transaction block: there is nothing to roll back, nothing is forgotten
        assert _prepared(engine) >= 1


def test_a_write_left_uncommitted_is_rolled_back(one_connection):
    _engine, factory, athlete = one_connection
    before = _name(factory, athlete)
    session = factory()
    session.execute(VERSION, {"id": athlete}).scalar()
    session.execute(sa.update(AthleteRow).where(AthleteRow.id == athlete).values(name="half-written"))
    db.release(session)
    assert _name(factory, athlete) == before


@pytest.mark.parametrize("flush", [False, True])
def test_an_object_added_but_not_committed_is_not_stored(one_connection, flush: bool):
    _engine, factory, athlete = one_connection
    session = factory()
    session.execute(VERSION, {"id": athlete}).scalar()
    session.add(ShoeRow(athlete_id=athlete, name="Pending"))
    if flush:
        session.flush()
    db.release(session)
    assert _shoes(factory) == 0


def test_a_change_to_a_loaded_row_is_not_stored(one_connection):
    _engine, factory, athlete = one_connection
    before = _name(factory, athlete)
    session = factory()
    row = session.get(AthleteRow, athlete)
    row.name = "changed, never committed"
    db.release(session)
    assert _name(factory, athlete) == before


def test_what_was_committed_stays_and_a_read_after_it_ends_cleanly(one_connection):
    _engine, factory, athlete = one_connection
    session = factory()
    session.execute(sa.update(AthleteRow).where(AthleteRow.id == athlete).values(name="Committed"))
    session.commit()
    session.execute(VERSION, {"id": athlete}).scalar()  # a new transaction that only reads
    db.release(session)
    assert _name(factory, athlete) == "Committed"


def test_a_failing_page_handler_rolls_back_what_it_wrote(client, engine):
    """Through the app: a handler that writes and then raises has its write rolled back, and the pages
    around it (which only read, and end with a commit) still show the data as it was."""
    assert client.get("/shoes").status_code == 200  # the local athlete exists from the first page on
    factory = db.session_factory(engine)
    with factory() as session:
        athlete, before = session.execute(sa.select(AthleteRow.id, AthleteRow.name)).one()
    router = APIRouter(route_class=ReleasingRoute)

    @router.get("/test-failing")
    def failing(session: DbSession) -> None:
        session.execute(sa.update(AthleteRow).where(AthleteRow.id == athlete).values(name="half-written"))
        raise RuntimeError("the handler fails after writing")

    client.app.include_router(router)
    with pytest.raises(RuntimeError):
        client.get("/test-failing")
    assert client.get("/shoes").status_code == 200
    assert _name(factory, athlete) == before
