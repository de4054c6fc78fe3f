"""A bot per street: a unit's AI bot speaks in its subtree's groups, each bot through its own gateway, and the
default bot (the one no unit names) everywhere else; against one stand-in serving both bots, as Tencent does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import select

from bot.gateway import Gateway
from bot.runtime import Runtime
from handlers import admin
from simulator.aibot import AIBotServer
from storage import outbox
from storage.db import transaction
from storage.models import Outbox, Status, Ticket, utcnow
from tests.gateways import Running

DEMO = Path(__file__).resolve().parents[2] / "demo"
G01, G07 = "wrk-chat-g01", "wrk-chat-g07"  # 朝阳街道 (the default bot's), 和平街道 (its own bot's)
S02_CENTRE, CENTRE = "centre-chat-s02", "centre-chat"


def org_with_street_bot(bot: str) -> bytes:
    """The demo tree with 和平街道 (S02) running `bot` ("" takes its bot away)."""
    text = (DEMO / "org.csv").read_text(encoding="utf-8")
    assert "sim-bot-s02" in text
    return text.replace("sim-bot-s02", bot).encode()


@pytest.fixture
def street_bot(rt, demo) -> str:  # type: ignore[no-untyped-def]
    """和平街道's own bot, a fresh id per test (the pacing windows and the lock are kept in Redis by bot id)."""
    bot = f"bot-s02-{uuid.uuid4().hex[:8]}"
    with transaction(rt.engine) as s:
        assert not admin.import_org(s, org_with_street_bot(bot)).errors
    return bot


@pytest.fixture
def aibot(street_bot: str) -> Iterator[AIBotServer]:
    """The stand-in with the default bot (first) and 和平街道's, each seated in its own groups."""
    with AIBotServer(f"bot-{uuid.uuid4().hex[:8]}", "default-secret") as server:
        server.add_bot(street_bot, "street-secret")
        for chat in (G01, CENTRE):
            server.seat(chat, server.bot_id)
        for chat in (G07, S02_CENTRE):
            server.seat(chat, street_bot)
        yield server


@pytest.fixture
def start_gateway(settings, aibot):  # type: ignore[no-untyped-def]
    """Start the gateway of one of the stand-in's bots; all are stopped after the test."""
    started: list[Running] = []
    secrets = {aibot.bot_id: "default-secret"}

    def start(bot: str, secret: str = "street-secret") -> Running:
        gateway_settings = replace(
            settings,
            wecom_bot_id=bot,
            wecom_bot_secret=secrets.get(bot, secret),
            wecom_ws_url=aibot.url,
            supervisor_chat_id=CENTRE,
        )
        gateway = Gateway(Runtime(gateway_settings), poll_seconds=0.1, reconnect_ms=100, lock_ttl_ms=3000)
        started.append(Running(gateway))
        aibot.wait_for(lambda: aibot.is_connected(bot))
        return started[-1]

    yield start
    for running in reversed(started):
        running.stop()
        running.gateway.rt.engine.dispose()


def sent_by(aibot: AIBotServer, chat: str) -> list[str]:
    """The bot of every message pushed into the chat, in order."""
    return [m["bot"] for m in aibot.messages(chat) if m["kind"] == "send"]


def ticket_in(session, grid_chat: str) -> Ticket:  # type: ignore[no-untyped-def]
    session.expire_all()
    rows = session.exec(select(Outbox).where(Outbox.recipient == grid_chat, Outbox.kind == "group_push")).all()
    (number,) = {r.ticket_id for r in rows}
    return session.get(Ticket, number)


def test_each_streets_cards_go_out_through_its_own_bot_and_its_workers_clicks_come_back(
    start_gateway, aibot, street_bot, wechat_user, session
):
    start_gateway(aibot.bot_id)
    start_gateway(street_bot)
    wechat_user("o-demo-resident-1").say("3号楼楼道灯坏了")  # 幸福小区, 朝阳街道
    wechat_user(f"o-new-{uuid.uuid4().hex[:8]}").say("建设新村5栋楼道灯坏了好几天了")  # 建设新村, 和平街道

    aibot.wait_for(lambda: sent_by(aibot, G01) and sent_by(aibot, G07))
    assert sent_by(aibot, G01) == [aibot.bot_id]
    assert sent_by(aibot, G07) == [street_bot]
    ticket = ticket_in(session, G07)

    def g07_row() -> Outbox:  # the gateway marks the row sent just after the stand-in has the message
        session.expire_all()
        (row,) = session.exec(select(Outbox).where(Outbox.recipient == G07)).all()
        return row

    row = aibot.wait_for(lambda: (r := g07_row()).status == "sent" and r)
    assert (row.bot, row.via) == (street_bot, "aibot")

    # 孙丽 taps 接单 in 建设新村's group: the street's bot hears it, its gateway answers and updates the card.
    (task,) = aibot.cards(G07)
    click = aibot.click(G07, "sunli", f"accept:{ticket.id}", task)
    assert click["body"]["aibotid"] == street_bot
    answers = aibot.wait_for(lambda: len(aibot.replies_to(click)) >= 2 and aibot.replies_to(click))
    assert [a["kind"] for a in answers] == ["update", "reply"]
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == Status.ACCEPTED


def test_centre_notices_go_through_the_bot_of_the_centres_unit(start_gateway, aibot, street_bot, rt, session):
    start_gateway(aibot.bot_id)
    start_gateway(street_bot)
    with transaction(rt.engine) as s:
        outbox.add(s, "supervisor_notice", "daily", S02_CENTRE, None, {"text": "和平街道日报"})
        outbox.add(s, "supervisor_notice", "daily", "supervisors", None, {"text": "全区日报"})
        queued = outbox.queued(s)
    assert [q.bot for q in queued] == [street_bot, ""]

    aibot.wait_for(lambda: sent_by(aibot, S02_CENTRE) and sent_by(aibot, CENTRE))
    assert sent_by(aibot, S02_CENTRE) == [street_bot]
    assert sent_by(aibot, CENTRE) == [aibot.bot_id]


def test_a_streets_cards_wait_for_its_gateway_and_go_through_the_default_bot_once_its_bot_is_taken_away(
    start_gateway, aibot, street_bot, wechat_user, rt, session
):
    start_gateway(aibot.bot_id)  # 和平街道's gateway is not running
    wechat_user(f"o-new-{uuid.uuid4().hex[:8]}").say("建设新村5栋楼道灯坏了好几天了")
    session.expire_all()
    (row,) = session.exec(select(Outbox).where(Outbox.recipient == G07)).all()
    assert row.bot == street_bot
    with pytest.raises(TimeoutError):  # the default gateway polls every 0.1 s meanwhile
        aibot.wait_for(lambda: aibot.messages(G07), timeout=0.6)
    session.expire_all()
    assert session.get(Outbox, row.id).status == "pending"

    # The district takes 和平街道's bot away (the default bot was added to its groups): the waiting card goes out.
    aibot.seat(G07, aibot.bot_id)
    with transaction(rt.engine) as s:
        assert not admin.import_org(s, org_with_street_bot("")).errors
    aibot.wait_for(lambda: sent_by(aibot, G07))
    assert sent_by(aibot, G07) == [aibot.bot_id]


def test_the_rq_workers_leave_a_units_bots_rows_to_its_gateway(rt, street_bot, session):
    """Without a default bot (webhook mode), the rq workers send group rows of no unit's bot, and of a bot no unit
    names any more; never those of a bot a unit names."""
    with transaction(rt.engine) as s:
        outbox.add(s, "group_push", "assigned", G07, None)
        outbox.add(s, "group_push", "assigned", G01, None)
        outbox.add(s, "group_push", "assigned", "wrk-chat-g02", None)
        (street, default, orphan) = outbox.queued(s)
    assert (street.bot, default.bot) == (street_bot, "")
    with transaction(rt.engine) as s:
        s.get(Outbox, orphan.id).bot = "bot-nobody-names"
    kinds = ["group_push"]
    with transaction(rt.engine) as s:
        taken = {i for i in (street.id, default.id, orphan.id) if outbox.lease(s, i, kinds, utcnow(), 60)}
    assert taken == {default.id, orphan.id}
    with transaction(rt.engine) as s:
        assert outbox.lease(s, street.id, kinds, utcnow(), 60, street_bot) is not None


def test_healthz_names_a_units_bot_whose_gateway_is_not_running(start_gateway, aibot, street_bot, make_app):
    client = make_app(wecom_bot_id=aibot.bot_id, wecom_bot_secret="default-secret").test_client()
    start_gateway(aibot.bot_id)

    def gateway_check() -> dict:
        return client.get("/healthz").get_json()["checks"]["gateway"]

    gateway = aibot.wait_for(lambda: (g := gateway_check())["state"] == "online" and g)
    assert gateway["ok"] is False
    assert gateway["bots"] == {street_bot: {"ok": False, "state": "absent", "bot_id": street_bot, "units": ["S02"]}}

    start_gateway(street_bot)
    gateway = aibot.wait_for(lambda: (g := gateway_check())["ok"] and g)
    assert gateway["bots"][street_bot]["state"] == "online"


def test_a_streets_new_bot_speaks_from_the_next_complaint_on(street_bot, wechat_user, rt, session):
    """Each process keeps the units' bots while no import changes the organisation: an import is seen by the very
    next complaint in every process, without a restart."""
    wechat_user(f"o-new-{uuid.uuid4().hex[:8]}").say("建设新村5栋楼道灯坏了好几天了")
    with transaction(rt.engine) as s:
        assert not admin.import_org(s, org_with_street_bot("bot-s02-new")).errors
    wechat_user(f"o-new-{uuid.uuid4().hex[:8]}").say("建设新村8栋门口的垃圾好几天没人清运了")

    session.expire_all()
    stamped = session.exec(select(Outbox.bot).where(Outbox.recipient == G07).order_by(Outbox.id)).all()
    assert stamped == [street_bot, "bot-s02-new"]
