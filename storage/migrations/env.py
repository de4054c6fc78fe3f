"""Alembic environment: runs on the connection handed in by storage.db.migrate, or on WGT's DATABASE_URL."""

from alembic import context
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        import os

        from storage.db import make_engine

        engine = make_engine(os.environ.get("DATABASE_URL") or "sqlite:///var/wanggetong.db")
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run()
