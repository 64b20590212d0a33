"""On PostgreSQL the web's sessions read without BEGIN and COMMIT, and open a transaction at their first write
or locking read (storage/engine.reads_outside_transactions, issue 13). What must hold: a read-only page view
opens no transaction block; a write is atomic, invisible to others until its commit and undone by a rollback
or by closing the session; a locking read keeps its lock to the end of its transaction; savepoints work; the
pool's connections go back as they came. On SQLite nothing changes (its read transaction is a snapshot)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from strideguard.storage import activities as store
from strideguard.storage import engine as db
from strideguard.storage.tables import ActivityRow
from test_web_round_trips import _history

IDLE = 0  # psycopg's TransactionStatus.IDLE: no transaction block open on the server


@pytest.fixture
def pg_engine(engine: sa.Engine) -> Iterator[sa.Engine]:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its read transactions: there each is a snapshot")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE lazy_probe (x INTEGER PRIMARY KEY, v INTEGER)"))
        connection.execute(sa.text("INSERT INTO lazy_probe VALUES (1, 0)"))
    yield engine


def _status_of_each_statement(engine: sa.Engine) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []

    def note(_conn, cursor, statement, *_):
        seen.append((statement.split()[0].upper(), int(cursor.connection.info.transaction_status)))

    sa.event.listen(engine, "before_cursor_execute", note)  # after the engine's own (it was made first)
    return seen


def _value(engine: sa.Engine) -> int:
    with engine.connect() as other:
        return other.execute(sa.text("SELECT v FROM lazy_probe WHERE x = 1")).scalar_one()


def test_reads_open_no_transaction_and_a_write_is_one_that_commit_or_rollback_ends(pg_engine):
    factory = db.session_factory(db.reads_outside_transactions(pg_engine))
    seen = _status_of_each_statement(pg_engine)
    with factory() as session:
        for _ in range(3):
            session.execute(sa.text("SELECT v FROM lazy_probe"))
        assert seen == [("SELECT", IDLE)] * 3
        session.execute(sa.text("UPDATE lazy_probe SET v = 5 WHERE x = 1"))
        session.execute(sa.text("SELECT v FROM lazy_probe"))
        assert [status for _, status in seen[3:]] == [2, 2]  # INTRANS: BEGIN went first
        assert _value(pg_engine) == 0  # not committed: nobody else sees it
        session.rollback()
    assert _value(pg_engine) == 0
    with factory() as session:
        session.execute(sa.text("SELECT v FROM lazy_probe"))
        session.execute(sa.text("UPDATE lazy_probe SET v = 7 WHERE x = 1"))
        session.execute(sa.text("UPDATE lazy_probe SET v = v + 1 WHERE x = 1"))
        session.commit()
        session.execute(sa.text("SELECT v FROM lazy_probe"))  # after the commit: outside a block again
        assert seen[-1] == ("SELECT", IDLE)
    assert _value(pg_engine) == 8
    with factory() as session:  # closed without a commit: undone
        session.execute(sa.text("UPDATE lazy_probe SET v = 9 WHERE x = 1"))
    assert _value(pg_engine) == 8


def test_a_failed_write_is_undone_and_the_connection_serves_again(pg_engine):
    factory = db.session_factory(db.reads_outside_transactions(pg_engine))
    with factory() as session:
        session.execute(sa.text("UPDATE lazy_probe SET v = 3 WHERE x = 1"))
        with pytest.raises(sa.exc.DataError):
            session.execute(sa.text("UPDATE lazy_probe SET v = 1 / 0 WHERE x = 1"))
        session.rollback()
        assert session.execute(sa.text("SELECT v FROM lazy_probe")).scalar_one() == 0
    assert _value(pg_engine) == 0


def test_a_locking_read_holds_its_lock_until_its_transaction_ends(pg_engine):
    factory = db.session_factory(db.reads_outside_transactions(pg_engine))
    with factory() as session, pg_engine.connect() as other:
        session.execute(sa.text("SELECT v FROM lazy_probe WHERE x = 1 FOR UPDATE"))
        with pytest.raises(sa.exc.OperationalError, match="lock"):
            other.execute(sa.text("SELECT v FROM lazy_probe WHERE x = 1 FOR UPDATE NOWAIT"))
        other.rollback()
        session.commit()
        assert other.execute(sa.text("SELECT v FROM lazy_probe WHERE x = 1 FOR UPDATE NOWAIT")).scalar() == 0


def test_savepoints_work_and_the_pool_gives_other_users_their_transactions_back(pg_engine):
    factory = db.session_factory(db.reads_outside_transactions(pg_engine))
    with factory() as session:
        session.execute(sa.text("SELECT 1"))
        with session.begin_nested():
            session.execute(sa.text("UPDATE lazy_probe SET v = 11 WHERE x = 1"))
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            session.execute(sa.text("INSERT INTO lazy_probe VALUES (1, 12)"))
        session.commit()
    assert _value(pg_engine) == 11
    with pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM lazy_probe"))  # others asking for autocommit get it as it is
    for _ in range(3):  # the engine's own connections (CLI, worker, migrations) keep their transactions
        with pg_engine.connect() as connection:
            assert connection.connection.dbapi_connection.autocommit is False
            connection.execute(sa.text("SELECT 1"))
            assert connection.connection.dbapi_connection.info.transaction_status != IDLE


def test_a_page_view_reads_outside_transactions_and_an_edit_commits_its_write(client):
    """Through the app: the dashboard after an edit runs every statement outside a transaction block; the
    edit's UPDATE and its read-back run in one, committed before the answer."""
    engine = client.app.state.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its read transactions: there each is a snapshot")
    ids = _history(engine)
    client.get("/")
    seen = _status_of_each_statement(engine)
    response = client.patch(f"/api/activities/{ids[3]}", json={"rpe": 8.0})
    assert response.status_code == 200 and response.json()["rpe"] == 8.0
    edit = list(seen)
    update = next(k for k, (word, _) in enumerate(edit) if word == "UPDATE")
    assert all(status == IDLE for _, status in edit[:update])  # who is asking: a read
    # the edit is its request's one write, UPDATE ... RETURNING: it commits by itself, no BEGIN before it
    assert edit[update] == ("UPDATE", IDLE) and len(edit) == update + 1
    with engine.connect() as other:
        assert other.execute(sa.select(ActivityRow.rpe).where(ActivityRow.id == ids[3])).scalar() == 8.0
    del seen[:]
    page = client.get("/")
    assert page.status_code == 200 and "Fatigue (ATL)" in page.text
    assert len(seen) >= 5 and all(status == IDLE for _, status in seen), seen


def test_a_single_statement_write_inside_an_open_transaction_is_part_of_it(pg_engine):
    """`edit_activity(alone=True)` commits by itself only when no transaction is open; after another write
    in the same session it joins that transaction, and a rollback undoes both."""
    ids = _history(pg_engine)
    factory = db.session_factory(db.reads_outside_transactions(pg_engine))
    with factory() as session:
        me = store.local_athlete(session)
        session.execute(sa.text("UPDATE lazy_probe SET v = 21 WHERE x = 1"))
        edited = store.edit_activity(session, me, ids[0], alone=True, rpe=9.0)
        assert edited.rpe == 9.0
        session.rollback()
    assert _value(pg_engine) == 0
    with pg_engine.connect() as other:
        assert other.execute(sa.select(ActivityRow.rpe).where(ActivityRow.id == ids[0])).scalar() is None
    with factory() as session:  # alone, with nothing open: committed by the statement itself
        store.edit_activity(session, me, ids[0], alone=True, rpe=7.0)
        session.close()
    with pg_engine.connect() as other:
        assert other.execute(sa.select(ActivityRow.rpe).where(ActivityRow.id == ids[0])).scalar() == 7.0
