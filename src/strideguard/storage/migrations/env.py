"""Alembic environment: runs on the engine handed over by strideguard.storage.engine.upgrade (or a URL)."""

from __future__ import annotations

from alembic import context

from strideguard.storage.engine import make_engine
from strideguard.storage.tables import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None and config.attributes.get("connection") is None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        # Under the caller's lock (engine.ensure_schema): every migration in the caller's one transaction.
        transactional_ddl=True if held is not None else None,
    )
    with context.begin_transaction():
        context.run_migrations()


held = config.attributes.get("connection")  # a connection the caller holds a migration lock on
if held is not None:
    _run(held)  # the caller commits
else:
    with engine.connect() as connection:
        _run(connection)
        connection.commit()
