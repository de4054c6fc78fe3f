"""The command registry: one place that knows command words and who may run them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

import nlp
from handlers.types import Message, Reply
from storage.models import Person, Role, Ticket


@dataclass
class Context:
    session: Session
    person: Person
    now: datetime
    # The text after the command word, for commands whose argument is free text (绑定 幸福小区 3栋).
    rest: str = ""
    # Set by the dispatcher for commands that act on a ticket, after the access check.
    ticket: Ticket | None = None


def ticket_of(ctx: Context) -> Ticket:
    """The ticket a command that acts on a ticket was given, after the dispatcher's access check."""
    assert ctx.ticket is not None and ctx.ticket.id is not None
    return ctx.ticket


Handler = Callable[[Message, list[str], Context], Reply]


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    roles: frozenset[Role]
    func: Handler
    # Supervisors type "统计本周" with no space; residents' complaints must never be eaten that way.
    glued_args: bool = False
    # The first argument is a ticket the sender must be allowed to act on (a grid worker: their own grid's).
    acts_on_ticket: bool = False
    # A co-handler (协办) may run it on the ticket too, as may the grid of a ticket a department has (进展).
    helping: bool = False

    @property
    def help(self) -> str:
        return (self.func.__doc__ or "").strip().splitlines()[0]


class Registry:
    def __init__(self) -> None:
        self._commands: list[Command] = []

    def command(
        self,
        *words: str,
        roles: Iterable[Role],
        glued_args: bool = False,
        acts_on_ticket: bool = False,
        helping: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a command under one or more words; the docstring's first line is its help."""

        def decorate(func: Handler) -> Handler:
            self._commands.append(Command(words, frozenset(roles), func, glued_args, acts_on_ticket, helping))
            return func

        return decorate

    @classmethod
    def merge(cls, *registries: Registry) -> Registry:
        merged = cls()
        for registry in registries:
            merged._commands.extend(registry._commands)
        # Longest word first, so "我的工单" wins over a shorter word it starts with.
        merged._commands.sort(key=lambda c: -max(len(w) for w in c.words))
        return merged

    def commands_for(self, role: Role) -> list[Command]:
        return [c for c in self._commands if role in c.roles]

    def match(self, text: str, role: Role) -> tuple[Command, str] | None:
        """Find the command the text invokes and the text after its word; None when it is not a command.

        A word the sender's role may use wins over the same word of another role (a resident's 进度 and a
        worker's 进度 are different commands); a word only other roles have is found so it can be refused.
        """
        text = normalize(text).lstrip("/").strip()
        # Typed in traditional characters (進度, 評價 12 滿意), a command is the same command with the same arguments:
        # the whole text is read simplified, as the classifier reads complaints.
        text = nlp.simplified(text)
        refused: tuple[Command, str] | None = None
        for command in self._commands:
            for word in command.words:
                if not text.startswith(word):
                    continue
                rest = text[len(word) :]
                allowed = role in command.roles
                if rest and not (rest[0].isspace() or rest[0].isdigit() or (command.glued_args and allowed)):
                    continue
                if allowed:
                    return command, rest.strip()
                refused = refused or (command, rest.strip())
        return refused


def normalize(text: str) -> str:
    """Full-width to half-width (NFKC) and tidy spaces, so a phone keyboard's full-width command still works."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def split_args(rest: str) -> list[str]:
    parts = rest.split()
    # "评价1024满意" carries no space: a leading number is its own argument.
    if parts and (glued := re.match(r"^(\d+)(\D.*)$", parts[0])):
        parts[0:1] = [glued.group(1), glued.group(2)]
    return parts


def parse_ticket_number(arg: str) -> int | None:
    arg = arg.lstrip("#号").strip()
    # isdecimal, not isdigit: "❶" and "፩" are digits int() cannot read.
    return int(arg) if arg.isdecimal() and len(arg) < 12 else None
