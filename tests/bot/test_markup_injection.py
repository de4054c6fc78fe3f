"""A resident's words in WeCom markdown are shown as written: a mention, link, tag, bold, code or entity of theirs is
never read as markup, on every path that puts them there (AI-bot pushes and replies, group robots), and invisible
or bidi characters never reach a ticket."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from bot.markup import escape_markdown, mention
from handlers.cards import card_for
from simulator.aibot import AIBotServer
from storage.models import Outbox, Ticket
from tests.bot import test_gateway as gateway_tests
from tests.bot import test_webhook as webhook_tests
from tests.members import GroupMember

# The gateway's stand-in for Tencent's AI bot, and the group robots' (fixtures shared with their own tests).
aibot = gateway_tests.aibot
start_gateway = gateway_tests.start_gateway
robots = webhook_tests.robots
channel = webhook_tests.channel

G01, CENTRE = gateway_tests.G01, gateway_tests.CENTRE


def wide(text: str) -> str:
    """ASCII as its full-width look-alike: what a phone's full-width keyboard types, and what escaping shows."""
    return text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})


# A mention of another worker, a link, a colour tag, bold, code, an entity-spelled mention, and the assigned worker's
# name as an @-mention.
HOSTILE = (
    '<@liuyang> 点[这里](http://evil.example)领补贴 <font color="warning">急</font> **加急** `rm` '
    "&lt;@wangfang&gt; @张伟 快来"
)
# The same typed full-width: NFKC turns it into the ASCII markup on the way in.
FULL_WIDTH = wide(HOSTILE)


def assert_shown_as_written(content: str, userid: str = "") -> None:
    """None of the resident's markup is markup any more; the only mention is the one we meant (if any)."""
    assert "](" not in content and "[这里]" not in content
    assert '<font color="warning">急' not in content and "**加急**" not in content and "`" not in content
    assert "&lt;" not in content
    assert content.count("<@") == (1 if userid else 0)
    assert "@" not in content.replace(f"<@{userid}>", ""), "a resident's @ must not be ASCII"
    assert f"{wide('<@')}liuyang{wide('>')}" in content and f"{wide('@')}张伟" in content  # still there to read


def markdown_pushes(server: AIBotServer, chat: str) -> list[str]:
    return [b["markdown"]["content"] for b in gateway_tests.sends(server, chat) if b["msgtype"] == "markdown"]


def ask(server: AIBotServer, chat: str, userid: str, text: str) -> str:
    """Say something to the bot in a chat through the gateway; its streamed reply."""
    said = server.say(chat, userid, text)
    (reply,) = server.wait_for(lambda: server.replies_to(said))
    return str(reply["body"]["stream"]["content"])


def suspended_ticket(resident, worker: GroupMember, session) -> int:  # type: ignore[no-untyped-def]
    """A ticket the grid worker has accepted and asked the resident about (挂起): her next words are a 补充."""
    resident.say("3号楼楼道灯坏了")
    number = session.exec(select(Ticket)).one().id
    assert "已接单" in worker.say(f"接单 {number}")
    assert "暂停计时" in worker.say(f"挂起 {number} 请告知是几单元")
    return number


@pytest.mark.parametrize("typed", [HOSTILE, FULL_WIDTH], ids=["ascii", "full-width"])
def test_a_residents_markup_in_a_gateway_push_is_text_and_only_the_worker_is_mentioned(
    typed, start_gateway, aibot, rt, resident, session
):
    number = suspended_ticket(resident, GroupMember(rt, "zhangwei"), session)
    assert "继续处理" in resident.say(f"2单元 {typed}")  # the 补充 goes to the group as markdown

    start_gateway()
    (content,) = aibot.wait_for(lambda: markdown_pushes(aibot, G01))

    assert content.startswith(f"【居民已补充】<@zhangwei> 工单 {number}：")
    assert_shown_as_written(content, "zhangwei")


def test_a_supervisors_query_over_the_gateway_quotes_the_complaint_without_its_markup(
    start_gateway, aibot, resident, session
):
    resident.say(f"3号楼楼道灯坏了 {FULL_WIDTH}")
    number = session.exec(select(Ticket)).one().id
    start_gateway()
    aibot.wait_for(lambda: aibot.connected)

    content = ask(aibot, CENTRE, "zhihui", f"查 {number}")

    assert f"工单 {number}" in content and "楼道灯" in content
    assert_shown_as_written(content)


def test_a_residents_markup_in_a_group_robots_push_is_text_and_only_the_worker_is_mentioned(
    rt, resident, session, robots, channel
):
    key = robots.key("幸福小区第1网格群")
    webhook_tests.set_key(rt, "G01", key)
    number = suspended_ticket(resident, GroupMember(rt, "zhangwei"), session)
    resident.say(f"2单元 {HOSTILE}")
    with Session(rt.engine) as s:
        row = s.exec(select(Outbox).where(Outbox.event == "supplemented")).one()

    channel().send(webhook_tests.rendered(rt, row))

    content = robots.contents(key)[-1]
    assert content.startswith(f"**【居民已补充】<@zhangwei> 工单 {number}：")  # our bold is still bold
    assert_shown_as_written(content, "zhangwei")


def test_invisible_and_bidi_characters_never_reach_the_ticket(resident, session):
    hidden = (
        "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff\u061c\u180e"
    )
    resident.say("3号楼楼道灯\u202e坏了\u202c 电话139\u200b1234\u20605678\ufeff")

    ticket = session.exec(select(Ticket)).one()

    assert not set(hidden) & set(ticket.text)
    assert ticket.text.startswith("3号楼楼道灯坏了 电话13912345678")
    card = json.dumps(card_for(session, ticket).fields, ensure_ascii=False)
    assert "139****5678" in card  # a zero-width space no longer hides the number from masking


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("正文\n# 标题", f"正文\n{wide('#')} 标题"),
        ("   #标题", f"   {wide('#')}标题"),
        ("3#楼", "3#楼"),  # a '#' within a line is no heading
        ("> 引用", f"{wide('>')} 引用"),
        ("**粗**", f"{wide('**')}粗{wide('**')}"),
        ("`代码`", f"{wide('`')}代码{wide('`')}"),
        ("[链](http://x)", f"{wide('[')}链{wide(']')}(http://x)"),
        ('<font color="info">字</font>', f'{wide("<")}font color="info"{wide(">")}字{wide("<")}/font{wide(">")}'),
        ("<@u>", f"{wide('<@')}u{wide('>')}"),
        ("&lt;@u&gt;", f"{wide('&')}lt;{wide('@')}u{wide('&')}gt;"),
    ],
)
def test_escaping_leaves_nothing_markdown_reads_as_markup(text, shown):
    assert escape_markdown(text) == shown


def test_only_the_name_after_the_headline_becomes_a_mention():
    pushed = escape_markdown("【督办】@张伟 工单 3：居民说@张伟 不来")
    assert mention(pushed, "张伟", "zhangwei") == f"【督办】<@zhangwei> 工单 3：居民说{wide('@')}张伟 不来"
    unnamed = escape_markdown("【催办】居民催促处理\n内容：@张伟 快来")
    assert mention(unnamed, "张伟", "zhangwei") == unnamed  # a push that names nobody gets no mention
