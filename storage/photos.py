"""Residents' photos: the rows that say whose photo a stored file is, which ticket it belongs to and whether it may
be shown (the files themselves are in the photo store, storage/photostore.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from storage.models import Photo, PhotoCheck, Ticket


def add(session: Session, photo: Photo) -> Photo:
    session.add(photo)
    session.flush()
    return photo


def unattached(session: Session, person_id: int, ids: Sequence[int]) -> list[Photo]:
    """These photos of the person's that no ticket has yet, in the order asked (fewer when some are not)."""
    if not ids:
        return []
    query = select(Photo).where(col(Photo.id).in_(ids), Photo.person_id == person_id, col(Photo.ticket_id).is_(None))
    found = {p.id: p for p in session.exec(query).all()}
    return [found[i] for i in ids if i in found]


def uploaded_since(session: Session, person_id: int, since: datetime) -> int:
    query = select(Photo.id).where(Photo.person_id == person_id, col(Photo.created_at) >= since)
    return len(session.exec(query).all())


def _shown(ticket_id: int) -> tuple[ColumnElement[bool], ...]:
    return (col(Photo.ticket_id) == ticket_id, col(Photo.check) != PhotoCheck.RISKY)


def shown_of_ticket(session: Session, ticket_id: int) -> Sequence[Photo]:
    """The ticket's photos that may be shown: not judged risky by WeChat's content check."""
    return session.exec(select(Photo).where(*_shown(ticket_id)).order_by(col(Photo.id))).all()


def shown_count_of_ticket() -> ColumnElement[int]:
    """How many of a ticket's photos may be shown, as a column of a query over tickets (a card's count)."""
    shown = select(func.count()).select_from(Photo).where(col(Photo.ticket_id) == col(Ticket.id))
    return shown.where(col(Photo.check) != PhotoCheck.RISKY).scalar_subquery()


def by_id(session: Session, photo_id: int) -> Photo | None:
    return session.get(Photo, photo_id)


def set_trace(session: Session, photo_id: int, trace_id: str) -> None:
    """Note the trace_id of the photo's media check: the verdict event names it."""
    photo = session.get(Photo, photo_id)
    if photo is not None:
        photo.trace_id = trace_id
        session.add(photo)


def by_trace(session: Session, trace_id: str) -> Photo | None:
    """The photo whose media check has this trace_id (row-locked where the database can: a verdict and its retry
    may arrive together)."""
    if not trace_id:
        return None
    return session.exec(select(Photo).where(Photo.trace_id == trace_id).with_for_update()).first()


def abandoned(session: Session, before: datetime, limit: int = 200) -> Sequence[Photo]:
    """Photos uploaded before `before` that no ticket named: the sweep deletes them, file and row."""
    query = (
        select(Photo)
        .where(col(Photo.ticket_id).is_(None), col(Photo.created_at) < before)
        .order_by(col(Photo.id))
        .limit(limit)
    )
    return session.exec(query).all()
