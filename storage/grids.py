"""Grids and the place names that lead to them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, select

from storage.models import Grid


def all_grids(session: Session) -> Sequence[Grid]:
    return session.exec(select(Grid).order_by(Grid.code)).all()


def by_code(session: Session, code: str) -> Grid | None:
    return session.exec(select(Grid).where(Grid.code == code)).first()


def by_chat_id(session: Session, chat_id: str) -> Grid | None:
    """The grid whose group chat this is; the first by code if several grids share one group."""
    if not chat_id:
        return None
    return session.exec(select(Grid).where(Grid.chat_id == chat_id).order_by(Grid.code)).first()
