"""The command centre screen's local sign-ins (table centre_account), each acting as a supervisor's Person."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import CentreAccount, Person


def by_username(session: Session, username: str) -> CentreAccount | None:
    return session.exec(select(CentreAccount).where(CentreAccount.username == username)).first()


def person_of(session: Session, account: CentreAccount) -> Person | None:
    return session.get(Person, account.person_id)
