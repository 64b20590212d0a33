"""Alembic environment: runs on the engine handed over by strideguard.storage.engine.upgrade (or a URL)."""

from __future__ import annotations

from alembic import context

from strideguard.storage.engine import make_engine
from strideguard.storage.tables import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
