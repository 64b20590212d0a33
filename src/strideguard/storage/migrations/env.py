"""Alembic environment: runs on the engine handed over by strideguard.storage.engine.upgrade (or a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from strideguard.storage.engine import make_engine
from strideguard.storage.tables import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None and config.attributes.get("connection") is None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table (copy, drop, rename). SQLite checks every trigger when the copy is
        # renamed, and the aggregate triggers on activities name shoes and athletes, so a rebuild of either
        # failed; the legacy rename leaves other tables' triggers alone (they name the table, not the copy).
        connection.exec_driver_sql("PRAGMA legacy_alter_table=ON")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        # Under the caller's lock (engine.ensure_schema): every migration in the caller's one transaction.
        transactional_ddl=True if held is not None else None,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA legacy_alter_table=OFF")


held = config.attributes.get("connection")  # a connection the caller holds a migration lock on
if held is not None:
    _run(held)  # the caller commits
else:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Foreign keys off while tables are rebuilt (a DROP would cascade to the rows that refer to the
            # table), as engine.upgrade does; the pragma only takes effect outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            _run(connection)
            connection.commit()
        finally:
            if connection.dialect.name == "sqlite":
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
