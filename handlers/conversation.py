"""One message in, one reply out: commands first, then what the message kind means for the sender's role."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from handlers import complaints, patrol, resident, scope, supervisor, worker
from handlers.cards import ACTION_WORDS
from handlers.commands import Command, Context, Registry, normalize, parse_ticket_number, split_args
from handlers.types import Message, Outcome, Reply
from storage import grids, inbound, outbox, people, tickets
from storage.db import transaction
from storage.models import Person, Role, utcnow

EVERYONE = set(Role)
help_commands = Registry()
WELCOME = (
    "欢迎关注社区网格服务！遇到楼道灯坏、噪音扰民、乱停车等问题，直接发文字告诉我们，如：3号楼楼道灯坏了。"
    "回复“帮助”查看更多。"
)
VOICE_UNCLEAR = "语音没有识别出文字，请改用文字描述问题，如：3号楼楼道灯坏了。"
UNSUPPORTED = "暂时只能处理文字、语音、图片和位置。请用文字描述问题，如：3号楼楼道灯坏了。"
MENU = {"REPORT": "我要反映", "MY_TICKETS": "我的工单", "HELP": "帮助"}


@help_commands.command("帮助", "help", "菜单", roles=EVERYONE)
def show_help(msg: Message, args: list[str], ctx: Context) -> Reply:
    """帮助：查看可用命令"""
    role = Role(ctx.person.role)
    lines = [c.help for c in REGISTRY.commands_for(role) if c.func is not show_help]
    head = "直接发送文字描述问题即可立案，如：3号楼楼道灯坏了。\n" if role == Role.RESIDENT else ""
    return Reply(head + "可用命令：\n" + "\n".join(lines))


REGISTRY = Registry.merge(help_commands, resident.commands, worker.commands, patrol.commands, supervisor.commands)


def refuse(command: Command, role: Role) -> Reply:
    return Reply(f"“{command.words[0]}”不对{ROLE_WORDS[role]}开放。回复“帮助”查看您可以使用的命令。")


ROLE_WORDS = {Role.RESIDENT: "居民", Role.GRID_WORKER: "网格员", Role.SUPERVISOR: "指挥中心", Role.DEPARTMENT: "部门"}
NOT_ON_ROSTER = "您还不在网格员名册中，暂时不能处理工单。请联系社区指挥中心登记。"
# One tap in the group: the resident still hears what was done.
BUTTON_RESOLVE_NOTE = "网格员已现场处理"


def resolve_ticket_arg(command: Command, args: list[str], ctx: Context) -> Reply | None:
    """Load the ticket a command acts on into ctx.ticket, or say why not (handlers/scope.py decides)."""
    word = command.words[0]
    number = parse_ticket_number(args[0]) if args else None
    if number is None:
        return Reply(f"请带上工单号，如：{word} 1024。回复“待办”查看本网格的工单。")
    ticket = tickets.get(ctx.session, number)
    if ticket is None:
        return Reply(f"没有工单 {number}。回复“待办”查看本网格的工单。")
    if not scope.may_act_on(ctx.session, ctx.person, ticket, command.helping):
        return Reply(scope.refusal(ctx.session, ctx.person, ticket, word))
    ctx.ticket = ticket
    return None


def respond(msg: Message, ctx: Context) -> Reply:
    """Decide what the message means and act on it inside the caller's transaction."""
    role = Role(ctx.person.role)
    if msg.kind == "event" and msg.event == "template_card_event":
        return on_card_click(msg, ctx)
    if msg.kind == "event":
        return on_event(msg, ctx)
    if msg.kind == "image":
        if role == Role.GRID_WORKER:
            return worker.attach_after_photo(msg, ctx)
        return complaints.attach_image(msg, ctx) if role == Role.RESIDENT else Reply()
    if msg.kind == "location":
        return complaints.locate_by_coordinates(msg, ctx) if role == Role.RESIDENT else Reply()
    if msg.kind not in ("text", "voice"):
        return Reply(UNSUPPORTED)
    text = normalize(msg.text)
    if not text:
        return Reply(VOICE_UNCLEAR if msg.kind == "voice" else complaints.GREETING)
    return run_text(msg, text, ctx)


def run_text(msg: Message, text: str, ctx: Context) -> Reply:
    role = Role(ctx.person.role)
    found = REGISTRY.match(text, role)
    if found is not None:
        command, rest = found
        if role not in command.roles:
            return refuse(command, role)
        ctx.rest = rest
        args = split_args(rest)
        if command.acts_on_ticket and (refused := resolve_ticket_arg(command, args, ctx)):
            return refused
        return command.func(msg, args, ctx)
    if role == Role.RESIDENT:
        return resident.bare_rating(text, ctx) or complaints.take_complaint(msg, text, ctx)
    return Reply("没有这个命令。回复“帮助”查看可用命令。")


def on_card_click(msg: Message, ctx: Context) -> Reply:
    """A button on a ticket card is the same command typed out, so the same checks apply."""
    action, _, number = msg.event_key.partition(":")
    word = ACTION_WORDS.get(action)
    if word is None or not number.isdigit():
        return Reply()
    if action == "return":
        return Reply(f"请在群里回复“退回 {number} 原因”，说明为什么退回。")
    note = f" {BUTTON_RESOLVE_NOTE}" if action == "resolve" else ""
    return run_text(msg, f"{word} {number}{note}", ctx)


def on_event(msg: Message, ctx: Context) -> Reply:
    event = msg.event.lower()
    if event in ("subscribe", "scan"):
        ctx.person.subscribed = True
        ctx.session.add(ctx.person)
        bound = bind_scene(msg.event_key, ctx) if msg.event_key else ""
        return Reply((WELCOME if event == "subscribe" else "") + bound or "您已关注。直接发文字描述问题即可。")
    if event == "unsubscribe":
        ctx.person.subscribed = False
        ctx.session.add(ctx.person)
        return Reply()
    if event == "click":
        word = MENU.get(msg.event_key)
        if word == "我要反映":
            return Reply("请直接发送文字（或语音）描述问题和位置，如：幸福小区3栋楼道灯坏了。可以再发照片。")
        if word:
            return run_text(msg, word, ctx)
    return Reply()


def bind_scene(key: str, ctx: Context) -> str:
    """A building's QR code carries "qrscene_<grid code>[:<address>]": scanning it binds the resident."""
    code, _, address = key.removeprefix("qrscene_").partition(":")
    grid = grids.by_code(ctx.session, code)
    if grid is None or ctx.person.role != Role.RESIDENT:
        return ""
    ctx.person.grid_id = grid.id
    if address:
        ctx.person.address = address[:120]
    ctx.session.add(ctx.person)
    return f"已为您登记到{grid.name}{('（' + address + '）') if address else ''}。"


# C0 controls but tab and newline: JSON (the AI bot's frames) can carry "\u0000", which PostgreSQL text refuses.
# control characters, and lone surrogates (a JSON frame can carry "\ud800"; no database can store one)
# Invisible and bidi characters too (zero-width spaces and joiners, LRM/RLM, embeddings and overrides, isolates,
# word joiner, BOM, Arabic letter mark, Mongolian vowel separator): they hide a phone number from masking
# ("139\u200b1234…") and make a worker read a ticket in an order other than the stored one.
_CONTROLS = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u061c\u180e]"
)


def clean(msg: Message) -> Message:
    """The message with control and invisible characters removed from every text field."""
    changes: dict[str, Any] = {
        f.name: _CONTROLS.sub("", v) for f in fields(msg) if isinstance(v := getattr(msg, f.name), str)
    }
    return replace(msg, **changes)


def process(engine: Engine, msg: Message, now: datetime | None = None) -> Outcome:
    """Handle one delivery exactly once: a repeated delivery gets the first one's reply and changes nothing."""
    msg = clean(msg)
    if not msg.sender or not msg.dedupe_key:
        return Outcome(Reply(), [])
    at = now or utcnow()
    return _once(engine, msg, at, lambda session: sender(session, msg, at), respond, NOT_ON_ROSTER)


def act_for(engine: Engine, person_id: int, text: str, dedupe_key: str, now: datetime | None = None) -> Outcome:
    """A command given for a signed-in person (the centre screen's buttons): the same commands, checks and effects
    as in a chat, run as that person. A form sent twice (the same `dedupe_key`) gets the first reply and changes
    nothing, as a repeated WeChat delivery does."""
    msg = clean(Message(channel="centre", dedupe_key=dedupe_key, sender=f"person:{person_id}", kind="text", text=text))
    return _once(
        engine,
        msg,
        now or utcnow(),
        lambda session: session.get(Person, person_id),
        lambda m, ctx: run_text(m, normalize(m.text), ctx),
        "请重新登录后再试。",
    )


def _once(
    engine: Engine,
    msg: Message,
    now: datetime,
    person_of: Callable[[Session], Person | None],
    act: Callable[[Message, Context], Reply],
    nobody: str,
) -> Outcome:
    """Claim the delivery (or answer a repeat with the first reply), act as the person it comes from (`nobody` when
    there is none), record the reply, and hand over the notifications the transaction wrote."""
    with transaction(engine) as session:
        claimed = inbound.claim(session, msg.channel, msg.dedupe_key, msg.sender, msg.kind)
        if claimed is None:
            first = inbound.find(session, msg.channel, msg.dedupe_key)
            return Outcome(Reply(first.reply if first else ""), [], duplicate=True)
        person = person_of(session)
        reply = Reply(nobody) if person is None else act(msg, Context(session=session, person=person, now=now))
        inbound.answer(session, claimed, reply.text)
    return Outcome(reply, outbox.queued(session))


def sender(session: Session, msg: Message, now: datetime) -> Person | None:
    """WeCom senders must be on the roster; anyone writing to the Official Account is a resident at least (read
    with whether a ticket awaits their answer, which a resident's message asks next)."""
    if msg.channel == "wecom":
        return people.by_wecom_userid(session, msg.sender)
    found = tickets.resident_with_waiting(session, msg.sender, *complaints.windows(now))
    return found or people.resident_for_openid(session, msg.sender)
