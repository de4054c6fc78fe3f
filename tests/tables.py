"""Every row of every table, so a test can say "nothing was written" about the whole database at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from storage.db import writer

Snapshot = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]

# A delivery that reached handlers leaves its dedupe record (the reply a retry gets): one new inbound_message row.
DELIVERY_RECORD_ONLY = {"inbound_message": (1, 0, 0)}


def snapshot(engine: Engine) -> Snapshot:
    """Each table's rows (in column order) by primary key; the tables come from the models, so a new table is covered
    without editing this."""
    tables: Snapshot = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            keys = list(table.primary_key.columns)
            rows = conn.execute(select(table)).mappings()
            tables[table.name] = {tuple(row[k.name] for k in keys): tuple(row.values()) for row in rows}
    return tables


def writes(before: Snapshot, after: Snapshot) -> dict[str, tuple[int, int, int]]:
    """Tables that differ, as (rows added, rows removed, rows changed)."""
    found = {}
    for name, old in before.items():
        new = after[name]
        added = len(new.keys() - old.keys())
        removed = len(old.keys() - new.keys())
        changed = sum(1 for key in old.keys() & new.keys() if old[key] != new[key])
        if added or removed or changed:
            found[name] = (added, removed, changed)
    return found


def restore(engine: Engine, tables: Snapshot) -> None:
    """Put every table back as the snapshot found it: a reset in milliseconds, between examples or cases."""
    ordered = SQLModel.metadata.sorted_tables
    with writer(engine).begin() as conn:
        for table in reversed(ordered):
            conn.execute(table.delete())
        for table in ordered:
            names = [c.name for c in table.columns]
            rows = [dict(zip(names, values, strict=True)) for values in tables[table.name].values()]
            if rows:
                conn.execute(table.insert(), rows)
