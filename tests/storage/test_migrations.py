"""The Alembic migrations build exactly the schema the models describe (a model change without a migration
would pass on a fresh test database and fail on a street office's real one)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel


def test_migrated_schema_matches_the_models(rt):
    with rt.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
