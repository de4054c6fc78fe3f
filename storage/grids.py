"""Grids and the place names that lead to them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from storage.db import per_transaction
from storage.models import DataVersion, Grid, utcnow
from storage.scope import Within, grid_filter

VERSION = "grids"
# How long a process trusts what it read under the version token (the routing index, the units' bots) without
# reading the rows again; bounds how long a grid or unit edited by hand in SQL (which changes no token) goes unseen.
TRUST_SECONDS = 300.0
_SEEN = per_transaction("wgt.grids.version")  # session.info: the token as this transaction read (or wrote) it


def all_grids(session: Session) -> Sequence[Grid]:
    return session.exec(select(Grid).order_by(Grid.code)).all()


_TOKEN = select(DataVersion.token).where(col(DataVersion.name) == VERSION)
# The token as a column of another statement (the delivery's claim reads it with its own row); give it to seen().
TOKEN_NOW = _TOKEN.scalar_subquery()


def version(session: Session) -> str | None:
    """The organisation's current token: grids, units and departments, and so who owns each group chat and which bot
    speaks there. None when no import has set one (a database older than migration 0008). Every complaint asks,
    once per transaction: a chat message's claim (storage/inbound.claim) reads it with its own row; otherwise it is
    one prebuilt one-column read on the session's connection (nothing unflushed can change what it reads: changed()
    keeps its own token)."""
    if _SEEN not in session.info:
        session.info[_SEEN] = session.connection().execute(_TOKEN).scalar()
    token: str | None = session.info[_SEEN]
    return token


def seen(session: Session, token: str | None) -> None:
    """The token another statement of this transaction read (TOKEN_NOW), kept as version() would have read it."""
    session.info.setdefault(_SEEN, token)


def changed(session: Session) -> None:
    """Say the organisation changed (in the writer's transaction): every process rebuilds its routing index and
    reads the units' bots again.

    Whoever writes grid, unit or department rows calls this; a row edited by hand in SQL is seen within
    TRUST_SECONDS.
    """
    row = session.get(DataVersion, VERSION) or DataVersion(name=VERSION, token="")
    row.token, row.changed_at = uuid.uuid4().hex, utcnow()
    session.add(row)
    session.info[_SEEN] = row.token


def names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """The names of these grids only (a city holds tens of thousands; a list shows twenty)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(Grid.id, Grid.name).where(col(Grid.id).in_(wanted))).all()
    return {grid_id: name for grid_id, name in rows if grid_id is not None}


def first_codes(session: Session, limit: int, within: Within | None = None) -> list[str]:
    query = select(Grid.code).where(*grid_filter(within)).order_by(col(Grid.code)).limit(limit)
    return list(session.exec(query).all())


def on_map(session: Session, limit: int, within: Within | None = None) -> Sequence[Grid]:
    """The grids a centre's map draws, by code: the first `limit` of its subtree."""
    return session.exec(select(Grid).where(*grid_filter(within)).order_by(col(Grid.code)).limit(limit)).all()


def by_code(session: Session, code: str) -> Grid | None:
    return session.exec(select(Grid).where(Grid.code == code)).first()


def by_chat_id(session: Session, chat_id: str) -> Grid | None:
    """The grid whose group chat this is; the first by code if several grids share one group."""
    if not chat_id:
        return None
    return session.exec(select(Grid).where(Grid.chat_id == chat_id).order_by(Grid.code)).first()


def near(session: Session, lat: float, lng: float, span: float, limit: int) -> Sequence[Grid]:
    """The grids whose centre is within `span` degrees of the point (a box, not a circle), nearest code first."""
    query = (
        select(Grid)
        .where(
            col(Grid.lat).between(lat - span, lat + span),
            col(Grid.lng).between(lng - span, lng + span),
        )
        .order_by(col(Grid.code))
        .limit(limit)
    )
    return session.exec(query).all()


def first_placed(session: Session) -> Grid | None:
    """The first grid with a centre: where a map opens when nothing else says where."""
    return session.exec(select(Grid).where(col(Grid.lat).is_not(None)).order_by(col(Grid.code)).limit(1)).first()
