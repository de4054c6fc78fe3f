"""The organisation tree: 区 → 街道 → 社区, grids under communities. A unit's subtree is every path that starts with
its own ("/D01/S01/" holds "/D01/S01/C01/" and its grids)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, update
from sqlmodel import Session, col, select

from storage import grids
from storage.db import per_transaction
from storage.models import Department, Grid, OrgLevel, OrgUnit

LEVEL_NAMES = {OrgLevel.DISTRICT: "区", OrgLevel.STREET: "街道", OrgLevel.COMMUNITY: "社区"}
# The level a unit's parent has; a district is a root.
PARENT_LEVEL: dict[OrgLevel, OrgLevel | None] = {
    OrgLevel.DISTRICT: None,
    OrgLevel.STREET: OrgLevel.DISTRICT,
    OrgLevel.COMMUNITY: OrgLevel.STREET,
}


def by_code(session: Session, code: str) -> OrgUnit | None:
    return session.exec(select(OrgUnit).where(OrgUnit.code == code)).first()


def all_units(session: Session) -> Sequence[OrgUnit]:
    return session.exec(select(OrgUnit).order_by(col(OrgUnit.path))).all()


def children(session: Session, unit: OrgUnit) -> Sequence[OrgUnit]:
    return session.exec(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(col(OrgUnit.code))).all()


def unit_of_grid(session: Session, grid: Grid) -> OrgUnit | None:
    return session.get(OrgUnit, grid.org_id) if grid.org_id is not None else None


def units_on_path(session: Session, path: str) -> list[OrgUnit]:
    """The units a path names, top down ("/D01/S01/C01/": the district, the street, the community)."""
    codes = [c for c in path.split("/") if c]
    if not codes:
        return []
    found = {u.code: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.code).in_(codes))).all()}
    return [found[c] for c in codes if c in found]


def grid_counts(session: Session, unit_ids: Iterable[int]) -> dict[int, int]:
    """How many grids hang under each of these units (those with none are left out)."""
    wanted = set(unit_ids)
    if not wanted:
        return {}
    query = select(Grid.org_id, func.count()).where(col(Grid.org_id).in_(wanted)).group_by(col(Grid.org_id))
    return {unit_id: n for unit_id, n in session.exec(query).all() if unit_id is not None}


def path_of(parent_path: str, code: str) -> str:
    """A unit's path: its parent's with its own code added ("/D01/S01/" + "C01" → "/D01/S01/C01/"); a root's "/D01/"."""
    return f"{parent_path or '/'}{code}/"


_UNIT_PATH = select(OrgUnit.path).where(col(OrgUnit.id) == col(Grid.org_id)).scalar_subquery()
# Every grid whose copy of its community's path is stale, in one statement (32,000 grids, no ORM loop); grid.org_id
# has no index, so one UPDATE per changed unit would read every grid once per unit.
_GRID_PATHS = (
    update(Grid)
    .where(col(Grid.org_id).is_not(None), col(Grid.org_path) != _UNIT_PATH)
    .values(org_path=_UNIT_PATH)
    .execution_options(synchronize_session="fetch")
)


def rebuild_paths(session: Session) -> tuple[int, int]:
    """Give every unit the path its parents make, then every grid its community's path (after units are added or
    moved). Reads the tree once and writes only what changed: the units' paths in one batch, the grids' in one UPDATE.

    Returns:
        (units, grids) whose path changed.

    Raises ValueError on a cycle of parents, which an import refuses before it writes.
    """
    units = {u.id: u for u in session.exec(select(OrgUnit)).all()}
    paths: dict[int | None, str] = {None: ""}

    def walk(unit: OrgUnit) -> str:
        chain: list[OrgUnit] = []
        node: OrgUnit | None = unit
        while node is not None and node.id not in paths:
            if len(chain) > len(units):
                raise ValueError(f"org_unit {unit.code}: parents form a cycle")
            chain.append(node)
            node = units.get(node.parent_id) if node.parent_id is not None else None
        for link in reversed(chain):
            above = paths[link.parent_id] if link.parent_id in paths else ""
            paths[link.id] = path_of(above, link.code)
        return paths[unit.id]

    moved = 0
    for unit in units.values():
        fresh = walk(unit)
        if unit.path != fresh:
            unit.path = fresh
            session.add(unit)
            moved += 1
    session.flush()
    regridded = cast(CursorResult[Any], session.execute(_GRID_PATHS)).rowcount
    return moved, regridded


def with_chat(session: Session) -> Sequence[OrgUnit]:
    """The units whose centre has a group chat of its own, top down."""
    return session.exec(select(OrgUnit).where(OrgUnit.chat_id != "").order_by(col(OrgUnit.path))).all()


def all_departments(session: Session) -> Sequence[Department]:
    return session.exec(select(Department).order_by(col(Department.code))).all()


_DEPARTMENT_UNIT_PATH = select(OrgUnit.path).where(col(OrgUnit.id) == col(Department.org_id)).scalar_subquery()
_DEPARTMENT_PATHS = (
    update(Department)
    .where(col(Department.org_id).is_not(None), col(Department.org_path) != _DEPARTMENT_UNIT_PATH)
    .values(org_path=_DEPARTMENT_UNIT_PATH)
    .execution_options(synchronize_session="fetch")
)


def rebuild_department_paths(session: Session) -> int:
    """Give every department its unit's path, in one UPDATE like the grids' (after rebuild_paths moved units).

    Returns:
        How many departments' paths changed.
    """
    return cast(CursorResult[Any], session.execute(_DEPARTMENT_PATHS)).rowcount


# session.info: the bots this transaction uses (the process's, or its own when it wrote)
_BOTS = per_transaction("wgt.org.bots")


@dataclass(frozen=True)
class _Bots:
    token: str | None  # storage/grids.version when they were read
    read_at: float  # time.monotonic()
    units: list[tuple[str, str]]  # (path, bot) of the units that name a bot, deepest first
    chats: dict[str, str]  # the bot found for each chat so far


_shared: _Bots | None = None  # this process's, while the organisation's version token is the one they were read under


def bot_for_chat(session: Session, chat: str) -> str:
    """The AI bot that speaks in a group: the bot of the deepest unit above the group's owner (a grid's community, a
    department's unit, a centre's own unit) that has one; "" for the default bot.

    The units' bots, and the bot of each chat asked for, are kept per process while the organisation's version token
    (storage/grids.version, replaced by every import of grids, units or departments) stays the one they were read
    under, for at most grids.TRUST_SECONDS: a group notice costs the token's read, which a complaint makes anyway.
    """
    bots: _Bots | None = session.info.get(_BOTS)
    if bots is None:
        bots = session.info[_BOTS] = _bots(session)
    if not bots.units or not chat:
        return ""
    if chat not in bots.chats:
        path = _owner_path(session, chat)
        bots.chats[chat] = next((bot for prefix, bot in bots.units if path.startswith(prefix)), "") if path else ""
    return bots.chats[chat]


def _bots(session: Session) -> _Bots:
    global _shared
    token = grids.version(session)
    shared = _shared
    if token is not None and shared is not None and shared.token == token:
        if time.monotonic() - shared.read_at < grids.TRUST_SECONDS:
            return shared
    named = session.exec(select(OrgUnit.path, OrgUnit.bot_id).where(OrgUnit.bot_id > "")).all()
    # Deepest first: the first path a chat's owner lies under is its nearest unit with a bot.
    bots = _Bots(token, time.monotonic(), sorted(named, key=lambda row: -len(row[0])), {})
    if token is not None:
        _shared = bots
    return bots


def _owner_path(session: Session, chat: str) -> str:
    """The org path of whoever owns a group chat: a grid, a department or a unit's centre; "" for none of them."""
    for query in (
        select(Grid.org_path).where(Grid.chat_id == chat),
        select(Department.org_path).where(Department.chat_id == chat),
        select(OrgUnit.path).where(OrgUnit.chat_id == chat),
    ):
        if path := session.exec(query.limit(1)).first():
            return str(path)
    return ""


def named_bots(session: Session) -> dict[str, list[str]]:
    """The AI bots units name (import-org bot_id), each with its units' codes: one gateway must run for each."""
    found: dict[str, list[str]] = {}
    query = select(OrgUnit.bot_id, OrgUnit.code).where(OrgUnit.bot_id > "").order_by(col(OrgUnit.path))
    for bot, code in session.exec(query).all():
        found.setdefault(bot, []).append(code)
    return found
